//! # The engine (mini-dockerd): exercises
//!
//! After the chapters and the runtime, four rules of the daemon itself.
//! Each exercise is one function in `src/exN.rs` whose body is a `todo!()`
//! with a hint; the engine's real code is around it. Write it, then check
//! it (no root needed):
//!
//! ```text
//! scripts/check.sh engine 1     # or: cargo run -p mini-dockerd-exercises -- 1
//! ```
//!
//! 1. [`ex1`]: the lifecycle's state table (`docker pause` of a stopped
//!    container answers 409 "is not running");
//! 2. [`ex2`]: the restart policy's back-off (100 ms, doubling, at most a
//!    minute, reset after 10 s of running);
//! 3. [`ex3`]: one line of the json-file log, read back by `docker logs`;
//! 4. [`ex4`]: the `label` filter of `docker ps`, as compose uses it.
//!
//! The checker ([`check`]) drives your function through the engine's own
//! code: your table's refusals become the API errors the engine would send
//! (its `Refusal::to_api`), your back-off schedules a crash loop, and your
//! log lines are read back by the engine's log reader and framed as
//! `docker logs` receives them, and the filters your function reads are
//! parsed by the engine's parser from what the docker CLI sends. The answers are the engine's own functions
//! (`mini-dockerd/src/state.rs`, `restart.rs`, the shim's log writer,
//! `filters.rs`),
//! wrapped in `solutions/` (`scripts/check.sh --solutions engine`).

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
pub mod ex4;
#[path = "../solutions/mod.rs"]
pub mod solutions;
