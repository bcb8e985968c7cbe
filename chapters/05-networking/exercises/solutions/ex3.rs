//! Exercise 3, a reference answer.

use std::net::Ipv4Addr;

/// The nftables script that publishes `host_port` to `container_ip:container_port`.
pub fn publish_rules(
    table: &str,
    host_port: u16,
    container_ip: Ipv4Addr,
    container_port: u16,
) -> String {
    format!(
        "table ip {table} {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        fib daddr type local tcp dport {host_port} dnat to {container_ip}:{container_port}
    }}
}}
"
    )
}
