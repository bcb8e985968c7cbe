//! Exercise 1, a reference answer.

use std::path::Path;

use chapter05::netlink::Netlink;

/// Connects the namespace at `netns` to `bridge` with a veth pair.
pub fn veth_into_bridge(
    nl: &mut Netlink,
    bridge: &str,
    host_end: &str,
    ns_end: &str,
    netns: &Path,
) -> chapter05::Result<()> {
    nl.add_veth(host_end, ns_end)?;
    nl.set_master(host_end, bridge)?;
    nl.set_up(host_end)?;
    nl.set_netns(ns_end, netns)
}
