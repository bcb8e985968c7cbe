//! The chapter 01 tour: one demo per namespace, then a shell inside all of them.
//!
//! Run `cargo run -p chapter01` (as root) for the whole tour, or
//! `cargo run -p chapter01 -- <demo>` for one. `user` works without root.

use anyhow::{bail, Context, Result};
use chapter01::demo::{self, Options};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A guided tour of Linux namespaces: each demo makes a process in a new
/// namespace and shows the host's view beside the container's. Each step is
/// printed with the shell command that does the same, so you can replay it.
#[derive(Parser)]
#[command(name = "chapter01", version)]
struct Cli {
    /// Do not print the steps, only what was seen.
    #[arg(long, short)]
    quiet: bool,
    /// Which demo to run; all but `shell` when none is given.
    #[command(subcommand)]
    demo: Option<Demo>,
}

#[derive(Subcommand, Clone, PartialEq, Eq)]
enum Demo {
    /// UTS: a hostname set inside is not the host's.
    Uts,
    /// PID: the container's first process is PID 1, sees its own tree and reaps orphans.
    Pid,
    /// IPC: a message queue made on the host is invisible inside.
    Ipc,
    /// MNT: pivot_root into a busybox rootfs; a mount inside is invisible outside.
    Mnt,
    /// NET: a new network namespace has only `lo`, and it is down.
    Net,
    /// USER: an unprivileged user is root inside (works without sudo).
    User,
    /// CGROUP: the current cgroup becomes `/` inside.
    Cgroup,
    /// An interactive shell inside all seven namespaces, in a busybox rootfs.
    Shell,
    /// Build the minimal busybox root filesystem into DIR (no root needed);
    /// later chapters, the benchmarks and your own experiments start from it.
    Rootfs {
        /// An empty or new directory.
        dir: std::path::PathBuf,
    },
}

const ALL: [Demo; 7] = [
    Demo::Uts,
    Demo::Pid,
    Demo::Ipc,
    Demo::Mnt,
    Demo::Net,
    Demo::User,
    Demo::Cgroup,
];

fn main() -> ExitCode {
    // If this process is a container's init (we re-exec ourselves), this never returns.
    chapter01::init_hook();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chapter01: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let opts = Options {
        narrate: !cli.quiet,
        init_binary: None,
    };
    if let Some(Demo::Rootfs { dir }) = &cli.demo {
        let r = chapter01::rootfs::build_busybox_rootfs(dir)?;
        println!(
            "{}: a busybox root filesystem with {} applets",
            r.path.display(),
            r.applets
        );
        return Ok(ExitCode::SUCCESS);
    }
    let demos: Vec<Demo> = match cli.demo.clone() {
        Some(d) => vec![d],
        None => ALL.to_vec(),
    };
    let needs_root: Vec<&Demo> = demos.iter().filter(|d| **d != Demo::User).collect();

    if !needs_root.is_empty() {
        if let Err(msg) = chapter01::require_root("this demo") {
            bail!("{msg}; `cargo run -p chapter01 -- user` works without root");
        }
    }
    for d in &demos {
        if *d == Demo::Shell {
            return shell(&opts);
        }
        run_demo(d.clone(), &opts)?;
    }
    if cli.demo.is_none() {
        println!("Next: `cargo run -p chapter01 -- shell` puts you in a shell inside all of them at once.");
    }
    Ok(ExitCode::SUCCESS)
}

fn heading(title: &str, intro: &str) {
    println!("\n== {title} ==");
    for line in intro.lines() {
        println!("  {line}");
    }
    println!();
}

fn run_demo(d: Demo, opts: &Options) -> Result<()> {
    match d {
        Demo::Uts => {
            heading(
                "UTS namespace: the hostname",
                "A new UTS namespace gets a copy of the hostname. Changing it inside\n\
                 changes only the copy.",
            );
            let r = demo::uts(opts, "ch01-uts").context("the UTS demo failed")?;
            println!("\n{r}");
            println!("  by hand: unshare --uts sh -c 'hostname ch01-uts; hostname'");
        }
        Demo::Pid => {
            heading(
                "PID namespace: process ids",
                "The first process in a new PID namespace is PID 1 there, and it has the\n\
                 duties of init: orphans are re-parented to it and it must reap them.\n\
                 A fresh /proc shows only the namespace's own processes.",
            );
            let r = demo::pid(opts).context("the PID demo failed")?;
            println!("\n{r}");
            println!("  by hand: unshare --pid --fork --mount-proc sh -c 'echo $$; ps'");
        }
        Demo::Ipc => {
            heading(
                "IPC namespace: System V IPC and POSIX message queues",
                "We make a message queue on the host (what `ipcmk -Q` does), then list\n\
                 the queues from inside a new IPC namespace.",
            );
            let r = demo::ipc(opts).context("the IPC demo failed")?;
            println!("\n{r}");
            println!("  by hand: ipcmk -Q; ipcs -q; unshare --ipc ipcs -q");
        }
        Demo::Mnt => {
            heading(
                "MNT namespace: the mount table, and pivot_root",
                "A new mount namespace gets a copy of the mount table. We make every\n\
                 mount private (or pivot_root fails with EINVAL, the classic trap, and\n\
                 mounts would leak to the host), pivot into a busybox rootfs, mount a\n\
                 fresh /proc, detach the old root, and mount a tmpfs. Then we look at\n\
                 the host's mount table while the container still runs.",
            );
            let r = demo::mnt(opts).context("the MNT demo failed")?;
            println!("\n{r}");
            println!("  by hand: unshare --mount sh -c 'mount --make-rprivate /; mount -t tmpfs x /mnt; ...'");
        }
        Demo::Net => {
            heading(
                "NET namespace: interfaces, addresses, routes, ports",
                "A new network namespace starts empty but for a loopback that is down.\n\
                 Chapter 05 wires it to the host with a veth pair and a bridge.",
            );
            let r = demo::net(opts).context("the NET demo failed")?;
            println!("\n{r}");
            println!("  by hand: unshare --net ip link");
        }
        Demo::User => {
            heading(
                "USER namespace: user ids and capabilities",
                "A user namespace maps ids: uid 0 inside can be an ordinary user outside.\n\
                 Root inside has every capability, but only over what the namespace owns.\n\
                 No privilege is needed: as root, the demo first becomes nobody.",
            );
            let r = demo::user(opts).context("the USER demo failed")?;
            println!("\n{r}");
            println!("  by hand (as any user): unshare --user --map-root-user sh -c 'id; cat /proc/self/uid_map'");
        }
        Demo::Cgroup => {
            heading(
                "CGROUP namespace: the cgroup root",
                "Inside a new cgroup namespace, the cgroups the process was in become\n\
                 the root (/), hiding where the container sits in the host's hierarchy.",
            );
            let r = demo::cgroup(opts).context("the CGROUP demo failed")?;
            println!("\n{r}");
            println!("  by hand: unshare --cgroup cat /proc/self/cgroup");
        }
        Demo::Shell | Demo::Rootfs { .. } => unreachable!("handled in run()"),
    }
    Ok(())
}

fn shell(opts: &Options) -> Result<ExitCode> {
    heading(
        "A shell inside all seven namespaces",
        "Your own hostname, process tree, mounts, network, IPC, cgroup root and user\n\
         ids. Try: hostname, ps, id, ip link, mount, cat /proc/self/uid_map.\n\
         Type `exit` to leave.",
    );
    let status = demo::shell(opts, "ch01-shell").context("the shell demo failed")?;
    println!("\nThe shell exited ({status}); its namespaces, mounts and rootfs are gone.");
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}
