//! Exercise 1, a reference answer.

use std::path::Path;

use nix::mount::{mount, MsFlags};

/// Mounts an overlay at `merged` with `lower` under `upper`.
pub fn mount_overlay(lower: &Path, upper: &Path, work: &Path, merged: &Path) -> nix::Result<()> {
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
}
