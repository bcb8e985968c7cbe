//! # The container model: `Config`, `HostConfig`, `NetworkingConfig`
//!
//! The three objects of `POST /containers/create` (Engine API v1.41) as
//! serde structs with Docker's key names. The daemon keeps a container's
//! `Config` and `HostConfig` in these types (in its record,
//! `containers/<id>/container.json`), and answers `GET /containers/{id}/json`
//! from them.
//!
//! Two rules shape them:
//!
//! - **What a client sent reads back unchanged.** A field the request left
//!   out (or sent as `null`) is `None` and is not written, so inspect shows
//!   Docker's default for it; a field it set is kept as given, `[]` and `{}`
//!   included (dockerd echoes `"Dns": []` as `[]`, not `null`).
//! - **Nothing is dropped by the parse.** `HostConfig` names every field the
//!   engine applies; every other key is kept verbatim in
//!   [`HostConfig::other`]. For the fields of Engine API v1.41 the engine
//!   does not apply, the daemon's create check refuses any value but the
//!   default, naming the field, before the typed parse; so such a setting
//!   is applied or refused, never accepted and lost. Keys outside v1.41 (a
//!   newer client's) are ignored, as dockerd's Go decoder ignores them.
//!
//! Why not `bollard-stubs`: its enums (restart policy name, mount type) and
//! narrow integers (`BlkioWeight: u16`) make serde refuse a bad value before
//! the engine can answer with Docker's own words, and its newest structs no
//! longer carry v1.41 fields such as `KernelMemory`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `{}`: the value of an `ExposedPorts` or `Volumes` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Docker's container `Config` (the create body's top level), with the
/// image's defaults merged in by the daemon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    /// The UTS hostname (the id's first 12 digits unless given).
    pub hostname: String,
    /// The UTS domain name.
    pub domainname: String,
    /// `user[:group]`, resolved in the image's `/etc/passwd` at start.
    pub user: String,
    /// The client attaches stdin.
    pub attach_stdin: bool,
    /// The client attaches stdout.
    pub attach_stdout: bool,
    /// The client attaches stderr.
    pub attach_stderr: bool,
    /// `"80/tcp": {}` for each exposed port (absent when none, as dockerd).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// A pseudo-terminal is allocated.
    pub tty: bool,
    /// Stdin stays open.
    pub open_stdin: bool,
    /// Stdin closes after the first attach detaches.
    pub stdin_once: bool,
    /// `KEY=value` pairs.
    pub env: Option<Vec<String>>,
    /// The command (after the entrypoint).
    pub cmd: Option<Vec<String>>,
    /// The image as the user named it.
    pub image: String,
    /// Anonymous volumes (`-v /data`).
    pub volumes: Option<BTreeMap<String, Empty>>,
    /// The process's working directory.
    pub working_dir: String,
    /// The entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Build triggers (never set by this engine).
    pub on_build: Option<Vec<String>>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal `stop` sends (SIGTERM when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL (10 when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// The health check (`Test`, `Interval`, `Timeout`, `StartPeriod`,
    /// `Retries`), the container's over the image's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
}

/// `HostConfig.LogConfig`: the log driver and its options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// `json-file` or `none` ("" means the daemon's default).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Driver options (`max-size`, `max-file`, …).
    pub config: Option<BTreeMap<String, String>>,
}

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// "", `no`, `always`, `unless-stopped` or `on-failure`.
    pub name: String,
    /// Most restarts for `on-failure` (0: no limit).
    pub maximum_retry_count: i64,
}

/// One host side of a published port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    /// The host address ("" for every address).
    pub host_ip: String,
    /// The host port ("" for one the daemon picks).
    pub host_port: String,
}

/// `HostConfig.PortBindings`: `"80/tcp"` → its host sides (`null` or `[]`:
/// one binding the daemon picks).
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// `HostConfig.Mounts[]` (`--mount`), as Docker's `mount.Mount`: empty
/// fields are left out, as Go's `omitempty` does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// A host path or a volume name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// The path in the container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Mounted read-only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// macOS only; kept as given.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    /// Bind options (`Propagation`, …), as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BTreeMap<String, Value>>,
    /// Volume options (`NoCopy`, …), as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<BTreeMap<String, Value>>,
    /// Tmpfs options (`SizeBytes`, `Mode`), as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<BTreeMap<String, Value>>,
}

/// `HostConfig.Ulimits[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// `nofile`, `nproc`, …
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// `HostConfig.Devices[]` (`--device`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// The device node on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_on_host: Option<String>,
    /// Where it appears in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_in_container: Option<String>,
    /// `r`, `w`, `m`, combined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_permissions: Option<String>,
}

/// The resource fields of `HostConfig` the engine applies (Docker's
/// `Resources`, flattened into `HostConfig` on the wire).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resources {
    /// Relative CPU weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<i64>,
    /// Memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    /// CPUs in units of 10⁻⁹.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<i64>,
    /// The cgroup parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<String>,
    /// CFS period in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<i64>,
    /// CFS quota in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    /// CPUs allowed (`0-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    /// Devices to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<DeviceMapping>>,
    /// Device cgroup rules (`c 1:3 rwm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Memory plus swap (`-1`: unlimited swap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// Most tasks (`0` or `-1`: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// Resource limits (`--ulimit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ulimits: Option<Vec<Ulimit>>,
}

