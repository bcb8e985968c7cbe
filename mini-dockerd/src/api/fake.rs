//! A fake backend for the routers' unit tests: it records each call it is
//! given and answers with a canned result, or with the error it was told
//! to fail with. No daemon, no root, no files.

use super::{ContainerBackend, ImageBackend, WaitCondition, WaitFuture};
use crate::auth::AuthConfig;
use crate::commit::CommitOptions;
use crate::filters::Filters;
use crate::logs::LogOptions;
use crate::ApiError;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tower::ServiceExt;

type Result<T> = std::result::Result<T, ApiError>;

/// Records calls; fails each with `fail` when set.
#[derive(Default)]
pub struct Fake {
    /// The calls made, as `verb arg arg…`.
    pub calls: Mutex<Vec<String>>,
    /// The error every call returns, when set.
    pub fail: Option<ApiError>,
}

impl Fake {
    /// A fake whose every call fails with `e`.
    pub fn failing(e: ApiError) -> Arc<Fake> {
        Arc::new(Fake {
            fail: Some(e),
            ..Default::default()
        })
    }

    fn call(&self, what: String) -> Result<()> {
        self.calls.lock().unwrap().push(what);
        match &self.fail {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

/// Sends one request through `app`: its status and body (as JSON, or
/// `Null` when empty or not JSON). A body goes with `Content-Type:
/// application/json`, as the docker CLI and docker-py send it.
pub async fn send(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let json = [("content-type", "application/json")];
    let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &json };
    let (status, bytes) = send_raw(app, method, uri, headers, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Like [`send`], with headers; the status and the raw body.
pub async fn send_raw(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Body::from(body.to_string())).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

impl ContainerBackend for Fake {
    fn container_create(
        &self,
        name: Option<&str>,
        body: &Value,
        _cancel: Option<Arc<AtomicBool>>,
    ) -> Result<String> {
        self.call(format!("create {name:?} {}", body["Image"]))?;
        Ok("c0ffee".into())
    }
    fn container_list(&self, all: bool, filters: &Filters) -> Result<Vec<u8>> {
        self.call(format!("list all={all} {filters:?}"))?;
        Ok(json!([{"Id": "c0ffee"}]).to_string().into_bytes())
    }
    fn container_inspect(&self, key: &str) -> Result<Value> {
        self.call(format!("inspect {key}"))?;
        Ok(json!({"Id": key}))
    }
    fn container_start(self: &Arc<Self>, key: &str) -> Result<()> {
        self.call(format!("start {key}"))
    }
    async fn container_stop(self: Arc<Self>, key: String, timeout: Option<i64>) -> Result<()> {
        self.call(format!("stop {key} {timeout:?}"))
    }
    async fn container_restart(self: Arc<Self>, key: String, timeout: Option<i64>) -> Result<()> {
        self.call(format!("restart {key} {timeout:?}"))
    }
    fn container_kill(&self, key: &str, signal: &str) -> Result<()> {
        self.call(format!("kill {key} {signal}"))
    }
    fn container_wait(self: &Arc<Self>, key: &str, c: WaitCondition) -> Result<WaitFuture> {
        self.call(format!("wait {key} {}", c.as_str()))?;
        Ok(Box::pin(async { 7 }))
    }
    fn container_remove(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        self.call(format!("remove {key} force={force} v={volumes}"))
    }
    fn container_rename(&self, key: &str, name: &str) -> Result<()> {
        self.call(format!("rename {key} {name}"))
    }
    fn container_top(&self, key: &str, ps_args: &str) -> Result<Value> {
        self.call(format!("top {key} {ps_args}"))?;
        Ok(json!({"Titles": [], "Processes": []}))
    }
    fn containers_prune(&self) -> Result<Value> {
        self.call("prune".into())?;
        Ok(json!({"ContainersDeleted": [], "SpaceReclaimed": 0}))
    }
    fn container_commit(self: &Arc<Self>, o: &CommitOptions, body: &[u8]) -> Result<String> {
        self.call(format!("commit {} {} {}", o.container, o.repo, body.len()))?;
        Ok("sha256:1".into())
    }
    fn container_logs(
        self: &Arc<Self>,
        key: &str,
        o: LogOptions,
        follow: bool,
    ) -> Result<mpsc::Receiver<Vec<u8>>> {
        self.call(format!("logs {key} tail={:?} follow={follow}", o.tail))?;
        let (tx, rx) = mpsc::channel(1);
        drop(tx);
        Ok(rx)
    }
}

impl ImageBackend for Fake {
    fn image_spool_dir(&self) -> PathBuf {
        std::env::temp_dir()
    }
    fn image_list(&self, filters: &Filters, all: bool) -> Result<Value> {
        self.call(format!("list {filters:?} all={all}"))?;
        Ok(json!([]))
    }
    fn image_import(&self, tar: &Path, repo: &str, tag: &str, message: &str) -> Result<String> {
        let size = std::fs::metadata(tar).map(|m| m.len()).unwrap_or(0);
        self.call(format!("import {size} {repo} {tag} {message}"))?;
        Ok("sha256:2".into())
    }
    async fn image_pull(
        self: Arc<Self>,
        image: String,
        tag: String,
        auth: Option<AuthConfig>,
    ) -> Result<Response> {
        self.call(format!("pull {image} {tag} auth={}", auth.is_some()))?;
        Ok(StatusCode::OK.into_response())
    }
    async fn image_push(
        self: Arc<Self>,
        name: String,
        tag: String,
        auth: Option<AuthConfig>,
    ) -> Result<Response> {
        self.call(format!("push {name} {tag} auth={}", auth.is_some()))?;
        Ok(StatusCode::OK.into_response())
    }
    async fn image_search(
        self: Arc<Self>,
        term: String,
        limit: usize,
        _auth: Option<AuthConfig>,
    ) -> Result<Value> {
        self.call(format!("search {term} {limit}"))?;
        Ok(json!([]))
    }
    fn images_prune(&self, all: bool) -> Result<Value> {
        self.call(format!("prune all={all}"))?;
        Ok(json!({}))
    }
    fn image_load(&self, tar: &Path) -> Result<Vec<String>> {
        let size = std::fs::metadata(tar).map(|m| m.len()).unwrap_or(0);
        self.call(format!("load {size}"))?;
        Ok(vec!["Loaded image: bb:latest".into()])
    }
    fn image_save(&self, names: &[String], out: &Path) -> Result<()> {
        self.call(format!("save {}", names.join(",")))?;
        std::fs::write(out, b"tar").map_err(|e| ApiError::internal(e.to_string()))
    }
    fn image_inspect(&self, name: &str) -> Result<Value> {
        self.call(format!("inspect {name}"))?;
        Ok(json!({"Id": "sha256:2"}))
    }
    fn image_history(&self, name: &str) -> Result<Value> {
        self.call(format!("history {name}"))?;
        Ok(json!([]))
    }
    fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        self.call(format!("tag {name} {repo} {tag}"))
    }
    fn image_remove(&self, name: &str, force: bool) -> Result<Value> {
        self.call(format!("remove {name} force={force}"))?;
        Ok(json!([{"Untagged": name}]))
    }
}

impl crate::netvol_api::VolumeBackend for Fake {
    fn volume_list(&self, f: &Filters) -> Result<Value> {
        self.call(format!("volumes {f:?}"))?;
        Ok(json!({"Volumes": [], "Warnings": null}))
    }
    fn volume_create(&self, body: &mini_docker_api::bodies::VolumeCreate) -> Result<Value> {
        let name = json!(body.name);
        self.call(format!("volume create {name}"))?;
        Ok(json!({"Name": name}))
    }
    fn volume_inspect(&self, name: &str) -> Result<Value> {
        self.call(format!("volume inspect {name}"))?;
        Ok(json!({"Name": name}))
    }
    fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        self.call(format!("volume rm {name} force={force}"))
    }
    fn volume_prune(&self) -> Value {
        let _ = self.call("volume prune".into());
        json!({"VolumesDeleted": [], "SpaceReclaimed": 0})
    }
}

impl crate::lifecycle::LifecycleBackend for Fake {
    fn pause(&self, key: &str) -> Result<()> {
        self.call(format!("pause {key}"))
    }
    fn unpause(&self, key: &str) -> Result<()> {
        self.call(format!("unpause {key}"))
    }
    fn update_container(&self, key: &str, body: &Value) -> Result<Value> {
        self.call(format!("update {key} {body}"))?;
        Ok(json!({"Warnings": []}))
    }
}

impl crate::tools_api::ToolsBackend for Fake {
    fn container_root(&self, key: &str) -> Result<crate::archive::ContainerRoot> {
        self.call(format!("root {key}"))?;
        Err(ApiError::not_found(format!("{key}: the fake has no root")))
    }
    fn changes(&self, key: &str) -> Result<Value> {
        self.call(format!("changes {key}"))?;
        Ok(json!([{"Path": "/tmp", "Kind": 0}]))
    }
    fn stats(&self, key: &str, interval: std::time::Duration) -> Result<Value> {
        self.call(format!("stats {key} {}ms", interval.as_millis()))?;
        Ok(json!({"id": key}))
    }
}

impl crate::distribution::DistributionBackend for Fake {
    fn distribution_inspect<'a>(
        &'a self,
        name: &'a str,
        r: registry::Reference,
        auth: Option<AuthConfig>,
    ) -> futures_util::future::BoxFuture<'a, Result<Value>> {
        let call = format!(
            "distribution {name} {}:{} auth={}",
            r.repository,
            r.tag.as_deref().unwrap_or(""),
            auth.is_some()
        );
        Box::pin(async move {
            self.call(call)?;
            Ok(json!({"Descriptor": {}, "Platforms": []}))
        })
    }
}

