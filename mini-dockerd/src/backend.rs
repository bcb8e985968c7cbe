//! # The engine behind the routers' backend traits
//!
//! Each router declares the calls it makes as a trait of its own (moby's
//! `api/server/router/*/backend.go`): [`ContainerBackend`] for
//! `/containers`, [`ImageBackend`] for `/images`, [`NetworkBackend`] and
//! [`VolumeBackend`] for `/networks` and `/volumes`, [`SystemBackend`] for
//! `/info`, `/version`, `/system/df`, `/auth` and `/build/prune`,
//! `StreamBackend` for the hijacked attach and exec start. The daemon's [`Engine`]
//! implements them here, in one place, each method a thin call into the
//! service that does the work. A router sees only its trait, so its tests
//! drive it against a fake, with no daemon and no root.

use crate::api::{ContainerBackend, ImageBackend, SystemBackend, WaitCondition, WaitFuture};
use crate::auth::AuthConfig;
use crate::commit::CommitOptions;
use crate::filters::Filters;
use crate::logs::LogOptions;
use crate::netvol_api::{NetworkBackend, VolumeBackend};
use crate::{Engine, Result};
use axum::response::Response;
use mini_docker_api::bodies::{NetworkConnect, NetworkDisconnect, VolumeCreate};
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::sync::mpsc;

impl ContainerBackend for Engine {
    fn container_create(
        &self,
        name: Option<&str>,
        body: &Value,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<String> {
        self.create_cancellable(name, body, cancel)
    }

    fn container_list(&self, all: bool, filters: &Filters) -> Result<Vec<u8>> {
        self.list_containers(all, filters)
    }

    fn container_inspect(&self, key: &str) -> Result<Value> {
        Ok(self.find(key)?.inspect(&self.opts.root))
    }

    fn container_start(self: &Arc<Self>, key: &str) -> Result<()> {
        self.user_started(key);
        self.start(key)
    }

    async fn container_stop(self: Arc<Self>, key: String, timeout: Option<i64>) -> Result<()> {
        self.stop(&key, timeout).await
    }

    async fn container_restart(self: Arc<Self>, key: String, timeout: Option<i64>) -> Result<()> {
        self.restart(&key, timeout).await
    }

    fn container_kill(&self, key: &str, signal: &str) -> Result<()> {
        self.kill(key, signal)
    }

    fn container_wait(self: &Arc<Self>, key: &str, condition: WaitCondition) -> Result<WaitFuture> {
        let id = self.find(key)?.id;
        let me = self.clone();
        Ok(Box::pin(async move {
            me.wait(&id, condition.as_str()).await.unwrap_or(-1)
        }))
    }

    fn container_remove(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        self.remove_with_volumes(key, force, volumes)
    }

    fn container_rename(&self, key: &str, name: &str) -> Result<()> {
        self.rename(key, name)
    }

    fn container_top(&self, key: &str, ps_args: &str) -> Result<Value> {
        self.top(key, ps_args, Path::new(crate::manage::CGROUP_ROOT))
    }

    fn containers_prune(&self) -> Result<Value> {
        self.prune_containers()
    }

    fn container_commit(self: &Arc<Self>, o: &CommitOptions, body: &[u8]) -> Result<String> {
        crate::commit::commit(self, o, body)
    }

    fn container_logs(
        self: &Arc<Self>,
        key: &str,
        o: LogOptions,
        follow: bool,
    ) -> Result<mpsc::Receiver<Vec<u8>>> {
        self.logs(key, o, follow)
    }
}

impl ImageBackend for Engine {
    fn image_spool_dir(&self) -> std::path::PathBuf {
        self.opts.root.clone()
    }

    fn image_list(&self, filters: &Filters, all: bool) -> Result<Value> {
        self.images.list_images(filters, all)
    }

    fn image_import(&self, tar: &Path, repo: &str, tag: &str, message: &str) -> Result<String> {
        let familiar = ::images::image::familiar_name(repo).to_string();
        let named = match (familiar.as_str(), tag) {
            ("", _) => None,
            (r, "") => Some(r.to_string()),
            (r, t) => Some(format!("{r}:{t}")),
        };
        let id = self.images.import(tar, repo, tag, message)?;
        // dockerd's order: the new name's `tag`, then the `import`.
        if let Some(named) = named {
            self.emit_event("image", "tag", &id, &[("name", &named)]);
        }
        self.emit_event("image", "import", &id, &[("name", &id)]);
        Ok(id)
    }

