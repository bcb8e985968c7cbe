//! One group, spread over every tree that carries a controller we manage.
//!
//! On a v2 host a group is one directory. On a v1 host it is one directory
//! *per tree*: `/sys/fs/cgroup/memory/NAME`, `/sys/fs/cgroup/pids/NAME`, ...,
//! and a process must be written into each tree's `cgroup.procs`. On a hybrid
//! host it is the v1 directories plus one in the cgroup2 tree, which tracks the
//! processes and gives us `cgroup.kill` (and `cgroup.freeze` when there is no
//! v1 freezer), like systemd does.
//!
//! The life of a group, with the commands a learner could type instead:
//!
//! ```text
//! create   mkdir /sys/fs/cgroup/memory/chapter02-demo-4242-1       (v1: one per tree)
//!          echo +memory +pids > /sys/fs/cgroup/cgroup.subtree_control   (v2: hand controllers down)
//!          echo 0-1 > /sys/fs/cgroup/cpuset/chapter02-demo-4242-1/cpuset.cpus   (v1 cpuset starts empty)
//! set      echo 52428800 > .../memory.limit_in_bytes
//! add      echo 4243 > .../cgroup.procs                            (children inherit the group)
//! read     cat .../memory.oom_control .../pids.current
//! freeze   echo FROZEN > .../freezer.state    |  echo 1 > .../cgroup.freeze
//! delete   echo 1 > .../cgroup.kill (v2) or kill -9 every pid in cgroup.procs, then rmdir
//! ```
//!
//! Where the group goes: under the calling process's own cgroup in each tree
//! (read from /proc/self/cgroup), so a test runner confined to a cgroup keeps
//! its children inside its own limits. On v2 that is impossible when our
//! cgroup already holds processes and does not yet delegate the controllers:
//! the *no-internal-process rule* forbids a group with processes from
//! enabling controllers for its children (`EBUSY`). The plan then falls back
//! to the tree's root, and says so. Read man 7 cgroups and the kernel's
//! Documentation/admin-guide/cgroup-v2.rst ("No Internal Process Constraint").

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::layout::{Controller, Hierarchy, Layout, Version};
use crate::plan::{self, Step, Write};
use crate::resources::{shares_to_weight, Resources, Swap};
use crate::stats::{self, OomEvents, StatDirs, Stats};

/// The prefix of every group this chapter makes, so `find /sys/fs/cgroup -name 'chapter02*'` finds them.
pub const NAME_PREFIX: &str = "chapter02";

/// A readable, unique group name: `chapter02-<purpose>-<pid>-<counter>`.
pub fn unique_name(purpose: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{NAME_PREFIX}-{purpose}-{}-{n}", std::process::id())
}

/// The group's directory in one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupDir {
    /// The tree's version.
    pub version: Version,
    /// The directory, e.g. `/sys/fs/cgroup/memory/process_api/x/chapter02-demo-1-1`.
    pub path: PathBuf,
    /// The managed controllers this directory serves (v2 in a hybrid host: often none).
    pub controllers: Vec<Controller>,
}

impl CgroupDir {
    /// The `cgroup.procs` file of this directory.
    pub fn procs_file(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }
}

/// The plan for one tree: its directory and the steps that make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreePlan {
    /// The directory that the steps create.
    pub dir: CgroupDir,
    /// The steps (notes, subtree_control writes, mkdir, cpuset copies).
    pub steps: Vec<Step>,
}

/// What [`Cgroup::create`] will do on each tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePlan {
    /// The group name.
    pub name: String,
    /// One plan per tree.
    pub trees: Vec<TreePlan>,
}

impl CreatePlan {
    /// All steps in order.
    pub fn steps(&self) -> Vec<Step> {
        self.trees.iter().flat_map(|t| t.steps.clone()).collect()
    }

    /// The group these steps would make, as a value that touches nothing and
    /// is never deleted: use it to plan writes (`plan_set`, `plan_add_pid`,
    /// `plan_freeze`) before anything exists, as `--explain` does.
    pub fn preview(&self) -> Cgroup {
        Cgroup {
            name: self.name.clone(),
            dirs: self.trees.iter().map(|t| t.dir.clone()).collect(),
            armed: false,
            narrate: false,
        }
    }
}

/// Where to create a group in a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    /// Under the calling process's own cgroup.
    Own,
    /// Under the tree's root.
    Root,
}

/// A cgroup: its directories in each tree. Deleted (processes killed, then
/// rmdir) when dropped, unless [`Cgroup::keep`] was called.
#[derive(Debug)]
pub struct Cgroup {
    name: String,
    dirs: Vec<CgroupDir>,
    armed: bool,
    narrate: bool,
}

/// How often rmdir is retried while the kernel finishes tearing down exited tasks.
const RMDIR_TRIES: u32 = 100;
/// Rounds of `kill -9` for processes that keep appearing (a fork bomb).
const KILL_ROUNDS: u32 = 200;
/// Reads of freezer.state / cgroup.events while waiting for a freeze.
const FREEZE_TRIES: u32 = 500;

