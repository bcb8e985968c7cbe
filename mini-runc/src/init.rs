//! The container side of mini-runc: the re-exec'd init and the process it forks.
//!
//! `mini-runc create` executes a sealed copy of itself with the sync socket on
//! a descriptor named by `_MINI_RUNC_INIT`; [`init_hook`] (the first call in
//! `main`) notices and runs the plan it receives. See [`super::plan`] for the
//! order of steps and who does what.

use super::config::{Config, HookSets, ProcessConfig};
use super::mounts::{self, Kind};
use super::plan::{HookStage, RtStep};
use super::sys;
use namespaces::channel::Channel;
use namespaces::Step as Ch01;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, Gid, Uid};
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Names the descriptor of the sync socket in the init's environment.
pub const INIT_ENV: &str = "_MINI_RUNC_INIT";

/// What the init is told to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitMsg {
    /// The steps, in order.
    pub steps: Vec<RtStep>,
    /// The container (for `create`); `None` for `exec`.
    pub config: Option<Config>,
    /// The process to run.
    pub process: ProcessConfig,
    /// The exec fifo (for `create`).
    pub fifo: Option<PathBuf>,
    /// The console socket to send the pty master to.
    pub console_socket: Option<PathBuf>,
    /// Host paths of the container's cgroup in each hierarchy, for the cgroup mount.
    pub cgroup_binds: Vec<(String, PathBuf)>,
    /// The host's cgroup layout is unified (cgroup v2 only).
    pub cgroup_unified: bool,
    /// Whether the container has a new user namespace (devices are bound, not made).
    pub user_ns: bool,
    /// The OCI state JSON for hooks run inside the container.
    pub state_json: String,
    /// Console size (rows, cols), when known.
    pub console_size: Option<(u16, u16)>,
}

/// Parent to init.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// The work.
    Go(Box<InitMsg>),
    /// The id maps are written.
    MapsWritten,
    /// The runtime's hooks ran; here is the state (with the pid) for the
    /// hooks run inside the container.
    HooksDone(String),
}

/// Init to parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// Step n is done.
    Did(usize),
    /// Please write the id maps of this pid.
    NeedIdMaps {
        /// The init's pid.
        pid: i32,
    },
    /// The container's process was forked; its pid as the parent sees it.
    Forked {
        /// Host pid.
        pid: i32,
    },
    /// Please run these hooks now.
    RunHooks(HookStage),
    /// Set up; waiting for start (create) or about to exec (exec).
    Ready,
    /// A step failed.
    Failed {
        /// Its index.
        step: usize,
        /// errno (0 if none).
        errno: i32,
        /// What happened.
        detail: String,
    },
}

/// A failed step.
#[derive(Debug)]
pub struct Fail {
    errno: i32,
    detail: String,
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Self {
        Fail {
            errno: e as i32,
            detail: e.desc().into(),
        }
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Fail {
            errno: e.raw_os_error().unwrap_or(0),
            detail: e.to_string(),
        }
    }
}

fn fail(detail: impl Into<String>) -> Fail {
    Fail {
        errno: 0,
        detail: detail.into(),
    }
}

fn because<E: Into<Fail>>(what: &str) -> impl FnOnce(E) -> Fail + '_ {
    move |e| {
        let f: Fail = e.into();
        Fail {
            errno: f.errno,
            detail: format!("{what}: {}", f.detail),
        }
    }
}