    async fn image_pull(
        self: Arc<Self>,
        image: String,
        tag: String,
        auth: Option<AuthConfig>,
    ) -> Result<Response> {
        crate::pull::pull(self, image, tag, auth).await
    }

    async fn image_push(
        self: Arc<Self>,
        name: String,
        tag: String,
        auth: Option<AuthConfig>,
    ) -> Result<Response> {
        crate::pull::push(self, name, tag, auth).await
    }

    async fn image_search(
        self: Arc<Self>,
        term: String,
        limit: usize,
        auth: Option<AuthConfig>,
    ) -> Result<Value> {
        crate::auth::search(&self.registry, &term, limit, auth).await
    }

    fn images_prune(&self, all: bool) -> Result<Value> {
        self.prune_images(all)
    }

    fn image_load(&self, tar: &Path) -> Result<Vec<String>> {
        let loaded = self.images.load(tar)?;
        for line in &loaded {
            // "Loaded image: x:t" or "Loaded image ID: sha256:…".
            let name = line.rsplit(": ").next().unwrap_or(line);
            if let Ok(img) = self.images.resolve(name) {
                let id = img.config_digest.to_string();
                // dockerd names the loaded image by its id, whatever its tags.
                self.emit_event("image", "load", &id, &[("name", &id)]);
            }
        }
        Ok(loaded)
    }

    fn image_save(&self, names: &[String], out: &Path) -> Result<()> {
        let ids: Vec<String> = names
            .iter()
            .filter_map(|n| self.images.resolve(n).ok())
            .map(|i| i.config_digest.to_string())
            .collect();
        self.images.save(names, out)?;
        for id in ids {
            self.emit_event("image", "save", &id, &[("name", &id)]);
        }
        Ok(())
    }

    fn image_inspect(&self, name: &str) -> Result<Value> {
        self.images.inspect(name)
    }

    fn image_history(&self, name: &str) -> Result<Value> {
        crate::lineage::history(self, name)
    }

    fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        let id = self
            .images
            .resolve(name)
            .map(|i| i.config_digest.to_string());
        // The name as the user wrote it (Docker's familiar form).
        let familiar = ::images::image::familiar_name(repo);
        let new = if tag.is_empty() {
            familiar.to_string()
        } else {
            format!("{familiar}:{tag}")
        };
        self.images.tag(name, repo, tag)?;
        if let Ok(id) = id {
            self.emit_event("image", "tag", &id, &[("name", &new)]);
        }
        Ok(())
    }

    fn image_remove(&self, name: &str, force: bool) -> Result<Value> {
        let id = self
            .images
            .resolve(name)
            .map(|i| i.config_digest.to_string());
        let removed = self
            .images
            .remove(name, force, &|id| self.image_users(id), &|| {
                self.container_layers()
            })?;
        // dockerd's events: `untag` as many as `Images::remove` counted,
        // `delete` per image gone.
        if let Ok(id) = &id {
            for _ in 0..removed.untag_events {
                self.emit_event("image", "untag", id, &[("name", id)]);
            }
        }
        let out = removed.answer;
        for entry in out.as_array().into_iter().flatten() {
            if let Some(gone) = entry["Deleted"].as_str() {
                self.emit_event("image", "delete", gone, &[("name", gone)]);
            }
        }
        Ok(out)
    }
}

// Each method has the name of the engine's own (inherent) method, which
// Rust calls first: these are one-line hand-overs, not recursion.
impl NetworkBackend for Engine {
    fn network_list(&self, f: &Filters) -> Result<Value> {
        self.network_list(f)
    }
    fn network_create(&self, body: &Value) -> Result<Value> {
        self.network_create(body)
    }
    fn network_inspect(&self, key: &str) -> Result<Value> {
        self.network_inspect(key)
    }
    fn network_remove(&self, key: &str) -> Result<()> {
        self.network_remove(key)
    }
    fn network_connect(&self, key: &str, body: &NetworkConnect) -> Result<()> {
        self.network_connect(key, body)
    }
    fn network_disconnect(&self, key: &str, body: &NetworkDisconnect) -> Result<()> {
        self.network_disconnect(key, body)
    }
    fn network_prune(&self) -> Value {
        self.network_prune()
    }
}

