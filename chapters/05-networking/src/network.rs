//! A bridge network, the endpoints (containers) on it, and published ports:
//! the three things Docker's bridge driver does, as plans and as RAII values.
//!
//! ```text
//!   container A netns          host                         container B netns
//!   eth0 10.x.y.2 ──veth── ch05v.. ─┐                  ┌─ ch05v.. ──veth── eth0 10.x.y.3
//!                                   ├── ch05b.. (bridge, 10.x.y.1 = gateway)
//!                                   │        │ routing + nftables (table chapter05_..)
//!                                   │        └── eth0 of the host (masquerade out)
//! ```
//!
//! - [`plan_create_network`]: bridge, gateway address, up, and the
//!   network's nftables table (masquerade, hairpin, isolation).
//! - [`plan_connect`]: a veth pair, one end into the bridge, the other into
//!   the container's namespace as `eth0` with an address from IPAM and a
//!   default route via the gateway.
//! - [`plan_publish`]: a table per container with the DNAT rules for its
//!   `-p` mappings, and a userland proxy per mapping for 127.0.0.1.
//!
//! Each comes with its teardown plan. [`Network`], [`Endpoint`] and
//! [`PortMap`] own what they created: dropping one tears it down (also when
//! creation failed half-way), and `delete`/`disconnect`/`unpublish` do it
//! with errors reported.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::ipam::Ipam;
use crate::names;
use crate::netlink::Netlink;
use crate::nft::{Expr, Hook, NftCommand, Proto};
use crate::plan::{Applier, LinkOp, Step};
use crate::proxy::{Bound, ProxyHandle, ProxyProcess, ProxySpec};
use crate::subnet::{self, Subnet};

/// The sysctl that lets the host route between interfaces.
pub const IP_FORWARD: &str = "net/ipv4/ip_forward";

/// What a bridge network is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The user's name for it (`demo`).
    pub name: String,
    /// Unique id; the bridge and table are named after it.
    pub id: String,
    /// The subnet.
    pub subnet: Subnet,
    /// `ch05b<id>`
    pub bridge: String,
    /// `chapter05_<id>`
    pub table: String,
}

impl NetworkSpec {
    /// A network with a fresh unique id.
    pub fn new(name: &str, subnet: Subnet) -> Self {
        Self::with_id(name, &names::unique_id(), subnet)
    }

    /// A network with a given id (tests use fixed ids for snapshots).
    pub fn with_id(name: &str, id: &str, subnet: Subnet) -> Self {
        NetworkSpec {
            name: name.into(),
            id: id.into(),
            subnet,
            bridge: names::bridge_name(id),
            table: names::table_name(id),
        }
    }

    /// The gateway: the bridge's address.
    pub fn gateway(&self) -> Ipv4Addr {
        self.subnet.gateway()
    }
}

/// The steps that create a network. `ip_forward` is the current value of
/// `net.ipv4.ip_forward`: it is switched on only if it is off.
pub fn plan_create_network(net: &NetworkSpec, ip_forward_on: bool) -> Vec<Step> {
    let br = &net.bridge;
    let t = || net.table.clone();
    let mut steps = Vec::new();
    if !ip_forward_on {
        steps.push(Step::Sysctl {
            key: IP_FORWARD.into(),
            value: "1".into(),
        });
    }
    steps.extend([
        Step::host(LinkOp::AddBridge(br.clone())),
        Step::host(LinkOp::AddAddress {
            link: br.clone(),
            ip: net.gateway(),
            prefix: net.subnet.prefix(),
        }),
        Step::host(LinkOp::Up(br.clone())),
        Step::Nft(NftCommand::AddTable { table: t() }),
        Step::Nft(NftCommand::AddChain {
            table: t(),
            hook: Hook::Postrouting,
        }),
        Step::Nft(NftCommand::AddRule {
            table: t(),
            hook: Hook::Postrouting,
            exprs: vec![
                Expr::SaddrIn(net.subnet),
                Expr::OifNameNot(br.clone()),
                Expr::Masquerade,
            ],
        }),
        Step::Nft(NftCommand::AddRule {
            table: t(),
            hook: Hook::Postrouting,
            exprs: vec![
                Expr::OifName(br.clone()),
                Expr::SaddrIn(net.subnet),
                Expr::CtStatusDnat,
                Expr::Masquerade,
            ],
        }),
        Step::Nft(NftCommand::AddChain {
            table: t(),
            hook: Hook::Forward,
        }),
        Step::Nft(NftCommand::AddRule {
            table: t(),
            hook: Hook::Forward,
            exprs: vec![
                Expr::IifName(br.clone()),
                Expr::OifName(format!("{}*", names::BRIDGE_PREFIX)),
                Expr::OifNameNot(br.clone()),
                Expr::Drop,
            ],
        }),
    ]);
    steps
}

