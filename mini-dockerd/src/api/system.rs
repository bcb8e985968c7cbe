//! The system router: `/_ping`, `/version`, `/info`, `/system/df`, `/auth`,
//! `/build/prune` (the answers come from [`crate::system`]), and `/events`
//! (from the engine's [`crate::state::EventBus`]).
//!
//! The handlers call a [`SystemBackend`]: the calls this router makes, and
//! no other (moby's `router/system/backend.go`).

use super::{blocking, ApiError};
use crate::Engine;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;

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
    /// `GET /events`: the kept events of the window and a live stream of
    /// the later ones, taken together (none lost or sent twice).
    fn events_subscribe(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> (
        Vec<crate::state::Event>,
        tokio::sync::broadcast::Receiver<crate::state::Event>,
    );
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
        .route("/events", get(events::<Engine>))
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

/// `since`/`until` of `/events`: Unix seconds with an optional fraction, as
/// the docker CLI sends them (`1700000000.000000000`), or an RFC 3339 date.
/// Absent or empty: open. In nanoseconds since the epoch.
fn event_time(
    q: &std::collections::HashMap<String, String>,
    key: &str,
) -> Result<Option<i64>, ApiError> {
    let Some(v) = q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.trim_start_matches('0')
        .trim_start_matches('.')
        .trim_start_matches('0')
        .is_empty()
    {
        return Ok(Some(0));
    }
    mini_docker_api::time::parse_unix_time(v)
        .or_else(|| mini_docker_api::time::parse_rfc3339(v))
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad(format!(
                "invalid value for {key}: {v:?}: give Unix seconds (1700000000.5) or an RFC 3339 date"
            ))
        })
}

/// `GET /events`: the kept events of the window `since`..`until` that pass
/// `filters`, then the live ones, one JSON object per line, until `until`
/// (or the client hangs up). An `until` in the past sends the kept ones and
/// ends, as dockerd does. The headers go out at once, before any event, so
/// a client knows it is subscribed.
async fn events<B: SystemBackend>(
    State(e): Backend<B>,
    Query(q): super::Q,
) -> Result<Response, ApiError> {
    use tokio::sync::broadcast::error::RecvError;
    let since = event_time(&q, "since")?;
    let until = event_time(&q, "until")?;
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            return Err(ApiError::bad(format!(
                "`since` time ({}) cannot be after `until` time ({})",
                q["since"], q["until"]
            )));
        }
    }
    let filter = crate::state::EventFilter::new(crate::filters::Filters::from_query(&q)?)?;
    let (past, mut live) = e.events_subscribe(since, until);
    let now = mini_docker_api::time::now_nanos();
    let only_past = until.is_some_and(|u| u < now);
    let (tx, rx) = mpsc::channel::<Vec<u8>>(64);
    let line = |ev: &crate::state::Event| {
        let mut b = serde_json::to_vec(ev).unwrap_or_default();
        b.push(b'\n');
        b
    };
    tokio::spawn(async move {
        for ev in past.iter().filter(|ev| filter.matches(ev)) {
            if tx.send(line(ev)).await.is_err() {
                return;
            }
        }
        if only_past {
            return;
        }
        let deadline = until.map(|u| {
            let wait = u64::try_from(u - now).unwrap_or(0);
            tokio::time::Instant::now() + std::time::Duration::from_nanos(wait)
        });
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timeout);
        loop {
            tokio::select! {
                got = live.recv() => match got {
                    Ok(ev) if filter.matches(&ev) => {
                        if tx.send(line(&ev)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = &mut timeout => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        super::channel_body(rx),
    )
        .into_response())
}
