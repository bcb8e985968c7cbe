//! The real Docker engine pushes to and pulls from the chapter 06 registry on
//! 127.0.0.1 (Docker talks plain HTTP to loopback registries by default).

use std::process::{Child, Command, Stdio};

struct Registry {
    child: Child,
    _root: tempfile::TempDir,
    port: u16,
}

impl Registry {
    fn start() -> Registry {
        let root = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(e2e::bin("chapter06"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Registry {
                    child,
                    _root: root,
                    port,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the chapter 06 registry did not start on 127.0.0.1:{port}");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_push_and_pull_through_the_chapter06_registry() {
    e2e::require_root();
    let reg = Registry::start();
    let d = e2e::DockerDaemon::start(&[]);
    d.import_busybox("local/busybox:1");
    let name = format!("127.0.0.1:{}/course/busybox:1", reg.port);
    d.ok(&["tag", "local/busybox:1", &name]);
    let pushed = d.ok(&["push", &name]);
    assert!(
        pushed.contains("digest: sha256:"),
        "docker push reports the manifest digest: {pushed}"
    );
    let digest = pushed
        .split("digest: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    d.ok(&["rmi", &name, "local/busybox:1"]);
    let pulled = d.ok(&["pull", &name]);
    assert!(
        pulled.contains(&digest),
        "the pulled manifest is the pushed one: {pulled}"
    );
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "cat",
        "/etc/os-release",
    ]);
    assert!(
        out.contains("container-internals busybox"),
        "the pulled image runs: {out}"
    );
}