/// The steps that delete a network (each tolerates "already gone").
pub fn plan_delete_network(net: &NetworkSpec) -> Vec<Step> {
    vec![
        Step::Nft(NftCommand::DeleteTable {
            table: net.table.clone(),
        }),
        Step::host(LinkOp::DeleteLink(net.bridge.clone())),
    ]
}

/// One container's attachment to a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// Unique id; the veth ends are named after it.
    pub id: String,
    /// The container's namespace file.
    pub netns: PathBuf,
    /// `ch05v<id>`: the host end.
    pub host_veth: String,
    /// `ch05p<id>`: a name for the container end while it is in the host
    /// (for plans that make it there; [`plan_connect`] makes it inside the
    /// namespace, directly as `ifname`).
    pub peer_veth: String,
    /// The container end's final name.
    pub ifname: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The gateway.
    pub gateway: Ipv4Addr,
}

impl EndpointSpec {
    /// An endpoint on `net` with address `ip` in the namespace at `netns`.
    pub fn new(net: &NetworkSpec, id: &str, netns: &Path, ip: Ipv4Addr) -> Self {
        EndpointSpec {
            id: id.into(),
            netns: netns.into(),
            host_veth: names::veth_name(id),
            peer_veth: names::peer_name(id),
            ifname: "eth0".into(),
            ip,
            prefix: net.subnet.prefix(),
            gateway: net.gateway(),
        }
    }
}

/// The steps that plug a container's namespace into a network.
pub fn plan_connect(net: &NetworkSpec, ep: &EndpointSpec) -> Vec<Step> {
    let ns = &ep.netns;
    vec![
        // One request makes the pair with the container's end already in
        // its namespace, under its final name: no `ip link set … netns`
        // afterwards (that move unregisters the link and waits for an RCU
        // grace period: 15-40 ms on a busy host) and no rename.
        Step::host(LinkOp::AddVeth {
            name: ep.host_veth.clone(),
            peer: ep.ifname.clone(),
            netns: Some(ns.clone()),
        }),
        Step::host(LinkOp::SetMaster {
            link: ep.host_veth.clone(),
            master: net.bridge.clone(),
        }),
        Step::host(LinkOp::Hairpin(ep.host_veth.clone())),
        Step::host(LinkOp::Up(ep.host_veth.clone())),
        Step::inside(
            ns,
            LinkOp::AddAddress {
                link: ep.ifname.clone(),
                ip: ep.ip,
                prefix: ep.prefix,
            },
        ),
        Step::inside(ns, LinkOp::Up(ep.ifname.clone())),
        Step::inside(ns, LinkOp::Up("lo".into())),
        Step::inside(ns, LinkOp::AddDefaultRoute(ep.gateway)),
    ]
}

/// The steps that unplug it.
pub fn plan_disconnect(ep: &EndpointSpec) -> Vec<Step> {
    vec![Step::host(LinkOp::DeleteLink(ep.host_veth.clone()))]
}

/// One `-p` mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// tcp (default) or udp.
    pub proto: Proto,
    /// Host address (0.0.0.0 = every local address).
    pub host_ip: Ipv4Addr,
    /// Host port (0 = a random free port).
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
}

