//! Plan, then apply: what a project should be on the engine, and the steps
//! from what is there to that.
//!
//! [`desired`] turns the model into engine objects with compose v2's names
//! and labels: networks `<project>_<name>`, volumes `<project>_<name>`,
//! containers `<project>-<service>-<n>`, each with the request body
//! `POST /containers/create` will get. [`diff`] compares that with the
//! containers the engine has under the project's label and gives the steps
//! (create, recreate because the config hash changed, start, keep, remove).
//! Both are pure: `up --explain` prints them, the unit tests snapshot them,
//! and [`super::apply`] executes them.

use super::load::Project;
use super::model::{Build, BuildLong, Port, Scalar, Service, ServiceVolume, Ulimit};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The label prefix.
pub const L: &str = "com.docker.compose";

/// The version written in `com.docker.compose.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A network to have.
#[derive(Debug, Clone)]
pub struct NetworkPlan {
    /// The key in the file (`default`, `back`).
    pub key: String,
    /// The engine's name.
    pub name: String,
    /// Made outside compose: must exist.
    pub external: bool,
    /// The create request.
    pub body: Value,
}

/// A volume to have.
#[derive(Debug, Clone)]
pub struct VolumePlan {
    /// The key in the file.
    pub key: String,
    /// The engine's name.
    pub name: String,
    /// Made outside compose.
    pub external: bool,
    /// The create request.
    pub body: Value,
}

/// A service to have.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// Its name.
    pub name: String,
    /// How many containers.
    pub replicas: u32,
    /// `com.docker.compose.config-hash`.
    pub hash: String,
    /// The image the containers run.
    pub image: String,
    /// How to build it, when `build:` is there.
    pub build: Option<BuildLong>,
    /// Services it waits for, and the condition.
    pub depends: BTreeMap<String, String>,
    /// Engine network names, with the aliases on each (first = at create).
    pub networks: Vec<(String, Vec<String>)>,
    /// Seconds `stop` waits (`stop_grace_period`).
    pub stop_timeout: Option<i64>,
    /// `container_name:`.
    pub container_name: Option<String>,
    /// The model.
    pub service: Service,
}

/// The whole desired project.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Project name.
    pub project: String,
    /// Networks.
    pub networks: Vec<NetworkPlan>,
    /// Volumes.
    pub volumes: Vec<VolumePlan>,
    /// Services, dependencies first.
    pub services: Vec<ServicePlan>,
}

fn labels_of(l: &Option<super::model::ListOrMap>) -> Map<String, Value> {
    l.as_ref()
        .map(|l| l.to_map('='))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v.unwrap_or_default())))
        .collect()
}

