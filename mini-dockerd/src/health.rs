//! Health checks: a probe run inside the container, again and again, whose
//! exit code says whether the service in it works (`HEALTHCHECK` in a
//! Dockerfile, `--health-cmd` on `docker run`, `Config.Healthcheck` in the
//! API).
//!
//! The check is `Config.Healthcheck`: `Test` (`["CMD", prog, args…]`,
//! `["CMD-SHELL", "cmd"]` run by `/bin/sh -c`, or `["NONE"]`: no check),
//! `Interval`, `Timeout`, `StartPeriod` in nanoseconds, and `Retries`. A
//! container's own values win over its image's, field by field; a zero
//! takes Docker's default (30 s, 30 s, 0 s, 3).
//!
//! When the container starts (and when a restarted daemon adopts it), a
//! task begins for that run:
//!
//! ```text
//!   status = starting, streak = 0
//!   loop:
//!     sleep Interval                       (the run is over? stop)
//!     exec Test in the container            the same path as `docker exec`:
//!                                           exec_create, exec_start through the shim
//!     read its output until it exits,       or until Timeout: SIGKILL it, exit -1,
//!                                           "Health check exceeded timeout (…)"
//!     exit 0      -> healthy, streak = 0
//!     otherwise   -> streak += 1 (not while starting within StartPeriod);
//!                    streak >= Retries -> unhealthy
//!     keep the last 5 probes in State.Health.Log
//!     status changed -> event `health_status: <status>`
//! ```
//!
//! The probes are ordinary execs, so they also emit `exec_create`,
//! `exec_start` and `exec_die`, as dockerd's do. A paused container is not
//! probed (its frozen cgroup would freeze the probe too).

use super::{ApiError, Engine};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

/// How many probes `State.Health.Log` keeps (dockerd's `maxLogEntries`).
pub const LOG_ENTRIES: usize = 5;
/// The most output a probe keeps (dockerd's `maxOutputLen`).
pub const MAX_OUTPUT: usize = 4096;
/// Docker's defaults for a zero `Interval`, `Timeout`, `Retries`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

/// `State.Health` in inspect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Failed probes in a row.
    pub failing_streak: u32,
    /// The last [`LOG_ENTRIES`] probes, oldest first.
    pub log: Vec<Probe>,
}

/// One probe, as `State.Health.Log` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    /// RFC 3339 with nanoseconds.
    pub start: String,
    /// RFC 3339 with nanoseconds.
    pub end: String,
    /// The probe's exit code; -1 when it timed out or could not run.
    pub exit_code: i64,
    /// Its stdout and stderr, at most [`MAX_OUTPUT`] bytes.
    pub output: String,
}

/// A health check, with the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Between two probes (and before the first).
    pub interval: Duration,
    /// How long a probe may run before it is killed.
    pub timeout: Duration,
    /// After the start, failures of a `starting` container do not count.
    pub start_period: Duration,
    /// Failures in a row that make it `unhealthy`.
    pub retries: u32,
}

