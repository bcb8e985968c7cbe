//! The `docker save` tarball, both ways.
//!
//! ```text
//! busybox.tar
//!   manifest.json        [{"Config":"<cfg-hex>.json","RepoTags":["busybox:latest"],
//!                          "Layers":["<id>/layer.tar", ...]}]
//!   repositories         {"busybox":{"latest":"<top layer id>"}}   (legacy)
//!   <cfg-hex>.json       the image config, byte for byte (its sha256 is the image ID)
//!   <id>/layer.tar       each layer, uncompressed (its sha256 is the diff ID)
//!   <id>/VERSION, <id>/json   legacy v1 metadata
//! ```
//!
//! Docker 25 and later write the same `manifest.json` but point it into an
//! OCI layout in the same tar (`blobs/sha256/<hex>`); skopeo writes
//! `<diff-id-hex>.tar`. [`load_docker_archive`] follows whatever paths
//! `manifest.json` names, inside the tar only.
//!
//! There is no manifest in this format, only config and layers: loading
//! makes an OCI manifest for them (layers stay uncompressed, so each layer's
//! digest equals its diff ID, as in Docker's own store). The image ID (config
//! digest) and the diff IDs survive every format change; the manifest
//! digest does not.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::{self, Algorithm, HashingReader};
use crate::document;
use crate::image::{normalize_name, ImageStore};
use crate::layer;
use crate::layout::{
    build_manifest, check_diff_id, load_oci_layout, sniff_and_wrap, Loaded, Staging,
};
use crate::media::Compression;
use crate::platform::PlatformSpec;
use crate::source::Source;
use crate::store::MAX_DOCUMENT_SIZE;
use crate::Error;

/// One entry of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveEntry {
    /// Path of the config in the tar.
    pub config: String,
    /// Names, `repo:tag`.
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layers in the tar, bottom first.
    pub layers: Vec<String>,
}

