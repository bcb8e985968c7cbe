//! The flags of `service create` and `service update`, and the
//! `ServiceSpec` fields each one sets, as the docker CLI 20.10 sets them.
//!
//! A service's spec is the whole desired state of its tasks: the container
//! (`TaskTemplate.ContainerSpec`: image, command, env, user, mounts,
//! secrets…), how tasks are placed, limited and restarted (the rest of
//! `TaskTemplate`), how many run (`Mode`), how a change rolls out and
//! back (`UpdateConfig`, `RollbackConfig`) and how clients reach them
//! (`EndpointSpec`). `create` builds one from the CLI's defaults plus the
//! flags; `update` reads the stored spec and changes only what a flag
//! names (`--X-add`/`--X-rm` edit a list or map in place, with the docker
//! CLI's ordering rules, so that the same command leaves the same spec).
//!
//! Names the manager stores as ids are looked up first, as the docker CLI
//! does: a `--network` becomes the network's id (`GET /networks/NAME`), a
//! `--secret`/`--config` becomes its id and name (`GET /secrets`,
//! `GET /configs`).
//!
//! Two flags are refused by name: `--credential-spec` (Windows only) and a
//! `--log-opt` without a `--log-driver` (the docker CLI drops those
//! options silently).

use super::{bad, get};
use crate::http::{self, Client};
use crate::Failure;
use serde_json::{json, Map, Value};

/// The flags of `create` and `update` that set one field each.
#[derive(clap::Args, Debug, Default, Clone, PartialEq)]
pub struct FieldArgs {
    /// Exit immediately instead of waiting for the service to converge.
    #[arg(short, long)]
    pub detach: bool,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not query the registry to resolve image digest and supported platforms.
    #[arg(long = "no-resolve-image")]
    pub no_resolve_image: bool,
    /// Send registry authentication details to swarm agents.
    #[arg(long = "with-registry-auth")]
    pub with_registry_auth: bool,
    /// Number of tasks.
    #[arg(long)]
    pub replicas: Option<u64>,
    /// Maximum number of tasks per node (default 0 = unlimited).
    #[arg(long = "replicas-max-per-node")]
    pub replicas_max_per_node: Option<u64>,
    /// Number of job tasks to run concurrently (default equal to --replicas).
    #[arg(long = "max-concurrent")]
    pub max_concurrent: Option<u64>,
    /// Endpoint mode (vip or dnsrr).
    #[arg(long = "endpoint-mode")]
    pub endpoint_mode: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Container hostname.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Time to wait before force killing a container (ns|us|ms|s|m|h).
    #[arg(long = "stop-grace-period")]
    pub stop_grace_period: Option<String>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Use an init inside each service container to forward signals and reap processes.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub init: Option<bool>,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub read_only: Option<bool>,
    /// Allocate a pseudo-TTY.
    #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tty: Option<bool>,
    /// Service container isolation mode.
    #[arg(long)]
    pub isolation: Option<String>,
    /// Credential spec for managed service account (Windows only): refused.
    #[arg(long = "credential-spec")]
    pub credential_spec: Option<String>,
    /// Limit CPUs.
    #[arg(long = "limit-cpu")]
    pub limit_cpu: Option<String>,
    /// Limit Memory.
    #[arg(long = "limit-memory")]
    pub limit_memory: Option<String>,
    /// Limit maximum number of processes (default 0 = unlimited).
    #[arg(long = "limit-pids")]
    pub limit_pids: Option<i64>,
    /// Reserve CPUs.
    #[arg(long = "reserve-cpu")]
    pub reserve_cpu: Option<String>,
    /// Reserve Memory.
    #[arg(long = "reserve-memory")]
    pub reserve_memory: Option<String>,
    /// Restart when condition is met ("none"|"on-failure"|"any").
    #[arg(long = "restart-condition")]
    pub restart_condition: Option<String>,
    /// Delay between restart attempts (ns|us|ms|s|m|h).
    #[arg(long = "restart-delay")]
    pub restart_delay: Option<String>,
    /// Maximum number of restarts before giving up.
    #[arg(long = "restart-max-attempts")]
    pub restart_max_attempts: Option<u64>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h).
    #[arg(long = "restart-window")]
    pub restart_window: Option<String>,
    /// Maximum number of tasks updated simultaneously (0 to update all at once).
    #[arg(long = "update-parallelism")]
    pub update_parallelism: Option<u64>,
    /// Delay between updates (ns|us|ms|s|m|h).
    #[arg(long = "update-delay")]
    pub update_delay: Option<String>,
    /// Duration after each task update to monitor for failure (ns|us|ms|s|m|h).
    #[arg(long = "update-monitor")]
    pub update_monitor: Option<String>,
    /// Action on update failure ("pause"|"continue"|"rollback").
    #[arg(long = "update-failure-action")]
    pub update_failure_action: Option<String>,
    /// Failure rate to tolerate during an update.
    #[arg(long = "update-max-failure-ratio")]
    pub update_max_failure_ratio: Option<f64>,
    /// Update order ("start-first"|"stop-first").
    #[arg(long = "update-order")]
    pub update_order: Option<String>,
    /// Maximum number of tasks rolled back simultaneously (0 to roll back all at once).
    #[arg(long = "rollback-parallelism")]
    pub rollback_parallelism: Option<u64>,
    /// Delay between task rollbacks (ns|us|ms|s|m|h).
    #[arg(long = "rollback-delay")]
    pub rollback_delay: Option<String>,
    /// Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h).
    #[arg(long = "rollback-monitor")]
    pub rollback_monitor: Option<String>,
    /// Action on rollback failure ("pause"|"continue").
    #[arg(long = "rollback-failure-action")]
    pub rollback_failure_action: Option<String>,
    /// Failure rate to tolerate during a rollback.
    #[arg(long = "rollback-max-failure-ratio")]
    pub rollback_max_failure_ratio: Option<f64>,
    /// Rollback order ("start-first"|"stop-first").
    #[arg(long = "rollback-order")]
    pub rollback_order: Option<String>,
    /// Command to run to check health.
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries (ms|s|m|h).
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Logging driver for service.
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Logging driver options.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
}