/// Docker's `HostConfig`: how the container runs on this host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `-v src:dst[:opts]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binds: Option<Vec<String>>,
    /// `--cidfile` (the client writes it).
    #[serde(
        rename = "ContainerIDFile",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub container_id_file: Option<String>,
    /// The log driver and its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
    /// `bridge`, `host`, `none`, `container:<id>` or a network's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// `-p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_bindings: Option<PortMap>,
    /// `--restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// `--rm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_remove: Option<bool>,
    /// `--volumes-from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_from: Option<Vec<String>>,
    /// `--mount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    /// The tty's initial `[height, width]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<Vec<u64>>,
    /// `--cap-add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_add: Option<Vec<String>>,
    /// `--cap-drop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_drop: Option<Vec<String>>,
    /// `--cgroupns` (only `host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroupns_mode: Option<String>,
    /// `--dns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Vec<String>>,
    /// `--dns-option`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_options: Option<Vec<String>>,
    /// `--dns-search`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_search: Option<Vec<String>>,
    /// `--add-host host:ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<Vec<String>>,
    /// `--group-add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_add: Option<Vec<String>>,
    /// `--ipc` (`private` or `shareable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    /// `--oom-score-adj`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i64>,
    /// `--privileged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// `-P`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_all_ports: Option<bool>,
    /// `--read-only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_rootfs: Option<bool>,
    /// `--security-opt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_opt: Option<Vec<String>>,
    /// `--tmpfs dst[:opts]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// `--shm-size` in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i64>,
    /// `--sysctl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, String>>,
    /// `--runtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// `--init`: tini runs as PID 1 (the daemon's `runflags::apply_init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// The resource limits.
    #[serde(flatten)]
    pub resources: Resources,
    /// Every other key, verbatim: the fields the engine accepts only at
    /// their default (the daemon refused any other value before this was
    /// parsed), so inspect echoes them as dockerd does, and a newer
    /// client's keys, which dockerd ignores.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl HostConfig {
    /// The wire form (what a client sent, with the daemon's settings).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// `NetworkMode`, with "" and `default` read as Docker reads them: `bridge`.
    pub fn network_mode(&self) -> &str {
        match self.network_mode.as_deref() {
            None | Some("") | Some("default") => "bridge",
            Some(m) => m,
        }
    }

    /// `--rm`.
    pub fn auto_remove(&self) -> bool {
        self.auto_remove.unwrap_or(false)
    }
}

impl ContainerConfig {
    /// The wire form.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One network's settings in `NetworkingConfig.EndpointsConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    /// `--network-alias`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// The rest (`IPAMConfig`, `Links`, …), as given.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The create body's `NetworkingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkingConfig {
    /// Network name (or id) → its settings.
    #[serde(default)]
    pub endpoints_config: Option<BTreeMap<String, Option<EndpointSettings>>>,
}

impl NetworkingConfig {
    /// The settings for the network named `name` (or given as `alt`).
    pub fn endpoint(&self, name: &str, alt: &str) -> Option<&EndpointSettings> {
        let m = self.endpoints_config.as_ref()?;
        m.get(name).or_else(|| m.get(alt)).and_then(|e| e.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_host_config_reads_back_as_sent() {
        let sent = json!({
            "Binds": ["/a:/b:ro"], "Dns": [], "Memory": 6291456, "PidsLimit": 0,
            "MemorySwappiness": -1, "KernelMemory": 0, "BlkioWeight": 0,
            "LogConfig": {"Type": "", "Config": {}},
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "81/tcp": null},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}],
            "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1}}],
            "Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/z", "CgroupPermissions": "rwm"}],
        });
        let hc: HostConfig = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(hc.resources.memory, Some(6291456));
        assert_eq!(hc.restart_policy.as_ref().unwrap().maximum_retry_count, 3);
        assert_eq!(hc.dns, Some(vec![]));
        // The resources are typed, not left in `other`.
        assert!(!hc.other.contains_key("Memory"));
        assert_eq!(
            hc.other.keys().collect::<Vec<_>>(),
            ["BlkioWeight", "KernelMemory", "MemorySwappiness"]
        );
        assert_eq!(hc.to_value(), sent);
    }

    #[test]
    fn null_means_unset() {
        let hc: HostConfig =
            serde_json::from_value(json!({"Binds": null, "Memory": null})).unwrap();
        assert_eq!(hc, HostConfig::default());
        assert_eq!(hc.to_value(), json!({}));
        assert_eq!(hc.network_mode(), "bridge");
    }

    #[test]
    fn a_config_always_has_its_keys_and_drops_empty_ports() {
        let c = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let v = c.to_value();
        assert_eq!(v["Cmd"], json!(["sh"]));
        assert_eq!(v["Env"], Value::Null);
        assert!(v.get("ExposedPorts").is_none());
        assert!(v.get("StopSignal").is_none());
        assert_eq!(v.as_object().unwrap().len(), 17);
    }

    #[test]
    fn endpoint_settings_by_name() {
        let n: NetworkingConfig = serde_json::from_value(
            json!({"EndpointsConfig": {"net1": {"Aliases": ["a"], "IPAMConfig": null}}}),
        )
        .unwrap();
        assert_eq!(
            n.endpoint("x", "net1").unwrap().aliases,
            Some(vec!["a".to_string()])
        );
    }
}
