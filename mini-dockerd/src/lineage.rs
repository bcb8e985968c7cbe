//! Images made on this daemon (by `build` and `commit`), and `docker history`.
//!
//! Chapter 04's store names images by tag (`images.json`). A build makes one
//! image per instruction, and only the last one gets a tag; the others must
//! still be found by id (the build cache points at them, `docker run <id>`
//! and `docker history` name them). So every image the daemon makes is
//! recorded in `image-ids.json`:
//!
//! ```text
//! config digest (the image id) -> { manifest digest, parent image id, size of the layer it added }
//! ```
//!
//! The parent links are Docker's "parent image" chain: walking them from
//! an image gives the image of every earlier build step, which is how
//! `docker history` shows an id on each row (and `<missing>` for the rows
//! of a base image that was pulled or imported, whose steps are not here).

use super::{util, ApiError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What we know about an image made here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Made {
    /// Its manifest digest (how chapter 04 resolves it).
    pub manifest: String,
    /// The image of the previous step (or the base), `sha256:…`; empty for none.
    #[serde(default)]
    pub parent: String,
    /// Uncompressed size of the layer its step added (0: metadata only).
    #[serde(default)]
    pub size: u64,
}

static WRITE: Mutex<()> = Mutex::new(());

fn file(root: &Path) -> PathBuf {
    root.join("image-ids.json")
}

/// Every image made here, by id.
pub fn all(root: &Path) -> BTreeMap<String, Made> {
    std::fs::read(file(root))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records an image (atomically rewrites `image-ids.json`).
pub fn record(root: &Path, id: &str, made: Made) -> Result<()> {
    let _g = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = all(root);
    m.insert(id.to_string(), made);
    util::write_atomic(
        &file(root),
        &serde_json::to_vec_pretty(&m).unwrap_or_default(),
    )
    .map_err(|e| ApiError::internal(format!("write {}: {e}", file(root).display())))
}

/// Images made here that no name points at and no other image made here
/// builds on: Docker's "dangling" images, `<none>:<none>` in `images`
/// (the last image of a build without `-t`, or one whose tag moved on).
pub fn dangling(root: &Path, tagged_manifests: &BTreeSet<String>) -> Vec<(String, Made)> {
    let all = all(root);
    let parents: BTreeSet<&str> = all.values().map(|m| m.parent.as_str()).collect();
    all.iter()
        .filter(|(id, m)| !tagged_manifests.contains(&m.manifest) && !parents.contains(id.as_str()))
        .map(|(id, m)| (id.clone(), m.clone()))
        .collect()
}

/// Whether another image made here builds on `id`.
pub fn has_children(root: &Path, id: &str) -> bool {
    all(root).values().any(|m| m.parent == id)
}

/// Forgets an image made here (`rmi`, `image prune`); its blobs stay.
pub fn forget(root: &Path, id: &str) -> Result<()> {
    let _g = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = all(root);
    if m.remove(id).is_none() {
        return Ok(());
    }
    util::write_atomic(
        &file(root),
        &serde_json::to_vec_pretty(&m).unwrap_or_default(),
    )
    .map_err(|e| ApiError::internal(format!("write {}: {e}", file(root).display())))
}

/// Forgets `id`, then each parent that is left untagged, unused (`keep`
/// says no) and without other children, as Docker deletes the untagged
/// images below a removed one. Returns the ids forgotten.
pub fn forget_chain(
    root: &Path,
    id: &str,
    tagged_manifests: &BTreeSet<String>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>> {
    let mut gone = Vec::new();
    let mut cur = id.to_string();
    loop {
        let all = all(root);
        let Some(m) = all.get(&cur) else { break };
        let parent = m.parent.clone();
        forget(root, &cur)?;
        gone.push(cur.clone());
        let Some(p) = all.get(&parent) else { break };
        let siblings = all.values().filter(|x| x.parent == parent).count();
        if tagged_manifests.contains(&p.manifest) || siblings > 1 || keep(&parent) {
            break;
        }
        cur = parent;
    }
    Ok(gone)
}

/// The manifest digest of an image made here, by id or unique id prefix
/// (`sha256:` optional, at least 4 hex digits).
pub fn lookup(root: &Path, reference: &str) -> Option<String> {
    let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
    if hex.len() < 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hits: Vec<Made> = all(root)
        .into_iter()
        .filter(|(id, _)| id.trim_start_matches("sha256:").starts_with(hex))
        .map(|(_, m)| m)
        .collect();
    match hits.as_slice() {
        [one] => Some(one.manifest.clone()),
        _ => None,
    }
}

/// The bytes of the regular files in a layer blob (what `docker history`
/// calls its size), read through the blob's compression.
fn content_size(blobs: &::images::BlobStore, desc: &oci_spec::image::Descriptor) -> Option<u64> {
    let c = ::images::layer::compression_of(desc).ok()?;
    let blob = blobs.open_blob(desc.digest()).ok()?;
    let r = ::images::layer::decompress(std::io::BufReader::new(blob), c).ok()?;
    let mut a = tar::Archive::new(r);
    let mut n = 0;
    for e in a.entries().ok()? {
        let e = e.ok()?;
        if e.header().entry_type().is_file() {
            n += e.header().size().ok()?;
        }
    }
    Some(n)
}

/// `GET /images/{name}/history`: newest first, Docker's fields.
pub fn history(engine: &super::Engine, name: &str) -> Result<Value> {
    let img = engine.images.resolve(name)?;
    let config: Value = serde_json::from_slice(&img.config_bytes).unwrap_or(json!({}));
    let entries = config["history"].as_array().cloned().unwrap_or_default();
    let made = all(&engine.opts.root);
    let top_id = img.config_digest.to_string();
    let top_manifest = img.manifest_digest.to_string();
    let tags = engine.images.tags();
    let tags_of = |id: &str| -> Vec<String> {
        let manifest = if id == top_id {
            Some(top_manifest.as_str())
        } else {
            made.get(id).map(|m| m.manifest.as_str())
        };
        tags.iter()
            .filter(|(_, d)| Some(d.as_str()) == manifest)
            .map(|(t, _)| t.clone())
            .collect()
    };
    // The layers, bottom first, for the rows that added one.
    let layers = img.manifest.layers();
    let sizes: Vec<u64> = layers.iter().map(|l| l.size()).collect();
    // Walk the parent chain from the top: one image per history row.
    let mut ids: Vec<Option<String>> = Vec::new();
    let mut cur = Some(img.config_digest.to_string());
    for _ in 0..entries.len() {
        let m = cur.as_ref().and_then(|c| made.get(c));
        ids.push(cur.clone());
        cur = m.map(|m| m.parent.clone()).filter(|p| !p.is_empty());
        if m.is_none() {
            // A base image that was not made here: its own id stays on its
            // top row, the rows below are <missing>.
            cur = None;
        }
    }
    // Uncompressed sizes where we recorded them.
    let mut layer_index = sizes.len();
    let mut rows = Vec::new();
    for (i, h) in entries.iter().enumerate().rev() {
        let row = entries.len() - 1 - i;
        let id = ids.get(row).cloned().flatten();
        let empty = h["empty_layer"].as_bool().unwrap_or(false);
        let size = if empty || layer_index == 0 {
            0
        } else {
            layer_index -= 1;
            match id.as_ref().and_then(|id| made.get(id)) {
                Some(m) => m.size,
                // Not made here: count the files of the layer itself.
                None => content_size(&engine.images.store.blobs, &layers[layer_index])
                    .unwrap_or(sizes[layer_index]),
            }
        };
        let tags = id.as_deref().map(tags_of).unwrap_or_default();
        rows.push(json!({
            "Id": id.unwrap_or_else(|| "<missing>".into()),
            "Created": util::parse_rfc3339(h["created"].as_str().unwrap_or("")).unwrap_or(0) / 1_000_000_000,
            "CreatedBy": h["created_by"].as_str().unwrap_or(""),
            "Tags": if tags.is_empty() { Value::Null } else { json!(tags) },
            "Size": size,
            "Comment": h["comment"].as_str().unwrap_or(""),
        }));
    }
    Ok(Value::Array(rows))
}
