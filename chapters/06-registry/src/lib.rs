//! # Chapter 06: the registry, both sides of `docker pull` and `docker push`
//!
//! A registry is a web server that stores chapter 04's blobs and manifests
//! and hands them out by digest. The whole protocol (the OCI distribution
//! spec, born as Docker's "Registry HTTP API V2") is a dozen URLs:
//!
//! ```text
//! docker pull 127.0.0.1:5000/demo/busybox:latest
//!   GET  /v2/                                       are you a registry? (auth challenge)
//!   GET  /v2/demo/busybox/manifests/latest          Accept: OCI + Docker media types
//!        -> index? pick linux/amd64 -> GET /v2/demo/busybox/manifests/sha256:…
//!   GET  /v2/demo/busybox/blobs/sha256:<config>     in parallel, each digest verified
//!   GET  /v2/demo/busybox/blobs/sha256:<layer>…     while the bytes stream in
//!
//! docker push 127.0.0.1:5000/demo/busybox:latest
//!   HEAD /v2/demo/busybox/blobs/sha256:<layer>      already there? skip it
//!   POST /v2/demo/busybox/blobs/uploads/            -> 202 Location: …/uploads/<id>
//!   PATCH …/uploads/<id>   (chunks)                 -> 202 Range: 0-<n>
//!   PUT  …/uploads/<id>?digest=sha256:<layer>       -> 201: verified and published
//!   PUT  /v2/demo/busybox/manifests/latest          -> 201 Docker-Content-Digest
//! ```
//!
//! The modules:
//!
//! 1. [`spec`]: names, tags, digests and error codes, validated before use.
//! 2. [`reference`]: `busybox` is `docker.io/library/busybox:latest`.
//! 3. [`server`]: the registry, on axum, storing into chapter 04's store.
//! 4. [`auth`]: Basic auth with bcrypt htpasswd, and Bearer tokens with
//!    scopes, the challenge flow Docker Hub uses.
//! 5. [`client`]: pull and push, with the token flow, `config.json`
//!    credentials that never leave their host, mirrors and progress bars.
//!
//! Read: the OCI distribution spec (`spec.md`), Docker's "Token
//! Authentication Specification" and "Token Scope Documentation", and the
//! configuration reference of the CNCF distribution registry.

pub mod auth;
pub mod client;
pub mod demo;
pub mod reference;
pub mod server;
pub mod spec;

pub use client::{Client, ClientConfig};
pub use reference::Reference;
