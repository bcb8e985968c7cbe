//! `mini-shim`: one small process per container, between the daemon and the
//! runtime.
//!
//! ```text
//! mini-dockerd ── spawns ──▶ mini-shim (stage 1) ── spawns ──▶ mini-shim --stage2 ── exits
//!      ▲   reads one line "ok <pid>" / "err <why>" on the       │ setsid: its own session,
//!      │   pipe stage 1 and 2 share as stdout                    │ survives the daemon
//!      │                                                         ▼
//!      │                        runtime::container::create (library, as a subreaper)
//!      │── "start" ───────────────────────────────────▶ runtime::container::start
//!      │                                                         │
//!      │   <shims>/<id>.sock: EOF = "exited"          container's stdout/stderr pipes
//!      └──────────────────────────────────────────── ◀── json-file log, waitpid, exit.json
//! ```
//!
//! The shim makes the container's stdio before `runtime create`: two pipes
//! (and a third for stdin with `-i`), or, with `-t`, a console socket on
//! which the runtime's init sends the pty master it opened inside the
//! container. It reads the output, appends it to `<id>-json.log` (Docker's
//! json-file format) and copies it live to whoever is attached.
//!
//! Every connection to `<shims>/<id>.sock` starts with one line saying what
//! it is for ([`Request`]): `watch` (held until the container exits: EOF is
//! the news), `start` (the daemon connects the attachers that were waiting,
//! then releases the created container, so `run` loses no early output),
//! `attach`, `resize`, `exec`. When the container's init exits, the shim
//! records `exit.json` atomically, deletes the runtime state (cgroups) and
//! exits. A daemon that restarts reconnects to the sockets of running
//! containers (live restore).

use super::util;
use mini_runc::container;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
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
    /// The OCI runtime binary the shim executes (runc's CLI).
    pub runtime: PathBuf,
    /// The socket the daemon connects to.
    pub socket: PathBuf,
    /// `-t`: the container's stdio is a terminal.
    pub tty: bool,
    /// `-i`: keep the container's stdin open for attachers.
    pub open_stdin: bool,
    /// Close the container's stdin when the first attacher's input ends.
    pub stdin_once: bool,
    /// The log's settings (`--log-driver none`, `max-size`, `max-file`).
    pub log: super::logs::LogConfig,
}

