//! Exercise 1, the reference answer: `process_config` in
//! `mini-runc/src/config.rs` (which also refuses empty args and a relative
//! cwd, and reads the capabilities and rlimits).

use mini_runc::config::ProcessConfig;
use oci_spec::runtime::Spec;

/// The process a spec asks for.
pub fn process_to_exec(spec: &Spec) -> Result<ProcessConfig, String> {
    let p = spec
        .process()
        .as_ref()
        .ok_or("config.json has no process: nothing to run")?;
    mini_runc::config::process_config(p).map_err(|e| e.to_string())
}
