//! The runtime side of each verb: create, start, state, kill, delete, exec.
//!
//! Every verb is a separate run of `mini-runc`; what ties them together is the
//! state directory (`--root/<id>/`): `state.json` and the exec fifo.

use super::config::{self, Config, ProcessConfig};
use super::init::{FromInit, InitMsg, ToInit, INIT_ENV};
use super::plan::{self, CreateOptions, HookStage, RtStep};
use super::state::{self, Op, State, Status};
use super::sys;
use namespaces::channel::Channel;
use namespaces::Namespace;
use nix::sys::signal::Signal;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

static TIMING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Print how long each phase takes on stderr (`mini-runc --debug`): where the
/// time of a `run` goes, for the benchmarks.
pub fn set_timing(on: bool) {
    TIMING.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Marks the end of a phase.
struct Phases {
    last: Instant,
    on: bool,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            last: Instant::now(),
            on: TIMING.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn mark(&mut self, what: &str) {
        if self.on {
            let now = Instant::now();
            eprintln!(
                "mini-runc: {:>7.2} ms  {what}",
                (now - self.last).as_secs_f64() * 1000.0
            );
            self.last = now;
        }
    }
}

pub use super::error::RuntimeError;
use RuntimeError as E;

type Result<T> = std::result::Result<T, RuntimeError>;

/// Arguments of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateArgs {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
}

/// RFC 3339 time now, with nanoseconds (as runc writes it).
pub use mini_docker_api::time::now_rfc3339;

/// Writes `data` to `path` atomically (temp file and rename; no fsync, see
/// [`State::save`]).
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    mini_docker_api::atomic::write_atomic(path, data, mini_docker_api::atomic::Durability::Rename)
}

/// How the container's init is protected from CVE-2019-5736 (a process in the
/// container opening `/proc/<init>/exe` and writing through it into the
/// runtime binary on the host).
///
/// Preferred: give *this* runtime process a private mount namespace (a slave
/// of the host's, so nothing leaks back) and bind-mount our own binary,
/// read-only, onto an empty file at the top of the state root (one file for
/// every container: each runtime process binds over it in its own namespace);
/// the init is exec'd from there, so its `/proc/<pid>/exe` is on a read-only
/// mount (EROFS). The bind exists only in that namespace and vanishes with
/// it. Cost: two mounts (the file is made once per state root, not per
/// container: a new inode on the state root's filesystem is not free).
/// Fallback (no CAP_SYS_ADMIN): a sealed memfd copy of the binary, which costs
/// a copy of the whole executable per container.
fn protected_exe(root: &Path) -> Result<(PathBuf, Option<std::os::fd::OwnedFd>)> {
    match readonly_bind_of_self(root) {
        Ok(path) => Ok((path, None)),
        Err(_) => {
            let fd = sealed_self()?;
            Ok((
                PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
                Some(fd),
            ))
        }
    }
}

fn readonly_bind_of_self(root: &Path) -> std::io::Result<PathBuf> {
    use nix::mount::{mount, MsFlags};
    static DONE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(p) = DONE.get() {
        return Ok(p.clone());
    }
    // The binary's path, read before the unshare: a bind mount's source must
    // be a path in our (new) namespace, not the magic /proc/self/exe link.
    let exe = fs::read_link("/proc/self/exe")?;
    // The hooks that run "in the runtime namespace" go back to this one.
    let _ = super::init::RUNTIME_MOUNT_NS.set(fs::File::open("/proc/self/ns/mnt")?.into());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )?;
    let target = root.join(PROTECTED_EXE);
    if fs::symlink_metadata(&target)
        .map(|m| !m.is_file())
        .unwrap_or(true)
    {
        let _ = fs::remove_dir(&target);
        fs::File::create(&target)?;
    }
    mount(
        Some(&exe),
        &target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    mount(None::<&str>, &target, None::<&str>, flags, None::<&str>)?;
    let _ = DONE.set(target.clone());
    Ok(target)
}

/// The mount point of the read-only bind of our binary, in the state root
/// (`@` is not allowed in ids, so no container's directory is called that).
pub const PROTECTED_EXE: &str = ".mini-runc@exe";

/// A copy of our own binary in a sealed memfd (the fallback of [`protected_exe`]).
fn sealed_self() -> Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let memfd = memfd_create(
        c"mini-runc",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .map_err(|e| E::SealedCopy {
        step: "memfd_create",
        source: e.into(),
    })?;
    let mut src = fs::File::open("/proc/self/exe").map_err(|source| E::SealedCopy {
        step: "open /proc/self/exe",
        source,
    })?;
    let mut dst = fs::File::from(memfd);
    std::io::copy(&mut src, &mut dst).map_err(|source| E::SealedCopy {
        step: "copy the runtime into a memfd",
        source,
    })?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(dst.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals)).map_err(|e| {
        E::SealedCopy {
            step: "seal the memfd",
            source: e.into(),
        }
    })?;
    Ok(dst.into())
}

