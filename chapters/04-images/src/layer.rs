//! Layers: compression, diff IDs, chain IDs, and unpacking a stack safely.
//!
//! A layer blob is a tar (chapter 03's changeset: files plus `.wh.` whiteouts),
//! usually compressed. It has **two** digests:
//!
//! | name | hash of | where it is written | changes when |
//! | --- | --- | --- | --- |
//! | digest | the blob as stored/sent (`.tar.gz`) | the manifest's `layers[]` | you recompress |
//! | diff ID | the uncompressed tar | the config's `rootfs.diff_ids` | the files change |
//!
//! The config (and so the image ID) only names diff IDs, so the same image
//! can travel gzip'ed, zstd'ed or plain and keep its ID.
//!
//! A **chain ID** names a *stack* of layers, because a layer directory only
//! means something on top of the ones below it:
//!
//! ```text
//! ChainID(L0)      = DiffID(L0)
//! ChainID(L0..Ln)  = sha256( ChainID(L0..Ln-1) + " " + DiffID(Ln) )
//! $ printf '%s %s' sha256:<chain-below> sha256:<diff-id> | sha256sum
//! ```
//!
//! Unpacking streams each blob once: hash the compressed bytes (the
//! digest), decompress (flate2 / zstd), hash again (the diff ID), and hand
//! the tar stream to **chapter 03's [`chapter03::apply`]**, which resolves
//! every entry inside the target with `openat2(RESOLVE_IN_ROOT)` and
//! refuses hostile entries. This chapter never extracts a tar itself.
//!
//! Two ways to lay the layers out:
//!
//! - [`unpack_flat`]: every layer applied in order into one directory,
//!   whiteouts really deleting (the copy driver, Docker's `vfs`);
//! - [`unpack_per_layer`]: one directory per chain ID, whiteouts kept as
//!   overlay markers, ready to be overlay `lowerdir`s (Docker's `overlay2`).
//!
//! Both unpack into a temp directory and rename it into place at the end,
//! so a refused or corrupt layer leaves nothing behind.
//!
//! A pull does better than either: [`unpack_detached`] unpacks one layer
//! from its download stream, before its parent exists (chapter 03's overlay
//! store allows it), so every layer of an image unpacks at once while it
//! downloads. The same checks apply (digest, size and diff ID over the same
//! bytes, chapter 03's entry checks, [`Limits`]); the layers wait under
//! temporary names and are published together after one `syncfs`.

use std::cell::Cell;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chapter03::{ApplyOptions, ApplyStats, Driver, WhiteoutMode};
use oci_spec::image::Descriptor;

use crate::digest::{self, Algorithm, Digest, HashingReader};
use crate::image::Image;
use crate::media::{self, Compression, Kind};
use crate::store::BlobStore;
use crate::Error;

/// A decompressing reader for `c`.
pub fn decompress<'a, R: Read + 'a>(r: R, c: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        // Multi-member gzip, as Go's gzip reader (and so Docker) accepts.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
    })
}

/// How a layer descriptor says it is compressed.
pub fn compression_of(d: &Descriptor) -> Result<Compression, Error> {
    let mt = d.media_type().to_string();
    match media::classify(&mt) {
        Some(Kind::Layer(c)) => Ok(c),
        _ => Err(Error::UnknownMediaType {
            media_type: mt,
            what: format!("layer {}", d.digest()),
        }),
    }
}

/// The chain IDs of a stack of diff IDs (bottom layer first).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(below) => digest::sha256(format!("{below} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The diff ID (and uncompressed size) of a layer stream.
pub fn diff_id_of<R: Read>(r: R, c: Compression) -> io::Result<(Digest, u64)> {
    HashingReader::new(decompress(r, c)?, Algorithm::Sha256).finish()
}

