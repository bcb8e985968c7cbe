//! The container's `config.json`: Docker's default spec, plus the image's
//! config, plus the user's flags.
//!
//! Docker 20.10 starts every container from the same profile (14
//! capabilities, a seccomp allowlist, masked and read-only `/proc` paths,
//! the `/dev` and `/sys` mounts). [`default_spec`] builds that profile with
//! oci-spec's runtime types, the same types `mini-runc` reads `config.json`
//! with; a unit test checks it, key by key, against the spec captured from
//! a real `docker run` (`tests/fixtures/docker-20.10-default-config.json`,
//! test data only). The engine fills in the process (argv, env, cwd, user
//! from `chapter04::runtime::runtime_config`), the hostname, the cgroup path
//! and limits, and the namespaces: `--network host` drops the network
//! namespace, `bridge` joins the one the daemon made (a path, the OCI way).
//!
//! [`build_spec`] does those edits on the typed [`Spec`]; the flags handled
//! elsewhere (`runflags`, `security`, `volumes`, `net`, `lifecycle`) edit
//! the same typed [`Spec`], so a misspelt field is a compile error, not a
//! key the runtime never reads. [`to_json`] serializes it once, when the
//! engine writes the bundle's `config.json` ([`write`]).

use oci_spec::runtime::{
    Arch, Capability, LinuxBlockIoBuilder, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpu,
    LinuxCpuBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder, LinuxSeccomp, LinuxSeccompAction,
    LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscall,
    LinuxSyscallBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Docker's 14 default capabilities, in the order Docker writes them
/// (oci-spec keeps a set; [`to_json`] puts them back in this order).
pub const DOCKER_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// The syscalls Docker's default seccomp profile allows outright on
/// x86_64 (everything else fails with `EPERM`, except the few rules with
/// conditions in [`docker_seccomp`]).
#[rustfmt::skip]
const SECCOMP_ALLOWED: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
    "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
    "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
    "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64",
    "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd",
    "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
    "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
    "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32",
    "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
    "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
    "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
    "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
    "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
    "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
    "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect",
    "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe",
    "pipe2", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom",
    "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
    "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
    "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity",
    "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
    "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
    "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
    "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
    "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
    "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
    "sigreturn", "socket", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
    "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes",
    "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
];

/// The `personality(2)` values Docker's profile allows: `PER_LINUX`,
/// `PER_LINUX32`, `UNAME26`, `UNAME26 | PER_LINUX32`, and `0xffffffff` (a query).
const PERSONALITY_ALLOWED: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The `clone(2)` flags that make new namespaces (`CLONE_NEWNS | NEWCGROUP |
/// NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET`): without `CAP_SYS_ADMIN`,
/// Docker allows `clone` only when none of them is set.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7e02_0000;

/// `ENOSYS`: what Docker's profile answers `clone3` with, so that libc falls
/// back to `clone`, whose flags the filter can see.
const ENOSYS: u32 = 38;

/// The fixed part of a mount: destination, type, source, options.
pub(crate) fn mount(
    destination: &str,
    typ: &str,
    source: &str,
    options: &[impl AsRef<str>],
) -> Mount {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(
            options
                .iter()
                .map(|o| o.as_ref().to_string())
                .collect::<Vec<_>>(),
        )
        .build()
        .expect("a mount with a destination is valid")
}

/// Docker's default mounts: `/proc`, a tmpfs `/dev` with its pts, mqueue
/// and 64 MiB shm, a read-only `/sys` and cgroup tree.
fn docker_mounts() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &[
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                &format!("size={DEFAULT_SHM_SIZE}"),
            ],
        ),
    ]
}

/// One device cgroup rule: `allow` or deny access `rwm` to a character
/// device (`None`: every device).
fn device(allow: bool, major_minor: Option<(i64, i64)>) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default().allow(allow);
    if let Some((major, minor)) = major_minor {
        b = b.typ(LinuxDeviceType::C).major(major).minor(minor);
    }
    b.access("rwm").build().expect("a device rule is valid")
}

