//! The command line as the docker CLI 20.10 reads it: a container's command
//! after the image (flags included), usage with no arguments, and Docker's
//! management commands (`container …`, `image …`, `system …`, `builder …`)
//! running the same commands against a real `mini-dockerd`. Privileged:
//! they fail (never skip) without root.

use e2e::*;
use std::collections::BTreeSet;
use std::process::Command;

/// The verbs listed under `Commands:` (or `Management Commands:`) in a help text.
fn verbs(help: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut inside = false;
    for line in help.lines() {
        if line.ends_with("Commands:") {
            inside = true;
            continue;
        }
        if inside && !line.starts_with("  ") {
            inside = false;
        }
        if inside {
            if let Some(w) = line.split_whitespace().next() {
                set.insert(w.to_string());
            }
        }
    }
    set
}

#[test]
fn no_arguments_print_the_usage_and_exit_as_docker_does() {
    let docker = Command::new("/usr/bin/docker").output().unwrap();
    let ours = Command::new(cli_bin()).output().unwrap();
    assert_eq!(ours.status.code(), docker.status.code());
    let text = stdout(&ours);
    assert!(text.contains("Usage: mini-docker"), "{text}");
    assert!(text.contains("container"), "{text}");
}

#[test]
fn every_management_verb_of_docker_20_10_exists() {
    for group in [
        "container",
        "image",
        "system",
        "builder",
        "network",
        "volume",
    ] {
        let docker = Command::new("/usr/bin/docker")
            .args([group, "--help"])
            .output()
            .unwrap();
        let ours = Command::new(cli_bin())
            .args([group, "--help"])
            .output()
            .unwrap();
        assert!(ours.status.success(), "{group} --help");
        let want = verbs(&stdout(&docker));
        assert!(!want.is_empty(), "docker {group} --help lists its commands");
        let have = verbs(&stdout(&ours));
        // `system events` needs the daemon's /events, which it lacks.
        let missing: Vec<_> = want
            .difference(&have)
            .filter(|v| !(group == "system" && v.as_str() == "events"))
            .collect();
        assert!(
            missing.is_empty(),
            "mini-docker {group} lacks {missing:?}\n{}",
            stdout(&ours)
        );
    }
}

#[test]
fn the_command_is_everything_after_the_image_or_container() {
    let d = Daemon::start();
    d.import_busybox("md-cli-bb");
    // `-c` belongs to sh, not to run.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "md-cli-bb",
        "sh",
        "-c",
        "echo from-sh",
    ]);
    assert_eq!(out.trim(), "from-sh");
    // create: the daemon stores the whole command.
    let id = d.ok(&[
        "container",
        "create",
        "--network",
        "none",
        "--name",
        "md-cli-created",
        "md-cli-bb",
        "ls",
        "-l",
        "-a",
        "/",
    ]);
    assert!(!id.trim().is_empty());
    let cmd = d.ok(&["inspect", "-f", "{{json .Config.Cmd}}", "md-cli-created"]);
    assert_eq!(cmd.trim(), r#"["ls","-l","-a","/"]"#);
    // exec: the same after the container.
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "md-cli-live",
        "md-cli-bb",
        "sleep",
        "300",
    ]);
    let out = d.ok(&[
        "container",
        "exec",
        "md-cli-live",
        "sh",
        "-c",
        "echo $((6*7))",
    ]);
    assert_eq!(out.trim(), "42");
    d.ok(&["rm", "-f", "md-cli-live", "md-cli-created"]);
}

