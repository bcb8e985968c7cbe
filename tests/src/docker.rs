//! The real Docker: its CLI, and a dockerd on private directories, the
//! yardstick our engine and runtime are compared with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The docker CLI of this machine, the 20.10 one (Debian's) first.
pub fn docker_cli() -> &'static str {
    find_docker_cli(["/usr/bin/docker", "/usr/local/bin/docker"])
}

/// The docker CLI of this machine, the newest one first.
pub fn newest_docker_cli() -> &'static str {
    find_docker_cli(["/usr/local/bin/docker", "/usr/bin/docker"])
}

fn find_docker_cli(candidates: [&'static str; 2]) -> &'static str {
    candidates
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("the docker CLI is installed (scripts/setup.sh: apt-get install docker.io)")
}

/// A real Docker daemon on private directories, started with the caller's
/// extra options (`--add-runtime …`). Stopped, and its directories removed, on drop.
pub struct DockerDaemon {
    /// Its data root, exec root, socket and log live here.
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl DockerDaemon {
    /// Starts dockerd (no iptables, no bridge) and waits until it answers.
    pub fn start(extra_args: &[String]) -> DockerDaemon {
        Self::start_in(None, extra_args, false)
    }

    /// [`DockerDaemon::start`] inside the network namespace `/run/netns/NAME`,
    /// entered with `nsenter --net` (which, unlike `ip netns exec`, keeps the
    /// host's /sys, and so the cgroup mounts dockerd needs).
    pub fn start_in_netns(netns: &str, extra_args: &[String]) -> DockerDaemon {
        Self::start_in(Some(netns), extra_args, false)
    }

    /// [`DockerDaemon::start_in_netns`] with Docker's own networking on:
    /// the default bridge (`docker0`), its iptables rules and the userland
    /// proxy, as a stock dockerd runs. A swarm task published in host mode
    /// sits on the default bridge and is reached through that DNAT and proxy,
    /// so without them (`--bridge=none`) dockerd drops the port binding
    /// without a word. Safe only in a namespace the test made: the bridge,
    /// the rules (iptables-nft, a per-namespace nf_tables) and the proxies
    /// live and die with it.
    pub fn start_in_netns_networked(netns: &str, extra_args: &[String]) -> DockerDaemon {
        Self::start_in(Some(netns), extra_args, true)
    }

    fn start_in(netns: Option<&str>, extra_args: &[String], networked: bool) -> DockerDaemon {
        assert!(
            Path::new("/usr/sbin/dockerd").exists(),
            "dockerd (Debian package docker.io) must be installed"
        );
        // A short path: the socket's name must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("md-dockerd-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let mut cmd = match netns {
            Some(n) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{n}"))
                    .arg("/usr/sbin/dockerd");
                c
            }
            None => Command::new("/usr/sbin/dockerd"),
        };
        let child = cmd
            .arg("--data-root")
            .arg(d.join("root"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--ip6tables=false")
            .args(if networked {
                &[][..]
            } else {
                &[
                    "--iptables=false",
                    "--bridge=none",
                    "--ip-masq=false",
                    "--userland-proxy=false",
                ][..]
            })
            .args(extra_args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let daemon = DockerDaemon { dir, child };
        for _ in 0..300 {
            if daemon.docker(&["version"]).status.success() {
                return daemon;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "dockerd did not start: {}",
            std::fs::read_to_string(daemon.dir.path().join("dockerd.log")).unwrap_or_default()
        );
    }

    /// Runs the docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new(docker_cli())
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.path().join("docker.sock").display()),
            )
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// Like [`DockerDaemon::docker`], failing unless it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The running containers (full ids) of swarm service `name` on this node.
    pub fn service_containers(&self, name: &str) -> Vec<String> {
        self.ok(&[
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label=com.docker.swarm.service.name={name}"),
        ])
        .lines()
        .map(String::from)
        .collect()
    }

    /// `unix://…` of its socket, for `-H`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    /// Where dockerd's containerd shim keeps the runtime's state (its `--root`).
    pub fn runtime_root(&self) -> PathBuf {
        self.dir.path().join("exec/runtime-runc/moby")
    }

    /// Asserts that mini-runc made container `id`: Docker says runtime
    /// `mini`, and `mini-runc state` finds it under the root dockerd gave
    /// the runtime, running, with Docker's pid.
    pub fn assert_run_by_mini_runc(&self, id: &str) {
        let inspect = self.ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.Runtime}} {{.State.Pid}}",
            id,
        ]);
        let (runtime, pid) = inspect.trim().split_once(' ').unwrap();
        assert_eq!(runtime, "mini", "{id}");
        let state = crate::runtime::mini_runc_state(&self.runtime_root(), id);
        assert_eq!(state["status"], "running", "{state}");
        assert_eq!(state["pid"].to_string(), pid, "{state}");
    }

    /// Imports a busybox rootfs as image `name`.
    pub fn import_busybox(&self, name: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let tar = tmp.path().join("rootfs.tar");
        crate::host::busybox_rootfs_tar(&tmp.path().join("rootfs"), &tar);
        self.ok(&["import", tar.to_str().unwrap(), name]);
    }
}

