//! # The engine: what `mini-dockerd` does behind the API
//!
//! The daemon keeps every container in an in-memory map, persisted one file
//! per container (`containers/<id>/container.json`, written atomically), and
//! images in chapter 04's store (`images.json` + `blobs/`). Layers are
//! unpacked into a chapter 03 driver under `layers/`; a container's root is
//! that driver's read-write layer mounted on `containers/<id>/rootfs`.
//!
//! `start` writes the bundle's `config.json` ([`spec`]) and spawns a
//! [`shim`]; the shim runs the container with an OCI runtime binary and
//! tells us when it exits. The daemon itself never forks a container.
//!
//! The exit is recorded from the shim's report, before the shim cleans up
//! (`RUNTIME delete`, `exit.json`) and before the daemon unmounts the
//! root; until both are done the container is "finishing", and a new
//! start waits. `rm` renames `containers/<id>` to `reap/<id>` and
//! answers; a background reaper unmounts, deletes the runtime's state,
//! removes the rw layer and the directory, and a restarted daemon resumes
//! what is left under `reap/` (as containerd's garbage collector).
//!
//! ## The daemon's shape
//!
//! ```text
//! HTTP (axum)   api::router: routers parse and check a request into a typed call,
//!               and map the engine's error kinds to statuses (api::status_of)
//!     │         api/containers.rs  api/images.rs  api/system.rs  netvol_api.rs …
//!     ▼
//! traits        one per router, exactly the calls it makes (moby's backend.go):
//!               ContainerBackend  ImageBackend  SystemBackend
//!               NetworkBackend  VolumeBackend
//!     │         Engine implements them in one place (backend.rs); the routers'
//!     ▼         unit tests put a fake behind them (api/fake.rs)
//! services      Engine's modules: lifecycle (create and start as undo
//!               steps, undo.rs; statuses through state::transition, which
//!               emits the events), images, networks, volumes, build, logs …
//!     │
//!     ▼
//! shim, runtime one mini-shim per container (shim.rs speaks its protocol),
//!               which runs an OCI runtime binary: mini-runc, runc or crun
//!               (runtimes.rs), on the bundle spec.rs writes
//! ```

pub mod api;
pub mod archive;
pub mod auth;
pub mod backend;
pub mod build;
pub mod builder;
pub mod buildfs;
pub mod changes;
pub mod commit;
pub mod distribution;
pub mod dns;
pub mod doctor;
pub mod errors;
pub mod explain;
pub mod filters;
pub mod gc;
pub mod health;
pub mod hijack;
pub mod images;
pub mod inspect;
pub mod leftovers;
pub mod lifecycle;
pub mod lineage;
pub mod logs;
pub mod manage;
pub mod net;
pub mod netvol_api;
pub mod networks;
pub mod pull;
pub mod resources;
pub mod restart;
pub mod runflags;
pub mod runtimes;
pub mod safeguards;
pub mod security;
pub mod shim;
pub mod spec;
pub mod state;
pub mod stats;
pub mod streams;
pub mod summaries;
pub mod swarm_api;
pub mod system;
pub mod tools_api;
pub mod undo;
pub mod util;
pub mod volumes;

use mini_docker_api::container::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The engine's error: a kind and Docker's message ([`errors`]); the HTTP
/// layer maps the kind to a status. The old name stays while branches merge.
pub use errors::{Error, Kind as ErrorKind};
/// The engine's error, under its former name.
pub type ApiError = Error;

/// Result of an engine operation.
pub type Result<T> = std::result::Result<T, ApiError>;

/// Options of the daemon.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--data-root`.
    pub root: PathBuf,
    /// The `mini-shim` binary.
    pub shim: PathBuf,
    /// Network options.
    pub net: net::NetOptions,
    /// daemon.json `registry-mirrors` (URLs, for Docker Hub).
    pub registry_mirrors: Vec<String>,
    /// daemon.json `insecure-registries` (`host[:port]` allowed over plain HTTP).
    pub insecure_registries: Vec<String>,
    /// daemon.json `default-ulimits`, as `{"Name", "Soft", "Hard"}` objects.
    pub default_ulimits: Vec<Value>,
    /// daemon.json `log-driver` and `log-opts`, as a `LogConfig`
    /// (`{"Type": "json-file", "Config": {}}` by default).
    pub log_config: Value,
    /// daemon.json `max-layer-size`: most bytes a layer may unpack to.
    pub max_layer_size: u64,
    /// The OCI runtimes (`--add-runtime`, `--default-runtime`, daemon.json `runtimes`).
    pub runtimes: runtimes::Registry,
    /// daemon.json `dns` / `--dns`: where the embedded DNS ([`dns`])
    /// forwards names it does not know (empty: the host's resolvers).
    pub dns: Vec<std::net::SocketAddr>,
    /// daemon.json `init-path` / `--init-path`: the init of `--init`
    /// containers (none: `docker-init`, then `tini-static`, on `PATH`).
    pub init_path: Option<PathBuf>,
}

/// The default `max-layer-size`: 32 GiB of unpacked layer.
pub const DEFAULT_MAX_LAYER_SIZE: u64 = 32 << 30;

impl Options {
    /// How far a layer may unpack (chapter 04's bound), naming the setting.
    pub fn layer_limits(&self) -> ::images::layer::Limits {
        ::images::layer::Limits {
            max_unpacked: Some(self.max_layer_size),
            setting: "daemon.json max-layer-size".into(),
            cancel: None,
        }
    }
}

/// A container's state, as `State` in inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CState {
    /// Docker's status; changed only through [`state::transition`].
    pub status: state::Status,
    /// Running (or paused): the status says so, kept for `State.Running`.
    pub running: bool,
    /// Host pid of its init.
    pub pid: i64,
    /// Last exit code.
    pub exit_code: i64,
    /// Why it could not start.
    pub error: String,
    /// Nanoseconds.
    pub started_at: i64,
    /// Nanoseconds.
    pub finished_at: i64,
    /// The kernel's OOM killer killed a process of its last run.
    #[serde(default)]
    pub oom_killed: bool,
    /// Its health, when it has a check ([`health`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<health::Health>,
}

impl CState {
    /// `State.Running` as dockerd shows it: a container waiting for its
    /// policy's restart counts as running too (and `ps` lists it).
    pub fn shown_running(&self) -> bool {
        self.running || self.status == "restarting"
    }
}

/// A container record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    /// 64 hex.
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    /// Nanoseconds.
    pub created: i64,
    /// The image as the user named it.
    pub image: String,
    /// `sha256:` config digest.
    pub image_id: String,
    /// argv\[0\].
    pub path: String,
    /// argv\[1..\].
    pub args: Vec<String>,
    /// Docker's `Config`, with the image's defaults merged.
    pub config: ContainerConfig,
    /// Docker's `HostConfig`, as the create request gave it (with the
    /// daemon's network mode, log settings and default ulimits).
    pub host_config: HostConfig,
    /// State.
    pub state: CState,
    /// The chapter 03 layer id of its rw layer.
    pub layer: String,
    /// How many times it exited.
    pub exits: u64,
    /// Its network, when bridged.
    #[serde(default)]
    pub net: Option<net::Attachment>,
    /// The user-defined networks it is on, by name ([`networks`]).
    #[serde(default)]
    pub endpoints: BTreeMap<String, networks::Endpoint>,
    /// Its volumes, binds and tmpfs mounts ([`volumes`]).
    #[serde(default)]
    pub mounts: Vec<volumes::MountPoint>,
    /// Restart policy bookkeeping ([`restart`]).
    #[serde(default)]
    pub restart: restart::RestartState,
    /// The OCI runtime it was created with ([`runtimes`]); none in the
    /// records of earlier daemons, which all used the built-in one.
    #[serde(default)]
    pub runtime: Option<runtimes::OciRuntime>,
}

