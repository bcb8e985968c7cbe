//! docker-py against mini-dockerd, with both versions users have: 5.0.3
//! (Debian's python3-docker, the one docker-compose 1.29 uses) and the
//! newest (7.x, in the test venv that scripts/setup.sh makes). The Python
//! scripts live in `tests/py/`; each prints "N passed, N failed" and exits
//! non-zero on a failure. Privileged: they fail (never skip) without root.

use e2e::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The two docker-py installations.
const PYTHONS: [(&str, &str); 2] = [
    ("docker-py 5.0.3", "/usr/bin/python3"),
    ("docker-py 7", "/opt/mini-docker-tests/venv/bin/python"),
];

/// Runs `tests/py/<script>` with `python` against `d`.
fn python(d: &Daemon, python: &str, script: &str, args: &[&str]) -> Output {
    assert!(
        Path::new(python).exists(),
        "{python} is missing: run scripts/setup.sh (it installs both docker-py versions)"
    );
    let path = e2e::tests_dir().join("py").join(script);
    Command::new(python)
        .arg(&path)
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn passes(what: &str, out: &Output) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{what}:\n{text}");
    assert!(out.status.success(), "{what}:\n{text}");
    assert!(text.contains(" 0 failed"), "{what}:\n{text}");
}

/// `exec_run` 200 times with each docker-py (100 rounds of two calls):
/// every byte of stdout and stderr, and every exit code, comes back. The
/// daemon flushes the `101` answer before the process starts, as dockerd
/// does: docker-py loses whatever arrives together with the headers.
#[test]
fn exec_run_never_loses_output() {
    let d = Daemon::start();
    d.import_busybox("mdpy-bb:1");
    for (name, py) in PYTHONS {
        let out = python(&d, py, "exec_run.py", &["mdpy-bb:1", "100"]);
        passes(name, &out);
    }
}

/// docker-py's documented `auth_config={"username","password"}` (no
/// `serveraddress`) is for the registry of the image pushed or pulled, as
/// dockerd reads it: push and pull succeed against a registry that requires
/// them, and both are refused without them.
#[test]
fn auth_config_without_a_server_address_pushes_and_pulls() {
    for (name, py) in PYTHONS {
        let reg = Registry::with_user("pyuser", "py-s3cret");
        let d = Daemon::start();
        d.import_busybox("mdpy-auth:1");
        let out = python(
            &d,
            py,
            "registry_auth.py",
            &[&reg.host(), "pyuser", "py-s3cret", "mdpy-auth:1"],
        );
        passes(name, &out);
        // The registry really has it.
        assert!(
            reg.root().join("repositories/team/pyauth").exists(),
            "{name}: the registry holds team/pyauth"
        );
    }
}

/// The calls most docker-py programs make (images, containers run detached
/// and not, logs, exec_run, archives, stats, pause/unpause, update, export,
/// cpu_quota/cpu_period/shm_size, networks, volumes, prune), each checked
/// for what it returns or what the kernel shows, with both docker-py versions.
#[test]
fn the_common_calls_work() {
    let d = Daemon::start();
    d.import_busybox("mdpy-walk:1");
    for (i, (name, py)) in PYTHONS.iter().enumerate() {
        let prefix = format!("mdpy{i}");
        let out = python(&d, py, "common_calls.py", &["mdpy-walk:1", &prefix]);
        passes(name, &out);
    }
}

/// `attach` to a running container that prints all the time, 50 times
/// with each docker-py: every stream starts on a whole frame holding only
/// the container's output (the regression guard for the attach side of the
/// hijack, which shares `switching` and `splice` with exec).
#[test]
fn attach_to_a_busy_container_starts_on_a_whole_frame() {
    let d = Daemon::start();
    d.import_busybox("mdpy-att:1");
    for (name, py) in PYTHONS {
        let out = python(&d, py, "attach.py", &["mdpy-att:1", "50"]);
        passes(name, &out);
    }
}

/// `events()` with each docker-py: the past window (`since`/`until`, the
/// call returns), filters (`container`, `event`, `label`), a live stream,
/// and a 400 for an unknown filter.
#[test]
fn events_come_back_through_docker_py() {
    let d = Daemon::start();
    d.import_busybox("mdpy-ev:1");
    for (i, (what, py)) in PYTHONS.iter().enumerate() {
        let prefix = format!("mdpy-ev{i}-{}", std::process::id());
        let out = python(&d, py, "events.py", &["mdpy-ev:1", &prefix]);
        passes(what, &out);
    }
}
