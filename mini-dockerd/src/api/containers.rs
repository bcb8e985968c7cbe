//! The containers router: `/containers/…` and `/commit` (attach, exec and
//! resize are in `hijack`; pause, update and export in `lifecycle`).
//!
//! The handlers here parse and check the request into a typed call on a
//! [`ContainerBackend`]: the calls this router makes, and no other (moby's
//! `api/server/router/container/backend.go`). The daemon's `Engine`
//! implements it (`crate::backend`); the tests below drive the router
//! against a fake one, with no daemon and no root.

use super::{blocking, channel_body, qs, typed, ApiError, ClientGone, Q};
use crate::commit::CommitOptions;
use crate::filters::Filters;
use crate::logs::{self, LogOptions};
use crate::Engine;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The engine's result.
type Result<T> = std::result::Result<T, ApiError>;

/// What `wait` waits for (`?condition=`): Docker's three conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Until the container is not running (now, if it is not).
    NotRunning,
    /// Until its next exit.
    NextExit,
    /// Until it is removed.
    Removed,
}

impl WaitCondition {
    /// From the query value: absent or empty (the 20.10 CLI sends
    /// `condition=`) means not-running, as in Docker.
    pub fn parse(v: Option<&str>) -> Result<WaitCondition> {
        match v.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(ApiError::bad(format!("invalid condition: {other}"))),
        }
    }

    /// Docker's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitCondition::NotRunning => "not-running",
            WaitCondition::NextExit => "next-exit",
            WaitCondition::Removed => "removed",
        }
    }
}

/// The exit code a wait ends with, once the condition is met.
pub type WaitFuture = Pin<Box<dyn Future<Output = i64> + Send>>;

/// The calls the containers router makes (moby's `container.Backend`).
///
/// Blocking calls (files, processes) are plain methods, run by the router
/// off the async threads; the ones that wait for a container are futures.
/// Each returns a typed result or an engine error whose kind the router
/// maps to a status ([`super::status_of`]).
pub trait ContainerBackend: Send + Sync + 'static {
    /// `POST /containers/create` (blocking): the checked body, the name
    /// asked for, and a flag set when the client went away (the layer
    /// unpack then stops and leaves nothing). Returns the new id.
    fn container_create(
        &self,
        name: Option<&str>,
        body: &Value,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<String>;
    /// `GET /containers/json`: the summaries, filtered.
    fn container_list(&self, all: bool, filters: &Filters) -> Result<Vec<u8>>;
    /// `GET /containers/{id}/json`.
    fn container_inspect(&self, key: &str) -> Result<Value>;
    /// `POST /containers/{id}/start` by the user (blocking).
    fn container_start(self: &Arc<Self>, key: &str) -> Result<()>;
    /// `POST /containers/{id}/stop?t=`.
    fn container_stop(
        self: Arc<Self>,
        key: String,
        timeout: Option<i64>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// `POST /containers/{id}/restart?t=`.
    fn container_restart(
        self: Arc<Self>,
        key: String,
        timeout: Option<i64>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// `POST /containers/{id}/kill?signal=`.
    fn container_kill(&self, key: &str, signal: &str) -> Result<()>;
    /// `POST /containers/{id}/wait?condition=`: finds the container now (a
    /// missing one is an error before any answer), then waits.
    fn container_wait(self: &Arc<Self>, key: &str, condition: WaitCondition) -> Result<WaitFuture>;
    /// `DELETE /containers/{id}?force=&v=` (blocking).
    fn container_remove(&self, key: &str, force: bool, volumes: bool) -> Result<()>;
    /// `POST /containers/{id}/rename?name=`.
    fn container_rename(&self, key: &str, name: &str) -> Result<()>;
    /// `GET /containers/{id}/top?ps_args=` (blocking: it runs `ps`).
    fn container_top(&self, key: &str, ps_args: &str) -> Result<Value>;
    /// `POST /containers/prune` (blocking).
    fn containers_prune(&self) -> Result<Value>;
    /// `POST /commit` (blocking): the new image's id.
    fn container_commit(self: &Arc<Self>, o: &CommitOptions, body: &[u8]) -> Result<String>;
    /// `GET /containers/{id}/logs`: the framed (or raw) log, as chunks.
    fn container_logs(
        self: &Arc<Self>,
        key: &str,
        o: LogOptions,
        follow: bool,
    ) -> Result<mpsc::Receiver<Vec<u8>>>;
}

/// The backend the handlers are given.
type Backend<B> = State<Arc<B>>;

// The requests' queries, typed: what each handler reads, and nothing else
// (other parameters are ignored, as Docker ignores them).

/// `POST /containers/create?name=`.
#[derive(Debug, Default, Deserialize)]
struct CreateQuery {
    name: Option<String>,
}

/// `GET /containers/json?all=` (`filters` is read by [`Filters`]).
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default, deserialize_with = "qs::flag")]
    all: bool,
}