impl crate::hijack::ExecBackend for Fake {
    fn resize(&self, key: &str, rows: u16, cols: u16) -> Result<()> {
        self.call(format!("resize {key} {rows}x{cols}"))
    }
    fn exec_create(&self, key: &str, body: &mini_docker_api::bodies::ExecCreate) -> Result<String> {
        self.call(format!(
            "exec create {key} {:?}",
            body.cmd.clone().unwrap_or_default()
        ))?;
        Ok("e1".into())
    }
    fn exec_inspect(&self, id: &str) -> Result<Value> {
        self.call(format!("exec inspect {id}"))?;
        Ok(json!({"ID": id}))
    }
    fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        self.call(format!("exec resize {id} {rows}x{cols}"))
    }
}

/// The fake's streams: an attach replays `hello` (with `logs=1`) and has
/// no live stream; an exec `e1` (no terminal, keys `ctrl-x`) prints `out`
/// when started, through one end of a socket pair.
impl crate::hijack::StreamBackend for Fake {
    fn attach(
        &self,
        key: &str,
        req: crate::hijack::AttachRequest,
    ) -> Result<crate::hijack::Attached> {
        let w = req.wants;
        self.call(format!(
            "attach {key} stdin={} stdout={} stderr={} logs={} stream={}",
            w.stdin, w.stdout, w.stderr, req.logs, req.stream
        ))?;
        Ok(crate::hijack::Attached {
            tty: true,
            stdin: w.stdin,
            replay: if req.logs { b"hello".to_vec() } else { vec![] },
            shim: None,
        })
    }
    fn exec_streams(&self, id: &str) -> Result<crate::hijack::ExecStreams> {
        self.call(format!("exec streams {id}"))?;
        Ok(crate::hijack::ExecStreams {
            tty: false,
            stdin: false,
            detach_keys: Some(if id == "badkeys" { "ctrl-" } else { "ctrl-x" }.into()),
        })
    }
    fn exec_startable(&self, id: &str) -> Result<()> {
        self.call(format!("exec startable {id}"))
    }
    fn exec_start(&self, id: &str, tty: Option<bool>) -> Result<std::os::unix::net::UnixStream> {
        self.call(format!("exec start {id} tty={tty:?}"))?;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut &theirs, b"out").unwrap();
        drop(theirs);
        Ok(ours)
    }
    fn exec_finished(&self, id: &str, fallback: i64) {
        let _ = self.call(format!("exec finished {id} {fallback}"));
    }
    fn exec_ended(&self, id: &str) -> bool {
        let _ = self.call(format!("exec ended {id}"));
        true
    }
}

