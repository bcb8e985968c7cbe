//! The container's `config.json`: Docker's default spec, plus the image's
//! config, plus the user's flags.
//!
//! Docker 20.10 starts every container from the same profile (14
//! capabilities, a seccomp allowlist, masked and read-only `/proc` paths,
//! the `/dev` and `/sys` mounts); the captured spec lives in
//! `tests/fixtures/docker-20.10-default-config.json` (the e2e crate's). The engine fills in the
//! process (argv, env, cwd, user from `chapter04::runtime::runtime_config`),
//! the hostname, the cgroup path and limits, and the namespaces: `--network
//! host` drops the network namespace, `bridge` joins the one the daemon made
//! (a path, the OCI way).

use serde_json::{json, Value};
use std::path::Path;

/// Docker's default spec, as captured from a real `docker run`.
pub const DOCKER_DEFAULT_SPEC: &str =
    include_str!("../../tests/fixtures/docker-20.10-default-config.json");

/// What the spec needs from the engine.
#[derive(Debug, Clone, Default)]
pub struct SpecInput {
    /// The container id (the cgroup path is `/mini-docker/<id>`).
    pub id: String,
    /// argv.
    pub args: Vec<String>,
    /// `K=V`.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// uid, gid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Hostname.
    pub hostname: String,
    /// `host`, `none`, `bridge` …
    pub network_mode: String,
    /// The network namespace to join (bridge mode).
    pub netns: Option<String>,
    /// Memory limit in bytes (0: none).
    pub memory: i64,
    /// CPUs in billionths (`--cpus 1.5` = 1_500_000_000).
    pub nano_cpus: i64,
    /// `--pids-limit` (0: none).
    pub pids_limit: i64,
    /// Bind mounts of files the engine writes (`/etc/hosts`, …): (host, container).
    pub binds: Vec<(String, String)>,
    /// `-t`: the process gets a terminal (the shim receives its pty master
    /// through the runtime's console socket).
    pub tty: bool,
    /// Memory plus swap in bytes (-1: unlimited; `None`: not limited), from
    /// [`super::resources::memory_swap`].
    pub memory_swap: Option<i64>,
    /// `--cpu-shares` (0: the default).
    pub cpu_shares: i64,
    /// `--cpu-quota` in µs (0: none).
    pub cpu_quota: i64,
    /// `--cpu-period` in µs (0: the kernel's 100 ms).
    pub cpu_period: i64,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: String,
    /// `--cpuset-mems`.
    pub cpuset_mems: String,
    /// `--cgroup-parent` ("": `/mini-docker`).
    pub cgroup_parent: String,
    /// `--shm-size` in bytes (0: Docker's 64 MiB).
    pub shm_size: i64,
    /// `--sysctl`, checked at create ([`super::resources::check_sysctls`]).
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: i64,
    /// `--domainname`.
    pub domainname: String,
}

/// The cgroup path of a container, relative to each hierarchy.
pub fn cgroups_path(id: &str) -> String {
    format!("/mini-docker/{id}")
}

/// The cgroup path of a container under `--cgroup-parent` (as Docker's
/// cgroupfs driver: `<parent>/<id>`), or under `/mini-docker` without one.
pub fn cgroups_path_under(parent: &str, id: &str) -> String {
    let parent = parent.trim_matches('/');
    if parent.is_empty() {
        cgroups_path(id)
    } else {
        format!("/{parent}/{id}")
    }
}