impl Cgroup {
    /// Computes the steps that create group `name` on every tree of `layout`
    /// that carries a controller we manage, plus the cgroup2 tree if there is one.
    pub fn plan_create(layout: &Layout, name: &str) -> Result<CreatePlan> {
        let mut trees = Vec::new();
        for h in &layout.hierarchies {
            if let Some(tree) = plan_tree(layout, h, name, Parent::Own)? {
                trees.push(tree);
            }
        }
        Ok(CreatePlan {
            name: name.to_string(),
            trees,
        })
    }

    /// Creates group `name` (see [`Cgroup::plan_create`]) silently.
    pub fn create(layout: &Layout, name: &str) -> Result<Cgroup> {
        Cgroup::create_narrated(layout, name, false)
    }

    /// Creates group `name`; with `narrate`, prints each step as a shell
    /// command before doing it, and keeps doing so for later operations.
    ///
    /// If creating below our own cgroup fails in a tree (no permission, or
    /// EBUSY from the no-internal-process rule), that tree is retried below
    /// its root. Whatever was created is removed again if creation fails.
    pub fn create_narrated(layout: &Layout, name: &str, narrate: bool) -> Result<Cgroup> {
        check_name(name)?;
        let mut cgroup = Cgroup {
            name: name.to_string(),
            dirs: Vec::new(),
            armed: true,
            narrate,
        };
        for h in &layout.hierarchies {
            let Some(tree) = plan_tree(layout, h, name, Parent::Own)? else {
                continue;
            };
            let say = |step: &Step| {
                if narrate {
                    println!("    $ {step}");
                }
            };
            match plan::apply(&tree.steps, say) {
                Ok(()) => cgroup.dirs.push(tree.dir),
                Err(first) => {
                    // Undo a half-made directory before trying elsewhere.
                    let _ = fs::remove_dir(&tree.dir.path);
                    let fallback = match plan_tree(layout, h, name, Parent::Root)? {
                        Some(root_tree) if root_tree.dir.path != tree.dir.path => root_tree,
                        _ => return Err(first),
                    };
                    if narrate {
                        println!("    # that failed ({first}); trying below the tree's root");
                    }
                    plan::apply(&fallback.steps, say)?;
                    cgroup.dirs.push(fallback.dir);
                }
            }
        }
        Ok(cgroup)
    }

    /// Opens an existing group made by [`Cgroup::create`] (for example after
    /// a daemon restart): looks for `name` below our own cgroup and below the
    /// root of each tree. The returned guard deletes it when dropped.
    pub fn open(layout: &Layout, name: &str) -> Result<Cgroup> {
        check_name(name)?;
        let mut dirs = Vec::new();
        for h in &layout.hierarchies {
            for parent in [Parent::Own, Parent::Root] {
                if let Some(tree) = plan_tree(layout, h, name, parent)? {
                    if tree.dir.path.is_dir() {
                        dirs.push(tree.dir);
                        break;
                    }
                }
            }
        }
        Ok(Cgroup {
            name: name.to_string(),
            dirs,
            armed: true,
            narrate: false,
        })
    }

    /// Plans group `path` given relative to the root of every tree, as an OCI
    /// runtime's absolute `cgroupsPath` (`/docker/<id>`) is: missing parents
    /// are made too, each level prepared like a new group (cpuset values
    /// copied on v1, controllers enabled for children on v2).
    pub fn plan_create_at(layout: &Layout, path: &Path) -> Result<CreatePlan> {
        Cgroup::plan_create_at_with(layout, path, &[])
    }

    /// [`Cgroup::plan_create_at`], also in the trees of `extra` controllers
    /// (block I/O, huge pages, net_cls…) that some limits need
    /// ([`Resources::extra_controllers`]).
    pub fn plan_create_at_with(
        layout: &Layout,
        path: &Path,
        extra: &[Controller],
    ) -> Result<CreatePlan> {
        let rel = below_root(path)?;
        let mut trees = Vec::new();
        for h in &layout.hierarchies {
            let controllers = served_with(layout, h, extra);
            if h.version == Version::V1 && controllers.is_empty() {
                continue;
            }
            let mut steps = Vec::new();
            let mut dir = h.mount_point.clone();
            let levels: Vec<_> = rel.components().collect();
            for (i, level) in levels.iter().enumerate() {
                let parent = dir.clone();
                dir = dir.join(level);
                if h.version == Version::V2 {
                    let enabled = read_words(&parent.join("cgroup.subtree_control"));
                    let missing: Vec<String> = controllers
                        .iter()
                        .map(|c| c.name().to_string())
                        .filter(|c| !enabled.contains(c))
                        .collect();
                    if !missing.is_empty() && (i == 0 || !dir.exists()) {
                        let value = missing
                            .iter()
                            .map(|c| format!("+{c}"))
                            .collect::<Vec<_>>()
                            .join(" ");
                        steps.push(Step::Write(Write::new(
                            &parent,
                            "cgroup.subtree_control",
                            value,
                        )));
                    }
                }
                if dir.is_dir() {
                    continue;
                }
                steps.push(Step::Mkdir(dir.clone()));
                if h.version == Version::V1 && controllers.contains(&Controller::Cpuset) {
                    for file in ["cpuset.cpus", "cpuset.mems"] {
                        if let Some(value) = inherited_value(&h.mount_point, &parent, file) {
                            steps.push(Step::Write(Write::new(&dir, file, value)));
                        }
                    }
                }
            }
            trees.push(TreePlan {
                dir: CgroupDir {
                    version: h.version,
                    path: dir,
                    controllers,
                },
                steps,
            });
        }
        Ok(CreatePlan {
            name: rel.to_string_lossy().into_owned(),
            trees,
        })
    }

