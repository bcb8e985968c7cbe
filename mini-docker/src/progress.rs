//! Showing the daemon's JSON progress messages (pull, push, build, load) as
//! the docker CLI does.
//!
//! On a terminal every layer keeps one line that is redrawn in place (the
//! cursor moves up to it with `ESC[nA`, the line is cleared with `ESC[2K`):
//!
//! ```text
//! 4b2c9f1a8e7d: Downloading [=========>           ]  1.2MB/2.5MB
//! 0f6e3b2a1c9d: Pull complete
//! ```
//!
//! Elsewhere (a pipe, a log) only status changes are printed, one per line,
//! and the byte counts are left out.

use serde_json::Value;
use std::io::{BufRead, Read, Write};

/// Renders a stream of JSON lines into `out`; an `error` line ends it with
/// that error.
pub fn render(body: impl Read, out: &mut impl Write, tty: bool) -> Result<(), String> {
    let mut ids: Vec<String> = Vec::new();
    let mut last_status: std::collections::HashMap<String, String> = Default::default();
    for line in std::io::BufReader::new(body).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        if let Some(e) = v["error"].as_str() {
            return Err(e.to_string());
        }
        let text = if let Some(s) = v["stream"].as_str() {
            let _ = write!(out, "{s}");
            let _ = out.flush();
            continue;
        } else if let Some(s) = v["status"].as_str() {
            s
        } else {
            continue;
        };
        let Some(id) = v["id"].as_str() else {
            let _ = writeln!(out, "{text}");
            continue;
        };
        let progress = v["progress"].as_str().unwrap_or("");
        let shown = format!("{id}: {text} {progress}").trim_end().to_string();
        if !tty {
            // Progress-only messages repeat a status with new numbers: skip.
            if last_status.get(id).map(String::as_str) != Some(text) {
                if progress.is_empty() || !last_status.contains_key(id) {
                    let _ = writeln!(out, "{id}: {text}");
                }
                last_status.insert(id.to_string(), text.to_string());
            }
            continue;
        }
        match ids.iter().position(|x| x == id) {
            None => {
                ids.push(id.to_string());
                let _ = writeln!(out, "{shown}");
            }
            Some(i) => {
                let up = ids.len() - i;
                let _ = write!(out, "\x1b[{up}A\x1b[2K\r{shown}\x1b[{up}B\r");
            }
        }
        let _ = out.flush();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PULL: &str = r#"{"status":"Pulling from library/bb","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}
{"status":"Downloading","progressDetail":{"current":5,"total":10},"progress":"[=>  ] 5B/10B","id":"aaa"}
{"status":"Downloading","progressDetail":{"current":10,"total":10},"progress":"[===] 10B/10B","id":"aaa"}
{"status":"Pull complete","progressDetail":{},"id":"aaa"}
{"status":"Already exists","progressDetail":{},"id":"bbb"}
{"status":"Digest: sha256:abc"}
"#;

    #[test]
    fn without_a_terminal_only_status_changes_are_printed() {
        let mut out = Vec::new();
        render(PULL.as_bytes(), &mut out, false).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap(), @r"
        latest: Pulling from library/bb
        aaa: Pulling fs layer
        bbb: Pulling fs layer
        aaa: Pull complete
        bbb: Already exists
        Digest: sha256:abc
        ");
    }

    #[test]
    fn on_a_terminal_each_layer_line_is_redrawn_in_place() {
        let mut out = Vec::new();
        render(PULL.as_bytes(), &mut out, true).unwrap();
        let text = String::from_utf8(out).unwrap().replace('\x1b', "ESC");
        insta::assert_snapshot!("pull_on_a_terminal", text);
    }

    #[test]
    fn an_error_line_ends_with_its_message() {
        let body =
            "{\"status\":\"x\"}\n{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\n";
        assert_eq!(
            render(body.as_bytes(), &mut Vec::new(), false),
            Err("boom".into())
        );
    }
}
