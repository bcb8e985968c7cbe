//! Bad input at load time: a clear error, and the store exactly as before.

mod common;

use std::fs;
use std::path::Path;

use chapter04::digest;
use chapter04::image::ImageStore;
use chapter04::layout::{load_oci_layout, save_oci_layout};
use chapter04::media::Compression;
use chapter04::source::DirSource;
use chapter04::{Error, PlatformSpec};
use common::{files_under, image_of, tar_of, E};

struct Fixture {
    _t: tempfile::TempDir,
    layout: std::path::PathBuf,
    target: ImageStore,
    target_root: std::path::PathBuf,
    image: chapter04::Image,
}

/// An image saved as an OCI layout, and an empty store (with one image of
/// its own) to load it into.
fn fixture() -> Fixture {
    let t = tempfile::Builder::new()
        .prefix("ch04-load-")
        .tempdir()
        .unwrap();
    let src = ImageStore::open(&t.path().join("src")).unwrap();
    let image = image_of(
        &src,
        &[tar_of(&[E::File("a", b"aaaa"), E::File("b", b"bbbb")])],
        Compression::Gzip,
    );
    src.tag("ch04/bad:latest", &image.manifest_digest).unwrap();
    let layout = t.path().join("layout");
    save_oci_layout(&src, &["ch04/bad:latest"], &layout).unwrap();
    let target_root = t.path().join("target");
    let target = ImageStore::open(&target_root).unwrap();
    let other = image_of(&target, &[tar_of(&[E::File("x", b"x")])], Compression::Gzip);
    target
        .tag("ch04/other:latest", &other.manifest_digest)
        .unwrap();
    Fixture {
        _t: t,
        layout,
        target,
        target_root,
        image,
    }
}

fn blob(layout: &Path, d: &digest::Digest) -> std::path::PathBuf {
    layout.join("blobs/sha256").join(digest::hex_of(d))
}

fn load_fails(f: &Fixture) -> Error {
    let before = files_under(&f.target_root);
    let tags = f.target.tags().unwrap();
    let e = load_oci_layout(
        &f.target,
        &DirSource::new(&f.layout),
        None,
        "x",
        &PlatformSpec::default(),
    )
    .unwrap_err();
    assert_eq!(
        files_under(&f.target_root),
        before,
        "the store changed after: {e}"
    );
    assert_eq!(f.target.tags().unwrap(), tags);
    e
}

#[test]
fn digest_mismatch() {
    let f = fixture();
    let layer = f.image.manifest.layers()[0].digest().clone();
    let p = blob(&f.layout, &layer);
    let mut bytes = fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    fs::write(&p, bytes).unwrap();
    let e = load_fails(&f);
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&layer.to_string()), "{e}");
}

#[test]
fn truncated_blob() {
    let f = fixture();
    let layer = f.image.manifest.layers()[0].digest().clone();
    let p = blob(&f.layout, &layer);
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
    let e = load_fails(&f);
    assert!(e.to_string().contains("truncated"), "{e}");
}

/// Replace the manifest with `new` (and fix index.json to point at it).
fn replace_manifest(f: &Fixture, new: &[u8]) {
    let d = digest::sha256(new);
    fs::write(blob(&f.layout, &d), new).unwrap();
    let idx = fs::read_to_string(f.layout.join("index.json")).unwrap();
    let idx = idx
        .replace(f.image.manifest_digest.as_ref(), d.as_ref())
        .replace(
            &format!("\"size\":{}", f.image.manifest_size),
            &format!("\"size\":{}", new.len()),
        );
    fs::write(f.layout.join("index.json"), idx).unwrap();
}

#[test]
fn oversized_manifest() {
    let f = fixture();
    let mut m = fs::read(blob(&f.layout, &f.image.manifest_digest)).unwrap();
    m.extend(vec![b' '; 4 * 1024 * 1024]);
    replace_manifest(&f, &m);
    let e = load_fails(&f);
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("4 MiB"), "{e}");
}

#[test]
fn unknown_media_type() {
    let f = fixture();
    let m = fs::read_to_string(blob(&f.layout, &f.image.manifest_digest)).unwrap();
    replace_manifest(
        &f,
        m.replace(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/x-mystery",
        )
        .as_bytes(),
    );
    let e = load_fails(&f);
    assert!(matches!(e, Error::UnknownMediaType { .. }), "{e}");
    assert!(e.to_string().contains("application/x-mystery"), "{e}");
}

#[test]
fn contradictory_manifest() {
    let f = fixture();
    let m = fs::read_to_string(blob(&f.layout, &f.image.manifest_digest)).unwrap();
    replace_manifest(&f, m.replacen('{', r#"{"manifests":[],"#, 1).as_bytes());
    let e = load_fails(&f);
    assert!(e.to_string().contains("both an index"), "{e}");
}

#[test]
fn hostile_digest_in_index() {
    let f = fixture();
    let idx = fs::read_to_string(f.layout.join("index.json")).unwrap();
    fs::write(
        f.layout.join("index.json"),
        idx.replace(
            f.image.manifest_digest.as_ref(),
            "sha256:../../../../etc/passwd",
        ),
    )
    .unwrap();
    let e = load_fails(&f);
    assert!(
        e.to_string().contains("invalid digest") || matches!(e, Error::Json { .. }),
        "{e}"
    );
}

#[test]
fn a_good_load_works_and_is_idempotent() {
    let f = fixture();
    for _ in 0..2 {
        let l = load_oci_layout(
            &f.target,
            &DirSource::new(&f.layout),
            None,
            "x",
            &PlatformSpec::default(),
        )
        .unwrap();
        assert_eq!(l[0].manifest_digest, f.image.manifest_digest);
    }
    assert_eq!(
        f.target.resolve("ch04/bad", None).unwrap().config_digest,
        f.image.config_digest
    );
    assert!(
        fs::read_dir(f.target_root.join("ingest"))
            .unwrap()
            .next()
            .is_none(),
        "temp files left in ingest/"
    );
}
