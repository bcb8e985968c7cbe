//! Interactive streams: `run -it`, `start -ai`, `attach`, `exec -it`.
//!
//! The client asks the daemon to *hijack* the HTTP connection (see
//! [`Client::hijack`]) and then copies bytes: the local terminal's keys to the
//! container, the container's output to the local terminal. With `-t` the
//! local terminal is put in raw mode (every key goes through as typed, Ctrl-C
//! included, and the container's pty does the line editing); a guard
//! restores it on every way out. The window size is sent at start and on
//! every `SIGWINCH`. Ctrl-P Ctrl-Q (or `--detach-keys`) detaches: the
//! container keeps running. Without `-t`, signals the client receives are
//! forwarded to the container (`--sig-proxy`, on by default).

use super::http::{self, Client, ClientError, Hijacked};
use super::Failure;
use mini_docker_api::detach::{parse_detach_keys, DetachWatch, DEFAULT_DETACH_KEYS};
use nix::sys::signal::{SigSet, Signal};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::mpsc;

fn bad(code: u8, m: impl Into<String>) -> Failure {
    Failure {
        code,
        message: m.into(),
    }
}

/// The local terminal in raw mode until dropped.
pub struct RawTerminal {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawTerminal {
    /// Raw mode on stdin, if it is a terminal.
    pub fn enable() -> RawTerminal {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        }
        RawTerminal { saved }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

/// The local terminal's size, if stdout (or stdin) is one.
pub fn local_size() -> Option<(u16, u16)> {
    let size = |w: rustix::termios::Winsize| (w.ws_row, w.ws_col);
    rustix::termios::tcgetwinsize(std::io::stdout())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin()))
        .ok()
        .map(size)
        .filter(|(r, c)| *r > 0 && *c > 0)
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The output ended (the process exited, or the daemon closed).
    Finished,
    /// The user typed the detach keys.
    Detached,
}

/// What a session does besides copying.
pub struct Options {
    /// Raw bytes (a terminal) instead of framed stdout/stderr.
    pub tty: bool,
    /// Forward our stdin.
    pub stdin: bool,
    /// The detach sequence.
    pub detach_keys: Vec<u8>,
    /// Called with (rows, cols) at start and on every window change.
    pub resize: Option<Box<dyn Fn(u16, u16) + Send>>,
    /// Called with a signal to forward (`--sig-proxy`).
    pub forward: Option<Box<dyn Fn(Signal) + Send>>,
}

enum Event {
    OutputDone,
    Detached,
}

/// Blocks the signals we handle in a thread of our own; call before any
/// thread starts so that all of them inherit the mask.
fn watched_signals(opts: &Options) -> SigSet {
    let mut set = SigSet::empty();
    if opts.resize.is_some() {
        set.add(Signal::SIGWINCH);
    }
    if opts.forward.is_some() {
        for s in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ] {
            set.add(s);
        }
    }
    set
}

/// Copies between the hijacked connection and our stdio until the output
/// ends or the user detaches.
pub fn session(h: Hijacked, opts: Options) -> Ended {
    let set = watched_signals(&opts);
    let _ = set.thread_block();
    let (tx, rx) = mpsc::channel();
    let Hijacked { mut output, input } = h;
    let tty = opts.tty;
    let out_tx = tx.clone();
    std::thread::spawn(move || {
        if tty {
            let mut buf = vec![0u8; 32 * 1024];
            let mut out = std::io::stdout().lock();
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 || out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
        } else {
            let _ = http::demux(output, &mut std::io::stdout(), &mut std::io::stderr());
        }
        let _ = out_tx.send(Event::OutputDone);
    });
    if opts.stdin {
        let keys = opts.detach_keys.clone();
        let in_tx = tx.clone();
        let mut input = input;
        std::thread::spawn(move || {
            // Only a terminal's keys are watched here; the daemon watches too.
            let mut watch = tty.then(|| DetachWatch::new(keys));
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let (bytes, detach) = match watch.as_mut() {
                    Some(w) => w.feed(&buf[..n]),
                    None => (buf[..n].to_vec(), false),
                };
                if !bytes.is_empty() && input.write_all(&bytes).is_err() {
                    return;
                }
                if detach {
                    let _ = in_tx.send(Event::Detached);
                    return;
                }
            }
            input.close_write();
        });
    }
    if let Some(resize) = &opts.resize {
        if let Some((rows, cols)) = local_size() {
            resize(rows, cols);
        }
    }
    let Options {
        resize, forward, ..
    } = opts;
    if resize.is_some() || forward.is_some() {
        std::thread::spawn(move || {
            while let Ok(sig) = set.wait() {
                if sig == Signal::SIGWINCH {
                    if let (Some(r), Some((rows, cols))) = (&resize, local_size()) {
                        r(rows, cols);
                    }
                } else if let Some(f) = &forward {
                    f(sig);
                }
            }
        });
    }
    match rx.recv() {
        Ok(Event::Detached) => Ended::Detached,
        _ => Ended::Finished,
    }
}

