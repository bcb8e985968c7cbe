//! Container commands: run, create, ps, logs, wait, inspect, and the verbs
//! that act on a list (start, stop, kill, rm).

use super::format;
use super::http::{self, Body, Client, ClientError};
use super::interactive;
use super::util;
use super::Failure;
use serde::Deserialize;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::io::Write;

/// Flags of `run` and `create`. As in Docker, `-h` is `--hostname` here,
/// so help is `--help` only.
#[derive(clap::Args, Debug)]
#[command(trailing_var_arg = true, disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name.
    #[arg(long)]
    pub domainname: Option<String>,
    /// Connect a container to a network (bridge, host, none, container:NAME, or a user network).
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Tune container pids limit.
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    /// (default: twice --memory).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares", allow_hyphen_values = true)]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota, in µs.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period, in µs.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Optional parent cgroup for the container.
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Runtime to use for this container (a name the daemon registered).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Size of /dev/shm (default 64m).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Sysctl options (name=value; namespaced ones only).
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Tune host's OOM preferences (0 to 1000: the runtime cannot lower it).
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Logging driver for the container (json-file, none).
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3).
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Set meta data on a container.
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Publish a container's port(s) to the host.
    #[arg(short, long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long)]
    pub expose: Vec<String>,
    /// Keep STDIN open even if not attached, and forward it.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Override the key sequence for detaching a container (default ctrl-p,ctrl-q).
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process (without -t).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Print every kernel step the engine and the runtime will take to start
    /// the container, each with its equivalent shell command, grouped by
    /// phase; then go on as usual (`run --explain` still runs it, like a
    /// verbose mode; `create --explain` only creates it).
    #[arg(long)]
    pub explain: bool,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// Bind mount a volume (/host:/ctr[:ro], name:/ctr, or /ctr).
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=…,target=…[,readonly]).
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s) (NAME[:ro|rw]).
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs directory (/path[:options]).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Restart policy: no, always, unless-stopped, on-failure[:max-retries].
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Security options (no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json).
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container (/dev/X[:/dev/Y][:rwm]).
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('c 1:3 rwm').
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
    /// Add additional groups to join (a gid or a name of the image's /etc/group).
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers (written to the container's resolv.conf).
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Command to run to check health (run by /bin/sh -c in the container).
    #[arg(long = "health-cmd", value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s: 30s).
    #[arg(long = "health-interval", value_name = "TIME")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s: 30s).
    #[arg(long = "health-timeout", value_name = "TIME")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy (default 0: 3).
    #[arg(long = "health-retries", value_name = "N")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before failures count (ms|s|m|h).
    #[arg(long = "health-start-period", value_name = "TIME")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// The image.
    pub image: String,
    // Everything after the image, flags included (`run busybox sh -c 'echo
    // hi'`), as the docker CLI reads it.
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// `seccomp=FILE` becomes `seccomp=<the file's JSON>`, as the docker CLI
/// sends it (the daemon never reads the client's files).
fn security_opts(opts: &[String]) -> Result<Vec<String>, Failure> {
    opts.iter()
        .map(|o| match o.split_once(['=', ':']) {
            Some(("seccomp", file))
                if file != "unconfined" && !file.trim_start().starts_with('{') =>
            {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    bad(125, format!("opening seccomp profile ({file}) failed: {e}"))
                })?;
                let v: Value = serde_json::from_str(&text).map_err(|e| {
                    bad(
                        125,
                        format!("compacting json for seccomp profile ({file}) failed: {e}"),
                    )
                })?;
                Ok(format!("seccomp={v}"))
            }
            _ => Ok(o.clone()),
        })
        .collect()
}

