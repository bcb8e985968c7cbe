//! One error type for the library. Every variant is named after the step that
//! failed and carries the file, value or pid involved, so a message such as
//! `write "52428800" to /sys/fs/cgroup/memory/x/memory.limit_in_bytes: Device or resource busy`
//! tells a learner exactly which `echo` to retry by hand.

use std::io;
use std::path::PathBuf;

use crate::layout::Controller;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while detecting, creating, configuring,
/// reading or deleting a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of /proc or of a cgroup could not be read.
    #[error("read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file was read but its content was not what the kernel documents.
    #[error("parse {path}: {what}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// /proc/self/mountinfo lists no cgroup or cgroup2 mount under the cgroup root.
    #[error(
        "no cgroup filesystem is mounted under {root} (according to {mountinfo}); \
         mount one with `mount -t cgroup2 none {root}`"
    )]
    NoCgroupMounts {
        /// The cgroup root that was searched.
        root: PathBuf,
        /// The mountinfo file that was read.
        mountinfo: PathBuf,
    },
    /// Creating a cgroup directory failed.
    #[error("mkdir {path}{hint}", hint = permission_hint(source))]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Writing a value into a cgroup file failed.
    #[error("write {value:?} to {path}{hint}", hint = permission_hint(source))]
    Write {
        /// The file.
        path: PathBuf,
        /// The value.
        value: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Removing a cgroup directory failed (after the retries).
    #[error(
        "rmdir {path} (after {tries} tries; `cat {path}/cgroup.procs` shows who is still inside)"
    )]
    Rmdir {
        /// The directory.
        path: PathBuf,
        /// How many times rmdir was tried.
        tries: u32,
        /// The last error.
        source: io::Error,
    },
    /// Sending SIGKILL to a process left in the group failed.
    #[error("kill -9 {pid} (left in {path})")]
    Kill {
        /// The process.
        pid: i32,
        /// The cgroup.procs file it was listed in.
        path: PathBuf,
        /// The underlying error.
        source: nix::Error,
    },
    /// Processes were still listed after many rounds of SIGKILL.
    #[error("{path} still lists processes after {rounds} rounds of kill -9")]
    KillRounds {
        /// The cgroup.procs file.
        path: PathBuf,
        /// How many rounds were tried.
        rounds: u32,
    },
    /// A freeze or thaw did not settle.
    #[error("{path} did not read {wanted:?} after {tries} reads (last: {last:?})")]
    FreezeState {
        /// The state file (freezer.state or cgroup.events).
        path: PathBuf,
        /// The wanted state.
        wanted: String,
        /// The last value read.
        last: String,
        /// How many reads were tried.
        tries: u32,
    },
    /// A limit asks for a controller this host does not offer.
    #[error(
        "{what} needs the {controller} controller, which this host does not offer \
         (see /proc/cgroups and cgroup.controllers)"
    )]
    ControllerMissing {
        /// The controller.
        controller: Controller,
        /// The setting that needs it.
        what: &'static str,
    },
    /// A limit the host's cgroup version has no file for.
    #[error(
        "{what} has no file on cgroup {version:?}, which serves it on this host \
         ({file_elsewhere} exists only on the other version): remove the setting"
    )]
    NotOnThisVersion {
        /// The setting.
        what: &'static str,
        /// The version serving the controller here.
        version: crate::layout::Version,
        /// The file it would be on the other version.
        file_elsewhere: String,
    },
    /// The controller is there but the kernel does not provide the file (a
    /// config option compiled out, or a file newer kernels removed).
    #[error(
        "{what} needs {path}, which this kernel does not provide \
         (the controller is there, the file is not): remove the setting"
    )]
    FileMissing {
        /// The setting.
        what: &'static str,
        /// The missing file.
        path: PathBuf,
    },
    /// The host cannot freeze (no v1 freezer and no cgroup2 mount).
    #[error("this host cannot freeze a cgroup: no v1 freezer hierarchy and no cgroup2 mount")]
    NoFreezer,
    /// The kernel refused the device filter program (`bpf(BPF_PROG_LOAD)`).
    #[error(
        "load the device filter (bpf BPF_PROG_LOAD of a cgroup_device program){log}",
        log = if log.is_empty() { String::new() } else { format!("; the verifier said:\n{log}") }
    )]
    BpfLoad {
        /// The verifier's log, if it gave one.
        log: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Attaching, detaching or listing the device filter of a cgroup failed.
    #[error("{step} on {path} (the kernel needs CONFIG_CGROUP_BPF and a cgroup2 directory)")]
    Bpf {
        /// The step: `bpf BPF_PROG_ATTACH`, `bpf BPF_PROG_DETACH`, `bpf BPF_PROG_QUERY`, `open`.
        step: &'static str,
        /// The cgroup directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A resource value is out of range or inconsistent.
    #[error("invalid resources: {0}")]
    InvalidResources(String),
}

fn permission_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::PermissionDenied if !nix::unistd::geteuid().is_root() => {
            " (cgroup files belong to root: run it with sudo)"
        }
        _ => match err.raw_os_error() {
            Some(libc_ebusy) if libc_ebusy == nix::errno::Errno::EBUSY as i32 => {
                " (busy: a v2 group with processes cannot enable controllers for its children, \
                 the no-internal-process rule; a v1 memory limit cannot go below current usage)"
            }
            _ => "",
        },
    }
}
