//! `mini-docker-proxy`: one per published port, what `docker-proxy` is to
//! dockerd. The daemon binds the host port and starts this program with the
//! socket as its standard input; it proxies to the container until SIGTERM,
//! and lives on when the daemon dies, so a published port keeps serving
//! across a daemon restart (the next daemon adopts it by its pid). The
//! mechanism is chapter 05's `network::proxy` (`ProxyProcess`,
//! `run_inherited`).

use clap::Parser;
use network::proxy::{run_inherited, ProxyArgs};
use std::path::PathBuf;
use std::process::ExitCode;

/// Proxy a published port (started by mini-dockerd, with the bound socket as stdin).
#[derive(Parser)]
#[command(name = "mini-docker-proxy", version)]
struct Args {
    #[command(flatten)]
    proxy: ProxyArgs,
    /// The container this port belongs to (shown by `ps`).
    #[arg(long)]
    container: Option<String>,
    /// The data root of the daemon that started it (shown by `ps`).
    #[arg(long)]
    data_root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    match run_inherited(a.proxy.spec()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mini-docker-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}
