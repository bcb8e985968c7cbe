//! The daemon's half of the shim: the protocol it speaks to `mini-shim`
//! (one process per container, its own crate), re-exported from the
//! `mini-shim` library so that both sides share one definition.
//!
//! ```text
//! mini-dockerd ── spawns ──▶ mini-shim (stage 1) ── forks ──▶ stage 2: setsid, survives the daemon
//!      ▲   reads one line "ok <pid>" / "err <why>"                 │ a child subreaper
//!      │                                                           ▼
//!      │                              RUNTIME --root R create --bundle DIR --pid-file F ID
//!      │── "start" ────────────────────────────────────▶ RUNTIME start ID
//!      │                                                           │
//!      │   <shims>/<id>.sock: EOF = "exited"          container's stdout/stderr pipes or pty
//!      └──────────────────────────────────────────── ◀── json-file log, reaps init, exit.json
//! ```
//!
//! The daemon spawns the shim ([`super::Engine`]'s `spawn_shim`, with
//! [`ShimArgs`]: the runtime binary, the container's directory, its stdio
//! and log settings), reads its one-line answer, and from then on talks to
//! it only through `<shims>/<id>.sock` ([`Request`] lines, see
//! [`super::streams`]) and the files it leaves: [`exit_file`],
//! [`log_file`], [`exec_exit_file`]. The shim runs the OCI runtime as a
//! binary with runc's command line, so it neither links the engine nor
//! needs the daemon once the container runs: a daemon that restarts
//! reconnects to the sockets of running containers (live restore).

pub use mini_shim::{
    exec_exit_file, exit_file, frame, log_file, read_exit, ExecRequest, ExitStatus, LogLine,
    Request, ShimArgs,
};

/// The OCI runtime the shim executes: `mini-runc`, next to the daemon's own
/// executable (cargo builds every workspace binary into one directory).
pub fn default_runtime() -> std::path::PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("mini-runc"))
        .unwrap_or_else(|_| "mini-runc".into())
}
