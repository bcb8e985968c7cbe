//! # Chapter 01: exercises
//!
//! Each exercise is one function in `src/exN.rs` whose body is a `todo!()`
//! with a hint. Write it, then check it:
//!
//! ```text
//! scripts/check.sh 01 2        # or: cargo run -p chapter01-exercises -- 2
//! ```
//!
//! The checker ([`check`]) runs your function in a fresh process and
//! observes what the kernel really did (the hostname, the reaped children,
//! the root directory, the owner of a file). The reference answers are in
//! `solutions/` (`scripts/check.sh --solutions 01` checks them).
//!
//! 1. [`ex1`]: a UTS namespace of one's own;
//! 2. [`ex2`]: PID 1 reaps its orphans;
//! 3. [`ex3`]: `pivot_root`, and the trap of shared mount propagation;
//! 4. [`ex4`]: a user namespace's id maps.

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
pub mod ex4;
#[path = "../solutions/mod.rs"]
pub mod solutions;
