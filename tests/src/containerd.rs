//! A real containerd (Debian's 1.6) of the test's own: its socket, root and
//! state in a temporary directory, optionally its own `config.toml` (the CRI
//! plugin's settings), and on drop nothing left of it: its tasks and shims,
//! their mounts, and the cgroups they made under the names the test gave.

use crate::processes_with;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A containerd on `<dir>/c.sock`, with `ctr` in namespace `ns`.
pub struct Containerd {
    /// Its socket, root, state and log (and what the test puts there).
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// The namespace `ctr` uses (the CRI plugin always uses `k8s.io`).
    pub ns: String,
    /// Cgroup directories (relative to each hierarchy) removed on drop,
    /// deepest first: the namespace's, or the pods' parent.
    cgroup_parents: Vec<String>,
    /// The runc shim's default state root for our namespace
    /// (`/run/containerd/runc/<ns>`, outside our directory), removed on drop.
    runc_root: Option<PathBuf>,
}

impl Containerd {
    /// containerd with its built-in defaults, and `ctr` in a namespace of
    /// its own name (so that its cgroups are `/<ns>/<id>`).
    pub fn start() -> Containerd {
        let ns = format!("md-ctrd-{}", network::names::unique_id());
        let mut c = Self::spawn(None, ns.clone(), vec![ns.clone()]);
        c.runc_root = Some(Path::new("/run/containerd/runc").join(ns));
        c
    }

    /// containerd reading `config` (TOML) from `<dir>/config.toml`; `{dir}`
    /// in it is replaced by the directory. `ns` is the namespace for `ctr`,
    /// and `cgroup_parent` the cgroup its containers are put under.
    pub fn start_with_config(config: &str, ns: &str, cgroup_parent: &str) -> Containerd {
        Self::spawn(
            Some(config),
            ns.to_string(),
            vec![cgroup_parent.trim_start_matches('/').to_string()],
        )
    }

    fn spawn(config: Option<&str>, ns: String, cgroup_parents: Vec<String>) -> Containerd {
        crate::require_root();
        let dir = tempfile::Builder::new()
            .prefix("md-ctrd-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let mut cmd = Command::new("containerd");
        if let Some(config) = config {
            let file = dir.path().join("config.toml");
            let text = config.replace("{dir}", &dir.path().display().to_string());
            std::fs::write(&file, text).unwrap();
            cmd.arg("--config").arg(file);
        }
        let child = cmd
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
            ns,
            dir,
            cgroup_parents,
            runc_root: None,
        };
        for _ in 0..500 {
            if c.ctr(&["version"]).status.success() {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("containerd did not come up: {}", c.log());
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    /// What containerd wrote to its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// `ctr -a <socket> -n <ns> ARGS…`.
    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("-a")
            .arg(self.socket())
            .arg("-n")
            .arg(&self.ns)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// [`Containerd::ctr`] that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
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

fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Removes `dir` (a cgroup directory) and the directories under it,
/// deepest first, after killing what is still in them (a cgroup directory
/// is removed with rmdir, never with its files, and only once empty).
fn remove_cgroup_tree(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_cgroup_tree(&e.path());
        }
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
        kill9(pid);
    }
    for _ in 0..100 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
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
        // Shims name the socket (`-address <dir>/c.sock`).
        for pid in processes_with(&self.dir.path().display().to_string()) {
            kill9(pid);
        }
        crate::host::unmount_all_under(self.dir.path());
        if let Some(root) = &self.runc_root {
            let _ = std::fs::remove_dir_all(root);
        }
        for ctrl in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            for parent in &self.cgroup_parents {
                remove_cgroup_tree(&ctrl.path().join(parent));
            }
        }
    }
}

/// A copy of mini-runc outside target/ (containerd's shim execs it by path).
pub fn runtime_copy(dir: &Path) -> PathBuf {
    let dst = dir.join("mini-runc");
    std::fs::copy(crate::runtime::mini_runc(), &dst).unwrap();
    dst
}
