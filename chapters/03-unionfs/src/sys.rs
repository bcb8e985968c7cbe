//! The one raw system call this chapter needs: `openat2(2)`.
//!
//! `nix` 0.29 does not wrap `openat2`, so we call it through `libc::syscall`.
//! `openat2` takes a `struct open_how` whose `resolve` field changes how the
//! kernel walks the path:
//!
//! - `RESOLVE_IN_ROOT`: treat the directory fd as `/` for this one lookup.
//!   `..` at that root stays at the root and an absolute symlink such as
//!   `/etc` is resolved from the root, exactly as if the process had
//!   `chroot`ed there. This is what makes layer extraction safe: no entry name
//!   and no symlink planted by an earlier entry can lead the walk outside.
//! - `RESOLVE_NO_MAGICLINKS`: refuse `/proc/<pid>/fd/N`-style links, which
//!   would jump anywhere.
//! - `RESOLVE_NO_SYMLINKS` + `RESOLVE_BENEATH`: used to open a single name
//!   under a directory fd without following it (a stricter `O_NOFOLLOW`).
//!
//! Read: openat2(2), path_resolution(7).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;

/// Resolve like a `chroot` at the directory fd (see the module docs).
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// Refuse `/proc/<pid>/fd/N` style "magic" links.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// Refuse every symlink on the way.
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// Refuse to leave the directory fd (no `..` above it, no absolute paths).
pub const RESOLVE_BENEATH: u64 = 0x08;

/// `struct open_how` from `<linux/openat2.h>` (declared here so we do not
/// depend on how libc exposes it).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dirfd, path, {flags, mode, resolve})`, retried on `EAGAIN`/`EINTR`
/// (the kernel returns `EAGAIN` for `RESOLVE_IN_ROOT` when a concurrent rename
/// raced with the walk).
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    flags: OFlag,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | OFlag::O_CLOEXEC).bits() as u32 as u64,
        mode: u64::from(mode),
        resolve,
    };
    for _ in 0..16 {
        // SAFETY: `dirfd` is a live fd borrowed for the duration of the call,
        // `cpath` is a NUL-terminated string that outlives the call, and `how`
        // is a fully initialised `struct open_how` whose exact size we pass, so
        // the kernel reads only memory we own. The call creates a new fd and
        // touches no Rust-managed memory.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd.as_raw_fd(),
                cpath.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if ret >= 0 {
            // SAFETY: openat2 just returned this fd to us; nothing else owns it,
            // so transferring ownership to an OwnedFd (closed on drop) is sound.
            return Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) });
        }
        match Errno::last() {
            Errno::EAGAIN | Errno::EINTR => continue,
            e => return Err(e),
        }
    }
    Err(Errno::EAGAIN)
}

/// `syncfs(2)`: write back every dirty page and inode of the filesystem
/// that holds `f` (one call for a whole unpacked layer, instead of an
/// `fsync` per file).
pub fn syncfs(f: &std::fs::File) -> std::io::Result<()> {
    // SAFETY: `f` is an open descriptor for the duration of the call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
