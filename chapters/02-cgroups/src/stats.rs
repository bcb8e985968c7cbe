//! Reading what the kernel counted: usage, limits and events.
//!
//! | what | cgroup v1 | cgroup v2 |
//! | --- | --- | --- |
//! | memory in use | `memory.usage_in_bytes` | `memory.current` |
//! | peak | `memory.max_usage_in_bytes` | `memory.peak` (6.1+) |
//! | limit hits | `memory.failcnt` | `memory.events`: `max` |
//! | OOM kills | `memory.oom_control`: `oom_kill` | `memory.events`: `oom`, `oom_kill` |
//! | CPU time | `cpuacct.usage` (ns, cpuacct tree) | `cpu.stat`: `usage_usec` |
//! | throttling | `cpu.stat`: `nr_periods nr_throttled throttled_time` (ns) | `cpu.stat`: `nr_periods nr_throttled throttled_usec` |
//! | tasks | `pids.current`, `pids.max`, `pids.events`: `max` (forks refused) | the same |

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// OOM-related counters of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OomEvents {
    /// v2 `memory.events` `oom`: times the group hit its limit and reclaim failed.
    pub oom: Option<u64>,
    /// Processes the OOM killer killed in this group (v1 `memory.oom_control`
    /// `oom_kill`, v2 `memory.events` `oom_kill`).
    pub oom_kill: u64,
    /// v1 `memory.failcnt`: times an allocation hit the memory limit.
    pub failcnt: Option<u64>,
    /// v1 `memory.memsw.failcnt`: times memory plus swap hit its limit (when
    /// both limits are equal this one is hit first).
    pub memsw_failcnt: Option<u64>,
    /// v2 `memory.events` `max`: times usage was about to go over `memory.max`.
    pub max: Option<u64>,
}

/// Memory counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes in use now.
    pub usage: u64,
    /// Highest usage seen, where the kernel records it.
    pub peak: Option<u64>,
    /// The limit, `None` for unlimited.
    pub limit: Option<u64>,
    /// OOM counters.
    pub oom: OomEvents,
}

/// CPU counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// CPU time used by the group, in microseconds (None on a v1 host without cpuacct).
    pub usage_usec: Option<u64>,
    /// Enforcement periods that elapsed while the group was runnable.
    pub nr_periods: u64,
    /// Periods in which the group used up its quota and was stopped.
    pub nr_throttled: u64,
    /// Total time the group spent throttled, in microseconds.
    pub throttled_usec: u64,
}

/// Task counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidsStats {
    /// Tasks in the group now.
    pub current: u64,
    /// The limit, `None` for `max`.
    pub max: Option<u64>,
    /// `pids.events` `max`: forks and clones refused because of the limit.
    pub refused: Option<u64>,
}

/// Everything at once, for `docker stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Memory, if the group has the memory controller.
    pub memory: Option<MemoryStats>,
    /// CPU, if the group has the cpu (or cpuacct) controller.
    pub cpu: Option<CpuStats>,
    /// Tasks, if the group has the pids controller.
    pub pids: Option<PidsStats>,
}

pub(crate) fn read_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_err(path: &Path, what: impl Into<String>) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Reads a file holding one number.
pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    let text = read_string(path)?;
    text.trim()
        .parse()
        .map_err(|_| parse_err(path, format!("{:?} is not a number", text.trim())))
}

/// Reads a limit: a number, `max` (v2) or a huge number (v1's "unlimited",
/// 9223372036854771712 = i64::MAX rounded down to a page).
pub(crate) fn read_limit(path: &Path) -> Result<Option<u64>> {
    let text = read_string(path)?;
    let text = text.trim();
    if text == "max" || text == "-1" {
        return Ok(None);
    }
    let value: u64 = text
        .parse()
        .map_err(|_| parse_err(path, format!("{text:?} is neither a number nor max")))?;
    Ok(if value >= 1 << 62 { None } else { Some(value) })
}

/// Reads a flat keyed file (`key value` per line: memory.events, cpu.stat,
/// memory.oom_control) and returns the value of `key`, if present.
pub(crate) fn read_key(path: &Path, key: &str) -> Result<Option<u64>> {
    let text = read_string(path)?;
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() == Some(key) {
            let value = parts.next().unwrap_or_default();
            return value
                .parse()
                .map(Some)
                .map_err(|_| parse_err(path, format!("{key} {value:?} is not a number")));
        }
    }
    Ok(None)
}

