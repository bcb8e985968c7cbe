//! # The builder: `POST /build`, a Dockerfile run step by step into layers
//!
//! The client sends the build context as a tar (already filtered by
//! `.dockerignore`) and the options in the query string. The daemon
//! unpacks the context into a scratch directory (through chapter 03's safe
//! apply), parses the Dockerfile ([`crate::build::dockerfile`]) and runs
//! each instruction on top of the image the previous one made:
//!
//! ```text
//!  parent image ──▶ step ──▶ new config (+ a layer) ──▶ new image id ──▶ next step
//!                    │
//!                    ├─ metadata (ENV, CMD, LABEL…): change the config only; history says empty_layer
//!                    ├─ RUN: a real container (the engine's create/start, its runtime and network),
//!                    │       run to its exit; its read-write layer, diffed by chapter 03, is the layer
//!                    └─ COPY/ADD/WORKDIR: a read-write layer on the parent, mounted; files copied
//!                            in (never from outside the context); diffed the same way
//! ```
//!
//! Every step's result is an image in chapter 04's store (config + manifest,
//! untagged; [`super::lineage`] remembers it by id, with its parent), and
//! the build cache maps *(parent id, the instruction as it will appear in
//! the history, digest of the copied content)* to that id. Keying on the
//! parent id means a step is only ever reused on top of the very same
//! parent: a poisoned or stale entry cannot leak onto another base.
//!
//! The answer is a stream of JSON lines, like Docker's legacy builder:
//!
//! ```text
//! {"stream":"Step 2/4 : RUN echo hi\n"}
//! {"stream":" ---> Running in 1c2d3e4f5a6b\n"}
//! {"stream":"hi\n"}
//! {"stream":"Removing intermediate container 1c2d3e4f5a6b\n"}
//! {"stream":" ---> 9a8b7c6d5e4f\n"}
//! {"aux":{"ID":"sha256:9a8b…"}}
//! {"stream":"Successfully built 9a8b7c6d5e4f\n"}
//! {"stream":"Successfully tagged demo:latest\n"}
//! ```
//!
//! and on failure `{"errorDetail":{"message":…},"error":…}`.

