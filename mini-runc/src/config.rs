//! From `config.json` to what the runtime acts on.
//!
//! The bundle's `config.json` is parsed with the `oci-spec` crate, checked, and
//! turned into a [`Config`]: plain data holding only what mini-runc uses, with
//! relative paths made absolute and dangerous values refused before any
//! process exists. The container's init receives this struct, not the spec.

use namespaces::{IdMapEntry, Namespace};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process, Spec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// A mount from the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// Where, inside the container.
    pub destination: PathBuf,
    /// Filesystem type (`bind` for bind mounts).
    pub fstype: String,
    /// Source (a host path for binds).
    pub source: String,
    /// Options (`ro`, `nosuid`, `rbind`, `mode=755`, …).
    pub options: Vec<String>,
}

/// A device node to create in the container's `/dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSpec {
    /// Path inside the container.
    pub path: PathBuf,
    /// `c`, `b`, `u` or `p`.
    pub kind: char,
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The process to run: the container's own, or one given to `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfig {
    /// argv.
    pub args: Vec<String>,
    /// Environment, `KEY=value`.
    pub env: Vec<String>,
    /// Working directory (absolute, inside the container).
    pub cwd: PathBuf,
    /// Whether it gets a terminal.
    pub terminal: bool,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// umask.
    pub umask: Option<u32>,
    /// Capability sets by name (`CAP_CHOWN`): bounding, effective, inheritable, permitted, ambient.
    pub caps: CapSets,
    /// rlimits: (name, soft, hard).
    pub rlimits: Vec<(String, u64, u64)>,
    /// `no_new_privs`.
    pub no_new_privileges: bool,
    /// `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// The seccomp profile (from the spec's `linux.seccomp`).
    pub seccomp: Option<LinuxSeccomp>,
}

/// The five capability sets, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapSets {
    /// Bounding set.
    pub bounding: Vec<String>,
    /// Effective set.
    pub effective: Vec<String>,
    /// Inheritable set.
    pub inheritable: Vec<String>,
    /// Permitted set.
    pub permitted: Vec<String>,
    /// Ambient set.
    pub ambient: Vec<String>,
}

/// Hook programs by stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSets {
    /// Deprecated stage Docker still uses: after namespaces exist, before pivot_root.
    pub prestart: Vec<oci_spec::runtime::Hook>,
    /// Same moment as prestart, in the runtime's namespaces.
    pub create_runtime: Vec<oci_spec::runtime::Hook>,
    /// Same moment, in the container's namespaces.
    pub create_container: Vec<oci_spec::runtime::Hook>,
    /// After `start`, before the user's program, in the container.
    pub start_container: Vec<oci_spec::runtime::Hook>,
    /// After the user's program started.
    pub poststart: Vec<oci_spec::runtime::Hook>,
    /// After the container was deleted.
    pub poststop: Vec<oci_spec::runtime::Hook>,
}

