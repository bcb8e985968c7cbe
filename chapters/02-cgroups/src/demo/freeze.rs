//! `chapter02 freeze`: a counting process stops while frozen (`docker pause`).
//!
//! v1: `echo FROZEN > freezer.state`, which reads `FREEZING` until every task
//! has stopped. v2: `echo 1 > cgroup.freeze`, confirmed by `frozen 1` in
//! `cgroup.events`. Frozen tasks stay in memory and keep their state; they are
//! simply not scheduled until thawed.

use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chapter02::{Cgroup, Resources};

use super::{heading, Lab};

/// The workload: count, appending each number to /tmp/count (appending, so
/// a freeze never catches the file truncated and empty).
pub const SCRIPT: &str = "i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; done";

pub fn run(lab: &Lab) -> Result<()> {
    heading("freeze: a counter, frozen and thawed");
    let mut group = lab.group("freeze", &Resources::default(), "")?;
    let mut child = lab.spawn(&group, SCRIPT, Stdio::null(), Stdio::inherit(), true)?;
    let count_file = lab.rootfs()?.join("tmp/count");
    // Freezing and thawing is what this demo is about: show those writes.
    group.set_narrate(true);
    let observed = observe(&group, child.pid().as_raw(), &count_file);
    // A frozen v1 task does not even die from SIGKILL until it is thawed:
    // never leave the group frozen, whatever happened above.
    group.set_narrate(false);
    let _ = group.thaw();
    let _ = child.kill(nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    lab.delete(group)?;
    observed
}

fn observe(group: &Cgroup, pid1: i32, count_file: &Path) -> Result<()> {
    let c0 = wait_for_progress(count_file, 0)?;
    println!("    the counter runs: {c0}");

    println!("Freeze (Docker: docker pause):");
    group.freeze()?;
    let a = read_count(count_file)?;
    thread::sleep(Duration::from_secs(1));
    let b = read_count(count_file)?;
    println!("    frozen: {a} one second ago, {b} now");
    println!(
        "    PID 1 state: {} (v1 shows D, in the refrigerator)",
        proc_state(pid1)
    );
    if a != b {
        bail!("the counter moved from {a} to {b} while frozen");
    }

    println!("Thaw (Docker: docker unpause):");
    group.thaw()?;
    let c = wait_for_progress(count_file, b)?;
    println!("    counting again: {c}");
    Ok(())
}

/// The counter's value: the last complete line of the file.
pub fn read_count(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let last = text.lines().rev().find(|l| !l.is_empty()).unwrap_or("0");
    last.trim()
        .parse()
        .with_context(|| format!("{last:?} in {} is not a number", path.display()))
}

/// Waits until the counter is above `than` (10 s at most).
pub fn wait_for_progress(path: &Path, than: u64) -> Result<u64> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(n) = read_count(path) {
            if n > than {
                return Ok(n);
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    read_count(path).context("the counter did not move")
}

fn proc_state(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("State:"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}
