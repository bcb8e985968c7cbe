//! The reference answers of the engine's exercises, for teachers:
//! `scripts/check.sh --solutions engine` checks them. They are the engine's
//! own code; read it where each says. Learners: try first.

pub mod ex1;
pub mod ex2;
pub mod ex3;
pub mod ex4;