/// What unpacking one layer did.
#[derive(Debug, Clone)]
pub struct LayerReport {
    /// The blob digest.
    pub digest: Digest,
    /// The diff ID, checked.
    pub diff_id: Digest,
    /// The chain ID of the stack up to this layer.
    pub chain_id: Digest,
    /// Compressed size.
    pub size: u64,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// What chapter 03's apply did.
    pub stats: ApplyStats,
    /// Where it went.
    pub dir: PathBuf,
    /// True if the layer directory already existed and was reused.
    pub reused: bool,
}

/// Options for unpacking.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Keep setuid/setgid bits (on by default, as Docker: they belong to
    /// the image, and the container's capabilities decide what they do).
    pub keep_setid: bool,
    /// Do not chown to the owners in the tar (for unprivileged use).
    pub no_same_owner: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            keep_setid: true,
            no_same_owner: false,
        }
    }
}

impl UnpackOptions {
    fn apply_options(&self, whiteouts: WhiteoutMode) -> ApplyOptions {
        ApplyOptions {
            whiteouts,
            keep_setid: self.keep_setid,
            same_owner: !self.no_same_owner,
        }
    }
}

/// How much an unpack may write, and how its caller stops it midway.
///
/// A layer is small on the wire and may be huge unpacked: 5 GB of zeros
/// gzip to 5 MB. The bound counts bytes of the *uncompressed* tar as they
/// stream into `apply`, so it trips before the disk fills; the cancel flag
/// is checked at every read, so a caller whose client went away stops the
/// work within one buffer. Either way the partial layer is removed.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Most bytes of uncompressed tar a layer may have (`None`: no bound).
    pub max_unpacked: Option<u64>,
    /// Where the bound comes from, named in the error (e.g.
    /// `daemon.json max-layer-size`).
    pub setting: String,
    /// Set to true to stop.
    pub cancel: Option<Arc<AtomicBool>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trip {
    TooLarge,
    Cancelled,
}

/// A reader that counts, and fails once over the bound or cancelled.
struct Bounded<'a, R> {
    inner: R,
    n: u64,
    limits: &'a Limits,
    tripped: &'a Cell<Option<Trip>>,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let trip = |t: Trip, why: &str| {
            self.tripped.set(Some(t));
            Err(io::Error::other(why.to_string()))
        };
        if self
            .limits
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return trip(Trip::Cancelled, "cancelled");
        }
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if self.limits.max_unpacked.is_some_and(|m| self.n > m) {
            return trip(Trip::TooLarge, "over the bound");
        }
        Ok(k)
    }
}

/// Stream one layer blob through decompression and `apply`, checking its
/// digest, size and diff ID on the way.
///
/// The checks complete only after the whole stream was read, so callers
/// apply into a directory they throw away on error.
pub fn apply_blob<R: Read>(
    blob: R,
    desc: &Descriptor,
    diff_id: &Digest,
    apply: impl FnOnce(&mut dyn Read) -> Result<ApplyStats, chapter03::Error>,
) -> Result<(ApplyStats, u64), Error> {
    apply_blob_limited(blob, desc, diff_id, &Limits::default(), apply)
}