impl Drop for DockerDaemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- the last lines of dockerd's log ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        // Not `self.docker()`: a drop must not panic (see `Daemon`'s).
        let run = |args: &[&str]| {
            crate::cli::try_capture(
                Command::new(docker_cli())
                    .env("DOCKER_HOST", self.host())
                    .args(args),
            )
            .map(|o| o.stdout)
            .unwrap_or_default()
        };
        let ids = run(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids).split_whitespace() {
            run(&["rm", "-f", id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        for _ in 0..300 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // dockerd unmounts on shutdown; detach anything left under our directory.
        crate::host::unmount_all_under(self.dir.path());
    }
}

/// Runs a command (`ip …`) that must succeed.
pub fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A network namespace (`ip netns add NAME`, with `lo` up) for a dockerd
/// of a swarm test; deleted, with the links inside, on drop.
pub struct Netns(pub String);

impl Netns {
    /// Makes `/run/netns/NAME`.
    pub fn new(name: String) -> Netns {
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns(name);
        sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }
}

impl Netns {
    /// The processes whose network namespace is this one (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
        let o = Command::new("ip")
            .args(["netns", "pids", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // A process left inside (a dockerd that had to be SIGKILLed leaves
        // its docker-proxy and shims) would outlive the namespace's name:
        // every process here is the test's own, so end each one by its pid.
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Waits (polling every 250 ms) until `cond` holds, for at most `limit`:
/// a swarm converges in tens of seconds, longer than [`crate::eventually`].
#[track_caller]
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for {what}");
}

/// A random u16 (names and subnets that differ between runs).
pub fn rand_u16() -> u16 {
    let mut b = [0u8; 2];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .unwrap();
    u16::from_le_bytes(b)
}

/// A one-node swarm for client tests: a real dockerd (mini-runc as its
/// default runtime) in a network namespace of its own, on an address of a
/// veth pair inside it (this kernel has no dummy links), so the swarm's
/// ports stay off the host's. `init` makes it a manager. Fields drop in
/// order: the daemon stops before its namespace goes.
pub struct SwarmNode {
    /// The dockerd.
    pub daemon: DockerDaemon,
    /// Its advertised address.
    pub addr: String,
    /// Its namespace.
    pub ns: Netns,
}

impl SwarmNode {
    /// Starts the dockerd in namespace `md-<prefix><hex>`.
    pub fn start(prefix: &str) -> SwarmNode {
        let hex = format!("{:04x}", rand_u16());
        let addr = format!("10.232.{}.1", 1 + rand_u16() % 250);
        let ns = Netns::new(format!("md-{prefix}{hex}"));
        sh(&[
            "ip", "-n", &ns.0, "link", "add", "md0", "type", "veth", "peer", "name", "md1",
        ]);
        sh(&["ip", "-n", &ns.0, "link", "set", "md1", "up"]);
        sh(&[
            "ip",
            "-n",
            &ns.0,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "md0",
        ]);
        sh(&["ip", "-n", &ns.0, "link", "set", "md0", "up"]);
        let daemon = DockerDaemon::start_in_netns(
            &ns.0,
            &[
                "--add-runtime".to_string(),
                format!("mini={}", crate::runtime::mini_runc()),
                "--default-runtime".to_string(),
                "mini".to_string(),
            ],
        );
        SwarmNode { daemon, addr, ns }
    }

    /// `swarm init` with the docker CLI: this node becomes a manager.
    pub fn init(&self) {
        self.daemon.ok(&[
            "swarm",
            "init",
            "--advertise-addr",
            &self.addr,
            "--listen-addr",
            &format!("{}:2377", self.addr),
        ]);
    }
}

impl Drop for SwarmNode {
    fn drop(&mut self) {
        let _ = self.daemon.docker(&["swarm", "leave", "--force"]);
    }
}
