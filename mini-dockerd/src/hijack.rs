//! The HTTP handlers of attach, exec and resize: an upgraded ("hijacked")
//! connection spliced to a connection to the shim (see [`super::streams`]).
//!
//! The handlers parse each request into a typed call on a narrow trait:
//! [`StreamBackend`] for the hijacked streams, [`ExecBackend`] for exec
//! create, inspect and resize. The engine implements both
//! (`crate::backend`); the tests below drive the handlers against a fake.

use super::streams::{self, DetachWatch, ShimStream, Wants};
use super::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mini_docker_api::bodies::{ExecCreate, ExecStart};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::api::{blocking, channel_body, qs, typed, typed_body, Q};

/// The detach keys asked for (`ctrl-p,ctrl-q`), or Docker's default; keys
/// that do not parse are a 400 before anything starts.
fn detach_keys(k: Option<&str>) -> Result<Vec<u8>, ApiError> {
    match k.filter(|k| !k.is_empty()) {
        Some(k) => streams::parse_detach_keys(k).map_err(ApiError::bad),
        None => Ok(streams::DEFAULT_DETACH_KEYS.to_vec()),
    }
}

fn tokio_stream(s: std::os::unix::net::UnixStream) -> std::io::Result<tokio::net::UnixStream> {
    s.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(s)
}

/// `101 Switching Protocols` with Docker's headers.
fn switching(content_type: &'static str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    r
}

/// Splices a client's connection and a shim's: output one way until the
/// shim closes; input the other. With a terminal (only then, as Docker) the
/// input is watched for the detach keys. `at_end` runs after the output
/// ended and before the client sees EOF (an exec's exit code must be known
/// by then: the docker CLI asks for it at once). Returns whether the client
/// detached.
async fn splice<C, F>(
    client: C,
    shim: tokio::net::UnixStream,
    stdin: bool,
    keys: Option<Vec<u8>>,
    at_end: F,
) -> bool
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: std::future::Future<Output = ()> + Send,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = shim.into_split();
    let output = async move {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        at_end.await;
        let _ = cw.shutdown().await;
    };
    let input = async move {
        if !stdin {
            // Nothing to forward: wait for the client to go away, which ends nothing.
            std::future::pending::<()>().await;
        }
        let mut watch = keys.map(DetachWatch::new);
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (bytes, detach) = match watch.as_mut() {
                Some(w) => w.feed(&buf[..n]),
                None => (buf[..n].to_vec(), false),
            };
            if !bytes.is_empty() && sw.write_all(&bytes).await.is_err() {
                break;
            }
            if detach {
                return true;
            }
        }
        // The client closed its input: so do we, towards the container.
        let _ = sw.shutdown().await;
        std::future::pending::<()>().await;
        false
    };
    tokio::select! {
        _ = output => false,
        detached = input => detached,
    }
}

/// `POST /containers/{id}/attach?stream=&logs=&stdin=&stdout=&stderr=&detachKeys=`.
#[derive(Debug, Default, Deserialize)]
struct AttachQuery {
    #[serde(default, deserialize_with = "qs::flag")]
    stream: bool,
    #[serde(default, deserialize_with = "qs::flag")]
    logs: bool,
    #[serde(default, deserialize_with = "qs::flag")]
    stdin: bool,
    #[serde(default, deserialize_with = "qs::flag")]
    stdout: bool,
    #[serde(default, deserialize_with = "qs::flag")]
    stderr: bool,
    #[serde(rename = "detachKeys")]
    detach_keys: Option<String>,
}

/// An attach, as the router asks it of the [`StreamBackend`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AttachRequest {
    /// The streams asked for (`stdin` only counts if the container keeps
    /// its stdin open; the backend decides).
    pub wants: Wants,
    /// `logs=1`: what the container printed so far comes first.
    pub logs: bool,
    /// `stream=1`: then the live streams.
    pub stream: bool,
}

