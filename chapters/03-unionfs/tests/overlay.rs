//! Real overlay mounts (root): copy-up, whiteouts, opaque directories,
//! shadowing, and no mount left behind.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chapter03::mount::mounted_under;
use chapter03::whiteout::{changes, is_opaque, is_whiteout, Change, ChangeKind};
use chapter03::{apply, diff_upper, ApplyOptions, Mount};
use common::*;

const MOUNTINFO: &str = "/proc/self/mountinfo";

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    /// base (lower 2) and app (lower 1) layers, an empty upper and work.
    fn new() -> Fixture {
        require_root();
        let tmp = tempfile::Builder::new()
            .prefix("ch03-ovl-")
            .tempdir()
            .unwrap();
        let p = tmp.path();
        for d in [
            "base/etc",
            "base/opt/app/lib",
            "app/opt/app",
            "upper",
            "work",
            "merged",
        ] {
            fs::create_dir_all(p.join(d)).unwrap();
        }
        fs::write(p.join("base/etc/motd"), "hello from base\n").unwrap();
        fs::write(p.join("base/etc/hostname"), "base\n").unwrap();
        fs::write(p.join("base/opt/app/lib/old.so"), "old").unwrap();
        fs::write(p.join("base/opt/app/version"), "1\n").unwrap();
        fs::write(p.join("app/opt/app/version"), "2\n").unwrap();
        fs::set_permissions(p.join("base/etc/motd"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(p.join("base/etc/motd"), Some(1234), Some(5678)).unwrap();
        Fixture { tmp }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    fn mount(&self) -> Mount {
        Mount::overlay(
            &[self.p("app"), self.p("base")],
            &self.p("upper"),
            &self.p("work"),
            &self.p("merged"),
        )
        .unwrap()
    }
    fn lowers(&self) -> Vec<PathBuf> {
        vec![self.p("app"), self.p("base")]
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let left = mounted_under(Path::new(MOUNTINFO), self.tmp.path()).unwrap();
        assert!(
            left.is_empty() || std::thread::panicking(),
            "mounts left behind: {left:?}"
        );
    }
}

#[test]
fn reads_come_from_the_topmost_layer_that_has_the_name() {
    let f = Fixture::new();
    let g = f.mount().apply().unwrap();
    assert_eq!(
        fs::read_to_string(f.p("merged/etc/motd")).unwrap(),
        "hello from base\n"
    );
    // app's version shadows base's.
    assert_eq!(
        fs::read_to_string(f.p("merged/opt/app/version")).unwrap(),
        "2\n"
    );
    // The directory merges both layers.
    let mut names: Vec<_> = fs::read_dir(f.p("merged/opt/app"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["lib", "version"]);
    // Reading copies nothing up.
    assert_eq!(fs::read_dir(f.p("upper")).unwrap().count(), 0);
    g.unmount().unwrap();
}

#[test]
fn first_write_copies_the_file_up() {
    let f = Fixture::new();
    let g = f.mount().apply().unwrap();
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(f.p("merged/etc/motd"))
        .unwrap()
        .write_all(b"changed in the container\n")
        .unwrap();
    // Upper now holds a full copy, with the lower file's owner and mode.
    let up = f.p("upper/etc/motd");
    assert_eq!(
        fs::read_to_string(&up).unwrap(),
        "hello from base\nchanged in the container\n"
    );
    let m = fs::metadata(&up).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o640));
    // The lower layer is untouched.
    assert_eq!(
        fs::read_to_string(f.p("base/etc/motd")).unwrap(),
        "hello from base\n"
    );
    // Its parent directory was copied up too, and nothing else.
    assert_eq!(
        changes(&f.p("upper"), &f.lowers()).unwrap(),
        vec![
            Change {
                path: "etc".into(),
                kind: ChangeKind::Changed
            },
            Change {
                path: "etc/motd".into(),
                kind: ChangeKind::Changed
            },
        ]
    );
    g.unmount().unwrap();
}

#[test]
fn delete_leaves_a_whiteout() {
    let f = Fixture::new();
    let g = f.mount().apply().unwrap();
    fs::remove_file(f.p("merged/etc/hostname")).unwrap();
    assert!(!f.p("merged/etc/hostname").exists());
    let wh = fs::symlink_metadata(f.p("upper/etc/hostname")).unwrap();
    assert!(
        is_whiteout(&wh),
        "upper/etc/hostname should be a char device 0/0: {wh:?}"
    );
    assert!(f.p("base/etc/hostname").exists());
    // Creating the name again replaces the whiteout by the new file.
    fs::write(f.p("merged/etc/hostname"), "new\n").unwrap();
    assert!(fs::symlink_metadata(f.p("upper/etc/hostname"))
        .unwrap()
        .is_file());
    g.unmount().unwrap();
}

#[test]
fn a_recreated_directory_is_opaque() {
    let f = Fixture::new();
    let g = f.mount().apply().unwrap();
    fs::remove_dir_all(f.p("merged/opt/app")).unwrap();
    fs::create_dir(f.p("merged/opt/app")).unwrap();
    fs::write(f.p("merged/opt/app/fresh"), "fresh").unwrap();
    assert!(is_opaque(&f.p("upper/opt/app")));
    let names: Vec<_> = fs::read_dir(f.p("merged/opt/app"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["fresh"], "lower contents must be hidden");
    g.unmount().unwrap();

    // The diff says the same thing in OCI words, and applying it into an
    // empty directory gives back the same upper.
    let mut tar = Vec::new();
    diff_upper(&f.p("upper"), &mut tar).unwrap();
    let names: Vec<String> = chapter03::diff::list_entries(tar.as_slice())
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(
        names.contains(&"opt/app/.wh..wh..opq".to_string()),
        "{names:?}"
    );
    let back = f.p("back");
    fs::create_dir(&back).unwrap();
    apply(
        tar.as_slice(),
        &back,
        &ApplyOptions {
            keep_setid: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_same(
        &snapshot(&f.p("upper"), &FULL),
        &snapshot(&back, &FULL),
        "upper vs applied diff",
    );
}

#[test]
fn renaming_a_lower_directory_is_exdev_without_redirect_dir() {
    let f = Fixture::new();
    // Mount with redirect_dir=off explicitly: rename(2) of a lower directory
    // then fails with EXDEV and `mv` falls back to copy + delete.
    let mut m = f.mount();
    m.options.push("redirect_dir=off".into());
    let g = m.apply().unwrap();
    let err = fs::rename(f.p("merged/opt/app"), f.p("merged/opt/app2")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EXDEV));
    // A directory that exists only in upper renames fine.
    fs::create_dir(f.p("merged/new")).unwrap();
    fs::rename(f.p("merged/new"), f.p("merged/new2")).unwrap();
    g.unmount().unwrap();
}

#[test]
fn guards_unmount_even_on_panic() {
    let f = Fixture::new();
    let target = f.p("merged");
    let r = std::panic::catch_unwind(|| {
        let _g = f.mount().apply().unwrap();
        assert!(!mounted_under(Path::new(MOUNTINFO), &target)
            .unwrap()
            .is_empty());
        panic!("boom");
    });
    assert!(r.is_err());
    assert!(mounted_under(Path::new(MOUNTINFO), &target)
        .unwrap()
        .is_empty());
}

#[test]
fn mount_errors_say_what_failed() {
    let f = Fixture::new();
    let m = Mount::overlay(
        &[f.p("does-not-exist")],
        &f.p("upper"),
        &f.p("work"),
        &f.p("merged"),
    )
    .unwrap();
    let e = m.apply().unwrap_err().to_string();
    assert!(
        e.starts_with("`mount -t overlay overlay -o lowerdir="),
        "{e}"
    );
    assert!(e.contains("ENOENT"), "{e}");
}
