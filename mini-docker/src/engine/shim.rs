//! `mini-shim`: one small process per container, between the daemon and the
//! runtime.
//!
//! ```text
//! mini-dockerd ── spawns ──▶ mini-shim (stage 1) ── spawns ──▶ mini-shim --stage2 ── exits
//!      ▲   reads one line "ok <pid>" / "err <why>" on the       │ setsid: its own session,
//!      │   pipe stage 1 and 2 share as stdout                    │ survives the daemon
//!      │                                                         ▼
//!      │                        runtime::container::create + start (library, as a subreaper)
//!      │                                                         │
//!      │   <shims>/<id>.sock: EOF = "exited"          container's stdout/stderr pipes
//!      └──────────────────────────────────────────── ◀── json-file log, waitpid, exit.json
//! ```
//!
//! The container inherits the shim's fds 1 and 2, which are pipes the shim
//! reads line by line into `<id>-json.log` (Docker's json-file format). When
//! the container's init exits, the shim records `exit.json` atomically,
//! deletes the runtime state (cgroups) and exits: the daemon sees EOF on its
//! connection to the shim's socket and reads the file. A daemon that
//! restarts reconnects to the sockets of running containers (live restore).

use super::util;
use crate::runtime::container;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The arguments of the shim, as the daemon passes them.
#[derive(Debug, Clone)]
pub struct ShimArgs {
    /// Container id.
    pub id: String,
    /// The container's directory: the bundle (config.json, rootfs/), the log, exit.json.
    pub dir: PathBuf,
    /// The runtime's state root.
    pub runtime_root: PathBuf,
    /// The socket the daemon connects to.
    pub socket: PathBuf,
}

impl ShimArgs {
    /// As command-line arguments (after the binary).
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--id".into(),
            self.id.clone(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--runtime-root".into(),
            self.runtime_root.display().to_string(),
            "--socket".into(),
            self.socket.display().to_string(),
        ]
    }

    /// Parses what [`ShimArgs::to_args`] wrote; `Ok((args, stage2))`.
    pub fn parse(argv: &[String]) -> Result<(ShimArgs, bool), String> {
        let mut a = ShimArgs {
            id: String::new(),
            dir: PathBuf::new(),
            runtime_root: PathBuf::new(),
            socket: PathBuf::new(),
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
                "--runtime-root" => a.runtime_root = val()?.into(),
                "--socket" => a.socket = val()?.into(),
                "--stage2" => stage2 = true,
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if a.id.is_empty() || a.dir.as_os_str().is_empty() {
            return Err(
                "usage: mini-shim --id ID --dir DIR --runtime-root DIR --socket PATH".into(),
            );
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
}

/// `<dir>/exit.json`.
pub fn exit_file(dir: &Path) -> PathBuf {
    dir.join("exit.json")
}

/// `<dir>/<id>-json.log`.
pub fn log_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

/// Reads the exit status, if the shim wrote one.
pub fn read_exit(dir: &Path) -> Option<ExitStatus> {
    serde_json::from_slice(&fs::read(exit_file(dir)).ok()?).ok()
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

/// Stage 1: start stage 2 (which inherits our stdout, the pipe the daemon
/// reads) and return at once, so the daemon can reap us.
pub fn stage1(args: &ShimArgs) -> std::io::Result<()> {
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.args(args.to_args())
        .arg("--stage2")
        .stdin(std::process::Stdio::null());
    cmd.spawn()?;
    Ok(())
}

fn dup2(from: &impl AsRawFd, to: i32) {
    let _ = nix::unistd::dup2(from.as_raw_fd(), to);
}

/// Stage 2: the shim proper. Never returns.
pub fn stage2(args: &ShimArgs) -> ! {
    let _ = nix::unistd::setsid();
    // The report channel: our stdout now, moved out of the way.
    let report = match nix::fcntl::fcntl(1, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)) {
        Ok(fd) => fs::File::from(own(fd)),
        Err(_) => std::process::exit(1),
    };
    let devnull = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .expect("/dev/null opens");
    let shimlog = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.dir.join("shim.log"))
        .unwrap_or_else(|_| devnull.try_clone().expect("dup /dev/null"));
    dup2(&devnull, 0);
    match run(args, report, &devnull, &shimlog) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            let _ = writeln!(&shimlog, "mini-shim {}: {e}", args.id);
            std::process::exit(1)
        }
    }
}

