//! # What `POST /containers/create` accepts, field by field
//!
//! The Docker Engine API (v1.41) lets a client send about a hundred fields
//! in `Config` and `HostConfig`. The docker CLI sends nearly all of them on
//! every `run`, most at their zero value. The rule here is the project's:
//! a field is either **applied** (the table says where), or, when it carries
//! anything but its default, **refused** as an invalid parameter that names it
//! (`HostConfig.BlkioWeight is not supported by mini-dockerd`). A setting is
//! never accepted and then silently dropped.
//!
//! [`FIELDS`] is that list, and it is the documentation: each row names the
//! field, and either where the engine applies it or why it is refused.
//! [`check`] walks it at `create`, then makes Docker's own range checks,
//! with Docker's words (measured against dockerd 20.10 on this machine):
//!
//! | value | Docker's answer (invalid parameter) |
//! | --- | --- |
//! | `Memory` < 6 MiB | `Minimum memory limit allowed is 6MB` |
//! | `MemorySwap` without `Memory` | `You should always set the Memory limit when using Memoryswap limit, see usage` |
//! | `MemorySwap` < `Memory` | `Minimum memoryswap limit should be larger than memory limit, see usage` |
//! | `NanoCpus` outside 0..NCPU | `Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available` |
//! | `NanoCpus` with `CpuQuota`/`CpuPeriod` | `Conflicting options: Nano CPUs and CPU Quota cannot both be set` |
//! | `CpuPeriod` outside 1000..1000000 | `CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)` |
//! | `CpuQuota` in 1..1000 | `CPU cfs quota can not be less than 1ms (i.e. 1000)` |
//! | `CpuShares` < 0 | `shares: invalid argument` (Docker says it at start) |
//! | `ShmSize` < 0 | `SHM size can not be less than 0` |
//! | `MemorySwappiness` outside 0..100 | `Invalid value: 200, valid memory swappiness range is 0-100` |
//! | `OomScoreAdj` outside ±1000 | `Invalid value 5000, range for oom score adj is [-1000, 1000]` |
//! | `Runtime` not registered (checked against [`super::runtimes::Registry`] first) | `Unknown runtime specified foo` |
//!
//! The applied resources become the OCI spec's `linux.resources` ([`super::spec`]),
//! which the runtime writes into the container's cgroup:
//!
//! | flag | `HostConfig` | cgroup v1 file | cgroup v2 file |
//! | --- | --- | --- | --- |
//! | `-m 64m` | `Memory` | `memory.limit_in_bytes` | `memory.max` |
//! | (none) / `--memory-swap N` / `-1` | `MemorySwap` | `memory.memsw.limit_in_bytes` = 2×memory / N / -1 | `memory.swap.max` = swap − memory |
//! | `--cpus 1.5` | `NanoCpus` | `cpu.cfs_quota_us` / `cpu.cfs_period_us` | `cpu.max` |
//! | `--cpu-quota`, `--cpu-period` | `CpuQuota`, `CpuPeriod` | same | same |
//! | `--cpu-shares` | `CpuShares` | `cpu.shares` | `cpu.weight` |
//! | `--cpuset-cpus`, `--cpuset-mems` | `CpusetCpus`, `CpusetMems` | `cpuset.cpus`, `cpuset.mems` | same |
//! | `--pids-limit` | `PidsLimit` | `pids.max` | `pids.max` |
//! | `--cgroup-parent /p` | `CgroupParent` | the cgroup is `/p/<id>` instead of `/mini-docker/<id>` | same |
//!
//! and, outside the cgroup, `--shm-size` (`ShmSize`, the `size=` of the
//! `/dev/shm` tmpfs), `--sysctl` (`Sysctls`, `linux.sysctl`: only the
//! namespaced ones, and `net.*` only with a network namespace of its own),
//! `--oom-score-adj` (`process.oomScoreAdj`).

use super::{ApiError, Result};
use serde_json::Value;

/// Where a `create` field stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// The engine applies it; the text says where.
    Applied(&'static str),
    /// Accepted only at its default; the text says why.
    Refused(&'static str),
}

/// Which object of the create body a field is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The top level (Docker's `Config`).
    Config,
    /// `HostConfig`.
    HostConfig,
}