/// `--device /dev/X[:/dev/Y][:rwm]` as Docker's `DeviceMapping`.
fn device_mapping(d: &str) -> Result<Value, Failure> {
    let is_mode = |m: &str| !m.is_empty() && m.len() <= 3 && m.chars().all(|c| "rwm".contains(c));
    let parts: Vec<&str> = d.split(':').collect();
    let (src, dst, mode) = match parts[..] {
        [src] => (src, src, "rwm"),
        [src, m] if is_mode(m) => (src, src, m),
        [src, dst] => (src, dst, "rwm"),
        [src, dst, m] if is_mode(m) => (src, dst, m),
        _ => {
            return Err(bad(
                125,
                format!("invalid argument \"{d}\" for \"--device\" flag: bad format for path: {d}"),
            ))
        }
    };
    if !dst.starts_with('/') {
        return Err(bad(
            125,
            format!(
                "invalid argument \"{d}\" for \"--device\" flag: {dst} is not an absolute path"
            ),
        ));
    }
    Ok(json!({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": mode}))
}

/// A size flag (`-m 64m`, `--shm-size 1g`), Docker's `RAMInBytes`; more than 0.
pub(super) fn parse_bytes(s: &str) -> Option<i64> {
    mini_docker_api::units::ram_in_bytes(s).filter(|n| *n > 0)
}

fn bad(code: u8, m: impl Into<String>) -> Failure {
    Failure {
        code,
        message: m.into(),
    }
}

/// The create request body for the flags.
pub fn create_body(a: &RunArgs) -> Result<Value, Failure> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f).map_err(|e| bad(125, format!("open {f}: {e}")))?;
        env.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    for e in &a.env {
        // `-e NAME` takes the value from our own environment, as Docker does.
        match e.split_once('=') {
            Some(_) => env.push(e.clone()),
            None => {
                if let Ok(v) = std::env::var(e) {
                    env.push(format!("{e}={v}"));
                }
            }
        }
    }
    let memory = match &a.memory {
        Some(m) => parse_bytes(m).ok_or_else(|| {
            bad(
                125,
                format!("invalid argument \"{m}\" for \"-m, --memory\" flag: invalid size: '{m}'"),
            )
        })?,
        None => 0,
    };
    let nano_cpus = match a.cpus {
        Some(c) if c > 0.0 => (c * 1e9) as i64,
        Some(c) => {
            return Err(bad(
                125,
                format!("invalid argument \"{c}\" for \"--cpus\" flag: must be positive"),
            ))
        }
        None => 0,
    };
    let mut labels = serde_json::Map::new();
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.into(), json!(v));
    }
    let mut bindings = serde_json::Map::new();
    let mut exposed = serde_json::Map::new();
    for p in &a.publish {
        let m: network::PortMapping = p.parse().map_err(|e: network::Error| {
            bad(
                125,
                format!("invalid argument \"{p}\" for \"-p, --publish\" flag: {e}"),
            )
        })?;
        let key = format!("{}/{}", m.container_port, m.proto);
        exposed.insert(key.clone(), json!({}));
        let host_ip = if m.host_ip.is_unspecified() {
            String::new()
        } else {
            m.host_ip.to_string()
        };
        let host_port = if m.host_port == 0 {
            String::new()
        } else {
            m.host_port.to_string()
        };
        let e = bindings.entry(key).or_insert_with(|| json!([]));
        if let Some(list) = e.as_array_mut() {
            list.push(json!({"HostIp": host_ip, "HostPort": host_port}));
        }
    }
    for e in &a.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(key, json!({}));
    }
    let mut body = json!({
        "Image": a.image,
        "ExposedPorts": exposed,
        "Cmd": if a.command.is_empty() { Value::Null } else { json!(a.command) },
        "Env": env,
        "Labels": labels,
        "Tty": a.tty, "OpenStdin": a.interactive,
        "StdinOnce": a.interactive && !a.detach,
        "AttachStdin": a.interactive && !a.detach,
        "AttachStdout": !a.detach, "AttachStderr": !a.detach,
        "HostConfig": {
            "NetworkMode": a.network,
            "AutoRemove": a.rm,
            "Memory": memory,
            "NanoCpus": nano_cpus,
            "PidsLimit": a.pids_limit.unwrap_or(0),
            "PortBindings": bindings,
            "PublishAllPorts": a.publish_all,
        },
    });
    if let Some(w) = &a.workdir {
        body["WorkingDir"] = json!(w);
    }
    if let Some(u) = &a.user {
        body["User"] = json!(u);
    }
    if let Some(h) = &a.hostname {
        body["Hostname"] = json!(h);
    }
    if let Some(d) = &a.domainname {
        body["Domainname"] = json!(d);
    }
    if let Some(e) = &a.entrypoint {
        body["Entrypoint"] = if e.is_empty() { json!([]) } else { json!([e]) };
    }
    if let Some(h) = health_config(a)? {
        body["Healthcheck"] = h;
    }
    add_resource_flags(a, &mut body)?;
    add_netvol_flags(a, &mut body)?;
    Ok(body)
}