    /// Creates the group planned by [`Cgroup::plan_create_at`]. If a tree
    /// fails, what was made in the others is removed again.
    pub fn create_at(layout: &Layout, path: &Path) -> Result<Cgroup> {
        Cgroup::create_at_with(layout, path, &[])
    }

    /// Creates the group planned by [`Cgroup::plan_create_at_with`].
    pub fn create_at_with(layout: &Layout, path: &Path, extra: &[Controller]) -> Result<Cgroup> {
        let plan = Cgroup::plan_create_at_with(layout, path, extra)?;
        let mut cgroup = Cgroup {
            name: plan.name.clone(),
            dirs: Vec::new(),
            armed: true,
            narrate: false,
        };
        for tree in plan.trees {
            // Racing creators and removers of the same parent (see
            // `Cgroup::prune_parents_at`): EEXIST on a parent is fine, and
            // ENOENT means a parent went away under us, so the tree is
            // re-planned and tried again.
            let mut steps = tree.steps.clone();
            let mut tries = 0;
            loop {
                let mut again = false;
                for step in &steps {
                    match step.apply() {
                        Err(Error::Mkdir { source, .. })
                            if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(Error::Mkdir { source, .. })
                            if source.kind() == std::io::ErrorKind::NotFound && tries < 5 =>
                        {
                            again = true;
                            break;
                        }
                        other => other?,
                    }
                }
                if !again {
                    break;
                }
                tries += 1;
                let replanned = Cgroup::plan_create_at_with(layout, path, extra)?;
                steps = replanned
                    .trees
                    .into_iter()
                    .find(|t| t.dir.path == tree.dir.path)
                    .map(|t| t.steps)
                    .unwrap_or_default();
            }
            cgroup.dirs.push(tree.dir);
        }
        Ok(cgroup)
    }

    /// Removes the now-empty parents of group `path` made by
    /// [`Cgroup::create_at`] (`/docker` of `/docker/<id>`), in every tree,
    /// the way a learner would `rmdir` them. A parent that still holds groups
    /// is busy and stays.
    pub fn prune_parents_at(layout: &Layout, path: &Path) {
        let rel: PathBuf = path
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        for h in &layout.hierarchies {
            let mut dir = h.mount_point.join(&rel);
            while let Some(parent) = dir.parent().map(Path::to_path_buf) {
                if parent == h.mount_point || !parent.starts_with(&h.mount_point) {
                    break;
                }
                if fs::remove_dir(&parent).is_err() {
                    break;
                }
                dir = parent;
            }
        }
    }

    /// Opens the group at `path` relative to every tree's root (see
    /// [`Cgroup::create_at`]). The returned guard deletes it when dropped.
    pub fn open_at(layout: &Layout, path: &Path) -> Result<Cgroup> {
        let rel = below_root(path)?;
        let mut dirs = Vec::new();
        for h in &layout.hierarchies {
            // Also the trees a group reaches only for some limits (see
            // `create_at_with`): wherever the directory exists.
            let controllers = served_with(layout, h, &Controller::on_demand());
            if h.version == Version::V1 && controllers.is_empty() {
                continue;
            }
            let dir = h.mount_point.join(&rel);
            if dir.is_dir() {
                dirs.push(CgroupDir {
                    version: h.version,
                    path: dir,
                    controllers,
                });
            }
        }
        Ok(Cgroup {
            name: rel.to_string_lossy().into_owned(),
            dirs,
            armed: true,
            narrate: false,
        })
    }

    /// The group name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's directories, one per tree.
    pub fn dirs(&self) -> &[CgroupDir] {
        &self.dirs
    }

    /// Turns printing of steps on or off.
    pub fn set_narrate(&mut self, narrate: bool) {
        self.narrate = narrate;
    }