/// The list flags of `create` (a whole list each).
#[derive(clap::Args, Debug, Default)]
pub struct CreateLists {
    /// Set environment variables.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Service labels.
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Container labels.
    #[arg(long = "container-label")]
    pub container_label: Vec<String>,
    /// Placement constraints.
    #[arg(long)]
    pub constraint: Vec<String>,
    /// Add a placement preference (spread=LABEL).
    #[arg(long = "placement-pref")]
    pub placement_pref: Vec<String>,
    /// Attach a filesystem mount to the service.
    #[arg(long)]
    pub mount: Vec<String>,
    /// Publish a port as a node port.
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set one or more custom host-to-IP mappings (host:ip); `--host`, as
    /// `service create`'s flag (see `swarm::clap_argv`).
    #[arg(long = "host-entry", value_name = "HOST:IP")]
    pub host_entry: Vec<String>,
    /// Set one or more supplementary user groups for the container.
    #[arg(long)]
    pub group: Vec<String>,
    /// Specify secrets to expose to the service.
    #[arg(long)]
    pub secret: Vec<String>,
    /// Specify configurations to expose to the service; `--config`, as
    /// `service create`'s flag (see `swarm::clap_argv`).
    #[arg(long = "config-ref", value_name = "CONFIG")]
    pub config_ref: Vec<String>,
    /// Network attachments.
    #[arg(long)]
    pub network: Vec<String>,
    /// Sysctl options.
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Ulimit options.
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// User defined resources.
    #[arg(long = "generic-resource")]
    pub generic_resource: Vec<String>,
}

/// The list flags of `update` (`--X-add`, `--X-rm`).
#[derive(clap::Args, Debug, Default, PartialEq)]
pub struct UpdateLists {
    /// Add or update an environment variable.
    #[arg(long = "env-add")]
    pub env_add: Vec<String>,
    /// Remove an environment variable.
    #[arg(long = "env-rm")]
    pub env_rm: Vec<String>,
    /// Add or update a service label.
    #[arg(long = "label-add")]
    pub label_add: Vec<String>,
    /// Remove a label by its key.
    #[arg(long = "label-rm")]
    pub label_rm: Vec<String>,
    /// Add or update a container label.
    #[arg(long = "container-label-add")]
    pub container_label_add: Vec<String>,
    /// Remove a container label by its key.
    #[arg(long = "container-label-rm")]
    pub container_label_rm: Vec<String>,
    /// Add or update a placement constraint.
    #[arg(long = "constraint-add")]
    pub constraint_add: Vec<String>,
    /// Remove a constraint.
    #[arg(long = "constraint-rm")]
    pub constraint_rm: Vec<String>,
    /// Add a placement preference.
    #[arg(long = "placement-pref-add")]
    pub placement_pref_add: Vec<String>,
    /// Remove a placement preference.
    #[arg(long = "placement-pref-rm")]
    pub placement_pref_rm: Vec<String>,
    /// Add or update a mount on a service.
    #[arg(long = "mount-add")]
    pub mount_add: Vec<String>,
    /// Remove a mount by its target path.
    #[arg(long = "mount-rm")]
    pub mount_rm: Vec<String>,
    /// Add or update a published port.
    #[arg(long = "publish-add")]
    pub publish_add: Vec<String>,
    /// Remove a published port by its target port.
    #[arg(long = "publish-rm")]
    pub publish_rm: Vec<String>,
    /// Add or update a custom DNS server.
    #[arg(long = "dns-add")]
    pub dns_add: Vec<String>,
    /// Remove a custom DNS server.
    #[arg(long = "dns-rm")]
    pub dns_rm: Vec<String>,
    /// Add or update a DNS option.
    #[arg(long = "dns-option-add")]
    pub dns_option_add: Vec<String>,
    /// Remove a DNS option.
    #[arg(long = "dns-option-rm")]
    pub dns_option_rm: Vec<String>,
    /// Add or update a custom DNS search domain.
    #[arg(long = "dns-search-add")]
    pub dns_search_add: Vec<String>,
    /// Remove a DNS search domain.
    #[arg(long = "dns-search-rm")]
    pub dns_search_rm: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "host-add")]
    pub host_add: Vec<String>,
    /// Remove a custom host-to-IP mapping (host:ip).
    #[arg(long = "host-rm")]
    pub host_rm: Vec<String>,
    /// Add an additional supplementary user group to the container.
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Remove a previously added supplementary user group from the container.
    #[arg(long = "group-rm")]
    pub group_rm: Vec<String>,
    /// Add or update a secret on a service.
    #[arg(long = "secret-add")]
    pub secret_add: Vec<String>,
    /// Remove a secret.
    #[arg(long = "secret-rm")]
    pub secret_rm: Vec<String>,
    /// Add or update a config file on a service.
    #[arg(long = "config-add")]
    pub config_add: Vec<String>,
    /// Remove a configuration file.
    #[arg(long = "config-rm")]
    pub config_rm: Vec<String>,
    /// Add a network.
    #[arg(long = "network-add")]
    pub network_add: Vec<String>,
    /// Remove a network.
    #[arg(long = "network-rm")]
    pub network_rm: Vec<String>,
    /// Add or update a Sysctl option.
    #[arg(long = "sysctl-add")]
    pub sysctl_add: Vec<String>,
    /// Remove a Sysctl option.
    #[arg(long = "sysctl-rm")]
    pub sysctl_rm: Vec<String>,
    /// Add or update a ulimit option.
    #[arg(long = "ulimit-add")]
    pub ulimit_add: Vec<String>,
    /// Remove a ulimit option.
    #[arg(long = "ulimit-rm")]
    pub ulimit_rm: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Add a Generic resource.
    #[arg(long = "generic-resource-add")]
    pub generic_resource_add: Vec<String>,
    /// Remove a Generic resource.
    #[arg(long = "generic-resource-rm")]
    pub generic_resource_rm: Vec<String>,
}

// ---- value parsers ---------------------------------------------------

fn nanos(flag: &str, v: &str) -> Result<i64, Failure> {
    mini_docker_api::units::go_duration_nanos(v).ok_or_else(|| {
        bad(format!(
            "invalid argument {v:?} for \"--{flag}\" flag: give a duration such as 10s or 1m30s"
        ))
    })
}

