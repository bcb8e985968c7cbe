//! The reference answers of chapter 01's exercises, for teachers:
//! `scripts/check.sh --solutions 01` checks them. Learners: try first.

pub mod ex1;
pub mod ex2;
pub mod ex3;
pub mod ex4;
