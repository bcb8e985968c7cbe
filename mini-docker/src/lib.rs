//! # mini-docker
//!
//! A container engine with Docker's architecture in miniature, built from the
//! chapter libraries (imported under topic names: `namespaces`, `cgroups`,
//! `unionfs`, …), never copied.
//!
//! ```text
//! mini-docker (CLI) ──HTTP/JSON over a unix socket──▶ mini-dockerd
//!                                                       │ one per container
//!                                                       ▼
//!                                                    mini-shim ──▶ mini-runc create/start/…
//!                                                                   │
//!                                                                   ▼ kernel
//! ```
//!
//! `mini-runc` (its own crate) is the OCI runtime at the bottom of that picture.

pub mod build;
pub mod client;
pub mod engine;
