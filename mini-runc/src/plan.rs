//! Every step from `create` to the user's program, as data.
//!
//! Chapter 01's steps ([`namespaces::Step`]) are reused for what chapter 01
//! teaches (unshare, id maps, hostname, fork); the runtime adds what a real
//! spec asks for: joined namespaces, arbitrary mounts, devices, masked and
//! read-only paths, sysctls, a console, rlimits, the user, capabilities,
//! `no_new_privs` and seccomp.
//!
//! ```text
//! mini-runc create            init (re-exec'd, sealed copy)      the container's PID 1
//! ────────────────            ─────────────────────────────      ─────────────────────
//! cgroup, fifo, spawn ──────▶ setns (joined namespaces)
//! add pid to cgroup           unshare(USER) ── maps? ──▶ parent writes uid_map/gid_map
//!                             unshare(the others)
//!                             fork ─────────────────────────────▶ setsid, mounts, devices
//!                             exit (PID 1 is adopted by           prestart hooks? ──▶ parent runs them
//!                              the subreaper: mini-runc create)   pivot_root, masked/ro paths,
//!                                                                 hostname, sysctls, console,
//! ◀──────────────────────────────────────────────────── ready ─── rlimits, close fds, check that
//!                                                                 args[0] runs and the caps exist
//! write pid file, state=created, exit                             open(exec.fifo, O_WRONLY) blocks
//! mini-runc start: read(exec.fifo) ─────────────────────────────▶ seccomp, user, capabilities,
//!                                                                 no_new_privs, chdir, execve
//! wait for the execve (comm), then poststart hooks (a failure only warns)
//! ```
//!
//! Mount propagation: `/` is made `rslave` (or the requested private/slave
//! mode) and the mount holding the rootfs private before the rootfs is bound
//! and pivoted into, so nothing reaches the host and `pivot_root` finds no
//! shared parent; a requested shared or unbindable `rootfsPropagation` is
//! given to the finished root last. Without a mount namespace in the spec,
//! none of that happens: the container's mounts are the host's, under the
//! rootfs, and `pivot_root` becomes a `chroot`.

use super::config::{Config, DeviceSpec, MountSpec, ProcessConfig};
use namespaces::{Namespace, Step as Ch01};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Hook stages run by the parent on the init's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookStage {
    /// prestart and createRuntime (runtime namespace).
    CreateRuntime,
}

/// A step of making (or entering) a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RtStep {
    /// A chapter 01 step.
    Ch01(Ch01),
    /// Join an existing namespace.
    Setns {
        /// Which kind.
        ns: Namespace,
        /// Its file.
        path: PathBuf,
    },
    /// Become a session leader (the terminal's, if there is one).
    Setsid,
    /// Set the propagation of `/`.
    RootPropagation {
        /// `rslave`, `rprivate`, …
        mode: String,
    },
    /// Bind the rootfs onto itself.
    BindRootfs {
        /// The rootfs.
        rootfs: PathBuf,
    },
    /// A mount from the spec.
    Mount(MountSpec),
    /// A device node.
    Device(DeviceSpec),
    /// `/dev/fd`, `/dev/stdin`, … symlinks, and `/dev/ptmx`.
    DevSymlinks,
    /// Ask the parent to run hooks.
    Hooks(HookStage),
    /// createContainer hooks, run in the container's namespaces.
    CreateContainerHooks,
    /// `pivot_root` (or `MS_MOVE` + `chroot` with `--no-pivot`).
    PivotRoot {
        /// The rootfs.
        rootfs: PathBuf,
        /// Use chroot instead.
        no_pivot: bool,
        /// No mount namespace of its own: only chroot (no `MS_MOVE`, which
        /// would move the host's mount).
        chroot_only: bool,
    },
    /// Make a path read-only.
    ReadonlyPath(String),
    /// Hide a path.
    MaskPath(String),
    /// `setdomainname`.
    Domainname(String),
    /// Write a sysctl.
    Sysctl {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// Remount `/` read-only.
    ReadonlyRoot,
    /// Allocate a pty and hand its master to the console socket.
    Console,
    /// Write `/proc/self/oom_score_adj`.
    OomScoreAdj(i32),
    /// `setrlimit`.
    Rlimit {
        /// `RLIMIT_NOFILE`, …
        name: String,
        /// Soft limit.
        soft: u64,
        /// Hard limit.
        hard: u64,
    },
    /// Mark every descriptor above 2 (and the preserved ones) close-on-exec.
    CloseFds {
        /// How many descriptors after 2 to keep (`--preserve-fds`).
        preserve: u32,
    },
    /// Tell the parent we are ready.
    Ready,
    /// Wait for `start` on the exec fifo.
    WaitStart,
    /// startContainer hooks, in the container.
    StartContainerHooks,
    /// Load the seccomp filter.
    Seccomp,
    /// Drop capabilities from the bounding set.
    BoundingSet(Vec<String>),
    /// Become the process's user.
    SetUser {
        /// uid.
        uid: u32,
        /// gid.
        gid: u32,
        /// Supplementary groups.
        groups: Vec<u32>,
    },
    /// Set effective, permitted, inheritable and ambient capabilities.
    Capabilities,
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    NoNewPrivs,
    /// `umask`.
    Umask(u32),
    /// chdir, and check that the cwd is inside the container.
    Chdir(PathBuf),
    /// execve.
    Exec(Vec<String>),
}

