//! The `bpf(2)` system call, for the device filter of [`crate::devices`].
//!
//! Neither libc nor nix wraps `bpf(2)`: it is one syscall number whose first
//! argument picks a command and whose second points at a command-specific
//! struct of the `union bpf_attr` (linux/bpf.h). The structs below are those
//! members, laid out as the kernel reads them; the kernel accepts a shorter
//! struct than its own (it treats the missing tail as zero).
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `BPF_PROG_LOAD`: verify a program and get a descriptor for it.
const BPF_PROG_LOAD: libc::c_long = 5;
/// `BPF_PROG_ATTACH`: hook a loaded program to a cgroup.
const BPF_PROG_ATTACH: libc::c_long = 8;
/// `BPF_PROG_DETACH`: unhook it.
const BPF_PROG_DETACH: libc::c_long = 9;
/// `BPF_PROG_GET_FD_BY_ID`: a descriptor for a program known by id.
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
/// `BPF_PROG_QUERY`: the ids of the programs attached to a cgroup.
const BPF_PROG_QUERY: libc::c_long = 16;

/// `BPF_PROG_TYPE_CGROUP_DEVICE`: a program asked about each device access.
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`: the attach point of such programs on a cgroup.
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs on one cgroup, all of which must allow.
pub const F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`; the kernel returns a new descriptor for
/// some commands, which the caller then owns.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` struct laid
    // out as the kernel's member of `union bpf_attr` for `cmd`, and its size is
    // passed with it, so the kernel reads and writes only inside it. Any
    // pointers inside it (instructions, license, log, id array) are set by the
    // callers below to buffers that outlive this call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn own(rc: libc::c_long) -> OwnedFd {
    // SAFETY: `rc` is a descriptor the kernel just created for this process
    // (BPF_PROG_LOAD and BPF_PROG_GET_FD_BY_ID return new close-on-exec fds);
    // nothing else holds it, so the OwnedFd is its only owner.
    unsafe { OwnedFd::from_raw_fd(rc as i32) }
}

/// `BPF_PROG_LOAD` of a `BPF_PROG_TYPE_CGROUP_DEVICE` program given as raw
/// 8-byte instructions. On failure the verifier's log is returned with the error.
pub fn load_cgroup_device(
    insns: &[[u8; 8]],
    license: &CStr,
    name: &str,
) -> Result<OwnedFd, (io::Error, String)> {
    let mut prog_name = [0u8; 16];
    for (d, s) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let attr = |log: &mut Vec<u8>| ProgLoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr(&mut Vec::new())) {
        Ok(fd) => Ok(own(fd)),
        Err(e) => {
            // Load again with a log buffer, to say what the verifier disliked.
            let mut log = vec![0u8; 64 * 1024];
            if let Ok(fd) = bpf(BPF_PROG_LOAD, &mut attr(&mut log)) {
                drop(own(fd));
            }
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            Err((e, String::from_utf8_lossy(&log[..end]).trim().to_string()))
        }
    }
}

/// `BPF_PROG_ATTACH` of `prog` to the cgroup directory `cgroup`.
pub fn attach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>, flags: u32) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: flags,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// `BPF_PROG_DETACH` of `prog` from the cgroup directory `cgroup`.
pub fn detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// `BPF_PROG_QUERY`: the ids of the device programs attached to `cgroup`
/// itself (not those inherited from its parents).
pub fn query(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: ATTACH_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// `BPF_PROG_GET_FD_BY_ID`: a descriptor for the program with this id.
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(own)
}
