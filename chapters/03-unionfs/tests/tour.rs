//! The tour and `shell` as a learner runs them (root): what they print, and
//! that they leave no mount and no work directory behind.

mod common;

use std::process::Command;

fn run(args: &[&str]) -> String {
    common::require_root();
    let out = Command::new(env!("CARGO_BIN_EXE_chapter03"))
        .args(args)
        .output()
        .expect("run chapter03");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "chapter03 {args:?} failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let work = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("work directory: "))
        .expect("the tour names its work directory")
        .to_string();
    assert!(
        !std::path::Path::new(&work).exists(),
        "{work} was left behind"
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&work),
        "a mount under {work} was left behind"
    );
    stdout
}

#[test]
fn tour_with_overlay_shows_copy_up_whiteout_opaque_and_the_diff() {
    let out = run(&["--driver", "overlay"]);
    for want in [
        "$ mount -t overlay overlay -o lowerdir=",
        "(0 entries: reading copies nothing)",
        "-rw-r--r-- 0:0     46 upper/etc/hosts",
        "c--------- 0:0    0,0 upper/etc/hostname",
        "(trusted.overlay.opaque=\"y\")",
        "rename(2) failed with EXDEV",
        "D /etc/hostname",
        "(nothing: no mount left behind)",
        "f etc/.wh.hostname",
        "f var/www/.wh..wh..opq",
        "f app/.wh.config",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // `docker diff`'s three codes only (A, C, D); opaque is said in words.
    let start = out.find("like `docker diff`").expect("the diff section");
    let diff = &out[start..];
    let diff = &diff[..diff.find("\n== ").unwrap_or(diff.len())];
    insta::assert_snapshot!("diff_codes", diff);
}

#[test]
fn tour_with_copy_driver_writes_the_same_changes() {
    let out = run(&["--driver", "copy"]);
    for want in [
        "$ mount --rbind ",
        "f etc/.wh.hostname",
        "f var/www/.wh.index.html",
        "f app/.wh.config",
        "f var/www/new.html",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn shell_runs_in_the_merged_root_and_its_changes_show_in_the_diff() {
    let out = run(&[
        "shell",
        "--",
        "/bin/sh",
        "-c",
        "echo host=$(hostname); cat /etc/motd; rm /etc/motd; echo x > /root/note",
    ]);
    for want in [
        "host=ch03-shell",
        "Welcome to the chapter 03 app image",
        "D /etc/motd",
        "A /root/note",
        "f etc/.wh.motd",
        "f root/note",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn explain_needs_no_root_and_prints_the_mounts() {
    let out = Command::new(env!("CARGO_BIN_EXE_chapter03"))
        .arg("explain")
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("explain", String::from_utf8_lossy(&out.stdout));
}