/// `--health-*` and `--no-healthcheck` as the docker CLI turns them into
/// `Config.Healthcheck` (durations in nanoseconds; an unset one is 0, which
/// the daemon reads as the image's value or Docker's default).
fn health_config(a: &RunArgs) -> Result<Option<Value>, Failure> {
    let dur = |flag: &str, v: &Option<String>| -> Result<i64, Failure> {
        let Some(v) = v else { return Ok(0) };
        let n = mini_docker_api::units::go_duration_nanos(v).ok_or_else(|| {
            bad(125, format!("invalid argument \"{v}\" for \"--{flag}\" flag: time: invalid duration \"{v}\""))
        })?;
        if n < 0 {
            return Err(bad(125, format!("--{flag} cannot be negative")));
        }
        Ok(n)
    };
    let interval = dur("health-interval", &a.health_interval)?;
    let timeout = dur("health-timeout", &a.health_timeout)?;
    let start_period = dur("health-start-period", &a.health_start_period)?;
    let retries = a.health_retries.unwrap_or(0);
    let any = a.health_cmd.as_deref().is_some_and(|c| !c.is_empty())
        || interval != 0
        || timeout != 0
        || start_period != 0
        || retries != 0;
    if a.no_healthcheck {
        if any {
            return Err(bad(
                125,
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(json!({"Test": ["NONE"]})));
    }
    if !any {
        return Ok(None);
    }
    if retries < 0 {
        return Err(bad(125, "--health-retries cannot be negative"));
    }
    let test = match a.health_cmd.as_deref().filter(|c| !c.is_empty()) {
        Some(cmd) => json!(["CMD-SHELL", cmd]),
        None => Value::Null,
    };
    Ok(Some(json!({
        "Test": test,
        "Interval": interval,
        "Timeout": timeout,
        "StartPeriod": start_period,
        "Retries": retries,
    })))
}

/// The cgroup, `/dev/shm`, sysctl and log flags, into `HostConfig` (the
/// daemon checks the values, with Docker's messages).
fn add_resource_flags(a: &RunArgs, body: &mut Value) -> Result<(), Failure> {
    let hc = &mut body["HostConfig"];
    let size = |flag: &str, v: &str| {
        parse_bytes(v).ok_or_else(|| {
            bad(
                125,
                format!("invalid argument \"{v}\" for \"--{flag}\" flag: invalid size: '{v}'"),
            )
        })
    };
    if let Some(s) = &a.memory_swap {
        hc["MemorySwap"] = json!(if s.trim() == "-1" {
            -1
        } else {
            size("memory-swap", s)?
        });
    }
    if let Some(s) = &a.shm_size {
        hc["ShmSize"] = json!(size("shm-size", s)?);
    }
    for (k, v) in [
        ("CpuShares", a.cpu_shares),
        ("CpuQuota", a.cpu_quota),
        ("CpuPeriod", a.cpu_period),
        ("OomScoreAdj", a.oom_score_adj),
    ] {
        if let Some(v) = v {
            hc[k] = json!(v);
        }
    }
    for (k, v) in [
        ("CpusetCpus", &a.cpuset_cpus),
        ("CpusetMems", &a.cpuset_mems),
        ("CgroupParent", &a.cgroup_parent),
        ("Runtime", &a.runtime),
    ] {
        if let Some(v) = v {
            hc[k] = json!(v);
        }
    }
    let pairs = |flag: &str, list: &[String]| -> Result<serde_json::Map<String, Value>, Failure> {
        let mut m = serde_json::Map::new();
        for kv in list {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                bad(
                    125,
                    format!("invalid argument \"{kv}\" for \"--{flag}\" flag: expected KEY=VALUE"),
                )
            })?;
            m.insert(k.to_string(), json!(v));
        }
        Ok(m)
    };
    if !a.sysctl.is_empty() {
        hc["Sysctls"] = json!(pairs("sysctl", &a.sysctl)?);
    }
    if a.log_driver.is_some() || !a.log_opt.is_empty() {
        hc["LogConfig"] = json!({
            "Type": a.log_driver.clone().unwrap_or_default(),
            "Config": pairs("log-opt", &a.log_opt)?,
        });
    }
    Ok(())
}

/// `--ulimit nofile=1024:2048` → `{"Name": "nofile", "Soft": 1024, "Hard": 2048}`.
pub fn parse_ulimit(s: &str) -> Option<Value> {
    let (name, vals) = s.split_once('=')?;
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?),
        None => {
            let v = vals.parse::<i64>().ok()?;
            (v, v)
        }
    };
    Some(json!({"Name": name, "Soft": soft, "Hard": hard}))
}

/// `--mount type=volume,source=x,target=/y,readonly` → a `HostConfig.Mounts` entry.
pub fn parse_mount_flag(s: &str) -> Result<Value, String> {
    let mut m = json!({"Type": "volume"});
    for kv in s.split(',') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "type" => m["Type"] = json!(v),
            "source" | "src" => m["Source"] = json!(v),
            "target" | "destination" | "dst" => m["Target"] = json!(v),
            "readonly" | "ro" => m["ReadOnly"] = json!(!matches!(v, "false" | "0")),
            "volume-nocopy" => m["VolumeOptions"] = json!({"NoCopy": !matches!(v, "false" | "0")}),
            "tmpfs-size" => {
                let n = parse_bytes(v).ok_or_else(|| format!("invalid tmpfs-size {v:?}"))?;
                m["TmpfsOptions"]["SizeBytes"] = json!(n);
            }
            "tmpfs-mode" => {
                let n =
                    u32::from_str_radix(v, 8).map_err(|_| format!("invalid tmpfs-mode {v:?}"))?;
                m["TmpfsOptions"]["Mode"] = json!(n);
            }
            other => return Err(format!("unexpected key '{other}' in '{kv}'")),
        }
    }
    if m["Target"].is_null() {
        return Err("target is required".into());
    }
    Ok(m)
}