impl crate::netvol_api::NetworkBackend for Fake {
    fn network_list(&self, f: &Filters) -> Result<Value> {
        self.call(format!("network ls {f:?}"))?;
        Ok(json!([]))
    }
    fn network_create(&self, body: &Value) -> Result<Value> {
        self.call(format!("network create {}", body["Name"]))?;
        Ok(json!({"Id": "n1", "Warning": ""}))
    }
    fn network_inspect(&self, key: &str) -> Result<Value> {
        self.call(format!("network inspect {key}"))?;
        Ok(json!({"Id": key}))
    }
    fn network_remove(&self, key: &str) -> Result<()> {
        self.call(format!("network rm {key}"))
    }
    fn network_connect(
        &self,
        key: &str,
        body: &mini_docker_api::bodies::NetworkConnect,
    ) -> Result<()> {
        let aliases = body
            .endpoint_config
            .as_ref()
            .and_then(|e| e.aliases.clone());
        self.call(format!(
            "network connect {key} {:?} aliases={aliases:?}",
            body.container
        ))
    }
    fn network_disconnect(
        &self,
        key: &str,
        body: &mini_docker_api::bodies::NetworkDisconnect,
    ) -> Result<()> {
        self.call(format!(
            "network disconnect {key} {:?} force={:?}",
            body.container, body.force
        ))
    }
    fn network_prune(&self) -> Value {
        let _ = self.call("network prune".into());
        json!({"NetworksDeleted": []})
    }
}
