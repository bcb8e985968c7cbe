//! A `mini-dockerd` per test on a temp data root and socket, killed (with
//! everything its containers got) on drop, even when the test panics.

use crate::cli::run_with_host;
use crate::host::processes_with;
use crate::require_root;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// The `mini-dockerd` binary (see [`crate::bin`]).
pub fn dockerd_bin() -> String {
    crate::bin_str("mini-dockerd")
}

/// The `mini-docker` binary, the CLI (see [`crate::bin`]).
pub fn cli_bin() -> String {
    crate::bin_str("mini-docker")
}

/// A free TCP port on 127.0.0.1 (for a port to publish).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A busybox rootfs tarball, built once per test binary.
pub fn busybox_tar() -> &'static Path {
    // One tarball for every test binary, in cargo's scratch directory for
    // tests (under target/, so nothing is left in /tmp): built once, renamed
    // into place atomically so parallel test binaries never see half of it.
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = crate::target_tmpdir();
        let dir = dir.as_path();
        let tar = dir.join("md-engine-busybox.tar");
        if tar.exists() {
            return tar;
        }
        let work = tempfile::Builder::new()
            .prefix("md-engine-img-")
            .tempdir_in(dir)
            .unwrap();
        let rootfs = work.path().join("rootfs");
        namespaces::rootfs::build_busybox_rootfs(&rootfs).unwrap();
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::create_dir_all(rootfs.join("www")).unwrap();
        std::fs::write(rootfs.join("www/index.html"), "hello from mini-docker\n").unwrap();
        let tmp = work.path().join("busybox.tar");
        crate::host::tar_dir(&rootfs, &tmp);
        std::fs::rename(&tmp, &tar).unwrap();
        tar
    })
}

/// A `mini-dockerd` on its own socket and data root in a temp dir.
pub struct Daemon {
    /// Its socket (`d.sock`), data root (`data/`), log and `daemon.json`.
    pub dir: tempfile::TempDir,
    /// The daemon process while it runs.
    pub child: Option<Child>,
    /// The default bridge (name, subnet), when this daemon has one.
    pub bridge: Option<(String, String)>,
}

/// `MINI_DOCKER_TEST_RUNTIME=runc` (or `crun`): every daemon runs its
/// containers with that binary (found in PATH), registered as `test-runc`
/// and made the default. (The name `runc` itself is the built-in runtime's,
/// reserved as dockerd reserves it.)
fn test_runtime_args() -> Vec<String> {
    match std::env::var("MINI_DOCKER_TEST_RUNTIME") {
        Ok(rt) if !rt.is_empty() => vec![
            "--add-runtime".into(),
            format!("test-{rt}={rt}"),
            "--default-runtime".into(),
            format!("test-{rt}"),
        ],
        _ => vec![],
    }
}

impl Daemon {
    /// A daemon without a bridge (`--bridge-name none`).
    pub fn start() -> Daemon {
        Self::start_with(None)
    }

    /// A daemon with its own default bridge `md-br-<hex>` on a free /24 of
    /// 10.203.0.0/16; the bridge and its table are deleted on drop.
    pub fn start_bridged() -> Daemon {
        require_root();
        let routes = network::network::host_routes().unwrap();
        let hex = network::names::unique_id();
        let seed = u32::from_str_radix(&hex, 16).unwrap();
        for i in 0..256u32 {
            let octet = (seed + i) % 256;
            let subnet: network::Subnet = format!("10.203.{octet}.0/24").parse().unwrap();
            if network::subnet::check_free(subnet, &routes).is_err() {
                continue;
            }
            return Self::start_with(Some((format!("md-br-{hex}"), subnet.to_string())));
        }
        panic!("no free /24 left in 10.203.0.0/16");
    }

    /// A daemon on the bridge `name`, with `--bridge-subnet subnet` unless
    /// `subnet` is empty; the bridge and its table are deleted on drop.
    pub fn start_on_bridge(name: &str, subnet: &str) -> Daemon {
        Self::start_with(Some((name.to_string(), subnet.to_string())))
    }