/// The flags of networks, volumes, restart policies and security.
fn add_netvol_flags(a: &RunArgs, body: &mut Value) -> Result<(), Failure> {
    let hc = &mut body["HostConfig"];
    let (mut binds, mut anon) = (Vec::new(), serde_json::Map::new());
    for v in &a.volume {
        if v.contains(':') {
            binds.push(json!(v));
        } else {
            anon.insert(v.clone(), json!({}));
        }
    }
    hc["Binds"] = json!(binds);
    hc["VolumesFrom"] = json!(a.volumes_from);
    let mut mounts = Vec::new();
    for m in &a.mount {
        mounts.push(parse_mount_flag(m).map_err(|e| {
            bad(
                125,
                format!("invalid argument \"{m}\" for \"--mount\" flag: {e}"),
            )
        })?);
    }
    hc["Mounts"] = json!(mounts);
    let mut tmpfs = serde_json::Map::new();
    for t in &a.tmpfs {
        let (p, o) = t.split_once(':').unwrap_or((t, ""));
        tmpfs.insert(p.into(), json!(o));
    }
    if !tmpfs.is_empty() {
        hc["Tmpfs"] = Value::Object(tmpfs);
    }
    hc["RestartPolicy"] = mini_docker_api::restart::parse_flag(&a.restart).map_err(|m| {
        bad(
            125,
            format!(
                "invalid argument \"{}\" for \"--restart\" flag: {m}",
                a.restart
            ),
        )
    })?;
    let mut ulimits = Vec::new();
    for u in &a.ulimit {
        ulimits.push(parse_ulimit(u).ok_or_else(|| {
            bad(
                125,
                format!(
                    "invalid argument \"{u}\" for \"--ulimit\" flag: expected name=soft[:hard]"
                ),
            )
        })?);
    }
    hc["Ulimits"] = json!(ulimits);
    hc["CapAdd"] = json!(a.cap_add);
    hc["CapDrop"] = json!(a.cap_drop);
    hc["SecurityOpt"] = json!(security_opts(&a.security_opt)?);
    hc["Devices"] = json!(a
        .device
        .iter()
        .map(|d| device_mapping(d))
        .collect::<Result<Vec<_>, Failure>>()?);
    hc["DeviceCgroupRules"] = json!(a.device_cgroup_rule);
    hc["GroupAdd"] = json!(a.group_add);
    hc["ReadonlyRootfs"] = json!(a.read_only);
    if a.init {
        hc["Init"] = json!(true);
    }
    hc["Privileged"] = json!(a.privileged);
    hc["ExtraHosts"] = json!(a.add_host);
    hc["Dns"] = json!(a.dns);
    hc["DnsSearch"] = json!(a.dns_search);
    hc["DnsOptions"] = json!(a.dns_option);
    if !anon.is_empty() {
        body["Volumes"] = Value::Object(anon);
    }
    if !a.network_alias.is_empty() {
        body["NetworkingConfig"] =
            json!({"EndpointsConfig": {a.network.clone(): {"Aliases": a.network_alias}}});
    }
    Ok(())
}

fn fail125(e: ClientError) -> Failure {
    Failure {
        code: 125,
        message: e.to_string(),
    }
}

