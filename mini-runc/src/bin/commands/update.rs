//! `update`: new cgroup limits for a live container, as runc's. The limits
//! come as an OCI `LinuxResources` JSON (`--resources FILE`, or `-` for
//! stdin), and runc's single-value flags override its fields.

use clap::Args;
use mini_runc::container;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;

/// `mini-runc update [flags] ID`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// A JSON `LinuxResources` file, or `-` for stdin.
    #[arg(long, short)]
    pub resources: Option<String>,
    /// Memory limit in bytes.
    #[arg(long)]
    pub memory: Option<i64>,
    /// Memory plus swap in bytes (-1: unlimited).
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU time per period, in microseconds.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// The CPU period, in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs to run on (`0-2,4`).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to allocate from.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of tasks.
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Container id.
    pub id: String,
}

pub fn run(root: &Path, a: &UpdateArgs) -> anyhow::Result<u8> {
    let mut r: Value = match a.resources.as_deref() {
        None => json!({}),
        Some(src) => {
            let mut text = String::new();
            if src == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(src)
                    .map_err(|e| anyhow::anyhow!("read the resources file {src}: {e}"))?;
            }
            serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("the resources in {src} are not JSON: {e}"))?
        }
    };
    let mut put = |section: &str, key: &str, v: Value| r[section][key] = v;
    if let Some(v) = a.memory {
        put("memory", "limit", json!(v));
    }
    if let Some(v) = a.memory_swap {
        put("memory", "swap", json!(v));
    }
    if let Some(v) = a.cpu_share {
        put("cpu", "shares", json!(v));
    }
    if let Some(v) = a.cpu_quota {
        put("cpu", "quota", json!(v));
    }
    if let Some(v) = a.cpu_period {
        put("cpu", "period", json!(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        put("cpu", "cpus", json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        put("cpu", "mems", json!(v));
    }
    if let Some(v) = a.pids_limit {
        put("pids", "limit", json!(v));
    }
    let resources: LinuxResources = serde_json::from_value(r)
        .map_err(|e| anyhow::anyhow!("the resources are not an OCI LinuxResources: {e}"))?;
    container::update(root, &a.id, &resources)?;
    Ok(0)
}