/// Docker's device cgroup: deny every device, then allow the character
/// devices a container's `/dev` holds.
fn docker_devices() -> Vec<LinuxDeviceCgroup> {
    let mut rules = vec![device(false, None)];
    // zero, null, urandom, random, tty, console: read, write, mknod.
    for mm in [(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)] {
        rules.push(device(true, Some(mm)));
    }
    // 10:229 is /dev/fuse: denied again, explicitly.
    rules.push(device(false, Some((10, 229))));
    rules
}

/// The starting resources: the device rules, and the zero values Docker
/// writes for flags the user did not give.
fn docker_resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .devices(docker_devices())
        .memory(
            LinuxMemoryBuilder::default()
                .disable_oom_killer(false)
                .build()
                .expect("memory limits are valid"),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(0u64)
                .build()
                .expect("cpu is valid"),
        )
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(0u16)
                .build()
                .expect("blkio is valid"),
        )
        .build()
        .expect("resources are valid")
}

/// One seccomp rule: `action` for the syscalls `names`, optionally only
/// when their first argument compares to a value with an operator.
fn syscall(
    names: &[&str],
    action: LinuxSeccompAction,
    arg: Option<(u64, LinuxSeccompOperator)>,
) -> LinuxSyscall {
    let mut b = LinuxSyscallBuilder::default()
        .names(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .action(action);
    if let Some((value, op)) = arg {
        let arg = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(value)
            .op(op)
            .build()
            .expect("a seccomp argument is valid");
        b = b.args(vec![arg]);
    }
    b.build().expect("a seccomp rule is valid")
}

/// Docker's default seccomp profile as it lands in `config.json` for root
/// with the default capabilities on x86_64: refuse with `EPERM` unless a
/// rule allows.
fn docker_seccomp() -> LinuxSeccomp {
    use LinuxSeccompAction::{ScmpActAllow as Allow, ScmpActErrno as Errno};
    let mut rules = vec![
        syscall(SECCOMP_ALLOWED, Allow, None),
        // Allowed since kernel 4.8 made it safe (seccomp runs after ptrace).
        syscall(&["ptrace"], Allow, None),
    ];
    for p in PERSONALITY_ALLOWED {
        rules.push(syscall(
            &["personality"],
            Allow,
            Some((p, LinuxSeccompOperator::ScmpCmpEq)),
        ));
    }
    rules.push(syscall(&["arch_prctl"], Allow, None));
    rules.push(syscall(&["modify_ldt"], Allow, None));
    rules.push(syscall(
        &["clone"],
        Allow,
        Some((CLONE_NAMESPACE_FLAGS, LinuxSeccompOperator::ScmpCmpMaskedEq)),
    ));
    let mut clone3 = syscall(&["clone3"], Errno, None);
    clone3.set_errno_ret(Some(ENOSYS));
    rules.push(clone3);
    // CAP_SYS_CHROOT is a default capability, so chroot is allowed.
    rules.push(syscall(&["chroot"], Allow, None));
    LinuxSeccompBuilder::default()
        .default_action(Errno)
        .architectures(vec![
            Arch::ScmpArchX86_64,
            Arch::ScmpArchX86,
            Arch::ScmpArchX32,
        ])
        .syscalls(rules)
        .build()
        .expect("the seccomp profile is valid")
}

/// The namespaces every container gets: mount, network, uts, pid, ipc
/// (no user namespace; the cgroup namespace stays the host's, as in the
/// captured spec).
fn docker_namespaces() -> Vec<LinuxNamespace> {
    use LinuxNamespaceType::*;
    [Mount, Network, Uts, Pid, Ipc]
        .into_iter()
        .map(|typ| {
            LinuxNamespaceBuilder::default()
                .typ(typ)
                .build()
                .expect("a namespace is valid")
        })
        .collect()
}

/// Docker 20.10's default spec, as a real `docker run` writes it (with
/// `sh` as the command and placeholders for the hostname and cgroup path,
/// which [`build`] replaces).
pub fn default_spec() -> Spec {
    let caps: oci_spec::runtime::Capabilities = DOCKER_CAPABILITIES.into_iter().collect();
    let mut capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()
        .expect("capabilities are valid");
    // oci-spec's defaults for these are three capabilities; Docker leaves
    // both unset (empty).
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);
    let mut process = ProcessBuilder::default()
        .user(
            UserBuilder::default()
                .uid(0u32)
                .gid(0u32)
                .additional_gids(vec![0u32])
                .build()
                .expect("a user is valid"),
        )
        .args(vec!["sh".to_string()])
        .env(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ])
        .cwd("/")
        .capabilities(capabilities)
        .oom_score_adj(0)
        .build()
        .expect("the process is valid");
    // oci-spec's own defaults that Docker does not write.
    process.set_terminal(None);
    process.set_no_new_privileges(None);
    process.set_rlimits(None);
    let mut sysctl = HashMap::new();
    // Ports below 1024 and ping need no capability inside the container's
    // own network namespace.
    sysctl.insert(
        "net.ipv4.ip_unprivileged_port_start".to_string(),
        "0".to_string(),
    );
    sysctl.insert(
        "net.ipv4.ping_group_range".to_string(),
        "0 2147483647".to_string(),
    );
    let masked = [
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
    ];
    let readonly = [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ];
    let linux = LinuxBuilder::default()
        .sysctl(sysctl)
        .resources(docker_resources())
        .cgroups_path("/mini-runc-test/PLACEHOLDER")
        .namespaces(docker_namespaces())
        .seccomp(docker_seccomp())
        .masked_paths(masked.map(String::from).to_vec())
        .readonly_paths(readonly.map(String::from).to_vec())
        .build()
        .expect("the linux section is valid");
    let mut spec = SpecBuilder::default()
        .version("1.0.2-dev")
        .process(process)
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(false)
                .build()
                .expect("a root is valid"),
        )
        .hostname("PLACEHOLDER")
        .mounts(docker_mounts())
        .linux(linux)
        .build()
        .expect("the default spec is valid");
    spec.set_annotations(None);
    spec
}