impl ShimArgs {
    /// As command-line arguments (after the binary).
    pub fn to_args(&self) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--id".into(),
            self.id.clone(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--runtime-root".into(),
            self.runtime_root.display().to_string(),
            "--runtime".into(),
            self.runtime.display().to_string(),
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
            runtime_root: PathBuf::new(),
            runtime: PathBuf::new(),
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
                "--runtime-root" => a.runtime_root = val()?.into(),
                "--runtime" => a.runtime = val()?.into(),
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
    /// The kernel's OOM killer killed a process of the container's cgroup
    /// ([`oom_killed`]).
    #[serde(rename = "OOMKilled", default)]
    pub oom_killed: bool,
}

/// Whether the OOM killer killed anything in the container's cgroup: the
/// counter `oom_kill` of v1 `memory.oom_control` or v2 `memory.events`.
/// Read after the container's init exited and before `delete` removes the
/// cgroup (and the counter with it).
pub fn oom_killed(runtime_root: &Path, id: &str) -> bool {
    let Ok(state) = container::load(runtime_root, id) else {
        return false;
    };
    let (Ok(layout), Some(path)) = (cgroups::Layout::detect(), state.cgroup_path.as_ref()) else {
        return false;
    };
    let Ok(cg) = cgroups::Cgroup::open_at(&layout, path) else {
        return false;
    };
    let killed = cg.oom_events().map(|e| e.oom_kill > 0).unwrap_or(false);
    // Opened, not owned: the runtime's `delete` removes it.
    let _ = cg.keep();
    killed
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
///
/// Stage 2 is a fork of this process, not a new `execve` of the binary: the
/// shim's `main` calls this first thing, while the process is still
/// single-threaded, so the child may run anything. (`--stage2` on the
/// command line still runs stage 2 directly, for a person debugging.)
pub fn stage1(args: &ShimArgs) -> std::io::Result<()> {
    use nix::unistd::ForkResult;
    match namespaces::sys::fork_single_threaded().map_err(std::io::Error::from)? {
        ForkResult::Parent { .. } => Ok(()),
        ForkResult::Child => stage2(args),
    }
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

/// Owns a descriptor a system call just returned to the shim.
fn own(fd: i32) -> OwnedFd {
    // SAFETY: every caller passes a descriptor that fcntl(F_DUPFD_CLOEXEC),
    // dup or an SCM_RIGHTS message just gave us, which nothing else holds.
    #[allow(unsafe_code)]
    let fd = unsafe { mini_runc::sys::own_fd(fd) };
    fd
}

/// The first line of a connection to the shim says what it is for.
///
/// | line | the shim … |
/// | --- | --- |
/// | `watch` | holds the connection until the container exits (EOF is the news) |
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
}

/// `<dir>/exec-<id>.exit`: the exit code of an exec, for the daemon.
pub fn exec_exit_file(dir: &Path, exec_id: &str) -> PathBuf {
    dir.join(format!("exec-{exec_id}.exit"))
}

/// Docker's multiplexed stream, as `docker logs` sends it too.
pub use super::logs::frame;

/// Someone attached to the container's output.
struct Sub {
    conn: UnixStream,
    stdout: bool,
    stderr: bool,
}

/// What the shim's threads share.
struct Shared {
    args: ShimArgs,
    /// Attached connections.
    subs: Mutex<Vec<Sub>>,
    /// The container's stdin: the write end of its pipe, or the pty master.
    stdin: Mutex<Option<fs::File>>,
    /// The pty master, for resizes.
    master: Option<fs::File>,
    /// Terminal masters of running execs, by exec id.
    exec_masters: Mutex<std::collections::HashMap<String, fs::File>>,
    /// Connections held until we exit (`watch`, and those of execs).
    held: Mutex<Vec<UnixStream>>,
    /// Console sockets made so far (their names must differ).
    consoles: std::sync::atomic::AtomicU32,
    /// Set once `start` was answered: the exit path waits for it, so a
    /// container that exits at once cannot have its state deleted under a
    /// `runtime start` that is still writing it.
    started: (Mutex<bool>, std::sync::Condvar),
}

impl Shared {
    /// Sends output to every attacher that wants it; drops those that went away.
    fn broadcast(&self, stream: u8, data: &[u8]) {
        let Ok(mut subs) = self.subs.lock() else {
            return;
        };
        if subs.is_empty() {
            return;
        }
        let framed = (!self.args.tty).then(|| frame(stream, data));
        subs.retain_mut(|s| {
            let wants = if stream == 2 { s.stderr } else { s.stdout };
            !wants || s.conn.write_all(framed.as_deref().unwrap_or(data)).is_ok()
        });
    }

    /// A fresh console socket path next to our own socket.
    fn console_path(&self) -> PathBuf {
        let n = self
            .consoles
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.args.socket.with_extension(format!("c{n}"))
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// Receives the pty master the runtime's init sends to a console socket.
fn receive_master(listener: &UnixListener) -> Result<fs::File, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("console socket: {e}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() > deadline {
                    return Err("the runtime never sent the terminal".into());
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(e) => return Err(format!("console socket: {e}")),
        }
    };
    conn.set_nonblocking(false)
        .map_err(|e| format!("console socket: {e}"))?;
    let mut name = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("receive the terminal: {e}"))?;
    for c in msg
        .cmsgs()
        .map_err(|e| format!("receive the terminal: {e}"))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                return Ok(fs::File::from(own(*fd)));
            }
        }
    }
    Err("the console socket carried no descriptor".into())
}

/// The container's side of its stdio, made before `create`, and ours.
struct Stdio {
    /// (reader, stream number) of each output.
    outputs: Vec<(fs::File, u8)>,
    /// What we write the container's input to.
    stdin: Option<fs::File>,
    /// The pty master.
    master: Option<fs::File>,
}

