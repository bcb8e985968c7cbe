//! # Safeguards: the small defences the engine adds around its state and API
//!
//! - The data root is `0710` (as Docker's `/var/lib/docker`) and each
//!   container's directory `0700`: another user of the host can neither
//!   list nor traverse into a container's root filesystem.
//! - Every API error is JSON `{"message": …}`, also the ones the HTTP
//!   layer makes itself (a body over the limit, a query that does not
//!   parse), so the docker CLI prints them as it prints Docker's.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `chmod 0700 DIR`: the daemon's alone.
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// How much of an error body the JSON wrapper reads.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Turns an error the HTTP layer made itself (plain text: a body over the
/// limit, a query or path that does not decode, a wrong method) into
/// Docker's `{"message": …}`, so every 4xx and 5xx the API answers is JSON.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.starts_with("application/json"))
        .unwrap_or(false);
    if status.as_u16() < 400 || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, ERROR_BODY_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let body = serde_json::json!({ "message": message }).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        tracing::warn!("refused a request body over the API limit");
    }
    Response::from_parts(parts, Body::from(body))
}

/// JSON types, as Go's decoder checks them for Docker.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Int,
    Obj,
    /// An array of strings.
    Strs,
    /// An array of strings or one string (`Cmd`, `Entrypoint`).
    StrsOrStr,
    Arr,
}

impl Ty {
    fn fits(self, v: &Value) -> bool {
        let strs = |v: &Value| {
            v.as_array()
                .map(|a| a.iter().all(Value::is_string))
                .unwrap_or(false)
        };
        v.is_null()
            || match self {
                Ty::Str => v.is_string(),
                Ty::Bool => v.is_boolean(),
                Ty::Int => v.is_i64() || v.is_u64(),
                Ty::Obj => v.is_object(),
                Ty::Strs => strs(v),
                Ty::StrsOrStr => v.is_string() || strs(v),
                Ty::Arr => v.is_array(),
            }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::Bool => "a boolean",
            Ty::Int => "an integer",
            Ty::Obj => "an object",
            Ty::Strs => "an array of strings",
            Ty::StrsOrStr => "a string or an array of strings",
            Ty::Arr => "an array",
        }
    }
}

const CONFIG_FIELDS: &[(&str, Ty)] = &[
    ("Hostname", Ty::Str),
    ("Domainname", Ty::Str),
    ("User", Ty::Str),
    ("AttachStdin", Ty::Bool),
    ("AttachStdout", Ty::Bool),
    ("AttachStderr", Ty::Bool),
    ("Tty", Ty::Bool),
    ("OpenStdin", Ty::Bool),
    ("StdinOnce", Ty::Bool),
    ("NetworkDisabled", Ty::Bool),
    ("ExposedPorts", Ty::Obj),
    ("Env", Ty::Strs),
    ("Cmd", Ty::StrsOrStr),
    ("Entrypoint", Ty::StrsOrStr),
    ("Image", Ty::Str),
    ("Volumes", Ty::Obj),
    ("WorkingDir", Ty::Str),
    ("Labels", Ty::Obj),
    ("StopSignal", Ty::Str),
    ("StopTimeout", Ty::Int),
    ("Healthcheck", Ty::Obj),
    ("Shell", Ty::Strs),
    ("MacAddress", Ty::Str),
    ("HostConfig", Ty::Obj),
    ("NetworkingConfig", Ty::Obj),
];

