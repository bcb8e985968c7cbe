//! `events` and `system events`: `GET /events`, printed as the docker CLI
//! prints it.
//!
//! The CLI turns `--since`/`--until` (Unix seconds, an RFC 3339 date, or a
//! duration before now such as `10m`) into Unix seconds with nanoseconds
//! (`1700000000.000000000`), and `--filter k=v` into the `filters` JSON, as
//! the docker CLI does. The daemon answers with the kept events of that
//! window, then the live ones, one JSON object per line; with an `until` in
//! the past it stops after the kept ones, else it streams until `until` or
//! until the user interrupts.
//!
//! Each event is one line: its time (RFC 3339 with nanoseconds), type,
//! action, actor, and the attributes sorted by key:
//!
//! ```text
//! 2026-12-07T10:40:38.123456789Z container die 4f1c… (exitCode=3, image=busybox, name=web)
//! ```
//!
//! `--format` is a Go template over Docker's `events.Message` fields
//! (`.Type`, `.Action`, `.Actor.ID`, `.Actor.Attributes`, `.Time`, …);
//! `{{json .}}` prints the object as the daemon sent it.

use super::format;
use super::http::{Body, Client};
use super::util;
use super::Failure;
use serde_json::{json, Value};
use std::io::{BufRead, Write};

/// Flags of `events` (and `system events`).
#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp (Unix seconds, RFC 3339, or a duration such as 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (type=, container=, image=, event=, label=, network=, volume=, daemon=).
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Format the output using the given Go template.
    #[arg(long)]
    pub format: Option<String>,
}

/// `events`: prints each event as it comes; returns when the daemon ends
/// the stream (`--until`).
pub fn events(c: &Client, a: &EventsArgs) -> Result<u8, Failure> {
    let now = util::now_nanos();
    let mut query = format!("/events?filters={}", super::netvol::filters(&a.filter)?);
    for (key, v) in [("since", &a.since), ("until", &a.until)] {
        if let Some(v) = v {
            let t = super::containers::log_time(v, now).ok_or_else(|| Failure {
                code: 1,
                message: format!(
                    "invalid value for \"{key}\": {v:?} is not a timestamp, an RFC 3339 date or a duration such as 10m"
                ),
            })?;
            query.push_str(&format!(
                "&{key}={}.{:09}",
                t.div_euclid(1_000_000_000),
                t.rem_euclid(1_000_000_000)
            ));
        }
    }
    let r = c.call("GET", &query, Body::Empty)?;
    let mut out = std::io::stdout().lock();
    for line in std::io::BufReader::new(r.body).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let ev: Value = serde_json::from_str(&line).map_err(|e| Failure {
            code: 1,
            message: format!("the daemon sent an event that is not JSON ({e}): {line}"),
        })?;
        let text = match a.format.as_deref() {
            None | Some("") => line_of(&ev),
            Some(t) if t.trim() == "{{json .}}" => line.trim().to_string(),
            Some(t) => format::render(t, &go_fields(&ev)).map_err(|e| Failure {
                code: 1,
                message: e,
            })?,
        };
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    Ok(0)
}

/// The docker CLI's line for an event: time, type, action, actor, and the
/// attributes sorted by key in parentheses.
pub fn line_of(ev: &Value) -> String {
    let nanos = ev["timeNano"]
        .as_i64()
        .filter(|n| *n != 0)
        .or_else(|| ev["time"].as_i64().map(|s| s * 1_000_000_000));
    let mut out = String::new();
    if let Some(n) = nanos {
        out.push_str(&util::rfc3339_nanos(n));
        out.push(' ');
    }
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    out.push_str(&format!(
        "{} {} {}",
        s(&ev["Type"]),
        s(&ev["Action"]),
        s(&ev["Actor"]["ID"])
    ));
    if let Some(attrs) = ev["Actor"]["Attributes"]
        .as_object()
        .filter(|m| !m.is_empty())
    {
        // serde_json's map is sorted by key, as the CLI sorts them.
        let kv: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
        out.push_str(&format!(" ({})", kv.join(", ")));
    }
    out
}

/// The event under the Go field names a template sees (`.ID`, `.Status`,
/// `.From`, `.Scope`, `.Time`, `.TimeNano`, and the rest as sent).
fn go_fields(ev: &Value) -> Value {
    json!({
        "Status": ev["status"].as_str().unwrap_or(""),
        "ID": ev["id"].as_str().unwrap_or(""),
        "From": ev["from"].as_str().unwrap_or(""),
        "Type": ev["Type"],
        "Action": ev["Action"],
        "Actor": {
            "ID": ev["Actor"]["ID"],
            "Attributes": ev["Actor"]["Attributes"],
        },
        "Scope": ev["scope"],
        "Time": ev["time"],
        "TimeNano": ev["timeNano"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_as_the_docker_cli_prints_it() {
        let ev = json!({
            "status": "die", "id": "c0ffee", "from": "busybox",
            "Type": "container", "Action": "die",
            "Actor": {"ID": "c0ffee", "Attributes": {"name": "web", "exitCode": "3", "image": "busybox"}},
            "scope": "local", "time": 1_700_000_000, "timeNano": 1_700_000_000_123_456_789i64,
        });
        insta::assert_snapshot!(line_of(&ev), @"2023-11-14T22:13:20.123456789Z container die c0ffee (exitCode=3, image=busybox, name=web)");
        let t = "{{.Type}} {{.Action}} {{.ID}} {{.Actor.Attributes.name}} {{.Scope}} {{.Time}}";
        insta::assert_snapshot!(format::render(t, &go_fields(&ev)).unwrap(), @"container die c0ffee web local 1700000000");
        let net = json!({"Type": "network", "Action": "create", "Actor": {"ID": "n1", "Attributes": {}}, "scope": "local", "time": 1, "timeNano": 0});
        insta::assert_snapshot!(line_of(&net), @"1970-01-01T00:00:01.000000000Z network create n1");
    }
}