/// `--limit-cpu 1.5` as nano-CPUs, exactly (decimal digits, not a float).
fn nano_cpus(flag: &str, v: &str) -> Result<i64, Failure> {
    let err = || {
        bad(format!(
            "invalid argument {v:?} for \"--{flag}\" flag: give a number of CPUs such as 0.5"
        ))
    };
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 9
        || !(int.chars().all(|c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit()))
        || (int.is_empty() && frac.is_empty())
    {
        return Err(err());
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| err())?
    };
    let frac: i64 = format!("{frac:0<9}").parse().map_err(|_| err())?;
    Ok(int * 1_000_000_000 + frac)
}

fn bytes(flag: &str, v: &str) -> Result<i64, Failure> {
    mini_docker_api::units::ram_in_bytes(v).ok_or_else(|| {
        bad(format!(
            "invalid argument {v:?} for \"--{flag}\" flag: give a size such as 64m or 1g"
        ))
    })
}

/// `KEY=VALUE` strings as a map (a bare `KEY` maps to "").
fn kv_map(list: &[String]) -> Map<String, Value> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), json!(v))
        })
        .collect()
}

fn key_of(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

/// `-e`/`--env-file` as the docker CLI reads them: a bare `NAME` takes its
/// value from our environment, and is left out when unset.
fn env_list(files: &[String], env: &[String]) -> Result<Vec<String>, Failure> {
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| bad(format!("open {f}: {e}")))?;
        lines.extend(
            text.lines()
                .map(str::trim_start)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    lines.extend(env.iter().cloned());
    Ok(lines
        .into_iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e)
            } else {
                std::env::var(&e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect())
}

/// A `key=value,…` option (`--mount`, `--publish`, `--secret`…) as pairs.
fn csv(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            (k.trim().to_ascii_lowercase(), v.to_string())
        })
        .collect()
}

fn truthy(v: &str) -> bool {
    v.is_empty() || v == "1" || v.eq_ignore_ascii_case("true")
}

/// `--mount type=…,source=…,target=…,…` as a `Mount`.
pub fn mount(s: &str) -> Result<Value, Failure> {
    let mut m = json!({"Type": "volume"});
    let mut volume = Map::new();
    let mut labels = Map::new();
    let mut driver = Map::new();
    let mut driver_opts = Map::new();
    let mut tmpfs = Map::new();
    for (k, v) in csv(s) {
        match k.as_str() {
            "type" => m["Type"] = json!(v),
            "source" | "src" => m["Source"] = json!(v),
            "target" | "dst" | "destination" => m["Target"] = json!(v),
            "readonly" | "ro" => {
                if truthy(&v) {
                    m["ReadOnly"] = json!(true)
                }
            }
            "consistency" => m["Consistency"] = json!(v),
            "bind-propagation" => m["BindOptions"] = json!({"Propagation": v}),
            "volume-nocopy" => {
                if truthy(&v) {
                    volume.insert("NoCopy".into(), json!(true));
                }
            }
            "volume-label" => {
                let (lk, lv) = v.split_once('=').unwrap_or((&v, ""));
                labels.insert(lk.into(), json!(lv));
            }
            "volume-driver" => {
                driver.insert("Name".into(), json!(v));
            }
            "volume-opt" | "volume-opts" => {
                let (ok, ov) = v.split_once('=').unwrap_or((&v, ""));
                driver_opts.insert(ok.into(), json!(ov));
            }
            "tmpfs-size" => {
                tmpfs.insert("SizeBytes".into(), json!(bytes("mount", &v)?));
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(&v, 8).map_err(|_| {
                    bad(format!(
                        "invalid --mount {s:?}: tmpfs-mode {v:?} is not an octal mode"
                    ))
                })?;
                tmpfs.insert("Mode".into(), json!(mode));
            }
            _ => return Err(bad(format!("invalid --mount {s:?}: unknown field {k:?}"))),
        }
    }
    if m["Target"].is_null() {
        return Err(bad(format!("invalid --mount {s:?}: target is required")));
    }
    if !driver_opts.is_empty() {
        driver.insert("Options".into(), Value::Object(driver_opts));
    }
    if !labels.is_empty() {
        volume.insert("Labels".into(), Value::Object(labels));
    }
    if !driver.is_empty() {
        volume.insert("DriverConfig".into(), Value::Object(driver));
    }
    if !volume.is_empty() {
        m["VolumeOptions"] = Value::Object(volume);
    }
    if !tmpfs.is_empty() {
        m["TmpfsOptions"] = Value::Object(tmpfs);
    }
    Ok(m)
}

/// `-p [PUBLISHED:]TARGET[/PROTOCOL]` or `-p mode=…,target=…,published=…,protocol=…`.
pub fn port(p: &str) -> Result<Value, Failure> {
    let num = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| bad(format!("invalid --publish {p:?}: {s:?} is not a port")))
    };
    let mut out = json!({"Protocol": "tcp", "PublishMode": "ingress"});
    if p.contains('=') {
        for (k, v) in csv(p) {
            match k.as_str() {
                "mode" => out["PublishMode"] = json!(v),
                "target" => out["TargetPort"] = json!(num(&v)?),
                "published" => out["PublishedPort"] = json!(num(&v)?),
                "protocol" => out["Protocol"] = json!(v),
                _ => return Err(bad(format!("invalid --publish {p:?}: unknown field {k:?}"))),
            }
        }
        if out["TargetPort"].is_null() {
            return Err(bad(format!("invalid --publish {p:?}: target is required")));
        }
        return Ok(out);
    }
    let (ports, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    out["Protocol"] = json!(proto);
    match ports.split_once(':') {
        Some((published, target)) => {
            out["TargetPort"] = json!(num(target)?);
            out["PublishedPort"] = json!(num(published)?);
        }
        None => out["TargetPort"] = json!(num(ports)?),
    }
    Ok(out)
}

/// `--placement-pref spread=LABEL`.
fn placement_pref(p: &str) -> Result<Value, Failure> {
    match p.split_once('=') {
        Some(("spread", d)) => Ok(json!({"Spread": {"SpreadDescriptor": d}})),
        _ => Err(bad(format!(
            "invalid --placement-pref {p:?}: the only strategy is spread (spread=node.labels.LABEL)"
        ))),
    }
}

