//! Exercise 1: a UTS namespace of one's own.
//!
//! The UTS namespace holds the hostname (and the NIS domain name). A process
//! that unshares it gets a copy; what it sets afterwards, only it (and its
//! children) can see. Chapter 01's `uts` demo does this (`cargo run -p
//! chapter01 -- uts`); its library does it in `plan.rs` (`Step::Unshare`,
//! `Step::SetHostname`).
//!
//! Check with `scripts/check.sh 01 1`: the checker runs this function in a
//! fresh process and compares that process's hostname and
//! `/proc/<pid>/ns/uts` with the host's.

/// Gives the calling process a UTS namespace of its own, then sets its
/// hostname to `name`. The host's hostname must not change.
pub fn own_hostname(name: &str) -> nix::Result<()> {
    let _ = name;
    todo!(
        "hint: nix::sched::unshare(CloneFlags::CLONE_NEWUTS), then nix::unistd::sethostname(name)"
    )
}
