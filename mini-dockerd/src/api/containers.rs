//! The containers router: `/containers/…` and `/commit` (attach, exec and
//! resize are in `hijack`; pause, update and export in `lifecycle`).

use super::{blocking, channel_body, flag, param, ApiError, ClientGone, Eng, Q};
use crate::logs::{self, LogOptions};
use crate::Engine;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

pub(super) fn routes() -> Router<Arc<Engine>> {
    use crate::{hijack, lifecycle};
    Router::new()
        .route("/containers/create", post(create))
        .route("/containers/json", get(list))
        .route("/containers/prune", post(prune_containers))
        .route("/containers/:id/json", get(inspect))
        .route("/containers/:id/start", post(start))
        .route("/containers/:id/stop", post(stop))
        .route("/containers/:id/kill", post(kill))
        .route("/containers/:id/wait", post(wait))
        .route("/containers/:id/logs", get(logs_handler))
        .route("/containers/:id/attach", post(hijack::attach))
        .route("/containers/:id/resize", post(hijack::resize))
        .route("/containers/:id/exec", post(hijack::exec_create))
        .route("/exec/:id/start", post(hijack::exec_start))
        .route("/exec/:id/resize", post(hijack::exec_resize))
        .route("/exec/:id/json", get(hijack::exec_inspect))
        .route("/containers/:id", delete(remove))
        .route("/containers/:id/restart", post(restart))
        .route("/containers/:id/pause", post(lifecycle::pause))
        .route("/containers/:id/unpause", post(lifecycle::unpause))
        .route("/containers/:id/update", post(lifecycle::update))
        .route("/containers/:id/export", get(lifecycle::export))
        .route("/containers/:id/rename", post(rename))
        .route("/containers/:id/top", get(top))
        .route("/commit", post(commit))
}

async fn create(State(e): Eng, Query(q): Q, body: Bytes) -> Result<Response, ApiError> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad(format!("invalid JSON: {err}")))?;
    crate::safeguards::check_create_body(&v)?;
    let name = q.get("name").cloned();
    let warnings = crate::resources::warnings(&v);
    // hyper drops this future when the client's connection closes; the
    // guard then tells the blocking unpack to stop.
    let gone = ClientGone::default();
    let cancel = Some(gone.flag());
    let id = blocking(move || e.create_cancellable(name.as_deref(), &v, cancel)).await?;
    drop(gone);
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": id, "Warnings": warnings})),
    )
        .into_response())
}

/// `GET /containers/json`: the engine filters ([`crate::filters`]).
async fn list(State(e): Eng, Query(q): Q) -> Result<Response, ApiError> {
    let f = crate::filters::Filters::from_query(&q)?;
    let body = e.list_containers(flag(&q, "all"), &f)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn inspect(State(e): Eng, UrlPath(id): UrlPath<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(e.find(&id)?.inspect(&e.opts.root)))
}

async fn start(State(e): Eng, UrlPath(id): UrlPath<String>) -> Result<StatusCode, ApiError> {
    e.user_started(&id);
    blocking(move || e.start(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stop(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let t = param(&q, "t")?;
    e.stop(&id, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kill(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    e.kill(&id, q.get("signal").map(String::as_str).unwrap_or("KILL"))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn wait(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let c = e.find(&id)?;
    // Absent or empty (the 20.10 CLI sends `condition=`) means not-running, as in Docker.
    let cond = q
        .get("condition")
        .filter(|c| !c.is_empty())
        .cloned()
        .unwrap_or_else(|| "not-running".into());
    if !matches!(cond.as_str(), "not-running" | "next-exit" | "removed") {
        return Err(ApiError::bad(format!("invalid condition: {cond}")));
    }
    // Headers now, the body at the exit (the CLI starts the container meanwhile).
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let code = e.wait(&c.id, &cond).await.unwrap_or(-1);
        let _ = tx
            .send(Bytes::from(format!(
                "{}\n",
                json!({"StatusCode": code, "Error": null})
            )))
            .await;
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        channel_body(rx),
    )
        .into_response())
}

async fn remove(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let (force, volumes) = (flag(&q, "force"), flag(&q, "v"));
    blocking(move || e.remove_with_volumes(&id, force, volumes)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let t = param(&q, "t")?;
    e.restart(&id, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rename(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let name = q.get("name").cloned().unwrap_or_default();
    e.rename(&id, &name)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn top(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Json<Value>, ApiError> {
    let args = q.get("ps_args").cloned().unwrap_or_default();
    let root = std::path::Path::new(crate::manage::CGROUP_ROOT);
    Ok(Json(blocking(move || e.top(&id, &args, root)).await?))
}

async fn prune_containers(State(e): Eng) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || e.prune_containers()).await?))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=`.
async fn commit(State(e): Eng, req: Request) -> Result<Response, ApiError> {
    let o = crate::commit::CommitOptions::from_query(req.uri().query().unwrap_or(""));
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|x| ApiError::bad(x.to_string()))?;
    let id = blocking(move || crate::commit::commit(&e, &o, &body)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}

/// `GET /containers/{id}/logs?stdout=&stderr=&tail=&since=&until=&timestamps=&follow=`.
async fn logs_handler(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    // `tail=all` (or anything not a number) means every line, as in Docker.
    let o = LogOptions {
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        tail: q.get("tail").and_then(|t| t.parse().ok()),
        timestamps: flag(&q, "timestamps"),
        since: q.get("since").and_then(|t| logs::parse_unix_time(t)),
        until: q.get("until").and_then(|t| logs::parse_unix_time(t)),
        tty: false,
    };
    let rx = e.logs(&id, o, flag(&q, "follow"))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/vnd.docker.multiplexed-stream",
        )],
        channel_body(rx),
    )
        .into_response())
}