fn run(
    args: &ShimArgs,
    mut report: fs::File,
    devnull: &fs::File,
    shimlog: &fs::File,
) -> Result<(), String> {
    let _ = fs::remove_file(exit_file(&args.dir));
    let _ = fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket)
        .map_err(|e| format!("bind {}: {e}", args.socket.display()))?;
    let shared = Arc::new(Shared {
        args: args.clone(),
        subs: Mutex::new(Vec::new()),
        stdin: Mutex::new(None),
        master: None,
        exec_masters: Mutex::new(Default::default()),
        held: Mutex::new(Vec::new()),
        consoles: Default::default(),
        started: (Mutex::new(false), std::sync::Condvar::new()),
    });
    let console = shared.console_path();
    let created = create(args, &console, devnull, shimlog);
    let _ = fs::remove_file(&console);
    let (pid, stdio) = match created {
        Ok(x) => x,
        Err(msg) => {
            let msg = msg.replace('\n', " ");
            let _ = writeln!(report, "err {msg}");
            let _ = fs::remove_file(&args.socket);
            return Err(msg);
        }
    };
    let mut shared = shared;
    if let Some(s) = Arc::get_mut(&mut shared) {
        s.master = stdio.master;
        s.stdin = Mutex::new(stdio.stdin);
    }
    let _ = writeln!(report, "ok {pid}");
    drop(report);

    let s2 = shared.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let s = s2.clone();
            std::thread::spawn(move || serve(&s, conn));
        }
    });
    let log = Arc::new(Mutex::new(
        LogWriter::open(log_file(&args.dir, &args.id), &args.log)
            .map_err(|e| format!("open the log: {e}"))?,
    ));
    let readers: Vec<_> = stdio
        .outputs
        .into_iter()
        .map(|(file, stream)| {
            let log = log.clone();
            let s = shared.clone();
            std::thread::spawn(move || copy_output(file, stream, &s, &log))
        })
        .collect();
    let code = container::wait_exit(pid);
    for r in readers {
        let _ = r.join();
    }
    // The start request may still be finishing (state.json, poststart hooks).
    {
        let (lock, cv) = &shared.started;
        let mut done = lock.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !*done && std::time::Instant::now() < deadline {
            done = cv
                .wait_timeout(done, std::time::Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
    // Attachers see EOF now (their reader threads hold clones of the sockets).
    if let Ok(mut subs) = shared.subs.lock() {
        for s in subs.drain(..) {
            let _ = s.conn.shutdown(std::net::Shutdown::Both);
        }
    }
    let status = ExitStatus {
        exit_code: code as i64,
        finished_at: util::now_nanos(),
        error: String::new(),
        oom_killed: oom_killed(&args.runtime_root, &args.id),
    };
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

/// `runtime create` with the container's stdio on our fds 0–2 (the runtime's
/// init inherits them) or, with a terminal, a console socket.
fn create(
    args: &ShimArgs,
    console: &Path,
    devnull: &fs::File,
    shimlog: &fs::File,
) -> Result<(i32, Stdio), String> {
    let mut stdio = Stdio {
        outputs: Vec::new(),
        stdin: None,
        master: None,
    };
    let mut console_listener = None;
    if args.tty {
        let _ = fs::remove_file(console);
        console_listener = Some(
            UnixListener::bind(console).map_err(|e| format!("bind {}: {e}", console.display()))?,
        );
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        dup2(&out_w, 1);
        dup2(&err_w, 2);
        stdio.outputs = vec![(out_r.into(), 1), (err_r.into(), 2)];
        if args.open_stdin {
            let (in_r, in_w) = pipe()?;
            dup2(&in_r, 0);
            stdio.stdin = Some(in_w.into());
        }
    }
    let bundle = container::CreateArgs {
        bundle: args.dir.clone(),
        console_socket: args.tty.then(|| console.to_path_buf()),
        ..Default::default()
    };
    let created = container::create(&args.runtime_root, &args.id, &bundle);
    // From here on only the container holds its ends of the pipes.
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(shimlog, 2);
    let state = created.map_err(|e| e.to_string())?;
    if let Some(l) = &console_listener {
        match receive_master(l) {
            Ok(master) => {
                let reader = master.try_clone().map_err(|e| e.to_string())?;
                stdio.outputs = vec![(reader, 1)];
                stdio.stdin = master.try_clone().ok();
                stdio.master = Some(master);
            }
            Err(e) => {
                let _ = container::delete(&args.runtime_root, &args.id, true);
                return Err(e);
            }
        }
    }
    Ok((state.pid, stdio))
}

/// One connection from the daemon.
fn serve(shared: &Arc<Shared>, conn: UnixStream) {
    let mut conn = conn;
    let mut line = Vec::new();
    // One byte at a time: what follows the line belongs to the stream.
    let mut byte = [0u8; 1];
    while std::io::Read::read(&mut conn, &mut byte).unwrap_or(0) == 1 {
        if byte[0] == b'\n' || line.len() > 1024 * 1024 {
            break;
        }
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line);
    let args = &shared.args;
    match Request::parse(&line) {
        Some(Request::Watch) => {
            if let Ok(mut h) = shared.held.lock() {
                h.push(conn);
            }
        }
        Some(Request::Start) => {
            let answer = match container::start(&args.runtime_root, &args.id) {
                Ok(_) => "ok".to_string(),
                Err(e) => format!("err {}", e.to_string().replace('\n', " ")),
            };
            let _ = writeln!(conn, "{answer}");
            let (lock, cv) = &shared.started;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cv.notify_all();
        }
        Some(Request::Attach {
            stdin,
            stdout,
            stderr,
        }) => attach(shared, conn, stdin, stdout, stderr),
        Some(Request::Resize(rows, cols)) => {
            if let Some(m) = &shared.master {
                let _ = mini_runc::sys::set_window_size(m.as_raw_fd(), rows, cols);
            }
            let _ = writeln!(conn, "ok");
        }
        Some(Request::ExecResize(id, rows, cols)) => {
            if let Ok(m) = shared.exec_masters.lock() {
                if let Some(f) = m.get(&id) {
                    let _ = mini_runc::sys::set_window_size(f.as_raw_fd(), rows, cols);
                }
            }
            let _ = writeln!(conn, "ok");
        }
        Some(Request::Exec(req)) => exec(shared, conn, &req),
        None => {
            let _ = writeln!(conn, "err unknown request");
        }
    }
}

/// `attach`: output goes to the connection from now on; its input, if
/// wanted, to the container's stdin.
fn attach(shared: &Arc<Shared>, conn: UnixStream, stdin: bool, stdout: bool, stderr: bool) {
    let Ok(out) = conn.try_clone() else {
        return;
    };
    let mut conn = conn;
    {
        // Under the lock, so that no output can come before the answer.
        let Ok(mut subs) = shared.subs.lock() else {
            return;
        };
        // Registered: the daemon may start the container now, nothing is lost.
        if writeln!(conn, "ok").is_err() {
            return;
        }
        subs.push(Sub {
            conn: out,
            stdout,
            stderr,
        });
    }
    if !stdin {
        return;
    }
    let mut buf = [0u8; 32 * 1024];
    loop {
        match std::io::Read::read(&mut conn, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let Ok(mut w) = shared.stdin.lock() else {
                    break;
                };
                let written = match w.as_mut() {
                    Some(f) => f.write_all(&buf[..n]).is_ok(),
                    None => false,
                };
                if !written {
                    break;
                }
            }
        }
    }
    // The attacher's input ended: with StdinOnce (`run -i`), so does the container's.
    if shared.args.stdin_once && !shared.args.tty {
        if let Ok(mut w) = shared.stdin.lock() {
            w.take();
        }
    }
}

/// `exec`: a new process in the container, its stdio on this connection.
fn exec(shared: &Arc<Shared>, mut conn: UnixStream, req: &ExecRequest) {
    let args = &shared.args;
    let started = start_exec(shared, req);
    let (pid, outputs, stdin) = match started {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(conn, "err {}", e.replace('\n', " "));
            return;
        }
    };
    let _ = writeln!(conn, "ok {pid}");
    let tty = req.tty;
    let writer = Arc::new(Mutex::new(conn.try_clone().ok()));
    let readers: Vec<_> = outputs
        .into_iter()
        .map(|(mut f, stream)| {
            let w = writer.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    let n = match std::io::Read::read(&mut f, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let data = if tty {
                        buf[..n].to_vec()
                    } else {
                        frame(stream, &buf[..n])
                    };
                    let Ok(mut w) = w.lock() else { break };
                    if let Some(c) = w.as_mut() {
                        if c.write_all(&data).is_err() {
                            *w = None;
                        }
                    }
                }
            })
        })
        .collect();
    if let (Some(mut input), Ok(mut from)) = (stdin, conn.try_clone()) {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut input);
        });
    }
    let code = container::wait_exit(pid);
    for r in readers {
        let _ = r.join();
    }
    if let Ok(mut m) = shared.exec_masters.lock() {
        m.remove(&req.id);
    }
    let _ = util::write_atomic(
        &exec_exit_file(&args.dir, &req.id),
        code.to_string().as_bytes(),
    );
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

