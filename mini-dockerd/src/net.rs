//! Networking of containers: `none`, `host`, and the default `bridge`.
//!
//! `none` keeps the new, empty network namespace of the default spec;
//! `host` drops it from the spec. `bridge` (chapter 05) is wired by the
//! daemon the OCI way, before the runtime runs:
//!
//! 1. the bridge (`--bridge-name`, default `md-br0`) with the gateway
//!    address and its nftables table `mini_docker_<bridge>` (masquerade),
//!    made once and found again after a restart; a bridge that is already
//!    there (left by a daemon on another data root) keeps its subnet, read
//!    back with netlink, and a `--bridge-subnet` that disagrees is refused;
//! 2. a namespace file `<data-root>/netns/<short id>` (`ip netns add`);
//! 3. a veth pair `md-<short id>` into the bridge, the other end `eth0` in
//!    the namespace with an address from the IPAM and a default route. The
//!    IPAM lives in memory (chapter 05's `IpamState`, without its file):
//!    the containers' records already say who holds which address, so at
//!    start the daemon rebuilds it from them, and an allocate or release
//!    costs no write and no fsync;
//! 4. the `-p`/`-P` mappings: a table `chapter05_<hex>` of DNAT rules and a
//!    userland proxy process per mapping (`mini-docker-proxy`, next to the
//!    daemon, as dockerd runs `docker-proxy`), whose pid is recorded;
//! 5. the namespace's `net.*` sysctls of the spec, written by the daemon
//!    (the runtime only joins the namespace: `linux.namespaces[].path`).
//!
//! The container's exit or `rm` undoes all of it. The proxies outlive a
//! daemon that dies, so `127.0.0.1:PORT` keeps serving; the next daemon
//! adopts them by their recorded pids (after checking their command lines),
//! writes the DNAT table again, and removes namespace files no container holds.

use super::{ApiError, Engine, Result};
use network::ipam::IpamState;
use network::netns::Netns;
use network::network::{plan_connect, plan_disconnect, EndpointSpec};
use network::nft::Proto;
use network::{Applier, NetworkSpec, PortMap, PortMapping, Step, Subnet};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Network options of the daemon.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// `--bridge-subnet`, e.g. `10.203.7.0/24` (None: chapter 05 picks).
    pub subnet: Option<String>,
    /// `--bridge-name` (None, from `--bridge-name none`: no bridge;
    /// `bridge` containers get an empty netns).
    pub bridge: Option<String>,
}

/// A published port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Port {
    /// Host address.
    pub host_ip: String,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub port: u16,
    /// tcp or udp.
    pub proto: String,
    /// The pid of its userland proxy process (0: none, or a thread).
    #[serde(default)]
    pub proxy_pid: u32,
}

/// What a container got from its network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    /// Network id.
    pub network_id: String,
    /// Endpoint id.
    pub endpoint_id: String,
    /// Its address.
    pub ip: String,
    /// Prefix length.
    pub prefix: u8,
    /// Gateway.
    pub gateway: String,
    /// MAC.
    pub mac: String,
    /// netns path.
    pub netns: String,
    /// Published ports.
    pub ports: Vec<Port>,
    /// The host end of its veth pair.
    #[serde(default)]
    pub host_veth: String,
    /// The nftables table of its published ports.
    #[serde(default)]
    pub table: String,
}

impl Attachment {
    /// `Ports` of `/containers/json`.
    pub fn port_summaries(&self) -> Vec<Value> {
        self.ports
            .iter()
            .map(|p| json!({"IP": p.host_ip, "PrivatePort": p.port, "PublicPort": p.host_port, "Type": p.proto}))
            .collect()
    }

    /// `NetworkSettings.Ports` of inspect.
    pub fn ports_map(&self) -> Value {
        let mut m = serde_json::Map::new();
        for p in &self.ports {
            let e = m
                .entry(format!("{}/{}", p.port, p.proto))
                .or_insert_with(|| json!([]));
            if let Some(a) = e.as_array_mut() {
                a.push(json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()}));
            }
        }
        Value::Object(m)
    }
}

/// The default bridge network, once created (or found after a restart).
pub struct Bridge {
    /// The bridge's name and subnet, and its nftables table.
    pub spec: NetworkSpec,
    /// Its address allocator, in memory: rebuilt from the containers'
    /// records when the bridge is set up ([`Engine::bridge_ipam`]).
    pub ipam: IpamState,
    /// Published ports of running containers (their userland proxies live here).
    pub ports: HashMap<String, PortMap>,
}

