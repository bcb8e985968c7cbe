//! Volumes, binds and tmpfs end to end, then restart policies and the
//! extra run flags. Each test has its own daemon (no bridge: these need no
//! network). Privileged: they fail (never skip) without root.

use e2e::*;
use serde_json::Value;

fn run_rm(d: &Daemon, args: &[&str]) -> (bool, String) {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    let out = d.cli(&all);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn inspect(d: &Daemon, name: &str) -> Value {
    serde_json::from_str::<Value>(&d.ok(&["inspect", name])).unwrap()[0].clone()
}

fn volumes(d: &Daemon) -> Vec<String> {
    d.ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect()
}

/// Polls (bounded) until `f` holds; panics with `what` otherwise.
#[test]
fn named_volumes_keep_data_ro_refuses_and_volumes_from_shares() {
    let d = Daemon::start();
    d.import_busybox("bb");
    assert_eq!(d.ok(&["volume", "create", "data"]).trim(), "data");
    let ls = d.ok(&["volume", "ls"]);
    assert!(
        ls.starts_with("DRIVER") && ls.contains("local") && ls.contains("data"),
        "{ls}"
    );
    let v: Value = serde_json::from_str(&d.ok(&["volume", "inspect", "data"])).unwrap();
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap().to_string();
    assert_eq!(
        mountpoint,
        d.data_root()
            .join("volumes/data/_data")
            .display()
            .to_string()
    );

    // Written by one container, read by the next.
    let (ok, out) = run_rm(
        &d,
        &["-v", "data:/data", "bb", "sh", "-c", "echo kept > /data/f"],
    );
    assert!(ok, "{out}");
    let (ok, out) = run_rm(&d, &["-v", "data:/data", "bb", "cat", "/data/f"]);
    assert!(ok && out.trim() == "kept", "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/f")).unwrap(),
        "kept\n"
    );
    // A named volume is created on first use.
    let (ok, out) = run_rm(&d, &["-v", "fresh:/x", "bb", "sh", "-c", "echo 1 > /x/one"]);
    assert!(ok, "{out}");
    assert!(volumes(&d).contains(&"fresh".to_string()));
    let df = d.ok(&["system", "df"]);
    let row = df.lines().find(|l| l.starts_with("Local Volumes")).unwrap();
    assert_eq!(row.split_whitespace().nth(2), Some("2"), "{df}");

    // :ro refuses writes.
    let (ok, out) = run_rm(
        &d,
        &["-v", "data:/data:ro", "bb", "sh", "-c", "echo no > /data/g"],
    );
    assert!(!ok, "a read-only volume refused the write: {out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(!std::path::Path::new(&format!("{mountpoint}/g")).exists());

    // A host directory, bound.
    let host = tempfile::tempdir().unwrap();
    let spec = format!("{}:/mnt/host", host.path().display());
    let (ok, out) = run_rm(
        &d,
        &["-v", &spec, "bb", "sh", "-c", "echo bound > /mnt/host/b"],
    );
    assert!(ok, "{out}");
    assert_eq!(
        std::fs::read_to_string(host.path().join("b")).unwrap(),
        "bound\n"
    );

    // --volumes-from shares the holder's volumes (and :ro makes them read-only).
    d.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-v",
        "data:/data",
        "bb",
        "sleep",
        "1000",
    ]);
    let (ok, out) = run_rm(&d, &["--volumes-from", "holder", "bb", "cat", "/data/f"]);
    assert!(ok && out.trim() == "kept", "{out}");
    let (ok, out) = run_rm(
        &d,
        &[
            "--volumes-from",
            "holder:ro",
            "bb",
            "sh",
            "-c",
            "echo x > /data/h",
        ],
    );
    assert!(!ok, "{out}");
    let holders = d.ok(&["ps", "--filter", "volume=data", "--format", "{{.Names}}"]);
    assert_eq!(holders.trim(), "holder");
    let mounts = &inspect(&d, "holder")["Mounts"];
    assert_eq!(mounts[0]["Type"], "volume");
    assert_eq!(mounts[0]["Name"], "data");
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["RW"], true);

    // A volume in use cannot be removed; once free it can.
    let rm = d.cli(&["volume", "rm", "data"]);
    assert!(!rm.status.success());
    let err = String::from_utf8_lossy(&rm.stderr);
    assert!(err.contains("volume is in use"), "{err}");
    d.ok(&["rm", "-f", "holder"]);
    d.ok(&["volume", "rm", "data"]);
    assert!(!d.data_root().join("volumes/data").exists());
    // prune takes the unused rest.
    let pruned = d.ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains("fresh"), "{pruned}");
    assert!(volumes(&d).is_empty());
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_rm_and_tmpfs_is_fresh() {
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["create", "--name", "anon", "-v", "/scratch", "bb", "true"]);
    let m = &inspect(&d, "anon")["Mounts"][0];
    let name = m["Name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 64, "an anonymous volume: {m}");
    assert_eq!(m["Destination"], "/scratch");
    assert_eq!(volumes(&d), vec![name.clone()]);
    // `rm` alone keeps it, as Docker does; `rm -v` takes it along.
    d.ok(&["create", "--name", "anon2", "-v", "/scratch", "bb", "true"]);
    d.ok(&["rm", "anon2"]);
    assert_eq!(volumes(&d).len(), 2);
    d.ok(&["rm", "-v", "anon"]);
    assert!(!volumes(&d).contains(&name));
    d.ok(&["volume", "prune", "-f"]);
    assert!(volumes(&d).is_empty());

    // `run --rm` removes its anonymous volumes, and keeps named ones.
    let (ok, out) = run_rm(
        &d,
        &[
            "-v",
            "/scratch",
            "-v",
            "keep:/keep",
            "bb",
            "sh",
            "-c",
            "echo x > /scratch/x",
        ],
    );
    assert!(ok, "{out}");
    eventually("the --rm container is gone", || d.ids().is_empty());
    assert_eq!(volumes(&d), vec!["keep".to_string()]);

    // Copy-up: an empty volume gets the image's files at its mount point
    // (not with :nocopy, and not again once it has content).
    let (ok, out) = run_rm(&d, &["-v", "seeded:/www", "bb", "cat", "/www/index.html"]);
    assert!(ok && out.contains("hello from mini-docker"), "{out}");
    let seeded = d.data_root().join("volumes/seeded/_data/index.html");
    assert!(seeded.is_file());
    std::fs::write(&seeded, "changed\n").unwrap();
    let (ok, out) = run_rm(&d, &["-v", "seeded:/www", "bb", "cat", "/www/index.html"]);
    assert!(ok && out.trim() == "changed", "{out}");
    let (ok, out) = run_rm(&d, &["-v", "bare:/www:nocopy", "bb", "ls", "-A", "/www"]);
    assert!(ok && out.trim().is_empty(), "{out}");

    // --tmpfs: a fresh, empty, writable tmpfs.
    let (ok, out) = run_rm(
        &d,
        &[
            "--tmpfs",
            "/run/t:size=1m",
            "bb",
            "sh",
            "-c",
            "ls -A /run/t | wc -l; echo ok > /run/t/a && grep ' /run/t ' /proc/mounts",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.starts_with("0\n"), "{out}");
    assert!(
        out.contains("tmpfs /run/t tmpfs") && out.contains("size=1024k"),
        "{out}"
    );
}

#[test]
fn a_symlink_to_root_in_a_volume_cannot_make_a_bind_touch_the_host() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let hex = network::names::unique_id();
    let victim = format!("/tmp/md-netvol-victim-{hex}");
    let (ok, out) = run_rm(
        &d,
        &["-v", "evil:/data", "bb", "ln", "-s", "/", "/data/escape"],
    );
    assert!(ok, "{out}");
    assert!(d
        .data_root()
        .join("volumes/evil/_data/escape")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    // A bind whose destination runs through the symlink lands in the
    // container's own root, not in the host's /tmp.
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("payload"), "from the host dir\n").unwrap();
    let bind = format!("{}:/data/escape{victim}", src.path().display());
    let (ok, out) = run_rm(
        &d,
        &[
            "-v",
            "evil:/data",
            "-v",
            &bind,
            "bb",
            "sh",
            "-c",
            &format!("cat {victim}/payload && echo written > {victim}/w"),
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("from the host dir"), "{out}");
    assert!(
        !std::path::Path::new(&victim).exists(),
        "the host's {victim} was never created"
    );
    // Writing through the link from inside stays inside too.
    let (ok, out) = run_rm(
        &d,
        &[
            "-v",
            "evil:/data",
            "bb",
            "sh",
            "-c",
            &format!("echo pwn > /data/escape{victim}-f"),
        ],
    );
    assert!(ok, "{out}");
    assert!(!std::path::Path::new(&format!("{victim}-f")).exists());
    // Refused outright: destinations that are not plain paths in the container.
    for bad in ["x:/", "x:relative", "x:/a/../b", "x:/proc/self/fd/3"] {
        let (ok, out) = run_rm(&d, &["-v", bad, "bb", "true"]);
        assert!(!ok, "{bad} refused: {out}");
    }
}

#[test]
fn on_failure_3_restarts_exactly_three_times() {
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "bb",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    eventually("three restarts, then exited", || {
        let v = inspect(&d, "flaky");
        v["RestartCount"] == 3 && v["State"]["Status"] == "exited"
    });
    let v = inspect(&d, "flaky");
    assert_eq!(v["State"]["ExitCode"], 3);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(d.ok(&["logs", "flaky"]).matches("run").count(), 4);
    // A successful exit is not a failure: no restart.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        "bb",
        "true",
    ]);
    eventually("fine exited", || {
        inspect(&d, "fine")["State"]["Status"] == "exited"
    });
    assert_eq!(inspect(&d, "fine")["RestartCount"], 0);
    // --rm and --restart do not go together.
    let both = d.cli(&["run", "--rm", "--restart", "always", "bb", "true"]);
    assert!(!both.status.success());
}

