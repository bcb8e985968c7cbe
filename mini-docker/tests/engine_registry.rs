//! `push` and `pull` through chapter 06's registry, served on 127.0.0.1 by
//! this test. Privileged (the daemons need root): they fail without it.

mod engine_common;

use engine_common::*;

/// The chapter 06 registry on a free loopback port, for the test's lifetime.
struct Registry {
    _dir: tempfile::TempDir,
    server: Option<registry::server::RunningServer>,
    rt: tokio::runtime::Runtime,
}

impl Registry {
    fn start() -> Registry {
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
            auth: registry::server::AuthMode::None,
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

    fn host(&self) -> String {
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

#[test]
fn push_then_pull_into_another_daemon_and_run() {
    let reg = Registry::start();
    let name = format!("{}/bb:v1", reg.host());

    let a = Daemon::start();
    a.import_busybox("bb");
    a.ok(&["tag", "bb", &name]);
    let pushed = a.ok(&["push", &name]);
    assert!(
        pushed.contains(&format!(
            "The push refers to repository [{}/bb]",
            reg.host()
        )),
        "{pushed}"
    );
    assert!(pushed.contains(": Pushed"), "{pushed}");
    assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
    // A second push finds every layer there.
    assert!(a.ok(&["push", &name]).contains("Layer already exists"));

    // A fresh daemon pulls it, with one line per layer, and runs it.
    let b = Daemon::start();
    let pulled = b.ok(&["pull", &name]);
    assert!(pulled.contains("Pulling from bb"), "{pulled}");
    assert!(pulled.contains(": Pull complete"), "{pulled}");
    assert!(pulled.contains("Digest: sha256:"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {name}")),
        "{pulled}"
    );
    assert!(b.ok(&["images"]).contains(&format!("{}/bb", reg.host())));
    let out = b.ok(&["run", "--rm", "--network", "none", &name, "echo", "pulled"]);
    assert_eq!(out, "pulled\n");
    assert!(b
        .ok(&["pull", &name])
        .contains(&format!("Status: Image is up to date for {name}")));
    // After rmi the name is gone: pulling it again is a new image for it,
    // even though its blobs are still in the store.
    b.ok(&["rmi", &name]);
    assert!(b
        .ok(&["pull", &name])
        .contains(&format!("Status: Downloaded newer image for {name}")));

    // The real docker CLI pulls through the daemon the same way.
    let c = Daemon::start();
    let out = c.docker(&["pull", &name]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Pull complete"), "{text}");
    assert!(c.ok(&["images"]).contains(&format!("{}/bb", reg.host())));

    // An unknown image is a clear error and a non-zero exit.
    let missing = b.cli(&["pull", &format!("{}/nosuch:v1", reg.host())]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("not found") || err.contains("unknown"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