/// The nftables table of the bridge named `bridge` (masquerade, isolation).
pub fn bridge_table(bridge: &str) -> String {
    format!("mini_docker_{}", bridge.replace('-', "_"))
}

/// Network id (64 hex) of the bridge named `bridge`: stable across restarts.
fn network_id(bridge: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut out = String::new();
    for i in 0..4u8 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (bridge, i).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// `ExposedPorts`/`PortBindings` key `80/tcp` -> (80, tcp).
fn parse_port_key(k: &str) -> Result<(u16, Proto)> {
    let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        other => return Err(ApiError::bad(format!("invalid proto: {other}"))),
    };
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok((n, proto)),
        _ => Err(ApiError::bad(format!("invalid port: {k}"))),
    }
}

/// The `-p`/`-P` mappings of a container, from `HostConfig.PortBindings`
/// and (with `PublishAllPorts`) the image's `ExposedPorts`.
pub fn port_mappings(
    config: &mini_docker_api::container::ContainerConfig,
    host_config: &mini_docker_api::container::HostConfig,
) -> Result<Vec<PortMapping>> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    if let Some(b) = &host_config.port_bindings {
        for (k, binds) in b {
            let (port, proto) = parse_port_key(k)?;
            seen.insert(k.clone());
            let binds = binds.clone().unwrap_or_default();
            let binds = if binds.is_empty() {
                vec![Default::default()]
            } else {
                binds
            };
            for b in binds {
                let ip = b.host_ip.as_str();
                let host_ip: Ipv4Addr = if ip.is_empty() {
                    Ipv4Addr::UNSPECIFIED
                } else {
                    ip.parse()
                        .map_err(|_| ApiError::bad(format!("invalid IP address: {ip}")))?
                };
                let hp = b.host_port.as_str();
                let host_port = if hp.is_empty() {
                    0
                } else {
                    hp.parse::<u16>()
                        .map_err(|_| ApiError::bad(format!("invalid port: {hp}")))?
                };
                out.push(PortMapping {
                    proto,
                    host_ip,
                    host_port,
                    container_port: port,
                });
            }
        }
    }
    if host_config.publish_all_ports.unwrap_or(false) {
        {
            for k in config.exposed_ports.keys().filter(|k| !seen.contains(*k)) {
                let (port, proto) = parse_port_key(k)?;
                out.push(PortMapping {
                    proto,
                    host_ip: Ipv4Addr::UNSPECIFIED,
                    host_port: 0,
                    container_port: port,
                });
            }
        }
    }
    Ok(out)
}

fn net_err(what: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    ApiError::internal(format!("{what}: {}", super::errors::chain(&*e.into())))
}

impl Engine {
    fn netns_path(&self, id: &str) -> PathBuf {
        self.opts.root.join("netns").join(&id[..12])
    }

