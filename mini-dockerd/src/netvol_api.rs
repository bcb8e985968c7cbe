//! The Engine API endpoints of networks and volumes (v1.41), routed into
//! [`super::api::router`].
//!
//! The handlers call a [`NetworkBackend`] and a [`VolumeBackend`]: the calls
//! these routes make, and no other (moby's `router/network/backend.go` and
//! `router/volume/backend.go`). The daemon's `Engine` implements them
//! (`crate::backend`).

use super::filters::Filters;
use super::{ApiError, Engine};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mini_docker_api::bodies::{NetworkConnect, NetworkDisconnect, VolumeCreate};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Q = Query<HashMap<String, String>>;
/// The backend the handlers are given.
type Backend<B> = State<Arc<B>>;
type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The calls the network routes make (moby's `network.Backend`). Bodies
/// arrive as checked JSON; blocking calls are run off the async threads.
pub trait NetworkBackend: Send + Sync + 'static {
    /// `GET /networks`, filtered.
    fn network_list(&self, f: &Filters) -> Result<Value>;
    /// `POST /networks/create` (blocking): `{Id, Warning}`.
    fn network_create(&self, body: &Value) -> Result<Value>;
    /// `GET /networks/{id}`.
    fn network_inspect(&self, key: &str) -> Result<Value>;
    /// `DELETE /networks/{id}` (blocking).
    fn network_remove(&self, key: &str) -> Result<()>;
    /// `POST /networks/{id}/connect` (blocking).
    fn network_connect(&self, key: &str, body: &NetworkConnect) -> Result<()>;
    /// `POST /networks/{id}/disconnect` (blocking).
    fn network_disconnect(&self, key: &str, body: &NetworkDisconnect) -> Result<()>;
    /// `POST /networks/prune` (blocking).
    fn network_prune(&self) -> Value;
}

/// The calls the volume routes make (moby's `volume.Backend`).
pub trait VolumeBackend: Send + Sync + 'static {
    /// `GET /volumes`, filtered.
    fn volume_list(&self, f: &Filters) -> Result<Value>;
    /// `POST /volumes/create` (blocking).
    fn volume_create(&self, body: &VolumeCreate) -> Result<Value>;
    /// `GET /volumes/{name}`.
    fn volume_inspect(&self, name: &str) -> Result<Value>;
    /// `DELETE /volumes/{name}?force=` (blocking).
    fn volume_remove(&self, name: &str, force: bool) -> Result<()>;
    /// `POST /volumes/prune` (blocking).
    fn volume_prune(&self) -> Value;
}

/// The routes: `/networks…` and `/volumes…`.
pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/networks", get(network_list::<Engine>))
        .route("/networks/create", post(network_create::<Engine>))
        .route("/networks/prune", post(network_prune::<Engine>))
        .route(
            "/networks/:id",
            get(network_inspect::<Engine>).delete(network_remove::<Engine>),
        )
        .route("/networks/:id/connect", post(network_connect::<Engine>))
        .route(
            "/networks/:id/disconnect",
            post(network_disconnect::<Engine>),
        )
        .route("/volumes", get(volume_list::<Engine>))
        .route("/volumes/create", post(volume_create::<Engine>))
        .route("/volumes/prune", post(volume_prune::<Engine>))
        .route(
            "/volumes/:name",
            get(volume_inspect::<Engine>).delete(volume_remove::<Engine>),
        )
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("invalid JSON: {}", crate::errors::chain(&e))))
}

async fn network_list<B: NetworkBackend>(
    State(e): Backend<B>,
    Query(q): Q,
) -> Result<Json<Value>, ApiError> {
    let f = Filters::from_query(&q)?;
    Ok(Json(e.network_list(&f)?))
}

async fn network_create<B: NetworkBackend>(
    State(e): Backend<B>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let out = blocking(move || e.network_create(&v)).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn network_inspect<B: NetworkBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(e.network_inspect(&id)?))
}

async fn network_remove<B: NetworkBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(move || e.network_remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn network_connect<B: NetworkBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: NetworkConnect = crate::api::typed_body(&body)?;
    if let Some(ep) = &body.endpoint_config {
        crate::resources::check_endpoint("EndpointConfig", ep)?;
    }
    blocking(move || e.network_connect(&id, &body)).await?;
    Ok(StatusCode::OK)
}

async fn network_disconnect<B: NetworkBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: NetworkDisconnect = crate::api::typed_body(&body)?;
    blocking(move || e.network_disconnect(&id, &body)).await?;
    Ok(StatusCode::OK)
}

async fn network_prune<B: NetworkBackend>(State(e): Backend<B>) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || Ok(e.network_prune())).await?))
}

async fn volume_list<B: VolumeBackend>(
    State(e): Backend<B>,
    Query(q): Q,
) -> Result<Json<Value>, ApiError> {
    let f = Filters::from_query(&q)?;
    Ok(Json(e.volume_list(&f)?))
}

async fn volume_create<B: VolumeBackend>(
    State(e): Backend<B>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v: VolumeCreate = super::api::typed_body(&body)?;
    let out = blocking(move || e.volume_create(&v)).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn volume_inspect<B: VolumeBackend>(
    State(e): Backend<B>,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(e.volume_inspect(&name)?))
}

