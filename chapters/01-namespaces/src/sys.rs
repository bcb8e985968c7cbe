//! The few places where this chapter talks to the kernel without a safe wrapper.
//!
//! Everything else goes through `nix`. What is here has no safe API: handing a
//! file descriptor to a child between `fork` and `exec`, taking ownership of a
//! descriptor number a parent left us, and System V message queues (which `nix`
//! does not cover) for the IPC demo.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Spawns `cmd` with `fd` available in the child as descriptor `target` (and no
/// close-on-exec flag on it), and with `PR_SET_PDEATHSIG` = SIGKILL so that the
/// child dies with the thread that spawned it instead of being left behind.
pub fn spawn_with_fd(cmd: &mut Command, fd: RawFd, target: RawFd) -> io::Result<Child> {
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe functions may be called because the parent may be
    // multi-threaded (a test harness is). It makes three raw system calls
    // through nix's thin wrappers (fcntl, dup2, prctl): no allocation, no locks.
    unsafe {
        cmd.pre_exec(move || {
            use nix::fcntl::{fcntl, FcntlArg, FdFlag};
            if fd == target {
                // dup2 onto itself would keep FD_CLOEXEC: clear it instead.
                fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
            } else {
                nix::unistd::dup2(fd, target)?;
            }
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            Ok(())
        })
    };
    cmd.spawn()
}

/// Takes ownership of descriptor `fd`, which the parent placed in this process
/// with [`spawn_with_fd`]. Fails if `fd` is not open.
pub fn take_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_GETFD) only queries the descriptor table; it tells us
    // whether `fd` is open without touching it.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is open (checked above) and was put there for this process
    // alone by our parent's pre_exec; nothing else in this freshly exec'd
    // program knows its number, so this OwnedFd is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `msgget(key, IPC_CREAT | IPC_EXCL | 0600)`: creates a System V message queue.
pub fn msgget_create(key: i32) -> io::Result<i32> {
    // SAFETY: msgget takes two integers and returns an id or -1; no memory is shared.
    let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    if id == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(id)
    }
}

/// `msgctl(id, IPC_RMID, NULL)`: removes a System V message queue.
pub fn msgctl_remove(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID ignores the buffer argument, so a null pointer is allowed.
    let rc = unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `fork(2)`. Only called by the container's init, which is single-threaded: it
/// is a fresh exec of this program and [`crate::init_hook`] runs before `main`
/// starts any thread.
pub fn fork_single_threaded() -> nix::Result<nix::unistd::ForkResult> {
    // SAFETY: the caller is single-threaded (see above), so the child gets a
    // consistent copy of the whole process and may do anything, not only
    // async-signal-safe calls.
    unsafe { nix::unistd::fork() }
}

/// Sets the disposition of `sig` to ignore (`true`) or to the default (`false`).
pub fn set_signal_ignored(sig: nix::sys::signal::Signal, ignore: bool) -> nix::Result<()> {
    use nix::sys::signal::{signal, SigHandler};
    let handler = if ignore {
        SigHandler::SigIgn
    } else {
        SigHandler::SigDfl
    };
    // SAFETY: SIG_IGN and SIG_DFL are not functions, so no handler code can run
    // at an unsafe moment; only the disposition of the signal changes.
    unsafe { signal(sig, handler) }.map(|_| ())
}
