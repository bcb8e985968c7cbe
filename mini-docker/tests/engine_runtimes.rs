//! The OCI runtime behind a trait (issue 20): the daemon kills, pauses,
//! updates and removes containers by executing a runtime binary with
//! runc's command line, chosen from a registry as dockerd's
//! (`--add-runtime`, daemon.json `runtimes`, `HostConfig.Runtime`).
//!
//! The runtime under test is a wrapper script that logs its argv and
//! execs mini-runc: the log proves the daemon executed the binary, and
//! each test reads the fact itself back (the cgroup's `pids.max`, the
//! runtime's own `state`, the process gone). What a user sees (`/info`,
//! inspect, the error of an unknown name) is compared with a real dockerd.
//! Privileged: they fail (never skip) without root.

mod engine_common;

use e2e::DockerDaemon;
use engine_common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const MINI_RUNC: &str = env!("CARGO_BIN_EXE_mini-runc");

/// A runtime that logs each call's argv to `<dir>/calls.log` and execs mini-runc.
fn logging_runtime(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("logged-runc");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {MINI_RUNC} \"$@\"\n",
            dir.join("calls.log").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn calls(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("calls.log")).unwrap_or_default()
}

/// A daemon whose default runtime is the logging wrapper, named `logged`.
fn daemon_with_logged_runtime(scratch: &Path) -> Daemon {
    let rt = logging_runtime(scratch);
    Daemon::start_with_config(
        &json!({"runtimes": {"logged": {"path": rt}}, "default-runtime": "logged"}).to_string(),
    )
}

fn info(get: impl Fn(&[&str]) -> String) -> Value {
    serde_json::from_str(&get(&["info", "--format", "{{json .}}"])).unwrap()
}

