//! `docker import`: a root filesystem tarball becomes a one-layer image.
//!
//! ```text
//! rootfs.tar ──sha256──> diff ID ─────────────┐
//!     │                                        v
//!     └─gzip─> layer.tar.gz ──sha256──> digest   config {rootfs.diff_ids:[diff ID], Cmd, Env…}
//!                    │                             │ sha256 = image ID
//!                    v                             v
//!               manifest {config: <config digest>, layers: [<layer digest>]} ──sha256──> manifest digest
//! ```
//!
//! The input is streamed once: decompressed if it was compressed, hashed
//! (diff ID), parsed as tar on the way (so garbage is refused), compressed
//! again and written to the store through a verified temp file.
//! What the shell would do:
//!
//! ```text
//! $ sha256sum rootfs.tar                      # diff ID
//! $ gzip -n < rootfs.tar > layer.tar.gz && sha256sum layer.tar.gz   # layer digest
//! $ vi config.json && sha256sum config.json   # image ID
//! $ vi manifest.json && sha256sum manifest.json
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};

use oci_spec::image::Config;

use crate::digest::{self, Algorithm, Digest, Hasher};
use crate::image::ImageStore;
use crate::layer;
use crate::layout::build_manifest;
use crate::media::{self, Compression};
use crate::platform::PlatformSpec;
use crate::runtime;
use crate::Error;

/// What `import` should put in the image.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Platform recorded in the config.
    pub platform: PlatformSpec,
    /// The container defaults (`docker import --change 'CMD …'`).
    pub config: Config,
    /// `created` (RFC 3339); the epoch when `None`, so imports are reproducible.
    pub created: Option<String>,
    /// History `created_by`.
    pub created_by: String,
    /// History comment (`docker import -m`).
    pub comment: Option<String>,
    /// How to compress the layer blob.
    pub compression: Compression,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            platform: PlatformSpec::default(),
            config: Config::default(),
            created: None,
            created_by: "chapter04 import".into(),
            comment: None,
            compression: Compression::Gzip,
        }
    }
}

/// Everything an import made, to print.
#[derive(Debug, Clone)]
pub struct Imported {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Uncompressed size.
    pub diff_size: u64,
    /// The layer blob digest.
    pub layer_digest: Digest,
    /// The layer blob size.
    pub layer_size: u64,
    /// The compression used.
    pub compression: Compression,
    /// The config digest (image ID).
    pub config_digest: Digest,
    /// The config bytes.
    pub config: Vec<u8>,
    /// The manifest digest.
    pub manifest_digest: Digest,
    /// The manifest bytes.
    pub manifest: Vec<u8>,
    /// Number of tar entries.
    pub entries: u64,
}

/// Copies what it reads into a writer and a hash.
struct Tee<'a, R, W> {
    r: R,
    w: &'a mut W,
    h: &'a mut Hasher,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.h.update(&buf[..n]);
        self.w.write_all(&buf[..n])?;
        Ok(n)
    }
}

enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(b),
            Encoder::Gzip(w) => w.write(b),
            Encoder::Zstd(w) => w.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

impl<W: Write> Encoder<W> {
    fn new(w: W, c: Compression) -> io::Result<Self> {
        Ok(match c {
            Compression::None => Encoder::None(w),
            // `gzip -n`: no name, mtime 0, so the same tar gives the same blob.
            Compression::Gzip => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .write(w, flate2::Compression::default()),
            ),
            Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
        })
    }
    fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(w) => w.finish(),
            Encoder::Zstd(w) => w.finish(),
        }
    }
}

