//! Exercise 4, the reference answer: `set_rlimit` in
//! `mini-runc/src/init.rs`, and its `NoNewPrivs` step.

use mini_runc::config::ProcessConfig;

/// Applies the rlimits and no_new_privs.
pub fn limits(p: &ProcessConfig) -> Result<(), String> {
    for (name, soft, hard) in &p.rlimits {
        mini_runc::init::set_rlimit(name, *soft, *hard).map_err(|e| format!("{e:?}"))?;
    }
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs()
            .map_err(|e| format!("prctl(PR_SET_NO_NEW_PRIVS): {e}"))?;
    }
    Ok(())
}
