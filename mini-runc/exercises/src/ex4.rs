//! Exercise 4: rlimits and `no_new_privs`.
//!
//! Two settings of `process` that the runtime applies just before the
//! `execve`, and that the kernel then keeps for the process and its
//! children:
//!
//! * `rlimits`: each `{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}`
//!   is one `setrlimit(2)`. The soft limit is what applies; the process may
//!   raise it up to the hard one, and never raise the hard one.
//! * `noNewPrivileges`: `prctl(PR_SET_NO_NEW_PRIVS, 1)`. After it, no
//!   `execve` can give more privileges than the process has (a setuid
//!   binary does not change the uid, file capabilities are not granted),
//!   and it cannot be undone. `/proc/<pid>/status` shows `NoNewPrivs: 1`.
//!
//! Check with `scripts/check.sh runc 4`: the checker reads the bundle's
//! `process` with mini-runc's `config::process_config`, calls your function
//! in a fresh process, then execs `cat /proc/self/limits /proc/self/status`
//! in the bundle's root, and reads what the kernel says; the real
//! `runc run` of the same bundle must show the same.

use mini_runc::config::ProcessConfig;

/// Applies `p.rlimits` (name, soft, hard) and `p.no_new_privileges` to
/// the current process.
pub fn limits(p: &ProcessConfig) -> Result<(), String> {
    let _ = p;
    todo!("hint: for (name, soft, hard) in &p.rlimits: nix::sys::resource::setrlimit(Resource::RLIMIT_NOFILE (match on the name), *soft, *hard); then if p.no_new_privileges: nix::sys::prctl::set_no_new_privs()")
}
