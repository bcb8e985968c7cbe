//! The protocol between `mini-dockerd` and `mini-shim`: what the daemon
//! passes on the shim's command line, the lines it sends on the shim's
//! socket, and the files the shim leaves in the container's directory.
//!
//! ```text
//! mini-dockerd ── spawns ──▶ mini-shim ARGS (stage 1) ── forks ──▶ stage 2 ── setsid, survives the daemon
//!      ▲  reads one line on the pipe both stages share as stdout:      │
//!      │  "ok <pid>" (the container is created) or "err <why>"         │ RUNTIME --root R create --bundle DIR …
//!      │                                                               ▼
//!      │── "start" ──────────────▶ <shims>/<id>.sock ──▶ RUNTIME start ID
//!      │── "watch" ◀─ "exit JSON", then EOF (cleaned up)  container's pipes or pty
//!      └── reads exit.json, <id>-json.log, exec-<id>.exit ◀── the shim writes them
//! ```
//!
//! This library is small on purpose: the daemon links it to speak to the
//! shim, and the shim binary links it and nothing of the engine. The
//! binary (`src/main.rs`) is the other half: one poll loop.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The arguments of the shim, as the daemon passes them.
#[derive(Debug, Clone)]
pub struct ShimArgs {
    /// Container id.
    pub id: String,
    /// The container's directory: the bundle (config.json, rootfs/), the log, exit.json.
    pub dir: PathBuf,
    /// The OCI runtime binary the shim executes (runc's CLI).
    pub runtime: PathBuf,
    /// The runtime's state root (its `--root`).
    pub runtime_root: PathBuf,
    /// The socket the daemon connects to.
    pub socket: PathBuf,
    /// `-t`: the container's stdio is a terminal.
    pub tty: bool,
    /// `-i`: keep the container's stdin open for attachers.
    pub open_stdin: bool,
    /// Close the container's stdin when the first attacher's input ends.
    pub stdin_once: bool,
    /// The log's settings (`--log-driver none`, `max-size`, `max-file`).
    pub log: LogConfig,
}

impl ShimArgs {
    /// As command-line arguments (after the binary).
    pub fn to_args(&self) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--id".into(),
            self.id.clone(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--runtime".into(),
            self.runtime.display().to_string(),
            "--runtime-root".into(),
            self.runtime_root.display().to_string(),
            "--socket".into(),
            self.socket.display().to_string(),
        ];
        for (on, flag) in [
            (self.tty, "--tty"),
            (self.open_stdin, "--stdin"),
            (self.stdin_once, "--stdin-once"),
            (!self.log.json_file, "--no-log"),
        ] {
            if on {
                v.push(flag.into());
            }
        }
        if let Some(n) = self.log.max_size {
            v.extend(["--log-max-size".into(), n.to_string()]);
            v.extend(["--log-max-file".into(), self.log.max_file.to_string()]);
        }
        v
    }

    /// Parses what [`ShimArgs::to_args`] wrote; `Ok((args, stage2))`.
    pub fn parse(argv: &[String]) -> Result<(ShimArgs, bool), String> {
        let mut a = ShimArgs {
            id: String::new(),
            dir: PathBuf::new(),
            runtime: PathBuf::new(),
            runtime_root: PathBuf::new(),
            socket: PathBuf::new(),
            tty: false,
            open_stdin: false,
            stdin_once: false,
            log: Default::default(),
        };
        let mut stage2 = false;
        let mut it = argv.iter();
        while let Some(k) = it.next() {
            let mut val = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{k} needs a value"))
            };
            match k.as_str() {
                "--id" => a.id = val()?,
                "--dir" => a.dir = val()?.into(),
                "--runtime" => a.runtime = val()?.into(),
                "--runtime-root" => a.runtime_root = val()?.into(),
                "--socket" => a.socket = val()?.into(),
                "--stage2" => stage2 = true,
                "--tty" => a.tty = true,
                "--stdin" => a.open_stdin = true,
                "--stdin-once" => a.stdin_once = true,
                "--no-log" => a.log.json_file = false,
                "--log-max-size" => {
                    a.log.max_size = Some(val()?.parse().map_err(|_| "--log-max-size: bytes")?)
                }
                "--log-max-file" => {
                    a.log.max_file = val()?.parse().map_err(|_| "--log-max-file: a count")?
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if a.id.is_empty()
            || a.dir.as_os_str().is_empty()
            || a.runtime.as_os_str().is_empty()
            || a.socket.as_os_str().is_empty()
        {
            return Err("usage: mini-shim --id ID --dir DIR --runtime PATH --runtime-root DIR --socket PATH [--tty] [--stdin] [--stdin-once] [--no-log] [--log-max-size BYTES --log-max-file N]".into());
        }
        Ok((a, stage2))
    }
}

/// What the shim records when the container exits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Shell-style exit code (128+signal for a signal death).
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    /// When (nanoseconds since the epoch).
    #[serde(rename = "FinishedAt")]
    pub finished_at: i64,
    /// An error, if the shim could not run the container.
    #[serde(rename = "Error", default)]
    pub error: String,
    /// The kernel's OOM killer killed a process of the container's memory
    /// cgroup (its `oom_kill` counter was above zero when init exited).
    #[serde(rename = "OOMKilled", default)]
    pub oom_killed: bool,
}

