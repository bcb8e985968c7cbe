//! Images: chapter 04's store, with an in-memory cache of resolved images
//! so listing does not re-read every manifest and config on each call.
//!
//! Chapter 04 has no "untag"; [`Images::untag`] rewrites `images.json` the
//! same way `ImageStore::tag` does (temp file, fsync, rename).

use super::filters::Filters;
use super::{util, ApiError, Result};
use ::images::{Image, ImageStore};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use unionfs::Driver;

/// The image side of the engine.
pub struct Images {
    /// Chapter 04's store.
    pub store: ImageStore,
    cache: Mutex<HashMap<String, Arc<Image>>>,
    /// Serializes writes to `images.json`.
    write: Mutex<()>,
    layers: PathBuf,
    overlay: bool,
    /// Unpacked size of each driver layer, measured once (layers never change).
    sizes: Mutex<HashMap<String, u64>>,
}

/// The bytes of every non-directory entry under `dir`, each inode once.
fn dir_size(dir: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            n += dir_size(&e.path(), seen);
        } else if seen.insert((m.dev(), m.ino())) {
            n += m.size();
        }
    }
    n
}

fn err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    super::errors::system(e)
}

/// What [`Images::remove`] did.
pub struct Removed {
    /// Docker's answer: `[{"Untagged":…},{"Deleted":…}]`.
    pub answer: Value,
    /// The bytes freed on disk.
    pub freed: u64,
    /// How many `untag` events dockerd logs for this removal.
    pub untag_events: usize,
}

impl Images {
    /// Opens the store under `root`, and picks the layer driver once.
    pub fn open(root: &Path) -> anyhow::Result<Images> {
        let store = ImageStore::open(root)?;
        let layers = root.join("layers");
        let sel = unionfs::select_driver(unionfs::DriverKind::Auto, &layers)?;
        tracing::info!("layers: {}", sel.reason);
        Ok(Images {
            store,
            cache: Mutex::new(HashMap::new()),
            write: Mutex::new(()),
            overlay: sel.driver.name() == "overlay",
            layers,
            sizes: Mutex::new(HashMap::new()),
        })
    }

    /// The chapter 03 driver over `layers/`.
    pub fn driver(&self) -> Box<dyn Driver> {
        let d: Option<Box<dyn Driver>> = if self.overlay {
            unionfs::OverlayDriver::new(&self.layers)
                .ok()
                .map(|d| Box::new(d) as Box<dyn Driver>)
        } else {
            None
        };
        d.unwrap_or_else(|| {
            Box::new(unionfs::CopyDriver::new(&self.layers).expect("the layers directory exists"))
        })
    }

    /// Where a pull unpacks layers as they download (chapter 06 feeds each
    /// layer's bytes to chapter 04's unpack while they arrive): the overlay
    /// store, whose layers are independent of their parents. The copy
    /// driver builds each layer on its parent, so its layers still wait for
    /// the first `create`.
    pub fn unpack_into(
        &self,
        limits: ::images::layer::Limits,
    ) -> Option<registry::client::pull::UnpackInto> {
        if !self.overlay {
            return None;
        }
        let driver = unionfs::OverlayDriver::new(&self.layers).ok()?;
        Some(registry::client::pull::UnpackInto {
            driver: Arc::new(driver),
            limits,
        })
    }

