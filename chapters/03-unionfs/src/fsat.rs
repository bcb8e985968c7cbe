//! Small fd-relative file helpers used by [`crate::apply`].
//!
//! Every operation takes a directory fd plus a single name, so no path is
//! ever re-walked from a string once it has been resolved (the classic
//! time-of-check/time-of-use hole of string-prefix checks).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::unistd::UnlinkatFlags;

use crate::sys;

pub(crate) fn io_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Resolve `rel` (relative, may be empty) as a directory inside `root`, as
/// if `root` were `/`: symlinks and `..` can never leave it.
pub(crate) fn resolve_dir(root: BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd, Errno> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    sys::openat2(
        root,
        rel,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        0,
        sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
    )
}

/// Open the single `name` under `dir` without following any symlink.
pub(crate) fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlag,
    mode: u32,
) -> Result<OwnedFd, Errno> {
    sys::openat2(
        dir,
        Path::new(name),
        flags | OFlag::O_NOFOLLOW,
        mode,
        sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    )
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`, `None` if it does not exist.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>, Errno> {
    match nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

/// The names in a directory (without `.` and `..`).
pub(crate) fn list_dir(dir: BorrowedFd<'_>) -> Result<Vec<OsString>, Errno> {
    let fd = open_beneath(
        dir,
        OsStr::new("."),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        0,
    )?;
    let mut d = nix::dir::Dir::from_fd(fd.into_raw_fd())?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(names)
}

/// Remove `name` under `dir`, recursively if it is a directory, never
/// following a symlink.
pub(crate) fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if is_dir(&st) {
        let sub = open_beneath(dir, name, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)?;
        for child in list_dir(sub.as_fd())? {
            remove_all_at(sub.as_fd(), &child)?;
        }
        nix::unistd::unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::RemoveDir)
    } else {
        nix::unistd::unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir)
    }
}

/// `mkdirat(dir, name, mode)`.
pub(crate) fn mkdir_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> Result<(), Errno> {
    nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::from_bits_truncate(mode))
}

/// A path naming `name` inside the directory `dir` through `/proc/self/fd`,
/// for the calls that have no fd-relative form (`lsetxattr`). The directory
/// part is pinned by the fd; the last component is not followed by the `l*`
/// calls.
pub(crate) fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}