/// `?t=` of `stop` and `restart`: seconds before the kill.
#[derive(Debug, Default, Deserialize)]
struct TimeoutQuery {
    #[serde(default, deserialize_with = "qs::parsed")]
    t: Option<i64>,
}

/// `POST /containers/{id}/kill?signal=`.
#[derive(Debug, Default, Deserialize)]
struct KillQuery {
    signal: Option<String>,
}

/// `POST /containers/{id}/wait?condition=`.
#[derive(Debug, Default, Deserialize)]
struct WaitQuery {
    condition: Option<String>,
}

/// `DELETE /containers/{id}?force=&v=`.
#[derive(Debug, Default, Deserialize)]
struct RemoveQuery {
    #[serde(default, deserialize_with = "qs::flag")]
    force: bool,
    #[serde(default, deserialize_with = "qs::flag")]
    v: bool,
}

/// `POST /containers/{id}/rename?name=`.
#[derive(Debug, Default, Deserialize)]
struct RenameQuery {
    #[serde(default)]
    name: String,
}

/// `GET /containers/{id}/top?ps_args=`.
#[derive(Debug, Default, Deserialize)]
struct TopQuery {
    #[serde(default)]
    ps_args: String,
}

/// `GET /containers/{id}/logs?stdout=&stderr=&tail=&since=&until=&timestamps=&follow=`.
#[derive(Debug, Default, Deserialize)]
struct LogsQuery {
    #[serde(default, deserialize_with = "qs::flag")]
    stdout: bool,
    #[serde(default, deserialize_with = "qs::flag")]
    stderr: bool,
    /// `tail=all` (or anything not a number) means every line, as in Docker.
    #[serde(default, deserialize_with = "qs::lenient")]
    tail: Option<usize>,
    #[serde(default, deserialize_with = "qs::flag")]
    timestamps: bool,
    since: Option<String>,
    until: Option<String>,
    #[serde(default, deserialize_with = "qs::flag")]
    follow: bool,
}

pub(super) fn routes() -> Router<Arc<Engine>> {
    use crate::{hijack, lifecycle};
    Router::new()
        .route("/containers/create", post(create::<Engine>))
        .route("/containers/json", get(list::<Engine>))
        .route("/containers/prune", post(prune_containers::<Engine>))
        .route("/containers/:id/json", get(inspect::<Engine>))
        .route("/containers/:id/start", post(start::<Engine>))
        .route("/containers/:id/stop", post(stop::<Engine>))
        .route("/containers/:id/kill", post(kill::<Engine>))
        .route("/containers/:id/wait", post(wait::<Engine>))
        .route("/containers/:id/logs", get(logs_handler::<Engine>))
        .route("/containers/:id/attach", post(hijack::attach::<Engine>))
        .route("/containers/:id/resize", post(hijack::resize::<Engine>))
        .route("/containers/:id/exec", post(hijack::exec_create::<Engine>))
        .route("/exec/:id/start", post(hijack::exec_start::<Engine>))
        .route("/exec/:id/resize", post(hijack::exec_resize::<Engine>))
        .route("/exec/:id/json", get(hijack::exec_inspect::<Engine>))
        .route("/containers/:id", delete(remove::<Engine>))
        .route("/containers/:id/restart", post(restart::<Engine>))
        .route("/containers/:id/pause", post(lifecycle::pause::<Engine>))
        .route(
            "/containers/:id/unpause",
            post(lifecycle::unpause::<Engine>),
        )
        .route("/containers/:id/update", post(lifecycle::update::<Engine>))
        .route("/containers/:id/export", get(lifecycle::export::<Engine>))
        .route("/containers/:id/rename", post(rename::<Engine>))
        .route("/containers/:id/top", get(top::<Engine>))
        .route("/commit", post(commit::<Engine>))
}

