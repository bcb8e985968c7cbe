//! Links the binaries that are exec'd on every container start as
//! position-dependent executables (`-no-pie`).
//!
//! A PIE binary is relocated by the dynamic loader at each `execve`: for
//! mini-runc that is about 15,000 relocations and 300 KB of `.data.rel.ro`
//! made private, page by page, before `main` runs: 0.5 ms of a 1.5 ms start
//! of the process (`perf stat mini-runc --version`), paid twice per
//! container (the runtime, then its init). (mini-shim, exec'd on every
//! container start too, is its own crate with its own build.rs.) A non-PIE executable has its
//! addresses fixed at link time and maps those pages as they are.
//!
//! The trade: the executable's own code and data are not at random addresses
//! (its libraries, heap and stacks still are). runc and Docker, written in
//! Go, have shipped non-PIE binaries for years. The daemon, which runs for
//! long and serves a socket, stays PIE.
fn main() {
    for bin in ["mini-docker"] {
        println!("cargo:rustc-link-arg-bin={bin}=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
