//! The Docker Engine API v1.41 over HTTP/1.1 (axum), for the endpoints the
//! engine implements. Paths may carry a `/v1.NN` prefix (version
//! negotiation: `/_ping` answers with `API-Version`).

use super::logs::{self, LogOptions};
use super::{ApiError, Engine};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The API version we speak.
pub use mini_docker_api::API_VERSION;

pub(super) type Q = Query<HashMap<String, String>>;
pub(super) type Eng = State<Arc<Engine>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        (status, Json(json!({"message": self.message}))).into_response()
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
        .map_err(|e| ApiError::internal(e.to_string()))?
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
fn channel_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let s = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Body::from_stream(s)
}

/// The router.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/containers/create", post(create))
        .route("/containers/json", get(list))
        .route("/containers/:id/json", get(inspect))
        .route("/containers/:id/start", post(start))
        .route("/containers/:id/stop", post(stop))
        .route("/containers/:id/kill", post(kill))
        .route("/containers/:id/wait", post(wait))
        .route("/containers/:id/logs", get(logs_handler))
        .route("/containers/:id/attach", post(super::hijack::attach))
        .route("/containers/:id/resize", post(super::hijack::resize))
        .route("/containers/:id/exec", post(super::hijack::exec_create))
        .route("/exec/:id/start", post(super::hijack::exec_start))
        .route("/exec/:id/resize", post(super::hijack::exec_resize))
        .route("/exec/:id/json", get(super::hijack::exec_inspect))
        .route("/containers/:id", axum::routing::delete(remove))
        .route("/containers/:id/restart", post(restart))
        .route("/containers/:id/pause", post(super::lifecycle::pause))
        .route("/containers/:id/unpause", post(super::lifecycle::unpause))
        .route("/containers/:id/update", post(super::lifecycle::update))
        .route("/containers/:id/export", get(super::lifecycle::export))
        .route("/distribution/*name", get(super::distribution::inspect))
        .route("/containers/:id/rename", post(rename))
        .route("/containers/:id/top", get(top))
        .route(
            "/containers/:id/archive",
            get(super::tools_api::archive_get)
                .head(super::tools_api::archive_head)
                .put(super::tools_api::archive_put),
        )
        .route("/containers/:id/changes", get(super::tools_api::changes))
        .route("/containers/:id/stats", get(super::tools_api::stats))
        .route("/mini/doctor", get(super::tools_api::doctor))
        .route("/containers/:id/explain", get(super::tools_api::explain))
        .route("/containers/prune", post(prune_containers))
        .route("/build/prune", post(prune_build))
        .route("/system/df", get(disk_usage))
        .route("/images/*rest", any(images))
        .route("/build", post(super::builder::handler))
        .route("/commit", post(commit))
        .route("/auth", post(auth))
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
        .layer(axum::middleware::map_response(super::harden::json_errors))
        .with_state(engine)
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

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn version() -> Json<Value> {
    let v = env!("CARGO_PKG_VERSION");
    Json(json!({
        "Platform": {"Name": "mini-docker"},
        "Components": [{"Name": "Engine", "Version": v, "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64", "KernelVersion": kernel(),
            "GitCommit": "mini", "GoVersion": "rust", "BuildTime": "", "Experimental": "false"}}],
        "Version": v, "ApiVersion": API_VERSION, "MinAPIVersion": "1.12", "GitCommit": "mini", "GoVersion": "rust",
        "Os": "linux", "Arch": "amd64", "KernelVersion": kernel(), "BuildTime": "",
    }))
}