/// Runs the init if this process is one; never returns then.
pub fn init_hook() {
    let Some(fd) = std::env::var_os(INIT_ENV) else {
        return;
    };
    std::env::remove_var(INIT_ENV);
    let fd: RawFd = fd.to_string_lossy().parse().unwrap_or(-1);
    let code = match run(fd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mini-runc init: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// The state the init keeps between steps.
struct Ctx {
    msg: InitMsg,
    /// Namespace files opened before the first setns: after joining a mount
    /// namespace, `/proc/<pid>` of the host may not exist any more.
    ns_files: std::collections::HashMap<PathBuf, fs::File>,
    channel: Option<Channel>,
    fifo: Option<OwnedFd>,
    console: Option<UnixStream>,
    seccomp: Vec<seccompiler::BpfProgram>,
}

impl Ctx {
    fn send(&self, m: &FromInit) -> std::io::Result<()> {
        match &self.channel {
            Some(c) => c.send(m),
            None => Ok(()),
        }
    }

    fn recv(&self) -> std::io::Result<Option<ToInit>> {
        match &self.channel {
            Some(c) => c.recv(),
            None => Ok(None),
        }
    }
}

fn run(fd: RawFd) -> std::io::Result<i32> {
    let fd = namespaces::sys::take_inherited_fd(fd)?;
    nix::fcntl::fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    let channel = Channel::from_fd(fd);
    let _ = nix::sys::prctl::set_name(c"mini-runc:init");
    let msg = match channel.recv::<ToInit>()? {
        Some(ToInit::Go(m)) => *m,
        // The runtime gave up before sending the work (and reports why).
        None => return Ok(1),
        other => {
            return Err(std::io::Error::other(format!(
                "expected work, got {other:?}"
            )))
        }
    };
    // Things that live on the host and must be reached before pivot_root.
    let fifo = match &msg.fifo {
        Some(p) => {
            let fd = nix::fcntl::open(p, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())?;
            // SAFETY: `open` just returned this descriptor and nothing else holds it,
            // so the OwnedFd is its only owner.
            #[allow(unsafe_code)]
            let fd = unsafe { sys::own_fd(fd) };
            Some(fd)
        }
        None => None,
    };
    let console = match &msg.console_socket {
        Some(p) if msg.process.terminal => Some(UnixStream::connect(p)?),
        _ => None,
    };
    let seccomp = match &msg.process.seccomp {
        Some(profile) => super::seccomp::compile(profile).map_err(std::io::Error::other)?,
        None => Vec::new(),
    };
    let steps = msg.steps.clone();
    let mut ns_files = std::collections::HashMap::new();
    for step in &steps {
        if let RtStep::Setns { path, .. } = step {
            let f = fs::File::open(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("open {}: {e}", path.display()))
            })?;
            ns_files.insert(path.clone(), f);
        }
    }
    let mut ctx = Ctx {
        msg,
        ns_files,
        channel: Some(channel),
        fifo,
        console,
        seccomp,
    };
    for (index, step) in steps.iter().enumerate() {
        let result = match step {
            RtStep::Ch01(
                Ch01::WriteUidMap { .. } | Ch01::WriteGidMap { .. } | Ch01::DenySetgroups,
            ) => continue,
            RtStep::Ch01(Ch01::Unshare { namespaces })
                if namespaces == &[namespaces::Namespace::User] =>
            {
                match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
                    Ok(()) => {
                        ctx.send(&FromInit::NeedIdMaps {
                            pid: nix::unistd::getpid().as_raw(),
                        })?;
                        match ctx.recv()? {
                            Some(ToInit::MapsWritten) => Ok(()),
                            _ => return Ok(1),
                        }
                    }
                    Err(e) => Err(e.into()),
                }
            }
            RtStep::Ch01(Ch01::Fork { .. }) => {
                match namespaces::sys::fork_single_threaded() {
                    Ok(ForkResult::Parent { child }) => {
                        ctx.send(&FromInit::Forked {
                            pid: child.as_raw(),
                        })?;
                        // The parent (a subreaper) adopts the child when we exit.
                        return Ok(0);
                    }
                    Ok(ForkResult::Child) => {
                        let _ = nix::sys::prctl::set_name(c"mini-runc:pid1");
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            }
            RtStep::Hooks(stage) => {
                ctx.send(&FromInit::RunHooks(*stage))?;
                match ctx.recv()? {
                    Some(ToInit::HooksDone(state)) => {
                        ctx.msg.state_json = state;
                        Ok(())
                    }
                    _ => return Ok(1),
                }
            }
            RtStep::Ready => {
                if let Err(e) = check_process(&ctx.msg.process) {
                    // Reported as the failure of the exec it predicts.
                    let exec = steps.iter().position(|s| matches!(s, RtStep::Exec(_)));
                    let exec = exec.unwrap_or(index);
                    report(&ctx, exec, &steps[exec], &e);
                    return Ok(1);
                }
                ctx.send(&FromInit::Ready)?;
                if ctx.msg.fifo.is_some() {
                    // create: the runtime exits now; nobody is left to tell.
                    ctx.channel = None;
                }
                Ok(())
            }
            RtStep::Exec(args) => {
                let e = exec(&ctx.msg.process, args);
                report(&ctx, index, step, &e);
                return Ok(127);
            }
            other => apply(&mut ctx, other),
        };
        match result {
            Ok(()) => ctx.send(&FromInit::Did(index))?,
            Err(e) => {
                report(&ctx, index, step, &e);
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// Reports a failure to the parent if it still listens, else on stderr.
fn report(ctx: &Ctx, index: usize, step: &RtStep, e: &Fail) {
    let sent = ctx.channel.is_some()
        && ctx
            .send(&FromInit::Failed {
                step: index,
                errno: e.errno,
                detail: e.detail.clone(),
            })
            .is_ok();
    if !sent {
        eprintln!("mini-runc: {} failed: {}", step.command(), e.detail);
    }
}

fn apply(ctx: &mut Ctx, step: &RtStep) -> Result<(), Fail> {
    let msg = &ctx.msg;
    match step {
        RtStep::Ch01(s) => namespaces::init::apply(s).map_err(|e| Fail {
            errno: e.errno,
            detail: e.detail,
        }),
        RtStep::Setns { ns, path } => {
            let f = ctx
                .ns_files
                .remove(path)
                .ok_or_else(|| fail(format!("{} was not opened", path.display())))?;
            nix::sched::setns(f, ns.clone_flag())
                .map_err(because(&format!("setns {}", path.display())))
        }
        RtStep::Setsid => match nix::unistd::setsid() {
            Ok(_) | Err(Errno::EPERM) => Ok(()),
            Err(e) => Err(e.into()),
        },
        RtStep::RootPropagation { mode } => {
            let flags = mounts::propagation_flag(mode)
                .ok_or_else(|| fail(format!("unknown rootfsPropagation {mode}")))?;
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .map_err(because(&format!("mount --make-{mode} /")))
        }
        RtStep::BindRootfs { rootfs } => bind_rootfs(rootfs),
        RtStep::Mount(m) => do_mount(msg, m),
        RtStep::Device(d) => make_device(msg, d),
        RtStep::DevSymlinks => dev_symlinks(msg),
        RtStep::CreateContainerHooks => {
            let hooks = msg
                .config
                .as_ref()
                .map(|c| c.hooks.clone())
                .unwrap_or_default();
            run_hooks(&hooks.create_container, &msg.state_json).map_err(hook_failed)
        }
        RtStep::StartContainerHooks => {
            let hooks: HookSets = msg
                .config
                .as_ref()
                .map(|c| c.hooks.clone())
                .unwrap_or_default();
            run_hooks(&hooks.start_container, &msg.state_json).map_err(hook_failed)
        }
        RtStep::PivotRoot {
            rootfs,
            chroot_only: true,
            ..
        } => {
            nix::unistd::chroot(rootfs).map_err(because("chroot into the rootfs"))?;
            nix::unistd::chdir("/").map_err(because("chdir /"))
        }
        RtStep::PivotRoot {
            rootfs, no_pivot, ..
        } => pivot(rootfs, *no_pivot),
        RtStep::ReadonlyPath(p) => readonly_path(p),
        RtStep::MaskPath(p) => mask_path(p),
        RtStep::Domainname(d) => {
            fs::write("/proc/sys/kernel/domainname", d).map_err(because("set the domain name"))
        }
        RtStep::Sysctl { key, value } => {
            let path = Path::new("/proc/sys").join(key.replace('.', "/"));
            fs::write(&path, value).map_err(because(&format!("write {}", path.display())))
        }
        RtStep::ReadonlyRoot => {
            let flags = MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | mounts::locked_flags(Path::new("/"));
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .map_err(because("remount / read-only"))
        }
        RtStep::Console => console(ctx),
        RtStep::OomScoreAdj(n) => fs::write("/proc/self/oom_score_adj", n.to_string())
            .map_err(because("write oom_score_adj")),
        RtStep::Rlimit { name, soft, hard } => set_rlimit(name, *soft, *hard),
        RtStep::CloseFds { preserve } => close_fds(3 + *preserve as RawFd),
        RtStep::WaitStart => wait_start(ctx),
        RtStep::Seccomp => {
            for prog in &ctx.seccomp {
                sys::install_seccomp(prog).map_err(because("load the seccomp filter"))?;
            }
            Ok(())
        }
        RtStep::BoundingSet(keep) => bounding_set(keep),
        RtStep::SetUser { uid, gid, groups } => set_user(*uid, *gid, groups),
        RtStep::Capabilities => set_caps(&ctx.msg.process),
        RtStep::NoNewPrivs => {
            nix::sys::prctl::set_no_new_privs().map_err(because("set no_new_privs"))
        }
        RtStep::Umask(m) => {
            nix::sys::stat::umask(Mode::from_bits_truncate(*m));
            Ok(())
        }
        RtStep::Chdir(dir) => {
            nix::unistd::chdir(dir).map_err(because(&format!("chdir {}", dir.display())))?;
            // CVE-2024-21626: a leaked descriptor could have put the cwd outside
            // the container; the kernel then reports it as unreachable.
            let outside = |d: &str| {
                fail(format!(
                    "the working directory {d} is outside the container"
                ))
            };
            let cwd = match nix::unistd::getcwd() {
                Ok(cwd) => cwd,
                // glibc reports an unreachable directory as ENOENT.
                Err(Errno::ENOENT) => return Err(outside(&dir.display().to_string())),
                Err(e) => return Err(because("getcwd")(e)),
            };
            if !cwd.is_absolute() || cwd.to_string_lossy().starts_with("(unreachable)") {
                return Err(fail(format!(
                    "the working directory {} is outside the container",
                    cwd.display()
                )));
            }
            Ok(())
        }
        RtStep::Hooks(_) | RtStep::Ready | RtStep::Exec(_) => Ok(()),
    }
}

fn do_mount(msg: &InitMsg, m: &super::config::MountSpec) -> Result<(), Fail> {
    let Some(cfg) = &msg.config else {
        return Ok(());
    };
    let root = mounts::open_root(&cfg.rootfs).map_err(because("open the rootfs"))?;
    let opts = mounts::parse_options(&m.options).map_err(fail)?;
    let dest = &m.destination;
    if (m.fstype == "proc" || m.fstype == "sysfs") && mounts::is_symlink_in(&root, dest) {
        return Err(fail(format!(
            "{} is a symlink in the image: refusing to mount {} over it",
            dest.display(),
            m.fstype
        )));
    }
    if m.fstype == "cgroup" || m.fstype == "cgroup2" {
        return mount_cgroup(msg, &root, dest, &opts);
    }
    let kind = if m.fstype == "bind" && !Path::new(&m.source).is_dir() {
        Kind::File
    } else {
        Kind::Dir
    };
    let target = mounts::create_and_open(&root, dest, kind)
        .map_err(because(&format!("create mount point {}", dest.display())))?;
    let tpath = mounts::fd_path(&target);
    let what = format!("mount {} on {}", m.fstype, dest.display());
    if m.fstype == "bind" {
        mount(
            Some(m.source.as_str()),
            &tpath,
            None::<&str>,
            opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
            None::<&str>,
        )
        .map_err(because(&what))?;
        if !opts.bind_remount.is_empty() {
            // Re-open: the fd still names the mount point below the new mount.
            let target = mounts::resolve(&root, dest).map_err(because(&what))?;
            let tpath = mounts::fd_path(&target);
            let flags = MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | opts.bind_remount
                | mounts::locked_flags(&tpath);
            mount(None::<&str>, &tpath, None::<&str>, flags, None::<&str>)
                .map_err(because(&format!("{what} (remount)")))?;
        }
    } else {
        let data = if opts.data.is_empty() {
            None
        } else {
            Some(opts.data.as_str())
        };
        mount(
            Some(m.source.as_str()),
            &tpath,
            Some(m.fstype.as_str()),
            opts.flags,
            data,
        )
        .map_err(because(&what))?;
    }
    for p in &opts.propagation {
        let target = mounts::resolve(&root, dest).map_err(because(&what))?;
        mount(
            None::<&str>,
            &mounts::fd_path(&target),
            None::<&str>,
            *p,
            None::<&str>,
        )
        .map_err(because(&format!("{what} (propagation)")))?;
    }
    Ok(())
}

/// The cgroup filesystem inside: cgroup2 itself on a unified host; on v1 and
/// hybrid hosts a tmpfs with the container's own directory of each hierarchy
/// bound in, read-only when asked (what runc does without a cgroup namespace).
fn mount_cgroup(
    msg: &InitMsg,
    root: &OwnedFd,
    dest: &Path,
    opts: &mounts::MountOptions,
) -> Result<(), Fail> {
    let target = mounts::create_and_open(root, dest, Kind::Dir)
        .map_err(because("create the cgroup mount point"))?;
    let tpath = mounts::fd_path(&target);
    if msg.cgroup_unified {
        return mount(
            Some("cgroup"),
            &tpath,
            Some("cgroup2"),
            opts.flags,
            None::<&str>,
        )
        .map_err(because("mount cgroup2"));
    }
    mount(
        Some("tmpfs"),
        &tpath,
        Some("tmpfs"),
        (opts.flags & !MsFlags::MS_RDONLY)
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )
    .map_err(because("mount a tmpfs for the cgroup hierarchies"))?;
    for (name, host) in &msg.cgroup_binds {
        let sub = dest.join(name);
        let t = mounts::create_and_open(root, &sub, Kind::Dir)
            .map_err(because("create a cgroup mount point"))?;
        let tp = mounts::fd_path(&t);
        mount(
            Some(host),
            &tp,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(because(&format!("bind {}", host.display())))?;
        // Like runc: each hierarchy nosuid,nodev,noexec, and read-only when asked.
        let t = mounts::resolve(root, &sub).map_err(because("reopen a cgroup mount"))?;
        let tp = mounts::fd_path(&t);
        let ro = opts.flags & MsFlags::MS_RDONLY;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | ro
            | mounts::locked_flags(&tp);
        mount(None::<&str>, &tp, None::<&str>, flags, None::<&str>)
            .map_err(because("remount a cgroup hierarchy"))?;
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        // Then the tmpfs itself, as runc: no new directories or files in
        // /sys/fs/cgroup (`mount -o remount,ro /sys/fs/cgroup`).
        let t = mounts::resolve(root, dest).map_err(because("reopen the cgroup tmpfs"))?;
        let tp = mounts::fd_path(&t);
        let flags = MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        mount(None::<&str>, &tp, None::<&str>, flags, Some("mode=755"))
            .map_err(because("remount the cgroup tmpfs read-only"))?;
    }
    Ok(())
}

fn make_device(msg: &InitMsg, d: &super::config::DeviceSpec) -> Result<(), Fail> {
    let Some(cfg) = &msg.config else {
        return Ok(());
    };
    let root = mounts::open_root(&cfg.rootfs).map_err(because("open the rootfs"))?;
    let what = format!("device {}", d.path.display());
    if mounts::is_symlink_in(&root, &d.path) {
        return Err(fail(format!(
            "{} is a symlink in the image: refusing to use it as a device",
            d.path.display()
        )));
    }
    let name = d
        .path
        .file_name()
        .ok_or_else(|| fail(format!("{what}: no file name")))?;
    let parent = d.path.parent().unwrap_or(Path::new("/dev"));
    let dir = mounts::create_and_open(&root, parent, Kind::Dir).map_err(because(&what))?;
    // An O_PATH fd cannot be used for *at calls that create; reopen as a directory.
    let dir = nix::fcntl::open(
        &mounts::fd_path(&dir),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(because(&what))?;
    // SAFETY: `open` just returned this descriptor and nothing else holds it,
    // so the OwnedFd is its only owner.
    #[allow(unsafe_code)]
    let dir = unsafe { sys::own_fd(dir) };
    if msg.user_ns {
        // mknod is not allowed in a user namespace: bind the host's node.
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            return Ok(());
        }
        let t = mounts::create_and_open(&root, &d.path, Kind::File).map_err(because(&what))?;
        return mount(
            Some(&host),
            &mounts::fd_path(&t),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(because(&what));
    }
    let kind = match d.kind {
        'b' => nix::sys::stat::SFlag::S_IFBLK,
        'p' => nix::sys::stat::SFlag::S_IFIFO,
        _ => nix::sys::stat::SFlag::S_IFCHR,
    };
    let major =
        u64::try_from(d.major).map_err(|_| fail(format!("{what}: bad major {}", d.major)))?;
    let minor =
        u64::try_from(d.minor).map_err(|_| fail(format!("{what}: bad minor {}", d.minor)))?;
    let _ = nix::unistd::unlinkat(
        Some(dir.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    nix::sys::stat::mknodat(
        Some(dir.as_raw_fd()),
        name,
        kind,
        Mode::from_bits_truncate(d.mode & 0o7777),
        nix::sys::stat::makedev(major, minor),
    )
    .map_err(because(&format!("mknod {}", d.path.display())))?;
    nix::unistd::fchownat(
        Some(dir.as_raw_fd()),
        name,
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(because(&format!("chown {}", d.path.display())))?;
    // mknod is subject to the umask; set the mode exactly.
    nix::sys::stat::fchmodat(
        Some(dir.as_raw_fd()),
        name,
        Mode::from_bits_truncate(d.mode & 0o7777),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(because(&format!("chmod {}", d.path.display())))?;
    Ok(())
}

fn dev_symlinks(msg: &InitMsg) -> Result<(), Fail> {
    let Some(cfg) = &msg.config else {
        return Ok(());
    };
    let root = mounts::open_root(&cfg.rootfs).map_err(because("open the rootfs"))?;
    let dev = mounts::create_and_open(&root, Path::new("/dev"), Kind::Dir)
        .map_err(because("open /dev"))?;
    let dev = nix::fcntl::open(
        &mounts::fd_path(&dev),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(because("open /dev"))?;
    // SAFETY: `open` just returned this descriptor and nothing else holds it,
    // so the OwnedFd is its only owner.
    #[allow(unsafe_code)]
    let dev = unsafe { sys::own_fd(dev) };
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    if mounts::resolve(&root, Path::new("/dev/pts/ptmx")).is_ok() {
        links.push(("ptmx", "pts/ptmx"));
    }
    for (name, target) in links {
        match nix::unistd::symlinkat(target, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(because(&format!("ln -s {target} /dev/{name}"))(e)),
        }
    }
    Ok(())
}

/// Makes the rootfs a mount point of its own, as `pivot_root` needs.
///
/// The mount that holds the rootfs is made private first (only in this mount
/// namespace): the bind then starts a propagation group of its own, so
/// nothing mounted in the container reaches the host, and `pivot_root`
/// finds no shared parent (it fails with EINVAL under one).
fn bind_rootfs(rootfs: &Path) -> Result<(), Fail> {
    let info =
        fs::read_to_string("/proc/self/mountinfo").map_err(because("read /proc/self/mountinfo"))?;
    let parent = mounts::mount_point_of(&info, rootfs)
        .ok_or_else(|| fail(format!("no mount holds {}", rootfs.display())))?;
    mount(
        None::<&str>,
        &parent,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(because(&format!(
        "mount --make-private {}",
        parent.display()
    )))?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(because("bind the rootfs onto itself"))
}

/// runc's pivot_root without a directory for the old root: pivot onto "."
/// stacks the old root on top of the new one, and a lazy unmount of "."
/// removes it.
fn pivot(rootfs: &Path, no_pivot: bool) -> Result<(), Fail> {
    if no_pivot {
        nix::unistd::chdir(rootfs).map_err(because("chdir into the rootfs"))?;
        mount(
            Some(rootfs),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .map_err(because("move the rootfs onto /"))?;
        nix::unistd::chroot(".").map_err(because("chroot"))?;
        return nix::unistd::chdir("/").map_err(because("chdir /"));
    }
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old = nix::fcntl::open("/", dir_flags, Mode::empty())?;
    // SAFETY: `open` just returned this descriptor and nothing else holds it,
    // so the OwnedFd is its only owner.
    #[allow(unsafe_code)]
    let old = unsafe { sys::own_fd(old) };
    let new = nix::fcntl::open(rootfs, dir_flags, Mode::empty())?;
    // SAFETY: `open` just returned this descriptor and nothing else holds it,
    // so the OwnedFd is its only owner.
    #[allow(unsafe_code)]
    let new = unsafe { sys::own_fd(new) };
    nix::unistd::fchdir(new.as_raw_fd()).map_err(because("chdir into the rootfs"))?;
    nix::unistd::pivot_root(".", ".").map_err(because("pivot_root"))?;
    nix::unistd::fchdir(old.as_raw_fd()).map_err(because("chdir to the old root"))?;
    // Keep unmount events of the old root from reaching the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(because("make the old root a slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(because("detach the old root"))?;
    nix::unistd::chdir("/").map_err(because("chdir /"))
}

/// Remounts `p` read-only (a recursive bind onto itself, then a remount
/// with `MS_RDONLY`); a path that does not exist is skipped, as runc does.
pub fn readonly_path(p: &str) -> Result<(), Fail> {
    if !Path::new(p).exists() {
        return Ok(());
    }
    mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(because(&format!("bind {p}")))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_REC
        | mounts::locked_flags(Path::new(p));
    mount(Some(p), p, None::<&str>, flags, None::<&str>)
        .map_err(because(&format!("remount {p} read-only")))
}

/// Masks `p`: a file gets `/dev/null` bound over it, a directory an empty
/// read-only tmpfs; a path that does not exist is skipped, as runc does.
pub fn mask_path(p: &str) -> Result<(), Fail> {
    let meta = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if meta.is_dir() {
        mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(because(&format!("mask {p}")))
    } else {
        mount(
            Some("/dev/null"),
            p,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(because(&format!("mask {p}")))
    }
}

fn console(ctx: &mut Ctx) -> Result<(), Fail> {
    let socket = ctx
        .console
        .take()
        .ok_or_else(|| fail("a terminal was asked for but no --console-socket given"))?;
    let pty = nix::pty::openpty(None, None)
        .map_err(ctx_e("open a pseudo-terminal (is /dev/pts mounted?)"))?;
    if let Some((rows, cols)) = ctx.msg.console_size {
        let _ = sys::set_window_size(pty.slave.as_raw_fd(), rows, cols);
    }
    let fds = [pty.master.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    let name = b"/dev/ptmx";
    let iov = [std::io::IoSlice::new(name)];
    nix::sys::socket::sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .map_err(ctx_e("send the terminal to the console socket"))?;
    drop(pty.master);
    let slave = pty.slave.as_raw_fd();
    for target in 0..3 {
        nix::unistd::dup2(slave, target).map_err(ctx_e("make the terminal stdio"))?;
    }
    sys::set_controlling_tty(0).map_err(ctx_e("make the terminal the controlling tty"))?;
    Ok(())
}

fn ctx_e<E: Into<Fail>>(what: &'static str) -> impl FnOnce(E) -> Fail {
    move |e| {
        let f: Fail = e.into();
        Fail {
            errno: f.errno,
            detail: format!("{what}: {}", f.detail),
        }
    }
}

/// `setrlimit` of the limit named as the spec names it (`RLIMIT_NOFILE`).
pub fn set_rlimit(name: &str, soft: u64, hard: u64) -> Result<(), Fail> {
    use nix::sys::resource::{setrlimit, Resource};
    let r = match name {
        "RLIMIT_AS" => Resource::RLIMIT_AS,
        "RLIMIT_CORE" => Resource::RLIMIT_CORE,
        "RLIMIT_CPU" => Resource::RLIMIT_CPU,
        "RLIMIT_DATA" => Resource::RLIMIT_DATA,
        "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => Resource::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => Resource::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => Resource::RLIMIT_NICE,
        "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
        "RLIMIT_RSS" => Resource::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => Resource::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => Resource::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => Resource::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => Resource::RLIMIT_STACK,
        other => return Err(fail(format!("unknown rlimit {other}"))),
    };
    setrlimit(r, soft, hard).map_err(because(&format!("setrlimit {name}")))
}

/// CVE-2024-21626: nothing the runtime had open may reach the container.
fn close_fds(first: RawFd) -> Result<(), Fail> {
    let fds: Vec<RawFd> = match fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (first..1024).collect(),
    };
    for fd in fds.into_iter().filter(|fd| *fd >= first) {
        match nix::fcntl::fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)) {
            Ok(_) | Err(Errno::EBADF) => {}
            Err(e) => return Err(because(&format!("set close-on-exec on fd {fd}"))(e)),
        }
    }
    Ok(())
}

fn wait_start(ctx: &mut Ctx) -> Result<(), Fail> {
    let fifo = ctx.fifo.take().ok_or_else(|| fail("no exec fifo"))?;
    // Opening for writing blocks until `mini-runc start` opens it for reading.
    let w = nix::fcntl::open(
        &mounts::fd_path(&fifo),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(because("open the exec fifo"))?;
    // SAFETY: `open` just returned this descriptor and nothing else holds it,
    // so the OwnedFd is its only owner.
    #[allow(unsafe_code)]
    let w = unsafe { sys::own_fd(w) };
    nix::unistd::write(&w, b"0").map_err(because("write the exec fifo"))?;
    Ok(())
}

fn cap_from(name: &str) -> Result<caps::Capability, Fail> {
    name.parse::<caps::Capability>()
        .map_err(|_| fail(format!("unknown capability {name}")))
}

fn bounding_set(keep: &[String]) -> Result<(), Fail> {
    let keep: Result<caps::CapsHashSet, Fail> = keep.iter().map(|c| cap_from(c)).collect();
    let keep = keep?;
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, caps::CapSet::Bounding, cap).unwrap_or(false)
        {
            caps::drop(None, caps::CapSet::Bounding, cap)
                .map_err(|e| fail(format!("drop {cap} from the bounding set: {e}")))?;
        }
    }
    Ok(())
}

fn set_user(uid: u32, gid: u32, groups: &[u32]) -> Result<(), Fail> {
    let gids: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    match nix::unistd::setgroups(&gids) {
        Ok(()) => {}
        // In a user namespace whose setgroups is denied, only "no groups" is fine.
        Err(Errno::EPERM) if gids.is_empty() => {}
        Err(e) => return Err(because("setgroups")(e)),
    }
    let g = Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).map_err(because(&format!("setresgid {gid}")))?;
    sys::set_keepcaps(true).map_err(because("keep capabilities"))?;
    let u = Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).map_err(because(&format!("setresuid {uid}")))?;
    sys::set_keepcaps(false).map_err(because("stop keeping capabilities"))?;
    Ok(())
}

fn set_caps(p: &ProcessConfig) -> Result<(), Fail> {
    let set = |names: &[String]| -> Result<caps::CapsHashSet, Fail> {
        names.iter().map(|c| cap_from(c)).collect()
    };
    let effective = set(&p.caps.effective)?;
    let permitted = set(&p.caps.permitted)?;
    let inheritable = set(&p.caps.inheritable)?;
    let e = |what: &'static str| {
        move |err: caps::errors::CapsError| fail(format!("set the {what} capabilities: {err}"))
    };
    caps::set(
        None,
        caps::CapSet::Effective,
        &effective
            .intersection(&caps::read(None, caps::CapSet::Permitted).unwrap_or_default())
            .copied()
            .collect(),
    )
    .map_err(e("effective"))?;
    caps::set(None, caps::CapSet::Permitted, &permitted).map_err(e("permitted"))?;
    caps::set(None, caps::CapSet::Effective, &effective).map_err(e("effective"))?;
    caps::set(None, caps::CapSet::Inheritable, &inheritable).map_err(e("inheritable"))?;
    caps::clear(None, caps::CapSet::Ambient).map_err(e("ambient"))?;
    // A capability can be ambient only if it is permitted and inheritable;
    // like runc, skip the ones the spec asks for that are not.
    for name in &p.caps.ambient {
        let _ = caps::raise(None, caps::CapSet::Ambient, cap_from(name)?);
    }
    Ok(())
}

/// Runs hooks in order, each with the state on stdin; the first failing
/// hook stops the rest and fails (prestart, createRuntime, createContainer,
/// startContainer: the spec makes their failure the operation's).
pub fn run_hooks(hooks: &[oci_spec::runtime::Hook], state_json: &str) -> Result<(), HookError> {
    hooks.iter().try_for_each(|h| run_hook(h, state_json))
}

/// How one hook failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The hook's program could not be started.
    #[error("run hook {}", path.display())]
    Spawn {
        /// The hook's `path`.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the hook failed.
    #[error("wait for hook {}", path.display())]
    Wait {
        /// The hook's `path`.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The hook ran past its `timeout` and was killed.
    #[error("hook {} timed out after {secs} s", path.display())]
    TimedOut {
        /// The hook's `path`.
        path: PathBuf,
        /// Its `timeout`.
        secs: u64,
    },
    /// The hook exited with a failure.
    #[error("hook {} failed: {status}", path.display())]
    Failed {
        /// The hook's `path`.
        path: PathBuf,
        /// How it ended.
        status: std::process::ExitStatus,
    },
}

/// A failed createContainer or startContainer hook, as the init reports it
/// over the sync socket: the whole chain, as one text.
fn hook_failed(e: HookError) -> Fail {
    fail(format!("{:#}", anyhow::Error::new(e)))
}

/// Runs every hook and only warns on stderr about a failing one: the spec
/// says a failing poststart or poststop hook MUST be logged and MUST NOT stop
/// the other hooks or the lifecycle.
pub fn run_hooks_warning(stage: &str, hooks: &[oci_spec::runtime::Hook], state_json: &str) {
    for hook in hooks {
        if let Err(e) = run_hook(hook, state_json) {
            let e = anyhow::Error::new(e);
            eprintln!(
                "mini-runc: warning: {stage} {e:#} (the {stage} hooks and the container go on)"
            );
        }
    }
}

/// The mount namespace the runtime was started in, when it moved itself to a
/// private one (see `container::protected_exe`): the runtime's hooks
/// (prestart, createRuntime, poststart, poststop) run there, as the spec says.
pub static RUNTIME_MOUNT_NS: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();

/// Runs one hook with the state on stdin, killing it after its `timeout`.
fn run_hook(hook: &oci_spec::runtime::Hook, state_json: &str) -> Result<(), HookError> {
    use std::io::Write;
    let args = hook
        .args()
        .clone()
        .unwrap_or_else(|| vec![hook.path().to_string_lossy().into_owned()]);
    let mut cmd = std::process::Command::new(hook.path());
    if args.len() > 1 {
        cmd.args(&args[1..]);
    }
    if let Some(a0) = args.first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, a0);
    }
    cmd.env_clear();
    for kv in hook.env().clone().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(std::process::Stdio::piped());
    if let Some(ns) = RUNTIME_MOUNT_NS.get() {
        sys::join_mount_ns_before_exec(&mut cmd, ns.as_raw_fd());
    }
    let path = || hook.path().to_path_buf();
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        path: path(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| std::time::Duration::from_secs(t as u64));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|source| HookError::Wait {
            path: path(),
            source,
        })? {
            break s;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::TimedOut {
                path: path(),
                secs: timeout.unwrap_or_default().as_secs(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    if !status.success() {
        return Err(HookError::Failed {
            path: path(),
            status,
        });
    }
    Ok(())
}

/// Checks, before the container is reported created, what would otherwise
/// fail only after `start` had returned (where nobody could be told but the
/// container's stderr): that `args[0]` is an executable file in the
/// container (looked up in its `PATH`, as `execvp` will), and that the
/// kernel knows every capability asked for.
fn check_process(p: &ProcessConfig) -> Result<(), Fail> {
    let supported = caps::runtime::thread_all_supported();
    let sets = [
        &p.caps.bounding,
        &p.caps.effective,
        &p.caps.inheritable,
        &p.caps.permitted,
        &p.caps.ambient,
    ];
    // What we do not have in our own bounding set, no process we start can
    // ever get (a runtime started under `setpriv --bounding-set` or in a
    // container of its own).
    let ours = caps::read(None, caps::CapSet::Bounding).unwrap_or_default();
    for name in sets.into_iter().flatten() {
        let cap = cap_from(name)?;
        if !supported.contains(&cap) {
            return Err(fail(format!(
                "this kernel does not support the capability {name} \
                 (see /proc/sys/kernel/cap_last_cap): remove it from process.capabilities"
            )));
        }
        if !ours.contains(&cap) {
            return Err(fail(format!(
                "the capability {name} is not in the runtime's own bounding set, so the \
                 container cannot get it: remove it from process.capabilities, or run \
                 mini-runc with it"
            )));
        }
    }
    let program = p.args.first().map(String::as_str).unwrap_or_default();
    let path_var = p
        .env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    find_program(program, &p.cwd, path_var).map(|_| ())
}

/// `execvp`'s search: a name with a `/` is a path (relative to the working
/// directory), else the first executable file of that name in `PATH`.
fn find_program(program: &str, cwd: &Path, path_var: &str) -> Result<PathBuf, Fail> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let path = cwd.join(program);
        return match fs::metadata(&path) {
            Err(e) => Err(fail(format!("exec {program}: {e}"))),
            Ok(_) if !executable(&path) => Err(fail(format!(
                "exec {program}: not an executable file (check its x bits)"
            ))),
            Ok(_) => Ok(path),
        };
    }
    path_var
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(program))
        .find(|p| executable(p))
        .ok_or_else(|| {
            fail(format!(
                "exec {program:?}: executable file not found in $PATH ({path_var})"
            ))
        })
}

/// Execs the process through chapter 01's `exec_program`.
fn exec(p: &ProcessConfig, args: &[String]) -> Fail {
    let e = namespaces::init::exec_program(args, &p.env);
    Fail {
        errno: e.errno,
        detail: format!("exec {}", e.detail),
    }
}
