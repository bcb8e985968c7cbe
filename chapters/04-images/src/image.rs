//! Images: from a name to a checked manifest and config.
//!
//! An [`ImageStore`] is a [`BlobStore`] plus `images.json`, the map from
//! names (`busybox:latest`) to manifest (or index) digests, the only mutable
//! state. Resolving a name walks the documents and checks each one:
//!
//! ```text
//! images.json   "busybox:latest" -> sha256:ix..
//! sha256:ix..   index      -> platform linux/amd64 -> sha256:mf..
//! sha256:mf..   manifest   -> config sha256:cf.., layers [sha256:l1.., ...]
//! sha256:cf..   config     -> rootfs.diff_ids [sha256:d1.., ...] (one per layer)
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

use crate::digest::{self, Digest};
use crate::document::{self, Document};
use crate::layer;
use crate::platform::{self, PlatformSpec};
use crate::store::BlobStore;
use crate::Error;

/// A resolved image: every document read, parsed and checked.
#[derive(Debug, Clone)]
pub struct Image {
    /// The index the manifest was chosen from, if any.
    pub index: Option<(Digest, ImageIndex)>,
    /// The manifest digest (Docker's "RepoDigest" part).
    pub manifest_digest: Digest,
    /// The manifest's size in bytes.
    pub manifest_size: u64,
    /// The media type the manifest was stored with (Docker or OCI).
    pub manifest_media_type: String,
    /// The manifest, media types in OCI names.
    pub manifest: ImageManifest,
    /// The config digest: the image ID.
    pub config_digest: Digest,
    /// The config.
    pub config: ImageConfiguration,
    /// The config's exact bytes.
    pub config_bytes: Vec<u8>,
    /// One diff ID per layer (the digest of the *uncompressed* tar).
    pub diff_ids: Vec<Digest>,
}

impl Image {
    /// The image ID, as `docker images` shows it (the config digest).
    pub fn id(&self) -> &Digest {
        &self.config_digest
    }

    /// The chain IDs of the layers (see [`layer::chain_ids`]).
    pub fn chain_ids(&self) -> Vec<Digest> {
        layer::chain_ids(&self.diff_ids)
    }

    /// `os/arch[/variant]` from the config.
    pub fn platform(&self) -> String {
        let mut s = format!("{}/{}", self.config.os(), self.config.architecture());
        if let Some(v) = self.config.variant() {
            s.push('/');
            s.push_str(v);
        }
        s
    }
}

/// Read and check the image at `digest` (an index or a manifest).
///
/// With `want = Some(p)` the manifest for `p` is chosen from an index and
/// the config must say `p`; with `None` an index gives its `linux/amd64`
/// entry and the config's platform is not checked (for `inspect`).
pub fn resolve_digest(
    blobs: &BlobStore,
    digest: &Digest,
    size: Option<u64>,
    want: Option<&PlatformSpec>,
) -> Result<Image, Error> {
    let default = PlatformSpec::default();
    let choose = want.unwrap_or(&default);
    let mut index = None;
    let (mut d, mut size, mut mt) = (digest.clone(), size, None::<String>);
    // An index may point at an index; two levels is plenty.
    for _ in 0..3 {
        let bytes = blobs.read_document(&d, size, "manifest or index")?;
        let raw_mt = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            });
        match document::parse_document(&bytes, mt.as_deref(), &format!("manifest or index {d}"))? {
            Document::Index(idx) => {
                let chosen = platform::select(&idx, choose)?.clone();
                index = Some((d.clone(), idx));
                d = chosen.digest().clone();
                size = Some(chosen.size());
                mt = Some(chosen.media_type().to_string());
            }
            Document::Manifest(manifest) => {
                let what = format!("manifest {d}");
                document::check_manifest_media_types(&manifest, &what)?;
                let cd = manifest.config().digest().clone();
                let config_bytes =
                    blobs.read_document(&cd, Some(manifest.config().size()), "config")?;
                let config = document::parse_config(&config_bytes, &format!("config {cd}"))?;
                let diff_ids = document::diff_ids(&config)?;
                if diff_ids.len() != manifest.layers().len() {
                    return Err(Error::InvalidDocument {
                        what,
                        reason: format!(
                            "it has {} layers but its config lists {} diff_ids",
                            manifest.layers().len(),
                            diff_ids.len()
                        ),
                    });
                }
                let image = Image {
                    index,
                    manifest_size: size.unwrap_or(bytes.len() as u64),
                    manifest_media_type: mt
                        .or(raw_mt)
                        .unwrap_or_else(|| crate::media::OCI_MANIFEST.to_string()),
                    manifest_digest: d,
                    manifest,
                    config_digest: cd,
                    config,
                    config_bytes,
                    diff_ids,
                };
                if let Some(want) = want {
                    let c = &image.config;
                    if !want.matches(
                        &c.os().to_string(),
                        &c.architecture().to_string(),
                        c.variant().as_deref(),
                    ) {
                        return Err(Error::NoMatchingPlatform {
                            wanted: want.to_string(),
                            available: image.platform(),
                        });
                    }
                }
                return Ok(image);
            }
        }
    }
    Err(Error::InvalidDocument {
        what: format!("index {digest}"),
        reason: "indexes nested more than two deep".into(),
    })
}

