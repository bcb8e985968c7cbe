//! Unit tests without root: plans and reads over fake hosts of each kind
//! (see `chapter02::fixture`). The snapshots pin the exact files and values.

use std::fs;
use std::path::Path;

use chapter02::fixture::{Fixture, HostKind};
use chapter02::plan::render;
use chapter02::{Cgroup, Controller, Cpus, Kind, Resources, Step, Swap, Version};

/// The limits of the tour: `--memory 50m --memory-swap 50m --cpus 0.5
/// --cpu-shares 512 --pids-limit 20 --cpuset-cpus 0`.
fn tour_resources() -> Resources {
    Resources {
        memory_max: Some(50 << 20),
        memory_swap: Some(Swap::Total(50 << 20)),
        cpus: Some(Cpus::new(0.5)),
        cpu_shares: Some(512),
        pids_max: Some(20),
        cpuset_cpus: Some("0".into()),
        ..Default::default()
    }
}

fn redact(text: &str, base: &Path) -> String {
    text.replace(&base.display().to_string(), "[HOST]")
}

/// Everything a fixture host would see for one group, as shell commands.
fn transcript(kind: HostKind) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Fixture::build(tmp.path(), kind).unwrap();
    let layout = fixture.layout().unwrap();
    let mut out = layout.describe();

    out.push_str("\n# create\n");
    let plan = Cgroup::plan_create(&layout, "chapter02-test-1-1").unwrap();
    out.push_str(&render(&plan.steps()));
    let group = Cgroup::create(&layout, "chapter02-test-1-1").unwrap();
    assert_eq!(
        group
            .dirs()
            .iter()
            .map(|d| d.path.clone())
            .collect::<Vec<_>>(),
        plan.trees
            .iter()
            .map(|t| t.dir.path.clone())
            .collect::<Vec<_>>(),
        "create follows its plan"
    );

    out.push_str("\n# set --memory 50m --memory-swap 50m --cpus 0.5 --cpu-shares 512 --pids-limit 20 --cpuset-cpus 0\n");
    let writes = group.set(&tour_resources()).unwrap();
    for w in &writes {
        out.push_str(&format!("{w}\n"));
        assert_eq!(
            fs::read_to_string(&w.path).unwrap(),
            w.value,
            "{} was written",
            w.path.display()
        );
    }

    out.push_str("\n# add a process (chapter01's Config::cgroup_procs gets these files)\n");
    for w in group.plan_add_pid(4243) {
        out.push_str(&format!("{w}\n"));
    }

    out.push_str("\n# freeze / thaw\n");
    for frozen in [true, false] {
        let (write, confirm, wanted) = group.plan_freeze(frozen).unwrap();
        out.push_str(&format!(
            "{write}    # then wait until {} reads {wanted:?}\n",
            confirm.display()
        ));
    }

    out.push_str("\n# delete (after killing what is left)\n");
    for dir in group.plan_delete() {
        out.push_str(&format!("rmdir {}\n", dir.display()));
    }
    let dirs: Vec<_> = group.dirs().iter().map(|d| d.path.clone()).collect();
    group.delete().unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} was removed", d.display());
    }
    redact(&out, tmp.path())
}

#[test]
fn hybrid_host_plan() {
    insta::assert_snapshot!(transcript(HostKind::Hybrid));
}

#[test]
fn legacy_v1_host_plan() {
    insta::assert_snapshot!(transcript(HostKind::Legacy));
}

#[test]
fn unified_v2_session_host_plan_falls_back_to_the_root() {
    insta::assert_snapshot!(transcript(HostKind::UnifiedSession));
}

#[test]
fn unified_v2_root_host_plan() {
    insta::assert_snapshot!(transcript(HostKind::UnifiedRoot));
}

#[test]
fn layouts_are_detected_by_kind() {
    for (kind, want) in [
        (HostKind::Legacy, Kind::Legacy),
        (HostKind::UnifiedSession, Kind::Unified),
        (HostKind::UnifiedRoot, Kind::Unified),
        (HostKind::Hybrid, Kind::Hybrid),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Fixture::build(tmp.path(), kind).unwrap().layout().unwrap();
        assert_eq!(layout.kind, want, "{kind:?}");
    }
}