/// Where the counters of one group live.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatDirs {
    pub memory: Option<(PathBuf, bool)>,
    pub cpu: Option<(PathBuf, bool)>,
    pub cpuacct_v1: Option<PathBuf>,
    pub pids: Option<PathBuf>,
}

fn opt_file<T>(path: &Path, read: impl Fn(&Path) -> Result<T>) -> Result<Option<T>> {
    if path.exists() {
        read(path).map(Some)
    } else {
        Ok(None)
    }
}

pub(crate) fn oom_events(dir: &Path, v2: bool) -> Result<OomEvents> {
    if v2 {
        let events = dir.join("memory.events");
        Ok(OomEvents {
            oom: Some(read_key(&events, "oom")?.unwrap_or(0)),
            oom_kill: read_key(&events, "oom_kill")?.unwrap_or(0),
            failcnt: None,
            memsw_failcnt: None,
            max: Some(read_key(&events, "max")?.unwrap_or(0)),
        })
    } else {
        Ok(OomEvents {
            oom: None,
            oom_kill: read_key(&dir.join("memory.oom_control"), "oom_kill")?.unwrap_or(0),
            failcnt: Some(read_u64(&dir.join("memory.failcnt"))?),
            memsw_failcnt: opt_file(&dir.join("memory.memsw.failcnt"), read_u64)?,
            max: None,
        })
    }
}

pub(crate) fn read_stats(dirs: &StatDirs) -> Result<Stats> {
    let mut stats = Stats::default();
    if let Some((dir, v2)) = &dirs.memory {
        let (usage, peak, limit) = if *v2 {
            ("memory.current", "memory.peak", "memory.max")
        } else {
            (
                "memory.usage_in_bytes",
                "memory.max_usage_in_bytes",
                "memory.limit_in_bytes",
            )
        };
        stats.memory = Some(MemoryStats {
            usage: read_u64(&dir.join(usage))?,
            peak: opt_file(&dir.join(peak), read_u64)?,
            limit: read_limit(&dir.join(limit))?,
            oom: oom_events(dir, *v2)?,
        });
    }
    if let Some((dir, v2)) = &dirs.cpu {
        let stat = dir.join("cpu.stat");
        let mut cpu = CpuStats {
            nr_periods: read_key(&stat, "nr_periods")?.unwrap_or(0),
            nr_throttled: read_key(&stat, "nr_throttled")?.unwrap_or(0),
            ..Default::default()
        };
        if *v2 {
            cpu.usage_usec = read_key(&stat, "usage_usec")?;
            cpu.throttled_usec = read_key(&stat, "throttled_usec")?.unwrap_or(0);
        } else {
            cpu.throttled_usec = read_key(&stat, "throttled_time")?.unwrap_or(0) / 1_000;
        }
        stats.cpu = Some(cpu);
    }
    if let Some(dir) = &dirs.cpuacct_v1 {
        let usage = read_u64(&dir.join("cpuacct.usage"))? / 1_000;
        stats.cpu.get_or_insert_with(CpuStats::default).usage_usec = Some(usage);
    }
    if let Some(dir) = &dirs.pids {
        stats.pids = Some(PidsStats {
            current: read_u64(&dir.join("pids.current"))?,
            max: read_limit(&dir.join("pids.max"))?,
            refused: opt_file(&dir.join("pids.events"), |p| read_key(p, "max"))?.flatten(),
        });
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_max_and_v1_unlimited_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        fs::write(&f, "max\n").unwrap();
        assert_eq!(read_limit(&f).unwrap(), None);
        fs::write(&f, "9223372036854771712\n").unwrap();
        assert_eq!(read_limit(&f).unwrap(), None);
        fs::write(&f, "52428800\n").unwrap();
        assert_eq!(read_limit(&f).unwrap(), Some(52_428_800));
        fs::write(&f, "lots\n").unwrap();
        assert!(read_limit(&f)
            .unwrap_err()
            .to_string()
            .contains("neither a number nor max"));
    }

    #[test]
    fn keyed_files_read_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("memory.events");
        fs::write(&f, "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(read_key(&f, "max").unwrap(), Some(12));
        assert_eq!(read_key(&f, "oom_kill").unwrap(), Some(1));
        assert_eq!(read_key(&f, "nothing").unwrap(), None);
        let ev = oom_events(dir.path(), true).unwrap();
        assert_eq!(ev.oom, Some(1));
        assert_eq!(ev.max, Some(12));
    }
}
