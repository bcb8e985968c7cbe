//! The container side: the re-exec'd init and the PID 1 it forks.
//!
//! Why re-exec? After `fork` in a multi-threaded program (a test harness, a
//! daemon with a thread pool) the child may only make async-signal-safe calls
//! until it execs: no allocation, no locks, no Rust. So the parent execs a fresh,
//! single-threaded copy of its own binary (`/proc/self/exe`, named `ch01-init`
//! in `ps`), which finds the sync socket on descriptor 3 and may then do the
//! whole setup in ordinary Rust. runc does the same (`runc init`).

use crate::channel::{Channel, FromInit, ToInit};
use crate::plan::{plan, Actor, Spec, Step, OLD_ROOT};
use crate::sys;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, getpid, pivot_root, ForkResult, Gid, Uid};
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The environment variable that tells a process it is a container init.
pub const INIT_FD_ENV: &str = "_CHAPTER01_INIT_FD";
/// The descriptor number the sync socket is placed on.
pub const INIT_FD: RawFd = 3;
/// The default `PATH` (Docker's), used when the spec has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs the init if this process was started as one, and never returns then.
///
/// Call it first thing in `main` of every binary that spawns containers with
/// [`crate::spawn`], before any thread is started.
pub fn init_hook() {
    if std::env::var_os(INIT_FD_ENV).is_none() {
        return;
    }
    std::env::remove_var(INIT_FD_ENV);
    let code = match run_init() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ch01-init: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// A failed step, as sent to the parent.
#[derive(Debug)]
pub struct StepError {
    /// The errno of the failed system call (0 when there was none).
    pub errno: i32,
    /// What happened.
    pub detail: String,
}

impl From<Errno> for StepError {
    fn from(e: Errno) -> Self {
        StepError {
            errno: e as i32,
            detail: e.desc().to_string(),
        }
    }
}

impl From<std::io::Error> for StepError {
    fn from(e: std::io::Error) -> Self {
        StepError {
            errno: e.raw_os_error().unwrap_or(0),
            detail: e.to_string(),
        }
    }
}

fn run_init() -> std::io::Result<i32> {
    let fd = sys::take_inherited_fd(INIT_FD)?;
    // Close-on-exec: when PID 1 execs the program, its end closes and the
    // parent reads EOF, which means "the exec worked".
    nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    let channel = Channel::from_fd(fd);
    let _ = nix::sys::prctl::set_name(c"ch01-init");
    let spec = match channel.recv::<ToInit>()? {
        Some(ToInit::Spec(spec)) => *spec,
        other => {
            return Err(std::io::Error::other(format!(
                "expected a spec, got {other:?}"
            )))
        }
    };
    let steps = plan(&spec);
    let mut is_pid1 = false;
    for (index, step) in steps.iter().enumerate() {
        match step.actor() {
            Actor::Parent => continue,
            Actor::Init | Actor::Pid1 => {}
        }
        let result = match step {
            Step::Fork { .. } => {
                channel.send(&FromInit::Did(index))?;
                match sys::fork_single_threaded() {
                    Ok(ForkResult::Parent { child }) => {
                        channel.send(&FromInit::Forked {
                            pid: child.as_raw(),
                        })?;
                        drop(channel);
                        return Ok(wait_and_mirror(child));
                    }
                    Ok(ForkResult::Child) => {
                        is_pid1 = true;
                        // Die with the init: nothing may outlive the container's init.
                        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
                        let _ = nix::sys::prctl::set_name(c"ch01-pid1");
                        continue;
                    }
                    Err(e) => Err(StepError::from(e)),
                }
            }
            Step::Exec { argv } => {
                channel.send(&FromInit::Ready)?;
                match channel.recv::<ToInit>()? {
                    Some(ToInit::Start) => {}
                    _ => return Ok(1),
                }
                Err(exec(&spec, argv))
            }
            Step::Unshare { namespaces } if namespaces == &[crate::Namespace::User] => {
                match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
                    Ok(()) => {
                        channel.send(&FromInit::Did(index))?;
                        channel.send(&FromInit::NeedIdMaps {
                            pid: getpid().as_raw(),
                        })?;
                        match channel.recv::<ToInit>()? {
                            Some(ToInit::IdMapsWritten) => continue,
                            _ => return Ok(1),
                        }
                    }
                    Err(e) => Err(e.into()),
                }
            }
            other => apply(other),
        };
        match result {
            Ok(()) => channel.send(&FromInit::Did(index))?,
            Err(e) => {
                channel.send(&FromInit::Failed {
                    step: index,
                    errno: e.errno,
                    detail: e.detail,
                })?;
                return Ok(if is_pid1 { 127 } else { 1 });
            }
        }
    }
    Ok(0)
}

