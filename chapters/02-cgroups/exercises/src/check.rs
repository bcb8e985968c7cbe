//! The checks of chapter 02's exercises. Each makes a group with chapter
//! 02's library (deleted by its guard at the end, whatever happens), calls
//! the exercise's function, runs a process in the group (a re-execution of
//! this checker as `__child`, which joins the group itself) and reads what
//! the kernel counted.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};

use chapter02::{unique_name, Cgroup, Controller, Layout, Version};
use exercise_kit::{attempt, child_report, child_value, Exercise, Report, Variant};

use crate::{ex1, ex2, ex3, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 3] = [
    Exercise {
        title: "a process joins a group",
        check: check_join,
    },
    Exercise {
        title: "a memory limit, and the OOM kill",
        check: check_memory,
    },
    Exercise {
        title: "a pids limit stops a fork bomb",
        check: check_pids,
    },
];

const MIB: u64 = 1 << 20;

/// What a `__child` does: `args` are the exercise number, then the
/// `cgroup.procs` files to join.
pub fn child(_: Variant, args: &[String]) -> ExitCode {
    let number = args.first().cloned().unwrap_or_default();
    child_report(|| {
        for procs in &args[1..] {
            // "0" means "the process writing this".
            std::fs::write(procs, "0").map_err(|e| format!("join {procs}: {e}"))?;
        }
        match number.as_str() {
            "2" => {
                // Touch 128 MiB, one byte per page, so every page is really used.
                let mut v = vec![0u8; (128 * MIB) as usize];
                for i in (0..v.len()).step_by(4096) {
                    v[i] = 1;
                }
                Ok(format!(
                    "touched {} MiB and survived",
                    v.iter().step_by(4096).filter(|b| **b == 1).count() * 4096 / MIB as usize
                ))
            }
            "3" => {
                let mut children = Vec::new();
                let mut error = String::from("none");
                for _ in 0..16 {
                    match Command::new("sleep").arg("5").spawn() {
                        Ok(c) => children.push(c),
                        Err(e) => {
                            error = e.to_string().replace(' ', "_");
                            break;
                        }
                    }
                }
                let spawned = children.len();
                for mut c in children {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                Ok(format!("spawned={spawned} error={error}"))
            }
            other => Err(format!("no exercise {other}")),
        }
    })
}

fn group(r: &mut Report, n: usize) -> Option<Cgroup> {
    let made = Layout::detect()
        .and_then(|layout| Cgroup::create(&layout, &unique_name(&format!("ex{n}"))));
    match made {
        Ok(g) => Some(g),
        Err(e) => {
            r.fail(
                "the checker made a group",
                e,
                "run as root (sudo scripts/check.sh …) on a host with cgroups mounted",
            );
            None
        }
    }
}

fn run_in_group(v: Variant, n: usize, group: &Cgroup) -> std::io::Result<std::process::Output> {
    Command::new("/proc/self/exe")
        .args(["__child", v.arg(), &n.to_string()])
        .args(group.procs_files())
        .output()
}

fn check_join(r: &mut Report, v: Variant) {
    let Some(group) = group(r, 1) else { return };
    let mut sleep = match Command::new("sleep").arg("10").spawn() {
        Ok(c) => c,
        Err(e) => return r.fail("a sleep started", e, "(checker setup)"),
    };
    let pid = sleep.id() as i32;
    let joined = attempt(|| match v {
        Variant::Learner => ex1::join(&group, pid),
        Variant::Solution => solutions::ex1::join(&group, pid),
    });
    let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let listed = group.pids().unwrap_or_default();
    let _ = sleep.kill();
    let _ = sleep.wait();
    match joined {
        Err(e) => return r.fail("join ran", e, "see src/ex1.rs's hint"),
        Ok(Err(e)) => {
            return r.fail(
                "join wrote the pid",
                e,
                "write the pid as decimal text to each cgroup.procs",
            )
        }
        Ok(Ok(())) => {}
    }
    let suffix = format!("/{}", group.name());
    let inside = proc_cgroup.lines().filter(|l| l.ends_with(&suffix)).count();
    r.check(
        "/proc/<pid>/cgroup shows the group in every tree the group has",
        inside >= group.dirs().len(),
        format!(
            "{inside} of {} trees; /proc/{pid}/cgroup: {}",
            group.dirs().len(),
            proc_cgroup.trim().replace('\n', " ")
        ),
        "on v1 a group has one directory per tree: write the pid into each one's cgroup.procs",
    );
    r.check(
        "the group's cgroup.procs lists the pid",
        listed.contains(&pid),
        format!("cgroup.procs: {listed:?}"),
        "write to cgroup.procs, not to tasks or a limit file",
    );
}

fn check_memory(r: &mut Report, v: Variant) {
    const LIMIT: u64 = 24 * MIB;
    let Some(group) = group(r, 2) else { return };
    let Some(dir) = group.dir_for(&Controller::Memory).cloned() else {
        return r.fail(
            "the group has a memory directory",
            "no tree carries the memory controller",
            "(this host has no memory controller)",
        );
    };
    let set = attempt(|| match v {
        Variant::Learner => ex2::limit_memory(&dir, LIMIT),
        Variant::Solution => solutions::ex2::limit_memory(&dir, LIMIT),
    });
    match set {
        Err(e) => return r.fail("limit_memory ran", e, "see src/ex2.rs's hint"),
        Ok(Err(e)) => {
            return r.fail(
                "limit_memory wrote the limit",
                e,
                "v1: memory.limit_in_bytes, v2: memory.max",
            )
        }
        Ok(Ok(())) => {}
    }
    // No swap to escape to: the checker's part, not the exercise's.
    let (swap_file, swap_value) = match dir.version {
        Version::V1 => ("memory.memsw.limit_in_bytes", LIMIT.to_string()),
        Version::V2 => ("memory.swap.max", "0".to_string()),
    };
    if dir.path.join(swap_file).exists() {
        let _ = std::fs::write(dir.path.join(swap_file), swap_value);
    }
    let out = match run_in_group(v, 2, &group) {
        Ok(o) => o,
        Err(e) => return r.fail("the memory hog started", e, "(checker setup)"),
    };
    let signal = out.status.signal();
    r.check(
        "the process that touched 128 MiB was killed with SIGKILL",
        signal == Some(9),
        match (signal, child_value(&out)) {
            (Some(s), _) => format!("it ended by signal {s}"),
            (None, Ok(said)) => format!("it said: {said}"),
            (None, Err(e)) => e,
        },
        "the limit must land in the memory controller's file of this version; read it back with cat",
    );
    let events = group.oom_events();
    r.check(
        "the group's OOM counter says the kernel killed it",
        events.as_ref().is_ok_and(|e| e.oom_kill >= 1),
        match &events {
            Ok(e) => format!("oom_kill = {}", e.oom_kill),
            Err(e) => e.to_string(),
        },
        "v1 memory.oom_control and v2 memory.events count the kills",
    );
}

fn check_pids(r: &mut Report, v: Variant) {
    const MAX: u32 = 5;
    let Some(group) = group(r, 3) else { return };
    let Some(dir) = group.dir_for(&Controller::Pids).cloned() else {
        return r.fail(
            "the group has a pids directory",
            "no tree carries the pids controller",
            "(this host has no pids controller)",
        );
    };
    let set = attempt(|| match v {
        Variant::Learner => ex3::limit_pids(&dir, MAX),
        Variant::Solution => solutions::ex3::limit_pids(&dir, MAX),
    });
    match set {
        Err(e) => return r.fail("limit_pids ran", e, "see src/ex3.rs's hint"),
        Ok(Err(e)) => return r.fail("limit_pids wrote the limit", e, "the file is pids.max"),
        Ok(Ok(())) => {}
    }
    let said = run_in_group(v, 3, &group)
        .map_err(|e| e.to_string())
        .and_then(|o| child_value(&o));
    let said = match said {
        Ok(s) => s,
        Err(e) => return r.fail("the fork bomb ran in the group", e, "(checker setup)"),
    };
    let field = |k: &str| {
        said.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or("?")
            .to_string()
    };
    let spawned: u32 = field("spawned=").parse().unwrap_or(u32::MAX);
    r.check(
        "at most 4 sleeps started (the process itself is the 5th task)",
        spawned < MAX,
        format!("{spawned} of 16 started"),
        "write the limit to pids.max in the pids controller's directory",
    );
    let error = field("error=").replace('_', " ");
    r.check(
        "the next fork failed with EAGAIN",
        error.contains("Resource temporarily unavailable"),
        format!("the error: {error}"),
        "at pids.max the kernel refuses fork with EAGAIN",
    );
}
