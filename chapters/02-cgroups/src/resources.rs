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
//!
//! The rest of the OCI runtime spec's `linux.resources` (what `docker run`
//! flags such as `--memory-reservation`, `--oom-kill-disable` or
//! `--blkio-weight` become):
//!
//! | OCI field | [`Resources`] field | cgroup v1 file | cgroup v2 file |
//! | --- | --- | --- | --- |
//! | `memory.reservation` | `memory_reservation` | `memory.soft_limit_in_bytes` | `memory.low` |
//! | `memory.swappiness` | `memory_swappiness` | `memory.swappiness` | (none) |
//! | `memory.disableOOMKiller` | `oom_kill_disable` | `memory.oom_control` = 1 | (none) |
//! | `memory.kernel` | `kernel_memory` | `memory.kmem.limit_in_bytes` | (none) |
//! | `memory.kernelTCP` | `kernel_tcp` | `memory.kmem.tcp.limit_in_bytes` | (none) |
//! | `cpu.realtimePeriod`, `realtimeRuntime` | `cpu_rt_period`, `cpu_rt_runtime` | `cpu.rt_period_us`, `cpu.rt_runtime_us` | (none) |
//! | `cpu.idle` | `cpu_idle` | (none) | `cpu.idle` |
//! | `blockIO.weight` | `blkio_weight` | `blkio.weight` | `io.weight` = `default N` |
//! | `blockIO.leafWeight` | `blkio_leaf_weight` | `blkio.leaf_weight` | (none) |
//! | `blockIO.weightDevice` | `blkio_weight_devices` | `blkio.weight_device` = `8:0 500` | `io.weight` = `8:0 500` |
//! | `blockIO.throttleReadBpsDevice` … | `blkio_throttle` | `blkio.throttle.read_bps_device` = `8:0 1048576` | `io.max` = `8:0 rbps=1048576` |
//! | `hugepageLimits` | `hugepage_limits` | `hugetlb.2MB.limit_in_bytes` | `hugetlb.2MB.max` |
//! | `network.classID` | `net_class_id` | `net_cls.classid` | (none) |
//! | `network.priorities` | `net_priorities` | `net_prio.ifpriomap` = `eth0 5` | (none) |
//! | `rdma` | `rdma` | `rdma.max` = `mlx4_0 hca_handle=2` | `rdma.max` |
//! | `unified` | `unified` | (none) | the file named by the key |
//!
//! A value with "(none)" on the host's version, or whose file the kernel does
//! not provide (an option compiled out, a file removed in newer kernels), is
//! an error naming the setting and the file: never silently dropped.
//!
//! Docker's default when only `--memory` is given is memory+swap = twice the
//! memory; this library writes only what it is told, the caller (the engine)
//! applies such defaults.
//!
//! See the kernel's Documentation/admin-guide/cgroup-v1/memory.rst,
//! cgroup-v1/pids.rst, scheduler/sched-bwc.rst and cgroup-v2.rst.

use std::fmt;

