//! Exercise 1: the process to exec, read from `config.json`.
//!
//! A bundle is a directory with a root filesystem and a `config.json`
//! (the OCI runtime spec). Its `process` object says what to run, and how:
//!
//! ```json
//! "process": {
//!   "args": ["/bin/sh", "-c", "…"],
//!   "env": ["PATH=/bin:/usr/bin", "GREETING=hello"],
//!   "cwd": "/var/www",
//!   "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]}
//! }
//! ```
//!
//! The runtime's last steps are, in this order: `chroot`/`pivot_root` into
//! the root, `chdir(cwd)`, `setgroups(additionalGids)`, `setgid(gid)`,
//! `setuid(uid)` (the user last: after it, the others are not allowed), and
//! `execve(args[0], args, env)`: the environment is `env` and nothing of
//! the runtime's own.
//!
//! Check with `scripts/check.sh runc 1`: the checker reads a bundle's
//! `config.json` with `oci_spec`, gives it to your function, takes those
//! steps with what you return, and asks the process itself (`id`, `pwd`,
//! its arguments and environment); then it runs the same bundle with the
//! real `runc run`, whose process must print the same line.

use mini_runc::config::ProcessConfig;
use oci_spec::runtime::Spec;

/// The process a spec asks for: `args`, `env`, `cwd`, `uid`, `gid` and
/// `additional_gids` (leave the other fields at their default).
pub fn process_to_exec(spec: &Spec) -> Result<ProcessConfig, String> {
    let _ = spec;
    todo!("hint: let p = spec.process().as_ref().ok_or(\"no process\")?; then p.args(), p.env() (both Option<Vec<String>>), p.cwd(), p.user().uid(), .gid(), .additional_gids(); and ..ProcessConfig::default()")
}
