//! Pause and unpause (freezing a container in place), and update (new
//! limits for a live container).
//!
//! ## Pause
//!
//! `docker pause C` does not signal anything. It writes `1` to the
//! container's `cgroup.freeze` (cgroup v2) or `FROZEN` to its
//! `freezer.state` (v1): the kernel stops scheduling every task of the group
//! at its next return to user space, and the processes stay frozen, with
//! their memory and files, until `docker unpause` writes `0` (`THAWED`).
//! Chapter 02 holds the mechanism (`Cgroup::freeze`, `Cgroup::thaw`); the
//! engine reaches it through the runtime (`runtime::container::pause`), the
//! same in-process path it uses for `kill`, so `mini-runc pause`/`resume`
//! and the daemon share one state machine.
//!
//! A frozen process cannot act on a signal, so a stop or kill of a paused
//! container signals it first and thaws it after (as dockerd does): the
//! pending signal is delivered as soon as the tasks run again.
//!
//! In the record, a paused container stays `Running` and its status reads
//! `paused`, as in `docker inspect` (`State.Paused`, `Status: "paused"`).
//!
//! ## Export
//!
//! `docker export C` is `GET /containers/{id}/export`: a tar of the
//! container's whole filesystem as the container sees it, the merged view
//! of its layers (a file deleted in the rw layer is hidden by its whiteout,
//! so it is not in the tar). It is the same root `docker cp` reads
//! ([`Engine::container_root`]): the rootfs mount of a running container,
//! or a private mount of its layers when it is stopped. The mounts the
//! runtime made inside the container's own mount namespace (`/proc`,
//! `/sys`, `/dev`) are not in that view, so their directories come out
//! empty, as in Docker's export.
//!
//! ## Update
//!
//! `docker update --memory 64m --cpus 0.5 --restart always C` sends
//! `POST /containers/{id}/update` with Docker's `Resources` and a
//! `RestartPolicy` (every other field at its zero value). The engine turns
//! the resources into an OCI `LinuxResources` ([`oci_resources`]) and hands
//! it to the runtime (`runtime::container::update`, what `mini-runc update`
//! runs), which writes the cgroup files through chapter 02's setters
//! (`memory.limit_in_bytes` or `memory.max`, `cpu.cfs_quota_us` or
//! `cpu.max`, `pids.max`, …). The new values are then kept in the
//! container's `HostConfig`, and every later start builds its spec's
//! `linux.resources` from that same function, so a restart keeps them.
//! A field with no cgroup setter here (`MemoryReservation`, `BlkioWeight`,
//! `KernelMemory`, …) is refused by name, never accepted and dropped.

use super::api::Q;
use super::state::{transition, Action};
use super::{stat_err, ApiError, Engine, Result};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use oci_spec::runtime::{LinuxResources, Spec};
use serde_json::{json, Value};

/// The `Resources` fields an update applies to the cgroup (and keeps).
const UPDATABLE: &[&str] = &[
    "Memory",
    "MemorySwap",
    "CpuShares",
    "CpuQuota",
    "CpuPeriod",
    "NanoCpus",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
];

/// Whether a field of Docker's update body carries a value: the CLI sends
/// every field, unset ones at their zero value.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(true) => true,
    }
}

/// The OCI `linux.resources` for the updatable fields set in `hc` (a
/// `HostConfig`, or the body of an update).
pub(super) fn oci_resources(hc: &Value) -> Value {
    let int = |k: &str| hc.get(k).and_then(Value::as_i64).filter(|v| *v != 0);
    let text = |k: &str| hc.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut r = json!({});
    if let Some(m) = int("Memory") {
        r["memory"]["limit"] = json!(m);
    }
    if let Some(s) = int("MemorySwap") {
        r["memory"]["swap"] = json!(s);
    }
    if let Some(s) = int("CpuShares") {
        r["cpu"]["shares"] = json!(s);
    }
    if let Some(n) = int("NanoCpus") {
        let period: i64 = 100_000;
        r["cpu"]["period"] = json!(period);
        r["cpu"]["quota"] = json!(n * period / 1_000_000_000);
    }
    if let Some(q) = int("CpuQuota") {
        r["cpu"]["quota"] = json!(q);
    }
    if let Some(p) = int("CpuPeriod") {
        r["cpu"]["period"] = json!(p);
    }
    if let Some(c) = text("CpusetCpus") {
        r["cpu"]["cpus"] = json!(c);
    }
    if let Some(m) = text("CpusetMems") {
        r["cpu"]["mems"] = json!(m);
    }
    if let Some(p) = int("PidsLimit").filter(|p| *p > 0) {
        r["pids"]["limit"] = json!(p);
    }
    r
}

