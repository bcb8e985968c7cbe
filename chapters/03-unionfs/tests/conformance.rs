//! One conformance suite, run against every driver (containerd's habit):
//! image layers in, a container on top, changes, a diff, a commit, and the
//! committed image shows exactly what the container saw. Root: it mounts.

mod common;

use std::fs;
use std::path::Path;

use chapter03::driver::select_driver_with;
use chapter03::mount::mounted_under;
use chapter03::whiteout::{rename_like_mv, ChangeKind};
use chapter03::{CopyDriver, Driver, DriverKind, Mounted, OverlayDriver};
use common::*;

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// The base image layer: a small tree with the usual suspects.
fn base_layer() -> Vec<u8> {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    for d in ["etc", "bin", "lib", "opt/app", "srv", "var/cache"] {
        fs::create_dir_all(p.join(d)).unwrap();
    }
    fs::write(p.join("etc/motd"), "base motd\n").unwrap();
    fs::write(p.join("etc/hostname"), "base\n").unwrap();
    fs::write(p.join("bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    fs::write(p.join("lib/libx.so.1"), "ELF").unwrap();
    fs::hard_link(p.join("lib/libx.so.1"), p.join("lib/libx.so")).unwrap();
    std::os::unix::fs::symlink("/usr/share/zoneinfo/UTC", p.join("etc/localtime")).unwrap();
    fs::write(p.join("opt/app/a"), "a").unwrap();
    fs::write(p.join("opt/app/b"), "b").unwrap();
    fs::write(p.join("srv/old.txt"), "old").unwrap();
    fs::write(p.join("var/cache/c1"), "c1").unwrap();
    std::os::unix::fs::chown(p.join("var/cache/c1"), Some(33), Some(33)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut tar = Vec::new();
    chapter03::diff_against(None, p, &mut tar).unwrap();
    tar
}

/// The app layer: adds a file, deletes one, makes `srv` opaque.
fn app_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8], dir: bool| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(if dir { 0o755 } else { 0o644 });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        b.append_data(&mut h, name, data).unwrap();
    };
    add("etc/", b"", true);
    add("etc/.wh.hostname", b"", false);
    add("opt/", b"", true);
    add("opt/app/", b"", true);
    add("opt/app/config", b"port=80\n", false);
    add("srv/", b"", true);
    add("srv/.wh..wh..opq", b"", false);
    add("srv/new.txt", b"new", false);
    b.into_inner().unwrap()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// The suite. `scratch` holds the mount points.
fn conformance(d: &dyn Driver, scratch: &Path) {
    let view = scratch.join("view");
    let view2 = scratch.join("view2");
    fs::create_dir_all(&view).unwrap();
    fs::create_dir_all(&view2).unwrap();

    // 1. Two image layers.
    d.apply_layer("base", None, &mut base_layer().as_slice())
        .unwrap();
    d.apply_layer("app", Some("base"), &mut app_layer().as_slice())
        .unwrap();
    assert!(d
        .apply_layer("bad", Some("missing"), &mut app_layer().as_slice())
        .is_err());
    assert!(
        !d.root().join("bad").exists(),
        "a failed layer leaves nothing behind"
    );

    // 2. A container on top; what it sees.
    d.create_rw("ctr", Some("app")).unwrap();
    let mounted = Mounted::apply_all(&d.mounts("ctr", &view).unwrap()).unwrap();
    assert_eq!(
        fs::read_to_string(view.join("etc/motd")).unwrap(),
        "base motd\n"
    );
    assert!(!view.join("etc/hostname").exists(), "whited out by app");
    assert_eq!(
        names_in(&view.join("srv")),
        ["new.txt"],
        "srv is opaque in app"
    );
    assert_eq!(names_in(&view.join("opt/app")), ["a", "b", "config"]);
    assert_eq!(
        fs::read_link(view.join("etc/localtime")).unwrap(),
        Path::new("/usr/share/zoneinfo/UTC")
    );

    // 3. The container changes things.
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(view.join("etc/motd"))
        .unwrap()
        .write_all(b"more\n")
        .unwrap();
    fs::remove_file(view.join("opt/app/a")).unwrap();
    fs::write(view.join("etc/new.conf"), "new").unwrap();
    rename_like_mv(&view.join("var/cache"), &view.join("var/cache2")).unwrap();
    fs::remove_dir_all(view.join("opt/app")).unwrap();
    fs::create_dir(view.join("opt/app")).unwrap();
    fs::write(view.join("opt/app/only"), "only").unwrap();
    let seen = snapshot(&view, &FULL);

    let changes = d.changes("ctr").unwrap();
    let has = |p: &str, k: ChangeKind| {
        changes
            .iter()
            .any(|c| c.path == Path::new(p) && c.kind == k)
    };
    assert!(has("etc/motd", ChangeKind::Changed), "{changes:?}");
    assert!(has("etc/new.conf", ChangeKind::Added), "{changes:?}");
    assert!(has("var/cache", ChangeKind::Deleted), "{changes:?}");
    assert!(has("var/cache2/c1", ChangeKind::Added), "{changes:?}");
    mounted.unmount().unwrap();

    // 4. Its diff as a layer tar.
    let mut tar = Vec::new();
    d.diff("ctr", &mut tar).unwrap();
    let entries: Vec<String> = chapter03::diff::list_entries(tar.as_slice())
        .unwrap()
        .into_iter()
        .map(|(_, n)| n.trim_end_matches('/').to_string())
        .collect();
    for must in [
        "etc/motd",
        "etc/new.conf",
        "var/.wh.cache",
        "var/cache2/c1",
        "opt/app/only",
    ] {
        assert!(
            entries.iter().any(|e| e == must),
            "{} diff lacks {must}: {entries:?}",
            d.name()
        );
    }
    for must_not in ["bin/tool", "lib/libx.so", "srv/new.txt"] {
        assert!(
            !entries.iter().any(|e| e == must_not),
            "{} diff has unchanged {must_not}",
            d.name()
        );
    }
    // opt/app lost `a` and `b` and `config`: as one opaque marker (overlay)
    // or as one whiteout per name (copy). Either way they must be gone below.

    // 5. Commit it as a layer and look at a new container on it.
    d.apply_layer("committed", Some("app"), &mut tar.as_slice())
        .unwrap();
    d.create_rw("ctr2", Some("committed")).unwrap();
    let m2 = Mounted::apply_all(&d.mounts("ctr2", &view2).unwrap()).unwrap();
    assert_same(
        &seen,
        &snapshot(&view2, &FULL),
        &format!("{}: container vs committed image", d.name()),
    );
    drop(m2);

    // 6. Nothing stays mounted; layers go away.
    assert!(mounted_under(Path::new(MOUNTINFO), scratch)
        .unwrap()
        .is_empty());
    assert!(mounted_under(Path::new(MOUNTINFO), d.root())
        .unwrap()
        .is_empty());
    for id in ["ctr2", "committed", "ctr", "app", "base"] {
        d.remove(id).unwrap();
    }
    assert!(d.remove("base").is_err());
    assert_eq!(fs::read_dir(d.root()).unwrap().count(), 0);
}

fn scratch() -> tempfile::TempDir {
    require_root();
    tempfile::Builder::new()
        .prefix("ch03-conf-")
        .tempdir()
        .unwrap()
}

#[test]
fn overlay_driver_passes_the_suite() {
    let s = scratch();
    let d = OverlayDriver::new(&s.path().join("layers")).unwrap();
    conformance(&d, s.path());
}

#[test]
fn copy_driver_passes_the_suite() {
    let s = scratch();
    let d = CopyDriver::new(&s.path().join("layers")).unwrap();
    conformance(&d, s.path());
}

#[test]
fn auto_picks_overlay_on_a_plain_filesystem() {
    let s = scratch();
    let sel = select_driver_with(
        DriverKind::Auto,
        &s.path().join("layers"),
        Path::new("/sys/module/overlay/parameters"),
    )
    .unwrap();
    assert_eq!(sel.driver.name(), "overlay", "{}", sel.reason);
    assert!(sel.reason.contains("test mount"), "{}", sel.reason);
    // The probe cleaned up after itself.
    assert_eq!(fs::read_dir(s.path().join("layers")).unwrap().count(), 0);
}

/// An upper directory cannot sit on overlayfs: probe a driver root inside a
/// real overlay mount, and expect the copy driver with the reason, then run
/// the whole suite on it there.
#[test]
fn auto_falls_back_to_copy_when_the_root_is_on_overlayfs() {
    let s = scratch();
    let p = s.path();
    for d in ["l", "u", "w", "m"] {
        fs::create_dir(p.join(d)).unwrap();
    }
    let outer = chapter03::Mount::overlay(&[p.join("l")], &p.join("u"), &p.join("w"), &p.join("m"))
        .unwrap()
        .apply()
        .unwrap();
    let root = p.join("m/layers");
    let sel = select_driver_with(
        DriverKind::Auto,
        &root,
        Path::new("/sys/module/overlay/parameters"),
    )
    .unwrap();
    assert_eq!(sel.driver.name(), "copy", "{}", sel.reason);
    assert!(sel.reason.contains("on overlayfs"), "{}", sel.reason);
    assert!(sel.reason.contains("falling back"), "{}", sel.reason);
    let work = p.join("m/scratch");
    fs::create_dir(&work).unwrap();
    conformance(sel.driver.as_ref(), &work);
    outer.unmount().unwrap();
    assert!(mounted_under(Path::new(MOUNTINFO), p).unwrap().is_empty());
}