/// `name[:tag][@digest]` split as the Engine API wants it (`?repo=&tag=`):
/// the name, and the digest if there is one, else the tag, else `latest`
/// (Docker's `getAPITagFromNamedRef`). The tag is after the last `:` that
/// follows the last `/`, so `localhost:5000/app` has none.
///
/// ```text
/// busybox                       (busybox, latest)
/// localhost:5000/app:v1         (localhost:5000/app, v1)
/// app@sha256:4b2c…              (app, sha256:4b2c…)
/// ```
pub fn split_ref(r: &str) -> (&str, &str) {
    let (rest, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    (name, digest.or(tag).unwrap_or("latest"))
}

/// Docker's "familiar" name: Docker Hub's host is implied, and so is its
/// `library/` namespace for a one-component repository.
pub fn familiar_name(name: &str) -> &str {
    for hub in ["docker.io/", "index.docker.io/"] {
        if let Some(rest) = name.strip_prefix(hub) {
            return match rest.strip_prefix("library/") {
                Some(r) if !r.contains('/') => r,
                _ => rest,
            };
        }
    }
    name
}

/// The one spelling a name is stored and looked up under: Docker's
/// familiar form with a tag (`latest` by default) or a digest, as its
/// reference library writes it.
///
/// ```text
/// busybox                               busybox:latest
/// docker.io/library/busybox:1.36        busybox:1.36
/// index.docker.io/someone/app           someone/app:latest
/// localhost:5000/app@sha256:…           localhost:5000/app@sha256:…
/// ```
pub fn normalize_name(name: &str) -> String {
    let (n, t) = split_ref(name);
    let n = familiar_name(n);
    if name.contains('@') {
        format!("{n}@{t}")
    } else {
        format!("{n}:{t}")
    }
}

/// Blobs plus names: where images live.
#[derive(Debug, Clone)]
pub struct ImageStore {
    /// The content-addressed blobs.
    pub blobs: BlobStore,
    root: PathBuf,
}

impl ImageStore {
    /// Open (creating) the store at `root`.
    pub fn open(root: &Path) -> Result<ImageStore, Error> {
        Ok(ImageStore {
            blobs: BlobStore::open(root)?,
            root: root.to_path_buf(),
        })
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tags_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    /// name:tag -> digest.
    pub fn tags(&self) -> Result<BTreeMap<String, String>, Error> {
        let p = self.tags_path();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| Error::Json {
                what: p.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io("read", &p)(e)),
        }
    }

    /// Point `name` at `digest` (which must be in the store). The file is
    /// replaced atomically: temp file, fsync, rename, fsync the directory.
    pub fn tag(&self, name: &str, digest: &Digest) -> Result<(), Error> {
        if !self.blobs.contains(digest)? {
            return Err(Error::BlobNotFound {
                digest: digest.to_string(),
                path: self.blobs.blob_path(digest)?,
            });
        }
        let mut tags = self.tags()?;
        tags.insert(normalize_name(name), digest.to_string());
        let p = self.tags_path();
        let mut tmp = tempfile::NamedTempFile::new_in(&self.root)
            .map_err(Error::io("create a temp file in", &self.root))?;
        tmp.write_all(&serde_json::to_vec_pretty(&tags).expect("a map serializes"))
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(Error::io("write", tmp.path().to_path_buf()))?;
        tmp.persist(&p)
            .map_err(|e| Error::io("rename into", &p)(e.error))?;
        File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(Error::io("fsync", &self.root))
    }

    /// A name (`busybox`, `busybox:1.36`) or a digest (`sha256:…`) to the
    /// digest of its manifest or index.
    pub fn lookup(&self, reference: &str) -> Result<Digest, Error> {
        if reference.starts_with("sha256:") || reference.starts_with("sha512:") {
            let d = digest::parse(reference)?;
            if self.blobs.contains(&d)? {
                return Ok(d);
            }
        }
        let tags = self.tags()?;
        match tags.get(&normalize_name(reference)) {
            Some(d) => digest::parse(d),
            None => Err(Error::UnknownImage {
                name: reference.to_string(),
                root: self.root.clone(),
                known: if tags.is_empty() {
                    "none".into()
                } else {
                    tags.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            }),
        }
    }

    /// Resolve a name or digest to a checked image.
    pub fn resolve(&self, reference: &str, want: Option<&PlatformSpec>) -> Result<Image, Error> {
        let d = self.lookup(reference)?;
        resolve_digest(&self.blobs, &d, None, want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_latest() {
        assert_eq!(normalize_name("busybox"), "busybox:latest");
        assert_eq!(normalize_name("busybox:1.36"), "busybox:1.36");
        assert_eq!(normalize_name("docker.io/library/x:t"), "x:t");
        assert_eq!(normalize_name("index.docker.io/library/x"), "x:latest");
        assert_eq!(
            normalize_name("docker.io/someone/app"),
            "someone/app:latest"
        );
        assert_eq!(normalize_name("docker.io/library/a/b:1"), "library/a/b:1");
        assert_eq!(
            normalize_name("localhost:5000/busybox"),
            "localhost:5000/busybox:latest"
        );
    }
}