/// [`default_spec`] as JSON, for the readers that show it (inspect's
/// masked and read-only paths) and for tests.
pub fn default_json() -> Value {
    to_json(&default_spec())
}

/// Serializes a spec as `config.json` holds it, with the capabilities in
/// Docker's order (oci-spec keeps them in a set, whose order changes from
/// run to run).
pub fn to_json(spec: &Spec) -> Value {
    let mut v = serde_json::to_value(spec).expect("a spec serializes");
    // The names as `config.json` spells them (`CAP_CHOWN`).
    let order: Vec<Value> = DOCKER_CAPABILITIES
        .iter()
        .map(|c| serde_json::to_value(c).expect("a capability serializes"))
        .collect();
    let rank = |c: &Value| order.iter().position(|d| d == c).unwrap_or(order.len());
    if let Some(sets) = v["process"]["capabilities"].as_object_mut() {
        for set in sets.values_mut().filter_map(Value::as_array_mut) {
            set.sort_by(|a, b| (rank(a), a.as_str()).cmp(&(rank(b), b.as_str())));
        }
    }
    v
}

/// What the spec needs from the engine.
#[derive(Debug, Clone, Default)]
pub struct SpecInput {
    /// The container id (the cgroup path is `/mini-docker/<id>`).
    pub id: String,
    /// argv.
    pub args: Vec<String>,
    /// `K=V`.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// uid, gid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Hostname.
    pub hostname: String,
    /// `host`, `none`, `bridge` …
    pub network_mode: String,
    /// The network namespace to join (bridge mode).
    pub netns: Option<String>,
    /// Memory limit in bytes (0: none).
    pub memory: i64,
    /// CPUs in billionths (`--cpus 1.5` = 1_500_000_000).
    pub nano_cpus: i64,
    /// `--pids-limit` (0: none).
    pub pids_limit: i64,
    /// Bind mounts of files the engine writes (`/etc/hosts`, …): (host, container).
    pub binds: Vec<(String, String)>,
    /// `-t`: the process gets a terminal (the shim receives its pty master
    /// through the runtime's console socket).
    pub tty: bool,
    /// Memory plus swap in bytes (-1: unlimited; `None`: not limited), from
    /// [`super::resources::memory_swap`].
    pub memory_swap: Option<i64>,
    /// `--cpu-shares` (0: the default).
    pub cpu_shares: i64,
    /// `--cpu-quota` in µs (0: none).
    pub cpu_quota: i64,
    /// `--cpu-period` in µs (0: the kernel's 100 ms).
    pub cpu_period: i64,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: String,
    /// `--cpuset-mems`.
    pub cpuset_mems: String,
    /// `--cgroup-parent` ("": `/mini-docker`).
    pub cgroup_parent: String,
    /// `--shm-size` in bytes (0: Docker's 64 MiB).
    pub shm_size: i64,
    /// `--sysctl`, checked at create ([`super::resources::check_sysctls`]).
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: i64,
    /// `--domainname`.
    pub domainname: String,
}

