//! # Volumes, bind mounts and tmpfs (`-v`, `--volumes-from`, `--tmpfs`)
//!
//! A container's filesystem is its image's layers plus a read-write layer
//! that goes with `rm`. Data that must outlive it goes elsewhere, mounted
//! into the rootfs by the runtime as ordinary OCI `mounts` entries:
//!
//! | flag | what is mounted | spec entry |
//! | --- | --- | --- |
//! | `-v /host/dir:/data[:ro]` | a host directory (bind) | `{"type":"bind","source":"/host/dir","options":["rbind","rprivate","ro"]}` |
//! | `-v name:/data` | a named volume: `<data-root>/volumes/<name>/_data`, created on first use | the same, with that source |
//! | `-v /data`, image `VOLUME` | an anonymous volume (a random 64-hex name) | the same |
//! | `--volumes-from other` | every bind and volume of `other`, at the same places | the same |
//! | `--tmpfs /run:size=64m` | a fresh tmpfs | `{"type":"tmpfs","options":["nosuid","nodev","noexec","size=64m"]}` |
//!
//! The engine decides the mounts at `create` (so `inspect` shows `Mounts`
//! and `volume rm` knows what is in use) and writes them into
//! `config.json` at `start`, parents before children.
//!
//! **Safety.** The destination is a path *inside* the container, and the
//! container controls what is there: a volume may hold a symlink
//! `escape -> /` written by an earlier container. The runtime therefore
//! opens every destination with `openat2(RESOLVE_IN_ROOT)` (see
//! `runtime::mounts`): `escape` resolves to the container's own `/`, never
//! the host's. The engine refuses destinations that are not absolute, hold
//! `..`, are `/` itself or lie under `/proc`, and checks that a volume's
//! `_data` is a real directory (not a symlink) before binding it.
//! `rm -v` and `--rm` delete the anonymous volumes of a container.
//!
//! **Copy-up.** As Docker does, a volume that is still empty when it is
//! mounted gets a copy of what the image has at that place (unless the
//! mount says `:nocopy`): an image's `VOLUME /var/lib/db` keeps its
//! initial files.

use super::spec::mount;
use super::{ApiError, Container, Engine, Result};
use mini_docker_api::bodies::VolumeCreate;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// Host path (binds and volumes).
    #[serde(default)]
    pub source: String,
    /// Path inside the container.
    pub destination: String,
    /// Writable.
    pub rw: bool,
    /// An anonymous volume (goes with `rm -v` / `--rm`).
    #[serde(default)]
    pub anonymous: bool,
    /// tmpfs options (`size=64m`).
    #[serde(default)]
    pub options: String,
    /// `:nocopy`: an empty volume is not filled from the image.
    #[serde(default)]
    pub nocopy: bool,
}

/// `Mounts` of inspect.
pub fn mounts_json(mounts: &[MountPoint]) -> Value {
    Value::Array(
        mounts
            .iter()
            .map(|m| match m.kind.as_str() {
                "volume" => json!({"Type": "volume", "Name": m.name, "Source": m.source,
                    "Destination": m.destination, "Driver": "local", "Mode": "",
                    "RW": m.rw, "Propagation": ""}),
                "tmpfs" => json!({"Type": "tmpfs", "Source": "", "Destination": m.destination,
                    "Mode": m.options, "RW": true, "Propagation": ""}),
                _ => json!({"Type": "bind", "Source": m.source, "Destination": m.destination,
                    "Mode": if m.rw { "" } else { "ro" }, "RW": m.rw, "Propagation": "rprivate"}),
            })
            .collect(),
    )
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::bad(m)
}

/// Refuses a destination that is not a plain absolute path inside the container.
pub fn check_destination(dst: &str) -> Result<()> {
    let p = Path::new(dst);
    if !p.is_absolute() {
        return Err(bad(format!(
            "invalid mount config: the mount destination {dst:?} is not an absolute path"
        )));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(bad(format!(
            "invalid mount config: the mount destination {dst:?} contains '..'"
        )));
    }
    if p.components()
        .all(|c| matches!(c, Component::RootDir | Component::CurDir))
    {
        return Err(bad("invalid mount config: destination can't be '/'"));
    }
    if p.starts_with("/proc") {
        return Err(bad(format!(
            "invalid mount config: refusing to mount on {dst} (under /proc)"
        )));
    }
    Ok(())
}