/// Starts the init from the protected binary, with the sync socket on a
/// descriptor above the ones `--preserve-fds` hands to the container.
/// With `host_mounts` (a container without a mount namespace of its own)
/// the init must stay in the runtime's mount namespace, so the binary is
/// protected by the sealed memfd copy rather than a private bind mount.
fn spawn_init(
    root: &Path,
    preserve_fds: u32,
    stdio: Option<[std::os::fd::RawFd; 3]>,
    host_mounts: bool,
) -> Result<(std::process::Child, Channel)> {
    let target = 3 + preserve_fds as i32;
    let (exe_path, memfd) = if host_mounts {
        let fd = sealed_self()?;
        (PathBuf::new(), Some(fd))
    } else {
        protected_exe(root)?
    };
    // A memfd's descriptor must survive the dup2 onto `target` in the child.
    let (exe_path, _memfd) = match memfd {
        Some(fd) => {
            let high = nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(target + 1),
            )
            .map_err(|source| E::Dup {
                what: "the runtime's memfd",
                source,
            })?;
            // SAFETY: `fcntl(F_DUPFD_CLOEXEC)` just returned this descriptor and nothing else holds it,
            // so the OwnedFd is its only owner.
            #[allow(unsafe_code)]
            let high = unsafe { sys::own_fd(high) };
            (
                PathBuf::from(format!("/proc/self/fd/{}", high.as_raw_fd())),
                Some(high),
            )
        }
        None => (exe_path, None),
    };
    let (parent, child) = Channel::pair().map_err(E::SocketPair)?;
    let mut cmd = Command::new(&exe_path);
    cmd.arg0("mini-runc:init").env(INIT_ENV, target.to_string());
    if let Some([i, o, e]) = stdio {
        let dup = |fd| {
            // Close-on-exec here; Command dup2()s it onto 0-2 of the child only.
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(0))
                .map(|d| {
                    // SAFETY: `fcntl(F_DUPFD_CLOEXEC)` just returned `d` and nothing
                    // else holds it, so the OwnedFd is its only owner.
                    #[allow(unsafe_code)]
                    let d = unsafe { sys::own_fd(d) };
                    std::process::Stdio::from(d)
                })
                .map_err(|source| E::Dup {
                    what: "the process's stdio",
                    source,
                })
        };
        cmd.stdin(dup(i)?).stdout(dup(o)?).stderr(dup(e)?);
    }
    // The init must not die with this (single-threaded) runtime process: it
    // exits by itself after forking the container's process.
    let child_proc = namespaces::sys::spawn_with_fd(&mut cmd, child.fd().as_raw_fd(), target)
        .map_err(E::SpawnInit)?;
    drop(child);
    Ok((child_proc, parent))
}

/// Cleans up a half-made container when dropped, unless disarmed.
struct Undo {
    dir: Option<PathBuf>,
    pid: Option<i32>,
    cgroup: Option<cgroups::Cgroup>,
    devices: Option<(cgroups::Layout, PathBuf)>,
    /// Empty parents of the cgroup path to remove after the cgroup.
    prune: Option<(cgroups::Layout, PathBuf)>,
    /// A rootfs whose mounts are the host's (no mount namespace).
    host_mounts: Option<PathBuf>,
}