/// The backend's answer to an attach: how the bytes are framed, what to
/// send first, and the connection to the container's streams.
pub struct Attached {
    /// The container has a terminal: raw bytes, and detach keys watched.
    pub tty: bool,
    /// Input is forwarded to the container.
    pub stdin: bool,
    /// The log so far, rendered (`logs=1`).
    pub replay: Vec<u8>,
    /// The live streams (`stream=1`): now, or at the container's next start.
    pub shim: Option<ShimStream>,
}

/// What an exec's start needs to know before it starts the process.
#[derive(Debug, Clone, Default)]
pub struct ExecStreams {
    /// The exec was created with a terminal.
    pub tty: bool,
    /// Its stdin is attached.
    pub stdin: bool,
    /// The detach keys it was created with (empty: Docker's default).
    pub detach_keys: Option<String>,
}

/// The hijacked streams: `attach` and `exec start` (moby's
/// `attachBackend` and the start half of `execBackend`). The router parses
/// the request (query, body, detach keys) into a typed call, answers
/// `101`, and splices the client's connection to the one the backend gives
/// it; the backend wires that connection to the shim's streams.
pub trait StreamBackend: Send + Sync + 'static {
    /// `POST /containers/{id}/attach` (blocking: it may talk to the shim).
    fn attach(&self, key: &str, req: AttachRequest) -> Result<Attached, ApiError>;
    /// An exec's terminal, stdin and detach keys.
    fn exec_streams(&self, id: &str) -> Result<ExecStreams, ApiError>;
    /// The refusals of `exec start` that have a status (no such exec, it
    /// already ran, its container stopped), checked before a `101`.
    fn exec_startable(&self, id: &str) -> Result<(), ApiError>;
    /// Starts the exec's process (blocking): its stdio, as one connection.
    fn exec_start(&self, id: &str, tty: Option<bool>) -> Result<UnixStream, ApiError>;
    /// Records the exec's exit (blocking), `fallback` when none was left.
    fn exec_finished(&self, id: &str, fallback: i64);
    /// Whether a detached exec has ended: its exit was left, or its
    /// container stopped.
    fn exec_ended(&self, id: &str) -> bool;
}

/// `POST /containers/{id}/attach`: with `Upgrade`, a hijacked two-way
/// stream; without, the output as the response body. Waits for the next
/// start when the container is not running (`docker run` and `start -a`
/// attach first).
pub async fn attach<B: StreamBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
    mut req: Request,
) -> Result<Response, ApiError> {
    let aq: AttachQuery = typed(&q)?;
    let keys = detach_keys(aq.detach_keys.as_deref())?;
    let ask = AttachRequest {
        wants: Wants {
            stdin: aq.stdin,
            stdout: aq.stdout,
            stderr: aq.stderr,
        },
        logs: aq.logs,
        stream: aq.stream,
    };
    let Attached {
        tty,
        stdin,
        replay,
        shim,
    } = blocking(move || e.attach(&id, ask)).await?;
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let connect = |shim: Option<ShimStream>| async move {
        match shim? {
            ShimStream::Now(s) => tokio_stream(s).ok(),
            ShimStream::Later(rx) => tokio_stream(rx.await.ok()?).ok(),
        }
    };
    if req.headers().get(header::UPGRADE).is_none() {
        // Output only, as the response body.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            if !replay.is_empty() && tx.send(Bytes::from(replay)).await.is_err() {
                return;
            }
            if let Some(s) = connect(shim).await {
                pump(s, &tx).await;
            }
        });
        return Ok(([(header::CONTENT_TYPE, content_type)], channel_body(rx)).into_response());
    }
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(up) = on.await else { return };
        let mut io = hyper_util::rt::TokioIo::new(up);
        if !replay.is_empty() && io.write_all(&replay).await.is_err() {
            return;
        }
        match connect(shim).await {
            Some(s) => {
                splice(io, s, stdin, tty.then_some(keys), async {}).await;
            }
            None => {
                let _ = io.shutdown().await;
            }
        }
    });
    Ok(switching(content_type))
}

