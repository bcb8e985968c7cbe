//! # What a daemon killed mid-operation leaves, finished at the next start
//!
//! A container started just before the crash: the runtime released its
//! process, but the record was not yet rewritten as "running". Its
//! process runs; the record is corrected from the runtime's state
//! (`state.json`, checked against the kernel) so `restore` adopts it. The
//! correction is the state machine's `start` ([`super::state::transition`],
//! created → running), as every other path asks it, and it emits the
//! `start` event the crash kept the daemon from sending: dockerd's restore
//! likewise records a container's start with its event.
//!
//! A build runs its RUN steps in real containers and its COPY steps in
//! writable layers mounted under a scratch directory. When the daemon is
//! killed (SIGKILL, a crash) in the middle, all of it outlives it: the
//! step's container keeps running under its shim, its record says
//! "running", and the mounts stay in the host's mount namespace. None of
//! it belongs to anyone any more (Docker's legacy builder leaves them for
//! the user to find with `docker ps -a`; we clean them up):
//!
//! ```text
//! containers/<id>/build-step      a RUN step's container  ->  rm -f <id>   (kill, unmount, delete)
//! builds/<hex>/                   a build's scratch       ->  umount -l builds/<hex>/*; rm -rf
//! layers/md-build-<hex>/          a COPY step's layer     ->  the driver removes it
//! ```
//!
//! The marker is written right after `create`, before `start`: a crash in
//! between leaves a created (never started) container, listed as such.

use super::state::{transition, Action, Status};
use super::{CState, Engine};
use std::path::Path;
use std::sync::Arc;

/// The file that marks a container as a build step's.
const MARKER: &str = "build-step";

/// Marks the container in `dir` as a build step's (removed at the next
/// start of the daemon if the build never got to remove it).
pub fn mark_build_step(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join(MARKER), b"")
}

/// The state of a container found running whose record says otherwise:
/// what the state machine's `start` makes of it, or `None` when the table
/// refuses (a container being removed is not revived).
fn started(state: &CState, pid: i64, now: i64) -> Option<CState> {
    if state.running {
        return None;
    }
    let status = transition(state.status, Action::Start).ok()?;
    Some(CState {
        status,
        running: true,
        pid,
        exit_code: 0,
        error: String::new(),
        started_at: now,
        finished_at: 0,
        oom_killed: state.oom_killed,
        health: state.health.clone(),
    })
}

/// Mount points strictly below `dir`, deepest first.
fn mounts_below(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut m: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(String::from)
        .collect();
    m.sort_by_key(|x| std::cmp::Reverse(x.len()));
    m
}

impl Engine {
    /// Records as running the "created" containers whose process the
    /// runtime says runs (the daemon died between `start` and the record),
    /// and emits their `start`.
    pub fn recover_started(&self) {
        use super::runtimes::{Runtime, Status as Rt};
        let created: Vec<String> = self
            .list()
            .into_iter()
            .filter(|c| !c.state.running && c.state.status == Status::Created)
            .map(|c| c.id)
            .collect();
        for id in created {
            let Ok(s) = self.runtime_of(&id).state(&id) else {
                continue;
            };
            if !matches!(s.status, Rt::Running | Rt::Paused) {
                continue;
            }
            tracing::info!(%id, pid = s.pid, "a container started before the crash runs");
            let mut recorded = false;
            let c = self.update(&id, |c| {
                if let Some(next) = started(&c.state, s.pid, super::util::now_nanos()) {
                    c.state = next;
                    recorded = true;
                }
            });
            if let (true, Some(c)) = (recorded, c) {
                self.emit(&c, "start", &[]);
            }
        }
    }

    /// Removes what builds cut short by a crash left (see the module
    /// docs). Runs at startup, after the running containers are adopted
    /// (removing one kills it through its watcher), before the API serves.
    pub fn remove_crashed_builds(self: &Arc<Self>) {
        let steps: Vec<String> = self
            .list()
            .into_iter()
            .filter(|c| self.dir(&c.id).join(MARKER).exists())
            .map(|c| c.id)
            .collect();
        for id in steps {
            tracing::info!(%id, "removing the container of a build cut short");
            if let Err(e) = self.remove(&id, true) {
                tracing::warn!(%id, "could not remove a build step's container: {}", e.message);
            }
        }
        let builds = self.opts.root.join("builds");
        for e in std::fs::read_dir(&builds).into_iter().flatten().flatten() {
            let scratch = e.path();
            for m in mounts_below(&scratch) {
                super::unmount(Path::new(&m));
            }
            match std::fs::remove_dir_all(&scratch) {
                Ok(()) => tracing::info!("removed {} (a build cut short)", scratch.display()),
                Err(err) => tracing::warn!("could not remove {}: {err}", scratch.display()),
            }
        }
        let driver = self.images.driver();
        for e in std::fs::read_dir(self.opts.root.join("layers"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            if id.starts_with("md-build-") {
                match driver.remove(&id) {
                    Ok(()) => tracing::info!("removed layer {id} (a build cut short)"),
                    Err(err) => tracing::warn!("could not remove layer {id}: {err}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovered_start_goes_through_the_table() {
        let created = CState::default();
        let s = started(&created, 42, 7).unwrap();
        assert_eq!(
            (s.status, s.running, s.pid, s.started_at),
            (Status::Running, true, 42, 7)
        );
        // The table refuses: nothing is recorded.
        for status in [Status::Removing, Status::Dead, Status::Paused] {
            let st = CState {
                status,
                ..Default::default()
            };
            assert!(started(&st, 42, 7).is_none(), "{status:?}");
        }
        let running = CState {
            status: Status::Running,
            running: true,
            ..Default::default()
        };
        assert!(started(&running, 42, 7).is_none());
    }
}