/// Performs one step in this process. Runtimes built on this chapter (the
/// engine's `mini-runc`) apply the chapter's steps with it.
///
/// The steps that involve the parent or a fork ([`Step::Fork`], [`Step::Exec`],
/// the id-map writes) are not single-process operations and are refused.
pub fn apply(step: &Step) -> Result<(), StepError> {
    match step {
        Step::JoinCgroup { procs } => {
            fs::write(procs, getpid().to_string())?;
        }
        Step::JoinNetns { path } => {
            let file = fs::File::open(path)?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)?;
        }
        Step::BecomeUser { uid, gid } => {
            nix::unistd::setgroups(&[])?;
            let g = Gid::from_raw(*gid);
            nix::unistd::setresgid(g, g, g)?;
            let u = Uid::from_raw(*uid);
            nix::unistd::setresuid(u, u, u)?;
            // Changing uid made us non-dumpable; make /proc/<pid> ours again so the
            // parent can read and write our maps as an ordinary user would.
            nix::sys::prctl::set_dumpable(true)?;
        }
        Step::BecomeNsRoot => {
            let root_g = Gid::from_raw(0);
            nix::unistd::setresgid(root_g, root_g, root_g)?;
            let root_u = Uid::from_raw(0);
            nix::unistd::setresuid(root_u, root_u, root_u)?;
        }
        Step::Unshare { namespaces } => {
            nix::sched::unshare(crate::namespace::clone_flags(namespaces))?;
        }
        Step::MakeRprivate => {
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
        }
        Step::SetHostname { name } => nix::unistd::sethostname(name)?,
        Step::BindRootfs { rootfs } => {
            mount(
                Some(rootfs),
                rootfs,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )?;
        }
        Step::MountDevTmpfs { target } => {
            fs::create_dir_all(target)?;
            mount(
                Some("tmpfs"),
                target,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
                Some("mode=755,size=65536k"),
            )?;
        }
        Step::BindDevice { name, target } => {
            let source = Path::new("/dev").join(name);
            fs::write(target, b"")?;
            fs::set_permissions(target, fs::Permissions::from_mode(0o666))?;
            mount(
                Some(&source),
                target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )?;
        }
        Step::PivotRoot { rootfs } => {
            chdir(rootfs)?;
            match fs::create_dir(OLD_ROOT) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e.into()),
                _ => {}
            }
            pivot_root(".", OLD_ROOT)?;
            chdir("/")?;
        }
        Step::MountProc { target } => {
            fs::create_dir_all(target)?;
            mount(
                Some("proc"),
                target,
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None::<&str>,
            )?;
        }
        Step::DetachOldRoot => {
            let old = Path::new("/").join(OLD_ROOT);
            umount2(&old, MntFlags::MNT_DETACH)?;
            fs::remove_dir(&old)?;
        }
        Step::Chdir { dir } => chdir(dir.as_str())?,
        Step::Fork { .. }
        | Step::Exec { .. }
        | Step::DenySetgroups
        | Step::WriteUidMap { .. }
        | Step::WriteGidMap { .. } => {
            return Err(StepError {
                errno: libc::EINVAL,
                detail: format!(
                    "`{}` is not a step a single process can apply",
                    step.syscall()
                ),
            })
        }
    }
    Ok(())
}

/// `execvpe` with the spec's environment; returns only on failure.
fn exec(spec: &Spec, argv: &[String]) -> StepError {
    exec_program(argv, &spec.env)
}

/// Replaces this process with `argv`, environment `env` (`KEY=value`; Docker's
/// default `PATH` is added when there is none), looking `argv[0]` up in that
/// `PATH`. Returns only on failure. The engine's runtime execs through it too.
pub fn exec_program(argv: &[String], env: &[String]) -> StepError {
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    // execvpe searches the PATH of *this* process: give it the container's.
    if let Some(path) = env.iter().find_map(|e| e.strip_prefix("PATH=")) {
        std::env::set_var("PATH", path);
    }
    let to_c = |v: &[String]| -> Result<Vec<CString>, StepError> {
        v.iter()
            .map(|s| {
                CString::new(s.as_bytes()).map_err(|_| StepError {
                    errno: libc::EINVAL,
                    detail: format!("{s:?} contains a NUL byte"),
                })
            })
            .collect()
    };
    let (args, envs) = match (to_c(argv), to_c(&env)) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match nix::unistd::execvpe(&args[0], &args, &envs) {
        Ok(never) => match never {},
        Err(e) => StepError {
            errno: e as i32,
            detail: format!("{}: {}", argv[0], e.desc()),
        },
    }
}

/// Waits for PID 1 and ends this process the same way: the same exit code, or
/// the same signal.
fn wait_and_mirror(child: nix::unistd::Pid) -> i32 {
    // The terminal sends Ctrl-C to the whole foreground group; it is for the
    // container's program to handle, not for us.
    let _ = sys::set_signal_ignored(Signal::SIGINT, true);
    let _ = sys::set_signal_ignored(Signal::SIGQUIT, true);
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                let _ = sys::set_signal_ignored(sig, false);
                let _ = kill(getpid(), sig);
                return 128 + sig as i32;
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}