#[test]
fn always_restarts_after_a_daemon_restart_and_unless_stopped_does_not_after_stop() {
    let mut d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "al",
        "--restart",
        "always",
        "bb",
        "sleep",
        "1000",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "us",
        "--restart",
        "unless-stopped",
        "bb",
        "sleep",
        "1000",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "us2",
        "--restart",
        "unless-stopped",
        "bb",
        "sleep",
        "1000",
    ]);
    // A container that exits by itself is restarted (always).
    d.ok(&[
        "run",
        "-d",
        "--name",
        "bouncy",
        "--restart",
        "always",
        "bb",
        "sh",
        "-c",
        "exit 1",
    ]);
    eventually("bouncy restarted", || {
        inspect(&d, "bouncy")["RestartCount"].as_u64().unwrap_or(0) >= 2
    });
    d.ok(&["stop", "bouncy"]);
    // `stop` disables restarting, for both.
    d.ok(&["stop", "-t", "0", "al", "us"]);
    for n in ["al", "us", "bouncy"] {
        assert_eq!(inspect(&d, n)["State"]["Status"], "exited", "{n}");
    }
    // The daemon dies and comes back: `always` is started again (even after
    // a stop), `unless-stopped` only if the user did not stop it.
    d.kill9();
    // us2 dies while the daemon is away.
    let pid = inspect_pid(&d, "us2");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    d.spawn();
    eventually("al runs again", || {
        inspect(&d, "al")["State"]["Running"] == true
    });
    eventually("us2 runs again", || {
        inspect(&d, "us2")["State"]["Running"] == true
    });
    assert_eq!(inspect(&d, "us")["State"]["Status"], "exited");
    // A user start lets it restart again.
    d.ok(&["start", "us"]);
    assert_eq!(inspect(&d, "us")["State"]["Running"], true);
}

