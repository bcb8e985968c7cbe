//! apply(diff(x)) == x: the layer tar loses nothing we promise to keep.

mod common;

use std::fs;
use std::path::Path;

use chapter03::{apply, diff_upper, ApplyOptions, WhiteoutMode};
use common::*;

fn round_trip(src: &Path, dst: &Path, opts: &ApplyOptions) -> Vec<u8> {
    let mut tar = Vec::new();
    diff_upper(src, &mut tar).unwrap();
    apply(tar.as_slice(), dst, opts).unwrap();
    tar
}

/// No root needed: files, dirs, symlinks, hard links, fifos, modes, times,
/// user xattrs (owners are not set, so they are not compared).
#[test]
fn round_trip_without_root_keeps_everything_but_owners() {
    for seed in 0..24 {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        gen_tree(src.path(), seed, &GenOpts { privileged: false });
        let opts = ApplyOptions {
            same_owner: false,
            ..ApplyOptions::default()
        };
        round_trip(src.path(), dst.path(), &opts);
        let o = SnapOpts {
            owners: false,
            dir_mtimes: true,
        };
        assert_same(
            &snapshot(src.path(), &o),
            &snapshot(dst.path(), &o),
            &format!("seed {seed}"),
        );
    }
}

/// Property-style: 64 generated trees with owners (including uids above
/// 2^21), setuid bits, devices, whiteouts (char 0/0), opaque directories,
/// trusted xattrs, long names and long symlink targets.
#[test]
fn round_trip_generated_trees_exactly() {
    require_root();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        gen_tree(src.path(), seed, &GenOpts { privileged: true });
        let opts = ApplyOptions {
            keep_setid: true,
            ..ApplyOptions::default()
        };
        round_trip(src.path(), dst.path(), &opts);
        let snap = snapshot(src.path(), &FULL);
        for n in snap.values() {
            seen.insert(n.kind.to_string());
            if n.link_group.is_some() {
                seen.insert("hardlink".into());
            }
            if n.xattrs.iter().any(|(k, _)| k == "trusted.overlay.opaque") {
                seen.insert("opaque".into());
            }
            if n.mode & 0o6000 != 0 {
                seen.insert("setid".into());
            }
        }
        assert_same(&snap, &snapshot(dst.path(), &FULL), &format!("seed {seed}"));
        // And a second generation is identical byte for byte (deterministic tars).
        let again = tempfile::tempdir().unwrap();
        let t1 = round_trip(dst.path(), again.path(), &opts);
        let mut t0 = Vec::new();
        diff_upper(src.path(), &mut t0).unwrap();
        assert!(
            t0 == t1,
            "seed {seed}: diff of the applied tree differs from the first diff"
        );
    }
    // The generator really covered every kind of entry.
    let all: Vec<&str> = seen.iter().map(String::as_str).collect();
    assert_eq!(
        all,
        ["b", "c", "d", "f", "hardlink", "l", "opaque", "p", "setid"]
    );
}

