//! Exercise 3, a reference answer.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, mkdir, pivot_root};

/// Makes `new_root` the root of the calling process's mount namespace.
pub fn pivot_into(new_root: &Path) -> nix::Result<()> {
    // 1. Nothing we mount from here on may propagate to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    // 2. pivot_root wants a mount point.
    mount(
        Some(new_root),
        new_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    // 3. Swap the roots; the old one lands in new_root/old.
    let old = new_root.join("old");
    match mkdir(&old, nix::sys::stat::Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    pivot_root(new_root, &old)?;
    chdir("/")?;
    // 4. Let go of the host's tree.
    umount2("/old", MntFlags::MNT_DETACH)?;
    std::fs::remove_dir("/old")
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))
}