    /// The directory that serves `controller`, if any.
    pub fn dir_for(&self, controller: &Controller) -> Option<&CgroupDir> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(controller))
    }

    fn v2_dir(&self) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| d.version == Version::V2)
    }

    /// Every `cgroup.procs` file of the group: writing a pid into all of them
    /// puts that process in the group (this is what chapter 01's
    /// `Config::cgroup_procs` wants).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(CgroupDir::procs_file).collect()
    }

    /// The writes that apply `resources` to this group, in order.
    pub fn plan_set(&self, resources: &Resources) -> Result<Vec<Write>> {
        resources.validate().map_err(Error::InvalidResources)?;
        let mut writes = Vec::new();
        let need = |c: Controller, what: &'static str| -> Result<&CgroupDir> {
            self.dir_for(&c).ok_or(Error::ControllerMissing {
                controller: c,
                what,
            })
        };

        if let Some(max) = resources.memory_max {
            let dir = need(Controller::Memory, "a memory limit")?;
            let v2 = dir.version == Version::V2;
            let limit = Write::new(
                &dir.path,
                if v2 {
                    "memory.max"
                } else {
                    "memory.limit_in_bytes"
                },
                max.to_string(),
            );
            match (resources.memory_swap, v2) {
                (None, _) => writes.push(limit),
                (Some(swap), true) => {
                    let value = match swap {
                        Swap::Unlimited => "max".to_string(),
                        Swap::Total(total) => (total - max).to_string(),
                    };
                    writes.push(limit);
                    writes.push(Write::new(&dir.path, "memory.swap.max", value));
                }
                (Some(swap), false) => {
                    let value = match swap {
                        Swap::Unlimited => "-1".to_string(),
                        Swap::Total(total) => total.to_string(),
                    };
                    let memsw = Write::new(&dir.path, "memory.memsw.limit_in_bytes", value);
                    // v1 insists memory <= memory+swap at every moment: when the
                    // new memory limit is above the current memsw limit, raise memsw first.
                    let current_memsw = stats::read_limit(&memsw.path).ok().flatten();
                    if current_memsw.is_some_and(|cur| max > cur) {
                        writes.push(memsw);
                        writes.push(limit);
                    } else {
                        writes.push(limit);
                        writes.push(memsw);
                    }
                }
            }
        }
        if let Some(cpus) = resources.cpus {
            let dir = need(Controller::Cpu, "a cpu quota (--cpus)")?;
            if dir.version == Version::V2 {
                let value = format!("{} {}", cpus.quota_us, cpus.period_us);
                writes.push(Write::new(&dir.path, "cpu.max", value));
            } else {
                let period = cpus.period_us.to_string();
                writes.push(Write::new(&dir.path, "cpu.cfs_period_us", period));
                let quota = cpus.quota_us.to_string();
                writes.push(Write::new(&dir.path, "cpu.cfs_quota_us", quota));
            }
        }
        if let Some(shares) = resources.cpu_shares {
            let dir = need(Controller::Cpu, "cpu shares")?;
            writes.push(if dir.version == Version::V2 {
                Write::new(
                    &dir.path,
                    "cpu.weight",
                    shares_to_weight(shares).to_string(),
                )
            } else {
                Write::new(&dir.path, "cpu.shares", shares.to_string())
            });
        }
        if let Some(max) = resources.pids_max {
            let dir = need(Controller::Pids, "a pids limit")?;
            writes.push(Write::new(&dir.path, "pids.max", max.to_string()));
        }
        if let Some(cpus) = &resources.cpuset_cpus {
            let dir = need(Controller::Cpuset, "a cpuset")?;
            writes.push(Write::new(&dir.path, "cpuset.cpus", cpus.clone()));
        }
        if let Some(mems) = &resources.cpuset_mems {
            let dir = need(Controller::Cpuset, "a cpuset")?;
            writes.push(Write::new(&dir.path, "cpuset.mems", mems.clone()));
        }
        self.plan_more(resources, &mut writes)?;
        Ok(writes)
    }

    /// The writes of the less common limits (see the second table of
    /// [`crate::resources`]). Each names its setting when this host cannot
    /// take it: the version has no such file, or the kernel lacks the file.
    fn plan_more(&self, r: &Resources, writes: &mut Vec<Write>) -> Result<()> {
        // One file of one setting: `v1`/`v2` name the file on each version
        // (None: that version has none).
        let mut add = |what: &'static str,
                       c: Controller,
                       v1: Option<&str>,
                       v2: Option<&str>,
                       value: String|
         -> Result<()> {
            let dir = self.dir_for(&c).ok_or(Error::ControllerMissing {
                controller: c,
                what,
            })?;
            let (file, other) = match dir.version {
                Version::V1 => (v1, v2),
                Version::V2 => (v2, v1),
            };
            let file = file.ok_or(Error::NotOnThisVersion {
                what,
                version: dir.version,
                file_elsewhere: other.unwrap_or("?").to_string(),
            })?;
            let w = Write::new(&dir.path, file, value);
            // On a real host the kernel made every file it has at mkdir time;
            // (a fixture tree in a temp dir has none yet).
            if is_cgroupfs(&dir.path) && !w.path.exists() {
                return Err(Error::FileMissing { what, path: w.path });
            }
            writes.push(w);
            Ok(())
        };
        use Controller::{Blkio, Cpu, Hugetlb, Memory};
        if let Some(v) = r.memory_reservation {
            let what = "memory.reservation (--memory-reservation)";
            let (v1, v2) = ("memory.soft_limit_in_bytes", "memory.low");
            add(what, Memory, Some(v1), Some(v2), v.to_string())?;
        }
        if let Some(v) = r.memory_swappiness {
            let what = "memory.swappiness (--memory-swappiness)";
            add(what, Memory, Some("memory.swappiness"), None, v.to_string())?;
        }
        if r.oom_kill_disable {
            let what = "memory.disableOOMKiller (--oom-kill-disable)";
            add(what, Memory, Some("memory.oom_control"), None, "1".into())?;
        }
        if let Some(v) = r.kernel_memory {
            let what = "memory.kernel (--kernel-memory)";
            add(
                what,
                Memory,
                Some("memory.kmem.limit_in_bytes"),
                None,
                v.to_string(),
            )?;
        }
        if let Some(v) = r.kernel_tcp {
            let what = "memory.kernelTCP";
            let file = "memory.kmem.tcp.limit_in_bytes";
            add(what, Memory, Some(file), None, v.to_string())?;
        }
        // The period first: the kernel checks runtime <= period.
        if let Some(v) = r.cpu_rt_period {
            let what = "cpu.realtimePeriod (--cpu-rt-period)";
            add(what, Cpu, Some("cpu.rt_period_us"), None, v.to_string())?;
        }
        if let Some(v) = r.cpu_rt_runtime {
            let what = "cpu.realtimeRuntime (--cpu-rt-runtime)";
            add(what, Cpu, Some("cpu.rt_runtime_us"), None, v.to_string())?;
        }
        if let Some(v) = r.cpu_idle {
            add("cpu.idle", Cpu, None, Some("cpu.idle"), v.to_string())?;
        }
        let blkio = if self.dir_for(&Blkio).is_some() {
            Blkio
        } else {
            Controller::Io
        };
        if let Some(w) = r.blkio_weight {
            let what = "blockIO.weight (--blkio-weight)";
            let v2 = format!("default {w}");
            let value = if self.dir_for(&Blkio).is_some() {
                w.to_string()
            } else {
                v2
            };
            add(
                what,
                blkio.clone(),
                Some("blkio.weight"),
                Some("io.weight"),
                value,
            )?;
        }
        if let Some(w) = r.blkio_leaf_weight {
            let what = "blockIO.leafWeight";
            add(
                what,
                blkio.clone(),
                Some("blkio.leaf_weight"),
                None,
                w.to_string(),
            )?;
        }
        for d in &r.blkio_weight_devices {
            if let Some(w) = d.weight {
                let what = "blockIO.weightDevice[].weight (--blkio-weight-device)";
                let value = format!("{}:{} {w}", d.major, d.minor);
                add(
                    what,
                    blkio.clone(),
                    Some("blkio.weight_device"),
                    Some("io.weight"),
                    value,
                )?;
            }
            if let Some(w) = d.leaf_weight {
                let what = "blockIO.weightDevice[].leafWeight";
                let value = format!("{}:{} {w}", d.major, d.minor);
                add(
                    what,
                    blkio.clone(),
                    Some("blkio.leaf_weight_device"),
                    None,
                    value,
                )?;
            }
        }
        for t in &r.blkio_throttle {
            let what = "blockIO.throttle*Device (--device-read-bps and friends)";
            let v1 = format!("{}:{} {}", t.major, t.minor, t.rate);
            let v2 = format!("{}:{} {}={}", t.major, t.minor, t.kind.v2_key(), t.rate);
            let value = if self.dir_for(&Blkio).is_some() {
                v1
            } else {
                v2
            };
            add(
                what,
                blkio.clone(),
                Some(t.kind.v1_file()),
                Some("io.max"),
                value,
            )?;
        }
        for (size, limit) in &r.hugepage_limits {
            let what = "hugepageLimits";
            let v1 = format!("hugetlb.{size}.limit_in_bytes");
            let v2 = format!("hugetlb.{size}.max");
            add(what, Hugetlb, Some(&v1), Some(&v2), limit.to_string())?;
        }
        if let Some(id) = r.net_class_id {
            let what = "network.classID";
            let c = Controller::Other("net_cls".into());
            add(what, c, Some("net_cls.classid"), None, id.to_string())?;
        }
        for (iface, prio) in &r.net_priorities {
            let what = "network.priorities";
            let c = Controller::Other("net_prio".into());
            add(
                what,
                c,
                Some("net_prio.ifpriomap"),
                None,
                format!("{iface} {prio}"),
            )?;
        }
        for (dev, handles, objects) in &r.rdma {
            let mut value = dev.clone();
            if let Some(h) = handles {
                value.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = objects {
                value.push_str(&format!(" hca_object={o}"));
            }
            let c = Controller::Other("rdma".into());
            add("rdma", c, Some("rdma.max"), Some("rdma.max"), value)?;
        }
        if !r.unified.is_empty() {
            let dir = self.v2_dir().ok_or(Error::NotOnThisVersion {
                what: "unified",
                version: Version::V1,
                file_elsewhere: "every unified file".into(),
            })?;
            for (file, value) in &r.unified {
                let w = Write::new(&dir.path, file, value.clone());
                if is_cgroupfs(&dir.path) && !w.path.exists() {
                    // On a hybrid host the v2 tree has no controllers, so
                    // memory.high and friends are missing there.
                    return Err(Error::FileMissing {
                        what: "unified",
                        path: w.path,
                    });
                }
                writes.push(w);
            }
        }
        Ok(())
    }

    /// Applies `resources` and returns the writes that were made.
    pub fn set(&self, resources: &Resources) -> Result<Vec<Write>> {
        let writes = self.plan_set(resources)?;
        self.apply_writes(&writes)?;
        Ok(writes)
    }

    fn apply_writes(&self, writes: &[Write]) -> Result<()> {
        for w in writes {
            if self.narrate {
                println!("    $ {w}");
            }
            w.apply()?;
        }
        Ok(())
    }

    /// The writes that move process `pid` (and its future children) into the group.
    pub fn plan_add_pid(&self, pid: i32) -> Vec<Write> {
        self.procs_files()
            .into_iter()
            .map(|path| Write {
                path,
                value: pid.to_string(),
            })
            .collect()
    }

    /// Moves process `pid` into the group in every tree.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        self.apply_writes(&self.plan_add_pid(pid))
    }

    /// The pids listed in the group's `cgroup.procs` files (all trees, deduplicated).
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = BTreeSet::new();
        for dir in &self.dirs {
            let path = dir.procs_file();
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::Read { path, source }),
            };
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        Ok(pids.into_iter().collect())
    }

    /// Reads the group's counters.
    pub fn stats(&self) -> Result<Stats> {
        let with_version = |c: Controller| {
            self.dir_for(&c)
                .map(|d| (d.path.clone(), d.version == Version::V2))
        };
        let dirs = StatDirs {
            memory: with_version(Controller::Memory),
            cpu: with_version(Controller::Cpu),
            cpuacct_v1: self.dir_for(&Controller::Cpuacct).map(|d| d.path.clone()),
            pids: self.dir_for(&Controller::Pids).map(|d| d.path.clone()),
        };
        stats::read_stats(&dirs)
    }

    /// True if the group can limit swap: v1 has `memory.memsw.limit_in_bytes`
    /// only when the kernel accounts swap (`swapaccount=1`), v2 has `memory.swap.max`.
    pub fn has_swap_accounting(&self) -> bool {
        self.dir_for(&Controller::Memory).is_some_and(|d| {
            let file = match d.version {
                Version::V1 => "memory.memsw.limit_in_bytes",
                Version::V2 => "memory.swap.max",
            };
            d.path.join(file).exists()
        })
    }

    /// The OOM counters (v2 `memory.events`; v1 `memory.oom_control` and `memory.failcnt`).
    pub fn oom_events(&self) -> Result<OomEvents> {
        let dir = self
            .dir_for(&Controller::Memory)
            .ok_or(Error::ControllerMissing {
                controller: Controller::Memory,
                what: "OOM events",
            })?;
        stats::oom_events(&dir.path, dir.version == Version::V2)
    }

    /// CPU time used by the group so far, in microseconds.
    pub fn cpu_usage_usec(&self) -> Result<u64> {
        self.stats()?
            .cpu
            .and_then(|c| c.usage_usec)
            .ok_or(Error::ControllerMissing {
                controller: Controller::Cpuacct,
                what: "CPU usage",
            })
    }

    /// The write that freezes (`true`) or thaws (`false`) the group, and the
    /// file and content that confirm it: v1 `freezer.state` reads `FROZEN`
    /// (it passes through `FREEZING`), v2 `cgroup.events` reads `frozen 1`.
    pub fn plan_freeze(&self, frozen: bool) -> Result<(Write, PathBuf, String)> {
        if let Some(dir) = self.dir_for(&Controller::Freezer) {
            let state = if frozen { "FROZEN" } else { "THAWED" };
            let write = Write::new(&dir.path, "freezer.state", state);
            return Ok((write, dir.path.join("freezer.state"), state.to_string()));
        }
        if let Some(dir) = self.v2_dir() {
            let value = if frozen { "1" } else { "0" };
            let write = Write::new(&dir.path, "cgroup.freeze", value);
            return Ok((
                write,
                dir.path.join("cgroup.events"),
                format!("frozen {value}"),
            ));
        }
        Err(Error::NoFreezer)
    }

    /// Freezes every process of the group and waits until the kernel says so.
    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    /// Thaws the group and waits until the kernel says so.
    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let (write, confirm, wanted) = self.plan_freeze(frozen)?;
        self.apply_writes(std::slice::from_ref(&write))?;
        let mut last = String::new();
        for attempt in 0..FREEZE_TRIES {
            last = stats::read_string(&confirm)?;
            if last.lines().any(|l| l.trim() == wanted) {
                return Ok(());
            }
            // v1 reports FREEZING until every task stopped; writing FROZEN
            // again nudges tasks that were busy in the kernel.
            if attempt % 50 == 49 {
                write.apply()?;
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(Error::FreezeState {
            path: confirm,
            wanted,
            last: last.trim().to_string(),
            tries: FREEZE_TRIES,
        })
    }

    /// Kills every process left in the group: `echo 1 > cgroup.kill` where
    /// the kernel has it (v2, 5.14+), then `kill -9` on every pid listed in
    /// any `cgroup.procs`, in rounds until none is left (a fork bomb may add
    /// some between reading and killing, the pids limit bounds how many).
    /// A frozen group is thawed so the killed tasks can die.
    pub fn kill_all(&self) -> Result<()> {
        if let Some(dir) = self.v2_dir() {
            let kill_file = dir.path.join("cgroup.kill");
            if kill_file.exists() && !self.pids()?.is_empty() {
                Write::new(&dir.path, "cgroup.kill", "1").apply()?;
            }
        }
        for round in 0..KILL_ROUNDS {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids {
                // Never init, never ourselves: only a group below the root
                // can be opened, but a caller may have joined it by mistake.
                if pid <= 1 || pid == std::process::id() as i32 {
                    continue;
                }
                match kill(Pid::from_raw(pid), Signal::SIGKILL) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(source) => {
                        return Err(Error::Kill {
                            pid,
                            path: self.dirs[0].procs_file(),
                            source,
                        })
                    }
                }
            }
            if round == 0 {
                if let Ok((thaw, _, _)) = self.plan_freeze(false) {
                    // Frozen tasks die only once thawed; ignore a missing file.
                    let _ = thaw.apply();
                }
            }
            thread::sleep(Duration::from_millis(5 + u64::from(round.min(20))));
        }
        Err(Error::KillRounds {
            path: self.dirs[0].procs_file(),
            rounds: KILL_ROUNDS,
        })
    }

    /// The `rmdir`s that delete the group, children first.
    pub fn plan_delete(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            collect_subdirs_bottom_up(&dir.path, &mut out);
            out.push(dir.path.clone());
        }
        out
    }

    /// Deletes the group: kills what is left, then removes each directory,
    /// retrying while the kernel drains exiting tasks (`EBUSY`). Every
    /// directory is attempted; the first error is returned.
    pub fn delete(mut self) -> Result<()> {
        self.armed = false;
        self.delete_dirs()
    }

    /// Leaves the group in place when the guard is dropped (the engine hands
    /// a running container's group over to its shim), and returns its name.
    pub fn keep(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.name)
    }

    fn delete_dirs(&mut self) -> Result<()> {
        let killed = self.kill_all();
        let mut first_err = killed.err();
        for path in self.plan_delete() {
            if self.narrate {
                println!("    $ rmdir {}", path.display());
            }
            if let Err(e) = rmdir_with_retries(&path) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The relative path of a group below the root of every tree. The root
/// itself (`/`, an empty path) is refused, and so is `..`: the root group
/// holds every process of the host, and a guard over it would kill them all
/// when dropped.
fn below_root(path: &Path) -> Result<PathBuf> {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    if rel.as_os_str().is_empty()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::InvalidResources(format!(
            "cgroup path {} must name a group below the root, without `..`",
            path.display()
        )));
    }
    Ok(rel)
}

