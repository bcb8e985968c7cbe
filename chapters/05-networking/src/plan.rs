//! Plan, then apply.
//!
//! Every mechanism of this chapter first computes its steps as data
//! ([`Step`]); each step prints as the shell command that does the same
//! (`ip ...`, `nft ...`, `sysctl ...`) and says why it is there. The tour and
//! `--explain` print them, unit tests snapshot them, and [`Applier`] carries
//! them out: links, addresses and routes through netlink, nftables commands
//! as one `nft -j -f -` transaction per run of consecutive nft steps.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::netlink::Netlink;
use crate::nft::{self, NftCommand};
use crate::proxy::ProxySpec;

/// A link, address or route operation (what `ip` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOp {
    /// `ip link add name NAME type bridge`
    AddBridge(String),
    /// `ip link add NAME type veth peer name PEER [netns PATH]`
    AddVeth {
        /// This end.
        name: String,
        /// The other end.
        peer: String,
        /// Where the other end is born (None: beside this end).
        netns: Option<PathBuf>,
    },
    /// `ip link set LINK master BRIDGE`
    SetMaster {
        /// The port.
        link: String,
        /// The bridge.
        master: String,
    },
    /// `ip link set LINK type bridge_slave hairpin on`
    Hairpin(String),
    /// `ip link set LINK netns PATH`
    SetNetns {
        /// The link to move.
        link: String,
        /// The namespace file.
        netns: PathBuf,
    },
    /// `ip link set LINK name NEW`
    Rename {
        /// Old name.
        link: String,
        /// New name.
        to: String,
    },
    /// `ip addr add IP/PREFIX dev LINK`
    AddAddress {
        /// The link.
        link: String,
        /// The address.
        ip: Ipv4Addr,
        /// Its prefix length.
        prefix: u8,
    },
    /// `ip link set LINK up`
    Up(String),
    /// `ip route add default via GATEWAY`
    AddDefaultRoute(Ipv4Addr),
    /// `ip link del NAME`
    DeleteLink(String),
}

impl fmt::Display for LinkOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkOp::AddBridge(n) => write!(f, "ip link add name {n} type bridge"),
            LinkOp::AddVeth { name, peer, netns } => {
                write!(f, "ip link add {name} type veth peer name {peer}")?;
                match netns {
                    Some(p) => write!(f, " netns {}", p.display()),
                    None => Ok(()),
                }
            }
            LinkOp::SetMaster { link, master } => write!(f, "ip link set {link} master {master}"),
            LinkOp::Hairpin(n) => write!(f, "ip link set {n} type bridge_slave hairpin on"),
            LinkOp::SetNetns { link, netns } => {
                write!(f, "ip link set {link} netns {}", netns.display())
            }
            LinkOp::Rename { link, to } => write!(f, "ip link set {link} name {to}"),
            LinkOp::AddAddress { link, ip, prefix } => {
                write!(f, "ip addr add {ip}/{prefix} dev {link}")
            }
            LinkOp::Up(n) => write!(f, "ip link set {n} up"),
            LinkOp::AddDefaultRoute(gw) => write!(f, "ip route add default via {gw}"),
            LinkOp::DeleteLink(n) => write!(f, "ip link del {n}"),
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write a sysctl, e.g. `net/ipv4/ip_forward` = 1.
    Sysctl {
        /// The key as a path under /proc/sys (`net/ipv4/ip_forward`).
        key: String,
        /// The value.
        value: String,
    },
    /// Create a network namespace bind-mounted on a file.
    CreateNetns(PathBuf),
    /// Unmount and remove a namespace file.
    DeleteNetns(PathBuf),
    /// A netlink operation, in the host (`netns: None`) or inside a namespace.
    Link {
        /// Where (None = the host).
        netns: Option<PathBuf>,
        /// What.
        op: LinkOp,
    },
    /// An nftables command.
    Nft(NftCommand),
    /// Start a userland proxy (see [`crate::proxy`]).
    StartProxy(ProxySpec),
    /// Stop a userland proxy.
    StopProxy(ProxySpec),
}

impl Step {
    /// A host link operation.
    pub fn host(op: LinkOp) -> Step {
        Step::Link { netns: None, op }
    }

    /// A link operation inside the namespace at `netns`.
    pub fn inside(netns: &Path, op: LinkOp) -> Step {
        Step::Link {
            netns: Some(netns.to_path_buf()),
            op,
        }
    }