/// Splits a command string as a POSIX shell would (quotes, backslashes),
/// as compose does for `command: echo "a b"`.
pub fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut any = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                any = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed ' in {s:?}")),
                    }
                }
            }
            '"' => {
                any = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err(format!("unclosed \" in {s:?}")),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed \" in {s:?}")),
                    }
                }
            }
            '\\' => {
                any = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// `10s`, `1m30s`, `500ms`, `2h` (a Go duration) or a plain number of
/// seconds -> seconds (rounded down).
pub fn duration_secs(s: &str) -> Option<i64> {
    if let Ok(n) = s.trim().parse::<i64>() {
        return Some(n);
    }
    mini_docker_api::units::go_duration_nanos(s).map(|n| n / 1_000_000_000)
}

/// `512m`, `1g`, `1.5gb`, `1048576` -> bytes (Docker's `RAMInBytes`).
pub use mini_docker_api::units::ram_in_bytes as bytes;

/// A published port: (container port/proto, host ip, host port).
type PortMap = (String, String, String);

fn parse_port(p: &Port, svc: &str, i: usize) -> Result<PortMap, String> {
    let err = |m: &str| format!("services.{svc}.ports[{i}]: {m}");
    match p {
        Port::Number(n) => Ok((format!("{n}/tcp"), String::new(), String::new())),
        Port::Long(l) => {
            if l.mode
                .as_deref()
                .is_some_and(|m| m != "host" && m != "ingress")
            {
                return Err(err("mode must be host or ingress"));
            }
            Ok((
                format!("{}/{}", l.target, l.protocol.as_deref().unwrap_or("tcp")),
                l.host_ip.clone().unwrap_or_default(),
                l.published
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ))
        }
        Port::Short(s) => {
            let (addr, proto) = s.rsplit_once('/').unwrap_or((s, "tcp"));
            // An IPv6 host ip is in brackets: [::1]:8080:80.
            let (ip, rest) = match addr.strip_prefix('[') {
                Some(r) => {
                    let (ip, rest) = r.split_once("]:").ok_or_else(|| err("bad [ip]"))?;
                    (ip.to_string(), rest.to_string())
                }
                None => match addr.matches(':').count() {
                    2 => {
                        let (ip, rest) = addr.split_once(':').unwrap_or_default();
                        (ip.to_string(), rest.to_string())
                    }
                    _ => (String::new(), addr.to_string()),
                },
            };
            let (published, target) = match rest.split_once(':') {
                Some((p, t)) => (p.to_string(), t.to_string()),
                None => (String::new(), rest.clone()),
            };
            if target.contains('-') || published.contains('-') {
                return Err(err(
                    "port ranges are not supported by mini-docker compose; list each port",
                ));
            }
            if target.parse::<u16>().is_err()
                || (!published.is_empty() && published.parse::<u16>().is_err())
            {
                return Err(err(&format!(
                    "invalid port {s:?}: use [[ip:]published:]target[/proto]"
                )));
            }
            Ok((format!("{target}/{proto}"), ip, published))
        }
    }
}

impl ServicePlan {
    /// The container name of replica `n`.
    pub fn container_name(&self, project: &str, n: u32) -> String {
        match &self.container_name {
            Some(c) => c.clone(),
            None => format!("{project}-{}-{n}", self.name),
        }
    }

    /// The labels every container of the service carries.
    pub fn labels(&self, p: &Project, n: u32, oneoff: bool) -> Map<String, Value> {
        let mut l = labels_of(&self.service.labels);
        let files = p
            .config_files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        for (k, v) in [
            ("project", p.name.clone()),
            ("service", self.name.clone()),
            ("container-number", n.to_string()),
            ("oneoff", if oneoff { "True" } else { "False" }.into()),
            ("config-hash", self.hash.clone()),
            ("project.working_dir", p.working_dir.display().to_string()),
            ("project.config_files", files),
            ("version", VERSION.into()),
            (
                "depends_on",
                self.depends
                    .iter()
                    .map(|(k, c)| format!("{k}:{c}:false"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ] {
            l.insert(format!("{L}.{k}"), Value::String(v));
        }
        l
    }

    /// The body of `POST /containers/create` for replica `n`.
    pub fn create_body(
        &self,
        d: &Desired,
        p: &Project,
        n: u32,
        oneoff: bool,
    ) -> Result<Value, String> {
        let s = &self.service;
        let name = &self.name;
        let split = |c: &super::model::StringOrList| -> Result<Vec<String>, String> {
            match c {
                super::model::StringOrList::One(s) => shell_split(s),
                super::model::StringOrList::List(l) => Ok(l.clone()),
            }
        };
        let mut cfg = Map::new();
        let mut host = Map::new();
        cfg.insert("Image".into(), json!(self.image));
        if let Some(c) = &s.command {
            cfg.insert(
                "Cmd".into(),
                json!(split(c).map_err(|e| format!("services.{name}.command: {e}"))?),
            );
        }
        if let Some(c) = &s.entrypoint {
            cfg.insert(
                "Entrypoint".into(),
                json!(split(c).map_err(|e| format!("services.{name}.entrypoint: {e}"))?),
            );
        }
        let env: Vec<String> = s
            .environment
            .as_ref()
            .map(|e| e.to_map('='))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Some(v) => Some(format!("{k}={v}")),
                // `- KEY` alone takes the shell's value, or is left out.
                None => std::env::var(&k).ok().map(|v| format!("{k}={v}")),
            })
            .collect();
        if !env.is_empty() {
            cfg.insert("Env".into(), json!(env));
        }
        cfg.insert("Labels".into(), Value::Object(self.labels(p, n, oneoff)));
        // Ports: exposed, and published.
        let mut exposed = Map::new();
        for e in &s.expose {
            let e = e.to_string();
            let e = if e.contains('/') {
                e
            } else {
                format!("{e}/tcp")
            };
            exposed.insert(e, json!({}));
        }
        let mut bindings: Map<String, Value> = Map::new();
        for (i, port) in s.ports.iter().enumerate() {
            let (cport, ip, hport) = parse_port(port, name, i)?;
            exposed.insert(cport.clone(), json!({}));
            let list = bindings.entry(cport).or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut() {
                a.push(json!({"HostIp": ip, "HostPort": hport}));
            }
        }
        if !exposed.is_empty() {
            cfg.insert("ExposedPorts".into(), Value::Object(exposed));
        }
        if !bindings.is_empty() {
            host.insert("PortBindings".into(), Value::Object(bindings));
        }
        // Volumes: named (the project's), bind, anonymous, :ro.
        let mut binds = Vec::new();
        let mut mounts = Vec::new();
        let mut anon = Map::new();
        let volume_name = |key: &str| -> Result<String, String> {
            d.volumes
                .iter()
                .find(|v| v.key == key)
                .map(|v| v.name.clone())
                .ok_or_else(|| format!("services.{name}.volumes: volume {key:?} is not declared in the top-level `volumes`"))
        };
        for v in &s.volumes {
            match v {
                ServiceVolume::Short(spec) => {
                    let parts: Vec<&str> = spec.split(':').collect();
                    match parts.as_slice() {
                        [target] => {
                            anon.insert(target.to_string(), json!({}));
                        }
                        [src, rest @ ..] => {
                            let src = if src.starts_with('/') {
                                src.to_string()
                            } else {
                                volume_name(src)?
                            };
                            if let [_, mode] = rest {
                                if !matches!(
                                    *mode,
                                    "ro" | "rw" | "z" | "Z" | "ro,z" | "ro,Z" | "rw,z" | "rw,Z"
                                ) {
                                    return Err(format!("services.{name}.volumes: {spec:?}: unknown mode {mode:?} (ro or rw)"));
                                }
                            }
                            binds.push(format!("{src}:{}", rest.join(":")));
                        }
                        [] => {}
                    }
                }
                super::model::ServiceVolume::Long(l) => {
                    let source = match (l.kind.as_str(), &l.source) {
                        ("volume", Some(src)) => volume_name(src)?,
                        ("bind", Some(src)) => src.clone(),
                        ("tmpfs", _) | ("volume", None) => String::new(),
                        (k, _) => return Err(format!("services.{name}.volumes: type {k:?} needs a source (volume, bind or tmpfs)")),
                    };
                    let mut m = json!({"Type": l.kind, "Target": l.target, "ReadOnly": l.read_only.unwrap_or(false)});
                    if !source.is_empty() {
                        m["Source"] = json!(source);
                    }
                    mounts.push(m);
                }
            }
        }
        if !anon.is_empty() {
            cfg.insert("Volumes".into(), Value::Object(anon));
        }
        binds.extend(file_binds(p, name, "secrets", s.secrets.as_ref())?);
        binds.extend(file_binds(p, name, "configs", s.configs.as_ref())?);
        if !binds.is_empty() {
            host.insert("Binds".into(), json!(binds));
        }
        if !mounts.is_empty() {
            host.insert("Mounts".into(), json!(mounts));
        }
        if let Some(t) = &s.tmpfs {
            let m: Map<String, Value> = t
                .items()
                .into_iter()
                .map(|p| match p.split_once(':') {
                    Some((p, o)) => (p.to_string(), json!(o)),
                    None => (p, json!("")),
                })
                .collect();
            host.insert("Tmpfs".into(), Value::Object(m));
        }
        for (k, v) in [
            ("User", &s.user),
            ("WorkingDir", &s.working_dir),
            ("Hostname", &s.hostname),
            ("StopSignal", &s.stop_signal),
        ] {
            if let Some(v) = v {
                cfg.insert(k.into(), json!(v));
            }
        }
        if let Some(t) = self.stop_timeout {
            cfg.insert("StopTimeout".into(), json!(t));
        }
        if let Some(h) = &s.healthcheck {
            let hc = healthcheck(h).map_err(|e| format!("services.{name}.healthcheck: {e}"))?;
            cfg.insert("Healthcheck".into(), hc);
        }
        if let Some(r) = &s.restart {
            let (policy, count) = r.split_once(':').unwrap_or((r, "0"));
            if !matches!(policy, "no" | "always" | "on-failure" | "unless-stopped") {
                return Err(format!("services.{name}.restart: {r:?}: use no, always, on-failure[:N] or unless-stopped"));
            }
            let count: i64 = count
                .parse()
                .map_err(|_| format!("services.{name}.restart: bad count in {r:?}"))?;
            host.insert("RestartPolicy".into(), json!({"Name": if policy == "no" { "" } else { policy }, "MaximumRetryCount": count}));
        }
        if let Some(i) = s.init {
            host.insert("Init".into(), json!(i));
        }
        if let Some(r) = s.read_only {
            host.insert("ReadonlyRootfs".into(), json!(r));
        }
        if !s.cap_add.is_empty() {
            host.insert("CapAdd".into(), json!(s.cap_add));
        }
        if !s.cap_drop.is_empty() {
            host.insert("CapDrop".into(), json!(s.cap_drop));
        }
        if !s.ulimits.is_empty() {
            let u: Vec<Value> = s
                .ulimits
                .iter()
                .map(|(k, v)| {
                    let (soft, hard) = match v {
                        Ulimit::One(n) => (*n, *n),
                        Ulimit::Pair { soft, hard } => (*soft, *hard),
                    };
                    json!({"Name": k, "Soft": soft, "Hard": hard})
                })
                .collect();
            host.insert("Ulimits".into(), json!(u));
        }
        if let Some(m) = &s.mem_limit {
            let b = match m {
                Scalar::Int(i) => Some(*i),
                other => bytes(&other.to_string()),
            }
            .ok_or_else(|| {
                format!("services.{name}.mem_limit: {m} is not a size (e.g. 512m, 1g)")
            })?;
            host.insert("Memory".into(), json!(b));
        }
        if let Some(c) = &s.cpus {
            let f: f64 = c
                .to_string()
                .parse()
                .map_err(|_| format!("services.{name}.cpus: {c} is not a number"))?;
            host.insert("NanoCpus".into(), json!((f * 1e9) as i64));
        }
        if let Some(pl) = &s.pids_limit {
            let n: i64 = pl
                .to_string()
                .parse()
                .map_err(|_| format!("services.{name}.pids_limit: {pl} is not a number"))?;
            host.insert("PidsLimit".into(), json!(n));
        }
        if let Some(h) = &s.extra_hosts {
            let list: Vec<String> = match h {
                super::model::ListOrMap::List(l) => {
                    l.iter().map(|x| x.replacen('=', ":", 1)).collect()
                }
                m => m
                    .to_map('=')
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{}", v.unwrap_or_default()))
                    .collect(),
            };
            host.insert("ExtraHosts".into(), json!(list));
        }
        if let Some(dns) = &s.dns {
            host.insert("Dns".into(), json!(dns.items()));
        }
        if let Some(l) = &s.logging {
            host.insert(
                "LogConfig".into(),
                json!({"Type": l.driver.as_deref().unwrap_or("json-file"), "Config": l.options}),
            );
        }
        // Networks: the first at create, the others connected after.
        let mut endpoints = Map::new();
        if let Some((net, aliases)) = self.networks.first() {
            host.insert("NetworkMode".into(), json!(net));
            endpoints.insert(net.clone(), json!({"Aliases": aliases}));
        }
        let mut body = Value::Object(cfg);
        body["HostConfig"] = Value::Object(host);
        body["NetworkingConfig"] = json!({"EndpointsConfig": endpoints});
        Ok(body)
    }
}

/// A service's `secrets:` or `configs:` as read-only binds of their files
/// (compose's file-based secrets and configs, without a swarm): a secret at
/// `/run/secrets/<target>` (a plain file name), a config at its `target`
/// (`/<source>` by default; a relative target is under `/`). Short form
/// `- token`, or long form `- {source: token, target: api}`. `uid`, `gid`
/// and `mode` would need a copy of the file rather than a bind: refused by
/// name, never ignored.
fn file_binds(
    p: &Project,
    service: &str,
    kind: &str,
    list: Option<&Value>,
) -> Result<Vec<String>, String> {
    let key = format!("services.{service}.{kind}");
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let items = list.as_array().ok_or(format!("{key}: must be a list"))?;
    let declared = match kind {
        "secrets" => p.model.secrets.as_ref(),
        _ => p.model.configs.as_ref(),
    };
    let mut out = Vec::new();
    for item in items {
        let (source, target) = match item {
            Value::String(s) => (s.as_str(), None),
            Value::Object(o) => {
                if let Some(k) = ["uid", "gid", "mode"].iter().find(|k| o.contains_key(**k)) {
                    return Err(format!(
                        "{key}: {k} is not supported (the file is bind-mounted read-only as it is on the host: set its owner and mode there)"
                    ));
                }
                let src = o["source"]
                    .as_str()
                    .ok_or(format!("{key}: an entry needs a source"))?;
                (src, o.get("target").and_then(Value::as_str))
            }
            _ => return Err(format!("{key}: {item} is not a name")),
        };
        let file = declared
            .and_then(|d| d[source]["file"].as_str())
            .ok_or(format!(
                "{key}: {source:?} is not declared in the top-level {kind}"
            ))?;
        let dest = match kind {
            "secrets" => {
                let target = target.unwrap_or(source);
                if target.contains('/') || target.contains(':') {
                    return Err(format!(
                        "{key}: target {target:?} must be a plain file name"
                    ));
                }
                format!("/run/secrets/{target}")
            }
            _ => {
                let target = target.unwrap_or(source);
                if target.contains(':') || target.split('/').any(|c| c == "..") {
                    return Err(format!(
                        "{key}: target {target:?} must be a path without `:` or `..`"
                    ));
                }
                format!("/{}", target.trim_start_matches('/'))
            }
        };
        let path = p.working_dir.join(file);
        if !path.is_file() {
            return Err(format!(
                "{kind}.{source}.file: {} does not exist",
                path.display()
            ));
        }
        out.push(format!("{}:{dest}:ro", path.display()));
    }
    Ok(out)
}

/// The config hash: sha256 of the service's resolved configuration, less
/// what does not change a container (how many, and in which profile).
pub fn config_hash(s: &Service) -> String {
    let mut s = s.clone();
    s.scale = None;
    s.deploy = None;
    s.profiles.clear();
    s.build = None;
    let text = serde_json::to_string(&s).unwrap_or_default();
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// A config hash that also covers the image (its `sha256:` id) the service
/// runs, so a new image under the same name changes it.
pub fn hash_with_image(hash: &str, image_id: &str) -> String {
    format!(
        "{:x}",
        Sha256::digest(format!("{hash} {image_id}").as_bytes())
    )
}

/// The desired state of a project. `scale` holds `--scale svc=N`.
pub fn desired(p: &Project, scale: &BTreeMap<String, u32>) -> Result<Desired, String> {
    let m = &p.model;
    let prefixed = |key: &str, explicit: &Option<String>| {
        explicit
            .clone()
            .unwrap_or_else(|| format!("{}_{key}", p.name))
    };
    // Networks: the ones declared, plus `default` when a service uses it.
    let mut networks = Vec::new();
    let uses_default = m.services.values().any(|s| {
        s.networks
            .as_ref()
            .is_none_or(|n| n.to_map().contains_key("default"))
    });
    let mut declared: BTreeMap<String, super::model::Network> = m
        .networks
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    if uses_default {
        declared.entry("default".into()).or_default();
    }
    for (key, n) in &declared {
        let name = if n.external {
            n.name.clone().unwrap_or_else(|| key.clone())
        } else {
            prefixed(key, &n.name)
        };
        let mut labels = labels_of(&n.labels);
        labels.insert(format!("{L}.network"), json!(key));
        labels.insert(format!("{L}.project"), json!(p.name));
        labels.insert(format!("{L}.version"), json!(VERSION));
        networks.push(NetworkPlan {
            key: key.clone(),
            name: name.clone(),
            external: n.external,
            body: json!({
                "Name": name,
                "Driver": n.driver.as_deref().unwrap_or("bridge"),
                "Internal": n.internal,
                "Labels": labels,
                "CheckDuplicate": true,
            }),
        });
    }
    let mut volumes = Vec::new();
    for (key, v) in &m.volumes {
        let v = v.clone().unwrap_or_default();
        let name = if v.external {
            v.name.clone().unwrap_or_else(|| key.clone())
        } else {
            prefixed(key, &v.name)
        };
        let mut labels = labels_of(&v.labels);
        labels.insert(format!("{L}.volume"), json!(key));
        labels.insert(format!("{L}.project"), json!(p.name));
        labels.insert(format!("{L}.version"), json!(VERSION));
        volumes.push(VolumePlan {
            key: key.clone(),
            name: name.clone(),
            external: v.external,
            body: json!({"Name": name, "Driver": v.driver.as_deref().unwrap_or("local"), "Labels": labels}),
        });
    }
    for k in scale.keys() {
        if !m.services.contains_key(k) {
            return Err(format!("--scale: no such service: {k}"));
        }
    }
    // Services, each after what it depends on.
    let mut order: Vec<String> = Vec::new();
    fn visit(
        name: &str,
        m: &super::model::Compose,
        order: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> Result<(), String> {
        if order.iter().any(|o| o == name) {
            return Ok(());
        }
        if path.iter().any(|p| p == name) {
            path.push(name.into());
            return Err(format!("dependency cycle: {}", path.join(" -> ")));
        }
        path.push(name.into());
        if let Some(s) = m.services.get(name) {
            for dep in s
                .depends_on
                .as_ref()
                .map(|d| d.to_map())
                .unwrap_or_default()
                .keys()
            {
                if m.services.contains_key(dep) {
                    visit(dep, m, order, path)?;
                }
            }
        }
        path.pop();
        order.push(name.into());
        Ok(())
    }
    for name in m.services.keys() {
        visit(name, m, &mut order, &mut Vec::new())?;
    }
    let mut services = Vec::new();
    for name in order {
        let s = &m.services[&name];
        let replicas = scale
            .get(&name)
            .copied()
            .or(s.deploy.as_ref().and_then(|d| d.replicas))
            .or(s.scale)
            .unwrap_or(1);
        if s.container_name.is_some() && replicas > 1 {
            return Err(format!(
                "services.{name}: a service with container_name cannot be scaled to {replicas}"
            ));
        }
        let nets = s
            .networks
            .as_ref()
            .map(|n| n.to_map())
            .unwrap_or_else(|| [("default".to_string(), Default::default())].into());
        let mut net_list = Vec::new();
        for (key, sn) in nets {
            let engine = networks
                .iter()
                .find(|n| n.key == key)
                .map(|n| n.name.clone())
                .ok_or_else(|| format!("services.{name}.networks: {key:?} is not declared"))?;
            let mut aliases = vec![name.clone()];
            aliases.extend(sn.aliases.iter().cloned());
            net_list.push((engine, aliases));
        }
        let stop_timeout = match &s.stop_grace_period {
            Some(g) => Some(duration_secs(g).ok_or_else(|| {
                format!(
                    "services.{name}.stop_grace_period: {g:?} is not a duration (e.g. 10s, 1m30s)"
                )
            })?),
            None => None,
        };
        let build = match &s.build {
            Some(Build::Long(l)) => Some(l.clone()),
            Some(Build::Context(c)) => Some(BuildLong {
                context: Some(c.clone()),
                ..Default::default()
            }),
            None => None,
        };
        services.push(ServicePlan {
            name: name.clone(),
            replicas,
            hash: config_hash(s),
            image: s
                .image
                .clone()
                .unwrap_or_else(|| format!("{}-{name}", p.name)),
            build,
            depends: s
                .depends_on
                .as_ref()
                .map(|d| d.to_map())
                .unwrap_or_default()
                .into_iter()
                .map(|(k, d)| (k, d.condition))
                .collect(),
            networks: net_list,
            stop_timeout,
            container_name: s.container_name.clone(),
            service: s.clone(),
        });
    }
    let d = Desired {
        project: p.name.clone(),
        networks,
        volumes,
        services,
    };
    // Check every container body now, so that a bad key fails before
    // anything is created.
    for s in &d.services {
        s.create_body(&d, p, 1, false)?;
    }
    Ok(d)
}

/// A container of the project as the engine reports it.
#[derive(Debug, Clone)]
pub struct Existing {
    /// Id.
    pub id: String,
    /// Name (no slash).
    pub name: String,
    /// `com.docker.compose.service`.
    pub service: String,
    /// `com.docker.compose.container-number`.
    pub number: u32,
    /// `com.docker.compose.config-hash`.
    pub hash: String,
    /// State is running.
    pub running: bool,
    /// `com.docker.compose.oneoff` is True.
    pub oneoff: bool,
}

impl Existing {
    /// From one entry of `GET /containers/json`.
    pub fn from_api(v: &Value) -> Existing {
        let label = |k: &str| {
            v["Labels"][format!("{L}.{k}")]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        Existing {
            id: v["Id"].as_str().unwrap_or_default().to_string(),
            name: v["Names"][0]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            service: label("service"),
            number: label("container-number").parse().unwrap_or(0),
            hash: label("config-hash"),
            running: v["State"] == "running",
            oneoff: label("oneoff") == "True",
        }
    }
}

/// One step of `up`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `POST /networks/create`.
    CreateNetwork(String),
    /// `POST /volumes/create`.
    CreateVolume(String),
    /// Build the service's image.
    Build(String),
    /// Create and start replica `n` of a service.
    Create {
        /// Service.
        service: String,
        /// Replica.
        number: u32,
        /// Container name.
        name: String,
    },
    /// Remove the old container and create a new one.
    Recreate {
        /// Service.
        service: String,
        /// Replica.
        number: u32,
        /// Container name.
        name: String,
        /// The old container's id.
        old: String,
    },
    /// Start a stopped container whose config did not change.
    Start {
        /// Container name.
        name: String,
    },
    /// Leave a running container whose config did not change.
    Keep {
        /// Container name.
        name: String,
    },
    /// Stop and remove (a replica beyond the scale, an orphan).
    Remove {
        /// Container name.
        name: String,
        /// Why.
        why: &'static str,
    },
}

/// The steps from what exists to what is desired.
#[allow(clippy::too_many_arguments)]
pub fn diff(
    d: &Desired,
    existing: &[Existing],
    have_networks: &[String],
    have_volumes: &[String],
    services: &[String],
    force: bool,
    build: bool,
    remove_orphans: bool,
) -> Vec<Step> {
    let mut steps = Vec::new();
    for n in &d.networks {
        if !n.external && !have_networks.contains(&n.name) {
            steps.push(Step::CreateNetwork(n.name.clone()));
        }
    }
    for v in &d.volumes {
        if !v.external && !have_volumes.contains(&v.name) {
            steps.push(Step::CreateVolume(v.name.clone()));
        }
    }
    let chosen = |s: &str| services.is_empty() || services.iter().any(|x| x == s);
    for s in d.services.iter().filter(|s| chosen(&s.name)) {
        if s.build.is_some() && build {
            steps.push(Step::Build(s.name.clone()));
        }
        let mut mine: Vec<&Existing> = existing
            .iter()
            .filter(|e| e.service == s.name && !e.oneoff)
            .collect();
        mine.sort_by_key(|e| e.number);
        for n in 1..=s.replicas {
            let name = s.container_name(&d.project, n);
            match mine.iter().find(|e| e.number == n) {
                None => steps.push(Step::Create {
                    service: s.name.clone(),
                    number: n,
                    name,
                }),
                Some(e) if e.hash != s.hash || force => steps.push(Step::Recreate {
                    service: s.name.clone(),
                    number: n,
                    name,
                    old: e.id.clone(),
                }),
                Some(e) if !e.running => steps.push(Step::Start {
                    name: e.name.clone(),
                }),
                Some(e) => steps.push(Step::Keep {
                    name: e.name.clone(),
                }),
            }
        }
        for e in mine
            .iter()
            .filter(|e| e.number > s.replicas || e.number == 0)
        {
            steps.push(Step::Remove {
                name: e.name.clone(),
                why: "scaled down",
            });
        }
    }
    if remove_orphans {
        for e in existing {
            if !e.oneoff && !d.services.iter().any(|s| s.name == e.service) {
                steps.push(Step::Remove {
                    name: e.name.clone(),
                    why: "orphan: its service is not in the project",
                });
            }
        }
    }
    steps
}

fn flags(labels: &Value) -> String {
    labels
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.ends_with("config_files") && !k.ends_with("working_dir"))
                .map(|(k, v)| format!(" --label {k}={}", v.as_str().unwrap_or_default()))
                .collect::<String>()
        })
        .unwrap_or_default()
}

/// The plan as `up --explain` prints it: each step, then the docker
/// command that does the same.
pub fn explain(d: &Desired, p: &Project, steps: &[Step]) -> String {
    let mut out = format!(
        "Plan for project {:?} ({} steps):\n",
        d.project,
        steps.len()
    );
    for (i, s) in steps.iter().enumerate() {
        let (what, cmd) = match s {
            Step::CreateNetwork(n) => {
                let plan = d.networks.iter().find(|x| &x.name == n);
                let b = plan.map(|x| &x.body).cloned().unwrap_or_default();
                (
                    format!("create network {n}"),
                    format!(
                        "docker network create --driver {}{} {n}",
                        b["Driver"].as_str().unwrap_or("bridge"),
                        flags(&b["Labels"])
                    ),
                )
            }
            Step::CreateVolume(n) => {
                let b = d
                    .volumes
                    .iter()
                    .find(|x| &x.name == n)
                    .map(|x| x.body.clone())
                    .unwrap_or_default();
                (
                    format!("create volume {n}"),
                    format!("docker volume create{} {n}", flags(&b["Labels"])),
                )
            }
            Step::Build(svc) => (
                format!("build the image of {svc}"),
                "docker build …".to_string(),
            ),
            Step::Create {
                service,
                number,
                name,
            }
            | Step::Recreate {
                service,
                number,
                name,
                ..
            } => {
                let sp = d.services.iter().find(|x| &x.name == service);
                let hash = sp.map(|x| x.hash[..12].to_string()).unwrap_or_default();
                let what = match s {
                    Step::Recreate { .. } => {
                        format!("recreate {name} (config hash changed: now {hash}…)")
                    }
                    _ => format!("create and start {name} (config hash {hash}…)"),
                };
                let mut cmd = format!("docker run -d --name {name}");
                if let Some(sp) = sp {
                    if let Ok(b) = sp.create_body(d, p, *number, false) {
                        cmd.push_str(&format!(
                            " --network {}",
                            b["HostConfig"]["NetworkMode"].as_str().unwrap_or_default()
                        ));
                        for a in sp.networks.first().map(|n| &n.1).into_iter().flatten() {
                            cmd.push_str(&format!(" --network-alias {a}"));
                        }
                        for (k, v) in b["HostConfig"]["PortBindings"]
                            .as_object()
                            .into_iter()
                            .flatten()
                        {
                            for h in v.as_array().into_iter().flatten() {
                                let ip = h["HostIp"].as_str().unwrap_or_default();
                                let hp = h["HostPort"].as_str().unwrap_or_default();
                                let ip = if ip.is_empty() {
                                    String::new()
                                } else {
                                    format!("{ip}:")
                                };
                                cmd.push_str(&format!(" -p {ip}{hp}:{k}"));
                            }
                        }
                        for bind in b["HostConfig"]["Binds"].as_array().into_iter().flatten() {
                            cmd.push_str(&format!(" -v {}", bind.as_str().unwrap_or_default()));
                        }
                        cmd.push_str(&flags(&json!({
                            format!("{L}.project"): p.name,
                            format!("{L}.service"): service,
                            format!("{L}.container-number"): number.to_string(),
                        })));
                        cmd.push_str(&format!(" --label {L}.config-hash={hash}… {}", sp.image));
                        for a in b["Cmd"].as_array().into_iter().flatten() {
                            cmd.push_str(&format!(" {}", a.as_str().unwrap_or_default()));
                        }
                        for (net, aliases) in sp.networks.iter().skip(1) {
                            cmd.push_str(&format!(
                                "\n      docker network connect{} {net} {name}",
                                aliases
                                    .iter()
                                    .map(|a| format!(" --alias {a}"))
                                    .collect::<String>()
                            ));
                        }
                    }
                }
                if let Step::Recreate { .. } = s {
                    cmd = format!("docker rm -f {name}\n      {cmd}");
                }
                (what, cmd)
            }
            Step::Start { name } => (
                format!("start {name} (unchanged, stopped)"),
                format!("docker start {name}"),
            ),
            Step::Keep { name } => (format!("keep {name} (unchanged, running)"), String::new()),
            Step::Remove { name, why } => (
                format!("remove {name} ({why})"),
                format!("docker rm -f {name}"),
            ),
        };
        out.push_str(&format!("{:>3}. {what}\n", i + 1));
        if !cmd.is_empty() {
            out.push_str(&format!("      {cmd}\n"));
        }
    }
    out
}

/// A service's `healthcheck:` as the Engine API's `Config.Healthcheck`:
/// `test` as a string is run by the shell (`CMD-SHELL`), as a list it
/// starts with `CMD`, `CMD-SHELL` or `NONE`; `disable: true` is `NONE`;
/// `interval`, `timeout`, `start_period` are Go durations (`10s`, `1m30s`)
/// and become nanoseconds; `retries` a count.
pub fn healthcheck(h: &Value) -> Result<Value, String> {
    let Some(m) = h.as_object() else {
        return Err(
            "expected a mapping (test, interval, timeout, retries, start_period, disable)".into(),
        );
    };
    if let Some(k) = m.keys().find(|k| {
        ![
            "test",
            "interval",
            "timeout",
            "retries",
            "start_period",
            "start_interval",
            "disable",
        ]
        .contains(&k.as_str())
    }) {
        return Err(format!("unknown key {k:?}"));
    }
    if m.contains_key("start_interval") {
        return Err("start_interval is not supported (Docker 25 and later): remove it".into());
    }
    if m.get("disable").and_then(Value::as_bool) == Some(true) {
        return Ok(json!({"Test": ["NONE"]}));
    }
    let test = match m.get("test") {
        None => Value::Null,
        Some(Value::String(s)) => json!(["CMD-SHELL", s]),
        Some(Value::Array(a)) => {
            let first = a.first().and_then(Value::as_str).unwrap_or("");
            if !matches!(first, "CMD" | "CMD-SHELL" | "NONE") {
                return Err(format!(
                    "test: a list starts with CMD, CMD-SHELL or NONE, not {first:?}"
                ));
            }
            Value::Array(a.clone())
        }
        Some(other) => return Err(format!("test: expected a string or a list, got {other}")),
    };
    let mut out = json!({"Test": test});
    for (key, api) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start_period", "StartPeriod"),
    ] {
        if let Some(v) = m.get(key) {
            let text = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            let n = mini_docker_api::units::go_duration_nanos(&text)
                .ok_or_else(|| format!("{key}: {text:?} is not a duration such as 10s or 1m30s"))?;
            out[api] = json!(n);
        }
    }
    if let Some(r) = m.get("retries") {
        let n = r
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("retries: {r} is not a count"))?;
        out["Retries"] = json!(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_split_and_units() {
        assert_eq!(
            shell_split(r#"sh -c 'echo "a b"' x\ y "q\"t""#).unwrap(),
            ["sh", "-c", "echo \"a b\"", "x y", "q\"t"]
        );
        assert_eq!(shell_split("a ''").unwrap(), ["a", ""]);
        assert!(shell_split("'x").is_err());
        assert_eq!(duration_secs("1m30s"), Some(90));
        assert_eq!(duration_secs("10"), Some(10));
        assert_eq!(duration_secs("1x"), None);
        assert_eq!(bytes("512m"), Some(512 << 20));
        assert_eq!(bytes("1.5g"), Some(3 << 29));
        assert_eq!(bytes("1kb"), Some(1024));
    }

    #[test]
    fn ports_short_and_long() {
        let p = |s: &str| parse_port(&Port::Short(s.into()), "w", 0);
        assert_eq!(
            p("127.0.0.1:8080:80").unwrap(),
            ("80/tcp".into(), "127.0.0.1".into(), "8080".into())
        );
        assert_eq!(
            p("53:53/udp").unwrap(),
            ("53/udp".into(), "".into(), "53".into())
        );
        assert_eq!(
            p("[::1]:1:2").unwrap(),
            ("2/tcp".into(), "::1".into(), "1".into())
        );
        assert!(p("8000-8001:80").unwrap_err().contains("ranges"));
    }
}
