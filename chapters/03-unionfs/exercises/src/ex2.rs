//! Exercise 2: a whiteout.
//!
//! A layer cannot delete a file of the layers below it: they are read-only,
//! and shared with other containers. Instead, the upper layer records the
//! deletion as a **whiteout**: a character device with device number 0/0
//! at the same path. overlayfs hides the lower file wherever it finds one
//! (`rm` in the merged view makes exactly this). In an image layer's tar the
//! same deletion is an empty file named `.wh.NAME` (chapter 03's
//! `whiteout.rs` converts one into the other).
//!
//! Check with `scripts/check.sh 03 2`: the checker calls this function on an
//! upper directory, mounts an overlay of it over a lower directory holding
//! `etc/motd` and `etc/hostname`, and looks at the merged view.

use std::path::Path;

/// Records in `upper` that the lower layers' file `rel` (e.g. `etc/motd`)
/// is deleted. The parent directory may not exist yet in `upper`.
pub fn whiteout(upper: &Path, rel: &str) -> nix::Result<()> {
    let _ = (upper, rel);
    todo!("hint: create the parent directory, then nix::sys::stat::mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))")
}
