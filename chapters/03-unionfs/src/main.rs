//! `cargo run -p chapter03`: a guided tour of union filesystems.
//!
//! Builds a two-layer image (the busybox rootfs, then a small app layer),
//! mounts a container root on it, and shows copy-up, whiteouts, opaque
//! directories and a directory rename, then the container's diff as a layer
//! tar. `-- shell` runs a shell in that root with chapter 01's isolation.

mod image;
mod shell;
mod tour;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Chapter 03: union filesystems, copy-on-write layers, whiteouts and diffs.
#[derive(Debug, Parser)]
#[command(name = "chapter03", version)]
struct Cli {
    /// Storage driver: auto (overlay if a test mount works, else copy),
    /// overlay, or copy (a full copy per layer, like Docker's vfs).
    #[arg(long, value_enum, default_value_t = DriverArg::Auto, global = true)]
    driver: DriverArg,
    /// Keep the work directory (layers, tars) to look at afterwards.
    #[arg(long, global = true)]
    keep: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DriverArg {
    Auto,
    Overlay,
    Copy,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The guided tour (the default).
    Tour,
    /// Run a shell (or the given command) in the container root, isolated
    /// with chapter 01's namespaces, then show what it changed.
    Shell {
        /// The command to run instead of an interactive `/bin/sh`.
        #[arg(last = true)]
        argv: Vec<String>,
    },
    /// Print the mount plan of the tour without running anything.
    Explain,
}

fn main() -> ExitCode {
    // If this process was re-executed as a container's init, this runs it
    // and never returns.
    chapter01::init_hook();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chapter03: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let kind = match cli.driver {
        DriverArg::Auto => chapter03::DriverKind::Auto,
        DriverArg::Overlay => chapter03::DriverKind::Overlay,
        DriverArg::Copy => chapter03::DriverKind::Copy,
    };
    match cli.command.unwrap_or(Command::Tour) {
        Command::Explain => {
            tour::explain(&PathBuf::from("/tmp/ch03-tour-XXXX"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tour => {
            need_root()?;
            tour::run(kind, cli.keep)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Shell { argv } => {
            need_root()?;
            shell::run(kind, cli.keep, argv)
        }
    }
}

fn need_root() -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!(
            "this chapter mounts filesystems and sets file owners, so it needs root: \
             run it with sudo (`cargo run -p chapter03 -- explain` shows the plan without root)"
        );
    }
    Ok(())
}
