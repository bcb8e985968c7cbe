//! Exercise 3, a reference answer.

use chapter02::CgroupDir;

/// Limits the group to `max` tasks.
pub fn limit_pids(dir: &CgroupDir, max: u32) -> std::io::Result<()> {
    std::fs::write(dir.path.join("pids.max"), max.to_string())
}