/// The host pid of a container's init, read from its record (the daemon is down).
fn inspect_pid(d: &Daemon, name: &str) -> i32 {
    for e in std::fs::read_dir(d.data_root().join("containers"))
        .unwrap()
        .flatten()
    {
        let v: Value =
            serde_json::from_slice(&std::fs::read(e.path().join("container.json")).unwrap())
                .unwrap();
        if v["name"] == name {
            let pid = v["state"]["pid"].as_i64().unwrap() as i32;
            assert!(pid > 1, "{name} has no pid of its own: {pid}");
            return pid;
        }
    }
    panic!("no container {name}");
}

#[test]
fn run_flags_reach_the_process() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let (ok, out) = run_rm(
        &d,
        &[
            "--ulimit",
            "nofile=123:456",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "CHOWN",
            "--security-opt",
            "no-new-privileges",
            "--add-host",
            "db.example.test:10.9.8.7",
            "--dns",
            "10.0.0.53",
            "--dns-search",
            "corp.test",
            "bb",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; cat /etc/hosts /etc/resolv.conf",
        ],
    );
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], &["123", "456"], "{out}");
    assert!(
        out.contains("CapEff:\t0000000000000001"),
        "only CAP_CHOWN: {out}"
    );
    assert!(out.contains("CapBnd:\t0000000000000001"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("10.9.8.7\tdb.example.test"), "{out}");
    assert!(
        out.contains("nameserver 10.0.0.53") && out.contains("search corp.test"),
        "{out}"
    );

    // --read-only: the root refuses writes, a tmpfs still takes them.
    let (ok, out) = run_rm(
        &d,
        &[
            "--read-only",
            "--tmpfs",
            "/tmp",
            "bb",
            "sh",
            "-c",
            "echo x > /tmp/ok && touch /nope",
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("Read-only file system"), "{out}");

    // --privileged: every capability, and no seccomp filter.
    let (ok, out) = run_rm(
        &d,
        &[
            "--privileged",
            "bb",
            "grep",
            "-E",
            "^(CapEff|Seccomp):",
            "/proc/self/status",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("Seccomp:\t0"), "{out}");
    assert!(!out.contains("CapEff:\t00000000a80425fb"), "{out}");

    // Nonsense is refused at create.
    for bad in [
        vec!["--ulimit", "bogus=1"],
        vec!["--cap-add", "FLY"],
        vec!["--security-opt", "bogus"],
        vec!["--add-host", "x:not-an-ip"],
        vec!["--restart", "sometimes"],
    ] {
        let mut args = vec!["create"];
        args.extend(bad.iter().copied());
        args.extend(["bb", "true"]);
        assert!(!d.cli(&args).status.success(), "{bad:?} refused");
    }
}

#[test]
fn the_docker_cli_uses_volumes_and_restart_policies() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let ok = |args: &[&str]| {
        let out = d.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&["volume", "create", "dv"]);
    assert!(ok(&["volume", "ls"]).contains("dv"));
    ok(&[
        "run",
        "--rm",
        "-v",
        "dv:/d",
        "bb",
        "sh",
        "-c",
        "echo hi > /d/f",
    ]);
    assert_eq!(
        ok(&["run", "--rm", "-v", "dv:/d:ro", "bb", "cat", "/d/f"]).trim(),
        "hi"
    );
    let out = d.docker(&["run", "--rm", "-v", "dv:/d:ro", "bb", "touch", "/d/g"]);
    assert!(!out.status.success());
    // --mount (HostConfig.Mounts), for a volume and a tmpfs.
    assert_eq!(
        ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,source=dv,target=/m",
            "bb",
            "cat",
            "/m/f"
        ])
        .trim(),
        "hi"
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=dv,target=/m,readonly",
        "bb",
        "touch",
        "/m/x",
    ]);
    assert!(!out.status.success());
    let mounts = ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,destination=/t,tmpfs-size=1m",
        "bb",
        "grep",
        " /t ",
        "/proc/mounts",
    ]);
    assert!(
        mounts.contains("tmpfs /t tmpfs") && mounts.contains("size=1024k"),
        "{mounts}"
    );
    // The same through mini-docker's own --mount.
    let own = d.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=dv,dst=/m,readonly",
        "bb",
        "cat",
        "/m/f",
    ]);
    assert_eq!(own.trim(), "hi");
    ok(&[
        "run",
        "-d",
        "--name",
        "dr",
        "--restart",
        "on-failure:2",
        "bb",
        "sh",
        "-c",
        "exit 1",
    ]);
    eventually("two restarts", || {
        let v = inspect(&d, "dr");
        v["RestartCount"] == 2 && v["State"]["Status"] == "exited"
    });
    assert_eq!(
        ok(&["inspect", "--format", "{{.RestartCount}}", "dr"]).trim(),
        "2"
    );
    ok(&["rm", "dr"]);
    let rm = d.docker(&["volume", "rm", "dv"]);
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
}
