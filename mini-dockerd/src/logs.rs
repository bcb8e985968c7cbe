//! The json-file log: its settings (`--log-driver`, `--log-opt`), its
//! rotation, and reading it back for `docker logs` and `attach`.
//!
//! The shim appends one JSON object per line to `<id>-json.log`
//! (`{"log":"hi\n","stream":"stdout","time":"…"}`). With
//! `--log-opt max-size=10m --log-opt max-file=3` it rotates as Docker's
//! json-file driver does: before a write, when the file has reached
//! max-size, `<log>.1` becomes `<log>.2`, the log becomes `<log>.1`, and a
//! new empty log is opened (with `max-file=1` the log is truncated instead).
//! `docker logs` reads the rotated files back oldest first.
//!
//! Reading never holds the whole log in memory, whatever its size:
//! `--tail N` finds where the last N lines start by reading 64 KiB blocks
//! backwards from the end and counting newlines, and the lines are then
//! streamed forward in bounded chunks ([`Reader`]); the HTTP body's channel
//! is bounded too, so a slow client slows the reading, not the daemon's
//! memory.
//!
//! Without a tty, Docker multiplexes stdout and stderr on one stream: each
//! chunk is framed by 8 bytes, `[stream, 0, 0, 0, size (big-endian u32)]`,
//! stream 1 for stdout and 2 for stderr.

pub use mini_docker_api::time::parse_unix_time;
pub use mini_shim::{frame, parse_size, rotated, LogConfig, LogLine, DRIVERS};
use serde_json::{json, Value};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The `LogConfig` a container gets: its own over the daemon's default
/// (daemon.json `log-driver`, `log-opts`), as Docker merges them: no type
/// means the daemon's; the daemon's options fill in those the container
/// did not give, when the types match.
pub fn merge(own: Option<&Value>, default: &Value) -> Value {
    let def_ty = default["Type"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or("json-file");
    let ty = own
        .and_then(|o| o["Type"].as_str())
        .filter(|t| !t.is_empty())
        .unwrap_or(def_ty)
        .to_string();
    let mut config = own
        .and_then(|o| o["Config"].as_object())
        .cloned()
        .unwrap_or_default();
    if ty == def_ty {
        for (k, v) in default["Config"].as_object().into_iter().flatten() {
            config.entry(k.clone()).or_insert(v.clone());
        }
    }
    json!({"Type": ty, "Config": config})
}

/// The files of a log, oldest first: `<log>.N` … `<log>.1`, `<log>`.
/// (The directory is listed rather than probed name by name: in the middle
/// of a rotation one of the names is briefly missing.)
pub fn files(path: &Path) -> Vec<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut numbered: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let i: u32 = n.strip_prefix(&name)?.strip_prefix('.')?.parse().ok()?;
            Some((i, e.path()))
        })
        .collect();
    numbered.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    let mut out: Vec<PathBuf> = numbered.into_iter().map(|(_, p)| p).collect();
    out.push(path.to_path_buf());
    out
}

/// Where the last `n` lines of the file start (0 if it has fewer), and how
/// many it found: reads 64 KiB blocks backwards from the end and counts
/// newlines, so memory stays one block whatever the file's size.
pub fn tail_offset(f: &mut File, n: usize) -> std::io::Result<(u64, usize)> {
    const BLOCK: u64 = 64 * 1024;
    let len = f.metadata()?.len();
    if n == 0 {
        return Ok((len, 0));
    }
    let mut end = len;
    let mut found = 0usize;
    let mut buf = vec![0u8; BLOCK as usize];
    // The last byte is the last line's own newline: not a line start.
    let mut skip_last = true;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let chunk = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        for i in (0..chunk.len()).rev() {
            if chunk[i] != b'\n' {
                continue;
            }
            if skip_last && start + i as u64 == len - 1 {
                skip_last = false;
                continue;
            }
            found += 1;
            if found == n {
                return Ok((start + i as u64 + 1, found));
            }
        }
        skip_last = false;
        end = start;
    }
    // The first line has no newline before it.
    Ok((0, if len > 0 { found + 1 } else { 0 }))
}