/// `--host NAME:IP` in swarmkit's hosts-file form, `IP NAME`.
fn host(h: &str) -> Result<String, Failure> {
    let (name, ip) = h
        .split_once(':')
        .or_else(|| h.split_once('='))
        .ok_or_else(|| bad(format!("invalid --host {h:?}: give HOST:IP")))?;
    Ok(format!("{ip} {name}"))
}

/// `--ulimit NAME=SOFT[:HARD]`.
fn ulimit(u: &str) -> Result<Value, Failure> {
    let err = || bad(format!("invalid --ulimit {u:?}: give NAME=SOFT[:HARD]"));
    let (name, vals) = u.split_once('=').ok_or_else(err)?;
    let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
    let soft: i64 = soft.parse().map_err(|_| err())?;
    let hard: i64 = hard.parse().map_err(|_| err())?;
    Ok(json!({"Name": name, "Hard": hard, "Soft": soft}))
}

/// `NET_ADMIN` as `CAP_NET_ADMIN` (`ALL` stays).
pub fn capability(c: &str) -> String {
    let c = c.to_ascii_uppercase();
    if c == "ALL" || c.starts_with("CAP_") {
        c
    } else {
        format!("CAP_{c}")
    }
}

/// `--generic-resource KIND=N` (a discrete resource; named ones are
/// refused, as by the docker CLI).
fn generic_resource(g: &str) -> Result<Value, Failure> {
    let (kind, v) = g.split_once('=').ok_or_else(|| {
        bad(format!(
            "invalid generic-resource request `{g}`: give KIND=N"
        ))
    })?;
    let n: i64 = v.parse().map_err(|_| {
        bad(format!(
            "invalid generic-resource request `{g}`, Named Generic Resources is not supported for service create or update"
        ))
    })?;
    Ok(json!({"DiscreteResourceSpec": {"Kind": kind, "Value": n}}))
}

/// `--secret NAME` or `--secret source=…,target=…,uid=…,gid=…,mode=…`
/// (and `--config`), with the id looked up (`GET /secrets` or `/configs`).
fn file_ref(c: &Client, kind: &str, s: &str) -> Result<Value, Failure> {
    let (mut source, mut target) = (String::new(), String::new());
    let (mut uid, mut gid, mut mode) = ("0".to_string(), "0".to_string(), 0o444u32);
    if s.contains('=') {
        for (k, v) in csv(s) {
            match k.as_str() {
                "source" | "src" => source = v,
                "target" => target = v,
                "uid" => uid = v,
                "gid" => gid = v,
                "mode" => {
                    mode = u32::from_str_radix(&v, 8).map_err(|_| {
                        bad(format!("invalid --{kind} {s:?}: mode {v:?} is not octal"))
                    })?
                }
                _ => return Err(bad(format!("invalid --{kind} {s:?}: unknown field {k:?}"))),
            }
        }
    } else {
        source = s.to_string();
    }
    if source.is_empty() {
        return Err(bad(format!("invalid --{kind} {s:?}: source is required")));
    }
    if target.is_empty() {
        target = source.clone();
    }
    let filters = json!({"name": {&source: true}}).to_string();
    let list = get(c, &format!("/{kind}s?filters={}", http::enc(&filters)))?;
    let id = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["Spec"]["Name"] == source.as_str() || o["ID"] == source.as_str())
        .and_then(|o| o["ID"].as_str())
        .ok_or_else(|| bad(format!("{kind} not found: {source}")))?
        .to_string();
    let title = if kind == "secret" { "Secret" } else { "Config" };
    Ok(json!({
        "File": {"Name": target, "UID": uid, "GID": gid, "Mode": mode},
        format!("{title}ID"): id,
        format!("{title}Name"): source,
    }))
}