/// Write the image config for one or more layers, canonical JSON.
pub fn build_config(diff_ids: &[Digest], opts: &ImportOptions) -> Result<Vec<u8>, Error> {
    let c = &opts.config;
    if let Some(w) = c.working_dir() {
        runtime::check_workdir(w)?;
    }
    for v in c.volumes().clone().unwrap_or_default() {
        runtime::check_volume(&v)?;
    }
    for p in c.exposed_ports().clone().unwrap_or_default() {
        runtime::check_port(&p)?;
    }
    let created = opts.created.clone().unwrap_or_else(|| crate::rfc3339(0));
    let mut history = serde_json::json!({ "created": created, "created_by": opts.created_by });
    if let Some(m) = &opts.comment {
        history["comment"] = serde_json::json!(m);
    }
    let mut v = serde_json::json!({
        "architecture": opts.platform.arch,
        "os": opts.platform.os,
        "created": created,
        "config": serde_json::to_value(c).expect("serializes"),
        "rootfs": { "type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>() },
        "history": [history],
    });
    if let Some(var) = &opts.platform.variant {
        v["variant"] = serde_json::json!(var);
    }
    Ok(crate::canonical_json(&v))
}

/// One layer written to the store.
#[derive(Debug, Clone)]
pub struct AddedLayer {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Uncompressed size.
    pub diff_size: u64,
    /// The blob digest.
    pub digest: Digest,
    /// The blob size.
    pub size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
    /// Number of tar entries.
    pub entries: u64,
}

/// Stream a tar (plain, gzip or zstd) into the store as a layer blob
/// compressed with `compression`: one pass computes the diff ID, checks
/// that the input is a tar, compresses and hashes the blob.
pub fn add_layer<R: Read>(
    store: &ImageStore,
    input: R,
    compression: Compression,
) -> Result<AddedLayer, Error> {
    let what = "the layer tarball";
    let rd = |e: io::Error| Error::InvalidDocument {
        what: what.into(),
        reason: format!("not a readable (optionally gzip/zstd-compressed) tar: {e}"),
    };
    let mut br = BufReader::with_capacity(64 * 1024, input);
    let c = media::sniff(br.fill_buf().map_err(rd)?);
    let plain = layer::decompress(br, c).map_err(rd)?;
    let w = store.blobs.writer()?;
    let mut enc = Encoder::new(w, compression).map_err(rd)?;
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut entries = 0;
    {
        let mut tee = Tee {
            r: plain,
            w: &mut enc,
            h: &mut hasher,
        };
        {
            let mut archive = tar::Archive::new(&mut tee);
            for e in archive.entries().map_err(rd)? {
                e.map_err(rd)?;
                entries += 1;
            }
        }
        io::copy(&mut tee, &mut io::sink()).map_err(rd)?;
    }
    if entries == 0 {
        // Nothing was published: the temp blob is dropped with `enc`.
        return Err(rd(io::Error::new(
            io::ErrorKind::InvalidData,
            "it has no entries",
        )));
    }
    let diff_size = hasher.len();
    let diff_id = hasher.finish();
    let w = enc.finish().map_err(rd)?;
    let (digest, size) = w.finish()?;
    Ok(AddedLayer {
        diff_id,
        diff_size,
        digest,
        size,
        compression,
        entries,
    })
}

/// Write config and manifest for layers already in the store.
pub fn commit_image(
    store: &ImageStore,
    layers: &[AddedLayer],
    opts: &ImportOptions,
) -> Result<(Digest, Vec<u8>, Digest, Vec<u8>), Error> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let config = build_config(&diff_ids, opts)?;
    let (config_digest, _) = store.blobs.put(&config)?;
    let ls: Vec<(Digest, u64, Compression)> = layers
        .iter()
        .map(|l| (l.digest.clone(), l.size, l.compression))
        .collect();
    let manifest = build_manifest((&config_digest, config.len() as u64), &ls);
    let (manifest_digest, _) = store.blobs.put(&manifest)?;
    debug_assert_eq!(manifest_digest, digest::sha256(&manifest));
    Ok((config_digest, config, manifest_digest, manifest))
}

/// Import a root filesystem tarball (plain, gzip or zstd) as a one-layer
/// image. Nothing is published unless the whole input was a readable tar.
pub fn import_tarball<R: Read>(
    store: &ImageStore,
    input: R,
    opts: &ImportOptions,
) -> Result<Imported, Error> {
    let l = add_layer(store, input, opts.compression)?;
    let (config_digest, config, manifest_digest, manifest) =
        commit_image(store, std::slice::from_ref(&l), opts)?;
    Ok(Imported {
        diff_id: l.diff_id,
        diff_size: l.diff_size,
        layer_digest: l.digest,
        layer_size: l.size,
        compression: l.compression,
        config_digest,
        config,
        manifest_digest,
        manifest,
        entries: l.entries,
    })
}
