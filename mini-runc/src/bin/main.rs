//! `mini-runc`: an OCI runtime with runc's command line.
//!
//! Each verb lives in its own file under `commands/`; the work is in the
//! library (`mini_runc`).

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A container's init is a re-exec of this binary: run it and never return.
    mini_runc::init::init_hook();
    let cli = cli::Cli::parse();
    mini_runc::container::set_timing(cli.debug);
    let log = cli.log.clone();
    let json = cli.log_format.as_deref() == Some("json");
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = format!("{e:#}");
            eprintln!("mini-runc: {msg}");
            if let Some(path) = log {
                cli::log_error(&path, json, &msg);
            }
            ExitCode::FAILURE
        }
    }
}
