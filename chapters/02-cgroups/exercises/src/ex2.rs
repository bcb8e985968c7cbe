//! Exercise 2: a memory limit.
//!
//! The memory controller counts the pages a group's processes use. Past its
//! limit, the kernel first reclaims (page cache, swap); when nothing more
//! can be reclaimed, the OOM killer kills a process of the group, and only
//! of the group: the rest of the machine is untouched. That is `docker run
//! --memory`. The file differs by version:
//!
//! | version | file | value |
//! | --- | --- | --- |
//! | v1 | `memory.limit_in_bytes` | bytes |
//! | v2 | `memory.max` | bytes (or `max`) |
//!
//! Chapter 02's `resources.rs` maps each Docker flag to its files.
//!
//! Check with `scripts/check.sh 02 2`: the checker calls this function with
//! 24 MiB, then runs a process in the group that touches 128 MiB, and reads
//! how it ended and the group's OOM counter.

use chapter02::CgroupDir;

/// Limits the group's memory to `bytes`: `dir` is its directory in the
/// tree that carries the memory controller (`dir.version` says v1 or v2).
pub fn limit_memory(dir: &CgroupDir, bytes: u64) -> std::io::Result<()> {
    let _ = (dir, bytes);
    todo!("hint: match dir.version {{ Version::V1 => \"memory.limit_in_bytes\", Version::V2 => \"memory.max\" }}, then std::fs::write(dir.path.join(file), bytes.to_string())")
}
