//! The OCI image layout: an image as a directory anyone can read.
//!
//! ```text
//! layout/
//!   oci-layout            {"imageLayoutVersion":"1.0.0"}
//!   index.json            an image index: one descriptor per tagged image,
//!                         tag in the annotation org.opencontainers.image.ref.name
//!   blobs/sha256/<hex>    manifests, configs, layers: the same store as ours
//! ```
//!
//! `skopeo copy oci:layout:tag …`, `umoci unpack --image layout:tag bundle`
//! and `docker load` (since 25.0, inside a tar) all read this form.
//!
//! Loading is all-or-nothing: every blob is staged in the store's `ingest/`
//! directory and checked (digest, size, media types, diff IDs) before the
//! first one is published.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageManifest, MediaType};

use crate::digest::{self, Digest};
use crate::document::{self, Document};
use crate::image::{self, Image, ImageStore};
use crate::layer;
use crate::media::{self, Compression};
use crate::platform::{self, PlatformSpec};
use crate::source::Source;
use crate::store::{BlobStore, VerifiedBlob, MAX_DOCUMENT_SIZE};
use crate::Error;

/// The annotation holding a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd uses for the full image name.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Content of `oci-layout`.
pub const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Blobs checked and waiting to be published together.
pub(crate) struct Staging<'a> {
    store: &'a BlobStore,
    blobs: Vec<VerifiedBlob>,
    /// Digest -> (where it is staged, its size). The size is kept: a
    /// second image naming the same layer must describe it as the first.
    seen: HashMap<String, (PathBuf, u64)>,
}

impl<'a> Staging<'a> {
    pub(crate) fn new(store: &'a BlobStore) -> Self {
        Staging {
            store,
            blobs: Vec::new(),
            seen: HashMap::new(),
        }
    }

    /// Stage content, or find it already staged / in the store. Returns a
    /// path to read it from.
    pub(crate) fn add(
        &mut self,
        r: &mut dyn std::io::Read,
        expected: Option<&Digest>,
        size: Option<u64>,
        what: &str,
    ) -> Result<(Digest, u64, PathBuf), Error> {
        if let Some(d) = expected {
            if let Some((p, n)) = self.seen.get(d.as_ref()) {
                if size.is_some_and(|s| s != *n) {
                    return Err(Error::SizeMismatch {
                        what: what.to_string(),
                        expected: size.unwrap_or(0),
                        actual: *n,
                    });
                }
                return Ok((d.clone(), *n, p.clone()));
            }
        }
        let b = self.store.stage(r, expected, size, what)?;
        let (d, n, p) = (b.digest.clone(), b.size, b.path().to_path_buf());
        if let Some((p, _)) = self.seen.get(d.as_ref()) {
            return Ok((d, n, p.clone()));
        }
        self.seen.insert(d.to_string(), (p.clone(), n));
        self.blobs.push(b);
        Ok((d, n, p))
    }

    pub(crate) fn add_bytes(
        &mut self,
        bytes: &[u8],
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<Digest, Error> {
        let size = Some(bytes.len() as u64);
        Ok(self.add(&mut &bytes[..], expected, size, what)?.0)
    }

    pub(crate) fn commit(self) -> Result<(), Error> {
        crate::store::publish_all(self.blobs)
    }
}

/// One image loaded from a layout or an archive.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The names it was tagged with.
    pub names: Vec<String>,
    /// The manifest digest.
    pub manifest_digest: Digest,
    /// The config digest (image ID).
    pub config_digest: Digest,
}

fn blob_name(d: &Digest) -> Result<String, Error> {
    let alg = digest::validate(d)?;
    Ok(format!("blobs/{}/{}", alg.name(), digest::hex_of(d)))
}

/// Check a staged layer's diff ID by decompressing it.
pub(crate) fn check_diff_id(
    path: &Path,
    c: Compression,
    want: &Digest,
    what: &str,
) -> Result<(), Error> {
    let f = File::open(path).map_err(Error::io("open", path))?;
    let (got, _) =
        layer::diff_id_of(f, c).map_err(Error::io(format!("decompress {what} from"), path))?;
    if &got != want {
        return Err(Error::DigestMismatch {
            what: format!("the uncompressed content (diff ID) of {what}"),
            expected: want.to_string(),
            actual: got.to_string(),
        });
    }
    Ok(())
}

