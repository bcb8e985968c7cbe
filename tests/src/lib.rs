//! Helpers shared by the end-to-end tests in `tests/tests/`.
//!
//! The tests use the workspace's binaries as a user would. `cargo test
//! --workspace` builds them into the same target directory as the tests.

use std::path::PathBuf;

/// The path of a binary of this workspace (`chapter01`, `mini-docker`, …),
/// next to the test executable's `deps/` directory.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps/..");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests with `cargo test --workspace` (or build `-p {name}`)",
        path.display()
    );
    path
}

/// Fails the test with a clear message when not run as root; a privileged test
/// never passes by skipping.
pub fn require_root() {
    assert!(
        std::fs::metadata("/proc/self").map(|_| ()).is_ok() && effective_uid() == 0,
        "this end-to-end test needs root: run `sudo bash scripts/test.sh`"
    );
}

fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
