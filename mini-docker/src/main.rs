//! `mini-docker`: the client. Docker's commands over the Engine API.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Like other command-line tools (and the docker CLI), end quietly when
    // the reader of our stdout goes away (`mini-docker ps | head -1`) rather
    // than panic on EPIPE. Sockets are unaffected: std sends with MSG_NOSIGNAL.
    let _ = namespaces::sys::set_signal_ignored(nix::sys::signal::Signal::SIGPIPE, false);
    // With no arguments at all, the docker CLI prints its usage and exits 0.
    if std::env::args_os().len() == 1 {
        let _ = <mini_docker::Cli as clap::CommandFactory>::command().print_help();
        return ExitCode::SUCCESS;
    }
    let cli = mini_docker::Cli::parse_from(mini_docker::swarm::clap_argv(std::env::args_os()));
    let is_run = matches!(
        cli.cmd,
        mini_docker::Cmd::Run(_) | mini_docker::Cmd::Create(_)
    );
    match mini_docker::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if is_run {
                eprintln!("mini-docker: {}", sentence(&f.message));
                // Docker exits 125 when the daemon, not the container, failed.
                return ExitCode::from(125);
            }
            eprintln!("{}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// `message` ending in one full stop, unless it already ends a sentence
/// (`Is the daemon running?` stays as it is: Docker's `running?.` is a typo).
fn sentence(message: &str) -> String {
    let message = message.trim_end().trim_end_matches('.');
    if message.ends_with(['?', '!']) {
        message.to_string()
    } else {
        format!("{message}.")
    }
}