/// Copies what the shim sends into a response body's channel, until either
/// side ends.
async fn pump(mut s: tokio::net::UnixStream, tx: &tokio::sync::mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; 32 * 1024];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 || tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
            break;
        }
    }
}

fn size(q: &HashMap<String, String>) -> Result<(u16, u16), ApiError> {
    let n = |k: &str| {
        q.get(k)
            .and_then(|v| v.parse::<u16>().ok())
            .ok_or_else(|| ApiError::bad(format!("{k} must be a number from 0 to 65535")))
    };
    Ok((n("h")?, n("w")?))
}

/// The calls the exec routes and the container resize make (moby's
/// `execBackend`), besides the hijacked streams ([`StreamBackend`]); the
/// engine's are in [`crate::backend`], the routers' unit tests use
/// [`crate::api::fake`].
pub trait ExecBackend: Send + Sync + 'static {
    /// `POST /containers/{id}/resize` (blocking).
    fn resize(&self, key: &str, rows: u16, cols: u16) -> Result<(), ApiError>;
    /// `POST /containers/{id}/exec` (blocking): the exec's id.
    fn exec_create(&self, key: &str, body: &ExecCreate) -> Result<String, ApiError>;
    /// `GET /exec/{id}/json`.
    fn exec_inspect(&self, id: &str) -> Result<Value, ApiError>;
    /// `POST /exec/{id}/resize` (blocking).
    fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<(), ApiError>;
}

/// The backend the handlers are given.
type Backend<B> = State<Arc<B>>;

/// `POST /containers/{id}/resize?h=&w=`.
pub async fn resize<B: ExecBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let (h, w) = size(&q)?;
    blocking(move || e.resize(&id, h, w)).await?;
    Ok(StatusCode::OK)
}

/// `POST /containers/{id}/exec`.
pub async fn exec_create<B: ExecBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ExecCreate = super::api::typed_body(&body)?;
    if let Some(k) = body.detach_keys.as_deref().filter(|k| !k.is_empty()) {
        streams::parse_detach_keys(k).map_err(ApiError::bad)?;
    }
    let id = blocking(move || e.exec_create(&id, &body)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id}))).into_response())
}

/// `POST /exec/{id}/start`.
///
/// Hijacked (`Upgrade: tcp`), the order is dockerd's: answer `101` and
/// flush it, *then* start the process. docker-py reads the headers through
/// http.client's buffered reader and then reads the raw socket: whatever
/// arrived in the same read as the headers would be lost, so no output may
/// exist before the headers have left. A start that fails after the `101`
/// is told in the stream (on stdout, as dockerd writes it) and the exec's
/// exit code is 126.
pub async fn exec_start<B: StreamBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let upgrade = req.headers().get(header::UPGRADE).is_some();
    let on = upgrade.then(|| hyper::upgrade::on(&mut req));
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|err| ApiError::bad(err.to_string()))?;
    let body: ExecStart = typed_body(&bytes)?;
    let detach = body.detach.unwrap_or(false);
    let tty_asked = body.tty;
    let exec = e.exec_streams(&id)?;
    let keys = detach_keys(exec.detach_keys.as_deref())?;
    let stdin = exec.stdin;
    let tty = exec.tty || tty_asked.unwrap_or(false);
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let finish = move |e: Arc<B>, id: String| async move {
        let _ = tokio::task::spawn_blocking(move || e.exec_finished(&id, 255)).await;
    };
    let start = move |e: Arc<B>, id: String| async move {
        let shim = blocking(move || e.exec_start(&id, tty_asked)).await?;
        tokio_stream(shim).map_err(|err| ApiError::internal(err.to_string()))
    };
    if let (Some(on), false) = (on, detach) {
        // What can be refused with a status is refused now, before the 101.
        e.exec_startable(&id)?;
        tokio::spawn(async move {
            // Resolves once hyper has written and flushed the 101.
            let Ok(up) = on.await else { return };
            let mut io = hyper_util::rt::TokioIo::new(up);
            let shim = match start(e.clone(), id.clone()).await {
                Ok(s) => s,
                Err(err) => {
                    let text = format!("{}\r\n", err.message);
                    let out = if tty {
                        text.into_bytes()
                    } else {
                        super::logs::frame(1, text.as_bytes())
                    };
                    let _ = io.write_all(&out).await;
                    let _ = io.shutdown().await;
                    return;
                }
            };
            let at_end = finish(e.clone(), id.clone());
            if splice(io, shim, stdin, tty.then_some(keys), at_end).await {
                // Detached: the process goes on; its exit is still recorded.
                finish_later(e, id).await;
            }
        });
        return Ok(switching(content_type));
    }
    let mut shim = start(e.clone(), id.clone()).await?;
    if detach {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = shim.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            finish(e, id).await;
        });
        return Ok(StatusCode::OK.into_response());
    }
    // Not hijacked: the output is the response body.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        pump(shim, &tx).await;
        finish(e, id).await;
    });
    Ok(([(header::CONTENT_TYPE, content_type)], channel_body(rx)).into_response())
}

