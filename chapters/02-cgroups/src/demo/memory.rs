//! `chapter02 memory`: a process that wants 100 MiB under a 50 MiB limit.
//!
//! The shell reads 100 MiB of `a`s into a variable, so the shell itself (the
//! container's PID 1) grows past the limit. The kernel first reclaims what it
//! can inside the group; with no swap allowed there is nothing to reclaim, and
//! the group's OOM killer picks its largest process and sends SIGKILL. Only
//! this group is affected: the host has gigabytes free.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use anyhow::{bail, Result};
use chapter02::{Resources, Swap};

use super::{heading, mib, Lab};

/// The workload: allocate ~100 MiB inside the shell.
pub const SCRIPT: &str =
    "x=$(head -c 100m /dev/zero | tr \"\\0\" a 2>/dev/null); echo survived with ${#x} bytes";

pub fn run(lab: &Lab) -> Result<()> {
    heading("memory: 50 MiB limit, a process that wants 100 MiB");
    let mut resources = Resources {
        memory_max: Some(50 << 20),
        ..Default::default()
    };
    let mut group = lab.group("memory", &Resources::default(), "")?;
    if group.has_swap_accounting() {
        // Without this, a host with swap would page the workload out instead.
        resources.memory_swap = Some(Swap::Total(50 << 20));
    }
    println!("Set the limits (Docker: --memory 50m --memory-swap 50m):");
    group.set_narrate(true);
    group.set(&resources)?;
    group.set_narrate(false);
    let before = group.oom_events()?;

    let mut child = lab.spawn(&group, SCRIPT, Stdio::piped(), Stdio::inherit(), true)?;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out)?;
    }
    let status = child.wait()?;
    let after = group.oom_events()?;
    let stats = group.stats()?;

    println!("The kernel's verdict:");
    match status.signal() {
        Some(sig) => println!(
            "    the container's PID 1 was killed by signal {sig} ({})",
            signal_name(sig)
        ),
        None => println!(
            "    the container exited with {status}, printing {:?}",
            out.trim()
        ),
    }
    println!(
        "    OOM kills in the group: {} -> {}{}",
        before.oom_kill,
        after.oom_kill,
        match (after.failcnt, after.memsw_failcnt, after.max) {
            (Some(f), Some(sw), _) if f + sw > 0 => {
                format!(", limit hits: memory.failcnt {f}, memory.memsw.failcnt {sw}")
            }
            (_, _, Some(m)) => format!(", times at memory.max: {m}"),
            _ => String::new(),
        }
    );
    if let Some(mem) = stats.memory {
        if let Some(peak) = mem.peak {
            println!(
                "    peak usage: {} of a {} limit",
                mib(peak),
                mib(mem.limit.unwrap_or(0))
            );
        }
    }
    println!(
        "    the host is untouched: this process (pid {}) still runs; {}",
        std::process::id(),
        mem_available()
    );
    let killed = status.signal() == Some(9) && after.oom_kill > before.oom_kill;
    lab.delete(group)?;
    if !killed {
        bail!(
            "expected an OOM kill, got {status} and {} OOM kills",
            after.oom_kill
        );
    }
    Ok(())
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        9 => "SIGKILL, the OOM killer's signal",
        15 => "SIGTERM",
        _ => "unexpected",
    }
}

fn mem_available() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_default()
}
