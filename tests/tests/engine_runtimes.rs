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

use e2e::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A runtime that logs each call's argv to `<dir>/calls.log` and execs mini-runc.
fn logging_runtime(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("logged-runc");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
            dir.join("calls.log").display(),
            e2e::runtime::mini_runc()
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
    assert_eq!(ours["Runtimes"]["runc"]["path"], e2e::runtime::mini_runc());
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
        let out = std::process::Command::new(dockerd_bin())
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
        let out = std::process::Command::new(e2e::runtime::mini_runc())
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

    // The shim deletes the runtime's state after it reported the exit
    // (issue 25). What a runtime killed mid-`create` would leave: `rm`'s
    // background reaper asks the runtime to delete it, and removes what the
    // runtime does not know.
    eventually("the shim deletes the runtime's state", || {
        !root.join(&id).exists()
    });
    std::fs::create_dir_all(root.join(&id)).unwrap();
    d.ok(&["rm", &id]);
    eventually("the reaper deletes the runtime's state", || {
        calls(scratch.path()).contains(&format!("delete --force {id}")) && !root.join(&id).exists()
    });

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
            .any(|l| l.contains(&format!("kill {id}"))),
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

/// Deletes the container (and so its process and cgroup) however the test ends.
struct ForceDelete(mini_dockerd::runtimes::OciRuntime, String);

impl Drop for ForceDelete {
    fn drop(&mut self) {
        use mini_dockerd::runtimes::Runtime;
        let _ = self.0.delete_force(&self.1);
    }
}

/// The trait itself drives runc and mini-runc alike on the same bundle:
/// `state`, `pause`, `resume`, `update`, `kill`, `delete --force`, each
/// fact read back from the kernel or the runtime. (crun cannot create a
/// container on this host's hybrid cgroups: "cgroups in hybrid mode not
/// supported", so it is not in the list.)
#[test]
fn the_trait_drives_runc_and_mini_runc_alike() {
    use mini_dockerd::runtimes::{Error, OciRuntime, Runtime, Status};
    use nix::sys::signal::Signal;
    require_root();
    let bundle = tempfile::Builder::new()
        .prefix("md-rt-bundle-")
        .tempdir()
        .unwrap();
    namespaces::rootfs::build_busybox_rootfs(&bundle.path().join("rootfs")).unwrap();
    for (name, path) in [
        ("runc", "/usr/sbin/runc"),
        ("mini-runc", e2e::runtime::mini_runc().as_str()),
    ] {
        let id = format!("md-rt-{}", network::names::unique_id());
        let mut spec: Value = {
            let _ = std::fs::remove_file(bundle.path().join("config.json"));
            let out = std::process::Command::new(e2e::runtime::mini_runc())
                .args(["spec", "--bundle"])
                .arg(bundle.path())
                .status();
            assert!(out.unwrap().success());
            serde_json::from_slice(&std::fs::read(bundle.path().join("config.json")).unwrap())
                .unwrap()
        };
        spec["process"]["terminal"] = json!(false);
        spec["process"]["args"] = json!(["sleep", "300"]);
        spec["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        std::fs::write(
            bundle.path().join("config.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        let rt = OciRuntime {
            name: format!("test-{name}"),
            path: path.into(),
            args: vec![],
            root: bundle.path().join(format!("root-{name}")),
        };
        let _cleanup = ForceDelete(rt.clone(), id.clone());
        // The shim's part, by hand: create and start.
        for verb in [vec!["create", "--bundle"], vec!["start"]] {
            let mut c = std::process::Command::new(path);
            c.arg("--root").arg(&rt.root).args(&verb);
            if verb[0] == "create" {
                c.arg(bundle.path());
            }
            let st = c
                .arg(&id)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "{name} {verb:?}");
        }
        let s = rt.state(&id).unwrap();
        assert_eq!(
            (s.status, s.id.as_str()),
            (Status::Running, id.as_str()),
            "{name}"
        );
        assert_eq!(s.bundle, bundle.path(), "{name}");
        let pid = s.pid.to_string();
        assert!(Path::new(&format!("/proc/{pid}")).exists());

        rt.pause(&id).unwrap();
        assert_eq!(rt.state(&id).unwrap().status, Status::Paused, "{name}");
        rt.resume(&id).unwrap();
        assert_eq!(rt.state(&id).unwrap().status, Status::Running, "{name}");

        let r: oci_spec::runtime::LinuxResources =
            serde_json::from_value(json!({"pids": {"limit": 33}})).unwrap();
        rt.update(&id, &r).unwrap();
        assert_eq!(pids_max(&pid), "33", "{name} wrote the limit");

        assert!(rt.kill_if_running(&id, Signal::SIGKILL).unwrap(), "{name}");
        eventually("the init is killed", || {
            rt.state(&id)
                .map(|s| s.status == Status::Stopped)
                .unwrap_or(false)
        });
        assert!(
            !rt.kill_if_running(&id, Signal::SIGKILL).unwrap(),
            "{name}: a stopped container is no error"
        );
        let e = rt.kill(&id, Signal::SIGKILL).unwrap_err();
        assert!(
            matches!(&e, Error::Failed { verb: "kill", runtime, stderr, .. }
                if runtime == &rt.name && stderr.contains("not running")),
            "{name}: {e}"
        );

        rt.delete_force(&id).unwrap();
        assert!(!rt.root.join(&id).exists(), "{name} removed its state");
        let cgroups = std::fs::read_dir("/sys/fs/cgroup").unwrap();
        assert!(
            !cgroups.flatten().any(|h| h.path().join(&id).exists()),
            "{name} removed the cgroup"
        );
        let e = rt.state(&id).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("the OCI runtime \"test-{name}\" failed `state`"))
                && text.contains("does not exist"),
            "{text}"
        );
    }
}
