//! The system router: `/_ping`, `/version`, `/info`, `/system/df`, `/auth`,
//! `/build/prune` (the answers come from [`crate::system`]).
//!
//! The handlers call a [`SystemBackend`]: the calls this router makes, and
//! no other (moby's `router/system/backend.go`).

use super::{blocking, ApiError};
use crate::Engine;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;

/// The calls the system router makes (moby's `system.Backend`).
pub trait SystemBackend: Send + Sync + 'static {
    /// `GET /version`.
    fn system_version(&self) -> Value;
    /// `GET /info`.
    fn system_info(&self) -> Value;
    /// `GET /system/df` (blocking: it walks the data root).
    fn system_disk_usage(&self) -> Value;
    /// `POST /auth`: checks the credentials in `body` with their registry.
    fn system_login(
        self: Arc<Self>,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Value, ApiError>> + Send;
    /// `POST /build/prune`: forgets the build cache; what it deleted.
    fn build_cache_prune(&self) -> Vec<String>;
}

/// The backend the handlers are given.
type Backend<B> = State<Arc<B>>;

pub(super) fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version::<Engine>))
        .route("/info", get(info::<Engine>))
        .route("/system/df", get(disk_usage::<Engine>))
        .route("/auth", post(auth::<Engine>))
        .route("/build/prune", post(prune_build::<Engine>))
}

async fn ping() -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
        ],
        "OK",
    )
        .into_response()
}

async fn version<B: SystemBackend>(State(e): Backend<B>) -> Json<Value> {
    Json(e.system_version())
}

async fn info<B: SystemBackend>(State(e): Backend<B>) -> Json<Value> {
    Json(e.system_info())
}

async fn auth<B: SystemBackend>(
    State(e): Backend<B>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(e.system_login(body.to_vec()).await?))
}

async fn disk_usage<B: SystemBackend>(State(e): Backend<B>) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || Ok(e.system_disk_usage())).await?))
}

/// `docker builder prune`: forgets the build cache (the images stay).
async fn prune_build<B: SystemBackend>(State(e): Backend<B>) -> Json<Value> {
    let deleted = e.build_cache_prune();
    Json(json!({"CachesDeleted": deleted, "SpaceReclaimed": 0}))
}