#[test]
fn container_management_commands_run_the_commands() {
    let d = Daemon::start();
    d.import_busybox("md-cli-bb");
    d.ok(&[
        "container",
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "md-cli-a",
        "md-cli-bb",
        "sh",
        "-c",
        "echo hello; echo x > /made; exec sleep 300",
    ]);
    eventually("the container logs", || {
        d.ok(&["container", "logs", "md-cli-a"]).contains("hello")
    });
    // ls, its aliases and -q.
    let full = d.ok(&["container", "inspect", "-f", "{{.Id}}", "md-cli-a"]);
    let q = d.ok(&["container", "ls", "-q"]);
    assert_eq!(q.trim(), &full.trim()[..12]);
    assert_eq!(d.ok(&["container", "ps", "-q"]), q);
    assert_eq!(d.ok(&["container", "list", "-q"]), q);
    let top = d.ok(&["container", "top", "md-cli-a"]);
    assert!(top.contains("sleep 300"), "{top}");
    let diff = d.ok(&["container", "diff", "md-cli-a"]);
    assert!(diff.lines().any(|l| l == "A /made"), "{diff}");
    d.ok(&["container", "rename", "md-cli-a", "md-cli-b"]);
    let names = d.ok(&["container", "ls", "--format", "{{.Names}}"]);
    assert_eq!(names.trim(), "md-cli-b");
    d.ok(&["container", "commit", "md-cli-b", "md-cli-committed:1"]);
    let images = d.ok(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        images.lines().any(|l| l == "md-cli-committed:1"),
        "{images}"
    );
    d.ok(&["container", "kill", "md-cli-b"]);
    let code = d.ok(&["container", "wait", "md-cli-b"]);
    assert_eq!(code.trim(), "137");
    let state = d.ok(&[
        "container",
        "inspect",
        "-f",
        "{{.State.Status}}",
        "md-cli-b",
    ]);
    assert_eq!(state.trim(), "exited");
    d.ok(&["container", "start", "md-cli-b"]);
    d.ok(&["container", "restart", "-t", "0", "md-cli-b"]);
    d.ok(&["container", "stop", "-t", "0", "md-cli-b"]);
    let out = d.ok(&["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(d.ok(&["container", "ls", "-aq"]).trim().is_empty());
}

#[test]
fn pause_unpause_update_export_reach_the_daemon() {
    let d = Daemon::start();
    d.import_busybox("md-cli-bb");
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "md-cli-p",
        "md-cli-bb",
        "sleep",
        "300",
    ]);
    // Each either does its job (when the daemon has the endpoint) or comes
    // back with the daemon's one-line error and exit 1.
    let out = d.cli(&["container", "pause", "md-cli-p"]);
    if out.status.success() {
        let paused = d.ok(&["inspect", "-f", "{{.State.Paused}}", "md-cli-p"]);
        assert_eq!(paused.trim(), "true");
        d.ok(&["container", "unpause", "md-cli-p"]);
        let paused = d.ok(&["inspect", "-f", "{{.State.Paused}}", "md-cli-p"]);
        assert_eq!(paused.trim(), "false");
    } else {
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/containers/md-cli-p/pause"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let out = d.cli(&["container", "update", "--memory", "64m", "md-cli-p"]);
    if out.status.success() {
        let mem = d.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "md-cli-p"]);
        assert_eq!(mem.trim(), (64 << 20).to_string());
    } else {
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/containers/md-cli-p/update"), "{err}");
    }
    // update without a flag is refused before any request.
    let out = d.cli(&["update", "md-cli-p"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("one or more flags"));
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("fs.tar");
    let out = d.cli(&[
        "container",
        "export",
        "-o",
        tar.to_str().unwrap(),
        "md-cli-p",
    ]);
    if out.status.success() {
        let list = Command::new("tar").arg("tf").arg(&tar).output().unwrap();
        assert!(stdout(&list)
            .lines()
            .any(|l| l.trim_end_matches('/') == "bin/busybox"));
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/containers/md-cli-p/export"), "{err}");
        // Nothing half-written is left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
    d.ok(&["rm", "-f", "md-cli-p"]);
}

#[test]
fn image_and_system_management_commands_run_the_commands() {
    let d = Daemon::start();
    d.import_busybox("md-cli-bb");
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "md-cli-bb"]);
    let short = &id.trim().trim_start_matches("sha256:")[..12];
    assert_eq!(d.ok(&["image", "ls", "-q"]).trim(), short);
    d.ok(&["image", "tag", "md-cli-bb", "md-cli-other:2"]);
    let tags = d.ok(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    let tags: BTreeSet<&str> = tags.lines().collect();
    assert_eq!(tags, BTreeSet::from(["md-cli-bb:latest", "md-cli-other:2"]));
    assert!(!d
        .ok(&["image", "history", "-q", "md-cli-bb"])
        .trim()
        .is_empty());
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("img.tar");
    d.ok(&[
        "image",
        "save",
        "-o",
        tar.to_str().unwrap(),
        "md-cli-other:2",
    ]);
    d.ok(&["image", "rm", "md-cli-other:2"]);
    let tags = d.ok(&["image", "ls", "--format", "{{.Repository}}"]);
    assert_eq!(tags.trim(), "md-cli-bb");
    d.ok(&["image", "load", "-i", tar.to_str().unwrap()]);
    let tags = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(tags.lines().any(|l| l == "md-cli-other:2"), "{tags}");
    d.ok(&[
        "image",
        "import",
        busybox_tar().to_str().unwrap(),
        "md-cli-imp:1",
    ]);
    // prune -a: no container uses any of them, so all go.
    let out = d.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("Deleted Images:"), "{out}");
    assert!(out.contains("untagged: md-cli-imp:1"), "{out}");
    assert!(d.ok(&["image", "ls", "-q"]).trim().is_empty());
    let out = d.ok(&["builder", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let info = d.ok(&["system", "info"]);
    assert!(info.contains("Images: 0"), "{info}");
    let df = d.ok(&["system", "df"]);
    assert!(df.starts_with("TYPE"), "{df}");
}