/// `run` (with `start = true`) and `create`.
pub fn run(c: &Client, a: RunArgs, start: bool) -> Result<u8, Failure> {
    let body = create_body(&a)?;
    let name = a
        .name
        .as_deref()
        .map(|n| format!("?name={}", http::enc(n)))
        .unwrap_or_default();
    let created = match c.call(
        "POST",
        &format!("/containers/create{name}"),
        Body::Json(body.clone()),
    ) {
        Err(ClientError::Api {
            status: 404,
            message,
        }) if message.starts_with("No such image") => {
            eprintln!(
                "Unable to find image '{}' locally",
                images::image::normalize_name(&a.image)
            );
            let pulled = c
                .call(
                    "POST",
                    &format!("/images/create?fromImage={}", http::enc(&a.image)),
                    Body::Empty,
                )
                .map_err(fail125)?;
            super::images::show_progress(pulled).map_err(|m| bad(125, m))?;
            c.call(
                "POST",
                &format!("/containers/create{name}"),
                Body::Json(body),
            )
            .map_err(fail125)?
        }
        other => other.map_err(fail125)?,
    };
    let id = created.json().map_err(fail125)?["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if a.explain {
        super::tools::explain(c, &id).map_err(|e| bad(125, e.message))?;
    }
    if !start {
        println!("{id}");
        return Ok(0);
    }
    let path = |p: &str| format!("/containers/{id}/{p}");
    if a.detach {
        c.call("POST", &path("start"), Body::Empty)
            .map_err(fail125)?;
        println!("{id}");
        return Ok(0);
    }
    // Attach and wait first (as the docker CLI does), then start.
    let attach = interactive::Attach {
        id: &id,
        tty: a.tty,
        stdin: a.interactive,
        detach_keys: a.detach_keys.as_deref(),
        sig_proxy: a.sig_proxy,
    };
    interactive::detach_keys(attach.detach_keys)?;
    let hijacked = interactive::open_attach(c, &attach)?;
    let cond = if a.rm { "removed" } else { "next-exit" };
    let waited = c
        .call(
            "POST",
            &path(&format!("wait?condition={cond}")),
            Body::Empty,
        )
        .map_err(fail125)?;
    if let Err(e) = c.call("POST", &path("start"), Body::Empty) {
        if a.rm {
            let _ = c.call("DELETE", &format!("/containers/{id}?force=1"), Body::Empty);
        }
        return Err(fail125(e));
    }
    if interactive::attached(c, hijacked, &attach)? == interactive::Ended::Detached {
        return Ok(0);
    }
    let code = waited.json().map_err(fail125)?["StatusCode"]
        .as_i64()
        .unwrap_or(125);
    Ok(code.clamp(0, 255) as u8)
}

/// `start [-a] [-i] CONTAINER...`: with `-a`, attached as `run` is.
pub fn start(
    c: &Client,
    names: &[String],
    attach: bool,
    interactive_flag: bool,
    detach_keys: Option<&str>,
    explain: bool,
) -> Result<u8, Failure> {
    if explain {
        for id in names {
            super::tools::explain(c, id)?;
        }
    }
    if !attach && !interactive_flag {
        return each(c, names, |c, id| {
            c.call(
                "POST",
                &format!("/containers/{}/start", http::enc(id)),
                Body::Empty,
            )
            .map(|_| ())
        });
    }
    if names.len() != 1 {
        return Err(bad(
            1,
            "you cannot start and attach multiple containers at once",
        ));
    }
    let info = c
        .call(
            "GET",
            &format!("/containers/{}/json", http::enc(&names[0])),
            Body::Empty,
        )?
        .json()?;
    let id = info["Id"].as_str().unwrap_or_default().to_string();
    let cfg = &info["Config"];
    let a = interactive::Attach {
        id: &id,
        tty: cfg["Tty"].as_bool().unwrap_or(false),
        stdin: interactive_flag && cfg["OpenStdin"].as_bool().unwrap_or(false),
        detach_keys,
        sig_proxy: true,
    };
    interactive::detach_keys(detach_keys)?;
    let h = interactive::open_attach(c, &a)?;
    let waited = c.call(
        "POST",
        &format!("/containers/{id}/wait?condition=next-exit"),
        Body::Empty,
    )?;
    c.call("POST", &format!("/containers/{id}/start"), Body::Empty)
        .map_err(|e| bad(1, e.to_string()))?;
    if interactive::attached(c, h, &a)? == interactive::Ended::Detached {
        return Ok(0);
    }
    let code = waited.json()?["StatusCode"].as_i64().unwrap_or(0);
    Ok(code.clamp(0, 255) as u8)
}

/// A verb over several containers: prints each name, reports failures, exit 1 if any.
pub fn each(
    c: &Client,
    names: &[String],
    mut f: impl FnMut(&Client, &str) -> Result<(), ClientError>,
) -> Result<u8, Failure> {
    let mut code = 0;
    for n in names {
        match f(c, n) {
            Ok(()) => println!("{n}"),
            Err(e @ ClientError::Connect(_)) => return Err(e.into()),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// Flags of `ps`.
#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print containers using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions provided (status=, name=, label=, id=).
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

/// What `ps` reads of one `GET /containers/json` entry. It borrows its
/// strings from the response body, and the keys it does not need
/// (`NetworkSettings`, `Mounts`, `HostConfig`, …) are skipped by the parser
/// without building anything: the cost of a row is a scan of its bytes and
/// a few strings (issue 25: `ps` flat from 10 to 500 containers).
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Summary<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    image: Option<Cow<'a, str>>,
    #[serde(borrow)]
    command: Cow<'a, str>,
    created: i64,
    #[serde(borrow)]
    ports: Option<Vec<SummaryPort<'a>>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    state: Option<Cow<'a, str>>,
    #[serde(borrow)]
    names: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    labels: Option<std::collections::BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow)]
    network_settings: Option<SummaryNetworks<'a>>,
    #[serde(borrow)]
    mounts: Option<Vec<SummaryMount<'a>>>,
}

