//! Exercise 4, a reference answer.

/// Maps ids `0..count` of `pid`'s user namespace to `host_id..` on the host.
pub fn write_id_maps(pid: i32, host_id: u32, count: u32) -> std::io::Result<()> {
    let line = format!("0 {host_id} {count}\n");
    std::fs::write(format!("/proc/{pid}/uid_map"), &line)?;
    std::fs::write(format!("/proc/{pid}/gid_map"), &line)
}
