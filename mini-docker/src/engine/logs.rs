//! Reading the json-file log: `docker logs` and the output side of `attach`.
//!
//! Without a tty, Docker multiplexes stdout and stderr on one stream: each
//! chunk is framed by 8 bytes, `[stream, 0, 0, 0, size (big-endian u32)]`,
//! stream 1 for stdout and 2 for stderr.

use super::shim::LogLine;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Which lines, and how.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only the last n lines (of what exists now).
    pub tail: Option<usize>,
    /// Prefix each line with its time.
    pub timestamps: bool,
    /// Only lines written at or after this time (nanoseconds since the epoch).
    pub since: Option<i64>,
    /// Only lines written before this time.
    pub until: Option<i64>,
    /// The container has a terminal: raw bytes, not frames.
    pub tty: bool,
}

impl LogOptions {
    /// Whether a line's time is inside `since`/`until`.
    fn in_window(&self, l: &LogLine) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let t = super::util::parse_rfc3339(&l.time).unwrap_or(0);
        self.since.map(|s| t >= s).unwrap_or(true) && self.until.map(|u| t < u).unwrap_or(true)
    }
}

/// Docker's `since`/`until` query values: Unix seconds with an optional
/// fraction (`1700000000.5`); 0 or empty means unset.
pub fn parse_unix_time(v: &str) -> Option<i64> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    let frac: String = frac.chars().take(9).collect();
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let t = secs.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    (t > 0).then_some(t)
}

/// One multiplexed frame.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + data.len());
    v.extend_from_slice(&[stream, 0, 0, 0]);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// Complete lines from `offset` on; returns them and the new offset.
pub fn read_from(path: &Path, offset: u64) -> (Vec<LogLine>, u64) {
    match std::fs::File::open(path) {
        Ok(mut f) => read_file(&mut f, offset),
        Err(_) => (vec![], offset),
    }
}

/// Like [`read_from`] on an open file (which keeps working after `rm`
/// unlinks the log).
pub fn read_file(f: &mut std::fs::File, offset: u64) -> (Vec<LogLine>, u64) {
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return (vec![], offset);
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let end = match buf.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        None => return (vec![], offset),
    };
    let lines = buf[..end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    (lines, offset + end as u64)
}

/// The current size of the log (where a new follower starts).
pub fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Renders lines as multiplexed frames (or raw bytes with `tty`).
pub fn render(lines: &[LogLine], o: &LogOptions, tty: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        let s = if l.stream == "stderr" { 2 } else { 1 };
        if (s == 1 && !o.stdout) || (s == 2 && !o.stderr) || !o.in_window(l) {
            continue;
        }
        let text = if o.timestamps {
            format!("{} {}", l.time, l.log)
        } else {
            l.log.clone()
        };
        if tty {
            out.extend_from_slice(text.as_bytes());
        } else {
            out.extend(frame(s, text.as_bytes()));
        }
    }
    out
}

/// Applies `tail` to what exists.
pub fn tail(mut lines: Vec<LogLine>, o: &LogOptions) -> Vec<LogLine> {
    lines.retain(|l| {
        (if l.stream == "stderr" {
            o.stderr
        } else {
            o.stdout
        }) && o.in_window(l)
    });
    if let Some(n) = o.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_docker_multiplexed() {
        assert_eq!(
            frame(2, b"hi\n"),
            vec![2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
    }

    #[test]
    fn reads_complete_lines_and_tails() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.log");
        std::fs::write(&p, "{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"t\"}\n{\"log\":\"b\\n\",\"stream\":\"stderr\",\"time\":\"t\"}\n{\"log\":\"par").unwrap();
        let (lines, off) = read_from(&p, 0);
        assert_eq!(lines.len(), 2);
        assert!(off < size(&p));
        let o = LogOptions {
            stdout: true,
            stderr: true,
            tail: Some(1),
            timestamps: false,
            ..Default::default()
        };
        assert_eq!(render(&tail(lines, &o), &o, false), frame(2, b"b\n"));
    }
}
