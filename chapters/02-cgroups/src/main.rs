//! The guided tour of chapter 02: `cargo run -p chapter02` runs every demo,
//! `cargo run -p chapter02 -- memory` (or `cpu`, `pids`, `freeze`,
//! `namespace`) runs one, and `-- plan` prints what would be written without
//! touching anything (no root needed).
//!
//! Each demo creates a group named `chapter02-<demo>-<pid>-<n>`, prints every
//! file it writes as the `echo` that does the same, runs a busybox workload in
//! chapter 01's namespaces with its init joining the group, shows the kernel's
//! verdict from the group's own counters, and deletes the group.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;

/// Chapter 02: cgroups make memory, CPU and process limits real.
#[derive(Parser)]
#[command(name = "chapter02", version)]
struct Cli {
    #[command(subcommand)]
    demo: Option<Demo>,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Demo {
    /// Print this host's cgroup layout and the plan for a group (no root, changes nothing).
    Plan,
    /// A process allocating past a 50 MiB limit is OOM-killed; the host is untouched.
    Memory,
    /// A busy loop under `--cpus 0.5` gets about half a core.
    Cpu,
    /// A fork loop under a limit of 20 processes is refused with EAGAIN.
    Pids,
    /// A counting process stops while frozen and resumes when thawed.
    Freeze,
    /// What /proc/self/cgroup says inside, with and without a cgroup namespace.
    Namespace,
}

fn main() -> ExitCode {
    // If this process is a re-executed container init (chapter 01), this runs
    // it and never returns.
    chapter01::init_hook();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chapter02: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let demos = match cli.demo {
        Some(one) => vec![one],
        None => vec![
            Demo::Plan,
            Demo::Memory,
            Demo::Cpu,
            Demo::Pids,
            Demo::Freeze,
            Demo::Namespace,
        ],
    };
    if demos.iter().any(|d| *d != Demo::Plan) {
        chapter01::require_root("this chapter").map_err(anyhow::Error::msg)?;
    }
    let lab = demo::Lab::new()?;
    for d in demos {
        match d {
            Demo::Plan => demo::plan::run(&lab)?,
            Demo::Memory => demo::memory::run(&lab)?,
            Demo::Cpu => demo::cpu::run(&lab)?,
            Demo::Pids => demo::pids::run(&lab)?,
            Demo::Freeze => demo::freeze::run(&lab)?,
            Demo::Namespace => demo::namespace::run(&lab)?,
        }
    }
    Ok(())
}
