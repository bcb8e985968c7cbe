//! containerd (Debian's 1.6, through its runc v2 shim) drives mini-runc:
//! `ctr run --runc-binary` with `--rm`, `-d`, `task exec`, `task kill`, and
//! removal. containerd runs on a private socket, root and state directory,
//! in a namespace of its own name (so its cgroups are `/<ns>/<id>`).

use e2e::{processes_with, Daemon};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct Containerd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    ns: String,
}

impl Containerd {
    fn start() -> Containerd {
        e2e::require_root();
        let dir = tempfile::Builder::new()
            .prefix("md-ctrd-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--address")
            .arg(dir.path().join("c.sock"))
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--state")
            .arg(dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd is installed (apt-get install containerd, with docker.io)");
        let c = Containerd {
            child: Some(child),
            ns: format!("md-ctrd-{}", network::names::unique_id()),
            dir,
        };
        for _ in 0..500 {
            if c.ctr(&["version"]).status.success() {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!(
            "containerd did not come up: {}",
            std::fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default()
        );
    }

    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("-a")
            .arg(self.dir.path().join("c.sock"))
            .arg("-n")
            .arg(&self.ns)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks first (their shims outlive containerd), then containerd.
        for line in self
            .ctr(&["task", "ls", "-q"])
            .stdout
            .split(|b| *b == b'\n')
        {
            let id = String::from_utf8_lossy(line).trim().to_string();
            if !id.is_empty() {
                let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", &id]);
                let _ = self.ctr(&["task", "rm", "-f", &id]);
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for pid in processes_with(&self.ns) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let root = self.dir.path().display().to_string();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(1).map(String::from))
            .filter(|m| m.starts_with(&root))
            .collect();
        mounts.reverse();
        for m in mounts {
            let _ = nix::mount::umount2(Path::new(&m), nix::mount::MntFlags::MNT_DETACH);
        }
        // The namespace's cgroups (`/<ns>/<id>` in each hierarchy).
        for ctrl in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let base = ctrl.path().join(&self.ns);
            for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
            let _ = std::fs::remove_dir(&base);
        }
    }
}

/// A copy of mini-runc outside target/ (containerd's shim execs it by path).
fn runtime_copy(dir: &Path) -> PathBuf {
    let dst = dir.join("mini-runc");
    std::fs::copy(e2e::runtime::mini_runc(), &dst).unwrap();
    dst
}

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
}
