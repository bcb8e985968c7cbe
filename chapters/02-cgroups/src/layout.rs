//! Finding the cgroup hierarchies of a host: v1, v2 or hybrid.
//!
//! A *hierarchy* is one mounted cgroup filesystem: a tree of directories in
//! which every process sits in exactly one directory. Which controllers act on
//! a tree depends on the version:
//!
//! - **cgroup v1** (`mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory`):
//!   one tree per controller, or per group of co-mounted controllers
//!   (`cpu,cpuacct`). The mount options name the controllers. A process can be
//!   in `/a` in the memory tree and in `/b` in the pids tree.
//! - **cgroup v2** (`mount -t cgroup2 none /sys/fs/cgroup`): one single tree
//!   for every controller. `cgroup.controllers` in the root lists what the
//!   kernel offers, and a parent hands controllers to its children by writing
//!   `+memory` into its `cgroup.subtree_control`.
//! - **hybrid**: v1 trees for the controllers plus a cgroup2 mount (systemd
//!   puts it at `/sys/fs/cgroup/unified`) that has few or no controllers,
//!   because a controller can be attached to only one version at a time. The
//!   v2 tree still tracks processes and offers `cgroup.kill` and
//!   `cgroup.freeze`, which need no controller.
//!
//! Three files describe all of this, and this module only reads them:
//!
//! ```text
//! $ grep cgroup /proc/self/mountinfo      # which trees are mounted where (man 5 proc)
//! 35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
//! 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
//! $ cat /proc/cgroups                     # controllers the kernel has, hierarchy id 0 = v2 or unused
//! $ cat /proc/self/cgroup                 # where this process sits in each tree (man 7 cgroups)
//! 4:memory:/process_api/d1ce08
//! 0::/
//! ```
//!
//! Both /proc and the cgroup root are parameters: unit tests hand in a temp
//! dir with fixture files laid out like each kind of host.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The cgroup version of one hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Legacy cgroup v1: one tree per controller.
    V1,
    /// Unified cgroup v2: one tree for all controllers.
    V2,
}

/// What kind of host this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only cgroup v1 trees.
    Legacy,
    /// Only one cgroup2 tree.
    Unified,
    /// v1 trees for the controllers plus a cgroup2 tree (e.g. `/sys/fs/cgroup/unified`).
    Hybrid,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Legacy => "legacy (cgroup v1 only)",
            Kind::Unified => "unified (cgroup v2 only)",
            Kind::Hybrid => "hybrid (v1 controllers plus a cgroup2 tree)",
        })
    }
}

/// The controllers this library knows by name. Others are kept as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// CPU bandwidth (quota/period) and weight (shares).
    Cpu,
    /// v1 only: CPU usage accounting (`cpuacct.usage`). On v2 `cpu.stat` has it.
    Cpuacct,
    /// Which CPUs and memory nodes the group may use.
    Cpuset,
    /// Memory limit, usage and OOM events.
    Memory,
    /// Number of tasks.
    Pids,
    /// v1 only: freezing (`freezer.state`). On v2 `cgroup.freeze` needs no controller.
    Freezer,
    /// v1 block I/O.
    Blkio,
    /// v2 block I/O.
    Io,
    /// v1 device access lists (v2 uses BPF programs instead).
    Devices,
    /// Huge page limits.
    Hugetlb,
    /// Any other controller (net_cls, perf_event, rdma, misc, ...).
    Other(String),
}

impl Controller {
    /// Parses a controller name as found in mount options, /proc/cgroups or
    /// cgroup.controllers.
    pub fn parse(name: &str) -> Controller {
        match name {
            "cpu" => Controller::Cpu,
            "cpuacct" => Controller::Cpuacct,
            "cpuset" => Controller::Cpuset,
            "memory" => Controller::Memory,
            "pids" => Controller::Pids,
            "freezer" => Controller::Freezer,
            "blkio" => Controller::Blkio,
            "io" => Controller::Io,
            "devices" => Controller::Devices,
            "hugetlb" => Controller::Hugetlb,
            other => Controller::Other(other.to_string()),
        }
    }

