//! A container's life as a state machine, and its state on disk.
//!
//! ```text
//!            create                start               (process exits)
//!  (none) ──────────▶ Created ──────────▶ Running ───────────────────▶ Stopped
//!                        │                 │  ▲                           │
//!                        │           pause │  │ resume                    │ delete
//!                        │                 ▼  │                           ▼
//!                        │                Paused                        (gone)
//!                        └──── kill / delete --force ───────────────────▶
//! ```
//!
//! Each state whitelists the operations it allows ([`Status::allows`]); a table
//! test checks every pair. The state lives in `<root>/<id>/state.json`, written
//! atomically (temp file, fsync, rename). What is stored is refreshed against
//! the kernel before use: a container whose init died is `stopped` whatever
//! the file says, and a pid is only trusted together with its start time, so
//! a recycled pid is never mistaken for the container.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The OCI status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is running.
    Creating,
    /// Everything is ready; the user's process waits for `start`.
    Created,
    /// The user's process runs.
    Running,
    /// Frozen through the freezer cgroup.
    Paused,
    /// The process has exited.
    Stopped,
}

/// Operations on a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `start`.
    Start,
    /// `kill`.
    Kill,
    /// `delete` without `--force`.
    Delete,
    /// `delete --force`.
    ForceDelete,
    /// `pause`.
    Pause,
    /// `resume`.
    Resume,
    /// `exec`.
    Exec,
}

impl Status {
    /// Whether `op` is allowed in this state (runc's rules).
    pub fn allows(self, op: Op) -> bool {
        use Op::*;
        use Status::*;
        matches!(
            (self, op),
            (Created, Start)
                | (Created, Kill)
                | (Running, Kill)
                | (Paused, Kill)
                | (Stopped, Delete)
                | (Created, Delete)
                | (_, ForceDelete)
                | (Running, Pause)
                | (Paused, Resume)
                | (Created, Exec)
                | (Running, Exec)
        )
    }

    /// The status after `op` succeeded.
    pub fn after(self, op: Op) -> Option<Status> {
        if !self.allows(op) {
            return None;
        }
        Some(match op {
            Op::Start => Status::Running,
            Op::Pause => Status::Paused,
            Op::Resume => Status::Running,
            Op::Kill | Op::Exec => self,
            Op::Delete | Op::ForceDelete => Status::Stopped,
        })
    }

    /// The lowercase name, as `state` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What is kept about a container between invocations of the runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// OCI version of the bundle.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// The container id.
    pub id: String,
    /// Its status when last written.
    pub status: Status,
    /// The host pid of its init.
    pub pid: i32,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The spec's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The rootfs directory.
    pub rootfs: PathBuf,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The init's start time (field 22 of `/proc/<pid>/stat`), to detect pid reuse.
    pub pid_start_time: u64,
    /// The cgroup path (relative to each hierarchy's root), if one was made.
    pub cgroup_path: Option<PathBuf>,
    /// Poststart hooks, kept from the spec for `start`.
    #[serde(default)]
    pub poststart: Vec<oci_spec::runtime::Hook>,
    /// Poststop hooks, kept from the spec for `delete`.
    #[serde(default)]
    pub poststop: Vec<oci_spec::runtime::Hook>,
    /// Whether the container has its own PID namespace (kill --all differs).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// The container shares the runtime's mount namespace: its mounts under
    /// the rootfs are the host's, and `delete` unmounts them.
    #[serde(default)]
    pub host_mounts: bool,
}

/// Valid container ids: what runc accepts, so an id can never be a path.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId { id: id.to_string() })
    }
}