fn own(fd: i32) -> OwnedFd {
    crate::runtime::sys::own_fd(fd)
}

fn run(
    args: &ShimArgs,
    mut report: fs::File,
    devnull: &fs::File,
    shimlog: &fs::File,
) -> Result<(), String> {
    let _ = fs::remove_file(exit_file(&args.dir));
    let (out_r, out_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let _ = fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket)
        .map_err(|e| format!("bind {}: {e}", args.socket.display()))?;
    dup2(&out_w, 1);
    dup2(&err_w, 2);
    drop((out_w, err_w));
    let bundle = container::CreateArgs {
        bundle: args.dir.clone(),
        ..Default::default()
    };
    let started = container::create(&args.runtime_root, &args.id, &bundle).and_then(|s| {
        container::start(&args.runtime_root, &args.id)
            .map(|_| s.pid)
            .inspect_err(|_| {
                let _ = container::delete(&args.runtime_root, &args.id, true);
            })
    });
    // From here on only the container holds the write ends of the pipes.
    dup2(devnull, 1);
    dup2(shimlog, 2);
    let pid = match started {
        Ok(pid) => pid,
        Err(e) => {
            let msg = e.to_string().replace('\n', " ");
            let _ = writeln!(report, "err {msg}");
            let _ = fs::remove_file(&args.socket);
            return Err(msg);
        }
    };
    let _ = writeln!(report, "ok {pid}");
    drop(report);

    // Hold every connection from the daemon until we exit: EOF is the news.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let log = Arc::new(Mutex::new(
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file(&args.dir, &args.id))
            .map_err(|e| format!("open the log: {e}"))?,
    ));
    let readers: Vec<_> = [(out_r, "stdout"), (err_r, "stderr")]
        .into_iter()
        .map(|(fd, stream)| {
            let log = log.clone();
            std::thread::spawn(move || copy_lines(fs::File::from(fd), stream, &log))
        })
        .collect();
    let code = container::wait_exit(pid);
    for r in readers {
        let _ = r.join();
    }
    let status = ExitStatus {
        exit_code: code as i64,
        finished_at: util::now_nanos(),
        error: String::new(),
    };
    // The runtime bound its binary in our (private) mount namespace onto a
    // file of its state directory: unmount it so the directory can go.
    let _ = nix::mount::umount2(
        &args.runtime_root.join(&args.id).join(".mini-runc-exe"),
        nix::mount::MntFlags::MNT_DETACH,
    );
    // The cgroup may stay busy for a moment after the last process is reaped.
    for _ in 0..100 {
        if container::delete(&args.runtime_root, &args.id, true).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    util::write_atomic(
        &exit_file(&args.dir),
        &serde_json::to_vec(&status).unwrap_or_default(),
    )
    .map_err(|e| format!("write exit.json: {e}"))?;
    let _ = fs::remove_file(&args.socket);
    Ok(())
}

/// Copies lines from a pipe into the json-file log.
fn copy_lines(pipe: fs::File, stream: &str, log: &Mutex<fs::File>) {
    let mut r = BufReader::with_capacity(16 * 1024, pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = LogLine {
                    log: String::from_utf8_lossy(&buf).into_owned(),
                    stream: stream.into(),
                    time: util::rfc3339_nanos(util::now_nanos()),
                };
                let mut text = serde_json::to_vec(&line).unwrap_or_default();
                text.push(b'\n');
                if let Ok(mut f) = log.lock() {
                    let _ = f.write_all(&text);
                }
            }
        }
    }
}
