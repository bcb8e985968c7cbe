//! The parent side: start a process in new namespaces and talk it through setup.
//!
//! [`create`] starts the init, answers its requests (the id maps), narrates
//! each step, and returns once PID 1 is ready to exec, paused, exactly like
//! `runc create`. [`Created::start`] lets it exec, like `runc start`. [`spawn`]
//! does both.

use crate::channel::{Channel, FromInit, ToInit};
use crate::init::{INIT_FD, INIT_FD_ENV};
use crate::namespace::Namespace;
use crate::plan::{self, plan, Actor, IdMap, Spec, Step};
use crate::sys;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};

/// Everything that can go wrong while making a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration does not make sense.
    #[error("invalid container configuration: {0}")]
    Config(String),
    /// The init process could not be started.
    #[error("could not start the container's init ({binary})")]
    SpawnInit {
        /// The binary that was executed.
        binary: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Talking to the init failed.
    #[error("the sync channel with the container's init failed")]
    Channel(#[from] std::io::Error),
    /// A step of the plan failed.
    #[error("step {number} failed: {syscall}: {detail}{hint}", number = index + 1, syscall = step.syscall())]
    Step {
        /// Index into the plan.
        index: usize,
        /// The step.
        step: Step,
        /// The errno.
        errno: i32,
        /// The error text.
        detail: String,
        /// What to do about it (empty, or starting with a newline).
        hint: String,
    },
    /// The init died before it was done.
    #[error("the container's init exited before the container was ready ({0}); is init_hook() the first call in main?")]
    InitDied(ExitStatus),
}

/// How to make a container. Build one with [`Config::new`] and set the fields.
#[derive(Debug)]
pub struct Config {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The environment (`KEY=value`). `PATH` defaults to Docker's default.
    pub env: Vec<String>,
    /// The namespaces to create.
    pub namespaces: Vec<Namespace>,
    /// A hostname (needs [`Namespace::Uts`]).
    pub hostname: Option<String>,
    /// A root filesystem to pivot into (needs [`Namespace::Mnt`]).
    pub rootfs: Option<PathBuf>,
    /// Mount a fresh `/proc` when there is no rootfs (needs [`Namespace::Mnt`]).
    pub mount_proc: bool,
    /// Working directory inside.
    pub workdir: Option<String>,
    /// User namespace maps; defaults to root inside = the caller outside.
    pub id_map: Option<IdMap>,
    /// Become this `(uid, gid)` before the user namespace is made.
    pub become_user: Option<(u32, u32)>,
    /// `cgroup.procs` files to join first.
    pub cgroup_procs: Vec<PathBuf>,
    /// A network namespace file to join (instead of [`Namespace::Net`]).
    pub netns: Option<PathBuf>,
    /// Standard input of the container's program.
    pub stdin: Stdio,
    /// Standard output.
    pub stdout: Stdio,
    /// Standard error.
    pub stderr: Stdio,
    /// Print each step, with its shell equivalent, as it happens.
    pub narrate: bool,
    /// The binary re-exec'd as init; default `/proc/self/exe`. It must call
    /// [`crate::init_hook`] first thing in `main`.
    pub init_binary: Option<PathBuf>,
}

impl Config {
    /// A container that runs `argv` with no new namespaces yet.
    pub fn new(argv: Vec<String>) -> Config {
        Config {
            argv,
            env: vec![format!("PATH={}", crate::init::DEFAULT_PATH)],
            namespaces: Vec::new(),
            hostname: None,
            rootfs: None,
            mount_proc: false,
            workdir: None,
            id_map: None,
            become_user: None,
            cgroup_procs: Vec::new(),
            netns: None,
            stdin: Stdio::inherit(),
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
            narrate: false,
            init_binary: None,
        }
    }

    /// The data part of the configuration, with defaults filled in.
    pub fn spec(&self) -> Spec {
        let mut id_map = self.id_map.clone();
        if id_map.is_none() && self.namespaces.contains(&Namespace::User) {
            let (uid, gid) = self.become_user.unwrap_or_else(|| {
                (
                    nix::unistd::geteuid().as_raw(),
                    nix::unistd::getegid().as_raw(),
                )
            });
            let mut map = IdMap::root_is(uid, gid);
            map.deny_setgroups = uid != 0;
            id_map = Some(map);
        }
        let mut namespaces = self.namespaces.clone();
        namespaces.sort();
        namespaces.dedup();
        Spec {
            argv: self.argv.clone(),
            env: self.env.clone(),
            namespaces,
            hostname: self.hostname.clone(),
            rootfs: self.rootfs.clone(),
            mount_proc: self.mount_proc,
            workdir: self.workdir.clone(),
            id_map,
            become_user: self.become_user,
            cgroup_procs: self.cgroup_procs.clone(),
            netns: self.netns.clone(),
        }
    }
}

/// Formats step `number` (from 1) of `steps` for the narration: who does it,
/// the system call, the shell command that does the same, and why. The
/// process init forks is labelled `pid 1` only when the plan makes a PID
/// namespace (`Step::Fork { pid1: true }`); otherwise it is a plain `child`.
pub fn narration_line(number: usize, steps: &[Step]) -> String {
    let step = &steps[number - 1];
    let pid_ns = steps.iter().any(|s| matches!(s, Step::Fork { pid1: true }));
    let who = match step.actor() {
        Actor::Parent => "parent",
        Actor::Init => "init",
        Actor::Pid1 if pid_ns => "pid 1",
        Actor::Pid1 => "child",
    };
    format!(
        "  {number:>2}. [{who:<6}] {}\n             $ {}\n             # {}\n",
        step.syscall(),
        step.command(),
        step.explain()
    )
}

/// A container whose PID 1 is set up and waits to exec its program.
#[derive(Debug)]
pub struct Created {
    child: Child,
    channel: Channel,
    steps: Vec<Step>,
    narration: Narration,
}

/// A running (or finished) container.
#[derive(Debug)]
pub struct Child {
    init: std::process::Child,
    pid1: Pid,
    waited: bool,
    /// The container's standard input, when [`Config::stdin`] was piped.
    pub stdin: Option<ChildStdin>,
    /// Its standard output, when piped.
    pub stdout: Option<ChildStdout>,
    /// Its standard error, when piped.
    pub stderr: Option<ChildStderr>,
}

#[derive(Debug)]
struct Narration {
    enabled: bool,
    done: BTreeSet<usize>,
    printed: usize,
}

impl Narration {
    fn mark(&mut self, index: usize, steps: &[Step]) {
        self.done.insert(index);
        while self.done.contains(&self.printed) {
            if self.enabled {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(narration_line(self.printed + 1, steps).as_bytes());
                let _ = out.flush();
            }
            self.printed += 1;
        }
    }
}

/// Creates the container and starts its program.
pub fn spawn(config: Config) -> Result<Child, Error> {
    create(config)?.start()
}

/// Creates the container: all namespaces, mounts and ids are in place and PID 1
/// waits, paused, before it execs.
pub fn create(config: Config) -> Result<Created, Error> {
    let spec = config.spec();
    plan::validate(&spec).map_err(Error::Config)?;
    let steps = plan(&spec);
    let binary = config
        .init_binary
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));

    let (parent_end, child_end) = Channel::pair()?;
    let mut cmd = Command::new(&binary);
    cmd.arg0("ch01-init")
        .env(INIT_FD_ENV, INIT_FD.to_string())
        .stdin(config.stdin)
        .stdout(config.stdout)
        .stderr(config.stderr);
    let mut init =
        sys::spawn_with_fd(&mut cmd, child_end.fd().as_raw_fd(), INIT_FD).map_err(|source| {
            Error::SpawnInit {
                binary: binary.clone(),
                source,
            }
        })?;
    drop(child_end);
    let child = Child {
        pid1: Pid::from_raw(0),
        waited: false,
        stdin: init.stdin.take(),
        stdout: init.stdout.take(),
        stderr: init.stderr.take(),
        init,
    };
    let mut created = Created {
        child,
        channel: parent_end,
        steps,
        narration: Narration {
            enabled: config.narrate,
            done: BTreeSet::new(),
            printed: 0,
        },
    };
    created
        .channel
        .send(&ToInit::Spec(Box::new(spec.clone())))?;
    created.converse(&spec)?;
    Ok(created)
}

