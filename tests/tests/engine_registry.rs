//! `push` and `pull` through chapter 06's registry, served on 127.0.0.1 by
//! this test. Privileged (the daemons need root): they fail without it.

use e2e::*;

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

    // The API streams per-layer progress as it happens, in Docker's shape.
    let e = Daemon::start();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(e.socket())
        .args(["-X", "POST"])
        .arg(format!(
            "http://docker/v1.41/images/create?fromImage={}/bb&tag=v1",
            reg.host()
        ))
        .output()
        .expect("curl is installed (scripts/setup.sh)");
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let partial = messages.iter().any(|m| {
        let (c, t) = (
            m["progressDetail"]["current"].as_u64().unwrap_or(0),
            m["progressDetail"]["total"].as_u64().unwrap_or(0),
        );
        m["status"] == "Downloading" && c > 0 && c < t && m["progress"].as_str().is_some()
    });
    assert!(
        partial,
        "a layer's progress was reported mid-way: {messages:?}"
    );
    let order: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["status"].as_str())
        .filter(|s| {
            [
                "Pulling fs layer",
                "Downloading",
                "Download complete",
                "Pull complete",
            ]
            .contains(s)
        })
        .collect();
    let first = |s: &str| order.iter().position(|x| *x == s).unwrap();
    assert!(first("Pulling fs layer") < first("Downloading"));
    assert!(first("Downloading") < first("Download complete"));
    assert!(first("Download complete") < first("Pull complete"));

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