use crate::layout::Controller;

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
    /// Soft limit: reclaimed down to under memory pressure (`--memory-reservation`).
    pub memory_reservation: Option<u64>,
    /// How eagerly anonymous memory is swapped, 0..=100 (`--memory-swappiness`). v1 only.
    pub memory_swappiness: Option<u64>,
    /// Tasks wait for memory instead of being OOM-killed (`--oom-kill-disable`). v1 only.
    pub oom_kill_disable: bool,
    /// Kernel memory limit in bytes (`--kernel-memory`; removed from newer kernels). v1 only.
    pub kernel_memory: Option<i64>,
    /// Kernel TCP buffer limit in bytes. v1 only.
    pub kernel_tcp: Option<i64>,
    /// Real-time CPU time per period in µs (needs CONFIG_RT_GROUP_SCHED). v1 only.
    pub cpu_rt_runtime: Option<i64>,
    /// The real-time period in µs. v1 only.
    pub cpu_rt_period: Option<u64>,
    /// 1: schedule the group as SCHED_IDLE. v2 only.
    pub cpu_idle: Option<i64>,
    /// Block I/O weight, 10..=1000 (`--blkio-weight`).
    pub blkio_weight: Option<u16>,
    /// Weight of the group's own tasks against its children. v1 only.
    pub blkio_leaf_weight: Option<u16>,
    /// Per-device weights (`--blkio-weight-device`).
    pub blkio_weight_devices: Vec<DeviceWeight>,
    /// Per-device rate limits (`--device-read-bps` and friends).
    pub blkio_throttle: Vec<Throttle>,
    /// Huge page limits: (page size as the kernel names it, `2MB`; bytes).
    pub hugepage_limits: Vec<(String, u64)>,
    /// The net_cls class id tagged on the group's packets. v1 only.
    pub net_class_id: Option<u32>,
    /// Per-interface priorities of the group's packets: (interface, priority). v1 only.
    pub net_priorities: Vec<(String, u32)>,
    /// RDMA limits: (device, hca handles, hca objects).
    pub rdma: Vec<(String, Option<u32>, Option<u32>)>,
    /// Raw cgroup v2 files: name to value (`memory.high` = `1G`). v2 only.
    pub unified: std::collections::BTreeMap<String, String>,
}

/// A weight for one block device (`major:minor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceWeight {
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// Weight, 10..=1000.
    pub weight: Option<u16>,
    /// Leaf weight (v1 only).
    pub leaf_weight: Option<u16>,
}

/// Which rate a [`Throttle`] limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleKind {
    /// Bytes read per second.
    ReadBps,
    /// Bytes written per second.
    WriteBps,
    /// Read operations per second.
    ReadIops,
    /// Write operations per second.
    WriteIops,
}

impl ThrottleKind {
    /// The v1 file (`blkio.throttle.read_bps_device`).
    pub fn v1_file(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "blkio.throttle.read_bps_device",
            ThrottleKind::WriteBps => "blkio.throttle.write_bps_device",
            ThrottleKind::ReadIops => "blkio.throttle.read_iops_device",
            ThrottleKind::WriteIops => "blkio.throttle.write_iops_device",
        }
    }

    /// The v2 key in `io.max` (`rbps`).
    pub fn v2_key(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "rbps",
            ThrottleKind::WriteBps => "wbps",
            ThrottleKind::ReadIops => "riops",
            ThrottleKind::WriteIops => "wiops",
        }
    }
}

/// A rate limit on one block device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    /// What is limited.
    pub kind: ThrottleKind,
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// The rate.
    pub rate: u64,
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
        if let Some(s) = self.memory_swappiness {
            if s > 100 {
                return Err(format!("memory_swappiness {s} is outside 0..=100"));
            }
        }
        for w in self.blkio_weight.iter().chain(&self.blkio_leaf_weight) {
            if !(10..=1000).contains(w) {
                return Err(format!("block I/O weight {w} is outside 10..=1000"));
            }
        }
        for name in self.unified.keys() {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                return Err(format!("unified key {name:?} is not a cgroup file name"));
            }
        }
        for (size, _) in &self.hugepage_limits {
            if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("hugepage size {size:?} is not a size such as 2MB"));
            }
        }
        Ok(())
    }

    /// The controllers these limits need beyond the ones every group gets
    /// ([`Controller::managed`]): the group is made in their trees too.
    pub fn extra_controllers(&self) -> Vec<Controller> {
        let mut out = Vec::new();
        if self.blkio_weight.is_some()
            || self.blkio_leaf_weight.is_some()
            || !self.blkio_weight_devices.is_empty()
            || !self.blkio_throttle.is_empty()
        {
            out.extend([Controller::Blkio, Controller::Io]);
        }
        if !self.hugepage_limits.is_empty() {
            out.push(Controller::Hugetlb);
        }
        if self.net_class_id.is_some() {
            out.push(Controller::Other("net_cls".into()));
        }
        if !self.net_priorities.is_empty() {
            out.push(Controller::Other("net_prio".into()));
        }
        if !self.rdma.is_empty() {
            out.push(Controller::Other("rdma".into()));
        }
        out
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
