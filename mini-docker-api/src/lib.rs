//! # mini-docker-api
//!
//! The Docker Engine API as types: what the client (`mini-docker`) sends and
//! what the daemon (`mini-dockerd`) answers. It is the only crate the two
//! share, so the wire format is written down once.
//!
//! ```text
//! mini-docker (CLI) ──┐                      ┌── mini-dockerd (routers → services)
//!                     └──▶ mini-docker-api ◀─┘
//! ```

/// The Engine API version this daemon speaks and this client asks for.
pub const API_VERSION: &str = "1.41";

/// The oldest API version the daemon accepts, as Docker 20.10's.
pub const MIN_API_VERSION: &str = "1.12";

pub mod archive;
pub mod atomic;
pub mod bodies;
pub mod container;
pub mod detach;
pub mod doctor;
pub mod explain;
pub mod ids;
pub mod ignore;
pub mod restart;
pub mod time;
pub mod tls;
pub mod units;