type ExecStdio = (i32, Vec<(fs::File, u8)>, Option<fs::File>);

fn start_exec(shared: &Arc<Shared>, req: &ExecRequest) -> Result<ExecStdio, String> {
    let args = &shared.args;
    if req.args.is_empty() {
        return Err("No exec command specified".into());
    }
    let state = container::load(&args.runtime_root, &args.id).map_err(|e| e.to_string())?;
    let mut process = container::spec_process(&state).map_err(|e| e.to_string())?;
    process.args = req.args.clone();
    for kv in &req.env {
        let key = kv.split('=').next().unwrap_or(kv);
        process
            .env
            .retain(|e| e.split('=').next().unwrap_or(e) != key);
        process.env.push(kv.clone());
    }
    if req.tty && !process.env.iter().any(|e| e.starts_with("TERM=")) {
        process.env.push("TERM=xterm".into());
    }
    if !req.cwd.is_empty() {
        process.cwd = req.cwd.clone().into();
    }
    if let Some((uid, gid)) = req.user {
        process.uid = uid;
        process.gid = gid;
        process.additional_gids = vec![gid];
    }
    process.terminal = req.tty;
    let devnull = fs::File::open("/dev/null").map_err(|e| e.to_string())?;
    let mut outputs = Vec::new();
    let mut stdin = None;
    let mut theirs: Vec<OwnedFd> = Vec::new();
    let mut console = None;
    let console_path = shared.console_path();
    if req.tty {
        let _ = fs::remove_file(&console_path);
        console = Some(
            UnixListener::bind(&console_path)
                .map_err(|e| format!("bind {}: {e}", console_path.display()))?,
        );
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        outputs = vec![(fs::File::from(out_r), 1), (fs::File::from(err_r), 2)];
        let in_fd = if req.stdin {
            let (in_r, in_w) = pipe()?;
            stdin = Some(fs::File::from(in_w));
            in_r
        } else {
            own(nix::unistd::dup(devnull.as_raw_fd()).map_err(|e| e.to_string())?)
        };
        theirs = vec![in_fd, out_w, err_w];
    }
    let stdio = if theirs.len() == 3 {
        [
            theirs[0].as_raw_fd(),
            theirs[1].as_raw_fd(),
            theirs[2].as_raw_fd(),
        ]
    } else {
        let n = devnull.as_raw_fd();
        [n, n, n]
    };
    let exec_args = container::ExecArgs {
        process,
        console_socket: req.tty.then(|| console_path.clone()),
        pid_file: None,
        detach: true,
        preserve_fds: 0,
        stdio: Some(stdio),
    };
    let pid = container::exec_process(&args.runtime_root, &args.id, &exec_args);
    drop(theirs);
    let pid = match pid {
        Ok(p) => p,
        Err(e) => {
            let _ = fs::remove_file(&console_path);
            return Err(format!("OCI runtime exec failed: {e}"));
        }
    };
    if let Some(l) = console {
        let master = receive_master(&l);
        let _ = fs::remove_file(&console_path);
        let master = master?;
        if let Some((rows, cols)) = req.size {
            let _ = mini_runc::sys::set_window_size(master.as_raw_fd(), rows, cols);
        }
        outputs = vec![(master.try_clone().map_err(|e| e.to_string())?, 1)];
        stdin = master.try_clone().ok();
        if let Ok(mut m) = shared.exec_masters.lock() {
            m.insert(req.id.clone(), master);
        }
    }
    Ok((pid, outputs, stdin))
}