/// A group name below our own group: relative, and naming one (an empty
/// name would be our own group, with this very process in it).
fn check_name(name: &str) -> Result<()> {
    if Path::new(name).is_absolute() {
        return Err(Error::InvalidResources(format!(
            "cgroup name {name} must be relative to our own group"
        )));
    }
    below_root(Path::new(name)).map(|_| ())
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if self.armed {
            self.armed = false;
            if let Err(e) = self.delete_dirs() {
                eprintln!("chapter02: could not delete cgroup {}: {e}", self.name);
            }
        }
    }
}

fn collect_subdirs_bottom_up(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_subdirs_bottom_up(&entry.path(), out);
            out.push(entry.path());
        }
    }
}

fn rmdir_with_retries(path: &Path) -> Result<()> {
    let mut last = None;
    for attempt in 0..RMDIR_TRIES {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            // On a real cgroup fs the control files vanish with the directory;
            // on a fixture tree they are plain files that must go first.
            Err(e) if e.raw_os_error() == Some(Errno::ENOTEMPTY as i32) && !is_cgroupfs(path) => {
                remove_plain_files(path);
                last = Some(e);
            }
            Err(e) if e.raw_os_error() == Some(Errno::EBUSY as i32) => {
                last = Some(e);
                thread::sleep(Duration::from_millis(2 + u64::from(attempt.min(48))));
            }
            Err(source) => {
                return Err(Error::Rmdir {
                    path: path.to_path_buf(),
                    tries: attempt + 1,
                    source,
                })
            }
        }
    }
    Err(Error::Rmdir {
        path: path.to_path_buf(),
        tries: RMDIR_TRIES,
        source: last.unwrap_or_else(|| io::Error::from(io::ErrorKind::Other)),
    })
}

