//! mini-runc's verbs beside runc's on the same bundle (issue 22): `kill` of a
//! stopped container in runc's words, `checkpoint`/`restore` refused with
//! words. Privileged: they fail (never skip) without root.

mod common;

use common::*;
use std::process::Command;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// runc's `kill` of its own stopped container on this bundle: (exit code, stderr).
fn runc_kill_of_stopped(b: &Bundle) -> (Option<i32>, String) {
    let state = tempfile::tempdir().unwrap();
    let id = format!("{}-runc", b.id);
    let runc = format!("runc --root {}", state.path().display());
    // runc refuses the empty cgroup2 mount of a hybrid host: hide it in a
    // private mount namespace, as tests/differential.rs does.
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
