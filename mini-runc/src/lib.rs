//! # mini-runc: an OCI runtime built from the chapters
//!
//! `mini-runc` implements the OCI runtime command line (`create`, `start`,
//! `state`, `kill`, `delete`, `run`, `exec`, `ps`, `spec`, `features`) over a
//! bundle (`config.json` + a root filesystem), so that the engine, Docker
//! (`dockerd --add-runtime`) or a person can drive it like runc or crun.
//!
//! It is made of the chapters: namespaces, id maps and the init/parent
//! channel come from chapter 01, cgroups from chapter 02, and the
//! `openat2(RESOLVE_IN_ROOT)` resolution from chapter 03's safe extractor.
//! What it adds is what a real spec needs; read [`plan`] for the order of
//! operations, with the sync diagram, and [`init`] for the container side.
//!
//! Defences against known attacks on runtimes:
//! * CVE-2019-5736: the container's init runs from a sealed memfd copy of the
//!   runtime ([`container`]), so the host binary cannot be overwritten
//!   through `/proc/<pid>/exe`;
//! * CVE-2024-21626: every inherited descriptor above 2 is closed on exec and
//!   the working directory is checked to be inside the container;
//! * CVE-2021-30465: mount destinations are resolved inside the rootfs with
//!   `openat2(RESOLVE_IN_ROOT)` and mounted through the descriptor ([`mounts`]);
//! * an image whose `/proc` or `/dev/null` is a symlink is refused.

pub mod config;
pub mod container;
pub mod devices;
pub mod error;
pub mod init;
pub mod mounts;
pub mod plan;
pub mod seccomp;
pub mod state;
pub mod sys;