/// Load a `docker save` tarball (or an OCI archive, which has no
/// `manifest.json`), all or nothing.
pub fn load_docker_archive(
    store: &ImageStore,
    src: &dyn Source,
    want: &PlatformSpec,
) -> Result<Vec<Loaded>, Error> {
    if !src.exists("manifest.json") {
        if src.exists("oci-layout") {
            return load_oci_layout(store, src, None, "loaded", want);
        }
        return Err(Error::Archive {
            path: src.path().to_path_buf(),
            reason: "neither `manifest.json` (docker save) nor `oci-layout` (OCI archive) found"
                .into(),
        });
    }
    let bad = |reason: String| Error::Archive {
        path: src.path().to_path_buf(),
        reason,
    };
    let bytes = src.read_small("manifest.json", MAX_DOCUMENT_SIZE)?;
    let entries: Vec<ArchiveEntry> =
        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            what: "manifest.json".into(),
            source,
        })?;
    if entries.is_empty() {
        return Err(bad("manifest.json lists no images".into()));
    }
    let mut staging = Staging::new(&store.blobs);
    let mut loaded = Vec::new();
    for e in &entries {
        let cbytes = src
            .read_small(&e.config, MAX_DOCUMENT_SIZE)
            .map_err(|err| match err {
                Error::TooLarge { size, limit, .. } => Error::TooLarge {
                    what: format!("config `{}`", e.config),
                    size,
                    limit,
                },
                other => other,
            })?;
        let cd = digest::sha256(&cbytes);
        // Config names usually carry the digest: they must agree.
        let file = e.config.rsplit('/').next().unwrap_or(&e.config);
        let named = file.strip_suffix(".json").unwrap_or(file);
        if named.len() == 64
            && named.chars().all(|c| c.is_ascii_hexdigit())
            && named != digest::hex_of(&cd)
        {
            return Err(Error::DigestMismatch {
                what: format!("config `{}`", e.config),
                expected: format!("sha256:{named}"),
                actual: cd.to_string(),
            });
        }
        let cfg = document::parse_config(&cbytes, &format!("config `{}`", e.config))?;
        let diff_ids = document::diff_ids(&cfg)?;
        if diff_ids.len() != e.layers.len() {
            return Err(bad(format!(
                "manifest.json lists {} layers but config `{}` has {} diff_ids",
                e.layers.len(),
                e.config,
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (path, diff_id) in e.layers.iter().zip(&diff_ids) {
            let what = format!("layer `{path}`");
            let (c, mut r) = sniff_and_wrap(src.open(path)?)
                .map_err(Error::io(format!("read {what} in"), src.path()))?;
            // A plain layer must hash to its diff ID; a compressed one is
            // checked by decompressing it once staged.
            let expected = (c == Compression::None).then_some(diff_id);
            let (d, n, p) = staging.add(&mut r, expected, None, &what)?;
            if c != Compression::None {
                check_diff_id(&p, c, diff_id, &what)?;
            }
            layers.push((d, n, c));
        }
        staging.add_bytes(&cbytes, Some(&cd), "config")?;
        let manifest = build_manifest((&cd, cbytes.len() as u64), &layers);
        let md = staging.add_bytes(&manifest, None, "manifest")?;
        loaded.push(Loaded {
            names: e.repo_tags.clone().unwrap_or_default(),
            manifest_digest: md,
            config_digest: cd,
        });
    }
    staging.commit()?;
    for l in &loaded {
        for n in &l.names {
            store.tag(n, &l.manifest_digest)?;
        }
    }
    Ok(loaded)
}

fn header(path: &str, size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    if path.len() < 100 {
        let _ = h.set_path(path);
    }
    h
}

fn append<W: Write, R: Read>(
    b: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: R,
) -> io::Result<()> {
    let mut h = header(path, size, 0o644, tar::EntryType::Regular);
    b.append_data(&mut h, path, data)
}

fn append_dir<W: Write>(b: &mut tar::Builder<W>, path: &str) -> io::Result<()> {
    let mut h = header(path, 0, 0o755, tar::EntryType::Directory);
    b.append_data(&mut h, path, io::empty())
}

/// Write images as a `docker save` tarball (Docker's classic layout:
/// `<id>/layer.tar`, uncompressed, plus `manifest.json` and `repositories`).
pub fn save_docker_archive(store: &ImageStore, names: &[&str], out: &Path) -> Result<(), Error> {
    save_archive(store, names, out, false)
}

/// Write images as Docker 25 and later write `docker save`: the classic
/// entries above *and* an OCI image layout in the same tar:
///
/// ```text
///   oci-layout           {"imageLayoutVersion":"1.0.0"}
///   index.json           one manifest descriptor per name, with its
///                        org.opencontainers.image.ref.name (the tag) and
///                        io.containerd.image.name (the full name)
///   blobs/sha256/<hex>   the manifests, configs and layers, as stored
/// ```
///
/// So the one file loads into Docker of any age (`manifest.json`), and
/// skopeo (`oci-archive:FILE`), containerd (`ctr import`) and umoci (on
/// the unpacked directory) read it as an OCI layout. Unlike Docker 25, the
/// classic `<id>/layer.tar` entries are kept beside the blobs: a layer
/// stored compressed would otherwise be named in `manifest.json` as a
/// compressed file, which Docker before 25 cannot load.
pub fn save_combined_archive(store: &ImageStore, names: &[&str], out: &Path) -> Result<(), Error> {
    save_archive(store, names, out, true)
}

fn save_archive(store: &ImageStore, names: &[&str], out: &Path, oci: bool) -> Result<(), Error> {
    let file = File::create(out).map_err(Error::io("create", out))?;
    let io_err = |e: io::Error| Error::io("write the archive", out)(e);
    let mut b = tar::Builder::new(io::BufWriter::new(file));
    let mut written = HashSet::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for name in names {
        let img = store.resolve(name, None)?;
        let full = normalize_name(name);
        let cfg_name = format!("{}.json", digest::hex_of(&img.config_digest));
        if written.insert(cfg_name.clone()) {
            append(
                &mut b,
                &cfg_name,
                img.config_bytes.len() as u64,
                &img.config_bytes[..],
            )
            .map_err(io_err)?;
        }
        let mut layer_paths = Vec::new();
        let mut parent: Option<String> = None;
        for ((desc, diff_id), chain) in img
            .manifest
            .layers()
            .iter()
            .zip(&img.diff_ids)
            .zip(img.chain_ids())
        {
            let id = digest::hex_of(&chain).to_string();
            let path = format!("{id}/layer.tar");
            if written.insert(id.clone()) {
                // Decompress into a temp file (tar needs the size first),
                // checking the diff ID on the way.
                let c = layer::compression_of(desc)?;
                let mut tmp = tempfile::tempfile_in(store.root())
                    .map_err(Error::io("create a temp file in", store.root()))?;
                let blob = store.blobs.open_blob(desc.digest())?;
                let mut r = HashingReader::new(
                    layer::decompress(blob, c).map_err(Error::io("decompress", out))?,
                    Algorithm::Sha256,
                );
                let n = io::copy(&mut r, &mut tmp).map_err(Error::io(
                    format!("decompress layer {} for", desc.digest()),
                    out,
                ))?;
                let (got, _) = r.finish().map_err(io_err)?;
                if &got != diff_id {
                    return Err(Error::DigestMismatch {
                        what: format!(
                            "the uncompressed content (diff ID) of layer {}",
                            desc.digest()
                        ),
                        expected: diff_id.to_string(),
                        actual: got.to_string(),
                    });
                }
                tmp.rewind().map_err(io_err)?;
                append_dir(&mut b, &format!("{id}/")).map_err(io_err)?;
                append(&mut b, &path, n, tmp).map_err(io_err)?;
                append(&mut b, &format!("{id}/VERSION"), 3, &b"1.0"[..]).map_err(io_err)?;
                let mut v1 = serde_json::json!({ "id": id });
                if let Some(p) = &parent {
                    v1["parent"] = serde_json::json!(p);
                }
                let v1 = serde_json::to_vec(&v1).expect("serializes");
                append(&mut b, &format!("{id}/json"), v1.len() as u64, &v1[..]).map_err(io_err)?;
            }
            layer_paths.push(path);
            parent = Some(id);
        }
        if let (Some((repo, tag)), Some(top)) = (full.rsplit_once(':'), &parent) {
            repositories
                .entry(repo.to_string())
                .or_default()
                .insert(tag.to_string(), top.clone());
        }
        manifest.push(ArchiveEntry {
            config: cfg_name,
            repo_tags: Some(vec![full]),
            layers: layer_paths,
        });
    }
    let m = serde_json::to_vec(&manifest).expect("serializes");
    append(&mut b, "manifest.json", m.len() as u64, &m[..]).map_err(io_err)?;
    let r = serde_json::to_vec(&repositories).expect("serializes");
    append(&mut b, "repositories", r.len() as u64, &r[..]).map_err(io_err)?;
    if oci {
        append_oci_layout(&mut b, store, names)?;
    }
    let w = b.into_inner().map_err(io_err)?;
    let f = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    f.sync_all().map_err(io_err)?;
    Ok(())
}

/// A name as containerd spells it: with its registry (`docker.io` when the
/// first component is not a host) and Docker Hub's `library/` for a
/// one-component repository. `busybox` is `docker.io/library/busybox:latest`.
fn qualified_name(name: &str) -> String {
    let name = normalize_name(name);
    let first = name.split('/').next().unwrap_or_default();
    let has_host =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo_end = name.find(['@', ':']).unwrap_or(name.len());
    if has_host {
        name
    } else if name[..repo_end].contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// The OCI layout half of [`save_combined_archive`], appended to `b`.
fn append_oci_layout<W: Write>(
    b: &mut tar::Builder<W>,
    store: &ImageStore,
    names: &[&str],
) -> Result<(), Error> {
    let io_err = |e: io::Error| Error::io("write the archive", store.root())(e);
    let mut written = HashSet::new();
    let mut entries: Vec<serde_json::Value> = Vec::new();
    append_dir(b, "blobs/").map_err(io_err)?;
    append_dir(b, "blobs/sha256/").map_err(io_err)?;
    for name in names {
        let img = store.resolve(name, None)?;
        let layers = img.manifest.layers().iter().map(|l| l.digest());
        for d in [&img.manifest_digest, &img.config_digest]
            .into_iter()
            .chain(layers)
        {
            if !written.insert(d.to_string()) {
                continue;
            }
            digest::validate(d)?;
            let path = format!("blobs/sha256/{}", digest::hex_of(d));
            let mut blob = store.blobs.open_blob(d)?;
            let size = blob.metadata().map_err(io_err)?.len();
            append(b, &path, size, &mut blob).map_err(io_err)?;
        }
        let desc = crate::layout::manifest_descriptor(&img, Some(name))?;
        let mut desc = serde_json::to_value(&desc).expect("serializes");
        // containerd names the image by this annotation, fully qualified
        // (`docker.io/library/busybox:latest`), as Docker 25 writes it.
        if let Some(a) = desc.pointer_mut("/annotations") {
            a[crate::layout::CONTAINERD_NAME] = serde_json::json!(qualified_name(name));
        }
        entries.push(desc);
    }
    let mut index = BTreeMap::new();
    index.insert("schemaVersion", serde_json::json!(2));
    index.insert("mediaType", serde_json::json!(crate::media::OCI_INDEX));
    index.insert("manifests", serde_json::Value::Array(entries));
    let index = crate::canonical_json(&index);
    let layout = crate::layout::OCI_LAYOUT.as_bytes();
    append(b, "oci-layout", layout.len() as u64, layout).map_err(io_err)?;
    append(b, "index.json", index.len() as u64, &index[..]).map_err(io_err)?;
    Ok(())
}

/// Load any image source: an OCI layout directory, an OCI archive or a
/// `docker save` tarball.
pub fn load_any(
    store: &ImageStore,
    path: &Path,
    repo: &str,
    want: &PlatformSpec,
) -> Result<Vec<Loaded>, Error> {
    let src = crate::source::open_source(path)?;
    if src.exists("manifest.json") || !src.exists("oci-layout") {
        load_docker_archive(store, src.as_ref(), want)
    } else {
        load_oci_layout(store, src.as_ref(), None, repo, want)
    }
}

#[cfg(test)]
mod tests {
    use super::qualified_name;

    #[test]
    fn names_are_qualified_as_containerd_reads_them() {
        assert_eq!(
            qualified_name("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(qualified_name("bb:ctr"), "docker.io/library/bb:ctr");
        assert_eq!(qualified_name("me/app:1"), "docker.io/me/app:1");
        assert_eq!(
            qualified_name("127.0.0.1:5000/x/y:2"),
            "127.0.0.1:5000/x/y:2"
        );
        assert_eq!(qualified_name("localhost/z"), "localhost/z:latest");
    }
}
