//! containerd (Debian's 1.6, through its runc v2 shim) drives mini-runc:
//! `ctr run --runc-binary` with `--rm`, `-d`, `task exec`, `task kill`, and
//! removal. containerd runs on a private socket, root and state directory,
//! in a namespace of its own name (so its cgroups are `/<ns>/<id>`).

use e2e::containerd::runtime_copy;
use e2e::{Containerd, Daemon};

#[test]
fn containerd_runs_mini_runc_through_its_runc_shim() {
    let c = Containerd::start();
    // The busybox image, saved by our own engine as a docker archive.
    let d = Daemon::start();
    d.import_busybox("bb:ctr");
    let tar = c.dir.path().join("bb.tar");
    d.ok(&["save", "-o", tar.to_str().unwrap(), "bb:ctr"]);
    c.ok(&["images", "import", tar.to_str().unwrap()]);
    let image = "docker.io/library/bb:ctr";
    let runc = runtime_copy(c.dir.path());
    let runc = runc.to_str().unwrap();

    // run --rm: output and exit code come back through containerd.
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        runc,
        image,
        "md-t1",
        "sh",
        "-c",
        "echo from-mini-runc; exit 3",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-mini-runc\n");
    assert_eq!(out.status.code(), Some(3), "ctr reports the exit code");

    // -d, exec, kill, rm.
    c.ok(&[
        "run",
        "-d",
        "--runc-binary",
        runc,
        image,
        "md-t2",
        "sleep",
        "300",
    ]);
    let tasks = c.ok(&["task", "ls"]);
    assert!(
        tasks
            .lines()
            .any(|l| l.starts_with("md-t2") && l.contains("RUNNING")),
        "{tasks}"
    );
    let pid: i32 = tasks
        .lines()
        .find(|l| l.starts_with("md-t2"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(
        comm.trim(),
        "sleep",
        "the task's pid is the container's process"
    );
    let exec = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "md-t2",
        "sh",
        "-c",
        "echo exec-ok $(cat /proc/1/comm); exit 4",
    ]);
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "exec-ok sleep\n");
    assert_eq!(exec.status.code(), Some(4));
    c.ok(&["task", "kill", "-s", "SIGKILL", "md-t2"]);
    for _ in 0..200 {
        if c.ok(&["task", "ls"]).contains("STOPPED") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(c.ok(&["task", "ls"]).contains("STOPPED"));
    c.ok(&["task", "rm", "md-t2"]);
    c.ok(&["container", "rm", "md-t2"]);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(c.ok(&["task", "ls", "-q"]).trim(), "");

    // `task rm -f` of an exited task: the shim's kill gets mini-runc's
    // "container not running", which containerd reads as "already exited".
    c.ok(&["run", "-d", "--runc-binary", runc, image, "md-t3", "true"]);
    for _ in 0..200 {
        if c.ok(&["task", "ls"]).contains("STOPPED") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(c.ok(&["task", "ls"]).contains("STOPPED"));
    c.ok(&["task", "rm", "-f", "md-t3"]);
    c.ok(&["container", "rm", "md-t3"]);
    assert_eq!(c.ok(&["task", "ls", "-q"]).trim(), "");

    // The shim gave mini-runc `/run/containerd/runc/<ns>` as its root (it
    // keeps its sealed copy there); it goes with the test's containerd.
    let root = std::path::Path::new("/run/containerd/runc").join(&c.ns);
    assert!(root.exists(), "{}", root.display());
    drop(c);
    assert!(!root.exists(), "{} left", root.display());
}