impl ExitStatus {
    /// Writes `exit.json` atomically (see [`write_atomic`]).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        write_atomic(&exit_file(dir), &json)
    }
}

/// `<dir>/exit.json`.
pub fn exit_file(dir: &Path) -> PathBuf {
    dir.join("exit.json")
}

/// `<dir>/<id>-json.log`.
pub fn log_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

/// `<dir>/exec-<id>.exit`: the exit code of an exec, for the daemon.
pub fn exec_exit_file(dir: &Path, exec_id: &str) -> PathBuf {
    dir.join(format!("exec-{exec_id}.exit"))
}

/// Reads the exit status, if the shim wrote one.
pub fn read_exit(dir: &Path) -> Option<ExitStatus> {
    serde_json::from_slice(&fs::read(exit_file(dir)).ok()?).ok()
}

/// Writes a file so that a reader sees the old content or the new, never
/// a part, and the rename survives a crash: the one helper of the workspace
/// ([`mini_docker_api::atomic`]), with the directory synced.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    mini_docker_api::atomic::write_atomic(
        path,
        data,
        mini_docker_api::atomic::Durability::Directory,
    )
}

/// The first line of a connection to the shim says what it is for.
///
/// | line | the shim … |
/// | --- | --- |
/// | `watch` | holds the connection; at the container's exit sends `exit JSON` (an [`ExitStatus`]) before cleaning up, and EOF once the cleanup is done |
/// | `start` | releases the created container (`runtime start`), answers `ok` or `err …` |
/// | `attach I O E` | answers `ok` once registered, then streams the container's output (flags `1`/`0` for stdin, stdout, stderr): raw bytes with a terminal, Docker's 8-byte framed chunks without; input on the connection goes to the container's stdin |
/// | `resize ROWS COLS` | sets the terminal's window size (`TIOCSWINSZ`), answers `ok` |
/// | `exec JSON` | starts an [`ExecRequest`], answers `ok PID` or `err …`, then the connection is that process's stdio; its exit code is left in [`exec_exit_file`] |
/// | `exec-resize ID ROWS COLS` | resizes an exec's terminal |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `watch`.
    Watch,
    /// `start`.
    Start,
    /// `attach I O E`.
    Attach {
        /// Forward input to the container's stdin.
        stdin: bool,
        /// Send stdout.
        stdout: bool,
        /// Send stderr.
        stderr: bool,
    },
    /// `resize ROWS COLS`.
    Resize(u16, u16),
    /// `exec JSON`.
    Exec(Box<ExecRequest>),
    /// `exec-resize ID ROWS COLS`.
    ExecResize(String, u16, u16),
}

