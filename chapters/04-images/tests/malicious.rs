//! The malicious layer corpus, run through this chapter's unpack path
//! (decompress, verify, chapter 03's apply) in both layouts: one flat root
//! (copy driver) and per-layer directories (overlay lowers).
//!
//! Every case has a sibling `victim/` directory next to the target; after
//! the unpack it must be byte-for-byte (and mode, mtime, link count) what it
//! was. Refused cases must name the entry in the error and leave no target.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use chapter04::image::ImageStore;
use chapter04::layer::{unpack_flat, unpack_per_layer, UnpackOptions};
use chapter04::media::Compression;
use common::{image_of, require_root, snapshot, tar_of, E};

#[derive(Debug, Clone, Copy)]
enum Want<'a> {
    /// The unpack fails with an error naming this entry.
    Refused(&'a str),
    /// The unpack may succeed; nothing outside changes.
    Contained,
}

fn make_victim(v: &Path) {
    fs::create_dir_all(v.join("dir")).unwrap();
    fs::write(v.join("secret"), b"do not touch").unwrap();
    fs::write(v.join("dir/inner"), b"inner").unwrap();
}

/// Run one case; `layers` may mention `VICTIM`, replaced by the absolute
/// path of the victim directory.
fn run(name: &str, layers: &[&[E<'_>]], want: Want<'_>) {
    require_root();
    let t = tempfile::Builder::new()
        .prefix("ch04-mal-")
        .tempdir()
        .unwrap();
    let victim = t.path().join("victim");
    make_victim(&victim);
    let vabs = victim.display().to_string();
    let before = snapshot(&victim);
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let mut tars = Vec::new();
    for l in layers {
        // Substitute the victim path into names and targets.
        let subst = |s: &str| s.replace("VICTIM", &vabs);
        let strings: Vec<(String, String)> = l
            .iter()
            .map(|e| match e {
                E::Dir(n) | E::File(n, _) | E::FileMode(n, _, _) | E::Char(n, _, _) => {
                    (subst(n), String::new())
                }
                E::Symlink(n, t) | E::Hardlink(n, t) => (subst(n), subst(t)),
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
    let image = image_of(&store, &tars, Compression::Gzip);
    let opts = UnpackOptions::default();
    for (mode, result, target) in [
        (
            "flat",
            unpack_flat(&store.blobs, &image, &t.path().join("root"), &opts).map(|_| ()),
            t.path().join("root"),
        ),
        (
            "per-layer",
            unpack_per_layer(&store.blobs, &image, &t.path().join("layers"), &opts).map(|_| ()),
            t.path().join("layers"),
        ),
    ] {
        assert_eq!(
            snapshot(&victim),
            before,
            "{name} ({mode}): the victim directory changed"
        );
        match want {
            Want::Refused(entry) => {
                let e = result.expect_err(&format!("{name} ({mode}): should be refused"));
                // What a person reads: the error and its causes, each once.
                let msg = chain(&e);
                assert!(
                    msg.contains(&format!("`{}`", entry.replace("VICTIM", &vabs))),
                    "{name} ({mode}): the error does not name `{entry}`: {msg}"
                );
                if mode == "flat" {
                    assert!(
                        !target.exists(),
                        "{name}: a refused unpack left {}",
                        target.display()
                    );
                } else {
                    assert_eq!(
                        fs::read_dir(&target).unwrap().count(),
                        0,
                        "{name}: a refused unpack left a layer dir"
                    );
                }
            }
            Want::Contained => {
                if let Err(e) = result {
                    // Refusing is fine too, as long as nothing leaked.
                    eprintln!("{name} ({mode}): refused: {e}");
                }
            }
        }
    }
    // Nothing was left anywhere else next to the victim.
    let mut names: Vec<String> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names
            .iter()
            .all(|n| ["layers", "root", "store", "victim"].contains(&n.as_str())),
        "{name}: stray files {names:?}"
    );
}

#[test]
fn absolute_names() {
    run(
        "absolute",
        &[&[E::File("VICTIM/pwned", b"x")]],
        Want::Refused("VICTIM/pwned"),
    );
    run(
        "absolute dir",
        &[&[E::Dir("/tmp/ch04-never")]],
        Want::Refused("/tmp/ch04-never"),
    );
}

#[test]
fn dotdot_names() {
    run(
        "dotdot",
        &[&[E::File("../victim/pwned", b"x")]],
        Want::Refused("../victim/pwned"),
    );
    run(
        "dotdot inside",
        &[&[E::Dir("a"), E::File("a/../../victim/pwned", b"x")]],
        Want::Refused("a/../../victim/pwned"),
    );
    run("dotdot alone", &[&[E::Dir("..")]], Want::Refused(".."));
}

#[test]
fn symlink_relative_out_then_write() {
    run(
        "rel symlink",
        &[&[
            E::Symlink("evil", "../victim"),
            E::File("evil/secret", b"pwned"),
        ]],
        Want::Contained,
    );
    run(
        "rel symlink deep",
        &[&[
            E::Symlink("evil", "../../../../../../../..VICTIM"),
            E::File("evil/secret", b"pwned"),
        ]],
        Want::Contained,
    );
}

#[test]
fn symlink_absolute_out_then_write() {
    run(
        "abs symlink",
        &[&[
            E::Symlink("evil", "VICTIM"),
            E::File("evil/secret", b"pwned"),
        ]],
        Want::Contained,
    );
    run(
        "abs symlink to file",
        &[&[
            E::Symlink("evil", "VICTIM/secret"),
            E::File("evil", b"pwned"),
        ]],
        Want::Contained,
    );
}

#[test]
fn symlink_chains() {
    run(
        "chain",
        &[&[
            E::Symlink("a", "b"),
            E::Symlink("b", "c/../../.."),
            E::Dir("c"),
            E::Symlink("d", "a/VICTIM"),
            E::File("d/secret", b"pwned"),
        ]],
        Want::Contained,
    );
}

#[test]
fn write_through_a_symlinked_directory() {
    run(
        "symlinked dir",
        &[&[
            E::Symlink("dir", "../victim/dir"),
            E::Dir("dir/sub"),
            E::File("dir/inner", b"pwned"),
            E::File("dir/sub/new", b"x"),
        ]],
        Want::Contained,
    );
}

#[test]
fn directory_replaced_by_symlink_mid_archive() {
    run(
        "replaced",
        &[&[
            E::Dir("d"),
            E::File("d/f", b"ok"),
            E::Symlink("d", "VICTIM"),
            E::File("d/secret", b"pwned"),
        ]],
        Want::Contained,
    );
    // The same across two layers: the symlink arrives in the upper layer.
    run(
        "replaced across layers",
        &[
            &[E::Dir("d"), E::File("d/f", b"ok")],
            &[E::Symlink("d", "VICTIM"), E::File("d/secret", b"pwned")],
        ],
        Want::Contained,
    );
}

#[test]
fn hardlinks_out() {
    run(
        "hardlink abs",
        &[&[E::Hardlink("h", "VICTIM/secret")]],
        Want::Refused("h"),
    );
    run(
        "hardlink dotdot",
        &[&[E::Hardlink("h", "../victim/secret")]],
        Want::Refused("h"),
    );
    run(
        "hardlink through symlink",
        &[&[E::Symlink("s", "VICTIM"), E::Hardlink("h", "s/secret")]],
        Want::Refused("h"),
    );
    run(
        "hardlink through rel symlink",
        &[&[E::Symlink("s", "../victim"), E::Hardlink("h", "s/secret")]],
        Want::Refused("h"),
    );
    // A hard link to a symlink links the symlink, not what it points at.
    run(
        "hardlink to symlink",
        &[&[
            E::Symlink("s", "VICTIM/secret"),
            E::Hardlink("h", "s"),
            E::File("h", b"pwned"),
        ]],
        Want::Contained,
    );
}

#[test]
fn invalid_whiteouts() {
    run(".wh.", &[&[E::File(".wh.", b"")]], Want::Refused(".wh."));
    run(".wh..", &[&[E::File(".wh..", b"")]], Want::Refused(".wh.."));
    run(
        ".wh...",
        &[&[E::File(".wh...", b"")]],
        Want::Refused(".wh..."),
    );
    run(
        "dir/.wh..",
        &[&[E::Dir("d"), E::File("d/.wh..", b"")]],
        Want::Refused("d/.wh.."),
    );
}

#[test]
fn whiteouts_that_resolve_outside() {
    run(
        "whiteout via symlink",
        &[
            &[E::Symlink("s", "VICTIM")],
            &[E::File("s/.wh.secret", b"")],
        ],
        Want::Contained,
    );
    run(
        "whiteout via rel symlink",
        &[&[E::Symlink("s", "../victim"), E::File("s/.wh.secret", b"")]],
        Want::Contained,
    );
    run(
        "opaque via symlink",
        &[
            &[E::Symlink("s", "VICTIM")],
            &[E::File("s/.wh..wh..opq", b"")],
        ],
        Want::Contained,
    );
}

#[test]
fn device_numbers_out_of_range() {
    run("major", &[&[E::Char("dev", 4096, 0)]], Want::Refused("dev"));
    run(
        "minor",
        &[&[E::Char("dev", 1, 1 << 20)]],
        Want::Refused("dev"),
    );
}

#[test]
fn setuid_bits_are_kept_unless_asked_to_drop() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let image = image_of(
        &store,
        &[tar_of(&[
            E::FileMode("suid", b"#!", 0o4755),
            E::FileMode("sgid", b"#!", 0o2755),
        ])],
        Compression::Gzip,
    );
    // By default the bits are kept, as Docker keeps them.
    unpack_flat(
        &store.blobs,
        &image,
        &t.path().join("a"),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fs::metadata(t.path().join("a/suid")).unwrap().mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        fs::metadata(t.path().join("a/sgid")).unwrap().mode() & 0o7777,
        0o2755
    );
    let drop = UnpackOptions {
        keep_setid: false,
        ..Default::default()
    };
    unpack_flat(&store.blobs, &image, &t.path().join("b"), &drop).unwrap();
    assert_eq!(
        fs::metadata(t.path().join("b/suid")).unwrap().mode() & 0o7777,
        0o755
    );
}

#[test]
fn a_layer_whose_content_does_not_match_its_diff_id_is_refused_and_leaves_nothing() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&t.path().join("store")).unwrap();
    let mut image = image_of(&store, &[tar_of(&[E::File("a", b"1")])], Compression::Gzip);
    image.diff_ids[0] = chapter04::digest::sha256(b"another tar");
    let e = unpack_flat(
        &store.blobs,
        &image,
        &t.path().join("root"),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("diff ID"), "{e}");
    assert!(!t.path().join("root").exists());
    let e = unpack_per_layer(
        &store.blobs,
        &image,
        &t.path().join("layers"),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("diff ID"), "{e}");
    assert_eq!(fs::read_dir(t.path().join("layers")).unwrap().count(), 0);
}

/// The error and its causes, as `{:#}` prints them (`a: b: c`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