/// Reads complete lines from `offset`, about `max` bytes of them (more only
/// when a single line is longer); returns them and the new offset.
pub fn read_chunk(f: &mut File, offset: u64, max: usize) -> (Vec<LogLine>, u64) {
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return (vec![], offset);
    }
    let mut buf = Vec::with_capacity(max.min(1 << 20));
    let mut end = None;
    loop {
        let have = buf.len();
        let want = if have < max { max - have } else { 64 * 1024 };
        let got = match f.by_ref().take(want as u64).read_to_end(&mut buf) {
            Ok(n) => n,
            Err(_) => break,
        };
        if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
            end = Some(i + 1);
            if buf.len() >= max || got == 0 {
                break;
            }
            if got < want {
                break;
            }
            continue;
        }
        if got == 0 {
            break;
        }
    }
    let Some(end) = end else {
        return (vec![], offset);
    };
    let lines = buf[..end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    (lines, offset + end as u64)
}

/// Streams a (possibly rotated) log forward in bounded chunks, following
/// rotations: when the live file is renamed to `<log>.1` under it, the
/// reader finishes the old file (it keeps its descriptor), then reads the
/// files rotated since (held open by descriptor: their names keep moving),
/// then the new live one.
pub struct Reader {
    path: PathBuf,
    /// Files still to read after the current one, oldest first.
    pending: std::collections::VecDeque<File>,
    file: Option<File>,
    offset: u64,
}

/// How much of the log one read takes: the daemon's memory per reader is a
/// small multiple of this.
pub const CHUNK: usize = 256 * 1024;

type Ident = (u64, u64);

fn ident(m: &std::fs::Metadata) -> Ident {
    (m.dev(), m.ino())
}

