//! # Restart policies (`--restart`)
//!
//! When a container exits, the daemon decides whether to start it again:
//!
//! | policy | restarts when |
//! | --- | --- |
//! | `no` (default) | never |
//! | `always` | always; also when the daemon starts, even after `stop` |
//! | `unless-stopped` | always, unless the user stopped it (`stop`, `kill`) |
//! | `on-failure[:N]` | the exit code is not 0, at most N times (0: no limit) |
//!
//! A user's `stop`/`kill` disables restarting until the next `start`.
//! Between two restarts the daemon waits Docker's backoff: 100 ms,
//! doubling each time, at most 1 minute, back to 100 ms once the container
//! ran 10 s or more. The container shows `restarting` meanwhile, and
//! `RestartCount` counts the restarts since the user last started it.
//!
//! Restarts survive a daemon restart: the record is on disk, and at boot
//! the daemon starts the `always` and (unless the user stopped them)
//! `unless-stopped` containers that are not running.

use super::state::{transition, Action, Status};
use super::{ApiError, Engine, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// First delay between two restarts.
pub const BACKOFF_START_MS: u64 = 100;
/// Longest delay.
pub const BACKOFF_MAX_MS: u64 = 60_000;
/// A run this long resets the delay.
pub const RESET_AFTER_MS: i64 = 10_000;

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `no`.
    No,
    /// `always`.
    Always,
    /// `unless-stopped`.
    UnlessStopped,
    /// `on-failure:N` (0: no limit).
    OnFailure(u64),
}

impl Policy {
    /// From `{"Name": "on-failure", "MaximumRetryCount": 3}`.
    pub fn from_host_config(hc: &Value) -> Result<Policy> {
        let p = &hc["RestartPolicy"];
        Policy::of(
            &mini_docker_api::container::RestartPolicy {
                name: p["Name"].as_str().unwrap_or("").to_string(),
                maximum_retry_count: p["MaximumRetryCount"].as_i64().unwrap_or(0),
            },
            hc["AutoRemove"].as_bool().unwrap_or(false),
        )
    }

    /// The policy a container's typed `RestartPolicy` asks for (and
    /// whether it is `--rm`, which no policy but `no` goes with).
    pub fn of(p: &mini_docker_api::container::RestartPolicy, auto_remove: bool) -> Result<Policy> {
        let max = p.maximum_retry_count;
        let policy = match p.name.as_str() {
            "" | "no" => Policy::No,
            "always" => Policy::Always,
            "unless-stopped" => Policy::UnlessStopped,
            "on-failure" => {
                if max < 0 {
                    return Err(ApiError::bad(
                        "invalid restart policy: maximum retry count cannot be negative",
                    ));
                }
                Policy::OnFailure(max as u64)
            }
            other => {
                return Err(ApiError::bad(format!(
                    "invalid restart policy: {other:?} (no, always, unless-stopped, on-failure[:N])"
                )))
            }
        };
        if max != 0 && !matches!(policy, Policy::OnFailure(_)) {
            return Err(ApiError::bad(format!(
                "invalid restart policy: maximum retry count can only be used with 'on-failure' ({policy:?})"
            )));
        }
        if policy != Policy::No && auto_remove {
            return Err(ApiError::conflict(
                "Conflicting options: --restart and --rm",
            ));
        }
        Ok(policy)
    }

    /// `--restart` text to `RestartPolicy` JSON (the client's side).
    pub fn parse_flag(s: &str) -> std::result::Result<Value, String> {
        mini_docker_api::restart::parse_flag(s)
    }
}

/// Whether a container that exited with `exit_code` is started again.
pub fn should_restart(policy: Policy, exit_code: i64, count: u64, manually_stopped: bool) -> bool {
    if manually_stopped {
        return false;
    }
    match policy {
        Policy::No => false,
        Policy::Always | Policy::UnlessStopped => true,
        Policy::OnFailure(max) => exit_code != 0 && (max == 0 || count < max),
    }
}

/// The next delay, from the previous one and how long the container ran.
pub fn next_backoff(previous_ms: u64, ran_ms: i64) -> u64 {
    if previous_ms == 0 || ran_ms >= RESET_AFTER_MS {
        BACKOFF_START_MS
    } else {
        (previous_ms * 2).min(BACKOFF_MAX_MS)
    }
}

/// What the daemon remembers about restarts (in the container's record).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RestartState {
    /// Restarts since the user last started it.
    pub count: u64,
    /// The user stopped or killed it.
    pub manually_stopped: bool,
    /// The last delay.
    pub backoff_ms: u64,
}

impl Engine {
    /// `stop`/`kill` by the user: no restart until the next `start`.
    pub fn mark_manually_stopped(&self, key: &str) {
        if let Ok(c) = self.find(key) {
            self.update(&c.id, |c| c.restart.manually_stopped = true);
        }
    }

    /// `start`/`restart` by the user: restarting allowed again, count reset.
    pub fn user_started(&self, key: &str) {
        // A container never stopped nor restarted has nothing to reset:
        // its record is not written again (a `start` costs no fsync here).
        let r = self.find(key).ok().filter(|c| {
            c.restart.manually_stopped || c.restart.count != 0 || c.restart.backoff_ms != 0
        });
        if let Some(c) = r {
            self.update(&c.id, |c| {
                c.restart.manually_stopped = false;
                c.restart.count = 0;
                c.restart.backoff_ms = 0;
            });
        }
    }