/// Writes the resources of `hc` into a spec's `linux.resources`, keeping
/// what else is there (device rules).
pub(super) fn apply_resources(hc: &Value, spec: &mut Spec) {
    let want: LinuxResources =
        serde_json::from_value(oci_resources(hc)).expect("oci_resources writes OCI fields");
    let have = spec
        .linux_mut()
        .get_or_insert_with(Default::default)
        .resources_mut()
        .get_or_insert_with(Default::default);
    if let Some(w) = want.memory() {
        let m = have.memory_mut().get_or_insert_with(Default::default);
        if let Some(limit) = w.limit() {
            m.set_limit(Some(limit));
        }
        if let Some(swap) = w.swap() {
            m.set_swap(Some(swap));
        }
    }
    if let Some(w) = want.cpu() {
        let c = have.cpu_mut().get_or_insert_with(Default::default);
        if let Some(shares) = w.shares() {
            c.set_shares(Some(shares));
        }
        if let Some(quota) = w.quota() {
            c.set_quota(Some(quota));
        }
        if let Some(period) = w.period() {
            c.set_period(Some(period));
        }
        if let Some(cpus) = w.cpus() {
            c.set_cpus(Some(cpus.clone()));
        }
        if let Some(mems) = w.mems() {
            c.set_mems(Some(mems.clone()));
        }
    }
    if let Some(w) = want.pids() {
        have.set_pids(Some(*w));
    }
}