/// A [`Summary`]'s `NetworkSettings`: only the networks' names are read.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct SummaryNetworks<'a> {
    #[serde(borrow)]
    networks: Option<std::collections::BTreeMap<Cow<'a, str>, serde::de::IgnoredAny>>,
}

/// One of a [`Summary`]'s `Mounts`.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct SummaryMount<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    driver: Option<Cow<'a, str>>,
}

/// One of a [`Summary`]'s `Ports`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SummaryPort<'a> {
    #[serde(rename = "IP", borrow, default)]
    ip: Option<Cow<'a, str>>,
    /// Printed as JSON prints it (a number; `null` when absent).
    #[serde(default)]
    private_port: Value,
    #[serde(default)]
    public_port: Option<u64>,
    #[serde(rename = "Type", borrow, default)]
    kind: Option<Cow<'a, str>>,
}

/// One row of `ps`: the fields Docker's templates know, as printed.
struct PsRow {
    id: String,
    image: Option<String>,
    command: String,
    created_at: String,
    running_for: String,
    ports: String,
    status: Option<String>,
    state: Option<String>,
    names: String,
    labels: String,
    networks: String,
    mounts: String,
    local_volumes: String,
}

impl PsRow {
    fn new(v: &Summary, now: i64, trunc: bool) -> PsRow {
        let id = &v.id;
        let cmd = if trunc {
            format::ellipsis(&v.command, 20)
        } else {
            v.command.to_string()
        };
        let ports: Vec<String> = v
            .ports
            .iter()
            .flatten()
            .map(|p| {
                let kind = p.kind.as_deref().unwrap_or("tcp");
                match p.public_port {
                    Some(pp) => format!(
                        "{}:{}->{}/{}",
                        p.ip.as_deref().unwrap_or("0.0.0.0"),
                        pp,
                        p.private_port,
                        kind
                    ),
                    None => format!("{}/{}", p.private_port, kind),
                }
            })
            .collect();
        let names: Vec<&str> = v
            .names
            .iter()
            .flatten()
            .map(|x| x.trim_start_matches('/'))
            .collect();
        let labels: Vec<String> = v
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        // Docker's ContainerContext: network names sorted; mounts by volume
        // name, else source (cut to 15 with an ellipsis); local volumes counted.
        let networks: Vec<&str> = v
            .network_settings
            .iter()
            .flat_map(|n| n.networks.iter().flatten())
            .map(|(k, _)| k.as_ref())
            .collect();
        let mounts: Vec<String> = v
            .mounts
            .iter()
            .flatten()
            .map(|m| {
                let name = match m.name.as_deref().unwrap_or("") {
                    "" => m.source.as_deref().unwrap_or(""),
                    n => n,
                };
                if trunc {
                    format::ellipsis(name, 15)
                } else {
                    name.to_string()
                }
            })
            .collect();
        let local = v
            .mounts
            .iter()
            .flatten()
            .filter(|m| m.driver.as_deref() == Some("local"))
            .count();
        PsRow {
            id: if trunc { &id[..id.len().min(12)] } else { id }.to_string(),
            image: v.image.as_deref().map(str::to_string),
            command: format!("\"{cmd}\""),
            created_at: util::rfc3339_nanos(v.created * 1_000_000_000),
            running_for: format!(
                "{} ago",
                util::human_duration(now / 1_000_000_000 - v.created)
            ),
            ports: ports.join(", "),
            status: v.status.as_deref().map(str::to_string),
            state: v.state.as_deref().map(str::to_string),
            names: names.join(","),
            labels: labels.join(","),
            networks: networks.join(","),
            mounts: mounts.join(","),
            local_volumes: local.to_string(),
        }
    }

    /// The row as a template sees it (`--format`).
    fn to_value(&self) -> Value {
        json!({
            "ID": self.id,
            "Image": self.image,
            "Command": self.command,
            "CreatedAt": self.created_at,
            "RunningFor": self.running_for,
            "Ports": self.ports,
            "Status": self.status,
            "State": self.state,
            "Names": self.names,
            "Labels": self.labels,
            "Networks": self.networks,
            "Mounts": self.mounts,
            "LocalVolumes": self.local_volumes,
        })
    }
}