impl Container {
    fn status_text(&self, now: i64) -> String {
        let ago = |t: i64| util::human_duration((now - t) / 1_000_000_000);
        use state::Status;
        match self.state.status {
            Status::Running => format!(
                "Up {}{}",
                ago(self.state.started_at),
                health::status_suffix(self.state.health.as_ref())
            ),
            Status::Paused => format!("Up {} (Paused)", ago(self.state.started_at)),
            Status::Exited => format!(
                "Exited ({}) {} ago",
                self.state.exit_code,
                ago(self.state.finished_at)
            ),
            Status::Created => "Created".into(),
            Status::Restarting => format!(
                "Restarting ({}) {} ago",
                self.state.exit_code,
                ago(self.state.finished_at)
            ),
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
        }
    }

    fn command(&self) -> String {
        let mut parts = vec![self.path.clone()];
        parts.extend(self.args.iter().map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        }));
        parts.join(" ")
    }

    /// Its hostname (the id's first 12 digits unless one was given).
    pub fn hostname(&self) -> String {
        match self.config.hostname.as_str() {
            "" => self.id[..12].to_string(),
            h => h.to_string(),
        }
    }

    /// Its restart policy (`no` when none, or when the record's is bad).
    pub fn restart_policy(&self) -> restart::Policy {
        let given = self.host_config.restart_policy.clone().unwrap_or_default();
        restart::Policy::of(&given, self.host_config.auto_remove()).unwrap_or(restart::Policy::No)
    }

    /// Its log settings, checked ([`logs::LogConfig`]).
    pub fn log_settings(&self) -> std::result::Result<logs::LogConfig, String> {
        let given = self.host_config.log_config.clone().unwrap_or_default();
        logs::LogConfig::from_value(&serde_json::to_value(given).unwrap_or_default())
    }

    /// `GET /containers/json` entry, as a JSON value (`system df`).
    pub fn summary(&self) -> Value {
        serde_json::to_value(summaries::Summary::of(self, util::now_nanos())).unwrap_or_default()
    }

    /// Its cgroup, relative to each hierarchy (under `--cgroup-parent`).
    pub fn cgroups_path(&self) -> String {
        spec::cgroups_path_under(
            self.host_config
                .resources
                .cgroup_parent
                .as_deref()
                .unwrap_or(""),
            &self.id,
        )
    }

    /// `bridge`, `host` or `none`.
    pub fn network_mode(&self) -> String {
        self.host_config.network_mode().to_string()
    }

    fn networks(&self) -> Value {
        let mode = self.network_mode();
        if !matches!(mode.as_str(), "bridge" | "host" | "none") {
            return self
                .endpoints
                .iter()
                .map(|(k, e)| (k.clone(), e.settings()))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        let n = self.net.as_ref();
        let mut out = json!({ mode: {
            "IPAMConfig": null, "Links": null, "Aliases": null,
            "NetworkID": n.map(|n| n.network_id.clone()).unwrap_or_default(),
            "EndpointID": n.map(|n| n.endpoint_id.clone()).unwrap_or_default(),
            "Gateway": n.map(|n| n.gateway.clone()).unwrap_or_default(),
            "IPAddress": n.map(|n| n.ip.clone()).unwrap_or_default(),
            "IPPrefixLen": n.map(|n| n.prefix).unwrap_or(0),
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": n.map(|n| n.mac.clone()).unwrap_or_default(),
            "DriverOpts": null,
        }});
        for (k, e) in &self.endpoints {
            out[k] = e.settings();
        }
        out
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, root: &Path) -> Value {
        let dir = root.join("containers").join(&self.id);
        let n = self.net.as_ref();
        // Docker always shows the log's settings (docker-py reads
        // `LogConfig.Type`); a record from before they were kept gets the default.
        let mut host_config = self.host_config.to_value();
        if host_config["LogConfig"]["Type"]
            .as_str()
            .unwrap_or("")
            .is_empty()
        {
            host_config["LogConfig"] = logs::merge(None, &json!({}));
        }
        let log = logs::LogConfig::from_value(&host_config["LogConfig"]).unwrap_or_default();
        let mut out = json!({
            "Id": self.id,
            "Created": util::rfc3339_nanos(self.created),
            "Path": self.path,
            "Args": self.args,
            "State": {
                "Status": self.state.status,
                "Running": self.state.shown_running(),
                "Paused": self.state.status == "paused", "Restarting": self.state.status == "restarting", "OOMKilled": self.state.oom_killed,
                "Dead": false,
                "Pid": self.state.pid,
                "ExitCode": self.state.exit_code,
                "Error": self.state.error,
                "StartedAt": util::rfc3339_nanos(self.state.started_at),
                "FinishedAt": util::rfc3339_nanos(self.state.finished_at),
            },
            "Image": self.image_id,
            "ResolvConfPath": present(dir.join("resolv.conf")),
            "HostnamePath": present(dir.join("hostname")),
            "HostsPath": present(dir.join("hosts")),
            "LogPath": if log.json_file { shim::log_file(&dir, &self.id).display().to_string() } else { String::new() },
            "Name": format!("/{}", self.name),
            "RestartCount": self.restart.count,
            "Driver": "mini-docker",
            "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
            "ExecIDs": null,
            "HostConfig": inspect::host_config(&host_config),
            "GraphDriver": {"Name": "chapter03", "Data": {"MergedDir": dir.join("rootfs")}},
            "Mounts": volumes::mounts_json(&self.mounts),
            "Config": inspect::with_config_defaults(self.config.to_value()),
            "NetworkSettings": {
                "Bridge": "", "SandboxID": n.map(|n| n.endpoint_id.clone()).unwrap_or_default(),
                "HairpinMode": false,
                "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                "Ports": n.map(|n| n.ports_map()).unwrap_or(json!({})),
                "SandboxKey": n.map(|n| n.netns.clone()).unwrap_or_default(),
                "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
                "EndpointID": n.map(|n| n.endpoint_id.clone()).unwrap_or_default(),
                "Gateway": n.map(|n| n.gateway.clone()).unwrap_or_default(),
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "IPAddress": n.map(|n| n.ip.clone()).unwrap_or_default(),
                "IPPrefixLen": n.map(|n| n.prefix).unwrap_or(0),
                "IPv6Gateway": "",
                "MacAddress": n.map(|n| n.mac.clone()).unwrap_or_default(),
                "Networks": self.networks(),
            },
        });
        // Docker shows `State.Health` only for a container with a check.
        if let Some(h) = &self.state.health {
            out["State"]["Health"] = json!(h);
        }
        out
    }
}

/// What is left of a recorded exit ([`Engine::wait_finished`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finishing {
    /// The daemon unmounts the root.
    Daemon,
    /// Only the shim still cleans up (`RUNTIME delete`, `exit.json`).
    Shim,
}

/// The daemon's state.
pub struct Engine {
    /// Itself, for the background work a `&self` method hands off (the reaper).
    me: std::sync::Weak<Engine>,
    /// Options.
    pub opts: Options,
    containers: Mutex<summaries::Records>,
    removed: Mutex<HashMap<String, i64>>,
    /// Signalled on every container state change.
    pub changed: Notify,
    /// Images.
    pub images: images::Images,
    /// The default bridge, once set up.
    pub bridge: Mutex<Option<net::Bridge>>,
    /// Attachers waiting for a start, and exec instances.
    pub streams: streams::Streams,
    /// How the registry client is set up (mirrors, insecure registries).
    pub registry: registry::ClientConfig,
    /// Containers being restarted: their stop must not `--rm` them.
    pub restarting: Mutex<std::collections::HashSet<String>>,
    /// User-defined networks.
    pub networks: networks::Registry,
    /// Containers whose exit is recorded but whose shim and mounts are
    /// still being cleaned up ([`Engine::wait_finished`]).
    finishing: Mutex<HashMap<String, Finishing>>,
    /// The containers' events ([`state`]), for `GET /events`.
    pub events: state::EventBus,
    /// The embedded DNS server of user networks ([`dns`]).
    pub dns: dns::Dns,
}

