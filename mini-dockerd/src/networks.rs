//! # User-defined networks (`docker network create`)
//!
//! Each user network is its own chapter 05 bridge network: a bridge
//! `mdn<12 hex>` with the gateway address, an IPAM state file, and an
//! nftables table `mini_docker_mdn<12 hex>` of its own (masquerade out, and
//! **isolation**: a packet that came in on this bridge and would leave
//! through another engine bridge (`md*`) is dropped). Two networks therefore
//! cannot reach each other, as with Docker's `DOCKER-ISOLATION` chains.
//!
//! ```text
//! ip link add name mdn3fa21c09d1e2 type bridge
//! ip addr add 10.204.7.1/24 dev mdn3fa21c09d1e2 && ip link set mdn3fa21c09d1e2 up
//! nft add table ip mini_docker_mdn3fa21c09d1e2
//! nft 'add rule ip mini_docker_mdn3fa21c09d1e2 forward iifname "mdn3fa21c09d1e2" oifname "md*" oifname != "mdn3fa21c09d1e2" drop'
//! ```
//!
//! The request's `Options` are kept and reported back exactly as given (as
//! Docker does; compose compares them with its file). The one option
//! applied is `com.docker.network.bridge.name` (an `md…` name of the user's
//! choice); any other is refused rather than ignored.
//!
//! A container joins a network with one veth pair per network
//! (`mdv<6 hex of the container><6 hex of the network>`): `eth0` for the
//! first one (which also gets the default route), `eth1`, … for the ones
//! connected later, live, into the running container's namespace
//! (`docker network connect`).
//!
//! **Names.** As Docker, the engine answers them with an embedded DNS
//! server at 127.0.0.11 in each container ([`super::dns`]). It also
//! rewrites each running container's `/etc/hosts` (a file
//! in the container's directory, bind-mounted over the rootfs's) whenever a
//! peer starts, stops, connects or disconnects: every container on a shared
//! network is listed by name, alias and short id. The file is rewritten in
//! place (not renamed over), so the bind mount keeps showing it. (Docker's
//! file lists only the container itself; the peers stay here for programs
//! that read only `/etc/hosts`, such as a static busybox's `nc`.)
//!
//! State: `networks/<name>.json` (the network) under the data root. Its
//! addresses live in memory ([`Engine::with_user_ipam`]): rebuilt from the
//! containers' endpoints the first time the network hands one out after a
//! start, so an allocate or release writes nothing.

use super::{ApiError, Container, Engine, Result};
use network::ipam::IpamState;
use network::network::{plan_connect, plan_create_network, plan_delete_network, EndpointSpec};
use network::nft::{Expr, Hook, NftCommand};
use network::plan::LinkOp;
use network::{Applier, NetworkSpec, Step, Subnet};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The networks every engine has, which cannot be created or removed.
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// A user-defined network, as saved in `networks/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserNetwork {
    /// Its name.
    pub name: String,
    /// 64 hex.
    pub id: String,
    /// Nanoseconds.
    pub created: i64,
    /// `10.204.7.0/24`.
    pub subnet: String,
    /// Internal: no traffic leaves the bridge.
    pub internal: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The bridge (`mdn<12 hex>`, or the name the user chose with
    /// `com.docker.network.bridge.name`).
    pub bridge: String,
    /// The driver options exactly as the create request gave them (Docker
    /// reports these back, and nothing the daemon derived: compose compares
    /// them with its file to decide whether to recreate the network).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The request's IPAM `Config` entry, as given (`None`: it gave none,
    /// and inspect shows the subnet and gateway chosen). Docker reports it
    /// as given: a subnet without a gateway shows no gateway.
    #[serde(default)]
    pub ipam_config: Option<Value>,
    /// The request's IPAM `Options` (null or an empty map: none is applied).
    #[serde(default)]
    pub ipam_options: Value,
}

impl UserNetwork {
    fn subnet(&self) -> Subnet {
        self.subnet.parse().expect("a saved subnet parses")
    }

    /// The nftables table of the network.
    pub fn table(&self) -> String {
        super::net::bridge_table(&self.bridge)
    }

    fn spec(&self) -> NetworkSpec {
        NetworkSpec {
            name: self.name.clone(),
            id: self.id[..12].to_string(),
            subnet: self.subnet(),
            bridge: self.bridge.clone(),
            table: self.table(),
        }
    }
}

/// A container's membership of a user network (kept while it is stopped),
/// with what it got from the network while it runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Endpoint {
    /// The network's id.
    pub network_id: String,
    /// Extra names (`--network-alias`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Endpoint id (while running).
    #[serde(default)]
    pub endpoint_id: String,
    /// Address (while running).
    #[serde(default)]
    pub ip: String,
    /// Prefix length.
    #[serde(default)]
    pub prefix: u8,
    /// Gateway.
    #[serde(default)]
    pub gateway: String,
    /// MAC of the container's end.
    #[serde(default)]
    pub mac: String,
    /// The host end of the veth pair.
    #[serde(default)]
    pub host_veth: String,
    /// The interface inside (`eth0`, `eth1`, …).
    #[serde(default)]
    pub ifname: String,
}

impl Endpoint {
    /// Its entry in `NetworkSettings.Networks`.
    pub fn settings(&self) -> Value {
        json!({
            "IPAMConfig": null, "Links": null,
            "Aliases": if self.aliases.is_empty() { Value::Null } else { json!(self.aliases) },
            "NetworkID": self.network_id, "EndpointID": self.endpoint_id,
            "Gateway": self.gateway, "IPAddress": self.ip, "IPPrefixLen": self.prefix,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": self.mac, "DriverOpts": null,
        })
    }
}