use std::os::unix::process::CommandExt as _;

impl Created {
    /// Answers the init until PID 1 reports it is ready.
    fn converse(&mut self, spec: &Spec) -> Result<(), Error> {
        let mut ready = false;
        while !(ready && self.child.pid1.as_raw() != 0) {
            match self.channel.recv::<FromInit>()? {
                Some(FromInit::Did(i)) => self.narration.mark(i, &self.steps),
                Some(FromInit::NeedIdMaps { pid }) => {
                    self.write_id_maps(spec, pid)?;
                    self.channel.send(&ToInit::IdMapsWritten)?;
                }
                Some(FromInit::Forked { pid }) => self.child.pid1 = Pid::from_raw(pid),
                Some(FromInit::Ready) => ready = true,
                Some(FromInit::Failed {
                    step,
                    errno,
                    detail,
                }) => {
                    return Err(self.step_failed(step, errno, detail));
                }
                None => {
                    let status = self.child.init.wait()?;
                    self.child.waited = true;
                    return Err(Error::InitDied(status));
                }
            }
        }
        Ok(())
    }

    /// The parent's part of a user namespace: `setgroups`, `uid_map`, `gid_map`.
    fn write_id_maps(&mut self, spec: &Spec, pid: i32) -> Result<(), Error> {
        let Some(_) = &spec.id_map else { return Ok(()) };
        for index in 0..self.steps.len() {
            let step = self.steps[index].clone();
            if step.actor() != Actor::Parent {
                continue;
            }
            if let Err(e) = write_id_map_step(pid, &step) {
                return Err(self.step_failed(index, e.raw_os_error().unwrap_or(0), e.to_string()));
            }
            self.narration.mark(index, &self.steps);
        }
        Ok(())
    }