fn is_cgroupfs(path: &Path) -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
    statfs(path).is_ok_and(|s| {
        s.filesystem_type() == CGROUP_SUPER_MAGIC || s.filesystem_type() == CGROUP2_SUPER_MAGIC
    })
}

fn remove_plain_files(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// [`served_controllers`] plus those of `extra` that the tree carries (in
/// the v2 tree: those no v1 tree has taken).
fn served_with(layout: &Layout, h: &Hierarchy, extra: &[Controller]) -> Vec<Controller> {
    let mut out = served_controllers(layout, h);
    for c in extra {
        let here = h.has(c)
            && match h.version {
                Version::V1 => true,
                Version::V2 => layout.hierarchy_for(c).map(|x| x.version) == Some(Version::V2),
            };
        if here && !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// The managed controllers a tree serves in `layout`: a v1 tree serves those
/// in its mount options; the v2 tree serves those it offers that no v1 tree
/// has taken.
fn served_controllers(layout: &Layout, h: &Hierarchy) -> Vec<Controller> {
    Controller::managed()
        .into_iter()
        .filter(|c| h.has(c))
        .filter(|c| match h.version {
            Version::V1 => true,
            Version::V2 => layout.hierarchy_for(c).map(|x| x.version) == Some(Version::V2),
        })
        .collect()
}

fn read_words(path: &Path) -> BTreeSet<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| w.trim_start_matches('+').to_string())
        .collect()
}

fn has_processes(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|t| !t.trim().is_empty())
}

