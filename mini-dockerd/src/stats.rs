//! # `docker stats`: a container's counters in Docker's JSON shape
//!
//! `GET /containers/{id}/stats?stream=false` answers one sample. There is no
//! collector in the daemon: the counters are read when asked, from chapter
//! 02's [`cgroups::Cgroup::stats`] on the container's cgroup
//! (`/mini-docker/<id>` in every hierarchy) and from the container's network
//! namespace (`/proc/<pid>/net/dev`):
//!
//! | JSON | cgroup v1 (this host is hybrid: v1 controllers) | cgroup v2 |
//! | --- | --- | --- |
//! | `cpu_stats.cpu_usage.total_usage` (ns) | `cpuacct/…/cpuacct.usage` | `cpu.stat` `usage_usec` × 1000 |
//! | `cpu_stats.system_cpu_usage` (ns) | `/proc/stat` `cpu` line, in clock ticks | the same |
//! | `memory_stats.usage` / `limit` | `memory.usage_in_bytes` / `memory.limit_in_bytes` | `memory.current` / `memory.max` |
//! | `memory_stats.stats.total_inactive_file` | `memory.stat` | `memory.stat` `inactive_file` |
//! | `pids_stats.current` / `limit` | `pids.current` / `pids.max` | the same |
//! | `networks.eth0` | `/proc/<pid>/net/dev` | the same |
//!
//! CPU % needs two samples: `precpu_stats` is read first, `cpu_stats` a
//! moment later (Docker's collector keeps the previous sample instead), and
//! the client computes `Δcontainer / Δsystem × CPUs × 100`. An unlimited
//! memory limit is reported as the host's memory, as Docker does.
//! Block I/O is not accounted (the runtime does not join the blkio tree).

use super::{ApiError, Engine, Result};
use serde_json::{json, Value};
use std::path::Path;

/// Ticks per second of `/proc/stat` (`getconf CLK_TCK`, 100 on Linux).
const CLK_TCK: u64 = 100;

/// Host CPU time in nanoseconds: the sum of the `cpu` line of `/proc/stat`.
pub fn system_cpu_ns(proc_root: &Path) -> u64 {
    let text = std::fs::read_to_string(proc_root.join("stat")).unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|x| x.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    ticks * (1_000_000_000 / CLK_TCK)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn host_memory(proc_root: &Path) -> u64 {
    let text = std::fs::read_to_string(proc_root.join("meminfo")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Interfaces of a network namespace from its `net/dev` text (without `lo`).
pub fn net_dev(text: &str) -> Value {
    let mut m = serde_json::Map::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() < 12 {
            continue;
        }
        m.insert(
            name.to_string(),
            json!({
                "rx_bytes": f[0], "rx_packets": f[1], "rx_errors": f[2], "rx_dropped": f[3],
                "tx_bytes": f[8], "tx_packets": f[9], "tx_errors": f[10], "tx_dropped": f[11],
            }),
        );
    }
    Value::Object(m)
}

/// `key value` lines of a `memory.stat` file.
fn memory_stat(dir: Option<&Path>) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(text) = dir.and_then(|d| std::fs::read_to_string(d.join("memory.stat")).ok()) {
        for l in text.lines() {
            if let Some((k, v)) = l.split_once(' ') {
                if let Ok(v) = v.trim().parse::<u64>() {
                    m.insert(k.to_string(), json!(v));
                }
            }
        }
    }
    Value::Object(m)
}

/// One CPU sample: (`cpu_stats` JSON, memory, pids) of the group at `rel`.
fn sample(layout: &cgroups::Layout, rel: &Path, proc_root: &Path) -> Result<Value> {
    let group = cgroups::Cgroup::open_at(layout, rel)
        .map_err(|e| ApiError::internal(format!("open cgroup {}: {e}", rel.display())))?;
    let stats = group.stats();
    let mem_dir = group
        .dir_for(&cgroups::Controller::Memory)
        .map(|d| d.path.clone());
    // Reading must never delete the container's group.
    let _ = group.keep();
    let stats = stats.map_err(|e| {
        ApiError::internal(format!(
            "read cgroup counters: {}",
            crate::errors::chain(&e)
        ))
    })?;
    let cpu = stats.cpu.unwrap_or_default();
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = stats.memory.unwrap_or_default();
    let pids = stats.pids.unwrap_or_default();
    Ok(json!({
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": cpu.usage_usec.unwrap_or(0) * 1000,
                "usage_in_kernelmode": 0, "usage_in_usermode": 0,
            },
            "system_cpu_usage": system_cpu_ns(proc_root),
            "online_cpus": ncpu,
            "throttling_data": {
                "periods": cpu.nr_periods, "throttled_periods": cpu.nr_throttled,
                "throttled_time": cpu.throttled_usec * 1000,
            },
        },
        "memory_stats": {
            "usage": mem.usage,
            "max_usage": mem.peak.unwrap_or(0),
            "limit": mem.limit.unwrap_or_else(|| host_memory(proc_root)),
            "failcnt": mem.oom.failcnt.unwrap_or(0),
            "stats": memory_stat(mem_dir.as_deref()),
        },
        "pids_stats": {"current": pids.current, "limit": pids.max.unwrap_or(0)},
    }))
}