/// [`apply_blob`] within `limits`.
pub fn apply_blob_limited<R: Read>(
    blob: R,
    desc: &Descriptor,
    diff_id: &Digest,
    limits: &Limits,
    apply: impl FnOnce(&mut dyn Read) -> Result<ApplyStats, chapter03::Error>,
) -> Result<(ApplyStats, u64), Error> {
    let what = format!("layer {}", desc.digest());
    let tripped = Cell::new(None);
    let tripped_err = |t: Option<Trip>| match t {
        Some(Trip::TooLarge) => Some(Error::LayerTooLarge {
            digest: desc.digest().to_string(),
            limit: limits.max_unpacked.unwrap_or(0),
            setting: limits.setting.clone(),
        }),
        Some(Trip::Cancelled) => Some(Error::Cancelled {
            digest: desc.digest().to_string(),
        }),
        None => None,
    };
    let alg = digest::validate(desc.digest())?;
    digest::validate(diff_id)?;
    let c = compression_of(desc)?;
    let mut outer = HashingReader::new(blob, alg);
    let (stats, (actual_diff, n)) = {
        let d = decompress(&mut outer, c).map_err(Error::io(
            format!("start decompressing {what}"),
            PathBuf::new(),
        ))?;
        let bounded = Bounded {
            inner: d,
            n: 0,
            limits,
            tripped: &tripped,
        };
        let mut inner = HashingReader::new(bounded, Algorithm::Sha256);
        let stats = apply(&mut inner).map_err(|source| {
            tripped_err(tripped.get()).unwrap_or_else(|| Error::Unpack {
                digest: desc.digest().to_string(),
                source,
            })
        })?;
        let rest = inner.finish().map_err(|e| {
            tripped_err(tripped.get())
                .unwrap_or_else(|| Error::io(format!("read the rest of {what}"), PathBuf::new())(e))
        })?;
        (stats, rest)
    };
    let (actual, size) = outer.finish().map_err(Error::io(
        format!("read the rest of {what}"),
        PathBuf::new(),
    ))?;
    if size != desc.size() {
        return Err(Error::SizeMismatch {
            what,
            expected: desc.size(),
            actual: size,
        });
    }
    if &actual != desc.digest() {
        return Err(Error::DigestMismatch {
            what,
            expected: desc.digest().to_string(),
            actual: actual.to_string(),
        });
    }
    if &actual_diff != diff_id {
        return Err(Error::DigestMismatch {
            what: format!("the uncompressed content (diff ID) of {what}"),
            expected: diff_id.to_string(),
            actual: actual_diff.to_string(),
        });
    }
    Ok((stats, n))
}

fn temp_sibling(target: &Path) -> Result<tempfile::TempDir, Error> {
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
    tempfile::Builder::new()
        .prefix(".ch04-unpacking-")
        .tempdir_in(parent)
        .map_err(Error::io("create a temp directory in", parent))
}

fn publish_dir(tmp: tempfile::TempDir, target: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let p = tmp.keep();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).map_err(Error::io("chmod", &p))?;
    fs::rename(&p, target).map_err(|e| {
        let _ = fs::remove_dir_all(&p);
        Error::io(format!("rename {} to", p.display()), target)(e)
    })
}

/// Unpack every layer of `image`, in order, into the new directory
/// `target` (which must not exist). Whiteouts delete; the result is the
/// container's root filesystem as one plain tree.
pub fn unpack_flat(
    blobs: &BlobStore,
    image: &Image,
    target: &Path,
    opts: &UnpackOptions,
) -> Result<Vec<LayerReport>, Error> {
    if target.exists() {
        return Err(Error::io("unpack into", target)(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the target already exists; choose a new directory",
        )));
    }
    let tmp = temp_sibling(target)?;
    let ao = opts.apply_options(WhiteoutMode::Delete);
    let mut reports = Vec::new();
    for (i, (desc, chain_id)) in image
        .manifest
        .layers()
        .iter()
        .zip(image.chain_ids())
        .enumerate()
    {
        let blob = blobs.open_blob(desc.digest())?;
        let (stats, n) = apply_blob(blob, desc, &image.diff_ids[i], |r| {
            chapter03::apply(r, tmp.path(), &ao)
        })?;
        reports.push(LayerReport {
            digest: desc.digest().clone(),
            diff_id: image.diff_ids[i].clone(),
            chain_id,
            size: desc.size(),
            uncompressed_size: n,
            stats,
            dir: target.to_path_buf(),
            reused: false,
        });
    }
    publish_dir(tmp, target)?;
    Ok(reports)
}

