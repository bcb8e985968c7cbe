//! The inspect documents, key by key, against a real dockerd's: the same
//! busybox image loaded into both, the same container made the same way
//! (by the docker CLI 20.10, and by a bare API request as docker-py sends
//! it), and every document's tree of keys and value types compared (not the
//! values: ids, times and paths differ). Clients index these documents
//! without checking (docker-py's `containers.run()` reads
//! `HostConfig.LogConfig.Type`), so a key Docker always sends must be there.
//!
//! The few deliberate differences are listed, each with its reason.
//! Privileged (dockerd and the engine run as root): fails without root.

use e2e::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Maps whose keys are data (names, ids, ports, labels), not fields: their
/// keys are compared as `*`.
const DATA_MAPS: &[&str] = &[
    ".Config.Labels",
    ".Config.ExposedPorts",
    ".Config.Volumes",
    ".ContainerConfig.Labels",
    ".Labels",
    ".Options",
    ".Containers",
    ".NetworkSettings.Networks",
    ".NetworkSettings.Ports",
    ".GraphDriver.Data",
    ".Runtimes",
    ".RegistryConfig.IndexConfigs",
    ".HostConfig.LogConfig.Config",
];

/// Deliberate differences: (document, path, why).
const DELIBERATE: &[(&str, &str, &str)] = &[
    // The image config's Env: Docker leaves it null for an image without
    // one; the engine records the PATH every process gets.
    (
        "container",
        ".Config.Env",
        "the engine's Config.Env lists the default PATH",
    ),
    (
        "container",
        ".Config.Env[]",
        "the engine's Config.Env lists the default PATH",
    ),
    // The storage driver's own data: overlay2's four directories there,
    // chapter 03's merged root here.
    (
        "container",
        ".GraphDriver.Data.*",
        "a different storage driver",
    ),
    ("image", ".GraphDriver.Data.*", "a different storage driver"),
    // The runtimes by name: runc and containerd's there, mini-runc here.
    ("info", ".Runtimes.*", "different runtimes"),
    ("info", ".Runtimes.*.path", "different runtimes"),
    // Docker's backing-filesystem pairs; the engine has none to tell.
    ("info", ".DriverStatus[]", "no storage-driver status pairs"),
    (
        "info",
        ".DriverStatus[][]",
        "no storage-driver status pairs",
    ),
];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// path -> type, for every key under `v`.
fn tree(v: &Value, path: &str, out: &mut BTreeMap<String, &'static str>) {
    out.insert(path.to_string(), kind(v));
    match v {
        Value::Object(m) => {
            let data = DATA_MAPS.contains(&path);
            for (k, x) in m {
                let key = if data { "*" } else { k.as_str() };
                tree(x, &format!("{path}.{key}"), out);
            }
        }
        Value::Array(a) => {
            for x in a {
                tree(x, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

/// The differences between two documents' key trees, less the deliberate ones.
fn differences(doc: &str, docker: &Value, mini: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    tree(docker, "", &mut a);
    tree(mini, "", &mut b);
    let mut out = Vec::new();
    for k in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (x, y) = (a.get(k), b.get(k));
        if x == y || DELIBERATE.iter().any(|(d, p, _)| *d == doc && p == k) {
            continue;
        }
        out.push(format!(
            "{doc} {k}: docker {} / mini-docker {}",
            x.unwrap_or(&"absent"),
            y.unwrap_or(&"absent")
        ));
    }
    out
}

/// One API call over a unix socket (curl: the raw answer, no client's view).
fn api(socket: &Path, method: &str, path: &str, body: Option<&str>) -> Value {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-X", method, "--unix-socket"])
        .arg(socket)
        .arg(format!("http://localhost/v1.41{path}"));
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "curl {path}");
    if out.stdout.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Removes network `mdi-net` through the daemon at the socket, and its bridge.
struct NetworkGuard(std::path::PathBuf, String);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("curl")
            .args(["-s", "-X", "DELETE", "--unix-socket"])
            .arg(&self.0)
            .arg("http://localhost/v1.41/networks/mdi-net")
            .output();
        if let Ok(mut nl) = network::netlink::Netlink::open() {
            let _ = nl.delete_link(&self.1);
        }
    }
}

#[test]
fn inspect_documents_have_dockers_keys() {
    let real = e2e::DockerDaemon::start(&[]);
    let real_sock = real.dir.path().join("docker.sock");
    let d = Daemon::start();
    let image = "mdi-bb:1";
    real.import_busybox(image);
    d.import_busybox(image);
    let sockets = [real_sock.as_path(), &d.socket()];
    let mut docs: Vec<[Value; 2]> = Vec::new();
    let mut names = Vec::new();

    // A container made by the docker CLI 20.10 (which sends every HostConfig
    // field), and one by a bare request (docker-py sends a few).
    let run = |args: &[&str]| {
        real.ok(args);
        let out = d.docker20(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "mdi-cli",
        "-l",
        "a=b",
        image,
        "sleep",
        "600",
    ]);
    let bare = format!(
        r#"{{"Image":"{image}","Cmd":["sleep","600"],"HostConfig":{{"NetworkMode":"none"}}}}"#
    );
    for s in sockets {
        api(s, "POST", "/containers/create?name=mdi-bare", Some(&bare));
        api(s, "POST", "/containers/mdi-bare/start", None);
        api(
            s,
            "POST",
            "/volumes/create",
            Some(r#"{"Name":"mdi-vol","Labels":{"k":"v"}}"#),
        );
    }
    // A user network on each, made the same way, with a bridge name of the
    // test's own (dockerd's would be `br-…`); removed (with its bridge) on drop.
    let _nets: Vec<NetworkGuard> = [(&real_sock, "mdir"), (&d.socket(), "mdim")]
        .into_iter()
        .map(|(s, p)| {
            let bridge = format!("{p}{}", network::names::unique_id());
            let body = format!(
                r#"{{"Name":"mdi-net","Labels":{{"a":"b"}},"Options":{{"com.docker.network.bridge.name":"{bridge}"}},"IPAM":{{"Driver":"default","Config":[{{"Subnet":"{}"}}]}}}}"#,
                free_subnet(207)
            );
            let created = api(s, "POST", "/networks/create", Some(&body));
            assert!(created["Id"].is_string(), "{created}");
            NetworkGuard(s.to_path_buf(), bridge)
        })
        .collect();
    for (doc, path) in [
        ("network", "/networks/mdi-net"),
        ("container", "/containers/mdi-cli/json"),
        ("container", "/containers/mdi-bare/json"),
        ("image", &format!("/images/{image}/json")),
        ("network", "/networks/none"),
        ("volume", "/volumes/mdi-vol"),
        ("info", "/info"),
        ("version", "/version"),
    ] {
        docs.push(sockets.map(|s| api(s, "GET", path, None)));
        names.push(doc);
    }
    // docker-py's containers.run() reads this, so it must always be there.
    assert_eq!(docs[1][1]["HostConfig"]["LogConfig"]["Type"], "json-file");

    let mut diffs = Vec::new();
    for (doc, [docker, mini]) in names.iter().zip(&docs) {
        // Both answered with a document (not an error message).
        for v in [docker, mini] {
            assert!(
                v.as_object()
                    .is_some_and(|m| m.len() > 4 && m.get("message").is_none()),
                "{doc}: {v}"
            );
        }
        diffs.extend(differences(doc, docker, mini));
    }
    assert!(
        diffs.is_empty(),
        "keys that differ from dockerd's:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn the_key_tree_comparison_sees_a_missing_key_and_a_changed_type() {
    let docker = serde_json::json!({"HostConfig": {"LogConfig": {"Type": "json-file"}}, "A": null});
    let mini = serde_json::json!({"HostConfig": {}, "A": []});
    assert_eq!(
        differences("container", &docker, &mini),
        [
            "container .A: docker null / mini-docker array",
            "container .HostConfig.LogConfig: docker object / mini-docker absent",
            "container .HostConfig.LogConfig.Type: docker string / mini-docker absent",
        ]
    );
}
