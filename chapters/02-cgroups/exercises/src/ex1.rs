//! Exercise 1: join a group.
//!
//! A process is in the group whose `cgroup.procs` lists it, and so is every
//! child it forks afterwards. Joining is one write of the pid to that file.
//! On a v2 host a group is one directory; on a v1 host it is one directory
//! per tree (`/sys/fs/cgroup/memory/NAME`, `/sys/fs/cgroup/pids/NAME`, …)
//! and the pid goes into every tree's `cgroup.procs` (chapter 02's
//! `cgroup.rs`, `plan_add_pid`).
//!
//! Check with `scripts/check.sh 02 1`: the checker starts a `sleep`, calls
//! this function, and reads `/proc/<pid>/cgroup`.

use chapter02::Cgroup;

/// Moves process `pid` into `group`, in every tree the group has a
/// directory in (`group.dirs()`; each `CgroupDir` has `procs_file()`).
pub fn join(group: &Cgroup, pid: i32) -> std::io::Result<()> {
    let _ = (group, pid);
    todo!("hint: for dir in group.dirs(): std::fs::write(dir.procs_file(), pid.to_string())")
}
