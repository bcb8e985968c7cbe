//! # Chapter 02: cgroups
//!
//! Namespaces (chapter 01) decide what a process can *see*. Control groups
//! decide how much it can *use*: memory, CPU time, number of processes, which
//! CPUs. A cgroup is a directory in a special filesystem; a process is in the
//! group whose `cgroup.procs` lists it, and so are the children it forks. The
//! limits are files in the same directory. There are no special syscalls:
//! `mkdir`, `write` and `rmdir` are the whole interface (man 7 cgroups).
//!
//! ```text
//! $ mkdir /sys/fs/cgroup/memory/demo                        # create (v1 memory tree)
//! $ echo 52428800 > /sys/fs/cgroup/memory/demo/memory.limit_in_bytes
//! $ echo $$ > /sys/fs/cgroup/memory/demo/cgroup.procs       # this shell and its children join
//! $ cat /sys/fs/cgroup/memory/demo/memory.oom_control       # oom_kill counts the victims
//! $ rmdir /sys/fs/cgroup/memory/demo                        # delete, once empty
//! ```
//!
//! Hosts come in three layouts, and this library works on all of them
//! ([`layout`] explains the difference): *legacy* v1 with one tree per
//! controller, *unified* v2 with one tree, and *hybrid*, v1 controllers plus
//! a mostly empty v2 tree, as on many VMs and CI hosts (crun and podman refuse
//! to run there).
//!
//! The modules, in reading order:
//!
//! - [`layout`]: find the trees from /proc/self/mountinfo, /proc/cgroups and /proc/self/cgroup;
//! - [`plan`]: every change is a list of steps (`mkdir`, `echo value > file`) before it is made;
//! - [`cgroup`]: create a group in each tree, set limits, add processes,
//!   freeze, kill and delete (with a `Drop` guard);
//! - [`resources`]: which file each limit goes to on v1 and v2 (and Docker's flags);
//! - [`devices`]: which device nodes a group may use: v1's `devices.allow`
//!   and `devices.deny`, and on cgroup v2 an eBPF program the runtime builds and attaches;
//! - [`stats`]: usage, OOM events, throttling and task counts.
//! - [`fixture`]: fake hosts of each kind in a temp dir, for tests without root.
//!
//! Used by the engine like this:
//!
//! ```no_run
//! use chapter02::{Cgroup, Cpus, Layout, Resources};
//! # fn main() -> chapter02::Result<()> {
//! let layout = Layout::detect()?;
//! let group = Cgroup::create(&layout, &chapter02::unique_name("doc"))?;
//! group.set(&Resources { memory_max: Some(50 << 20), cpus: Some(Cpus::new(0.5)),
//!                        pids_max: Some(20), ..Default::default() })?;
//! group.add_pid(std::process::id() as i32)?;   // or chapter01's Config::cgroup_procs = group.procs_files()
//! println!("{:?}", group.stats()?);
//! group.delete()?;                            // or just drop it
//! # Ok(()) }
//! ```
//!
//! Inside a *cgroup namespace* (chapter 01's `Namespace::Cgroup`, `unshare
//! --cgroup`), the group a process was in when it unshared becomes `/`:
//! `/proc/self/cgroup` then reads `4:memory:/` instead of the host's path, so a
//! container does not learn where the host placed it. The tour's `namespace`
//! demo shows both views.
//!
//! Reading: man 7 cgroups, man 7 cgroup_namespaces, and the kernel's
//! Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/*.rst.

mod bpf;
pub mod cgroup;
pub mod devices;
pub mod error;
pub mod fixture;
pub mod layout;
pub mod plan;
pub mod resources;
pub mod stats;

pub use cgroup::{unique_name, Cgroup, CgroupDir, CreatePlan, TreePlan, NAME_PREFIX};
pub use error::{Error, Result};
pub use layout::{Controller, Hierarchy, Kind, Layout, Version};
pub use plan::{Step, Write};
pub use resources::{Cpus, Resources, Swap};
pub use stats::{CpuStats, MemoryStats, OomEvents, PidsStats, Stats};
