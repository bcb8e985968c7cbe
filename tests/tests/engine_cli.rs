//! mini-docker end to end: the `mini-docker` binary (and the real docker
//! CLI) against a `mini-dockerd` on a temp data root. Privileged: they fail
//! (never skip) without root.

use e2e::*;

#[test]
fn run_reports_output_exit_code_and_rm_leaves_nothing() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // Foreground run: output attached, the container's exit code is ours.
    let out = d.cli(&[
        "run",
        "--name",
        "three",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err"));
    // The json-file log has both streams.
    let logs = d.cli(&["logs", "three"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    assert_eq!(
        d.ok(&[
            "inspect",
            "--format",
            "{{ .State.Status }} {{ .State.ExitCode }}",
            "three"
        ])
        .trim(),
        "exited 3"
    );
    assert_eq!(d.ok(&["wait", "three"]).trim(), "3");

    // A detached container with limits and flags, really running.
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "sleeper",
        "--network",
        "none",
        "-e",
        "GREETING=hi",
        "-w",
        "/tmp",
        "--hostname",
        "box",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "--label",
        "role=test",
        "bb",
        "sh",
        "-c",
        "echo $GREETING $(pwd) $(hostname); exec sleep 300",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    let pid: i32 = d
        .ok(&["inspect", "--format", "{{ .State.Pid }}", "sleeper"])
        .trim()
        .parse()
        .unwrap();
    assert!(pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists());
    let limit = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/mini-docker/{id}/memory.limit_in_bytes"
    ))
    .unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    engine_common_eventually(|| d.ok(&["logs", "sleeper"]) == "hi /tmp box\n");
    assert_eq!(
        d.ok(&["ps", "-q", "--filter", "label=role=test"]).trim(),
        &id[..12]
    );
    assert!(
        !mounts_under(&d.data_root().join("containers").join(&id)).is_empty(),
        "the rootfs is mounted while it runs"
    );

    // rm refuses a running container; rm -f kills it and removes everything it got.
    let refused = d.cli(&["rm", "sleeper"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("You cannot remove a running container")
    );
    d.ok(&["rm", "-f", "sleeper"]);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z"))
                .unwrap_or(true)
    );
    // `rm` answers before the background reaper is done (issue 25).
    d.reaps_finish();
    eventually("the cgroup to go", || !cgroup_exists(&id));
    assert!(
        mounts_under(&d.data_root().join("containers").join(&id)).is_empty(),
        "no mount is left"
    );
    assert!(!d.data_root().join("containers").join(&id).exists());
    assert!(processes_with(&id[..12]).is_empty(), "no shim is left");

    // --rm removes by itself.
    let out = d.cli(&["run", "--rm", "--network", "none", "bb", "echo", "gone"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "gone\n");
    let ids = d.ids();
    assert_eq!(ids.len(), 1, "only `three` is left: {ids:?}");
}

fn engine_common_eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("timed out");
}

#[test]
fn stop_kill_start_and_live_restore() {
    let mut d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "sl",
        "--network",
        "none",
        "bb",
        "sleep",
        "300",
    ]);
    // sleep ignores SIGTERM as PID 1: stop escalates to SIGKILL after -t.
    d.ok(&["stop", "-t", "1", "sl"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "--format",
            "{{ .State.Status }} {{ .State.ExitCode }}",
            "sl"
        ])
        .trim(),
        "exited 137"
    );
    d.ok(&["start", "sl"]);
    assert_eq!(
        d.ok(&["inspect", "--format", "{{ .State.Status }}", "sl"])
            .trim(),
        "running"
    );
    let id = d
        .ok(&["inspect", "--format", "{{ .Id }}", "sl"])
        .trim()
        .to_string();
    // Live restore: the daemon dies, the container does not; a new daemon adopts it.
    d.kill9();
    let pid: i32 = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(
            d.data_root()
                .join("containers")
                .join(&id)
                .join("container.json"),
        )
        .unwrap(),
    )
    .unwrap()["state"]["pid"]
        .as_i64()
        .unwrap() as i32;
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the container survives its daemon"
    );
    d.spawn();
    assert_eq!(
        d.ok(&["inspect", "--format", "{{ .State.Status }}", "sl"])
            .trim(),
        "running"
    );
    d.ok(&["kill", "sl"]);
    assert_eq!(d.ok(&["wait", "sl"]).trim(), "137");
    d.ok(&["rm", "sl"]);
    assert!(!cgroup_exists(&id));
}

