//! # Chapter 05: exercises
//!
//! Each exercise is one function in `src/exN.rs` whose body is a `todo!()`
//! with a hint. Write it, then check it (as root):
//!
//! ```text
//! scripts/check.sh 05 1        # or: cargo run -p chapter05-exercises -- 1
//! ```
//!
//! The checker makes a bridge and a network namespace with chapter 05's
//! library (named `ch05-ex1…-<n>`, so `ip link` shows whose they are; all
//! deleted at the end, also when a check fails), calls your function, and
//! sends real packets. The reference answers are in `solutions/`
//! (`scripts/check.sh --solutions 05`).
//!
//! 1. [`ex1`]: a veth pair from a namespace into a bridge;
//! 2. [`ex2`]: an address and a default route inside the namespace;
//! 3. [`ex3`]: a DNAT rule publishes a container's port.

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
#[path = "../solutions/mod.rs"]
pub mod solutions;