impl Request {
    /// The line (without its newline).
    pub fn line(&self) -> String {
        let b = |x: bool| if x { "1" } else { "0" };
        match self {
            Request::Watch => "watch".into(),
            Request::Start => "start".into(),
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => format!("attach {} {} {}", b(*stdin), b(*stdout), b(*stderr)),
            Request::Resize(r, c) => format!("resize {r} {c}"),
            Request::Exec(e) => format!("exec {}", serde_json::to_string(e).unwrap_or_default()),
            Request::ExecResize(id, r, c) => format!("exec-resize {id} {r} {c}"),
        }
    }

    /// Parses a line.
    pub fn parse(line: &str) -> Option<Request> {
        let line = line.trim_end();
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let nums: Vec<&str> = rest.split_whitespace().collect();
        let size = |r: &str, c: &str| Some((r.parse().ok()?, c.parse().ok()?));
        Some(match (verb, nums.as_slice()) {
            ("watch", []) => Request::Watch,
            ("start", []) => Request::Start,
            ("attach", [i, o, e]) => Request::Attach {
                stdin: *i == "1",
                stdout: *o == "1",
                stderr: *e == "1",
            },
            ("resize", [r, c]) => {
                let (r, c) = size(r, c)?;
                Request::Resize(r, c)
            }
            ("exec", _) => Request::Exec(Box::new(serde_json::from_str(rest).ok()?)),
            ("exec-resize", [id, r, c]) => {
                let (r, c) = size(r, c)?;
                Request::ExecResize(id.to_string(), r, c)
            }
            _ => return None,
        })
    }
}

/// A process to start in the running container (`docker exec`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The exec's id (the daemon's).
    pub id: String,
    /// argv.
    pub args: Vec<String>,
    /// `K=V` added to (or replacing in) the container's environment.
    pub env: Vec<String>,
    /// Working directory; empty: the container's.
    pub cwd: String,
    /// uid and gid, when `-u` was given.
    pub user: Option<(u32, u32)>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub stdin: bool,
    /// The terminal's size, if the client sent one before the start.
    pub size: Option<(u16, u16)>,
    /// `exec --privileged`: these capabilities (every one the daemon holds)
    /// become the process's bounding, permitted, effective and inheritable
    /// sets, as moby's exec does; `None` keeps the container's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

impl ExecRequest {
    /// The OCI process to give the runtime (`exec --process FILE`): the
    /// container's own (`process` of its config.json), with this exec's
    /// arguments, environment, working directory, user and terminal.
    pub fn process(&self, container: &Value) -> Result<Value, String> {
        if self.args.is_empty() {
            return Err("No exec command specified".into());
        }
        let mut p = container.clone();
        if !p.is_object() {
            return Err("the container's config.json has no process".into());
        }
        p["args"] = self.args.clone().into();
        let mut env: Vec<String> = p["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(String::from))
            .collect();
        for kv in &self.env {
            let key = kv.split('=').next().unwrap_or(kv);
            env.retain(|e| e.split('=').next().unwrap_or(e) != key);
            env.push(kv.clone());
        }
        if self.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        p["env"] = env.into();
        if !self.cwd.is_empty() {
            p["cwd"] = self.cwd.clone().into();
        }
        if let Some((uid, gid)) = self.user {
            p["user"]["uid"] = uid.into();
            p["user"]["gid"] = gid.into();
            p["user"]["additionalGids"] = vec![gid].into();
        }
        if let Some(all) = &self.capabilities {
            // The container's ambient set (if any) stays: moby sets the other four.
            for set in ["bounding", "permitted", "effective", "inheritable"] {
                p["capabilities"][set] = all.clone().into();
            }
        }
        p["terminal"] = self.tty.into();
        match (self.tty, self.size) {
            // The runtime sizes the terminal before the process runs.
            (true, Some((rows, cols))) => {
                p["consoleSize"] = serde_json::json!({"height": rows, "width": cols});
            }
            _ => {
                if let Some(o) = p.as_object_mut() {
                    o.remove("consoleSize");
                }
            }
        }
        Ok(p)
    }
}

/// One line of Docker's json-file log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogLine {
    /// The text, with its newline.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 with nanoseconds.
    pub time: String,
}