impl RtStep {
    /// The shell command that does the same (for `--explain` and errors).
    pub fn command(&self) -> String {
        match self {
            RtStep::Ch01(s) => s.command(),
            RtStep::Setns { ns, path } => {
                format!("nsenter {}={}", ns.unshare_option(), path.display())
            }
            RtStep::Setsid => "setsid".into(),
            RtStep::RootPropagation { mode } => format!("mount --make-{mode} /"),
            RtStep::BindRootfs { rootfs } => format!("mount --rbind {r} {r}", r = rootfs.display()),
            RtStep::Mount(m) => {
                super::mounts::mount_command(&m.fstype, &m.source, &m.destination, &m.options)
            }
            RtStep::Device(d) => format!(
                "mknod -m {:o} $ROOTFS{} {} {} {} && chown {}:{} $ROOTFS{}",
                d.mode,
                d.path.display(),
                d.kind,
                d.major,
                d.minor,
                d.uid,
                d.gid,
                d.path.display()
            ),
            RtStep::DevSymlinks => {
                "ln -s /proc/self/fd $ROOTFS/dev/fd; ln -s pts/ptmx $ROOTFS/dev/ptmx; …".into()
            }
            RtStep::Hooks(_) => "(the runtime runs the prestart and createRuntime hooks)".into(),
            RtStep::CreateContainerHooks => "(run the createContainer hooks inside)".into(),
            RtStep::PivotRoot {
                rootfs,
                chroot_only: true,
                ..
            } => format!("chroot {}", rootfs.display()),
            RtStep::PivotRoot {
                rootfs,
                no_pivot: false,
                ..
            } => {
                format!("cd {} && pivot_root . . && umount -l .", rootfs.display())
            }
            RtStep::PivotRoot {
                rootfs,
                no_pivot: true,
                ..
            } => {
                format!("mount --move {} / && chroot .", rootfs.display())
            }
            RtStep::ReadonlyPath(p) => format!("mount --bind -o ro {p} {p}"),
            RtStep::MaskPath(p) => {
                format!("mount --bind /dev/null {p}  # or a read-only tmpfs on a directory")
            }
            RtStep::Domainname(d) => format!("domainname {d}"),
            RtStep::Sysctl { key, value } => format!("sysctl -w {key}={value}"),
            RtStep::ReadonlyRoot => "mount -o remount,bind,ro /".into(),
            RtStep::Console => "(open /dev/ptmx, send the master to --console-socket)".into(),
            RtStep::OomScoreAdj(n) => format!("echo {n} > /proc/self/oom_score_adj"),
            RtStep::Rlimit { name, soft, hard } => {
                format!(
                    "prlimit --{}={soft}:{hard}",
                    name.trim_start_matches("RLIMIT_").to_lowercase()
                )
            }
            RtStep::CloseFds { .. } => "(close every inherited descriptor above 2)".into(),
            RtStep::Ready => "(tell the runtime: created)".into(),
            RtStep::WaitStart => "cat exec.fifo  # blocks until `mini-runc start`".into(),
            RtStep::StartContainerHooks => "(run the startContainer hooks)".into(),
            RtStep::Seccomp => "(load the seccomp BPF filters)".into(),
            RtStep::BoundingSet(keep) => format!("capsh --drop=<all but {} caps>", keep.len()),
            RtStep::SetUser { uid, gid, groups } => {
                let g: Vec<String> = groups.iter().map(u32::to_string).collect();
                format!(
                    "setpriv --reuid={uid} --regid={gid} --groups={}",
                    if g.is_empty() {
                        "''".into()
                    } else {
                        g.join(",")
                    }
                )
            }
            RtStep::Capabilities => "capsh --caps=<the spec's sets>".into(),
            RtStep::NoNewPrivs => "setpriv --no-new-privs".into(),
            RtStep::Umask(m) => format!("umask {m:04o}"),
            RtStep::Chdir(d) => format!("cd {}", d.display()),
            RtStep::Exec(args) => format!("exec {}", namespaces::plan::shell_words(args)),
        }
    }
}