const HOST_CONFIG_FIELDS: &[(&str, Ty)] = &[
    ("Binds", Ty::Strs),
    ("NetworkMode", Ty::Str),
    ("PortBindings", Ty::Obj),
    ("RestartPolicy", Ty::Obj),
    ("AutoRemove", Ty::Bool),
    ("VolumesFrom", Ty::Strs),
    ("Mounts", Ty::Arr),
    ("CapAdd", Ty::Strs),
    ("CapDrop", Ty::Strs),
    ("Dns", Ty::Strs),
    ("DnsOptions", Ty::Strs),
    ("DnsSearch", Ty::Strs),
    ("ExtraHosts", Ty::Strs),
    ("Privileged", Ty::Bool),
    ("PublishAllPorts", Ty::Bool),
    ("ReadonlyRootfs", Ty::Bool),
    ("SecurityOpt", Ty::Strs),
    ("Tmpfs", Ty::Obj),
    ("Sysctls", Ty::Obj),
    ("LogConfig", Ty::Obj),
    ("Memory", Ty::Int),
    ("MemorySwap", Ty::Int),
    ("MemoryReservation", Ty::Int),
    ("NanoCpus", Ty::Int),
    ("CpuShares", Ty::Int),
    ("CpuPeriod", Ty::Int),
    ("CpuQuota", Ty::Int),
    ("PidsLimit", Ty::Int),
    ("Ulimits", Ty::Arr),
    ("ShmSize", Ty::Int),
];

