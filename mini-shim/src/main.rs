//! `mini-shim`: one small process per container, between the daemon and an
//! OCI runtime binary (mini-runc, runc or crun: runc's command line).
//!
//! What it does, in order:
//!
//! 1. **Two stages.** The daemon runs `mini-shim ARGS` and reads one line
//!    from its stdout. Stage 1 forks stage 2 and exits at once, so the
//!    daemon can reap it; stage 2 calls `setsid`, and so belongs to no
//!    session or process group of the daemon's: it outlives a daemon that
//!    stops or crashes.
//! 2. **A child subreaper** (`prctl(PR_SET_CHILD_SUBREAPER)`). The runtime
//!    forks the container's init and exits; the orphaned init is reparented
//!    to the nearest subreaper, us, not to the host's pid 1. So are exec'd
//!    processes. We reap them and learn their exit codes.
//! 3. **stdio.** Before `RUNTIME create` the shim makes the container's
//!    stdio: two pipes (three with `-i`), given to the runtime as its own
//!    stdio, which its init inherits; or, with `-t`, a console socket on
//!    which the runtime sends the pty master it opened for the container.
//!    Then `RUNTIME --root R create --bundle DIR --pid-file F ID`; the pid
//!    file gives the init's pid, answered to the daemon as `ok <pid>`.
//! 4. **One poll loop**, single-threaded: `poll(2)` over the container's
//!    output pipes (or the pty master), a `signalfd` for SIGCHLD, SIGTERM
//!    and SIGINT, the control socket's listener, and its connections
//!    ([`mini_shim::Request`]: watchers, attachers, exec streams). Output is
//!    copied to the attachers and, line by line, into `<id>-json.log`
//!    (Docker's json-file format, rotated by max-size and max-file).
//! 5. **Exit.** When the init has been reaped and its output has reached
//!    EOF: read the memory cgroup's `oom_kill` counter and send the exit
//!    status to the watchers (`exit JSON`: the daemon records the exit
//!    now), then `RUNTIME delete --force ID` (removes the cgroup and the
//!    runtime's state), write `exit.json` atomically (for a daemon that
//!    was not watching), remove the socket and exit. Watchers then see
//!    EOF: the shim's cleanup is over.
//!
//! Nothing here links the engine: the shim is this file and the protocol
//! in `lib.rs`, so it stays small in memory (`M_ARENA_MAX=1`, non-PIE).

use mini_shim::{
    exec_exit_file, exit_file, frame, log_file, rotated, write_atomic, ExecRequest, ExitStatus,
    LogConfig, LogLine, Request, ShimArgs,
};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recv, MsgFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    limit_malloc_arenas();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (args, stage2) = match ShimArgs::parse(&argv) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("mini-shim: {e}");
            return ExitCode::from(2);
        }
    };
    if stage2 {
        run_stage2(&args);
    }
    match stage1(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("err start the shim: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One malloc arena: the shim is single-threaded, and glibc's default of
/// one arena per core (each reserving address space and keeping its own
/// free lists) only costs memory here.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator tunable; it is called first
    // thing in main, before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Stage 1: fork stage 2 (which inherits our stdout, the pipe the daemon
/// reads) and return at once, so the daemon can reap us. (`--stage2` on
/// the command line runs stage 2 directly, for a person debugging.)
#[allow(unsafe_code)]
fn stage1(args: &ShimArgs) -> std::io::Result<()> {
    use nix::unistd::ForkResult;
    // SAFETY: the shim has started no thread (it never does), so the child
    // of this fork may run any code, not only async-signal-safe calls.
    match unsafe { nix::unistd::fork() }.map_err(std::io::Error::from)? {
        ForkResult::Parent { .. } => Ok(()),
        ForkResult::Child => run_stage2(args),
    }
}

/// Stage 2: the shim proper. Never returns.
fn run_stage2(args: &ShimArgs) -> ! {
    let _ = nix::unistd::setsid();
    // The report channel: our stdout now, moved out of the way.
    let report = match nix::fcntl::fcntl(1, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)) {
        // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; nothing else owns it.
        Ok(fd) => File::from(own(fd)),
        Err(_) => std::process::exit(1),
    };
    let Ok(devnull) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        std::process::exit(1)
    };
    let shimlog = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.dir.join("shim.log"))
        .or_else(|_| devnull.try_clone());
    let Ok(shimlog) = shimlog else {
        std::process::exit(1)
    };
    // Our own stdio from now on: nothing in, errors to shim.log.
    let _ = nix::unistd::dup2(devnull.as_raw_fd(), 0);
    let _ = nix::unistd::dup2(devnull.as_raw_fd(), 1);
    let _ = nix::unistd::dup2(shimlog.as_raw_fd(), 2);
    drop(shimlog);
    match run(args, report, devnull) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("mini-shim {}: {e}", args.id);
            std::process::exit(1)
        }
    }
}