/// `<log>.i`.
pub fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// One chunk of Docker's multiplexed stream (without a terminal):
/// `[stream, 0, 0, 0, size (big-endian u32)]`, then the bytes; stream 1 is
/// stdout, 2 stderr.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + data.len());
    v.extend_from_slice(&[stream, 0, 0, 0]);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

// The json-file log the shim writes: its settings, checked with Docker's
// messages (the daemon checks them at create; the shim applies them).

/// A container's logging settings (`HostConfig.LogConfig`), checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `json-file`, or `none` (no log at all).
    pub json_file: bool,
    /// `max-size` in bytes (None: the log grows without bound).
    pub max_size: Option<u64>,
    /// `max-file`: how many files, the live one included (1: truncate).
    pub max_file: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            json_file: true,
            max_size: None,
            max_file: 1,
        }
    }
}

/// The log drivers this daemon has.
pub const DRIVERS: &[&str] = &["json-file", "none"];

/// json-file's options that are applied; Docker's others are refused by
/// name rather than ignored.
const JSON_FILE_OPTS: &[&str] = &["max-size", "max-file"];
const JSON_FILE_OPTS_NOT_HERE: &[&str] = &[
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// Docker's `units.FromHumanSize`, which json-file's `max-size` uses:
/// decimal units (`1k` = 1000, `10m` = 10 000 000), an optional `i`/`b`
/// after the unit, and a fraction (`1.5m`).
pub fn parse_size(v: &str) -> Option<u64> {
    let t = v.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, rest) = t.split_at(digits);
    let num: f64 = num.parse().ok()?;
    let rest = rest.trim_start_matches(' ').to_ascii_lowercase();
    let mut chars = rest.chars();
    let mult: f64 = match chars.next() {
        None => return Some(num as u64),
        Some('b') if chars.as_str().is_empty() => 1.0,
        Some(c) => {
            let p = "kmgtp".find(c)? as i32 + 1;
            let tail = chars.as_str();
            if !matches!(tail, "" | "b" | "i" | "ib") {
                return None;
            }
            1000f64.powi(p)
        }
    };
    Some((num * mult) as u64)
}

