//! # Chapter 01: namespaces
//!
//! A container is an ordinary Linux process that sees a different world. The
//! kernel gives it that world through **namespaces**: the hostname, the process
//! ids, the IPC objects, the mounts, the network, the user ids and the cgroup
//! root are each wrapped so that the process gets a private copy ([`Namespace`]).
//! Nothing is virtualised: `ps` on the host still shows the process; it simply
//! cannot see out.
//!
//! This library makes such a process the way runc does, in three parts:
//!
//! 1. [`plan`](mod@plan) computes every step as data (a [`Step`] knows its system
//!    call, the shell command that does the same, and why it is there);
//! 2. [`init`] is the container side: the program re-executes itself as a
//!    single-threaded init that unshares namespaces, forks PID 1, which mounts
//!    its root, pivots into it and finally execs the container's program;
//! 3. [`container`] is the parent side: it starts the init, writes the user
//!    namespace's id maps when asked, narrates each step, and lets the program
//!    start ([`create`] then [`Created::start`], like `runc create`/`runc start`).
//!
//! [`rootfs`] builds the minimal busybox root filesystem every chapter uses, and
//! [`demo`] holds the guided demos of `cargo run -p chapter01`.
//!
//! ```no_run
//! chapter01::init_hook(); // first line of main()
//! let mut config = chapter01::Config::new(vec!["hostname".into()]);
//! config.namespaces = vec![chapter01::Namespace::Uts];
//! config.hostname = Some("inside".into());
//! let status = chapter01::spawn(config)?.wait()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod channel;
pub mod container;
pub mod demo;
pub mod init;
pub mod namespace;
pub mod plan;
pub mod rootfs;
pub mod sys;

pub use container::{create, narration_line, spawn, Child, Config, Created, Error};
pub use init::init_hook;
pub use namespace::Namespace;
pub use plan::{IdMap, IdMapEntry, Spec, Step};

/// Fails with a message that says what to do when this process is not root.
pub fn require_root(what: &str) -> Result<(), String> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(format!("{what} needs root: run it with sudo (or as root)"))
    }
}
