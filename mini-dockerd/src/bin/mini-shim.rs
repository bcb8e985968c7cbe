//! `mini-shim`: one per container; see `mini_dockerd::shim`.

use mini_dockerd::shim;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The container's init is a re-exec of this binary (the runtime library
    // runs it from a sealed copy): run it and never return.
    mini_runc::init::init_hook();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (args, stage2) = match shim::ShimArgs::parse(&argv) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("mini-shim: {e}");
            return ExitCode::from(2);
        }
    };
    if stage2 {
        shim::stage2(&args);
    }
    match shim::stage1(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("err start the shim: {e}");
            ExitCode::FAILURE
        }
    }
}
