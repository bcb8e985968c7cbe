//! # Hardening: the small defences the engine adds around its state and API
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
            assert_eq!(e.status, 400, "{bad}");
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
