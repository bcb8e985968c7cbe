//! Freeing what `rmi` deleted: the image's blobs (index, manifest, config,
//! compressed layers) and its unpacked layers in the storage driver, except
//! what another image or a container still uses.
//!
//! Docker does the same in two stores: the content store (blobs) and the
//! layer store (chain IDs, reference-counted). Here the references are
//! counted on demand, which is cheap because `rmi` is rare: every remaining
//! image is walked for the blobs and chain IDs it needs, every container's
//! read-write layer for the driver layers under it.

use super::images::Images;
use ::images::digest::Digest;
use ::images::Image;
use std::collections::HashSet;

/// What a collection freed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Freed {
    /// Blobs deleted.
    pub blobs: usize,
    /// Bytes of those blobs.
    pub bytes: u64,
    /// Driver layers removed.
    pub layers: usize,
}

fn blobs_of(img: &Image) -> Vec<Digest> {
    let mut v = vec![img.manifest_digest.clone(), img.config_digest.clone()];
    if let Some((d, _)) = &img.index {
        v.push(d.clone());
    }
    v.extend(img.manifest.layers().iter().map(|l| l.digest().clone()));
    v
}

fn layers_of(img: &Image) -> Vec<String> {
    img.chain_ids()
        .iter()
        .map(::images::layer::driver_layer_id)
        .collect()
}

impl Images {
    /// Deletes the blobs and driver layers of `gone` that nothing else
    /// references. `container_layers` are the containers' read-write layers
    /// (their parents are kept).
    pub fn collect(&self, gone: &Image, container_layers: &[String]) -> Freed {
        let mut keep_blobs: HashSet<Digest> = HashSet::new();
        let mut keep_layers: HashSet<String> = HashSet::new();
        // Tagged images, and the untagged ones a build made and still
        // records (the build cache and `history` name them).
        let made = super::lineage::all(self.store.root())
            .into_values()
            .filter_map(|m| self.resolve_manifest(&m.manifest).ok());
        for img in self.all_images().into_iter().map(|(_, i)| i).chain(made) {
            keep_blobs.extend(blobs_of(&img));
            keep_layers.extend(layers_of(&img));
        }
        let driver = self.driver();
        for top in container_layers {
            let mut cur = Some(top.clone());
            while let Some(id) = cur {
                cur = driver.parent_of(&id);
                keep_layers.insert(id);
            }
        }
        let mut freed = Freed::default();
        for d in blobs_of(gone) {
            if keep_blobs.contains(&d) {
                continue;
            }
            if let Ok(path) = self.store.blobs.blob_path(&d) {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if std::fs::remove_file(&path).is_ok() {
                    freed.blobs += 1;
                    freed.bytes += size;
                }
            }
        }
        // Top first: a layer goes before the parent it sits on.
        for id in layers_of(gone).iter().rev() {
            if !keep_layers.contains(id)
                && driver.root().join(id).is_dir()
                && driver.remove(id).is_ok()
            {
                freed.layers += 1;
            }
        }
        self.forget(gone);
        freed
    }
}