/// Everything mini-runc needs to make a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Container id.
    pub id: String,
    /// OCI version of the spec.
    pub oci_version: String,
    /// Bundle directory (absolute).
    pub bundle: PathBuf,
    /// Root filesystem (absolute).
    pub rootfs: PathBuf,
    /// Remount the root read-only at the end.
    pub root_readonly: bool,
    /// Hostname.
    pub hostname: Option<String>,
    /// Domain name.
    pub domainname: Option<String>,
    /// Namespaces: new (`None`) or joined by path.
    pub namespaces: Vec<(Namespace, Option<PathBuf>)>,
    /// uid map of a new user namespace.
    pub uid_mappings: Vec<IdMapEntry>,
    /// gid map.
    pub gid_mappings: Vec<IdMapEntry>,
    /// Mounts, in order.
    pub mounts: Vec<MountSpec>,
    /// Devices.
    pub devices: Vec<DeviceSpec>,
    /// Paths made unreadable.
    pub masked_paths: Vec<String>,
    /// Paths made read-only.
    pub readonly_paths: Vec<String>,
    /// Propagation of `/` (`rprivate`, `rslave`, …); default `rslave` like runc.
    pub rootfs_propagation: Option<String>,
    /// Sysctls.
    pub sysctl: BTreeMap<String, String>,
    /// Cgroup path (relative to each hierarchy's root).
    pub cgroups_path: Option<PathBuf>,
    /// Resources, converted for chapter 02.
    pub resources: Option<ResourceConfig>,
    /// The process.
    pub process: ProcessConfig,
    /// Hooks.
    pub hooks: HookSets,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The cgroup limits mini-runc applies, from `linux.resources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceConfig {
    /// memory.limit in bytes.
    pub memory_limit: Option<i64>,
    /// memory+swap in bytes (-1 unlimited).
    pub memory_swap: Option<i64>,
    /// CPU quota in µs per period.
    pub cpu_quota: Option<i64>,
    /// CPU period in µs.
    pub cpu_period: Option<u64>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
    /// cpuset cpus.
    pub cpuset_cpus: Option<String>,
    /// cpuset mems.
    pub cpuset_mems: Option<String>,
    /// pids.max (0 or negative: unlimited).
    pub pids_limit: Option<i64>,
    /// Device cgroup rules, in order.
    pub devices: Vec<super::devices::DeviceRule>,
    /// `memory.reservation` in bytes.
    pub memory_reservation: Option<i64>,
    /// `memory.swappiness`, 0..=100.
    pub memory_swappiness: Option<u64>,
    /// `memory.disableOOMKiller`.
    pub oom_kill_disable: bool,
    /// `memory.kernel` in bytes.
    pub kernel_memory: Option<i64>,
    /// `memory.kernelTCP` in bytes.
    pub kernel_tcp: Option<i64>,
    /// `cpu.realtimeRuntime` in µs.
    pub cpu_rt_runtime: Option<i64>,
    /// `cpu.realtimePeriod` in µs.
    pub cpu_rt_period: Option<u64>,
    /// `cpu.idle`.
    pub cpu_idle: Option<i64>,
    /// `blockIO.weight`.
    pub blkio_weight: Option<u16>,
    /// `blockIO.leafWeight`.
    pub blkio_leaf_weight: Option<u16>,
    /// `blockIO.weightDevice`: (major, minor, weight, leaf weight).
    pub blkio_weight_devices: Vec<(i64, i64, Option<u16>, Option<u16>)>,
    /// `blockIO.throttle{Read,Write}{Bps,IOPS}Device`: (file kind, major, minor, rate),
    /// the kind being `read_bps`, `write_bps`, `read_iops` or `write_iops`.
    pub blkio_throttle: Vec<(String, i64, i64, u64)>,
    /// `hugepageLimits`: (page size, bytes).
    pub hugepage_limits: Vec<(String, u64)>,
    /// `network.classID`.
    pub net_class_id: Option<u32>,
    /// `network.priorities`: (interface, priority).
    pub net_priorities: Vec<(String, u32)>,
    /// `rdma`: (device, hca handles, hca objects).
    pub rdma: Vec<(String, Option<u32>, Option<u32>)>,
    /// `unified`: cgroup v2 file to value.
    pub unified: BTreeMap<String, String>,
}

/// Converts `linux.resources`, refusing what the cgroup driver cannot apply
/// (each field left is applied by chapter 02, or refused there with the
/// field's name and the missing file).
fn resource_config(r: &oci_spec::runtime::LinuxResources) -> Result<ResourceConfig, ConfigError> {
    let mem = r.memory().unwrap_or_default();
    let cpu = r.cpu().clone().unwrap_or_default();
    let io = r.block_io().clone().unwrap_or_default();
    let net = r.network().clone().unwrap_or_default();
    if cpu.burst().is_some() {
        return bad("linux.resources.cpu.burst is not supported by mini-runc: remove it");
    }
    if mem.check_before_update() == Some(true) {
        return bad(
            "linux.resources.memory.checkBeforeUpdate is not supported by mini-runc: remove it",
        );
    }
    if mem.use_hierarchy() == Some(false) {
        // Every kernel since 5.16 (and cgroup v2) is always hierarchical.
        return bad("linux.resources.memory.useHierarchy false is not supported: remove it");
    }
    if cpu.period().is_some() && cpu.quota().is_none() {
        return bad("linux.resources.cpu.period needs cpu.quota: give both, or neither");
    }
    let mut throttle = Vec::new();
    for (kind, list) in [
        ("read_bps", io.throttle_read_bps_device()),
        ("write_bps", io.throttle_write_bps_device()),
        ("read_iops", io.throttle_read_iops_device()),
        ("write_iops", io.throttle_write_iops_device()),
    ] {
        for d in list.clone().unwrap_or_default() {
            throttle.push((kind.to_string(), d.major(), d.minor(), d.rate()));
        }
    }
    let mut hugepage_limits = Vec::new();
    for h in r.hugepage_limits().clone().unwrap_or_default() {
        let limit = u64::try_from(h.limit()).map_err(|_| {
            ConfigError::Refused(format!(
                "linux.resources.hugepageLimits: limit {} of {} must not be negative",
                h.limit(),
                h.page_size()
            ))
        })?;
        hugepage_limits.push((h.page_size().clone(), limit));
    }
    let mut rdma: Vec<_> = r
        .rdma()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(dev, l)| (dev, l.hca_handles(), l.hca_objects()))
        .collect();
    rdma.sort();
    Ok(ResourceConfig {
        memory_limit: mem.limit(),
        memory_swap: mem.swap(),
        cpu_quota: cpu.quota(),
        cpu_period: cpu.period(),
        cpu_shares: cpu.shares(),
        cpuset_cpus: cpu.cpus().clone(),
        cpuset_mems: cpu.mems().clone(),
        pids_limit: r.pids().as_ref().map(|p| p.limit()),
        devices: r
            .devices()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|d| super::devices::DeviceRule {
                allow: d.allow(),
                kind: match d.typ() {
                    Some(oci_spec::runtime::LinuxDeviceType::C) => 'c',
                    Some(oci_spec::runtime::LinuxDeviceType::B) => 'b',
                    _ => 'a',
                },
                major: d.major(),
                minor: d.minor(),
                access: d.access().clone().unwrap_or_else(|| "rwm".into()),
            })
            .collect(),
        memory_reservation: mem.reservation(),
        memory_swappiness: mem.swappiness(),
        oom_kill_disable: mem.disable_oom_killer().unwrap_or(false),
        kernel_memory: mem.kernel(),
        kernel_tcp: mem.kernel_tcp(),
        cpu_rt_runtime: cpu.realtime_runtime(),
        cpu_rt_period: cpu.realtime_period(),
        cpu_idle: cpu.idle(),
        blkio_weight: io.weight(),
        blkio_leaf_weight: io.leaf_weight(),
        blkio_weight_devices: io
            .weight_device()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|d| (d.major(), d.minor(), d.weight(), d.leaf_weight()))
            .collect(),
        blkio_throttle: throttle,
        hugepage_limits,
        net_class_id: net.class_id(),
        net_priorities: net
            .priorities()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|p| (p.name().clone(), p.priority()))
            .collect(),
        rdma,
        unified: r
            .unified()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    })
}

/// A spec that cannot be run: which step of reading it failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The bundle directory cannot be resolved.
    #[error("bundle {}", path.display())]
    Bundle {
        /// The bundle as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` cannot be read.
    #[error("read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not an OCI runtime spec.
    #[error("{} is not a valid OCI runtime spec", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        #[source]
        source: serde_json::Error,
    },
    /// `root.path` cannot be resolved.
    #[error("root {}", path.display())]
    Root {
        /// The root as the spec resolves it.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The spec asks for something this runtime refuses; the message says
    /// which field and what to do.
    #[error("{0}")]
    Refused(String),
}