    fn step_failed(&mut self, index: usize, errno: i32, detail: String) -> Error {
        let step = self
            .steps
            .get(index)
            .cloned()
            .unwrap_or(Step::Fork { pid1: false });
        let hint = hint(&step, errno);
        self.child.kill_and_reap();
        Error::Step {
            index,
            step,
            errno,
            detail,
            hint,
        }
    }

    /// The host pid of the container's PID 1.
    pub fn pid(&self) -> Pid {
        self.child.pid1
    }

    /// The plan this container was built from.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Lets PID 1 exec the program (`runc start`), and returns when the exec
    /// has happened (or failed).
    pub fn start(mut self) -> Result<Child, Error> {
        self.channel.send(&ToInit::Start)?;
        match self.channel.recv::<FromInit>()? {
            None => {
                let exec_index = self.steps.len() - 1;
                self.narration.mark(exec_index, &self.steps);
                Ok(self.child)
            }
            Some(FromInit::Failed {
                step,
                errno,
                detail,
            }) => Err(self.step_failed(step, errno, detail)),
            Some(other) => {
                self.child.kill_and_reap();
                Err(Error::Channel(std::io::Error::other(format!(
                    "unexpected {other:?}"
                ))))
            }
        }
    }
}

impl Child {
    /// The host pid of the container's PID 1.
    pub fn pid(&self) -> Pid {
        self.pid1
    }

    /// The host pid of the init process (PID 1's parent outside the namespace).
    pub fn init_pid(&self) -> Pid {
        Pid::from_raw(self.init.id() as i32)
    }