impl Undo {
    fn disarm(mut self) -> Option<cgroups::Cgroup> {
        self.host_mounts = None;
        self.dir = None;
        self.pid = None;
        self.devices = None;
        self.prune = None;
        self.cgroup.take()
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = sys::signal_one(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.delete();
        }
        if let Some((layout, path)) = self.devices.take() {
            super::devices::remove(&layout, &path);
        }
        if let Some((layout, path)) = self.prune.take() {
            cgroups::Cgroup::prune_parents_at(&layout, &path);
        }
        if let Some(rootfs) = self.host_mounts.take() {
            let _ = unmount_below(&rootfs);
        }
        if let Some(dir) = &self.dir {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// The cgroup layout of this host.
/// The host's cgroup layout, read once per process (create and delete each
/// need it several times; it is three /proc files and does not change).
/// (A failure is not kept: the verb that meets it stops there.)
fn layout() -> Result<cgroups::Layout> {
    static LAYOUT: std::sync::OnceLock<cgroups::Layout> = std::sync::OnceLock::new();
    if let Some(l) = LAYOUT.get() {
        return Ok(l.clone());
    }
    let l = cgroups::Layout::detect().map_err(E::CgroupLayout)?;
    Ok(LAYOUT.get_or_init(|| l).clone())
}

/// Converts the spec's resources for chapter 02. A value that means "no
/// limit" (`-1`, `0` shares) is left out: a new cgroup starts unlimited.
pub fn resources(r: &config::ResourceConfig) -> cgroups::Resources {
    let mut out = cgroups::Resources {
        memory_max: r.memory_limit.filter(|m| *m > 0).map(|m| m as u64),
        cpu_shares: r.cpu_shares.filter(|s| *s > 0),
        pids_max: r.pids_limit.filter(|p| *p > 0).map(|p| p as u64),
        cpuset_cpus: r.cpuset_cpus.clone().filter(|s| !s.is_empty()),
        cpuset_mems: r.cpuset_mems.clone().filter(|s| !s.is_empty()),
        memory_reservation: r.memory_reservation.filter(|m| *m > 0).map(|m| m as u64),
        memory_swappiness: r.memory_swappiness,
        oom_kill_disable: r.oom_kill_disable,
        kernel_memory: r.kernel_memory,
        kernel_tcp: r.kernel_tcp,
        cpu_rt_runtime: r.cpu_rt_runtime,
        cpu_rt_period: r.cpu_rt_period,
        cpu_idle: r.cpu_idle,
        // Docker sends `"blockIO": {"weight": 0}` for "not set", as runc reads it.
        blkio_weight: r.blkio_weight.filter(|w| *w > 0),
        blkio_leaf_weight: r.blkio_leaf_weight.filter(|w| *w > 0),
        blkio_weight_devices: r
            .blkio_weight_devices
            .iter()
            .map(
                |(major, minor, weight, leaf_weight)| cgroups::DeviceWeight {
                    major: *major,
                    minor: *minor,
                    weight: *weight,
                    leaf_weight: *leaf_weight,
                },
            )
            .collect(),
        blkio_throttle: r
            .blkio_throttle
            .iter()
            .map(|(kind, major, minor, rate)| cgroups::Throttle {
                kind: match kind.as_str() {
                    "read_bps" => cgroups::ThrottleKind::ReadBps,
                    "write_bps" => cgroups::ThrottleKind::WriteBps,
                    "read_iops" => cgroups::ThrottleKind::ReadIops,
                    _ => cgroups::ThrottleKind::WriteIops,
                },
                major: *major,
                minor: *minor,
                rate: *rate,
            })
            .collect(),
        hugepage_limits: r.hugepage_limits.clone(),
        net_class_id: r.net_class_id,
        net_priorities: r.net_priorities.clone(),
        rdma: r.rdma.clone(),
        unified: r.unified.clone(),
        ..Default::default()
    };
    match (r.cpu_quota, r.cpu_period) {
        (Some(q), p) if q > 0 => {
            out.cpus = Some(cgroups::Cpus {
                quota_us: q as u64,
                period_us: p
                    .filter(|p| *p > 0)
                    .unwrap_or(cgroups::Cpus::DEFAULT_PERIOD_US),
            });
        }
        _ => {}
    }
    // Without a memory limit, chapter 02 refuses a swap limit (it is memory
    // plus swap), rather than it being dropped here.
    match r.memory_swap {
        Some(s) if s > 0 => out.memory_swap = Some(cgroups::Swap::Total(s as u64)),
        Some(-1) if out.memory_max.is_some() => out.memory_swap = Some(cgroups::Swap::Unlimited),
        _ => {}
    }
    out
}

/// Detaches every mount at or below `rootfs` in our mount namespace, deepest
/// first (`umount -R -l`): the mounts a container without a mount
/// namespace of its own made on the host.
fn unmount_below(rootfs: &Path) -> Result<()> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(E::ReadMountinfo)?;
    for point in super::mounts::mounts_below(&info, rootfs) {
        match nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
            Err(source) => {
                return Err(E::Unmount {
                    path: point,
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Linux 5.16 and later keep `memory.kmem.limit_in_bytes` but ignore what is
/// written to it; reading it back tells whether `memory.kernel` took effect.
fn check_kernel_memory(cg: &cgroups::Cgroup, limits: &cgroups::Resources) -> Result<()> {
    let (Some(wanted), Some(dir)) = (
        limits.kernel_memory.filter(|k| *k > 0),
        cg.dir_for(&cgroups::Controller::Memory),
    ) else {
        return Ok(());
    };
    let file = dir.path.join("memory.kmem.limit_in_bytes");
    let got: i64 = fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(-1);
    // The kernel rounds a limit down to whole pages.
    if got > wanted || got < wanted - 4096 {
        return Err(E::KernelMemoryIgnored { file, got, wanted });
    }
    Ok(())
}

/// Where each v1 hierarchy's directory of process `pid` is on the host, named
/// as its mount point is: what the container's `/sys/fs/cgroup/<name>` binds.
/// (The empty cgroup2 mount of a hybrid host is left out, as runc does.)
fn cgroup_binds(layout: &cgroups::Layout, pid: i32) -> Vec<(String, PathBuf)> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        if ctrls.is_empty() {
            continue;
        }
        let mut wanted: Vec<&str> = ctrls.split(',').collect();
        wanted.sort();
        let h = layout.hierarchies.iter().find(|h| {
            if h.version != cgroups::Version::V1 {
                return false;
            }
            if let Some(name) = ctrls.strip_prefix("name=") {
                return h.name.as_deref() == Some(name);
            }
            let mut have: Vec<&str> = h.controllers.iter().map(|c| c.name()).collect();
            have.sort();
            have == wanted
        });
        if let Some(h) = h {
            if let Some(name) = h.mount_point.file_name() {
                let rel = path.trim_start_matches('/');
                let order = layout
                    .hierarchies
                    .iter()
                    .position(|x| x.mount_point == h.mount_point);
                out.push((
                    order,
                    name.to_string_lossy().into_owned(),
                    h.mount_point.join(rel),
                ));
            }
        }
    }
    // In the host's mount order, as runc mounts them.
    out.sort();
    out.into_iter()
        .map(|(_, name, path)| (name, path))
        .collect()
}

/// The relative cgroup path of container `id`.
fn cgroup_path(cfg: &Config) -> PathBuf {
    match &cfg.cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => {
            // systemd-style "slice:prefix:name" becomes prefix-name under the slice.
            let s = p.to_string_lossy();
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() == 3 && !s.starts_with('/') {
                PathBuf::from(parts[0]).join(format!("{}-{}.scope", parts[1], parts[2]))
            } else {
                p.clone()
            }
        }
        _ => PathBuf::from(format!("/mini-runc/{}", cfg.id)),
    }
}

/// `create`: everything ready, the user's program waiting for `start`.
pub fn create(root: &Path, id: &str, args: &CreateArgs) -> Result<State> {
    state::validate_id(id)?;
    let mut t = Phases::new();
    let cfg = config::load(&args.bundle, id)?;
    t.mark("read and check config.json");
    if let Some(profile) = &cfg.process.seccomp {
        super::seccomp::compile(profile).map_err(E::Seccomp)?;
    }
    if cfg.process.terminal && args.console_socket.is_none() {
        return Err(E::TerminalWithoutConsole);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(root)
        .map_err(|source| E::CreateStateRoot {
            path: root.to_path_buf(),
            source,
        })?;
    let dir = State::dir(root, id);
    if fs::symlink_metadata(&dir).is_ok() {
        return Err(E::AlreadyExists { id: id.into() });
    }
    let mut undo = Undo {
        dir: None,
        pid: None,
        cgroup: None,
        devices: None,
        prune: None,
        host_mounts: None,
    };
    sys::set_child_subreaper().map_err(E::Subreaper)?;
    // The init first: its execve and start-up (a millisecond or two) overlap
    // the state directory and the cgroups made below. It does nothing until
    // `Go` arrives on the channel, by which time it is in the cgroups.
    let host_mounts = !cfg.namespaces.iter().any(|(n, _)| *n == Namespace::Mnt);
    let (mut init, channel) = spawn_init(root, args.preserve_fds, None, host_mounts)?;
    undo.pid = Some(init.id() as i32);
    if host_mounts {
        undo.host_mounts = Some(cfg.rootfs.clone());
    }
    t.mark("protect the runtime binary and start the init");
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => undo.dir = Some(dir.clone()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(E::AlreadyExists { id: id.into() })
        }
        Err(source) => return Err(E::CreateStateDir { path: dir, source }),
    }

    let fifo = State::fifo(root, id);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622)).map_err(
        |source| E::MakeFifo {
            path: fifo.clone(),
            source,
        },
    )?;
    // Writable by the container's root even when it is an unprivileged uid
    // outside (a user namespace); mkfifo's mode went through the umask.
    fs::set_permissions(&fifo, fs::Permissions::from_mode(0o622)).map_err(|source| {
        E::ChmodFifo {
            path: fifo.clone(),
            source,
        }
    })?;

    t.mark("state directory and exec fifo");
    let layout = layout()?;
    let cg_path = cgroup_path(&cfg);
    let limits = cfg.resources.as_ref().map(resources).unwrap_or_default();
    let cgroup = cgroups::Cgroup::create_at_with(&layout, &cg_path, &limits.extra_controllers())
        .map_err(|source| E::CreateCgroup {
            path: cg_path.clone(),
            source,
        })?;
    undo.cgroup = Some(cgroup);
    undo.prune = Some((layout.clone(), cg_path.clone()));
    if let Some(cg) = &undo.cgroup {
        cg.set(&limits).map_err(E::SetResources)?;
        check_kernel_memory(cg, &limits)?;
    }
    t.mark("create the cgroups and set limits");

    let opts = CreateOptions {
        no_pivot: args.no_pivot,
        preserve_fds: args.preserve_fds,
        console: args.console_socket.is_some(),
    };
    let mut steps = plan::plan_create(&cfg, &opts);
    dedupe_devices(&mut steps);
    let user_ns = cfg
        .namespaces
        .iter()
        .any(|(n, p)| *n == Namespace::User && p.is_none());
    let mut state = State {
        oci_version: cfg.oci_version.clone(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        bundle: cfg.bundle.clone(),
        annotations: cfg.annotations.clone(),
        rootfs: cfg.rootfs.clone(),
        created: now_rfc3339(),
        pid_start_time: 0,
        cgroup_path: Some(cg_path.clone()),
        poststart: cfg.hooks.poststart.clone(),
        poststop: cfg.hooks.poststop.clone(),
        own_pid_ns: cfg
            .namespaces
            .iter()
            .any(|(n, p)| *n == Namespace::Pid && p.is_none()),
        host_mounts,
    };
    if let Some(cg) = &undo.cgroup {
        cg.add_pid(init.id() as i32).map_err(E::JoinCgroup)?;
    }
    let mut rules = cfg
        .resources
        .as_ref()
        .map(|r| r.devices.clone())
        .unwrap_or_default();
    if !rules.is_empty() {
        rules.extend(super::devices::default_rules());
        undo.devices = Some((layout.clone(), cg_path.clone()));
        super::devices::apply(&layout, &cg_path, &rules, init.id() as i32)?;
        // cgroup v2 (and the cgroup2 tree of a hybrid host): the eBPF filter.
        super::devices::apply_v2(&layout, &cg_path, &rules, t.on)?;
    }
    t.mark("put the init into the cgroups");
    let cgroup_binds = cgroup_binds(&layout, init.id() as i32);
    let msg = InitMsg {
        steps: steps.clone(),
        config: Some(cfg.clone()),
        process: cfg.process.clone(),
        fifo: Some(fifo.clone()),
        console_socket: args.console_socket.clone(),
        cgroup_binds,
        cgroup_unified: layout.kind == cgroups::Kind::Unified,
        user_ns,
        state_json: String::new(),
        console_size: None,
    };
    channel
        .send(&ToInit::Go(Box::new(msg)))
        .map_err(E::TalkToInit)?;
    let mut pid1 = 0;
    loop {
        match channel.recv::<FromInit>().map_err(E::TalkToInit)? {
            Some(FromInit::Did(_)) => {}
            Some(FromInit::NeedIdMaps { pid }) => {
                for s in &steps {
                    if let RtStep::Ch01(step) = s {
                        namespaces::container::write_id_map_step(pid, step).map_err(|source| {
                            E::WriteIdMap {
                                command: step.command(),
                                source,
                            }
                        })?;
                    }
                }
                channel.send(&ToInit::MapsWritten).map_err(E::TalkToInit)?;
            }
            Some(FromInit::Forked { pid }) => {
                pid1 = pid;
                undo.pid = Some(pid);
                let _ = init.wait();
                t.mark("init: join and unshare namespaces, fork");
            }
            Some(FromInit::RunHooks(HookStage::CreateRuntime)) => {
                // The hooks see the container as the spec's state describes
                // it once create returns: `created`, with the init's pid.
                state.pid = pid1;
                state.status = Status::Created;
                let json = state.to_oci_json().to_string();
                state.status = Status::Creating;
                super::init::run_hooks(&cfg.hooks.prestart, &json).map_err(|source| E::Hook {
                    stage: "prestart",
                    source,
                })?;
                super::init::run_hooks(&cfg.hooks.create_runtime, &json).map_err(|source| {
                    E::Hook {
                        stage: "createRuntime",
                        source,
                    }
                })?;
                channel
                    .send(&ToInit::HooksDone(json))
                    .map_err(E::TalkToInit)?;
            }
            Some(FromInit::Ready) => {
                t.mark("container: mounts, devices, pivot_root, paths, sysctls");
                break;
            }
            Some(FromInit::Failed { step, detail, .. }) => {
                let cmd = steps.get(step).map(|s| s.command()).unwrap_or_default();
                return Err(E::CreateStep {
                    command: cmd,
                    detail,
                });
            }
            None => {
                let _ = init.try_wait();
                return Err(E::InitExited);
            }
        }
    }
    state.pid = pid1;
    state.pid_start_time = state::start_time(pid1).unwrap_or(0);
    state.status = Status::Created;
    state.save(root)?;
    t.mark("write the state");
    if let Some(p) = &args.pid_file {
        write_atomic(p, pid1.to_string().as_bytes()).map_err(|source| E::WritePidFile {
            path: p.clone(),
            source,
        })?;
    }
    if let Some(cg) = undo.disarm() {
        // The cgroup outlives this process; `delete` removes it.
        let _ = cg.keep();
    }
    Ok(state)
}

/// Keeps only the last device for each path (the spec's over the defaults).
fn dedupe_devices(steps: &mut Vec<RtStep>) {
    let mut seen = std::collections::BTreeSet::new();
    let mut keep = vec![true; steps.len()];
    for (i, s) in steps.iter().enumerate().rev() {
        if let RtStep::Device(d) = s {
            if !seen.insert(d.path.clone()) {
                keep[i] = false;
            }
        }
    }
    let mut i = 0;
    steps.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Loads a container's state, refreshed against the kernel.
pub fn load(root: &Path, id: &str) -> Result<State> {
    let mut s = State::load(root, id)?;
    s.refresh(root);
    Ok(s)
}

/// `start`: release the process waiting on the exec fifo.
pub fn start(root: &Path, id: &str) -> Result<State> {
    let mut t = Phases::new();
    let mut s = load(root, id)?;
    if s.status == Status::Stopped && s.pid > 0 {
        return Err(E::InitGone {
            pid: s.pid,
            detail: state::why_gone(s.pid, s.pid_start_time),
        });
    }
    if !s.status.allows(Op::Start) {
        return Err(E::Refused {
            verb: "start",
            status: s.status.name(),
        });
    }
    let fifo = State::fifo(root, id);
    let f = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|source| E::OpenFifo {
        path: fifo.clone(),
        source,
    })?;
    // SAFETY: `open` just returned this descriptor and nothing else holds it,
    // so the OwnedFd is its only owner.
    #[allow(unsafe_code)]
    let f = unsafe { sys::own_fd(f) };
    let started = Instant::now();
    let mut buf = [0u8; 1];
    loop {
        match nix::unistd::read(f.as_raw_fd(), &mut buf) {
            Ok(1) => break,
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => {
                if !s.alive() {
                    return Err(E::DiedBeforeStart);
                }
                if started.elapsed() > Duration::from_secs(30) {
                    return Err(E::FifoTimeout);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(source) => return Err(E::ReadFifo { path: fifo, source }),
        }
    }
    let _ = fs::remove_file(&fifo);
    t.mark("start: release the process through the exec fifo");
    // Nothing to write: "running" is what `State::refresh` reads off a live
    // init whose exec fifo is gone, so the file written at create stays true.
    s.status = Status::Running;
    if !s.poststart.is_empty() {
        // The spec: poststart hooks run after the user's process was started,
        // i.e. after the init's execve (the startContainer hooks come first).
        // The init named itself `mini-runc:pid1`; execve renames a process
        // after its program.
        let released = Instant::now();
        loop {
            match fs::read_to_string(format!("/proc/{}/comm", s.pid)) {
                Ok(comm) if comm.trim_end() == "mini-runc:pid1" => {}
                _ => break,
            }
            if released.elapsed() > Duration::from_secs(60) {
                return Err(E::ExecveTimeout);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        super::init::run_hooks_warning("poststart", &s.poststart, &s.to_oci_json().to_string());
    }
    Ok(s)
}

/// Parses a signal as runc does: `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| E::UnknownSignal { signal: s.into() });
    }
    let name = if s.starts_with("SIG") {
        s.to_string()
    } else {
        format!("SIG{s}")
    };
    name.to_uppercase()
        .parse::<Signal>()
        .map_err(|_| E::UnknownSignal { signal: s.into() })
}

/// `kill`.
pub fn kill(root: &Path, id: &str, signal: Signal, all: bool) -> Result<()> {
    let s = load(root, id)?;
    if !s.status.allows(Op::Kill) {
        return Err(kill_refused(id, s.status));
    }
    if all {
        for pid in cgroup_pids(&s) {
            let _ = sys::signal_one(pid, signal);
        }
        return Ok(());
    }
    sys::signal_one(s.pid, signal).map_err(|source| E::Signal { pid: s.pid, source })
}

/// Why `kill` refuses, in runc's words where a caller matches them:
/// containerd's shim reads "container not running" as "already exited",
/// which is what lets `ctr task rm -f` of an exited task succeed.
fn kill_refused(id: &str, status: Status) -> RuntimeError {
    if status == Status::Stopped {
        E::NotRunning { id: id.into() }
    } else {
        E::Refused {
            verb: "kill",
            status: status.name(),
        }
    }
}

fn open_cgroup(s: &State) -> Option<cgroups::Cgroup> {
    let layout = layout().ok()?;
    cgroups::Cgroup::open_at(&layout, s.cgroup_path.as_ref()?).ok()
}

fn cgroup_pids(s: &State) -> Vec<i32> {
    match open_cgroup(s) {
        Some(cg) => {
            let pids = cg.pids().unwrap_or_default();
            let _ = cg.keep();
            pids
        }
        None => vec![s.pid],
    }
}

/// `delete [--force]`.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let s = match load(root, id) {
        Ok(s) => s,
        Err(E::State(state::StateError::NotFound { .. })) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut t = Phases::new();
    let op = if force { Op::ForceDelete } else { Op::Delete };
    if !s.status.allows(op) {
        return Err(E::DeleteLive {
            id: id.into(),
            status: s.status.name(),
        });
    }
    if s.status != Status::Stopped {
        if s.status == Status::Paused {
            if let Some(cg) = open_cgroup(&s) {
                let _ = cg.thaw();
                let _ = cg.keep();
            }
        }
        for pid in cgroup_pids(&s).into_iter().chain([s.pid]) {
            let _ = sys::signal_one(pid, Signal::SIGKILL);
        }
        let t = Instant::now();
        while s.alive() && t.elapsed() < Duration::from_secs(10) {
            // Our own child when `run` created it: reap it, or it stays a zombie.
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(s.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    t.mark("delete: stop the processes");
    if let Some(cg) = open_cgroup(&s) {
        cg.delete().map_err(E::RemoveCgroup)?;
    }
    t.mark("delete: remove the cgroups");
    if s.host_mounts {
        unmount_below(&s.rootfs)?;
    }
    if let (Ok(layout), Some(path)) = (layout(), &s.cgroup_path) {
        super::devices::remove(&layout, path);
        cgroups::Cgroup::prune_parents_at(&layout, path);
    }
    let mut stopped = s.clone();
    stopped.status = Status::Stopped;
    super::init::run_hooks_warning("poststop", &s.poststop, &stopped.to_oci_json().to_string());
    fs::remove_dir_all(State::dir(root, id)).map_err(|source| E::RemoveState {
        id: id.into(),
        source,
    })
}

/// `pause` / `resume` through the freezer.
pub fn pause(root: &Path, id: &str, pause: bool) -> Result<()> {
    let mut s = load(root, id)?;
    let op = if pause { Op::Pause } else { Op::Resume };
    let next = s.status.after(op).ok_or(E::Refused {
        verb: if pause { "pause" } else { "resume" },
        status: s.status.name(),
    })?;
    let cg = open_cgroup(&s).ok_or(E::NoCgroup)?;
    let r = if pause { cg.freeze() } else { cg.thaw() };
    let _ = cg.keep();
    r.map_err(E::Freezer)?;
    s.status = next;
    Ok(s.save(root)?)
}

/// The pids of a container, for `ps`.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let s = load(root, id)?;
    Ok(cgroup_pids(&s))
}

/// Arguments of `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    /// The process to run.
    pub process: ProcessConfig,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--detach`.
    pub detach: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// The process's stdin, stdout and stderr, when not ours (a shim's pipes).
    /// The descriptors are duplicated; the caller keeps its own.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
}

/// The process of the container's own spec, as the base of `exec` without `--process`.
pub fn spec_process(s: &State) -> Result<ProcessConfig> {
    let cfg = config::load(&s.bundle, &s.id)?;
    Ok(cfg.process)
}

/// `exec`: a new process in all of the container's namespaces and its cgroup.
/// Returns the process's exit code (or 0 with `--detach`).
pub fn exec(root: &Path, id: &str, args: &ExecArgs) -> Result<i32> {
    let pid = exec_process(root, id, args)?;
    if args.detach {
        return Ok(0);
    }
    Ok(wait_exit(pid))
}

/// The first half of [`exec`]: starts the process and returns its host pid
/// without waiting. The caller has become its parent (a subreaper adopts it
/// when the runtime's init exits) and must reap it, e.g. with [`wait_exit`].
pub fn exec_process(root: &Path, id: &str, args: &ExecArgs) -> Result<i32> {
    let s = load(root, id)?;
    if !s.status.allows(Op::Exec) {
        return Err(E::Refused {
            verb: "exec in",
            status: s.status.name(),
        });
    }
    if args.process.terminal && args.console_socket.is_none() {
        return Err(E::ExecTtyWithoutConsole);
    }
    sys::set_child_subreaper().map_err(E::Subreaper)?;
    // Join exactly the namespaces where the container differs from us.
    let joined: Vec<Namespace> = Namespace::ALL
        .iter()
        .copied()
        .filter(|n| {
            let theirs = fs::read_link(format!("/proc/{}/ns/{}", s.pid, n.proc_name())).ok();
            let ours = fs::read_link(format!("/proc/self/ns/{}", n.proc_name())).ok();
            theirs.is_some() && theirs != ours
        })
        .collect();
    let opts = CreateOptions {
        no_pivot: false,
        preserve_fds: args.preserve_fds,
        console: args.console_socket.is_some(),
    };
    let chroot = s.host_mounts.then(|| s.rootfs.clone());
    let steps = plan::plan_exec(s.pid, &joined, chroot, &args.process, &opts);
    let (mut init, channel) = spawn_init(root, args.preserve_fds, args.stdio, s.host_mounts)?;
    let mut undo = Undo {
        dir: None,
        pid: Some(init.id() as i32),
        cgroup: None,
        devices: None,
        prune: None,
        host_mounts: None,
    };
    if let Some(cg) = open_cgroup(&s) {
        cg.add_pid(init.id() as i32).map_err(E::JoinCgroup)?;
        let _ = cg.keep();
    }
    if let (Ok(layout), Some(path)) = (layout(), &s.cgroup_path) {
        if let Some(dir) = super::devices::dir(&layout, path).filter(|d| d.is_dir()) {
            let _ = fs::write(dir.join("cgroup.procs"), init.id().to_string());
        }
    }
    let msg = InitMsg {
        steps: steps.clone(),
        config: None,
        process: args.process.clone(),
        fifo: None,
        console_socket: args.console_socket.clone(),
        cgroup_binds: Vec::new(),
        cgroup_unified: false,
        user_ns: false,
        state_json: String::new(),
        console_size: None,
    };
    channel
        .send(&ToInit::Go(Box::new(msg)))
        .map_err(E::TalkToInit)?;
    let mut pid = 0;
    loop {
        match channel.recv::<FromInit>().map_err(E::TalkToInit)? {
            Some(FromInit::Forked { pid: p }) => {
                pid = p;
                undo.pid = Some(p);
                let _ = init.wait();
            }
            Some(FromInit::Failed { step, detail, .. }) => {
                let cmd = steps.get(step).map(|s| s.command()).unwrap_or_default();
                return Err(E::ExecStep {
                    command: cmd,
                    detail,
                });
            }
            Some(_) => {}
            // EOF: the process exec'd (its end of the socket is close-on-exec).
            None => break,
        }
    }
    if pid == 0 {
        return Err(E::ExecNotStarted);
    }
    undo.pid = None;
    if let Some(p) = &args.pid_file {
        write_atomic(p, pid.to_string().as_bytes()).map_err(|source| E::WritePidFile {
            path: p.clone(),
            source,
        })?;
    }
    Ok(pid)
}

/// Waits for `pid` (our child, by adoption) and returns a shell-style exit code.
pub fn wait_exit(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}

/// Lists the containers under `root`.
pub fn list(root: &Path) -> Vec<State> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(root) {
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Ok(s) = load(root, &id) {
                out.push(s);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Makes the state root private to root, as runc does.
pub fn ensure_root(root: &Path) -> Result<()> {
    fs::create_dir_all(root).map_err(|source| E::CreateStateRoot {
        path: root.to_path_buf(),
        source,
    })?;
    fs::set_permissions(root, fs::Permissions::from_mode(0o711)).map_err(|source| {
        E::ChmodStateRoot {
            path: root.to_path_buf(),
            source,
        }
    })
}

/// `update --resources`: new limits for a live (running or paused)
/// container, written to its cgroup through chapter 02's setters. The input
/// is an OCI `LinuxResources`, as runc's; an absent field stays as it is.
/// A field chapter 02 has no setter for is refused by name, never dropped.
pub fn update(root: &Path, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let s = load(root, id)?;
    if !matches!(s.status, Status::Running | Status::Paused | Status::Created) {
        return Err(E::Refused {
            verb: "update",
            status: s.status.name(),
        });
    }
    let res = update_resources(r)?;
    let cg = open_cgroup(&s).ok_or(E::NoCgroup)?;
    let set = cg.set(&res);
    let _ = cg.keep();
    set.map(|_| ()).map_err(|source| E::Update {
        id: id.into(),
        source,
    })
}

/// The part of a `LinuxResources` that [`update`] applies, or the names of
/// the fields it cannot apply.
fn update_resources(r: &oci_spec::runtime::LinuxResources) -> Result<cgroups::Resources> {
    let mut refused = Vec::new();
    let mut out = cgroups::Resources::default();
    if let Some(m) = r.memory() {
        out.memory_max = m.limit().filter(|l| *l > 0).map(|l| l as u64);
        out.memory_swap = match m.swap() {
            Some(-1) => Some(cgroups::Swap::Unlimited),
            Some(s) if s > 0 => Some(cgroups::Swap::Total(s as u64)),
            _ => None,
        };
        if m.reservation().is_some_and(|v| v != 0) {
            refused.push("memory.reservation");
        }
        if m.kernel().is_some_and(|v| v != 0) || m.kernel_tcp().is_some_and(|v| v != 0) {
            refused.push("memory.kernel");
        }
        if m.swappiness().is_some() {
            refused.push("memory.swappiness");
        }
    }
    if let Some(c) = r.cpu() {
        out.cpu_shares = c.shares().filter(|s| *s > 0);
        out.cpuset_cpus = c.cpus().clone().filter(|s| !s.is_empty());
        out.cpuset_mems = c.mems().clone().filter(|s| !s.is_empty());
        match (
            c.quota().filter(|q| *q != 0),
            c.period().filter(|p| *p != 0),
        ) {
            (None, None) => {}
            (Some(q), p) if q > 0 => {
                out.cpus = Some(cgroups::Cpus {
                    quota_us: q as u64,
                    period_us: p.unwrap_or(cgroups::Cpus::DEFAULT_PERIOD_US),
                })
            }
            _ => refused.push("cpu.quota (a positive quota is needed with cpu.period)"),
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            refused.push("cpu.realtime*");
        }
    }
    if let Some(p) = r.pids() {
        match p.limit() {
            l if l > 0 => out.pids_max = Some(l as u64),
            _ => refused.push("pids.limit (0 or -1: unlimited)"),
        }
    }
    if r.block_io().is_some() {
        refused.push("blockIO");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        refused.push("hugepageLimits");
    }
    if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        refused.push("devices");
    }
    if r.network().is_some() || r.rdma().is_some() || r.unified().is_some() {
        refused.push("network, rdma or unified");
    }
    if !refused.is_empty() {
        return Err(E::UpdateRefused {
            fields: refused.join(", "),
        });
    }
    Ok(out)
}