/// The cgroup path of a container, relative to each hierarchy.
pub fn cgroups_path(id: &str) -> String {
    format!("/mini-docker/{id}")
}

/// The cgroup path of a container under `--cgroup-parent` (as Docker's
/// cgroupfs driver: `<parent>/<id>`), or under `/mini-docker` without one.
pub fn cgroups_path_under(parent: &str, id: &str) -> String {
    let parent = parent.trim_matches('/');
    if parent.is_empty() {
        cgroups_path(id)
    } else {
        format!("/{parent}/{id}")
    }
}

/// Docker's `/dev/shm` without `--shm-size`: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// The process's environment as Docker makes it: `PATH`, `HOSTNAME` (the
/// container's hostname) and, with a terminal, `TERM=xterm` (so `vi` and
/// `top` work), each replaced in place by the container's own `Env` of
/// the same name, which is then appended. (`HOME` is the runtime's: runc
/// sets it from the user's passwd entry when the environment has none.)
fn container_env(input: &SpecInput) -> Vec<String> {
    let mut env = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        format!("HOSTNAME={}", input.hostname),
    ];
    if input.tty {
        env.push("TERM=xterm".into());
    }
    for kv in &input.env {
        let name = kv.split('=').next().unwrap_or_default();
        match env.iter_mut().find(|e| e.split('=').next() == Some(name)) {
            Some(e) => e.clone_from(kv),
            None => env.push(kv.clone()),
        }
    }
    env
}

/// [`build_spec`] as `config.json` holds it (for tests and readers).
pub fn build(input: &SpecInput) -> Value {
    to_json(&build_spec(input))
}

