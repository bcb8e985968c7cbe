//! # Chapter 04: exercises
//!
//! Each exercise is one function in `src/exN.rs` whose body is a `todo!()`
//! with a hint. Write it, then check it:
//!
//! ```text
//! scripts/check.sh 04 2        # or: cargo run -p chapter04-exercises -- 2
//! ```
//!
//! These need no root. The reference answers are in `solutions/`
//! (`scripts/check.sh --solutions 04`).
//!
//! 1. [`ex1`]: a blob's digest, as `sha256sum` computes it;
//! 2. [`ex2`]: a blob enters the store only when its digest matches;
//! 3. [`ex3`]: a layer entry named `../` is refused.

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
#[path = "../solutions/mod.rs"]
pub mod solutions;
