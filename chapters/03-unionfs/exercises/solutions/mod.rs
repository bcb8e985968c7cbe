//! The reference answers of chapter 03's exercises, for teachers:
//! `scripts/check.sh --solutions 03` checks them. Learners: try first.

pub mod ex1;
pub mod ex2;
pub mod ex3;