impl Engine {
    /// `GET /containers/{id}/stats?stream=false` (blocking: two samples
    /// `interval` apart).
    pub fn stats(&self, key: &str, interval: std::time::Duration) -> Result<Value> {
        let c = self.find(key)?;
        let proc_root = Path::new("/proc");
        let read = super::util::rfc3339_nanos(super::util::now_nanos());
        let base = json!({
            "id": c.id, "name": format!("/{}", c.name), "read": read,
            "preread": "0001-01-01T00:00:00Z", "num_procs": 0,
            "blkio_stats": {"io_service_bytes_recursive": [], "io_serviced_recursive": []},
            "storage_stats": {},
        });
        if !c.state.running {
            // Docker answers zeros for a stopped container.
            let mut v = base;
            v["cpu_stats"] = json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}});
            v["precpu_stats"] = v["cpu_stats"].clone();
            v["memory_stats"] = json!({});
            v["pids_stats"] = json!({});
            return Ok(v);
        }
        let layout = cgroups::Layout::detect().map_err(|e| {
            ApiError::internal(format!("detect cgroups: {}", crate::errors::chain(&e)))
        })?;
        let rel = c.cgroups_path();
        let pre = sample(&layout, Path::new(&rel), proc_root)?;
        let preread = super::util::rfc3339_nanos(super::util::now_nanos());
        std::thread::sleep(interval);
        let now = sample(&layout, Path::new(&rel), proc_root)?;
        let mut v = base;
        v["preread"] = json!(preread);
        v["read"] = json!(super::util::rfc3339_nanos(super::util::now_nanos()));
        v["precpu_stats"] = pre["cpu_stats"].clone();
        v["cpu_stats"] = now["cpu_stats"].clone();
        v["memory_stats"] = now["memory_stats"].clone();
        v["pids_stats"] = now["pids_stats"].clone();
        let dev = std::fs::read_to_string(proc_root.join(format!("{}/net/dev", c.state.pid)))
            .unwrap_or_default();
        if c.network_mode() != "host" {
            v["networks"] = net_dev(&dev);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("stat"),
            "cpu  10 0 5 85 0 0 0 0 0 0\ncpu0 1 2 3\n",
        )
        .unwrap();
        std::fs::write(d.path().join("meminfo"), "MemTotal:        2048 kB\n").unwrap();
        assert_eq!(system_cpu_ns(d.path()), 100 * 10_000_000);
        assert_eq!(host_memory(d.path()), 2048 * 1024);
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n  eth0: 1500 10 0 1 0 0 0 0 700 7 0 0 0 0 0 0\n";
        let v = net_dev(dev);
        assert_eq!(v["eth0"]["rx_bytes"], 1500);
        assert_eq!(v["eth0"]["tx_packets"], 7);
        assert!(v.get("lo").is_none());
    }
}
