//! Exercise 1: an overlay mount.
//!
//! overlayfs shows a *merged* view of read-only `lowerdir`s under one
//! writable `upperdir`. Reads fall through to the lower layers; the first
//! write to a lower file copies it up into `upperdir`; new files go straight
//! to `upperdir`. `workdir` is the kernel's scratch space and must be an
//! empty directory on the same filesystem as `upperdir`. The shell command:
//!
//! ```text
//! mount -t overlay overlay -o lowerdir=L,upperdir=U,workdir=W MERGED
//! ```
//!
//! Chapter 03's library builds this in `mount.rs` (`OverlayMount`); read
//! `Documentation/filesystems/overlayfs.rst`.
//!
//! Check with `scripts/check.sh 03 1`: the checker calls this function, then
//! reads a lower file through `merged`, changes it, creates a new one, and
//! looks where each write landed.

use std::path::Path;

/// Mounts an overlay at `merged` with `lower` under `upper` (and `work` as
/// its work directory).
pub fn mount_overlay(lower: &Path, upper: &Path, work: &Path, merged: &Path) -> nix::Result<()> {
    let _ = (lower, upper, work, merged);
    todo!("hint: nix::mount::mount(Some(\"overlay\"), merged, Some(\"overlay\"), MsFlags::empty(), Some(\"lowerdir=…,upperdir=…,workdir=…\"))")
}