/// The user networks of a daemon (in memory, saved one file each).
pub struct Registry {
    dir: PathBuf,
    nets: Mutex<BTreeMap<String, UserNetwork>>,
    /// Published ports of running containers whose first network is a
    /// user network (their userland proxies live here), by short id.
    ports: Mutex<BTreeMap<String, network::PortMap>>,
    /// Each network's addresses, by network id (in memory).
    ipams: Mutex<BTreeMap<String, IpamState>>,
}

impl Registry {
    /// Loads `<root>/networks/*.json` (the default bridge's own files are skipped).
    pub fn open(root: &Path) -> Registry {
        let dir = root.join("networks");
        let _ = std::fs::create_dir_all(&dir);
        let mut nets = BTreeMap::new();
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                if let Ok(n) =
                    serde_json::from_slice::<UserNetwork>(&std::fs::read(&p).unwrap_or_default())
                {
                    nets.insert(n.name.clone(), n);
                }
            }
        }
        Registry {
            dir,
            nets: Mutex::new(nets),
            ports: Mutex::new(BTreeMap::new()),
            ipams: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, UserNetwork>> {
        self.nets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ipam_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}-ipam.json"))
    }

    /// Finds a network by name, id or unique id prefix.
    pub fn find(&self, key: &str) -> Option<UserNetwork> {
        let nets = self.lock();
        if let Some(n) = nets.get(key) {
            return Some(n.clone());
        }
        let hits: Vec<&UserNetwork> = nets
            .values()
            .filter(|n| !key.is_empty() && n.id.starts_with(key))
            .collect();
        (hits.len() == 1).then(|| hits[0].clone())
    }

    /// All of them.
    pub fn all(&self) -> Vec<UserNetwork> {
        self.lock().values().cloned().collect()
    }
}

/// The plan that creates a user network: chapter 05's, with the isolation
/// rule widened to every engine bridge, and for an `--internal` network no
/// masquerade and nothing leaving the bridge.
pub fn plan_create(n: &UserNetwork, ip_forward_on: bool) -> Vec<Step> {
    let spec = n.spec();
    let br = n.bridge.clone();
    let mut plan = plan_create_network(&spec, ip_forward_on);
    for s in plan.iter_mut() {
        if let Step::Nft(NftCommand::AddRule {
            hook: Hook::Forward,
            exprs,
            ..
        }) = s
        {
            *exprs = vec![
                Expr::IifName(br.clone()),
                Expr::OifName("md*".into()),
                Expr::OifNameNot(br.clone()),
                Expr::Drop,
            ];
        }
    }
    if n.internal {
        plan.retain(|s| {
            !matches!(
                s,
                Step::Nft(NftCommand::AddRule {
                    hook: Hook::Postrouting,
                    ..
                })
            )
        });
        plan.push(Step::Nft(NftCommand::AddRule {
            table: spec.table.clone(),
            hook: Hook::Forward,
            exprs: vec![Expr::IifName(br.clone()), Expr::OifNameNot(br), Expr::Drop],
        }));
    }
    plan
}

/// The plan that plugs a container into a network as `ifname`; only the
/// first network of a container gets the default route.
pub fn plan_join(n: &UserNetwork, ep: &EndpointSpec, default_route: bool) -> Vec<Step> {
    let mut plan = plan_connect(&n.spec(), ep);
    if !default_route {
        plan.retain(|s| {
            !matches!(
                s,
                Step::Link {
                    op: LinkOp::AddDefaultRoute(_),
                    ..
                }
            )
        });
    }
    plan
}

fn endpoint_spec(
    n: &UserNetwork,
    cid: &str,
    netns: &Path,
    ip: Ipv4Addr,
    ifname: &str,
) -> EndpointSpec {
    let tag = format!("{}{}", &cid[..6], &n.id[..6]);
    EndpointSpec {
        host_veth: format!("mdv{tag}"),
        peer_veth: format!("mdq{tag}"),
        ifname: ifname.to_string(),
        ..EndpointSpec::new(&n.spec(), &tag, netns, ip)
    }
}

fn net_err(what: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    ApiError::internal(format!("{what}: {}", super::errors::chain(&*e.into())))
}

fn forbidden(m: impl Into<String>) -> ApiError {
    ApiError::forbidden(m)
}

/// The bridge driver option naming the bridge, as in Docker.
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";

/// The create request's `Options`, checked: a string map whose every key is
/// one mini-docker applies (only the bridge's name), so that no option is
/// accepted and then ignored. Returns them, and the bridge name if chosen.
fn driver_options(body: &Value) -> Result<(BTreeMap<String, String>, Option<String>)> {
    let mut options = BTreeMap::new();
    let given = match &body["Options"] {
        Value::Null => return Ok((options, None)),
        Value::Object(m) => m,
        other => {
            return Err(ApiError::bad(format!(
                "invalid Options {other}: a map of strings is expected"
            )))
        }
    };
    for (k, v) in given {
        let Some(v) = v.as_str() else {
            return Err(ApiError::bad(format!(
                "invalid value for network option {k}: {v} (options are strings)"
            )));
        };
        if k != OPT_BRIDGE_NAME {
            return Err(ApiError::bad(format!(
                "network option {k} is not supported: mini-docker's bridge driver applies only {OPT_BRIDGE_NAME}"
            )));
        }
        options.insert(k.clone(), v.to_string());
    }
    let bridge = options.get(OPT_BRIDGE_NAME).cloned();
    if let Some(b) = &bridge {
        // The isolation rules of every network match the engine's bridges by
        // the `md` prefix: a bridge named otherwise would escape them.
        let valid = b.starts_with("md")
            && b.len() <= 15
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !valid {
            return Err(ApiError::bad(format!(
                "invalid {OPT_BRIDGE_NAME} {b:?}: mini-docker's bridge names start with \"md\" (the isolation rules match that prefix) and have at most 15 letters, digits, '-' or '_'"
            )));
        }
    }
    Ok((options, bridge))
}