fn bad<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::Refused(msg.into()))
}

fn ns_of(t: LinuxNamespaceType) -> Option<Namespace> {
    Some(match t {
        LinuxNamespaceType::User => Namespace::User,
        LinuxNamespaceType::Uts => Namespace::Uts,
        LinuxNamespaceType::Ipc => Namespace::Ipc,
        LinuxNamespaceType::Mount => Namespace::Mnt,
        LinuxNamespaceType::Network => Namespace::Net,
        LinuxNamespaceType::Cgroup => Namespace::Cgroup,
        LinuxNamespaceType::Pid => Namespace::Pid,
        LinuxNamespaceType::Time => return None,
    })
}

/// True for an absolute path without `..`.
pub fn clean_absolute(p: &Path) -> bool {
    p.is_absolute() && !p.components().any(|c| matches!(c, Component::ParentDir))
}

/// Reads and checks `<bundle>/config.json`.
pub fn load(bundle: &Path, id: &str) -> Result<Config, ConfigError> {
    let bundle = std::fs::canonicalize(bundle).map_err(|source| ConfigError::Bundle {
        path: bundle.to_path_buf(),
        source,
    })?;
    let path = bundle.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let spec: Spec = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(source) => return Err(ConfigError::Parse { path, source }),
    };
    from_spec(&spec, &bundle, id)
}