#[test]
fn whiteouts_and_opaque_dirs_become_oci_names_and_back() {
    require_root();
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    fs::create_dir_all(s.join("etc")).unwrap();
    fs::create_dir_all(s.join("opt/app")).unwrap();
    fs::write(s.join("opt/app/new"), "new").unwrap();
    nix::sys::stat::mknod(
        &s.join("etc/motd"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
    xattr::set(s.join("opt/app"), "trusted.overlay.opaque", b"y").unwrap();
    xattr::set(s.join("opt/app"), "trusted.overlay.origin", b"junk").unwrap();
    let mut tar = Vec::new();
    let stats = diff_upper(s, &mut tar).unwrap();
    assert_eq!((stats.whiteouts, stats.opaque_dirs), (1, 1));
    let names: Vec<String> = chapter03::diff::list_entries(tar.as_slice())
        .unwrap()
        .into_iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    assert_eq!(
        names,
        [
            "d etc/",
            "f etc/.wh.motd",
            "d opt/",
            "d opt/app/",
            "f opt/app/.wh..wh..opq",
            "f opt/app/new"
        ]
    );
    // No overlay-private xattr travels in the tar.
    assert!(!tar.windows(15).any(|w| w == b"trusted.overlay"));

    // Overlay mode restores the overlay spelling ...
    let o = tempfile::tempdir().unwrap();
    apply(tar.as_slice(), o.path(), &ApplyOptions::default()).unwrap();
    assert!(chapter03::whiteout::is_whiteout(
        &fs::symlink_metadata(o.path().join("etc/motd")).unwrap()
    ));
    assert!(chapter03::whiteout::is_opaque(&o.path().join("opt/app")));

    // ... Delete mode deletes for real over an existing tree.
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("etc")).unwrap();
    fs::create_dir_all(d.path().join("opt/app/sub")).unwrap();
    fs::write(d.path().join("etc/motd"), "old").unwrap();
    fs::write(d.path().join("etc/keep"), "keep").unwrap();
    fs::write(d.path().join("opt/app/old"), "old").unwrap();
    let del = ApplyOptions {
        whiteouts: WhiteoutMode::Delete,
        ..ApplyOptions::default()
    };
    apply(tar.as_slice(), d.path(), &del).unwrap();
    assert!(!d.path().join("etc/motd").exists());
    assert!(d.path().join("etc/keep").exists());
    let mut app: Vec<_> = fs::read_dir(d.path().join("opt/app"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    app.sort();
    assert_eq!(app, ["new"]);

    // ... and Plain mode (cp, build contexts) writes the markers as the
    // ordinary files they are there, deleting nothing.
    let p = tempfile::tempdir().unwrap();
    fs::create_dir_all(p.path().join("etc")).unwrap();
    fs::create_dir_all(p.path().join("opt/app")).unwrap();
    fs::write(p.path().join("etc/motd"), "old").unwrap();
    fs::write(p.path().join("opt/app/old"), "old").unwrap();
    let plain = ApplyOptions {
        whiteouts: WhiteoutMode::Plain,
        ..ApplyOptions::default()
    };
    let stats = apply(tar.as_slice(), p.path(), &plain).unwrap();
    assert_eq!((stats.whiteouts, stats.opaque_dirs), (0, 0));
    assert_eq!(fs::read(p.path().join("etc/motd")).unwrap(), b"old");
    assert!(fs::symlink_metadata(p.path().join("etc/.wh.motd"))
        .unwrap()
        .is_file());
    assert!(p.path().join("opt/app/old").exists());
    assert!(p.path().join("opt/app/.wh..wh..opq").is_file());
}

#[test]
fn setuid_bits_are_kept_unless_asked_to_drop() {
    // Docker keeps them: they are part of the layer.
    assert!(ApplyOptions::default().keep_setid);
    let src = tempfile::tempdir().unwrap();
    let p = src.path().join("su");
    fs::write(&p, "x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&p, fs::Permissions::from_mode(0o6755)).unwrap();
    let mut tar = Vec::new();
    diff_upper(src.path(), &mut tar).unwrap();
    for (keep, want) in [(false, 0o755), (true, 0o6755)] {
        let dst = tempfile::tempdir().unwrap();
        let opts = ApplyOptions {
            keep_setid: keep,
            same_owner: false,
            ..ApplyOptions::default()
        };
        apply(tar.as_slice(), dst.path(), &opts).unwrap();
        let mode = fs::metadata(dst.path().join("su"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, want, "keep_setid={keep}");
    }
}

/// A read-only directory with contents applies without root too: directory
/// modes are set after their children are written.
#[test]
fn read_only_directories_are_filled_before_their_mode_is_set() {
    use std::os::unix::fs::PermissionsExt;
    let src = tempfile::tempdir().unwrap();
    let ro = src.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::write(ro.join("inside"), "x").unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let mut tar = Vec::new();
    diff_upper(src.path(), &mut tar).unwrap();
    let dst = tempfile::tempdir().unwrap();
    let opts = ApplyOptions {
        same_owner: false,
        ..ApplyOptions::default()
    };
    let res = apply(tar.as_slice(), dst.path(), &opts);
    let mode = fs::metadata(dst.path().join("ro")).map(|m| m.permissions().mode() & 0o777);
    // Make both removable again before asserting.
    for d in [&ro, &dst.path().join("ro")] {
        let _ = fs::set_permissions(d, fs::Permissions::from_mode(0o755));
    }
    res.unwrap();
    assert_eq!(mode.unwrap(), 0o555);
    assert_eq!(fs::read(dst.path().join("ro/inside")).unwrap(), b"x");
}