    /// Sends `signal` to the container's PID 1.
    pub fn kill(&self, signal: Signal) -> nix::Result<()> {
        // Before the init reported PID 1's pid it is 0, and kill(0, …)
        // would signal our own process group.
        if self.waited || self.pid1.as_raw() <= 1 {
            return Err(Errno::ESRCH);
        }
        kill(self.pid1, signal)
    }

    /// Waits for the container to end. A container killed by a signal is
    /// reported as killed by that signal.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        drop(self.stdin.take());
        let status = self.init.wait()?;
        self.waited = true;
        Ok(status)
    }

    /// Like [`Child::wait`], without blocking: `None` while it still runs.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        let status = self.init.try_wait()?;
        if status.is_some() {
            self.waited = true;
        }
        Ok(status)
    }

    fn kill_and_reap(&mut self) {
        if !self.waited {
            let _ = self.init.kill();
            let _ = self.init.wait();
            self.waited = true;
        }
    }
}

impl Drop for Child {
    /// A container is never left behind: dropping it kills and reaps it.
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// Performs one of the parent's steps ([`Step::DenySetgroups`],
/// [`Step::WriteUidMap`], [`Step::WriteGidMap`]) for process `pid`, which has
/// just made a user namespace. Other steps are ignored.
pub fn write_id_map_step(pid: i32, step: &Step) -> std::io::Result<()> {
    let (file, text) = match step {
        Step::DenySetgroups => ("setgroups", "deny".to_string()),
        Step::WriteUidMap { map } => ("uid_map", map.clone()),
        Step::WriteGidMap { map } => ("gid_map", map.clone()),
        _ => return Ok(()),
    };
    std::fs::write(format!("/proc/{pid}/{file}"), text.as_bytes())
}

/// What to do about a failed step, for the error message.
fn hint(step: &Step, errno: i32) -> String {
    let root = nix::unistd::geteuid().is_root();
    let text = match (Errno::from_raw(errno), step) {
        (Errno::EPERM, Step::Unshare { namespaces }) if namespaces == &[Namespace::User] => {
            "unprivileged user namespaces look disabled: try `sysctl -w kernel.unprivileged_userns_clone=1` \
             (Debian) or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu)"
                .to_string()
        }
        (Errno::EPERM, _) if !root => {
            "this needs root: run it with sudo (only the `user` demo works without)".to_string()
        }
        (Errno::EINVAL, Step::PivotRoot { .. }) => "pivot_root(2) says EINVAL when the new root is not a \
             mount point or a mount is shared: the plan binds the rootfs and makes / rprivate first; \
             is the rootfs on a filesystem that allows it?"
            .to_string(),
        (Errno::EINVAL, Step::Unshare { namespaces }) => {
            let configs: Vec<&str> = namespaces.iter().map(|n| n.kernel_config()).collect();
            format!("this kernel lacks one of these namespaces: check {}", configs.join(", "))
        }
        (Errno::ENOSPC, Step::Unshare { namespaces }) => {
            let sysctls: Vec<String> = namespaces.iter().map(|n| n.max_sysctl()).collect();
            format!("a namespace limit is zero or reached: check `sysctl {}`", sysctls.join(" "))
        }
        (Errno::ENOENT, Step::Exec { .. }) => {
            "the program is not in the container's PATH (is it in the rootfs?)".to_string()
        }
        (Errno::EACCES, Step::BindRootfs { .. }) => {
            "the container's root user cannot reach the rootfs: every directory above it must be \
             searchable (chmod 755) by the uid root maps to"
                .to_string()
        }
        _ => return String::new(),
    };
    format!("\n  hint: {text}")
}

/// True when `path` is a mount point in this process's mount namespace.
pub fn is_mount_point(path: &Path) -> std::io::Result<bool> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let target = path.to_string_lossy();
    Ok(mountinfo
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&*target)))
}