impl FromStr for PortMapping {
    type Err = Error;
    /// `CONTAINER`, `HOST:CONTAINER`, `IP:HOST:CONTAINER` or `IP::CONTAINER`,
    /// each optionally followed by `/tcp` or `/udp`, as `docker run -p`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |detail: &str| Error::Parse {
            what: "port mapping",
            input: s.into(),
            detail: detail.into(),
        };
        let (ports, proto) = match s.rsplit_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some(_) => return Err(bad("the protocol must be tcp or udp")),
            None => (s, Proto::Tcp),
        };
        let port = |p: &str, zero_ok: bool| -> Result<u16> {
            if p.is_empty() && zero_ok {
                return Ok(0);
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(bad("ports are numbers from 1 to 65535")),
                Ok(n) => Ok(n),
            }
        };
        let parts: Vec<&str> = ports.split(':').collect();
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [c] => (Ipv4Addr::UNSPECIFIED, 0, port(c, false)?),
            [h, c] => (Ipv4Addr::UNSPECIFIED, port(h, false)?, port(c, false)?),
            [ip, h, c] => (
                ip.parse().map_err(|_| bad("not an IPv4 address"))?,
                port(h, true)?,
                port(c, false)?,
            ),
            _ => return Err(bad("expected [[IP:]HOST_PORT:]CONTAINER_PORT[/udp]")),
        };
        Ok(PortMapping {
            proto,
            host_ip,
            host_port,
            container_port,
        })
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}->{}/{}",
            self.host_ip, self.host_port, self.container_port, self.proto
        )
    }
}

/// The steps that publish `mappings` (host ports already chosen) of the
/// container at `container_ip`, in the table `table`.
///
/// For each mapping: a DNAT rule in prerouting (traffic from outside and
/// from containers: hairpin), one in output (the host's own connections to
/// a local, non-loopback address), and a userland proxy for 127.0.0.1.
/// Mappings bound to a loopback host address get the proxy only.
pub fn plan_publish(table: &str, container_ip: Ipv4Addr, mappings: &[PortMapping]) -> Vec<Step> {
    let t = || table.to_string();
    let mut steps = vec![
        Step::Nft(NftCommand::AddTable { table: t() }),
        Step::Nft(NftCommand::AddChain {
            table: t(),
            hook: Hook::Prerouting,
        }),
        Step::Nft(NftCommand::AddChain {
            table: t(),
            hook: Hook::Output,
        }),
    ];
    let loopback: Subnet = Subnet::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("127.0.0.0/8");
    for m in mappings.iter().filter(|m| !m.host_ip.is_loopback()) {
        let dst = if m.host_ip.is_unspecified() {
            Expr::DaddrIsLocal
        } else {
            Expr::Daddr(m.host_ip)
        };
        let tail = [
            Expr::Dport(m.proto, m.host_port),
            Expr::Dnat(container_ip, m.container_port),
        ];
        let mut pre = vec![dst.clone()];
        pre.extend(tail.clone());
        steps.push(Step::Nft(NftCommand::AddRule {
            table: t(),
            hook: Hook::Prerouting,
            exprs: pre,
        }));
        let mut out = vec![Expr::DaddrNotIn(loopback), dst];
        out.extend(tail);
        steps.push(Step::Nft(NftCommand::AddRule {
            table: t(),
            hook: Hook::Output,
            exprs: out,
        }));
    }
    for m in mappings {
        steps.push(Step::StartProxy(ProxySpec {
            proto: m.proto,
            host_ip: m.host_ip,
            host_port: m.host_port,
            container_ip,
            container_port: m.container_port,
        }));
    }
    steps
}

/// The steps that unpublish.
pub fn plan_unpublish(table: &str, container_ip: Ipv4Addr, mappings: &[PortMapping]) -> Vec<Step> {
    let mut steps: Vec<Step> = mappings
        .iter()
        .map(|m| {
            Step::StopProxy(ProxySpec {
                proto: m.proto,
                host_ip: m.host_ip,
                host_port: m.host_port,
                container_ip,
                container_port: m.container_port,
            })
        })
        .collect();
    steps.push(Step::Nft(NftCommand::DeleteTable {
        table: table.into(),
    }));
    steps
}

/// The IPv4 routes of the host's main table, as subnets.
pub fn host_routes() -> Result<Vec<Subnet>> {
    Ok(Netlink::open()?
        .routes()?
        .into_iter()
        .map(|r| r.destination)
        .collect())
}

/// The first subnet of Docker's default pool (without 172.17.0.0/16) that
/// overlaps no host route and none of `in_use`.
pub fn choose_default_subnet(in_use: &[Subnet]) -> Result<Subnet> {
    subnet::choose_subnet(&subnet::default_pool(), &host_routes()?, in_use)
        .ok_or(Error::NoFreeSubnet)
}

