//! What the docker CLI 20.10 (Debian's `/usr/bin/docker`) sends, answered
//! as dockerd answers it. Each test is a request shape that this older CLI
//! really sends and that a newer client does not (the 28.x CLI, the one
//! `Daemon::docker` prefers, would hide the bug). Privileged: they fail
//! (never skip) without root.

use e2e::*;

/// `docker wait` sends `POST /containers/{id}/wait?condition=` (an empty
/// value): Docker reads it as `not-running`. The CLI prints the container's
/// exit code, and `wait` on an already-exited container answers at once.
#[test]
fn wait_with_empty_condition_prints_the_exit_code() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "sleep 0.3; exit 7",
        ])
        .trim()
        .to_string();
    let out = d.docker20(&["wait", &id]);
    assert!(
        out.status.success(),
        "docker wait failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "7");
    // The container really exited with 7, as the daemon recorded it.
    let code = d.ok(&["inspect", "-f", "{{.State.ExitCode}}", &id]);
    assert_eq!(code.trim(), "7");
    // Again, now that it has exited: not-running holds at once.
    let again = d.docker20(&["wait", &id]);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "7");
    // A condition that is not one of Docker's three is still refused.
    let bad = std::process::Command::new("curl")
        .args(["-s", "-X", "POST", "--unix-socket"])
        .arg(d.socket())
        .arg(format!(
            "http://localhost/v1.41/containers/{id}/wait?condition=sometime"
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&bad.stdout).contains("invalid condition"),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
}

/// `docker exec` hijacks first and the daemon starts the process after its
/// `101` (as dockerd): a process that cannot start is reported in the
/// stream, and the exec's exit code is 126, which the CLI exits with.
#[test]
fn exec_of_a_missing_binary_reports_in_the_stream_and_exits_126() {
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        "--network",
        "none",
        "bb",
        "sleep",
        "600",
    ]);
    let out = d.docker20(&["exec", "ex", "/no/such/binary"]);
    assert_eq!(out.status.code(), Some(126));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("/no/such/binary"), "{text}");
    let out = d.docker20(&["exec", "ex", "sh", "-c", "echo fine; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fine\n");
}

/// `docker import FILE NAME:TAG` sends `repo=NAME:TAG` and no `tag`: the
/// image is tagged NAME:TAG, as dockerd does.
#[test]
fn import_tags_the_reference_it_was_given() {
    let d = Daemon::start();
    let out = d.docker20(&["import", busybox_tar().to_str().unwrap(), "mdcli-imp:7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let tags = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(tags.contains("mdcli-imp:7"), "{tags}");
    let got = d.ok(&["inspect", "-f", "{{.Id}}", "mdcli-imp:7"]);
    assert_eq!(got.trim(), id);
}
