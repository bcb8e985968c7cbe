//! Exercise 2, a reference answer.

use chapter02::{CgroupDir, Version};

/// Limits the group's memory to `bytes`.
pub fn limit_memory(dir: &CgroupDir, bytes: u64) -> std::io::Result<()> {
    let file = match dir.version {
        Version::V1 => "memory.limit_in_bytes",
        Version::V2 => "memory.max",
    };
    std::fs::write(dir.path.join(file), bytes.to_string())
}
