//! The Engine API endpoints of networks and volumes (v1.41), routed into
//! [`super::api::router`].

use super::{ApiError, Engine};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Q = Query<HashMap<String, String>>;
type Eng = State<Arc<Engine>>;

/// The routes: `/networks…` and `/volumes…`.
pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/networks", get(network_list))
        .route("/networks/create", post(network_create))
        .route("/networks/prune", post(network_prune))
        .route("/networks/:id", get(network_inspect).delete(network_remove))
        .route("/networks/:id/connect", post(network_connect))
        .route("/networks/:id/disconnect", post(network_disconnect))
        .route("/volumes", get(volume_list))
        .route("/volumes/create", post(volume_create))
        .route("/volumes/prune", post(volume_prune))
        .route("/volumes/:name", get(volume_inspect).delete(volume_remove))
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

async fn network_list(State(e): Eng, Query(q): Q) -> Result<Json<Value>, ApiError> {
    let f = super::filters::Filters::from_query(&q)?;
    Ok(Json(e.network_list(&f)?))
}

async fn network_create(State(e): Eng, body: Bytes) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let out = blocking(move || e.network_create(&v)).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn network_inspect(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(e.network_inspect(&id)?))
}

async fn network_remove(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(move || e.network_remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn network_connect(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let v = body_json(&body)?;
    blocking(move || e.network_connect(&id, &v)).await?;
    Ok(StatusCode::OK)
}

async fn network_disconnect(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let v = body_json(&body)?;
    blocking(move || e.network_disconnect(&id, &v)).await?;
    Ok(StatusCode::OK)
}

async fn network_prune(State(e): Eng) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || Ok(e.network_prune())).await?))
}

async fn volume_list(State(e): Eng, Query(q): Q) -> Result<Json<Value>, ApiError> {
    let f = super::filters::Filters::from_query(&q)?;
    Ok(Json(e.volume_list(&f)?))
}

async fn volume_create(State(e): Eng, body: Bytes) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let out = blocking(move || e.volume_create(&v)).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn volume_inspect(
    State(e): Eng,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(e.volume_inspect(&name)?))
}

async fn volume_remove(
    State(e): Eng,
    UrlPath(name): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let force = matches!(q.get("force").map(String::as_str), Some("1" | "true"));
    blocking(move || e.volume_remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn volume_prune(State(e): Eng) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || Ok(e.volume_prune())).await?))
}