/// Stage one manifest and everything it references from `src`.
fn stage_manifest(
    src: &dyn Source,
    staging: &mut Staging<'_>,
    desc: &Descriptor,
    want: &PlatformSpec,
) -> Result<(Digest, Digest), Error> {
    let mut desc = desc.clone();
    for _ in 0..3 {
        let d = desc.digest().clone();
        crate::store::check_document_size(&format!("manifest {d}"), desc.size())?;
        let bytes = src.read_small(&blob_name(&d)?, MAX_DOCUMENT_SIZE)?;
        crate::store::check_bytes(&bytes, &d, Some(desc.size()), &format!("manifest {d}"))?;
        match document::parse_document(
            &bytes,
            Some(desc.media_type().as_ref()),
            &format!("manifest {d}"),
        )? {
            Document::Index(idx) => {
                desc = platform::select(&idx, want)?.clone();
            }
            Document::Manifest(m) => {
                let what = format!("manifest {d}");
                document::check_manifest_media_types(&m, &what)?;
                let cd = m.config().digest().clone();
                crate::store::check_document_size(&format!("config {cd}"), m.config().size())?;
                let cbytes = src.read_small(&blob_name(&cd)?, MAX_DOCUMENT_SIZE)?;
                crate::store::check_bytes(
                    &cbytes,
                    &cd,
                    Some(m.config().size()),
                    &format!("config {cd}"),
                )?;
                let cfg = document::parse_config(&cbytes, &format!("config {cd}"))?;
                let diff_ids = document::diff_ids(&cfg)?;
                if diff_ids.len() != m.layers().len() {
                    return Err(Error::InvalidDocument {
                        what,
                        reason: format!(
                            "{} layers but {} diff_ids in the config",
                            m.layers().len(),
                            diff_ids.len()
                        ),
                    });
                }
                for (l, diff_id) in m.layers().iter().zip(&diff_ids) {
                    let lw = format!("layer {}", l.digest());
                    let c = layer::compression_of(l)?;
                    if staging.store.contains(l.digest())? {
                        continue;
                    }
                    let mut r = src.open(&blob_name(l.digest())?)?;
                    let (_, _, p) = staging.add(&mut r, Some(l.digest()), Some(l.size()), &lw)?;
                    check_diff_id(&p, c, diff_id, &lw)?;
                }
                staging.add_bytes(&cbytes, Some(&cd), &format!("config {cd}"))?;
                staging.add_bytes(&bytes, Some(&d), &what)?;
                return Ok((d, cd));
            }
        }
    }
    Err(Error::InvalidDocument {
        what: "index.json".into(),
        reason: "indexes nested more than two deep".into(),
    })
}

/// Load the images of an OCI layout (a directory or an OCI archive).
///
/// `tag` picks one entry by its `ref.name` (all entries when `None`);
/// `repo` names entries that only carry a tag (`repo:tag`).
pub fn load_oci_layout(
    store: &ImageStore,
    src: &dyn Source,
    tag: Option<&str>,
    repo: &str,
    want: &PlatformSpec,
) -> Result<Vec<Loaded>, Error> {
    let not_layout = |reason: String| Error::Archive {
        path: src.path().to_path_buf(),
        reason,
    };
    let layout = src
        .read_small("oci-layout", 4096)
        .map_err(|_| not_layout("not an OCI image layout: `oci-layout` is missing".into()))?;
    let v: serde_json::Value = serde_json::from_slice(&layout).map_err(|source| Error::Json {
        what: "oci-layout".into(),
        source,
    })?;
    if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        return Err(not_layout(format!("unsupported oci-layout {v}")));
    }
    let bytes = src.read_small("index.json", MAX_DOCUMENT_SIZE)?;
    let Document::Index(index) =
        document::parse_document(&bytes, Some(media::OCI_INDEX), "index.json")?
    else {
        unreachable!("an index was announced")
    };
    let mut staging = Staging::new(&store.blobs);
    let mut loaded = Vec::new();
    for desc in index.manifests() {
        let ann = desc.annotations().clone().unwrap_or_default();
        let ref_name = ann.get(REF_NAME).cloned();
        if let Some(t) = tag {
            if ref_name.as_deref() != Some(t) {
                continue;
            }
        }
        let (md, cd) = stage_manifest(src, &mut staging, desc, want)?;
        // A `ref.name` that is only a tag (`1`) names an image only with
        // a repository to put it in; without one the image loads untagged
        // (as containerd and Docker load it), never as `:1`.
        let name = match (ann.get(CONTAINERD_NAME), &ref_name) {
            (Some(n), _) => Some(n.clone()),
            (None, Some(r)) if r.contains(':') || r.contains('/') => Some(r.clone()),
            (None, Some(r)) if !repo.is_empty() => Some(format!("{repo}:{r}")),
            (None, _) => None,
        };
        loaded.push(Loaded {
            names: name.into_iter().collect(),
            manifest_digest: md,
            config_digest: cd,
        });
    }
    if loaded.is_empty() {
        return Err(not_layout(match tag {
            Some(t) => format!("no image tagged `{t}` in index.json"),
            None => "index.json lists no images".into(),
        }));
    }
    staging.commit()?;
    for l in &loaded {
        for n in &l.names {
            store.tag(n, &l.manifest_digest)?;
        }
    }
    Ok(loaded)
}

