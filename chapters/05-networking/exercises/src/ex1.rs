//! Exercise 1: a veth into a bridge.
//!
//! A container's network namespace starts with only `lo`. To reach it, the
//! engine makes a **veth pair** (two interfaces joined like the ends of a
//! cable), plugs one end into the host's **bridge** (a virtual switch, the
//! `docker0` of this chapter) and moves the other end into the namespace:
//!
//! ```text
//! ip link add HOST_END type veth peer name NS_END
//! ip link set HOST_END master BRIDGE
//! ip link set HOST_END up
//! ip link set NS_END netns NETNS
//! ```
//!
//! Chapter 05's `network.rs` does this (`connect`), through the netlink
//! calls of `netlink.rs`, which this exercise uses too.
//!
//! Check with `scripts/check.sh 05 1`: the checker makes the bridge (with
//! an address) and the namespace, calls this function, gives `NS_END` an
//! address inside the namespace, and pings the bridge from there.

use std::path::Path;

use chapter05::netlink::Netlink;

/// Connects the namespace at `netns` to `bridge` with a veth pair named
/// `host_end` (on the host, a port of the bridge, up) and `ns_end` (moved
/// into the namespace). `nl` talks to the host's network namespace.
pub fn veth_into_bridge(
    nl: &mut Netlink,
    bridge: &str,
    host_end: &str,
    ns_end: &str,
    netns: &Path,
) -> chapter05::Result<()> {
    let _ = (nl, bridge, host_end, ns_end, netns);
    todo!("hint: nl.add_veth(host_end, ns_end)?; nl.set_master(host_end, bridge)?; nl.set_up(host_end)?; nl.set_netns(ns_end, netns)")
}