impl Section {
    fn prefix(self) -> &'static str {
        match self {
            Section::Config => "Config.",
            Section::HostConfig => "HostConfig.",
        }
    }
}

/// One row of [`FIELDS`].
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// `Config` or `HostConfig`.
    pub section: Section,
    /// The JSON key.
    pub name: &'static str,
    /// Applied, or refused unless at its default.
    pub support: Support,
    /// Values, besides null/0/""/false/[]/{}, that mean "the default".
    pub defaults: &'static [&'static str],
}

const fn f(
    section: Section,
    name: &'static str,
    support: Support,
    defaults: &'static [&'static str],
) -> Field {
    Field {
        section,
        name,
        support,
        defaults,
    }
}

use Section::{Config as C, HostConfig as H};
use Support::{Applied as A, Refused as R};

/// Every field of `Config` and `HostConfig` in Engine API v1.41, and what
/// the engine does with it.
#[rustfmt::skip]
pub const FIELDS: &[Field] = &[
    // Config.
    f(C, "Hostname", A("the UTS namespace's hostname, /etc/hostname"), &[]),
    f(C, "Domainname", A("the spec's domainname"), &[]),
    f(C, "User", A("process.user, resolved in the image's /etc/passwd"), &[]),
    f(C, "AttachStdin", A("the attach streams"), &[]),
    f(C, "AttachStdout", A("the attach streams"), &[]),
    f(C, "AttachStderr", A("the attach streams"), &[]),
    f(C, "ExposedPorts", A("the container's exposed ports (-P)"), &[]),
    f(C, "Tty", A("a pty from the runtime's console socket"), &[]),
    f(C, "OpenStdin", A("the shim keeps a stdin pipe"), &[]),
    f(C, "StdinOnce", A("the shim closes stdin after the first attacher"), &[]),
    f(C, "Env", A("process.env"), &[]),
    f(C, "Cmd", A("process.args"), &[]),
    f(C, "Healthcheck", A("the health checker (health.rs)"), &[]),
    f(C, "ArgsEscaped", R("it is for Windows containers"), &[]),
    f(C, "Image", A("the root filesystem"), &[]),
    f(C, "Volumes", A("anonymous volumes"), &[]),
    f(C, "WorkingDir", A("process.cwd"), &[]),
    f(C, "Entrypoint", A("process.args"), &[]),
    f(C, "NetworkDisabled", R("use --network none"), &[]),
    f(C, "MacAddress", R("addresses are chosen by the network"), &[]),
    f(C, "OnBuild", R("ONBUILD triggers belong to a build"), &[]),
    f(C, "Labels", A("the container's labels"), &[]),
    f(C, "StopSignal", A("the signal of `stop`"), &[]),
    f(C, "StopTimeout", A("the default timeout of `stop`"), &[]),
    f(C, "Shell", R("SHELL belongs to a build"), &[]),
    // HostConfig: the container.
    f(H, "Binds", A("bind mounts and named volumes"), &[]),
    f(H, "ContainerIDFile", A("by the client, which writes the file"), &[]),
    f(H, "LogConfig", A("the shim's json-file log (max-size, max-file)"), &[]),
    f(H, "NetworkMode", A("bridge, host, none, container:, user networks"), &[]),
    f(H, "PortBindings", A("DNAT rules and the userland proxy"), &[]),
    f(H, "RestartPolicy", A("the daemon's restart manager"), &[]),
    f(H, "AutoRemove", A("removed after its exit"), &[]),
    f(H, "VolumeDriver", R("only the local volume driver exists"), &["local"]),
    f(H, "VolumesFrom", A("the other container's mounts"), &[]),
    f(H, "Mounts", A("bind, volume and tmpfs mounts"), &[]),
    f(H, "ConsoleSize", A("the terminal's size (the client's resize call that follows sets it)"), &[]),
    f(H, "Annotations", R("OCI annotations are not passed on"), &[]),
    f(H, "CapAdd", A("process.capabilities"), &[]),
    f(H, "CapDrop", A("process.capabilities"), &[]),
    f(H, "Capabilities", R("use CapAdd and CapDrop"), &[]),
    f(H, "CgroupnsMode", A("host: no cgroup namespace (cgroup v1)"), &["host"]),
    f(H, "Dns", A("the container's resolv.conf"), &[]),
    f(H, "DnsOptions", A("the container's resolv.conf"), &[]),
    f(H, "DnsSearch", A("the container's resolv.conf"), &[]),
    f(H, "ExtraHosts", A("the container's /etc/hosts"), &[]),
    f(H, "GroupAdd", A("process.user.additionalGids, names from the image's /etc/group"), &[]),
    f(H, "IpcMode", A("a private IPC namespace"), &["private", "shareable"]),
    f(H, "Cgroup", R("joining another container's cgroup namespace"), &[]),
    f(H, "Links", R("legacy links: use a user-defined network"), &[]),
    f(H, "OomScoreAdj", A("process.oomScoreAdj"), &[]),
    f(H, "PidMode", R("only a private PID namespace"), &["private"]),
    f(H, "Privileged", A("all capabilities and host devices, no seccomp, writable /sys"), &[]),
    f(H, "PublishAllPorts", A("-P: a host port for each exposed port"), &[]),
    f(H, "ReadonlyRootfs", A("root.readonly"), &[]),
    f(H, "SecurityOpt", A("no-new-privileges, seccomp=unconfined or a Docker profile"), &[]),
    f(H, "StorageOpt", R("the layer driver takes no options"), &[]),
    f(H, "Tmpfs", A("tmpfs mounts"), &[]),
    f(H, "UTSMode", R("only a private UTS namespace"), &["private"]),
    f(H, "UsernsMode", R("no user namespace remapping"), &["private"]),
    f(H, "ShmSize", A("the size of the /dev/shm tmpfs"), &[]),
    f(H, "Sysctls", A("linux.sysctl (namespaced ones only)"), &[]),
    f(H, "Runtime", A("a runtime of the registry (--add-runtime)"), &[]),
    f(H, "Isolation", R("Linux has only the default isolation"), &["default"]),
    f(H, "MaskedPaths", R("the default masked paths apply"), &[]),
    f(H, "ReadonlyPaths", R("the default read-only paths apply"), &[]),
    f(H, "Init", A("tini bind-mounted at /sbin/docker-init, process.args[0]"), &[]),
    // HostConfig: resources.
    f(H, "CpuShares", A("cpu.shares / cpu.weight"), &[]),
    f(H, "Memory", A("memory.limit_in_bytes / memory.max"), &[]),
    f(H, "NanoCpus", A("the CFS quota over a 100 ms period"), &[]),
    f(H, "CgroupParent", A("the cgroup's parent directory"), &[]),
    f(H, "BlkioWeight", R("the blkio controller is not set up"), &[]),
    f(H, "BlkioWeightDevice", R("the blkio controller is not set up"), &[]),
    f(H, "BlkioDeviceReadBps", R("the blkio controller is not set up"), &[]),
    f(H, "BlkioDeviceWriteBps", R("the blkio controller is not set up"), &[]),
    f(H, "BlkioDeviceReadIOps", R("the blkio controller is not set up"), &[]),
    f(H, "BlkioDeviceWriteIOps", R("the blkio controller is not set up"), &[]),
    f(H, "CpuPeriod", A("cpu.cfs_period_us / cpu.max"), &[]),
    f(H, "CpuQuota", A("cpu.cfs_quota_us / cpu.max"), &[]),
    f(H, "CpuRealtimePeriod", R("real-time scheduling is not set up"), &[]),
    f(H, "CpuRealtimeRuntime", R("real-time scheduling is not set up"), &[]),
    f(H, "CpusetCpus", A("cpuset.cpus"), &[]),
    f(H, "CpusetMems", A("cpuset.mems"), &[]),
    f(H, "Devices", A("linux.devices and an allow rule for each"), &[]),
    f(H, "DeviceCgroupRules", A("linux.resources.devices"), &[]),
    f(H, "DeviceRequests", R("no GPU or device drivers"), &[]),
    f(H, "KernelMemory", R("kernel memory limits are deprecated"), &[]),
    f(H, "KernelMemoryTCP", R("kernel memory limits are deprecated"), &[]),
    f(H, "MemoryReservation", R("soft memory limits are not set"), &[]),
    f(H, "MemorySwap", A("memory.memsw.limit_in_bytes / memory.swap.max"), &[]),
    f(H, "MemorySwappiness", R("memory.swappiness is not set"), &["-1"]),
    f(H, "OomKillDisable", R("the OOM killer stays on"), &[]),
    f(H, "PidsLimit", A("pids.max"), &[]),
    f(H, "Ulimits", A("process.rlimits"), &[]),
    f(H, "CpuCount", R("it is for Windows containers"), &[]),
    f(H, "CpuPercent", R("it is for Windows containers"), &[]),
    f(H, "IOMaximumIOps", R("it is for Windows containers"), &[]),
    f(H, "IOMaximumBandwidth", R("it is for Windows containers"), &[]),
];

