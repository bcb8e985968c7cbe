//! mini-runc's verbs beside runc's on the same bundle (issue 22): `kill` of a
//! stopped container in runc's words, `checkpoint`/`restore` refused with
//! words. Privileged: they fail (never skip) without root.

use e2e::runtime::*;
use e2e::{eventually, require_root, stderr};
use std::process::Command;

/// runc's `kill` of its own stopped container on this bundle: (exit code, stderr).
fn runc_kill_of_stopped(b: &Bundle) -> (Option<i32>, String) {
    let state = tempfile::tempdir().unwrap();
    let id = format!("{}-runc", b.id);
    let runc = format!("runc --root {}", state.path().display());
    // runc refuses the empty cgroup2 mount of a hybrid host: hide it in a
    // private mount namespace, as tests/tests/runtime_differential.rs does.
    let script = format!(
        "mount --make-rprivate / && (umount /sys/fs/cgroup/unified 2>/dev/null; true) && \
         {runc} create --bundle {bundle} {id} >/dev/null 2>&1 && {runc} start {id} && \
         for i in $(seq 200); do {runc} state {id} | grep -q '\"stopped\"' && break; sleep 0.02; done; \
         {runc} kill {id} KILL; rc=$?; {runc} delete --force {id}; exit $rc",
        bundle = b.path().display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    (out.status.code(), stderr(&out))
}

#[test]
fn kill_of_a_stopped_container_says_runcs_words() {
    require_root();
    let b = Bundle::new("kst", &["true"]);
    let (runc_code, runc_err) = runc_kill_of_stopped(&b);
    assert!(
        runc_err.contains("msg=\"container not running\""),
        "runc's words: {runc_err}"
    );

    let root = Root::new();
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    root.ok(&["start", &b.id]);
    eventually("the container stops", || {
        root.state(&b.id)["status"] == "stopped"
    });
    let out = root.runc(&["kill", &b.id, "KILL"]);
    assert_eq!(out.status.code(), runc_code, "the same exit code as runc");
    assert_eq!(stderr(&out), "mini-runc: container not running\n");
    root.ok(&["delete", &b.id]);
}

#[test]
fn checkpoint_and_restore_are_refused_with_words() {
    let root = Root::new();
    for verb in ["checkpoint", "restore"] {
        let out = root.runc(&[
            verb,
            "--image-path",
            "/tmp/nowhere",
            "--leave-running",
            "c1",
        ]);
        assert_eq!(out.status.code(), Some(1), "{verb} fails");
        assert_eq!(
            stderr(&out),
            format!(
                "mini-runc: {verb} needs CRIU, which mini-runc does not implement: \
                 use runc for checkpoint and restore\n"
            )
        );
    }
}

#[test]
fn update_writes_the_live_cgroup_and_refuses_what_it_cannot() {
    require_root();
    let root = Root::new();
    let b = Bundle::new("upd", &["sleep", "30"]);
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    root.ok(&["start", &b.id]);
    let file = b.path().join("resources.json");
    std::fs::write(
        &file,
        r#"{"memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000}}"#,
    )
    .unwrap();
    root.ok(&[
        "update",
        "--resources",
        file.to_str().unwrap(),
        "--pids-limit",
        "33",
        &b.id,
    ]);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let read = |v1: (&str, &str), v2f: &str| {
        let p = if v2 {
            format!("/sys/fs/cgroup/mini-runc-test/{}/{v2f}", b.id)
        } else {
            format!("/sys/fs/cgroup/{}/mini-runc-test/{}/{}", v1.0, b.id, v1.1)
        };
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("read {p}: {e}"))
            .trim()
            .to_string()
    };
    assert_eq!(
        read(("memory", "memory.limit_in_bytes"), "memory.max"),
        "67108864"
    );
    assert_eq!(read(("pids", "pids.max"), "pids.max"), "33");
    let quota = read(("cpu", "cpu.cfs_quota_us"), "cpu.max");
    assert!(quota == "50000" || quota == "50000 100000", "{quota}");

    std::fs::write(&file, r#"{"blockIO": {"weight": 300}}"#).unwrap();
    let out = root.runc(&["update", "-r", file.to_str().unwrap(), &b.id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "mini-runc: cannot update blockIO: mini-runc has no cgroup setter for it, leave it out\n"
    );
    root.ok(&["delete", "--force", &b.id]);
}