#[test]
fn hybrid_host_uses_v1_for_controllers_and_v2_for_tracking() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Fixture::build(tmp.path(), HostKind::Hybrid)
        .unwrap()
        .layout()
        .unwrap();
    assert_eq!(
        layout.hierarchy_for(&Controller::Cpu).unwrap().version,
        Version::V1
    );
    assert_ne!(
        layout.hierarchy_for(&Controller::Cpu).unwrap().mount_point,
        layout
            .hierarchy_for(&Controller::Cpuacct)
            .unwrap()
            .mount_point,
        "cpu and cpuacct are separate trees on this kind of host"
    );
    let plan = Cgroup::plan_create(&layout, "chapter02-x-1-1").unwrap();
    let v2: Vec<_> = plan
        .trees
        .iter()
        .filter(|t| t.dir.version == Version::V2)
        .collect();
    assert_eq!(v2.len(), 1, "one v2 directory for tracking");
    assert!(v2[0].dir.controllers.is_empty());
    assert!(
        !plan
            .steps()
            .iter()
            .any(|s| s.to_string().contains("systemd")),
        "the name=systemd tree is left alone"
    );
    // The memory group goes below the caller's own memory cgroup.
    let mem = plan
        .trees
        .iter()
        .find(|t| t.dir.controllers.contains(&Controller::Memory))
        .unwrap();
    assert!(mem
        .dir
        .path
        .ends_with("memory/process_api/job1/chapter02-x-1-1"));
}

#[test]
fn missing_controllers_and_bad_values_are_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Fixture::build(tmp.path(), HostKind::Hybrid).unwrap();
    // Pretend the pids tree is not mounted.
    let info = fs::read_to_string(fixture.proc.join("self/mountinfo")).unwrap();
    let info: String = info
        .lines()
        .filter(|l| !l.contains(",pids"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(fixture.proc.join("self/mountinfo"), info).unwrap();
    let layout = fixture.layout().unwrap();
    let group = Cgroup::create(&layout, "chapter02-missing-1-1").unwrap();
    let err = group
        .plan_set(&Resources {
            pids_max: Some(5),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a pids limit needs the pids controller, which this host does not offer (see /proc/cgroups and cgroup.controllers)"
    );
    let err = group
        .plan_set(&Resources {
            memory_swap: Some(Swap::Unlimited),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid resources: memory_swap needs memory_max"),
        "{err}"
    );
    group.delete().unwrap();
}

#[test]
fn stats_and_oom_events_are_read_from_the_right_files() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Fixture::build(tmp.path(), HostKind::Hybrid)
        .unwrap()
        .layout()
        .unwrap();
    let group = Cgroup::create(&layout, "chapter02-stats-1-1").unwrap();
    let dir = |c: Controller| group.dir_for(&c).unwrap().path.clone();
    let mem = dir(Controller::Memory);
    fs::write(mem.join("memory.usage_in_bytes"), "1048576\n").unwrap();
    fs::write(mem.join("memory.max_usage_in_bytes"), "52428800\n").unwrap();
    fs::write(mem.join("memory.limit_in_bytes"), "52428800\n").unwrap();
    fs::write(mem.join("memory.failcnt"), "31\n").unwrap();
    fs::write(
        mem.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    )
    .unwrap();
    fs::write(
        dir(Controller::Cpu).join("cpu.stat"),
        "nr_periods 20\nnr_throttled 19\nthrottled_time 950000000\n",
    )
    .unwrap();
    fs::write(
        dir(Controller::Cpuacct).join("cpuacct.usage"),
        "1000000000\n",
    )
    .unwrap();
    fs::write(dir(Controller::Pids).join("pids.current"), "20\n").unwrap();
    fs::write(dir(Controller::Pids).join("pids.max"), "20\n").unwrap();
    fs::write(dir(Controller::Pids).join("pids.events"), "max 3\n").unwrap();

    let stats = group.stats().unwrap();
    let memory = stats.memory.unwrap();
    assert_eq!(
        (memory.usage, memory.peak, memory.limit),
        (1 << 20, Some(50 << 20), Some(50 << 20))
    );
    assert_eq!(memory.oom.oom_kill, 1);
    assert_eq!(memory.oom.failcnt, Some(31));
    let cpu = stats.cpu.unwrap();
    assert_eq!(cpu.usage_usec, Some(1_000_000));
    assert_eq!(
        (cpu.nr_periods, cpu.nr_throttled, cpu.throttled_usec),
        (20, 19, 950_000)
    );
    assert_eq!(group.cpu_usage_usec().unwrap(), 1_000_000);
    let pids = stats.pids.unwrap();
    assert_eq!(
        (pids.current, pids.max, pids.refused),
        (20, Some(20), Some(3))
    );
    group.delete().unwrap();
}

#[test]
fn v2_freeze_waits_for_cgroup_events() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Fixture::build(tmp.path(), HostKind::UnifiedRoot)
        .unwrap()
        .layout()
        .unwrap();
    let group = Cgroup::create(&layout, "chapter02-freeze-1-1").unwrap();
    let dir = group.dirs()[0].path.clone();
    fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    group.freeze().unwrap();
    assert_eq!(fs::read_to_string(dir.join("cgroup.freeze")).unwrap(), "1");
    group.delete().unwrap();
}

#[test]
fn dropping_the_guard_removes_the_directories_and_keep_disarms_it() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Fixture::build(tmp.path(), HostKind::Legacy)
        .unwrap()
        .layout()
        .unwrap();
    let group = Cgroup::create(&layout, "chapter02-drop-1-1").unwrap();
    let dirs: Vec<_> = group.dirs().iter().map(|d| d.path.clone()).collect();
    assert!(dirs.iter().all(|d| d.is_dir()));
    drop(group);
    assert!(dirs.iter().all(|d| !d.exists()));

    let group = Cgroup::create(&layout, "chapter02-keep-1-1").unwrap();
    let name = group.keep();
    let reopened = Cgroup::open(&layout, &name).unwrap();
    assert_eq!(
        reopened.dirs().len(),
        5,
        "cpu,cpuacct cpuset memory pids freezer"
    );
    reopened.delete().unwrap();
}

