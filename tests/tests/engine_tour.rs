//! The README's main job, end to end: scripts/engine-tour.sh pushes and pulls
//! an image through the chapter 06 registry, serves a page from a container
//! through a published port on 127.0.0.1, and leaves nothing behind.

use std::process::Command;

#[test]
fn the_engine_tour_runs_and_leaves_nothing() {
    e2e::require_root();
    // The tour uses the workspace's binaries; make sure it finds this build's.
    let bin_dir = e2e::bin("mini-docker").parent().unwrap().to_path_buf();
    let target = bin_dir.parent().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/engine-tour.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("<h1>hello from a busybox container</h1>"),
        "the page came through:\n{stdout}"
    );
    assert!(
        stdout.contains(": Pushed"),
        "the image was pushed:\n{stdout}"
    );
    assert!(
        stdout.contains("links of the tour: 0, mounts: 0, shims: 0, work directory: gone"),
        "{stdout}"
    );
}
