//! The API handlers of the engine's tools: `cp` (`/containers/{id}/archive`),
//! `diff` (`/containers/{id}/changes`), `stats`, `doctor` (`/mini/doctor`)
//! and `--explain` (`/containers/{id}/explain`). Each is a thin shell over
//! a module of its own ([`super::archive`], …): the work runs on a
//! blocking thread, big bodies stream through a channel.

use super::api::blocking;
use super::archive;
use super::{ApiError, Engine};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

type Q = Query<HashMap<String, String>>;
type Eng = State<Arc<Engine>>;
/// The backend the handlers are given.
type Backend<B> = State<Arc<B>>;

/// The calls the archive, changes and stats routes make (moby's
/// `copyBackend` and `stateBackend`); the engine's are in
/// [`crate::backend`], the routers' unit tests use [`crate::api::fake`].
pub trait ToolsBackend: Send + Sync + 'static {
    /// The container's root, every archive path resolved under it (blocking).
    fn container_root(&self, key: &str) -> Result<archive::ContainerRoot, ApiError>;
    /// `GET /containers/{id}/changes` (blocking).
    fn changes(&self, key: &str) -> Result<serde_json::Value, ApiError>;
    /// One stats sample, measured over `interval` (blocking).
    fn stats(
        &self,
        key: &str,
        interval: std::time::Duration,
    ) -> Result<serde_json::Value, ApiError>;
}

/// A blocking writer feeding a response body.
pub(super) struct ChanWriter(pub(super) mpsc::Sender<Bytes>);

impl std::io::Write for ChanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A blocking reader fed by a request body.
struct ChanReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    buf: Bytes,
}

impl std::io::Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

fn path_param(q: &HashMap<String, String>) -> Result<String, ApiError> {
    match q.get("path") {
        Some(p) if !p.is_empty() => Ok(p.clone()),
        _ => Err(ApiError::bad("the path parameter is required")),
    }
}

fn stat_header(r: &mut Response, stat: &archive::PathStat) {
    if let Ok(v) = HeaderValue::from_str(&stat.header_value()) {
        r.headers_mut().insert(archive::PATH_STAT_HEADER, v);
    }
}

/// `HEAD /containers/{id}/archive?path=`.
pub async fn archive_head<B: ToolsBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let path = path_param(&q)?;
    let stat = blocking(move || {
        let root = e.container_root(&id)?;
        archive::stat_path(root.fd(), &path)
    })
    .await?;
    let mut r = StatusCode::OK.into_response();
    stat_header(&mut r, &stat);
    Ok(r)
}

/// `GET /containers/{id}/archive?path=`: a tar stream.
pub async fn archive_get<B: ToolsBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let path = path_param(&q)?;
    let (root, stat) = {
        let path = path.clone();
        blocking(move || {
            let root = e.container_root(&id)?;
            let stat = archive::stat_path(root.fd(), &path)?;
            Ok((root, stat))
        })
        .await?
    };
    let (tx, mut rx) = mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = archive::write_archive(root.fd(), &path, ChanWriter(tx)) {
            tracing::warn!("cp: {}", e.message);
        }
    });
    let s = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(Ok::<_, std::convert::Infallible>);
    let mut r = (
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(s),
    )
        .into_response();
    stat_header(&mut r, &stat);
    Ok(r)
}

/// `PUT /containers/{id}/archive?path=`: extract the tar body there.
pub async fn archive_put<B: ToolsBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let path = path_param(&q)?;
    let copy_uid_gid = matches!(
        q.get("copyUIDGID").map(String::as_str),
        Some("1" | "true" | "True")
    );
    let (tx, rx) = mpsc::channel(8);
    let work = tokio::task::spawn_blocking(move || {
        let root = e.container_root(&id)?;
        let reader = ChanReader {
            rx,
            buf: Bytes::new(),
        };
        let mut reader = reader;
        let r = archive::extract_archive(root.fd(), &path, &mut reader, copy_uid_gid);
        // Drain what the extractor did not read (tar padding) so the client
        // never blocks on a full socket.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        r
    });
    let mut s = body.into_data_stream();
    while let Some(chunk) = s.next().await {
        let item = chunk.map_err(|e| e.to_string());
        if tx.send(item).await.is_err() {
            break;
        }
    }
    drop(tx);
    work.await
        .map_err(|e| ApiError::internal(crate::errors::chain(&e)))??;
    Ok(StatusCode::OK)
}

