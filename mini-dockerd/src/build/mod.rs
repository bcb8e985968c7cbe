//! # Building images: from a Dockerfile to layers
//!
//! `docker build` turns a text file into an image, one instruction at a
//! time. Every instruction starts from the image the previous one made
//! (its *parent*) and makes a new image:
//!
//! ```text
//! FROM busybox            parent = busybox                       (no new image)
//! ENV A=1                 config.Env += A=1                      new config, same layers
//! RUN echo $A > /f        container from parent, run, diff       new config, one more layer
//! COPY app /app           copy files into a container's rootfs   new config, one more layer
//! CMD ["/app"]            config.Cmd = ["/app"]                  new config, same layers
//! ```
//!
//! - *metadata* instructions (ENV, CMD, ENTRYPOINT, WORKDIR, USER, EXPOSE,
//!   LABEL, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ARG) only change the
//!   image config; their history entry says `empty_layer: true`;
//! - *filesystem* instructions (RUN, COPY, ADD) change files: the builder
//!   makes a container from the parent (chapter 03's read-write layer on
//!   the parent's layers), changes it, and turns that read-write layer into
//!   a layer tar (chapter 03's diff), stored by chapter 04;
//! - every step is cached under a key made of the parent image id, the
//!   instruction (after variable expansion) and, for COPY/ADD, the digest of
//!   the copied content: an unchanged rebuild reuses every step
//!   (` ---> Using cache`), and changing one copied file rebuilds from the
//!   first instruction that sees it.
//!
//! The modules:
//!
//! 1. [`dockerfile`]: the parser (directives, comments, line continuations,
//!    JSON and shell forms, flags), with errors that name file, line and
//!    instruction;
//! 2. [`shellword`]: variable substitution (`$VAR`, `${VAR:-x}`, quotes);
//! 3. [`ignore`]: `.dockerignore`, the files that never leave the client.
//!
//! The daemon side (running the steps) is `engine::builder`.

pub mod dockerfile;
pub use mini_docker_api::ignore;
pub mod shellword;

#[cfg(test)]
mod fuzz_tests;
