//! Exercise 3: refuse `../`.
//!
//! A layer is a tar file written by someone else. An entry named
//! `../../etc/cron.d/x` would, unpacked naively with `root.join(name)`,
//! land outside the container's root: the "zip slip" attack. Docker, runc's
//! tools and chapter 03's `apply.rs` (`clean_name`) refuse any name with a
//! `..` component, and strip a leading `/` (tar names are relative to the
//! root). (Symlinks inside the root are the other half of the attack:
//! chapter 03 resolves every path with `openat2(RESOLVE_BENEATH)`.)
//!
//! Check with `scripts/check.sh 04 3`: the checker unpacks a real tar whose
//! entries include `../` names, writing each file where your function says,
//! and looks for anything outside the root.

use std::path::{Path, PathBuf};

/// Where the tar entry `name` goes below `root`: `root/name`, with a
/// leading `/` stripped. A name with a `..` component is an error.
pub fn destination(root: &Path, name: &Path) -> Result<PathBuf, String> {
    let _ = (root, name);
    todo!("hint: walk name.components(): keep Component::Normal, skip RootDir and CurDir, refuse Component::ParentDir")
}
