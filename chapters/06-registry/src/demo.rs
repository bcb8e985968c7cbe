//! Images to push around: chapter 04's busybox image, and synthetic ones
//! for tests and the benchmark.

use std::fs::File;
use std::path::Path;

use chapter04::import::{self, ImportOptions};
use chapter04::media::Compression;
use chapter04::{Digest, ImageStore};

/// Why a demo image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Chapter 01 could not build the busybox root filesystem.
    #[error("build the busybox rootfs (chapter 01): {0}")]
    Rootfs(String),
    /// Chapter 03 could not tar it.
    #[error("tar the rootfs (chapter 03): {0}")]
    Tar(String),
    /// Chapter 04 refused the layer or the image.
    #[error(transparent)]
    Image(#[from] chapter04::Error),
    /// A temp file failed.
    #[error("{step}")]
    Io {
        /// What was done.
        step: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

/// Chapter 04's busybox image: chapter 01's rootfs, tarred by chapter 03,
/// gzip'ed into a layer, given a config and a manifest, tagged `name`.
/// Needs no root. Returns the manifest digest.
pub fn busybox_image(store: &ImageStore, work: &Path, name: &str) -> Result<Digest, DemoError> {
    let rootfs = chapter01::rootfs::build_busybox_rootfs(&work.join("rootfs"))
        .map_err(|e| DemoError::Rootfs(e.to_string()))?;
    let tar_path = work.join("layer.tar");
    let out = File::create(&tar_path).map_err(|source| DemoError::Io {
        step: "create layer.tar",
        source,
    })?;
    chapter03::diff_against(None, &rootfs.path, out).map_err(|e| DemoError::Tar(e.to_string()))?;
    let tar = File::open(&tar_path).map_err(|source| DemoError::Io {
        step: "open layer.tar",
        source,
    })?;
    let layer = import::add_layer(store, tar, Compression::Gzip)?;
    let mut opts = ImportOptions {
        created_by: "chapter06: busybox rootfs from chapter 01".into(),
        ..Default::default()
    };
    opts.config.set_cmd(Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo hello from the registry".into(),
    ]));
    opts.config.set_env(Some(vec!["PATH=/bin:/sbin".into()]));
    let (_, _, manifest_digest, _) = import::commit_image(store, &[layer], &opts)?;
    store.tag(name, &manifest_digest)?;
    Ok(manifest_digest)
}

/// An image of `layers.len()` layers, each one file of pseudo-random bytes
/// of the given size (so gzip cannot shrink it), seeded for reproducibility.
pub fn synthetic_image(
    store: &ImageStore,
    name: &str,
    layers: &[usize],
    seed: u64,
) -> Result<Digest, DemoError> {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut added = Vec::new();
    for (i, &size) in layers.iter().enumerate() {
        let mut data = vec![0u8; size];
        rng.fill_bytes(&mut data);
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(size as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, format!("layer{i}.bin"), &data[..])
            .map_err(|source| DemoError::Io {
                step: "build a layer tar",
                source,
            })?;
        let tar = b.into_inner().map_err(|source| DemoError::Io {
            step: "finish a layer tar",
            source,
        })?;
        added.push(import::add_layer(store, &tar[..], Compression::Gzip)?);
    }
    let opts = ImportOptions {
        created_by: format!("chapter06: synthetic image, seed {seed}"),
        ..Default::default()
    };
    let (_, _, manifest_digest, _) = import::commit_image(store, &added, &opts)?;
    store.tag(name, &manifest_digest)?;
    Ok(manifest_digest)
}