    /// The kernel's name of the controller.
    pub fn name(&self) -> &str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
            Controller::Blkio => "blkio",
            Controller::Io => "io",
            Controller::Devices => "devices",
            Controller::Hugetlb => "hugetlb",
            Controller::Other(name) => name,
        }
    }

    /// The controllers a group joins only when a limit needs them
    /// ([`crate::Resources::extra_controllers`]).
    pub fn on_demand() -> Vec<Controller> {
        vec![
            Controller::Blkio,
            Controller::Io,
            Controller::Hugetlb,
            Controller::Other("net_cls".into()),
            Controller::Other("net_prio".into()),
            Controller::Other("rdma".into()),
        ]
    }

    /// The controllers this library creates groups for and manages.
    pub fn managed() -> [Controller; 6] {
        [
            Controller::Cpu,
            Controller::Cpuacct,
            Controller::Cpuset,
            Controller::Memory,
            Controller::Pids,
            Controller::Freezer,
        ]
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One mounted cgroup tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mount_point: PathBuf,
    /// Which directory of the tree is mounted there (field 4 of mountinfo,
    /// usually `/`; inside a cgroup namespace or a bind mount it can differ).
    pub mount_root: PathBuf,
    /// v1: the controllers named in the mount options. v2: the ones listed in
    /// the root's `cgroup.controllers`.
    pub controllers: Vec<Controller>,
    /// v1 named hierarchies without controllers, e.g. `systemd` for `name=systemd`.
    pub name: Option<String>,
    /// Where the calling process sits in this tree (from /proc/self/cgroup),
    /// relative to the tree's root, e.g. `/process_api/d1ce08`.
    pub own_cgroup: PathBuf,
}

impl Hierarchy {
    /// True if this tree carries `controller`.
    pub fn has(&self, controller: &Controller) -> bool {
        self.controllers.contains(controller)
    }

    /// The directory of the calling process's cgroup in this tree, or `None`
    /// if that cgroup is not visible below the mount (mounted from elsewhere).
    pub fn own_dir(&self) -> Option<PathBuf> {
        let rel = self.own_cgroup.strip_prefix(&self.mount_root).ok()?;
        Some(join_relative(&self.mount_point, rel))
    }

    /// A short label: `memory`, `cpu,cpuacct`, `name=systemd` or `cgroup2`.
    pub fn label(&self) -> String {
        match (self.version, &self.name) {
            (Version::V2, _) => "cgroup2".to_string(),
            (Version::V1, Some(name)) if self.controllers.is_empty() => format!("name={name}"),
            (Version::V1, _) => self
                .controllers
                .iter()
                .map(Controller::name)
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// A row of /proc/cgroups: a controller the kernel was built with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelController {
    /// The controller.
    pub controller: Controller,
    /// The v1 hierarchy id it is attached to; 0 means v2 or not mounted.
    pub hierarchy: u32,
    /// Whether it is enabled (`cgroup_disable=` on the kernel command line turns it off).
    pub enabled: bool,
}

/// The cgroup layout of a host: which trees exist and where this process sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Legacy, unified or hybrid.
    pub kind: Kind,
    /// The mounted trees, v1 ones first, in mountinfo order.
    pub hierarchies: Vec<Hierarchy>,
    /// /proc/cgroups, if the kernel has it.
    pub kernel_controllers: Vec<KernelController>,
    /// The cgroup root that was searched (`/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
}

/// The real /proc and cgroup root.
pub const PROC: &str = "/proc";
/// The usual place where cgroup trees are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

impl Layout {
    /// Detects the layout of this host from /proc and /sys/fs/cgroup.
    pub fn detect() -> Result<Layout> {
        Layout::detect_at(Path::new(PROC), Path::new(CGROUP_ROOT))
    }