fn stat_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    errors::system(e)
}

impl Engine {
    /// Opens (creating) the data root and loads the containers.
    pub fn open(opts: Options) -> anyhow::Result<Arc<Engine>> {
        use anyhow::Context;
        for d in ["containers", "runtime", "shims", "layers", "netns", "reap"] {
            std::fs::create_dir_all(opts.root.join(d))
                .with_context(|| format!("create {}", opts.root.join(d).display()))?;
        }
        // As Docker's /var/lib/docker: 0710, nobody but root gets in.
        std::fs::set_permissions(
            &opts.root,
            std::os::unix::fs::PermissionsExt::from_mode(0o710),
        )?;
        for p in safeguards::clean_partial_writes(&opts.root) {
            tracing::info!("removed {} (left by a crash mid-write)", p.display());
        }
        let images = images::Images::open(&opts.root)?;
        let (opts_mirrors, opts_insecure) = (
            opts.registry_mirrors.clone(),
            opts.insecure_registries.clone(),
        );
        let opts_root = opts.root.clone();
        let mut map = BTreeMap::new();
        for e in std::fs::read_dir(opts.root.join("containers"))?.flatten() {
            if let Ok(bytes) = std::fs::read(e.path().join("container.json")) {
                if let Ok(mut c) = serde_json::from_slice::<Container>(&bytes) {
                    // A removal cut short by a crash: the record stays, and
                    // `rm` must be able to finish it (Docker resets its
                    // RemovalInProgress flag the same way).
                    if c.state.status == state::Status::Removing {
                        c.state.status = state::Status::Exited;
                        c.state.running = false;
                    }
                    map.insert(c.id.clone(), c);
                }
            }
        }
        let dns = dns::Dns::new(opts.dns.clone(), Path::new("/etc/resolv.conf"));
        Ok(Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            opts,
            containers: Mutex::new(map.into()),
            removed: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            images,
            bridge: Mutex::new(None),
            streams: Default::default(),
            registry: registry::ClientConfig {
                mirrors: opts_mirrors,
                insecure_registries: opts_insecure,
                ..Default::default()
            },
            restarting: Mutex::new(Default::default()),
            networks: networks::Registry::open(&opts_root),
            finishing: Mutex::new(Default::default()),
            events: Default::default(),
            dns,
        }))
    }

    /// The containers' read-write layers (what image GC must keep under).
    pub fn container_layers(&self) -> Vec<String> {
        self.lock().values().map(|c| c.layer.clone()).collect()
    }

    /// Adopts running containers after a restart (live restore).
    pub fn restore(self: &Arc<Self>) {
        self.recover_started();
        let all: Vec<Container> = self.lock().values().cloned().collect();
        let (up, down): (Vec<Container>, Vec<Container>) =
            all.into_iter().partition(|c| c.state.running);
        let down: Vec<Container> = down.into_iter().filter(|c| c.net.is_some()).collect();
        self.restore_network(&up, &down);
        for c in &down {
            self.update(&c.id, |c| c.net = None);
        }
        self.remove_stray_netns();
        let running: Vec<String> = up.iter().map(|c| c.id.clone()).collect();
        for id in running {
            tracing::info!(%id, "adopting a running container");
            self.watch(id.clone());
            self.start_health(&id);
        }
        self.remove_crashed_builds();
        self.resume_reaps();
    }

    /// Deletes netns files under the data root that no container holds.
    fn remove_stray_netns(&self) {
        let held: Vec<String> = self
            .lock()
            .values()
            .filter_map(|c| c.net.as_ref().map(|n| n.netns.clone()))
            .collect();
        let dir = self.opts.root.join("netns");
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if !held.iter().any(|h| Path::new(h) == p) {
                tracing::info!("removing the stray network namespace {}", p.display());
                let _ = ::network::netns::delete(&p);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, summaries::Records> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The container's directory.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.opts.root.join("containers").join(id)
    }

    fn socket(&self, id: &str) -> PathBuf {
        self.opts
            .root
            .join("shims")
            .join(format!("{}.sock", &id[..12]))
    }

    /// The runtime that manages container `id` (the one it was created with).
    fn runtime_of(&self, id: &str) -> runtimes::OciRuntime {
        let rt = self.lock().get(id).and_then(|c| c.runtime.clone());
        rt.or_else(|| self.builtin_runtime())
            .expect("the built-in runtime is always registered")
    }

    /// The runtime of this record (the built-in one when it names none).
    fn runtime_for(&self, c: &Container) -> runtimes::OciRuntime {
        c.runtime
            .clone()
            .or_else(|| self.builtin_runtime())
            .expect("the built-in runtime is always registered")
    }

    fn builtin_runtime(&self) -> Option<runtimes::OciRuntime> {
        self.opts
            .runtimes
            .resolve(runtimes::BUILTIN, &self.opts.root)
    }

    fn persist(&self, c: &Container) {
        if let Err(e) = self.try_persist(c) {
            tracing::warn!("{}", e.message);
        }
    }

    /// Writes `containers/<id>/container.json` atomically.
    fn try_persist(&self, c: &Container) -> Result<()> {
        let path = self.dir(&c.id).join("container.json");
        util::write_atomic(&path, &serde_json::to_vec_pretty(c).unwrap_or_default()).map_err(|e| {
            ApiError::internal(format!(
                "write {}: {}",
                path.display(),
                crate::errors::chain(&e)
            ))
        })
    }

    /// Finds a container by id, name or unique id prefix.
    pub fn find(&self, key: &str) -> Result<Container> {
        let map = self.lock();
        let key = key.trim_start_matches('/');
        if let Some(c) = map.get(key) {
            return Ok(c.clone());
        }
        if let Some(c) = map.values().find(|c| c.name == key) {
            return Ok(c.clone());
        }
        let hits: Vec<&Container> = map
            .values()
            .filter(|c| !key.is_empty() && c.id.starts_with(key))
            .collect();
        match hits.len() {
            1 => Ok(hits[0].clone()),
            0 => Err(ApiError::not_found(format!("No such container: {key}"))),
            _ => Err(ApiError::bad(format!(
                "Multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    /// Changes a record, writes it (`container.json`, atomically), then
    /// wakes the waiters.
    fn update(&self, id: &str, f: impl FnOnce(&mut Container)) -> Option<Container> {
        self.update_with(id, true, f)
    }

    /// [`Engine::update`], and with `persist == false` a change kept in
    /// memory only: for a record about to go (see [`Engine::on_exit`]).
    fn update_with(
        &self,
        id: &str,
        persist: bool,
        f: impl FnOnce(&mut Container),
    ) -> Option<Container> {
        let mut map = self.lock();
        let c = map.get_mut(id)?;
        f(c);
        let c = c.clone();
        drop(map);
        if persist {
            self.persist(&c);
        }
        self.changed.notify_waiters();
        Some(c)
    }

    /// All containers.
    pub fn list(&self) -> Vec<Container> {
        let mut v: Vec<Container> = self.lock().values().cloned().collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.created));
        v
    }

    /// `POST /containers/create`.
    pub fn create(&self, name: Option<&str>, body: &Value) -> Result<String> {
        self.create_cancellable(name, body, None)
    }

    /// `POST /containers/create`, whose layer unpack stops (and leaves
    /// nothing) once `cancel` is set: the API sets it when the client's
    /// connection closes before the answer, so a gzip bomb or a huge image
    /// does not go on filling the disk for nobody.
    ///
    /// The checks come first and make nothing. Then each step that makes
    /// something pushes its undo ([`undo::Undo`]), so a failure at any later
    /// step leaves nothing:
    ///
    /// ```text
    /// volumes (named, anonymous)   push: remove the volumes this create made
    /// image layers                 (the image's, shared: kept)
    /// containers/<id>/             push: remove the directory
    /// reserve the name             (under the lock, with the record)
    /// rw layer md-<id>             push: remove the layer
    /// container.json               commit: record, event "create"
    /// ```
    pub fn create_cancellable(
        &self,
        name: Option<&str>,
        body: &Value,
        cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) -> Result<String> {
        let runtime = self.choose_runtime(body)?;
        let image_ref = body.get("Image").and_then(Value::as_str).unwrap_or("");
        if image_ref.is_empty() {
            return Err(ApiError::bad("No image was specified"));
        }
        let img = self.images.resolve(image_ref)?;
        let strings = |k: &str| -> Vec<String> {
            match body.get(k) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => vec![],
            }
        };
        let labels: BTreeMap<String, String> = body
            .get("Labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let overrides = ::images::runtime::RunOverrides {
            entrypoint: body
                .get("Entrypoint")
                .filter(|v| !v.is_null())
                .map(|_| strings("Entrypoint")),
            cmd: strings("Cmd"),
            env: strings("Env"),
            workdir: body
                .get("WorkingDir")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from),
            user: body
                .get("User")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from),
            labels,
            ..Default::default()
        };
        let rc = ::images::runtime::runtime_config(img.config.config().as_ref(), &overrides)
            .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        let mut host_config = body.get("HostConfig").cloned().unwrap_or(json!({}));
        let mode = host_config
            .get("NetworkMode")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let mode = self.check_network_mode(&mode)?;
        resources::check(body, &mode)?;
        host_config["NetworkMode"] = json!(mode);
        host_config["Runtime"] = json!(runtime.name);
        // The log's settings: the container's over the daemon's, checked now
        // (Docker checks the values only at start).
        let log_config = logs::merge(host_config.get("LogConfig"), &self.opts.log_config);
        let log_driver_writes = logs::LogConfig::from_value(&log_config)
            .map_err(ApiError::bad)?
            .json_file;
        host_config["LogConfig"] = log_config;
        // daemon.json `default-ulimits`, under the container's own `--ulimit`s.
        if !self.opts.default_ulimits.is_empty() {
            let mut list: Vec<Value> = host_config["Ulimits"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for d in &self.opts.default_ulimits {
                if !list.iter().any(|u| u["Name"] == d["Name"]) {
                    list.push(d.clone());
                }
            }
            host_config["Ulimits"] = json!(list);
        }
        let endpoints = self.initial_endpoints(&mode, body);
        let id = util::new_id();
        let mut undo = undo::Undo::default();
        let mounts =
            self.plan_mounts(body, &host_config, img.config.config().as_ref(), &mut undo)?;
        let generated = name.map(str::is_empty).unwrap_or(true);
        let mut name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.trim_start_matches('/');
                if !util::valid_name(n) {
                    return Err(ApiError::bad(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                n.to_string()
            }
            None => util::random_name(),
        };
        let hostname = body
            .get("Hostname")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .unwrap_or_else(|| id[..12].to_string());
        let flag = |k: &str| body.get(k).and_then(Value::as_bool).unwrap_or(false);
        let image_config = img.config.config().as_ref();
        let mut config = ContainerConfig {
            hostname,
            domainname: String::new(),
            user: rc.user.clone(),
            attach_stdin: flag("AttachStdin"),
            attach_stdout: flag("AttachStdout"),
            attach_stderr: flag("AttachStderr"),
            exposed_ports: rc
                .exposed_ports
                .iter()
                .map(|p| (p.clone(), Default::default()))
                .collect(),
            tty: flag("Tty"),
            open_stdin: flag("OpenStdin"),
            stdin_once: flag("StdinOnce"),
            env: Some(rc.env.clone()),
            cmd: if overrides.cmd.is_empty() {
                image_config.and_then(|c| c.cmd().clone())
            } else {
                Some(overrides.cmd.clone())
            },
            image: image_ref.to_string(),
            volumes: None,
            working_dir: rc.cwd.clone(),
            entrypoint: match &overrides.entrypoint {
                Some(e) => Some(e.clone()),
                None => image_config.and_then(|c| c.entrypoint().clone()),
            },
            on_build: None,
            labels: Some(rc.labels.clone()),
            stop_signal: rc.stop_signal.clone(),
            stop_timeout: None,
            healthcheck: {
                let image_check = serde_json::from_slice::<Value>(&img.config_bytes)
                    .ok()
                    .and_then(|v| v["config"].get("Healthcheck").cloned());
                let mine = body.get("Healthcheck").filter(|v| !v.is_null());
                if let Some(h) = mine {
                    health::validate(h)?;
                }
                health::merge(mine, image_check.as_ref())
            },
        };
        // `--stop-signal`, `--stop-timeout`, `--domainname`.
        if let Some(s) = body
            .get("StopSignal")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            config.stop_signal = Some(s.to_string());
        }
        if let Some(t) = body.get("StopTimeout").and_then(Value::as_i64) {
            config.stop_timeout = Some(t);
        }
        if let Some(d) = body.get("Domainname").and_then(Value::as_str) {
            config.domainname = d.to_string();
        }
        // `-p 80` exposes 80/tcp too, as Docker does.
        if let Some(extra) = body.get("ExposedPorts").and_then(Value::as_object) {
            for k in extra.keys() {
                config.exposed_ports.insert(k.clone(), Default::default());
            }
        }
        // The request's checks are done: from here on it is the typed model.
        let host_config: HostConfig = serde_json::from_value(host_config).map_err(|e| {
            ApiError::bad(format!("invalid HostConfig: {}", crate::errors::chain(&e)))
        })?;
        // Refuse bad port bindings now rather than at start.
        net::port_mappings(&config, &host_config)?;
        // The layers, then our read-write layer on top.
        let driver = self.images.driver();
        let (_, top) = ::images::layer::unpack_into_driver_limited(
            driver.as_ref(),
            &self.images.store.blobs,
            &img,
            &::images::layer::Limits {
                cancel,
                ..self.opts.layer_limits()
            },
        )
        .map_err(|e| match e {
            ::images::Error::LayerTooLarge { .. } => ApiError::bad(crate::errors::chain(&e)),
            e => stat_err(e),
        })?;
        let layer = format!("md-{id}");
        let dir = self.dir(&id);
        std::fs::create_dir_all(dir.join("rootfs")).map_err(stat_err)?;
        {
            let dir = dir.clone();
            undo.push("remove the container's directory", move || {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!("could not remove {}: {e}", dir.display());
                }
            });
        }
        safeguards::restrict_dir(&dir).map_err(stat_err)?;
        // The log exists from the start, so `attach` can open it before `start`.
        if log_driver_writes {
            std::fs::write(shim::log_file(&dir, &id), b"").map_err(stat_err)?;
        }
        {
            let mut map = self.lock();
            // A generated name already taken: draw another, as Docker does.
            let mut tries = 0;
            while generated && map.values().any(|c| c.name == name) {
                tries += 1;
                name = safeguards::another_name(tries);
            }
            if let Some(other) = map.values().find(|c| c.name == name) {
                return Err(ApiError::conflict(format!(
                    "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                )));
            }
            driver.create_rw(&layer, top.as_deref()).map_err(stat_err)?;
            {
                let layer = layer.clone();
                undo.push("remove the rw layer", move || {
                    if let Err(e) = self.images.driver().remove(&layer) {
                        tracing::warn!("could not remove layer {layer}: {e}");
                    }
                });
            }
            let c = Container {
                id: id.clone(),
                name,
                created: util::now_nanos(),
                image: image_ref.to_string(),
                image_id: img.config_digest.to_string(),
                path: rc.args[0].clone(),
                args: rc.args[1..].to_vec(),
                config,
                host_config,
                state: CState::default(),
                layer,
                exits: 0,
                net: None,
                endpoints,
                mounts,
                restart: Default::default(),
                runtime: Some(runtime),
            };
            // Durable before it is listed: a record we could not write is a
            // failed create, not a container lost at the next restart.
            self.try_persist(&c)?;
            undo.commit();
            self.emit(&c, "create", &[]);
            map.insert(id.clone(), c);
        }
        Ok(id)
    }

    /// `POST /containers/{id}/start` (blocking: run it on a blocking thread).
    ///
    /// A sequence of steps ([`Engine::start_steps`]); each pushes its undo,
    /// and a failure at any step releases everything before it
    /// ([`undo::Undo`]), then records the error in the container's state.
    pub fn start(self: &Arc<Self>, key: &str) -> Result<()> {
        let c = self.find(key)?;
        // A run that just exited: its shim may still be deleting the
        // runtime's state of this id, and its mount and network go.
        self.wait_finished(&c.id);
        state::transition(c.state.status, state::Action::Start).map_err(|r| r.to_api(&c.id))?;
        let mut undo = undo::Undo::default();
        match self.start_steps(&c, &mut undo) {
            Ok(watcher) => {
                undo.commit();
                self.emit(&c, "start", &[]);
                self.refresh_hosts();
                self.watch_with(c.id.clone(), watcher);
                self.start_health(&c.id);
                Ok(())
            }
            Err(e) => {
                drop(undo);
                let msg = e.message.clone();
                self.update(&c.id, |c| c.state.error = msg);
                Err(e)
            }
        }
    }

    /// The steps of [`Engine::start`], in order; returns the connection
    /// that watches for the exit, made before the container was started.
    fn start_steps<'a>(
        self: &'a Arc<Self>,
        c: &Container,
        undo: &mut undo::Undo<'a>,
    ) -> Result<Option<std::os::unix::net::UnixStream>> {
        let id = c.id.clone();
        let dir = self.dir(&id);
        let rootfs = dir.join("rootfs");
        // 1. The root: the image's layers and the rw layer, mounted.
        unmount(&rootfs);
        let mounts = self
            .images
            .driver()
            .mounts(&c.layer, &rootfs)
            .map_err(stat_err)?;
        ::unionfs::mount::Mounted::apply_all(&mounts)
            .map_err(stat_err)?
            .keep();
        {
            let rootfs = rootfs.clone();
            undo.push("unmount the root", move || unmount(&rootfs));
        }
        // 2. The user, from the image's own files.
        let user = c.config.user.as_str();
        let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap_or_default();
        let (uid, gid) =
            ::images::runtime::resolve_user(user, &read("etc/passwd"), &read("etc/group"))
                .map_err(|e| {
                    ApiError::bad(format!(
                        "unable to find user {user}: {}",
                        crate::errors::chain(&e)
                    ))
                })?;
        // 3. The network namespace: the default bridge's, a user network's,
        //    or another container's. The attachment can change (publishing a
        //    user network's ports), so the undo detaches the latest one.
        let mode = c.network_mode();
        let net: Arc<Mutex<Option<net::Attachment>>> = Default::default();
        {
            let net = net.clone();
            let id = id.clone();
            undo.push("detach the network", move || {
                self.disconnect_user_networks(&id);
                let a = net.lock().ok().and_then(|mut n| n.take());
                if let Some(a) = a {
                    self.detach_network(&a);
                }
            });
        }
        let attachment = if mode == "bridge" {
            self.attach_network(c)?
        } else {
            self.user_netns(c)?
        };
        let keep_net = |a: &Option<net::Attachment>| {
            if let Ok(mut n) = net.lock() {
                n.clone_from(a);
            }
        };
        keep_net(&attachment);
        let joined = self.joined_netns(&mode)?;
        self.connect_user_networks(c, attachment.as_ref().map(|a| a.netns.as_str()))?;
        let c = self.find(&id)?;
        let attachment = match self.publish_user_ports(&c, attachment) {
            Ok(a) => a,
            Err((e, a)) => {
                keep_net(&a);
                return Err(e);
            }
        };
        keep_net(&attachment);
        // On a user network: the embedded DNS server, inside the namespace.
        {
            let id = id.clone();
            undo.push("stop the embedded DNS server", move || self.dns.stop(&id));
        }
        self.serve_dns(&c, attachment.as_ref().map(|a| a.netns.as_str()))?;
        // 4. /etc/hosts, /etc/resolv.conf, /etc/hostname, bind-mounted.
        let binds = self.etc_binds(&c, &rootfs, attachment.as_ref());
        // 5. The bundle's config.json (and the namespace's own sysctls).
        let netns = joined.or_else(|| attachment.as_ref().map(|a| a.netns.clone()));
        let mut oci = self.container_spec(&c, (uid, gid), netns, binds)?;
        if let Some(a) = &attachment {
            // The namespace is ours: set its sysctls here, so the runtime,
            // which joins it by path, need not.
            let sysctls = net::take_net_sysctls(&mut oci);
            net::apply_sysctls(Path::new(&a.netns), &sysctls)?;
        }
        spec::write(&dir, &spec::to_json(&oci)).map_err(stat_err)?;
        // 6. The shim, which creates the container through the runtime.
        // Leftovers of a previous run (its shim could not delete them).
        self.clean_runtime_state(&id);
        {
            let id = id.clone();
            undo.push("drop the waiting attachers", move || self.drop_pending(&id));
        }
        let pid = self.spawn_shim(&c)?;
        undo.push("kill the container", move || {
            let _ = mini_runc::sys::signal_one(pid as i32, nix::sys::signal::Signal::SIGKILL);
        });
        // 7. The watch, before the start: the shim then has our `watch` line
        //    before its `start`, and a process that exits at once still has
        //    its exit reported to us before the shim's cleanup.
        let watcher = self.connect_watch(&id);
        // 8. Created: connect the waiting attachers, then let it run.
        self.release(&id, || {
            self.update(&id, |c| {
                c.state = CState {
                    status: state::transition(c.state.status, state::Action::Start)
                        .unwrap_or(state::Status::Running),
                    running: true,
                    pid,
                    exit_code: 0,
                    error: String::new(),
                    started_at: util::now_nanos(),
                    finished_at: 0,
                    oom_killed: false,
                    // Its log stays, as in Docker; the check restarts it.
                    health: c.state.health.take(),
                };
                c.net = attachment.clone();
            });
        })?;
        Ok(watcher)
    }

    /// The container's own `/etc/hosts`, `/etc/resolv.conf` (with a network
    /// namespace of its own) and `/etc/hostname`, as `(file, destination)`
    /// binds; none when the image has no `/etc`.
    fn etc_binds(
        &self,
        c: &Container,
        rootfs: &Path,
        attachment: Option<&net::Attachment>,
    ) -> Vec<(String, String)> {
        let dir = self.dir(&c.id);
        let mut binds = Vec::new();
        if !rootfs.join("etc").is_dir() {
            return binds;
        }
        let hosts = dir.join("hosts");
        let mut me = c.clone();
        me.net = attachment.cloned();
        let text = self.hosts_text(&me, &self.list());
        if std::fs::write(&hosts, text).is_ok() && ensure_file(&rootfs.join("etc/hosts")) {
            binds.push((hosts.display().to_string(), "/etc/hosts".to_string()));
        }
        if attachment.is_some() {
            let rc = dir.join("resolv.conf");
            let written = if Self::embedded_dns(c) {
                // The embedded server answers, with the host's search domains.
                let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                let (search, options) = dns::search_and_options(&host);
                std::fs::write(&rc, dns::resolv_conf(&search, &options)).is_ok()
            } else {
                ::network::dns::write_resolv_conf(Path::new("/etc/resolv.conf"), &rc, &[]).is_ok()
            };
            if written && ensure_file(&rootfs.join("etc/resolv.conf")) {
                binds.push((rc.display().to_string(), "/etc/resolv.conf".to_string()));
            }
        }
        let hn = dir.join("hostname");
        if std::fs::write(&hn, format!("{}\n", c.hostname())).is_ok()
            && ensure_file(&rootfs.join("etc/hostname"))
        {
            binds.push((hn.display().to_string(), "/etc/hostname".to_string()));
        }
        binds
    }

    /// The `config.json` of a container's next start, from its record: what
    /// `start` writes and what `--explain` shows are the same by construction.
    pub(crate) fn container_spec(
        &self,
        c: &Container,
        (uid, gid): (u32, u32),
        netns: Option<String>,
        binds: Vec<(String, String)>,
    ) -> Result<oci_spec::runtime::Spec> {
        let hc = &c.host_config;
        let r = &hc.resources;
        let int = |v: Option<i64>| v.unwrap_or(0);
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        // Without swap accounting the swap limit is left out; `create` said so.
        let memory_swap = resources::memory_swap(int(r.memory), int(r.memory_swap))
            .filter(|_| resources::host_limits_swap());
        let input = spec::SpecInput {
            id: c.id.clone(),
            args: std::iter::once(c.path.clone())
                .chain(c.args.iter().cloned())
                .collect(),
            env: c.config.env.clone().unwrap_or_default(),
            cwd: Some(c.config.working_dir.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("/")
                .to_string(),
            uid,
            gid,
            hostname: c.hostname(),
            network_mode: c.network_mode(),
            netns,
            memory: int(r.memory),
            nano_cpus: int(r.nano_cpus),
            pids_limit: int(r.pids_limit),
            binds,
            tty: c.config.tty,
            memory_swap,
            cpu_shares: int(r.cpu_shares),
            cpu_quota: int(r.cpu_quota),
            cpu_period: int(r.cpu_period),
            cpuset_cpus: text(&r.cpuset_cpus),
            cpuset_mems: text(&r.cpuset_mems),
            cgroup_parent: text(&r.cgroup_parent),
            shm_size: int(hc.shm_size),
            sysctls: hc.sysctls.clone().unwrap_or_default().into_iter().collect(),
            oom_score_adj: int(hc.oom_score_adj),
            domainname: c.config.domainname.clone(),
        };
        let mut oci = spec::build_spec(&input);
        lifecycle::apply_resources(&hc.to_value(), &mut oci);
        // dockerd's order: the networks join, then the volumes mount.
        self.emit_network_events(c, "connect");
        self.apply_netvol(c, &mut oci)?;
        self.apply_init(c, &mut oci)?;
        Ok(oci)
    }

    fn spawn_shim(&self, c: &Container) -> Result<i64> {
        use std::io::BufRead;
        let id = &c.id;
        let dir = self.dir(id);
        let args = shim::ShimArgs {
            id: id.to_string(),
            dir: dir.clone(),
            runtime_root: self.runtime_of(id).root,
            runtime: self.runtime_of(id).path,
            socket: self.socket(id),
            tty: c.config.tty,
            open_stdin: c.config.open_stdin,
            stdin_once: c.config.stdin_once,
            log: c.log_settings().map_err(ApiError::bad)?,
        };
        let shimlog = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("shim.log"))
            .map_err(stat_err)?;
        let mut child = std::process::Command::new(&self.opts.shim)
            .args(args.to_args())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(shimlog)
            .spawn()
            .map_err(|e| ApiError::internal(format!("start {}: {e}", self.opts.shim.display())))?;
        let out = child.stdout.take();
        let _ = child.wait();
        let mut line = String::new();
        if let Some(out) = out {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let line = line.trim();
        if let Some(pid) = line.strip_prefix("ok ") {
            return pid.parse().map_err(|_| {
                ApiError::internal(format!("the shim answered {line:?}, not \"ok <pid>\""))
            });
        }
        let why = line
            .strip_prefix("err ")
            .map(String::from)
            .unwrap_or_else(|| {
                format!(
                    "the shim exited without starting the container; see {}",
                    dir.join("shim.log").display()
                )
            });
        Err(ApiError::internal(format!(
            "failed to create the container: {why}"
        )))
    }

    /// Waits (in a task) for the shim to report the container's exit.
    ///
    /// The shim sends `exit JSON` on the `watch` connection as soon as the
    /// init is reaped, then cleans up (`RUNTIME delete`, `exit.json`) and
    /// exits: EOF. The exit is recorded at the report, so a `wait` or a
    /// `stop` returns without waiting for that cleanup; until EOF the
    /// container is "finishing" ([`Engine::wait_finished`]): a new start
    /// waits for it, so the old shim's `delete` never meets the new run.
    fn watch(self: &Arc<Self>, id: String) {
        self.watch_with(id, None);
    }

    /// Connects to container `id`'s shim and sends `watch` (blocking).
    fn connect_watch(&self, id: &str) -> Option<std::os::unix::net::UnixStream> {
        use std::io::Write;
        let mut s = std::os::unix::net::UnixStream::connect(self.socket(id)).ok()?;
        s.write_all(b"watch\n").ok()?;
        s.set_nonblocking(true).ok()?;
        Some(s)
    }

    /// [`Engine::watch`] on a connection [`Engine::connect_watch`] made
    /// (`None`: connect now).
    fn watch_with(self: &Arc<Self>, id: String, watcher: Option<std::os::unix::net::UnixStream>) {
        let me = self.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
            let mut conn = match watcher {
                Some(s) => tokio::net::UnixStream::from_std(s)
                    .ok()
                    .map(tokio::io::BufReader::new),
                None => match tokio::net::UnixStream::connect(me.socket(&id)).await {
                    Ok(mut s) => match s.write_all(b"watch\n").await {
                        Ok(()) => Some(tokio::io::BufReader::new(s)),
                        Err(_) => None,
                    },
                    Err(_) => None,
                },
            };
            let mut report = None;
            if let Some(r) = conn.as_mut() {
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    report = line
                        .trim_end()
                        .strip_prefix("exit ")
                        .and_then(|j| serde_json::from_str::<shim::ExitStatus>(j).ok());
                }
            }
            if report.is_none() {
                // An older shim, or one that died: EOF came first.
                conn = None;
            }
            me.set_finishing(&id, Some(Finishing::Daemon));
            let me2 = me.clone();
            let exited = id.clone();
            let auto_remove = tokio::task::spawn_blocking(move || me2.on_exit(&exited, report))
                .await
                .ok()
                .flatten();
            me.set_finishing(&id, Some(Finishing::Shim));
            if let Some(rm) = auto_remove {
                // The removal answers now; its reaper waits for the shim.
                let me3 = me.clone();
                let _ =
                    tokio::task::spawn_blocking(move || me3.remove_with_volumes(&rm, true, true))
                        .await;
            }
            if let Some(mut r) = conn {
                // The shim's cleanup: EOF when it exits (bounded).
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(30),
                    tokio::io::AsyncReadExt::read_to_end(&mut r, &mut sink),
                )
                .await;
            }
            me.set_finishing(&id, None);
            me.after_exit(id);
        });
    }

    /// Marks container `id` as finishing (`Some`: what is left), or done.
    fn set_finishing(&self, id: &str, left: Option<Finishing>) {
        let mut f = self.finishing.lock().unwrap_or_else(|e| e.into_inner());
        match left {
            Some(l) => f.insert(id.to_string(), l),
            None => f.remove(id),
        };
        drop(f);
        self.changed.notify_waiters();
    }

    /// Waits (up to 30 s) until container `id` has finished exiting: the
    /// daemon has released its mount and network and, with `shim`, its
    /// shim has exited too.
    fn wait_finished_for(&self, id: &str, shim: bool) {
        let t = std::time::Instant::now();
        while self
            .finishing
            .lock()
            .map(|f| match f.get(id) {
                None => false,
                Some(Finishing::Shim) => shim,
                Some(Finishing::Daemon) => true,
            })
            .unwrap_or(false)
            && t.elapsed() < std::time::Duration::from_secs(30)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Waits until container `id` has wholly finished exiting (its shim too).
    pub fn wait_finished(&self, id: &str) {
        self.wait_finished_for(id, true);
    }

    /// Releases the network, records an exit (the shim's report, or else
    /// its `exit.json`), then unmounts the root; returns the id when the
    /// container must be removed (`--rm`).
    fn on_exit(&self, id: &str, report: Option<shim::ExitStatus>) -> Option<String> {
        let dir = self.dir(id);
        let status = report
            .or_else(|| shim::read_exit(&dir))
            .unwrap_or(shim::ExitStatus {
                exit_code: 255,
                finished_at: util::now_nanos(),
                error: "the shim died before recording an exit status".into(),
                oom_killed: false,
            });
        // The network goes before the exit is seen, as with Docker: once a
        // `stop` or a `wait` returns, the ports are closed and the address
        // is free.
        let net = self.lock().get(id).and_then(|c| c.net.clone());
        if let Some(a) = &net {
            self.detach_network(a);
        }
        self.disconnect_user_networks(id);
        // `--rm` (AutoRemove): the record goes next, so its exit is not
        // written (two fsyncs) and its root is unmounted by the reaper
        // (milliseconds, sometimes tens): `run --rm` waits for neither. A
        // daemon that dies before the removal finds the record still
        // running, and its restart reads the shim's `exit.json`, records
        // the exit and removes the container then.
        let restarting = self
            .restarting
            .lock()
            .map(|r| r.contains(id))
            .unwrap_or(false);
        let removing = !restarting
            && self
                .lock()
                .get(id)
                .is_some_and(|c| c.host_config.auto_remove());
        let c = self.update_with(id, !removing, |c| {
            // Only a running container has a watcher: `die` is always allowed.
            c.state.status = state::transition(c.state.status, state::Action::Die)
                .unwrap_or(state::Status::Exited);
            c.state.running = false;
            c.state.pid = 0;
            c.state.exit_code = status.exit_code;
            c.state.finished_at = status.finished_at;
            c.state.error = status.error.clone();
            c.state.oom_killed = status.oom_killed;
            // As dockerd: a stopped container's health is `unhealthy`, its
            // streak and log kept; the next start makes it `starting`.
            if let Some(h) = c.state.health.as_mut() {
                h.status = "unhealthy".into();
            }
            c.exits += 1;
            c.net = None;
            // Docker's order: `oom`, then `die`, both before a waiter (a
            // `stop`, a `wait`) sees the exit.
            if status.oom_killed {
                self.emit(c, "oom", &[]);
            }
            self.emit(c, "die", &[("exitCode", status.exit_code.to_string())]);
        })?;
        // Then, as dockerd: its networks let go of it, its volumes unmount.
        self.emit_network_events(&c, "disconnect");
        for m in c.mounts.iter().filter(|m| m.kind == "volume") {
            let attrs = [("container", c.id.as_str()), ("driver", "local")];
            self.emit_event("volume", "unmount", &m.name, &attrs);
        }
        // Waiters have their answer; the root's unmount (milliseconds on
        // this disk) is done after it, before the container stops
        // "finishing".
        if !removing {
            unmount(&dir.join("rootfs"));
        }
        self.refresh_hosts();
        tracing::info!(
            id,
            code = status.exit_code,
            oom_killed = status.oom_killed,
            "container exited"
        );
        removing.then(|| c.id.clone())
    }

    /// `POST /containers/{id}/kill`.
    pub fn kill(&self, key: &str, signal: &str) -> Result<()> {
        let c = self.find(key)?;
        self.mark_manually_stopped(&c.id);
        state::transition(c.state.status, state::Action::Kill).map_err(|r| r.to_api(&c.id))?;
        let sig =
            mini_runc::container::parse_signal(if signal.is_empty() { "KILL" } else { signal })
                .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        use runtimes::Runtime;
        // A container that exited meanwhile is no error.
        let killed = self.runtime_of(&c.id).kill_if_running(&c.id, sig);
        if killed.is_ok() {
            self.emit(&c, "kill", &[("signal", (sig as i32).to_string())]);
        }
        if c.state.status == state::Status::Paused {
            // Frozen tasks act on the signal only once they run again.
            let _ = self.thaw(&c.id);
        }
        killed.map(drop).map_err(stat_err)
    }

    /// Waits until `cond` holds for the container (or it is removed).
    pub async fn wait_for(&self, id: &str, cond: impl Fn(&Container) -> bool) -> Option<Container> {
        loop {
            let notified = self.changed.notified();
            match self.lock().get(id) {
                Some(c) if cond(c) => return Some(c.clone()),
                Some(_) => {}
                None => return None,
            }
            notified.await;
        }
    }

    /// `POST /containers/{id}/stop`.
    pub async fn stop(self: &Arc<Self>, key: &str, t: Option<i64>) -> Result<()> {
        let c = self.find(key)?;
        self.mark_manually_stopped(&c.id);
        match state::transition(c.state.status, state::Action::Stop) {
            Err(r) => return Err(r.to_api(&c.id)),
            // A pending restart is cancelled; nothing was running to stop.
            Ok(next) if !c.state.status.is_running() => {
                self.update(&c.id, |c| c.state.status = next);
                return Err(ApiError::not_modified());
            }
            Ok(_) => {}
        }
        let sig = c
            .config
            .stop_signal
            .clone()
            .unwrap_or_else(|| "SIGTERM".into());
        let _ = self.kill(&c.id, &sig);
        let secs = t.or(c.config.stop_timeout).unwrap_or(10).max(0) as u64;
        let stopped = tokio::time::timeout(
            std::time::Duration::from_secs(secs),
            self.wait_for(&c.id, |c| !c.state.running),
        )
        .await;
        if stopped.is_err() {
            let _ = self.kill(&c.id, "SIGKILL");
            let _ = self.wait_for(&c.id, |c| !c.state.running).await;
        }
        self.emit(&c, "stop", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait`: the exit code.
    pub async fn wait(&self, key: &str, condition: &str) -> Result<i64> {
        let c = self.find(key)?;
        let gen = c.exits;
        let id = c.id.clone();
        let got = match condition {
            "next-exit" => self.wait_for(&id, |c| c.exits > gen).await,
            "removed" => self.wait_for(&id, |_| false).await,
            _ => self.wait_for(&id, |c| !c.state.running).await,
        };
        match got {
            Some(c) => Ok(c.state.exit_code),
            None => Ok(self
                .removed
                .lock()
                .map(|m| m.get(&id).copied().unwrap_or(0))
                .unwrap_or(0)),
        }
    }

    /// `DELETE /containers/{id}` (blocking).
    pub fn remove(&self, key: &str, force: bool) -> Result<()> {
        use state::{Action, Refusal};
        let c = self.find(key)?;
        let refused = state::transition(c.state.status, Action::Remove).err();
        // dockerd names the container as the request did.
        if let Some(Refusal::RemovalInProgress) = refused {
            return Err(Refusal::RemovalInProgress.to_api(key));
        }
        if let (Some(r @ Refusal::RemoveRestarting), false) = (refused, force) {
            return Err(r.to_api(&c.id));
        }
        if let Some(r @ (Refusal::RemoveRunning | Refusal::RemovePaused)) = refused {
            if !force {
                return Err(r.to_api(&c.id));
            }
            let _ = self.kill(&c.id, "SIGKILL");
            // The watcher records the exit; give it a bounded time.
            let t = std::time::Instant::now();
            while self
                .lock()
                .get(&c.id)
                .map(|c| c.state.running)
                .unwrap_or(false)
                && t.elapsed() < std::time::Duration::from_secs(10)
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        // An exit just recorded: the daemon unmounts its root before `rm`
        // answers (the shim's own cleanup is the reaper's to wait for).
        self.wait_finished_for(&c.id, false);
        let removed = {
            let mut map = self.lock();
            match map.get_mut(&c.id) {
                Some(x) => match state::transition(x.state.status, Action::Remove).or_else(|r| {
                    // `rm -f` of a restarting container: the pending
                    // restart is cancelled (`exited`), then removed.
                    match (r, force) {
                        (Refusal::RemoveRestarting, true) => {
                            state::transition(x.state.status, Action::Stop)
                                .and_then(|s| state::transition(s, Action::Remove))
                        }
                        _ => Err(r),
                    }
                }) {
                    Ok(next) => {
                        x.state.status = next;
                        x.state.running = false;
                        true
                    }
                    // Another `rm` is at it: dockerd's 409, naming it as asked.
                    Err(r @ Refusal::RemovalInProgress) => return Err(r.to_api(key)),
                    Err(r) => return Err(r.to_api(&c.id)),
                },
                None => false,
            }
        };
        if !removed {
            return Ok(());
        }
        // Not `if let Some(a) = self.lock()...`: its guard would live through
        // the detach, which waits for the proxies.
        let net = self.lock().get(&c.id).and_then(|c| c.net.clone());
        if let Some(a) = net {
            self.detach_network(&a);
        }
        self.disconnect_user_networks(&c.id);
        self.drop_pending(&c.id);
        self.drop_execs(&c.id);
        // One rename hands the directory (record, rootfs mount, rw layer's
        // name) to the reaper: from here no restart loads the container,
        // and the reaper, or the next daemon's, finishes the removal.
        let record = self.lock().get(&c.id).cloned().unwrap_or(c.clone());
        let trash = self.reap_dir().join(&c.id);
        match std::fs::rename(self.dir(&c.id), &trash) {
            Ok(()) => {
                // The record moved with the directory (every change is
                // persisted there); written again only if it is missing,
                // so an `rm` costs no fsync.
                let rec = trash.join("container.json");
                let written = match rec.exists() {
                    true => Ok(()),
                    false => {
                        util::write_atomic(&rec, &serde_json::to_vec(&record).unwrap_or_default())
                    }
                };
                if let Err(e) = written {
                    tracing::warn!("record for the reaper {}: {e}", trash.display());
                }
                if let Some(me) = self.me.upgrade() {
                    let id = c.id.clone();
                    std::thread::spawn(move || me.reap(&id));
                }
            }
            Err(e) => {
                // Not on one filesystem, or no directory: remove in place.
                tracing::warn!("reap {}: {e}; removing in place", c.id);
                self.wait_finished(&c.id);
                self.release_removed(&record, &self.dir(&c.id));
            }
        }
        let gone = self.lock().remove(&c.id);
        if let Some(gone) = &gone {
            self.emit(gone, "destroy", &[]);
        }
        let code = gone.map(|c| c.state.exit_code).unwrap_or(0);
        if let Ok(mut m) = self.removed.lock() {
            m.insert(c.id.clone(), code);
        }
        self.changed.notify_waiters();
        Ok(())
    }

    /// Where removed containers' directories wait for the reaper.
    fn reap_dir(&self) -> PathBuf {
        self.opts.root.join("reap")
    }

    /// The background half of `rm`, as containerd's garbage collector:
    /// once the container has finished exiting, unmount its root, delete
    /// the runtime's state, remove the rw layer, the socket and the
    /// directory `reap/<id>`. Each step is idempotent, and the directory
    /// goes last: a daemon that dies mid-reap finds it at its next start
    /// ([`Engine::resume_reaps`]) and does it all again.
    fn reap(&self, id: &str) {
        self.wait_finished(id);
        let dir = self.reap_dir().join(id);
        let record = std::fs::read(dir.join("container.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Container>(&b).ok());
        match record {
            Some(c) => self.release_removed(&c, &dir),
            None => {
                unmount(&dir.join("rootfs"));
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        tracing::info!(id, "reaped");
    }

    /// Releases what a removed container held on the host, directory last.
    fn release_removed(&self, c: &Container, dir: &Path) {
        unmount(&dir.join("rootfs"));
        self.clean_runtime_state_with(&c.id, self.runtime_for(c));
        let _ = self.images.driver().remove(&c.layer);
        let _ = std::fs::remove_file(self.socket(&c.id));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Resumes the reaps a previous daemon left (at start, in the background).
    pub fn resume_reaps(self: &Arc<Self>) {
        for e in std::fs::read_dir(self.reap_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            tracing::info!(%id, "resuming the removal a previous daemon began");
            let me = self.clone();
            std::thread::spawn(move || me.reap(&id));
        }
    }

    /// Sends the event `action` about `c` on [`Engine::events`]: its
    /// attributes are the container's labels, `image`, `name`, and `extra`.
    pub(crate) fn emit(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let mut attrs = c.config.labels.clone().unwrap_or_default();
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        // One line per event in the daemon's log, as `docker events` shows it.
        let shown: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        tracing::info!("container event: {action} {} {}", c.id, shown.join(","));
        self.events.emit(state::Event::container(
            action,
            &c.id,
            &c.image,
            &c.name,
            attrs,
            util::now_nanos(),
        ));
    }

    /// Sends an event about something other than a container (an image, a
    /// network, a volume): type `kind`, `action`, the actor's `id` and
    /// attributes, as dockerd's `LogImageEvent`/`LogNetworkEvent`/….
    pub(crate) fn emit_event(&self, kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) {
        let attributes = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tracing::info!("{kind} event: {action} {id}");
        self.events.emit(state::Event::new(
            kind,
            action,
            id,
            attributes,
            util::now_nanos(),
        ));
    }

    /// The `network connect`/`disconnect` events of a container's start and
    /// exit: one per network it is on (`none`, `host` and `bridge` are
    /// networks too, of types `null`, `host` and `bridge`); none for a
    /// container that shares another's namespace.
    fn emit_network_events(&self, c: &Container, action: &str) {
        let mode = c.network_mode();
        let predefined = match mode.as_str() {
            "none" => Some(("none", "null")),
            "host" => Some(("host", "host")),
            "bridge" => Some(("bridge", "bridge")),
            _ => None,
        };
        let mut nets: Vec<(String, String, &str)> = predefined
            .map(|(n, t)| (networks::predefined_id(n), n.to_string(), t))
            .into_iter()
            .collect();
        for (name, ep) in &c.endpoints {
            nets.push((ep.network_id.clone(), name.clone(), "bridge"));
        }
        for (id, name, kind) in nets {
            let attrs = [
                ("container", c.id.as_str()),
                ("name", &name),
                ("type", kind),
            ];
            self.emit_event("network", action, &id, &attrs);
        }
    }

    /// Deletes the runtime's state of a container that is not running.
    fn clean_runtime_state(&self, id: &str) {
        self.clean_runtime_state_with(id, self.runtime_of(id));
    }

    /// The same, with the container's runtime given (its record is gone).
    fn clean_runtime_state_with(&self, id: &str, rt: runtimes::OciRuntime) {
        use runtimes::Runtime;
        // runc, crun and mini-runc keep a container's state in ROOT/ID: no
        // directory, nothing to delete (and no process to start for it).
        let dir = rt.root.join(id);
        if !dir.exists() {
            return;
        }
        let _ = rt.delete_force(id);
        // What a runtime killed mid-`create` left, it does not know: removed here.
        if dir.exists() && rt.state(id).is_err() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Whether any container uses the image `config_digest`.
    pub fn image_users(&self, config_digest: &str) -> Vec<String> {
        self.lock()
            .values()
            .filter(|c| c.image_id == config_digest)
            .map(|c| c.id.clone())
            .collect()
    }
}

/// The path as a string when the file exists, else "" (inspect's `*Path`).
fn present(p: PathBuf) -> String {
    if p.exists() {
        p.display().to_string()
    } else {
        String::new()
    }
}

/// Creates an empty file at `p` when nothing is there (a bind target).
fn ensure_file(p: &Path) -> bool {
    match std::fs::symlink_metadata(p) {
        Ok(m) => m.is_file(),
        Err(_) => std::fs::write(p, b"").is_ok(),
    }
}

/// Unmounts everything on `target` (lazily: a dead container holds nothing).
pub fn unmount(target: &Path) {
    for _ in 0..8 {
        if nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}
