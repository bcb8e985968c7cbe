//! Links `mini-shim` as a position-dependent executable (`-no-pie`), as
//! mini-docker/build.rs does for the runtime: a shim is exec'd on every
//! container start, and a non-PIE binary maps its own code and data as
//! they are, with no relocations to apply (and no private copies of the
//! pages they would touch) before `main` runs.
fn main() {
    println!("cargo:rustc-link-arg-bin=mini-shim=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
