//! Placeholder binary: this chapter is not written yet.
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("chapter02: this chapter is not written yet; start with `cargo run -p chapter01`");
    ExitCode::from(2)
}
