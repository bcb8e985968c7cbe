//! What can go wrong in a verb of the runtime, one variant per step.
//!
//! Each variant names the step that failed and carries the path, pid or id
//! involved; the cause (an `io::Error`, an errno, chapter 02's cgroup error)
//! is its `source()`, never part of its message, so that a chain printed with
//! `{e:#}` (anyhow, as `mini-runc`'s `main` does) shows each cause once:
//! `mini-runc: mkfifo /run/mini-runc/c1/exec.fifo: EEXIST: File exists`.
//!
//! A few messages are runc's own words because callers match them:
//! containerd's shim reads `container not running` from `kill` as "already
//! exited".

use crate::config::ConfigError;
use crate::state::StateError;
use nix::errno::Errno;
use std::io;
use std::path::PathBuf;

/// A runtime error: the step that failed, with its cause as `source()`.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// `config.json` cannot be read or is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The container's state directory or id is wrong.
    #[error(transparent)]
    State(#[from] StateError),
    /// `process.seccomp` cannot be compiled; the cause says which rule.
    #[error("compile process.seccomp")]
    Seccomp(#[source] crate::seccomp::SeccompError),
    /// `process.terminal` without a console socket to send the pty to.
    #[error("process.terminal is true: give --console-socket (or set terminal to false)")]
    TerminalWithoutConsole,
    /// `exec --tty` without a console socket.
    #[error("--tty needs --console-socket")]
    ExecTtyWithoutConsole,
    /// A step of copying the runtime binary into a sealed memfd (the
    /// CVE-2019-5736 defence).
    #[error("{step}")]
    SealedCopy {
        /// `memfd_create`, `open /proc/self/exe`, …
        step: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Duplicating a descriptor for the init.
    #[error("dup {what}")]
    Dup {
        /// Which descriptor.
        what: &'static str,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The socket pair between the runtime and the init.
    #[error("socketpair")]
    SocketPair(#[source] io::Error),
    /// Executing the container's init (this binary, re-executed).
    #[error("start the container's init")]
    SpawnInit(#[source] io::Error),
    /// `prctl(PR_SET_CHILD_SUBREAPER)`.
    #[error("become a subreaper")]
    Subreaper(#[source] io::Error),
    /// Reading the host's cgroup layout.
    #[error("cgroups")]
    CgroupLayout(#[source] cgroups::Error),
    /// Reading our mount table.
    #[error("read /proc/self/mountinfo")]
    ReadMountinfo(#[source] io::Error),
    /// Detaching a mount below a rootfs that has no mount namespace.
    #[error("umount -l {}", path.display())]
    Unmount {
        /// The mount point.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The kernel took `memory.kernel` and ignores it.
    #[error(
        "linux.resources.memory.kernel: {} reads {got} after writing {wanted}: this kernel \
         ignores kernel memory limits (removed in Linux 5.16); remove the setting",
        file.display()
    )]
    KernelMemoryIgnored {
        /// `memory.kmem.limit_in_bytes`.
        file: PathBuf,
        /// What it reads.
        got: i64,
        /// What was written.
        wanted: i64,
    },
    /// Making the state root (`--root`).
    #[error("create the state root {}", path.display())]
    CreateStateRoot {
        /// The root.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Making the state root private (mode 0711).
    #[error("chmod 711 {}", path.display())]
    ChmodStateRoot {
        /// The root.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A container with this id is already in the state root.
    #[error("container with id {id} already exists")]
    AlreadyExists {
        /// The id.
        id: String,
    },
    /// Making the container's state directory.
    #[error("create {}", path.display())]
    CreateStateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Making the exec fifo that `start` opens.
    #[error("mkfifo {}", path.display())]
    MakeFifo {
        /// The fifo.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },
    /// Making the exec fifo writable by the container's root.
    #[error("chmod 622 {}", path.display())]
    ChmodFifo {
        /// The fifo.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Making the container's cgroup.
    #[error("create cgroup {}", path.display())]
    CreateCgroup {
        /// The cgroup path, relative to each hierarchy.
        path: PathBuf,
        /// Why.
        #[source]
        source: cgroups::Error,
    },
    /// Writing `linux.resources` to the cgroup.
    #[error("linux.resources")]
    SetResources(#[source] cgroups::Error),
    /// Putting a process into the container's cgroup.
    #[error("join the container's cgroup")]
    JoinCgroup(#[source] cgroups::Error),
    /// Making the v1 device cgroup.
    #[error("mkdir {}", path.display())]
    CreateDeviceCgroup {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing one device rule (or the init's pid) into the device cgroup.
    #[error("echo '{line}' > {}", path.display())]
    WriteDeviceRule {
        /// What was written.
        line: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Loading or attaching the cgroup v2 eBPF device filter.
    #[error("the cgroup v2 device filter")]
    DeviceFilter(#[source] cgroups::Error),
    /// Sending to or receiving from the init over the sync socket.
    #[error("talk to the init")]
    TalkToInit(#[source] io::Error),
    /// Writing the uid or gid map of the container's user namespace.
    #[error("{command}")]
    WriteIdMap {
        /// The shell equivalent (`echo '0 1000 1' > /proc/<pid>/uid_map`).
        command: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A hook whose failure fails the operation (prestart, createRuntime).
    #[error("the {stage} hooks")]
    Hook {
        /// The hook's stage in the spec.
        stage: &'static str,
        /// Which hook and how it failed.
        #[source]
        source: crate::init::HookError,
    },
    /// A step of the plan failed inside the container's init; `detail` is
    /// the init's report of it (it crossed the sync socket as text).
    #[error("creating the container failed at `{command}`: {detail}")]
    CreateStep {
        /// The step's shell equivalent.
        command: String,
        /// What the init reported.
        detail: String,
    },
    /// A step of `exec` failed in the process being started.
    #[error("exec failed at `{command}`: {detail}")]
    ExecStep {
        /// The step's shell equivalent.
        command: String,
        /// What the process reported.
        detail: String,
    },
    /// The init went away before it reported the container ready.
    #[error("the container's init exited before the container was ready")]
    InitExited,
    /// The exec'd process never reported its pid.
    #[error("the exec'd process did not start")]
    ExecNotStarted,
    /// Writing `--pid-file`.
    #[error("write pid file {}", path.display())]
    WritePidFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The container's status does not allow the verb.
    #[error("cannot {verb} a container that is {status}")]
    Refused {
        /// `start`, `pause`, `exec in`, …
        verb: &'static str,
        /// The status it is in.
        status: &'static str,
    },
    /// `start` found the init gone before it was released: what the kernel
    /// shows at the recorded pid says why the init is not the one `create`
    /// left (no such process, a zombie, or another process since).
    #[error("cannot start a container that is stopped: its init (pid {pid}) is gone: {detail}")]
    InitGone {
        /// The pid `create` recorded.
        pid: i32,
        /// What `/proc/<pid>/stat` shows now.
        detail: String,
    },
    /// `kill` of a stopped container, in runc's words.
    #[error("container not running")]
    NotRunning {
        /// The container.
        id: String,
    },
    /// `delete` without `--force` of a live container.
    #[error("cannot delete container {id} that is {status}: stop it first, or use --force")]
    DeleteLive {
        /// The container.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// Opening the exec fifo in `start`.
    #[error("open {}", path.display())]
    OpenFifo {
        /// The fifo.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },
    /// Reading the exec fifo in `start`.
    #[error("read {}", path.display())]
    ReadFifo {
        /// The fifo.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The container's process is gone before `start` released it.
    #[error("the container's process died before it was started")]
    DiedBeforeStart,
    /// The container's process did not open its end of the exec fifo.
    #[error("the container's process did not answer on the exec fifo")]
    FifoTimeout,
    /// The container's process did not reach its `execve`.
    #[error("the container's process did not execute its program within 60 s")]
    ExecveTimeout,
    /// A signal name or number that is not one.
    #[error("unknown signal {signal}")]
    UnknownSignal {
        /// As given.
        signal: String,
    },
    /// Sending the signal.
    #[error("kill {pid}")]
    Signal {
        /// The container's init.
        pid: i32,
        /// Why.
        #[source]
        source: Errno,
    },
    /// Removing the container's cgroup in `delete`.
    #[error("remove the cgroup")]
    RemoveCgroup(#[source] cgroups::Error),
    /// Removing the state directory in `delete`.
    #[error("remove the state of {id}")]
    RemoveState {
        /// The container.
        id: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `pause`, `resume` or `update` of a container without a cgroup.
    #[error("the container has no cgroup")]
    NoCgroup,
    /// Freezing or thawing.
    #[error("freezer")]
    Freezer(#[source] cgroups::Error),
    /// Writing the new limits in `update`.
    #[error("update {id}")]
    Update {
        /// The container.
        id: String,
        /// Why.
        #[source]
        source: cgroups::Error,
    },
    /// `update` asks for limits chapter 02 has no setter for.
    #[error("cannot update {fields}: mini-runc has no cgroup setter for it, leave it out")]
    UpdateRefused {
        /// The fields, comma-separated.
        fields: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// What `mini-runc`'s `main` prints: the chain, joined with ": ".
    fn chain(e: RuntimeError) -> String {
        format!("{:#}", anyhow::Error::new(e))
    }

    #[test]
    fn the_cause_prints_once() {
        let e = RuntimeError::MakeFifo {
            path: "/run/x/exec.fifo".into(),
            source: Errno::EEXIST,
        };
        assert!(e.source().is_some());
        assert_eq!(e.to_string(), "mkfifo /run/x/exec.fifo");
        assert_eq!(
            chain(e),
            format!("mkfifo /run/x/exec.fifo: {}", Errno::EEXIST)
        );
        let e = RuntimeError::WriteDeviceRule {
            line: "a".into(),
            path: "/sys/fs/cgroup/devices/x/devices.deny".into(),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        };
        let text = chain(e);
        assert_eq!(
            text.matches("Invalid argument").count(),
            1,
            "the cause once: {text}"
        );
    }

    #[test]
    fn runcs_words_where_callers_match_them() {
        let e = RuntimeError::NotRunning { id: "c1".into() };
        assert_eq!(chain(e), "container not running");
    }

    #[test]
    fn a_failing_hook_is_named_with_its_stage_and_its_cause_once() {
        let hook: oci_spec::runtime::Hook =
            serde_json::from_value(serde_json::json!({"path": "/no/such/hook"})).unwrap();
        let source = crate::init::run_hooks(&[hook], "{}").unwrap_err();
        let text = chain(RuntimeError::Hook {
            stage: "prestart",
            source,
        });
        assert!(
            text.starts_with("the prestart hooks: run hook /no/such/hook: "),
            "{text}"
        );
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
    }

    #[test]
    fn a_config_error_keeps_its_own_chain() {
        let e = RuntimeError::from(ConfigError::Read {
            path: "/b/config.json".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        });
        let text = chain(e);
        assert!(text.starts_with("read /b/config.json: "), "{text}");
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
    }

    #[test]
    fn delete_force_of_a_missing_container_succeeds_and_kill_names_it() {
        let root = tempfile::tempdir().unwrap();
        crate::container::delete(root.path(), "md-nope", true).unwrap();
        let e = crate::container::delete(root.path(), "md-nope", false).unwrap_err();
        assert!(matches!(
            e,
            RuntimeError::State(StateError::NotFound { .. })
        ));
        assert_eq!(e.to_string(), "container md-nope does not exist");
        let e = crate::container::kill(root.path(), "../x", nix::sys::signal::SIGKILL, false)
            .unwrap_err();
        assert!(matches!(
            e,
            RuntimeError::State(StateError::InvalidId { .. })
        ));
    }
}