    /// A daemon on its unix socket and on TLS at `tcp://127.0.0.1:PORT`, set
    /// up through daemon.json's keys (`hosts`, `key` = `tlsverify` or `tls`,
    /// `tlscacert`, `tlscert`, `tlskey`) with the files in `certs` (as
    /// `mini-docker system certs` writes them). Returns the daemon and its
    /// `tcp://` address, once the port accepts connections.
    pub fn start_tls(certs: &std::path::Path, key: &str) -> (Daemon, String) {
        let port = free_port();
        let tcp = format!("tcp://127.0.0.1:{port}");
        let c = |f: &str| certs.join(f).display().to_string();
        let d = Daemon::start_with_config(
            &serde_json::json!({
                "hosts": [&tcp],
                key: true,
                "tlscacert": c("ca.pem"),
                "tlscert": c("server-cert.pem"),
                "tlskey": c("server-key.pem"),
            })
            .to_string(),
        );
        crate::eventually("the TLS port to open", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        (d, tcp)
    }

    /// A daemon (without a bridge) reading this daemon.json.
    pub fn start_with_config(json: &str) -> Daemon {
        require_root();
        crate::require_bins(&crate::ENGINE_BINS);
        let dir = tempfile::Builder::new()
            .prefix("md-engine-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("daemon.json"), json).unwrap();
        let mut d = Daemon {
            dir,
            child: None,
            bridge: None,
        };
        d.spawn();
        d
    }

    fn start_with(bridge: Option<(String, String)>) -> Daemon {
        require_root();
        crate::require_bins(&crate::ENGINE_BINS);
        let dir = tempfile::Builder::new()
            .prefix("md-engine-")
            .tempdir()
            .unwrap();
        let mut d = Daemon {
            dir,
            child: None,
            bridge,
        };
        d.spawn();
        d
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("d.sock")
    }

    /// `unix://<socket>`, for `-H` and `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Its `--data-root`.
    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Waits until the background reaper has finished every removal
    /// handed to it (`rm` and `run --rm` answer before the unmount and the
    /// directory removal: issue 25), so a test can then assert that
    /// nothing is left.
    #[track_caller]
    pub fn reaps_finish(&self) {
        let reap = self.data_root().join("reap");
        crate::eventually("the reaps to finish", || {
            std::fs::read_dir(&reap)
                .map(|r| r.count() == 0)
                .unwrap_or(true)
        });
    }

    /// Asserts that `healthy` is healthy and that `dependent` (which
    /// `depends_on` it with `condition: service_healthy`) started only
    /// after its first passing probe ended. Call it right after `up`: the
    /// health log keeps only the last five probes.
    #[track_caller]
    pub fn assert_started_after_healthy(&self, healthy: &str, dependent: &str) {
        let h: serde_json::Value = serde_json::from_str(
            self.ok(&["inspect", "-f", "{{json .State.Health}}", healthy])
                .trim(),
        )
        .unwrap();
        assert_eq!(h["Status"], "healthy", "{h}");
        let first_ok = h["Log"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["ExitCode"] == 0)
            .and_then(|p| p["End"].as_str())
            .unwrap_or_default()
            .to_string();
        let started = self.ok(&["inspect", "-f", "{{.State.StartedAt}}", dependent]);
        // Both RFC 3339 in UTC with nanoseconds: they compare as text.
        assert!(
            !first_ok.is_empty() && started.trim() >= first_ok.as_str(),
            "{dependent} started at {started} before {healthy}'s first passing probe ended ({first_ok}): {h}"
        );
    }

    /// The `dns` key of this daemon's daemon.json, if it has one.
    fn dns_json(&self) -> Option<serde_json::Value> {
        let text = std::fs::read(self.dir.path().join("daemon.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
        Some(v.get("dns")?.clone())
    }

    /// (Re)starts the daemon on the same data root.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        use std::os::unix::process::CommandExt;
        let child = Command::new(dockerd_bin())
            // A process group of its own, as a daemon has: a signal it or its
            // children send to "the group" by mistake never reaches cargo.
            .process_group(0)
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .args(match &self.bridge {
                // An empty subnet: the daemon picks (or adopts the bridge's).
                Some((name, subnet)) if subnet.is_empty() => vec!["--bridge-name", name],
                Some((name, subnet)) => vec!["--bridge-name", name, "--bridge-subnet", subnet],
                None => vec!["--bridge-name", "none"],
            })
            .args(
                Some(self.dir.path().join("daemon.json"))
                    .filter(|p| p.exists())
                    .map(|p| vec!["--config-file".into(), p.display().to_string()])
                    .unwrap_or_default(),
            )
            .args(test_runtime_args())
            // Network safety: the embedded DNS forwards names it does not
            // know to the host's resolvers unless told otherwise; a test's
            // daemon forwards to a closed port on 127.0.0.1 instead, unless
            // its daemon.json names its own (a fake resolver of the test).
            .args(
                self.dns_json()
                    .is_none()
                    .then_some(["--dns", "127.0.0.1:9"])
                    .into_iter()
                    .flatten(),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!(
            "the daemon did not come up: {}",
            std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
        );
    }

    /// SIGKILLs the daemon (its shims and containers live on).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `mini-docker -H … args`; output through files (a container may hold pipes).
    pub fn cli(&self, args: &[&str]) -> Output {
        run_with_host(&cli_bin(), &[("-H", &self.host())], args, &[])
    }

    /// Like [`Daemon::cli`], failing unless it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "mini-docker {args:?} failed ({:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The real docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        let bin = crate::docker::newest_docker_cli();
        run_with_host(bin, &[], args, &[("DOCKER_HOST", &self.host())])
    }

    /// Like [`Daemon::docker`], failing unless it succeeded; returns stdout.
    #[track_caller]
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed ({:?}): {}{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// One raw API request `METHOD /v1.41{path}` with a JSON body (or none) over the
    /// daemon's socket: (status, body). For what no CLI sends (a CLI checks
    /// some input itself).
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let json: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("Content-Type", "application/json")]
        };
        let r = self.raw(method, &format!("/v1.41{path}"), json, body.as_bytes());
        (r.status, r.body)
    }

    /// One raw request `METHOD path` (no version prefix added) with these
    /// headers and body over the daemon's socket; see [`crate::http::request`].
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> crate::http::Response {
        crate::http::request(&self.socket(), method, path, headers, body)
    }

    /// The docker CLI 20.10 (Debian's `/usr/bin/docker`) against this daemon:
    /// for what that older client sends (e.g. `wait?condition=`).
    pub fn docker20(&self, args: &[&str]) -> Output {
        let bin = "/usr/bin/docker";
        assert!(
            Path::new(bin).exists(),
            "the docker 20.10 CLI is installed (scripts/setup.sh: apt-get install docker.io)"
        );
        run_with_host(bin, &[], args, &[("DOCKER_HOST", &self.host())])
    }

    /// docker-compose 1.29 (Debian's `/usr/bin/docker-compose`, over docker-py)
    /// against this daemon, in `dir` (where its `docker-compose.yml` is).
    pub fn compose(&self, dir: &Path, args: &[&str]) -> Output {
        let bin = "/usr/bin/docker-compose";
        assert!(
            Path::new(bin).exists(),
            "docker-compose is installed (scripts/setup.sh: apt-get install docker-compose)"
        );
        let dir = dir.to_str().unwrap();
        run_with_host(
            bin,
            &[
                ("--project-directory", dir),
                ("-f", &format!("{dir}/docker-compose.yml")),
            ],
            args,
            &[("DOCKER_HOST", &self.host())],
        )
    }

    /// Like [`Daemon::docker20`], failing unless it succeeded; returns stdout.
    pub fn ok20(&self, args: &[&str]) -> String {
        let o = self.docker20(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Imports the busybox image as `name`.
    pub fn import_busybox(&self, name: &str) {
        self.ok(&["import", busybox_tar().to_str().unwrap(), name]);
    }

    /// Container `id`'s record on disk (`containers/<id>/container.json`).
    pub fn record(&self, id: &str) -> serde_json::Value {
        let p = self
            .data_root()
            .join("containers")
            .join(id)
            .join("container.json");
        serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    }

    /// The storage driver's layers (`<data>/layers/*`), sorted.
    pub fn layers(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.data_root().join("layers"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Container ids (full) of this daemon.
    pub fn ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .map(String::from)
            .collect()
    }
}

/// Whether any cgroup directory of container `id` exists.
pub fn cgroup_exists(id: &str) -> bool {
    crate::host::cgroup_exists_under("mini-docker", id)
}

impl Drop for Daemon {
    /// Never panics (a panic in a drop during a test's panic aborts, and
    /// whatever is not cleaned up yet is orphaned): no `bin()` check, no
    /// `unwrap` on what may fail.
    fn drop(&mut self) {
        // Remove the containers through the daemon when it is up…
        if self.child.is_some() {
            let cli = crate::profile_dir().join("mini-docker");
            let run = |args: &[&str]| {
                crate::cli::try_capture(Command::new(&cli).arg("-H").arg(self.host()).args(args))
                    .map(|o| o.stdout)
                    .unwrap_or_default()
            };
            for id in run(&["ps", "-aq", "--no-trunc"])
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                let id = String::from_utf8_lossy(id).into_owned();
                run(&["rm", "-f", &id]);
            }
        }
        self.kill9();
        // …and whatever is left (shims of a killed daemon, mounts, cgroups).
        let root = self.data_root().display().to_string();
        // Twice: a shim's first stage may be starting its second as we look.
        for _ in 0..2 {
            for pid in processes_with(&root) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        for id in std::fs::read_dir(self.data_root().join("runtime"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            // The engine keeps its runtime state in mini-runc's layout.
            let _ = crate::cli::try_capture(
                // Not `bin()`: a drop must not panic.
                Command::new(crate::profile_dir().join("mini-runc"))
                    .arg("--root")
                    .arg(self.data_root().join("runtime"))
                    .args(["delete", "--force", &id]),
            );
        }
        crate::host::unmount_all_under(self.dir.path());
        // A daemon that was SIGKILLed (and not respawned) could not `rm -f`
        // above: its containers' published-port tables (`chapter05_…`, named
        // in each record, also those handed to the reaper) outlive it, as
        // Docker's rules outlive a crashed dockerd until its next start.
        for dir in ["containers", "reap"] {
            for e in std::fs::read_dir(self.data_root().join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let record: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(e.path().join("container.json")).unwrap_or_default(),
                )
                .unwrap_or_default();
                if let Some(table) = record["net"]["table"].as_str().filter(|t| !t.is_empty()) {
                    let _ = network::nft::delete_table(table);
                }
            }
        }
        // User networks' bridges and tables outlive the daemon too.
        for e in std::fs::read_dir(self.data_root().join("networks"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let saved: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).unwrap_or_default())
                    .unwrap_or_default();
            if let Some(br) = saved["bridge"].as_str() {
                let _ = network::nft::delete_table(&mini_dockerd::net::bridge_table(br));
                if let Ok(mut nl) = network::netlink::Netlink::open() {
                    let _ = nl.delete_link(br);
                }
            }
        }
        // The bridge outlives the daemon (as docker0 does): ours goes with the test.
        if let Some((name, _)) = &self.bridge {
            let _ = network::nft::delete_table(&mini_dockerd::net::bridge_table(name));
            if let Ok(mut nl) = network::netlink::Netlink::open() {
                let _ = nl.delete_link(name);
            }
        }
    }
}

/// Every blob of `d`'s store hashes to its name; returns how many there are.
#[track_caller]
pub fn blobs_verify(d: &Daemon) -> usize {
    crate::host::dir_blobs_verify(&d.data_root().join("blobs/sha256"))
}

/// The host port that container `name`'s port 80 is published on.
pub fn host_port_80(d: &Daemon, name: &str) -> u16 {
    host_port(d, name, "80")
}

/// The host port that container `name`'s port `private` is published on
/// (the first, when it is published on several addresses).
pub fn host_port(d: &Daemon, name: &str, private: &str) -> u16 {
    d.ok(&["port", name, private])
        .lines()
        .next()
        .unwrap()
        .trim()
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap()
}

/// `run -d --name NAME` of the test image's web server (busybox httpd on
/// port 80, serving `/www`), published on a free port of 127.0.0.1.
pub fn web_args(name: &str) -> [&str; 13] {
    [
        "run",
        "-d",
        "--name",
        name,
        "-p",
        "127.0.0.1::80",
        "bb",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]
}

/// The port proxy processes of a daemon (`mini-docker-proxy … --data-root R`).
pub fn proxy_processes(d: &Daemon) -> Vec<i32> {
    let root = d.data_root().display().to_string();
    processes_with(&root)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("mini-docker-proxy"))
                .unwrap_or(false)
        })
        .collect()
}
