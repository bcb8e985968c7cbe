//! Placeholder binary: the engine is not written yet.
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "mini-docker: the engine is not written yet; the chapters come first \
         (start with `cargo run -p chapter01`)"
    );
    ExitCode::from(2)
}