/// Converts a parsed spec.
pub fn from_spec(spec: &Spec, bundle: &Path, id: &str) -> Result<Config, ConfigError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| ConfigError::Refused("the spec has no root".into()))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let rootfs = match std::fs::canonicalize(&rootfs) {
        Ok(r) => r,
        Err(source) => {
            return Err(ConfigError::Root {
                path: rootfs,
                source,
            })
        }
    };
    if !rootfs.is_dir() {
        return bad(format!("root {} is not a directory", rootfs.display()));
    }
    let linux = spec.linux().clone().unwrap_or_default();
    let mut namespaces = Vec::new();
    for ns in linux.namespaces().clone().unwrap_or_default() {
        let Some(kind) = ns_of(ns.typ()) else {
            return bad("the time namespace is not supported by mini-runc");
        };
        if namespaces.iter().any(|(k, _)| *k == kind) {
            return bad(format!("namespace {kind} is listed twice"));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return bad(format!("namespace path {} must be absolute", p.display()));
            }
        }
        namespaces.push((kind, ns.path().clone()));
    }
    let has_new = |k: Namespace| namespaces.iter().any(|(n, p)| *n == k && p.is_none());
    let has = |k: Namespace| namespaces.iter().any(|(n, _)| *n == k);
    let map = |v: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<IdMapEntry> {
        v.clone()
            .unwrap_or_default()
            .iter()
            .map(|m| IdMapEntry {
                inside: m.container_id(),
                outside: m.host_id(),
                count: m.size(),
            })
            .collect()
    };
    let uid_mappings = map(linux.uid_mappings());
    let gid_mappings = map(linux.gid_mappings());
    if has_new(Namespace::User) && (uid_mappings.is_empty() || gid_mappings.is_empty()) {
        return bad("a new user namespace needs linux.uidMappings and linux.gidMappings");
    }
    check_oci_version(spec.version())?;

    let mut mounts = Vec::new();
    for m in spec.mounts().clone().unwrap_or_default() {
        if !clean_absolute(m.destination()) {
            return bad(format!(
                "mount destination {:?} must be an absolute path without `..`",
                m.destination()
            ));
        }
        let options = m.options().clone().unwrap_or_default();
        let mut fstype = m.typ().clone().unwrap_or_default();
        if options.iter().any(|o| o == "bind" || o == "rbind") {
            fstype = "bind".into();
        }
        if fstype.is_empty() {
            return bad(format!("mount {} has no type", m.destination().display()));
        }
        mounts.push(MountSpec {
            destination: m.destination().clone(),
            fstype,
            source: m
                .source()
                .as_ref()
                .map(|s| {
                    if s.is_absolute() || m.typ().as_deref() != Some("bind") {
                        s.to_string_lossy().into_owned()
                    } else {
                        bundle.join(s).to_string_lossy().into_owned()
                    }
                })
                .unwrap_or_default(),
            options,
        });
    }

    let mut devices = Vec::new();
    for d in linux.devices().clone().unwrap_or_default() {
        if !clean_absolute(d.path()) || !d.path().starts_with("/dev") {
            return bad(format!(
                "device path {} must be under /dev",
                d.path().display()
            ));
        }
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::C => 'c',
            oci_spec::runtime::LinuxDeviceType::B => 'b',
            oci_spec::runtime::LinuxDeviceType::U => 'u',
            oci_spec::runtime::LinuxDeviceType::P => 'p',
            other => return bad(format!("device type {other:?} is not supported")),
        };
        devices.push(DeviceSpec {
            path: d.path().clone(),
            kind,
            major: d.major(),
            minor: d.minor(),
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }

    // A namespace the container owns: a new one, or one joined by path that is
    // not the runtime's own (the host's), as runc decides for sysctls.
    let owns = |k: Namespace| {
        namespaces.iter().any(|(n, p)| {
            *n == k
                && match p {
                    None => true,
                    Some(path) => {
                        use std::os::unix::fs::MetadataExt;
                        let theirs = std::fs::metadata(path).map(|m| (m.dev(), m.ino()));
                        let ours = std::fs::metadata(format!("/proc/self/ns/{}", k.proc_name()))
                            .map(|m| (m.dev(), m.ino()));
                        matches!((theirs, ours), (Ok(a), Ok(b)) if a != b)
                    }
                }
        })
    };
    // The hostname is set in the container's UTS namespace, new or joined;
    // without one of its own it would be the host's (runc refuses too).
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if value.is_some() && !owns(Namespace::Uts) {
            return bad(format!(
                "setting the {field} needs the container's own UTS namespace (a new one, \
                 or one joined by path that is not the runtime's): add {{\"type\":\"uts\"}} \
                 to linux.namespaces"
            ));
        }
    }
    let mut sysctl = BTreeMap::new();
    for (k, v) in linux.sysctl().clone().unwrap_or_default() {
        check_sysctl(&k, &v, &owns)?;
        sysctl.insert(k, v);
    }

    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| ConfigError::Refused("the spec has no process".into()))?;
    let mut process = process_config(process)?;
    process.seccomp = linux.seccomp().clone();

    let hooks = spec.hooks().clone().unwrap_or_default();
    let resources = match linux.resources() {
        Some(r) => Some(resource_config(r)?),
        None => None,
    };
    if let Some(mode) = linux.rootfs_propagation() {
        if super::mounts::propagation_flag(mode).is_none() {
            return bad(format!(
                "linux.rootfsPropagation {mode:?} is not one of shared, rshared, slave, \
                 rslave, private, rprivate, unbindable, runbindable"
            ));
        }
    }
    if !has(Namespace::Mnt) {
        // The spec: a namespace type left out is the runtime's own. For the
        // mount namespace, the container's mounts (/proc, /dev, masked
        // paths) are then made in the host's, under the rootfs, and it is
        // entered with chroot; `delete` unmounts them again. What would
        // change the host itself is refused.
        if root.readonly().unwrap_or(false) {
            return bad(
                "root.readonly needs a mount namespace (it would remount the host's \
                 filesystem holding the rootfs): add {\"type\":\"mount\"} to linux.namespaces",
            );
        }
        if linux.rootfs_propagation().is_some() {
            return bad(
                "linux.rootfsPropagation needs a mount namespace (it would change the \
                 host's mounts): add {\"type\":\"mount\"} to linux.namespaces",
            );
        }
    }
    Ok(Config {
        id: id.to_string(),
        oci_version: spec.version().clone(),
        bundle: bundle.to_path_buf(),
        rootfs,
        root_readonly: root.readonly().unwrap_or(false),
        hostname: spec.hostname().clone(),
        domainname: spec.domainname().clone(),
        namespaces,
        uid_mappings,
        gid_mappings,
        mounts,
        devices,
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        rootfs_propagation: linux.rootfs_propagation().clone(),
        sysctl,
        cgroups_path: linux.cgroups_path().clone(),
        resources,
        process,
        hooks: HookSets {
            prestart: hooks.prestart().clone().unwrap_or_default(),
            create_runtime: hooks.create_runtime().clone().unwrap_or_default(),
            create_container: hooks.create_container().clone().unwrap_or_default(),
            start_container: hooks.start_container().clone().unwrap_or_default(),
            poststart: hooks.poststart().clone().unwrap_or_default(),
            poststop: hooks.poststop().clone().unwrap_or_default(),
        },
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    })
}