    /// After an exit was recorded: start it again if its policy says so,
    /// after the backoff delay.
    pub fn after_exit(self: &Arc<Self>, id: String) {
        let Ok(c) = self.find(&id) else { return };
        if c.state.running || c.state.status == "removing" {
            return;
        }
        // A `restart` by the user owns the next start: its stop may be
        // recorded after it cleared "manually stopped", and a second start
        // from here would race its own ("already running", or a container
        // started twice).
        if self.restarting.lock().is_ok_and(|r| r.contains(&id)) {
            return;
        }
        let policy = c.restart_policy();
        if !should_restart(
            policy,
            c.state.exit_code,
            c.restart.count,
            c.restart.manually_stopped,
        ) {
            return;
        }
        let ran_ms = (c.state.finished_at - c.state.started_at) / 1_000_000;
        let delay = next_backoff(c.restart.backoff_ms, ran_ms);
        self.update(&id, |c| {
            c.restart.backoff_ms = delay;
            c.restart.count += 1;
            if let Ok(next) = transition(c.state.status, Action::Backoff) {
                c.state.status = next;
            }
        });
        tracing::info!(%id, delay_ms = delay, "restarting (policy {policy:?})");
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            me.restart_now(id).await;
        });
    }

    async fn restart_now(self: &Arc<Self>, id: String) {
        let Ok(c) = self.find(&id) else { return };
        if c.state.running || c.state.status != "restarting" {
            return;
        }
        if c.restart.manually_stopped {
            self.cancel_restart(&id);
            return;
        }
        let me = self.clone();
        let id2 = id.clone();
        let r = tokio::task::spawn_blocking(move || me.start(&id2)).await;
        if let Ok(Err(e)) = r {
            tracing::warn!(%id, "restart failed: {}", e.message);
            self.cancel_restart(&id);
        }
    }

    /// A pending restart that will not happen: `restarting` becomes
    /// `exited` (what a `stop` does to it).
    fn cancel_restart(&self, id: &str) {
        self.update(id, |c| {
            if c.state.status == Status::Restarting {
                if let Ok(next) = transition(c.state.status, Action::Stop) {
                    c.state.status = next;
                }
            }
        });
    }

    /// At daemon start (after [`Engine::restore`]): starts the `always`
    /// and `unless-stopped` containers that are not running.
    pub fn restart_on_boot(self: &Arc<Self>) {
        for c in self.list() {
            if c.state.running || c.state.status == "removing" {
                continue;
            }
            let policy = c.restart_policy();
            let go = match policy {
                Policy::Always => true,
                Policy::UnlessStopped => !c.restart.manually_stopped,
                Policy::OnFailure(_) => c.state.status == "restarting",
                Policy::No => false,
            };
            if !go || c.state.status == "created" {
                continue;
            }
            tracing::info!(id = %c.id, "starting at boot (policy {policy:?})");
            self.update(&c.id, |c| c.restart.manually_stopped = false);
            let me = self.clone();
            let id = c.id.clone();
            tokio::spawn(async move {
                let id2 = id.clone();
                let me2 = me.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || me2.start(&id2)).await {
                    tracing::warn!(%id, "start at boot failed: {}", e.message);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_as_a_table() {
        use Policy::*;
        let rows = [
            // policy, exit code, count, manually stopped, restarts
            (No, 1, 0, false, false),
            (Always, 0, 5, false, true),
            (Always, 0, 0, true, false),
            (UnlessStopped, 137, 0, false, true),
            (UnlessStopped, 0, 0, true, false),
            (OnFailure(3), 0, 0, false, false),
            (OnFailure(3), 1, 2, false, true),
            (OnFailure(3), 1, 3, false, false),
            (OnFailure(0), 1, 99, false, true),
        ];
        for (p, code, count, stopped, want) in rows {
            assert_eq!(
                should_restart(p, code, count, stopped),
                want,
                "{p:?} {code} {count} {stopped}"
            );
        }
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut d = 0;
        let mut seen = vec![];
        for _ in 0..12 {
            d = next_backoff(d, 5);
            seen.push(d);
        }
        assert_eq!(&seen[..4], &[100, 200, 400, 800]);
        assert_eq!(*seen.last().unwrap(), 60_000);
        assert_eq!(next_backoff(60_000, 10_000), 100);
    }

    #[test]
    fn policy_json_and_flag() {
        assert_eq!(
            Policy::from_host_config(
                &json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
            )
            .unwrap(),
            Policy::OnFailure(3)
        );
        assert!(Policy::from_host_config(
            &json!({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}})
        )
        .is_err());
        assert!(Policy::from_host_config(
            &json!({"RestartPolicy": {"Name": "always"}, "AutoRemove": true})
        )
        .is_err());
        assert!(
            Policy::from_host_config(&json!({"RestartPolicy": {"Name": "sometimes"}})).is_err()
        );
        assert_eq!(
            Policy::parse_flag("on-failure:3").unwrap(),
            json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        assert!(Policy::parse_flag("never").is_err());
    }
}