/// The detach keys from `--detach-keys`, checked.
pub fn detach_keys(flag: Option<&str>) -> Result<Vec<u8>, Failure> {
    match flag {
        Some(k) => parse_detach_keys(k).map_err(|m| bad(125, m)),
        None => Ok(DEFAULT_DETACH_KEYS.to_vec()),
    }
}

/// A resize callback for a container or an exec.
fn resizer(c: &Client, path: String) -> Box<dyn Fn(u16, u16) + Send> {
    let c = c.clone();
    Box::new(move |rows, cols| {
        let _ = c.call(
            "POST",
            &format!("{path}?h={rows}&w={cols}"),
            http::Body::Empty,
        );
    })
}

/// A `--sig-proxy` callback.
fn forwarder(c: &Client, id: &str) -> Box<dyn Fn(Signal) + Send> {
    let c = c.clone();
    let id = id.to_string();
    Box::new(move |sig| {
        let _ = c.call(
            "POST",
            &format!("/containers/{id}/kill?signal={}", sig.as_str()),
            http::Body::Empty,
        );
    })
}

/// How `run` and `start -a` attach.
pub struct Attach<'a> {
    /// Container id.
    pub id: &'a str,
    /// The container has a terminal.
    pub tty: bool,
    /// Forward stdin.
    pub stdin: bool,
    /// `--detach-keys`.
    pub detach_keys: Option<&'a str>,
    /// `--sig-proxy`.
    pub sig_proxy: bool,
}

/// Opens the hijacked attach (before the start, so no output is lost).
pub fn open_attach(c: &Client, a: &Attach) -> Result<Hijacked, Failure> {
    let keys = a
        .detach_keys
        .map(|k| format!("&detachKeys={}", http::enc(k)))
        .unwrap_or_default();
    c.hijack(
        &format!(
            "/containers/{}/attach?stream=1&stdin={}&stdout=1&stderr=1{keys}",
            a.id,
            u8::from(a.stdin)
        ),
        None,
    )
    .map_err(|e| fail(125, e))
}

/// Runs the session of an attach; returns how it ended.
pub fn attached(c: &Client, h: Hijacked, a: &Attach) -> Result<Ended, Failure> {
    let keys = detach_keys(a.detach_keys)?;
    let _raw = (a.tty && a.stdin).then(RawTerminal::enable);
    let opts = Options {
        tty: a.tty,
        stdin: a.stdin,
        detach_keys: keys,
        resize: a
            .tty
            .then(|| resizer(c, format!("/containers/{}/resize", a.id))),
        forward: (a.sig_proxy && !a.tty).then(|| forwarder(c, a.id)),
    };
    Ok(session(h, opts))
}

fn fail(code: u8, e: ClientError) -> Failure {
    Failure {
        code,
        message: e.to_string(),
    }
}

