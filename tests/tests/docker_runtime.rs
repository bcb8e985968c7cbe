//! The real Docker engine drives mini-runc (`dockerd --add-runtime
//! mini=mini-runc`), and the same probe run through Docker with runc and
//! with mini-runc sees the same container.

use e2e::require_root;
use e2e::runtime::*;
use e2e::{docker_cli, DockerDaemon};

#[test]
fn docker_runs_containers_with_mini_runc_like_with_runc() {
    require_root();
    let d = DockerDaemon::start(&["--add-runtime".to_string(), format!("mini={}", mini_runc())]);
    d.import_busybox("mrt-busybox:1");

    // A plain run.
    let out = d.ok(&[
        "run",
        "--rm",
        "--runtime",
        "mini",
        "--network",
        "none",
        "mrt-busybox:1",
        "echo",
        "hi from mini-runc",
    ]);
    assert_eq!(out.trim(), "hi from mini-runc");

    // Detached, exec, exit codes, stop, rm.
    let id = d.ok(&[
        "run",
        "-d",
        "--runtime",
        "mini",
        "--network",
        "none",
        "mrt-busybox:1",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.1; done",
    ]);
    let id = id.trim();
    let host = d.ok(&["exec", id, "hostname"]);
    assert_eq!(host.trim(), &id[..12], "exec runs inside the container");
    let code = d.docker(&["exec", id, "sh", "-c", "exit 4"]).status.code();
    assert_eq!(code, Some(4), "exec's exit code comes through");
    d.ok(&["stop", id]);
    let state = d.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        id,
    ]);
    assert_eq!(
        state.trim(),
        "exited 0",
        "SIGTERM reached the container's trap"
    );
    d.ok(&["rm", id]);
    // Without --rm: once in CI, under load, `docker run --rm` of a container
    // that exits at once answered 125 instead of its code (not reproduced
    // since; the daemon's log is printed if it happens here). The exit code
    // is checked both ways: the client's and the engine's record.
    let out = d.docker(&[
        "run",
        "--name",
        "mrt-exit7",
        "--runtime",
        "mini",
        "--network",
        "none",
        "mrt-busybox:1",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the container's exit code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = d.ok(&["inspect", "--format", "{{.State.ExitCode}}", "mrt-exit7"]);
    assert_eq!(state.trim(), "7");
    d.ok(&["rm", "mrt-exit7"]);

    // A terminal: containerd hands mini-runc a --console-socket and gets the
    // pty master back. `script` gives the docker client a terminal of its own.
    let sock = d.dir.path().join("docker.sock");
    let cmd = format!(
        "DOCKER_HOST=unix://{} {} run --rm -it --runtime mini --network none mrt-busybox:1 sh -c 'tty; echo uid=$(id -u)'",
        sock.display(),
        docker_cli()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docker run -it: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("/dev/pts/0"),
        "the container's stdio is a terminal: {text:?}"
    );
    assert!(text.contains("uid=0"), "{text:?}");

    // The same probe through both runtimes: the views must agree.
    let args = |runtime: &'static str| -> Vec<&'static str> {
        vec![
            "run",
            "--rm",
            "--runtime",
            runtime,
            "--network",
            "none",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "mrt-busybox:1",
            "sh",
            "-c",
            PROBE,
        ]
    };
    let with_runc = d.ok(&args("runc"));
    let with_mini = d.ok(&args("mini"));
    let differences = probe_differences("runc", &with_runc, "mini-runc", &with_mini);
    assert!(
        differences.is_empty(),
        "the runtimes disagree:\n{}\n\nrunc:\n{with_runc}",
        differences.join("\n")
    );
    // And the facts themselves are Docker's defaults.
    for fact in [
        "CapEff: 00000000a80425fb",
        "Seccomp: 2",
        "kcore=0",
        "procsys=ro",
        "unshare=refused",
        "memlimit=67108864",
        "pidsmax=50",
        "fds=0 1 2 3",
    ] {
        assert!(
            with_mini.lines().any(|l| l.trim() == fact),
            "missing {fact:?} in:\n{with_mini}"
        );
    }
}