/// The spec versions this runtime implements: 1.x.y (with an optional
/// pre-release such as `1.0.2-dev`), as crun checks; anything else is an
/// error rather than a guess about fields that may mean something else.
pub fn check_oci_version(version: &str) -> Result<(), ConfigError> {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if !numeric {
        return bad(format!(
            "ociVersion {version:?} is not a version (MAJOR.MINOR.PATCH, e.g. \"1.0.2\")"
        ));
    }
    if parts[0] != "1" {
        return bad(format!(
            "ociVersion {version} is not supported: mini-runc implements the runtime spec 1.x"
        ));
    }
    Ok(())
}

/// Converts the `process` part of a spec (also the `--process` file of `exec`).
pub fn process_config(p: &Process) -> Result<ProcessConfig, ConfigError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return bad("process.args is empty: give the container a program to run");
    }
    if !p.cwd().is_absolute() {
        return bad(format!("process.cwd {:?} must be absolute", p.cwd()));
    }
    let names = |set: &Option<oci_spec::runtime::Capabilities>| -> Vec<String> {
        let mut v: Vec<String> = set
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|c| format!("CAP_{c}"))
            .collect();
        v.sort();
        v
    };
    let caps = p.capabilities().clone().unwrap_or_default();
    let user = p.user();
    Ok(ProcessConfig {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        terminal: p.terminal().unwrap_or(false),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        caps: CapSets {
            bounding: names(caps.bounding()),
            effective: names(caps.effective()),
            inheritable: names(caps.inheritable()),
            permitted: names(caps.permitted()),
            ambient: names(caps.ambient()),
        },
        rlimits: p
            .rlimits()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|r| (r.typ().to_string(), r.soft(), r.hard()))
            .collect(),
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        seccomp: None,
    })
}

