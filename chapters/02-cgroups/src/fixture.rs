//! Fake hosts for tests: a /proc and a /sys/fs/cgroup laid out like each kind
//! of host, inside a directory you choose (a temp dir). Reading
//! [`Fixture::build`] is also a quick tour of what each layout looks like.
//!
//! The trees contain only the files the library reads before it creates a
//! group (`cgroup.controllers`, `cgroup.subtree_control`, `cgroup.procs`,
//! `cpuset.cpus`, ...). Writes on a fixture create plain files, so a test can
//! apply a plan and then read back what was written.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::layout::Layout;

/// The kinds of host the fixtures imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// Legacy v1 as on older distributions: `cpu,cpuacct` co-mounted, one
    /// tree per other controller, a `name=systemd` tree; the caller sits in
    /// `/user.slice` in most trees.
    Legacy,
    /// Unified v2 as on current distributions: the caller sits in a login
    /// session scope that holds processes, so groups go below the root.
    UnifiedSession,
    /// Unified v2 where the caller sits at the root of the tree (a VM's
    /// init or a container with a private cgroup namespace).
    UnifiedRoot,
    /// Hybrid like the workshop VMs: v1 controllers each on its own tree (cpu
    /// and cpuacct separate), an empty cgroup2 at `/sys/fs/cgroup/unified`,
    /// the caller in memory cgroup `/process_api/job1`.
    Hybrid,
}

/// A fake host under a directory.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Stands for `/proc`.
    pub proc: PathBuf,
    /// Stands for `/sys/fs/cgroup`.
    pub cgroup_root: PathBuf,
}

/// The pid the fixtures pretend the caller has. It is never signalled: the
/// fixture's `cgroup.procs` files are never read by a kill path in tests.
pub const FIXTURE_PID: u32 = 4242;