/// Options of `create` that are not in the spec.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateOptions {
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// Whether a console socket was given.
    pub console: bool,
}

/// Host paths of the container's cgroup in each v1 hierarchy (name, path),
/// for the `cgroup` mount of a hybrid or v1 host.
pub type CgroupBinds = Vec<(String, PathBuf)>;

/// The steps that create the container described by `cfg`.
pub fn plan_create(cfg: &Config, opts: &CreateOptions) -> Vec<RtStep> {
    let mut steps = Vec::new();
    let new = |k: Namespace| cfg.namespaces.iter().any(|(n, p)| *n == k && p.is_none());
    let user_path = cfg
        .namespaces
        .iter()
        .find(|(n, p)| *n == Namespace::User && p.is_some());
    // Joined namespaces: a joined user namespace first (it owns the others);
    // with a new user namespace, join the others while we still have the host's rights.
    if let Some((_, Some(path))) = user_path {
        steps.push(RtStep::Setns {
            ns: Namespace::User,
            path: path.clone(),
        });
    }
    for (ns, path) in &cfg.namespaces {
        if let (Some(path), false) = (path, *ns == Namespace::User) {
            steps.push(RtStep::Setns {
                ns: *ns,
                path: path.clone(),
            });
        }
    }
    if new(Namespace::User) {
        steps.push(RtStep::Ch01(Ch01::Unshare {
            namespaces: vec![Namespace::User],
        }));
        let uid = namespaces::plan::map_text(&cfg.uid_mappings);
        let gid = namespaces::plan::map_text(&cfg.gid_mappings);
        steps.push(RtStep::Ch01(Ch01::WriteUidMap { map: uid }));
        steps.push(RtStep::Ch01(Ch01::WriteGidMap { map: gid }));
        steps.push(RtStep::Ch01(Ch01::BecomeNsRoot));
    }
    let rest: Vec<Namespace> = Namespace::ALL
        .iter()
        .copied()
        .filter(|n| *n != Namespace::User && new(*n))
        .collect();
    if !rest.is_empty() {
        steps.push(RtStep::Ch01(Ch01::Unshare { namespaces: rest }));
    }
    steps.push(RtStep::Ch01(Ch01::Fork {
        pid1: new(Namespace::Pid),
    }));
    steps.push(RtStep::Setsid);
    // `/` must not be shared while the rootfs is prepared and pivoted into;
    // the requested propagation is given to the finished root at the end.
    // Without a mount namespace of its own, the host's mounts are left as
    // they are: the container gets a chroot.
    let own_mnt = cfg.namespaces.iter().any(|(n, _)| *n == Namespace::Mnt);
    if own_mnt {
        let before = super::mounts::propagation_before_pivot(cfg.rootfs_propagation.as_deref());
        steps.push(RtStep::RootPropagation {
            mode: before.to_string(),
        });
        steps.push(RtStep::BindRootfs {
            rootfs: cfg.rootfs.clone(),
        });
    }
    for m in &cfg.mounts {
        steps.push(RtStep::Mount(m.clone()));
    }
    for d in default_devices()
        .into_iter()
        .chain(cfg.devices.iter().cloned())
    {
        steps.push(RtStep::Device(d));
    }
    steps.push(RtStep::DevSymlinks);
    // The runtime's hooks (prestart, createRuntime); the runtime also
    // answers with the state JSON that the hooks run inside are given.
    let h = &cfg.hooks;
    if [
        &h.prestart,
        &h.create_runtime,
        &h.create_container,
        &h.start_container,
    ]
    .iter()
    .any(|v| !v.is_empty())
    {
        steps.push(RtStep::Hooks(HookStage::CreateRuntime));
    }
    if !cfg.hooks.create_container.is_empty() {
        steps.push(RtStep::CreateContainerHooks);
    }
    steps.push(RtStep::PivotRoot {
        rootfs: cfg.rootfs.clone(),
        no_pivot: opts.no_pivot,
        chroot_only: !own_mnt,
    });
    if let Some(h) = &cfg.hostname {
        steps.push(RtStep::Ch01(Ch01::SetHostname { name: h.clone() }));
    }
    if let Some(d) = &cfg.domainname {
        steps.push(RtStep::Domainname(d.clone()));
    }
    // Sysctls go through /proc/sys, before it is made read-only.
    for (key, value) in &cfg.sysctl {
        steps.push(RtStep::Sysctl {
            key: key.clone(),
            value: value.clone(),
        });
    }
    for p in &cfg.readonly_paths {
        steps.push(RtStep::ReadonlyPath(p.clone()));
    }
    for p in &cfg.masked_paths {
        steps.push(RtStep::MaskPath(p.clone()));
    }
    if cfg.root_readonly {
        steps.push(RtStep::ReadonlyRoot);
    }
    if let Some(mode) = &cfg.rootfs_propagation {
        steps.push(RtStep::RootPropagation { mode: mode.clone() });
    }
    steps.extend(process_steps(
        &cfg.process,
        opts,
        true,
        !cfg.hooks.start_container.is_empty(),
    ));
    steps
}

