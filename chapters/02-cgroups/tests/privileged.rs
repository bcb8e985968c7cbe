//! Privileged tests on the host's real cgroup trees. They assert the kernel's
//! verdict itself (an OOM kill happened, a fork was refused, the CPU counter
//! stayed near the quota, a frozen counter stood still) and that no group is
//! left behind, also when the workload is killed or the test panics.
//!
//! They need root and fail (never skip) without it:
//! `sudo -E cargo test -p chapter02`.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use chapter02::{Cgroup, Cpus, Layout, Resources, Swap};

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test needs root: run `sudo -E cargo test -p chapter02`"
    );
}

/// A group, its workload and a busybox rootfs for one test. Field order
/// matters: fields drop in declaration order, so the group guard kills and
/// thaws everything in the group *before* the workload's guard reaps its
/// init. The other order would hang on a frozen group: a frozen v1 task does
/// not die from SIGKILL until it is thawed.
struct Lab {
    group: Cgroup,
    workload: Option<chapter01::Child>,
    dirs: Vec<PathBuf>,
    rootfs: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Lab {
    fn new(purpose: &str, resources: &Resources) -> Lab {
        require_root();
        let layout = Layout::detect().expect("detect the cgroup layout");
        let group =
            Cgroup::create(&layout, &chapter02::unique_name(purpose)).expect("create the group");
        group.set(resources).expect("set the limits");
        let dirs = group.dirs().iter().map(|d| d.path.clone()).collect();
        let tmp = tempfile::Builder::new()
            .prefix("chapter02-test-")
            .tempdir()
            .unwrap();
        let rootfs = chapter01::rootfs::build_busybox_rootfs(&tmp.path().join("rootfs"))
            .expect("build the busybox rootfs")
            .path;
        Lab {
            group,
            workload: None,
            dirs,
            rootfs,
            _tmp: tmp,
        }
    }

    /// Starts `sh -c script` in the group; the Lab keeps it so that it is
    /// dropped after the group.
    fn spawn(&mut self, script: &str, stdout: Stdio, stderr: Stdio, cgroupns: bool) {
        let mut cfg = chapter01::Config::new(vec!["/bin/sh".into(), "-c".into(), script.into()]);
        cfg.namespaces = chapter01::Namespace::all_but_user();
        if !cgroupns {
            cfg.namespaces
                .retain(|ns| *ns != chapter01::Namespace::Cgroup);
        }
        cfg.rootfs = Some(self.rootfs.clone());
        cfg.cgroup_procs = self.group.procs_files();
        cfg.stdout = stdout;
        cfg.stderr = stderr;
        cfg.init_binary = Some(env!("CARGO_BIN_EXE_chapter02").into());
        self.workload = Some(chapter01::spawn(cfg).expect("spawn the workload with chapter01"));
    }

    fn child(&mut self) -> &mut chapter01::Child {
        self.workload.as_mut().expect("a workload was spawned")
    }
}

fn assert_gone(dirs: &[PathBuf]) {
    for d in dirs {
        assert!(!d.exists(), "{} was left behind", d.display());
    }
}

fn read_all(r: Option<impl Read>) -> String {
    let mut s = String::new();
    if let Some(mut r) = r {
        r.read_to_string(&mut s).unwrap();
    }
    s
}

#[test]
fn a_process_past_the_memory_limit_is_oom_killed() {
    let mut resources = Resources {
        memory_max: Some(50 << 20),
        ..Default::default()
    };
    let mut lab = Lab::new("test-oom", &Resources::default());
    if lab.group.has_swap_accounting() {
        resources.memory_swap = Some(Swap::Total(50 << 20));
    }
    lab.group.set(&resources).unwrap();
    let before = lab.group.oom_events().unwrap();
    lab.spawn(
        "x=$(head -c 100m /dev/zero | tr \"\\0\" a 2>/dev/null); echo survived ${#x}",
        Stdio::piped(),
        Stdio::null(),
        true,
    );
    let out = read_all(lab.child().stdout.take());
    let status = lab.child().wait().unwrap();
    let after = lab.group.oom_events().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "killed by SIGKILL, got {status} and output {out:?}"
    );
    assert!(
        after.oom_kill > before.oom_kill,
        "the group counted an OOM kill: {before:?} -> {after:?}"
    );
    let peak = lab.group.stats().unwrap().memory.unwrap().peak;
    if let Some(peak) = peak {
        assert!(
            peak <= 50 << 20,
            "usage never went past the limit (peak {peak})"
        );
    }
    let dirs = lab.dirs.clone();
    lab.group.delete().unwrap();
    assert_gone(&dirs);
}

#[test]
fn fork_is_refused_at_the_pids_limit() {
    let mut lab = Lab::new(
        "test-pids",
        &Resources {
            pids_max: Some(20),
            ..Default::default()
        },
    );
    lab.spawn(
        "n=0; while :; do sleep 1000 & n=$((n+1)); echo $n; done",
        Stdio::piped(),
        Stdio::piped(),
        true,
    );
    let out = read_all(lab.child().stdout.take());
    let err = read_all(lab.child().stderr.take());
    let status = lab.child().wait().unwrap();
    assert!(
        err.contains("can't fork: Resource temporarily unavailable"),
        "EAGAIN reported: {err:?}"
    );
    assert_eq!(status.code(), Some(2), "the shell gave up");
    let forked: u32 = out.lines().last().unwrap().parse().unwrap();
    assert!(
        forked < 20,
        "at most 20 tasks in the group (init, shell, {forked} sleepers)"
    );
    let pids = lab.group.stats().unwrap().pids.unwrap();
    assert_eq!(pids.max, Some(20));
    if let Some(refused) = pids.refused {
        assert!(refused >= 1, "pids.events counted the refusal");
    }
    let dirs = lab.dirs.clone();
    drop(lab);
    assert_gone(&dirs);
}

