//! Limits, and which file each one is written to on v1 and on v2.
//!
//! | Docker flag | [`Resources`] field | cgroup v1 file | cgroup v2 file |
//! | --- | --- | --- | --- |
//! | `--memory 50m` | `memory_max` | `memory.limit_in_bytes` = 52428800 | `memory.max` = 52428800 |
//! | `--memory-swap 50m` (memory+swap) | `memory_swap` | `memory.memsw.limit_in_bytes` = 52428800 | `memory.swap.max` = swap only = 0 |
//! | `--cpus 0.5` | `cpus` | `cpu.cfs_period_us` = 100000, `cpu.cfs_quota_us` = 50000 | `cpu.max` = `50000 100000` |
//! | `--cpu-shares 512` | `cpu_shares` | `cpu.shares` = 512 | `cpu.weight` = 20 (runc's conversion) |
//! | `--pids-limit 20` | `pids_max` | `pids.max` = 20 | `pids.max` = 20 |
//! | `--cpuset-cpus 0` | `cpuset_cpus` | `cpuset.cpus` = 0 | `cpuset.cpus` = 0 |
//!
//! Docker's default when only `--memory` is given is memory+swap = twice the
//! memory; this library writes only what it is told, the caller (the engine)
//! applies such defaults.
//!
//! See the kernel's Documentation/admin-guide/cgroup-v1/memory.rst,
//! cgroup-v1/pids.rst, scheduler/sched-bwc.rst and cgroup-v2.rst.

use std::fmt;

/// Memory plus swap (Docker's `--memory-swap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// No limit on swap (`-1` on v1, `max` on v2).
    Unlimited,
    /// Memory plus swap together may use this many bytes. Equal to the
    /// memory limit means "no swap at all".
    Total(u64),
}

/// CPU bandwidth: at most `quota_us` of CPU time in every `period_us` of wall
/// time, summed over all CPUs. `--cpus 1.5` is 150000 per 100000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpus {
    /// CPU time allowed per period, in microseconds.
    pub quota_us: u64,
    /// The period, in microseconds (the kernel accepts 1 ms to 1 s).
    pub period_us: u64,
}

impl Cpus {
    /// The default period, as in Docker and the kernel: 100 ms.
    pub const DEFAULT_PERIOD_US: u64 = 100_000;

    /// `--cpus N`: N cores' worth of time in each 100 ms period.
    pub fn new(cpus: f64) -> Cpus {
        Cpus {
            quota_us: (cpus * Cpus::DEFAULT_PERIOD_US as f64).round() as u64,
            period_us: Cpus::DEFAULT_PERIOD_US,
        }
    }

    /// The number of cores this amounts to.
    pub fn cores(&self) -> f64 {
        self.quota_us as f64 / self.period_us as f64
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cores())
    }
}

/// The limits of one group. `None` leaves a setting as the kernel has it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// Hard memory limit in bytes (`--memory`).
    pub memory_max: Option<u64>,
    /// Memory plus swap (`--memory-swap`). Needs `memory_max`.
    pub memory_swap: Option<Swap>,
    /// CPU bandwidth (`--cpus`, or `--cpu-quota` with `--cpu-period`).
    pub cpus: Option<Cpus>,
    /// Relative CPU weight on the v1 scale, 2..=262144, default 1024 (`--cpu-shares`).
    pub cpu_shares: Option<u64>,
    /// Maximum number of tasks (processes and threads) (`--pids-limit`).
    pub pids_max: Option<u64>,
    /// CPUs the group may run on, e.g. `0-1` or `0,2` (`--cpuset-cpus`).
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the group may allocate from (`--cpuset-mems`).
    pub cpuset_mems: Option<String>,
}

impl Resources {
    /// Checks ranges the kernel would refuse with a less helpful EINVAL.
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_max == Some(0) {
            return Err("memory_max must be more than 0 bytes".into());
        }
        match (self.memory_swap, self.memory_max) {
            (Some(_), None) => {
                return Err(
                    "memory_swap needs memory_max (Docker: --memory-swap needs --memory)".into(),
                )
            }
            (Some(Swap::Total(total)), Some(max)) if total < max => {
                return Err(format!(
                "memory_swap ({total}) is memory plus swap and must be at least memory_max ({max})"
            ))
            }
            _ => {}
        }
        if let Some(cpus) = self.cpus {
            if !(1_000..=1_000_000).contains(&cpus.period_us) {
                return Err(format!(
                    "cpu period {} us is outside 1000..=1000000",
                    cpus.period_us
                ));
            }
            if cpus.quota_us < 1_000 {
                return Err(format!(
                    "cpu quota {} us is below the kernel's minimum of 1000 us (--cpus {} is too small)",
                    cpus.quota_us, cpus
                ));
            }
        }
        if let Some(shares) = self.cpu_shares {
            if !(2..=262_144).contains(&shares) {
                return Err(format!("cpu_shares {shares} is outside 2..=262144"));
            }
        }
        if self.pids_max == Some(0) {
            return Err("pids_max 0 would forbid even the first process".into());
        }
        Ok(())
    }
}

/// runc's conversion from v1 shares (2..262144) to v2 weight (1..10000), so
/// that `--cpu-shares 1024` (the default) maps near the v2 default of 100.
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.saturating_sub(2) * 9_999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_round_to_quota_per_100ms() {
        assert_eq!(
            Cpus::new(0.5),
            Cpus {
                quota_us: 50_000,
                period_us: 100_000
            }
        );
        assert_eq!(Cpus::new(1.5).quota_us, 150_000);
    }

    #[test]
    fn shares_convert_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn validation_explains_bad_values() {
        let r = Resources {
            memory_swap: Some(Swap::Total(10)),
            ..Default::default()
        };
        assert!(r.validate().unwrap_err().contains("needs memory_max"));
        let r = Resources {
            memory_max: Some(100),
            memory_swap: Some(Swap::Total(10)),
            ..Default::default()
        };
        assert!(r.validate().unwrap_err().contains("at least"));
        let r = Resources {
            cpus: Some(Cpus::new(0.001)),
            ..Default::default()
        };
        assert!(r.validate().unwrap_err().contains("minimum"));
        assert!(Resources::default().validate().is_ok());
    }
}
