//! Exercise 3: a DNAT rule (`docker run -p`).
//!
//! Publishing a port means: a connection to `HOST_PORT` on any address of
//! the host is sent to `CONTAINER_IP:CONTAINER_PORT` instead. The kernel
//! does it in the `nat` hook `prerouting` (packets arriving from outside or
//! from other containers), by rewriting the destination: **DNAT**. conntrack
//! remembers the rewrite and undoes it on the replies. In nftables:
//!
//! ```text
//! table ip NAME {
//!     chain prerouting {
//!         type nat hook prerouting priority dstnat; policy accept;
//!         fib daddr type local tcp dport HOST_PORT dnat to CONTAINER_IP:CONTAINER_PORT
//!     }
//! }
//! ```
//!
//! (`fib daddr type local`: only packets for one of the host's own
//! addresses.) Chapter 05's `network.rs` (`PortMap::publish`) and `nft.rs`
//! write the same rules, plus `output` for connections the host itself
//! opens, and a userland proxy for 127.0.0.1.
//!
//! Check with `scripts/check.sh 05 3`: the checker makes a network with two
//! containers' namespaces (chapter 05's `Network`), runs a TCP server on
//! port 80 in one, loads your rules with `nft -f -`, and connects from the
//! other to the bridge's address and `HOST_PORT`.

use std::net::Ipv4Addr;

/// The nftables script (input of `nft -f -`) that creates table `ip NAME`
/// and sends TCP connections to any local address's `host_port` to
/// `container_ip:container_port`.
pub fn publish_rules(
    table: &str,
    host_port: u16,
    container_ip: Ipv4Addr,
    container_port: u16,
) -> String {
    let _ = (table, host_port, container_ip, container_port);
    todo!("hint: format!(\"table ip {{table}} {{{{ chain prerouting {{{{ type nat hook prerouting priority dstnat; policy accept; fib daddr type local tcp dport {{host_port}} dnat to {{container_ip}}:{{container_port}} }}}} }}}}\\n\")")
}