    /// The driver's name.
    pub fn driver_name(&self) -> &'static str {
        if self.overlay {
            "overlay"
        } else {
            "copy"
        }
    }

    fn by_digest(&self, digest: &str) -> Result<Arc<Image>> {
        if let Some(i) = self.cache.lock().ok().and_then(|c| c.get(digest).cloned()) {
            return Ok(i);
        }
        let d = ::images::digest::parse(digest).map_err(err)?;
        let img = Arc::new(
            ::images::image::resolve_digest(&self.store.blobs, &d, None, None).map_err(err)?,
        );
        if let Ok(mut c) = self.cache.lock() {
            c.insert(digest.to_string(), img.clone());
        }
        Ok(img)
    }

    /// Every tagged image (resolved through the cache).
    pub fn all_images(&self) -> Vec<(String, Arc<Image>)> {
        self.all()
    }

    /// An image by its manifest digest (`sha256:…`).
    pub fn resolve_manifest(&self, digest: &str) -> Result<Arc<Image>> {
        self.by_digest(digest)
    }

    /// Drops an image from the cache (its blobs are gone).
    pub fn forget(&self, img: &Image) {
        if let Ok(mut c) = self.cache.lock() {
            c.retain(|_, i| i.manifest_digest != img.manifest_digest);
        }
    }

    /// name:tag -> manifest digest.
    pub fn tags(&self) -> BTreeMap<String, String> {
        self.store.tags().unwrap_or_default()
    }

    /// Every (tag, image).
    fn all(&self) -> Vec<(String, Arc<Image>)> {
        self.tags()
            .into_iter()
            .filter_map(|(t, d)| self.by_digest(&d).ok().map(|i| (t, i)))
            .collect()
    }

    /// A name, a digest, or an image id (or a unique prefix of one).
    pub fn resolve(&self, reference: &str) -> Result<Arc<Image>> {
        if let Some(d) = self.tags().get(&::images::image::normalize_name(reference)) {
            return self.by_digest(d);
        }
        // `name@sha256:…`: one of an image's `RepoDigests`.
        if reference.contains('@') {
            let pinned = ::images::image::normalize_name(reference);
            if let Some((id, _)) = self
                .all_repo_digests()
                .into_iter()
                .find(|(_, list)| list.contains(&pinned))
            {
                return self.resolve(&id);
            }
        }
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        if hex.len() >= 4 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            for (_, img) in self.all() {
                let id = img.config_digest.to_string();
                if id.trim_start_matches("sha256:").starts_with(hex)
                    || img
                        .manifest_digest
                        .to_string()
                        .trim_start_matches("sha256:")
                        .starts_with(hex)
                {
                    return Ok(img);
                }
            }
        }
        // Untagged images made here (build steps, commits).
        if let Some(m) = super::lineage::lookup(self.store.root(), reference) {
            return self.by_digest(&m);
        }
        Err(ApiError::not_found(format!(
            "No such image: {}",
            ::images::image::normalize_name(reference)
        )))
    }

    fn repo_digests_file(&self) -> PathBuf {
        self.store.root().join("repo-digests.json")
    }

    /// Every image's `RepoDigests` (`name@sha256:<manifest>`, the digest
    /// a registry knows it by), by image id.
    fn all_repo_digests(&self) -> BTreeMap<String, Vec<String>> {
        std::fs::read(self.repo_digests_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The `RepoDigests` of image `id`.
    pub fn repo_digests(&self, id: &str) -> Vec<String> {
        self.all_repo_digests().remove(id).unwrap_or_default()
    }

    /// Records that image `id` is `repo_digest` in a registry, as a pull
    /// or a push learns it (atomically rewrites `repo-digests.json`).
    pub fn add_repo_digest(&self, id: &str, repo_digest: String) -> std::io::Result<()> {
        let _g = self.write.lock();
        let mut all = self.all_repo_digests();
        let list = all.entry(id.to_string()).or_default();
        if list.contains(&repo_digest) {
            return Ok(());
        }
        list.push(repo_digest);
        list.sort();
        let bytes = serde_json::to_vec(&all).map_err(std::io::Error::other)?;
        util::write_atomic(&self.repo_digests_file(), &bytes)
    }

    /// Removes the `RepoDigests` entries of image `id` that `drop` picks
    /// and returns them. The caller holds the write lock.
    fn drop_repo_digests(&self, id: &str, drop: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        let mut all = self.all_repo_digests();
        let Some(list) = all.get_mut(id) else {
            return Ok(Vec::new());
        };
        let (gone, kept): (Vec<String>, Vec<String>) = list.drain(..).partition(|d| drop(d));
        if gone.is_empty() {
            return Ok(gone);
        }
        *list = kept;
        if list.is_empty() {
            all.remove(id);
        }
        let bytes = serde_json::to_vec(&all).map_err(err)?;
        util::write_atomic(&self.repo_digests_file(), &bytes).map_err(err)?;
        Ok(gone)
    }

    fn tags_of(&self, config_digest: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|(_, i)| i.config_digest.to_string() == config_digest)
            .map(|(t, _)| t)
            .collect()
    }

    /// The image's size as Docker reports it: what its layers take
    /// unpacked, not the compressed blobs. Each layer counts the files its
    /// diff directory holds (every entry but directories, a hard-linked
    /// file once), as moby's `directory.Size` measures a layer.
    /// A layer not unpacked yet (a loaded or pulled image before its first
    /// container) is measured from its tar the same way: file sizes, a
    /// symlink's target length, nothing for directories and hard links.
    fn size(&self, img: &Image) -> u64 {
        let driver = self.driver();
        img.chain_ids()
            .iter()
            .zip(img.manifest.layers())
            .map(|(chain, desc)| {
                let id = ::images::layer::driver_layer_id(chain);
                if let Some(n) = self.sizes.lock().expect("sizes lock").get(&id) {
                    return *n;
                }
                let dir = driver.upper_dir(&id);
                let n = if dir.is_dir() {
                    dir_size(&dir, &mut std::collections::HashSet::new())
                } else {
                    match self.tar_size(desc) {
                        Some(n) => n,
                        None => return 0, // unreadable: measured again next time
                    }
                };
                self.sizes.lock().expect("sizes lock").insert(id, n);
                n
            })
            .sum()
    }

    /// What layer `desc` takes unpacked, read from its (compressed) blob.
    fn tar_size(&self, desc: &oci_spec::image::Descriptor) -> Option<u64> {
        let c = ::images::layer::compression_of(desc).ok()?;
        let blob = self.store.blobs.open_blob(desc.digest()).ok()?;
        let mut tar = tar::Archive::new(::images::layer::decompress(blob, c).ok()?);
        let mut n = 0;
        for e in tar.entries().ok()? {
            let e = e.ok()?;
            n += match e.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => e.header().size().ok()?,
                tar::EntryType::Symlink => e.link_name_bytes().map(|l| l.len() as u64).unwrap_or(0),
                _ => 0,
            };
        }
        Some(n)
    }

    fn created(img: &Image) -> String {
        img.config
            .created()
            .clone()
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
    }

    /// Every image, unfiltered.
    pub fn list(&self) -> Value {
        self.list_filtered(&Filters::default())
            .unwrap_or_else(|_| Value::Array(vec![]))
    }

    /// `GET /images/json?filters=` (see [`super::filters`]): `dangling`,
    /// `label`, `reference` (which also narrows `RepoTags` to the matching
    /// names, as Docker does), `before` and `since` (an image's creation).
    pub fn list_filtered(&self, f: &Filters) -> Result<Value> {
        self.list_images(f, false)
    }

    /// `GET /images/json?all=1&filters=`: as [`Images::list_filtered`],
    /// with `all` also the intermediate images a build made (untagged, and
    /// another image builds on them), which the plain list hides.
    pub fn list_images(&self, f: &Filters, all: bool) -> Result<Value> {
        f.accept(&["dangling", "label", "reference", "before", "since"])?;
        let dangling = f.bool("dangling")?;
        let created_of = |key: &str| -> Result<Option<i64>> {
            match f.get(key).and_then(|v| v.first()) {
                Some(r) => {
                    let img = self.resolve(r)?;
                    Ok(Some(util::parse_rfc3339(&Self::created(&img)).unwrap_or(0)))
                }
                None => Ok(None),
            }
        };
        let before = created_of("before")?;
        let since = created_of("since")?;
        let mut by_id: BTreeMap<String, (Arc<Image>, Vec<String>)> = BTreeMap::new();
        for (tag, img) in self.all() {
            by_id
                .entry(img.config_digest.to_string())
                .or_insert_with(|| (img.clone(), vec![]))
                .1
                .push(tag);
        }
        // Untagged images made here that nothing builds on: `<none>:<none>`;
        // with `all`, the intermediate ones too.
        let tagged: std::collections::BTreeSet<String> = self.tags().into_values().collect();
        let lineage = super::lineage::all(self.store.root());
        let untagged: Vec<(String, super::lineage::Made)> = if all {
            lineage
                .iter()
                .filter(|(_, m)| !tagged.contains(&m.manifest))
                .map(|(id, m)| (id.clone(), m.clone()))
                .collect()
        } else {
            super::lineage::dangling(self.store.root(), &tagged)
        };
        for (id, m) in untagged {
            if let Ok(img) = self.by_digest(&m.manifest) {
                by_id.entry(id).or_insert_with(|| (img, vec![]));
            }
        }
        let mut out: Vec<Value> = Vec::new();
        for (id, (img, mut tags)) in by_id {
            if dangling.is_some_and(|d| d != tags.is_empty()) {
                continue;
            }
            if f.get("reference").is_some() {
                tags.retain(|t| f.any("reference", |p| super::filters::reference_matches(p, t)));
                if tags.is_empty() {
                    continue;
                }
            }
            let labels = img
                .config
                .config()
                .as_ref()
                .and_then(|c| c.labels().clone())
                .unwrap_or_default();
            if !f.labels_match(&json!(labels)) {
                continue;
            }
            let created_ns = util::parse_rfc3339(&Self::created(&img)).unwrap_or(0);
            if before.is_some_and(|b| created_ns >= b) || since.is_some_and(|s| created_ns <= s) {
                continue;
            }
            let size = self.size(&img);
            let parent = lineage.get(&id).map(|m| m.parent.as_str()).unwrap_or("");
            out.push(json!({
                "Id": id, "ParentId": parent, "RepoTags": tags, "RepoDigests": self.repo_digests(&id),
                "Created": created_ns / 1_000_000_000,
                "Size": size, "VirtualSize": size, "SharedSize": -1, "Labels": labels, "Containers": -1,
            }));
        }
        out.sort_by_key(|v| std::cmp::Reverse(v["Created"].as_i64().unwrap_or(0)));
        Ok(Value::Array(out))
    }

    /// `GET /images/{name}/json`.
    pub fn inspect(&self, name: &str) -> Result<Value> {
        let img = self.resolve(name)?;
        let id = img.config_digest.to_string();
        let cfg = img
            .config
            .config()
            .clone()
            .map(|c| serde_json::to_value(c).unwrap_or(json!({})))
            .unwrap_or(json!({}));
        let cfg = pascal_case(cfg);
        // The config as written (Docker's keys the OCI type drops, such as
        // Healthcheck and Shell, included), the comment and the parent.
        let raw: Value = serde_json::from_slice(&img.config_bytes).unwrap_or(Value::Null);
        let cfg = match raw.get("config") {
            Some(c @ Value::Object(_)) => c.clone(),
            _ => cfg,
        };
        let comment = raw.get("comment").and_then(Value::as_str).unwrap_or("");
        let parent = super::lineage::all(self.store.root())
            .get(&id)
            .map(|m| m.parent.clone())
            .unwrap_or_default();
        Ok(json!({
            "Id": id, "RepoTags": self.tags_of(&id), "RepoDigests": self.repo_digests(&id), "Parent": parent, "Comment": comment,
            "Created": Self::created(&img), "Container": "",
            "ContainerConfig": super::inspect::with_config_defaults(json!({})),
            "DockerVersion": "", "Author": img.config.author().clone().unwrap_or_default(),
            "Config": super::inspect::with_config_defaults(cfg), "Architecture": img.config.architecture().to_string(), "Os": img.config.os().to_string(),
            "Size": self.size(&img), "VirtualSize": self.size(&img),
            "GraphDriver": {"Name": self.driver_name(), "Data": {}},
            "RootFS": {"Type": "layers", "Layers": img.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }))
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        let img = self.resolve(name)?;
        if repo.is_empty()
            || repo
                .chars()
                .any(|c| c.is_ascii_uppercase() || c.is_whitespace())
        {
            return Err(ApiError::bad(format!(
                "invalid reference format: repository name must be lowercase: {repo}"
            )));
        }
        let full = full_name(repo, tag);
        registry::reference::Reference::parse(&full).map_err(|e| {
            ApiError::bad(format!(
                "invalid reference format: {}",
                crate::errors::chain(&e)
            ))
        })?;
        let _g = self.write.lock();
        self.store.tag(&full, &img.manifest_digest).map_err(err)
    }

    /// Removes one name; returns Docker's `[{"Untagged":…},{"Deleted":…}]`,
    /// the bytes freed, and how many `untag` events dockerd logs for it.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        users: &dyn Fn(&str) -> Vec<String>,
        container_layers: &dyn Fn() -> Vec<String>,
    ) -> Result<Removed> {
        let img = self.resolve(name)?;
        let id = img.config_digest.to_string();
        let _g = self.write.lock();
        let mut tags = self.tags();
        let normalized = ::images::image::normalize_name(name);
        let digests = self.repo_digests(&id);
        // An image's references are its tags and its `RepoDigests`
        // (`repo@sha256:…`), as in moby's reference store.
        let by_tag = tags.contains_key(&normalized);
        let (names, pinned): (Vec<String>, Vec<String>) = if by_tag {
            // A tag: when it was the last tag of its repository, that
            // repository's digests go with it (dockerd's rule).
            let repo = repository_of(&normalized);
            let last = !self
                .tags_of(&id)
                .iter()
                .any(|t| *t != normalized && repository_of(t) == repo);
            let pinned = digests
                .iter()
                .filter(|d| last && repository_of(d) == repo)
                .cloned()
                .collect();
            (vec![normalized], pinned)
        } else if digests.contains(&normalized) {
            (Vec::new(), vec![normalized])
        } else {
            // By id: every reference of it, unless they are in several
            // repositories or the image has several tags (moby's
            // `isSingleReference`), without force.
            let all = self.tags_of(&id);
            let repos: std::collections::BTreeSet<&str> = all
                .iter()
                .chain(&digests)
                .map(|r| repository_of(r))
                .collect();
            if (repos.len() > 1 || all.len() > 1) && !force {
                return Err(ApiError::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    &id.trim_start_matches("sha256:")[..12]
                )));
            }
            (all, digests.clone())
        };
        let remaining = self.tags_of(&id).len() - names.len() + digests.len() - pinned.len();
        let used = users(&id);
        if remaining == 0 && !used.is_empty() && !force {
            return Err(ApiError::conflict(format!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                &used[0][..12],
                &id.trim_start_matches("sha256:")[..12]
            )));
        }
        let mut out = Vec::new();
        for n in &names {
            tags.remove(n);
        }
        write_tags(self.store.root(), &tags).map_err(err)?;
        let dropped = self.drop_repo_digests(&id, |d| pinned.iter().any(|p| p == d))?;
        // dockerd lists a tag, then its repository's digests; by id, every
        // reference in lexical order.
        let mut untagged: Vec<&String> = names.iter().chain(&dropped).collect();
        if names.len() > 1 || names.is_empty() {
            untagged.sort();
        }
        // moby's ImageDelete logs `untag` for each reference it was asked to
        // remove (the tag, the digest, or by id every one), but not for the
        // digests a tag takes along as its repository's last.
        let untag_events = if by_tag { 1 } else { untagged.len() };
        out.extend(untagged.into_iter().map(|n| json!({"Untagged": n})));
        let mut bytes = 0;
        if remaining == 0 && used.is_empty() {
            // An image made here goes from the list too (unless a later
            // build step builds on it: the cache and the history need it,
            // and so its content stays).
            if super::lineage::has_children(self.store.root(), &id) {
                out.push(json!({"Deleted": id}));
            } else {
                let tagged: std::collections::BTreeSet<String> = tags.values().cloned().collect();
                let keep = |i: &str| !users(i).is_empty();
                let before = super::lineage::all(self.store.root());
                let gone = super::lineage::forget_chain(self.store.root(), &id, &tagged, &keep)?;
                // Free what the image (and the untagged chain under it) held.
                let layers = container_layers();
                let mut freed = self.collect(&img, &layers);
                for g in &gone {
                    let chained = before.get(g).and_then(|m| self.by_digest(&m.manifest).ok());
                    if let Some(i) = chained.filter(|i| i.config_digest != img.config_digest) {
                        let f = self.collect(&i, &layers);
                        freed.blobs += f.blobs;
                        freed.bytes += f.bytes;
                        freed.layers += f.layers;
                    }
                }
                tracing::info!(
                    id,
                    blobs = freed.blobs,
                    bytes = freed.bytes,
                    layers = freed.layers,
                    "image deleted"
                );
                bytes = freed.bytes;
                if gone.is_empty() {
                    out.push(json!({"Deleted": id}));
                }
                out.extend(gone.into_iter().map(|g| json!({"Deleted": g})));
            }
        }
        Ok(Removed {
            answer: Value::Array(out),
            freed: bytes,
            untag_events,
        })
    }

    /// `docker import`: a rootfs tarball as a one-layer image.
    pub fn import(&self, tar: &Path, repo: &str, tag: &str, message: &str) -> Result<String> {
        let f = std::fs::File::open(tar).map_err(err)?;
        let opts = ::images::import::ImportOptions {
            created: Some(images::rfc3339(util::now_nanos() as u64 / 1_000_000_000)),
            created_by: "mini-docker import".into(),
            comment: (!message.is_empty()).then(|| message.to_string()),
            ..Default::default()
        };
        let imported = ::images::import::import_tarball(&self.store, f, &opts)
            .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        if !repo.is_empty() {
            let full = full_name(repo, tag);
            registry::reference::Reference::parse(&full).map_err(|e| {
                ApiError::bad(format!(
                    "invalid reference format: {}",
                    crate::errors::chain(&e)
                ))
            })?;
            let _g = self.write.lock();
            self.store
                .tag(&full, &imported.manifest_digest)
                .map_err(err)?;
        }
        Ok(imported.config_digest.to_string())
    }

    /// `docker load`: the names (or ids) loaded.
    pub fn load(&self, tar: &Path) -> Result<Vec<String>> {
        let _g = self.write.lock();
        let loaded =
            ::images::archive::load_any(&self.store, tar, "", &::images::PlatformSpec::host())
                .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        let mut out = Vec::new();
        for l in loaded {
            if l.names.is_empty() {
                // Untagged: found by its id (and listed as dangling).
                super::lineage::record(
                    self.store.root(),
                    l.config_digest.as_ref(),
                    super::lineage::Made {
                        manifest: l.manifest_digest.to_string(),
                        ..Default::default()
                    },
                )?;
                out.push(format!("Loaded image ID: {}", l.config_digest));
            }
            for n in l.names {
                out.push(format!(
                    "Loaded image: {}",
                    ::images::image::normalize_name(&n)
                ));
            }
        }
        Ok(out)
    }

    /// `docker save`: writes the archive to `out`, as Docker 25 and later
    /// do: a `docker save` tarball that is also an OCI layout (see
    /// chapter 04's `save_combined_archive`), so skopeo, containerd and
    /// umoci read it as well as `docker load`.
    pub fn save(&self, names: &[String], out: &Path) -> Result<()> {
        let mut full = Vec::new();
        for n in names {
            self.resolve(n)?;
            full.push(::images::image::normalize_name(n));
        }
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        ::images::archive::save_combined_archive(&self.store, &refs, out).map_err(err)
    }
}

/// Rewrites `images.json` atomically (chapter 04 has only `tag`).
/// `?repo=&tag=` as one stored name: the repository may carry the tag
/// itself (`docker import f.tar name:v1` sends `repo=name:v1`, no tag) or
/// Docker Hub's full spelling (`docker.io/library/x`).
fn full_name(repo: &str, tag: &str) -> String {
    if tag.is_empty() {
        ::images::image::normalize_name(repo)
    } else {
        ::images::image::normalize_name(&format!("{repo}:{tag}"))
    }
}

/// The repository of a reference: `reg:5000/x` of `reg:5000/x:v1` and of
/// `reg:5000/x@sha256:…`.
fn repository_of(reference: &str) -> &str {
    if let Some((repo, _)) = reference.split_once('@') {
        return repo;
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => reference,
    }
}

fn write_tags(root: &Path, tags: &BTreeMap<String, String>) -> std::io::Result<()> {
    util::write_atomic(
        &root.join("images.json"),
        &serde_json::to_vec_pretty(tags).unwrap_or_default(),
    )
}

/// oci-spec's camelCase config fields to Docker's PascalCase (`Env`, `Cmd`).
fn pascal_case(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let k = match c.next() {
                        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                        None => k,
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}