impl Engine {
    /// `POST /containers/{id}/pause`.
    pub fn pause(&self, key: &str) -> Result<()> {
        let c = self.find(key)?;
        transition(c.state.status, Action::Pause).map_err(|r| r.to_api(&c.id))?;
        use super::runtimes::Runtime;
        self.runtime_of(&c.id)
            .pause(&c.id)
            .map_err(|e| stat_err(format!("Cannot pause container {}: {e}", c.id)))?;
        self.update(&c.id, |c| {
            if let Ok(next) = transition(c.state.status, Action::Pause) {
                c.state.status = next;
            }
        });
        self.emit(&c, "pause", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub fn unpause(&self, key: &str) -> Result<()> {
        let c = self.find(key)?;
        transition(c.state.status, Action::Unpause).map_err(|r| r.to_api(&c.id))?;
        self.thaw(&c.id)?;
        self.emit(&c, "unpause", &[]);
        Ok(())
    }

    /// Thaws a paused container and marks it running again (quietly: a
    /// kill thaws too, and Docker reports no `unpause` for it).
    pub(super) fn thaw(&self, id: &str) -> Result<()> {
        use super::runtimes::Runtime;
        self.runtime_of(id)
            .resume(id)
            .map_err(|e| stat_err(format!("Cannot unpause container {id}: {e}")))?;
        self.update(id, |c| {
            if let Ok(next) = transition(c.state.status, Action::Unpause) {
                c.state.status = next;
            }
        });
        Ok(())
    }
}

impl Engine {
    /// `POST /containers/{id}/update`: returns Docker's `{"Warnings": []}`.
    pub fn update_container(&self, key: &str, body: &Value) -> Result<Value> {
        let c = self.find(key)?;
        let fields = body
            .as_object()
            .ok_or_else(|| ApiError::bad("the update body must be a JSON object"))?;
        let refused: Vec<&str> = fields
            .iter()
            .filter(|(k, v)| {
                !UPDATABLE.contains(&k.as_str()) && k.as_str() != "RestartPolicy" && is_set(v)
            })
            .map(|(k, _)| k.as_str())
            .collect();
        if !refused.is_empty() {
            return Err(ApiError::bad(format!(
                "cannot update {}: mini-docker applies only {} and RestartPolicy",
                refused.join(", "),
                UPDATABLE.join(", ")
            )));
        }
        let set = |k: &str| fields.get(k).is_some_and(is_set);
        let stored = c.host_config.to_value();
        let had = |k: &str| stored.get(k).is_some_and(is_set);
        // Docker's conflicts: --cpus and --cpu-quota/--cpu-period are two
        // spellings of one limit.
        if set("NanoCpus") && (set("CpuQuota") || set("CpuPeriod")) {
            return Err(ApiError::bad(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if set("NanoCpus") && had("CpuQuota") {
            return Err(ApiError::bad(
                "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
            ));
        }
        if (set("CpuQuota") || set("CpuPeriod")) && had("NanoCpus") {
            return Err(ApiError::bad(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            ));
        }
        let mut hc = stored.clone();
        for k in UPDATABLE {
            if set(k) {
                hc[*k] = fields[*k].clone();
            }
        }
        if let Some(p) = fields.get("RestartPolicy").filter(|p| is_set(&p["Name"])) {
            hc["RestartPolicy"] = p.clone();
            if hc["AutoRemove"].as_bool().unwrap_or(false) {
                return Err(ApiError::bad(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            super::restart::Policy::from_host_config(&hc)?;
        }
        let hc: mini_docker_api::container::HostConfig =
            serde_json::from_value(hc).map_err(|e| {
                ApiError::bad(format!("invalid HostConfig: {}", crate::errors::chain(&e)))
            })?;
        let changes: serde_json::Map<String, Value> = UPDATABLE
            .iter()
            .filter(|k| set(k))
            .map(|k| (k.to_string(), fields[*k].clone()))
            .collect();
        if c.state.running && !changes.is_empty() {
            let r: oci_spec::runtime::LinuxResources =
                serde_json::from_value(oci_resources(&Value::Object(changes))).map_err(|e| {
                    ApiError::bad(format!("invalid resources: {}", crate::errors::chain(&e)))
                })?;
            use super::runtimes::Runtime;
            self.runtime_of(&c.id)
                .update(&c.id, &r)
                .map_err(|e| ApiError::bad(format!("Cannot update container {}: {e}", c.id)))?;
        }
        self.update(&c.id, |c| c.host_config = hc);
        Ok(json!({"Warnings": []}))
    }
}

/// The calls the pause, unpause, update and export routes make (moby's
/// `stateBackend` and `exportBackend`); the engine's are in
/// [`crate::backend`], the routers' unit tests use [`crate::api::fake`].
pub trait LifecycleBackend: super::tools_api::ToolsBackend {
    /// `POST /containers/{id}/pause` (blocking).
    fn pause(&self, key: &str) -> Result<()>;
    /// `POST /containers/{id}/unpause` (blocking).
    fn unpause(&self, key: &str) -> Result<()>;
    /// `POST /containers/{id}/update` (blocking): `{Warnings}`.
    fn update_container(&self, key: &str, body: &Value) -> Result<Value>;
}

/// The backend the handlers are given.
type Backend<B> = State<std::sync::Arc<B>>;

pub(super) async fn update<B: LifecycleBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<Value>,
) -> std::result::Result<Json<Value>, ApiError> {
    let out = super::api::blocking(move || e.update_container(&id, &body)).await?;
    Ok(Json(out))
}

pub(super) async fn pause<B: LifecycleBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
    Query(_q): Q,
) -> std::result::Result<StatusCode, ApiError> {
    super::api::blocking(move || e.pause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn unpause<B: LifecycleBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> std::result::Result<StatusCode, ApiError> {
    super::api::blocking(move || e.unpause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar stream.
pub(super) async fn export<B: LifecycleBackend>(
    State(e): Backend<B>,
    UrlPath(id): UrlPath<String>,
) -> std::result::Result<Response, ApiError> {
    let root = super::api::blocking(move || e.container_root(&id)).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let out = super::tools_api::ChanWriter(tx);
        if let Err(e) = super::archive::write_archive(root.fd(), "/", out) {
            tracing::warn!("export: {}", e.message);
        }
    });
    let s = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(Ok::<_, std::convert::Infallible>);
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(s),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    //! The pause, unpause, update and export routes against a fake backend
    //! (no daemon, no root).
    use super::*;
    use crate::api::fake::{send, Fake};
    use axum::routing::{get, post};
    use axum::Router;
    use std::sync::Arc;

    fn app(fake: Arc<Fake>) -> Router {
        Router::new()
            .route("/containers/:id/pause", post(pause::<Fake>))
            .route("/containers/:id/unpause", post(unpause::<Fake>))
            .route("/containers/:id/update", post(update::<Fake>))
            .route("/containers/:id/export", get(export::<Fake>))
            .with_state(fake)
    }

    #[tokio::test]
    async fn lifecycle_routes_make_typed_calls_and_keep_error_statuses() {
        let fake = Arc::new(Fake::default());
        let routes = app(fake.clone());
        let (s, _) = send(&routes, "POST", "/containers/c1/pause", "").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = send(&routes, "POST", "/containers/c1/unpause", "").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, b) = send(&routes, "POST", "/containers/c1/update", r#"{"Memory":1}"#).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"Warnings": []})));
        let (s, _) = send(&routes, "GET", "/containers/c1/export", "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(
            fake.calls(),
            [
                "pause c1",
                "unpause c1",
                "update c1 {\"Memory\":1}",
                "root c1"
            ]
        );
        let app = app(Fake::failing(ApiError::conflict(
            "Container c1 is not running",
        )));
        let (s, b) = send(&app, "POST", "/containers/c1/pause", "").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(b["message"], "Container c1 is not running");
    }
}
