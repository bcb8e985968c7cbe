//! Issue 14, hostile API input: malformed JSON, wrong types, huge bodies,
//! unknown fields, path traversal in names and ids, invalid references.
//! Each is a 4xx with a JSON `{"message": …}`, nothing is made on disk,
//! and the daemon goes on serving. Privileged: fails (never skips) without root.

use e2e::*;
use std::io::{Read, Write};

/// One raw request: (status, content type, body with chunking undone).
fn raw(d: &Daemon, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    let r = d.raw(method, path, &[("Content-Type", "application/json")], body);
    let ctype = r.header("content-type");
    (r.status, ctype, r.body)
}

/// Asserts a 4xx with Docker's JSON error; returns the message.
#[track_caller]
fn refused(d: &Daemon, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, ctype, text) = raw(d, method, path, body);
    assert!(
        (400..500).contains(&status),
        "{method} {path}: {status} {text}"
    );
    assert!(
        ctype.starts_with("application/json"),
        "{method} {path}: {status} {ctype} {text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text:?}"));
    let m = v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path}: no message in {text}"));
    assert!(!m.is_empty(), "{method} {path}: an empty message");
    (status, m.to_string())
}

fn still_serving(d: &Daemon) {
    let (status, _, body) = raw(d, "GET", "/_ping", b"");
    assert_eq!((status, body.as_str()), (200, "OK"));
}

#[test]
fn malformed_and_mistyped_bodies_are_400_json() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let create = "/v1.41/containers/create";
    for body in [
        &b"{"[..],
        b"not json at all",
        b"\xff\xfe\x00garbage",
        b"[1,2,3]",
        b"\"just a string\"",
        br#"{"Image": 5}"#,
        br#"{"Image": "bb", "Cmd": {"a": 1}}"#,
        br#"{"Image": "bb", "Env": ["A=1", 2]}"#,
        br#"{"Image": "bb", "HostConfig": "x"}"#,
        br#"{"Image": "bb", "HostConfig": {"Memory": "lots"}}"#,
        br#"{"Image": "bb", "HostConfig": {"Binds": "/:/host"}}"#,
        br#"{"Image": "bb", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}}"#,
        br#"{"Image": "bb", "HostConfig": {"NetworkMode": "container:../../x"}}"#,
        br#"{"Image": "bb", "Volumes": {"/../..": {}}}"#,
        br#"{"Image": "bb", "Volumes": {"": {}}}"#,
        br#"{"Image": "bb", "HostConfig": {"Binds": ["/proc/self/fd/3:/x"]}}"#,
        br#"{"Image": "bb", "WorkingDir": "relative/dir"}"#,
    ] {
        let (status, m) = refused(&d, "POST", create, body);
        assert_eq!(status, 400, "{}: {m}", String::from_utf8_lossy(body));
    }
    // Other JSON endpoints too.
    refused(&d, "POST", "/v1.41/volumes/create", b"{");
    refused(&d, "POST", "/v1.41/networks/create", b"[]");
    refused(&d, "POST", "/v1.41/auth", b"{\"username\": 1}");
    // Nothing was made.
    assert!(d.ids().is_empty());
    still_serving(&d);
}

#[test]
fn unknown_fields_are_ignored_as_docker_does() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // A newer client's fields: Docker's Go decoder ignores them, so do we.
    let (status, _, body) = raw(
        &d,
        "POST",
        "/v1.41/containers/create?name=hd-unknown",
        br#"{"Image": "bb", "Cmd": ["true"], "FutureField": {"x": [1, 2]}, "HostConfig": {"Whatever": true}}"#,
    );
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Id"].as_str().unwrap().len(), 64);
    d.ok(&["rm", "hd-unknown"]);
}

#[test]
fn a_huge_body_is_413_json_and_the_daemon_keeps_serving() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let mut big = br#"{"Image": "bb", "Env": [""#.to_vec();
    big.extend(std::iter::repeat_n(b'A', 3 << 20));
    big.extend(br#""]}"#);
    let (status, m) = refused(&d, "POST", "/v1.41/containers/create", &big);
    assert_eq!(status, 413, "{m}");
    assert!(d.ids().is_empty());
    still_serving(&d);
    // Garbage that is not even HTTP: the connection is dropped, nothing else.
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    s.write_all(b"\x00\x01\x02 NOT HTTP\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    still_serving(&d);
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "bb", "echo", "alive"]),
        "alive\n"
    );
}

