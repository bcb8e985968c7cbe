//! One error type for the whole chapter. Each variant is named after the step
//! that failed and carries the path, name or command involved, so a learner can
//! re-run that step by hand and see the same failure.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::subnet::Subnet;

/// Everything that can go wrong while wiring a container's network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening a netlink socket (in the host or inside a namespace) failed.
    #[error("open a NETLINK_ROUTE socket{}", in_netns(.netns))]
    NetlinkSocket {
        /// The namespace the socket was meant for (None = the caller's).
        netns: Option<PathBuf>,
        /// The underlying error.
        source: io::Error,
    },
    /// A netlink request was answered with an error. `command` is the `ip`
    /// command that does the same, so the failure can be reproduced by hand.
    #[error("`{command}` failed")]
    Netlink {
        /// The equivalent `ip ...` command.
        command: String,
        /// The errno the kernel answered with.
        source: io::Error,
    },
    /// The kernel's answer could not be decoded.
    #[error("`{command}`: could not decode the kernel's answer: {detail}")]
    NetlinkDecode {
        /// The equivalent `ip ...` command.
        command: String,
        /// What the decoder said.
        detail: String,
    },
    /// A link we need does not exist.
    #[error("no link named `{name}`{}", in_netns(.netns))]
    NoSuchLink {
        /// The link name.
        name: String,
        /// Where we looked.
        netns: Option<PathBuf>,
    },
    /// Creating the file a namespace is bind-mounted on failed.
    #[error("create the namespace file {path}")]
    CreateNetnsFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `unshare(CLONE_NEWNET)` failed.
    #[error("unshare(CLONE_NEWNET) for {path} (this chapter needs root: run it with sudo)")]
    UnshareNet {
        /// The namespace file being created.
        path: PathBuf,
        /// The errno.
        source: nix::Error,
    },
    /// Bind-mounting the namespace onto its file failed.
    #[error("mount --bind {from} {path}")]
    MountNetns {
        /// /proc/thread-self/ns/net
        from: PathBuf,
        /// The namespace file.
        path: PathBuf,
        /// The errno.
        source: nix::Error,
    },
    /// Opening a namespace file failed.
    #[error("open the network namespace {path}")]
    OpenNetns {
        /// The namespace file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `setns(CLONE_NEWNET)` failed.
    #[error("setns into {path}")]
    Setns {
        /// The namespace file.
        path: PathBuf,
        /// The errno.
        source: nix::Error,
    },
    /// Unmounting a namespace file failed.
    #[error("umount {path}")]
    UmountNetns {
        /// The namespace file.
        path: PathBuf,
        /// The errno.
        source: nix::Error,
    },
    /// Removing a namespace file failed.
    #[error("rm {path}")]
    RemoveNetnsFile {
        /// The namespace file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `nft` could not be started (is the nftables package installed?).
    #[error("run `nft` (install the nftables package)")]
    NftSpawn {
        /// The underlying error.
        source: io::Error,
    },
    /// `nft` refused a batch. `commands` is the batch in nft's own syntax.
    #[error("nft refused the batch:\n{commands}\nnft said: {stderr}")]
    Nft {
        /// The batch as `nft ...` lines.
        commands: String,
        /// What nft printed on stderr.
        stderr: String,
    },
    /// `nft` printed JSON we could not read.
    #[error("read the JSON printed by `nft {args}`: {detail}")]
    NftOutput {
        /// nft's arguments.
        args: String,
        /// What went wrong.
        detail: String,
    },
    /// Reading or writing a sysctl failed.
    #[error("sysctl {path}")]
    Sysctl {
        /// The file under /proc/sys.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Locking the IPAM state file failed.
    #[error("lock the IPAM state {path}")]
    IpamLock {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading the IPAM state failed.
    #[error("read the IPAM state {path}: {detail}")]
    IpamRead {
        /// The state file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Writing the IPAM state failed.
    #[error("write the IPAM state {path}")]
    IpamWrite {
        /// The state file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The IPAM state belongs to another subnet.
    #[error("the IPAM state {path} is for {found}, not {wanted}")]
    IpamSubnetMismatch {
        /// The state file.
        path: PathBuf,
        /// The subnet in the file.
        found: Subnet,
        /// The subnet asked for.
        wanted: Subnet,
    },
    /// Every address of the subnet is taken.
    #[error("no free address left in {subnet}")]
    SubnetExhausted {
        /// The full subnet.
        subnet: Subnet,
    },
    /// An address was released that was never handed out.
    #[error("{ip} is not allocated in {subnet}")]
    NotAllocated {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Subnet,
    },
    /// No subnet of the pool is free of host routes and other networks.
    #[error("every subnet of the pool overlaps a host route or another network; pass a subnet explicitly")]
    NoFreeSubnet,
    /// A subnet overlaps a route that is already on the host.
    #[error("{subnet} overlaps the host route {route}; choose another subnet")]
    SubnetOverlapsRoute {
        /// The subnet asked for.
        subnet: Subnet,
        /// The route it overlaps.
        route: Subnet,
    },
    /// A subnet or port mapping could not be parsed.
    #[error("cannot parse {what} `{input}`: {detail}")]
    Parse {
        /// What was being parsed ("subnet", "port mapping").
        what: &'static str,
        /// The input.
        input: String,
        /// Why it was refused.
        detail: String,
    },
    /// The userland proxy could not bind its host port.
    #[error("bind the userland proxy to {addr}/{proto} (is the port already used?)")]
    ProxyBind {
        /// The host address and port.
        addr: SocketAddr,
        /// tcp or udp.
        proto: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// The userland proxy failed while running.
    #[error("userland proxy on {addr}/{proto}")]
    Proxy {
        /// The host address and port.
        addr: SocketAddr,
        /// tcp or udp.
        proto: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// Writing /etc/hosts or /etc/resolv.conf failed.
    #[error("write {path}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading a file (e.g. the host's resolv.conf) failed.
    #[error("read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Cleanup failed after an earlier failure: both are kept.
    #[error("{first}; and then cleaning up failed too: {cleanup}")]
    CleanupAfter {
        /// The failure that started the cleanup.
        first: Box<Error>,
        /// The failure of the cleanup.
        cleanup: Box<Error>,
    },
}

fn in_netns(netns: &Option<PathBuf>) -> String {
    match netns {
        Some(p) => format!(" in the network namespace {}", p.display()),
        None => String::new(),
    }
}

/// The chapter's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
