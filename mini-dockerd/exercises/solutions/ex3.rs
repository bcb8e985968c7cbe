//! Exercise 3, the reference answer: what the shim writes
//! (`mini-shim/src/main.rs`, where it appends a `LogLine`).

use mini_dockerd::logs::LogLine;

/// One json-file line for chunk `text` of stream `stream` at `time`.
pub fn log_line(stream: u8, text: &[u8], time: &str) -> Vec<u8> {
    let entry = LogLine {
        log: String::from_utf8_lossy(text).into_owned(),
        stream: if stream == 2 { "stderr" } else { "stdout" }.into(),
        time: time.to_string(),
    };
    let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
