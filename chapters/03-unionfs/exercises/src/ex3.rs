//! Exercise 3: an opaque directory.
//!
//! A whiteout hides one file. To replace a whole directory (`rm -rf app &&
//! mkdir app` in a Dockerfile), the upper layer marks its own directory
//! **opaque** with the extended attribute `trusted.overlay.opaque` = `y`:
//! overlayfs then shows only the upper directory's entries and none of the
//! lower one's. In a layer tar the same mark is an empty file
//! `app/.wh..wh..opq`.
//!
//! Check with `scripts/check.sh 03 3`: the checker calls this function,
//! puts `new.conf` into the directory, mounts an overlay over a lower `app/`
//! holding `old.conf` and `old.d/`, and lists the merged `app/`.

use std::path::Path;

/// Creates the directory `rel` in `upper` (if missing) and marks it opaque.
pub fn opaque_dir(upper: &Path, rel: &str) -> std::io::Result<()> {
    let _ = (upper, rel);
    todo!("hint: std::fs::create_dir_all(upper.join(rel)), then xattr::set(that path, \"trusted.overlay.opaque\", b\"y\")")
}
