//! Exercise 3: `pivot_root`, and the propagation trap.
//!
//! A container's root is a directory of the host. `pivot_root(new, old)`
//! makes `new` the root of the mount namespace and puts the old root at
//! `old` (below `new`), which is then unmounted so the container cannot
//! reach the host's files. Three conditions (pivot_root(2)):
//!
//! - `new` must be a mount point: bind-mount it onto itself first;
//! - neither `new` nor the current root may be **shared**. On a systemd host
//!   `/` is shared (`findmnt -o TARGET,PROPAGATION /`), and a new mount
//!   namespace starts with copies that stay in the same peer group: the
//!   bind mount would appear on the host too, and `pivot_root` fails with
//!   `EINVAL`. Make the whole tree private first (`mount --make-rprivate /`);
//! - `old` must be below `new`.
//!
//! Chapter 01's `mnt` demo does this; its library's steps are
//! `MakeRprivate`, `BindRoot`, `PivotRoot` and `UmountOld` in `plan.rs`.
//!
//! Check with `scripts/check.sh 01 3`: the checker makes a mount namespace
//! whose `/` is shared (as on systemd), calls this function with a
//! directory holding one file, `marker`, and looks at `/` afterwards, and
//! at the host's mount table.

use std::path::Path;

/// Makes `new_root` the root of the calling process's mount namespace
/// (already unshared). Afterwards `/` lists what `new_root` held, and the
/// old root is unmounted and its directory removed.
pub fn pivot_into(new_root: &Path) -> nix::Result<()> {
    let _ = new_root;
    todo!("hint: mount(None, \"/\", None, MS_REC | MS_PRIVATE, None); bind-mount new_root onto itself (MS_BIND | MS_REC); mkdir new_root/old; pivot_root(new_root, new_root/old); chdir(\"/\"); umount2(\"/old\", MNT_DETACH); rmdir(\"/old\")")
}