/// Docker's `/dev/shm` without `--shm-size`: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// Builds the spec.
pub fn build(input: &SpecInput) -> Value {
    let mut c: Value =
        serde_json::from_str(DOCKER_DEFAULT_SPEC).expect("the embedded default spec parses");
    c["process"]["args"] = json!(input.args);
    let mut env = input.env.clone();
    if input.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        // As Docker: a terminal gets a TERM, so `vi` and `top` work.
        env.push("TERM=xterm".into());
    }
    c["process"]["env"] = json!(env);
    c["process"]["cwd"] = json!(input.cwd);
    c["process"]["terminal"] = json!(input.tty);
    c["process"]["user"] =
        json!({"uid": input.uid, "gid": input.gid, "additionalGids": [input.gid]});
    c["root"] = json!({"path": "rootfs", "readonly": false});
    c["hostname"] = json!(input.hostname);
    if !input.domainname.is_empty() {
        c["domainname"] = json!(input.domainname);
    }
    c["linux"]["cgroupsPath"] = json!(cgroups_path_under(&input.cgroup_parent, &input.id));
    resources(input, &mut c["linux"]["resources"]);
    if input.oom_score_adj != 0 {
        c["process"]["oomScoreAdj"] = json!(input.oom_score_adj);
    }
    if !input.sysctls.is_empty() {
        let s = &mut c["linux"]["sysctl"];
        if !s.is_object() {
            *s = json!({});
        }
        for (k, v) in &input.sysctls {
            s[k] = json!(v);
        }
    }
    if input.shm_size > 0 {
        for m in c["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                if let Some(o) = m["options"].as_array_mut() {
                    o.retain(|x| !x.as_str().is_some_and(|x| x.starts_with("size=")));
                    o.push(json!(format!("size={}", input.shm_size)));
                }
            }
        }
    }
    let namespaces = c["linux"]["namespaces"]
        .as_array_mut()
        .expect("the default spec lists namespaces");
    match input.network_mode.as_str() {
        "host" => {
            namespaces.retain(|n| n["type"] != "network");
            // Network sysctls belong to the host's namespace now: not ours to set.
            if let Some(s) = c["linux"]["sysctl"].as_object_mut() {
                s.retain(|k, _| !k.starts_with("net."));
            }
        }
        _ => {
            if let Some(path) = &input.netns {
                for n in namespaces.iter_mut() {
                    if n["type"] == "network" {
                        n["path"] = json!(path);
                    }
                }
            }
        }
    }
    let mounts = c["mounts"]
        .as_array_mut()
        .expect("the default spec lists mounts");
    for (src, dst) in &input.binds {
        mounts.push(json!({"destination": dst, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    }
    c
}

/// `linux.resources`: what the runtime writes into the cgroup (the table
/// in [`super::resources`]).
fn resources(input: &SpecInput, res: &mut Value) {
    if input.memory > 0 {
        res["memory"]["limit"] = json!(input.memory);
        if let Some(swap) = input.memory_swap {
            res["memory"]["swap"] = json!(swap);
        }
    }
    if input.nano_cpus > 0 {
        let period: i64 = 100_000;
        res["cpu"]["period"] = json!(period);
        res["cpu"]["quota"] = json!(input.nano_cpus * period / 1_000_000_000);
    }
    if input.cpu_quota > 0 {
        // Without `--cpu-period`, the kernel's 100 ms. (A period without a
        // quota limits nothing; create refuses it rather than ignore it.)
        let period = if input.cpu_period > 0 {
            input.cpu_period
        } else {
            100_000
        };
        res["cpu"]["period"] = json!(period);
        res["cpu"]["quota"] = json!(input.cpu_quota);
    }
    if input.cpu_shares > 0 {
        res["cpu"]["shares"] = json!(input.cpu_shares);
    }
    if !input.cpuset_cpus.is_empty() {
        res["cpu"]["cpus"] = json!(input.cpuset_cpus);
    }
    if !input.cpuset_mems.is_empty() {
        res["cpu"]["mems"] = json!(input.cpuset_mems);
    }
    if input.pids_limit > 0 {
        res["pids"] = json!({"limit": input.pids_limit});
    }
}

/// Writes the bundle's `config.json`.
pub fn write(bundle: &Path, spec: &Value) -> std::io::Result<()> {
    super::util::write_atomic(
        &bundle.join("config.json"),
        &serde_json::to_vec_pretty(spec).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(mode: &str) -> SpecInput {
        SpecInput {
            id: "abc".into(),
            args: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            hostname: "abc".into(),
            network_mode: mode.into(),
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            pids_limit: 20,
            ..Default::default()
        }
    }

    #[test]
    fn default_profile_with_flags() {
        let c = build(&input("none"));
        assert_eq!(
            c["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(c["linux"]["cgroupsPath"], "/mini-docker/abc");
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(c["linux"]["resources"]["cpu"]["quota"], 150_000);
        assert_eq!(c["linux"]["resources"]["pids"]["limit"], 20);
        assert!(c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"));
        assert!(c["linux"]["seccomp"].is_object());
    }

    #[test]
    fn host_network_drops_the_namespace_and_net_sysctls() {
        let c = build(&input("host"));
        assert!(!c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"));
        assert!(c["linux"]["sysctl"]
            .as_object()
            .map(|s| s.keys().all(|k| !k.starts_with("net.")))
            .unwrap_or(true));
    }

    #[test]
    fn bridge_joins_a_netns_by_path() {
        let mut i = input("bridge");
        i.netns = Some("/run/md/netns/x".into());
        let c = build(&i);
        let ns = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == "network")
            .unwrap()
            .clone();
        assert_eq!(ns["path"], "/run/md/netns/x");
    }
}
