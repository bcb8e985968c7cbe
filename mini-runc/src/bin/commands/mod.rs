//! One file per verb; each is a few lines around the library.

mod checkpoint;
mod create;
mod delete;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
pub mod update;

use crate::cli::{Cli, Command};

/// Runs the verb; the exit code of `run` and `exec` is the container's.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let root = cli.root.clone();
    match cli.command {
        Command::Create { opts, id } => create::run(&root, &id, &opts),
        Command::Start { id } => start::run(&root, &id),
        Command::State { id } => state::run(&root, &id),
        Command::Kill { all, id, signal } => kill::run(&root, &id, &signal, all),
        Command::Delete { force, id } => delete::run(&root, &id, force),
        Command::Run {
            opts,
            detach,
            keep,
            id,
        } => run::run(&root, &id, &opts, detach, keep),
        Command::Exec {
            process,
            tty,
            console_socket,
            cwd,
            env,
            user,
            cap,
            no_new_privs,
            detach,
            pid_file,
            preserve_fds,
            id,
            command,
        } => exec::run(
            &root,
            &id,
            exec::Opts {
                process,
                tty,
                console_socket,
                cwd,
                env,
                user,
                cap,
                no_new_privs,
                detach,
                pid_file,
                preserve_fds,
                command,
            },
        ),
        Command::Ps { format, id } => ps::run(&root, &id, &format),
        Command::Pause { id } => pause::run(&root, &id, true),
        Command::Resume { id } => pause::run(&root, &id, false),
        Command::Update(args) => update::run(&root, &args),
        Command::Checkpoint { .. } => checkpoint::refuse("checkpoint"),
        Command::Restore { .. } => checkpoint::refuse("restore"),
        Command::List { format, quiet } => list::run(&root, &format, quiet),
        Command::Spec { bundle, rootless } => spec::run(&bundle, rootless),
        Command::Features => features::run(),
    }
}

/// Turns the CLI's create options into the library's.
pub fn create_args(o: &crate::cli::CreateOpts) -> mini_runc::container::CreateArgs {
    mini_runc::container::CreateArgs {
        bundle: o.bundle.clone(),
        console_socket: o.console_socket.clone(),
        pid_file: o.pid_file.clone(),
        no_pivot: o.no_pivot,
        preserve_fds: o.preserve_fds,
    }
}
