//! # Attach, exec and resize: the daemon's side of a container's stdio
//!
//! The shim owns the container's stdio (see [`super::shim`]); the daemon
//! only connects clients to it. A client's `POST /containers/{id}/attach`
//! (or `/exec/{id}/start`) with `Upgrade: tcp` becomes a *hijacked*
//! connection: after `101 Switching Protocols` it is a plain byte stream in
//! both directions. Output is raw with a terminal and Docker's 8-byte framed
//! chunks without one (so stdout and stderr stay apart); input goes to the
//! container's stdin.
//!
//! ```text
//!  docker CLI ══ hijacked HTTP ══ mini-dockerd ══ unix socket ══ mini-shim ══ pipes / pty ══ container
//!               (detach keys are                  "attach 1 1 1"
//!                watched here)                    "exec {json}"
//! ```
//!
//! *Attach before start.* `docker run` attaches first and starts second, so
//! nothing the container prints is lost. An attach to a container that is
//! not running waits in [`Streams::pending`]; `start` creates the container
//! (its init waits in the runtime), connects the waiting attachers to the
//! shim, and only then releases it. Connecting and starting talk to the
//! shim (another process), so they happen outside the lock: while a start
//! is under way its container is marked *releasing*, and an attach that
//! comes then connects to the shim directly instead of waiting.
//!
//! *`exec --privileged`* gives the new process every capability the daemon
//! holds in its bounding, permitted, effective and inheritable sets (moby's
//! exec does the same with every capability the kernel knows); the runtime
//! applies them when it enters the container. The container's own process
//! keeps its sets.

use super::hijack::{AttachRequest, Attached, ExecStreams};
use super::shim::{self, ExecRequest, Request};
use super::{ApiError, Engine, Result};
use mini_docker_api::bodies::ExecCreate;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

pub use mini_docker_api::detach::{parse_detach_keys, DetachWatch, DEFAULT_DETACH_KEYS};

/// Which streams an attacher wants.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    /// Forward input.
    pub stdin: bool,
    /// Receive stdout.
    pub stdout: bool,
    /// Receive stderr.
    pub stderr: bool,
}

/// An exec instance (`POST /containers/{id}/exec`).
#[derive(Debug, Clone)]
pub struct Exec {
    /// Its id.
    pub id: String,
    /// The container's id.
    pub container: String,
    /// What to run.
    pub request: ExecRequest,
    /// The create body (for inspect).
    pub config: ExecCreate,
    /// Started and not yet exited.
    pub running: bool,
    /// Was started once.
    pub started: bool,
    /// Exit code, once exited.
    pub exit_code: Option<i64>,
    /// Host pid while running.
    pub pid: i64,
}

/// An attacher waiting for the start: what it wants, and where to send its
/// connection to the shim.
type Waiting = (Wants, tokio::sync::oneshot::Sender<UnixStream>);

/// Attachers waiting for starts, and the starts under way.
#[derive(Default)]
struct Pending {
    /// Attachers waiting for a container's next start, by container id.
    waiting: HashMap<String, Vec<Waiting>>,
    /// Containers whose start is connecting its attachers and starting it
    /// now: an attach to one of them connects to the shim directly.
    releasing: HashSet<String>,
}

/// The daemon's bookkeeping of attachers and execs.
#[derive(Default)]
pub struct Streams {
    /// Attachers waiting for a container's next start.
    pending: Mutex<Pending>,
    /// Exec instances by id.
    pub execs: Mutex<HashMap<String, Exec>>,
}

/// How an attach gets its connection to the shim.
pub enum ShimStream {
    /// The container runs: connected now.
    Now(UnixStream),
    /// It will, after its next start.
    Later(tokio::sync::oneshot::Receiver<UnixStream>),
}

/// Connects to a shim and sends a request line.
pub fn request(socket: &std::path::Path, req: &Request) -> std::io::Result<UnixStream> {
    let mut s = UnixStream::connect(socket)?;
    s.write_all(format!("{}\n", req.line()).as_bytes())?;
    Ok(s)
}

/// Reads one answer line (`ok …` / `err …`) byte by byte, so that what
/// follows stays in the socket for the stream.
pub fn answer(s: &mut UnixStream) -> std::result::Result<String, String> {
    // A shim that never answers must not hang the daemon (a runtime start
    // gives up after 30 s by itself).
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(60)));
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while std::io::Read::read(s, &mut b).map_err(|e| format!("the shim did not answer: {e}"))? == 1
    {
        if b[0] == b'\n' {
            break;
        }
        line.push(b[0]);
    }
    let _ = s.set_read_timeout(None);
    let line = String::from_utf8_lossy(&line).into_owned();
    match line.split_once(' ').unwrap_or((line.as_str(), "")) {
        ("ok", rest) => Ok(rest.to_string()),
        ("err", why) => Err(why.to_string()),
        _ => Err("the shim hung up".into()),
    }
}