/// Takes ownership of a descriptor a syscall just returned.
#[allow(unsafe_code)]
fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: every caller passes a descriptor that a syscall (fcntl
    // F_DUPFD_CLOEXEC, recvmsg's SCM_RIGHTS) has just created for this
    // process, and that nothing else has taken ownership of.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The runtime binary, run with runc's command line.
struct Runtime<'a> {
    args: &'a ShimArgs,
    /// `--log`: where the runtime writes its errors as JSON lines
    /// (`{"level":"error","msg":…}`), as containerd's shim asks runc to.
    log: PathBuf,
}

impl Runtime<'_> {
    /// `RUNTIME --root R --log L --log-format json VERB ARGS…` with the given
    /// stdio; `Err(the runtime's last error message)` if it failed.
    fn run(&self, verb: &[&str], stdio: [Stdio; 3]) -> Result<(), String> {
        let before = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let [stdin, stdout, stderr] = stdio;
        let mut cmd = Command::new(&self.args.runtime);
        restore_signals(&mut cmd);
        let status = cmd
            .arg("--root")
            .arg(&self.args.runtime_root)
            .arg("--log")
            .arg(&self.log)
            .arg("--log-format")
            .arg("json")
            .args(verb)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .map_err(|e| format!("run {}: {e}", self.args.runtime.display()))?;
        if status.success() {
            return Ok(());
        }
        Err(self
            .last_error(before)
            .unwrap_or_else(|| format!("{} {} failed ({status})", self.name(), verb[0])))
    }

    fn name(&self) -> String {
        self.args
            .runtime
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The last `"level":"error"` message the runtime logged after `offset`.
    fn last_error(&self, offset: u64) -> Option<String> {
        let text = fs::read(&self.log).ok()?;
        let new = text.get(offset as usize..)?;
        String::from_utf8_lossy(new)
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == "error")
            .find_map(|v| v["msg"].as_str().map(String::from))
    }
}

/// The runtime (and so the container's init, which it forks) starts with
/// no signal blocked and SIGPIPE at its default: signal masks and ignored
/// signals pass through `execve`, and the shim blocks SIGCHLD, SIGTERM and
/// SIGINT (for its signalfd) and ignores SIGPIPE (Rust's default).
#[allow(unsafe_code)]
fn restore_signals(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs in the forked child before execve and makes
    // only async-signal-safe calls (sigprocmask, signal).
    unsafe {
        cmd.pre_exec(reset_signals_in_child);
    }
}

#[allow(unsafe_code)]
fn reset_signals_in_child() -> std::io::Result<()> {
    // SAFETY: an all-zero sigset_t is a valid (empty) set on Linux.
    let set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live local; the old mask is not asked for.
    unsafe {
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    // SAFETY: setting a signal's disposition to its default is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

fn set_nonblocking(fd: &impl AsRawFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags));
    }
}