fn keep_both(first: Error, cleanup: Result<()>) -> Error {
    match cleanup {
        Ok(()) => first,
        Err(c) => Error::CleanupAfter {
            first: Box::new(first),
            cleanup: Box::new(c),
        },
    }
}

fn no_proxy(_: &ProxySpec, _: bool) -> Result<()> {
    Ok(())
}

/// A bridge network that exists in the kernel; dropped = deleted.
pub struct Network {
    spec: NetworkSpec,
    ipam: Ipam,
    armed: bool,
}

impl Network {
    /// Create the network: refuse a subnet that overlaps a host route, open
    /// its IPAM state at `ipam_path`, apply [`plan_create_network`]. On
    /// failure, whatever was made is removed again.
    pub fn create(spec: NetworkSpec, ipam_path: &Path, applier: &mut Applier) -> Result<Network> {
        subnet::check_free(spec.subnet, &host_routes()?)?;
        let ipam = Ipam::open(ipam_path, spec.subnet)?;
        let ip_forward_on = applier.sysctl(IP_FORWARD)? == "1";
        let mut net = Network {
            spec,
            ipam,
            armed: true,
        };
        let plan = plan_create_network(&net.spec, ip_forward_on);
        if let Err(e) = applier.apply(&plan) {
            net.armed = false;
            let cleanup = net.teardown(&mut Applier::with_proc_root(applier.proc_root()));
            return Err(keep_both(e, cleanup));
        }
        Ok(net)
    }

    /// What it is made of.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// Its IPAM.
    pub fn ipam(&self) -> &Ipam {
        &self.ipam
    }

    /// Plug the namespace at `netns` in: an address from IPAM for `owner`,
    /// then [`plan_connect`]. On failure the veth and the address are given back.
    pub fn connect(&self, netns: &Path, owner: &str, applier: &mut Applier) -> Result<Endpoint> {
        let ip = self.ipam.allocate(owner)?;
        let spec = EndpointSpec::new(&self.spec, &names::unique_id(), netns, ip);
        let mut ep = Endpoint {
            spec,
            ipam: self.ipam.clone(),
            armed: true,
        };
        if let Err(e) = applier.apply(&plan_connect(&self.spec, &ep.spec)) {
            ep.armed = false;
            let cleanup = ep.teardown(&mut Applier::new());
            return Err(keep_both(e, cleanup));
        }
        Ok(ep)
    }

    fn teardown(&self, applier: &mut Applier) -> Result<()> {
        applier.teardown(&plan_delete_network(&self.spec), &mut no_proxy)
    }

    /// Delete the network (its endpoints should be gone first).
    pub fn delete(mut self, applier: &mut Applier) -> Result<()> {
        self.armed = false;
        self.teardown(applier)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.teardown(&mut Applier::new());
        }
    }
}

/// A container's attachment; dropped = unplugged and its address released.
pub struct Endpoint {
    spec: EndpointSpec,
    ipam: Ipam,
    armed: bool,
}

impl Endpoint {
    /// What it is made of.
    pub fn spec(&self) -> &EndpointSpec {
        &self.spec
    }

    /// The container's address.
    pub fn ip(&self) -> Ipv4Addr {
        self.spec.ip
    }

    fn teardown(&self, applier: &mut Applier) -> Result<()> {
        let links = applier.teardown(&plan_disconnect(&self.spec), &mut no_proxy);
        let ip = match self.ipam.release(self.spec.ip) {
            Err(Error::NotAllocated { .. }) => Ok(()),
            other => other,
        };
        links.and(ip)
    }

    /// Unplug: delete the veth pair, release the address.
    pub fn disconnect(mut self, applier: &mut Applier) -> Result<()> {
        self.armed = false;
        self.teardown(applier)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.teardown(&mut Applier::new());
        }
    }
}

/// Where a [`PortMap`] runs its userland proxies.
#[derive(Debug, Clone, Default)]
pub enum ProxyRunner {
    /// In threads of this process: they end with it (the tour).
    #[default]
    Threads,
    /// A process per port ([`ProxyProcess`]), which outlives this one:
    /// `program`, with the spec's flags and then `extra`.
    Process {
        /// The proxy program (it runs [`crate::proxy::run_inherited`]).
        program: PathBuf,
        /// More flags for it (what `ps` should show: the owner).
        extra: Vec<String>,
    },
}

