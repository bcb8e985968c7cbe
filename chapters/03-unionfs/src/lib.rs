//! # Chapter 03: union filesystems and copy-on-write layers
//!
//! A container image is a stack of layers; a container is one more, writable,
//! layer on top. Nothing is copied when a container starts: a **union
//! filesystem** (overlayfs on Linux) shows the stack as one directory tree and
//! records every change in the top layer only.
//!
//! ```text
//!  merged/   what the container sees            (the overlay mount)
//!    |
//!  upper/    container changes: copies, whiteouts, opaque dirs  (read-write)
//!  lower 1/  app layer                           (read-only)
//!  lower 2/  busybox base layer                  (read-only)
//! ```
//!
//! Copy-on-write, as overlayfs does it:
//!
//! - **read**: served from the topmost layer that has the name;
//! - **copy-up**: the first write to a lower file copies it (data, owner,
//!   mode, xattrs, times) into upper, then writes the copy;
//! - **whiteout**: deleting a lower name leaves a character device 0/0 of the
//!   same name in upper, which hides it ([`whiteout`]);
//! - **opaque directory**: a directory deleted and created again carries the
//!   xattr `trusted.overlay.opaque="y"` in upper, hiding everything below it
//!   in the lower layers.
//!
//! The modules follow the lesson:
//!
//! 1. [`mount`]: mounts described as data ([`Mount`]), printed as the
//!    `mount -t overlay …` command, then applied with an unmount guard.
//! 2. [`whiteout`]: how deletions and opaque directories look on disk and in
//!    an OCI layer tar (`.wh.<name>`, `.wh..wh..opq`); `docker diff`-style
//!    listing of an upper directory; renaming a lower directory
//!    ([`whiteout::rename_like_mv`], `EXDEV` without `redirect_dir`).
//! 3. [`diff`]: an upper directory (or a directory compared with its parent)
//!    turned into an OCI layer tar.
//! 4. [`apply`]: an OCI layer tar turned into a directory, safely: every path
//!    is resolved inside the target with `openat2(RESOLVE_IN_ROOT)`.
//! 5. [`driver`]: two storage drivers behind one [`driver::Driver`] trait,
//!    `overlay` and a `copy` fallback (Docker's `vfs`), and the probe that
//!    picks one and says why.
//!
//! Read: Documentation/filesystems/overlayfs.rst, the OCI image spec's
//! "layer.md" (changesets, whiteouts), mount(2), openat2(2), xattr(7).

pub mod apply;
pub mod diff;
pub mod driver;
mod fsat;
pub mod mount;
pub mod sys;
pub mod whiteout;

use std::path::PathBuf;

pub use apply::{apply, ApplyOptions, ApplyStats, WhiteoutMode};
pub use diff::{diff_against, diff_upper, DiffStats};
pub use driver::{
    publish_layers, select_driver, CopyDriver, Driver, DriverKind, FilledLayer, OverlayDriver,
    Selection,
};
pub use mount::{Mount, MountGuard, Mounted};

/// Everything that can go wrong in this chapter, named after the step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mount could not be described (bad path, too long).
    #[error("cannot describe `{mount}`: {reason}")]
    InvalidMount {
        /// The mount, as far as it could be described.
        mount: String,
        /// Why it cannot be expressed.
        reason: String,
    },
    /// mount(2) failed.
    #[error("`{mount}` failed: {errno}{}", hint_for(*.errno))]
    Mount {
        /// The mount command.
        mount: String,
        /// The errno from mount(2).
        errno: nix::errno::Errno,
    },
    /// umount2(2) failed.
    #[error("umount {}: {errno}", .target.display())]
    Unmount {
        /// The mount point.
        target: PathBuf,
        /// The errno from umount2(2).
        errno: nix::errno::Errno,
    },
    /// The target directory of an apply could not be opened.
    #[error("open the target directory {}", .path.display())]
    OpenTarget {
        /// The target.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading the layer tar failed.
    #[error("read the layer tar")]
    ReadTar {
        /// The cause.
        source: std::io::Error,
    },
    /// A tar entry was refused before anything was written for it.
    #[error("refused tar entry `{entry}`: {reason}")]
    UnsafeEntry {
        /// The entry name as found in the tar.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// Writing one tar entry to the target failed.
    #[error("apply tar entry `{entry}`: {step}")]
    ApplyEntry {
        /// The entry name as found in the tar.
        entry: String,
        /// The step that failed, e.g. "create the parent directory `a/b`".
        step: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading a directory tree (for a diff or a copy) failed.
    #[error("read {}", .path.display())]
    ReadTree {
        /// The path that could not be read.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the layer tar failed.
    #[error("write the layer tar entry `{entry}`")]
    WriteTar {
        /// The entry being written.
        entry: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A driver could not create or remove a layer directory.
    #[error("{step} {}", .path.display())]
    Layer {
        /// What was being done, e.g. "create the layer directory".
        step: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A layer id was not found in the driver's root.
    #[error("layer `{id}` does not exist in {}", .root.display())]
    UnknownLayer {
        /// The id asked for.
        id: String,
        /// The driver root.
        root: PathBuf,
    },
    /// A layer id is not a plain name.
    #[error("invalid layer id `{id}`: use letters, digits, `-`, `_` and `.`")]
    InvalidLayerId {
        /// The id.
        id: String,
    },
}

fn hint_for(errno: nix::errno::Errno) -> &'static str {
    match errno {
        nix::errno::Errno::EPERM => " (mounting needs root: run it with sudo)",
        nix::errno::Errno::EINVAL => {
            " (the kernel refused the options; `dmesg | tail` says why, e.g. an upper dir on overlayfs)"
        }
        nix::errno::Errno::ENODEV => " (no overlay support in this kernel: `modprobe overlay`)",
        _ => "",
    }
}
