//! Interop with the real tools (skopeo, umoci; CI installs them from
//! Debian packages): an image saved here loads in them and one saved by
//! them loads here, with the same digests. Only local directories and
//! archives are used; nothing talks to a registry.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use chapter04::archive::{load_docker_archive, save_docker_archive};
use chapter04::digest;
use chapter04::image::ImageStore;
use chapter04::layer::{unpack_flat, UnpackOptions};
use chapter04::layout::{load_oci_layout, save_oci_layout};
use chapter04::media::Compression;
use chapter04::source::{DirSource, TarSource};
use chapter04::PlatformSpec;
use common::{image_of, require_root, tar_of, E};

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e} (install it: apt-get install skopeo umoci)"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn skopeo(args: &[&str]) -> String {
    // No policy file lookups outside the test, no registry: local transports only.
    let mut a = vec!["--insecure-policy"];
    a.extend_from_slice(args);
    tool("skopeo", &a)
}

/// A two-layer image with a whiteout, tagged `ch04/interop:latest`.
fn make_image(store: &ImageStore, c: Compression) -> chapter04::Image {
    let l1 = tar_of(&[
        E::Dir("etc/"),
        E::File("etc/hello", b"hello\n"),
        E::File("etc/gone", b"bye\n"),
        E::Symlink("etc/link", "hello"),
    ]);
    let l2 = tar_of(&[
        E::Dir("etc/"),
        E::File("etc/.wh.gone", b""),
        E::File("etc/added", b"new\n"),
    ]);
    let img = image_of(store, &[l1, l2], c);
    store
        .tag("ch04/interop:latest", &img.manifest_digest)
        .unwrap();
    img
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn an_oci_layout_saved_here_reads_in_skopeo_and_umoci() {
    require_root();
    let t = tempfile::Builder::new()
        .prefix("ch04-interop-")
        .tempdir()
        .unwrap();
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let img = make_image(&store, Compression::Gzip);
    let lay = t.path().join("layout");
    save_oci_layout(&store, &["ch04/interop:latest"], &lay).unwrap();
    let src = format!("oci:{}:latest", s(&lay));

    // skopeo sees our exact manifest and config bytes.
    let raw = skopeo(&["inspect", "--raw", &src]);
    assert_eq!(digest::sha256(raw.as_bytes()), img.manifest_digest);
    let cfg = skopeo(&["inspect", "--config", "--raw", &src]);
    assert_eq!(digest::sha256(cfg.as_bytes()), img.config_digest);

    // umoci unpacks it to the same tree as ours.
    let bundle = t.path().join("bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:latest", s(&lay)),
            &s(&bundle),
        ],
    );
    let ours = t.path().join("ours");
    unpack_flat(&store.blobs, &img, &ours, &UnpackOptions::default()).unwrap();
    for f in ["etc/hello", "etc/added"] {
        assert_eq!(
            fs::read(bundle.join("rootfs").join(f)).unwrap(),
            fs::read(ours.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(!bundle.join("rootfs/etc/gone").exists() && !ours.join("etc/gone").exists());
    assert_eq!(
        fs::read_link(bundle.join("rootfs/etc/link")).unwrap(),
        fs::read_link(ours.join("etc/link")).unwrap()
    );
}

#[test]
fn a_docker_archive_saved_here_reads_in_skopeo_and_back() {
    require_root();
    let t = tempfile::Builder::new()
        .prefix("ch04-interop-")
        .tempdir()
        .unwrap();
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let img = make_image(&store, Compression::Zstd);
    let tarball = t.path().join("saved.tar");
    save_docker_archive(&store, &["ch04/interop:latest"], &tarball).unwrap();

    // skopeo reads our docker-save tarball: same image ID (config digest).
    let src = format!("docker-archive:{}", s(&tarball));
    let cfg = skopeo(&["inspect", "--config", "--raw", &src]);
    assert_eq!(digest::sha256(cfg.as_bytes()), img.config_digest);

    // skopeo rewrites it as a docker-archive of its own; we load that.
    let theirs = t.path().join("theirs.tar");
    skopeo(&[
        "copy",
        &src,
        &format!("docker-archive:{}:ch04/again:v1", s(&theirs)),
    ]);
    let store2 = ImageStore::open(&t.path().join("store2")).unwrap();
    let loaded = load_docker_archive(
        &store2,
        &TarSource::open(&theirs).unwrap(),
        &PlatformSpec::default(),
    )
    .unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].config_digest, img.config_digest);
    let again = store2
        .resolve(&loaded[0].names[0], Some(&PlatformSpec::default()))
        .unwrap();
    assert_eq!(again.diff_ids, img.diff_ids);
    // Layers from a docker archive are plain tars: digest == diff ID.
    for (l, d) in again.manifest.layers().iter().zip(&again.diff_ids) {
        assert_eq!(l.digest(), d);
    }
    unpack_flat(
        &store2.blobs,
        &again,
        &t.path().join("root"),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::read(t.path().join("root/etc/added")).unwrap(), b"new\n");
}