    /// Creates the bridge (or finds it after a restart) and its nftables table.
    fn setup_bridge(&self, name: &str) -> Result<Bridge> {
        if name.is_empty() || name.len() > ::network::names::MAX_IFNAME {
            return Err(ApiError::bad(format!(
                "bridge name {name:?}: 1 to 15 characters"
            )));
        }
        let dir = self.opts.root.join("networks");
        std::fs::create_dir_all(&dir).map_err(|e| net_err("create networks dir", e))?;
        let saved = dir.join("bridge.json");
        let saved_subnet: Option<Subnet> = std::fs::read(&saved)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["subnet"].as_str().and_then(|s| s.parse().ok()));
        let mut nl = ::network::netlink::Netlink::open().map_err(|e| net_err("netlink", e))?;
        let index = nl.link_index(name).map_err(|e| net_err("netlink", e))?;
        let exists = index.is_some();
        // A bridge that is already there (a previous daemon's, on another
        // data root, or another daemon's) keeps its address: the containers
        // must get addresses it routes. Docker adopts docker0's the same way.
        let existing: Option<(Ipv4Addr, Subnet)> = match index {
            Some(i) => nl
                .addresses()
                .map_err(|e| net_err("netlink", e))?
                .into_iter()
                .find(|a| a.index == i)
                .and_then(|a| Some((a.ip, Subnet::new(a.ip, a.prefix).ok()?))),
            None => None,
        };
        drop(nl);
        let asked: Option<Subnet> = match &self.opts.net.subnet {
            Some(s) => Some(s.parse().map_err(|e| {
                ApiError::bad(format!("--bridge-subnet {s}: {}", crate::errors::chain(&e)))
            })?),
            None => None,
        };
        let subnet: Subnet = match (existing, asked, saved_subnet) {
            (Some((ip, have)), _, _) if ip != have.gateway() => {
                return Err(ApiError::bad(format!(
                    "the bridge {name} already exists with the address {ip}/{}, not its subnet's first address {}: \
                     choose another --bridge-name, or delete it (ip link delete {name})",
                    have.prefix(),
                    have.gateway()
                )))
            }
            (Some((_, have)), Some(want), _) if have != want => {
                return Err(ApiError::bad(format!(
                    "the bridge {name} already exists on {have}, not on --bridge-subnet {want}: \
                     use --bridge-subnet {have}, choose another --bridge-name, or delete it (ip link delete {name})"
                )))
            }
            (Some((_, have)), _, _) => have,
            (None, Some(want), _) => want,
            (None, None, Some(s)) => s,
            (None, None, None) => ::network::network::choose_default_subnet(&[])
                .map_err(|e| net_err("choose a subnet", e))?,
        };
        let spec = NetworkSpec {
            name: "bridge".into(),
            id: network_id(name),
            subnet,
            bridge: name.into(),
            table: bridge_table(name),
        };
        let mut applier = Applier::new();
        let ip_forward_on = applier
            .sysctl(::network::network::IP_FORWARD)
            .map(|v| v == "1")
            .unwrap_or(false);
        let mut plan = ::network::network::plan_create_network(&spec, ip_forward_on);
        if exists {
            // A restart: the bridge and its address are there; redo the table.
            plan.retain(|s| !matches!(s, Step::Link { .. }));
            let _ = ::network::nft::delete_table(&spec.table);
        } else {
            ::network::subnet::check_free(
                subnet,
                &::network::network::host_routes().map_err(|e| net_err("read routes", e))?,
            )
            .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        }
        if let Err(e) = applier.apply(&plan) {
            let _ = applier.teardown(
                &::network::network::plan_delete_network(&spec),
                &mut |_, _| Ok(()),
            );
            return Err(net_err(&format!("create the bridge {name}"), e));
        }
        let _ = super::util::write_atomic(
            &saved,
            &serde_json::to_vec_pretty(&json!({"name": name, "subnet": subnet.to_string()}))
                .unwrap_or_default(),
        );
        // The state file of earlier versions: the records are the truth now.
        for f in ["bridge-ipam.json", "bridge-ipam.json.lock"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        let ipam = self.bridge_ipam(&spec);
        tracing::info!(bridge = name, %subnet, "default bridge ready");
        Ok(Bridge {
            spec,
            ipam,
            ports: HashMap::new(),
        })
    }

    /// The bridge's IPAM, rebuilt from the records: every container that
    /// holds an address on this bridge keeps it, and none is handed out
    /// twice across a restart.
    pub(crate) fn bridge_ipam(&self, spec: &NetworkSpec) -> IpamState {
        let mut ipam = IpamState::new(spec.subnet);
        for c in self.lock().values() {
            let Some(a) = &c.net else { continue };
            if !a.network_id.is_empty() && a.network_id != spec.id {
                continue;
            }
            match a.ip.parse::<Ipv4Addr>() {
                Ok(ip) if spec.subnet.offset_of(ip).is_some() => {
                    ipam.allocated.insert(ip, c.id.clone());
                    ipam.last = Some(ip);
                }
                _ => {}
            }
        }
        ipam
    }