/// Attaches to a shim; returns once the shim has registered us (so a start
/// that follows loses no output).
fn attach_to(socket: &std::path::Path, w: Wants) -> std::io::Result<UnixStream> {
    let mut s = request(
        socket,
        &Request::Attach {
            stdin: w.stdin,
            stdout: w.stdout,
            stderr: w.stderr,
        },
    )?;
    answer(&mut s).map_err(std::io::Error::other)?;
    Ok(s)
}

impl Engine {
    /// An attach: to the running container now, or queued for its next start.
    pub fn attach_stream(&self, key: &str, wants: Wants) -> Result<ShimStream> {
        let c = self.find(key)?;
        self.emit(&c, "attach", &[]);
        let mut pending = self.streams.pending.lock().expect("streams lock");
        // Under the lock `release` takes the waiting ones with.
        let c = self.find(&c.id)?;
        if c.state.running || pending.releasing.contains(&c.id) {
            drop(pending);
            return attach_to(&self.socket(&c.id), wants)
                .map(ShimStream::Now)
                .map_err(|e| {
                    ApiError::internal(format!("attach to the shim: {}", crate::errors::chain(&e)))
                });
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        pending.waiting.entry(c.id).or_default().push((wants, tx));
        Ok(ShimStream::Later(rx))
    }

    /// `POST /containers/{id}/attach`, typed by the router: the log so far
    /// (`logs=1`), then the live streams (`stream=1`). Stdin is forwarded
    /// only to a container that keeps it open (`-i`).
    pub fn attach_request(&self, key: &str, req: AttachRequest) -> Result<Attached> {
        let c = self.find(key)?;
        let tty = c.config.tty;
        let wants = Wants {
            stdin: req.wants.stdin && c.config.open_stdin,
            ..req.wants
        };
        let replay = if req.logs {
            let path = shim::log_file(&self.dir(&c.id), &c.id);
            let o = super::logs::LogOptions {
                stdout: wants.stdout,
                stderr: wants.stderr,
                ..Default::default()
            };
            let lines = std::fs::File::open(&path)
                .map(|mut f| super::logs::read_file(&mut f, 0).0)
                .unwrap_or_default();
            super::logs::render(&lines, &o, tty)
        } else {
            Vec::new()
        };
        let shim = if req.stream {
            Some(self.attach_stream(&c.id, wants)?)
        } else {
            None
        };
        Ok(Attached {
            tty,
            stdin: wants.stdin,
            replay,
            shim,
        })
    }

    /// An exec's terminal, stdin and detach keys, for its start.
    pub fn exec_streams(&self, id: &str) -> Result<ExecStreams> {
        let e = self.exec_get(id)?;
        Ok(ExecStreams {
            tty: e.request.tty,
            stdin: e.request.stdin,
            detach_keys: e.config.detach_keys,
        })
    }

    /// Whether a detached exec has ended: the shim left its exit code, or
    /// its container is not running (or gone).
    pub fn exec_ended(&self, id: &str) -> bool {
        let Ok(x) = self.exec_get(id) else {
            return true;
        };
        let file = shim::exec_exit_file(&self.dir(&x.container), id);
        let alive = self
            .find(&x.container)
            .map(|c| c.state.running)
            .unwrap_or(false);
        file.exists() || !alive
    }

    /// The second half of `start`: connects the waiting attachers, then lets
    /// the created container run. The waiting ones are taken, and the
    /// container marked releasing, under the lock [`Engine::attach_stream`]
    /// takes, so an attach cannot slip between the two; the shim is talked to
    /// after the lock is dropped (no lock is held across another process).
    pub(super) fn release(&self, id: &str, mark_running: impl FnOnce()) -> Result<()> {
        let waiting = {
            let mut pending = self.streams.pending.lock().expect("streams lock");
            pending.releasing.insert(id.to_string());
            pending.waiting.remove(id).unwrap_or_default()
        };
        let socket = self.socket(id);
        for (wants, tx) in waiting {
            if let Ok(s) = attach_to(&socket, wants) {
                let _ = tx.send(s);
            }
        }
        let started = request(&socket, &Request::Start)
            .map_err(|e| {
                ApiError::internal(format!(
                    "start through the shim: {}",
                    crate::errors::chain(&e)
                ))
            })
            .and_then(|mut s| {
                answer(&mut s).map_err(|why| ApiError::internal(format!("failed to start: {why}")))
            });
        if started.is_ok() {
            mark_running();
        }
        // After `mark_running`: a later attach finds the container running.
        self.streams
            .pending
            .lock()
            .expect("streams lock")
            .releasing
            .remove(id);
        started.map(|_| ())
    }

    /// Drops the attachers waiting for a container that will not start.
    pub(super) fn drop_pending(&self, id: &str) {
        self.streams
            .pending
            .lock()
            .expect("streams lock")
            .waiting
            .remove(id);
    }

    /// `POST /containers/{id}/resize`.
    pub fn resize(&self, key: &str, rows: u16, cols: u16) -> Result<()> {
        let c = self.find(key)?;
        if !c.state.running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let mut s = request(&self.socket(&c.id), &Request::Resize(rows, cols))
            .map_err(|e| ApiError::internal(format!("resize: {}", crate::errors::chain(&e))))?;
        answer(&mut s).map_err(ApiError::internal)?;
        Ok(())
    }

    /// `POST /containers/{id}/exec`: records an exec instance.
    pub fn exec_create(&self, key: &str, body: &ExecCreate) -> Result<String> {
        let c = self.find(key)?;
        if !c.state.running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if c.state.status == "paused" {
            // A frozen cgroup would freeze the new process too (dockerd's words).
            return Err(ApiError::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        let args = body.cmd.clone().unwrap_or_default();
        if args.is_empty() {
            return Err(ApiError::bad("No exec command specified"));
        }
        let user = body.user.as_deref().unwrap_or("");
        let user = if user.is_empty() {
            None
        } else {
            let root = self.dir(&c.id).join("rootfs");
            let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
            Some(
                ::images::runtime::resolve_user(user, &read("etc/passwd"), &read("etc/group"))
                    .map_err(|e| {
                        ApiError::bad(format!(
                            "unable to find user {user}: {}",
                            crate::errors::chain(&e)
                        ))
                    })?,
            )
        };
        let id = super::util::new_id();
        let args_text = args.clone();
        let request = ExecRequest {
            id: id.clone(),
            args,
            env: body.env.clone().unwrap_or_default(),
            cwd: body.working_dir.clone().unwrap_or_default(),
            user,
            tty: body.tty.unwrap_or(false),
            stdin: body.attach_stdin.unwrap_or(false),
            size: None,
            // `exec --privileged`: every capability the daemon holds, in all
            // four sets, as moby's exec does (the container keeps its own).
            capabilities: body
                .privileged
                .unwrap_or(false)
                .then(super::runflags::all_caps),
        };
        if !request.cwd.is_empty() && !request.cwd.starts_with('/') {
            return Err(ApiError::bad(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                request.cwd
            )));
        }
        self.streams.execs.lock().expect("execs lock").insert(
            id.clone(),
            Exec {
                id: id.clone(),
                container: c.id.clone(),
                request,
                config: body.clone(),
                running: false,
                started: false,
                exit_code: None,
                pid: 0,
            },
        );
        let action = format!("exec_create: {}", exec_text(&args_text));
        self.emit(&c, &action, &[("execID", id.clone())]);
        Ok(id)
    }

    /// Finds an exec instance.
    pub fn exec_get(&self, id: &str) -> Result<Exec> {
        self.streams
            .execs
            .lock()
            .expect("execs lock")
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }

    /// Whether [`Engine::exec_start`] may start this exec now: it exists,
    /// has not run, and its container runs (the errors a start answers
    /// with a status, checked before a hijack's `101`).
    pub fn exec_startable(&self, id: &str) -> Result<()> {
        let e = self.exec_get(id)?;
        if e.started {
            return Err(ApiError::conflict(format!(
                "Error: Exec command {id} has already run"
            )));
        }
        if !self.find(&e.container)?.state.running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                e.container
            )));
        }
        Ok(())
    }

    /// `POST /exec/{id}/start`: starts the process through the shim; the
    /// returned connection is its stdio.
    pub fn exec_start(&self, id: &str, tty: Option<bool>) -> Result<UnixStream> {
        let mut req = {
            let mut execs = self.streams.execs.lock().expect("execs lock");
            let e = execs
                .get_mut(id)
                .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
            if e.started {
                return Err(ApiError::conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            e.started = true;
            e.request.clone()
        };
        if let Some(t) = tty {
            req.tty = req.tty || t;
        }
        let cid = self.exec_get(id)?.container;
        let c = self.find(&cid)?;
        if !c.state.running {
            return Err(ApiError::conflict(format!(
                "Container {cid} is not running"
            )));
        }
        let action = format!("exec_start: {}", exec_text(&req.args));
        self.emit(&c, &action, &[("execID", id.to_string())]);
        let sent_size = req.size;
        let mut s = request(&self.socket(&cid), &Request::Exec(Box::new(req))).map_err(|e| {
            ApiError::internal(format!(
                "exec through the shim: {}",
                crate::errors::chain(&e)
            ))
        })?;
        let pid = answer(&mut s).map_err(|why| {
            self.exec_finished(id, 126);
            if why.contains("No such file") || why.contains("not found") {
                ApiError::not_found(why)
            } else {
                ApiError::internal(why)
            }
        })?;
        let late_size = self
            .streams
            .execs
            .lock()
            .expect("execs lock")
            .get_mut(id)
            .and_then(|e| {
                e.running = true;
                e.pid = pid.trim().parse().unwrap_or(0);
                e.request.size.filter(|size| Some(*size) != sent_size)
            });
        // A resize that came while the process was starting (the client
        // resizes as soon as it has the 101, which now precedes the start).
        if let Some((rows, cols)) = late_size {
            let _ = self.exec_resize(id, rows, cols);
        }
        Ok(s)
    }

    /// Records an exec's exit (the shim left the code in a file).
    pub fn exec_finished(&self, id: &str, fallback: i64) {
        let Ok(e) = self.exec_get(id) else { return };
        let file = shim::exec_exit_file(&self.dir(&e.container), id);
        let code = std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(fallback);
        let _ = std::fs::remove_file(&file);
        if let Some(e) = self.streams.execs.lock().expect("execs lock").get_mut(id) {
            e.running = false;
            e.pid = 0;
            e.exit_code = Some(code);
        }
        if let Ok(c) = self.find(&e.container) {
            let attrs = [("execID", id.to_string()), ("exitCode", code.to_string())];
            self.emit(&c, "exec_die", &attrs);
        }
    }

    /// `POST /exec/{id}/resize`.
    pub fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        let container = {
            // One look under the lock: `exec_start` marks it running under
            // the same lock, and then applies a size remembered here.
            let mut execs = self.streams.execs.lock().expect("execs lock");
            let e = execs
                .get_mut(id)
                .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
            if !e.running {
                // Before the start: remembered, applied when the terminal opens.
                e.request.size = Some((rows, cols));
                return Ok(());
            }
            e.container.clone()
        };
        let mut s = request(
            &self.socket(&container),
            &Request::ExecResize(id.to_string(), rows, cols),
        )
        .map_err(|e| ApiError::internal(format!("resize: {}", crate::errors::chain(&e))))?;
        answer(&mut s).map_err(ApiError::internal)?;
        Ok(())
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<Value> {
        let e = self.exec_get(id)?;
        let c = &e.config;
        Ok(json!({
            "ID": e.id,
            "Running": e.running,
            "ExitCode": e.exit_code,
            "ProcessConfig": {
                "tty": e.request.tty,
                "entrypoint": e.request.args[0],
                "arguments": &e.request.args[1..],
                "privileged": c.privileged.unwrap_or(false),
                "user": c.user.clone().unwrap_or_default(),
            },
            "OpenStdin": c.attach_stdin.unwrap_or(false),
            "OpenStderr": c.attach_stderr.unwrap_or(false),
            "OpenStdout": c.attach_stdout.unwrap_or(false),
            "CanRemove": false,
            "ContainerID": e.container,
            "DetachKeys": c.detach_keys.clone().unwrap_or_default(),
            "Pid": e.pid,
        }))
    }

    /// Forgets the exec instances of a removed container.
    pub(super) fn drop_execs(&self, container: &str) {
        self.streams
            .execs
            .lock()
            .expect("execs lock")
            .retain(|_, e| e.container != container);
    }
}

/// An exec's command as dockerd writes it in `exec_create:`/`exec_start:`
/// events: the program, a space, the arguments joined (so `true ` for a
/// command without arguments).
fn exec_text(args: &[String]) -> String {
    let (program, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(p, r)| (p.as_str(), r));
    format!("{program} {}", rest.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_requests_round_trip() {
        for r in [
            Request::Watch,
            Request::Start,
            Request::Attach {
                stdin: true,
                stdout: true,
                stderr: false,
            },
            Request::Resize(24, 80),
            Request::ExecResize("abc".into(), 1, 2),
            Request::Exec(Box::new(ExecRequest {
                id: "e".into(),
                args: vec!["sh".into()],
                tty: true,
                ..Default::default()
            })),
        ] {
            assert_eq!(Request::parse(&r.line()), Some(r));
        }
        assert_eq!(Request::parse("bogus"), None);
    }

    #[test]
    fn frames_carry_stream_and_length() {
        assert_eq!(
            shim::frame(2, b"hi"),
            vec![2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']
        );
    }
}
