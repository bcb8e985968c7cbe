//! `chapter05 proxy`: the userland proxy as a process of its own.

use std::net::Ipv4Addr;

use chapter05::nft::Proto;
use chapter05::proxy::{run_until_terminated, Bound, ProxySpec};

/// The same flags as docker-proxy.
#[derive(clap::Args)]
pub struct ProxyArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp", value_parser = parse_proto)]
    proto: Proto,
    /// Host address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host_ip: Ipv4Addr,
    /// Host port to listen on (0: the kernel picks one and it is printed).
    #[arg(long)]
    host_port: u16,
    /// The container's address.
    #[arg(long)]
    container_ip: Ipv4Addr,
    /// The container's port.
    #[arg(long)]
    container_port: u16,
}

fn parse_proto(s: &str) -> Result<Proto, String> {
    match s {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        _ => Err("tcp or udp".into()),
    }
}

/// Bind, print the address, proxy until SIGINT or SIGTERM.
pub fn run(a: ProxyArgs) -> anyhow::Result<()> {
    let bound = Bound::bind(ProxySpec {
        proto: a.proto,
        host_ip: a.host_ip,
        host_port: a.host_port,
        container_ip: a.container_ip,
        container_port: a.container_port,
    })?;
    let spec = bound.spec();
    println!(
        "proxying {}:{}/{} -> {}:{}",
        spec.host_ip, spec.host_port, spec.proto, spec.container_ip, spec.container_port
    );
    run_until_terminated(bound)?;
    Ok(())
}
