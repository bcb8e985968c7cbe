//! `checkpoint` and `restore`: present so that containerd and Docker users
//! get words, not "unknown command". Saving a running process tree to disk
//! and recreating it is CRIU's work (runc shells out to `criu dump` and
//! `criu restore`); mini-runc does not implement it.

/// Refuses the verb, naming what is missing.
pub fn refuse(verb: &str) -> anyhow::Result<u8> {
    anyhow::bail!(
        "{verb} needs CRIU, which mini-runc does not implement: use runc for checkpoint and restore"
    )
}
