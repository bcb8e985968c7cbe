//! `GET /mini/doctor` (ours): the daemon's checks of its host, one per
//! mechanism, and how the client prints them.

use serde::{Deserialize, Serialize};

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Passed?
    pub ok: bool,
    /// What was seen.
    pub detail: String,
    /// What to do (for a failed check).
    #[serde(default)]
    pub fix: String,
}

/// One line per check, `✔`/`✘`, with the fix indented under a failure.
pub fn render(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        let mark = if c.ok { '✔' } else { '✘' };
        s.push_str(&format!("{mark} {}: {}\n", c.name, c.detail));
        if !c.ok && !c.fix.is_empty() {
            s.push_str(&format!("    fix: {}\n", c.fix));
        }
    }
    s
}
