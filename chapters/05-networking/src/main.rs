//! `chapter05`: the guided tour of container networking.
//!
//! - `sudo chapter05` (or `sudo cargo run -p chapter05`): two containers on a
//!   bridge, a ping, a published web server fetched through 127.0.0.1, the
//!   nftables rules, and a teardown that leaves nothing behind.
//! - `chapter05 --explain`: print every step of the tour as shell commands,
//!   without doing anything (no root needed).
//! - `chapter05 proxy ...`: the userland proxy as its own process, the way
//!   dockerd runs `docker-proxy`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Container networking, step by step: bridge, veth, IPAM, routes, NAT and
/// port mapping, the way Docker's bridge driver does it.
#[derive(Parser)]
#[command(name = "chapter05", version)]
struct Cli {
    /// Print the steps the tour would take, as `ip`/`nft` commands, and exit.
    #[arg(long, global = true)]
    explain: bool,
    /// Where namespace files, IPAM state and the containers' root
    /// filesystems go (removed again at the end).
    #[arg(long, default_value = "/run/chapter05", global = true)]
    data_root: PathBuf,
    /// The subnet of the tour's network (default: the first of Docker's
    /// pools, without 172.17.0.0/16, that no host route overlaps).
    #[arg(long, global = true)]
    subnet: Option<chapter05::Subnet>,
    /// Also print chapter 01's steps while building each container.
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The guided tour (the default).
    Tour,
    /// Run a userland proxy until SIGINT/SIGTERM (what docker-proxy does).
    Proxy(chapter05::proxy::ProxyArgs),
}

fn main() -> ExitCode {
    // If this process is a re-exec'd container init, this runs it and never returns.
    chapter01::init_hook();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chapter05: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Tour) {
        Command::Proxy(args) => cmd::proxy::run(args),
        Command::Tour if cli.explain => cmd::explain::run(cli.subnet),
        Command::Tour => cmd::tour::run(&cmd::tour::Options {
            data_root: cli.data_root,
            subnet: cli.subnet,
            verbose: cli.verbose,
        }),
    }
}
