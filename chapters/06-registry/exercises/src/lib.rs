//! # Chapter 06: exercises
//!
//! Each exercise is one function in `src/exN.rs` whose body is a `todo!()`
//! with a hint. Write it, then check it:
//!
//! ```text
//! scripts/check.sh 06 2        # or: cargo run -p chapter06-exercises -- 2
//! ```
//!
//! The checker starts chapter 06's registry on 127.0.0.1 (a free port) with
//! token authentication on, as Docker Hub does, puts an image's manifest
//! into it, and lets your function talk to it over HTTP with
//! `reqwest::blocking`. No root needed. The reference answers are in
//! `solutions/` (`scripts/check.sh --solutions 06`).
//!
//! 1. [`ex1`]: read the registry's challenge (`WWW-Authenticate`);
//! 2. [`ex2`]: fetch a token from the token endpoint;
//! 3. [`ex3`]: pull a manifest with the token, and verify its digest.

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
#[path = "../solutions/mod.rs"]
pub mod solutions;