use super::buildfs::{self, diff_to_layer, resolve_in, CopyPlan, MountedLayer};
use super::{lineage, util, ApiError, Engine, Result};
use crate::build::dockerfile::{self, Cmd, CopySpec, Dockerfile, Form, Instruction};
use ::images::digest;
use ::images::import::AddedLayer;
use ::images::media::Compression;
use ::images::Digest;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The query of `POST /build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// `t` (repeatable): names to tag the result with.
    pub tags: Vec<String>,
    /// `dockerfile`: its path inside the context.
    pub dockerfile: String,
    /// `buildargs`: JSON `{"K":"V"}`.
    pub build_args: BTreeMap<String, Option<String>>,
    /// `nocache`.
    pub no_cache: bool,
    /// `target`: the last stage to build.
    pub target: Option<String>,
    /// `rm` (default true): remove intermediate containers after a success.
    pub rm: bool,
    /// `forcerm`: remove them even after a failure.
    pub force_rm: bool,
    /// `q`: print only the image id.
    pub quiet: bool,
    /// `networkmode` for RUN containers (default: the default bridge).
    pub network_mode: String,
}

impl BuildOptions {
    /// Parses the raw query string (`t` may repeat).
    pub fn from_query(raw: &str) -> Result<BuildOptions> {
        let mut o = BuildOptions {
            tags: vec![],
            dockerfile: "Dockerfile".into(),
            build_args: BTreeMap::new(),
            no_cache: false,
            target: None,
            rm: true,
            force_rm: false,
            quiet: false,
            network_mode: "default".into(),
        };
        let yes = |v: &str| matches!(v, "1" | "true" | "True");
        for kv in raw.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = super::api::percent_decode(v);
            match k {
                "t" if !v.is_empty() => o.tags.push(v),
                "dockerfile" if !v.is_empty() => o.dockerfile = v,
                "buildargs" if !v.is_empty() => {
                    o.build_args = serde_json::from_str(&v).map_err(|e| {
                        ApiError::bad(format!(
                            "invalid buildargs {v:?}: {}",
                            crate::errors::chain(&e)
                        ))
                    })?
                }
                "nocache" => o.no_cache = yes(&v),
                "target" if !v.is_empty() => o.target = Some(v.to_ascii_lowercase()),
                "rm" => o.rm = yes(&v),
                "forcerm" => o.force_rm = yes(&v),
                "q" => o.quiet = yes(&v),
                "networkmode" if !v.is_empty() => o.network_mode = v,
                "remote" if !v.is_empty() => {
                    return Err(ApiError::bad(
                        "remote build contexts are not supported: send the context as a tar",
                    ))
                }
                _ => {}
            }
        }
        for t in &o.tags {
            let (repo, _) = ::images::image::split_ref(t);
            if repo.is_empty()
                || repo
                    .chars()
                    .any(|c| c.is_ascii_uppercase() || c.is_whitespace())
            {
                return Err(ApiError::bad(format!(
                    "invalid reference format: repository name must be lowercase: {t}"
                )));
            }
        }
        Ok(o)
    }
}

/// The build's output stream.
pub struct Progress {
    tx: mpsc::Sender<Bytes>,
    quiet: bool,
    /// The client went away (the stream could not be written).
    gone: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// A stream into `tx`.
    pub fn new(tx: mpsc::Sender<Bytes>, quiet: bool) -> Progress {
        Progress {
            tx,
            quiet,
            gone: std::sync::atomic::AtomicBool::new(false),
        }
    }
    fn send(&self, v: Value) {
        if self
            .tx
            .blocking_send(Bytes::from(format!("{v}\r\n")))
            .is_err()
        {
            self.gone.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    /// Whether the client hung up (the build then stops at the next step).
    pub fn gone(&self) -> bool {
        self.gone.load(std::sync::atomic::Ordering::Relaxed) || self.tx.is_closed()
    }
    /// A line of text (`{"stream": …}`), unless quiet.
    pub fn say(&self, s: impl Into<String>) {
        if !self.quiet {
            self.send(json!({ "stream": s.into() }));
        }
    }
    /// `{"aux": …}`.
    pub fn aux(&self, v: Value) {
        self.send(json!({ "aux": v }));
    }
    /// Docker's error message.
    pub fn error(&self, m: &str) {
        self.send(json!({"errorDetail": {"message": m}, "error": m}));
    }
}

/// `sha256:abc…` -> `abc…` (12).
fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    super::errors::system(e)
}

/// The image a step starts from (or made): its config document and layers.
#[derive(Debug, Clone)]
pub struct Current {
    /// `sha256:…`, empty for `scratch` before any step.
    pub id: String,
    /// The whole config document (architecture, os, config, rootfs, history).
    pub doc: Value,
    /// The manifest's layers.
    pub layers: Vec<(Digest, u64, Compression)>,
}

impl Current {
    /// `FROM scratch`: nothing.
    pub fn scratch() -> Current {
        let p = ::images::PlatformSpec::host();
        Current {
            id: String::new(),
            doc: json!({
                "architecture": p.arch, "os": p.os, "config": {},
                "rootfs": {"type": "layers", "diff_ids": []}, "history": [],
            }),
            layers: vec![],
        }
    }

    /// An image of the store.
    pub fn of(img: &::images::Image) -> Result<Current> {
        let doc: Value = serde_json::from_slice(&img.config_bytes).map_err(internal)?;
        let mut layers = Vec::new();
        for l in img.manifest.layers() {
            let c = ::images::layer::compression_of(l).map_err(internal)?;
            layers.push((l.digest().clone(), l.size(), c));
        }
        Ok(Current {
            id: img.config_digest.to_string(),
            doc,
            layers,
        })
    }

    /// `config.<key>`.
    fn cfg(&self, key: &str) -> &Value {
        &self.doc["config"][key]
    }

    /// `config.Env` as pairs.
    fn env(&self) -> Vec<(String, String)> {
        self.cfg("Env")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn workdir(&self) -> String {
        self.cfg("WorkingDir")
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("/")
            .to_string()
    }
}

/// A layer a step made: the blob in the store, and the bytes of the files
/// in it (what `docker history` shows as SIZE).
pub type Layer = (AddedLayer, u64);

/// Writes `cur`'s document with one more history entry (and maybe a layer)
/// as a new image: config blob, manifest blob, lineage record.
pub fn commit_step(
    engine: &Engine,
    parent: &Current,
    mut doc: Value,
    layer: Option<&Layer>,
    history: Value,
) -> Result<Current> {
    let now = ::images::rfc3339(util::now_nanos() as u64 / 1_000_000_000);
    let mut h = history;
    h["created"] = json!(now);
    if layer.is_none() {
        h["empty_layer"] = json!(true);
    }
    doc["created"] = json!(now);
    if !doc["history"].is_array() {
        doc["history"] = json!([]);
    }
    if let Some(a) = doc["history"].as_array_mut() {
        a.push(h);
    }
    let mut layers = parent.layers.clone();
    if let Some((l, _)) = layer {
        if !doc["rootfs"]["diff_ids"].is_array() {
            doc["rootfs"] = json!({"type": "layers", "diff_ids": []});
        }
        if let Some(a) = doc["rootfs"]["diff_ids"].as_array_mut() {
            a.push(json!(l.diff_id.to_string()));
        }
        layers.push((l.digest.clone(), l.size, l.compression));
    }
    let bytes = ::images::canonical_json(&doc);
    let blobs = &engine.images.store.blobs;
    let (config_digest, size) = blobs.put(&bytes).map_err(internal)?;
    let manifest = ::images::layout::build_manifest((&config_digest, size), &layers);
    let (manifest_digest, _) = blobs.put(&manifest).map_err(internal)?;
    let id = config_digest.to_string();
    lineage::record(
        &engine.opts.root,
        &id,
        lineage::Made {
            manifest: manifest_digest.to_string(),
            parent: parent.id.clone(),
            size: layer.map(|(_, n)| *n).unwrap_or(0),
        },
    )?;
    Ok(Current { id, doc, layers })
}

/// The scratch directory of one build, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // Nothing may stay mounted under it (the mounts' guards are gone by now).
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Applies a metadata instruction to an image config document; returns
/// the history message (`ENV A=1`, `CMD ["sh"]`). Shared with `commit --change`.
pub fn apply_meta(
    doc: &mut Value,
    cmd: &Cmd,
    shell: &[String],
    cmd_set: &mut bool,
) -> std::result::Result<String, String> {
    let err = |e: ::images::Error| e.to_string();
    if !doc["config"].is_object() {
        doc["config"] = json!({});
    }
    let cfg = &mut doc["config"];
    let obj = |cfg: &mut Value, k: &str| {
        if !cfg[k].is_object() {
            cfg[k] = json!({});
        }
    };
    Ok(match cmd {
        Cmd::Env(pairs) => {
            let mut env: Vec<String> = cfg["Env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            for (k, v) in pairs {
                let kv = format!("{k}={v}");
                match env
                    .iter_mut()
                    .find(|e| e.split('=').next() == Some(k.as_str()))
                {
                    Some(e) => *e = kv,
                    None => env.push(kv),
                }
            }
            cfg["Env"] = json!(env);
            let msg: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("ENV {}", msg.join(" "))
        }
        Cmd::Label(pairs) => {
            obj(cfg, "Labels");
            for (k, v) in pairs {
                cfg["Labels"][k] = json!(v);
            }
            let msg: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("LABEL {}", msg.join(" "))
        }
        Cmd::Cmd(form) => {
            let argv = form.argv(shell);
            cfg["Cmd"] = json!(argv);
            *cmd_set = true;
            format!("CMD {}", go_list(&argv))
        }
        Cmd::Entrypoint(form) => {
            let argv = form.argv(shell);
            cfg["Entrypoint"] = json!(argv);
            if !*cmd_set {
                cfg["Cmd"] = Value::Null;
            }
            format!("ENTRYPOINT {}", go_list(&argv))
        }
        Cmd::User(u) => {
            ::images::runtime::check_user(u).map_err(err)?;
            cfg["User"] = json!(u);
            format!("USER {u}")
        }
        Cmd::Workdir(w) => {
            let joined = if w.starts_with('/') {
                w.clone()
            } else {
                let base = cfg["WorkingDir"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("/");
                format!("{}/{w}", base.trim_end_matches('/'))
            };
            let clean = ::images::runtime::check_workdir(&joined).map_err(err)?;
            cfg["WorkingDir"] = json!(clean);
            format!("WORKDIR {clean}")
        }
        Cmd::Expose(ports) => {
            obj(cfg, "ExposedPorts");
            for p in ports {
                let p = ::images::runtime::check_port(p).map_err(err)?;
                cfg["ExposedPorts"][&p] = json!({});
            }
            // Docker's message: the ports as written, sorted.
            let mut written = ports.clone();
            written.sort();
            format!("EXPOSE {}", written.join(" "))
        }
        Cmd::Volume(vols) => {
            obj(cfg, "Volumes");
            for v in vols {
                let v = ::images::runtime::check_volume(v).map_err(err)?;
                cfg["Volumes"][&v] = json!({});
            }
            format!("VOLUME [{}]", vols.join(" "))
        }
        Cmd::StopSignal(s) => {
            mini_runc::container::parse_signal(s).map_err(|e| e.to_string())?;
            cfg["StopSignal"] = json!(s);
            format!("STOPSIGNAL {s}")
        }
        Cmd::Healthcheck(h) => {
            let test = match &h.test {
                None => json!(["NONE"]),
                Some(Form::Exec(v)) => json!(std::iter::once("CMD".to_string())
                    .chain(v.iter().cloned())
                    .collect::<Vec<_>>()),
                Some(Form::Shell(s)) => json!(["CMD-SHELL", s]),
            };
            let mut hc = json!({ "Test": test });
            let dur = |s: &Option<String>| s.as_deref().and_then(dockerfile::parse_duration);
            if let Some(d) = dur(&h.interval) {
                hc["Interval"] = json!(d);
            }
            if let Some(d) = dur(&h.timeout) {
                hc["Timeout"] = json!(d);
            }
            if let Some(d) = dur(&h.start_period) {
                hc["StartPeriod"] = json!(d);
            }
            if let Some(r) = h.retries {
                hc["Retries"] = json!(r);
            }
            let msg = format!("HEALTHCHECK {}", go_health(&hc));
            cfg["Healthcheck"] = hc;
            msg
        }
        Cmd::Shell(v) => {
            cfg["Shell"] = json!(v);
            // Go's `%v` of a slice: no quotes.
            format!("SHELL [{}]", v.join(" "))
        }
        Cmd::Maintainer(m) => {
            doc["author"] = json!(m);
            format!("MAINTAINER {m}")
        }
        other => return Err(format!("{other:?} does not change the image config")),
    })
}

/// One stage of a (multi-stage) build.
struct Stage {
    /// `AS name`.
    name: Option<String>,
    cur: Current,
    /// ARGs declared in this stage, with their values.
    args: Vec<(String, String)>,
    /// `SHELL`.
    shell: Vec<String>,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
}

/// One build.
struct Build<'a> {
    engine: &'a Arc<Engine>,
    opts: &'a BuildOptions,
    out: &'a Progress,
    df: Dockerfile,
    context: PathBuf,
    scratch: PathBuf,
    /// Finished stages: (name, result).
    stages: Vec<(Option<String>, Current)>,
    used_args: BTreeSet<String>,
    /// Containers to remove at the end.
    cache: BTreeMap<String, String>,
}

fn cache_file(root: &Path) -> PathBuf {
    root.join("build-cache.json")
}

/// Forgets every build cache entry; returns the image ids they named.
pub fn prune_cache(root: &Path) -> Vec<String> {
    let path = cache_file(root);
    let cache: BTreeMap<String, String> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    let ids: BTreeSet<String> = cache.into_values().collect();
    ids.into_iter().collect()
}

/// Docker's `%q` of a string list: `["/bin/sh" "-c" "echo hi"]`.
fn go_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| json!(s).to_string()).collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%v` of a duration in nanoseconds: `5s`, `1m30s`, `500ms`, `0s`.
pub(crate) fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        return match ns {
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}µs", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let (h, rest) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let secs = rest as f64 / 1e9;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    let s = format!("{secs:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    out.push_str(&format!("{s}s"));
    out
}

