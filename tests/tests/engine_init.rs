//! `run --init` (`HostConfig.Init`): tini-static, bind-mounted at
//! `/sbin/docker-init`, is the container's PID 1 and runs the command as
//! its child. Checked by what only an init does: PID 1's command line is
//! the init's, an orphan that exits is reaped (no zombie is left, while
//! without `--init` one is), and a SIGTERM reaches a command that, as PID 1,
//! would have ignored it. A daemon whose init-path is wrong refuses
//! `--init` by naming the setting.
//! Privileged: they fail (never skip) without root.

use e2e::*;
use std::time::{Duration, Instant};

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("mdi-bb:1");
    d
}

/// PID 1's command line inside container `c`, spaces between the arguments.
fn pid1_cmdline(d: &Daemon, c: &str) -> String {
    d.ok(&["exec", c, "cat", "/proc/1/cmdline"])
        .replace('\0', " ")
        .trim()
        .to_string()
}

/// The zombies inside container `c` (their `/proc/PID/status` files).
fn zombies(d: &Daemon, c: &str) -> String {
    d.ok(&[
        "exec",
        c,
        "sh",
        "-c",
        "grep -l '^State:.*Z' /proc/[0-9]*/status || true",
    ])
}

#[test]
fn init_is_pid_1_and_reaps_orphans() {
    let d = daemon();
    // The subshell starts `sleep 0.2` and exits at once: the orphan is
    // reparented to PID 1, which must wait for it when it exits.
    let script = "(sleep 0.2 &); exec sleep 3600";
    d.ok(&[
        "run", "-d", "--init", "--name", "mdi-with", "mdi-bb:1", "sh", "-c", script,
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "mdi-without",
        "mdi-bb:1",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(
        pid1_cmdline(&d, "mdi-with"),
        format!("/sbin/docker-init -- sh -c {script}")
    );
    assert_eq!(pid1_cmdline(&d, "mdi-without"), "sleep 3600");
    // The init is mounted read-only.
    let w = d.cli(&["exec", "mdi-with", "sh", "-c", "echo x > /sbin/docker-init"]);
    assert!(!w.status.success(), "/sbin/docker-init is read-only");
    std::thread::sleep(Duration::from_secs(1));
    eventually("tini to reap the orphan", || {
        zombies(&d, "mdi-with").trim().is_empty()
    });
    // The control: `sleep` as PID 1 never waits, so the orphan stays a zombie.
    assert!(
        !zombies(&d, "mdi-without").trim().is_empty(),
        "without --init the orphan stays a zombie"
    );
    let inspect = d.ok(&["inspect", "--format", "{{.HostConfig.Init}}", "mdi-with"]);
    assert_eq!(inspect.trim(), "true");
}

#[test]
fn a_signal_reaches_the_command() {
    let d = daemon();
    // `sleep` as PID 1 ignores SIGTERM (the kernel drops signals a PID 1
    // has no handler for); under tini it is an ordinary process and dies.
    d.ok(&[
        "run", "-d", "--init", "--name", "mdi-sig", "mdi-bb:1", "sleep", "3600",
    ]);
    let t = Instant::now();
    d.ok(&["stop", "-t", "30", "mdi-sig"]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "SIGTERM stopped it, not the SIGKILL 30 s later: {:?}",
        t.elapsed()
    );
    let code = d.ok(&["inspect", "--format", "{{.State.ExitCode}}", "mdi-sig"]);
    assert_eq!(
        code.trim(),
        "143",
        "killed by SIGTERM (128 + 15), as tini reports it"
    );
}

#[test]
fn the_docker_cli_sends_init() {
    let d = daemon();
    d.ok20(&[
        "run", "-d", "--init", "--name", "mdi-dk", "mdi-bb:1", "sleep", "3600",
    ]);
    assert_eq!(
        pid1_cmdline(&d, "mdi-dk"),
        "/sbin/docker-init -- sleep 3600"
    );
}

#[test]
fn a_missing_init_is_refused_by_naming_the_setting() {
    let d = Daemon::start_with_config(r#"{"init-path": "/nonexistent/md-tini"}"#);
    d.import_busybox("mdi-bb:1");
    let out = d.cli(&["run", "--rm", "--init", "mdi-bb:1", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("init-path /nonexistent/md-tini is not a file"),
        "{err}"
    );
    // Nothing runs, and no --init-less container was started in its place.
    let ps = d.ok(&["ps", "-q"]);
    assert!(ps.trim().is_empty(), "{ps}");
}