async fn create<B: ContainerBackend>(
    State(e): Backend<B>,
    Query(q): Q,
    body: Bytes,
) -> Result<Response> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad(format!("invalid JSON: {err}")))?;
    crate::safeguards::check_create_body(&v)?;
    let CreateQuery { name } = typed(&q)?;
    let warnings = crate::resources::warnings(&v);
    // hyper drops this future when the client's connection closes; the
    // guard then tells the blocking unpack to stop.
    let gone = ClientGone::default();
    let cancel = Some(gone.flag());
    let id = blocking(move || e.container_create(name.as_deref(), &v, cancel)).await?;
    drop(gone);
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": id, "Warnings": warnings})),
    )
        .into_response())
}

/// `GET /containers/json`: the engine filters ([`crate::filters`]).
async fn list<B: ContainerBackend>(State(e): Backend<B>, Query(q): Q) -> Result<Response> {
    let f = Filters::from_query(&q)?;
    let ListQuery { all } = typed(&q)?;
    let body = e.container_list(all, &f)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn inspect<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>> {
    Ok(Json(e.container_inspect(&id)?))
}

async fn start<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode> {
    blocking(move || e.container_start(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stop<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode> {
    let TimeoutQuery { t } = typed(&q)?;
    e.container_stop(id, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kill<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode> {
    let KillQuery { signal } = typed(&q)?;
    e.container_kill(&id, signal.as_deref().unwrap_or("KILL"))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn wait<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response> {
    let WaitQuery { condition } = typed(&q)?;
    let cond = WaitCondition::parse(condition.as_deref())?;
    let exit = e.container_wait(&id, cond)?;
    // Headers now, the body at the exit (the CLI starts the container meanwhile).
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let code = exit.await;
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

async fn remove<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode> {
    let RemoveQuery { force, v } = typed(&q)?;
    blocking(move || e.container_remove(&id, force, v)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode> {
    let TimeoutQuery { t } = typed(&q)?;
    e.container_restart(id, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rename<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode> {
    let RenameQuery { name } = typed(&q)?;
    e.container_rename(&id, &name)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn top<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Json<Value>> {
    let TopQuery { ps_args } = typed(&q)?;
    Ok(Json(
        blocking(move || e.container_top(&id, &ps_args)).await?,
    ))
}

async fn prune_containers<B: ContainerBackend>(State(e): Backend<B>) -> Result<Json<Value>> {
    Ok(Json(blocking(move || e.containers_prune()).await?))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=`.
async fn commit<B: ContainerBackend>(State(e): Backend<B>, req: Request) -> Result<Response> {
    let o = CommitOptions::from_query(req.uri().query().unwrap_or(""));
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|x| ApiError::bad(x.to_string()))?;
    let id = blocking(move || e.container_commit(&o, &body)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}

/// `GET /containers/{id}/logs?stdout=&stderr=&tail=&since=&until=&timestamps=&follow=`.
async fn logs_handler<B: ContainerBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response> {
    let q: LogsQuery = typed(&q)?;
    let o = LogOptions {
        stdout: q.stdout,
        stderr: q.stderr,
        tail: q.tail,
        timestamps: q.timestamps,
        since: q.since.as_deref().and_then(logs::parse_unix_time),
        until: q.until.as_deref().and_then(logs::parse_unix_time),
        tty: false,
    };
    let rx = e.container_logs(&id, o, q.follow)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/vnd.docker.multiplexed-stream",
        )],
        channel_body(rx),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    //! The router against a fake backend: what it parses, what it refuses
    //! before the backend is called, and the status of each error kind.
    use super::*;
    use crate::api::fake::{send, Fake};

    fn app(fake: Arc<Fake>) -> Router {
        Router::new()
            .route("/containers/create", post(create::<Fake>))
            .route("/containers/json", get(list::<Fake>))
            .route("/containers/:id/json", get(inspect::<Fake>))
            .route("/containers/:id/start", post(start::<Fake>))
            .route("/containers/:id/stop", post(stop::<Fake>))
            .route("/containers/:id/kill", post(kill::<Fake>))
            .route("/containers/:id/wait", post(wait::<Fake>))
            .route("/containers/:id/logs", get(logs_handler::<Fake>))
            .route("/containers/:id", delete(remove::<Fake>))
            .route("/containers/:id/rename", post(rename::<Fake>))
            .route("/commit", post(commit::<Fake>))
            .with_state(fake)
    }

    #[tokio::test]
    async fn create_checks_the_body_before_the_backend() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone());
        let (s, b) = send(&app, "POST", "/containers/create?name=web", "{").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["message"].as_str().unwrap().starts_with("invalid JSON"));
        // A setting of the wrong type is refused, naming it.
        let body = r#"{"Image":"bb","HostConfig":{"Memory":"lots"}}"#;
        let (s, b) = send(&app, "POST", "/containers/create", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["message"].as_str().unwrap().contains("Memory"), "{b}");
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
        let body = r#"{"Image":"bb","SomethingNew":1}"#;
        let (s, b) = send(&app, "POST", "/containers/create?name=web", body).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(b["Id"], "c0ffee");
        assert!(b["Warnings"].is_array(), "{b}");
        assert_eq!(fake.calls(), [r#"create Some("web") "bb""#]);
    }

    #[tokio::test]
    async fn queries_are_parsed_into_typed_calls() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone());
        let ok = |s: StatusCode| assert!(s.is_success(), "{s}");
        ok(send(&app, "POST", "/containers/a/stop?t=3", "").await.0);
        ok(send(&app, "POST", "/containers/a/kill", "").await.0);
        ok(send(&app, "POST", "/containers/a/kill?signal=HUP", "")
            .await
            .0);
        ok(send(&app, "DELETE", "/containers/a?force=1&v=true", "")
            .await
            .0);
        ok(send(&app, "DELETE", "/containers/a?force=True&v=0&x=y", "")
            .await
            .0);
        ok(send(&app, "POST", "/containers/a/rename?name=b", "")
            .await
            .0);
        ok(send(&app, "POST", "/containers/a/start", "").await.0);
        ok(send(&app, "GET", "/containers/a/logs?tail=5&follow=1", "")
            .await
            .0);
        ok(send(&app, "GET", "/containers/a/logs?tail=all", "").await.0);
        let (s, b) = send(&app, "POST", "/containers/a/wait?condition=", "").await;
        ok(s);
        assert_eq!(b, json!({"StatusCode": 7, "Error": null}));
        ok(
            send(&app, "POST", "/containers/a/wait?condition=next-exit", "")
                .await
                .0,
        );
        let (s, _) = send(&app, "POST", "/commit?container=a&repo=r", "{}").await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(
            fake.calls(),
            [
                "stop a Some(3)",
                "kill a KILL",
                "kill a HUP",
                "remove a force=true v=true",
                "remove a force=true v=false",
                "rename a b",
                "start a",
                "logs a tail=Some(5) follow=true",
                "logs a tail=None follow=false",
                "wait a not-running",
                "wait a next-exit",
                "commit a r 2",
            ]
        );
    }

    #[tokio::test]
    async fn bad_queries_are_refused_before_the_backend() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone());
        let (s, b) = send(&app, "POST", "/containers/a/stop?t=soon", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b["message"], r#"invalid value for t: "soon""#);
        let (s, b) = send(&app, "POST", "/containers/a/wait?condition=later", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b["message"], "invalid condition: later");
        let (s, _) = send(&app, "GET", "/containers/json?filters=%7Bnope", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    }

    #[tokio::test]
    async fn each_error_kind_has_its_status() {
        use crate::ErrorKind as K;
        for (kind, status) in [
            (K::InvalidParameter, StatusCode::BAD_REQUEST),
            (K::NotFound, StatusCode::NOT_FOUND),
            (K::Conflict, StatusCode::CONFLICT),
            (K::Unauthorized, StatusCode::UNAUTHORIZED),
            (K::Forbidden, StatusCode::FORBIDDEN),
            (K::NotImplemented, StatusCode::NOT_IMPLEMENTED),
            (K::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
            (K::System, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let app = app(Fake::failing(ApiError::new(kind, "it failed")));
            for (m, uri) in [
                ("GET", "/containers/a/json"),
                ("POST", "/containers/a/stop"),
                ("POST", "/containers/a/wait"),
            ] {
                let (s, b) = send(&app, m, uri, "").await;
                assert_eq!(
                    (s, &b),
                    (status, &json!({"message": "it failed"})),
                    "{m} {uri}"
                );
            }
        }
        // Start or stop of a container already so: 304, and no body.
        let app = app(Fake::failing(ApiError::not_modified()));
        let (s, b) = send(&app, "POST", "/containers/a/start", "").await;
        assert_eq!((s, b), (StatusCode::NOT_MODIFIED, Value::Null));
    }
}