/// `GET /containers/{id}/changes`.
pub async fn changes<B: ToolsBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    Ok(axum::Json(blocking(move || e.changes(&id)).await?))
}

/// `GET /containers/{id}/stats?stream=false` (one sample; with
/// `stream=true`, the default, one sample a second until the client leaves).
pub async fn stats<B: ToolsBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let stream = !matches!(
        q.get("stream").map(String::as_str),
        Some("0" | "false" | "False")
    );
    let one_shot = matches!(
        q.get("one-shot").map(String::as_str),
        Some("1" | "true" | "True")
    );
    let interval = if one_shot {
        std::time::Duration::ZERO
    } else {
        std::time::Duration::from_millis(500)
    };
    let first = {
        let (e, id) = (e.clone(), id.clone());
        blocking(move || e.stats(&id, interval)).await?
    };
    if !stream {
        return Ok(axum::Json(first).into_response());
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(2);
    tokio::spawn(async move {
        let mut v = first;
        loop {
            if tx.send(Bytes::from(format!("{v}\n"))).await.is_err() {
                return;
            }
            let (e, id) = (e.clone(), id.clone());
            match blocking(move || e.stats(&id, std::time::Duration::from_secs(1))).await {
                Ok(next) => v = next,
                Err(_) => return,
            }
        }
    });
    let s = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(Ok::<_, std::convert::Infallible>);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(s),
    )
        .into_response())
}

/// `GET /mini/doctor[?socket=PATH]`: the host checks, run by the daemon.
pub async fn doctor(State(e): Eng, Query(q): Q) -> Result<Response, ApiError> {
    let socket = q.get("socket").filter(|s| !s.is_empty()).map(Into::into);
    let checks = blocking(move || {
        let h = super::doctor::HostPaths::real(&e.opts.root, &e.opts.shim, socket);
        Ok(super::doctor::run_checks(&h))
    })
    .await?;
    Ok(axum::Json(checks).into_response())
}

/// `GET /containers/{id}/explain`: the plan of the container's next start.
pub async fn explain(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
) -> Result<axum::Json<Vec<super::explain::Phase>>, ApiError> {
    Ok(axum::Json(blocking(move || e.explain(&id)).await?))
}

#[cfg(test)]
mod tests {
    //! The archive, changes and stats routes against a fake backend (no
    //! daemon, no root).
    use super::*;
    use crate::api::fake::{send, Fake};
    use axum::routing::get;
    use axum::Router;
    use serde_json::json;

    fn app(fake: Arc<Fake>) -> Router {
        Router::new()
            .route(
                "/containers/:id/archive",
                get(archive_get::<Fake>)
                    .head(archive_head::<Fake>)
                    .put(archive_put::<Fake>),
            )
            .route("/containers/:id/changes", get(changes::<Fake>))
            .route("/containers/:id/stats", get(stats::<Fake>))
            .with_state(fake)
    }

    #[tokio::test]
    async fn tools_routes_make_typed_calls_and_keep_error_statuses() {
        let fake = Arc::new(Fake::default());
        let routes = app(fake.clone());
        let (s, b) = send(&routes, "GET", "/containers/c1/changes", "").await;
        assert_eq!(
            (s, b),
            (StatusCode::OK, json!([{"Path": "/tmp", "Kind": 0}]))
        );
        let uri = "/containers/c1/stats?stream=false&one-shot=true";
        let (s, b) = send(&routes, "GET", uri, "").await;
        assert_eq!((s, b), (StatusCode::OK, json!({"id": "c1"})));
        // The path is checked before the backend is asked.
        let (s, _) = send(&routes, "GET", "/containers/c1/archive", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = send(&routes, "GET", "/containers/c1/archive?path=/etc", "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(fake.calls(), ["changes c1", "stats c1 0ms", "root c1"]);
        let failing = app(Fake::failing(ApiError::conflict("c1 is not running")));
        let (s, b) = send(&failing, "GET", "/containers/c1/changes", "").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(b["message"], "c1 is not running");
    }
}