/// Unpack each layer into `<layers_root>/<chain-id hex>/`, whiteouts as
/// overlay markers. A directory that already exists is the same stack of
/// layers (the chain ID says so) and is reused. Returns bottom layer first.
pub fn unpack_per_layer(
    blobs: &BlobStore,
    image: &Image,
    layers_root: &Path,
    opts: &UnpackOptions,
) -> Result<Vec<LayerReport>, Error> {
    fs::create_dir_all(layers_root).map_err(Error::io("create", layers_root))?;
    let ao = opts.apply_options(WhiteoutMode::Overlay);
    let mut reports = Vec::new();
    for (i, (desc, chain_id)) in image
        .manifest
        .layers()
        .iter()
        .zip(image.chain_ids())
        .enumerate()
    {
        let dir = layers_root.join(digest::hex_of(&chain_id));
        let mut report = LayerReport {
            digest: desc.digest().clone(),
            diff_id: image.diff_ids[i].clone(),
            chain_id,
            size: desc.size(),
            uncompressed_size: 0,
            stats: ApplyStats::default(),
            dir: dir.clone(),
            reused: dir.is_dir(),
        };
        if !report.reused {
            let tmp = temp_sibling(&dir)?;
            let blob = blobs.open_blob(desc.digest())?;
            let (stats, n) = apply_blob(blob, desc, &image.diff_ids[i], |r| {
                chapter03::apply(r, tmp.path(), &ao)
            })?;
            report.stats = stats;
            report.uncompressed_size = n;
            publish_dir(tmp, &dir)?;
        }
        reports.push(report);
    }
    Ok(reports)
}

/// The overlay `lowerdir=` value for layers listed bottom first (overlayfs
/// wants the top layer first).
pub fn lowerdir_option(layers: &[LayerReport]) -> String {
    let dirs: Vec<String> = layers
        .iter()
        .rev()
        .map(|l| l.dir.display().to_string())
        .collect();
    format!("lowerdir={}", dirs.join(":"))
}

/// The id a layer gets in a chapter 03 driver: `ch04-` + its chain ID hex.
pub fn driver_layer_id(chain_id: &Digest) -> String {
    format!("ch04-{}", digest::hex_of(chain_id))
}

/// Unpack the layers of `image` into a chapter 03 storage driver (overlay
/// or copy), one driver layer per chain ID, reusing layers the driver has.
/// Returns the reports and the id of the top layer.
pub fn unpack_into_driver(
    driver: &dyn Driver,
    blobs: &BlobStore,
    image: &Image,
) -> Result<(Vec<LayerReport>, Option<String>), Error> {
    unpack_into_driver_limited(driver, blobs, image, &Limits::default())
}

/// [`unpack_into_driver`] within `limits`; a layer that trips them is
/// removed from the driver.
pub fn unpack_into_driver_limited(
    driver: &dyn Driver,
    blobs: &BlobStore,
    image: &Image,
    limits: &Limits,
) -> Result<(Vec<LayerReport>, Option<String>), Error> {
    let mut parent: Option<String> = None;
    let mut reports = Vec::new();
    for (i, (desc, chain_id)) in image
        .manifest
        .layers()
        .iter()
        .zip(image.chain_ids())
        .enumerate()
    {
        let id = driver_layer_id(&chain_id);
        let dir = driver.upper_dir(&id);
        let reused = driver.root().join(&id).is_dir();
        let mut report = LayerReport {
            digest: desc.digest().clone(),
            diff_id: image.diff_ids[i].clone(),
            chain_id,
            size: desc.size(),
            uncompressed_size: 0,
            stats: ApplyStats::default(),
            dir,
            reused,
        };
        if !reused {
            let blob = blobs.open_blob(desc.digest())?;
            let res = apply_blob_limited(blob, desc, &image.diff_ids[i], limits, |r| {
                driver.apply_layer(&id, parent.as_deref(), r)
            });
            match res {
                Ok((stats, n)) => {
                    report.stats = stats;
                    report.uncompressed_size = n;
                }
                Err(e) => {
                    // A failed apply may have left the layer behind.
                    let _ = driver.remove(&id);
                    return Err(e);
                }
            }
        }
        parent = Some(id);
        reports.push(report);
    }
    Ok((reports, parent))
}

