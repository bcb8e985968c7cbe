//! `chapter02 cpu`: a busy loop under `--cpus 0.5`.
//!
//! The CFS bandwidth controller gives the group `quota` microseconds of CPU
//! time per `period` (50000 per 100000); once spent, its tasks are throttled
//! until the next period. The group's own counter (`cpuacct.usage` on v1,
//! `cpu.stat usage_usec` on v2) over a fixed wall-clock window tells how much
//! it really got. See Documentation/scheduler/sched-bwc.rst.

use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chapter02::{Cpus, Resources};

use super::{heading, Lab};

/// The workload: spin forever.
pub const SCRIPT: &str = "while :; do :; done";
/// How long usage is measured.
pub const WINDOW: Duration = Duration::from_secs(2);

pub fn run(lab: &Lab) -> Result<()> {
    heading("cpu: a busy loop under --cpus 0.5");
    let resources = Resources {
        cpus: Some(Cpus::new(0.5)),
        ..Default::default()
    };
    let group = lab.group("cpu", &resources, "--cpus 0.5")?;
    let mut child = lab.spawn(&group, SCRIPT, Stdio::null(), Stdio::inherit(), true)?;
    thread::sleep(Duration::from_millis(300)); // let it start spinning

    let (cores, throttled) = measure(&group, WINDOW)?;
    println!("The kernel's verdict, from the group's own usage counter:");
    println!(
        "    {:.2} of a core over {} s (limit 0.5); throttled in {} periods",
        cores,
        WINDOW.as_secs(),
        throttled
    );
    let _ = child.kill(nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    lab.delete(group)?;
    if cores > 0.7 {
        bail!("the busy loop got {cores:.2} of a core, more than the 0.5 limit allows");
    }
    Ok(())
}

/// CPU used by `group` over `window`, in cores, and how many periods it was throttled in.
pub fn measure(group: &chapter02::Cgroup, window: Duration) -> Result<(f64, u64)> {
    let start = Instant::now();
    let u0 = group.cpu_usage_usec()?;
    thread::sleep(window);
    let u1 = group.cpu_usage_usec()?;
    let wall = start.elapsed().as_micros() as f64;
    let throttled = group.stats()?.cpu.map(|c| c.nr_throttled).unwrap_or(0);
    Ok(((u1 - u0) as f64 / wall, throttled))
}
