//! The system router: `/_ping`, `/version`, `/info`, `/system/df`, `/auth`,
//! `/build/prune` (the answers come from [`crate::system`]).

use super::{blocking, ApiError, Eng};
use crate::Engine;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/system/df", get(disk_usage))
        .route("/auth", post(auth))
        .route("/build/prune", post(prune_build))
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

async fn version(State(e): Eng) -> Json<Value> {
    Json(e.version())
}

async fn info(State(e): Eng) -> Json<Value> {
    Json(e.info())
}

async fn auth(State(e): Eng, body: Bytes) -> Result<Json<Value>, ApiError> {
    Ok(Json(crate::auth::login(&e.registry, &body).await?))
}

async fn disk_usage(State(e): Eng) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || Ok(e.disk_usage())).await?))
}

/// `docker builder prune`: forgets the build cache (the images stay).
async fn prune_build(State(e): Eng) -> Json<Value> {
    let deleted = crate::builder::prune_cache(&e.opts.root);
    Json(json!({"CachesDeleted": deleted, "SpaceReclaimed": 0}))
}