impl VolumeBackend for Engine {
    fn volume_list(&self, f: &Filters) -> Result<Value> {
        self.volume_list(f)
    }
    fn volume_create(&self, body: &VolumeCreate) -> Result<Value> {
        self.volume_create(body)
    }
    fn volume_inspect(&self, name: &str) -> Result<Value> {
        self.volume_inspect(name)
    }
    fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        self.volume_remove(name, force)
    }
    fn volume_prune(&self) -> Value {
        self.volume_prune()
    }
}

impl SystemBackend for Engine {
    fn events_subscribe(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> (
        Vec<crate::state::Event>,
        tokio::sync::broadcast::Receiver<crate::state::Event>,
    ) {
        self.events.subscribe_since(since, until)
    }

    fn system_version(&self) -> Value {
        self.version()
    }
    fn system_info(&self) -> Value {
        self.info()
    }
    fn system_disk_usage(&self) -> Value {
        self.disk_usage()
    }
    async fn system_login(self: Arc<Self>, body: Vec<u8>) -> Result<Value> {
        crate::auth::login(&self.registry, &body).await
    }
    fn build_cache_prune(&self) -> Vec<String> {
        crate::builder::prune_cache(&self.opts.root)
    }
}

impl crate::lifecycle::LifecycleBackend for Engine {
    fn pause(&self, key: &str) -> Result<()> {
        self.pause(key)
    }
    fn unpause(&self, key: &str) -> Result<()> {
        self.unpause(key)
    }
    fn update_container(&self, key: &str, body: &Value) -> Result<Value> {
        self.update_container(key, body)
    }
}

impl crate::tools_api::ToolsBackend for Engine {
    fn container_root(&self, key: &str) -> Result<crate::archive::ContainerRoot> {
        self.container_root(key)
    }
    fn changes(&self, key: &str) -> Result<Value> {
        self.changes(key)
    }
    fn stats(&self, key: &str, interval: std::time::Duration) -> Result<Value> {
        self.stats(key, interval)
    }
}

impl crate::distribution::DistributionBackend for Engine {
    fn distribution_inspect<'a>(
        &'a self,
        name: &'a str,
        r: registry::Reference,
        auth: Option<AuthConfig>,
    ) -> futures_util::future::BoxFuture<'a, Result<Value>> {
        Box::pin(self.distribution_inspect(name, r, auth))
    }
}

impl crate::hijack::ExecBackend for Engine {
    fn resize(&self, key: &str, rows: u16, cols: u16) -> Result<()> {
        self.resize(key, rows, cols)
    }
    fn exec_create(&self, key: &str, body: &mini_docker_api::bodies::ExecCreate) -> Result<String> {
        self.exec_create(key, body)
    }
    fn exec_inspect(&self, id: &str) -> Result<Value> {
        self.exec_inspect(id)
    }
    fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        self.exec_resize(id, rows, cols)
    }
}

impl crate::hijack::StreamBackend for Engine {
    fn attach(
        &self,
        key: &str,
        req: crate::hijack::AttachRequest,
    ) -> Result<crate::hijack::Attached> {
        self.attach_request(key, req)
    }
    fn exec_streams(&self, id: &str) -> Result<crate::hijack::ExecStreams> {
        self.exec_streams(id)
    }
    fn exec_startable(&self, id: &str) -> Result<()> {
        self.exec_startable(id)
    }
    fn exec_start(&self, id: &str, tty: Option<bool>) -> Result<std::os::unix::net::UnixStream> {
        self.exec_start(id, tty)
    }
    fn exec_finished(&self, id: &str, fallback: i64) {
        self.exec_finished(id, fallback)
    }
    fn exec_ended(&self, id: &str) -> bool {
        self.exec_ended(id)
    }
}

impl crate::builder::BuildBackend for Engine {
    fn build_scratch(&self) -> &Path {
        &self.opts.root
    }
    fn build(
        self: &Arc<Self>,
        opts: &crate::builder::BuildOptions,
        context_tar: &Path,
        out: &crate::builder::Progress,
    ) -> Result<String> {
        crate::builder::build(self, opts, context_tar, out)
    }
}
