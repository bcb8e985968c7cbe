//! Exercise 2: an address and a default route inside the namespace.
//!
//! After exercise 1 the container's end of the veth is in its namespace,
//! but down and without an address: nothing can be sent. The engine then
//! configures it from inside the namespace (`ip netns exec NETNS …`):
//!
//! ```text
//! ip link set lo up
//! ip addr add 10.254.7.2/24 dev NS_END      # from the network's IPAM
//! ip link set NS_END up
//! ip route add default via 10.254.7.1       # the bridge's address
//! ```
//!
//! The address alone reaches the bridge's subnet (the kernel adds the
//! `10.254.7.0/24 dev NS_END` route with it). Anything else, the host's
//! other addresses, other networks, the internet through NAT, needs the
//! **default route** through the bridge: the container's gateway.
//! Chapter 05's `network.rs` (`connect`) does the same through `netlink.rs`.
//!
//! Check with `scripts/check.sh 05 2`: the checker makes a bridge
//! (`10.254.N.1/24`, and a second host address `10.253.N.1` outside that
//! subnet), a namespace joined to it by exercise 1's answer, calls this
//! function with a netlink socket inside the namespace, then connects from
//! the namespace to both host addresses.

use std::net::Ipv4Addr;

use chapter05::netlink::Netlink;

/// Inside the namespace (`nl` talks to it): brings `lo` and `ns_end` up,
/// gives `ns_end` the address `ip/prefix`, and routes everything else
/// through `gateway`.
pub fn address_and_route(
    nl: &mut Netlink,
    ns_end: &str,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> chapter05::Result<()> {
    let _ = (nl, ns_end, ip, prefix, gateway);
    todo!("hint: nl.set_up(\"lo\")?; nl.add_address(ns_end, ip, prefix)?; nl.set_up(ns_end)?; nl.add_default_route(gateway)")
}
