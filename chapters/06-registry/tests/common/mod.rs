//! Shared test helpers: servers on 127.0.0.1 free ports, the real
//! docker-registry behind a guard, images in temp stores, skopeo.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chapter04::ImageStore;
use chapter06::server::{self, AuthMode, RunningServer, ServerConfig};
use chapter06::{Client, ClientConfig};

/// Our registry on 127.0.0.1:<free port> over a temp root.
pub async fn our_registry(auth: AuthMode) -> (RunningServer, tempfile::TempDir) {
    let root = tempfile::Builder::new()
        .prefix("ch06-test-reg-")
        .tempdir()
        .unwrap();
    let s = server::spawn(
        ServerConfig {
            root: root.path().to_path_buf(),
            auth,
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    (s, root)
}

/// A client that can only reach loopback, without progress bars.
pub fn client() -> Client {
    Client::new(ClientConfig {
        loopback_only: true,
        ..Default::default()
    })
}

/// A temp image store.
pub fn store() -> (ImageStore, tempfile::TempDir) {
    let d = tempfile::Builder::new()
        .prefix("ch06-test-store-")
        .tempdir()
        .unwrap();
    (ImageStore::open(d.path()).unwrap(), d)
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("docker-registry exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("docker-registry did not listen on 127.0.0.1:{port} within 20 s");
}

/// The real CNCF distribution registry (Debian's `docker-registry`),
/// killed and reaped on drop.
pub struct DockerRegistry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    _dir: tempfile::TempDir,
}

impl DockerRegistry {
    /// Start it with a filesystem root in a temp dir; `htpasswd`: enable
    /// Basic auth with this file content.
    pub fn start(htpasswd: Option<&str>) -> DockerRegistry {
        let bin = Path::new("/usr/bin/docker-registry");
        assert!(
            bin.exists(),
            "/usr/bin/docker-registry is missing: apt-get install docker-registry"
        );
        let dir = tempfile::Builder::new()
            .prefix("ch06-test-distribution-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let mut auth = String::new();
        if let Some(h) = htpasswd {
            let p = dir.path().join("htpasswd");
            std::fs::write(&p, h).unwrap();
            auth = format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                p.display()
            );
        }
        let cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            dir.path().join("data").display()
        );
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker-registry");
        wait_for_port(port, &mut child);
        DockerRegistry {
            child,
            host: format!("127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run skopeo with an accept-anything policy and no credential files.
pub fn skopeo(args: &[&str]) -> std::process::Output {
    let bin = Path::new("/usr/bin/skopeo");
    assert!(
        bin.exists(),
        "/usr/bin/skopeo is missing: apt-get install skopeo"
    );
    let auth = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(auth.path(), "{}").unwrap();
    let out = Command::new(bin)
        .arg("--insecure-policy")
        .args(args)
        .env("REGISTRY_AUTH_FILE", auth.path())
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An OCI layout dir holding the store's image `name` (tagged `tag`).
pub fn layout_of(store: &ImageStore, name: &str) -> (PathBuf, tempfile::TempDir) {
    let d = tempfile::Builder::new()
        .prefix("ch06-test-layout-")
        .tempdir()
        .unwrap();
    let dir = d.path().join("layout");
    chapter04::layout::save_oci_layout(store, &[name], &dir).unwrap();
    (dir, d)
}