    fn with_bridge<T>(&self, f: impl FnOnce(&mut Bridge) -> Result<T>) -> Result<Option<T>> {
        let Some(name) = self.opts.net.bridge.clone() else {
            return Ok(None);
        };
        let mut guard = self.bridge.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.setup_bridge(&name)?);
        }
        f(guard.as_mut().expect("set above")).map(Some)
    }

    /// Wires a container into the default bridge (when one is configured):
    /// a netns file under the data root, a veth pair into the bridge, an
    /// address from the IPAM, a default route, and its published ports.
    /// On failure, everything made so far is removed again.
    pub fn attach_network(&self, c: &super::Container) -> Result<Option<Attachment>> {
        let mappings = port_mappings(&c.config, &c.host_config)?;
        let ns_path = self.netns_path(&c.id);
        let id = c.id.clone();
        let runner = self.proxy_runner(&id);
        // Under the bridge lock: the namespace, an address, the veth pair
        // (netlink only). The ports come after, outside it: publishing runs
        // `nft` and starts processes, and no lock is held across a wait.
        let wired = self.with_bridge(|br| {
            let _ = ::network::netns::delete(&ns_path);
            let dir = ns_path.parent().expect("under the data root");
            let file = ns_path.file_name().expect("a file name").to_string_lossy();
            let ns = Netns::create(dir, &file, Path::new("/proc"))
                .map_err(|e| net_err("create the network namespace", e))?;
            let ip = br
                .ipam
                .allocate(&id)
                .map_err(|e| net_err("allocate an address", e))?;
            let ep = endpoint(&br.spec, &id, ns.path(), ip);
            remove_stale_veth(&ep.host_veth);
            let mut applier = Applier::new();
            if let Err(e) = applier.apply(&plan_connect(&br.spec, &ep)) {
                let _ = applier.teardown(&plan_disconnect(&ep), &mut |_, _| Ok(()));
                let _ = br.ipam.release(ip);
                return Err(net_err("connect to the bridge", e));
            }
            Ok((
                Attachment {
                    network_id: br.spec.id.clone(),
                    endpoint_id: network_id(&ep.host_veth),
                    ip: ip.to_string(),
                    prefix: br.spec.subnet.prefix(),
                    gateway: br.spec.gateway().to_string(),
                    mac: String::new(),
                    netns: ns.into_path().display().to_string(),
                    ports: Vec::new(),
                    host_veth: ep.host_veth.clone(),
                    table: String::new(),
                },
                ep,
                ip,
            ))
        })?;
        let Some((mut a, ep, ip)) = wired else {
            return Ok(None);
        };
        if mappings.is_empty() {
            return Ok(Some(a));
        }
        match PortMap::publish_with(ip, &mappings, &mut Applier::new(), &runner, &[]) {
            Ok(pm) => {
                a.ports = ports_of(&pm);
                a.table = pm.table().to_string();
                let _ = self.with_bridge(|br| {
                    br.ports.insert(id[..12].to_string(), pm);
                    Ok(())
                });
                Ok(Some(a))
            }
            Err(e) => {
                let _ = Applier::new().teardown(&plan_disconnect(&ep), &mut |_, _| Ok(()));
                let _ = ::network::netns::delete(&ep.netns);
                let _ = self.with_bridge(|br| br.ipam.release(ip).map_err(|e| net_err("IPAM", e)));
                Err(ApiError::internal(format!(
                    "driver failed programming external connectivity on endpoint {}: {e}",
                    &id[..12]
                )))
            }
        }
    }

    /// Undoes [`Engine::attach_network`]: stops the proxies, deletes the
    /// port table, the veth and the netns file, and releases the address.
    pub fn detach_network(&self, a: &Attachment) {
        let key = Self::port_key(a);
        // Under the bridge lock only take the port map out and release the
        // address: stopping the proxies waits for their threads, and no
        // lock is held across a wait (every other run/stop needs this one).
        let r = self.with_bridge(|br| {
            if let Ok(ip) = a.ip.parse() {
                let _ = br.ipam.release(ip);
            }
            Ok(key.as_ref().and_then(|k| br.ports.remove(k)))
        });
        match r {
            Ok(Some(Some(pm))) => {
                if let Err(e) = pm.unpublish(&mut Applier::new()) {
                    tracing::warn!("unpublish: {e}");
                }
            }
            Ok(_) => self.stop_recorded_proxies(a),
            Err(e) => tracing::warn!("detach: {}", e.message),
        }
        // No `ip link del` of the host end here: deleting it waits for an
        // RCU grace period (15-40 ms measured, `bench/where-time-goes.md`),
        // in the request. Unmounting the namespace drops its last
        // reference; the kernel then destroys it in the background, and with
        // it `eth0`, whose veth peer (the host end) goes too. A restart that
        // finds the old host end still there deletes it first
        // (`remove_stale_veth`).
        if a.netns.is_empty() {
            remove_stale_veth(&a.host_veth);
        } else if let Err(e) = ::network::netns::delete(Path::new(&a.netns)) {
            tracing::warn!("delete {}: {e}", a.netns);
        }
    }

    /// How this daemon runs a container's proxies: `mini-docker-proxy`
    /// next to the shim (so next to the daemon), one process per port; in
    /// threads of the daemon when that program is missing (then the ports
    /// die with the daemon, as the log says).
    pub fn proxy_runner(&self, id: &str) -> network::network::ProxyRunner {
        let program = self.opts.shim.with_file_name("mini-docker-proxy");
        if !program.exists() {
            tracing::warn!(
                "{} is missing: published ports run in the daemon and die with it",
                program.display()
            );
            return network::network::ProxyRunner::Threads;
        }
        network::network::ProxyRunner::Process {
            program,
            extra: vec![
                "--container".into(),
                id.to_string(),
                "--data-root".into(),
                self.opts.root.display().to_string(),
            ],
        }
    }

    /// Stops the proxy processes an attachment records (a previous
    /// daemon's: this one holds no port map for it) and deletes its table.
    pub fn stop_recorded_proxies(&self, a: &Attachment) {
        if !a.table.is_empty() {
            let _ = ::network::nft::delete_table(&a.table);
        }
        let Ok(ip) = a.ip.parse::<Ipv4Addr>() else {
            return;
        };
        for (p, m) in a.ports.iter().zip(mappings_of(a)) {
            if p.proxy_pid == 0 {
                continue;
            }
            let spec = ::network::proxy::ProxySpec {
                proto: m.proto,
                host_ip: m.host_ip,
                host_port: m.host_port,
                container_ip: ip,
                container_port: m.container_port,
            };
            if let Some(proc) =
                ::network::proxy::ProxyProcess::adopt(p.proxy_pid, spec, Path::new("/proc"))
            {
                proc.stop();
            }
        }
    }

    /// Records a container's re-published ports (their table and proxies).
    pub fn set_net_ports(&self, id: &str, table: String, ports: Vec<Port>) {
        self.update(id, |c| {
            if let Some(n) = c.net.as_mut() {
                n.table = table;
                n.ports = ports;
            }
        });
    }

    /// The key of a container's port map: the netns file's name (its short id).
    fn port_key(a: &Attachment) -> Option<String> {
        Some(
            Path::new(&a.netns)
                .file_name()?
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// After a restart: re-publish the ports of running containers (their
    /// proxies lived in the old daemon) and clean up what stopped ones left.
    pub fn restore_network(&self, running: &[super::Container], stopped: &[super::Container]) {
        for c in stopped {
            if let Some(a) = &c.net {
                self.detach_network(a);
            }
        }
        for c in running {
            let Some(a) = &c.net else { continue };
            if a.ports.is_empty() {
                continue;
            }
            let _ = ::network::nft::delete_table(&a.table);
            let Ok(ip) = a.ip.parse::<Ipv4Addr>() else {
                continue;
            };
            if self.opts.net.bridge.is_none() {
                continue;
            }
            // Outside the bridge lock (nft runs, processes may start).
            let r = adopt_ports(ip, a, &self.proxy_runner(&c.id)).and_then(|pm| {
                let got = (pm.table().to_string(), ports_of(&pm));
                self.with_bridge(|br| {
                    br.ports.insert(c.id[..12].to_string(), pm);
                    Ok(())
                })?;
                Ok(got)
            });
            match r {
                Ok((table, ports)) => self.set_net_ports(&c.id, table, ports),
                Err(e) => tracing::warn!(id = %c.id, "{}", e.message),
            }
        }
    }
}

fn endpoint(net: &NetworkSpec, id: &str, netns: &Path, ip: Ipv4Addr) -> EndpointSpec {
    EndpointSpec {
        host_veth: format!("md-{}", &id[..12]),
        peer_veth: format!("mdp{}", &id[..12]),
        ..EndpointSpec::new(net, &id[..12], netns, ip)
    }
}

/// Deletes the host end `name` of a veth pair if it is still there: a
/// previous run's, whose namespace the kernel has not finished destroying
/// (it is destroyed in the background after [`Engine::detach_network`]).
/// One `RTM_GETLINK` when there is none.
fn remove_stale_veth(name: &str) {
    if name.is_empty() {
        return;
    }
    let Ok(mut nl) = ::network::netlink::Netlink::open() else {
        return;
    };
    if let Ok(Some(_)) = nl.link_index(name) {
        if let Err(e) = nl.delete_link(name) {
            tracing::warn!("delete the old {name}: {e}");
        }
    }
}

/// The published ports of a port map, each with its proxy's pid.
pub fn ports_of(pm: &PortMap) -> Vec<Port> {
    pm.mappings()
        .iter()
        .zip(pm.proxy_pids())
        .map(|(m, pid)| Port {
            host_ip: m.host_ip.to_string(),
            host_port: m.host_port,
            port: m.container_port,
            proto: m.proto.as_str().to_string(),
            proxy_pid: pid,
        })
        .collect()
}

/// The mappings an attachment records.
pub fn mappings_of(a: &Attachment) -> Vec<PortMapping> {
    a.ports
        .iter()
        .map(|p| PortMapping {
            proto: if p.proto == "udp" {
                Proto::Udp
            } else {
                Proto::Tcp
            },
            host_ip: p.host_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
            host_port: p.host_port,
            container_port: p.port,
        })
        .collect()
}

/// After a restart: the DNAT table again, and the recorded proxy
/// processes adopted (a new one for each that is gone).
pub fn adopt_ports(
    ip: Ipv4Addr,
    a: &Attachment,
    runner: &network::network::ProxyRunner,
) -> Result<PortMap> {
    let pids: Vec<u32> = a.ports.iter().map(|p| p.proxy_pid).collect();
    PortMap::publish_with(ip, &mappings_of(a), &mut Applier::new(), runner, &pids)
        .map_err(|e| net_err("re-publish ports", e))
}

/// Removes the `net.*` sysctls from a spec and returns them.
pub fn take_net_sysctls(spec: &mut oci_spec::runtime::Spec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let sysctl = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.sysctl_mut().as_mut());
    if let Some(m) = sysctl {
        let mut keys: Vec<String> = m
            .keys()
            .filter(|k| k.starts_with("net."))
            .cloned()
            .collect();
        keys.sort();
        for k in keys {
            if let Some(v) = m.remove(&k) {
                out.push((k, v));
            }
        }
    }
    out
}