/// The steps that put a process into an existing container (`exec`).
pub fn plan_exec(
    container_pid: i32,
    namespaces: &[Namespace],
    chroot: Option<PathBuf>,
    process: &ProcessConfig,
    opts: &CreateOptions,
) -> Vec<RtStep> {
    let mut steps = Vec::new();
    let proc_ns =
        |n: Namespace| PathBuf::from(format!("/proc/{container_pid}/ns/{}", n.proc_name()));
    // The user namespace first: it owns the others.
    for ns in Namespace::ALL {
        if namespaces.contains(&ns) {
            steps.push(RtStep::Setns {
                ns,
                path: proc_ns(ns),
            });
        }
    }
    // A container without a mount namespace of its own is a chroot.
    if let Some(rootfs) = chroot {
        steps.push(RtStep::PivotRoot {
            rootfs,
            no_pivot: false,
            chroot_only: true,
        });
    }
    steps.push(RtStep::Ch01(Ch01::Fork { pid1: false }));
    steps.push(RtStep::Setsid);
    steps.extend(process_steps(process, opts, false, false));
    steps
}

fn process_steps(
    p: &ProcessConfig,
    opts: &CreateOptions,
    wait_start: bool,
    start_hooks: bool,
) -> Vec<RtStep> {
    let mut steps = Vec::new();
    if p.terminal && opts.console {
        steps.push(RtStep::Console);
    }
    if let Some(n) = p.oom_score_adj {
        steps.push(RtStep::OomScoreAdj(n));
    }
    for (name, soft, hard) in &p.rlimits {
        steps.push(RtStep::Rlimit {
            name: name.clone(),
            soft: *soft,
            hard: *hard,
        });
    }
    steps.push(RtStep::CloseFds {
        preserve: opts.preserve_fds,
    });
    steps.push(RtStep::Ready);
    if wait_start {
        steps.push(RtStep::WaitStart);
    }
    if start_hooks {
        steps.push(RtStep::StartContainerHooks);
    }
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while
    // we still have it. With it, load it last, so it filters only the program.
    if p.seccomp.is_some() && !p.no_new_privileges {
        steps.push(RtStep::Seccomp);
    }
    steps.push(RtStep::BoundingSet(p.caps.bounding.clone()));
    steps.push(RtStep::SetUser {
        uid: p.uid,
        gid: p.gid,
        groups: p.additional_gids.clone(),
    });
    steps.push(RtStep::Capabilities);
    if let Some(m) = p.umask {
        steps.push(RtStep::Umask(m));
    }
    steps.push(RtStep::Chdir(p.cwd.clone()));
    if p.no_new_privileges {
        steps.push(RtStep::NoNewPrivs);
        if p.seccomp.is_some() {
            steps.push(RtStep::Seccomp);
        }
    }
    steps.push(RtStep::Exec(p.args.clone()));
    steps
}

/// The devices every container gets (runc's list), whatever the spec says.
pub fn default_devices() -> Vec<DeviceSpec> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(name, major, minor)| DeviceSpec {
        path: PathBuf::from("/dev").join(name),
        kind: 'c',
        major: *major,
        minor: *minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}
