//! Issue 25: `pull` unpacks each layer into the layer store while it
//! downloads, so the first `create` finds the layers ready; a layer whose
//! bytes do not match their digest leaves nothing behind. (A daemon killed
//! mid-pull: `engine_fault_injection`.) Privileged: fails without root.

use e2e::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The image layers (`ch04-<chain id>`) in the daemon's layer store.
fn image_layers(d: &Daemon) -> Vec<String> {
    d.layers()
        .into_iter()
        .filter(|l| l.starts_with("ch04-"))
        .collect()
}

/// Busybox pushed to a fresh registry by a daemon of its own: its name.
fn pushed_busybox(reg: &Registry) -> String {
    let name = format!("{}/bb:v1", reg.host());
    let a = Daemon::start();
    a.import_busybox("bb");
    a.ok(&["tag", "bb", &name]);
    a.ok(&["push", &name]);
    name
}

/// The largest blob in a store's `blobs/sha256` (the layer, for busybox).
fn largest_blob(root: &Path) -> PathBuf {
    files(&root.join("blobs/sha256"))
        .into_iter()
        .max_by_key(|p| p.metadata().unwrap().len())
        .unwrap()
}

#[test]
fn pull_leaves_the_layers_unpacked_and_create_uses_them_as_they_are() {
    let reg = Registry::start();
    let name = pushed_busybox(&reg);

    let b = Daemon::start();
    assert!(image_layers(&b).is_empty());
    b.ok(&["pull", &name]);
    // Unpacked by the pull itself, before any create, and published whole.
    let layers = image_layers(&b);
    assert_eq!(layers.len(), 1, "{:?}", b.layers());
    assert_eq!(b.layers(), layers, "nothing half-filled is left");
    let sh = b
        .data_root()
        .join("layers")
        .join(&layers[0])
        .join("diff/bin/busybox");
    let inode = std::fs::metadata(&sh).unwrap().ino();
    // create adds only the container's rw layer: the image layer is the
    // same directory (same inode), not unpacked a second time.
    let id = b.ok(&["create", "--network", "none", &name, "echo", "ready"]);
    assert_eq!(std::fs::metadata(&sh).unwrap().ino(), inode);
    assert_eq!(image_layers(&b), layers);
    assert_eq!(b.layers().len(), 2, "{:?}", b.layers());
    b.ok(&["start", id.trim()]);
    assert_eq!(b.ok(&["wait", id.trim()]), "0\n");
    assert_eq!(b.ok(&["logs", id.trim()]), "ready\n");
}

#[test]
fn a_layer_that_fails_its_digest_is_not_kept_half_unpacked() {
    let reg = Registry::start();
    let name = pushed_busybox(&reg);
    // One byte of the layer changed on the registry's disk, size kept: the
    // bytes stream into the unpack before the digest can be known.
    let blob = largest_blob(reg.root());
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&blob, &bytes).unwrap();

    let b = Daemon::start();
    let out = b.cli(&["pull", &name]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.to_lowercase().contains("digest"), "{text}");
    // Nothing of the layer: not in the layer store (not even a temporary
    // directory), not among the blobs, no image.
    assert_eq!(b.layers(), Vec::<String>::new());
    let hex = blob.file_name().unwrap().to_string_lossy().into_owned();
    assert!(!b.data_root().join("blobs/sha256").join(&hex).exists());
    assert!(!b.ok(&["images"]).contains("/bb"));
}
