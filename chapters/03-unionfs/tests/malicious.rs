//! Hostile layer tars (containerd's TestBreakouts, moby's testBreakout):
//! whatever the entries say, a sibling "victim" directory stays unchanged,
//! and a refused archive names the entry that was refused.
//! No root needed: owners are not applied.

mod common;

use std::fs;
use std::path::Path;

use chapter03::{apply, ApplyOptions, WhiteoutMode};
use common::*;

/// Expected outcome of one case.
enum Want {
    /// The apply fails and the error names this entry.
    ErrorNaming(&'static str),
    /// The apply succeeds (the archive is odd but stays inside the root);
    /// then this check runs on the root.
    Ok(fn(&Path)),
}

fn run(name: &str, entries: &[E<'_>], want: Want) {
    for mode in [WhiteoutMode::Overlay, WhiteoutMode::Delete] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let victim = tmp.path().join("victim");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(victim.join("sub")).unwrap();
        fs::write(victim.join("file"), "precious").unwrap();
        fs::write(victim.join("sub/other"), "also precious").unwrap();
        std::os::unix::fs::symlink("file", victim.join("link")).unwrap();
        let before = snapshot(tmp.path(), &FULL);
        let before_victim = snapshot(&victim, &FULL);

        // Names may point at the victim by its absolute path too.
        let abs = victim.display().to_string();
        let tar = raw_tar(&entries.iter().map(|e| subst(e, &abs)).collect::<Vec<_>>());
        let opts = ApplyOptions {
            whiteouts: mode,
            same_owner: false,
            ..ApplyOptions::default()
        };
        let res = apply(tar.as_slice(), &root, &opts);

        assert_same(
            &before_victim,
            &snapshot(&victim, &FULL),
            &format!("{name} ({mode:?}): victim"),
        );
        // Nothing else appeared next to the root either.
        let after = snapshot(tmp.path(), &FULL);
        for k in after.keys().filter(|k| !k.starts_with("root")) {
            assert!(
                before.contains_key(k),
                "{name} ({mode:?}): {k} appeared outside the root"
            );
        }
        match &want {
            Want::ErrorNaming(entry) => {
                let e = res.expect_err(&format!("{name} ({mode:?}): should be refused"));
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("`{entry}`")),
                    "{name} ({mode:?}): error does not name `{entry}`: {msg}"
                );
            }
            Want::Ok(check) => {
                res.unwrap_or_else(|e| panic!("{name} ({mode:?}): {e}"));
                check(&root);
            }
        }
    }
}

/// Replace the `VICTIM` placeholder by the victim's absolute path.
fn subst<'a>(e: &E<'a>, abs: &str) -> E<'a> {
    let s = |x: &'a str| -> &'a str {
        if x.contains("VICTIM") {
            Box::leak(x.replace("VICTIM", abs).into_boxed_str())
        } else {
            x
        }
    };
    match e {
        E::Dir(n) => E::Dir(s(n)),
        E::File(n, d) => E::File(s(n), d),
        E::Symlink(n, t) => E::Symlink(s(n), s(t)),
        E::Hardlink(n, t) => E::Hardlink(s(n), s(t)),
        E::Char(n, a, b) => E::Char(s(n), *a, *b),
    }
}

#[test]
fn absolute_names_are_refused() {
    run(
        "absolute",
        &[E::File("/etc/passwd", b"pwned")],
        Want::ErrorNaming("/etc/passwd"),
    );
    run(
        "absolute dir",
        &[E::Dir("/tmp/evil/")],
        Want::ErrorNaming("/tmp/evil/"),
    );
}

#[test]
fn dotdot_names_are_refused() {
    run(
        "dotdot",
        &[E::File("../victim/file", b"pwned")],
        Want::ErrorNaming("../victim/file"),
    );
    run(
        "dotdot inside",
        &[E::Dir("a/"), E::File("a/../../victim/file", b"pwned")],
        Want::ErrorNaming("a/../../victim/file"),
    );
    run("bare dotdot", &[E::Dir("..")], Want::ErrorNaming(".."));
}

#[test]
fn relative_symlink_out_then_write() {
    run(
        "relative symlink",
        &[
            E::Symlink("link", "../victim"),
            E::File("link/file", b"pwned"),
        ],
        Want::ErrorNaming("link/file"),
    );
}

#[test]
fn absolute_symlink_out_then_write() {
    run(
        "absolute symlink",
        &[E::Symlink("link", "VICTIM"), E::File("link/file", b"pwned")],
        Want::ErrorNaming("link/file"),
    );
    // A symlink to `/` resolves to the root itself: the write lands inside.
    run(
        "symlink to /",
        &[E::Symlink("link", "/"), E::File("link/evil", b"inside")],
        Want::Ok(|root| assert_eq!(fs::read(root.join("evil")).unwrap(), b"inside")),
    );
}

#[test]
fn chained_symlinks_out_then_write() {
    run(
        "chained",
        &[
            E::Symlink("a", "b"),
            E::Symlink("b", "c/../../.."),
            E::Dir("c/"),
            E::File("a/victim/file", b"clamped"),
        ],
        // `..` past the root stays at the root (as in a chroot): the write
        // lands in root/victim, never in the real victim.
        Want::Ok(|root| assert_eq!(fs::read(root.join("victim/file")).unwrap(), b"clamped")),
    );
}

