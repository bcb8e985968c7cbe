//! Issue 14, hostile images: chapter 04's corpus of path-escaping layers
//! delivered through `load`, `import` and `pull`, and broken archives
//! (altered layer, altered manifest, `sha256:../../x`, index+manifest,
//! oversized manifest). Each is refused (or contained) with a clear error;
//! the host's victim directory stays byte for byte what it was, and the
//! store holds no partial blob, no half-made image and no stray temp file.
//! Privileged: fails (never skips) without root.

// Chapter 04's test helpers (hand-made tars, images from them, tree
// snapshots) name the crate `chapter04`; the engine calls it `images`.
extern crate images as chapter04;

#[path = "../../chapters/04-images/tests/common/mod.rs"]
mod ch04;

use ch04::{image_of, snapshot, tar_of, E};
use chapter04::image::ImageStore;
use chapter04::media::Compression;
use e2e::*;
use std::path::{Path, PathBuf};

/// The store as files: blob names, image list, temp and ingest leftovers.
fn store_state(d: &Daemon) -> (Vec<String>, String) {
    let root = d.data_root();
    let mut blobs: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    blobs.sort();
    (blobs, d.ok(&["images", "-q"]))
}

/// No temp file, ingest file or half-unpacked layer anywhere in the store.
#[track_caller]
fn no_leftovers(d: &Daemon) {
    let root = d.data_root();
    let out = std::process::Command::new("find")
        .arg(&root)
        .args([
            "(",
            "-name",
            ".tmp*",
            "-o",
            "-name",
            ".ingest-*",
            "-o",
            "-name",
            ".ch04-unpacking-*",
            ")",
            "-print",
        ])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "leftovers: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A hostile image: its layers with `VICTIM` replaced by the victim's path.
fn hostile_store(dir: &Path, victim: &Path, name: &str, layers: &[&[E<'_>]]) -> ImageStore {
    let store = ImageStore::open(&dir.join(format!("src-{name}"))).unwrap();
    let vabs = victim.display().to_string();
    let mut tars = Vec::new();
    for l in layers {
        let strings: Vec<(String, String)> = l
            .iter()
            .map(|e| match e {
                E::Dir(n) | E::File(n, _) | E::FileMode(n, _, _) | E::Char(n, _, _) => {
                    (n.replace("VICTIM", &vabs), String::new())
                }
                E::Symlink(n, t) | E::Hardlink(n, t) => {
                    (n.replace("VICTIM", &vabs), t.replace("VICTIM", &vabs))
                }
            })
            .collect();
        let es: Vec<E<'_>> = l
            .iter()
            .zip(&strings)
            .map(|(e, (n, t))| match e {
                E::Dir(_) => E::Dir(n),
                E::File(_, d) => E::File(n, d),
                E::FileMode(_, d, m) => E::FileMode(n, d, *m),
                E::Char(_, a, b) => E::Char(n, *a, *b),
                E::Symlink(..) => E::Symlink(n, t),
                E::Hardlink(..) => E::Hardlink(n, t),
            })
            .collect();
        tars.push(tar_of(&es));
    }
    let img = image_of(&store, &tars, Compression::Gzip);
    store
        .tag(&format!("{name}:latest"), &img.manifest_digest)
        .unwrap();
    store
}

fn make_victim(v: &Path) {
    std::fs::create_dir_all(v.join("dir")).unwrap();
    std::fs::write(v.join("secret"), b"do not touch").unwrap();
    std::fs::write(v.join("dir/inner"), b"inner").unwrap();
}

/// The corpus (after chapter 04's `tests/malicious.rs`).
fn corpus() -> Vec<(&'static str, Vec<Vec<E<'static>>>)> {
    vec![
        ("hd-abs-name", vec![vec![E::File("VICTIM/pwned", b"x")]]),
        (
            "hd-dotdot",
            vec![vec![E::File(
                "../../../../../../../../../../VICTIM/pwned",
                b"x",
            )]],
        ),
        (
            "hd-rel-symlink",
            vec![vec![
                E::Symlink("evil", "../../../../../../../../../..VICTIM"),
                E::File("evil/secret", b"pwned"),
            ]],
        ),
        (
            "hd-abs-symlink",
            vec![vec![
                E::Symlink("evil", "VICTIM"),
                E::File("evil/secret", b"pwned"),
            ]],
        ),
        (
            "hd-abs-symlink-file",
            vec![vec![
                E::Symlink("evil", "VICTIM/secret"),
                E::File("evil", b"pwned"),
            ]],
        ),
        (
            "hd-chain",
            vec![vec![
                E::Symlink("a", "b"),
                E::Symlink("b", "c/../../../../../../../../.."),
                E::Dir("c"),
                E::Symlink("d", "a/VICTIM"),
                E::File("d/secret", b"pwned"),
            ]],
        ),
        (
            "hd-replaced",
            vec![
                vec![E::Dir("d"), E::File("d/f", b"ok")],
                vec![E::Symlink("d", "VICTIM"), E::File("d/secret", b"pwned")],
            ],
        ),
        ("hd-hardlink", vec![vec![E::Hardlink("h", "VICTIM/secret")]]),
        (
            "hd-hardlink-symlink",
            vec![vec![
                E::Symlink("s", "VICTIM"),
                E::Hardlink("h", "s/secret"),
            ]],
        ),
        (
            "hd-whiteout",
            vec![
                vec![E::Symlink("s", "VICTIM")],
                vec![E::File("s/.wh.secret", b"")],
            ],
        ),
        (
            "hd-opaque",
            vec![
                vec![E::Symlink("s", "VICTIM")],
                vec![E::File("s/.wh..wh..opq", b"")],
            ],
        ),
        ("hd-wh-dotdot", vec![vec![E::File(".wh..", b"")]]),
        ("hd-device", vec![vec![E::Char("dev", 4096, 0)]]),
    ]
}

/// Loads (or imports) every hostile image and creates a container from
/// it: each step either refuses or stays inside the store.
#[test]
fn the_path_escape_corpus_through_load_and_import_never_touches_the_host() {
    let d = Daemon::start();
    let work = tempfile::Builder::new()
        .prefix("md-hd-corpus-")
        .tempdir()
        .unwrap();
    let victim = work.path().join("victim");
    make_victim(&victim);
    let before = snapshot(&victim);
    let (blobs0, _) = store_state(&d);
    assert!(blobs0.is_empty());
    for (name, layers) in corpus() {
        let layers: Vec<&[E<'_>]> = layers.iter().map(Vec::as_slice).collect();
        let store = hostile_store(work.path(), &victim, name, &layers);
        // load: a docker-archive of it.
        let archive = work.path().join(format!("{name}.tar"));
        chapter04::archive::save_docker_archive(&store, &[&format!("{name}:latest")], &archive)
            .unwrap();
        let loaded = d.cli(&["load", "-i", archive.to_str().unwrap()]);
        eprintln!(
            "{name}: load: {}",
            String::from_utf8_lossy(&loaded.stderr).trim()
        );
        if loaded.status.success() {
            let created = d.cli(&["create", "--name", name, name]);
            eprintln!(
                "{name}: create: {}",
                String::from_utf8_lossy(&created.stderr).trim()
            );
            if created.status.success() {
                let out = d.cli(&["start", "-a", name]);
                let _ = out;
                d.ok(&["rm", "-f", name]);
            } else {
                let err = String::from_utf8_lossy(&created.stderr);
                assert!(err.contains("Error"), "{name}: {err}");
                assert!(
                    !d.ids().iter().any(|_| true),
                    "{name}: a refused create left a container"
                );
            }
            d.ok(&["rmi", "-f", name]);
        } else {
            let err = String::from_utf8_lossy(&loaded.stderr);
            assert!(!err.trim().is_empty(), "{name}: a refusal says why");
        }
        // import: the first layer alone as a rootfs tarball.
        let vabs = victim.display().to_string();
        let first: Vec<(String, String)> = layers[0]
            .iter()
            .map(|e| match e {
                E::Symlink(n, t) | E::Hardlink(n, t) => {
                    (n.replace("VICTIM", &vabs), t.replace("VICTIM", &vabs))
                }
                E::Dir(n) | E::File(n, _) | E::FileMode(n, _, _) | E::Char(n, _, _) => {
                    (n.replace("VICTIM", &vabs), String::new())
                }
            })
            .collect();
        let es: Vec<E<'_>> = layers[0]
            .iter()
            .zip(&first)
            .map(|(e, (n, t))| match e {
                E::Dir(_) => E::Dir(n),
                E::File(_, d) => E::File(n, d),
                E::FileMode(_, d, m) => E::FileMode(n, d, *m),
                E::Char(_, a, b) => E::Char(n, *a, *b),
                E::Symlink(..) => E::Symlink(n, t),
                E::Hardlink(..) => E::Hardlink(n, t),
            })
            .collect();
        let rootfs = work.path().join(format!("{name}-rootfs.tar"));
        std::fs::write(&rootfs, tar_of(&es)).unwrap();
        let tag = format!("{name}-imp");
        let imported = d.cli(&["import", rootfs.to_str().unwrap(), &tag]);
        eprintln!(
            "{name}: import: {}",
            String::from_utf8_lossy(&imported.stderr).trim()
        );
        if imported.status.success() {
            let created = d.cli(&["create", "--name", &tag, &tag, "/x"]);
            eprintln!(
                "{name}: create imported: {}",
                String::from_utf8_lossy(&created.stderr).trim()
            );
            if created.status.success() {
                d.ok(&["rm", "-f", &tag]);
            }
            d.ok(&["rmi", "-f", &tag]);
        }
        assert_eq!(snapshot(&victim), before, "{name} changed the victim");
        assert!(d.ids().is_empty(), "{name}: a container is left");
        no_leftovers(&d);
    }
    // Nothing of the corpus is left in the store either.
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(snapshot(&victim), before);
}

/// A small good image saved as an OCI layout directory.
struct Layout {
    _t: tempfile::TempDir,
    dir: PathBuf,
    manifest: String,
    manifest_size: u64,
}

fn good_layout(name: &str) -> Layout {
    let t = tempfile::Builder::new()
        .prefix("md-hd-layout-")
        .tempdir()
        .unwrap();
    let store = ImageStore::open(&t.path().join("src")).unwrap();
    let img = image_of(
        &store,
        &[tar_of(&[E::File("a", b"aaaa"), E::File("b", b"bbbb")])],
        Compression::Gzip,
    );
    store
        .tag(&format!("{name}:latest"), &img.manifest_digest)
        .unwrap();
    let dir = t.path().join("layout");
    chapter04::layout::save_oci_layout(&store, &[&format!("{name}:latest")], &dir).unwrap();
    Layout {
        dir,
        manifest: img.manifest_digest.to_string(),
        manifest_size: img.manifest_size,
        _t: t,
    }
}

impl Layout {
    fn blob(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// Replaces the manifest by `new`, pointing index.json at it.
    fn replace_manifest(&self, new: &[u8]) {
        let d = format!("sha256:{}", sha256_hex(new));
        std::fs::write(self.blob(&d), new).unwrap();
        let idx = std::fs::read_to_string(self.dir.join("index.json")).unwrap();
        let idx = idx.replace(&self.manifest, &d).replace(
            &format!("\"size\":{}", self.manifest_size),
            &format!("\"size\":{}", new.len()),
        );
        std::fs::write(self.dir.join("index.json"), idx).unwrap();
    }

    fn tar(&self) -> PathBuf {
        let out = self.dir.with_extension("tar");
        let st = std::process::Command::new("tar")
            .arg("-C")
            .arg(&self.dir)
            .arg("-cf")
            .arg(&out)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        out
    }
}

fn sha256_hex(b: &[u8]) -> String {
    let d = chapter04::digest::sha256(b);
    chapter04::digest::hex_of(&d).to_string()
}

#[test]
fn broken_archives_are_refused_and_leave_the_store_as_it_was() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let before = store_state(&d);
    type Alter = Box<dyn Fn(&Layout)>;
    let cases: Vec<(&str, Alter, &[&str])> = vec![
        (
            "altered layer",
            Box::new(|l: &Layout| {
                let m: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(l.blob(&l.manifest)).unwrap()).unwrap();
                let layer = l.blob(m["layers"][0]["digest"].as_str().unwrap());
                let mut b = std::fs::read(&layer).unwrap();
                let n = b.len();
                b[n / 2] ^= 0xff;
                std::fs::write(&layer, b).unwrap();
            }),
            &["digest", "mismatch", "does not match", "corrupt", "invalid"],
        ),
        (
            "altered manifest",
            Box::new(|l: &Layout| {
                let p = l.blob(&l.manifest);
                let mut b = std::fs::read(&p).unwrap();
                b.push(b' ');
                std::fs::write(&p, b).unwrap();
            }),
            &["digest", "size", "mismatch", "does not match"],
        ),
        (
            "sha256:../../x",
            Box::new(|l: &Layout| {
                let idx = std::fs::read_to_string(l.dir.join("index.json")).unwrap();
                std::fs::write(
                    l.dir.join("index.json"),
                    idx.replace(&l.manifest, "sha256:../../../../etc/passwd"),
                )
                .unwrap();
            }),
            &["digest", "Invalid encoded value ../../"],
        ),
        (
            "index and manifest",
            Box::new(|l: &Layout| {
                let m = std::fs::read_to_string(l.blob(&l.manifest)).unwrap();
                l.replace_manifest(m.replacen('{', r#"{"manifests":[],"#, 1).as_bytes());
            }),
            &["both an index"],
        ),
        (
            "oversized manifest",
            Box::new(|l: &Layout| {
                let mut m = std::fs::read(l.blob(&l.manifest)).unwrap();
                m.extend(vec![b' '; 4 * 1024 * 1024]);
                l.replace_manifest(&m);
            }),
            &["4 MiB"],
        ),
    ];
    for (what, alter, words) in cases {
        let l = good_layout("hd-broken");
        alter(&l);
        let out = d.cli(&["load", "-i", l.tar().to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_ne!(out.status.code(), Some(0), "{what}: loaded");
        assert!(
            words.iter().any(|w| err.contains(w)),
            "{what}: the error says why: {err}"
        );
        assert_eq!(store_state(&d), before, "{what}: the store changed");
        no_leftovers(&d);
    }
    // The same layout, unaltered, loads.
    let l = good_layout("hd-good");
    let out = d.ok(&["load", "-i", l.tar().to_str().unwrap()]);
    assert!(out.contains("hd-good"), "{out}");
    no_leftovers(&d);
}