/// After a detach from an exec: poll until the shim has recorded its exit.
async fn finish_later<B: StreamBackend>(e: Arc<B>, id: String) {
    loop {
        if e.exec_ended(&id) {
            let _ = tokio::task::spawn_blocking(move || e.exec_finished(&id, 255)).await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `GET /exec/{id}/json`.
pub async fn exec_inspect<B: ExecBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(e.exec_inspect(&id)?))
}

/// `POST /exec/{id}/resize?h=&w=`.
pub async fn exec_resize<B: ExecBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<StatusCode, ApiError> {
    let (h, w) = size(&q)?;
    blocking(move || e.exec_resize(&id, h, w)).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    //! The exec routes (but start) and resize against a fake backend.
    use super::*;
    use crate::api::fake::{send, Fake};
    use axum::routing::{get, post};
    use axum::Router;

    #[tokio::test]
    async fn exec_routes_make_typed_calls_and_refuse_bad_input_first() {
        let fake = Arc::new(Fake::default());
        let app = Router::new()
            .route("/containers/:id/resize", post(resize::<Fake>))
            .route("/containers/:id/exec", post(exec_create::<Fake>))
            .route("/exec/:id/resize", post(exec_resize::<Fake>))
            .route("/exec/:id/json", get(exec_inspect::<Fake>))
            .with_state(fake.clone());
        let body = r#"{"Cmd": ["ls", "-l"], "Env": null}"#;
        let (s, b) = send(&app, "POST", "/containers/c1/exec", body).await;
        assert_eq!((s, b), (StatusCode::CREATED, json!({"Id": "e1"})));
        let (s, b) = send(&app, "POST", "/containers/c1/exec", r#"{"Cmd": "ls"}"#).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["message"].as_str().unwrap().contains("Cmd"), "{b}");
        let keys = r#"{"Cmd": ["ls"], "DetachKeys": "ctrl-"}"#;
        let (s, _) = send(&app, "POST", "/containers/c1/exec", keys).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = send(&app, "POST", "/containers/c1/resize?h=24&w=80", "").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = send(&app, "POST", "/exec/e1/resize?h=x&w=80", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, b) = send(&app, "GET", "/exec/e1/json", "").await;
        assert_eq!((s, b), (StatusCode::OK, json!({"ID": "e1"})));
        assert_eq!(
            fake.calls(),
            [
                "exec create c1 [\"ls\", \"-l\"]",
                "resize c1 24x80",
                "exec inspect e1"
            ]
        );
    }

    fn stream_app(fake: Arc<Fake>) -> Router {
        Router::new()
            .route("/containers/:id/attach", post(attach::<Fake>))
            .route("/exec/:id/start", post(exec_start::<Fake>))
            .with_state(fake)
    }

    #[tokio::test]
    async fn attach_parses_its_query_into_a_typed_call() {
        use crate::api::fake::send_raw;
        let fake = Arc::new(Fake::default());
        let app = stream_app(fake.clone());
        // Not upgraded: the output (here the replayed log) is the body.
        let uri = "/containers/c1/attach?stream=1&logs=true&stdin=1&stdout=1&stderr=0";
        let (s, body) = send_raw(&app, "POST", uri, &[], "").await;
        assert_eq!((s, body.as_slice()), (StatusCode::OK, &b"hello"[..]));
        let uri = "/containers/c1/attach?stdout=True&detachKeys=ctrl-a,x";
        let (s, body) = send_raw(&app, "POST", uri, &[], "").await;
        assert_eq!((s, body.len()), (StatusCode::OK, 0));
        // Upgraded: 101 with Docker's headers (a terminal: the raw stream).
        let up = [("connection", "Upgrade"), ("upgrade", "tcp")];
        let (s, _) = send_raw(&app, "POST", "/containers/c1/attach?stream=1", &up, "").await;
        assert_eq!(s, StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            fake.calls(),
            [
                "attach c1 stdin=true stdout=true stderr=false logs=true stream=true",
                "attach c1 stdin=false stdout=true stderr=false logs=false stream=false",
                "attach c1 stdin=false stdout=false stderr=false logs=false stream=true",
            ]
        );
        // Keys that do not parse: a 400 before the backend is asked.
        let fake = Arc::new(Fake::default());
        let app = stream_app(fake.clone());
        let (s, b) = send(&app, "POST", "/containers/c1/attach?detachKeys=ctrl-", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["message"].as_str().unwrap().contains("ctrl-"), "{b}");
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
        // A failing backend's kind is the status.
        let app = stream_app(Fake::failing(ApiError::not_found("No such container: c1")));
        let (s, b) = send(&app, "POST", "/containers/c1/attach?stream=1", "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(b["message"], "No such container: c1");
    }

    #[tokio::test]
    async fn exec_start_parses_its_body_into_a_typed_call() {
        use crate::api::fake::send_raw;
        let fake = Arc::new(Fake::default());
        let app = stream_app(fake.clone());
        // Not upgraded: the process's output is the body; then its exit is recorded.
        let (s, body) = send_raw(&app, "POST", "/exec/e1/start", &[], r#"{"Tty":true}"#).await;
        assert_eq!((s, body.as_slice()), (StatusCode::OK, &b"out"[..]));
        // Detach: answered at once, with no body.
        let (s, body) = send_raw(&app, "POST", "/exec/e1/start", &[], r#"{"Detach":true}"#).await;
        assert_eq!((s, body.len()), (StatusCode::OK, 0));
        // An empty body is every default.
        let (s, _) = send_raw(&app, "POST", "/exec/e1/start", &[], "").await;
        assert_eq!(s, StatusCode::OK);
        // Upgraded: refusals are checked before the 101.
        let up = [("connection", "Upgrade"), ("upgrade", "tcp")];
        let (s, _) = send_raw(&app, "POST", "/exec/e1/start", &up, "{}").await;
        assert_eq!(s, StatusCode::SWITCHING_PROTOCOLS);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let calls = fake.calls();
        assert_eq!(
            &calls[..7],
            [
                "exec streams e1",
                "exec start e1 tty=Some(true)",
                "exec finished e1 255",
                "exec streams e1",
                "exec start e1 tty=None",
                "exec streams e1",
                "exec start e1 tty=None",
            ],
            "{calls:?}"
        );
        assert!(
            calls.contains(&"exec startable e1".to_string()),
            "{calls:?}"
        );
        // A wrong type is a 400 naming the field; bad keys of the exec a 400.
        let fake = Arc::new(Fake::default());
        let app = stream_app(fake.clone());
        let (s, b) = send(&app, "POST", "/exec/e1/start", r#"{"Detach":"yes"}"#).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid value for Detach"),
            "{b}"
        );
        let (s, b) = send(&app, "POST", "/exec/e1/start", "{").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            b["message"].as_str().unwrap().starts_with("invalid JSON"),
            "{b}"
        );
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
        let (s, _) = send(&app, "POST", "/exec/badkeys/start", "{}").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(fake.calls(), ["exec streams badkeys"]);
    }
}
