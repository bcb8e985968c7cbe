//! # Chapter 03: exercises
//!
//! Each exercise is one function in `src/exN.rs` whose body is a `todo!()`
//! with a hint. Write it, then check it:
//!
//! ```text
//! scripts/check.sh 03 2        # or: cargo run -p chapter03-exercises -- 2
//! ```
//!
//! The checker ([`check`]) runs your function in a mount namespace of its
//! own (so nothing it mounts reaches the host, and everything is unmounted
//! when it ends), mounts an overlay over it, and looks at the merged view,
//! the upper and the lower directories. The reference answers are in
//! `solutions/` (`scripts/check.sh --solutions 03`).
//!
//! 1. [`ex1`]: mount an overlay, and see where writes go;
//! 2. [`ex2`]: a whiteout hides a lower file;
//! 3. [`ex3`]: an opaque directory hides a whole lower directory.

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
#[path = "../solutions/mod.rs"]
pub mod solutions;
