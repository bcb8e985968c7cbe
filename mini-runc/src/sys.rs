//! The runtime's few raw system calls, each with its safety argument.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of a descriptor that nix 0.29 returned as a raw number.
///
/// # Safety
///
/// `fd` must be open and owned by nobody else (typically: a system call such
/// as open, openat or dup just returned it), so that the returned `OwnedFd`
/// is its only owner and closes it exactly once.
pub unsafe fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller guarantees that `fd` is open and unowned.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `ioctl(fd, TIOCSCTTY, 0)`: makes the terminal on `fd` our controlling
/// terminal (we must be a session leader without one).
pub fn set_controlling_tty(fd: RawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal), no pointer,
    // and `fd` is an open terminal descriptor owned by the caller.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `ioctl(fd, TIOCSWINSZ, {rows, cols})`.
pub fn set_window_size(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `struct winsize`, which `ws` is, alive for
    // the duration of the call.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `ioctl(fd, TIOCGWINSZ)`: a terminal's (rows, cols).
pub fn window_size(fd: RawFd) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` into `ws`, which is
    // valid and exclusively borrowed for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok((ws.ws_row, ws.ws_col))
    }
}

/// Installs a compiled seccomp filter with `seccomp(SECCOMP_SET_MODE_FILTER)`.
///
/// Unlike `seccompiler::apply_filter`, this does not force `no_new_privs`:
/// Docker runs containers without it unless asked, and loading a filter then
/// needs CAP_SYS_ADMIN, which the container's init still has at this point.
pub fn install_seccomp(program: &[seccompiler::sock_filter]) -> io::Result<()> {
    if program.is_empty() {
        return Ok(());
    }
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccompiler::sock_filter and libc::sock_filter are both the
    // kernel's `struct sock_filter` (u16, u8, u8, u32, repr(C)); `prog` points
    // at `program`, which outlives the call; the kernel copies the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `prctl(PR_SET_KEEPCAPS, on)`: keep the permitted capabilities across the
/// change from uid 0 to another uid.
pub fn set_keepcaps(on: bool) -> io::Result<()> {
    // SAFETY: PR_SET_KEEPCAPS takes an integer flag; no memory is passed.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(on), 0, 0, 0) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphaned descendants are re-parented to
/// us instead of to the host's init, so `run` can wait for the container.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag; no memory is passed.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `kill(pid, sig)` for one process only. `kill(2)` reads 0 as "my process
/// group" and -1 as "every process I may signal": a pid that was never
/// filled in would take down the caller's whole session, or the host. So a
/// pid below 2 (and our own) is refused as if it did not exist.
pub fn signal_one(pid: i32, sig: nix::sys::signal::Signal) -> nix::Result<()> {
    if pid <= 1 || pid == std::process::id() as i32 {
        return Err(nix::errno::Errno::ESRCH);
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
}

/// `mallopt(M_ARENA_MAX, 1)`: one malloc arena for the whole process.
///
/// glibc gives threads that meet on the allocator arenas of their own (up to
/// eight per core), and a daemon whose worker and blocking threads each
/// touched a few allocations keeps all those half-used arenas resident. For
/// `mini-dockerd` with 100 containers that was 24 MiB of RSS against 16 MiB
/// with a single arena; its threads mostly wait on sockets, so they rarely
/// meet on the allocator's lock. Call it first thing in `main`, before any
/// thread starts.
pub fn single_malloc_arena() {
    // SAFETY: mallopt takes two integers and only changes the allocator's
    // tuning; called before any other thread exists, nothing races with it.
    let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

/// Makes `cmd`'s child join the mount namespace `ns` before it executes.
pub fn join_mount_ns_before_exec(cmd: &mut std::process::Command, ns: RawFd) {
    use std::os::unix::process::CommandExt;
    let setns = move || {
        // SAFETY: the caller keeps `ns` open until the spawn returns, and the
        // child's copy of the descriptor table holds it until exec.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(ns) };
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNS).map_err(std::io::Error::from)
    };
    // SAFETY: between fork and exec the child only calls setns(2), which is
    // async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(setns);
    }
}
