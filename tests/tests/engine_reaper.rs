//! Issue 25: `rm` answers before the container's root is unmounted and its
//! directory removed; a background reaper finishes the work, and a daemon
//! restart resumes a reap the previous daemon began (`<data>/reap/<id>`).
//! The exit is recorded from the shim's report, before the shim's own
//! cleanup. Privileged: fails (never skips) without root.

use e2e::*;
use std::path::{Path, PathBuf};

/// Every path under the data root whose name holds `id`'s short id.
fn traces_of(root: &Path, id: &str) -> Vec<PathBuf> {
    let short = &id[..12];
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().contains(short) {
                out.push(p.clone());
            }
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                todo.push(p);
            }
        }
    }
    out
}

/// A container that wrote `n` files into its rw layer and exited: a layer
/// whose removal takes a while.
fn exited_with_files(d: &Daemon, n: usize) -> String {
    let script = format!(
        "mkdir /many && cd /many && i=0; while [ $i -lt {n} ]; do : > f$i; i=$((i+1)); done"
    );
    let id = d
        .ok(&["create", "--network", "none", "bb", "sh", "-c", &script])
        .trim()
        .to_string();
    d.ok(&["start", "-a", &id]);
    assert_eq!(d.ok(&["wait", &id]).trim(), "0");
    id
}

/// `run --rm --network none bb sh -c SCRIPT`.
fn run_rm_sh(d: &Daemon, script: &str) -> std::process::Output {
    d.cli(&["run", "--rm", "--network", "none", "bb", "sh", "-c", script])
}

/// Waits until no removal is left to the reaper (`<data>/reap` is empty).
fn reaps_finish(d: &Daemon) {
    d.reaps_finish();
}

#[track_caller]
fn nothing_left(d: &Daemon, id: &str, rw: &str) {
    let root = d.data_root();
    let t = traces_of(&root, id);
    assert!(t.is_empty(), "left of {id}: {t:?}");
    assert!(!cgroup_exists(id), "cgroup of {id} left");
    let m = mounts_under(&root);
    assert!(m.is_empty(), "mounts left: {m:?}");
    assert!(
        !d.layers().contains(&rw.to_string()),
        "the rw layer {rw} of {id} left"
    );
    let reap: Vec<_> = std::fs::read_dir(root.join("reap")).unwrap().collect();
    assert!(reap.is_empty(), "reap left: {reap:?}");
}

#[test]
fn rm_answers_at_once_and_the_reaper_leaves_nothing() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = exited_with_files(&d, 3000);
    let rw = d.record(&id)["layer"].as_str().unwrap().to_string();
    assert!(d.layers().contains(&rw));
    d.ok(&["rm", &id]);
    // The answer came before the reap: the container is gone from the
    // engine at once, and a new one with its name can be made at once.
    assert!(!d.ids().contains(&id));
    let out = d.cli(&["inspect", &id]);
    assert!(!out.status.success());
    eventually("the reap to finish", || {
        traces_of(&d.data_root(), &id).is_empty()
    });
    nothing_left(&d, &id, &rw);
}

#[test]
fn run_rm_and_wait_see_the_exit_code_and_leave_nothing() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // `--rm`: the CLI waits for the removal, which answers before the reap.
    let out = run_rm_sh(&d, "exit 7");
    assert_eq!(out.status.code(), Some(7));
    assert!(d.ids().is_empty());
    // A stopped container starts again at once: the start waits for the
    // previous run's shim to finish its cleanup, never races it.
    let id = d
        .ok(&["run", "-d", "--network", "none", "bb", "sh", "-c", "exit 3"])
        .trim()
        .to_string();
    assert_eq!(d.ok(&["wait", &id]).trim(), "3");
    let rw = d.record(&id)["layer"].as_str().unwrap().to_string();
    for _ in 0..5 {
        d.ok(&["start", &id]);
        assert_eq!(d.ok(&["wait", &id]).trim(), "3");
    }
    d.ok(&["rm", &id]);
    reaps_finish(&d);
    nothing_left(&d, &id, &rw);
}