/// The directories from the tree's root down to `parent`, both included.
fn ancestors_from_root(mount_point: &Path, parent: &Path) -> Vec<PathBuf> {
    let mut chain = vec![mount_point.to_path_buf()];
    if let Ok(rel) = parent.strip_prefix(mount_point) {
        let mut cur = mount_point.to_path_buf();
        for part in rel.components() {
            cur.push(part);
            chain.push(cur.clone());
        }
    }
    chain
}

fn plan_tree(
    layout: &Layout,
    h: &Hierarchy,
    name: &str,
    parent: Parent,
) -> Result<Option<TreePlan>> {
    let controllers = served_controllers(layout, h);
    if h.version == Version::V1 && controllers.is_empty() {
        // name=systemd and trees of controllers we do not manage: leave them alone.
        return Ok(None);
    }
    let mut steps = Vec::new();
    let own = h.own_dir().filter(|d| d.is_dir());
    let mut parent_dir = match (parent, &own) {
        (Parent::Own, Some(dir)) => dir.clone(),
        _ => h.mount_point.clone(),
    };

    if h.version == Version::V2 {
        let wanted: BTreeSet<String> = controllers.iter().map(|c| c.name().to_string()).collect();
        let missing_at = |dir: &Path| -> Vec<String> {
            let enabled = read_words(&dir.join("cgroup.subtree_control"));
            wanted.difference(&enabled).cloned().collect()
        };
        if parent_dir != h.mount_point
            && has_processes(&parent_dir)
            && !missing_at(&parent_dir).is_empty()
        {
            steps.push(Step::Note(format!(
                "{} holds processes, so it may not enable controllers for children \
                 (no-internal-process rule): creating below the root instead",
                parent_dir.display()
            )));
            parent_dir = h.mount_point.clone();
        }
        for dir in ancestors_from_root(&h.mount_point, &parent_dir) {
            let missing = missing_at(&dir);
            if !missing.is_empty() {
                let value = missing
                    .iter()
                    .map(|c| format!("+{c}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                steps.push(Step::Write(Write::new(
                    &dir,
                    "cgroup.subtree_control",
                    value,
                )));
            }
        }
    }

    let path = parent_dir.join(name);
    steps.push(Step::Mkdir(path.clone()));

    if h.version == Version::V1 && controllers.contains(&Controller::Cpuset) {
        // A new v1 cpuset starts with empty cpus and mems, and a task cannot
        // join an empty cpuset (ENOSPC): copy the nearest non-empty ancestor's.
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Some(value) = inherited_value(&h.mount_point, &parent_dir, file) {
                steps.push(Step::Write(Write::new(&path, file, value)));
            }
        }
    }

    Ok(Some(TreePlan {
        dir: CgroupDir {
            version: h.version,
            path,
            controllers,
        },
        steps,
    }))
}

fn inherited_value(mount_point: &Path, parent: &Path, file: &str) -> Option<String> {
    ancestors_from_root(mount_point, parent)
        .into_iter()
        .rev()
        .filter_map(|dir| fs::read_to_string(dir.join(file)).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}
