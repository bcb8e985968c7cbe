//! A small synchronous rtnetlink client: what `ip link`, `ip addr` and
//! `ip route` do under the hood.
//!
//! `ip` talks to the kernel over a `NETLINK_ROUTE` socket (see netlink(7) and
//! rtnetlink(7)): it sends one request message (`RTM_NEWLINK`,
//! `RTM_NEWADDR`, `RTM_NEWROUTE`, ...) with a list of attributes, and the
//! kernel answers with an acknowledgement (an `NLMSG_ERROR` whose code is 0)
//! or an errno. A dump (`RTM_GETLINK` with `NLM_F_DUMP`) is answered with many
//! messages and a final `NLMSG_DONE`. The message layouts come from the
//! `netlink-packet-route` crate; this module only does the send/receive loop.
//!
//! A netlink socket belongs to the network namespace of the thread that
//! created it, and stays there. So to configure links *inside* a container's
//! namespace, [`Netlink::open_in`] starts a short-lived thread, `setns(2)`s that
//! thread into the namespace, creates the socket there and hands it back:
//! from then on every request on that socket acts inside the namespace,
//! while the rest of the program stays in the host's.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::sched::{setns, CloneFlags};

use crate::error::{Error, Result};
use crate::subnet::Subnet;

/// A link as `ip -br link` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Index of the bridge this link is a port of.
    pub master: Option<u32>,
}

/// An IPv4 address on a link, as `ip -4 -br addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Interface index.
    pub index: u32,
    /// The address.
    pub ip: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
}

/// An IPv4 route of the main table, as `ip -4 route` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination (`0.0.0.0/0` for the default route).
    pub destination: Subnet,
    /// Next hop, if any.
    pub gateway: Option<Ipv4Addr>,
    /// Output interface index.
    pub oif: Option<u32>,
}

/// A `NETLINK_ROUTE` socket in one network namespace.
pub struct Netlink {
    socket: Socket,
    seq: u32,
    netns: Option<PathBuf>,
}

impl Netlink {
    /// A socket in the caller's network namespace (the host's, for the engine).
    pub fn open() -> Result<Self> {
        Self::new_socket()
            .map(|socket| Netlink {
                socket,
                seq: 0,
                netns: None,
            })
            .map_err(|source| Error::NetlinkSocket {
                netns: None,
                source,
            })
    }