/// A volume name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, as Docker's local driver.
pub fn valid_volume_name(n: &str) -> bool {
    n.len() >= 2 && super::util::valid_name(n)
}

/// Parses one `-v` / `HostConfig.Binds` entry: `SRC:DST[:OPTS]` or `DST`.
pub fn parse_bind(spec: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(bad(format!("invalid volume specification: '{spec}'"))),
    };
    check_destination(dst)?;
    let mut rw = true;
    let mut nocopy = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            "nocopy" => nocopy = true,
            "z" | "Z" | "rprivate" | "private" | "consistent" | "cached" | "delegated" => {}
            other => {
                return Err(bad(format!(
                    "invalid mode: {other} (in volume specification '{spec}')"
                )))
            }
        }
    }
    let dst = dst.trim_end_matches('/').to_string();
    if src.is_empty() {
        return Ok(MountPoint {
            kind: "volume".into(),
            name: String::new(),
            source: String::new(),
            destination: dst,
            rw,
            anonymous: true,
            options: String::new(),
            nocopy,
        });
    }
    if src.starts_with('/') {
        return Ok(MountPoint {
            kind: "bind".into(),
            name: String::new(),
            source: src.to_string(),
            destination: dst,
            rw,
            anonymous: false,
            options: String::new(),
            nocopy,
        });
    }
    if !valid_volume_name(src) {
        return Err(bad(format!(
            "{src:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(MountPoint {
        kind: "volume".into(),
        name: src.to_string(),
        source: String::new(),
        destination: dst,
        rw,
        anonymous: false,
        options: String::new(),
        nocopy,
    })
}

/// One `HostConfig.Mounts` entry (`--mount type=volume,source=x,target=/y,readonly`):
/// `{"Type", "Source", "Target", "ReadOnly", "VolumeOptions": {"NoCopy"},
/// "TmpfsOptions": {"SizeBytes", "Mode"}}`.
pub fn parse_mount(m: &Value) -> Result<MountPoint> {
    let target = m["Target"].as_str().unwrap_or("");
    check_destination(target)?;
    let source = m["Source"].as_str().unwrap_or("").to_string();
    let rw = !m["ReadOnly"].as_bool().unwrap_or(false);
    let mut mp = MountPoint {
        kind: String::new(),
        name: String::new(),
        source: String::new(),
        destination: target.trim_end_matches('/').to_string(),
        rw,
        anonymous: false,
        options: String::new(),
        nocopy: m["VolumeOptions"]["NoCopy"].as_bool().unwrap_or(false),
    };
    match m["Type"].as_str().unwrap_or("volume") {
        "bind" => {
            if !source.starts_with('/') {
                return Err(bad(format!(
                    "invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            if !Path::new(&source).exists() {
                return Err(bad(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {source}"
                )));
            }
            mp.kind = "bind".into();
            mp.source = source;
        }
        "volume" => {
            if !source.is_empty() && !valid_volume_name(&source) {
                return Err(bad(format!("invalid volume name {source:?}")));
            }
            mp.kind = "volume".into();
            mp.anonymous = source.is_empty();
            mp.name = source;
        }
        "tmpfs" => {
            let mut opts = Vec::new();
            if let Some(size) = m["TmpfsOptions"]["SizeBytes"].as_i64().filter(|s| *s > 0) {
                opts.push(format!("size={size}"));
            }
            if let Some(mode) = m["TmpfsOptions"]["Mode"].as_u64().filter(|m| *m > 0) {
                opts.push(format!("mode={mode:o}"));
            }
            mp.kind = "tmpfs".into();
            mp.options = opts.join(",");
            mp.nocopy = true;
        }
        other => return Err(bad(format!("mount type {other:?} is not supported"))),
    }
    Ok(mp)
}

/// A volume's metadata, `volumes/<name>/volume.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct VolumeMeta {
    created: i64,
    #[serde(default)]
    labels: serde_json::Map<String, Value>,
    #[serde(default)]
    anonymous: bool,
}

impl Engine {
    fn volumes_dir(&self) -> PathBuf {
        self.opts.root.join("volumes")
    }

    /// `<data-root>/volumes/<name>/_data`.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    /// Creates a volume (idempotent: an existing one is kept as is).
    pub fn volume_ensure(&self, name: &str, labels: Option<&Value>, anonymous: bool) -> Result<()> {
        if !valid_volume_name(name) {
            return Err(bad(format!("invalid volume name {name:?}")));
        }
        let dir = self.volumes_dir().join(name);
        if dir.join("volume.json").exists() {
            // dockerd says `create` again for a volume a container names.
            self.emit_event("volume", "create", name, &[("driver", "local")]);
            return Ok(());
        }
        std::fs::create_dir_all(dir.join("_data"))
            .map_err(|e| ApiError::internal(format!("create {}: {e}", dir.display())))?;
        let meta = VolumeMeta {
            created: super::util::now_nanos(),
            labels: labels
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            anonymous,
        };
        super::util::write_atomic(
            &dir.join("volume.json"),
            &serde_json::to_vec_pretty(&meta).unwrap_or_default(),
        )
        .map_err(|e| {
            ApiError::internal(format!(
                "write the volume's metadata: {}",
                crate::errors::chain(&e)
            ))
        })?;
        self.emit_event("volume", "create", name, &[("driver", "local")]);
        Ok(())
    }

    fn volume_json(&self, name: &str) -> Option<Value> {
        // A name from a URL may be `../../x`: only real volume names name a directory.
        if !valid_volume_name(name) {
            return None;
        }
        let dir = self.volumes_dir().join(name);
        let meta: VolumeMeta =
            serde_json::from_slice(&std::fs::read(dir.join("volume.json")).ok()?).ok()?;
        Some(json!({
            "CreatedAt": super::util::rfc3339_nanos(meta.created),
            "Driver": "local", "Labels": meta.labels, "Mountpoint": dir.join("_data"),
            "Name": name, "Options": null, "Scope": "local",
        }))
    }

    /// Containers (ids) that use the volume `name`.
    pub fn volume_users(&self, name: &str) -> Vec<String> {
        self.list()
            .into_iter()
            .filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.name == name)
            })
            .map(|c| c.id)
            .collect()
    }

    /// `GET /volumes?filters=` ([`super::filters`]): `dangling`, `name`
    /// (a substring), `label`, `driver` (only `local` here).
    pub fn volume_list(&self, f: &super::filters::Filters) -> Result<Value> {
        f.accept(&["dangling", "name", "label", "driver"])?;
        let dangling = f.bool("dangling")?;
        let mut names: Vec<String> = std::fs::read_dir(self.volumes_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let vols: Vec<Value> = names
            .iter()
            .filter(|n| f.any("name", |x| n.contains(x)))
            .filter(|n| dangling.is_none_or(|d| d == self.volume_users(n).is_empty()))
            .filter_map(|n| self.volume_json(n))
            .filter(|v| f.labels_match(&v["Labels"]))
            .filter(|v| f.any("driver", |d| v["Driver"] == d))
            .collect();
        Ok(json!({"Volumes": vols, "Warnings": []}))
    }

    /// `Volumes` of `GET /system/df`: each with its size and how many
    /// containers use it.
    pub fn volumes_df(&self) -> Value {
        let mut out = self
            .volume_list(&Default::default())
            .map(|v| v["Volumes"].clone())
            .unwrap_or_default();
        for v in out.as_array_mut().into_iter().flatten() {
            let name = v["Name"].as_str().unwrap_or("").to_string();
            let size = dir_size(&self.volume_data(&name));
            v["UsageData"] = json!({"Size": size, "RefCount": self.volume_users(&name).len()});
        }
        out
    }

    /// `POST /volumes/create`.
    pub fn volume_create(&self, body: &VolumeCreate) -> Result<Value> {
        let driver = body.driver.as_deref().unwrap_or("local");
        if !driver.is_empty() && driver != "local" {
            return Err(bad(format!("volume driver {driver:?} is not supported")));
        }
        // The local driver's options (`type`, `device`, `o`: a mount made
        // for the volume) are not implemented: refused, never ignored.
        if let Some(k) = body.driver_opts.iter().flatten().map(|(k, _)| k).next() {
            return Err(bad(format!(
                "volume driver option {k:?} is not supported: mini-docker's local volumes are plain directories"
            )));
        }
        let name = match body.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => super::util::new_id(),
        };
        let labels = body.labels.as_ref().map(|l| json!(l));
        self.volume_ensure(&name, labels.as_ref(), false)?;
        self.volume_inspect(&name)
    }

    /// `GET /volumes/{name}`.
    pub fn volume_inspect(&self, name: &str) -> Result<Value> {
        self.volume_json(name)
            .ok_or_else(|| ApiError::not_found(format!("get {name}: no such volume")))
    }

    /// `DELETE /volumes/{name}`: a conflict while a container uses it.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        if self.volume_json(name).is_none() {
            if force {
                return Ok(());
            }
            return Err(ApiError::not_found(format!("get {name}: no such volume")));
        }
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        let dir = self.volumes_dir().join(name);
        // Nothing is mounted on it while no container uses it: remove_dir_all
        // does not follow the symlinks a container may have left in it.
        std::fs::remove_dir_all(&dir)
            .map_err(|e| ApiError::internal(format!("remove {}: {e}", dir.display())))?;
        self.emit_event("volume", "destroy", name, &[("driver", "local")]);
        Ok(())
    }

    /// `POST /volumes/prune`: every volume no container uses.
    pub fn volume_prune(&self) -> Value {
        let mut deleted = Vec::new();
        let mut space = 0u64;
        for e in std::fs::read_dir(self.volumes_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let size = dir_size(&e.path());
            if self.volume_users(&name).is_empty() && self.volume_remove(&name, false).is_ok() {
                deleted.push(name);
                space += size;
            }
        }
        json!({"VolumesDeleted": deleted, "SpaceReclaimed": space})
    }

    /// Decides a new container's mounts (at `create`): image `VOLUME`s,
    /// `--volumes-from`, `-v` (`Binds`, `Config.Volumes`) and `--tmpfs`,
    /// later ones replacing earlier ones at the same destination. Named and
    /// anonymous volumes are created here; each one this call made pushes
    /// its removal onto `undo`, so a create that fails later leaves none.
    pub fn plan_mounts<'a>(
        &'a self,
        body: &Value,
        host_config: &Value,
        image: Option<&oci_spec::image::Config>,
        undo: &mut super::undo::Undo<'a>,
    ) -> Result<Vec<MountPoint>> {
        self.check_run_flags(host_config)?;
        let mut out: Vec<MountPoint> = Vec::new();
        let put = |m: MountPoint, out: &mut Vec<MountPoint>| {
            out.retain(|x| x.destination != m.destination);
            out.push(m);
        };
        for v in image.and_then(|c| c.volumes().clone()).unwrap_or_default() {
            if v.is_empty() {
                return Err(bad("the image declares an empty VOLUME"));
            }
            put(parse_bind(&v)?, &mut out);
        }
        for from in strings(&host_config["VolumesFrom"]) {
            let (name, mode) = match from.rsplit_once(':') {
                Some((n, m @ ("ro" | "rw"))) => (n.to_string(), Some(m == "rw")),
                _ => (from.clone(), None),
            };
            let src = self.find(&name)?;
            for m in src.mounts.iter().filter(|m| m.kind != "tmpfs") {
                let mut m = m.clone();
                if let Some(rw) = mode {
                    m.rw = rw;
                }
                m.anonymous = false; // it belongs to `src`
                put(m, &mut out);
            }
        }
        // `-v /data` arrives as `Config.Volumes` (`{"/data": {}}`).
        let mut binds: Vec<String> = body["Volumes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        binds.extend(strings(&host_config["Binds"]));
        for b in &binds {
            put(parse_bind(b)?, &mut out);
        }
        for m in host_config["Mounts"].as_array().into_iter().flatten() {
            put(parse_mount(m)?, &mut out);
        }
        if let Some(t) = host_config["Tmpfs"].as_object() {
            for (dst, opts) in t {
                check_destination(dst)?;
                put(
                    MountPoint {
                        kind: "tmpfs".into(),
                        name: String::new(),
                        source: String::new(),
                        destination: dst.trim_end_matches('/').to_string(),
                        rw: true,
                        anonymous: false,
                        options: opts.as_str().unwrap_or("").to_string(),
                        nocopy: true,
                    },
                    &mut out,
                );
            }
        }
        for m in out.iter_mut() {
            match m.kind.as_str() {
                "volume" => {
                    if m.name.is_empty() {
                        m.name = super::util::new_id();
                    }
                    if self.volume_json(&m.name).is_none() {
                        self.volume_ensure(&m.name, None, m.anonymous)?;
                        let name = m.name.clone();
                        undo.push("remove the volume", move || {
                            if let Err(e) = self.volume_remove(&name, false) {
                                tracing::warn!("could not remove volume {name}: {}", e.message);
                            }
                        });
                    } else {
                        // It exists (and is not this create's to undo);
                        // dockerd still says `create` for a volume a
                        // container names.
                        self.volume_ensure(&m.name, None, m.anonymous)?;
                    }
                    m.source = self.volume_data(&m.name).display().to_string();
                }
                // Docker creates a missing bind source as a directory.
                "bind" if !Path::new(&m.source).exists() => {
                    std::fs::create_dir_all(&m.source)
                        .map_err(|e| bad(format!("create the bind source {}: {e}", m.source)))?;
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// At start: the mounts, the run flags ([`super::runflags`]) and
    /// `--dns` into the spec.
    pub fn apply_netvol(&self, c: &Container, spec: &mut Spec) -> Result<()> {
        let mut mounts = c.mounts.clone();
        mounts.sort_by_key(|m| Path::new(&m.destination).components().count());
        let mut entries = Vec::new();
        for m in &mounts {
            entries.push(match m.kind.as_str() {
                "tmpfs" => {
                    let mut options: Vec<String> =
                        vec!["nosuid".into(), "nodev".into(), "noexec".into()];
                    options.extend(
                        m.options
                            .split(',')
                            .filter(|o| !o.is_empty())
                            .map(String::from),
                    );
                    mount(&m.destination, "tmpfs", "tmpfs", &options)
                }
                _ => {
                    if m.kind == "volume" {
                        let data = self.volume_data(&m.name);
                        let real = std::fs::symlink_metadata(&data)
                            .map(|md| md.is_dir())
                            .unwrap_or(false);
                        if !real {
                            return Err(ApiError::internal(format!(
                                "the volume {} has no data directory {} (or it is not a plain directory)",
                                m.name,
                                data.display()
                            )));
                        }
                        if !m.nocopy {
                            self.copy_up(&self.dir(&c.id).join("rootfs"), m, &data)?;
                        }
                        let rw = m.rw.to_string();
                        let attrs = [
                            ("container", c.id.as_str()),
                            ("destination", &m.destination),
                            ("driver", "local"),
                            ("propagation", ""),
                            ("read/write", &rw),
                        ];
                        self.emit_event("volume", "mount", &m.name, &attrs);
                    }
                    let mut options = vec!["rbind", "rprivate"];
                    if !m.rw {
                        options.push("ro");
                    }
                    mount(&m.destination, "bind", &m.source, &options)
                }
            });
        }
        if let Some(list) = spec.mounts_mut() {
            list.extend(entries);
        }
        let hc = c.host_config.to_value();
        super::runflags::apply(&hc, spec)?;
        super::security::apply_group_add(&hc, spec, &self.dir(&c.id).join("rootfs"))?;
        self.write_dns(c, spec)
    }

    /// Docker's copy-up: a volume that is still empty gets what the image
    /// has at its mount point. The mount point is resolved inside the
    /// rootfs (`openat2(RESOLVE_IN_ROOT)`: an image's symlink cannot point
    /// it at the host), and `cp -a` copies from that very directory through
    /// the daemon's descriptor (`/proc/<pid>/fd/<n>`), copying symlinks as
    /// symlinks.
    fn copy_up(&self, rootfs: &Path, m: &MountPoint, data: &Path) -> Result<()> {
        let empty = std::fs::read_dir(data)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Ok(());
        }
        let Ok(root) = mini_runc::mounts::open_root(rootfs) else {
            return Ok(());
        };
        let Ok(src) = mini_runc::mounts::resolve(&root, Path::new(&m.destination)) else {
            return Ok(()); // nothing there in the image
        };
        let from = format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            std::os::fd::AsRawFd::as_raw_fd(&src)
        );
        if !Path::new(&from).is_dir() {
            return Ok(());
        }
        let out = std::process::Command::new("cp")
            .arg("-a")
            .arg("--")
            .arg(format!("{from}/."))
            .arg(data)
            .output()
            .map_err(|e| ApiError::internal(format!("run cp: {}", crate::errors::chain(&e))))?;
        if !out.status.success() {
            return Err(ApiError::internal(format!(
                "copy the image's {} into the volume {}: {}",
                m.destination,
                m.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// `--dns`, `--dns-search`, `--dns-option`: the container's own
    /// resolv.conf, bind-mounted over `/etc/resolv.conf`. The engine only
    /// writes the file; on a user network the file names 127.0.0.11, and
    /// the embedded DNS forwards to the `--dns` servers ([`crate::dns`]).
    fn write_dns(&self, c: &Container, spec: &mut Spec) -> Result<()> {
        let hc = &c.host_config;
        let (dns, search, opts) = (
            hc.dns.clone().unwrap_or_default(),
            hc.dns_search.clone().unwrap_or_default(),
            hc.dns_options.clone().unwrap_or_default(),
        );
        if dns.is_empty() && search.is_empty() && opts.is_empty() {
            return Ok(());
        }
        for d in &dns {
            d.parse::<std::net::IpAddr>()
                .map_err(|_| bad(format!("{d} is not an ip address")))?;
        }
        // On a user network the embedded server stays the nameserver and
        // forwards to `--dns` ([`crate::dns`]), as in Docker.
        let text = if Self::embedded_dns(c) {
            crate::dns::resolv_conf(&search, &opts)
        } else {
            super::runflags::resolv_conf(&dns, &search, &opts)
        };
        let dir = self.dir(&c.id);
        let file = dir.join("resolv.conf");
        std::fs::write(&file, text)
            .map_err(|e| ApiError::internal(format!("write {}: {e}", file.display())))?;
        let rootfs = dir.join("rootfs");
        let list = spec.mounts_mut();
        if let Some(list) = list {
            if !list
                .iter()
                .any(|m| m.destination() == Path::new("/etc/resolv.conf"))
                && rootfs.join("etc").is_dir()
                && super::ensure_file(&rootfs.join("etc/resolv.conf"))
            {
                list.push(mount(
                    "/etc/resolv.conf",
                    "bind",
                    &file.display().to_string(),
                    &["rbind", "rprivate"],
                ));
            }
        }
        Ok(())
    }

    /// `DELETE /containers/{id}?v=1` and `--rm`: the container, then its
    /// anonymous volumes that no other container uses.
    pub fn remove_with_volumes(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.find(key)?;
        self.remove(&c.id, force)?;
        if volumes {
            for m in c
                .mounts
                .iter()
                .filter(|m| m.anonymous && m.kind == "volume")
            {
                if self.volume_users(&m.name).is_empty() {
                    let _ = self.volume_remove(&m.name, true);
                }
            }
        }
        Ok(())
    }
}

/// Bytes of the regular files under `dir`, without following symlinks.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_as_docker_does() {
        let m = parse_bind("/srv/www:/www:ro").unwrap();
        assert_eq!((m.kind.as_str(), m.rw), ("bind", false));
        let m = parse_bind("data:/data").unwrap();
        assert_eq!(
            (m.kind.as_str(), m.name.as_str(), m.rw),
            ("volume", "data", true)
        );
        let m = parse_bind("/cache/").unwrap();
        assert!(m.anonymous);
        assert_eq!(m.destination, "/cache");
        for bad in [
            "data:relative",
            "data:/",
            "data:/a/../../etc",
            "/x:/proc/self/fd/3",
            "a:/b:c:d",
            "x!:/data",
            "/x:/y:bogus",
        ] {
            assert!(parse_bind(bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn mounts_of_the_mount_flag() {
        let m = parse_mount(
            &json!({"Type": "volume", "Source": "vol", "Target": "/d", "ReadOnly": true}),
        )
        .unwrap();
        assert_eq!(
            (m.kind.as_str(), m.name.as_str(), m.rw),
            ("volume", "vol", false)
        );
        let m = parse_mount(&json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 448}})).unwrap();
        assert_eq!(m.options, "size=1048576,mode=700");
        assert!(parse_mount(&json!({"Type": "bind", "Source": "rel", "Target": "/x"})).is_err());
        assert!(parse_mount(&json!({"Type": "npipe", "Target": "/x"})).is_err());
        assert!(parse_mount(&json!({"Type": "volume", "Target": "/"})).is_err());
    }

    #[test]
    fn mounts_show_in_inspect() {
        let v = mounts_json(&[parse_bind("/h:/c:ro").unwrap()]);
        assert_eq!(v[0]["Type"], "bind");
        assert_eq!(v[0]["RW"], false);
    }
}