/// The json-file log, rotated as Docker's json-file driver rotates it
/// (see [`super::logs`]): before a write, once the file has reached
/// `max-size`, `<log>.i` becomes `<log>.i+1` (the oldest beyond `max-file`
/// is overwritten), the log becomes `<log>.1`, and a new log is opened;
/// with `max-file=1` the log is truncated instead.
struct LogWriter {
    path: PathBuf,
    /// None with `--log-driver none`.
    file: Option<fs::File>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
}

impl LogWriter {
    fn open(path: PathBuf, c: &super::logs::LogConfig) -> std::io::Result<LogWriter> {
        let file = if c.json_file {
            Some(
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?,
            )
        } else {
            None
        };
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.len())
            .unwrap_or(0);
        Ok(LogWriter {
            path,
            file,
            size,
            max_size: c.max_size,
            max_file: c.max_file.max(1),
        })
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.file.is_none() {
            return;
        }
        if self.max_size.is_some_and(|m| self.size >= m) {
            if let Err(e) = self.rotate() {
                eprintln!("mini-shim: rotate {}: {e}", self.path.display());
            }
        }
        if let Some(f) = self.file.as_mut() {
            if f.write_all(bytes).is_ok() {
                self.size += bytes.len() as u64;
            }
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        use super::logs::rotated;
        for i in (1..self.max_file.saturating_sub(1)).rev() {
            let from = rotated(&self.path, i);
            if from.exists() {
                fs::rename(&from, rotated(&self.path, i + 1))?;
            }
        }
        if self.max_file > 1 {
            fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        // A new file (or, with max-file=1, the same one emptied).
        self.file = Some(
            fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&self.path)?,
        );
        self.size = 0;
        Ok(())
    }
}