/// One row of `ps` as the fields Docker's templates know, from an entry of
/// `GET /containers/json` already parsed (`compose ps`).
pub fn ps_fields(v: &Value, now: i64, trunc: bool) -> Value {
    let s = Summary::deserialize(v).unwrap_or_default();
    PsRow::new(&s, now, trunc).to_value()
}

/// The Go type the docker CLI renders `ps --format` over.
const PS_GO: format::Go = format::Go::typed(&[("", "*formatter.ContainerContext")]);

/// `ps`.
pub fn ps(c: &Client, a: PsArgs) -> Result<u8, Failure> {
    let headers = [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("Status", "STATUS"),
        ("State", "STATE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Networks", "NETWORKS"),
        ("Mounts", "MOUNTS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
    ];
    if let Some(t) = &a.format {
        // As the docker CLI: a `--format` is checked before anything is
        // listed, as typed (`table` and a typed `\t` included), over an
        // empty row; so a bad one fails even when no container matches.
        let empty: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, _)| (k.to_string(), Value::String(String::new())))
            .collect();
        format::execute(t, &Value::Object(empty), &PS_GO).map_err(|e| match e {
            format::TemplateError::Parse(m) => bad(1, format!("failed to parse template: {m}")),
            format::TemplateError::Exec(m) => bad(1, format!("failed to execute template: {m}")),
        })?;
    }
    let q = format!(
        "/containers/json?all={}&filters={}",
        a.all as u8,
        super::netvol::filters(&a.filter)?
    );
    let body = c.call("GET", &q, Body::Empty)?.bytes()?;
    let list: Vec<Summary> = serde_json::from_slice(&body)
        .map_err(|e| ClientError::Io(format!("bad JSON from the daemon: {e}")))?;
    let now = util::now_nanos();
    let rows: Vec<PsRow> = list
        .iter()
        .map(|v| PsRow::new(v, now, !a.no_trunc))
        .collect();
    let text = if a.quiet {
        rows.iter().map(|r| format!("{}\n", r.id)).collect()
    } else if let Some(t) = &a.format {
        let rows: Vec<Value> = rows.iter().map(PsRow::to_value).collect();
        format::list_as(t, &rows, &headers, &PS_GO)
            .map_err(|e| bad(1, format!("failed to execute template: {e}")))?
    } else {
        let table: Vec<Vec<String>> = rows
            .into_iter()
            .map(|r| {
                vec![
                    r.id,
                    r.image.unwrap_or_default(),
                    r.command,
                    r.running_for,
                    r.status.unwrap_or_default(),
                    r.ports,
                    r.names,
                ]
            })
            .collect();
        format::table(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ],
            &table,
        )
    };
    // One write for the whole list, not one per row. A reader that stops
    // early (`ps | head -1`) is no error, as for the docker CLI.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}

