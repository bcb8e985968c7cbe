//! `GET /distribution/{name}/json`: what the registry says about an image,
//! without pulling it (`docker-py`'s `images.get_registry_data`, the
//! daemon side of `docker service create`'s digest pinning).
//!
//! As dockerd: the daemon asks the registry itself, with the request's
//! `X-Registry-Auth` credentials (sent to that registry only), for the
//! manifest of the reference (`GET /v2/<repo>/manifests/<tag>` with the
//! manifest media types in `Accept`). The answer names the top document
//! (`Descriptor`: its media type, digest and size, the digest computed from
//! the bytes) and the platforms it serves: an index lists them in its
//! `manifests[].platform`; a single manifest's platform is in its config
//! blob (`architecture`, `os`, `variant`), fetched and checked against its
//! digest.

use super::auth::{client_for, AuthConfig};
use super::errors::chain;
use super::{ApiError, Engine};
use axum::extract::{Path as UrlPath, Request, State};
use axum::Json;
use futures_util::future::BoxFuture;
use registry::Reference;
use serde_json::{json, Value};

/// The platform object Docker returns, from an OCI/Docker platform.
fn platform(p: &Value) -> Value {
    let mut out = json!({
        "architecture": p["architecture"].as_str().unwrap_or(""),
        "os": p["os"].as_str().unwrap_or(""),
    });
    for k in ["os.version", "variant"] {
        if let Some(v) = p[k].as_str().filter(|v| !v.is_empty()) {
            out[k] = json!(v);
        }
    }
    if let Some(f) = p["os.features"].as_array() {
        out["os.features"] = json!(f);
    }
    out
}

/// The call the distribution route makes (moby's `distribution.Backend`);
/// the engine's is [`Engine::distribution_inspect`], the router's unit test
/// uses [`crate::api::fake`].
pub trait DistributionBackend: Send + Sync + 'static {
    /// What the registry says about `r` (`name` as the client wrote it),
    /// asked with `auth`: `{Descriptor, Platforms}`.
    fn distribution_inspect<'a>(
        &'a self,
        name: &'a str,
        r: Reference,
        auth: Option<AuthConfig>,
    ) -> BoxFuture<'a, Result<Value, ApiError>>;
}

/// The backend the handler is given.
type Backend<B> = State<std::sync::Arc<B>>;

/// `GET /distribution/{name}/json`: the request parsed into a reference
/// and credentials, then one call.
pub(super) async fn inspect<B: DistributionBackend>(
    State(e): Backend<B>,
    UrlPath(rest): UrlPath<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let name = rest
        .trim_start_matches('/')
        .strip_suffix("/json")
        .ok_or_else(|| ApiError::not_found("page not found: use /distribution/{name}/json"))?;
    let auth = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(AuthConfig::from_header);
    let mut r = Reference::parse(name)
        .map_err(|err| ApiError::bad(format!("invalid reference format: {err}")))?;
    if r.tag.is_none() && r.digest.is_none() {
        r.tag = Some("latest".into());
    }
    Ok(Json(e.distribution_inspect(name, r, auth).await?))
}

impl Engine {
    /// `GET /distribution/{name}/json`, once parsed: the manifest of `r`
    /// from its registry, and the platforms it serves.
    pub async fn distribution_inspect(
        &self,
        name: &str,
        r: Reference,
        auth: Option<AuthConfig>,
    ) -> Result<Value, ApiError> {
        let denied = |err: registry::client::ClientError| {
            if super::auth::is_auth_failure(&err) {
                ApiError::unauthorized(format!("{}: access denied: {}", r.familiar(), chain(&err)))
            } else if matches!(err.code(), Some("MANIFEST_UNKNOWN" | "NAME_UNKNOWN")) {
                ApiError::not_found(format!(
                    "{}: manifest unknown: {}",
                    r.familiar(),
                    chain(&err)
                ))
            } else {
                ApiError::internal(format!(
                    "inspect {} in its registry: {}",
                    r.familiar(),
                    chain(&err)
                ))
            }
        };
        let client = client_for(&self.registry, &r.registry, auth.as_ref());
        let ep = client.endpoint(&r.registry).map_err(denied)?;
        let (digest, media_type, bytes) = client
            .get_manifest(&ep, &r.repository, &r.manifest_ref(), r.digest.as_ref())
            .await
            .map_err(denied)?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|err| {
            ApiError::internal(format!("the manifest of {name} is not JSON: {err}"))
        })?;
        let media_type = if media_type.is_empty() {
            doc["mediaType"].as_str().unwrap_or("").to_string()
        } else {
            media_type
        };
        let platforms: Vec<Value> = if let Some(list) = doc["manifests"].as_array() {
            list.iter()
                .filter(|m| m["platform"].is_object())
                .map(|m| platform(&m["platform"]))
                .collect()
        } else {
            let cfg = doc["config"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let scope = format!("repository:{}:pull", r.repository);
            let url = ep.url(&format!("{}/blobs/{cfg}", r.repository));
            let resp = client
                .send(&ep, &scope, |c| c.get(url.clone()))
                .await
                .map_err(denied)?;
            let status = resp.status();
            let body = resp.bytes().await.map_err(|err| {
                ApiError::internal(format!("read the config blob {cfg}: {}", chain(&err)))
            })?;
            if !status.is_success() {
                return Err(ApiError::internal(format!(
                    "get the config blob {cfg} of {name}: HTTP {status}"
                )));
            }
            if images::digest::sha256(&body).to_string() != cfg {
                return Err(ApiError::internal(format!(
                    "the config blob of {name} does not match its digest {cfg}"
                )));
            }
            let config: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            vec![platform(&config)]
        };
        Ok(json!({
            "Descriptor": {
                "mediaType": media_type,
                "digest": digest.to_string(),
                "size": bytes.len(),
            },
            "Platforms": platforms,
        }))
    }
}

#[cfg(test)]
mod tests {
    //! The route against a fake backend: parsing, then one call.
    use super::*;
    use crate::api::fake::{send, Fake};
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_route_parses_the_reference_then_calls_the_backend() {
        let fake = Arc::new(Fake::default());
        let app = Router::new()
            .route("/distribution/*name", get(inspect::<Fake>))
            .with_state(fake.clone());
        let (s, _) = send(&app, "GET", "/distribution/busybox/json", "").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = send(&app, "GET", "/distribution/busybox", "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = send(&app, "GET", "/distribution/UPPER/json", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(
            fake.calls(),
            ["distribution busybox library/busybox:latest auth=false"]
        );
    }
}