#[test]
fn an_oci_layout_written_by_skopeo_loads_here_with_the_same_digests() {
    require_root();
    let t = tempfile::Builder::new()
        .prefix("ch04-interop-")
        .tempdir()
        .unwrap();
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let img = make_image(&store, Compression::None);
    let ours = t.path().join("ours.tar");
    save_docker_archive(&store, &["ch04/interop:latest"], &ours).unwrap();
    // docker-archive -> OCI layout by skopeo (it may compress the layers).
    let lay = t.path().join("skopeo-layout");
    skopeo(&[
        "copy",
        &format!("docker-archive:{}", s(&ours)),
        &format!("oci:{}:v2", s(&lay)),
    ]);
    let raw = skopeo(&["inspect", "--raw", &format!("oci:{}:v2", s(&lay))]);
    let cfg = skopeo(&[
        "inspect",
        "--config",
        "--raw",
        &format!("oci:{}:v2", s(&lay)),
    ]);
    let store2 = ImageStore::open(&t.path().join("store2")).unwrap();
    let loaded = load_oci_layout(
        &store2,
        &DirSource::new(&lay),
        Some("v2"),
        "ch04/skopeo",
        &PlatformSpec::default(),
    )
    .unwrap();
    assert_eq!(loaded[0].names, ["ch04/skopeo:v2"]);
    assert_eq!(loaded[0].manifest_digest, digest::sha256(raw.as_bytes()));
    // skopeo re-serializes the config when it turns a Docker manifest into
    // an OCI one, so the image ID is skopeo's, while the diff IDs survive.
    assert_eq!(loaded[0].config_digest, digest::sha256(cfg.as_bytes()));
    let again = store2.resolve("ch04/skopeo:v2", None).unwrap();
    assert_eq!(again.diff_ids, img.diff_ids);
    unpack_flat(
        &store2.blobs,
        &again,
        &t.path().join("root"),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fs::read(t.path().join("root/etc/hello")).unwrap(),
        b"hello\n"
    );
    assert!(!t.path().join("root/etc/gone").exists());
}

#[test]
fn an_image_made_by_umoci_loads_here() {
    require_root();
    let t = tempfile::Builder::new()
        .prefix("ch04-interop-")
        .tempdir()
        .unwrap();
    let lay = t.path().join("umoci-layout");
    let l = s(&lay);
    tool("umoci", &["init", "--layout", &l]);
    tool("umoci", &["new", "--image", &format!("{l}:base")]);
    let bundle = t.path().join("bundle");
    tool(
        "umoci",
        &["unpack", "--image", &format!("{l}:base"), &s(&bundle)],
    );
    fs::create_dir_all(bundle.join("rootfs/srv")).unwrap();
    fs::write(bundle.join("rootfs/srv/made-by-umoci"), b"umoci\n").unwrap();
    tool(
        "umoci",
        &["repack", "--image", &format!("{l}:base"), &s(&bundle)],
    );
    tool(
        "umoci",
        &[
            "config",
            "--image",
            &format!("{l}:base"),
            "--config.cmd",
            "/bin/true",
            "--os",
            "linux",
            "--architecture",
            "amd64",
        ],
    );
    let raw = skopeo(&["inspect", "--raw", &format!("oci:{l}:base")]);
    let cfg = skopeo(&["inspect", "--config", "--raw", &format!("oci:{l}:base")]);
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let loaded = load_oci_layout(
        &store,
        &DirSource::new(&lay),
        Some("base"),
        "ch04/umoci",
        &PlatformSpec::default(),
    )
    .unwrap();
    assert_eq!(loaded[0].manifest_digest, digest::sha256(raw.as_bytes()));
    assert_eq!(loaded[0].config_digest, digest::sha256(cfg.as_bytes()));
    let img = store.resolve("ch04/umoci:base", None).unwrap();
    assert_eq!(
        img.config.config().as_ref().unwrap().cmd().as_deref(),
        Some(&["/bin/true".to_string()][..])
    );
    unpack_flat(
        &store.blobs,
        &img,
        &t.path().join("root"),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fs::read(t.path().join("root/srv/made-by-umoci")).unwrap(),
        b"umoci\n"
    );
}

#[test]
fn skopeo_oci_to_oci_keeps_every_digest_and_zstd_layers_load_here() {
    require_root();
    let t = tempfile::Builder::new()
        .prefix("ch04-interop-")
        .tempdir()
        .unwrap();
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let img = make_image(&store, Compression::Gzip);
    let lay = t.path().join("layout");
    save_oci_layout(&store, &["ch04/interop:latest"], &lay).unwrap();
    // A plain copy keeps the bytes: same manifest digest.
    let copy = t.path().join("copy");
    skopeo(&[
        "copy",
        &format!("oci:{}:latest", s(&lay)),
        &format!("oci:{}:c", s(&copy)),
    ]);
    let store2 = ImageStore::open(&t.path().join("store2")).unwrap();
    let l = load_oci_layout(
        &store2,
        &DirSource::new(&copy),
        Some("c"),
        "ch04/copy",
        &PlatformSpec::default(),
    )
    .unwrap();
    assert_eq!(l[0].manifest_digest, img.manifest_digest);
    assert_eq!(l[0].config_digest, img.config_digest);
    // Recompressed with zstd: new layer digests, same diff IDs.
    let z = t.path().join("zstd");
    skopeo(&[
        "copy",
        "--dest-compress-format",
        "zstd",
        &format!("oci:{}:latest", s(&lay)),
        &format!("oci:{}:z", s(&z)),
    ]);
    let store3 = ImageStore::open(&t.path().join("store3")).unwrap();
    let l = load_oci_layout(
        &store3,
        &DirSource::new(&z),
        Some("z"),
        "ch04/zstd",
        &PlatformSpec::default(),
    )
    .unwrap();
    let zimg = store3.resolve(&l[0].names[0], None).unwrap();
    assert_eq!(zimg.diff_ids, img.diff_ids);
    assert!(zimg
        .manifest
        .layers()
        .iter()
        .all(|d| d.media_type().to_string().ends_with("+zstd")));
    unpack_flat(
        &store3.blobs,
        &zimg,
        &t.path().join("root"),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::read(t.path().join("root/etc/added")).unwrap(), b"new\n");
}