fn nanos(hc: &Value, k: &str) -> i64 {
    hc.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// Refuses what dockerd refuses, with its words, and a `Test` that is none
/// of its three forms.
pub fn validate(hc: &Value) -> Result<(), ApiError> {
    for k in ["Interval", "Timeout", "StartPeriod"] {
        let v = nanos(hc, k);
        if v != 0 && v < 1_000_000 {
            return Err(ApiError::bad(format!(
                "{k} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if hc.get("Retries").and_then(Value::as_i64).unwrap_or(0) < 0 {
        return Err(ApiError::bad("Retries in Healthcheck cannot be negative"));
    }
    let test = test_of(hc);
    match test.first().map(String::as_str) {
        None | Some("NONE") => Ok(()),
        Some("CMD") | Some("CMD-SHELL") if test.len() >= 2 => Ok(()),
        Some(kind @ ("CMD" | "CMD-SHELL")) => Err(ApiError::bad(format!(
            "Healthcheck.Test {kind} needs a command after it"
        ))),
        Some(other) => Err(ApiError::bad(format!(
            "unknown Healthcheck.Test type {other:?}: use [\"CMD\", …], [\"CMD-SHELL\", \"…\"] or [\"NONE\"]"
        ))),
    }
}

fn test_of(hc: &Value) -> Vec<String> {
    hc.get("Test")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The container's check over the image's, field by field, as dockerd
/// merges them: an empty `Test` or a zero duration takes the image's.
pub fn merge(container: Option<&Value>, image: Option<&Value>) -> Option<Value> {
    let Some(c) = container.filter(|v| v.is_object()) else {
        return image.filter(|v| v.is_object()).cloned();
    };
    let mut out = c.clone();
    if let Some(img) = image.filter(|v| v.is_object()) {
        if test_of(c).is_empty() {
            out["Test"] = img["Test"].clone();
        }
        for k in ["Interval", "Timeout", "StartPeriod", "Retries"] {
            if nanos(c, k) == 0 && nanos(img, k) != 0 {
                out[k] = img[k].clone();
            }
        }
    }
    Some(out)
}

impl Check {
    /// The check of a merged `Healthcheck`; none when there is none, or
    /// `Test` is `["NONE"]` (`--no-healthcheck`, `HEALTHCHECK NONE`).
    pub fn of(hc: Option<&Value>) -> Option<Check> {
        let hc = hc?;
        let test = test_of(hc);
        let argv = match test.first().map(String::as_str) {
            Some("CMD") => test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            _ => return None,
        };
        if argv.is_empty() {
            return None;
        }
        let dur = |k: &str, default: Duration| match nanos(hc, k) {
            n if n > 0 => Duration::from_nanos(n as u64),
            _ => default,
        };
        Some(Check {
            argv,
            interval: dur("Interval", DEFAULT_INTERVAL),
            timeout: dur("Timeout", DEFAULT_TIMEOUT),
            start_period: dur("StartPeriod", Duration::ZERO),
            retries: match nanos(hc, "Retries") {
                n if n > 0 => n as u32,
                _ => DEFAULT_RETRIES,
            },
        })
    }
}

/// What a probe's result does to the health: the streak, the status, the
/// log. `in_start_period`: the probe began within `StartPeriod` of the
/// start, when a failure of a `starting` container does not count.
pub fn apply(h: &mut Health, probe: Probe, retries: u32, in_start_period: bool) {
    if probe.exit_code == 0 {
        h.failing_streak = 0;
        h.status = "healthy".into();
    } else if !(h.status == "starting" && in_start_period) {
        h.failing_streak += 1;
        if h.failing_streak >= retries {
            h.status = "unhealthy".into();
        }
    }
    h.log.push(probe);
    if h.log.len() > LOG_ENTRIES {
        let extra = h.log.len() - LOG_ENTRIES;
        h.log.drain(..extra);
    }
}

/// `(healthy)`, `(unhealthy)`, `(health: starting)`: what `ps` adds to the
/// status of a running container with a check.
pub fn status_suffix(h: Option<&Health>) -> String {
    match h.map(|h| h.status.as_str()) {
        Some("starting") => " (health: starting)".into(),
        Some(s) if !s.is_empty() => format!(" ({s})"),
        _ => String::new(),
    }
}

/// The payload of the shim's exec stream: non-tty output comes in Docker's
/// frames (8-byte header, then the bytes); anything else is taken as is.
fn unframe(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while rest.len() >= 8 && rest[0] <= 2 && rest[1..4] == [0, 0, 0] {
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + size).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}

impl Engine {
    /// Starts the checks of container `id`'s current run, if it has a
    /// check: its health becomes `starting`, and a task probes it until the
    /// run ends (its exit count changes) or it is removed.
    pub fn start_health(self: &Arc<Self>, id: &str) {
        let Some(c) = self.lock().get(id).cloned() else {
            return;
        };
        let Some(check) = Check::of(c.config.healthcheck.as_ref()) else {
            return;
        };
        let run = c.exits;
        self.update(id, |c| {
            let h = c.state.health.get_or_insert_with(Health::default);
            h.status = "starting".into();
            h.failing_streak = 0;
        });
        let me = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(check.interval).await;
                let Some(c) = me.lock().get(&id).cloned() else {
                    return;
                };
                if !c.state.running || c.exits != run {
                    return;
                }
                if c.state.status == "paused" {
                    continue;
                }
                let (me2, id2, check2) = (me.clone(), id.clone(), check.clone());
                let Ok(probe) = tokio::task::spawn_blocking(move || me2.probe(&id2, &check2)).await
                else {
                    return;
                };
                me.record(&id, run, probe, &check);
            }
        });
    }

    /// Runs the check once in the container, through the exec path.
    fn probe(&self, id: &str, check: &Check) -> Probe {
        let start = super::util::now_nanos();
        let finish = |exit_code: i64, output: String| Probe {
            start: super::util::rfc3339_nanos(start),
            end: super::util::rfc3339_nanos(super::util::now_nanos()),
            exit_code,
            output,
        };
        let body = mini_docker_api::bodies::ExecCreate {
            cmd: Some(check.argv.clone()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = match self.exec_create(id, &body) {
            Ok(x) => x,
            Err(e) => return finish(-1, e.message),
        };
        let forget = |exec: &str| {
            if let Ok(mut m) = self.streams.execs.lock() {
                m.remove(exec);
            }
        };
        let mut s = match self.exec_start(&exec, Some(false)) {
            Ok(s) => s,
            Err(e) => {
                forget(&exec);
                return finish(-1, e.message);
            }
        };
        let deadline = std::time::Instant::now() + check.timeout;
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let timed_out = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
                break true;
            }
            match s.read(&mut buf) {
                Ok(0) => break false,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break std::time::Instant::now() >= deadline,
            }
        };
        if timed_out {
            // The probe hangs: kill it (its pid is the shim's exec child).
            if let Ok(x) = self.exec_get(&exec) {
                if x.pid > 0 {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(x.pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            drop(s);
            self.exec_finished(&exec, -1);
            forget(&exec);
            let limit = super::builder::go_duration(check.timeout.as_nanos() as i64);
            return finish(-1, format!("Health check exceeded timeout ({limit})"));
        }
        drop(s);
        self.exec_finished(&exec, -1);
        let code = self
            .exec_get(&exec)
            .ok()
            .and_then(|x| x.exit_code)
            .unwrap_or(-1);
        forget(&exec);
        let mut output = unframe(&raw);
        output.truncate(MAX_OUTPUT);
        finish(code, String::from_utf8_lossy(&output).into_owned())
    }

    /// Applies a probe to run `run` of the container, and says
    /// `health_status: …` when the status changed.
    fn record(&self, id: &str, run: u64, probe: Probe, check: &Check) {
        let began = super::util::parse_rfc3339(&probe.start).unwrap_or(0);
        let mut changed = None;
        self.update(id, |c| {
            if c.exits != run || !c.state.running {
                return;
            }
            let in_start = began - c.state.started_at < check.start_period.as_nanos() as i64;
            let h = c.state.health.get_or_insert_with(Health::default);
            let before = h.status.clone();
            apply(h, probe, check.retries, in_start);
            let now = h.status.clone();
            if now != before {
                changed = Some((c.clone(), now));
            }
        });
        if let Some((c, status)) = changed {
            self.emit(&c, &format!("health_status: {status}"), &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn probe(code: i64) -> Probe {
        Probe {
            exit_code: code,
            ..Default::default()
        }
    }

    #[test]
    fn probes_move_the_status_as_dockerds() {
        let mut h = Health {
            status: "starting".into(),
            ..Default::default()
        };
        apply(&mut h, probe(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
        apply(&mut h, probe(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        apply(&mut h, probe(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        apply(&mut h, probe(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 1));
        apply(&mut h, probe(-1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        for _ in 0..4 {
            apply(&mut h, probe(0), 2, false);
        }
        assert_eq!(h.log.len(), LOG_ENTRIES);
        assert_eq!(h.log[0].exit_code, -1);
    }

    #[test]
    fn checks_merge_and_default_as_dockerds() {
        let img = json!({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 5_000_000_000i64, "Retries": 5});
        let mine = json!({"Timeout": 2_000_000_000i64});
        let merged = merge(Some(&mine), Some(&img)).unwrap();
        let c = Check::of(Some(&merged)).unwrap();
        assert_eq!(c.argv, ["/bin/sh", "-c", "curl -f localhost"]);
        assert_eq!(
            (c.interval, c.timeout, c.start_period, c.retries),
            (
                Duration::from_secs(5),
                Duration::from_secs(2),
                Duration::ZERO,
                5
            )
        );
        let none = merge(Some(&json!({"Test": ["NONE"]})), Some(&img));
        assert_eq!(Check::of(none.as_ref()), None);
        let d = Check::of(Some(&json!({"Test": ["CMD", "true"]}))).unwrap();
        assert_eq!(
            (d.interval, d.timeout, d.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, 3)
        );
        assert_eq!(
            validate(&json!({"Interval": 5})).unwrap_err().message,
            "Interval in Healthcheck cannot be less than 1ms"
        );
        assert!(validate(&json!({"Test": ["PING"]})).is_err());
        assert!(validate(&json!({"Retries": -1})).is_err());
    }

    #[test]
    fn status_words_as_ps_shows_them() {
        let h = |s: &str| Health {
            status: s.into(),
            ..Default::default()
        };
        assert_eq!(status_suffix(Some(&h("starting"))), " (health: starting)");
        assert_eq!(status_suffix(Some(&h("healthy"))), " (healthy)");
        assert_eq!(status_suffix(None), "");
        assert_eq!(
            unframe(&[1, 0, 0, 0, 0, 0, 0, 2, b'o', b'k', 2, 0, 0, 0, 0, 0, 0, 1, b'!']),
            b"ok!"
        );
    }
}
