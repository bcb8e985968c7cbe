//! `inspect`: explain an image someone else made.
//!
//! The image is loaded into a throw-away store first (so every digest,
//! size and media type is checked exactly as for a real load), then each
//! document is printed: the index and its platforms, the chosen manifest,
//! the config, and each layer with its digest, size, diff ID and first
//! entries (read from the stream; nothing is extracted).

use std::fmt::Write as _;
use std::path::Path;

use crate::digest;
use crate::image::{resolve_digest, ImageStore};
use crate::layer;
use crate::platform::{self, PlatformSpec};
use crate::Error;

/// How many entries of each layer to show.
pub const FIRST_ENTRIES: usize = 8;

/// Load `path` (OCI layout dir, OCI archive or docker-save tar) into a
/// temporary store and describe every image in it.
pub fn inspect(path: &Path, want: Option<&PlatformSpec>) -> Result<String, Error> {
    let tmp = tempfile::Builder::new()
        .prefix("ch04-inspect-")
        .tempdir()
        .map_err(Error::io("create a temp dir in", std::env::temp_dir()))?;
    let store = ImageStore::open(tmp.path())?;
    let loaded = crate::archive::load_any(
        &store,
        path,
        "image",
        want.unwrap_or(&PlatformSpec::default()),
    )?;
    let mut out = String::new();
    // Show the index the way the source has it.
    let src = crate::source::open_source(path)?;
    if src.exists("index.json") {
        let bytes = src.read_small("index.json", crate::store::MAX_DOCUMENT_SIZE)?;
        if let Ok(crate::document::Document::Index(idx)) =
            crate::document::parse_document(&bytes, None, "index.json")
        {
            let _ = writeln!(
                out,
                "== index.json ({} bytes, {})",
                bytes.len(),
                digest::sha256(&bytes)
            );
            for d in idx.manifests() {
                let name = d
                    .annotations()
                    .as_ref()
                    .and_then(|a| a.get(crate::layout::REF_NAME))
                    .map(|s| format!(" tag {s}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {} {} {} bytes{}  [{}]",
                    d.media_type(),
                    d.digest(),
                    d.size(),
                    name,
                    platform::describe(d)
                );
            }
        }
    }
    if src.exists("manifest.json") {
        let bytes = src.read_small("manifest.json", crate::store::MAX_DOCUMENT_SIZE)?;
        let _ = writeln!(
            out,
            "== manifest.json (docker save)\n{}",
            crate::pretty_json(&bytes)
        );
    }
    for l in &loaded {
        let img = resolve_digest(&store.blobs, &l.manifest_digest, None, None)?;
        let _ = writeln!(
            out,
            "\n== image {} ({})",
            if l.names.is_empty() {
                "<untagged>".into()
            } else {
                l.names.join(", ")
            },
            img.platform()
        );
        let mbytes = store
            .blobs
            .read_document(&img.manifest_digest, None, "manifest")?;
        let _ = writeln!(
            out,
            "-- manifest {} ({} bytes, {})",
            img.manifest_digest,
            mbytes.len(),
            img.manifest_media_type
        );
        let _ = writeln!(out, "{}", crate::pretty_json(&mbytes));
        let _ = writeln!(
            out,
            "-- config {} = image ID {} ({} bytes)",
            img.config_digest,
            digest::short(&img.config_digest),
            img.config_bytes.len()
        );
        let _ = writeln!(out, "{}", crate::pretty_json(&img.config_bytes));
        let chains = img.chain_ids();
        for (i, desc) in img.manifest.layers().iter().enumerate() {
            let c = layer::compression_of(desc)?;
            let _ = writeln!(
                out,
                "-- layer {i}: {} ({} bytes, {})",
                desc.digest(),
                desc.size(),
                c.name()
            );
            let _ = writeln!(out, "   diff ID  {}", img.diff_ids[i]);
            let _ = writeln!(out, "   chain ID {}", chains[i]);
            let blob = store.blobs.open_blob(desc.digest())?;
            match layer::list_entries(blob, c, FIRST_ENTRIES) {
                Ok((names, total)) => {
                    for n in names {
                        let _ = writeln!(out, "     {n}");
                    }
                    if total > FIRST_ENTRIES {
                        let _ = writeln!(out, "     … {} entries in all", total);
                    }
                }
                Err(e) => {
                    let _ = writeln!(out, "     (cannot list: {e})");
                }
            }
        }
    }
    Ok(out)
}
