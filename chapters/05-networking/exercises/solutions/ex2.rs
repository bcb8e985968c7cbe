//! Exercise 2, a reference answer.

use std::net::Ipv4Addr;

use chapter05::netlink::Netlink;

/// Brings `lo` and `ns_end` up, with `ip/prefix` and a default route.
pub fn address_and_route(
    nl: &mut Netlink,
    ns_end: &str,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> chapter05::Result<()> {
    nl.set_up("lo")?;
    nl.add_address(ns_end, ip, prefix)?;
    nl.set_up(ns_end)?;
    nl.add_default_route(gateway)
}