#[test]
fn path_traversal_in_names_and_ids_is_refused() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // A victim outside the data root that a traversal would reach.
    let victim = d.dir.path().join("victim");
    std::fs::create_dir_all(victim.join("_data")).unwrap();
    std::fs::write(victim.join("volume.json"), r#"{"created": 0}"#).unwrap();
    std::fs::write(victim.join("_data/keep"), "precious").unwrap();
    let up = "..%2F..%2Fvictim";
    let dotted = "%2e%2e%2f%2e%2e%2fvictim";
    for p in [up, dotted] {
        refused(&d, "GET", &format!("/v1.41/volumes/{p}"), b"");
        let (status, m) = refused(&d, "DELETE", &format!("/v1.41/volumes/{p}"), b"");
        assert_eq!(status, 404, "{m}");
        // With force a missing volume is no error (as Docker): still nothing removed.
        raw(&d, "DELETE", &format!("/v1.41/volumes/{p}?force=1"), b"");
        refused(&d, "GET", &format!("/v1.41/containers/{p}/json"), b"");
        refused(&d, "DELETE", &format!("/v1.41/containers/{p}?force=1"), b"");
        refused(&d, "GET", &format!("/v1.41/networks/{p}"), b"");
        refused(&d, "GET", &format!("/v1.41/images/{p}/json"), b"");
        refused(&d, "DELETE", &format!("/v1.41/images/{p}"), b"");
        refused(&d, "GET", &format!("/v1.41/exec/{p}/json"), b"");
    }
    assert_eq!(
        std::fs::read_to_string(victim.join("_data/keep")).unwrap(),
        "precious"
    );
    // Names that would be paths.
    for name in ["..", "../x", "%2e%2e", "a%2Fb", "%2Fetc", "x%00y"] {
        let (status, m) = refused(
            &d,
            "POST",
            &format!("/v1.41/containers/create?name={name}"),
            br#"{"Image": "bb"}"#,
        );
        assert_eq!(status, 400, "name {name}: {m}");
    }
    for name in ["../x", "..", "a/b", "/abs"] {
        let body = serde_json::json!({ "Name": name }).to_string();
        refused(&d, "POST", "/v1.41/volumes/create", body.as_bytes());
        let body = serde_json::json!({ "Name": name, "CheckDuplicate": true }).to_string();
        refused(&d, "POST", "/v1.41/networks/create", body.as_bytes());
    }
    let ls = std::fs::read_dir(d.data_root().join("volumes"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(ls, 0, "no volume directory was made");
    assert!(d.ids().is_empty());
    still_serving(&d);
}

#[test]
fn invalid_references_are_refused() {
    let d = Daemon::start();
    d.import_busybox("bb");
    for r in [
        "UPPER/case",
        "bb@sha256:..%2F..%2Fx",
        "bb@sha256:abc",
        "bb%20with%20space",
        "..%2F..%2Fetc",
        "-leading-dash",
        "127.0.0.1:5000/x@sha256:..%2F..%2F..%2Fetc%2Fpasswd",
    ] {
        let (status, m) = refused(
            &d,
            "POST",
            &format!("/v1.41/images/create?fromImage={r}&tag="),
            b"",
        );
        assert!(status == 400 || status == 404, "{r}: {status} {m}");
    }
    for (repo, tag) in [
        ("UPPER", "x"),
        ("ok", "bad%20tag"),
        ("..%2Fx", "t"),
        ("ok", ".."),
    ] {
        refused(
            &d,
            "POST",
            &format!("/v1.41/images/bb/tag?repo={repo}&tag={tag}"),
            b"",
        );
    }
    for image in ["sha256:../../x", "UPPER", "bb@sha256:../../x", "a b"] {
        let body = serde_json::json!({ "Image": image }).to_string();
        refused(&d, "POST", "/v1.41/containers/create", body.as_bytes());
    }
    // Only bb is listed, and its one tag.
    let images = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "bb:latest");
    // A wrong method (axum's own 405): a JSON error too.
    let (status, _) = refused(&d, "GET", "/v1.41/containers/create", b"");
    assert_eq!(status, 405);
    still_serving(&d);
}
