//! `chapter02 pids`: a shell that forks sleepers without end, under a limit of 20.
//!
//! Every fork(2) or clone(2) in the group is charged to `pids.current`; at
//! `pids.max` the kernel refuses with EAGAIN ("Resource temporarily
//! unavailable") and counts the refusal in `pids.events`. The shell gives up,
//! and since it is the container's PID 1, the kernel kills the sleepers with it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Result};
use chapter02::Resources;

use super::{heading, Lab};

/// The workload: fork forever.
pub const SCRIPT: &str = "n=0; while :; do sleep 1000 & n=$((n+1)); echo forked $n; done";

pub fn run(lab: &Lab) -> Result<()> {
    heading("pids: a fork loop under --pids-limit 20");
    let resources = Resources {
        pids_max: Some(20),
        ..Default::default()
    };
    let group = lab.group("pids", &resources, "--pids-limit 20")?;
    let mut child = lab.spawn(&group, SCRIPT, Stdio::piped(), Stdio::piped(), true)?;
    let mut last = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            last = line?;
        }
    }
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr.read_to_string(&mut err)?;
    }
    let status = child.wait()?;
    let refused = group.stats()?.pids.and_then(|p| p.refused);

    println!("The kernel's verdict:");
    println!("    last line of the loop: {last:?} (20 minus the init and the shell itself)");
    println!(
        "    the shell said: {:?}; it ended with {status}",
        err.trim()
    );
    if let Some(n) = refused {
        println!("    forks refused (pids.events max): {n}");
    }
    let start = Instant::now();
    let host = Command::new("/bin/true").status()?;
    println!(
        "    the host still forks: /bin/true ran in {:.1} ms ({host})",
        start.elapsed().as_secs_f64() * 1000.0
    );
    lab.delete(group)?;
    if !err.contains("can't fork") {
        bail!("expected the shell to report \"can't fork\", it said {err:?}");
    }
    Ok(())
}