#[test]
fn symlink_inside_a_symlinked_dir() {
    run(
        "through symlinked dir",
        &[
            E::Dir("d/"),
            E::Symlink("d/up", "../../victim"),
            E::Symlink("s", "d"),
            E::File("s/up/file", b"pwned"),
        ],
        Want::ErrorNaming("s/up/file"),
    );
}

#[test]
fn directory_replaced_by_symlink_mid_archive() {
    run(
        "dir then symlink",
        &[
            E::Dir("dir/"),
            E::File("dir/a", b"ok"),
            E::Symlink("dir", "../victim"),
            E::File("dir/file", b"pwned"),
        ],
        Want::ErrorNaming("dir/file"),
    );
}

#[test]
fn file_entry_over_a_symlink_replaces_the_symlink() {
    run(
        "overwrite through symlink",
        &[E::Symlink("f", "../victim/file"), E::File("f", b"mine")],
        Want::Ok(|root| {
            let m = fs::symlink_metadata(root.join("f")).unwrap();
            assert!(m.is_file());
            assert_eq!(fs::read(root.join("f")).unwrap(), b"mine");
        }),
    );
    run(
        "dir entry over a symlink",
        &[
            E::Symlink("d", "../victim"),
            E::Dir("d/"),
            E::File("d/x", b"mine"),
        ],
        Want::Ok(|root| assert!(fs::symlink_metadata(root.join("d")).unwrap().is_dir())),
    );
}

#[test]
fn hardlinks_out_are_refused() {
    run(
        "hardlink ..",
        &[E::Hardlink("hl", "../victim/file")],
        Want::ErrorNaming("hl"),
    );
    run(
        "hardlink absolute",
        &[E::Hardlink("hl", "VICTIM/file")],
        Want::ErrorNaming("hl"),
    );
    run(
        "hardlink through symlink",
        &[
            E::Symlink("link", "../victim"),
            E::Hardlink("hl", "link/file"),
        ],
        Want::ErrorNaming("hl"),
    );
    run(
        "hardlink through absolute symlink",
        &[E::Symlink("link", "VICTIM"), E::Hardlink("hl", "link/file")],
        Want::ErrorNaming("hl"),
    );
    // A hard link to a symlink links the symlink itself, never its target;
    // writing to the new name then replaces it.
    run(
        "hardlink to symlink",
        &[
            E::Symlink("s", "../victim/file"),
            E::Hardlink("hl", "s"),
            E::File("hl", b"mine"),
        ],
        Want::Ok(|root| {
            assert!(fs::symlink_metadata(root.join("s"))
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(fs::read(root.join("hl")).unwrap(), b"mine");
        }),
    );
}

#[test]
fn invalid_whiteouts_are_refused() {
    run(
        "empty whiteout",
        &[E::File(".wh.", b"")],
        Want::ErrorNaming(".wh."),
    );
    run(
        "whiteout of .",
        &[E::Dir("d/"), E::File("d/.wh..", b"")],
        Want::ErrorNaming("d/.wh.."),
    );
    run(
        "whiteout of ..",
        &[E::Dir("d/"), E::File("d/.wh...", b"")],
        Want::ErrorNaming("d/.wh..."),
    );
    run(
        "whiteout with ..",
        &[E::File("../victim/.wh.file", b"")],
        Want::ErrorNaming("../victim/.wh.file"),
    );
}

#[test]
fn whiteouts_and_opaque_markers_behind_symlinks_stay_inside() {
    // Overlay mode must create the whiteout's directory and cannot (the
    // symlink leads nowhere inside); Delete mode has nothing to delete.
    for (name, entries) in [
        (
            "whiteout through symlink",
            vec![
                E::Symlink("link", "../victim"),
                E::File("link/.wh.file", b""),
            ],
        ),
        (
            "opaque through symlink",
            vec![
                E::Symlink("link", "VICTIM"),
                E::File("link/.wh..wh..opq", b""),
            ],
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let victim = tmp.path().join("victim");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&victim).unwrap();
        fs::write(victim.join("file"), "precious").unwrap();
        let abs = victim.display().to_string();
        let tar = raw_tar(&entries.iter().map(|e| subst(e, &abs)).collect::<Vec<_>>());
        for mode in [
            WhiteoutMode::Overlay,
            WhiteoutMode::Delete,
            WhiteoutMode::Plain,
        ] {
            let opts = ApplyOptions {
                whiteouts: mode,
                same_owner: false,
                ..ApplyOptions::default()
            };
            let _ = apply(tar.as_slice(), &root, &opts);
            assert_eq!(
                fs::read(victim.join("file")).unwrap(),
                b"precious",
                "{name} {mode:?}"
            );
        }
    }
}

#[test]
fn device_numbers_out_of_range_are_refused() {
    run(
        "major too big",
        &[E::Char("dev", 5000, 1)],
        Want::ErrorNaming("dev"),
    );
    run(
        "minor too big",
        &[E::Char("dev", 1, (1 << 20) + 5)],
        Want::ErrorNaming("dev"),
    );
}

#[test]
fn a_refusal_stops_the_apply_and_names_the_entry_in_the_message() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = raw_tar(&[
        E::File("ok", b"1"),
        E::File("../escape", b"2"),
        E::File("later", b"3"),
    ]);
    let opts = ApplyOptions {
        same_owner: false,
        ..ApplyOptions::default()
    };
    let e = apply(tar.as_slice(), tmp.path(), &opts).unwrap_err();
    insta::assert_snapshot!(e.to_string(), @"refused tar entry `../escape`: name contains a `..` component");
    assert!(tmp.path().join("ok").exists());
    assert!(!tmp.path().join("later").exists());
}