    /// Why this step is there, in a few words (printed as a comment).
    pub fn why(&self) -> String {
        use crate::nft::{Expr, Hook};
        match self {
            Step::Sysctl { key, .. } if key.ends_with("ip_forward") => {
                "let the host route packets between interfaces (needed for hairpin and for leaving the bridge)".into()
            }
            Step::Sysctl { .. } => "kernel setting".into(),
            Step::CreateNetns(_) => "an empty network namespace that outlives this command".into(),
            Step::DeleteNetns(_) => "drop the last reference: the kernel frees the namespace and its links".into(),
            Step::Link { op, .. } => match op {
                LinkOp::AddBridge(_) => "a virtual switch for the containers of this network".into(),
                LinkOp::AddVeth { netns: None, .. } => {
                    "a virtual cable: two ends, what enters one leaves the other".into()
                }
                LinkOp::AddVeth { .. } => {
                    "a virtual cable whose other end is born in the container's namespace (moving it there later costs an RCU grace period)".into()
                }
                LinkOp::SetMaster { .. } => "plug the host end of the cable into the bridge".into(),
                LinkOp::Hairpin(_) => {
                    "the bridge may send a frame back out of this port: hairpin NAT to the same container".into()
                }
                LinkOp::SetNetns { .. } => "move the other end into the container's namespace".into(),
                LinkOp::Rename { to, .. } => format!("the container sees its end as {to}"),
                LinkOp::AddAddress { link, .. } if link.starts_with(crate::names::BRIDGE_PREFIX) => {
                    "the bridge's address is the containers' gateway (and adds the subnet's route on the host)".into()
                }
                LinkOp::AddAddress { .. } => "the container's address, from IPAM".into(),
                LinkOp::Up(n) if n == "lo" => "loopback, so 127.0.0.1 works inside".into(),
                LinkOp::Up(_) => "links start down".into(),
                LinkOp::AddDefaultRoute(_) => "everything not on the bridge's subnet goes via the bridge".into(),
                LinkOp::DeleteLink(n) if n.starts_with(crate::names::BRIDGE_PREFIX) => "remove the bridge".into(),
                LinkOp::DeleteLink(_) => "deleting one end of a veth pair deletes both".into(),
            },
            Step::Nft(cmd) => match cmd {
                NftCommand::AddTable { .. } => "a table of our own: we never touch anyone else's rules".into(),
                NftCommand::AddChain { hook, .. } => match hook {
                    Hook::Postrouting => "source NAT, after routing".into(),
                    Hook::Prerouting => "destination NAT for packets arriving from outside".into(),
                    Hook::Output => "destination NAT for packets the host itself sends".into(),
                    Hook::Forward => "filter routed packets".into(),
                },
                NftCommand::AddRule { exprs, .. } => {
                    if exprs.contains(&Expr::CtStatusDnat) {
                        "hairpin: a container reaching a published port gets an answer through the host".into()
                    } else if exprs.contains(&Expr::Masquerade) {
                        "containers leaving the bridge borrow the host's address".into()
                    } else if exprs.contains(&Expr::Drop) {
                        "isolation: no traffic from this bridge to another network's bridge".into()
                    } else if exprs.iter().any(|e| matches!(e, Expr::DaddrNotIn(_))) {
                        "the host's own connections to a non-loopback local address".into()
                    } else {
                        "-p: connections to the host port go to the container".into()
                    }
                }
                NftCommand::DeleteTable { .. } => "the table, its chains and rules, all at once".into(),
            },
            Step::StartProxy(_) => {
                "userland proxy: holds the host port and serves 127.0.0.1, which DNAT cannot rewrite".into()
            }
            Step::StopProxy(_) => "stop the userland proxy; the host port is free again".into(),
        }
    }
}

impl fmt::Display for Step {
    /// The shell command that does the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Sysctl { key, value } => write!(f, "sysctl -w {}={value}", key.replace('/', ".")),
            Step::CreateNetns(p) => write!(f, "touch {0} && unshare --net={0} true", p.display()),
            Step::DeleteNetns(p) => write!(f, "umount {0} && rm {0}", p.display()),
            Step::Link { netns: None, op } => write!(f, "{op}"),
            Step::Link {
                netns: Some(ns),
                op,
            } => write!(f, "nsenter --net={} {op}", ns.display()),
            Step::Nft(cmd) => write!(f, "{cmd}"),
            Step::StartProxy(spec) => f.write_str(&spec.command()),
            Step::StopProxy(spec) => write!(
                f,
                "kill <pid of the proxy for {}:{}/{}>",
                spec.host_ip, spec.host_port, spec.proto
            ),
        }
    }
}

/// Render a plan the way the tour prints it: one `+ command  # why` per step.
pub fn render(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("+ {s}\n      # {}\n", s.why()))
        .collect()
}

/// Carries out plans.
pub struct Applier {
    proc_root: PathBuf,
    narrate: bool,
}

impl Applier {
    /// An applier working on the real `/proc`.
    pub fn new() -> Self {
        Self::with_proc_root("/proc")
    }

    /// An applier with another proc root (for sysctls and namespaces).
    pub fn with_proc_root(proc_root: impl Into<PathBuf>) -> Self {
        Applier {
            proc_root: proc_root.into(),
            narrate: false,
        }
    }