/// Builds the spec: [`default_spec`] with the container's process,
/// hostname, cgroup, limits and namespaces; the other modules go on
/// editing it typed.
pub fn build_spec(input: &SpecInput) -> Spec {
    let mut spec = default_spec();
    let mut process = spec
        .process()
        .clone()
        .expect("the default spec has a process");
    process.set_args(Some(input.args.clone()));
    process.set_env(Some(container_env(input)));
    process.set_cwd(input.cwd.clone().into());
    process.set_terminal(Some(input.tty));
    let user = process.user_mut();
    user.set_uid(input.uid);
    user.set_gid(input.gid);
    user.set_additional_gids(Some(vec![input.gid]));
    if input.oom_score_adj != 0 {
        // Create refused anything outside ±1000 (`resources`), so the
        // clamp never changes a value.
        process.set_oom_score_adj(Some(input.oom_score_adj.clamp(-1000, 1000) as i32));
    }
    spec.set_process(Some(process));
    spec.set_hostname(Some(input.hostname.clone()));
    if !input.domainname.is_empty() {
        spec.set_domainname(Some(input.domainname.clone()));
    }

    let mut linux = spec
        .linux()
        .clone()
        .expect("the default spec has a linux section");
    linux.set_cgroups_path(Some(
        cgroups_path_under(&input.cgroup_parent, &input.id).into(),
    ));
    let mut res = linux.resources().clone().unwrap_or_default();
    resources(input, &mut res);
    linux.set_resources(Some(res));
    let mut sysctl = linux.sysctl().clone().unwrap_or_default();
    sysctl.extend(input.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    match input.network_mode.as_str() {
        "host" => {
            namespaces.retain(|n| n.typ() != LinuxNamespaceType::Network);
            // Network sysctls belong to the host's namespace now: not ours to set.
            sysctl.retain(|k, _| !k.starts_with("net."));
        }
        _ => {
            if let Some(path) = &input.netns {
                for n in namespaces.iter_mut() {
                    if n.typ() == LinuxNamespaceType::Network {
                        n.set_path(Some(path.into()));
                    }
                }
            }
        }
    }
    linux.set_namespaces(Some(namespaces));
    linux.set_sysctl(Some(sysctl));
    spec.set_linux(Some(linux));

    let mut mounts = spec.mounts().clone().unwrap_or_default();
    if input.shm_size > 0 {
        for m in mounts.iter_mut() {
            if m.destination() == Path::new("/dev/shm") {
                let mut options = m.options().clone().unwrap_or_default();
                options.retain(|o| !o.starts_with("size="));
                options.push(format!("size={}", input.shm_size));
                m.set_options(Some(options));
            }
        }
    }
    for (src, dst) in &input.binds {
        mounts.push(
            MountBuilder::default()
                .destination(dst)
                .typ("bind")
                .source(src)
                .options(vec!["rbind".to_string(), "rprivate".to_string()])
                .build()
                .expect("a bind mount with a destination is valid"),
        );
    }
    spec.set_mounts(Some(mounts));
    spec
}

/// `linux.resources`: what the runtime writes into the cgroup (the table
/// in [`super::resources`]).
fn resources(input: &SpecInput, res: &mut LinuxResources) {
    if input.memory > 0 {
        let mut memory = res.memory().unwrap_or_default();
        memory.set_limit(Some(input.memory));
        if let Some(swap) = input.memory_swap {
            memory.set_swap(Some(swap));
        }
        res.set_memory(Some(memory));
    }
    let mut cpu: LinuxCpu = res.cpu().clone().unwrap_or_default();
    if input.nano_cpus > 0 {
        let period: i64 = 100_000;
        cpu.set_period(Some(period as u64));
        cpu.set_quota(Some(input.nano_cpus * period / 1_000_000_000));
    }
    if input.cpu_quota > 0 {
        // Without `--cpu-period`, the kernel's 100 ms. (A period without a
        // quota limits nothing; create refuses it rather than ignore it.)
        let period = if input.cpu_period > 0 {
            input.cpu_period
        } else {
            100_000
        };
        cpu.set_period(Some(period.unsigned_abs()));
        cpu.set_quota(Some(input.cpu_quota));
    }
    if input.cpu_shares > 0 {
        cpu.set_shares(Some(input.cpu_shares.unsigned_abs()));
    }
    if !input.cpuset_cpus.is_empty() {
        cpu.set_cpus(Some(input.cpuset_cpus.clone()));
    }
    if !input.cpuset_mems.is_empty() {
        cpu.set_mems(Some(input.cpuset_mems.clone()));
    }
    res.set_cpu(Some(cpu));
    if input.pids_limit > 0 {
        res.set_pids(Some(
            LinuxPidsBuilder::default()
                .limit(input.pids_limit)
                .build()
                .expect("a pids limit is valid"),
        ));
    }
}

/// Writes the bundle's `config.json`: atomically for its readers, without
/// an fsync. Every `start` writes it anew and the runtime reads it at once;
/// after a crash nothing reads the old one before the next `start` writes
/// it again (a power cut has ended the container it described).
pub fn write(bundle: &Path, spec: &Value) -> std::io::Result<()> {
    mini_docker_api::atomic::write_atomic(
        &bundle.join("config.json"),
        &serde_json::to_vec_pretty(spec).unwrap_or_default(),
        mini_docker_api::atomic::Durability::Rename,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The spec a real Docker 20.10 wrote for `docker run busybox sh`
    /// (test data only: the daemon builds its own, [`default_spec`]).
    const DOCKER_FIXTURE: &str =
        include_str!("../../tests/fixtures/docker-20.10-default-config.json");

    /// Every path where `got` and `want` differ, as `a.b[2].c: got … want …`.
    fn differences(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
        match (got, want) {
            (Value::Object(g), Value::Object(w)) => {
                let keys: std::collections::BTreeSet<&String> = g.keys().chain(w.keys()).collect();
                for k in keys {
                    let (g, w) = (g.get(k), w.get(k));
                    let p = format!("{path}.{k}");
                    match (g, w) {
                        (Some(g), Some(w)) => differences(&p, g, w, out),
                        _ => out.push(format!("{p}: built {g:?}, Docker {w:?}")),
                    }
                }
            }
            (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
                for (i, (g, w)) in g.iter().zip(w).enumerate() {
                    differences(&format!("{path}[{i}]"), g, w, out);
                }
            }
            _ if got != want => out.push(format!("{path}: built {got}, Docker {want}")),
            _ => {}
        }
    }

    #[test]
    fn default_spec_is_dockers_key_by_key() {
        let want: Value = serde_json::from_str(DOCKER_FIXTURE).unwrap();
        let mut diffs = Vec::new();
        differences("", &default_json(), &want, &mut diffs);
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
        // And the runtime reads it back to the same spec.
        let parsed: Spec = serde_json::from_str(DOCKER_FIXTURE).unwrap();
        assert_eq!(parsed, default_spec());
    }

    fn input(mode: &str) -> SpecInput {
        SpecInput {
            id: "abc".into(),
            args: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            hostname: "abc".into(),
            network_mode: mode.into(),
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            pids_limit: 20,
            ..Default::default()
        }
    }

    #[test]
    fn default_profile_with_flags() {
        let c = build(&input("none"));
        assert_eq!(
            c["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(c["linux"]["cgroupsPath"], "/mini-docker/abc");
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(c["linux"]["resources"]["cpu"]["quota"], 150_000);
        assert_eq!(c["linux"]["resources"]["pids"]["limit"], 20);
        assert!(c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"));
        assert!(c["linux"]["seccomp"].is_object());
    }

    #[test]
    fn flags_edit_the_typed_spec() {
        let mut i = input("none");
        i.tty = true;
        i.uid = 1000;
        i.gid = 100;
        i.shm_size = 1 << 20;
        i.oom_score_adj = -500;
        i.domainname = "example.org".into();
        i.sysctls.insert("kernel.msgmax".into(), "4096".into());
        i.binds.push(("/var/md/hosts".into(), "/etc/hosts".into()));
        let c = build(&i);
        assert_eq!(c["process"]["terminal"], true);
        assert_eq!(
            c["process"]["env"],
            json!(["PATH=/bin", "HOSTNAME=abc", "TERM=xterm"])
        );
        assert_eq!(
            c["process"]["user"],
            json!({"uid": 1000, "gid": 100, "additionalGids": [100]})
        );
        assert_eq!(c["process"]["oomScoreAdj"], -500);
        assert_eq!(c["domainname"], "example.org");
        assert_eq!(c["linux"]["sysctl"]["kernel.msgmax"], "4096");
        assert_eq!(
            c["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"],
            "0"
        );
        let shm = c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert_eq!(
            shm["options"],
            json!(["nosuid", "noexec", "nodev", "mode=1777", "size=1048576"])
        );
        assert_eq!(
            c["mounts"].as_array().unwrap().last().unwrap(),
            &json!({"destination": "/etc/hosts", "type": "bind",
                    "source": "/var/md/hosts", "options": ["rbind", "rprivate"]})
        );
        // The capabilities keep Docker's order, run after run.
        assert_eq!(c["process"]["capabilities"]["bounding"][0], "CAP_CHOWN");
        assert_eq!(
            c["process"]["capabilities"]["bounding"][13],
            "CAP_AUDIT_WRITE"
        );
    }

    #[test]
    fn host_network_drops_the_namespace_and_net_sysctls() {
        let c = build(&input("host"));
        assert!(!c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"));
        assert!(c["linux"]["sysctl"]
            .as_object()
            .map(|s| s.keys().all(|k| !k.starts_with("net.")))
            .unwrap_or(true));
    }

    #[test]
    fn bridge_joins_a_netns_by_path() {
        let mut i = input("bridge");
        i.netns = Some("/run/md/netns/x".into());
        let c = build(&i);
        let ns = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == "network")
            .unwrap()
            .clone();
        assert_eq!(ns["path"], "/run/md/netns/x");
    }
}