/// Whether a value is a field's default: null, zero, "", false, an empty
/// array or object, an array of zeros (`ConsoleSize: [0, 0]`), or one of
/// the row's own defaults.
fn is_default(v: &Value, defaults: &[&str]) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0) || defaults.contains(&n.to_string().as_str()),
        Value::String(s) => s.is_empty() || defaults.contains(&s.as_str()),
        Value::Array(a) => a.iter().all(|x| x.as_i64() == Some(0)),
        Value::Object(o) => o.is_empty(),
    }
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::bad(m)
}

/// Refuses every refused field that is not at its default.
pub fn check_fields(body: &Value) -> Result<()> {
    let hc = body.get("HostConfig").cloned().unwrap_or(Value::Null);
    for fl in FIELDS {
        let Support::Refused(why) = fl.support else {
            continue;
        };
        let obj = match fl.section {
            Section::Config => body,
            Section::HostConfig => &hc,
        };
        if let Some(v) = obj.get(fl.name) {
            if !is_default(v, fl.defaults) {
                return Err(bad(format!(
                    "{}{} is not supported by mini-dockerd ({why}); got {v}",
                    fl.section.prefix(),
                    fl.name
                )));
            }
        }
    }
    // Fields of the applied rows whose other values are not supported.
    let mode = |k: &str, ok: &[&str]| -> Result<()> {
        match hc.get(k).and_then(Value::as_str) {
            Some(m) if !m.is_empty() && !ok.contains(&m) => Err(bad(format!(
                "HostConfig.{k}={m:?} is not supported by mini-dockerd (only {})",
                ok.join(", ")
            ))),
            _ => Ok(()),
        }
    };
    mode("CgroupnsMode", &["host"])?;
    mode("IpcMode", &["private", "shareable"])?;
    Ok(())
}

