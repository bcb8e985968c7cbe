//! docker-compose 1.29 (Debian's `/usr/bin/docker-compose`, a docker-py
//! client) against mini-dockerd: a project is brought up, brought up again
//! unchanged (same containers, nothing recreated), changed in one service
//! (only that one is recreated), brought up after a daemon restart, and
//! brought down with its volumes, leaving nothing.
//!
//! Compose decides what to recreate from what the daemon reports back: the
//! network's driver, `Options`, `Internal` and `Labels` (`GET /networks/{id}`),
//! the volume's driver and labels, and the containers' `com.docker.compose.*`
//! labels, `config-hash` among them. Anything the daemon adds on its own to
//! those fields makes every later `up` fail or recreate.
//! Privileged: it fails (never skips) without root.

use e2e::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

fn compose_file(port: u16, worker_env: &str) -> String {
    format!(
        r#"version: "2.4"
services:
  web:
    image: mdc-bb:1
    command: httpd -f -p 8080 -h /www
    ports:
      - "127.0.0.1:{port}:8080"
    volumes:
      - data:/data
    networks:
      - back
    labels:
      org.example.role: front
  worker:
    image: mdc-bb:1
    command: sleep 3600
    environment:
      MODE: "{worker_env}"
    networks:
      - back
  cache:
    image: mdc-bb:1
    command: sleep 3600
    networks:
      - back
networks:
  back:
    labels:
      org.example.team: infra
    driver_opts:
      com.docker.network.bridge.name: BRIDGE
volumes:
  data:
    labels:
      org.example.keep: "yes"
"#
    )
}

#[track_caller]
fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// service name -> container id, from the compose labels the daemon reports.
fn services(d: &Daemon, project: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for id in d.ids() {
        let v: Value = serde_json::from_str(&d.ok(&["inspect", &id])).unwrap();
        let labels = &v[0]["Config"]["Labels"];
        if labels["com.docker.compose.project"] == project {
            let svc = labels["com.docker.compose.service"].as_str().unwrap();
            assert!(
                labels["com.docker.compose.config-hash"]
                    .as_str()
                    .is_some_and(|h| h.len() == 64),
                "config-hash label round-trips: {labels}"
            );
            assert!(v[0]["State"]["Running"].as_bool().unwrap(), "{svc} runs");
            out.insert(svc.to_string(), id);
        }
    }
    out
}

fn page(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

fn up(d: &Daemon, dir: &Path) -> String {
    ok(
        d.compose(dir, &["-p", "mdc", "up", "-d"]),
        "docker-compose up -d",
    )
}

#[test]
fn compose_up_is_idempotent_recreates_only_what_changed_and_down_leaves_nothing() {
    let mut d = Daemon::start();
    d.import_busybox("mdc-bb:1");
    let dir = tempfile::Builder::new()
        .prefix("md-compose-")
        .tempdir()
        .unwrap();
    let port = free_port();
    // A bridge name of our own (as a user may choose one): unique, and what
    // the network must report back as its only option.
    let bridge = format!("mdc{}", network::names::unique_id());
    let write = |env: &str| {
        std::fs::write(
            dir.path().join("docker-compose.yml"),
            compose_file(port, env).replace("BRIDGE", &bridge),
        )
        .unwrap()
    };
    write("one");

    up(&d, dir.path());
    let first = services(&d, "mdc");
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["cache", "web", "worker"],
        "three services"
    );
    eventually("the page comes through the published port", || {
        page(port).contains("hello from mini-docker")
    });
    // The network reports exactly what compose created it with.
    let net: Value = serde_json::from_str(&d.ok(&["network", "inspect", "mdc_back"])).unwrap();
    assert_eq!(
        net[0]["Options"],
        serde_json::json!({"com.docker.network.bridge.name": bridge}),
        "{net}"
    );
    assert_eq!(net[0]["Labels"]["org.example.team"], "infra");
    assert_eq!(net[0]["Labels"]["com.docker.compose.network"], "back");
    assert!(
        std::path::Path::new("/sys/class/net")
            .join(&bridge)
            .exists(),
        "the bridge is really named {bridge}"
    );
    let vol: Value = serde_json::from_str(&d.ok(&["volume", "inspect", "mdc_data"])).unwrap();
    assert_eq!(vol[0]["Labels"]["org.example.keep"], "yes");
    assert_eq!(vol[0]["Labels"]["com.docker.compose.volume"], "data");

    // Twice more, unchanged: nothing is recreated.
    for round in 2..=3 {
        let log = up(&d, dir.path());
        assert!(!log.contains("Recreating"), "round {round}: {log}");
        assert_eq!(services(&d, "mdc"), first, "round {round}: same containers");
    }

    // One service changes: only it is recreated.
    write("two");
    let log = up(&d, dir.path());
    let second = services(&d, "mdc");
    assert_ne!(second["worker"], first["worker"], "worker recreated: {log}");
    assert_eq!(second["web"], first["web"], "web kept: {log}");
    assert_eq!(second["cache"], first["cache"], "cache kept: {log}");
    let env = d.ok(&["inspect", "-f", "{{json .Config.Env}}", &second["worker"]]);
    assert!(env.contains("MODE=two"), "{env}");

    // A daemon restart: compose still finds and keeps everything.
    d.kill9();
    d.spawn();
    let log = up(&d, dir.path());
    assert!(!log.contains("Recreating"), "after restart: {log}");
    let third = services(&d, "mdc");
    assert_eq!(third, second, "after restart: same containers");
    eventually("the page comes through after the restart", || {
        page(port).contains("hello from mini-docker")
    });

    // Down with volumes: no container, network or volume is left.
    ok(
        d.compose(dir.path(), &["-p", "mdc", "down", "-v", "-t", "1"]),
        "docker-compose down -v",
    );
    assert!(d.ids().is_empty(), "no container left");
    let nets = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("mdc_back"), "{nets}");
    assert!(
        !std::path::Path::new("/sys/class/net")
            .join(&bridge)
            .exists(),
        "the bridge is gone"
    );
    let vols = d.ok(&["volume", "ls", "-q"]);
    assert!(!vols.contains("mdc_data"), "{vols}");
}

/// A driver option mini-docker does not apply is refused, naming it (never
/// accepted and ignored); a bridge name outside the engine's `md` prefix is
/// refused too (the isolation rules match that prefix); nothing is created.
#[test]
fn network_options_that_are_not_applied_are_refused() {
    let d = Daemon::start();
    let out = d.docker20(&[
        "network",
        "create",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "mdc-mtu",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("network option com.docker.network.driver.mtu is not supported"),
        "{err}"
    );
    let out = d.docker20(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.name=eth9",
        "mdc-eth",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("start with \"md\""), "{err}");
    assert!(!std::path::Path::new("/sys/class/net/eth9").exists());
    // An IPAM part that is not applied (an address range) is refused too.
    let subnet = free_subnet(207).to_string();
    let range = subnet.replace(".0/24", ".0/25");
    let out = d.docker20(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--ip-range",
        &range,
        "mdc-range",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("IPAM Config IPRange is not supported"),
        "{err}"
    );
    let nets = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("mdc-"), "{nets}");
}