/// The root group (and our own) holds every process of the host: a guard over
/// it would kill them all when dropped, so no path or name may reach it.
#[test]
fn the_root_and_our_own_group_can_never_be_opened_or_made() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Fixture::build(tmp.path(), HostKind::Hybrid)
        .unwrap()
        .layout()
        .unwrap();
    for path in ["/", "", "//", "/.", "/a/..", "../.."] {
        let p = Path::new(path);
        assert!(Cgroup::open_at(&layout, p).is_err(), "open_at {path:?}");
        assert!(Cgroup::create_at(&layout, p).is_err(), "create_at {path:?}");
    }
    for name in ["", ".", "..", "/abs", "a/../.."] {
        assert!(Cgroup::open(&layout, name).is_err(), "open {name:?}");
        assert!(Cgroup::create(&layout, name).is_err(), "create {name:?}");
    }
}

#[test]
fn unique_names_carry_the_prefix_pid_and_a_counter() {
    let a = chapter02::unique_name("memory");
    let b = chapter02::unique_name("memory");
    assert_ne!(a, b);
    assert!(a.starts_with(&format!("chapter02-memory-{}-", std::process::id())));
    assert!(matches!(
        Step::Mkdir("/x".into()).to_string().as_str(),
        "mkdir /x"
    ));
}

/// Every OCI `linux.resources` limit beyond the tour's, on each kind of host:
/// the file and value it becomes, or the error that names it.
fn the_rest_of_the_oci_limits(kind: HostKind) -> String {
    use chapter02::{DeviceWeight, Throttle, ThrottleKind};
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Fixture::build(tmp.path(), kind).unwrap();
    let layout = fixture.layout().unwrap();
    let wanted = [
        Resources {
            memory_reservation: Some(32 << 20),
            ..Default::default()
        },
        Resources {
            memory_swappiness: Some(10),
            ..Default::default()
        },
        Resources {
            oom_kill_disable: true,
            ..Default::default()
        },
        Resources {
            kernel_tcp: Some(16 << 20),
            ..Default::default()
        },
        Resources {
            cpu_rt_period: Some(1_000_000),
            cpu_rt_runtime: Some(0),
            ..Default::default()
        },
        Resources {
            cpu_idle: Some(1),
            ..Default::default()
        },
        Resources {
            blkio_weight: Some(500),
            blkio_weight_devices: vec![DeviceWeight {
                major: 8,
                minor: 0,
                weight: Some(300),
                leaf_weight: None,
            }],
            blkio_throttle: vec![Throttle {
                kind: ThrottleKind::ReadBps,
                major: 8,
                minor: 0,
                rate: 1 << 20,
            }],
            ..Default::default()
        },
        Resources {
            hugepage_limits: vec![("2MB".into(), 0)],
            ..Default::default()
        },
        Resources {
            net_class_id: Some(0x100001),
            ..Default::default()
        },
        Resources {
            unified: [("memory.high".to_string(), "1G".to_string())].into(),
            ..Default::default()
        },
    ];
    let mut extra: Vec<Controller> = Vec::new();
    for r in &wanted {
        extra.extend(r.extra_controllers());
    }
    let path = Path::new("/chapter02-test/oci");
    let group = Cgroup::create_at_with(&layout, path, &extra).unwrap();
    let mut out = String::new();
    for r in &wanted {
        match group.plan_set(r) {
            Ok(writes) => writes.iter().for_each(|w| out.push_str(&format!("{w}\n"))),
            Err(e) => out.push_str(&format!("error: {e}\n")),
        }
    }
    group.delete().unwrap();
    redact(&out, tmp.path())
}

#[test]
fn oci_limits_on_a_hybrid_host() {
    insta::assert_snapshot!(the_rest_of_the_oci_limits(HostKind::Hybrid));
}

#[test]
fn oci_limits_on_a_unified_host() {
    insta::assert_snapshot!(the_rest_of_the_oci_limits(HostKind::UnifiedRoot));
}
