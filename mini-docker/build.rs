//! Links the CLI, exec'd once per command (and by scripts in loops), as a
//! position-dependent executable (`-no-pie`): see mini-runc's build.rs for
//! the measurement and the trade.
fn main() {
    println!("cargo:rustc-link-arg-bin=mini-docker=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