/// The value of the container's pids cgroup's `pids.max`.
fn pids_max(pid: &str) -> String {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cg
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, p) = (f.next()?, f.next()?, f.next()?);
            ctl.split(',').any(|c| c == "pids").then(|| p.to_string())
        })
        .expect("the container is in a pids cgroup");
    std::fs::read_to_string(format!("/sys/fs/cgroup/pids{path}/pids.max"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn an_unknown_runtime_is_refused_as_dockerd_refuses_it() {
    let d = Daemon::start();
    d.import_busybox("md-rt-busybox:1");
    let body = r#"{"Image":"md-rt-busybox:1","HostConfig":{"Runtime":"nope"}}"#;
    let (status, out) = d.request("POST", "/containers/create", body);
    assert_eq!(status, 400, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["message"],
        "Unknown runtime specified nope"
    );
    // Checked before the image, as dockerd does.
    let (status, _) = d.request(
        "POST",
        "/containers/create",
        r#"{"Image":"md-no-such-image","HostConfig":{"Runtime":"nope"}}"#,
    );
    assert_eq!(status, 400);
    assert!(d.ids().is_empty(), "nothing was created");

    let real = DockerDaemon::start(&[]);
    let (ours, theirs) = (
        d.docker(&["create", "--runtime", "nope", "md-rt-busybox:1"]),
        real.docker(&["create", "--runtime", "nope", "md-no-such-image"]),
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
    // mini-docker's own CLI says the same.
    let out = d.cli(&["run", "--runtime", "nope", "md-rt-busybox:1", "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unknown runtime specified nope"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn info_and_inspect_show_the_runtimes_as_dockerd_shows_them() {
    let scratch = tempfile::tempdir().unwrap();
    let rt = logging_runtime(scratch.path());
    let conf = json!({"runtimes": {"logged": {"path": rt, "runtimeArgs": ["--debug"]}}});
    let d = Daemon::start_with_config(&conf.to_string());
    let file = scratch.path().join("daemon.json");
    std::fs::write(&file, conf.to_string()).unwrap();
    let real = DockerDaemon::start(&["--config-file".into(), file.display().to_string()]);

    let (ours, theirs) = (info(|a| d.docker_ok(a)), info(|a| real.ok(a)));
    assert_eq!(ours["DefaultRuntime"], "runc");
    assert_eq!(ours["DefaultRuntime"], theirs["DefaultRuntime"]);
    assert_eq!(ours["Runtimes"]["logged"], theirs["Runtimes"]["logged"]);
    assert_eq!(
        ours["Runtimes"]["logged"],
        json!({"path": rt, "runtimeArgs": ["--debug"]})
    );
    assert_eq!(ours["Runtimes"]["runc"]["path"], MINI_RUNC);
    assert!(theirs["Runtimes"]["runc"].is_object());

    d.import_busybox("md-rt-busybox:1");
    real.import_busybox("md-rt-busybox:1");
    for (args, want) in [
        (vec!["create", "md-rt-busybox:1", "true"], "runc"),
        (
            vec!["create", "--runtime", "logged", "md-rt-busybox:1", "true"],
            "logged",
        ),
    ] {
        let id = d.docker_ok(&args);
        let real_id = real.ok(&args);
        let f = ["inspect", "--format", "{{.HostConfig.Runtime}}"];
        let ours = d.docker_ok(&[&f[..], &[id.trim()]].concat());
        let theirs = real.ok(&[&f[..], &[real_id.trim()]].concat());
        assert_eq!(ours.trim(), want);
        assert_eq!(ours, theirs, "inspect's HostConfig.Runtime for {args:?}");
    }
}

#[test]
fn the_daemon_refuses_runtime_settings_as_dockerd_does() {
    require_root();
    for (args, want) in [
        (
            vec!["--add-runtime", "runc=/usr/sbin/runc"],
            "runtime name 'runc' is reserved",
        ),
        (
            vec!["--add-runtime", "bad"],
            "invalid runtime argument: bad",
        ),
        (
            vec!["--default-runtime", "nope"],
            "specified default runtime 'nope' does not exist",
        ),
        (
            vec!["--add-runtime", "x=/nonexistent/runtime"],
            "/nonexistent/runtime is not an executable file",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(DOCKERD)
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("-H")
            .arg(format!("unix://{}", dir.path().join("d.sock").display()))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!dir.path().join("d.sock").exists(), "it never served");
    }
}

#[test]
fn kill_pause_update_and_rm_execute_the_runtime_binary() {
    let scratch = tempfile::tempdir().unwrap();
    let d = daemon_with_logged_runtime(scratch.path());
    d.import_busybox("md-rt-busybox:1");
    let id = d
        .ok(&["run", "-d", "md-rt-busybox:1", "sleep", "300"])
        .trim()
        .to_string();
    let root = d.data_root().join("runtime-logged");
    let state = || -> Value {
        let out = std::process::Command::new(MINI_RUNC)
            .arg("--root")
            .arg(&root)
            .args(["state", &id])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    assert_eq!(
        state()["status"],
        "running",
        "its state is under the runtime's own root"
    );
    let pid = d.ok(&["inspect", "--format", "{{.State.Pid}}", &id]);
    let pid = pid.trim();

    d.ok(&["pause", &id]);
    assert_eq!(state()["status"], "paused");
    assert!(calls(scratch.path()).contains(&format!("--root {} pause {id}", root.display())));
    d.ok(&["unpause", &id]);
    assert_eq!(state()["status"], "running");
    assert!(calls(scratch.path()).contains(&format!("resume {id}")));

    d.docker_ok(&["update", "--pids-limit", "42", &id]);
    assert_eq!(pids_max(pid), "42", "the limit reached the cgroup");
    assert!(calls(scratch.path()).contains(&format!("update --resources - {id}")));

    d.ok(&["kill", &id]);
    eventually("the container exits", || {
        d.ok(&["inspect", "--format", "{{.State.Status}}", &id])
            .trim()
            == "exited"
    });
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert!(calls(scratch.path()).contains(&format!("kill {id} 9")));
    assert_eq!(
        d.ok(&["inspect", "--format", "{{.State.ExitCode}}", &id])
            .trim(),
        "137"
    );

    d.ok(&["rm", &id]);
    assert!(calls(scratch.path()).contains(&format!("delete --force {id}")));
    assert!(!root.join(&id).exists(), "the runtime's state is gone");

    // Killing one that already exited is no error (the runtime's state says so).
    let id2 = d
        .ok(&["run", "-d", "md-rt-busybox:1", "sleep", "300"])
        .trim()
        .to_string();
    d.ok(&["rm", "-f", &id2]);
    assert!(d.ids().is_empty());
}

#[test]
fn a_restarted_daemon_manages_a_container_with_the_runtime_it_was_created_with() {
    let scratch = tempfile::tempdir().unwrap();
    let mut d = daemon_with_logged_runtime(scratch.path());
    d.import_busybox("md-rt-busybox:1");
    let id = d
        .ok(&["run", "-d", "md-rt-busybox:1", "sleep", "300"])
        .trim()
        .to_string();
    let pid = d.ok(&["inspect", "--format", "{{.State.Pid}}", &id]);

    // Restarted without the runtime: the container keeps it.
    d.kill9();
    std::fs::write(d.dir.path().join("daemon.json"), "{}").unwrap();
    d.spawn();
    let info = info(|a| d.docker_ok(a));
    assert!(info["Runtimes"]["logged"].is_null(), "{info}");
    assert_eq!(info["DefaultRuntime"], "runc");
    assert_eq!(
        d.ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.Runtime}} {{.State.Pid}}",
            &id
        ])
        .trim(),
        format!("logged {}", pid.trim())
    );
    let before = calls(scratch.path()).lines().count();
    d.ok(&["stop", "-t", "0", &id]);
    d.ok(&["rm", &id]);
    let after = calls(scratch.path());
    assert!(
        after
            .lines()
            .skip(before)
            .any(|l| l.contains(&format!("kill {id}")))
            && after.contains(&format!("delete --force {id}")),
        "the restarted daemon executed the container's own runtime: {after}"
    );
    assert!(!Path::new(&format!("/proc/{}", pid.trim())).exists());
    // A new container gets the new default.
    let id = d.ok(&["create", "md-rt-busybox:1", "true"]);
    assert_eq!(
        d.ok(&["inspect", "--format", "{{.HostConfig.Runtime}}", id.trim()])
            .trim(),
        "runc"
    );
    d.ok(&["rm", id.trim()]);
}