    /// A socket inside the network namespace bind-mounted at `netns`.
    pub fn open_in(netns: &Path) -> Result<Self> {
        let file = File::open(netns).map_err(|source| Error::OpenNetns {
            path: netns.into(),
            source,
        })?;
        let socket = std::thread::scope(|s| {
            s.spawn(|| {
                // Only this helper thread moves; it ends right after.
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| Error::Setns {
                    path: netns.into(),
                    source,
                })?;
                Self::new_socket().map_err(|source| Error::NetlinkSocket {
                    netns: Some(netns.into()),
                    source,
                })
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::NetlinkSocket {
                    netns: Some(netns.into()),
                    source: io::Error::other("helper thread panicked"),
                })
            })
        })?;
        Ok(Netlink {
            socket,
            seq: 0,
            netns: Some(netns.into()),
        })
    }

    fn new_socket() -> io::Result<Socket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(socket)
    }

    /// The namespace this socket acts in (None = the caller's).
    pub fn netns(&self) -> Option<&Path> {
        self.netns.as_deref()
    }

    /// Send one request and collect the answers. With `NLM_F_DUMP` that is
    /// every message up to `NLMSG_DONE`; otherwise the kernel's reply (if
    /// any) up to the acknowledgement.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        command: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        let io_err = |source| Error::Netlink {
            command: command.to_string(),
            source,
        };
        self.socket.send(&buf, 0).map_err(io_err)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut answers = Vec::new();
        let mut rx = vec![0u8; 64 * 1024];
        loop {
            let size = self.socket.recv(&mut &mut rx[..], 0).map_err(io_err)?;
            let mut offset = 0;
            while offset < size {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[offset..size])
                    .map_err(|e| Error::NetlinkDecode {
                    command: command.to_string(),
                    detail: e.to_string(),
                })?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number == self.seq {
                    match reply.payload {
                        NetlinkPayload::Done(_) => return Ok(answers),
                        NetlinkPayload::Error(e) if e.code.is_none() => return Ok(answers),
                        NetlinkPayload::Error(e) => return Err(io_err(e.to_io())),
                        NetlinkPayload::InnerMessage(m) => {
                            answers.push(m);
                            if !dump && flags & NLM_F_ACK == 0 {
                                return Ok(answers);
                            }
                        }
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    fn ip(&self, args: &str) -> String {
        match &self.netns {
            Some(p) => format!("nsenter --net={} ip {args}", p.display()),
            None => format!("ip {args}"),
        }
    }

    /// `ip link show NAME`: the kernel's description of one link, or None.
    fn get_link(&mut self, name: &str) -> Result<Option<LinkMessage>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        let command = self.ip(&format!("link show {name}"));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0, &command) {
            Ok(answers) => Ok(answers.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The index of the link called `name`, or None.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.get_link(name)?.map(|l| l.header.index))
    }

    /// The hardware (MAC) address of the link called `name`, as
    /// `ip link show` prints it (`02:42:…`), or None when there is no such link.
    pub fn mac_address(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self.get_link(name)?.and_then(|l| {
            l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::Address(b) => Some(
                    b.iter()
                        .map(|x| format!("{x:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                ),
                _ => None,
            })
        }))
    }

    fn require_index(&mut self, name: &str) -> Result<u32> {
        self.link_index(name)?.ok_or_else(|| Error::NoSuchLink {
            name: name.into(),
            netns: self.netns.clone(),
        })
    }

    /// `ip link add name NAME type bridge`
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        let command = self.ip(&format!("link add name {name} type bridge"));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &command,
        )?;
        Ok(())
    }

    /// `ip link add NAME type veth peer name PEER`: two linked interfaces;
    /// what goes in one comes out of the other.
    pub fn add_veth(&mut self, name: &str, peer: &str) -> Result<()> {
        self.new_veth(name, peer, None)
    }

    /// `ip link add NAME type veth peer name PEER netns NETNS`: the pair is
    /// born with its far end already inside the namespace (the kernel
    /// registers it there: `IFLA_NET_NS_FD` in the peer's attributes). Names
    /// are per namespace, so PEER can be the container's final `eth0`.
    /// Creating it there is much cheaper than [`Netlink::set_netns`] after
    /// the fact: moving a registered link between namespaces unregisters it
    /// first, and that waits for an RCU grace period (tens of ms on a busy
    /// host, as `bench/where-time-goes.md` measured).
    pub fn add_veth_into(&mut self, name: &str, peer: &str, netns: &Path) -> Result<()> {
        self.new_veth(name, peer, Some(netns))
    }

    fn new_veth(&mut self, name: &str, peer: &str, netns: Option<&Path>) -> Result<()> {
        // Held open until the kernel has answered: its fd names the namespace.
        let file = netns
            .map(|p| {
                File::open(p).map_err(|source| Error::OpenNetns {
                    path: p.into(),
                    source,
                })
            })
            .transpose()?;
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes.push(LinkAttribute::IfName(peer.into()));
        if let Some(f) = &file {
            peer_msg
                .attributes
                .push(LinkAttribute::NetNsFd(f.as_raw_fd()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        let mut command = self.ip(&format!("link add {name} type veth peer name {peer}"));
        if let Some(p) = netns {
            command.push_str(&format!(" netns {}", p.display()));
        }
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &command,
        )?;
        Ok(())
    }

    fn set_link(
        &mut self,
        name: &str,
        command: String,
        edit: impl FnOnce(&mut LinkMessage),
    ) -> Result<()> {
        let index = self.require_index(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        edit(&mut msg);
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, &command)?;
        Ok(())
    }

    /// `ip link set LINK master BRIDGE`: plug a link into a bridge.
    pub fn set_master(&mut self, link: &str, bridge: &str) -> Result<()> {
        let master = self.require_index(bridge)?;
        let command = self.ip(&format!("link set {link} master {bridge}"));
        self.set_link(link, command, |m| {
            m.attributes.push(LinkAttribute::Controller(master))
        })
    }

    /// `ip link set LINK type bridge_slave hairpin on`: let the bridge send a
    /// frame back out of the port it came in on. Needed for hairpin NAT when
    /// `br_netfilter` is loaded: the DNATed packet is then *bridged* back to
    /// the port it came from instead of being routed.
    pub fn set_hairpin(&mut self, link: &str, on: bool) -> Result<()> {
        let index = self.require_index(link)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                on,
            )])),
        ]));
        let command = self.ip(&format!(
            "link set {link} type bridge_slave hairpin {}",
            if on { "on" } else { "off" }
        ));
        // Port options are changed through RTM_NEWLINK on an existing link
        // (RTM_SETLINK ignores IFLA_LINKINFO), as `ip link set ... type` does.
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_ACK, &command)?;
        Ok(())
    }

    /// `ip link set LINK netns PATH`: move a link into another namespace
    /// (`IFLA_NET_NS_FD`). It disappears from this one.
    pub fn set_netns(&mut self, link: &str, netns: &Path) -> Result<()> {
        let file = File::open(netns).map_err(|source| Error::OpenNetns {
            path: netns.into(),
            source,
        })?;
        let fd = file.as_raw_fd();
        let command = self.ip(&format!("link set {link} netns {}", netns.display()));
        self.set_link(link, command, |m| {
            m.attributes.push(LinkAttribute::NetNsFd(fd))
        })
    }

    /// `ip link set LINK name NEW` (the link must be down).
    pub fn rename(&mut self, link: &str, new_name: &str) -> Result<()> {
        let command = self.ip(&format!("link set {link} name {new_name}"));
        self.set_link(link, command, |m| {
            m.attributes.push(LinkAttribute::IfName(new_name.into()))
        })
    }

    /// `ip link set LINK up`
    pub fn set_up(&mut self, link: &str) -> Result<()> {
        let command = self.ip(&format!("link set {link} up"));
        self.set_link(link, command, |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// `ip addr add IP/PREFIX dev LINK`
    pub fn add_address(&mut self, link: &str, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let index = self.require_index(link)?;
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(ip.into()));
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        let command = self.ip(&format!("addr add {ip}/{prefix} dev {link}"));
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &command,
        )?;
        Ok(())
    }

    /// `ip route add default via GATEWAY`
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = 0;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        let command = self.ip(&format!("route add default via {gateway}"));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &command,
        )?;
        Ok(())
    }

    /// `ip link del NAME`. Deleting one end of a veth pair deletes both.
    /// Returns false if there was no such link (already gone is fine).
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name)? else {
            return Ok(false);
        };
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let command = self.ip(&format!("link del {name}"));
        match self.request(RouteNetlinkMessage::DelLink(msg), NLM_F_ACK, &command) {
            Ok(_) => Ok(true),
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// `ip link show`: every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let command = self.ip("link show");
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            &command,
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(Link {
                    index: l.header.index,
                    up: l.header.flags.contains(LinkFlags::Up),
                    name: l
                        .attributes
                        .iter()
                        .find_map(|a| match a {
                            LinkAttribute::IfName(n) => Some(n.clone()),
                            _ => None,
                        })
                        .unwrap_or_default(),
                    master: l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::Controller(i) => Some(*i),
                        _ => None,
                    }),
                }),
                _ => None,
            })
            .collect())
    }

    /// `ip -4 addr show`: every IPv4 address of the namespace.
    pub fn addresses(&mut self) -> Result<Vec<Address>> {
        let command = self.ip("-4 addr show");
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let answers = self.request(RouteNetlinkMessage::GetAddress(req), NLM_F_DUMP, &command)?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => {
                    let ip = a.attributes.iter().find_map(|attr| match attr {
                        AddressAttribute::Local(std::net::IpAddr::V4(ip)) => Some(*ip),
                        _ => None,
                    })?;
                    Some(Address {
                        index: a.header.index,
                        ip,
                        prefix: a.header.prefix_len,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// `ip -4 route show table main`: the IPv4 routes of the main table.
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let command = self.ip("-4 route show");
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        let answers = self.request(RouteNetlinkMessage::GetRoute(req), NLM_F_DUMP, &command)?;
        let mut routes = Vec::new();
        for m in answers {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            let table = r
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Table(t) => Some(*t),
                    _ => None,
                })
                .unwrap_or(u32::from(r.header.table));
            if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
                continue;
            }
            let dst = r
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(*ip),
                    _ => None,
                })
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            let Ok(destination) = Subnet::new(dst, r.header.destination_prefix_length) else {
                continue;
            };
            let gateway = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(RouteAddress::Inet(ip)) => Some(*ip),
                _ => None,
            });
            let oif = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Oif(i) => Some(*i),
                _ => None,
            });
            routes.push(Route {
                destination,
                gateway,
                oif,
            });
        }
        Ok(routes)
    }
}
