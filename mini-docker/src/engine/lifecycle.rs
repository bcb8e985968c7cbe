//! Pause and unpause: freezing a container in place.
//!
//! `docker pause C` does not signal anything. It writes `1` to the
//! container's `cgroup.freeze` (cgroup v2) or `FROZEN` to its
//! `freezer.state` (v1): the kernel stops scheduling every task of the group
//! at its next return to user space, and the processes stay frozen, with
//! their memory and files, until `docker unpause` writes `0` (`THAWED`).
//! Chapter 02 holds the mechanism (`Cgroup::freeze`, `Cgroup::thaw`); the
//! engine reaches it through the runtime (`runtime::container::pause`), the
//! same in-process path it uses for `kill`, so `mini-runc pause`/`resume`
//! and the daemon share one state machine.
//!
//! A frozen process cannot act on a signal, so a stop or kill of a paused
//! container signals it first and thaws it after (as dockerd does): the
//! pending signal is delivered as soon as the tasks run again.
//!
//! In the record, a paused container stays `Running` and its status reads
//! `paused`, as in `docker inspect` (`State.Paused`, `Status: "paused"`).

use super::api::{Eng, Q};
use super::{stat_err, ApiError, Engine, Result};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;

impl Engine {
    /// `POST /containers/{id}/pause`.
    pub fn pause(&self, key: &str) -> Result<()> {
        let c = self.find(key)?;
        if !c.state.running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if c.state.status == "paused" {
            return Err(ApiError::conflict(format!(
                "Container {} is already paused",
                c.id
            )));
        }
        crate::runtime::container::pause(&self.runtime_root(), &c.id, true)
            .map_err(|e| stat_err(format!("Cannot pause container {}: {e}", c.id)))?;
        self.update(&c.id, |c| c.state.status = "paused".into());
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub fn unpause(&self, key: &str) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status != "paused" {
            return Err(ApiError::conflict(format!(
                "Container {} is not paused",
                c.id
            )));
        }
        self.thaw(&c.id)
    }

    /// Thaws a paused container and marks it running again.
    pub(super) fn thaw(&self, id: &str) -> Result<()> {
        crate::runtime::container::pause(&self.runtime_root(), id, false)
            .map_err(|e| stat_err(format!("Cannot unpause container {id}: {e}")))?;
        self.update(id, |c| {
            if c.state.status == "paused" {
                c.state.status = "running".into();
            }
        });
        Ok(())
    }
}

pub(super) async fn pause(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
    Query(_q): Q,
) -> std::result::Result<StatusCode, ApiError> {
    super::api::blocking(move || e.pause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn unpause(
    State(e): Eng,
    UrlPath(id): UrlPath<String>,
) -> std::result::Result<StatusCode, ApiError> {
    super::api::blocking(move || e.unpause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