/// The create request's IPAM part, checked: the default driver, at most one
/// `Config` entry with `Subnet` and `Gateway` (the parts applied), and no
/// driver options. Returns the entry as given (its non-empty fields) and
/// the options as given.
fn ipam_request(body: &Value) -> Result<(Option<Value>, Value)> {
    let ipam = &body["IPAM"];
    let driver = ipam["Driver"].as_str().unwrap_or("");
    if !driver.is_empty() && driver != "default" {
        return Err(ApiError::bad(format!(
            "IPAM driver {driver:?} is not supported: mini-docker has the default one only"
        )));
    }
    let options = ipam["Options"].clone();
    if let Some((k, _)) = options.as_object().and_then(|m| m.iter().next()) {
        return Err(ApiError::bad(format!(
            "IPAM option {k} is not supported: the default IPAM driver takes none"
        )));
    }
    let configs = ipam["Config"].as_array().cloned().unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad(
            "a network here has one subnet: give at most one IPAM Config entry",
        ));
    }
    let Some(given) = configs.into_iter().next() else {
        return Ok((None, options));
    };
    let mut kept = serde_json::Map::new();
    for (k, v) in given.as_object().into_iter().flatten() {
        let empty = v.is_null()
            || v.as_str().is_some_and(str::is_empty)
            || v.as_object().is_some_and(|m| m.is_empty());
        if empty {
            continue;
        }
        if !matches!(k.as_str(), "Subnet" | "Gateway") {
            return Err(ApiError::bad(format!(
                "IPAM Config {k} is not supported: give a Subnet and, if you like, its first address as Gateway"
            )));
        }
        kept.insert(k.clone(), v.clone());
    }
    Ok(((!kept.is_empty()).then_some(Value::Object(kept)), options))
}

/// A random 64-hex id.
fn new_network_id() -> String {
    super::util::new_id()
}

impl Engine {
    /// Creates the bridge and table of `n` (or, after a restart, finds the
    /// bridge and redoes the table).
    fn network_up(&self, n: &UserNetwork) -> Result<()> {
        let mut nl = ::network::netlink::Netlink::open().map_err(|e| net_err("netlink", e))?;
        let exists = nl
            .link_index(&n.bridge)
            .map_err(|e| net_err("netlink", e))?
            .is_some();
        drop(nl);
        let mut applier = Applier::new();
        let on = applier
            .sysctl(::network::network::IP_FORWARD)
            .map(|v| v == "1")
            .unwrap_or(false);
        let mut plan = plan_create(n, on);
        if exists {
            plan.retain(|s| !matches!(s, Step::Link { .. }));
        }
        let _ = ::network::nft::delete_table(&n.table());
        if let Err(e) = applier.apply(&plan) {
            let _ = applier.teardown(&plan_delete_network(&n.spec()), &mut |_, _| Ok(()));
            return Err(net_err(&format!("create the network {}", n.name), e));
        }
        Ok(())
    }

    /// After a daemon restart: every saved network gets its bridge and table back.
    pub fn restore_user_networks(&self) {
        for n in self.networks.all() {
            if let Err(e) = self.network_up(&n) {
                tracing::warn!(network = %n.name, "{}", e.message);
            }
        }
    }

