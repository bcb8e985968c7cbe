//! Exercise 1: the lifecycle's state table.
//!
//! A container is in one of Docker's seven statuses (`created`, `running`,
//! `paused`, `restarting`, `removing`, `exited`, `dead`: `State.Status` in
//! `docker inspect`). Everything that happens to it is an [`Action`]: a
//! user's verb (`start`, `stop`, `kill`, `pause`, `rm`…) or a report from
//! the shim (`die`, `oom`). The daemon asks one pure function, before it
//! acts, whether the action is allowed and what the status becomes; when it
//! is not, the [`Refusal`] names dockerd's answer (`docker pause` of an
//! exited container: 409 "Container … is not running"; `docker start` of a
//! running one: 304, nothing to do).
//!
//! The rules (Docker's):
//! * `start` runs a created, exited or restarting container; a running one
//!   is [`Refusal::NotModified`]; a paused one [`Refusal::StartPaused`];
//!   one being removed (or dead) [`Refusal::MarkedForRemoval`].
//! * `kill` and `oom` need a process (running or paused) and leave the
//!   status as it is: the `die` that follows ends the run. Otherwise `kill`
//!   is [`Refusal::KillNotRunning`] and `oom` [`Refusal::Impossible`].
//! * `stop` of a running or paused container also waits for the `die`; of a
//!   restarting one it cancels the restart (`exited`); otherwise
//!   `NotModified`.
//! * `pause`: running becomes paused; paused is `AlreadyPaused`, restarting
//!   is `Restarting`, anything else `NotRunning`. `unpause`: paused becomes
//!   running, anything else `NotPaused`.
//! * `restart` (once the container runs again) needs `running`, else
//!   `NotRunning`.
//! * `die` ends a running or paused container (`exited`); `backoff` turns an
//!   exited one `restarting`; any other status: `Impossible`.
//! * `remove` of created, exited or dead begins `removing`; running is
//!   `RemoveRunning`, paused `RemovePaused`, restarting `RemoveRestarting`
//!   (`rm -f` stops it first), removing `RemovalInProgress`. `destroy`
//!   needs `removing` and stays there.
//!
//! Check with `scripts/check.sh engine 1`: the checker asks your function
//! for all 7 × 11 pairs and compares each answer with dockerd's, as the
//! engine would send it.

pub use mini_dockerd::state::{Action, Refusal, Status};

/// Whether `action` is allowed in `status`, and the status it leads to.
pub fn transition(status: Status, action: Action) -> Result<Status, Refusal> {
    let _ = (status, action);
    todo!("hint: match on (action, status): `(Action::Start, Status::Created | Status::Exited | Status::Restarting) => Ok(Status::Running)`, then one arm per rule in this file's doc")
}
