//! Exercise 3: one line of the json-file log.
//!
//! The shim reads what the container writes on stdout and stderr and
//! appends each chunk to `<id>-json.log` as one JSON object on one line,
//! Docker's json-file format:
//!
//! ```text
//! {"log":"hello \"world\"\n","stream":"stdout","time":"2026-12-07T10:15:00.123456789Z"}
//! ```
//!
//! `docker logs` reads the file back line by line, so a line must be
//! exactly one line: the newline inside the text is escaped (`\n`), and the
//! object ends with a real newline. `stream` is `stdout` (stream 1) or
//! `stderr` (stream 2); `time` is RFC 3339 with nanoseconds, so that
//! `--since`/`--until` and `--timestamps` work. Bytes that are not UTF-8
//! are replaced (U+FFFD), as Docker does.
//!
//! Check with `scripts/check.sh engine 3`: the checker writes your lines
//! into a log file and reads them back with the engine's own log reader,
//! framed as the docker CLI receives them.

/// The bytes to append to the log for one chunk `text` of stream `stream`
/// (1: stdout, 2: stderr) written at `time` (RFC 3339).
pub fn log_line(stream: u8, text: &[u8], time: &str) -> Vec<u8> {
    let _ = (stream, text, time);
    todo!("hint: serde_json::to_vec(&serde_json::json!({{\"log\": String::from_utf8_lossy(text), \"stream\": …, \"time\": time}})), then push b'\\n'")
}
