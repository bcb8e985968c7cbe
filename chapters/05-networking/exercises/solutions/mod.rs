//! The reference answers of chapter 05's exercises, for teachers:
//! `scripts/check.sh --solutions 05` checks them. Learners: try first.

pub mod ex1;
pub mod ex2;
pub mod ex3;
