//! The one helper library of the end-to-end tests in `tests/tests/`.
//!
//! The tests drive the workspace's binaries as a user would (`mini-docker`,
//! `mini-dockerd`, `mini-runc`, the chapters' tours), next to the real tools
//! they are compared with (docker CLI, dockerd, runc, crun, docker-py,
//! docker-compose). Every kernel object or process a helper makes is
//! removed on drop, also when the test panics.
//!
//! - [`bin`]: where a binary of this workspace is, and whether it is fresh;
//! - [`cli`]: running a command and reading its output;
//! - [`daemon`]: a `mini-dockerd` per test ([`Daemon`]) and its busybox image;
//! - [`registry`]: chapter 06's registry on a free port ([`Registry`]);
//! - [`runtime`]: OCI bundles and state roots for `mini-runc` and its peers;
//! - [`containerd`]: a real containerd of the test's own ([`Containerd`]);
//! - [`docker`]: the real docker CLI and a real dockerd ([`DockerDaemon`]);
//! - [`http`]: one raw HTTP request over a unix socket or TCP;
//! - [`host`]: what is left on the host (processes, mounts, cgroups, files);
//! - [`net`]: free subnets and pages fetched through published ports.
//!
//! Binaries are found next to the test executable (`target/<profile>/`), not
//! through `CARGO_BIN_EXE_*`: they belong to several packages, and Cargo
//! gives a test only its own package's. `scripts/test.sh` builds them first
//! (`cargo build --workspace --all-targets`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub mod cli;
pub mod containerd;
pub mod daemon;
pub mod docker;
pub mod host;
pub mod http;
pub mod net;
pub mod registry;
pub mod runtime;

pub use cli::{run_with_host, run_with_stdin, stderr, stdout};
pub use containerd::Containerd;
pub use daemon::*;
pub use docker::{docker_cli, DockerDaemon};
pub use host::{dir_blobs_verify, files, mounts_under, processes_with};
pub use net::{fetch_page, fetch_until, free_subnet};
pub use registry::Registry;

/// The workspace's root directory (where `Cargo.toml` and `scripts/` are).
pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// This crate's directory (`tests/`: `fixtures/`, `py/`).
pub fn tests_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/`: the test executable is in its `deps/`.
pub(crate) fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|d| d.parent())
        .expect("the test executable is in target/<profile>/deps/")
        .to_path_buf()
}

/// A scratch directory under `target/` (`target/tmp`, Cargo's own for
/// tests), for what several test executables share (the busybox tarball).
pub fn target_tmpdir() -> PathBuf {
    let dir = profile_dir()
        .parent()
        .expect("target/<profile>")
        .join("tmp");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The path of a binary of this workspace (`chapter01`, `mini-docker`,
/// `mini-runc`, …) in `target/<profile>/`, next to the test executable's
/// `deps/`. Fails the test with what to do when it is missing, or older
/// than one of its sources (a stale binary would test old code).
pub fn bin(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    let todo = "run `cargo build --workspace --bins` first (scripts/test.sh does)";
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is not built: {todo}", path.display()));
    if let Some(why) = stale_because(&path, built) {
        panic!("{} is out of date ({why}): {todo}", path.display());
    }
    path
}

/// The binaries a [`Daemon`] runs: the daemon, the CLI the helpers drive
/// it with, and what the daemon itself executes (shim, runtime, proxy).
pub const ENGINE_BINS: [&str; 5] = [
    "mini-dockerd",
    "mini-docker",
    "mini-shim",
    "mini-runc",
    "mini-docker-proxy",
];

/// Fails the test (through [`bin`]) unless every binary in `names` is
/// built and fresh. Called before anything is spawned, so that a stale
/// binary stops a test before it has a daemon to orphan.
pub fn require_bins(names: &[&str]) {
    for name in names {
        bin(name);
    }
}

/// [`bin`] as a `String`, for the helpers that take `&str`.
pub fn bin_str(name: &str) -> String {
    bin(name).display().to_string()
}

/// Why the binary at `path`, built at `built`, is older than its sources,
/// if it is. Cargo writes the sources a binary was built from into
/// `<binary>.d` (`<root>/target/<profile>/<name>: src1 src2 …`, spaces in
/// names escaped) and decides what to rebuild by the same modification
/// times. Only this tree's sources count (the registry's never change);
/// a target directory copied from another checkout names that checkout's
/// files, which are read here as this tree's.
fn stale_because(path: &Path, built: SystemTime) -> Option<String> {
    let deps = std::fs::read_to_string(path.with_extension("d")).ok()?;
    let deps = deps.lines().next()?.replace("\\ ", "\0");
    let (target, sources) = deps.split_once(": ")?;
    let their_root = Path::new(target).ancestors().nth(3)?;
    let root = workspace_root().canonicalize().ok()?;
    for source in sources.split_whitespace() {
        let source = PathBuf::from(source.replace('\0', " "));
        let Ok(inside) = source.strip_prefix(their_root) else {
            continue;
        };
        let source = root.join(inside);
        // A source that is gone (moved) is not a sign: what moved into its
        // place is newer, or the binary's crate is not built any more.
        if let Ok(m) = std::fs::metadata(&source).and_then(|m| m.modified()) {
            if m > built {
                return Some(format!("{} is newer", source.display()));
            }
        }
    }
    None
}

/// Fails the test with a clear message when not run as root; a privileged
/// test never passes by skipping.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root: run `sudo bash scripts/test.sh`"
    );
}

/// Waits (bounded by attempts, not by time: about 30 s) until `cond` holds.
#[track_caller]
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("never happened: {what}");
}