/// Published ports of one container; dropped = unpublished.
pub struct PortMap {
    table: String,
    container_ip: Ipv4Addr,
    mappings: Vec<PortMapping>,
    proxies: Vec<ProxyHandle>,
    armed: bool,
}

impl PortMap {
    /// Publish `mappings` of the container at `container_ip`: bind every
    /// host port first (which picks the random ones and reserves them all),
    /// then apply [`plan_publish`] in a new table `chapter05_<id>`, the
    /// proxies in threads of this process.
    pub fn publish(
        container_ip: Ipv4Addr,
        mappings: &[PortMapping],
        applier: &mut Applier,
    ) -> Result<PortMap> {
        Self::publish_with(container_ip, mappings, applier, &ProxyRunner::Threads, &[])
    }

    /// [`PortMap::publish`] with the proxies run by `runner`. `pids` (one
    /// per mapping, 0 for none) are proxy processes a previous run started
    /// for these mappings: each that is still there, for the same mapping,
    /// is adopted rather than started again (its port never closed).
    pub fn publish_with(
        container_ip: Ipv4Addr,
        mappings: &[PortMapping],
        applier: &mut Applier,
        runner: &ProxyRunner,
        pids: &[u32],
    ) -> Result<PortMap> {
        let spec_of = |m: &PortMapping| ProxySpec {
            proto: m.proto,
            host_ip: m.host_ip,
            host_port: m.host_port,
            container_ip,
            container_port: m.container_port,
        };
        let mut adopted: Vec<Option<ProxyProcess>> = mappings
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let pid = pids.get(i).copied().filter(|p| *p > 0)?;
                ProxyProcess::adopt(pid, spec_of(m), Path::new("/proc"))
            })
            .collect();
        let mut bound = Vec::new();
        for (m, a) in mappings.iter().zip(&adopted) {
            match a {
                Some(_) => bound.push(None),
                None => match Bound::bind(spec_of(m)) {
                    Ok(b) => bound.push(Some(b)),
                    Err(e) => {
                        adopted.into_iter().flatten().for_each(ProxyProcess::stop);
                        return Err(e);
                    }
                },
            }
        }
        let resolved: Vec<PortMapping> = mappings
            .iter()
            .zip(&bound)
            .map(|(m, b)| PortMapping {
                host_port: b.as_ref().map_or(m.host_port, |b| b.spec().host_port),
                ..*m
            })
            .collect();
        let mut pm = PortMap {
            table: names::table_name(&names::unique_id()),
            container_ip,
            mappings: resolved,
            proxies: Vec::new(),
            armed: true,
        };
        let plan = plan_publish(&pm.table, container_ip, &pm.mappings);
        let mut started = Vec::new();
        let result = applier.apply_with(&plan, &mut |spec, start| {
            if !start {
                return Ok(());
            }
            let old = adopted
                .iter_mut()
                .find(|p| p.as_ref().is_some_and(|p| p.spec() == *spec));
            if let Some(p) = old.and_then(Option::take) {
                started.push(ProxyHandle::from(p));
                return Ok(());
            }
            let slot = bound
                .iter_mut()
                .find(|b| b.as_ref().is_some_and(|b| b.spec() == *spec));
            if let Some(b) = slot.and_then(Option::take) {
                started.push(match runner {
                    ProxyRunner::Threads => b.spawn(),
                    ProxyRunner::Process { program, extra } => {
                        ProxyProcess::spawn(b, program, extra)?.into()
                    }
                });
            }
            Ok(())
        });
        pm.proxies = started;
        adopted.into_iter().flatten().for_each(ProxyProcess::stop);
        if let Err(e) = result {
            pm.armed = false;
            let cleanup = pm.teardown(&mut Applier::new());
            return Err(keep_both(e, cleanup));
        }
        Ok(pm)
    }

    /// The pid of each mapping's proxy process (0: none, or a thread).
    pub fn proxy_pids(&self) -> Vec<u32> {
        self.mappings
            .iter()
            .map(|m| {
                self.proxies
                    .iter()
                    .find(|p| {
                        let s = p.spec();
                        s.proto == m.proto
                            && s.host_ip == m.host_ip
                            && s.host_port == m.host_port
                            && s.container_port == m.container_port
                    })
                    .and_then(ProxyHandle::pid)
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The mappings with their real host ports.
    pub fn mappings(&self) -> &[PortMapping] {
        &self.mappings
    }

    /// The nftables table holding the DNAT rules.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn teardown(&mut self, applier: &mut Applier) -> Result<()> {
        let plan = plan_unpublish(&self.table, self.container_ip, &self.mappings);
        let proxies = &mut self.proxies;
        applier.teardown(&plan, &mut |spec, start| {
            if !start {
                if let Some(i) = proxies.iter().position(|p| p.spec() == *spec) {
                    proxies.remove(i).stop()?;
                }
            }
            Ok(())
        })
    }

    /// Unpublish: stop the proxies, delete the table.
    pub fn unpublish(mut self, applier: &mut Applier) -> Result<()> {
        self.armed = false;
        self.teardown(applier)
    }
}

impl Drop for PortMap {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.teardown(&mut Applier::new());
        }
        // Any proxy not stopped above stops when its handle drops.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::render;

    fn demo() -> (NetworkSpec, EndpointSpec) {
        let net = NetworkSpec::with_id("demo", "abc123", "10.201.3.0/24".parse().unwrap());
        let ep = EndpointSpec::new(
            &net,
            "def456",
            Path::new("/run/chapter05/netns/ch05-web-def456"),
            Ipv4Addr::new(10, 201, 3, 2),
        );
        (net, ep)
    }

    #[test]
    fn create_network_plan() {
        let (net, _) = demo();
        insta::assert_snapshot!(render(&plan_create_network(&net, false)));
        assert!(!plan_create_network(&net, true)
            .iter()
            .any(|s| matches!(s, Step::Sysctl { .. })));
    }

    #[test]
    fn delete_network_plan() {
        let (net, _) = demo();
        insta::assert_snapshot!(render(&plan_delete_network(&net)));
    }

    #[test]
    fn connect_and_disconnect_plans() {
        let (net, ep) = demo();
        insta::assert_snapshot!(
            render(&plan_connect(&net, &ep)) + "\n" + &render(&plan_disconnect(&ep))
        );
    }

    #[test]
    fn publish_and_unpublish_plans() {
        let maps: Vec<PortMapping> = [
            "8080:80",
            "5353:53/udp",
            "127.0.0.1:9090:90",
            "192.0.2.2:8443:443",
        ]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
        let ip = Ipv4Addr::new(10, 201, 3, 2);
        insta::assert_snapshot!(
            render(&plan_publish("chapter05_fed789", ip, &maps))
                + "\n"
                + &render(&plan_unpublish("chapter05_fed789", ip, &maps))
        );
    }

    #[test]
    fn parse_port_mappings() {
        let p = |s: &str| s.parse::<PortMapping>();
        assert_eq!(p("80").unwrap().to_string(), "0.0.0.0:0->80/tcp");
        assert_eq!(p("80/udp").unwrap().to_string(), "0.0.0.0:0->80/udp");
        assert_eq!(p("8080:80").unwrap().to_string(), "0.0.0.0:8080->80/tcp");
        assert_eq!(
            p("127.0.0.1:8080:80/udp").unwrap().to_string(),
            "127.0.0.1:8080->80/udp"
        );
        assert_eq!(
            p("127.0.0.1::80").unwrap().to_string(),
            "127.0.0.1:0->80/tcp"
        );
        for bad in [
            "", "x", "0", "70000", "1:2:3:4", "80/sctp", "a.b:1:2", ":80",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_is_valid_nft_json_shape() {
        let (net, _) = demo();
        let cmds: Vec<NftCommand> = plan_create_network(&net, true)
            .into_iter()
            .filter_map(|s| match s {
                Step::Nft(c) => Some(c),
                _ => None,
            })
            .collect();
        let doc = crate::nft::batch_json(&cmds);
        assert_eq!(doc["nftables"].as_array().unwrap().len(), cmds.len());
        assert_eq!(doc["nftables"][1]["add"]["chain"]["hook"], "postrouting");
    }
}