/// Reading or writing a container's `state.json`, step by step.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An id that could be a path, or that runc would refuse.
    #[error(
        "invalid container id {id:?}: use letters, digits and _ + - . (no slashes), like runc"
    )]
    InvalidId {
        /// As given.
        id: String,
    },
    /// No such container under the state root.
    #[error("container {id} does not exist")]
    NotFound {
        /// The id.
        id: String,
    },
    /// `state.json` cannot be read.
    #[error("read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `state.json` is not a state this runtime wrote.
    #[error("{} is not a mini-runc state", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        #[source]
        source: serde_json::Error,
    },
    /// The state cannot be turned into JSON.
    #[error("serialize the state")]
    Serialize(#[source] serde_json::Error),
    /// `state.json` cannot be written.
    #[error("write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The start time of process `pid` in clock ticks since boot (`/proc/<pid>/stat`
/// field 22), or `None` when there is no such process.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state); field 22 is index 19.
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Why the process recorded as (`pid`, `start`) is not alive any more, in
/// words, from `/proc/<pid>/stat`.
pub fn why_gone(pid: i32, start: u64) -> String {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return "no such process".into();
    };
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<&str> = after.split_whitespace().collect();
    match (fields.first(), fields.get(19)) {
        (Some(&"Z") | Some(&"X"), _) => "it exited and is not reaped yet (a zombie)".into(),
        (_, Some(now)) => format!(
            "the pid now belongs to another process (started at tick {now}; the init started at {start})"
        ),
        _ => format!("unreadable /proc/{pid}/stat"),
    }
}

impl State {
    /// The directory of container `id` under `root`.
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    /// Loads the state of `id`.
    pub fn load(root: &Path, id: &str) -> Result<State, StateError> {
        validate_id(id)?;
        let path = Self::dir(root, id).join("state.json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound { id: id.to_string() })
            }
            Err(source) => return Err(StateError::Read { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| StateError::Parse { path, source })
    }

    /// Writes the state atomically: a reader sees the old or the new file,
    /// never half (write a temp file, rename it over). There is no fsync: the
    /// state root lives in /run, which a crash empties anyway, together with
    /// the processes the state describes; syncing would cost milliseconds per
    /// container for nothing.
    pub fn save(&self, root: &Path) -> Result<(), StateError> {
        let dir = Self::dir(root, &self.id);
        let data = serde_json::to_vec_pretty(self).map_err(StateError::Serialize)?;
        let path = dir.join("state.json");
        mini_docker_api::atomic::write_atomic(
            &path,
            &data,
            mini_docker_api::atomic::Durability::Rename,
        )
        .map_err(|source| StateError::Write { path, source })
    }

    /// The exec fifo: it exists from `create` until `start` opened it.
    pub fn fifo(root: &Path, id: &str) -> PathBuf {
        Self::dir(root, id).join("exec.fifo")
    }

    /// Whether the init recorded here is still the same live process.
    pub fn alive(&self) -> bool {
        self.pid > 0 && start_time(self.pid) == Some(self.pid_start_time)
    }

    /// The status as the kernel sees it now.
    pub fn refresh(&mut self, root: &Path) -> Status {
        self.status = if !self.alive() {
            Status::Stopped
        } else if Self::fifo(root, &self.id).exists() {
            Status::Created
        } else if self.status == Status::Paused {
            Status::Paused
        } else {
            Status::Running
        };
        self.status
    }

    /// The OCI state document `state` prints (runc's shape).
    pub fn to_oci_json(&self) -> serde_json::Value {
        let pid = if self.status == Status::Stopped {
            0
        } else {
            self.pid
        };
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": pid,
            "status": self.status.name(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "annotations": self.annotations,
            "owner": "",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 5] = [
        Status::Creating,
        Status::Created,
        Status::Running,
        Status::Paused,
        Status::Stopped,
    ];
    const OPS: [Op; 7] = [
        Op::Start,
        Op::Kill,
        Op::Delete,
        Op::ForceDelete,
        Op::Pause,
        Op::Resume,
        Op::Exec,
    ];

    #[test]
    fn every_state_and_operation_pair() {
        let mut table = String::new();
        for s in ALL {
            for op in OPS {
                let next = s.after(op).map(|n| n.name()).unwrap_or("refused");
                table.push_str(&format!(
                    "{:<9} {:<12} -> {next}\n",
                    s.name(),
                    format!("{op:?}")
                ));
            }
        }
        insta::assert_snapshot!(table);
    }

    #[test]
    fn ids_cannot_be_paths() {
        for bad in ["", ".", "..", "a/b", "../x", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        for good in ["abc", "a-b_c.d+e", "0123456789abcdef"] {
            assert!(validate_id(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn start_time_of_self_and_of_nothing() {
        assert!(start_time(std::process::id() as i32).is_some());
        assert!(start_time(i32::MAX).is_none());
    }
}