/// Copies the container's output to the attachers, and line by line into
/// the json-file log (a last partial line is written at EOF).
fn copy_output(mut pipe: fs::File, stream: u8, shared: &Shared, log: &Mutex<LogWriter>) {
    let name = if stream == 2 { "stderr" } else { "stdout" };
    let mut buf = vec![0u8; 32 * 1024];
    let mut line: Vec<u8> = Vec::new();
    let write_line = |text: &[u8]| {
        let entry = LogLine {
            log: String::from_utf8_lossy(text).into_owned(),
            stream: name.into(),
            time: util::rfc3339_nanos(util::now_nanos()),
        };
        let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
        bytes.push(b'\n');
        if let Ok(mut f) = log.lock() {
            f.write(&bytes);
        }
    };
    loop {
        // A pty master reads EIO once the last holder of the slave is gone.
        let n = match std::io::Read::read(&mut pipe, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        shared.broadcast(stream, &buf[..n]);
        line.extend_from_slice(&buf[..n]);
        while let Some(pos) = line.iter().position(|b| *b == b'\n') {
            write_line(&line[..=pos]);
            line.drain(..=pos);
        }
        if line.len() >= 16 * 1024 {
            write_line(&line);
            line.clear();
        }
    }
    if !line.is_empty() {
        write_line(&line);
    }
}
