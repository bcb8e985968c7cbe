//! `diff`, `stats --no-stream` end to end against a real daemon.
//! Privileged: they fail (never skip) without root.

use e2e::*;

fn wait_for(p: &std::path::Path) {
    for _ in 0..500 {
        if std::fs::symlink_metadata(p).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never appeared", p.display());
}

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&[
            "run", "-d", "--network", "none", "--name", "differ", "bb", "sh", "-c",
            "mkdir /newdir && echo new > /www/new.txt && rm /www/index.html && touch /ready && sleep 1000",
        ])
        .trim()
        .to_string();
    wait_for(
        &d.data_root()
            .join("containers")
            .join(&id)
            .join("rootfs/ready"),
    );
    let out = d.ok(&["diff", "differ"]);
    assert_eq!(
        out,
        "A /newdir\nA /ready\nC /www\nD /www/index.html\nA /www/new.txt\n"
    );
    // Stopped, the rw layer still says the same.
    d.ok(&["stop", "-t", "0", "differ"]);
    assert_eq!(d.ok(&["diff", "differ"]), out);
    // A fresh container changed nothing (the engine's mount points are not changes).
    d.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "fresh",
        "bb",
        "true",
    ]);
    assert_eq!(d.ok(&["diff", "fresh"]), "");
    d.ok(&["start", "fresh"]);
    d.ok(&["wait", "fresh"]);
    assert_eq!(d.ok(&["diff", "fresh"]), "");
}

#[test]
fn stats_show_the_memory_limit_and_the_pids() {
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "-m",
        "64m",
        "--name",
        "counted",
        "bb",
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & sleep 1000 & wait",
    ]);
    // The three sleeps and their shell: 4 tasks in the container's cgroup
    // (polled: the shell forks them after `run` returns).
    let mut line = String::new();
    for _ in 0..200 {
        line = d.ok(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}} {{.MemUsage}} {{.CPUPerc}}",
            "counted",
        ]);
        if line.split_whitespace().nth(1) == Some("4") {
            break;
        }
    }
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[0], "counted", "{line}");
    assert_eq!(f[1], "4", "{line}");
    assert_eq!(&f[3..5], ["/", "64MiB"], "{line}");
    assert!(f[5].ends_with('%'), "{line}");
    // The table, Docker's columns.
    let table = d.ok(&["stats", "--no-stream", "counted"]);
    let mut lines = table.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    let row = lines.next().unwrap();
    assert!(
        row.contains("counted") && row.contains("/ 64MiB") && row.trim_end().ends_with(" 4"),
        "{row}"
    );
    // The same from the API: Docker's JSON shape with the kernel's numbers.
    let out = d.ok(&["inspect", "--format", "{{.Id}}", "counted"]);
    let id = out.trim();
    let procs =
        std::fs::read_to_string(format!("/sys/fs/cgroup/pids/mini-docker/{id}/cgroup.procs"))
            .unwrap();
    assert_eq!(procs.lines().count(), 4);
    let limit = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/mini-docker/{id}/memory.limit_in_bytes"
    ))
    .unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    let v = api_json(&d, &format!("/containers/{id}/stats?stream=false"));
    assert_eq!(v["memory_stats"]["limit"], 64u64 << 20);
    assert_eq!(v["pids_stats"]["current"], 4);
    assert!(v["memory_stats"]["usage"].as_u64().unwrap() > 0);
    assert!(v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap() > 0);
    assert!(
        v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap()
            > v["precpu_stats"]["system_cpu_usage"].as_u64().unwrap()
    );
    assert_eq!(v["name"], "/counted");
}