    /// Print each step (`+ command  # why`) before doing it.
    pub fn narrate(mut self, on: bool) -> Self {
        self.narrate = on;
        self
    }

    /// Whether steps are printed.
    pub fn is_narrating(&self) -> bool {
        self.narrate
    }

    /// The proc root.
    pub fn proc_root(&self) -> &Path {
        &self.proc_root
    }

    /// Read a sysctl (`net/ipv4/ip_forward`), trimmed.
    pub fn sysctl(&self, key: &str) -> Result<String> {
        let path = self.proc_root.join("sys").join(key);
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|source| Error::Sysctl { path, source })
    }

    /// Apply steps in order, stopping at the first failure. Proxy steps are
    /// refused: use [`Applier::apply_with`].
    pub fn apply(&mut self, steps: &[Step]) -> Result<()> {
        self.apply_with(steps, &mut |spec, _| {
            Err(Error::Proxy {
                addr: (spec.host_ip, spec.host_port).into(),
                proto: spec.proto.as_str(),
                source: std::io::Error::other("proxy steps need Applier::apply_with"),
            })
        })
    }

    /// Apply steps in order; `proxy(spec, start)` carries out proxy steps.
    pub fn apply_with(
        &mut self,
        steps: &[Step],
        proxy: &mut dyn FnMut(&ProxySpec, bool) -> Result<()>,
    ) -> Result<()> {
        // Netlink sockets inside namespaces, only for this call: an open
        // socket keeps its namespace alive, so none may outlive the plan.
        let mut sockets: HashMap<Option<PathBuf>, Netlink> = HashMap::new();
        let mut batch: Vec<NftCommand> = Vec::new();
        for step in steps {
            if self.narrate {
                println!("+ {step}\n      # {}", step.why());
            }
            if let Step::Nft(cmd) = step {
                batch.push(cmd.clone());
                continue;
            }
            nft::apply(&std::mem::take(&mut batch))?;
            match step {
                Step::Sysctl { key, value } => {
                    let path = self.proc_root.join("sys").join(key);
                    std::fs::write(&path, value)
                        .map_err(|source| Error::Sysctl { path, source })?;
                }
                Step::CreateNetns(p) => crate::netns::create(p, &self.proc_root)?,
                Step::DeleteNetns(p) => {
                    crate::netns::delete(p)?;
                }
                Step::Link { netns, op } => {
                    let nl = match sockets.entry(netns.clone()) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => e.insert(match netns {
                            None => Netlink::open()?,
                            Some(p) => Netlink::open_in(p)?,
                        }),
                    };
                    apply_link(nl, op)?;
                }
                Step::StartProxy(spec) => proxy(spec, true)?,
                Step::StopProxy(spec) => proxy(spec, false)?,
                Step::Nft(_) => unreachable!("batched above"),
            }
        }
        nft::apply(&batch)
    }

    /// Run teardown steps: every step is tried even if an earlier one
    /// failed (deleting what is already gone is not a failure); the first
    /// error is returned.
    pub fn teardown(
        &mut self,
        steps: &[Step],
        proxy: &mut dyn FnMut(&ProxySpec, bool) -> Result<()>,
    ) -> Result<()> {
        let mut first = None;
        let narrate = std::mem::replace(&mut self.narrate, false);
        for step in steps {
            if narrate {
                println!("+ {step}\n      # {}", step.why());
            }
            let r = match step {
                Step::Nft(NftCommand::DeleteTable { table }) => {
                    nft::delete_table(table).map(|_| ())
                }
                other => self.apply_with(std::slice::from_ref(other), proxy),
            };
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        self.narrate = narrate;
        first.map_or(Ok(()), Err)
    }
}

impl Default for Applier {
    fn default() -> Self {
        Self::new()
    }
}

fn apply_link(nl: &mut Netlink, op: &LinkOp) -> Result<()> {
    match op {
        LinkOp::AddBridge(n) => nl.add_bridge(n),
        LinkOp::AddVeth {
            name,
            peer,
            netns: None,
        } => nl.add_veth(name, peer),
        LinkOp::AddVeth {
            name,
            peer,
            netns: Some(ns),
        } => nl.add_veth_into(name, peer, ns),
        LinkOp::SetMaster { link, master } => nl.set_master(link, master),
        LinkOp::Hairpin(n) => nl.set_hairpin(n, true),
        LinkOp::SetNetns { link, netns } => nl.set_netns(link, netns),
        LinkOp::Rename { link, to } => nl.rename(link, to),
        LinkOp::AddAddress { link, ip, prefix } => nl.add_address(link, *ip, *prefix),
        LinkOp::Up(n) => nl.set_up(n),
        LinkOp::AddDefaultRoute(gw) => nl.add_default_route(*gw),
        LinkOp::DeleteLink(n) => nl.delete_link(n).map(|_| ()),
    }
}