/// Only namespaced sysctls, and only when the container has that namespace
/// to itself: anything else would change the host.
pub fn check_sysctl(
    key: &str,
    value: &str,
    has_new: &dyn Fn(Namespace) -> bool,
) -> Result<(), ConfigError> {
    if key.is_empty()
        || key.contains("..")
        || key.starts_with('.')
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
    {
        return bad(format!("sysctl {key:?} is not a valid name"));
    }
    if value.contains('\n') || value.contains('\0') {
        return bad(format!("sysctl {key} has a value with a newline or NUL"));
    }
    let key = key.replace('/', ".");
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needs = if ipc.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
        Namespace::Ipc
    } else if key.starts_with("net.") {
        Namespace::Net
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        return bad(format!(
            "sysctl {key}: set the hostname with the spec's hostname field"
        ));
    } else {
        return bad(format!(
            "sysctl {key} is not namespaced: it would change the host, so it is refused"
        ));
    };
    if !has_new(needs) {
        return bad(format!(
            "sysctl {key} needs the container's own {needs} namespace"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_all(_: Namespace) -> bool {
        true
    }

    #[test]
    fn sysctls_must_be_namespaced_and_owned() {
        assert!(check_sysctl("net.ipv4.ip_forward", "1", &new_all).is_ok());
        assert!(check_sysctl("kernel.shmmax", "100", &new_all).is_ok());
        assert!(check_sysctl("fs.mqueue.msg_max", "10", &new_all).is_ok());
        assert!(check_sysctl("kernel.panic", "1", &new_all).is_err());
        assert!(check_sysctl("vm.overcommit_memory", "1", &new_all).is_err());
        assert!(check_sysctl("net/../../kernel/panic", "1", &new_all).is_err());
        assert!(check_sysctl("net.ipv4.ip_forward", "1\nkernel.panic=1", &new_all).is_err());
        let no_net = |n: Namespace| n != Namespace::Net;
        let e = check_sysctl("net.ipv4.ip_forward", "1", &no_net).unwrap_err();
        assert!(e.to_string().contains("own NET namespace"), "{e}");
    }

    #[test]
    fn oci_versions_must_be_1_x() {
        for ok in ["1.0.0", "1.0.2-dev", "1.2.0", "1.1.0+dev"] {
            assert!(check_oci_version(ok).is_ok(), "{ok}");
        }
        for bad in ["", "bogus", "1.0", "9.0.0", "0.1.0", "1.x.0"] {
            let e = check_oci_version(bad).unwrap_err();
            assert!(e.to_string().contains("ociVersion"), "{bad}: {e}");
        }
    }

    #[test]
    fn paths_must_be_clean_and_absolute() {
        assert!(clean_absolute(Path::new("/proc")));
        assert!(!clean_absolute(Path::new("proc")));
        assert!(!clean_absolute(Path::new("/../..")));
        assert!(!clean_absolute(Path::new("/a/../../b")));
    }
}
