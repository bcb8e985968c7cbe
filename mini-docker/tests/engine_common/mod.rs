//! A `mini-dockerd` per test on a temp data root and socket, killed (with
//! everything its containers got) on drop, even when the test panics.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

pub const DOCKERD: &str = env!("CARGO_BIN_EXE_mini-dockerd");
pub const CLI: &str = env!("CARGO_BIN_EXE_mini-docker");

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the engine tests need root: run `sudo cargo test -p mini-docker`"
    );
}

/// A busybox rootfs tarball, built once per test binary.
pub fn busybox_tar() -> &'static Path {
    // One tarball for every test binary, in cargo's scratch directory for
    // tests (under target/, so nothing is left in /tmp): built once, renamed
    // into place atomically so parallel test binaries never see half of it.
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
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
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tmp)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::rename(&tmp, &tar).unwrap();
        tar
    })
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
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

    /// A daemon (without a bridge) reading this daemon.json.
    pub fn start_with_config(json: &str) -> Daemon {
        require_root();
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

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("d.sock")
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// (Re)starts the daemon on the same data root.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        use std::os::unix::process::CommandExt;
        let child = Command::new(DOCKERD)
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

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `mini-docker -H … args`; output through files (a container may hold pipes).
    pub fn cli(&self, args: &[&str]) -> Output {
        run_with_host(CLI, &[("-H", &self.host())], args, &[])
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
        let bin = ["/usr/local/bin/docker", "/usr/bin/docker"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("the docker CLI is installed (apt-get install docker.io)");
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
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(self.socket()).unwrap();
        let json = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/json\r\n"
        };
        write!(
            s,
            "{method} /v1.41{path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\
             {json}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|x| x.parse().ok())
            .unwrap();
        let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        (status, body.to_string())
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

    /// Container ids (full) of this daemon.
    pub fn ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .map(String::from)
            .collect()
    }
}

/// Runs `bin args` with these environment variables, `stdin` written to it.
pub fn run_with_stdin(bin: &str, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // From a thread: a big input must not wait for us to read the output.
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    out
}

/// Runs `bin pre… args…` with `env`; output through files (a container may hold pipes).
pub fn run_with_host(
    bin: &str,
    pre: &[(&str, &str)],
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut cmd = Command::new(bin);
    for (k, v) in pre {
        cmd.arg(k).arg(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut v = Vec::new();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

/// Processes whose command line mentions `needle`.
pub fn processes_with(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid <= 1 || pid == std::process::id() as i32 {
            continue;
        }
        if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&c).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

/// Mount points under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&*dir.to_string_lossy()))
        .map(String::from)
        .collect()
}

/// Whether any cgroup directory of container `id` exists.
pub fn cgroup_exists(id: &str) -> bool {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| {
            rd.flatten()
                .any(|h| h.path().join("mini-docker").join(id).exists())
        })
        .unwrap_or(false)
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Remove the containers through the daemon when it is up…
        if self.child.is_some() {
            for id in self
                .cli(&["ps", "-aq", "--no-trunc"])
                .stdout
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                let id = String::from_utf8_lossy(id).into_owned();
                let _ = self.cli(&["rm", "-f", &id]);
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
            let _ = mini_docker::runtime::container::delete(
                &self.data_root().join("runtime"),
                &id,
                true,
            );
        }
        let mut m = mounts_under(self.dir.path());
        m.sort_by_key(|x| std::cmp::Reverse(x.len()));
        for p in m {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
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
                let _ = network::nft::delete_table(&mini_docker::engine::net::bridge_table(br));
                if let Ok(mut nl) = network::netlink::Netlink::open() {
                    let _ = nl.delete_link(br);
                }
            }
        }
        // The bridge outlives the daemon (as docker0 does): ours goes with the test.
        if let Some((name, _)) = &self.bridge {
            let _ = network::nft::delete_table(&mini_docker::engine::net::bridge_table(name));
            if let Ok(mut nl) = network::netlink::Netlink::open() {
                let _ = nl.delete_link(name);
            }
        }
    }
}

/// Chapter 06's registry on a free port of 127.0.0.1, stopped on drop.
pub struct Registry {
    _dir: tempfile::TempDir,
    server: Option<registry::server::RunningServer>,
    rt: tokio::runtime::Runtime,
}

impl Registry {
    /// Anonymous access.
    pub fn start() -> Registry {
        Self::serve(registry::server::AuthMode::None)
    }

    /// Basic auth with one htpasswd user.
    pub fn with_user(user: &str, password: &str) -> Registry {
        let line = registry::auth::Htpasswd::entry(user, password, 4).unwrap();
        let users = registry::auth::Htpasswd::parse(&line).unwrap();
        Self::serve(registry::server::AuthMode::Basic(users))
    }

    fn serve(auth: registry::server::AuthMode) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("md-registry-")
            .tempdir()
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = registry::server::ServerConfig {
            root: dir.path().to_path_buf(),
            auth,
        };
        let server = rt
            .block_on(registry::server::spawn(config, "127.0.0.1:0"))
            .unwrap();
        Registry {
            _dir: dir,
            server: Some(server),
            rt,
        }
    }

    /// Where the registry keeps its files (`blobs/`, `ingest/`, `repositories/`).
    pub fn root(&self) -> &Path {
        self._dir.path()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.server.as_ref().unwrap().host()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

/// A /24 of `10.<second>.0.0/16` that no host route uses, picked at random
/// (tests running at once pick different ones, and each checks again).
pub fn free_subnet(second: u8) -> network::Subnet {
    let routes = network::network::host_routes().unwrap();
    let seed = u32::from_str_radix(&network::names::unique_id(), 16).unwrap();
    for i in 0..256u32 {
        let s: network::Subnet = format!("10.{second}.{}.0/24", (seed + i * 7) % 256)
            .parse()
            .unwrap();
        if network::subnet::check_free(s, &routes).is_ok() {
            return s;
        }
    }
    panic!("no free /24 left in 10.{second}.0.0/16");
}

/// Waits (bounded by attempts, not by time: about 30 s) until `cond` holds.
#[track_caller]
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("never happened: {what}");
}

/// Files (recursively) under `dir`.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every blob of `d`'s store hashes to its name; returns how many there are.
#[track_caller]
pub fn blobs_verify(d: &Daemon) -> usize {
    dir_blobs_verify(&d.data_root().join("blobs/sha256"))
}

/// Every file in `dir` (a `blobs/sha256` of a store or a registry) hashes
/// to its name; returns how many there are.
#[track_caller]
pub fn dir_blobs_verify(dir: &Path) -> usize {
    let mut n = 0;
    for p in files(dir) {
        let out = Command::new("sha256sum").arg(&p).output().unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with(&name),
            "blob {} does not match its digest",
            p.display()
        );
        n += 1;
    }
    n
}

/// `GET /` through 127.0.0.1:`port` until the test image's page comes
/// (retried for about 5 s while httpd starts), or why it did not.
pub fn fetch_page(port: u16) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut last = String::new();
    for _ in 0..100 {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.contains("hello from mini-docker") {
                    return Ok(body);
                }
                last = body;
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!("no page from 127.0.0.1:{port}: {last}"))
}

/// The host port that container `name`'s port 80 is published on.
pub fn host_port_80(d: &Daemon, name: &str) -> u16 {
    d.ok(&["port", name, "80"])
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