/// `logs`.
pub fn logs(
    c: &Client,
    name: &str,
    tail: &str,
    timestamps: bool,
    follow: bool,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<u8, Failure> {
    let tail = if tail == "all" {
        String::new()
    } else {
        format!("&tail={}", http::enc(tail))
    };
    let now = util::now_nanos();
    let mut window = String::new();
    for (key, v) in [("since", since), ("until", until)] {
        if let Some(v) = v {
            let t = log_time(v, now).ok_or_else(|| {
                bad(
                    1,
                    format!("invalid value for \"{key}\": {v:?} is not a timestamp, an RFC 3339 date or a duration such as 10m"),
                )
            })?;
            window.push_str(&format!(
                "&{key}={}.{:09}",
                t / 1_000_000_000,
                t % 1_000_000_000
            ));
        }
    }
    let info = c
        .call(
            "GET",
            &format!("/containers/{}/json", http::enc(name)),
            Body::Empty,
        )?
        .json()?;
    let r = c.call(
        "GET",
        &format!(
            "/containers/{}/logs?stdout=1&stderr=1&timestamps={}&follow={}{tail}{window}",
            http::enc(name),
            timestamps as u8,
            follow as u8
        ),
        Body::Empty,
    )?;
    if info["Config"]["Tty"].as_bool().unwrap_or(false) {
        // A terminal's output is one raw stream.
        let mut body = r.body;
        std::io::copy(&mut body, &mut std::io::stdout())?;
    } else {
        http::demux(r.body, &mut std::io::stdout(), &mut std::io::stderr())?;
    }
    Ok(0)
}

/// `--since`/`--until` as Docker takes them: Unix seconds (`1700000000`,
/// `1700000000.5`), an RFC 3339 date, or a duration before now (`90s`,
/// `10m`, `1h30m`). Returns nanoseconds since the epoch.
pub fn log_time(v: &str, now: i64) -> Option<i64> {
    if let Some(t) = mini_docker_api::time::parse_unix_time(v) {
        return Some(t);
    }
    if v.contains('T') || v.contains('-') {
        return util::parse_rfc3339(v);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut any = false;
    for ch in v.chars() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match ch {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += (n * unit * 1e9) as i64;
        any = true;
    }
    (any && num.is_empty()).then(|| now - total)
}

/// `wait`.
pub fn wait(c: &Client, names: &[String]) -> Result<u8, Failure> {
    let mut code = 0;
    for n in names {
        match c
            .call(
                "POST",
                &format!("/containers/{}/wait", http::enc(n)),
                Body::Empty,
            )
            .and_then(|r| r.json())
        {
            Ok(v) => println!("{}", v["StatusCode"]),
            Err(e @ ClientError::Connect(_)) => return Err(e.into()),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// The kinds of object `inspect` looks for, in the docker CLI's order, with
/// the path that inspects one.
const INSPECT_KINDS: [(&str, &str); 4] = [
    ("container", "/containers/{}/json"),
    ("image", "/images/{}/json"),
    ("network", "/networks/{}"),
    ("volume", "/volumes/{}"),
];

/// `inspect [--type KIND] NAME…`: as the docker CLI, each name is looked
/// up as a container, then an image, a network and a volume, and the first
/// kind that has it wins (`--type` looks at that kind only). A name found
/// nowhere is `No such object` (`No such image` with `--type image`), and
/// the others are still printed.
pub fn inspect(
    c: &Client,
    fmt: Option<&str>,
    kind: Option<&str>,
    names: &[String],
) -> Result<u8, Failure> {
    // The template is parsed before anything is looked up: a template
    // that does not parse is a usage error (exit 64), as the docker CLI's.
    if let Some(t) = fmt {
        if let Err(format::TemplateError::Parse(m)) =
            format::execute(t, &Value::Null, &format::Go::MAP)
        {
            return Err(bad(64, format!("template parsing error: {m}")));
        }
    }
    let kinds: Vec<(&str, &str)> = match kind {
        None => INSPECT_KINDS.to_vec(),
        Some(k) => match INSPECT_KINDS.iter().find(|(name, _)| *name == k) {
            Some(found) => vec![*found],
            None => return Err(bad(1, format!("{k:?} is not a valid value for --type"))),
        },
    };
    // As the docker CLI: every name is tried, what is found is printed
    // first, then the errors (not found, template) in the order of names.
    let (mut found, mut printed, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for n in names {
        let mut got = None;
        for (_, path) in &kinds {
            // Image names keep their `/` (`library/x`), as the docker CLI sends them.
            let name = if path.starts_with("/images/") {
                n.clone()
            } else {
                http::enc(n)
            };
            match c.call("GET", &path.replace("{}", &name), Body::Empty) {
                Ok(r) => {
                    got = Some(r.json()?);
                    break;
                }
                Err(ClientError::Api { status: 404, .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        match (got, fmt) {
            (None, _) => errors.push(format!("Error: No such {}: {n}", kind.unwrap_or("object"))),
            // Go's zero values for what Docker's JSON omits (a nil `State.Health`).
            (Some(v), Some(t)) => match format::render(t, &format::with_go_fields(v)) {
                Ok(line) => printed.push(line),
                Err(e) => errors.push(format!("template parsing error: {e}")),
            },
            (Some(v), None) => found.push(v),
        }
    }
    match fmt {
        // Go's template inspector writes one empty line when it printed nothing.
        Some(_) if printed.is_empty() => println!(),
        Some(_) => printed.iter().for_each(|l| println!("{l}")),
        None => println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(found)).unwrap_or_default()
        ),
    }
    if errors.is_empty() {
        return Ok(0);
    }
    eprintln!("{}", errors.join("\n"));
    Ok(1)
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports.
pub fn port(c: &Client, container: &str, private: Option<&str>) -> Result<u8, Failure> {
    let v = c
        .call(
            "GET",
            &format!("/containers/{}/json", http::enc(container)),
            Body::Empty,
        )?
        .json()?;
    let ports = v["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let want = private.map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut lines = Vec::new();
    for (k, binds) in &ports {
        if want.as_ref().is_some_and(|w| w != k) {
            continue;
        }
        for b in binds.as_array().into_iter().flatten() {
            let hp = format!(
                "{}:{}",
                b["HostIp"].as_str().unwrap_or("0.0.0.0"),
                b["HostPort"].as_str().unwrap_or("")
            );
            lines.push(if want.is_some() {
                hp
            } else {
                format!("{k} -> {hp}")
            });
        }
    }
    if let (Some(w), true) = (&want, lines.is_empty()) {
        return Err(bad(
            1,
            format!("Error: No public port '{w}' published for {container}"),
        ));
    }
    for l in lines {
        println!("{l}");
    }
    Ok(0)
}