#[test]
fn a_busy_loop_under_half_a_cpu_gets_about_half_a_core() {
    let mut lab = Lab::new(
        "test-cpu",
        &Resources {
            cpus: Some(Cpus::new(0.5)),
            ..Default::default()
        },
    );
    lab.spawn("while :; do :; done", Stdio::null(), Stdio::null(), true);
    thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let u0 = lab.group.cpu_usage_usec().unwrap();
    thread::sleep(Duration::from_secs(3));
    let u1 = lab.group.cpu_usage_usec().unwrap();
    let cores = (u1 - u0) as f64 / start.elapsed().as_micros() as f64;
    let throttled = lab.group.stats().unwrap().cpu.unwrap().nr_throttled;
    lab.child().kill(nix::sys::signal::Signal::SIGKILL).unwrap();
    lab.child().wait().unwrap();
    // The upper bound is the quota at work; the lower bound only checks the
    // loop ran at all, with room for a busy 2-core CI machine.
    assert!(
        (0.3..=0.7).contains(&cores),
        "expected about 0.5 of a core, measured {cores:.3}"
    );
    assert!(
        throttled > 0,
        "the kernel throttled the group (cpu.stat nr_throttled = {throttled})"
    );
}

#[test]
fn a_frozen_counter_stands_still_and_resumes_when_thawed() {
    let mut lab = Lab::new("test-freeze", &Resources::default());
    lab.spawn(
        "i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; done",
        Stdio::null(),
        Stdio::null(),
        true,
    );
    let count = lab.rootfs.join("tmp/count");
    let value = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let progressed = |after: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = value(&count);
            if !now.trim().is_empty() && now != after {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    };
    assert!(progressed(""), "the counter started");
    lab.group.freeze().unwrap();
    let frozen = value(&count);
    for _ in 0..20 {
        thread::sleep(Duration::from_millis(25));
        assert_eq!(value(&count), frozen, "no progress while frozen");
    }
    lab.group.thaw().unwrap();
    assert!(progressed(&frozen), "the counter resumed after thaw");
    lab.child().kill(nix::sys::signal::Signal::SIGKILL).unwrap();
    lab.child().wait().unwrap();
}

#[test]
fn a_panicking_test_leaves_no_group_and_no_process_behind() {
    require_root();
    let mut dirs = Vec::new();
    let mut pid1 = 0;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut lab = Lab::new(
            "test-panic",
            &Resources {
                pids_max: Some(10),
                ..Default::default()
            },
        );
        dirs = lab.dirs.clone();
        lab.spawn(
            "sleep 1000 & sleep 1000 & wait",
            Stdio::null(),
            Stdio::null(),
            true,
        );
        pid1 = lab.child().pid().as_raw();
        // Even a frozen group must be cleaned up.
        lab.group.freeze().unwrap();
        panic!("a test failing halfway");
    }));
    assert!(result.is_err());
    assert_gone(&dirs);
    // rmdir succeeding already proves no live task was left; the container's
    // PID 1 may still be a zombie for a moment until its new parent reaps it.
    let state = std::fs::read_to_string(format!("/proc/{pid1}/stat")).unwrap_or_default();
    let state = state.rsplit(") ").next().unwrap_or("").chars().next();
    assert!(
        matches!(state, None | Some('Z') | Some('X')),
        "the workload is gone, not {state:?}"
    );
}

#[test]
fn delete_kills_what_is_left_even_after_the_workload_was_killed() {
    let mut lab = Lab::new("test-killed", &Resources::default());
    lab.spawn(
        "sleep 1000 & sleep 1000 & wait",
        Stdio::null(),
        Stdio::null(),
        false,
    );
    // Wait until the init, the shell and both sleepers are in the group.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lab.group.pids().unwrap().len() < 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        lab.group.pids().unwrap().len(),
        4,
        "init, sh and two sleepers"
    );
    lab.child().kill(nix::sys::signal::Signal::SIGKILL).unwrap();
    let status = lab.child().wait().unwrap();
    assert!(
        status.signal() == Some(9) || status.code().is_some(),
        "{status}"
    );
    let dirs = lab.dirs.clone();
    lab.group.delete().unwrap();
    assert_gone(&dirs);
}

#[test]
fn the_workload_sits_in_every_tree_and_a_cgroup_namespace_hides_the_path() {
    let mut lab = Lab::new("test-ns", &Resources::default());
    lab.spawn(
        "cat /proc/self/cgroup",
        Stdio::piped(),
        Stdio::null(),
        false,
    );
    let outside = read_all(lab.child().stdout.take());
    lab.child().wait().unwrap();
    let name = lab.group.name().to_string();
    let listed = outside
        .lines()
        .filter(|l| l.ends_with(&format!("/{name}")))
        .count();
    assert_eq!(
        listed,
        lab.group.dirs().len(),
        "every tree of the group lists it: {outside}"
    );
    lab.spawn("cat /proc/self/cgroup", Stdio::piped(), Stdio::null(), true);
    let inside = read_all(lab.child().stdout.take());
    lab.child().wait().unwrap();
    assert!(
        !inside.contains(&name),
        "the namespace root hides the host path: {inside}"
    );
    assert!(inside.lines().all(|l| l.ends_with(":/")), "{inside}");
}
