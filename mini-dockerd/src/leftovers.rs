//! # What a daemon killed mid-operation leaves, finished at the next start
//!
//! A container started just before the crash: the runtime released its
//! process, but the record was not yet rewritten as "running". Its
//! process runs; the record is corrected from the runtime's state
//! (`state.json`, checked against the kernel) so `restore` adopts it.
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

use super::Engine;
use std::path::Path;
use std::sync::Arc;

/// The file that marks a container as a build step's.
const MARKER: &str = "build-step";

/// Marks the container in `dir` as a build step's (removed at the next
/// start of the daemon if the build never got to remove it).
pub fn mark_build_step(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join(MARKER), b"")
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
    /// runtime says runs (the daemon died between `start` and the record).
    pub fn recover_started(&self) {
        use super::runtimes::{Runtime, Status};
        let created: Vec<String> = self
            .list()
            .into_iter()
            .filter(|c| !c.state.running && c.state.status == "created")
            .map(|c| c.id)
            .collect();
        for id in created {
            let Ok(s) = self.runtime_of(&id).state(&id) else {
                continue;
            };
            if !matches!(s.status, Status::Running | Status::Paused) {
                continue;
            }
            tracing::info!(%id, pid = s.pid, "a container started before the crash runs");
            self.update(&id, |c| {
                c.state.status = super::state::Status::Running;
                c.state.running = true;
                c.state.pid = s.pid;
                c.state.exit_code = 0;
                c.state.error = String::new();
                c.state.started_at = super::util::now_nanos();
                c.state.finished_at = 0;
            });
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