async fn info(State(e): Eng) -> Json<Value> {
    let cs = e.list();
    let running = cs.iter().filter(|c| c.state.running).count();
    let images = e.images.list().as_array().map(Vec::len).unwrap_or(0);
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut v = json!({
        "ID": "mini-docker", "Containers": cs.len(), "ContainersRunning": running, "ContainersPaused": 0,
        "ContainersStopped": cs.len() - running, "Images": images, "Driver": e.images.driver_name(),
        "DriverStatus": [], "DockerRootDir": e.opts.root, "KernelVersion": kernel(), "OperatingSystem": "linux",
        "OSType": "linux", "Architecture": std::env::consts::ARCH, "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| m.lines().next()?.split_whitespace().nth(1)?.parse::<u64>().ok()).unwrap_or(0) * 1024, "Name": host, "ServerVersion": env!("CARGO_PKG_VERSION"), "CgroupDriver": "cgroupfs",
        "CgroupVersion": "1", "LoggingDriver": e.opts.log_config["Type"], "DefaultRuntime": "mini-runc",
        "Runtimes": {"mini-runc": {"path": "mini-runc (library)"}}, "SecurityOptions": ["name=seccomp,profile=default"],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"]},
        "Labels": [], "ExperimentalBuild": false, "LiveRestoreEnabled": true, "Warnings": null,
    });
    // The rest of Docker's fields, so that clients that index them find them.
    let more = json!({
        "Debug": false, "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
        "NGoroutines": 0, "NEventsListener": 0, "SystemTime": super::util::rfc3339_nanos(super::util::now_nanos()),
        "IndexServerAddress": "https://index.docker.io/v1/", "InitBinary": "", "Isolation": "",
        "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""}, "GenericResources": null,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "OSVersion": "",
        "MemoryLimit": true, "SwapLimit": host_file_is("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", |_| true),
        "KernelMemory": false, "KernelMemoryTCP": false, "CpuCfsPeriod": true, "CpuCfsQuota": true,
        "CPUShares": true, "CPUSet": true, "PidsLimit": true, "OomKillDisable": false,
        "IPv4Forwarding": host_file_is("/proc/sys/net/ipv4/ip_forward", |v| v == "1"),
        "BridgeNfIptables": host_file_is("/proc/sys/net/bridge/bridge-nf-call-iptables", |v| v == "1"),
        "BridgeNfIp6tables": host_file_is("/proc/sys/net/bridge/bridge-nf-call-ip6tables", |v| v == "1"),
    });
    for (k, x) in more.as_object().into_iter().flatten() {
        v[k] = x.clone();
    }
    v["Plugins"]["Authorization"] = Value::Null;
    v["Swarm"] = json!({"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                            "ControlAvailable": false, "Error": "", "RemoteManagers": null});
    v["RegistryConfig"] = json!({
            "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": [],
            "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true}},
    });
    Json(v)
}

/// Whether a host file (a sysctl) exists and its trimmed text passes `f`.
fn host_file_is(path: &str, f: impl Fn(&str) -> bool) -> bool {
    std::fs::read_to_string(path)
        .map(|s| f(s.trim()))
        .unwrap_or(false)
}

async fn create(State(e): Eng, Query(q): Q, body: Bytes) -> Result<Response, ApiError> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad(format!("invalid JSON: {err}")))?;
    super::harden::check_create_body(&v)?;
    let name = q.get("name").cloned();
    let warnings = super::resources::warnings(&v);
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

/// `GET /containers/json`: the engine filters ([`super::filters`]).
async fn list(State(e): Eng, Query(q): Q) -> Result<Json<Value>, ApiError> {
    let f = super::filters::Filters::from_query(&q)?;
    Ok(Json(Value::Array(e.list_containers(flag(&q, "all"), &f)?)))
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
    let t = q.get("t").and_then(|t| t.parse().ok());
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
    let t = q.get("t").and_then(|t| t.parse().ok());
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
    let root = std::path::Path::new(super::manage::CGROUP_ROOT);
    Ok(Json(blocking(move || e.top(&id, &args, root)).await?))
}

async fn prune_containers(State(e): Eng) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || e.prune_containers()).await?))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=`.
async fn commit(State(e): Eng, req: Request) -> Result<Response, ApiError> {
    let o = super::commit::CommitOptions::from_query(req.uri().query().unwrap_or(""));
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|x| ApiError::bad(x.to_string()))?;
    let id = blocking(move || super::commit::commit(&e, &o, &body)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}

async fn auth(State(e): Eng, body: Bytes) -> Result<Json<Value>, ApiError> {
    Ok(Json(super::auth::login(&e.registry, &body).await?))
}

async fn disk_usage(State(e): Eng) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || Ok(e.disk_usage())).await?))
}

/// `docker builder prune`: forgets the build cache (the images stay).
async fn prune_build(State(e): Eng) -> Json<Value> {
    let deleted = super::builder::prune_cache(&e.opts.root);
    Json(json!({"CachesDeleted": deleted, "SpaceReclaimed": 0}))
}

/// Sends the log into `tx` (its last `o.tail` lines, or all of it), in
/// bounded chunks ([`logs::Reader`]); with `follow`, keeps going until
/// `done` says so (and everything was sent). The channel is bounded: a slow
/// client holds the reader back, and the daemon's memory stays small.
async fn pump(
    e: Arc<Engine>,
    id: String,
    o: LogOptions,
    follow: bool,
    done: impl Fn(Option<&super::Container>) -> bool,
    tx: mpsc::Sender<Bytes>,
) {
    let path = super::shim::log_file(&e.dir(&id), &id);
    // Opened once: an `--rm` container's log is unlinked right after its exit.
    let mut reader = logs::Reader::open(&path, o.tail);
    loop {
        let finished = done(e.find(&id).ok().as_ref());
        let lines = reader.next_chunk();
        let bytes = logs::render(&lines, &o, o.tty);
        if !bytes.is_empty() && tx.send(Bytes::from(bytes)).await.is_err() {
            return;
        }
        if lines.is_empty() {
            if !follow || finished {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}

async fn logs_handler(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let c = e.find(&id)?;
    let mut o = LogOptions {
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        tail: None,
        timestamps: flag(&q, "timestamps"),
        ..Default::default()
    };
    if !o.stdout && !o.stderr {
        return Err(ApiError::bad(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    o.tail = q.get("tail").and_then(|t| t.parse().ok());
    o.since = q.get("since").and_then(|t| logs::parse_unix_time(t));
    o.until = q.get("until").and_then(|t| logs::parse_unix_time(t));
    let follow = flag(&q, "follow");
    o.tty = c.config.tty;
    if !c.log_settings().map(|l| l.json_file).unwrap_or(true) {
        return Err(ApiError {
            status: 501,
            message: "configured logging driver does not support reading".into(),
        });
    }
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(pump(
        e,
        c.id,
        o,
        follow,
        |c| c.map(|c| !c.state.running).unwrap_or(true),
        tx,
    ));
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/vnd.docker.multiplexed-stream",
        )],
        channel_body(rx),
    )
        .into_response())
}

/// Reads a request body into a temp file (image tarballs).
async fn body_to_file(
    body: Body,
    dir: &std::path::Path,
) -> Result<tempfile::NamedTempFile, ApiError> {
    use std::io::Write;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut s = body.into_data_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad(e.to_string()))?;
        tmp.write_all(&chunk)
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    Ok(tmp)
}

fn json_lines(lines: Vec<Value>) -> Response {
    let body: String = lines.into_iter().map(|l| format!("{l}\r\n")).collect();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Every `/images/…` endpoint (names may contain slashes).
async fn images(
    State(e): Eng,
    UrlPath(rest): UrlPath<String>,
    Query(q): Q,
    req: Request,
) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let rest = rest.trim_start_matches('/').to_string();
    let creds = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(super::auth::AuthConfig::from_header);
    let tmpdir = e.opts.root.clone();
    let arg = |k: &str| q.get(k).cloned().unwrap_or_default();
    match (method.as_str(), rest.as_str()) {
        ("GET", "json") => {
            let f = super::filters::Filters::from_query(&q)?;
            Ok(Json(e.images.list_filtered(&f)?).into_response())
        }
        ("POST", "create") => {
            if q.get("fromSrc").map(String::as_str) == Some("-") {
                let tmp = body_to_file(req.into_body(), &tmpdir).await?;
                let (repo, tag) = split_repo_tag(&arg("repo"), &arg("tag"));
                let msg = arg("message");
                let id = blocking(move || e.images.import(tmp.path(), &repo, &tag, &msg)).await?;
                return Ok(json_lines(vec![json!({"status": id})]));
            }
            if q.contains_key("fromImage") {
                return super::pull::pull(e, arg("fromImage"), arg("tag"), creds).await;
            }
            Err(ApiError::bad("give fromSrc=- (import) or fromImage (pull)"))
        }
        ("GET", "search") => {
            let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            Ok(
                Json(super::auth::search(&e.registry, &arg("term"), limit, creds).await?)
                    .into_response(),
            )
        }
        ("POST", "prune") => {
            let all = super::filters::Filters::from_query(&q)?.bool("dangling")? == Some(false);
            Ok(Json(blocking(move || e.prune_images(all)).await?).into_response())
        }
        ("POST", "load") => {
            let tmp = body_to_file(req.into_body(), &tmpdir).await?;
            let loaded = blocking(move || e.images.load(tmp.path())).await?;
            Ok(json_lines(
                loaded
                    .into_iter()
                    .map(|l| json!({"stream": format!("{l}\n")}))
                    .collect(),
            ))
        }
        ("GET", "get") => {
            let names: Vec<String> = req
                .uri()
                .query()
                .unwrap_or("")
                .split('&')
                .filter_map(|kv| kv.strip_prefix("names="))
                .map(percent_decode)
                .collect();
            save(e, names).await
        }
        ("GET", r) if r.ends_with("/history") => {
            let name = r.trim_end_matches("/history").to_string();
            Ok(Json(blocking(move || super::lineage::history(&e, &name)).await?).into_response())
        }
        ("GET", r) if r.ends_with("/json") => {
            Ok(Json(e.images.inspect(r.trim_end_matches("/json"))?).into_response())
        }
        ("GET", r) if r.ends_with("/get") => {
            save(e, vec![r.trim_end_matches("/get").to_string()]).await
        }
        ("POST", r) if r.ends_with("/tag") => {
            let (name, repo, tag) = (
                r.trim_end_matches("/tag").to_string(),
                arg("repo"),
                arg("tag"),
            );
            blocking(move || e.images.tag(&name, &repo, &tag)).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        ("POST", r) if r.ends_with("/push") => {
            super::pull::push(
                e,
                r.trim_end_matches("/push").to_string(),
                arg("tag"),
                creds,
            )
            .await
        }
        ("DELETE", name) => {
            let (name, force) = (name.to_string(), flag(&q, "force"));
            let e2 = e.clone();
            let (out, _) = blocking(move || {
                e.images
                    .remove(&name, force, &|id| e2.image_users(id), &|| {
                        e2.container_layers()
                    })
            })
            .await?;
            Ok(Json(out).into_response())
        }
        _ => Err(ApiError::not_found(format!(
            "page not found: {method} /images/{rest}"
        ))),
    }
}

async fn save(e: Arc<Engine>, names: Vec<String>) -> Result<Response, ApiError> {
    let tmp = tempfile::NamedTempFile::new_in(&e.opts.root)
        .map_err(|x| ApiError::internal(x.to_string()))?;
    let path = tmp.path().to_path_buf();
    blocking(move || e.images.save(&names, &path)).await?;
    let f = tokio::fs::File::open(tmp.path())
        .await
        .map_err(|x| ApiError::internal(x.to_string()))?;
    drop(tmp); // unlinked; the open file stays readable
    let body = Body::from_stream(tokio_util_stream(f));
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

fn tokio_util_stream(
    f: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(f, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
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

/// `docker import FILE bb:1` sends `repo=bb:1` and an empty `tag` (the CLI
/// passes the reference whole, as dockerd parses it): the tag inside the
/// repo counts when no `tag` is given. A colon before the last `/` is a
/// registry's port, not a tag.
fn split_repo_tag(repo: &str, tag: &str) -> (String, String) {
    if tag.is_empty() {
        if let Some((name, t)) = repo.rsplit_once(':') {
            if !t.contains('/') {
                return (name.to_string(), t.to_string());
            }
        }
    }
    (repo.to_string(), tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::split_repo_tag;

    #[test]
    fn an_import_reference_may_carry_its_tag() {
        let s = |r: &str, t: &str| split_repo_tag(r, t);
        assert_eq!(s("bb:1", ""), ("bb".into(), "1".into()));
        assert_eq!(s("bb", "2"), ("bb".into(), "2".into()));
        assert_eq!(s("bb", ""), ("bb".into(), "".into()));
        assert_eq!(
            s("127.0.0.1:5000/team/bb", ""),
            ("127.0.0.1:5000/team/bb".into(), "".into())
        );
        assert_eq!(
            s("127.0.0.1:5000/team/bb:v3", ""),
            ("127.0.0.1:5000/team/bb".into(), "v3".into())
        );
    }
}
