//! Name resolution inside a container: `/etc/hosts` and `/etc/resolv.conf`.
//!
//! A container has its own network namespace, so the host's resolver setup
//! is of little use as is:
//!
//! - **/etc/hosts** gets `localhost`, the container's own name and address,
//!   and the names of the other containers on the same network, so they
//!   reach each other by name (`ping web`). Docker answers those names with
//!   an embedded DNS server on 127.0.0.11; writing them into `/etc/hosts` is
//!   the older mechanism (`--link`) and needs no server: the engine rewrites
//!   the file of every container on the network when one joins or leaves
//!   ([`hosts_file`] is pure, so that is cheap).
//! - **/etc/resolv.conf** is the host's, minus nameservers on a loopback
//!   address (`127.0.0.53` of systemd-resolved): inside the container
//!   127.0.0.0/8 is the container's own loopback, where no resolver listens.
//!   If nothing is left, Docker falls back to public resolvers; this chapter
//!   uses only the `fallback` its caller gives (none by default), so a default
//!   configuration never points at an outside address.
//!
//! The engine writes both files under the container's directory and
//! bind-mounts them over the rootfs's `/etc/hosts` and `/etc/resolv.conf`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::error::{Error, Result};

/// `/etc/hosts` for a container called `hostname` with address `ip`, that
/// can reach `peers` (name, address) by name.
pub fn hosts_file(hostname: &str, ip: Ipv4Addr, peers: &[(String, Ipv4Addr)]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    s.push_str(&format!("{ip}\t{hostname}\n"));
    for (name, peer_ip) in peers.iter().filter(|(n, _)| n != hostname) {
        s.push_str(&format!("{peer_ip}\t{name}\n"));
    }
    s
}

/// `/etc/resolv.conf` for a container, from the host's text.
pub fn resolv_conf(host: &str, fallback: &[IpAddr]) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("nameserver") {
            match rest.trim().parse::<IpAddr>() {
                Ok(ip) if ip.is_loopback() => {
                    out.push_str(&format!(
                        "# {trimmed}  (a loopback resolver is unreachable from the container)\n"
                    ));
                    continue;
                }
                Ok(_) => servers += 1,
                Err(_) => continue,
            }
        }
        if !trimmed.is_empty() {
            out.push_str(trimmed);
            out.push('\n');
        }
    }
    if servers == 0 {
        if fallback.is_empty() {
            out.push_str(
                "# no usable nameserver on the host; names resolve only through /etc/hosts\n",
            );
        }
        for ip in fallback {
            out.push_str(&format!("nameserver {ip}\n"));
        }
    }
    out
}

/// Read the host's resolv.conf at `host_path` and write the container's to
/// `dest` (atomically).
pub fn write_resolv_conf(host_path: &Path, dest: &Path, fallback: &[IpAddr]) -> Result<()> {
    let host = match std::fs::read_to_string(host_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::ReadFile {
                path: host_path.into(),
                source,
            })
        }
    };
    crate::ipam::write_atomic(dest, resolv_conf(&host, fallback).as_bytes()).map_err(|source| {
        Error::WriteFile {
            path: dest.into(),
            source,
        }
    })
}

/// Write a container's hosts file to `dest` (atomically).
pub fn write_hosts(
    dest: &Path,
    hostname: &str,
    ip: Ipv4Addr,
    peers: &[(String, Ipv4Addr)],
) -> Result<()> {
    crate::ipam::write_atomic(dest, hosts_file(hostname, ip, peers).as_bytes()).map_err(|source| {
        Error::WriteFile {
            path: dest.into(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_self_and_peers() {
        let peers = vec![
            ("web".to_string(), Ipv4Addr::new(10, 201, 3, 2)),
            ("db".to_string(), Ipv4Addr::new(10, 201, 3, 3)),
        ];
        insta::assert_snapshot!(hosts_file("web", Ipv4Addr::new(10, 201, 3, 2), &peers));
    }

    #[test]
    fn resolv_drops_loopback_servers() {
        let host =
            "# managed\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.test\n";
        insta::assert_snapshot!(resolv_conf(host, &[]));
        let host = "nameserver 192.0.2.53\nnameserver ::1\n";
        let out = resolv_conf(host, &[]);
        assert!(out.contains("nameserver 192.0.2.53\n"));
        assert!(!out.contains("\nnameserver ::1"));
        assert!(resolv_conf("", &["192.0.2.99".parse().unwrap()]).contains("nameserver 192.0.2.99"));
    }
}