/// A GET over the daemon's socket, as JSON.
fn api_json(d: &Daemon, path: &str) -> serde_json::Value {
    let (_, body) = d.request("GET", path, "");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn doctor_passes_on_this_host() {
    let d = Daemon::start();
    let out = d.cli(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // This host: root, Linux 6.x, a hybrid cgroup layout with the v1
    // controllers, overlay, user namespaces, nft, Debian's busybox-static,
    // and the test daemon's own socket, data root and shim.
    for line in [
        "✔ root: running as uid 0",
        "✔ cgroups: hybrid layout: cgroup v1 controllers, plus a cgroup2 tree at /sys/fs/cgroup/unified",
        "✔ cgroup controllers: memory (v1), cpu (v1), pids (v1), cpuacct (v1)",
        "✔ overlayfs: overlay is in /proc/filesystems",
        "✔ busybox-static: /bin/busybox is statically linked",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    for name in [
        "kernel",
        "user namespaces",
        "nftables",
        "API socket",
        "data root",
        "runtime",
    ] {
        assert!(
            text.contains(&format!("✔ {name}: ")),
            "{name} failed:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("{} has mode 0660", d.socket().display())),
        "{text}"
    );
    assert_eq!(text.lines().count(), 11, "{text}");
    assert!(out.status.success(), "{text}");
}

#[test]
fn explain_prints_the_plan_then_runs() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // create --explain: the plan of the start, and nothing done yet.
    let out = d.ok(&[
        "create",
        "--explain",
        "--network",
        "none",
        "-m",
        "64m",
        "--pids-limit",
        "10",
        "--name",
        "planned",
        "bb",
        "echo",
        "hi",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    assert_eq!(id.len(), 64, "{out}");
    let rootfs = d.data_root().join("containers").join(&id).join("rootfs");
    let expect_in_order = [
        "== engine (mini-dockerd) ==".to_string(),
        "-- layers and root filesystem --".to_string(),
        format!(" {}", rootfs.display()),
        "# --network none: the runtime makes a new, empty network namespace".to_string(),
        format!(
            "cat > {}",
            d.data_root()
                .join("containers")
                .join(&id)
                .join("config.json")
                .display()
        ),
        "== runtime (mini-runc, in the shim; then the container's init) ==".to_string(),
        format!("echo 67108864 > /sys/fs/cgroup/memory/mini-docker/{id}/memory.limit_in_bytes"),
        format!("echo 10 > /sys/fs/cgroup/pids/mini-docker/{id}/pids.max"),
        format!("echo $INIT_PID > /sys/fs/cgroup/memory/mini-docker/{id}/cgroup.procs"),
        "unshare --uts --ipc --mount --net --pid --fork".to_string(),
        "mount -t proc -o nosuid,noexec,nodev proc $ROOTFS/proc".to_string(),
        format!("cd {} && pivot_root . . && umount -l .", rootfs.display()),
        format!("hostname {}", &id[..12]),
        "capsh --drop=<all but 14 caps>".to_string(),
        "exec echo hi".to_string(),
    ];
    let mut at = 0;
    for want in &expect_in_order {
        match out[at..].find(want.as_str()) {
            Some(i) => at += i + want.len(),
            None => panic!("{want:?} missing (or out of order) in:\n{out}"),
        }
    }
    d.reaps_finish();
    assert!(
        mounts_under(&d.data_root()).is_empty(),
        "explain mounted something"
    );
    assert!(!cgroup_exists(&id), "explain made a cgroup");
    assert_eq!(
        d.ok(&["inspect", "--format", "{{.State.Status}}", "planned"])
            .trim(),
        "created"
    );

    // start --explain prints the same plan, then starts.
    let started = d.ok(&["start", "--explain", "planned"]);
    assert!(started.contains("exec echo hi"), "{started}");
    assert_eq!(started.lines().last(), Some("planned"));
    assert_eq!(d.ok(&["wait", "planned"]).trim(), "0");
    assert_eq!(d.ok(&["logs", "planned"]), "hi\n");

    // run --explain: the plan first, then the container's output.
    let ran = d.ok(&[
        "run",
        "--rm",
        "--explain",
        "--network",
        "none",
        "bb",
        "echo",
        "ran",
    ]);
    let plan_end = ran.find("exec echo ran").expect("the plan");
    assert_eq!(ran[plan_end..].lines().last(), Some("ran"), "{ran}");
}

#[test]
fn explain_shows_the_bridge_wiring_without_doing_it() {
    let d = Daemon::start_bridged();
    let (bridge, subnet) = d.bridge.clone().unwrap();
    d.import_busybox("bb");
    let out = d.ok(&[
        "create",
        "--explain",
        "-p",
        "127.0.0.1::80",
        "--name",
        "web",
        "bb",
        "httpd",
        "-f",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    let short = &id[..12];
    let gateway = subnet.trim_end_matches("0/24").to_string() + "1";
    for want in [
        format!("ip link add name {bridge} type bridge"),
        format!("ip addr add {gateway}/24 dev {bridge}"),
        format!("ip link add md-{short} type veth peer name eth0 netns "),
        format!("ip link set md-{short} master {bridge}"),
        format!("ip route add default via {gateway}"),
        "--host-ip 127.0.0.1 --host-port 0 --container-ip".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} missing in:\n{out}");
    }
    // Nothing was made: no bridge, no veth, no namespace file.
    let mut nl = network::netlink::Netlink::open().unwrap();
    assert!(nl.link_index(&bridge).unwrap().is_none());
    assert!(nl.link_index(&format!("md-{short}")).unwrap().is_none());
    assert!(!d.data_root().join("netns").join(short).exists());
    // Once started, the bridge the plan named is there.
    d.ok(&["start", "web"]);
    assert!(nl.link_index(&bridge).unwrap().is_some());
    assert!(nl.link_index(&format!("md-{short}")).unwrap().is_some());
}

#[test]
fn explain_output_snapshot() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let out = d.ok(&[
        "create",
        "--explain",
        "--network",
        "none",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--name",
        "snap",
        "bb",
        "echo",
        "hi",
    ]);
    let bin = std::path::Path::new(&dockerd_bin())
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        &regex_escape(&d.data_root().display().to_string()),
        "[ROOT]",
    );
    settings.add_filter(&regex_escape(&bin), "[BIN]");
    settings.add_filter(r"[0-9a-f]{64}", "[ID]");
    settings.add_filter(r"[0-9a-f]{12}", "[SHORT]");
    // Parents other tests may have made already, and this host's CPUs.
    settings.add_filter(
        r"(?m)^ *\d+\. mkdir /sys/fs/cgroup/[a-z_,]+/mini-docker\n",
        "",
    );
    settings.add_filter(
        r"(?m)^ *\d+\. echo \S+ > /sys/fs/cgroup/cpuset/mini-docker/cpuset\.\w+\n",
        "",
    );
    settings.add_filter(
        r"echo [0-9,-]+ > (\S*cpuset\.(cpus|mems))",
        "echo [CPUS] > $1",
    );
    settings.add_filter(r"(?m)^ *\d+\. ", "  N. ");
    settings.bind(|| insta::assert_snapshot!("explain_create", out));
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn the_docker_cli_copies_diffs_and_reads_stats() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let run = d.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "-m",
        "32m",
        "--name",
        "dk",
        "bb",
        "sh",
        "-c",
        "echo hi > /made && touch /ready && sleep 1000",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    wait_for(
        &d.data_root()
            .join("containers")
            .join(&id)
            .join("rootfs/ready"),
    );
    let ok = |args: &[&str]| {
        let o = d.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(ok(&["diff", "dk"]), "A /made\nA /ready\n");
    let tmp = tempfile::tempdir().unwrap();
    let got = tmp.path().join("made.txt");
    ok(&["cp", "dk:/made", got.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "hi\n");
    std::fs::create_dir(tmp.path().join("dir")).unwrap();
    std::fs::write(tmp.path().join("dir/in.txt"), "in\n").unwrap();
    ok(&["cp", tmp.path().join("dir").to_str().unwrap(), "dk:/www"]);
    assert_eq!(
        std::fs::read_to_string(
            d.data_root()
                .join("containers")
                .join(&id)
                .join("rootfs/www/dir/in.txt")
        )
        .unwrap(),
        "in\n"
    );
    let s = ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        "dk",
    ]);
    let f: Vec<&str> = s.split_whitespace().collect();
    // One task: busybox sh execs the last command of `-c` (sleep replaces it).
    assert_eq!((f[0], f[2], f[3], f[4]), ("dk", "/", "32MiB", "1"), "{s}");
}

/// `--explain` computes the spec the way `start` does (see
/// `engine::explain`): the runtime part of its plan must be the plan of the
/// `config.json` that `start` really writes.
#[test]
fn explain_matches_the_spec_start_writes() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let out = d.ok(&[
        "create",
        "--explain",
        "--network",
        "none",
        "-m",
        "48m",
        "--pids-limit",
        "7",
        "-e",
        "FOO=bar",
        "-w",
        "/www",
        "--hostname",
        "planned",
        "--name",
        "same",
        "bb",
        "sleep",
        "1000",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    let from = |s: &str| s[s.find("-- namespaces --").expect("a namespaces phase")..].to_string();
    let explained: String = from(&out)
        .lines()
        .filter(|l| !l.trim().is_empty() && *l != id)
        .map(|l| format!("{l}\n"))
        .collect();
    d.ok(&["start", "same"]);
    let dir = d.data_root().join("containers").join(&id);
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let inputs = mini_dockerd::explain::Inputs {
        id: id.clone(),
        bundle: dir,
        rootfs_mounts: vec![],
        driver: "overlay".into(),
        net: mini_dockerd::explain::NetPlan::Isolated,
        spec,
        layout: cgroups::Layout::detect().unwrap(),
        shim: "mini-shim".into(),
    };
    let real = mini_dockerd::explain::render(&mini_dockerd::explain::plan(&inputs).unwrap());
    let strip_numbers = |s: &str| -> String {
        s.lines()
            .map(|l| match l.trim_start().split_once(". ") {
                Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => rest.to_string(),
                _ => l.trim().to_string(),
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(strip_numbers(&explained), strip_numbers(&from(&real)));
    assert!(explained.contains("exec sleep 1000") && explained.contains("hostname planned"));
}
