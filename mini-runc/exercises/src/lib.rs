//! # mini-runc: exercises
//!
//! After the chapters, four steps of an OCI runtime, in the order `create`
//! and `start` take them. Each exercise is one function in `src/exN.rs`
//! whose body is a `todo!()` with a hint, and mini-runc's own code is around
//! it. Write it, then check it (as root, like the runtime):
//!
//! ```text
//! scripts/check.sh runc 2      # or: cargo run -p mini-runc-exercises -- 2
//! ```
//!
//! 1. [`ex1`]: read `config.json` into the process to exec: args, env,
//!    cwd, user;
//! 2. [`ex2`]: `maskedPaths` and `readonlyPaths`;
//! 3. [`ex3`]: `start`: release the process that `create` left waiting on
//!    the exec fifo;
//! 4. [`ex4`]: rlimits and `no_new_privs`.
//!
//! The checker ([`check`]) builds a real bundle (a busybox root filesystem
//! and a `config.json`) and runs your step where the runtime would: it
//! execs the container's process as your [`ex1`] says, in the bundle's root,
//! and looks at what the process itself sees; it masks inside a mount
//! namespace of its own, and reads the masked files; it creates a real
//! container with mini-runc's library, and another with the real runc, and
//! calls your `start` on each; it execs
//! `cat /proc/self/limits` under your limits. The reference answers are
//! mini-runc's own functions, wrapped in `solutions/`
//! (`scripts/check.sh --solutions runc`).

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
pub mod ex4;
#[path = "../solutions/mod.rs"]
pub mod solutions;