#[test]
fn bad_input_gives_one_line_errors_and_docker_exit_codes() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let unknown = d.cli(&["run", "--network", "none", "nosuchimage", "true"]);
    assert_eq!(unknown.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&unknown.stderr)
        .contains("Unable to find image 'nosuchimage:latest' locally"));
    d.ok(&[
        "create",
        "--name",
        "taken",
        "--network",
        "none",
        "bb",
        "true",
    ]);
    let taken = d.cli(&["run", "--name", "taken", "--network", "none", "bb", "true"]);
    assert_eq!(taken.status.code(), Some(125));
    let msg = String::from_utf8_lossy(&taken.stderr);
    assert!(msg.contains("is already in use by container"), "{msg}");
    assert_eq!(msg.trim().lines().count(), 1, "{msg}");
    let bad_mem = d.cli(&["run", "--memory", "lots", "bb", "true"]);
    assert_eq!(bad_mem.status.code(), Some(125));
    let missing = d.cli(&["inspect", "nothing-here"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such object: nothing-here"));
    let nodaemon = std::process::Command::new(cli_bin())
        .args(["-H", "unix:///nonexistent/md.sock", "ps"])
        .output()
        .unwrap();
    assert_eq!(nodaemon.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&nodaemon.stderr).trim(), "Cannot connect to the mini-docker daemon at unix:///nonexistent/md.sock. Is the daemon running? Start it with `mini-dockerd` (as root).");
    // Nothing half-created: only `taken`.
    assert_eq!(d.ids().len(), 1);
}

#[test]
fn images_tag_save_load_rmi_and_tables() {
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["tag", "bb", "localhost/bb:v1"]);
    let ids = d.ok(&["images", "-q"]);
    assert_eq!(ids.lines().count(), 1, "one image, two names");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{12}", "[ID]");
    settings.add_filter(
        r"(Less than a second|About a minute|1 second|\d+ (seconds|minutes)) ago",
        "[CREATED]",
    );
    settings.add_filter(r"\d+(\.\d+)?[kM]B", "[SIZE]");
    settings.add_filter(
        r"Up (Less than a second|About a minute|\d+ seconds?)",
        "Up [TIME]",
    );
    settings.add_filter(r"[a-z]+_[a-z]+\n", "[NAME]\n");
    // Widths follow the redacted values: keep the column order, not the widths.
    settings.add_filter(r" {3,}", " | ");
    settings.bind(|| insta::assert_snapshot!("images_table", d.ok(&["images"])));

    // save / rmi / load round trip.
    let tar = d.dir.path().join("bb.tar");
    d.ok(&["save", "-o", tar.to_str().unwrap(), "bb"]);
    assert_eq!(
        d.ok(&["rmi", "localhost/bb:v1"]).trim(),
        "Untagged: localhost/bb:v1",
        "another name remains: only untagged"
    );
    d.ok(&["create", "--network", "none", "bb", "true"]);
    let refused = d.cli(&["rmi", "bb"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "an image a container uses is refused"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is using its referenced image"));
    for id in d.ids() {
        d.ok(&["rm", &id]);
    }
    let out = d.ok(&["rmi", "bb"]);
    assert!(
        out.contains("Untagged: bb:latest") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
    // The blobs and the unpacked layers went with it.
    let files = |dir: std::path::PathBuf| -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path().display().to_string());
                }
            }
        }
        out
    };
    assert_eq!(files(d.data_root().join("blobs")), Vec::<String>::new());
    let layers: Vec<_> = std::fs::read_dir(d.data_root().join("layers"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ch04-"))
        .collect();
    assert!(layers.is_empty(), "unpacked layers left: {layers:?}");
    let loaded = d.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(loaded.contains("Loaded image: bb:latest"), "{loaded}");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "p1",
        "--network",
        "none",
        "bb",
        "sleep",
        "300",
    ]);
    settings.bind(|| insta::assert_snapshot!("ps_table", d.ok(&["ps"])));
    assert_eq!(
        d.ok(&["ps", "--format", "{{.Names}}: {{.Command}}"]).trim(),
        "p1: \"sleep 300\""
    );
}

#[test]
fn the_real_docker_cli_works_against_mini_dockerd() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let v = d.docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        "1.41",
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
    let out = d.docker(&["run", "--rm", "--network", "none", "bb", "echo", "hi"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    let out = d.docker(&[
        "run",
        "--name",
        "four",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let ps = d.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        String::from_utf8_lossy(&ps.stdout).starts_with("four Exited (4)"),
        "{}",
        String::from_utf8_lossy(&ps.stdout)
    );
    assert!(d.docker(&["rm", "four"]).status.success());
    assert!(d.ids().is_empty());
}

#[test]
fn restart_keeps_an_rm_container_and_stop_removes_it() {
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "md-rr",
        "--network",
        "none",
        "bb",
        "sleep",
        "300",
    ]);
    let pid1 = d.ok(&["inspect", "--format", "{{ .State.Pid }}", "md-rr"]);
    d.ok(&["restart", "-t", "0", "md-rr"]);
    assert_eq!(
        d.ok(&["inspect", "--format", "{{ .State.Running }}", "md-rr"])
            .trim(),
        "true",
        "restart runs it again rather than removing it"
    );
    assert_ne!(
        d.ok(&["inspect", "--format", "{{ .State.Pid }}", "md-rr"]),
        pid1
    );
    d.ok(&["stop", "-t", "0", "md-rr"]);
    engine_common_eventually(|| d.ids().is_empty());
}

#[test]
fn a_closed_stdout_ends_the_client_quietly() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // 2 MB of log: far more than a pipe holds, so the client is still
    // writing when `head` has gone.
    d.ok(&[
        "run",
        "--name",
        "md-big",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "yes | head -c 2000000",
    ]);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' -H '{}' logs md-big | head -c2",
            cli_bin(),
            d.host()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.stdout, b"y\n");
}
