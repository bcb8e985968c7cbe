//! `mini-docker-proxy`: one per published port, what `docker-proxy` is to
//! dockerd. The daemon binds the host port and starts this program with the
//! socket on fd 3; it proxies to the container until SIGTERM, and lives on
//! when the daemon dies, so a published port keeps serving across a daemon
//! restart (the next daemon adopts it by its pid). The mechanism is chapter
//! 05's `network::proxy` (`ProxyProcess`, `run_inherited`).

use clap::Parser;
use network::nft::Proto;
use network::proxy::{run_inherited, ProxySpec};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Proxy a published port (started by mini-dockerd, with the bound socket on fd 3).
#[derive(Parser)]
#[command(name = "mini-docker-proxy", version)]
struct Args {
    /// tcp or udp.
    #[arg(long, value_parser = parse_proto)]
    proto: Proto,
    /// The host address the socket on fd 3 is bound to.
    #[arg(long)]
    host_ip: Ipv4Addr,
    /// The host port the socket on fd 3 is bound to.
    #[arg(long)]
    host_port: u16,
    /// The container's address.
    #[arg(long)]
    container_ip: Ipv4Addr,
    /// The container's port.
    #[arg(long)]
    container_port: u16,
    /// The container this port belongs to (shown by `ps`).
    #[arg(long)]
    container: Option<String>,
    /// The data root of the daemon that started it (shown by `ps`).
    #[arg(long)]
    data_root: Option<PathBuf>,
}

fn parse_proto(s: &str) -> Result<Proto, String> {
    match s {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        _ => Err("tcp or udp".into()),
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    let spec = ProxySpec {
        proto: a.proto,
        host_ip: a.host_ip,
        host_port: a.host_port,
        container_ip: a.container_ip,
        container_port: a.container_port,
    };
    match run_inherited(spec) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mini-docker-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}
