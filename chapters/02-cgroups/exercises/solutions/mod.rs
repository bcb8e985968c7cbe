//! The reference answers of chapter 02's exercises, for teachers:
//! `scripts/check.sh --solutions 02` checks them. Learners: try first.

pub mod ex1;
pub mod ex2;
pub mod ex3;
