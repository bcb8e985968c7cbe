//! Links the shim, exec'd on every container start, as a position-dependent
//! executable (`-no-pie`): see mini-runc's build.rs for the measurement and
//! the trade. The daemon, which runs for long and serves a socket, stays PIE.
fn main() {
    println!("cargo:rustc-link-arg-bin=mini-shim=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
