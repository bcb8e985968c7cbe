//! `chapter05 proxy`: the userland proxy as a process of its own.

use std::net::Ipv4Addr;

use anyhow::Context;
use chapter05::nft::Proto;
use chapter05::proxy::{Bound, ProxySpec, Stop};
use nix::sys::signal::{SigSet, Signal};

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
    // Block the signals before any thread exists, so that only the waiter
    // below receives them (threads inherit the mask).
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block().context("block SIGINT/SIGTERM")?;

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
    let stop = Stop::new().context("pipe for the stop signal")?;
    let waiter_stop = stop.clone();
    std::thread::spawn(move || {
        let _ = signals.wait();
        waiter_stop.fire();
    });
    bound.run(&stop)?;
    Ok(())
}