/// `run --rm`: the exit of a container about to be removed is not written
/// to its record, and its root is unmounted by the reaper, not before the
/// removal answers. Nothing of it stays: no mount, no layer, no directory.
#[test]
fn run_rm_leaves_the_unmount_to_the_reaper_and_nothing_behind() {
    let d = Daemon::start();
    d.import_busybox("bb");
    for code in [0, 5] {
        let script = format!("echo x > /written; exit {code}");
        let out = run_rm_sh(&d, &script);
        assert_eq!(out.status.code(), Some(code));
        assert!(d.ids().is_empty());
    }
    let root = d.data_root();
    reaps_finish(&d);
    let m = mounts_under(&root);
    assert!(m.is_empty(), "mounts left: {m:?}");
    // The image's layer stays (unpacked at the first create); no rw
    // layer (`md-<id>`) does.
    let rw: Vec<String> = d
        .layers()
        .into_iter()
        .filter(|l| l.starts_with("md-"))
        .collect();
    assert!(rw.is_empty(), "rw layers left: {rw:?}");
    let dirs: Vec<_> = std::fs::read_dir(root.join("containers"))
        .unwrap()
        .collect();
    assert!(dirs.is_empty(), "container directories left: {dirs:?}");
}

/// A `--rm` container that exits while the daemon is down: its record
/// still says running (the daemon never writes the exit of a container it
/// removes), and the restarted daemon reads the shim's `exit.json`,
/// records the exit and removes it, leaving nothing.
#[test]
fn run_rm_exit_while_the_daemon_is_down_is_removed_at_restart() {
    let mut d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&[
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            "bb",
            "sleep",
            "600",
        ])
        .trim()
        .to_string();
    let rw = d.record(&id)["layer"].as_str().unwrap().to_string();
    let pid = d.record(&id)["state"]["pid"].as_i64().unwrap();
    assert!(pid > 0);
    d.kill9();
    // The container ends while no daemon watches; its shim records the
    // exit in exit.json and goes.
    let sock = d
        .data_root()
        .join("shims")
        .join(format!("{}.sock", &id[..12]));
    assert!(sock.exists());
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    eventually("the shim to finish", || !sock.exists());
    assert_eq!(d.record(&id)["state"]["running"], true);
    d.spawn();
    eventually("the container to be removed", || !d.ids().contains(&id));
    eventually("the reap to finish", || {
        traces_of(&d.data_root(), &id).is_empty()
    });
    nothing_left(&d, &id, &rw);
}

/// A process that exits at once still has its exit reported before the
/// shim's cleanup: the daemon connects its `watch` before it starts the
/// container. The runtime here is mini-runc behind a wrapper whose
/// `delete` (the shim's cleanup) takes 8 s: `run --rm` of `/bin/true`
/// answers well before that (5 s leaves room for a busy machine).
#[test]
fn a_quick_exit_is_reported_before_the_shims_cleanup() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::tempdir().unwrap();
    let rt = scratch.path().join("slow-delete-runc");
    std::fs::write(
        &rt,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = delete ] && sleep 8; done\nexec {} \"$@\"\n",
            e2e::runtime::mini_runc()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::start_with_config(
        &serde_json::json!({"runtimes": {"slowdel": {"path": rt}}}).to_string(),
    );
    d.import_busybox("bb");
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let out = d.cli(&[
            "run",
            "--rm",
            "--runtime",
            "slowdel",
            "--network",
            "none",
            "bb",
            "/bin/true",
        ]);
        let took = t.elapsed();
        assert_eq!(out.status.code(), Some(0));
        assert!(
            took < std::time::Duration::from_secs(5),
            "run --rm waited for the shim's cleanup: {took:?}"
        );
    }
    reaps_finish(&d);
    let m = mounts_under(&d.data_root());
    assert!(m.is_empty(), "mounts left: {m:?}");
}