/// Opens every file of the log (rotated ones oldest first, then the live
/// one) with its identity. A rotation during the scan moves the names, so
/// the scan is repeated until every name still points at what was opened.
fn open_all(path: &Path) -> Vec<(File, Ident)> {
    let mut out = Vec::new();
    for _ in 0..200 {
        let names = files(path);
        // `<log>.1` … `<log>.N` without a hole, or a rotation is under way.
        let contiguous = (1..names.len() as u32).all(|i| names.contains(&rotated(path, i)));
        if !contiguous {
            std::thread::sleep(std::time::Duration::from_millis(1));
            continue;
        }
        out = names
            .iter()
            .filter_map(|p| {
                let f = File::open(p).ok()?;
                let id = ident(&f.metadata().ok()?);
                Some((f, id))
            })
            .collect();
        let stable = out.len() == names.len()
            && names
                .iter()
                .zip(&out)
                .all(|(p, (_, id))| std::fs::metadata(p).map(|m| ident(&m)).ok() == Some(*id));
        if stable {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    out
}

impl Reader {
    /// A reader of the whole log, or of its last `tail` lines.
    pub fn open(path: &Path, tail: Option<usize>) -> Reader {
        let mut all: std::collections::VecDeque<File> =
            open_all(path).into_iter().map(|(f, _)| f).collect();
        let mut r = Reader {
            path: path.to_path_buf(),
            pending: Default::default(),
            file: None,
            offset: 0,
        };
        let Some(mut n) = tail else {
            r.file = all.pop_front();
            r.pending = all;
            return r;
        };
        // From the newest file back, until n lines are found.
        while let Some(mut f) = all.pop_back() {
            let (off, found) = tail_offset(&mut f, n).unwrap_or((0, 0));
            if found >= n || all.is_empty() {
                r.file = Some(f);
                r.offset = off;
                break;
            }
            n -= found;
            r.pending.push_front(f);
        }
        r
    }

    /// The next lines (empty when there is nothing new yet).
    pub fn next_chunk(&mut self) -> Vec<LogLine> {
        loop {
            if self.file.is_none() {
                self.file = match self.pending.pop_front() {
                    Some(f) => Some(f),
                    None => File::open(&self.path).ok(),
                };
                self.offset = 0;
                if self.file.is_none() {
                    return vec![];
                }
            }
            let f = self.file.as_mut().expect("opened above");
            if f.metadata().map(|m| m.len() < self.offset).unwrap_or(false) {
                // Truncated under us (`max-file=1` rotates by truncating).
                self.offset = 0;
            }
            let (lines, next) = read_chunk(f, self.offset, CHUNK);
            self.offset = next;
            if !lines.is_empty() {
                return lines;
            }
            if !self.pending.is_empty() {
                // An older file, read to its end: on to the next.
                self.file = None;
                continue;
            }
            // The live file, at its end: was it rotated away?
            let mine = f.metadata().map(|m| ident(&m)).ok();
            let now = std::fs::metadata(&self.path).map(|m| ident(&m)).ok();
            if now.is_none() || mine == now {
                return vec![];
            }
            // A rotated file is written no more: take what came last.
            let (lines, _) = read_chunk(f, self.offset, usize::MAX / 2);
            // It may have rotated more than once since: the files newer than
            // ours come next (all of them, if ours was rotated out).
            let mut all = open_all(&self.path);
            if let Some(i) = all.iter().position(|(_, id)| Some(*id) == mine) {
                all.drain(..=i);
            }
            self.pending = all.into_iter().map(|(f, _)| f).collect();
            self.file = None;
            if !lines.is_empty() {
                return lines;
            }
        }
    }
}

impl super::Engine {
    /// `docker logs`: the container's log, rendered as `o` asks, sent into
    /// the returned channel in bounded chunks ([`Reader`]). With `follow`
    /// the stream goes on until the container has stopped and everything was
    /// sent. The channel is bounded: a slow client holds the reader back, and
    /// the daemon's memory stays small. Must be called inside the runtime.
    pub fn logs(
        self: &Arc<Self>,
        id: &str,
        mut o: LogOptions,
        follow: bool,
    ) -> super::Result<mpsc::Receiver<Vec<u8>>> {
        let c = self.find(id)?;
        if !o.stdout && !o.stderr {
            return Err(super::ApiError::bad(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        o.tty = c.config.tty;
        if !c.log_settings().map(|l| l.json_file).unwrap_or(true) {
            return Err(super::ApiError::not_implemented(
                "configured logging driver does not support reading",
            ));
        }
        let (tx, rx) = mpsc::channel(16);
        let path = super::shim::log_file(&self.dir(&c.id), &c.id);
        // Opened now: an `--rm` container's log is unlinked right after its exit.
        let mut reader = Reader::open(&path, o.tail);
        let (e, id) = (self.clone(), c.id);
        tokio::spawn(async move {
            loop {
                let finished = e.find(&id).map(|c| !c.state.running).unwrap_or(true);
                let lines = reader.next_chunk();
                let bytes = render(&lines, &o, o.tty);
                if !bytes.is_empty() && tx.send(bytes).await.is_err() {
                    return;
                }
                if lines.is_empty() {
                    if !follow || finished {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
            }
        });
        Ok(rx)
    }
}

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
    use std::io::Write;

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

    fn line(i: usize) -> String {
        format!("{{\"log\":\"l{i}\\n\",\"stream\":\"stdout\",\"time\":\"t\"}}\n")
    }

    fn texts(lines: &[LogLine]) -> Vec<String> {
        lines.iter().map(|l| l.log.trim_end().to_string()).collect()
    }

    #[test]
    fn sizes_parse_as_dockers_from_human_size() {
        assert_eq!(parse_size("1k"), Some(1000));
        assert_eq!(parse_size("10m"), Some(10_000_000));
        assert_eq!(parse_size("1.5M"), Some(1_500_000));
        assert_eq!(parse_size("2g"), Some(2_000_000_000));
        assert_eq!(parse_size("3kb"), Some(3000));
        assert_eq!(parse_size("3KiB"), Some(3000));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1q"), None);
        assert_eq!(parse_size("1kx"), None);
    }

    #[test]
    fn log_configs_are_checked_and_merged_as_docker_does() {
        let c = LogConfig::from_value(
            &json!({"Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}}),
        )
        .unwrap();
        assert_eq!(
            c,
            LogConfig {
                json_file: true,
                max_size: Some(1000),
                max_file: 3
            }
        );
        assert!(
            !LogConfig::from_value(&json!({"Type": "none"}))
                .unwrap()
                .json_file
        );
        for (v, want) in [
            (json!({"Type": "syslog"}), "plugin \"syslog\" not found"),
            (
                json!({"Type": "json-file", "Config": {"max-size": "0"}}),
                "max-size must be a positive number",
            ),
            (
                json!({"Type": "json-file", "Config": {"max-file": "0"}}),
                "max-file cannot be less than 1",
            ),
            (
                json!({"Type": "json-file", "Config": {"mode": "x"}}),
                "unknown log opt 'mode' for json-file log driver",
            ),
            (
                json!({"Type": "json-file", "Config": {"tag": "x"}}),
                "is not supported by mini-dockerd",
            ),
            (
                json!({"Type": "none", "Config": {"max-size": "1k"}}),
                "unknown log opt 'max-size' for none log driver",
            ),
        ] {
            let e = LogConfig::from_value(&v).unwrap_err();
            assert!(e.contains(want), "{v}: {e}");
        }
        let daemon = json!({"Type": "json-file", "Config": {"max-size": "2k", "max-file": "2"}});
        assert_eq!(
            merge(
                Some(&json!({"Type": "", "Config": {"max-file": "4"}})),
                &daemon
            ),
            json!({"Type": "json-file", "Config": {"max-size": "2k", "max-file": "4"}})
        );
        assert_eq!(
            merge(Some(&json!({"Type": "none"})), &daemon),
            json!({"Type": "none", "Config": {}})
        );
        assert_eq!(
            merge(None, &json!({})),
            json!({"Type": "json-file", "Config": {}})
        );
    }

    #[test]
    fn tail_counts_newlines_backwards_across_blocks() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.log");
        // Lines crossing the 64 KiB block boundaries.
        let text: String = (0..5000).map(line).collect();
        std::fs::write(&p, &text).unwrap();
        let mut f = File::open(&p).unwrap();
        for n in [0, 1, 2, 1000, 4999] {
            let (off, found) = tail_offset(&mut f, n).unwrap();
            assert_eq!(found, n);
            let (lines, _) = read_chunk(&mut f, off, usize::MAX / 2);
            assert_eq!(lines.len(), n);
            if n > 0 {
                assert_eq!(lines[0].log, format!("l{}\n", 5000 - n));
            }
        }
        // More than there are: from the start, and how many there were.
        assert_eq!(tail_offset(&mut f, 9000).unwrap(), (0, 5000));
    }

    #[test]
    fn the_reader_goes_through_rotated_files_in_order_and_follows_a_rotation() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c-json.log");
        std::fs::write(rotated(&p, 2), (0..3).map(line).collect::<String>()).unwrap();
        std::fs::write(rotated(&p, 1), (3..6).map(line).collect::<String>()).unwrap();
        std::fs::write(&p, (6..8).map(line).collect::<String>()).unwrap();
        let all = |r: &mut Reader| {
            let mut out = Vec::new();
            loop {
                let c = r.next_chunk();
                if c.is_empty() {
                    return out;
                }
                out.extend(texts(&c));
            }
        };
        let want: Vec<String> = (0..8).map(|i| format!("l{i}")).collect();
        assert_eq!(all(&mut Reader::open(&p, None)), want);
        assert_eq!(all(&mut Reader::open(&p, Some(4))), want[4..]);
        assert_eq!(all(&mut Reader::open(&p, Some(2))), want[6..]);
        assert_eq!(all(&mut Reader::open(&p, Some(0))), Vec::<String>::new());
        // A follower at the end; the writer appends, rotates, writes on.
        let mut r = Reader::open(&p, None);
        all(&mut r);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(line(8).as_bytes())
            .unwrap();
        std::fs::rename(&p, rotated(&p, 1)).unwrap();
        std::fs::write(&p, line(9)).unwrap();
        assert_eq!(all(&mut r), vec!["l8".to_string(), "l9".to_string()]);
        // Rotated twice between two reads: nothing in between is skipped.
        let rotate = || {
            for i in (1..4).rev() {
                let _ = std::fs::rename(rotated(&p, i), rotated(&p, i + 1));
            }
            std::fs::rename(&p, rotated(&p, 1)).unwrap();
        };
        rotate();
        std::fs::write(&p, line(11)).unwrap();
        rotate();
        std::fs::write(&p, line(12)).unwrap();
        assert_eq!(all(&mut r), vec!["l11".to_string(), "l12".to_string()]);
        // Truncated under the reader (max-file=1): it starts over.
        std::fs::write(&p, "").unwrap();
        assert!(all(&mut r).is_empty());
        std::fs::write(&p, line(10)).unwrap();
        assert_eq!(all(&mut r), vec!["l10".to_string()]);
    }
}