/// Unpack one layer as its bytes arrive, before (or without) its parent:
/// the pull's way (see chapter 06's client). `blob` is the download itself,
/// so the digest, the size and the diff ID are checked over the very bytes
/// that are unpacked, in one pass. The layer lands unpublished
/// ([`chapter03::FilledLayer`]): the caller publishes the layers of an
/// image together with [`chapter03::publish_layers`] once every one is
/// whole, and dropping it (a digest mismatch, a refused entry, a tripped
/// limit) removes the partial directory.
///
/// `chain_ids` are this layer's and its parent's (`None` for the bottom
/// layer). Only a driver with [`Driver::detached_layers`] can do this.
pub fn unpack_detached<R: Read>(
    driver: &dyn Driver,
    blob: R,
    desc: &Descriptor,
    diff_id: &Digest,
    chain_ids: (&Digest, Option<&Digest>),
    limits: &Limits,
) -> Result<(LayerReport, chapter03::FilledLayer), Error> {
    let id = driver_layer_id(chain_ids.0);
    let parent = chain_ids.1.map(driver_layer_id);
    let mut filled = None;
    let (stats, n) = apply_blob_limited(blob, desc, diff_id, limits, |r| {
        let (stats, f) = driver.fill_detached(&id, parent.as_deref(), r)?;
        filled = Some(f);
        Ok(stats)
    })?;
    let filled = filled.expect("set by a successful fill");
    let report = LayerReport {
        digest: desc.digest().clone(),
        diff_id: diff_id.clone(),
        chain_id: chain_ids.0.clone(),
        size: desc.size(),
        uncompressed_size: n,
        stats,
        dir: driver.upper_dir(&id),
        reused: false,
    };
    Ok((report, filled))
}

/// The first `n` entry names of a layer blob (for `inspect`), without
/// writing anything to disk.
pub fn list_entries<R: Read>(
    blob: R,
    c: Compression,
    n: usize,
) -> io::Result<(Vec<String>, usize)> {
    let mut archive = tar::Archive::new(decompress(blob, c)?);
    let mut names = Vec::new();
    let mut total = 0;
    for e in archive.entries()? {
        let e = e?;
        total += 1;
        if names.len() < n {
            let mut name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            match e.header().entry_type() {
                tar::EntryType::Symlink => {
                    if let Some(t) = e.link_name_bytes() {
                        name.push_str(&format!(" -> {}", String::from_utf8_lossy(&t)));
                    }
                }
                tar::EntryType::Link => {
                    if let Some(t) = e.link_name_bytes() {
                        name.push_str(&format!(" link to {}", String::from_utf8_lossy(&t)));
                    }
                }
                _ => {}
            }
            names.push(name);
        }
    }
    Ok((names, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_and_the_cancel_flag_stop_the_stream() {
        let read_all = |limits: &Limits| {
            let tripped = Cell::new(None);
            let mut r = Bounded {
                inner: io::repeat(0).take(100_000),
                n: 0,
                limits,
                tripped: &tripped,
            };
            let res = io::copy(&mut r, &mut io::sink());
            (res.is_ok(), tripped.get())
        };
        assert_eq!(read_all(&Limits::default()), (true, None));
        let small = Limits {
            max_unpacked: Some(10_000),
            ..Limits::default()
        };
        assert_eq!(read_all(&small), (false, Some(Trip::TooLarge)));
        let cancelled = Limits {
            cancel: Some(Arc::new(AtomicBool::new(true))),
            ..Limits::default()
        };
        assert_eq!(read_all(&cancelled), (false, Some(Trip::Cancelled)));
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = digest::sha256(b"a");
        let b = digest::sha256(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], digest::sha256(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn diff_id_is_the_same_for_every_compression() {
        let tar = b"pretend this is a tar".to_vec();
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            io::Write::write_all(&mut e, &tar).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&tar[..], 3).unwrap();
        let want = digest::sha256(&tar);
        assert_eq!(diff_id_of(&tar[..], Compression::None).unwrap().0, want);
        assert_eq!(diff_id_of(&gz[..], Compression::Gzip).unwrap().0, want);
        assert_eq!(diff_id_of(&zst[..], Compression::Zstd).unwrap().0, want);
        assert_ne!(digest::sha256(&gz), want);
    }
}
