//! `pull` and `push` through chapter 06's registry client, with Docker's
//! JSON progress messages.
//!
//! Chapter 06 moves the blobs (three at a time, each verified before it
//! enters chapter 04's store) and reports, once done, which blobs it
//! fetched, skipped, pushed or mounted. The daemon turns that report into
//! Docker's progress lines (`{"status":"Pull complete","id":"<layer>"}`).
//! The lines come when the transfer is over, not byte by byte: chapter 06
//! has no progress callback yet, only terminal progress bars.

use super::auth::{client_for, AuthConfig};
use super::{ApiError, Engine};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use registry::Reference;
use serde_json::{json, Value};
use std::sync::Arc;

fn lines(v: Vec<Value>) -> Response {
    let body: String = v.into_iter().map(|l| format!("{l}\r\n")).collect();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Docker's 12-digit short form of a digest (chapter 04's).
fn short(d: &::images::digest::Digest) -> String {
    ::images::digest::short(d)
}

fn parse_ref(image: &str, tag: &str) -> Result<Reference, ApiError> {
    let r = if tag.is_empty() {
        image.to_string()
    } else if tag.starts_with("sha256:") {
        format!("{image}@{tag}")
    } else {
        format!("{image}:{tag}")
    };
    Reference::parse(&r).map_err(|e| ApiError::bad(format!("invalid reference format: {e}")))
}

fn registry_err(what: &str, r: &Reference, e: registry::client::ClientError) -> ApiError {
    let code = e.code().unwrap_or("");
    if matches!(code, "MANIFEST_UNKNOWN" | "NAME_UNKNOWN") {
        return ApiError::not_found(format!(
            "manifest for {} not found: manifest unknown: {e}",
            r.familiar()
        ));
    }
    if matches!(code, "UNAUTHORIZED" | "DENIED") || super::auth::is_auth_failure(&e) {
        return ApiError::not_found(format!(
            "{what} access denied for {}, repository does not exist or may require 'docker login': {e}",
            r.familiar()
        ));
    }
    ApiError::internal(format!("{what} {}: {e}", r.familiar()))
}

/// `POST /images/create?fromImage=&tag=`.
pub async fn pull(
    e: Arc<Engine>,
    image: String,
    tag: String,
    auth: Option<AuthConfig>,
) -> Result<Response, ApiError> {
    let r = parse_ref(&image, &tag)?;
    let r = if r.tag.is_none() && r.digest.is_none() {
        parse_ref(&image, "latest")?
    } else {
        r
    };
    // "Up to date" means the name already pointed at this manifest, as in Docker.
    let before = e
        .images
        .tags()
        .get(&::images::image::normalize_name(&r.familiar()))
        .cloned();
    let report = client_for(&r.registry, auth.as_ref())
        .pull(&r, &e.images.store)
        .await
        .map_err(|err| registry_err("pull", &r, err))?;
    let mut out = vec![json!({
        "status": format!("Pulling from {}", r.repository),
        "id": r.tag.clone().unwrap_or_else(|| "latest".into()),
    })];
    let config = report.config_digest.to_string();
    for d in report.skipped.iter().filter(|d| d.to_string() != config) {
        out.push(json!({"status": "Already exists", "progressDetail": {}, "id": short(d)}));
    }
    for d in report.fetched.iter().filter(|d| d.to_string() != config) {
        out.push(json!({"status": "Pull complete", "progressDetail": {}, "id": short(d)}));
    }
    out.push(json!({"status": format!("Digest: {}", report.digest)}));
    let done = if before.as_deref() == Some(report.digest.to_string().as_str()) {
        "Image is up to date for"
    } else {
        "Downloaded newer image for"
    };
    out.push(json!({"status": format!("Status: {done} {}", r.familiar())}));
    Ok(lines(out))
}

/// `POST /images/{name}/push?tag=`.
pub async fn push(
    e: Arc<Engine>,
    name: String,
    tag: String,
    auth: Option<AuthConfig>,
) -> Result<Response, ApiError> {
    let r = parse_ref(&name, &tag)?;
    let r = if r.tag.is_none() && r.digest.is_none() {
        parse_ref(&name, "latest")?
    } else {
        r
    };
    let local = r.familiar();
    let size = e.images.resolve(&local)?.manifest_size;
    let report = client_for(&r.registry, auth.as_ref())
        .push(&e.images.store, &local, &r, None)
        .await
        .map_err(|err| registry_err("push", &r, err))?;
    let mut out = vec![json!({
        "status": format!("The push refers to repository [{}/{}]", r.registry, r.repository)
    })];
    for d in &report.skipped {
        out.push(json!({"status": "Layer already exists", "progressDetail": {}, "id": short(d)}));
    }
    for d in &report.mounted {
        out.push(json!({"status": format!("Mounted from {}", r.repository), "progressDetail": {}, "id": short(d)}));
    }
    for d in &report.pushed {
        out.push(json!({"status": "Pushed", "progressDetail": {}, "id": short(d)}));
    }
    let digest = report
        .digest
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let tag = r.tag.clone().unwrap_or_default();
    out.push(json!({"status": format!("{tag}: digest: {digest} size: {size}")}));
    out.push(json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}}));
    Ok(lines(out))
}
