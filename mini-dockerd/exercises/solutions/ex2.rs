//! Exercise 2, the reference answer: the engine's own back-off,
//! `next_backoff` in `mini-dockerd/src/restart.rs`.

pub use mini_dockerd::restart::next_backoff;
