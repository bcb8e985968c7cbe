//! Exercise 1, the reference answer: the engine's own table,
//! `transition` in `mini-dockerd/src/state.rs`.

pub use mini_dockerd::state::transition;