    /// `POST /networks/create`.
    pub fn network_create(&self, body: &Value) -> Result<Value> {
        let name = body["Name"].as_str().unwrap_or("").to_string();
        if name.is_empty() {
            return Err(ApiError::bad("network name is required"));
        }
        if !super::util::valid_name(&name) {
            return Err(ApiError::bad(format!(
                "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if PREDEFINED.contains(&name.as_str()) {
            return Err(forbidden(format!(
                "{name} is a pre-defined network and cannot be created"
            )));
        }
        let driver = body["Driver"].as_str().unwrap_or("bridge");
        if !driver.is_empty() && driver != "bridge" {
            return Err(ApiError::bad(format!(
                "driver {driver:?} is not supported: mini-docker has the bridge driver only"
            )));
        }
        let (options, chosen_bridge) = driver_options(body)?;
        let (ipam_config, ipam_options) = ipam_request(body)?;
        let ipam = ipam_config.clone().unwrap_or(json!({}));
        let mut nets = self.networks.lock();
        if nets.contains_key(&name) {
            return Err(ApiError::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let in_use: Vec<Subnet> = nets.values().map(UserNetwork::subnet).collect();
        let subnet: Subnet = match ipam["Subnet"].as_str().filter(|s| !s.is_empty()) {
            Some(s) => s.parse().map_err(|e| {
                ApiError::bad(format!("invalid subnet {s}: {}", crate::errors::chain(&e)))
            })?,
            None => ::network::network::choose_default_subnet(&in_use)
                .map_err(|e| net_err("choose a subnet", e))?,
        };
        if let Some(other) = nets.values().find(|n| n.subnet().overlaps(&subnet)) {
            return Err(forbidden(format!(
                "Pool overlaps with other one on this address space ({})",
                other.name
            )));
        }
        if let Some(g) = ipam["Gateway"].as_str().filter(|s| !s.is_empty()) {
            if g != subnet.gateway().to_string() {
                return Err(ApiError::bad(format!(
                    "gateway {g}: mini-docker puts the gateway on the first address of the subnet ({})",
                    subnet.gateway()
                )));
            }
        }
        ::network::subnet::check_free(
            subnet,
            &::network::network::host_routes().map_err(|e| net_err("read routes", e))?,
        )
        .map_err(|e| forbidden(e.to_string()))?;
        let id = new_network_id();
        let bridge = chosen_bridge.unwrap_or_else(|| format!("mdn{}", &id[..12]));
        if let Some(other) = nets.values().find(|n| n.bridge == bridge) {
            return Err(ApiError::conflict(format!(
                "bridge {bridge} is already the bridge of network {}",
                other.name
            )));
        }
        // A chosen name may be a link that is not ours: never adopt it.
        let taken = ::network::netlink::Netlink::open()
            .and_then(|mut nl| nl.link_index(&bridge))
            .map_err(|e| net_err("netlink", e))?
            .is_some();
        if taken {
            return Err(ApiError::conflict(format!(
                "a network interface named {bridge} already exists on the host: choose another {OPT_BRIDGE_NAME}"
            )));
        }
        let n = UserNetwork {
            name: name.clone(),
            bridge,
            options,
            ipam_config,
            ipam_options,
            id: id.clone(),
            created: super::util::now_nanos(),
            subnet: subnet.to_string(),
            internal: body["Internal"].as_bool().unwrap_or(false),
            labels: body["Labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let _ = std::fs::remove_file(self.networks.ipam_path(&name));
        self.network_up(&n)?;
        let file = self.networks.dir.join(format!("{name}.json"));
        if let Err(e) =
            super::util::write_atomic(&file, &serde_json::to_vec_pretty(&n).unwrap_or_default())
        {
            let _ = Applier::new().teardown(&plan_delete_network(&n.spec()), &mut |_, _| Ok(()));
            return Err(net_err(&format!("write {}", file.display()), e));
        }
        tracing::info!(network = %name, %subnet, bridge = %n.bridge, "network created");
        nets.insert(name.clone(), n);
        drop(nets);
        self.emit_event(
            "network",
            "create",
            &id,
            &[("name", &name), ("type", "bridge")],
        );
        Ok(json!({"Id": id, "Warning": ""}))
    }

    /// The network a key names, user-defined or predefined (`None` inside
    /// means predefined).
    fn network_key(&self, key: &str) -> Result<Option<UserNetwork>> {
        if let Some(n) = self.networks.find(key) {
            return Ok(Some(n));
        }
        let predefined = PREDEFINED
            .iter()
            .any(|p| *p == key || predefined_id(p).starts_with(key) && !key.is_empty());
        if predefined {
            return Ok(None);
        }
        Err(ApiError::not_found(format!("network {key} not found")))
    }

    /// `GET /networks/{id}`.
    pub fn network_inspect(&self, key: &str) -> Result<Value> {
        match self.network_key(key)? {
            Some(n) => Ok(self.network_json(&n)),
            None => {
                let name = PREDEFINED
                    .iter()
                    .find(|p| **p == key || predefined_id(p).starts_with(key))
                    .copied()
                    .unwrap_or("none");
                Ok(self.predefined_json(name))
            }
        }
    }

    fn predefined_json(&self, name: &str) -> Value {
        let driver = match name {
            "bridge" => "bridge",
            "host" => "host",
            _ => "null",
        };
        let mut containers = serde_json::Map::new();
        let mut config = json!([]);
        if name == "bridge" {
            if let Ok(guard) = self.bridge.lock() {
                if let Some(b) = guard.as_ref() {
                    config = json!([{"Subnet": b.spec.subnet.to_string(), "Gateway": b.spec.gateway().to_string()}]);
                }
            }
        }
        for c in self.list() {
            if c.network_mode() != name || !c.state.running {
                continue;
            }
            let a = c.net.clone().unwrap_or_default();
            containers.insert(
                c.id.clone(),
                json!({"Name": c.name, "EndpointID": a.endpoint_id, "MacAddress": a.mac,
                       "IPv4Address": if a.ip.is_empty() { String::new() } else { format!("{}/{}", a.ip, a.prefix) },
                       "IPv6Address": ""}),
            );
        }
        json!({
            "Name": name, "Id": predefined_id(name), "Created": "0001-01-01T00:00:00Z",
            "Scope": "local", "Driver": driver, "EnableIPv6": false,
            "IPAM": {"Driver": "default", "Options": null, "Config": config},
            "Internal": false, "Attachable": false, "Ingress": false,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
            "Containers": containers, "Options": {}, "Labels": {},
        })
    }

    fn network_json(&self, n: &UserNetwork) -> Value {
        let mut containers = serde_json::Map::new();
        for c in self.list() {
            if let Some(ep) = c.endpoints.get(&n.name) {
                if !c.state.running || ep.ip.is_empty() {
                    continue;
                }
                containers.insert(
                    c.id.clone(),
                    json!({"Name": c.name, "EndpointID": ep.endpoint_id, "MacAddress": ep.mac,
                           "IPv4Address": format!("{}/{}", ep.ip, ep.prefix), "IPv6Address": ""}),
                );
            }
        }
        let subnet = n.subnet();
        json!({
            "Name": n.name, "Id": n.id, "Created": super::util::rfc3339_nanos(n.created),
            "Scope": "local", "Driver": "bridge", "EnableIPv6": false,
            "IPAM": {"Driver": "default", "Options": n.ipam_options,
                     "Config": [n.ipam_config.clone().unwrap_or_else(
                         || json!({"Subnet": subnet.to_string(), "Gateway": subnet.gateway().to_string()}))]},
            "Internal": n.internal, "Attachable": false, "Ingress": false,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
            "Containers": containers,
            "Options": n.options,
            "Labels": n.labels,
        })
    }

    /// `GET /networks?filters=` ([`super::filters`]): the predefined
    /// ones, then the user's; `name` (a substring), `id` (a prefix),
    /// `label`, `driver`, `type` (`custom` or `builtin`) and `dangling`
    /// (a user network no container is on).
    pub fn network_list(&self, f: &super::filters::Filters) -> Result<Value> {
        f.accept(&["name", "id", "label", "driver", "type", "dangling"])?;
        let dangling = f.bool("dangling")?;
        for t in f.get("type").unwrap_or_default() {
            if t != "custom" && t != "builtin" {
                return Err(ApiError::bad(format!("invalid filter 'type={t}'")));
            }
        }
        let mut out: Vec<Value> = PREDEFINED
            .iter()
            .filter(|p| **p != "bridge" || self.opts.net.bridge.is_some())
            .map(|p| self.predefined_json(p))
            .collect();
        out.extend(self.networks.all().iter().map(|n| self.network_json(n)));
        out.retain(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            let custom = !PREDEFINED.contains(&s("Name").as_str());
            let unused = v["Containers"].as_object().is_none_or(|m| m.is_empty());
            f.any("name", |x| s("Name").contains(x))
                && f.any("id", |x| s("Id").starts_with(x))
                && f.any("driver", |x| s("Driver") == x)
                && f.any("type", |x| (x == "custom") == custom)
                && f.labels_match(&v["Labels"])
                && dangling.is_none_or(|d| d == (custom && unused))
        });
        Ok(Value::Array(out))
    }

    /// `DELETE /networks/{id}`: refused for a predefined network (403) and
    /// while a running container is on it (403, "has active endpoints").
    pub fn network_remove(&self, key: &str) -> Result<()> {
        let Some(n) = self.network_key(key)? else {
            return Err(forbidden(format!(
                "{key} is a pre-defined network and cannot be removed"
            )));
        };
        let active: Vec<String> = self
            .list()
            .into_iter()
            .filter(|c| c.state.running && c.endpoints.contains_key(&n.name))
            .map(|c| c.name)
            .collect();
        if !active.is_empty() {
            return Err(forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        let mut nets = self.networks.lock();
        let mut applier = Applier::new();
        applier
            .teardown(&plan_delete_network(&n.spec()), &mut |_, _| Ok(()))
            .map_err(|e| net_err(&format!("delete the network {}", n.name), e))?;
        let _ = std::fs::remove_file(self.networks.dir.join(format!("{}.json", n.name)));
        let ipam = self.networks.ipam_path(&n.name);
        let _ = std::fs::remove_file(&ipam);
        let _ = std::fs::remove_file(ipam.with_extension("json.lock"));
        self.networks
            .ipams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&n.id);
        nets.remove(&n.name);
        drop(nets);
        // Stopped containers forget it.
        for c in self.list() {
            if c.endpoints.contains_key(&n.name) {
                self.update(&c.id, |c| {
                    c.endpoints.remove(&n.name);
                });
            }
        }
        tracing::info!(network = %n.name, "network removed");
        self.emit_event(
            "network",
            "destroy",
            &n.id,
            &[("name", &n.name), ("type", "bridge")],
        );
        Ok(())
    }

    /// `POST /networks/prune`: removes every user network no container refers to.
    pub fn network_prune(&self) -> Value {
        let used: Vec<String> = self
            .list()
            .iter()
            .flat_map(|c| {
                let mut v: Vec<String> = c.endpoints.keys().cloned().collect();
                v.push(c.network_mode());
                v
            })
            .collect();
        let mut deleted = Vec::new();
        for n in self.networks.all() {
            if !used.contains(&n.name) && self.network_remove(&n.name).is_ok() {
                deleted.push(n.name);
            }
        }
        json!({ "NetworksDeleted": deleted })
    }

    /// Whether `mode` (a `HostConfig.NetworkMode`) names something that
    /// exists; returns the normalised mode (a network's name for its id).
    pub fn check_network_mode(&self, mode: &str) -> Result<String> {
        match mode {
            "" | "default" | "bridge" | "host" | "none" => return Ok(mode.to_string()),
            _ => {}
        }
        if let Some(target) = mode.strip_prefix("container:") {
            let c = self.find(target)?;
            return Ok(format!("container:{}", c.id));
        }
        match self.networks.find(mode) {
            Some(n) => Ok(n.name),
            None => Err(ApiError::not_found(format!("network {mode} not found"))),
        }
    }

    /// The endpoints a new container starts with: its `NetworkMode` when
    /// that is a user network, with the aliases of `NetworkingConfig`.
    pub fn initial_endpoints(&self, mode: &str, body: &Value) -> BTreeMap<String, Endpoint> {
        let mut out = BTreeMap::new();
        if let Some(n) = self.networks.find(mode) {
            let given: mini_docker_api::container::NetworkingConfig = body
                .get("NetworkingConfig")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            let cfg = given.endpoint(&n.name, mode);
            out.insert(
                n.name.clone(),
                Endpoint {
                    network_id: n.id.clone(),
                    aliases: cfg.and_then(|c| c.aliases.clone()).unwrap_or_default(),
                    ..Default::default()
                },
            );
        }
        out
    }

    /// The namespace a `container:<id>` container joins: the target's.
    pub fn joined_netns(&self, mode: &str) -> Result<Option<String>> {
        let Some(target) = mode.strip_prefix("container:") else {
            return Ok(None);
        };
        let t = self.find(target)?;
        if !t.state.running {
            return Err(ApiError::conflict(format!(
                "cannot join network of a non running container: {}",
                t.id
            )));
        }
        Ok(Some(match &t.net {
            Some(a) if !a.netns.is_empty() => a.netns.clone(),
            _ => format!("/proc/{}/ns/net", t.state.pid),
        }))
    }

    /// A network namespace file for a container whose first network is a
    /// user network, held like the default bridge's (an attachment without
    /// an address: `detach_network` deletes the file).
    pub fn user_netns(&self, c: &Container) -> Result<Option<super::net::Attachment>> {
        let mode = c.network_mode();
        if PREDEFINED.contains(&mode.as_str()) || mode.starts_with("container:") {
            return Ok(None);
        }
        if self.networks.find(&mode).is_none() {
            return Err(ApiError::not_found(format!("network {mode} not found")));
        }
        let path = self.opts.root.join("netns").join(&c.id[..12]);
        let _ = ::network::netns::delete(&path);
        let dir = path.parent().expect("under the data root");
        let file = c.id[..12].to_string();
        let ns = ::network::netns::Netns::create(dir, &file, Path::new("/proc"))
            .map_err(|e| net_err("create the network namespace", e))?;
        Ok(Some(super::net::Attachment {
            netns: ns.into_path().display().to_string(),
            ..Default::default()
        }))
    }

    /// Plugs one endpoint of a container into its network, inside `netns`.
    /// Runs `f` on network `n`'s IPAM, in memory. The first use after a
    /// start rebuilds it from the records: every endpoint on `n` keeps its
    /// address, and none is handed out twice across a restart.
    fn with_user_ipam<T>(&self, n: &UserNetwork, f: impl FnOnce(&mut IpamState) -> T) -> T {
        let mut ipams = self
            .networks
            .ipams
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let ipam = ipams.entry(n.id.clone()).or_insert_with(|| {
            let mut st = IpamState::new(n.subnet());
            for c in self.lock().values() {
                for ep in c.endpoints.values().filter(|e| e.network_id == n.id) {
                    if let Ok(ip) = ep.ip.parse::<Ipv4Addr>() {
                        st.allocated.insert(ip, c.id.clone());
                        st.last = Some(ip);
                    }
                }
            }
            st
        });
        f(ipam)
    }

    fn join(
        &self,
        n: &UserNetwork,
        cid: &str,
        netns: &Path,
        ifname: &str,
        default_route: bool,
        ep: &Endpoint,
    ) -> Result<Endpoint> {
        let ip = self
            .with_user_ipam(n, |ipam| ipam.allocate(cid))
            .map_err(|e| net_err(&format!("allocate an address on {}", n.name), e))?;
        let spec = endpoint_spec(n, cid, netns, ip, ifname);
        let plan = plan_join(n, &spec, default_route);
        let mut applier = Applier::new();
        let undo = |applier: &mut Applier| {
            let _ = applier.teardown(
                &[Step::host(LinkOp::DeleteLink(spec.host_veth.clone()))],
                &mut |_, _| Ok(()),
            );
            let _ = self.with_user_ipam(n, |ipam| ipam.release(ip));
        };
        if let Err(e) = applier.apply(&plan) {
            undo(&mut applier);
            return Err(net_err(&format!("connect to {}", n.name), e));
        }
        // The container's end was born inside its namespace: ask there.
        let mac = ::network::netlink::Netlink::open_in(netns)
            .and_then(|mut nl| nl.mac_address(ifname))
            .ok()
            .flatten()
            .unwrap_or_default();
        Ok(Endpoint {
            network_id: n.id.clone(),
            aliases: ep.aliases.clone(),
            endpoint_id: super::util::new_id(),
            ip: ip.to_string(),
            prefix: n.subnet().prefix(),
            gateway: n.subnet().gateway().to_string(),
            mac,
            host_veth: spec.host_veth.clone(),
            ifname: ifname.to_string(),
        })
    }

    /// Unplugs one endpoint: the veth pair goes (both ends), the address is released.
    fn leave(&self, name: &str, ep: &Endpoint) {
        if !ep.host_veth.is_empty() {
            let _ = Applier::new().teardown(
                &[Step::host(LinkOp::DeleteLink(ep.host_veth.clone()))],
                &mut |_, _| Ok(()),
            );
        }
        if let (Some(n), Ok(ip)) = (self.networks.find(name), ep.ip.parse::<Ipv4Addr>()) {
            let _ = self.with_user_ipam(&n, |ipam| ipam.release(ip));
        }
    }

    /// At start: plugs the container into each of its user networks, inside
    /// `netns` (the one the daemon made). The first interface is `eth0` with
    /// the default route unless the default bridge has that already.
    pub fn connect_user_networks(&self, c: &Container, netns: Option<&str>) -> Result<()> {
        let Some(netns) = netns else {
            return Ok(());
        };
        let mode = c.network_mode();
        let mut first = mode != "bridge";
        // The mode's network first (eth0), then the others.
        let mut names: Vec<String> = c.endpoints.keys().cloned().collect();
        names.sort_by_key(|n| *n != mode);
        for (index, name) in (usize::from(mode == "bridge")..).zip(names) {
            let Some(n) = self.networks.find(&name) else {
                return Err(ApiError::not_found(format!("network {name} not found")));
            };
            let ep = c.endpoints[&name].clone();
            let joined = self.join(
                &n,
                &c.id,
                Path::new(netns),
                &format!("eth{index}"),
                first,
                &ep,
            )?;
            first = false;
            self.update(&c.id, |c| {
                c.endpoints.insert(name.clone(), joined);
            });
        }
        Ok(())
    }

    /// `-p`/`-P` of a container whose first network is a user network:
    /// chapter 05's DNAT table and proxies toward its address there, as on
    /// the default bridge. Returns the attachment with its ports (or, on
    /// failure, the error and the attachment to undo).
    #[allow(clippy::result_large_err)]
    pub fn publish_user_ports(
        &self,
        c: &Container,
        attachment: Option<super::net::Attachment>,
    ) -> std::result::Result<
        Option<super::net::Attachment>,
        (ApiError, Option<super::net::Attachment>),
    > {
        let Some(mut a) = attachment else {
            return Ok(None);
        };
        let mode = c.network_mode();
        let Some(ep) = c.endpoints.get(&mode) else {
            return Ok(Some(a));
        };
        let mappings = match super::net::port_mappings(&c.config, &c.host_config) {
            Ok(m) if !m.is_empty() => m,
            Ok(_) => return Ok(Some(a)),
            Err(e) => return Err((e, Some(a))),
        };
        let Ok(ip) = ep.ip.parse::<Ipv4Addr>() else {
            return Ok(Some(a));
        };
        let runner = self.proxy_runner(&c.id);
        let pm = match network::PortMap::publish_with(
            ip,
            &mappings,
            &mut Applier::new(),
            &runner,
            &[],
        ) {
            Ok(pm) => pm,
            Err(e) => {
                return Err((
                    ApiError::internal(format!(
                        "driver failed programming external connectivity on endpoint {}: {e}",
                        &c.id[..12]
                    )),
                    Some(a),
                ))
            }
        };
        a.ports = super::net::ports_of(&pm);
        a.table = pm.table().to_string();
        self.networks
            .ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(c.id[..12].to_string(), pm);
        Ok(Some(a))
    }

    /// After a restart of a daemon without a default bridge: re-publish the
    /// ports of running containers on user networks (their proxies lived in
    /// the old daemon; with a default bridge, `restore_network` does it).
    pub fn restore_user_ports(&self) {
        if self.opts.net.bridge.is_some() {
            return;
        }
        for c in self.list().into_iter().filter(|c| c.state.running) {
            let Some(a) = c.net.clone().filter(|a| !a.ports.is_empty()) else {
                continue;
            };
            let _ = ::network::nft::delete_table(&a.table);
            let Some(ep) = c.endpoints.get(&c.network_mode()) else {
                continue;
            };
            let Ok(ip) = ep.ip.parse::<Ipv4Addr>() else {
                continue;
            };
            match super::net::adopt_ports(ip, &a, &self.proxy_runner(&c.id)) {
                Ok(pm) => {
                    let (table, ports) = (pm.table().to_string(), super::net::ports_of(&pm));
                    self.networks
                        .ports
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(c.id[..12].to_string(), pm);
                    self.set_net_ports(&c.id, table, ports);
                }
                Err(e) => tracing::warn!(id = %c.id, "{}", e.message),
            }
        }
    }

    /// At exit or removal: unplugs every user endpoint, keeping the memberships.
    pub fn disconnect_user_networks(&self, id: &str) {
        self.dns.stop(id);
        let published = self
            .networks
            .ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id[..id.len().min(12)]);
        if let Some(pm) = published {
            if let Err(e) = pm.unpublish(&mut Applier::new()) {
                tracing::warn!("unpublish: {e}");
            }
        }
        let Ok(c) = self.find(id) else { return };
        for (name, ep) in &c.endpoints {
            self.leave(name, ep);
        }
        let reset = |ep: &Endpoint| Endpoint {
            network_id: ep.network_id.clone(),
            aliases: ep.aliases.clone(),
            ..Default::default()
        };
        // No user network, or unplugged already (at the exit, before an
        // `rm`): nothing changes, so no record is written (and fsynced).
        let same =
            |ep: &Endpoint| serde_json::to_value(ep).ok() == serde_json::to_value(reset(ep)).ok();
        if c.endpoints.values().all(same) {
            return;
        }
        self.update(id, |c| {
            for ep in c.endpoints.values_mut() {
                *ep = reset(ep);
            }
        });
    }

    /// The netns of a running container, if it has one of its own.
    fn netns_of(c: &Container) -> Option<String> {
        match &c.net {
            Some(a) if !a.netns.is_empty() => Some(a.netns.clone()),
            // `none`, or `bridge` on a daemon without one: the runtime's own namespace.
            _ if c.state.pid > 0 => Some(format!("/proc/{}/ns/net", c.state.pid)),
            _ => None,
        }
    }

    /// `POST /networks/{id}/connect` `{"Container": …, "EndpointConfig": {"Aliases": […]}}`.
    pub fn network_connect(
        &self,
        key: &str,
        body: &mini_docker_api::bodies::NetworkConnect,
    ) -> Result<()> {
        let Some(n) = self.network_key(key)? else {
            return Err(forbidden(format!(
                "connecting to the pre-defined network {key} is not supported by mini-docker"
            )));
        };
        let c = self.find(body.container.as_deref().unwrap_or(""))?;
        if c.endpoints.contains_key(&n.name) {
            return Err(forbidden(format!(
                "endpoint with name {} already exists in network {}",
                c.name, n.name
            )));
        }
        let mode = c.network_mode();
        if mode == "host" || mode.starts_with("container:") {
            return Err(forbidden(format!(
                "container sharing network namespace with another container or host cannot be connected to any other network ({mode})"
            )));
        }
        let ep = Endpoint {
            network_id: n.id.clone(),
            aliases: body
                .endpoint_config
                .as_ref()
                .and_then(|e| e.aliases.clone())
                .unwrap_or_default(),
            ..Default::default()
        };
        let event = [
            ("container", c.id.as_str()),
            ("name", &n.name),
            ("type", "bridge"),
        ];
        if !c.state.running {
            // No event: as dockerd, the container joins when it starts.
            self.update(&c.id, |c| {
                c.endpoints.insert(n.name.clone(), ep);
            });
            return Ok(());
        }
        let netns = Self::netns_of(&c).ok_or_else(|| {
            ApiError::internal(format!("container {} has no network namespace", c.id))
        })?;
        let bridged = c.net.as_ref().is_some_and(|a| !a.ip.is_empty());
        let mut used: Vec<String> = c.endpoints.values().map(|e| e.ifname.clone()).collect();
        if bridged {
            used.push("eth0".into());
        }
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|f| !used.contains(f))
            .expect("a free interface name");
        // The first address of the container also brings its default route.
        let first = !bridged && c.endpoints.values().all(|e| e.ip.is_empty());
        let joined = self.join(&n, &c.id, Path::new(&netns), &ifname, first, &ep)?;
        self.update(&c.id, |c| {
            c.endpoints.insert(n.name.clone(), joined);
        });
        self.refresh_hosts();
        self.emit_event("network", "connect", &n.id, &event);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect` `{"Container": …, "Force": …}`.
    pub fn network_disconnect(
        &self,
        key: &str,
        body: &mini_docker_api::bodies::NetworkDisconnect,
    ) -> Result<()> {
        let Some(n) = self.network_key(key)? else {
            return Err(forbidden(format!(
                "disconnecting from the pre-defined network {key} is not supported by mini-docker"
            )));
        };
        let c = self.find(body.container.as_deref().unwrap_or(""))?;
        let Some(ep) = c.endpoints.get(&n.name).cloned() else {
            return Err(forbidden(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        };
        self.leave(&n.name, &ep);
        let ep_container = c.id.clone();
        let c = self.update(&c.id, |c| {
            c.endpoints.remove(&n.name);
        });
        self.refresh_hosts();
        if let Some(c) = c.filter(|c| c.state.running) {
            self.write_hosts(&c, &self.list());
        }
        let event = [
            ("container", ep_container.as_str()),
            ("name", &n.name),
            ("type", "bridge"),
        ];
        self.emit_event("network", "disconnect", &n.id, &event);
        Ok(())
    }

    /// The `/etc/hosts` text of a container, as Docker 20.10 writes it: the
    /// usual localhost and IPv6 lines, each `--add-host`, then the
    /// container itself (`IP<tab>hostname`, or `fqdn short` with a
    /// `--domainname`) when it has an address. No peers: on a user network
    /// the embedded DNS answers their names and aliases (`dns.rs`).
    pub fn hosts_text(&self, c: &Container, _all: &[Container]) -> String {
        let hostname = c.hostname();
        if c.network_mode() == "host" {
            return format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n");
        }
        let own: Option<Ipv4Addr> = c
            .net
            .as_ref()
            .and_then(|a| a.ip.parse().ok())
            .or_else(|| c.endpoints.values().find_map(|e| e.ip.parse().ok()));
        let mut text = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        );
        for h in c.host_config.extra_hosts.iter().flatten() {
            if let Some((name, ip)) = h.split_once(':') {
                text.push_str(&format!("{ip}\t{name}\n"));
            }
        }
        if let Some(ip) = own {
            let fqdn = match c.config.domainname.as_str() {
                "" => hostname,
                d => format!("{hostname}.{d}"),
            };
            let names = match fqdn.split_once('.') {
                Some((short, _)) => format!("{fqdn} {short}"),
                None => fqdn,
            };
            text.push_str(&format!("{ip}\t{names}\n"));
        }
        text
    }

    /// Rewrites, in place, the `/etc/hosts` of every running container on a
    /// user network (peers came or went). Others have no peers to list.
    pub fn refresh_hosts(&self) {
        self.refresh_dns();
        let all = self.list();
        for c in all.iter().filter(|c| c.state.running) {
            if c.endpoints.values().any(|e| !e.ip.is_empty()) {
                self.write_hosts(c, &all);
            }
        }
    }

    /// Rewrites one running container's `/etc/hosts` in place.
    fn write_hosts(&self, c: &Container, all: &[Container]) {
        let mode = c.network_mode();
        if mode == "host" || mode.starts_with("container:") {
            return;
        }
        let path = self.dir(&c.id).join("hosts");
        if path.exists() {
            let _ = std::fs::write(&path, self.hosts_text(c, all));
        }
    }
}

/// A stable id for a predefined network.
pub fn predefined_id(name: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut out = String::new();
    for i in 0..4u8 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ("predefined", name, i).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(internal: bool) -> UserNetwork {
        UserNetwork {
            name: "front".into(),
            id: "0123456789ab".repeat(5) + "cdef",
            created: 0,
            subnet: "10.204.7.0/24".into(),
            internal,
            labels: BTreeMap::new(),
            bridge: "mdn0123456789ab".into(),
            options: BTreeMap::new(),
            ipam_config: None,
            ipam_options: Value::Null,
        }
    }

    #[test]
    fn create_plan_isolates_from_every_engine_bridge() {
        let plan = network::plan::render(&plan_create(&net(false), true));
        insta::assert_snapshot!(plan);
        assert!(plan.contains(r#"oifname "md*""#), "{plan}");
    }

    #[test]
    fn internal_network_has_no_way_out() {
        let plan = network::plan::render(&plan_create(&net(true), true));
        assert!(!plan.contains("masquerade"), "{plan}");
        assert!(
            plan.contains(r#"iifname "mdn0123456789ab" oifname != "mdn0123456789ab" drop"#),
            "{plan}"
        );
    }

    #[test]
    fn a_second_network_adds_no_default_route() {
        let n = net(false);
        let ep = endpoint_spec(
            &n,
            "abcdef0123456789",
            Path::new("/x/netns/abc"),
            "10.204.7.2".parse().unwrap(),
            "eth1",
        );
        assert_eq!(ep.host_veth, "mdvabcdef012345");
        let with = network::plan::render(&plan_join(&n, &ep, true));
        let without = network::plan::render(&plan_join(&n, &ep, false));
        assert!(with.contains("ip route add default via 10.204.7.1"));
        assert!(!without.contains("default via"));
        assert!(without.contains("name eth1"), "{without}");
    }
}