fn copy_blob(store: &BlobStore, d: &Digest, dir: &Path) -> Result<(), Error> {
    let alg = digest::validate(d)?;
    let dest_dir = dir.join("blobs").join(alg.name());
    fs::create_dir_all(&dest_dir).map_err(Error::io("create", &dest_dir))?;
    let dest = dest_dir.join(digest::hex_of(d));
    if dest.is_file() {
        return Ok(());
    }
    let mut tmp = tempfile::NamedTempFile::new_in(&dest_dir)
        .map_err(Error::io("create a temp file in", &dest_dir))?;
    let mut src = store.open_blob(d)?;
    std::io::copy(&mut src, &mut tmp)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(Error::io("copy a blob into", &dest_dir))?;
    tmp.persist(&dest)
        .map_err(|e| Error::io("rename into", &dest)(e.error))?;
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(Error::io("create a temp file in", dir))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(Error::io("write", path))?;
    tmp.persist(path)
        .map_err(|e| Error::io("rename into", path)(e.error))?;
    Ok(())
}

/// A descriptor for an image's manifest, with its platform and tag.
pub fn manifest_descriptor(img: &Image, name: Option<&str>) -> Result<Descriptor, Error> {
    let mut d = Descriptor::new(
        MediaType::from(img.manifest_media_type.as_str()),
        img.manifest_size,
        img.manifest_digest.clone(),
    );
    let p = oci_spec::image::PlatformBuilder::default()
        .os(img.config.os().clone())
        .architecture(img.config.architecture().clone());
    let p = match img.config.variant() {
        Some(v) => p.variant(v.clone()),
        None => p,
    };
    d.set_platform(p.build().ok());
    if let Some(n) = name {
        let full = image::normalize_name(n);
        let tag = full
            .rsplit_once(':')
            .map(|(_, t)| t.to_string())
            .unwrap_or_default();
        let mut ann = HashMap::new();
        ann.insert(REF_NAME.to_string(), tag);
        ann.insert(CONTAINERD_NAME.to_string(), full);
        d.set_annotations(Some(ann));
    }
    Ok(d)
}

/// Write images to an OCI layout directory (created, or added to: an entry
/// with the same `ref.name` is replaced). Returns the new `index.json` bytes.
pub fn save_oci_layout(store: &ImageStore, names: &[&str], dir: &Path) -> Result<Vec<u8>, Error> {
    fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    let layout_file = dir.join("oci-layout");
    let index_file = dir.join("index.json");
    let mut entries: Vec<serde_json::Value> = Vec::new();
    if layout_file.exists() && index_file.exists() {
        let bytes = fs::read(&index_file).map_err(Error::io("read", &index_file))?;
        if let Document::Index(idx) = document::parse_document(&bytes, None, "index.json")? {
            entries = idx
                .manifests()
                .iter()
                .map(|d| serde_json::to_value(d).expect("serializes"))
                .collect();
        }
    } else if fs::read_dir(dir)
        .map_err(Error::io("list", dir))?
        .next()
        .is_some()
    {
        return Err(Error::Archive {
            path: dir.to_path_buf(),
            reason: "the directory is not empty and is not an OCI layout".into(),
        });
    }
    for name in names {
        let img = store.resolve(name, None)?;
        for d in [&img.manifest_digest, &img.config_digest] {
            copy_blob(&store.blobs, d, dir)?;
        }
        for l in img.manifest.layers() {
            copy_blob(&store.blobs, l.digest(), dir)?;
        }
        let desc = manifest_descriptor(&img, Some(name))?;
        let tag = desc
            .annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned();
        entries.retain(|e| {
            e.pointer(&format!("/annotations/{}", REF_NAME.replace('/', "~1")))
                .and_then(|v| v.as_str())
                != tag.as_deref()
        });
        entries.push(serde_json::to_value(&desc).expect("serializes"));
    }
    let mut index = BTreeMap::new();
    index.insert("schemaVersion", serde_json::json!(2));
    index.insert("mediaType", serde_json::json!(media::OCI_INDEX));
    index.insert("manifests", serde_json::Value::Array(entries));
    let bytes = crate::canonical_json(&index);
    write_atomic(&layout_file, OCI_LAYOUT.as_bytes())?;
    write_atomic(&index_file, &bytes)?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("fsync", dir))?;
    Ok(bytes)
}

/// Build an OCI manifest for a config and layers we hold, as canonical JSON.
pub fn build_manifest(config: (&Digest, u64), layers: &[(Digest, u64, Compression)]) -> Vec<u8> {
    let manifest: ImageManifest = oci_spec::image::ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(
            MediaType::ImageConfig,
            config.1,
            config.0.clone(),
        ))
        .layers(
            layers
                .iter()
                .map(|(d, n, c)| {
                    Descriptor::new(MediaType::from(c.oci_layer_media_type()), *n, d.clone())
                })
                .collect::<Vec<_>>(),
        )
        .build()
        .expect("all fields are set");
    crate::canonical_json(&manifest)
}

/// Peek the compression of a reader.
pub(crate) fn sniff_and_wrap<'a>(
    r: Box<dyn std::io::Read + 'a>,
) -> std::io::Result<(Compression, BufReader<Box<dyn std::io::Read + 'a>>)> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let c = media::sniff(br.fill_buf()?);
    Ok((c, br))
}