async fn volume_remove<B: VolumeBackend>(
    State(e): Backend<B>,
    UrlPath(name): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let force = matches!(q.get("force").map(String::as_str), Some("1" | "true"));
    blocking(move || e.volume_remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn volume_prune<B: VolumeBackend>(State(e): Backend<B>) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || Ok(e.volume_prune())).await?))
}

#[cfg(test)]
mod tests {
    //! The volume routes against a fake backend (no daemon, no root).
    use super::*;
    use crate::api::fake::{send, Fake};

    fn app(fake: Arc<Fake>) -> Router {
        Router::new()
            .route("/volumes", get(volume_list::<Fake>))
            .route("/volumes/create", post(volume_create::<Fake>))
            .route(
                "/volumes/:name",
                get(volume_inspect::<Fake>).delete(volume_remove::<Fake>),
            )
            .with_state(fake)
    }

    #[tokio::test]
    async fn volume_routes_make_typed_calls_and_keep_error_statuses() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone());
        let (s, b) = send(&app, "POST", "/volumes/create", r#"{"Name":"v1"}"#).await;
        assert_eq!((s, b), (StatusCode::CREATED, json!({"Name": "v1"})));
        // An empty body is an empty request (`docker volume create`).
        let (s, _) = send(&app, "POST", "/volumes/create", "").await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, b) = send(&app, "POST", "/volumes/create", "{").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            b["message"].as_str().unwrap().starts_with("invalid JSON"),
            "{b}"
        );
        // A field of the wrong type is refused, naming it, before any call.
        let (s, b) = send(&app, "POST", "/volumes/create", r#"{"Labels":"x"}"#).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let m = b["message"].as_str().unwrap();
        assert!(m.starts_with("invalid value for Labels"), "{m}");
        let (s, _) = send(&app, "DELETE", "/volumes/v1?force=true", "").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = send(&app, "GET", "/volumes?filters=%7B", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(
            fake.calls(),
            [
                "volume create \"v1\"",
                "volume create null",
                "volume rm v1 force=true"
            ]
        );
        let app = app_failing(ApiError::conflict("remove v1: volume is in use"));
        let (s, b) = send(&app, "DELETE", "/volumes/v1", "").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(b["message"], "remove v1: volume is in use");
        let app = app_failing(ApiError::not_found("get v2: no such volume"));
        assert_eq!(
            send(&app, "GET", "/volumes/v2", "").await.0,
            StatusCode::NOT_FOUND
        );
    }

    fn app_failing(e: ApiError) -> Router {
        app(Fake::failing(e))
    }

    #[tokio::test]
    async fn connect_and_disconnect_bodies_are_typed() {
        let fake = Arc::new(Fake::default());
        let app = Router::new()
            .route("/networks/:id/connect", post(network_connect::<Fake>))
            .route("/networks/:id/disconnect", post(network_disconnect::<Fake>))
            .with_state(fake.clone());
        let body = r#"{"Container":"web","EndpointConfig":{"Aliases":["db"],"IPAMConfig":null}}"#;
        let (s, _) = send(&app, "POST", "/networks/n1/connect", body).await;
        assert_eq!(s, StatusCode::OK);
        let body = r#"{"Container":"web","Force":true}"#;
        let (s, _) = send(&app, "POST", "/networks/n1/disconnect", body).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            fake.calls(),
            [
                r#"network connect n1 Some("web") aliases=Some(["db"])"#,
                r#"network disconnect n1 Some("web") force=Some(true)"#,
            ]
        );
        // A static address would be ignored: refused by name, before the
        // backend is called.
        let body =
            r#"{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.9.0.9"}}}"#;
        let (s, text) = send(&app, "POST", "/networks/n1/connect", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let m = text["message"].as_str().unwrap_or_default();
        assert!(
            m.contains("EndpointConfig.IPAMConfig is not supported"),
            "{text}"
        );
        assert_eq!(fake.calls().len(), 2);
        // Wrong types: a 400 naming the field, before the backend is called.
        let fake = Arc::new(Fake::default());
        let app = Router::new()
            .route("/networks/:id/connect", post(network_connect::<Fake>))
            .route("/networks/:id/disconnect", post(network_disconnect::<Fake>))
            .with_state(fake.clone());
        for (uri, body, field) in [
            ("/networks/n1/connect", r#"{"Container":5}"#, "Container"),
            (
                "/networks/n1/connect",
                r#"{"Container":"web","EndpointConfig":{"Aliases":"db"}}"#,
                "EndpointConfig.Aliases",
            ),
            ("/networks/n1/disconnect", r#"{"Force":"yes"}"#, "Force"),
        ] {
            let (s, b) = send(&app, "POST", uri, body).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
            let m = b["message"].as_str().unwrap();
            assert!(m.starts_with(&format!("invalid value for {field}")), "{m}");
        }
        let (s, b) = send(&app, "POST", "/networks/n1/connect", "{").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            b["message"].as_str().unwrap().starts_with("invalid JSON"),
            "{b}"
        );
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    }
}