fn int(hc: &Value, k: &str) -> i64 {
    hc.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// Docker's checks of the resources, with Docker's messages.
pub fn check_resources(hc: &Value, ncpu: usize) -> Result<()> {
    const MIN_MEMORY: i64 = 6 * 1024 * 1024;
    let memory = int(hc, "Memory");
    if memory != 0 && memory < MIN_MEMORY {
        return Err(bad("Minimum memory limit allowed is 6MB"));
    }
    let swap = int(hc, "MemorySwap");
    if swap > 0 && memory == 0 {
        return Err(bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if swap > 0 && swap < memory {
        return Err(bad(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if let Some(s) = hc.get("MemorySwappiness").and_then(Value::as_i64) {
        if s != -1 && !(0..=100).contains(&s) {
            return Err(bad(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    let reservation = int(hc, "MemoryReservation");
    if memory > 0 && reservation > 0 && memory < reservation {
        return Err(bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    let nano = int(hc, "NanoCpus");
    if nano < 0 || nano > ncpu as i64 * 1_000_000_000 {
        return Err(bad(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    let (period, quota) = (int(hc, "CpuPeriod"), int(hc, "CpuQuota"));
    if nano > 0 && period > 0 {
        return Err(bad(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if nano > 0 && quota > 0 {
        return Err(bad(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if period > 0 && quota <= 0 {
        return Err(bad(
            "HostConfig.CpuPeriod without CpuQuota is not supported by mini-dockerd (a period alone limits nothing): give --cpu-quota too",
        ));
    }
    if quota > 0 && quota < 1000 {
        return Err(bad("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
    }
    if int(hc, "CpuShares") < 0 {
        return Err(bad("shares: invalid argument"));
    }
    if int(hc, "ShmSize") < 0 {
        return Err(bad("SHM size can not be less than 0"));
    }
    let oom = int(hc, "OomScoreAdj");
    if !(-1000..=1000).contains(&oom) {
        return Err(bad(format!(
            "Invalid value {oom}, range for oom score adj is [-1000, 1000]"
        )));
    }
    if oom < 0 {
        // Lowering it needs CAP_SYS_RESOURCE, which mini-runc's init has
        // already dropped when it writes /proc/self/oom_score_adj.
        return Err(bad(format!(
            "HostConfig.OomScoreAdj={oom} is not supported by mini-dockerd: a negative value needs CAP_SYS_RESOURCE, which the runtime has dropped when it writes it; give 0..1000"
        )));
    }
    if let Some(p) = hc.get("CgroupParent").and_then(Value::as_str) {
        if p.split('/').any(|c| c == ".." || c == ".") || p.contains('\0') {
            return Err(bad(format!(
                "HostConfig.CgroupParent {p:?}: give a path without \".\" or \"..\" components"
            )));
        }
    }
    Ok(())
}

/// Checks the sysctls for the container's network mode: only namespaced
/// ones (the runtime's own rule, [`mini_runc::config::check_sysctl`]),
/// and `net.*` only when the container has a network namespace of its own.
pub fn check_sysctls(hc: &Value, network_mode: &str) -> Result<()> {
    let Some(map) = hc.get("Sysctls").and_then(Value::as_object) else {
        return Ok(());
    };
    let own_netns = network_mode != "host" && !network_mode.starts_with("container:");
    for (k, v) in map {
        let v = v.as_str().ok_or_else(|| {
            bad(format!(
                "HostConfig.Sysctls.{k}: the value must be a string"
            ))
        })?;
        let owns = |ns: namespaces::Namespace| ns != namespaces::Namespace::Net || own_netns;
        if let Err(e) = mini_runc::config::check_sysctl(k, v, &owns) {
            if k.starts_with("net.") && !own_netns {
                // runc's words, which Docker shows.
                return Err(bad(format!(
                    "sysctl {k:?} not allowed in host network namespace"
                )));
            }
            return Err(bad(format!("HostConfig.Sysctls: {e}")));
        }
    }
    Ok(())
}

/// Whether a value is Go's zero value all the way down: the docker CLI
/// sends an endpoint's operational fields (`NetworkID`, `IPAddress`,
/// `IPPrefixLen`, …) as `""`, `0` and `null`.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.values().all(is_zero),
        Value::Array(a) => a.is_empty(),
        v => is_default(v, &[]),
    }
}

/// An endpoint's settings, at create (`NetworkingConfig.EndpointsConfig.NET`)
/// or at `network connect` (`EndpointConfig`). Only `Aliases` is applied:
/// the network assigns the address, so a static one (`--ip`, `--ip6`,
/// `--link-local-ip`: `IPAMConfig`), legacy `Links`, `DriverOpts` or an
/// endpoint's own `MacAddress` would be ignored, and each is refused by
/// name instead.
pub fn check_endpoint(
    prefix: &str,
    ep: &mini_docker_api::container::EndpointSettings,
) -> Result<()> {
    match ep.other.iter().find(|(_, v)| !is_zero(v)) {
        Some((k, v)) => Err(bad(format!(
            "{prefix}.{k} is not supported by mini-dockerd (only Aliases is applied: the network assigns addresses, and links are legacy); got {v}"
        ))),
        None => Ok(()),
    }
}

/// `NetworkingConfig` of a create body: every endpoint's settings checked.
pub fn check_networking(body: &Value) -> Result<()> {
    let Some(v) = body.get("NetworkingConfig").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let given: mini_docker_api::container::NetworkingConfig =
        serde_json::from_value(v.clone()).map_err(|e| bad(format!("NetworkingConfig: {e}")))?;
    for (net, ep) in given.endpoints_config.iter().flatten() {
        if let Some(ep) = ep {
            check_endpoint(&format!("NetworkingConfig.EndpointsConfig.{net}"), ep)?;
        }
    }
    Ok(())
}

/// All the create-time checks of this module.
pub fn check(body: &Value, network_mode: &str) -> Result<()> {
    let hc = body.get("HostConfig").cloned().unwrap_or(Value::Null);
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // Docker's range checks first: a bad value gets Docker's words even
    // for a field that would be refused anyway.
    check_resources(&hc, ncpu)?;
    check_fields(body)?;
    check_networking(body)?;
    check_sysctls(&hc, network_mode)
}

/// What `MemorySwap` becomes in the spec's `memory.swap` (memory plus
/// swap): Docker's rule. Without `--memory-swap`, twice the memory; `-1`
/// is unlimited; otherwise the given total. `None` when there is no memory
/// limit (swap alone is refused at create).
pub fn memory_swap(memory: i64, swap: i64) -> Option<i64> {
    if memory <= 0 {
        return None;
    }
    Some(match swap {
        0 => memory * 2,
        s if s < 0 => -1,
        s => s,
    })
}

/// Whether this host's memory cgroup can limit swap: v1 has
/// `memory.memsw.limit_in_bytes` only when the kernel accounts swap
/// (`swapaccount=1`); v2 has `memory.swap.max` in non-root groups.
pub fn host_limits_swap() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        let Ok(layout) = cgroups::Layout::detect() else {
            return false;
        };
        let Some(h) = layout.hierarchy_for(&cgroups::Controller::Memory) else {
            return false;
        };
        match h.version {
            cgroups::Version::V1 => h.mount_point.join("memory.memsw.limit_in_bytes").exists(),
            cgroups::Version::V2 => std::fs::read_dir(&h.mount_point)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.path().join("memory.swap.max").exists()),
        }
    })
}

/// The warning Docker gives when the host cannot limit swap (and the
/// limit is then left out).
pub const NO_SWAP_LIMIT: &str = "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";

/// The warnings of a create (Docker's `Warnings`, which the docker CLI
/// prints as `WARNING: …`).
pub fn warnings(body: &Value) -> Vec<String> {
    let memory = int(&body["HostConfig"], "Memory");
    let mut out = Vec::new();
    if memory > 0 && !host_limits_swap() {
        out.push(NO_SWAP_LIMIT.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the docker CLI 20.10 sends for `run --network net --network-alias
    /// db` passes; a static address, links or driver options are refused by
    /// name, at create and at connect.
    #[test]
    fn endpoint_settings_other_than_aliases_are_refused_by_name() {
        let cli = json!({"NetworkingConfig": {"EndpointsConfig": {"net": {
            "IPAMConfig": null, "Links": null, "Aliases": ["db"], "NetworkID": "",
            "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "", "DriverOpts": null}}}});
        assert!(check_networking(&cli).is_ok());
        assert!(check_networking(&json!({"NetworkingConfig": null})).is_ok());
        for (k, v) in [
            ("IPAMConfig", json!({"IPv4Address": "10.1.2.3"})),
            ("Links", json!(["web:w"])),
            ("DriverOpts", json!({"a": "b"})),
            ("MacAddress", json!("02:42:ac:11:00:09")),
        ] {
            let body = json!({"NetworkingConfig": {"EndpointsConfig": {"net": {k: v}}}});
            let e = check_networking(&body).unwrap_err().to_string();
            assert!(
                e.contains(&format!(
                    "NetworkingConfig.EndpointsConfig.net.{k} is not supported"
                )),
                "{e}"
            );
        }
        // An empty IPAM config (every address "") is no setting.
        let body = json!({"NetworkingConfig": {"EndpointsConfig": {"net": {
            "IPAMConfig": {"IPv4Address": "", "IPv6Address": "", "LinkLocalIPs": []}}}}});
        assert!(check_networking(&body).is_ok());
    }

    /// Every refused row: its default passes, a non-default value is
    /// refused with a message that names the field.
    #[test]
    fn refused_fields_pass_at_default_and_name_themselves_otherwise() {
        let mut refused = 0;
        for fl in FIELDS {
            let Support::Refused(_) = fl.support else {
                continue;
            };
            refused += 1;
            let wrap = |v: Value| match fl.section {
                Section::Config => json!({ fl.name: v }),
                Section::HostConfig => json!({ "HostConfig": { fl.name: v } }),
            };
            for d in [json!(null), json!(0), json!(""), json!(false), json!([])] {
                assert!(check_fields(&wrap(d.clone())).is_ok(), "{} {d}", fl.name);
            }
            for d in fl.defaults {
                let v = d.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(d));
                assert!(check_fields(&wrap(v)).is_ok(), "{} {d}", fl.name);
            }
            for v in [
                json!(7),
                json!("x"),
                json!(true),
                json!(["a"]),
                json!({"a": 1}),
            ] {
                let e = check_fields(&wrap(v.clone())).unwrap_err();
                assert_eq!(e.kind, crate::ErrorKind::InvalidParameter);
                let want = format!(
                    "{}{} is not supported by mini-dockerd",
                    fl.section.prefix(),
                    fl.name
                );
                assert!(e.message.starts_with(&want), "{}: {}", fl.name, e.message);
            }
        }
        assert!(refused > 20);
    }

    /// The typed model drops no row of the table: each `HostConfig` field,
    /// at a value it accepts, reads back unchanged, and the applied ones
    /// are typed fields (not the verbatim `other`).
    #[test]
    fn the_typed_host_config_keeps_every_field() {
        use mini_docker_api::container::HostConfig;
        let samples = [
            json!(7),
            json!("x"),
            json!(true),
            json!(["a"]),
            json!([7, 8]),
            json!({"a": "b"}),
            json!({"Type": "json-file", "Config": {"max-size": "1m"}}),
            json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}),
            json!({"Name": "always", "MaximumRetryCount": 0}),
            json!([{"Type": "bind", "Source": "/a", "Target": "/b"}]),
            json!([{"Name": "nofile", "Soft": 1, "Hard": 2}]),
            json!([{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/z", "CgroupPermissions": "r"}]),
        ];
        for fl in FIELDS.iter().filter(|f| f.section == Section::HostConfig) {
            let typed = samples.iter().find_map(|v| {
                let hc: HostConfig = serde_json::from_value(json!({ fl.name: v })).ok()?;
                (&hc.to_value()[fl.name] == v).then_some(hc)
            });
            let Some(hc) = typed else {
                panic!("{}: no sample reads back unchanged", fl.name)
            };
            if let Support::Applied(_) = fl.support {
                assert!(!hc.other.contains_key(fl.name), "{} is not typed", fl.name);
            }
        }
    }

    /// Applied rows never trip the table, whatever their value.
    #[test]
    fn applied_fields_pass_the_table() {
        for fl in FIELDS {
            if let Support::Applied(_) = fl.support {
                let b = match fl.section {
                    Section::Config => json!({ fl.name: 7 }),
                    Section::HostConfig => json!({ "HostConfig": { fl.name: 7 } }),
                };
                assert!(check_fields(&b).is_ok(), "{}", fl.name);
            }
        }
    }

    /// The table has each field once, and every field the docker CLI 20.10
    /// sends on `run` (captured from its request) is in it.
    #[test]
    fn the_table_covers_what_the_docker_cli_sends() {
        let mut seen = std::collections::HashSet::new();
        for fl in FIELDS {
            assert!(
                seen.insert((fl.section.prefix(), fl.name)),
                "{} twice",
                fl.name
            );
        }
        let cli_sends = [
            "Binds",
            "ContainerIDFile",
            "LogConfig",
            "NetworkMode",
            "PortBindings",
            "RestartPolicy",
            "AutoRemove",
            "VolumeDriver",
            "VolumesFrom",
            "CapAdd",
            "CapDrop",
            "CgroupnsMode",
            "Dns",
            "DnsOptions",
            "DnsSearch",
            "ExtraHosts",
            "GroupAdd",
            "IpcMode",
            "Cgroup",
            "Links",
            "OomScoreAdj",
            "PidMode",
            "Privileged",
            "PublishAllPorts",
            "ReadonlyRootfs",
            "SecurityOpt",
            "UTSMode",
            "UsernsMode",
            "ShmSize",
            "ConsoleSize",
            "Isolation",
            "CpuShares",
            "Memory",
            "NanoCpus",
            "CgroupParent",
            "BlkioWeight",
            "BlkioWeightDevice",
            "BlkioDeviceReadBps",
            "BlkioDeviceWriteBps",
            "BlkioDeviceReadIOps",
            "BlkioDeviceWriteIOps",
            "CpuPeriod",
            "CpuQuota",
            "CpuRealtimePeriod",
            "CpuRealtimeRuntime",
            "CpusetCpus",
            "CpusetMems",
            "Devices",
            "DeviceCgroupRules",
            "DeviceRequests",
            "KernelMemory",
            "KernelMemoryTCP",
            "MemoryReservation",
            "MemorySwap",
            "MemorySwappiness",
            "OomKillDisable",
            "PidsLimit",
            "Ulimits",
            "CpuCount",
            "CpuPercent",
            "IOMaximumIOps",
            "IOMaximumBandwidth",
            "MaskedPaths",
            "ReadonlyPaths",
        ];
        for k in cli_sends {
            assert!(seen.contains(&("HostConfig.", k)), "HostConfig.{k} missing");
        }
        // The CLI's defaults (`MemorySwappiness: -1`, `ConsoleSize: [0, 0]`) pass.
        let cli = json!({"HostConfig": {"MemorySwappiness": -1, "ConsoleSize": [0, 0],
            "LogConfig": {"Type": "", "Config": {}}, "BlkioWeightDevice": [], "Devices": []}});
        check_fields(&cli).unwrap();
    }

    #[test]
    fn dockers_range_checks_and_words() {
        let e = |hc: Value| check_resources(&hc, 2).unwrap_err().message;
        assert_eq!(
            e(json!({"Memory": 1000})),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(
            e(json!({"Memory": -5})),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(
            e(json!({"NanoCpus": -1})),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        assert!(e(json!({"NanoCpus": 3_000_000_000i64})).starts_with("Range of CPUs"));
        assert_eq!(e(json!({"CpuShares": -1})), "shares: invalid argument");
        assert_eq!(e(json!({"ShmSize": -1})), "SHM size can not be less than 0");
        assert!(e(json!({"MemorySwap": 100_000_000})).starts_with("You should always set"));
        assert!(e(json!({"Memory": 100_000_000, "MemorySwap": 50_000_000}))
            .starts_with("Minimum memoryswap limit"));
        assert!(e(json!({"NanoCpus": 1_000_000_000, "CpuQuota": 50000})).contains("CPU Quota"));
        assert!(e(json!({"NanoCpus": 1_000_000_000, "CpuPeriod": 50000})).contains("CPU Period"));
        assert!(e(json!({"CpuPeriod": 100})).starts_with("CPU cfs period"));
        assert!(e(json!({"CpuQuota": 100})).starts_with("CPU cfs quota"));
        assert!(e(json!({"MemorySwappiness": 200})).contains("swappiness range is 0-100"));
        assert!(e(json!({"OomScoreAdj": 5000})).contains("range for oom score adj"));
        assert!(
            e(json!({"OomScoreAdj": -5})).starts_with("HostConfig.OomScoreAdj=-5 is not supported")
        );
        assert!(e(json!({"CgroupParent": "/a/../../b"})).contains("CgroupParent"));
        for ok in [
            json!({"Memory": 6 * 1024 * 1024, "MemorySwap": -1}),
            json!({"NanoCpus": 2_000_000_000i64}),
            json!({"CpuQuota": 50000, "CpuPeriod": 100000, "CpuShares": 512, "ShmSize": 1 << 20}),
            json!({"MemorySwappiness": -1, "OomScoreAdj": 1000, "CgroupParent": "/md-x"}),
        ] {
            check_resources(&ok, 2).unwrap();
        }
    }

    #[test]
    fn sysctls_namespaced_only_and_net_with_its_own_netns() {
        let hc = |k: &str| json!({"Sysctls": {k: "1"}});
        check_sysctls(&hc("kernel.shmmax"), "bridge").unwrap();
        check_sysctls(&hc("kernel.msgmax"), "host").unwrap();
        check_sysctls(&hc("fs.mqueue.msg_max"), "none").unwrap();
        check_sysctls(&hc("net.ipv4.ip_forward"), "bridge").unwrap();
        let e = check_sysctls(&hc("net.ipv4.ip_forward"), "host").unwrap_err();
        assert_eq!(
            e.message,
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        let e = check_sysctls(&hc("kernel.panic"), "bridge").unwrap_err();
        assert!(e.message.contains("kernel.panic"), "{}", e.message);
        assert!(check_sysctls(&hc("vm.swappiness"), "bridge").is_err());
    }

    #[test]
    fn swap_is_twice_the_memory_unless_given() {
        assert_eq!(memory_swap(64 << 20, 0), Some(128 << 20));
        assert_eq!(memory_swap(64 << 20, -1), Some(-1));
        assert_eq!(memory_swap(64 << 20, 100 << 20), Some(100 << 20));
        assert_eq!(memory_swap(0, 0), None);
    }
}
