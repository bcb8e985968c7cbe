//! # Inspect documents: every field Docker always sends, with its defaults
//!
//! Clients index inspect answers without checking: docker-py's
//! `containers.run()` reads `HostConfig["LogConfig"]["Type"]`, compose reads
//! labels and options. dockerd fills every field of its `HostConfig` and
//! `Config` structs at create, so they are always there, whatever the
//! request carried (docker-py sends a handful of `HostConfig` keys; the
//! docker CLI sends them all, some as "unset" values).
//!
//! The engine keeps a container's `HostConfig` as its create request gave
//! it (so what a user asked for reads back unchanged) and lays it over
//! Docker's defaults here, when answering, so containers made before a
//! field existed get it too. The defaults were read from dockerd 20.10's
//! inspect of a container created with no `HostConfig` at all; the key trees
//! are compared with a real dockerd's in `tests/engine_inspect.rs`.

use serde_json::{json, Value};
use std::sync::OnceLock;

/// Docker's `HostConfig` for a create request that gave none (dockerd 20.10).
/// `MaskedPaths`, `ReadonlyPaths` and `Runtime` are filled by
/// [`host_config`] from the engine's own default spec and runtime.
fn default_host_config() -> Value {
    let mut out = json!({
        "Binds": null, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": null,
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null,
        "CapAdd": null, "CapDrop": null,
        // No cgroup namespace is made (the default spec has none): `host`,
        // as Docker on a cgroup v1 host.
        "CgroupnsMode": "host",
        "Dns": null, "DnsOptions": null, "DnsSearch": null, "ExtraHosts": null,
        "GroupAdd": null, "IpcMode": "private", "Cgroup": "", "Links": null,
        "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "",
        // The default spec's /dev/shm is 64 MiB, as Docker's.
        "ShmSize": 67108864,
        "Runtime": "", "ConsoleSize": [0, 0], "Isolation": "",
    });
    // The resources (in two parts: one json! of all would be too deep a macro).
    let resources = json!({
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": null,
        "BlkioDeviceReadBps": null, "BlkioDeviceWriteBps": null,
        "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null,
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "",
        "Devices": null, "DeviceCgroupRules": null, "DeviceRequests": null,
        "KernelMemory": 0, "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": 0,
        "MemorySwappiness": null, "OomKillDisable": false, "PidsLimit": null,
        "Ulimits": null, "CpuCount": 0, "CpuPercent": 0,
        "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": null, "ReadonlyPaths": null,
    });
    for (k, v) in resources.as_object().into_iter().flatten() {
        out[k] = v.clone();
    }
    out
}

/// The name a container's runtime is reported by when its record names
/// none: earlier daemons ran every container with the built-in one.
pub const DEFAULT_RUNTIME: &str = super::runtimes::BUILTIN;

/// The masked and read-only paths of the default spec every container
/// starts from (see [`super::spec`]).
fn default_paths() -> &'static (Value, Value) {
    static PATHS: OnceLock<(Value, Value)> = OnceLock::new();
    PATHS.get_or_init(|| {
        let spec = super::spec::default_json();
        (
            spec["linux"]["maskedPaths"].clone(),
            spec["linux"]["readonlyPaths"].clone(),
        )
    })
}

/// A container's `HostConfig` as inspect shows it: the stored request over
/// Docker's defaults, normalised as dockerd normalises it.
pub fn host_config(stored: &Value) -> Value {
    let mut out = default_host_config();
    if let (Some(out), Some(given)) = (out.as_object_mut(), stored.as_object()) {
        for (k, v) in given {
            // A null in the request means "unset": the default stands.
            if !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    // The CLI sends `LogConfig: {"Type": ""}` when no --log-driver was given;
    // the daemon's default driver is json-file.
    if out["LogConfig"]["Type"].as_str().is_none_or(str::is_empty) {
        out["LogConfig"]["Type"] = json!("json-file");
    }
    if !out["LogConfig"]["Config"].is_object() {
        out["LogConfig"]["Config"] = json!({});
    }
    // "Unset" numbers read back as null, as in dockerd.
    if out["MemorySwappiness"].as_i64() == Some(-1) {
        out["MemorySwappiness"] = Value::Null;
    }
    if out["PidsLimit"].as_i64().is_some_and(|n| n <= 0) {
        out["PidsLimit"] = Value::Null;
    }
    if out["Runtime"].as_str().is_none_or(str::is_empty) {
        out["Runtime"] = json!(DEFAULT_RUNTIME);
    }
    // A privileged container has no masked or read-only paths.
    if !out["Privileged"].as_bool().unwrap_or(false) {
        let (masked, readonly) = default_paths();
        if out["MaskedPaths"].is_null() {
            out["MaskedPaths"] = masked.clone();
        }
        if out["ReadonlyPaths"].is_null() {
            out["ReadonlyPaths"] = readonly.clone();
        }
    }
    out
}

/// Docker's container `Config` fields that are always sent (the others,
/// such as `ExposedPorts` or `Healthcheck`, only when set).
pub fn with_config_defaults(given: Value) -> Value {
    let mut out = json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null,
    });
    if let (Some(out), Value::Object(given)) = (out.as_object_mut(), given) {
        for (k, v) in given {
            // `omitempty` fields: absent when empty, as dockerd sends them.
            let empty_map = v.as_object().is_some_and(|m| m.is_empty());
            if empty_map && matches!(k.as_str(), "ExposedPorts") {
                continue;
            }
            out.insert(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_request_reads_back_with_dockers_defaults() {
        let h = host_config(&json!({"NetworkMode": "none"}));
        assert_eq!(h["LogConfig"], json!({"Type": "json-file", "Config": {}}));
        assert_eq!(h["NetworkMode"], "none");
        assert_eq!(h["RestartPolicy"]["Name"], "");
        assert_eq!(h["Runtime"], DEFAULT_RUNTIME);
        assert!(h["MaskedPaths"].as_array().unwrap().len() > 5);
        assert_eq!(h["ReadonlyPaths"][0], "/proc/bus");
    }

    #[test]
    fn what_the_request_set_wins_and_unset_values_read_as_docker_reads_them() {
        let h = host_config(&json!({
            "LogConfig": {"Type": "", "Config": null},
            "MemorySwappiness": -1, "PidsLimit": 0, "Memory": 6291456,
            "Binds": null, "Privileged": true,
        }));
        assert_eq!(h["LogConfig"], json!({"Type": "json-file", "Config": {}}));
        assert_eq!(h["MemorySwappiness"], Value::Null);
        assert_eq!(h["PidsLimit"], Value::Null);
        assert_eq!(h["Memory"], 6291456);
        assert_eq!(h["MaskedPaths"], Value::Null, "privileged: none masked");
        let h = host_config(&json!({"LogConfig": {"Type": "none", "Config": {}}, "PidsLimit": 50}));
        assert_eq!(h["LogConfig"]["Type"], "none");
        assert_eq!(h["PidsLimit"], 50);
    }

    #[test]
    fn an_image_config_has_every_always_sent_key() {
        let c = with_config_defaults(json!({"Cmd": ["sh"], "ExposedPorts": {}}));
        assert_eq!(c["Cmd"], json!(["sh"]));
        assert_eq!(c["Env"], Value::Null);
        assert!(c.get("ExposedPorts").is_none());
        assert_eq!(c.as_object().unwrap().len(), 17);
    }
}