fn check_fields(v: &Value, fields: &[(&str, Ty)], prefix: &str) -> super::Result<()> {
    for (k, ty) in fields {
        if let Some(x) = v.get(*k) {
            if !ty.fits(x) {
                return Err(super::ApiError::bad(format!(
                    "invalid {prefix}{k}: expected {}, got {}",
                    ty.name(),
                    kind(x)
                )));
            }
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `POST /containers/create`: the body is an object whose known fields
/// have Docker's types (Go's decoder refuses `"Memory": "lots"` with a
/// 400, and so do we, before any of it is used). Unknown fields are
/// ignored, as Docker ignores them: newer clients send fields older
/// daemons do not know.
pub fn check_create_body(v: &Value) -> super::Result<()> {
    if !v.is_object() {
        return Err(super::ApiError::bad(format!(
            "invalid container config: expected an object, got {}",
            kind(v)
        )));
    }
    check_fields(v, CONFIG_FIELDS, "")?;
    if let Some(h) = v.get("HostConfig").filter(|h| h.is_object()) {
        check_fields(h, HOST_CONFIG_FIELDS, "HostConfig.")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_bodies_with_wrong_types_are_refused() {
        for bad in [
            json!([]),
            json!("x"),
            json!({"Image": 5}),
            json!({"Image": "bb", "Cmd": {"a": 1}}),
            json!({"Image": "bb", "Env": ["A=1", 2]}),
            json!({"Image": "bb", "HostConfig": "x"}),
            json!({"Image": "bb", "HostConfig": {"Memory": "lots"}}),
            json!({"Image": "bb", "HostConfig": {"Memory": 1.5}}),
            json!({"Image": "bb", "HostConfig": {"Binds": "/:/host"}}),
            json!({"Image": "bb", "Tty": "yes"}),
        ] {
            let e = check_create_body(&bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidParameter, "{bad}");
        }
        for good in [
            json!({"Image": "bb"}),
            json!({"Image": "bb", "Cmd": "echo hi", "Env": null, "HostConfig": null}),
            json!({"Image": "bb", "Cmd": ["echo"], "HostConfig": {"Memory": 0, "Binds": []}}),
            json!({"Image": "bb", "SomethingNew": {"x": 1}}),
        ] {
            check_create_body(&good).unwrap();
        }
        assert_eq!(
            check_create_body(&json!({"Image": "bb", "HostConfig": {"Memory": "lots"}}))
                .unwrap_err()
                .message,
            "invalid HostConfig.Memory: expected an integer, got a string"
        );
    }
}

/// What a crash (SIGKILL, power loss) mid-write leaves behind, removed at
/// startup before anything else runs (no write is in flight then):
///
/// - `ingest/*`: a blob being downloaded or loaded; it never got its
///   digest name, so no image can point at it (chapter 04's temp+rename);
/// - `.tmp*` in the data root: a request body being received (`load`,
///   `import`), an archive being saved, `images.json` being rewritten;
/// - `.ch04-unpacking-*` under `layers/`: a layer half unpacked;
/// - `containers/<id>/` without `container.json`: a `create` cut short
///   (only when nothing is mounted below it).
///
/// Returns the paths removed, for the log.
pub fn clean_partial_writes(root: &Path) -> Vec<std::path::PathBuf> {
    let mut gone = Vec::new();
    let mut remove = |p: std::path::PathBuf| {
        let r = if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        if r.is_ok() {
            gone.push(p);
        }
    };
    let entries = |d: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(d)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for p in entries(&root.join("ingest")) {
        remove(p);
    }
    for p in entries(root) {
        if name_of(&p).starts_with(".tmp") && p.is_file() {
            remove(p);
        }
    }
    let layers = root.join("layers");
    for p in entries(&layers) {
        if name_of(&p).starts_with(".ch04-unpacking-")
            || name_of(&p).starts_with(unionfs::driver::FILLING_PREFIX)
        {
            remove(p);
        } else if p.is_dir() {
            for q in entries(&p) {
                if name_of(&q).starts_with(".ch04-unpacking-") {
                    remove(q);
                }
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for p in entries(&root.join("containers")) {
        if p.join("container.json").exists() {
            continue;
        }
        let prefix = format!("{}/", p.display());
        if mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .any(|m| m.starts_with(&prefix) || Path::new(m) == p)
        {
            continue;
        }
        remove(p);
    }
    gone
}

#[cfg(test)]
mod cleanup_tests {
    use super::*;

    #[test]
    fn partial_writes_go_and_everything_else_stays() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in [
            "ingest",
            "blobs/sha256",
            "layers/abc",
            "containers/full",
            "containers/half",
        ] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(r.join("ingest/.ingest-x1"), b"partial").unwrap();
        std::fs::write(r.join(".tmpAbC"), b"half a body").unwrap();
        std::fs::write(r.join("images.json"), b"{}").unwrap();
        std::fs::write(r.join("blobs/sha256/00"), b"blob").unwrap();
        std::fs::create_dir_all(r.join("layers/.ch04-unpacking-1/usr")).unwrap();
        std::fs::create_dir_all(r.join("layers/abc/.ch04-unpacking-2")).unwrap();
        std::fs::create_dir_all(r.join("layers/.ch03-filling-abc-1-0/diff")).unwrap();
        std::fs::write(r.join("containers/full/container.json"), b"{}").unwrap();
        let gone = clean_partial_writes(r);
        assert_eq!(gone.len(), 6, "{gone:?}");
        for p in [
            "ingest/.ingest-x1",
            ".tmpAbC",
            "layers/.ch04-unpacking-1",
            "layers/abc/.ch04-unpacking-2",
            "layers/.ch03-filling-abc-1-0",
            "containers/half",
        ] {
            assert!(!r.join(p).exists(), "{p}");
        }
        for p in [
            "ingest",
            "images.json",
            "blobs/sha256/00",
            "layers/abc",
            "containers/full/container.json",
        ] {
            assert!(r.join(p).exists(), "{p}");
        }
    }
}

/// A new random container name after `tries` collisions: Docker's
/// adjective_name, then with a number appended (its generator has only a
/// few hundred pairs, so 50 concurrent `run`s collide often).
pub fn another_name(tries: u32) -> String {
    if tries < 3 {
        super::util::random_name()
    } else {
        format!(
            "{}{}",
            super::util::random_name(),
            rand::random::<u32>() % 10u32.pow(tries.min(9))
        )
    }
}

/// Free bytes under which the data root counts as full.
const FULL_BELOW: u64 = 1 << 20;

/// When the filesystem of `root` is full, what to add to a failed step's
/// error: on a full disk the step's own complaint (`dd: error writing
/// '/big': No space left on device`) may be lost, as its log file lives
/// on the same disk. Read before the step's layer is removed (which frees
/// the space again).
pub fn full_disk_note(root: &Path) -> String {
    match nix::sys::statvfs::statvfs(root) {
        Ok(s) if s.blocks_available().saturating_mul(s.fragment_size()) < FULL_BELOW => {
            format!(
                " (no space left on device: the data root {} is full; free some space and try again)",
                root.display()
            )
        }
        _ => String::new(),
    }
}