impl LogConfig {
    /// Checks a `LogConfig` (`{"Type": …, "Config": {…}}`) with Docker's
    /// messages; the `Type` must already have its default filled in.
    pub fn from_value(v: &Value) -> Result<LogConfig, String> {
        let ty = v["Type"].as_str().unwrap_or("");
        let ty = if ty.is_empty() { "json-file" } else { ty };
        let opts = v["Config"].as_object().cloned().unwrap_or_default();
        if !DRIVERS.contains(&ty) {
            return Err(format!(
                "error looking up logging plugin {ty}: plugin \"{ty}\" not found (this daemon has the log drivers {})",
                DRIVERS.join(", ")
            ));
        }
        if ty == "none" {
            if let Some(k) = opts.keys().next() {
                return Err(format!("unknown log opt '{k}' for none log driver"));
            }
            return Ok(LogConfig {
                json_file: false,
                ..Default::default()
            });
        }
        let mut c = LogConfig::default();
        for (k, val) in &opts {
            let val = val.as_str().unwrap_or("");
            if JSON_FILE_OPTS_NOT_HERE.contains(&k.as_str()) {
                return Err(format!(
                    "log opt '{k}' of the json-file log driver is not supported by mini-dockerd"
                ));
            }
            if !JSON_FILE_OPTS.contains(&k.as_str()) {
                return Err(format!("unknown log opt '{k}' for json-file log driver"));
            }
            if k == "max-size" {
                let n = parse_size(val).ok_or_else(|| format!("invalid size: '{val}'"))?;
                if n == 0 {
                    return Err("max-size must be a positive number".into());
                }
                c.max_size = Some(n);
            } else {
                let n: i64 = val
                    .parse()
                    .map_err(|_| format!("strconv.Atoi: parsing \"{val}\": invalid syntax"))?;
                if n < 1 {
                    return Err("max-file cannot be less than 1".into());
                }
                c.max_file = n.min(u32::MAX as i64) as u32;
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shim_args_round_trip() {
        let a = ShimArgs {
            id: "abc".into(),
            dir: "/d".into(),
            runtime: "/usr/bin/runc".into(),
            runtime_root: "/r".into(),
            socket: "/s.sock".into(),
            tty: true,
            open_stdin: true,
            stdin_once: false,
            log: LogConfig {
                json_file: true,
                max_size: Some(1000),
                max_file: 3,
            },
        };
        let (b, stage2) = ShimArgs::parse(&a.to_args()).unwrap();
        assert!(!stage2);
        assert_eq!(b.to_args(), a.to_args());
        assert_eq!(b.runtime, PathBuf::from("/usr/bin/runc"));
        assert!(ShimArgs::parse(&["--id".into(), "x".into()])
            .unwrap_err()
            .starts_with("usage:"));
    }

    #[test]
    fn an_exec_is_the_containers_process_with_its_own_settings() {
        let container = json!({
            "args": ["sh"], "env": ["PATH=/bin", "A=1"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}, "terminal": true,
            "consoleSize": {"height": 1, "width": 1},
            "capabilities": {"bounding": ["CAP_KILL"]}
        });
        let req = ExecRequest {
            args: vec!["ls".into(), "-l".into()],
            env: vec!["A=2".into()],
            cwd: "/tmp".into(),
            user: Some((1000, 100)),
            ..Default::default()
        };
        let p = req.process(&container).unwrap();
        assert_eq!(p["args"], json!(["ls", "-l"]));
        assert_eq!(p["env"], json!(["PATH=/bin", "A=2"]));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(
            p["user"],
            json!({"uid": 1000, "gid": 100, "additionalGids": [100]})
        );
        assert_eq!(p["terminal"], false);
        assert!(p.get("consoleSize").is_none());
        assert_eq!(p["capabilities"], container["capabilities"]);
        let tty = ExecRequest {
            args: vec!["sh".into()],
            tty: true,
            size: Some((24, 80)),
            ..Default::default()
        };
        let p = tty.process(&container).unwrap();
        assert_eq!(p["consoleSize"], json!({"height": 24, "width": 80}));
        assert!(p["env"].as_array().unwrap().contains(&json!("TERM=xterm")));
        assert!(ExecRequest::default().process(&container).is_err());
        // `exec --privileged`: four sets from the request, ambient kept.
        let container = json!({"args": ["sh"], "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "ambient": ["CAP_KILL"]}});
        let all = vec!["CAP_KILL".to_string(), "CAP_SYS_ADMIN".to_string()];
        let privileged = ExecRequest {
            args: vec!["sh".into()],
            capabilities: Some(all.clone()),
            ..Default::default()
        };
        let p = privileged.process(&container).unwrap();
        for set in ["bounding", "permitted", "effective", "inheritable"] {
            assert_eq!(p["capabilities"][set], json!(all), "{set}");
        }
        assert_eq!(p["capabilities"]["ambient"], json!(["CAP_KILL"]));
        let line = Request::Exec(Box::new(privileged.clone())).line();
        assert_eq!(
            Request::parse(&line),
            Some(Request::Exec(Box::new(privileged)))
        );
    }

    #[test]
    fn exit_status_is_written_whole() {
        let dir = std::env::temp_dir().join(format!("mini-shim-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let s = ExitStatus {
            exit_code: 137,
            finished_at: 5,
            error: String::new(),
            oom_killed: true,
        };
        s.write(&dir).unwrap();
        let back = read_exit(&dir).unwrap();
        assert_eq!((back.exit_code, back.oom_killed), (137, true));
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("exit.json")],
            "no temporary file is left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
