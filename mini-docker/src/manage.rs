//! # Container and image housekeeping: `update`, `export`, `image prune`,
//! `builder prune`
//!
//! Each is one request, as the docker CLI sends it:
//!
//! - `update` posts the changed resources to `POST /containers/{id}/update`
//!   (only the fields a flag set: an absent field keeps its value, which is
//!   how the daemon tells "unchanged" from "0");
//! - `export` streams `GET /containers/{id}/export`, a tar of the
//!   container's root filesystem, into a file or stdout;
//! - `image prune` posts `POST /images/prune?filters={"dangling":["true"]}`
//!   (`-a`: `"false"`, every image no container uses);
//! - `builder prune` posts `POST /build/prune`.
//!
//! `pause` and `unpause` are plain posts and live with `stop` in `mod.rs`.

use super::containers;
use super::http::{self, Body, Client};
use super::system::{confirm, ids, image_lines, print_section};
use super::util;
use super::Failure;
use serde_json::{json, Map, Value};

/// Flags of `update` (those of the docker CLI 20.10).
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds.
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit.
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Memory limit.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

fn bad(message: String) -> Failure {
    Failure { code: 1, message }
}

/// A size flag (`512m`, `1g`, `-1` where allowed) in bytes.
fn size(flag: &str, v: &str) -> Result<i64, Failure> {
    if v.trim() == "-1" && flag == "--memory-swap" {
        return Ok(-1);
    }
    containers::parse_bytes(v).ok_or_else(|| {
        bad(format!(
            "invalid argument \"{v}\" for \"{flag}\" flag: invalid size: '{v}'"
        ))
    })
}

/// The `UpdateConfig` body: only what a flag set.
fn update_body(a: &UpdateArgs) -> Result<Value, Failure> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    if let Some(v) = a.blkio_weight {
        put("BlkioWeight", json!(v));
    }
    if let Some(v) = a.cpu_period {
        put("CpuPeriod", json!(v));
    }
    if let Some(v) = a.cpu_quota {
        put("CpuQuota", json!(v));
    }
    if let Some(v) = a.cpu_rt_period {
        put("CpuRealtimePeriod", json!(v));
    }
    if let Some(v) = a.cpu_rt_runtime {
        put("CpuRealtimeRuntime", json!(v));
    }
    if let Some(v) = a.cpu_shares {
        put("CpuShares", json!(v));
    }
    if let Some(c) = a.cpus {
        if c <= 0.0 {
            return Err(bad(format!(
                "invalid argument \"{c}\" for \"--cpus\" flag: must be positive"
            )));
        }
        put("NanoCpus", json!((c * 1e9) as i64));
    }
    if let Some(v) = &a.cpuset_cpus {
        put("CpusetCpus", json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        put("CpusetMems", json!(v));
    }
    if let Some(v) = &a.kernel_memory {
        put("KernelMemory", json!(size("--kernel-memory", v)?));
    }
    if let Some(v) = &a.memory {
        put("Memory", json!(size("-m, --memory", v)?));
    }
    if let Some(v) = &a.memory_reservation {
        put("MemoryReservation", json!(size("--memory-reservation", v)?));
    }
    if let Some(v) = &a.memory_swap {
        put("MemorySwap", json!(size("--memory-swap", v)?));
    }
    if let Some(v) = a.pids_limit {
        put("PidsLimit", json!(v));
    }
    if let Some(r) = &a.restart {
        let policy = mini_docker_api::restart::parse_flag(r).map_err(|m| {
            bad(format!(
                "invalid argument \"{r}\" for \"--restart\" flag: {m}"
            ))
        })?;
        put("RestartPolicy", policy);
    }
    if m.is_empty() {
        return Err(bad(
            "You must provide one or more flags when using this command.".into(),
        ));
    }
    Ok(Value::Object(m))
}

/// `update`: new resource limits or restart policy for each container.
pub fn update(c: &Client, a: UpdateArgs) -> Result<u8, Failure> {
    let body = update_body(&a)?;
    let mut warnings = Vec::new();
    let code = containers::each(c, &a.containers, |c, id| {
        let v = c
            .call(
                "POST",
                &format!("/containers/{}/update", http::enc(id)),
                Body::Json(body.clone()),
            )?
            .json()?;
        if let Some(w) = v["Warnings"].as_array() {
            warnings.extend(w.iter().filter_map(|x| x.as_str().map(String::from)));
        }
        Ok(())
    });
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    code
}

/// `export [-o FILE] CONTAINER`.
pub fn export(c: &Client, container: &str, output: Option<&str>) -> Result<u8, Failure> {
    let r = c.call(
        "GET",
        &format!("/containers/{}/export", http::enc(container)),
        Body::Empty,
    )?;
    super::images::write_archive(r, output)?;
    Ok(0)
}

/// `image prune [-a] [-f]`.
pub fn image_prune(c: &Client, all: bool, force: bool) -> Result<u8, Failure> {
    let warning = if all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !force && !confirm(warning) {
        return Ok(0);
    }
    let filters = json!({"dangling": [if all { "false" } else { "true" }]}).to_string();
    let v = c
        .call(
            "POST",
            &format!("/images/prune?filters={}", http::enc(&filters)),
            Body::Empty,
        )?
        .json()?;
    print_section("Deleted Images", &image_lines(&v));
    println!(
        "Total reclaimed space: {}",
        util::human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0))
    );
    Ok(0)
}

/// `builder prune [-a] [-f]`.
pub fn builder_prune(c: &Client, all: bool, force: bool) -> Result<u8, Failure> {
    let warning = if all {
        "WARNING! This will remove all build cache."
    } else {
        "WARNING! This will remove all dangling build cache."
    };
    if !force && !confirm(warning) {
        return Ok(0);
    }
    let v = c
        .call("POST", &format!("/build/prune?all={}", all), Body::Empty)?
        .json()?;
    print_section("Deleted build cache objects", &ids(&v, "CachesDeleted"));
    println!(
        "Total reclaimed space: {}",
        util::human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0))
    );
    Ok(0)
}