    /// Detects the layout from `proc` (normally `/proc`), keeping only the
    /// cgroup mounts at or below `cgroup_root` (normally `/sys/fs/cgroup`), so
    /// that a tree also bind-mounted elsewhere, e.g. into a container's rootfs,
    /// is found once.
    pub fn detect_at(proc: &Path, cgroup_root: &Path) -> Result<Layout> {
        let mountinfo_path = proc.join("self/mountinfo");
        let self_cgroup_path = proc.join("self/cgroup");
        let mountinfo = read(&mountinfo_path)?;
        let self_cgroup = read(&self_cgroup_path)?;
        let kernel_controllers = match fs::read_to_string(proc.join("cgroups")) {
            Ok(text) => parse_proc_cgroups(&text),
            Err(_) => Vec::new(),
        };
        let memberships = parse_self_cgroup(&self_cgroup).map_err(|what| Error::Parse {
            path: self_cgroup_path.clone(),
            what,
        })?;

        let mut v1 = Vec::new();
        let mut v2 = Vec::new();
        for mount in parse_mountinfo(&mountinfo) {
            if !mount.mount_point.starts_with(cgroup_root) {
                continue;
            }
            match mount.fstype.as_str() {
                "cgroup" => {
                    let mut controllers = Vec::new();
                    let mut name = None;
                    for opt in mount.super_options.split(',') {
                        if let Some(n) = opt.strip_prefix("name=") {
                            name = Some(n.to_string());
                        } else if is_v1_controller_option(opt) {
                            controllers.push(Controller::parse(opt));
                        }
                    }
                    // Skip a second mount of a tree already found.
                    let dup = v1
                        .iter()
                        .any(|h: &Hierarchy| h.controllers == controllers && h.name == name);
                    if dup {
                        continue;
                    }
                    let own = memberships
                        .iter()
                        .find(|m| m.matches_v1(&controllers, name.as_deref()))
                        .map(|m| m.path.clone())
                        .unwrap_or_else(|| PathBuf::from("/"));
                    v1.push(Hierarchy {
                        version: Version::V1,
                        mount_point: mount.mount_point,
                        mount_root: mount.root,
                        controllers,
                        name,
                        own_cgroup: own,
                    });
                }
                "cgroup2" if v2.is_empty() => {
                    let list = mount.mount_point.join("cgroup.controllers");
                    let controllers = fs::read_to_string(&list)
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(Controller::parse)
                        .collect();
                    let own = memberships
                        .iter()
                        .find(|m| m.hierarchy == 0)
                        .map(|m| m.path.clone())
                        .unwrap_or_else(|| PathBuf::from("/"));
                    v2.push(Hierarchy {
                        version: Version::V2,
                        mount_point: mount.mount_point,
                        mount_root: mount.root,
                        controllers,
                        name: None,
                        own_cgroup: own,
                    });
                }
                _ => {}
            }
        }
        let has_v1_controllers = v1.iter().any(|h| !h.controllers.is_empty());
        let kind = match (has_v1_controllers || !v1.is_empty(), !v2.is_empty()) {
            (true, true) => Kind::Hybrid,
            (true, false) => Kind::Legacy,
            (false, true) => Kind::Unified,
            (false, false) => {
                return Err(Error::NoCgroupMounts {
                    root: cgroup_root.to_path_buf(),
                    mountinfo: mountinfo_path,
                })
            }
        };
        let mut hierarchies = v1;
        hierarchies.extend(v2);
        Ok(Layout {
            kind,
            hierarchies,
            kernel_controllers,
            cgroup_root: cgroup_root.to_path_buf(),
        })
    }

    /// The v2 tree, if one is mounted.
    pub fn v2(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }

    /// The tree that carries `controller`: its v1 tree if it has one,
    /// otherwise the v2 tree if the controller is offered there.
    pub fn hierarchy_for(&self, controller: &Controller) -> Option<&Hierarchy> {
        let v1 = self
            .hierarchies
            .iter()
            .find(|h| h.version == Version::V1 && h.has(controller));
        v1.or_else(|| self.v2().filter(|h| h.has(controller)))
    }

    /// True if some tree carries `controller`.
    pub fn has(&self, controller: &Controller) -> bool {
        self.hierarchy_for(controller).is_some()
    }

    /// A table a learner can compare with `cat /proc/self/cgroup` and `mount -t cgroup,cgroup2`.
    pub fn describe(&self) -> String {
        let mut out = format!("cgroup layout: {}\n", self.kind);
        for h in &self.hierarchies {
            let controllers = if h.version == Version::V2 {
                let names: Vec<_> = h.controllers.iter().map(Controller::name).collect();
                format!(
                    "cgroup2, controllers offered: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(" ")
                    }
                )
            } else {
                format!("v1 {}", h.label())
            };
            out.push_str(&format!(
                "  {:<28} {:<44} this process: {}\n",
                h.mount_point.display(),
                controllers,
                h.own_cgroup.display()
            ));
        }
        out
    }
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Joins a path relative to a cgroup root (`/a/b`) under a directory.
pub(crate) fn join_relative(base: &Path, rel: &Path) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in rel.components() {
        if let Component::Normal(part) = c {
            out.push(part);
        }
    }
    out
}

