//! Exercise 4: a user namespace's id maps.
//!
//! A process in a new user namespace starts as `nobody` (65534): no id of
//! the namespace is mapped to an id of the host yet. A process outside, with
//! the rights over the host ids it hands out (root here), writes the maps:
//! one line `INSIDE OUTSIDE COUNT` to `/proc/PID/uid_map` and to
//! `/proc/PID/gid_map`, each written once. The process then calls
//! `setgid(0)` and `setuid(0)` (as runc's init does): it is root inside,
//! and every file it creates belongs to `OUTSIDE` on the host; this is how
//! `docker --userns-remap` maps container root to a range from `/etc/subuid`.
//! Chapter 01's `user` and `shell` demos map root to 100000
//! (`IdMap::range` and `Step::WriteUidMap` in `plan.rs`).
//!
//! Check with `scripts/check.sh 01 4`: the checker starts a process that
//! unshares its user namespace and waits, calls this function, then lets
//! the process report its ids and create a file.

/// Maps ids `0..count` of process `pid`'s user namespace to
/// `host_id..host_id+count` on the host, for users and for groups.
pub fn write_id_maps(pid: i32, host_id: u32, count: u32) -> std::io::Result<()> {
    let _ = (pid, host_id, count);
    todo!("hint: std::fs::write(format!(\"/proc/{{pid}}/uid_map\"), format!(\"0 {{host_id}} {{count}}\\n\")), then the same for gid_map")
}