impl Fixture {
    /// Builds a fake host of `kind` under `base`.
    pub fn build(base: &Path, kind: HostKind) -> io::Result<Fixture> {
        let proc = base.join("proc");
        let cg = base.join("sys/fs/cgroup");
        fs::create_dir_all(proc.join("self"))?;
        fs::create_dir_all(&cg)?;
        let mut mountinfo = format!(
            "25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
             31 23 0:28 / {} rw,nosuid,nodev,noexec shared:9 - tmpfs tmpfs rw,mode=755\n",
            cg.display()
        );
        let mut add_mount = |id: u32, dir: &str, fstype: &str, opts: &str| -> io::Result<PathBuf> {
            let point = if dir.is_empty() {
                cg.clone()
            } else {
                cg.join(dir)
            };
            fs::create_dir_all(&point)?;
            mountinfo.push_str(&format!(
                "{id} 31 0:{id} / {} rw,nosuid,nodev,noexec,relatime shared:{id} - {fstype} {fstype} {opts}\n",
                point.display().to_string().replace(' ', "\\040")
            ));
            Ok(point)
        };
        let write = |path: PathBuf, text: &str| -> io::Result<()> {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::write(path, text)
        };
        let pid = format!("{FIXTURE_PID}\n");

        let (self_cgroup, proc_cgroups) = match kind {
            HostKind::Legacy => {
                let cpu = add_mount(40, "cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")?;
                let cpuset = add_mount(41, "cpuset", "cgroup", "rw,cpuset")?;
                let memory = add_mount(42, "memory", "cgroup", "rw,memory")?;
                let pids = add_mount(43, "pids", "cgroup", "rw,pids")?;
                let freezer = add_mount(44, "freezer", "cgroup", "rw,freezer")?;
                add_mount(45, "devices", "cgroup", "rw,devices")?;
                let systemd = add_mount(
                    46,
                    "systemd",
                    "cgroup",
                    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd",
                )?;
                write(cpuset.join("cpuset.cpus"), "0-3\n")?;
                write(cpuset.join("cpuset.mems"), "0\n")?;
                write(
                    memory.join("memory.memsw.limit_in_bytes"),
                    "9223372036854771712\n",
                )?;
                for tree in [&cpu, &memory, &pids] {
                    write(tree.join("user.slice/cgroup.procs"), &pid)?;
                }
                write(freezer.join("cgroup.procs"), &pid)?;
                write(
                    systemd.join("user.slice/user-0.slice/session-1.scope/cgroup.procs"),
                    &pid,
                )?;
                (
                    "12:freezer:/\n11:pids:/user.slice\n10:memory:/user.slice\n9:devices:/user.slice\n\
                     3:cpuset:/\n2:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/user-0.slice/session-1.scope\n"
                        .to_string(),
                    "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\ncpu\t2\t60\t1\n\
                     cpuacct\t2\t60\t1\nmemory\t10\t90\t1\ndevices\t9\t60\t1\nfreezer\t12\t1\t1\n\
                     pids\t11\t60\t1\nhugetlb\t0\t1\t1\n"
                        .to_string(),
                )
            }
            HostKind::UnifiedSession | HostKind::UnifiedRoot => {
                let root = add_mount(40, "", "cgroup2", "rw,nsdelegate,memory_recursiveprot")?;
                write(
                    root.join("cgroup.controllers"),
                    "cpuset cpu io memory hugetlb pids rdma misc\n",
                )?;
                write(root.join("cgroup.subtree_control"), "cpu io memory pids\n")?;
                let own = if kind == HostKind::UnifiedSession {
                    let user = root.join("user.slice");
                    write(user.join("cgroup.controllers"), "cpu io memory pids\n")?;
                    write(user.join("cgroup.subtree_control"), "cpu memory pids\n")?;
                    let scope = user.join("user-0.slice/session-1.scope");
                    write(
                        scope.parent().unwrap().join("cgroup.subtree_control"),
                        "memory pids\n",
                    )?;
                    write(scope.join("cgroup.controllers"), "memory pids\n")?;
                    write(scope.join("cgroup.subtree_control"), "")?;
                    write(scope.join("cgroup.procs"), &pid)?;
                    "/user.slice/user-0.slice/session-1.scope"
                } else {
                    write(root.join("cgroup.procs"), &pid)?;
                    "/"
                };
                (
                    format!("0::{own}\n"),
                    "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t80\t1\ncpu\t0\t80\t1\n\
                     cpuacct\t0\t80\t1\nmemory\t0\t80\t1\npids\t0\t80\t1\n"
                        .to_string(),
                )
            }
            HostKind::Hybrid => {
                let cpu = add_mount(32, "cpu", "cgroup", "rw,cpu")?;
                add_mount(33, "cpuacct", "cgroup", "rw,cpuacct")?;
                let cpuset = add_mount(34, "cpuset", "cgroup", "rw,cpuset")?;
                let memory = add_mount(35, "memory", "cgroup", "rw,memory")?;
                add_mount(36, "devices", "cgroup", "rw,devices")?;
                add_mount(37, "freezer", "cgroup", "rw,freezer")?;
                add_mount(38, "blkio", "cgroup", "rw,blkio")?;
                add_mount(39, "pids", "cgroup", "rw,pids")?;
                add_mount(40, "systemd", "cgroup", "rw,name=systemd")?;
                let unified = add_mount(41, "unified", "cgroup2", "rw")?;
                write(unified.join("cgroup.controllers"), "\n")?;
                write(unified.join("cgroup.subtree_control"), "\n")?;
                write(cpuset.join("cpuset.cpus"), "0-1\n")?;
                write(cpuset.join("cpuset.mems"), "0\n")?;
                write(
                    memory.join("memory.memsw.limit_in_bytes"),
                    "9223372036854771712\n",
                )?;
                write(memory.join("process_api/job1/cgroup.procs"), &pid)?;
                write(cpu.join("cgroup.procs"), &pid)?;
                (
                    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n\
                     4:memory:/process_api/job1\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n"
                        .to_string(),
                    "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\ncpu\t1\t1\t1\n\
                     cpuacct\t2\t1\t1\nblkio\t7\t1\t1\nmemory\t4\t36\t1\ndevices\t5\t1\t1\n\
                     freezer\t6\t1\t1\nhugetlb\t0\t1\t1\npids\t8\t1\t1\n"
                        .to_string(),
                )
            }
        };
        fs::write(proc.join("self/mountinfo"), mountinfo)?;
        fs::write(proc.join("self/cgroup"), self_cgroup)?;
        fs::write(proc.join("cgroups"), proc_cgroups)?;
        Ok(Fixture {
            proc,
            cgroup_root: cg,
        })
    }

    /// Detects the layout of the fake host.
    pub fn layout(&self) -> crate::Result<Layout> {
        Layout::detect_at(&self.proc, &self.cgroup_root)
    }
}