/// Writes `sysctls` (`net.ipv4.x` = value) inside the network namespace at
/// `netns`: a short-lived thread joins it (`setns(2)`) and writes
/// `/proc/sys/net/...`, which belongs to the namespace of the writer.
pub fn apply_sysctls(netns: &Path, sysctls: &[(String, String)]) -> Result<()> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let f =
        std::fs::File::open(netns).map_err(|e| net_err(&format!("open {}", netns.display()), e))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| net_err(&format!("setns {}", netns.display()), e))?;
            for (k, v) in sysctls {
                let path = Path::new("/proc/sys").join(k.replace('.', "/"));
                std::fs::write(&path, v).map_err(|e| net_err(&format!("sysctl {k}={v}"), e))?;
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err(ApiError::internal("the sysctl thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_bindings_and_publish_all() {
        fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
            serde_json::from_value(v).unwrap()
        }
        let config = typed(json!({"ExposedPorts": {"80/tcp": {}, "53/udp": {}}}));
        let hc = typed(json!({
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"},
                                        {"HostIp": "127.0.0.1", "HostPort": ""}]},
            "PublishAllPorts": true,
        }));
        let got: Vec<String> = port_mappings(&config, &hc)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "0.0.0.0:8080->80/tcp",
                "127.0.0.1:0->80/tcp",
                "0.0.0.0:0->53/udp"
            ]
        );
        let bad = typed(json!({"PortBindings": {"80/sctp": []}}));
        assert!(port_mappings(&config, &bad).is_err());
        let bad = typed(json!({"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}));
        assert!(port_mappings(&config, &bad).is_err());
    }

    #[test]
    fn net_sysctls_move_out_of_the_spec() {
        let mut spec: oci_spec::runtime::Spec = serde_json::from_value(
            json!({"ociVersion": "1.0.2", "linux": {"sysctl": {"net.ipv4.ping_group_range": "0 0", "kernel.x": "1"}}}),
        )
        .unwrap();
        let got = take_net_sysctls(&mut spec);
        assert_eq!(
            got,
            [("net.ipv4.ping_group_range".to_string(), "0 0".to_string())]
        );
        let left = spec.linux().as_ref().unwrap().sysctl().clone().unwrap();
        assert_eq!(left, [("kernel.x".to_string(), "1".to_string())].into());
    }
}
