//! Helpers for the integration tests: hand-made (hostile) tars, images
//! built from them, tree snapshots.
#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use chapter04::image::{resolve_digest, Image, ImageStore};
use chapter04::import::{add_layer, commit_image, ImportOptions};
use chapter04::media::Compression;

/// Privileged tests fail (never skip) without root.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test sets owners, makes device nodes and mounts: run it as root (sudo -E cargo test -p chapter04)"
    );
}

/// One tar entry, with raw (unvalidated) names.
#[derive(Clone, Debug)]
pub enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    FileMode(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
}

fn raw_header(name: &str, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    let bytes = name.as_bytes();
    assert!(bytes.len() < 100, "test names are short");
    let n = &mut h.as_old_mut().name;
    n.fill(0);
    n[..bytes.len()].copy_from_slice(bytes);
    h
}

/// A tar with exactly these entries, names written byte for byte.
pub fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (mut h, data): (tar::Header, &[u8]) = match e {
            E::Dir(n) => (raw_header(n, tar::EntryType::Directory, 0, 0o755), b""),
            E::File(n, d) => (
                raw_header(n, tar::EntryType::Regular, d.len() as u64, 0o644),
                d,
            ),
            E::FileMode(n, d, m) => (
                raw_header(n, tar::EntryType::Regular, d.len() as u64, *m),
                d,
            ),
            E::Symlink(n, t) | E::Hardlink(n, t) => {
                let kind = if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = raw_header(n, kind, 0, 0o777);
                let l = &mut h.as_old_mut().linkname;
                l.fill(0);
                l[..t.len()].copy_from_slice(t.as_bytes());
                (h, b"")
            }
            E::Char(n, major, minor) => {
                let mut h = raw_header(n, tar::EntryType::Char, 0, 0o600);
                // GNU headers hold 7 octal digits: enough for out-of-range numbers.
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                (h, b"")
            }
        };
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(vec![0u8; pad]);
    }
    out.extend(vec![0u8; 1024]);
    out
}

/// An image in `store` made of these layer tars (bottom first).
pub fn image_of(store: &ImageStore, layers: &[Vec<u8>], c: Compression) -> Image {
    let added: Vec<_> = layers
        .iter()
        .map(|t| add_layer(store, &t[..], c).unwrap())
        .collect();
    let mut opts = ImportOptions::default();
    opts.config.set_cmd(Some(vec!["/bin/sh".into()]));
    let (_, _, md, _) = commit_image(store, &added, &opts).unwrap();
    resolve_digest(&store.blobs, &md, None, None).unwrap()
}

/// Path -> (kind, mode, size/target, content hash, nlink, mtime) for a tree.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if m.file_type().is_symlink() {
                format!("l -> {}", fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                "d".to_string()
            } else {
                format!("f {:?}", fs::read(&p).unwrap_or_default())
            };
            out.insert(
                rel,
                format!(
                    "{what} mode={:o} uid={} nlink={} mtime={}.{}",
                    m.mode(),
                    m.uid(),
                    m.nlink(),
                    m.mtime(),
                    m.mtime_nsec()
                ),
            );
        }
    }
    // The root itself.
    let m = fs::symlink_metadata(root).unwrap();
    out.insert(
        ".".into(),
        format!("mode={:o} mtime={}.{}", m.mode(), m.mtime(), m.mtime_nsec()),
    );
    out
}

/// Every file under a directory (relative), to check a store is unchanged.
pub fn files_under(p: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            out.push(e.path().strip_prefix(p).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}