/// Docker's `HEALTHCHECK %q` of its config struct, as the legacy builder
/// writes it in the history: `&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x02'}`.
fn go_health(hc: &Value) -> String {
    let test: Vec<String> = hc["Test"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let d = |k: &str| go_duration(hc[k].as_i64().unwrap_or(0));
    let r = hc["Retries"].as_u64().unwrap_or(0) as u32;
    // `%q` of an int is a Go character literal.
    let retries = match char::from_u32(r) {
        Some(c) if (' '..='~').contains(&c) && c != '\'' && c != '\\' => c.to_string(),
        _ if r < 0x100 => format!("\\x{r:02x}"),
        _ => format!("\\u{r:04x}"),
    };
    format!(
        "&{{{} \"{}\" \"{}\" \"{}\" '{retries}'}}",
        go_list(&test),
        d("Interval"),
        d("Timeout"),
        d("StartPeriod")
    )
}

impl Build<'_> {
    fn step_err(&self, ins: &Instruction, m: impl std::fmt::Display) -> ApiError {
        ApiError::bad(format!("{}:{}: {}: {m}", self.df.file, ins.line, ins.name))
    }

    fn cache_get(&self, key: &str) -> Option<Current> {
        let id = self.cache.get(key)?;
        let img = self.engine.images.resolve(id).ok()?;
        Current::of(&img).ok()
    }

    fn cache_put(&mut self, key: String, id: &str) -> Result<()> {
        static WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _g = WRITE.lock().unwrap_or_else(|e| e.into_inner());
        // Another build may have added entries meanwhile: merge, then write.
        let path = cache_file(&self.engine.opts.root);
        let mut on_disk: BTreeMap<String, String> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        on_disk.insert(key.clone(), id.to_string());
        self.cache.insert(key, id.to_string());
        util::write_atomic(
            &path,
            &serde_json::to_vec_pretty(&on_disk).unwrap_or_default(),
        )
        .map_err(internal)
    }

    /// Runs `make` unless the cache has the step; either way moves the stage on.
    fn cached(
        &mut self,
        st: &mut Stage,
        created_by: String,
        content: &str,
        make: impl FnOnce(&mut Self, &Stage) -> Result<(Value, Option<Layer>)>,
    ) -> Result<()> {
        if self.out.gone() {
            return Err(ApiError::bad("the client went away: build cancelled"));
        }
        let key = digest::sha256(
            format!(
                "parent={}\nstep={created_by}\ncontent={content}\n",
                st.cur.id
            )
            .as_bytes(),
        )
        .to_string();
        if !self.opts.no_cache {
            if let Some(hit) = self.cache_get(&key) {
                self.out.say(" ---> Using cache\n");
                self.out.say(format!(" ---> {}\n", short(&hit.id)));
                st.cur = hit;
                return Ok(());
            }
        }
        let (mut doc, layer) = make(self, st)?;
        // A commit's comment belongs to that image only.
        if let Some(m) = doc.as_object_mut() {
            m.remove("comment");
        }
        let next = commit_step(
            self.engine,
            &st.cur,
            doc,
            layer.as_ref(),
            json!({ "created_by": created_by }),
        )?;
        self.cache_put(key, &next.id)?;
        self.out.say(format!(" ---> {}\n", short(&next.id)));
        st.cur = next;
        Ok(())
    }

    /// The base of `FROM`: scratch, an earlier stage, or an image.
    fn base(&self, image: &str) -> Result<Current> {
        if image == "scratch" {
            return Ok(Current::scratch());
        }
        let lower = image.to_ascii_lowercase();
        if let Some((_, c)) = self
            .stages
            .iter()
            .rev()
            .find(|(n, _)| n.as_deref() == Some(lower.as_str()))
        {
            return Ok(c.clone());
        }
        let img = match self.engine.images.resolve(image) {
            Ok(img) => img,
            // Not here: pull it, as Docker's builder does.
            Err(e) if e.kind == super::ErrorKind::NotFound => {
                self.pull(image)?;
                self.engine.images.resolve(image)?
            }
            Err(e) => return Err(e),
        };
        Current::of(&img)
    }

    /// Pulls `image` through the engine's pull (chapter 06), its progress
    /// lines forwarded into the build's stream.
    fn pull(&self, image: &str) -> Result<()> {
        let rt = tokio::runtime::Handle::current();
        let pulled = rt.block_on(super::pull::pull(
            self.engine.clone(),
            image.to_string(),
            String::new(),
            None,
        ));
        let resp = pulled.map_err(|e| {
            ApiError::not_found(format!(
                "pull access denied or no such image {image}: {}",
                e.message
            ))
        })?;
        let body = rt
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
            .map_err(internal)?;
        for line in body.split(|b| *b == b'\n') {
            if let Ok(v) = serde_json::from_slice::<Value>(line) {
                if !self.out.quiet {
                    self.out.send(v);
                }
            }
        }
        Ok(())
    }

    /// A writable layer on `cur`, mounted, for `f` to change; its diff.
    fn fs_step(&self, cur: &Current, f: impl FnOnce(&Path) -> Result<()>) -> Result<Option<Layer>> {
        let layer = MountedLayer::new(self.engine, &self.scratch, cur)?;
        f(layer.path())?;
        layer.finish(self.engine)
    }

    /// `COPY --from=<x>`: an earlier stage by name or index, else an image.
    fn stage_or_image(&self, from: &str) -> Result<Current> {
        let lower = from.to_ascii_lowercase();
        let by_name = self
            .stages
            .iter()
            .find(|(n, _)| n.as_deref() == Some(lower.as_str()));
        let by_index = from.parse::<usize>().ok().and_then(|i| self.stages.get(i));
        match by_name.or(by_index) {
            Some((_, c)) => Ok(c.clone()),
            None => self.base(from),
        }
    }

    fn shell_prefix(st: &Stage) -> String {
        st.shell.join(" ")
    }

    /// One instruction of a stage.
    fn step(&mut self, st: &mut Stage, ins: &Instruction) -> Result<()> {
        let mut vars: Vec<(String, String)> = st.args.clone();
        vars.extend(st.cur.env());
        let cmd = ins
            .expand(&self.df, &vars)
            .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        let nop = format!("{} #(nop) ", Self::shell_prefix(st));
        let mut doc = st.cur.doc.clone();
        if !doc["config"].is_object() {
            doc["config"] = json!({});
        }
        let created_by = match cmd {
            Cmd::From { .. } => unreachable!("FROM starts a stage"),
            Cmd::Run(form) => return self.run(st, form),
            Cmd::Copy(spec) => return self.copy(st, ins, spec, false),
            Cmd::Add(spec) => return self.copy(st, ins, spec, true),
            Cmd::Workdir(w) => return self.workdir(st, ins, &w),
            Cmd::Arg(args) => {
                let mut msg = Vec::new();
                for (k, default) in args {
                    let given = self.opts.build_args.get(&k).cloned().flatten();
                    if self.opts.build_args.contains_key(&k) {
                        self.used_args.insert(k.clone());
                    }
                    msg.push(match &default {
                        Some(d) => format!("{k}={d}"),
                        None => k.clone(),
                    });
                    if let Some(v) = given.or(default) {
                        st.args.retain(|(x, _)| *x != k);
                        st.args.push((k, v));
                    }
                }
                format!("{nop} ARG {}", msg.join(" "))
            }
            other => {
                if let Cmd::Shell(v) = &other {
                    st.shell = v.clone();
                }
                let msg = apply_meta(&mut doc, &other, &st.shell, &mut st.cmd_set)
                    .map_err(|m| self.step_err(ins, m))?;
                format!("{nop} {msg}")
            }
        };
        self.cached(st, created_by, "", move |_, _| Ok((doc, None)))
    }

    /// `WORKDIR`: the config, and the directory made in the filesystem.
    fn workdir(&mut self, st: &mut Stage, ins: &Instruction, w: &str) -> Result<()> {
        let joined = if w.starts_with('/') {
            w.to_string()
        } else {
            format!("{}/{w}", st.cur.workdir())
        };
        let clean = ::images::runtime::check_workdir(&joined).map_err(|e| self.step_err(ins, e))?;
        let created_by = format!("{} #(nop) WORKDIR {clean}", Self::shell_prefix(st));
        let mut doc = st.cur.doc.clone();
        doc["config"]["WorkingDir"] = json!(clean);
        let dir = clean.clone();
        self.cached(st, created_by, "", move |b, st| {
            let layer = b.fs_step(&st.cur, |root| {
                let p = resolve_in(root, &dir, false).map_err(ApiError::bad)?;
                std::fs::create_dir_all(&p).map_err(internal)
            })?;
            Ok((doc, layer))
        })
    }

    /// `RUN`: a container from the current image, its diff as the layer.
    fn run(&mut self, st: &mut Stage, form: Form) -> Result<()> {
        let argv = form.argv(&st.shell);
        let env_keys: BTreeSet<String> = st.cur.env().into_iter().map(|(k, _)| k).collect();
        let args_env: Vec<String> = st
            .args
            .iter()
            .filter(|(k, _)| !env_keys.contains(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let created_by = if args_env.is_empty() {
            argv.join(" ")
        } else {
            format!(
                "|{} {} {}",
                args_env.len(),
                args_env.join(" "),
                argv.join(" ")
            )
        };
        let doc = st.cur.doc.clone();
        self.cached(st, created_by, "", move |b, st| {
            let layer = b.run_container(&st.cur, &argv, &args_env)?;
            Ok((doc, layer))
        })
    }

    /// The container of a RUN step, through the engine's own create and
    /// start (its runtime, its network): its output goes to the build's
    /// stream, a non-zero exit fails the build, and its read-write layer,
    /// without the engine's mount points, becomes the step's layer.
    fn run_container(
        &self,
        cur: &Current,
        argv: &[String],
        env: &[String],
    ) -> Result<Option<Layer>> {
        let e = self.engine;
        let body = json!({
            "Image": cur.id,
            "Cmd": argv,
            "Entrypoint": [],
            "Env": env,
            "Labels": {},
            "HostConfig": {"NetworkMode": self.opts.network_mode},
        });
        let id = e.create(None, &body)?;
        // Removed at the next start if the daemon dies before the step ends.
        if let Err(err) = super::leftovers::mark_build_step(&e.dir(&id)) {
            let _ = e.remove(&id, true);
            return Err(internal(err));
        }
        self.out.say(format!(" ---> Running in {}\n", short(&id)));
        let started = e.start(&id);
        let log = super::shim::log_file(&e.dir(&id), &id);
        let mut offset = 0;
        let pump = |offset: &mut u64| {
            let (lines, next) = super::logs::read_from(&log, *offset);
            *offset = next;
            for l in lines {
                self.out.say(l.log);
            }
        };
        if let Err(err) = started {
            let _ = e.remove(&id, true);
            return Err(err);
        }
        loop {
            pump(&mut offset);
            let c = e.find(&id)?;
            if !c.state.running && c.exits > 0 {
                break;
            }
            if self.out.gone() && c.state.running {
                let _ = e.kill(&id, "KILL");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        pump(&mut offset);
        let c = e.find(&id)?;
        if c.state.exit_code != 0 {
            // Before the layer goes: while the disk is still full.
            let full = super::safeguards::full_disk_note(&e.opts.root);
            if self.opts.force_rm {
                let _ = e.remove(&id, true);
            }
            return Err(ApiError::bad(format!(
                "The command '{}' returned a non-zero code: {}{full}",
                argv.join(" "),
                c.state.exit_code
            )));
        }
        let driver = e.images.driver();
        let layer = diff_to_layer(e, driver.as_ref(), &c.layer, true);
        if self.opts.rm {
            self.out
                .say(format!("Removing intermediate container {}\n", short(&id)));
            let _ = e.remove(&id, true);
        }
        layer
    }

    /// `COPY`/`ADD`: files from the context (or another stage) into a new layer.
    fn copy(&mut self, st: &mut Stage, ins: &Instruction, spec: CopySpec, add: bool) -> Result<()> {
        // 1. Where the files come from: the context, where nothing may lead
        //    out of it; or the files of an earlier stage (or an image),
        //    mounted for this step.
        let mounted = match &spec.from {
            None => None,
            Some(f) => {
                let src = self
                    .stage_or_image(f)
                    .map_err(|e| self.step_err(ins, e.message))?;
                Some(MountedLayer::new(self.engine, &self.scratch, &src)?)
            }
        };
        let (root, strict) = match &mounted {
            Some(m) => (m.path().to_path_buf(), false),
            None => (self.context.clone(), true),
        };
        // 2. Which files, and the digest of their content: the cache key
        //    sees it, so changing a copied file rebuilds from here on.
        let paths =
            buildfs::sources(&root, strict, &spec.srcs).map_err(|m| self.step_err(ins, m))?;
        let content = buildfs::content_digest(&root, &paths).map_err(internal)?;
        // Docker's message glues `--chown=…` to the digest, without a space.
        let chown = spec
            .chown
            .as_deref()
            .map(|c| format!("--chown={c}"))
            .unwrap_or_default();
        let created_by = format!(
            "{} #(nop) {} {chown}{content} in {} ",
            Self::shell_prefix(st),
            if add { "ADD" } else { "COPY" },
            spec.dest
        );
        // 3. The copy itself, into a writable layer on the parent.
        let dest = if spec.dest.starts_with('/') {
            spec.dest.clone()
        } else {
            format!("{}/{}", st.cur.workdir().trim_end_matches('/'), spec.dest)
        };
        let plan = CopyPlan {
            paths,
            dest,
            dest_is_dir: spec.dest.ends_with('/') || spec.dest.ends_with("/."),
            chown: spec.chown.clone(),
            extract_archives: add,
        };
        let doc = st.cur.doc.clone();
        let line = (self.df.file.clone(), ins.line, ins.name.clone());
        self.cached(st, created_by, &content, move |b, st| {
            let layer = b
                .fs_step(&st.cur, |rootfs| plan.apply(rootfs))
                .map_err(|e| {
                    ApiError::bad(format!("{}:{}: {}: {}", line.0, line.1, line.2, e.message))
                })?;
            Ok((doc, layer))
        })
        // `mounted` (the other stage's files) is unmounted here.
    }
}

/// Runs a whole build; returns the final image id.
pub fn build(
    engine: &Arc<Engine>,
    opts: &BuildOptions,
    context_tar: &Path,
    out: &Progress,
) -> Result<String> {
    // The context, unpacked safely into a scratch directory.
    let scratch = engine.opts.root.join("builds").join(&util::new_id()[..16]);
    std::fs::create_dir_all(&scratch).map_err(internal)?;
    let _scratch = Scratch(scratch.clone());
    let context = scratch.join("context");
    std::fs::create_dir_all(&context).map_err(internal)?;
    let tar = std::fs::File::open(context_tar).map_err(internal)?;
    let apply_opts = unionfs::ApplyOptions {
        whiteouts: unionfs::WhiteoutMode::Plain,
        ..Default::default()
    };
    let mut br = std::io::BufReader::new(tar);
    let c = ::images::media::sniff(std::io::BufRead::fill_buf(&mut br).map_err(internal)?);
    let r = ::images::layer::decompress(br, c).map_err(internal)?;
    if let Err(e) = unionfs::apply(r, &context, &apply_opts) {
        if let Some(err) = unpack_write_error(&e) {
            return Err(err);
        }
        // An empty body is an empty context.
        if std::fs::metadata(context_tar).map(|m| m.len()).unwrap_or(0) > 0 {
            return Err(ApiError::bad(format!(
                "the build context is not a tar: {e}"
            )));
        }
    }
    // The Dockerfile, from inside the context only.
    let df_path = resolve_in(&context, &opts.dockerfile, true).map_err(ApiError::bad)?;
    let text = std::fs::read_to_string(&df_path).map_err(|e| {
        ApiError::bad(format!(
            "Cannot locate specified Dockerfile: {} ({e})",
            opts.dockerfile
        ))
    })?;
    let df = dockerfile::parse(&opts.dockerfile, &text)
        .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
    let cache: BTreeMap<String, String> = std::fs::read(cache_file(&engine.opts.root))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut b = Build {
        engine,
        opts,
        out,
        df: df.clone(),
        context,
        scratch: scratch.clone(),
        stages: vec![],
        used_args: BTreeSet::new(),
        cache,
    };
    if let Some(t) = &opts.target {
        let known = df
            .instructions
            .iter()
            .any(|i| matches!(&i.cmd, Cmd::From { name: Some(n), .. } if n == t));
        if !known {
            return Err(ApiError::bad(format!(
                "failed to reach build target {t} in Dockerfile"
            )));
        }
    }
    let total = df.instructions.len();
    let mut meta_args: Vec<(String, String)> = Vec::new();
    let mut stage: Option<Stage> = None;
    for (n, ins) in df.instructions.iter().enumerate() {
        if let (Cmd::From { .. }, Some(st)) = (&ins.cmd, stage.as_ref()) {
            // `--target`: stop before the stage after it.
            if opts.target.is_some() && st.name == opts.target {
                break;
            }
        }
        out.say(format!("Step {}/{total} : {ins}\n", n + 1));
        match (&ins.cmd, stage.as_mut()) {
            (Cmd::From { .. }, _) => {
                if let Some(st) = stage.take() {
                    b.stages.push((st.name, st.cur));
                }
                let Cmd::From { image, name, .. } = ins
                    .expand(&df, &meta_args)
                    .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?
                else {
                    unreachable!("expand keeps the instruction")
                };
                let mut cur = b.base(&image)?;
                if !cur.id.is_empty() {
                    out.say(format!(" ---> {}\n", short(&cur.id)));
                }
                // Like Docker, every stage's config gets a PATH if it has none.
                if !cur.env().iter().any(|(k, _)| k == "PATH") {
                    let mut env: Vec<Value> = cur.doc["config"]["Env"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    env.push(json!(format!("PATH={}", ::images::runtime::DEFAULT_PATH)));
                    if !cur.doc["config"].is_object() {
                        cur.doc["config"] = json!({});
                    }
                    cur.doc["config"]["Env"] = Value::Array(env);
                }
                stage = Some(Stage {
                    name,
                    cur,
                    args: vec![],
                    shell: vec!["/bin/sh".into(), "-c".into()],
                    cmd_set: false,
                });
            }
            (Cmd::Arg(args), None) => {
                for (k, default) in args {
                    if b.opts.build_args.contains_key(k) {
                        b.used_args.insert(k.clone());
                    }
                    let v = b.opts.build_args.get(k).cloned().flatten();
                    if let Some(v) = v.or(default.clone()) {
                        meta_args.push((k.clone(), v));
                    }
                }
            }
            (_, Some(st)) => b.step(st, ins)?,
            (_, None) => unreachable!("the parser makes FROM come first"),
        }
    }
    let last = stage.ok_or_else(|| ApiError::bad("no build stage"))?;
    if last.cur.id.is_empty() {
        // `FROM scratch` and nothing else: an empty image still gets a config.
        return Err(ApiError::bad(
            "the build made no image: FROM scratch needs at least one more instruction",
        ));
    }
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !b.used_args.contains(*k))
        .collect();
    if !unused.is_empty() {
        out.say(format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            unused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    let id = last.cur.id.clone();
    out.aux(json!({ "ID": id }));
    if opts.quiet {
        out.send(json!({ "stream": format!("{id}\n") }));
    }
    out.say(format!("Successfully built {}\n", short(&id)));
    for t in &opts.tags {
        let (repo, tag) = ::images::image::split_ref(t);
        engine.images.tag(&id, repo, tag)?;
        out.say(format!("Successfully tagged {repo}:{tag}\n"));
    }
    Ok(id)
}

/// A context that was read but could not be written out (a full disk, a
/// quota) is the daemon's failure, not a malformed tar: say so.
fn unpack_write_error(e: &unionfs::Error) -> Option<ApiError> {
    matches!(
        e,
        unionfs::Error::ApplyEntry { .. } | unionfs::Error::OpenTarget { .. }
    )
    .then(|| {
        ApiError::internal(format!(
            "unpack the build context: {}",
            crate::errors::chain(&e)
        ))
    })
}

/// The calls the build route makes (moby's `build.Backend`); the engine's
/// are in [`crate::backend`], the router's unit test uses
/// [`crate::api::fake`].
pub trait BuildBackend: Send + Sync + 'static {
    /// The directory the request's context tar is spooled into.
    fn build_scratch(&self) -> &Path;
    /// Runs the build of `context_tar` (blocking), reporting on `out`: the
    /// image id.
    fn build(
        self: &Arc<Self>,
        opts: &BuildOptions,
        context_tar: &Path,
        out: &Progress,
    ) -> Result<String>;
}

/// `POST /build`.
pub async fn handler<B: BuildBackend>(State(e): State<Arc<B>>, req: Request) -> Response {
    let raw = req.uri().query().unwrap_or("").to_string();
    let opts = match BuildOptions::from_query(&raw) {
        Ok(o) => o,
        Err(err) => return err.into_response(),
    };
    // The context, into a temp file first.
    let tmp = match tempfile::NamedTempFile::new_in(e.build_scratch()) {
        Ok(t) => t,
        Err(err) => return internal(err).into_response(),
    };
    let mut file = match tmp.reopen() {
        Ok(f) => f,
        Err(err) => return internal(err).into_response(),
    };
    let mut s = req.into_body().into_data_stream();
    while let Some(chunk) = s.next().await {
        let ok = chunk
            .map_err(|x| x.to_string())
            .and_then(|c| file.write_all(&c).map_err(|x| x.to_string()));
        if let Err(m) = ok {
            return ApiError::bad(format!("read the build context: {m}")).into_response();
        }
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    let quiet = opts.quiet;
    tokio::task::spawn_blocking(move || {
        let p = Progress::new(tx, quiet);
        if let Err(err) = e.build(&opts, tmp.path(), &p) {
            p.error(&err.message);
        }
        drop(tmp);
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|o| o.map(Ok::<_, std::convert::Infallible>))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile;

    #[test]
    fn query_options_like_the_docker_cli_sends_them() {
        let o = BuildOptions::from_query(
            "t=a%3A1&t=b&dockerfile=sub%2FDockerfile.dev&buildargs=%7B%22K%22%3A%22v%22%2C%22N%22%3Anull%7D&nocache=1&target=Build&rm=0&q=true&networkmode=none&version=1",
        )
        .unwrap();
        assert_eq!(o.tags, vec!["a:1", "b"]);
        assert_eq!(o.dockerfile, "sub/Dockerfile.dev");
        assert_eq!(o.build_args.get("K"), Some(&Some("v".to_string())));
        assert_eq!(o.build_args.get("N"), Some(&None));
        assert!(o.no_cache && o.quiet && !o.rm);
        assert_eq!(o.target.as_deref(), Some("build"));
        assert_eq!(o.network_mode, "none");
        assert!(BuildOptions::from_query("t=Upper:1").is_err());
        assert!(BuildOptions::from_query("remote=https://x/y.git").is_err());
        assert!(BuildOptions::from_query("buildargs=notjson").is_err());
    }

    /// What each metadata instruction does to a config, and the history
    /// line it leaves (Docker's `/bin/sh -c #(nop)  …` messages).
    #[test]
    fn metadata_instructions_and_their_history_messages() {
        let df = dockerfile::parse(
            "Dockerfile",
            "FROM x\nENV A=1 B=\"two words\"\nLABEL k=v\nCMD echo hi\nENTRYPOINT [\"/e\"]\nUSER 1:2\nEXPOSE 80 53/udp\nVOLUME /data\nSTOPSIGNAL SIGQUIT\nHEALTHCHECK --interval=5s CMD true\nSHELL [\"/bin/bash\", \"-c\"]\nCMD run\nWORKDIR rel\nMAINTAINER me\n",
        )
        .unwrap();
        let mut doc = json!({"config": {"Env": ["PATH=/bin"]}});
        let mut shell = vec!["/bin/sh".to_string(), "-c".to_string()];
        let mut cmd_set = false;
        let mut out = String::new();
        for ins in df.instructions.iter().skip(1) {
            let cmd = ins.expand(&df, &Vec::new()).unwrap();
            if let Cmd::Shell(v) = &cmd {
                shell = v.clone();
            }
            let msg = apply_meta(&mut doc, &cmd, &shell, &mut cmd_set).unwrap();
            out.push_str(&format!("{:<36} {msg}\n", ins.to_string()));
        }
        out.push_str(&serde_json::to_string_pretty(&doc).unwrap());
        insta::assert_snapshot!(out);
        // Refusals name the value.
        let bad = dockerfile::parse(
            "Dockerfile",
            "FROM x\nWORKDIR /proc/self/fd/7\nEXPOSE 99999\nVOLUME ../x\nSTOPSIGNAL SIGNOPE\n",
        )
        .unwrap();
        for ins in bad.instructions.iter().skip(1) {
            let cmd = ins.expand(&bad, &Vec::new()).unwrap();
            let e = apply_meta(&mut doc, &cmd, &shell, &mut cmd_set).unwrap_err();
            assert!(!e.is_empty(), "{ins}");
        }
    }
}
