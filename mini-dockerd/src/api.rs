//! The Docker Engine API v1.41 over HTTP/1.1 (axum), for the endpoints the
//! engine implements. Paths may carry a `/v1.NN` prefix (version
//! negotiation: `/_ping` answers with `API-Version`).
//!
//! This is the HTTP layer, in moby's shape: routers that parse and check a
//! request into a typed call on the engine's services, and turn the
//! engine's typed errors into statuses ([`status_of`]). It does no engine
//! work itself. One module per router: [`containers`], [`images`],
//! [`system`] here, and `netvol_api`, `tools_api`, `swarm_api`, `hijack`
//! beside it.

use super::{ApiError, Engine, ErrorKind};
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

mod containers;
#[cfg(test)]
pub(crate) mod fake;
mod images;
mod system;

pub use containers::{ContainerBackend, WaitCondition, WaitFuture};
pub use images::ImageBackend;
pub use system::SystemBackend;

/// The API version we speak.
pub use mini_docker_api::API_VERSION;

pub(super) type Q = Query<HashMap<String, String>>;

/// The HTTP status of an engine error's kind: the one place kinds become
/// statuses (moby's `api/server/httpstatus.FromError`).
pub(super) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::System => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.kind);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        (status, Json(json!({"message": self.message}))).into_response()
    }
}

/// A typed request from the query: each parameter into its field
/// ([`qs`] reads Docker's strings), unknown ones ignored as Docker does. A
/// value that does not parse is a 400 naming the parameter, as Docker's `invalid value for t: "x"`.
pub(super) fn typed<T: serde::de::DeserializeOwned>(
    q: &HashMap<String, String>,
) -> Result<T, ApiError> {
    let v = serde_json::Value::Object(
        q.iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    );
    serde_path_to_error::deserialize(v).map_err(|e| {
        let field = e.path().to_string();
        ApiError::bad(format!("invalid value for {field}: {}", e.inner()))
    })
}

/// A typed JSON body: an empty body is `{}` (every field its default); a
/// body that is not JSON is `invalid JSON: …`, and a field of the wrong
/// type is a 400 naming it (`invalid value for Labels: invalid type: …`).
pub(super) fn typed_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() { &b"{}"[..] } else { body };
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("invalid JSON: {}", crate::errors::chain(&e))))?;
    serde_path_to_error::deserialize(v).map_err(|e| {
        let field = e.path().to_string();
        ApiError::bad(format!("invalid value for {field}: {}", e.inner()))
    })
}

/// Field readers for [`typed`] queries: every value arrives as a string.
pub(super) mod qs {
    use serde::{de::Error, Deserialize, Deserializer};
    use std::str::FromStr;

    /// Docker's boolean: `1`, `true` or `True`; anything else is false.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(matches!(s.as_deref(), Some("1" | "true" | "True")))
    }

    /// A value of type `T`: absent or empty is `None`; one that does not
    /// parse is an error quoting it.
    pub fn parsed<'de, D: Deserializer<'de>, T: FromStr>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("{v:?}"))),
        }
    }

    /// A value of type `T`, or `None` for anything that does not parse
    /// (`tail=all` means every line).
    pub fn lenient<'de, D: Deserializer<'de>, T: FromStr>(d: D) -> Result<Option<T>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.and_then(|v| v.parse().ok()))
    }
}

/// A boolean query parameter (`1`, `true`).
pub(super) fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("1" | "true" | "True"))
}

/// Runs engine work that blocks (files, processes) off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?
}

/// Set when dropped: a request handler holds one while blocking work runs,
/// and if the client goes away hyper drops the handler (and so this) before
/// the work is done; the work polls [`ClientGone::flag`] and stops. When the
/// handler finishes normally the flag is set after the work, harmlessly.
#[derive(Default)]
struct ClientGone(Arc<std::sync::atomic::AtomicBool>);

impl ClientGone {
    fn flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.0.clone()
    }
}

impl Drop for ClientGone {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A body fed by a channel (streamed responses).
pub(super) fn channel_body<T: Into<Bytes> + Send + 'static>(rx: mpsc::Receiver<T>) -> Body {
    let s = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b.into()), rx))
    });
    Body::from_stream(s)
}

/// The router: every endpoint, by router.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .merge(system::routes())
        .merge(containers::routes())
        .merge(images::routes())
        .route(
            "/distribution/*name",
            get(super::distribution::inspect::<Engine>),
        )
        .route(
            "/containers/:id/archive",
            get(super::tools_api::archive_get::<Engine>)
                .head(super::tools_api::archive_head::<Engine>)
                .put(super::tools_api::archive_put::<Engine>),
        )
        .route(
            "/containers/:id/changes",
            get(super::tools_api::changes::<Engine>),
        )
        .route(
            "/containers/:id/stats",
            get(super::tools_api::stats::<Engine>),
        )
        .route("/mini/doctor", get(super::tools_api::doctor))
        .route("/containers/:id/explain", get(super::tools_api::explain))
        .route("/build", post(super::builder::handler::<Engine>))
        .merge(super::netvol_api::routes())
        .merge(super::swarm_api::routes())
        .fallback(|req: Request| async move {
            ApiError::not_found(format!(
                "page not found: {} {}",
                req.method(),
                req.uri().path()
            ))
            .into_response()
        })
        .layer(axum::middleware::map_response(
            super::safeguards::json_errors,
        ))
        .with_state(engine)
}

/// Decodes `%XX` and `+` in a query value.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            // Bytes, not `&s[..]`: a `%` before a multi-byte character must not panic.
            b'%' if i + 2 < b.len() => match std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(())
            {
                Ok(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves one connection (unix or tcp): HTTP/1.1 with upgrades, the
/// `/v1.NN` prefix stripped, Docker's headers added.
pub async fn serve_connection<S>(io: S, app: Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            let path = req.uri().path();
            if let Some(rest) = path.strip_prefix("/v1.") {
                if let Some(i) = rest.find('/') {
                    let new = format!(
                        "{}{}",
                        &rest[i..],
                        req.uri()
                            .query()
                            .map(|q| format!("?{q}"))
                            .unwrap_or_default()
                    );
                    if let Ok(u) = new.parse() {
                        *req.uri_mut() = u;
                    }
                }
            }
            let mut resp = app.oneshot(req.map(Body::new)).await?;
            let h = resp.headers_mut();
            h.insert("API-Version", HeaderValue::from_static(API_VERSION));
            h.insert("Docker-Experimental", HeaderValue::from_static("false"));
            h.insert("OSType", HeaderValue::from_static("linux"));
            h.insert(
                header::SERVER,
                HeaderValue::from_static("Docker/20.10.0-mini (linux)"),
            );
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), svc)
        .with_upgrades()
        .await;
}