/// Sets a terminal's window size (`TIOCSWINSZ` on the pty master).
#[allow(unsafe_code)]
fn set_window_size(master: &File, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` through the pointer, which
    // points at a live local; the fd is an open pty master we own.
    unsafe {
        libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
    }
}

/// Waits (up to 10 s) for the runtime to connect to a console socket, and
/// receives the pty master it sends (`SCM_RIGHTS`).
fn receive_master(listener: &UnixListener) -> Result<File, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::from(10_000u16)) {
        Ok(0) => return Err("the runtime never sent the terminal".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("console socket: {e}")),
    }
    let (conn, _) = listener
        .accept()
        .map_err(|e| format!("console socket: {e}"))?;
    let mut name = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
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
            let mut fds = fds.into_iter().map(own);
            if let Some(fd) = fds.next() {
                return Ok(File::from(fd));
            }
        }
    }
    Err("the console socket carried no descriptor".into())
}

/// Reads the pid the runtime wrote, and removes the file.
fn read_pid_file(path: &Path) -> Result<i32, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let _ = fs::remove_file(path);
    text.trim()
        .parse()
        .map_err(|_| format!("{} holds no pid: {text:?}", path.display()))
}

/// A console socket, bound before the runtime runs, removed when dropped.
struct Console {
    path: PathBuf,
    listener: UnixListener,
}

impl Console {
    fn bind(path: PathBuf) -> Result<Console, String> {
        let _ = fs::remove_file(&path);
        let listener =
            UnixListener::bind(&path).map_err(|e| format!("bind {}: {e}", path.display()))?;
        Ok(Console { path, listener })
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whatever we write into a process's stdin: a pipe's write end or a pty
/// master, non-blocking, with what it could not take yet kept here (a
/// container that does not read its input must not stall the loop).
struct Input {
    file: File,
    pending: Vec<u8>,
    /// Close once `pending` is written (the attacher's input ended).
    close: bool,
}

impl Input {
    fn new(file: File) -> Input {
        set_nonblocking(&file);
        Input {
            file,
            pending: Vec::new(),
            close: false,
        }
    }

    /// Writes what it can; false once the process's input is gone.
    fn flush(&mut self) -> bool {
        while !self.pending.is_empty() {
            match self.file.write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        !self.close
    }
}

/// One output of the container (stdout, stderr, or the pty master).
struct Output {
    file: File,
    /// 1 stdout, 2 stderr.
    stream: u8,
    /// The start of a line not yet logged.
    line: Vec<u8>,
}

/// The json-file log, rotated as Docker's json-file driver rotates it:
/// before a write, once the file has reached `max-size`, `<log>.i` becomes
/// `<log>.i+1` (the oldest beyond `max-file` is overwritten), the log
/// becomes `<log>.1`, and a new log is opened; with `max-file=1` the log is
/// truncated instead.
struct LogWriter {
    path: PathBuf,
    /// None with `--log-driver none`.
    file: Option<File>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
}

impl LogWriter {
    fn open(path: PathBuf, c: &LogConfig) -> std::io::Result<LogWriter> {
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
        let size = match &file {
            Some(f) => f.metadata()?.len(),
            None => 0,
        };
        Ok(LogWriter {
            path,
            file,
            size,
            max_size: c.max_size,
            max_file: c.max_file.max(1),
        })
    }

    /// One log entry for `text` (a line with its newline, or a last part).
    fn line(&mut self, stream: u8, text: &[u8]) {
        if self.file.is_none() {
            return;
        }
        let entry = LogLine {
            log: String::from_utf8_lossy(text).into_owned(),
            stream: if stream == 2 { "stderr" } else { "stdout" }.into(),
            time: mini_docker_api::time::now_rfc3339(),
        };
        let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
        bytes.push(b'\n');
        if self.max_size.is_some_and(|m| self.size >= m) {
            if let Err(e) = self.rotate() {
                eprintln!("mini-shim: rotate {}: {e}", self.path.display());
            }
        }
        if let Some(f) = self.file.as_mut() {
            if f.write_all(&bytes).is_ok() {
                self.size += bytes.len() as u64;
            }
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
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

/// Shell-style exit code of a reaped process.
fn exit_code(status: WaitStatus) -> Option<(i32, i32)> {
    match status {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), code)),
        WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), 128 + sig as i32)),
        _ => None,
    }
}

/// The file holding the `oom_kill` counter of the memory cgroup `pid` is
/// in: `memory.oom_control` (cgroup v1) or `memory.events` (v2), found
/// from `/proc/<pid>/cgroup` and where the hierarchies are mounted
/// (`/proc/self/mountinfo`). Read while the container's init is alive: the
/// runtime placed it in its cgroup during `create`.
fn oom_counter_file(pid: i32) -> Option<PathBuf> {
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    // (fs type, super options, root, mount point) of each cgroup mount.
    let mounts: Vec<(&str, &str, &str, &str)> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            Some((
                *right.first()?,
                *right.get(2)?,
                *left.get(3)?,
                *left.get(4)?,
            ))
        })
        .filter(|m| m.0 == "cgroup" || m.0 == "cgroup2")
        .collect();
    let under = |root: &str, mount: &str, path: &str, file: &str| {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .trim_start_matches('/');
        let p = Path::new(mount).join(rel).join(file);
        p.exists().then_some(p)
    };
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.split(',').any(|c| c == "memory") {
            let m = mounts
                .iter()
                .find(|m| m.0 == "cgroup" && m.1.split(',').any(|o| o == "memory"))?;
            return under(m.2, m.3, path, "memory.oom_control");
        }
    }
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let m = mounts.iter().find(|m| m.0 == "cgroup2")?;
    under(m.2, m.3, path, "memory.events")
}

/// Whether the `oom_kill` counter is above zero.
fn oom_killed(file: Option<&Path>) -> bool {
    let Some(text) = file.and_then(|f| fs::read_to_string(f).ok()) else {
        return false;
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .any(|n| n.trim().parse::<u64>().is_ok_and(|n| n > 0))
}

/// What a connection to the control socket is, once its first line came.
enum Conn {
    /// Its request line is still arriving.
    Pending(Vec<u8>),
    /// `watch`: held until we exit.
    Watch,
    /// `attach`: output goes to it; its input (if `stdin`) to the container.
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// The stdio of the exec with this id.
    Exec(String),
}

struct Client {
    sock: UnixStream,
    kind: Conn,
    /// Its input ended (or is not wanted): not polled for reading.
    input_done: bool,
}

/// A process started by `exec`.
struct ExecProc {
    id: String,
    pid: i32,
    tty: bool,
    outputs: Vec<Output>,
    stdin: Option<Input>,
    master: Option<File>,
    code: Option<i32>,
}

/// The shim's whole state: everything the loop polls.
struct Shim<'a> {
    args: &'a ShimArgs,
    runtime: Runtime<'a>,
    devnull: File,
    listener: UnixListener,
    signals: SignalFd,
    clients: Vec<Client>,
    outputs: Vec<Output>,
    stdin: Option<Input>,
    master: Option<File>,
    execs: Vec<ExecProc>,
    log: LogWriter,
    init: i32,
    init_code: Option<i32>,
    /// When the init was reaped (the exit waits a while for `start`).
    init_reaped_at: Option<Instant>,
    started: bool,
    oom_file: Option<PathBuf>,
    consoles: u32,
}

/// What each entry of the poll set stands for.
#[derive(Clone, Copy)]
enum Slot {
    Signals,
    Listener,
    Output(usize),
    Stdin,
    Client(usize),
    ExecOutput(usize, usize),
    ExecStdin(usize),
}

fn run(args: &ShimArgs, mut report: File, devnull: File) -> Result<(), String> {
    let _ = fs::remove_file(exit_file(&args.dir));
    let _ = fs::remove_file(&args.socket);
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| format!("become a subreaper: {e}"))?;
    // SIGCHLD (and SIGTERM, SIGINT) arrive as reads on a signalfd, in the
    // loop, rather than as handlers running at any point.
    let mut mask = SigSet::empty();
    for s in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("block signals: {e}"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| format!("signalfd: {e}"))?;
    let listener = UnixListener::bind(&args.socket)
        .map_err(|e| format!("bind {}: {e}", args.socket.display()))?;
    // Accepted in a loop until EAGAIN (the connections themselves stay
    // blocking: accept4 does not pass O_NONBLOCK on).
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{}: {e}", args.socket.display()))?;
    let log = LogWriter::open(log_file(&args.dir, &args.id), &args.log)
        .map_err(|e| format!("open the log: {e}"))?;
    let mut shim = Shim {
        args,
        runtime: Runtime {
            args,
            log: args.dir.join("log.json"),
        },
        devnull,
        listener,
        signals,
        clients: Vec::new(),
        outputs: Vec::new(),
        stdin: None,
        master: None,
        execs: Vec::new(),
        log,
        init: 0,
        init_code: None,
        init_reaped_at: None,
        started: false,
        oom_file: None,
        consoles: 0,
    };
    match shim.create() {
        Ok(()) => {
            let _ = writeln!(report, "ok {}", shim.init);
            drop(report);
        }
        Err(msg) => {
            let msg = msg.replace('\n', " ");
            let _ = writeln!(report, "err {msg}");
            let _ = fs::remove_file(&args.socket);
            return Err(msg);
        }
    }
    shim.serve()?;
    shim.finish()
}

impl Shim<'_> {
    /// A fresh console socket path next to our own socket.
    fn console_path(&mut self) -> PathBuf {
        self.consoles += 1;
        self.args
            .socket
            .with_extension(format!("c{}", self.consoles - 1))
    }

    fn null(&self) -> Result<Stdio, String> {
        self.devnull
            .try_clone()
            .map(Stdio::from)
            .map_err(|e| format!("dup /dev/null: {e}"))
    }

    /// `RUNTIME create`, with the container's stdio as the runtime's own (its
    /// init inherits them) or, with a terminal, a console socket.
    fn create(&mut self) -> Result<(), String> {
        let args = self.args;
        let pid_file = args.dir.join("init.pid");
        let bundle = args.dir.display().to_string();
        let mut verb = vec![
            "create".to_string(),
            "--bundle".into(),
            bundle,
            "--pid-file".into(),
            pid_file.display().to_string(),
        ];
        let mut console = None;
        let stdio = if args.tty {
            let c = Console::bind(self.console_path())?;
            verb.extend(["--console-socket".into(), c.path.display().to_string()]);
            console = Some(c);
            [self.null()?, self.null()?, self.null()?]
        } else {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            self.outputs = vec![output(out_r, 1), output(err_r, 2)];
            let stdin = if args.open_stdin {
                let (in_r, in_w) = pipe()?;
                self.stdin = Some(Input::new(in_w.into()));
                Stdio::from(in_r)
            } else {
                self.null()?
            };
            [stdin, Stdio::from(out_w), Stdio::from(err_w)]
        };
        verb.push(args.id.clone());
        let verb: Vec<&str> = verb.iter().map(String::as_str).collect();
        // The Command drops its copies of the container's ends when done:
        // from then on only the container holds them.
        self.runtime.run(&verb, stdio)?;
        let pid = match read_pid_file(&pid_file) {
            Ok(pid) => pid,
            Err(e) => {
                self.delete();
                return Err(e);
            }
        };
        self.init = pid;
        self.oom_file = oom_counter_file(pid);
        if let Some(c) = console {
            match receive_master(&c.listener) {
                Ok(master) => {
                    let reader = master.try_clone().map_err(|e| e.to_string())?;
                    set_nonblocking(&reader);
                    self.outputs = vec![Output {
                        file: reader,
                        stream: 1,
                        line: Vec::new(),
                    }];
                    self.stdin = master.try_clone().ok().map(Input::new);
                    self.master = Some(master);
                }
                Err(e) => {
                    self.delete();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// `RUNTIME delete --force`: the container's cgroup and the runtime's
    /// state. The cgroup may stay busy for a moment after the last process
    /// was reaped, so this retries for up to a second.
    fn delete(&self) {
        let id = self.args.id.as_str();
        for _ in 0..100 {
            let stdio =
                || -> Result<[Stdio; 3], String> { Ok([self.null()?, self.null()?, self.null()?]) };
            let Ok(stdio) = stdio() else { return };
            match self.runtime.run(&["delete", "--force", id], stdio) {
                Ok(()) => return,
                Err(e) if self.args.runtime_root.join(id).exists() => {
                    eprintln!("mini-shim {id}: delete: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return,
            }
        }
    }

    /// The loop: until the init has been reaped, its output has ended, and
    /// its `start` was answered (or never came within a minute).
    fn serve(&mut self) -> Result<(), String> {
        loop {
            if let Some(at) = self.init_reaped_at {
                if self.outputs.is_empty()
                    && (self.started || at.elapsed() > Duration::from_secs(60))
                {
                    return Ok(());
                }
            }
            let (slots, events) = self.poll_once()?;
            for (slot, ev) in slots.into_iter().zip(events) {
                if ev.is_empty() {
                    continue;
                }
                self.handle(slot);
            }
            // Removals wait for the end of the round: the slots hold indices.
            self.outputs.retain(|o| o.stream != 0);
            for e in &mut self.execs {
                e.outputs.retain(|o| o.stream != 0);
            }
            self.reap_finished_execs();
            self.clients.retain(
                |c| !matches!(c.kind, Conn::Pending(ref b) if b.is_empty() && c.input_done),
            );
        }
    }

    /// One `poll(2)` over everything; returns what each entry stands for and
    /// its events.
    fn poll_once(&self) -> Result<(Vec<Slot>, Vec<PollFlags>), String> {
        let mut slots = vec![Slot::Signals, Slot::Listener];
        let mut fds = vec![
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
        ];
        // While the container's input is full, its attachers' input waits.
        let stdin_full = self.stdin.as_ref().is_some_and(|i| !i.pending.is_empty());
        for (i, o) in self.outputs.iter().enumerate() {
            slots.push(Slot::Output(i));
            fds.push(PollFd::new(o.file.as_fd(), PollFlags::POLLIN));
        }
        if let Some(input) = self.stdin.as_ref().filter(|_| stdin_full) {
            slots.push(Slot::Stdin);
            fds.push(PollFd::new(input.file.as_fd(), PollFlags::POLLOUT));
        }
        for (i, c) in self.clients.iter().enumerate() {
            let blocked = match &c.kind {
                Conn::Attach { stdin: true, .. } => stdin_full,
                Conn::Exec(id) => self
                    .execs
                    .iter()
                    .find(|x| &x.id == id)
                    .and_then(|x| x.stdin.as_ref())
                    .is_some_and(|i| !i.pending.is_empty()),
                _ => false,
            };
            if !c.input_done && !blocked {
                slots.push(Slot::Client(i));
                fds.push(PollFd::new(c.sock.as_fd(), PollFlags::POLLIN));
            }
        }
        for (x, e) in self.execs.iter().enumerate() {
            for (i, o) in e.outputs.iter().enumerate() {
                slots.push(Slot::ExecOutput(x, i));
                fds.push(PollFd::new(o.file.as_fd(), PollFlags::POLLIN));
            }
            if let Some(input) = e.stdin.as_ref().filter(|i| !i.pending.is_empty()) {
                slots.push(Slot::ExecStdin(x));
                fds.push(PollFd::new(input.file.as_fd(), PollFlags::POLLOUT));
            }
        }
        // Only waiting for a `start` that may never come needs a timeout.
        let timeout = if self.init_reaped_at.is_some() {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::NONE
        };
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let events = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        Ok((slots, events))
    }

    fn handle(&mut self, slot: Slot) {
        match slot {
            Slot::Signals => self.on_signals(),
            Slot::Listener => {
                while let Ok((sock, _)) = self.listener.accept() {
                    self.clients.push(Client {
                        sock,
                        kind: Conn::Pending(Vec::new()),
                        input_done: false,
                    });
                }
            }
            Slot::Output(i) => {
                if !self.on_output(i) {
                    // Mark for removal: EOF (or EIO: a pty whose last slave closed).
                    self.outputs[i].stream = 0;
                }
            }
            Slot::Stdin => {
                if let Some(input) = self.stdin.as_mut() {
                    if !input.flush() {
                        self.stdin = None;
                    }
                }
            }
            Slot::Client(i) => self.on_client(i),
            Slot::ExecOutput(x, i) => self.on_exec_output(x, i),
            Slot::ExecStdin(x) => {
                let e = &mut self.execs[x];
                if let Some(input) = e.stdin.as_mut() {
                    if !input.flush() {
                        e.stdin = None;
                    }
                }
            }
        }
    }

    /// SIGCHLD: reap every child that exited (the init, execs, orphans that
    /// were reparented to us). SIGTERM, SIGINT: pass them on to the init,
    /// whose exit then ends the shim in order.
    fn on_signals(&mut self) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            let signo = info.ssi_signo as i32;
            let stop = signo == libc::SIGTERM || signo == libc::SIGINT;
            if stop && self.init > 0 && self.init_code.is_none() {
                let _ =
                    nix::sys::signal::kill(Pid::from_raw(self.init), Signal::try_from(signo).ok());
            }
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    let Some((pid, code)) = exit_code(status) else {
                        continue;
                    };
                    if pid == self.init {
                        self.init_code = Some(code);
                        self.init_reaped_at = Some(Instant::now());
                    } else if let Some(e) = self.execs.iter_mut().find(|e| e.pid == pid) {
                        e.code = Some(code);
                    }
                }
            }
        }
    }

    /// Reads one chunk of the container's output: to the attachers, and
    /// into the log line by line. False at EOF.
    fn on_output(&mut self, i: usize) -> bool {
        let mut buf = [0u8; 32 * 1024];
        let o = &mut self.outputs[i];
        let n = match o.file.read(&mut buf) {
            Ok(0) => 0,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return true
            }
            Err(_) => 0,
        };
        let stream = o.stream;
        if n == 0 {
            let rest = std::mem::take(&mut o.line);
            if !rest.is_empty() {
                self.log.line(stream, &rest);
            }
            return false;
        }
        let data = &buf[..n];
        o.line.extend_from_slice(data);
        while let Some(pos) = o.line.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = o.line.drain(..=pos).collect();
            self.log.line(stream, &line);
        }
        if o.line.len() >= 16 * 1024 {
            let line = std::mem::take(&mut o.line);
            self.log.line(stream, &line);
        }
        self.broadcast(stream, data);
        true
    }

    /// Sends output to every attacher that wants it; drops those that went away.
    fn broadcast(&mut self, stream: u8, data: &[u8]) {
        let framed = (!self.args.tty).then(|| frame(stream, data));
        let bytes = framed.as_deref().unwrap_or(data);
        // Marked, not removed: the round's slots hold indices into
        // `clients`, and removing one here would shift the others (the
        // loop removes the marked ones at the end of the round).
        for c in &mut self.clients {
            if let Conn::Attach { stdout, stderr, .. } = c.kind {
                let wants = if stream == 2 { stderr } else { stdout };
                if wants && c.sock.write_all(bytes).is_err() {
                    let _ = c.sock.shutdown(std::net::Shutdown::Both);
                    c.kind = Conn::Pending(Vec::new());
                    c.input_done = true;
                }
            }
        }
    }

    /// A connection is readable: its request line, or input to forward.
    fn on_client(&mut self, i: usize) {
        let mut buf = [0u8; 32 * 1024];
        let fd = self.clients[i].sock.as_raw_fd();
        if let Conn::Pending(line) = &mut self.clients[i].kind {
            // Up to the newline only: what follows belongs to the stream.
            let n = match recv(fd, &mut buf, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(_) => 0,
            };
            if n == 0 {
                line.clear();
                self.clients[i].input_done = true;
                return;
            }
            let end = buf[..n].iter().position(|b| *b == b'\n');
            let take = end.map(|p| p + 1).unwrap_or(n);
            let _ = recv(fd, &mut buf[..take], MsgFlags::MSG_DONTWAIT);
            line.extend_from_slice(&buf[..end.unwrap_or(take)]);
            if end.is_none() && line.len() <= 1024 * 1024 {
                return;
            }
            let text = String::from_utf8_lossy(line).into_owned();
            self.on_request(i, Request::parse(&text));
            return;
        }
        let c = &mut self.clients[i];
        let n = match c.sock.read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            Err(_) => 0,
        };
        let kind = c.kind.clone_kind();
        if n == 0 {
            c.input_done = true;
        }
        let input = match &kind {
            Conn::Attach { stdin: true, .. } => {
                // The attacher's input ended: with StdinOnce (`run -i`), so
                // does the container's.
                let closes = self.args.stdin_once && !self.args.tty;
                if n == 0 && !closes {
                    return;
                }
                &mut self.stdin
            }
            Conn::Exec(id) => match self.execs.iter_mut().find(|e| e.id == *id) {
                Some(e) => &mut e.stdin,
                None => {
                    self.clients[i].input_done = true;
                    return;
                }
            },
            // A watcher that hangs up is gone (a restarted daemon watches
            // anew); an output-only attacher's input does not matter.
            Conn::Watch if n == 0 => {
                self.drop_client(i);
                return;
            }
            _ => return,
        };
        let Some(sink) = input.as_mut() else {
            return;
        };
        if n == 0 {
            sink.close = true;
        } else {
            sink.pending.extend_from_slice(&buf[..n]);
        }
        if !sink.flush() {
            *input = None;
        }
    }

    fn on_request(&mut self, i: usize, req: Option<Request>) {
        let c = &mut self.clients[i];
        c.kind = Conn::Watch;
        match req {
            Some(Request::Watch) => {}
            Some(Request::Start) => {
                let answer = match self.start() {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("err {}", e.replace('\n', " ")),
                };
                let _ = writeln!(self.clients[i].sock, "{answer}");
                self.started = true;
                self.drop_client(i);
            }
            Some(Request::Attach {
                stdin,
                stdout,
                stderr,
            }) => {
                // Registered before the answer: the daemon may start the
                // container once it reads it, and no output is lost.
                c.kind = Conn::Attach {
                    stdin,
                    stdout,
                    stderr,
                };
                c.input_done = !stdin;
                if writeln!(c.sock, "ok").is_err() {
                    self.drop_client(i);
                }
            }
            Some(Request::Resize(rows, cols)) => {
                if let Some(m) = &self.master {
                    set_window_size(m, rows, cols);
                }
                let _ = writeln!(c.sock, "ok");
                self.drop_client(i);
            }
            Some(Request::ExecResize(id, rows, cols)) => {
                if let Some(m) = self
                    .execs
                    .iter()
                    .find(|e| e.id == id)
                    .and_then(|e| e.master.as_ref())
                {
                    set_window_size(m, rows, cols);
                }
                let _ = writeln!(c.sock, "ok");
                self.drop_client(i);
            }
            Some(Request::Exec(req)) => match self.exec(&req) {
                Ok(pid) => {
                    let c = &mut self.clients[i];
                    c.kind = Conn::Exec(req.id.clone());
                    c.input_done = !req.stdin;
                    let _ = writeln!(c.sock, "ok {pid}");
                }
                Err(e) => {
                    let _ = writeln!(self.clients[i].sock, "err {}", e.replace('\n', " "));
                    self.drop_client(i);
                }
            },
            None => {
                let _ = writeln!(c.sock, "err unknown request");
                self.drop_client(i);
            }
        }
    }

    /// Closes a connection whose request is answered (later, in the loop,
    /// so that the indices of this round stay valid).
    fn drop_client(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let _ = c.sock.shutdown(std::net::Shutdown::Both);
        c.kind = Conn::Pending(Vec::new());
        c.input_done = true;
    }

    /// Reads the request line of every connection that has not sent one
    /// yet, waiting at most 100 ms in all. A container that exits at once
    /// can end the loop in the round that accepted the daemon's `watch`
    /// connection, before its line was read: without this, that watcher
    /// would get no `exit` report and would wait for the cleanup's EOF
    /// (`RUNTIME delete`, `exit.json`; 440 ms in one traced run).
    fn settle_pending(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(100);
        loop {
            self.handle(Slot::Listener);
            let pending: Vec<usize> = (0..self.clients.len())
                .filter(|&i| {
                    let c = &self.clients[i];
                    matches!(c.kind, Conn::Pending(_)) && !c.input_done
                })
                .collect();
            let left = deadline.saturating_duration_since(Instant::now());
            if pending.is_empty() || left.is_zero() {
                return;
            }
            let ready: Vec<usize> = {
                let mut fds: Vec<PollFd> = pending
                    .iter()
                    .map(|&i| PollFd::new(self.clients[i].sock.as_fd(), PollFlags::POLLIN))
                    .collect();
                let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
                match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(0) => return,
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => return,
                }
                pending
                    .iter()
                    .zip(&fds)
                    .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(&i, _)| i)
                    .collect()
            };
            for i in ready {
                self.on_client(i);
            }
        }
    }

    /// `RUNTIME start`: the init runs the container's process.
    fn start(&self) -> Result<(), String> {
        let stdio = [self.null()?, self.null()?, self.null()?];
        self.runtime.run(&["start", &self.args.id], stdio)
    }

    /// `RUNTIME exec --process P --detach --pid-file F`: a new process in
    /// the container, its stdio on pipes (or a pty) the shim keeps.
    fn exec(&mut self, req: &ExecRequest) -> Result<i32, String> {
        if self.init_code.is_some() {
            return Err(format!("container {} is not running", self.args.id));
        }
        let config = fs::read(self.args.dir.join("config.json"))
            .map_err(|e| format!("read the container's config.json: {e}"))?;
        let config: serde_json::Value = serde_json::from_slice(&config)
            .map_err(|e| format!("the container's config.json: {e}"))?;
        let process = req.process(&config["process"])?;
        let process_file = self.args.dir.join(format!("exec-{}.process.json", req.id));
        let pid_file = self.args.dir.join(format!("exec-{}.pid", req.id));
        write_atomic(
            &process_file,
            &serde_json::to_vec(&process).unwrap_or_default(),
        )
        .map_err(|e| format!("write {}: {e}", process_file.display()))?;
        let mut verb = vec![
            "exec".to_string(),
            "--process".into(),
            process_file.display().to_string(),
            "--detach".into(),
            "--pid-file".into(),
            pid_file.display().to_string(),
        ];
        let mut outputs = Vec::new();
        let mut stdin = None;
        let mut console = None;
        let stdio = if req.tty {
            let c = Console::bind(self.console_path())?;
            verb.extend(["--console-socket".into(), c.path.display().to_string()]);
            console = Some(c);
            [self.null()?, self.null()?, self.null()?]
        } else {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            outputs = vec![output(out_r, 1), output(err_r, 2)];
            let input = if req.stdin {
                let (in_r, in_w) = pipe()?;
                stdin = Some(Input::new(in_w.into()));
                Stdio::from(in_r)
            } else {
                self.null()?
            };
            [input, Stdio::from(out_w), Stdio::from(err_w)]
        };
        verb.push(self.args.id.clone());
        let verb: Vec<&str> = verb.iter().map(String::as_str).collect();
        let ran = self.runtime.run(&verb, stdio);
        let _ = fs::remove_file(&process_file);
        if let Err(e) = ran {
            let _ = fs::remove_file(&pid_file);
            return Err(format!("OCI runtime exec failed: {e}"));
        }
        let pid = read_pid_file(&pid_file)?;
        let mut master = None;
        if let Some(c) = console {
            let m = receive_master(&c.listener)?;
            if let Some((rows, cols)) = req.size {
                set_window_size(&m, rows, cols);
            }
            let reader = m.try_clone().map_err(|e| e.to_string())?;
            set_nonblocking(&reader);
            outputs = vec![Output {
                file: reader,
                stream: 1,
                line: Vec::new(),
            }];
            stdin = m.try_clone().ok().map(Input::new);
            master = Some(m);
        }
        self.execs.push(ExecProc {
            id: req.id.clone(),
            pid,
            tty: req.tty,
            outputs,
            stdin,
            master,
            code: None,
        });
        Ok(pid)
    }

    /// An exec's output: to its connection, framed unless it has a terminal.
    fn on_exec_output(&mut self, x: usize, i: usize) {
        let mut buf = [0u8; 32 * 1024];
        let e = &mut self.execs[x];
        let o = &mut e.outputs[i];
        let n = match o.file.read(&mut buf) {
            Ok(n) => n,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return
            }
            Err(_) => 0,
        };
        if n == 0 {
            o.stream = 0;
            return;
        }
        let bytes = if e.tty {
            buf[..n].to_vec()
        } else {
            frame(o.stream, &buf[..n])
        };
        let id = e.id.clone();
        for c in &mut self.clients {
            if matches!(&c.kind, Conn::Exec(cid) if *cid == id) && c.sock.write_all(&bytes).is_err()
            {
                let _ = c.sock.shutdown(std::net::Shutdown::Both);
                c.kind = Conn::Pending(Vec::new());
                c.input_done = true;
            }
        }
    }

    /// Execs whose process was reaped and whose output ended: their exit
    /// code goes to `exec-<id>.exit`, then their connection closes.
    fn reap_finished_execs(&mut self) {
        let mut i = 0;
        while i < self.execs.len() {
            let e = &self.execs[i];
            let Some(code) = e.code.filter(|_| e.outputs.is_empty()) else {
                i += 1;
                continue;
            };
            let e = self.execs.remove(i);
            let _ = write_atomic(
                &exec_exit_file(&self.args.dir, &e.id),
                code.to_string().as_bytes(),
            );
            for c in &mut self.clients {
                if matches!(&c.kind, Conn::Exec(id) if *id == e.id) {
                    let _ = c.sock.shutdown(std::net::Shutdown::Both);
                    c.kind = Conn::Pending(Vec::new());
                    c.input_done = true;
                }
            }
        }
    }

    /// The container exited: attachers see EOF, the runtime's state goes,
    /// `exit.json` records the exit.
    fn finish(mut self) -> Result<(), String> {
        self.settle_pending();
        for c in &self.clients {
            if matches!(c.kind, Conn::Attach { .. }) {
                let _ = c.sock.shutdown(std::net::Shutdown::Both);
            }
        }
        let status = ExitStatus {
            exit_code: self.init_code.unwrap_or(-1) as i64,
            finished_at: mini_docker_api::time::now_nanos(),
            error: String::new(),
            oom_killed: oom_killed(self.oom_file.as_deref()),
        };
        // The news first: each watcher gets `exit JSON` now, so the daemon
        // records the exit (and a `wait` returns) while we clean up. The
        // file below is for a daemon that was not watching (restarted).
        if let Ok(json) = serde_json::to_string(&status) {
            let line = format!("exit {json}\n");
            for c in &self.clients {
                if matches!(c.kind, Conn::Watch) {
                    let _ = (&c.sock).write_all(line.as_bytes());
                }
            }
        }
        self.delete();
        status
            .write(&self.args.dir)
            .map_err(|e| format!("write exit.json: {e}"))?;
        let _ = fs::remove_file(&self.args.socket);
        // Watchers (held in `self.clients`) see EOF as the process exits.
        Ok(())
    }
}

fn output(fd: OwnedFd, stream: u8) -> Output {
    Output {
        file: File::from(fd),
        stream,
        line: Vec::new(),
    }
}

impl Conn {
    /// The kind, without the pending line (for a match that then borrows the shim).
    fn clone_kind(&self) -> Conn {
        match self {
            Conn::Pending(_) => Conn::Pending(Vec::new()),
            Conn::Watch => Conn::Watch,
            Conn::Attach {
                stdin,
                stdout,
                stderr,
            } => Conn::Attach {
                stdin: *stdin,
                stdout: *stdout,
                stderr: *stderr,
            },
            Conn::Exec(id) => Conn::Exec(id.clone()),
        }
    }
}