/// `attach [--no-stdin] [--detach-keys K] [--sig-proxy] CONTAINER`.
pub fn attach_cmd(
    c: &Client,
    name: &str,
    no_stdin: bool,
    detach_keys: Option<&str>,
    sig_proxy: bool,
) -> Result<u8, Failure> {
    let info = c
        .call(
            "GET",
            &format!("/containers/{}/json", http::enc(name)),
            http::Body::Empty,
        )?
        .json()?;
    let id = info["Id"].as_str().unwrap_or(name).to_string();
    if !info["State"]["Running"].as_bool().unwrap_or(false) {
        return Err(bad(
            1,
            "You cannot attach to a stopped container, start it first",
        ));
    }
    let cfg = &info["Config"];
    let a = Attach {
        id: &id,
        tty: cfg["Tty"].as_bool().unwrap_or(false),
        stdin: !no_stdin && cfg["OpenStdin"].as_bool().unwrap_or(false),
        detach_keys,
        sig_proxy,
    };
    detach_keys_ok(detach_keys)?;
    let h = open_attach(c, &a)?;
    if attached(c, h, &a)? == Ended::Detached {
        eprintln!("read escape sequence");
        return Ok(0);
    }
    exit_code(c, &id)
}

fn detach_keys_ok(k: Option<&str>) -> Result<(), Failure> {
    detach_keys(k).map(|_| ())
}

/// The container's exit code once it stopped.
pub fn exit_code(c: &Client, id: &str) -> Result<u8, Failure> {
    let v = c
        .call("POST", &format!("/containers/{id}/wait"), http::Body::Empty)?
        .json()?;
    Ok(v["StatusCode"].as_i64().unwrap_or(0).clamp(0, 255) as u8)
}

/// `exec` flags.
#[derive(clap::Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Keep STDIN open and forward it.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching (default ctrl-p,ctrl-q).
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Container.
    pub container: String,
    // Everything after the container, flags included (`exec c1 ls -l /`).
    /// Command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `exec`: a new process in a running container.
pub fn exec_cmd(c: &Client, a: ExecArgs) -> Result<u8, Failure> {
    detach_keys_ok(a.detach_keys.as_deref())?;
    let env: Vec<String> = a
        .env
        .iter()
        .filter_map(|e| match e.split_once('=') {
            Some(_) => Some(e.clone()),
            None => std::env::var(e).ok().map(|v| format!("{e}={v}")),
        })
        .collect();
    let body = json!({
        "AttachStdin": a.interactive && !a.detach,
        "AttachStdout": !a.detach,
        "AttachStderr": !a.detach,
        "Tty": a.tty,
        "DetachKeys": a.detach_keys.clone().unwrap_or_default(),
        "Cmd": a.command,
        "Env": env,
        "User": a.user.clone().unwrap_or_default(),
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
    });
    let created = c
        .call(
            "POST",
            &format!("/containers/{}/exec", http::enc(&a.container)),
            http::Body::Json(body),
        )
        .map_err(|e| fail(1, e))?
        .json()?;
    let id = created["Id"].as_str().unwrap_or_default().to_string();
    if a.detach {
        c.call(
            "POST",
            &format!("/exec/{id}/start"),
            http::Body::Json(json!({"Detach": true, "Tty": a.tty})),
        )
        .map_err(|e| fail(126, e))?;
        return Ok(0);
    }
    let h = c
        .hijack(
            &format!("/exec/{id}/start"),
            Some(json!({"Detach": false, "Tty": a.tty})),
        )
        .map_err(|e| fail(126, e))?;
    let _raw = (a.tty && a.interactive).then(RawTerminal::enable);
    let ended = session(
        h,
        Options {
            tty: a.tty,
            stdin: a.interactive,
            detach_keys: detach_keys(a.detach_keys.as_deref())?,
            resize: a.tty.then(|| resizer(c, format!("/exec/{id}/resize"))),
            forward: None,
        },
    );
    drop(_raw);
    if ended == Ended::Detached {
        eprintln!("read escape sequence");
        return Ok(0);
    }
    // The daemon records the exit code a moment after the stream closes.
    for _ in 0..200 {
        let v: Value = c
            .call("GET", &format!("/exec/{id}/json"), http::Body::Empty)?
            .json()?;
        if let Some(code) = v["ExitCode"].as_i64() {
            if !v["Running"].as_bool().unwrap_or(false) {
                return Ok(code.clamp(0, 255) as u8);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(0)
}
