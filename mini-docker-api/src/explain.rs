//! `GET /containers/{id}/explain` (ours, not Docker's): the plan of a
//! container's next start, phase by phase, each step a command a person
//! could type instead, and how the client prints it.

use serde::{Deserialize, Serialize};

/// One step: the command, and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The equivalent shell command (or `# a note`).
    pub command: String,
    /// Why (may be empty).
    #[serde(default)]
    pub why: String,
}

/// A group of consecutive steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// `engine` or `runtime`.
    pub actor: String,
    /// What the steps do.
    pub name: String,
    /// In order.
    pub steps: Vec<Step>,
}

/// The plan as a person reads it: actors, phases, `$ command` and `# why`.
pub fn render(phases: &[Phase]) -> String {
    let mut out = String::new();
    let mut actor = "";
    let mut n = 0;
    for p in phases {
        if p.actor != actor {
            actor = &p.actor;
            out.push_str(match actor {
                "engine" => "== engine (mini-dockerd) ==\n",
                _ => "== runtime (mini-runc, in the shim; then the container's init) ==\n",
            });
        }
        out.push_str(&format!("-- {} --\n", p.name));
        for s in &p.steps {
            n += 1;
            out.push_str(&format!("{n:>3}. {}\n", s.command));
            if !s.why.is_empty() {
                out.push_str(&format!("       # {}\n", s.why));
            }
        }
    }
    out
}