/// Controller names that may appear in a v1 mount's options. Everything else
/// there is a plain mount option (`rw`, `relatime`, `clone_children`, ...).
fn is_v1_controller_option(opt: &str) -> bool {
    matches!(
        opt,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "net_cls"
            | "blkio"
            | "perf_event"
            | "net_prio"
            | "hugetlb"
            | "pids"
            | "rdma"
            | "misc"
            | "debug"
    )
}

/// One line of /proc/self/mountinfo, the fields we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The directory of the filesystem mounted here (a bind's source).
    pub root: PathBuf,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The filesystem type.
    pub fstype: String,
    /// The filesystem's own options (for cgroup: the controllers).
    pub super_options: String,
}

/// Parses /proc/self/mountinfo (man 5 proc): `id parent maj:min root mountpoint
/// options [optional fields...] - fstype source super-options`.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 5 || right.len() < 3 {
            continue;
        }
        mounts.push(Mount {
            root: PathBuf::from(unescape(left[3])),
            mount_point: PathBuf::from(unescape(left[4])),
            fstype: right[0].to_string(),
            super_options: right[2].to_string(),
        });
    }
    mounts
}

/// mountinfo writes space, tab, newline and backslash as `\040`-style octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            let digits = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(digits, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(value)) => {
                out.push(value);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses /proc/cgroups: `#subsys_name hierarchy num_cgroups enabled`.
pub(crate) fn parse_proc_cgroups(text: &str) -> Vec<KernelController> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 {
                return None;
            }
            Some(KernelController {
                controller: Controller::parse(f[0]),
                hierarchy: f[1].parse().ok()?,
                enabled: f[3] == "1",
            })
        })
        .collect()
}

/// One line of /proc/self/cgroup: `hierarchy-id:controller-list:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub hierarchy: u32,
    pub controllers: BTreeSet<String>,
    pub path: PathBuf,
}

impl Membership {
    fn matches_v1(&self, controllers: &[Controller], name: Option<&str>) -> bool {
        if self.hierarchy == 0 {
            return false;
        }
        let mut want: BTreeSet<String> = controllers.iter().map(|c| c.name().to_string()).collect();
        if let Some(name) = name {
            want.insert(format!("name={name}"));
        }
        want == self.controllers
    }
}

pub(crate) fn parse_self_cgroup(text: &str) -> std::result::Result<Vec<Membership>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(list), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("line {line:?} is not `id:controllers:path`"));
        };
        let hierarchy = id
            .parse()
            .map_err(|_| format!("line {line:?}: hierarchy id {id:?} is not a number"))?;
        out.push(Membership {
            hierarchy,
            controllers: list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            path: PathBuf::from(path),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parses_escaped_mount_points() {
        let text = "41 31 0:38 / /sys/fs/cgroup/un\\040ified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 1);
        assert_eq!(
            mounts[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/un ified")
        );
        assert_eq!(mounts[0].fstype, "cgroup2");
        assert_eq!(mounts[0].super_options, "rw,nsdelegate");
    }

    #[test]
    fn self_cgroup_parses_v1_and_v2_lines() {
        let m = parse_self_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n1:name=systemd:/s\n0::/u\n")
            .unwrap();
        assert_eq!(m.len(), 4);
        assert!(m[1].matches_v1(&[Controller::Cpu, Controller::Cpuacct], None));
        assert!(m[2].matches_v1(&[], Some("systemd")));
        assert_eq!(m[3].hierarchy, 0);
        assert!(parse_self_cgroup("garbage").is_err());
    }

    #[test]
    fn own_dir_strips_the_mount_root() {
        let h = Hierarchy {
            version: Version::V1,
            mount_point: "/sys/fs/cgroup/memory".into(),
            mount_root: "/docker/abc".into(),
            controllers: vec![Controller::Memory],
            name: None,
            own_cgroup: "/docker/abc/inner".into(),
        };
        assert_eq!(
            h.own_dir(),
            Some(PathBuf::from("/sys/fs/cgroup/memory/inner"))
        );
    }
}