/// `--network NAME` or `--network name=…,alias=…,driver-opt=…`, with the
/// network's id looked up.
fn network(c: &Client, n: &str) -> Result<Value, Failure> {
    let mut name = n.to_string();
    let mut aliases = Vec::new();
    let mut opts = Map::new();
    if n.contains('=') {
        name.clear();
        for (k, v) in csv(n) {
            match k.as_str() {
                "name" => name = v,
                "alias" => aliases.push(v),
                "driver-opt" => {
                    let (ok, ov) = v.split_once('=').unwrap_or((&v, ""));
                    opts.insert(ok.into(), json!(ov));
                }
                _ => return Err(bad(format!("invalid --network {n:?}: unknown field {k:?}"))),
            }
        }
    }
    let net = get(c, &format!("/networks/{}", http::enc(&name)))?;
    let mut out = json!({"Target": net["Id"]});
    if !aliases.is_empty() {
        out["Aliases"] = json!(aliases);
    }
    if !opts.is_empty() {
        out["DriverOpts"] = Value::Object(opts);
    }
    Ok(out)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(String::from))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in v {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

// ---- create ----------------------------------------------------------

/// An image reference in the docker CLI's familiar form with its tag:
/// `busybox` → `busybox:latest`, `docker.io/library/x:1` → `x:1`.
pub fn familiar_image(image: &str) -> String {
    let short = image
        .strip_prefix("docker.io/library/")
        .or_else(|| image.strip_prefix("docker.io/"))
        .unwrap_or(image);
    let last = short.rsplit('/').next().unwrap_or(short);
    if short.contains('@') || last.contains(':') {
        short.to_string()
    } else {
        format!("{short}:latest")
    }
}

/// The spec of `service create`: the docker CLI's defaults, then every flag.
pub fn create_spec(
    c: &Client,
    name: Option<&str>,
    mode: &str,
    f: &FieldArgs,
    l: &CreateLists,
    image: &str,
    args: &[String],
) -> Result<Value, Failure> {
    let mode = match mode {
        "replicated" => {
            if f.max_concurrent.is_some() {
                return Err(bad(
                    "--max-concurrent can only be used with replicated-job mode",
                ));
            }
            json!({"Replicated": {"Replicas": f.replicas.unwrap_or(1)}})
        }
        "global" | "global-job" if f.replicas.is_some() => {
            return Err(bad(format!(
                "replicas can only be used with replicated or replicated-job mode (not {mode})"
            )))
        }
        "global" | "global-job" if f.max_concurrent.is_some() => {
            return Err(bad(
                "--max-concurrent can only be used with replicated-job mode",
            ))
        }
        "global" => json!({"Global": {}}),
        "global-job" => json!({"GlobalJob": {}}),
        "replicated-job" => {
            let total = f.replicas.unwrap_or(1);
            json!({"ReplicatedJob": {
                "MaxConcurrent": f.max_concurrent.unwrap_or(total),
                "TotalCompletions": total,
            }})
        }
        m => {
            return Err(bad(format!(
                "invalid --mode {m:?}: use replicated, global, replicated-job or global-job"
            )))
        }
    };
    let defaults_update = json!({
        "Parallelism": 1, "FailureAction": "pause", "Monitor": 5_000_000_000i64,
        "MaxFailureRatio": 0, "Order": "stop-first",
    });
    let mut cs = json!({
        "Image": familiar_image(image),
        "Init": false,
        "StopGracePeriod": 10_000_000_000i64,
        "DNSConfig": {},
        "Isolation": "default",
    });
    if !args.is_empty() {
        cs["Args"] = json!(args);
    }
    let labels = kv_map(&l.container_label);
    if !labels.is_empty() {
        cs["Labels"] = Value::Object(labels);
    }
    let env = env_list(&l.env_file, &l.env)?;
    if !env.is_empty() {
        cs["Env"] = json!(env);
    }
    if !l.group.is_empty() {
        cs["Groups"] = json!(l.group);
    }
    if !l.mount.is_empty() {
        cs["Mounts"] = l
            .mount
            .iter()
            .map(|m| mount(m))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    if !l.host_entry.is_empty() {
        cs["Hosts"] = l
            .host_entry
            .iter()
            .map(|h| host(h))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    let dns = &mut cs["DNSConfig"];
    for (k, v) in [
        ("Nameservers", &l.dns),
        ("Search", &l.dns_search),
        ("Options", &l.dns_option),
    ] {
        if !v.is_empty() {
            dns[k] = json!(v);
        }
    }
    if !l.secret.is_empty() {
        cs["Secrets"] = l
            .secret
            .iter()
            .map(|s| file_ref(c, "secret", s))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    if !l.config_ref.is_empty() {
        cs["Configs"] = l
            .config_ref
            .iter()
            .map(|s| file_ref(c, "config", s))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    if !l.sysctl.is_empty() {
        cs["Sysctls"] = Value::Object(kv_map(&l.sysctl));
    }
    if !l.cap_add.is_empty() {
        cs["CapabilityAdd"] = json!(l.cap_add.iter().map(|c| capability(c)).collect::<Vec<_>>());
    }
    if !l.cap_drop.is_empty() {
        cs["CapabilityDrop"] = json!(l.cap_drop.iter().map(|c| capability(c)).collect::<Vec<_>>());
    }
    if !l.ulimit.is_empty() {
        cs["Ulimits"] = l
            .ulimit
            .iter()
            .map(|u| ulimit(u))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    let mut placement = json!({});
    if !l.constraint.is_empty() {
        placement["Constraints"] = json!(l.constraint);
    }
    if !l.placement_pref.is_empty() {
        placement["Preferences"] = l
            .placement_pref
            .iter()
            .map(|p| placement_pref(p))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    let mut spec = json!({
        "Labels": kv_map(&l.label),
        "TaskTemplate": {
            "ContainerSpec": cs,
            "Resources": {"Limits": {}, "Reservations": {}},
            "RestartPolicy": {"Condition": "any", "Delay": 5_000_000_000i64, "MaxAttempts": 0},
            "Placement": placement,
            "ForceUpdate": 0,
            "Runtime": "container",
        },
        "Mode": mode,
        "UpdateConfig": defaults_update.clone(),
        "RollbackConfig": defaults_update,
        "EndpointSpec": {"Mode": "vip"},
    });
    if let Some(n) = name {
        spec["Name"] = json!(n);
    }
    if !l.generic_resource.is_empty() {
        spec["TaskTemplate"]["Resources"]["Reservations"]["GenericResources"] = l
            .generic_resource
            .iter()
            .map(|g| generic_resource(g))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    if !l.network.is_empty() {
        // Sorted by id, as the docker CLI sends them.
        let mut nets = l
            .network
            .iter()
            .map(|n| network(c, n))
            .collect::<Result<Vec<_>, _>>()?;
        nets.sort_by_key(|n| n["Target"].as_str().unwrap_or("").to_string());
        spec["TaskTemplate"]["Networks"] = json!(nets);
    }
    if !l.publish.is_empty() {
        spec["EndpointSpec"]["Ports"] = l
            .publish
            .iter()
            .map(|p| port(p))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    if !spec["Mode"]["ReplicatedJob"].is_null() || !spec["Mode"]["GlobalJob"].is_null() {
        // A job runs to completion and is never rolled out: the manager
        // refuses these ("Jobs may not have an update config"), so the
        // docker CLI sends none (and an --update-* flag gets that refusal).
        let o = spec.as_object_mut().unwrap();
        o.remove("UpdateConfig");
        o.remove("RollbackConfig");
    }
    apply_fields(&mut spec, f, true)?;
    Ok(spec)
}

// ---- the single-field flags, for both --------------------------------

/// Sets what each given single-field flag names. `create`: the replica
/// count is already in the mode.
pub fn apply_fields(spec: &mut Value, f: &FieldArgs, create: bool) -> Result<(), Failure> {
    if f.credential_spec.is_some() {
        return Err(bad(
            "--credential-spec: credential specs are for Windows services (gMSA) and have no meaning on Linux; remove it",
        ));
    }
    if !f.log_opt.is_empty() && f.log_driver.is_none() {
        return Err(bad(
            "--log-opt needs --log-driver: the options belong to a driver, and without one they would be dropped (as the docker CLI silently does); give --log-driver too",
        ));
    }
    if f.no_healthcheck
        && (f.health_cmd.is_some()
            || f.health_interval.is_some()
            || f.health_timeout.is_some()
            || f.health_retries.is_some()
            || f.health_start_period.is_some())
    {
        return Err(bad("--no-healthcheck conflicts with --health-* options"));
    }
    let cs = &mut spec["TaskTemplate"]["ContainerSpec"];
    if let Some(e) = &f.entrypoint {
        let words = crate::compose::plan::shell_split(e)
            .map_err(|m| bad(format!("invalid --entrypoint {e:?}: {m}")))?;
        cs["Command"] = json!(words);
    }
    for (key, v) in [
        ("User", &f.user),
        ("Dir", &f.workdir),
        ("Hostname", &f.hostname),
        ("StopSignal", &f.stop_signal),
        ("Isolation", &f.isolation),
    ] {
        if let Some(v) = v {
            cs[key] = json!(v);
        }
    }
    if let Some(d) = &f.stop_grace_period {
        cs["StopGracePeriod"] = json!(nanos("stop-grace-period", d)?);
    }
    for (key, v) in [("Init", f.init), ("ReadOnly", f.read_only), ("TTY", f.tty)] {
        if let Some(v) = v {
            cs[key] = json!(v);
        }
    }
    // Health check.
    if f.no_healthcheck {
        cs["Healthcheck"] = json!({"Test": ["NONE"]});
    } else if f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_timeout.is_some()
        || f.health_retries.is_some()
        || f.health_start_period.is_some()
    {
        let hc = &mut cs["Healthcheck"];
        if !hc.is_object() {
            *hc = json!({});
        }
        if hc["Test"].get(0).and_then(Value::as_str) == Some("NONE") {
            hc.as_object_mut().unwrap().remove("Test");
        }
        for (key, flag, v) in [
            ("Interval", "health-interval", &f.health_interval),
            ("Timeout", "health-timeout", &f.health_timeout),
            ("StartPeriod", "health-start-period", &f.health_start_period),
        ] {
            if let Some(v) = v {
                hc[key] = json!(nanos(flag, v)?);
            }
        }
        if let Some(r) = f.health_retries {
            hc["Retries"] = json!(r);
        }
        if let Some(cmd) = &f.health_cmd {
            if cmd.is_empty() {
                hc.as_object_mut().unwrap().remove("Test");
            } else {
                hc["Test"] = json!(["CMD-SHELL", cmd]);
            }
        }
    }
    // Resources: each flag sets its own field and keeps the others.
    let task = &mut spec["TaskTemplate"];
    for (key, flag, cpu, mem) in [
        ("Limits", "limit", &f.limit_cpu, &f.limit_memory),
        ("Reservations", "reserve", &f.reserve_cpu, &f.reserve_memory),
    ] {
        let r = &mut task["Resources"][key];
        if let Some(v) = cpu {
            r["NanoCPUs"] = json!(nano_cpus(&format!("{flag}-cpu"), v)?);
        }
        if let Some(v) = mem {
            r["MemoryBytes"] = json!(bytes(&format!("{flag}-memory"), v)?);
        }
    }
    if let Some(p) = f.limit_pids {
        task["Resources"]["Limits"]["Pids"] = json!(p);
    }
    // Restart policy.
    if f.restart_condition.is_some()
        || f.restart_delay.is_some()
        || f.restart_max_attempts.is_some()
        || f.restart_window.is_some()
    {
        let rp = &mut task["RestartPolicy"];
        if !rp.is_object() {
            *rp = json!({"Condition": "any", "Delay": 5_000_000_000i64, "MaxAttempts": 0});
        }
        if let Some(c) = &f.restart_condition {
            if !["none", "on-failure", "any"].contains(&c.as_str()) {
                return Err(bad(format!(
                    "invalid --restart-condition {c:?}: use none, on-failure or any"
                )));
            }
            rp["Condition"] = json!(c);
        }
        if let Some(d) = &f.restart_delay {
            rp["Delay"] = json!(nanos("restart-delay", d)?);
        }
        if let Some(n) = f.restart_max_attempts {
            rp["MaxAttempts"] = json!(n);
        }
        if let Some(d) = &f.restart_window {
            rp["Window"] = json!(nanos("restart-window", d)?);
        }
    }
    if let Some(n) = f.replicas_max_per_node {
        task["Placement"]["MaxReplicas"] = json!(n);
    }
    if let Some(d) = &f.log_driver {
        task["LogDriver"] = json!({"Name": d});
        if !f.log_opt.is_empty() {
            task["LogDriver"]["Options"] = Value::Object(kv_map(&f.log_opt));
        }
    }
    // Update and rollback configs.
    for (key, flag, p, delay, monitor, action, ratio, order, actions) in [
        (
            "UpdateConfig",
            "update",
            f.update_parallelism,
            &f.update_delay,
            &f.update_monitor,
            &f.update_failure_action,
            f.update_max_failure_ratio,
            &f.update_order,
            &["pause", "continue", "rollback"][..],
        ),
        (
            "RollbackConfig",
            "rollback",
            f.rollback_parallelism,
            &f.rollback_delay,
            &f.rollback_monitor,
            &f.rollback_failure_action,
            f.rollback_max_failure_ratio,
            &f.rollback_order,
            &["pause", "continue"][..],
        ),
    ] {
        if p.is_none()
            && delay.is_none()
            && monitor.is_none()
            && action.is_none()
            && ratio.is_none()
            && order.is_none()
        {
            continue;
        }
        let u = &mut spec[key];
        if !u.is_object() {
            *u = json!({"Parallelism": 1, "FailureAction": "pause",
                "Monitor": 5_000_000_000i64, "MaxFailureRatio": 0, "Order": "stop-first"});
        }
        if let Some(p) = p {
            u["Parallelism"] = json!(p);
        }
        if let Some(d) = delay {
            u["Delay"] = json!(nanos(&format!("{flag}-delay"), d)?);
        }
        if let Some(d) = monitor {
            u["Monitor"] = json!(nanos(&format!("{flag}-monitor"), d)?);
        }
        if let Some(a) = action {
            if !actions.contains(&a.as_str()) {
                return Err(bad(format!(
                    "invalid --{flag}-failure-action {a:?}: use {}",
                    actions.join(", ")
                )));
            }
            u["FailureAction"] = json!(a);
        }
        if let Some(r) = ratio {
            u["MaxFailureRatio"] = json!(r);
        }
        if let Some(o) = order {
            if o != "start-first" && o != "stop-first" {
                return Err(bad(format!(
                    "invalid --{flag}-order {o:?}: use start-first or stop-first"
                )));
            }
            u["Order"] = json!(o);
        }
    }
    if let Some(m) = &f.endpoint_mode {
        if m != "vip" && m != "dnsrr" {
            return Err(bad(format!(
                "invalid --endpoint-mode {m:?}: use vip or dnsrr"
            )));
        }
        spec["EndpointSpec"]["Mode"] = json!(m);
    }
    if !create {
        if let Some(n) = f.replicas {
            match spec["Mode"].get_mut("Replicated") {
                Some(r) => r["Replicas"] = json!(n),
                None => match spec["Mode"].get_mut("ReplicatedJob") {
                    Some(r) => r["TotalCompletions"] = json!(n),
                    None => return Err(bad("replicas can only be used with replicated mode")),
                },
            }
        }
        if let Some(n) = f.max_concurrent {
            match spec["Mode"].get_mut("ReplicatedJob") {
                Some(r) => r["MaxConcurrent"] = json!(n),
                None => {
                    return Err(bad(
                        "--max-concurrent can only be used with replicated-job mode",
                    ))
                }
            }
        }
    }
    Ok(())
}

// ---- update's lists ----------------------------------------------------

/// A map field (labels, sysctls) with `add` merged in and `rm` keys removed.
fn edit_map(field: &mut Value, add: &[String], rm: &[String]) {
    if add.is_empty() && rm.is_empty() {
        return;
    }
    let mut m = field.as_object().cloned().unwrap_or_default();
    m.extend(kv_map(add));
    for k in rm {
        m.remove(k);
    }
    *field = Value::Object(m);
}

/// An object list with `add` put in place of entries of the same key, and
/// entries whose key is in `rm` removed; sorted by `order` when given.
fn edit_objects(
    field: &mut Value,
    add: Vec<Value>,
    rm: &[String],
    key: impl Fn(&Value) -> String,
) -> Vec<Value> {
    let added: Vec<String> = add.iter().map(&key).collect();
    let mut out: Vec<Value> = field
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| !added.contains(&key(v)) && !rm.contains(&key(v)))
        .cloned()
        .collect();
    out.extend(add);
    out
}

/// Changes the stored `spec` as `service update`'s list flags say.
pub fn apply_lists(c: &Client, spec: &mut Value, u: &UpdateLists) -> Result<(), Failure> {
    edit_map(&mut spec["Labels"], &u.label_add, &u.label_rm);
    let cs = &mut spec["TaskTemplate"]["ContainerSpec"];
    edit_map(
        &mut cs["Labels"],
        &u.container_label_add,
        &u.container_label_rm,
    );
    edit_map(&mut cs["Sysctls"], &u.sysctl_add, &u.sysctl_rm);
    if !u.env_add.is_empty() || !u.env_rm.is_empty() {
        let mut env = strings(&cs["Env"]);
        let gone: Vec<&str> = u
            .env_add
            .iter()
            .chain(&u.env_rm)
            .map(|e| key_of(e))
            .collect();
        env.retain(|e| !gone.contains(&key_of(e)));
        env.extend(u.env_add.iter().filter(|e| e.contains('=')).cloned());
        // The docker CLI rebuilds the list from a Go map (random order):
        // sorted here, so the same update always gives the same spec.
        cs["Env"] = json!(sorted(env));
    }
    if !u.group_add.is_empty() || !u.group_rm.is_empty() {
        let mut g = strings(&cs["Groups"]);
        g.extend(u.group_add.iter().cloned());
        g.retain(|x| !u.group_rm.contains(x));
        cs["Groups"] = json!(sorted(g));
    }
    // Mounts are always re-sorted (by source, then target), as the docker
    // CLI does on every update, with or without a mount flag.
    if !u.mount_add.is_empty() || !u.mount_rm.is_empty() || cs["Mounts"].is_array() {
        let add = u
            .mount_add
            .iter()
            .map(|m| mount(m))
            .collect::<Result<Vec<_>, _>>()?;
        let target = |m: &Value| m["Target"].as_str().unwrap_or("").to_string();
        let mut ms = edit_objects(&mut cs["Mounts"], add, &u.mount_rm, target);
        ms.sort_by_key(|m| {
            (
                m["Source"].as_str().unwrap_or("").to_string(),
                m["Target"].as_str().unwrap_or("").to_string(),
            )
        });
        cs["Mounts"] = json!(ms);
    }
    if !u.host_add.is_empty() || !u.host_rm.is_empty() {
        let mut hs = strings(&cs["Hosts"]);
        for h in &u.host_add {
            hs.push(host(h)?);
        }
        let rm: Vec<&str> = u
            .host_rm
            .iter()
            .map(|h| h.split_once(':').map_or(h.as_str(), |(k, _)| k))
            .collect();
        hs = dedup(hs);
        hs.retain(|h| {
            h.split_whitespace()
                .nth(1)
                .is_none_or(|name| !rm.contains(&name))
        });
        cs["Hosts"] = json!(sorted(hs));
    }
    let dns_changed = [
        &u.dns_add,
        &u.dns_rm,
        &u.dns_option_add,
        &u.dns_option_rm,
        &u.dns_search_add,
        &u.dns_search_rm,
    ]
    .iter()
    .any(|l| !l.is_empty());
    if dns_changed {
        let old = cs["DNSConfig"].clone();
        let mut new = json!({});
        for (key, add, rm) in [
            ("Nameservers", &u.dns_add, &u.dns_rm),
            ("Search", &u.dns_search_add, &u.dns_search_rm),
            ("Options", &u.dns_option_add, &u.dns_option_rm),
        ] {
            let mut l = strings(&old[key]);
            l.extend(add.iter().cloned());
            let mut l = dedup(l);
            l.retain(|x| !rm.contains(x));
            if !l.is_empty() {
                new[key] = json!(sorted(l));
            }
        }
        cs["DNSConfig"] = new;
    }
    if !u.ulimit_add.is_empty() || !u.ulimit_rm.is_empty() {
        let add = u
            .ulimit_add
            .iter()
            .map(|x| ulimit(x))
            .collect::<Result<Vec<_>, _>>()?;
        let name = |v: &Value| v["Name"].as_str().unwrap_or("").to_string();
        let mut l = edit_objects(&mut cs["Ulimits"], add, &u.ulimit_rm, name);
        l.sort_by_key(|v| v["Name"].as_str().unwrap_or("").to_string());
        cs["Ulimits"] = json!(l);
    }
    if !u.cap_add.is_empty() || !u.cap_drop.is_empty() {
        // As the docker CLI: adding a capability the service drops only
        // cancels the drop (and dropping one it adds cancels the add).
        let add: Vec<String> = u.cap_add.iter().map(|c| capability(c)).collect();
        let drop: Vec<String> = u.cap_drop.iter().map(|c| capability(c)).collect();
        let old_a = strings(&cs["CapabilityAdd"]);
        let old_d = strings(&cs["CapabilityDrop"]);
        let mut a: Vec<String> = old_a
            .iter()
            .filter(|c| !drop.contains(c))
            .cloned()
            .collect();
        let mut d: Vec<String> = old_d.iter().filter(|c| !add.contains(c)).cloned().collect();
        a.extend(add.into_iter().filter(|c| !old_d.contains(c)));
        d.extend(drop.into_iter().filter(|c| !old_a.contains(c)));
        cs["CapabilityAdd"] = json!(sorted(dedup(a)));
        cs["CapabilityDrop"] = json!(sorted(dedup(d)));
    }
    for (kind, add, rm) in [
        ("secret", &u.secret_add, &u.secret_rm),
        ("config", &u.config_add, &u.config_rm),
    ] {
        if add.is_empty() && rm.is_empty() {
            continue;
        }
        let (field, name_key) = if kind == "secret" {
            ("Secrets", "SecretName")
        } else {
            ("Configs", "ConfigName")
        };
        let mut l: Vec<Value> = cs[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| !rm.iter().any(|r| v[name_key] == r.as_str()))
            .cloned()
            .collect();
        for a in add {
            l.push(file_ref(c, kind, a)?);
        }
        cs[field] = json!(l);
    }
    let task = &mut spec["TaskTemplate"];
    if !u.constraint_add.is_empty() || !u.constraint_rm.is_empty() {
        let mut l = strings(&task["Placement"]["Constraints"]);
        l.extend(u.constraint_add.iter().cloned());
        l.retain(|x| !u.constraint_rm.contains(x));
        task["Placement"]["Constraints"] = json!(sorted(l));
    }
    if !u.placement_pref_add.is_empty() || !u.placement_pref_rm.is_empty() {
        let rm = u
            .placement_pref_rm
            .iter()
            .map(|p| placement_pref(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut l: Vec<Value> = task["Placement"]["Preferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| !rm.contains(p))
            .cloned()
            .collect();
        for p in &u.placement_pref_add {
            l.push(placement_pref(p)?);
        }
        task["Placement"]["Preferences"] = json!(l);
    }
    if !u.generic_resource_add.is_empty() || !u.generic_resource_rm.is_empty() {
        let add = u
            .generic_resource_add
            .iter()
            .map(|g| generic_resource(g))
            .collect::<Result<Vec<_>, _>>()?;
        let kind = |v: &Value| {
            v["DiscreteResourceSpec"]["Kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        let l = edit_objects(
            &mut task["Resources"]["Reservations"]["GenericResources"],
            add,
            &u.generic_resource_rm,
            kind,
        );
        task["Resources"]["Reservations"]["GenericResources"] = json!(l);
    }
    if !u.network_add.is_empty() || !u.network_rm.is_empty() {
        let mut rm_ids = Vec::new();
        for n in &u.network_rm {
            rm_ids.push(get(c, &format!("/networks/{}", http::enc(n)))?["Id"].clone());
        }
        let mut l: Vec<Value> = task["Networks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| !rm_ids.contains(&n["Target"]))
            .cloned()
            .collect();
        for n in &u.network_add {
            let n = network(c, n)?;
            if l.iter().any(|e| e["Target"] == n["Target"]) {
                return Err(bad(format!(
                    "service is already attached to network {}",
                    n["Target"].as_str().unwrap_or("")
                )));
            }
            l.push(n);
        }
        l.sort_by_key(|n| n["Target"].as_str().unwrap_or("").to_string());
        task["Networks"] = json!(l);
    }
    if !u.publish_add.is_empty() || !u.publish_rm.is_empty() {
        let rm = u
            .publish_rm
            .iter()
            .map(|p| {
                // `--publish-rm 80` names a target port.
                if p.contains(':') || p.contains('=') {
                    port(p)
                } else {
                    port(p).map(|mut v| {
                        v.as_object_mut().unwrap().remove("PublishedPort");
                        v
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let same = |a: &Value, b: &Value| {
            a["TargetPort"] == b["TargetPort"]
                && a["Protocol"].as_str().unwrap_or("tcp")
                    == b["Protocol"].as_str().unwrap_or("tcp")
                && a["PublishMode"].as_str().unwrap_or("ingress")
                    == b["PublishMode"].as_str().unwrap_or("ingress")
        };
        let text = |p: &Value| {
            format!(
                "{}:{}/{}/{}",
                p["PublishedPort"].as_u64().unwrap_or(0),
                p["TargetPort"].as_u64().unwrap_or(0),
                p["Protocol"].as_str().unwrap_or(""),
                p["PublishMode"].as_str().unwrap_or("")
            )
        };
        let old: Vec<Value> = spec["EndpointSpec"]["Ports"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut l: Vec<Value> = old
            .iter()
            .filter(|p| !rm.iter().any(|r| same(p, r)))
            .cloned()
            .collect();
        for a in &u.publish_add {
            let a = port(a)?;
            if !old.iter().any(|p| text(p) == text(&a)) {
                l.push(a);
            }
        }
        l.sort_by_key(|p| text(p));
        spec["EndpointSpec"]["Ports"] = json!(l);
    }
    Ok(())
}
