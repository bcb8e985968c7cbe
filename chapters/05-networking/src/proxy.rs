//! The userland proxy: what `docker-proxy` does.
//!
//! DNAT rewrites packets that pass through netfilter's prerouting and output
//! hooks. A connection from the host to `127.0.0.1:HOST_PORT` is the awkward
//! case: after DNAT its destination is the container, but its source is still
//! `127.0.0.1`, and the kernel refuses to route a packet with a loopback
//! source out of a real interface ("martian source"), unless
//! `net.ipv4.conf.all.route_localnet=1`, which exposes 127.0.0.0/8 services
//! to the network. Docker avoids that with a plain process: it listens on the
//! host port, accepts, opens its own connection to the container, and copies
//! bytes both ways. The container sees the bridge's address as the source.
//!
//! Listening also *reserves* the host port: nobody else can bind it while the
//! mapping exists, and binding port 0 lets the kernel pick a free port for
//! `-p CONTAINER_PORT` (a random host port).
//!
//! - TCP: accept, connect to the container, then one thread per connection
//!   `poll(2)`s both sockets and copies whatever is readable; an EOF on one
//!   side becomes a `shutdown(SHUT_WR)` on the other.
//! - UDP: there are no connections, so the proxy keeps one upstream socket per
//!   client address; replies from the container are sent back to that client.
//!
//! Stopping: a pipe whose write end is closed once. It is made close-on-exec
//! (`pipe2(O_CLOEXEC)`): a child started later holding a copy of the write
//! end would keep the read end from ever seeing EOF. Every poll loop also
//! polls the read end, so all threads see it, finish, and are joined: when
//! [`ProxyHandle::stop`] returns, the port is free and no thread is left.

//!
//! # A proxy process per port
//!
//! A proxy thread dies with the daemon, and the published port with it.
//! Docker runs one `docker-proxy` *process* per port instead, so a daemon
//! restart does not cut the containers off. [`ProxyProcess`] does the same:
//!
//! 1. the daemon binds the host port itself ([`Bound::bind`]): a busy port
//!    or a kernel-chosen one is known before anything runs;
//! 2. it starts the proxy program with that socket as its standard input
//!    (the one descriptor it hands down on purpose, the way inetd hands a
//!    service its socket) and the spec on the command line, in a process
//!    group of its own so that nothing sent to the daemon's group reaches it;
//! 3. the program ([`run_inherited`]) takes the socket off fd 0 (a
//!    close-on-exec copy, `/dev/null` in its place) and proxies until SIGTERM;
//! 4. the daemon records the pid; after a restart it checks that pid's
//!    `/proc/<pid>/cmdline` still names the same mapping ([`ProxyProcess::adopt`])
//!    and takes it over; stopping is SIGTERM, then a wait for the pid to go.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::{Error, Result};
use crate::nft::Proto;

/// What to proxy: `HOST_IP:HOST_PORT/proto` -> `CONTAINER_IP:CONTAINER_PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxySpec {
    /// tcp or udp.
    pub proto: Proto,
    /// The host address to listen on (0.0.0.0 = all, as Docker does).
    pub host_ip: Ipv4Addr,
    /// The host port (0 = let the kernel choose).
    pub host_port: u16,
    /// The container's address.
    pub container_ip: Ipv4Addr,
    /// The container's port.
    pub container_port: u16,
}

impl ProxySpec {
    /// The command line that runs this proxy as its own process, the way
    /// dockerd runs `docker-proxy`.
    pub fn command(&self) -> String {
        format!(
            "chapter05 proxy --proto {} --host-ip {} --host-port {} --container-ip {} --container-port {} &",
            self.proto, self.host_ip, self.host_port, self.container_ip, self.container_port
        )
    }
}

/// A proxy's flags on a command line, the same as docker-proxy's (for the
/// programs that run one: `chapter05 proxy`, `mini-docker-proxy`).
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp", value_parser = parse_proto)]
    pub proto: Proto,
    /// Host address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub host_ip: Ipv4Addr,
    /// Host port to listen on (0: the kernel picks one).
    #[arg(long)]
    pub host_port: u16,
    /// The container's address.
    #[arg(long)]
    pub container_ip: Ipv4Addr,
    /// The container's port.
    #[arg(long)]
    pub container_port: u16,
}

impl ProxyArgs {
    /// What these flags ask for.
    pub fn spec(&self) -> ProxySpec {
        ProxySpec {
            proto: self.proto,
            host_ip: self.host_ip,
            host_port: self.host_port,
            container_ip: self.container_ip,
            container_port: self.container_port,
        }
    }
}

fn parse_proto(s: &str) -> std::result::Result<Proto, String> {
    match s {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        _ => Err("tcp or udp".into()),
    }
}

/// How long a UDP "connection" lives without traffic (Docker: 90 s).
pub const UDP_IDLE: Duration = Duration::from_secs(90);

/// A bound but not yet running proxy: the port is reserved.
pub enum Bound {
    /// A TCP listener.
    Tcp(TcpListener, ProxySpec),
    /// A UDP socket.
    Udp(UdpSocket, ProxySpec),
}

impl Bound {
    /// Bind the host side. With `host_port == 0` the kernel picks a port; the
    /// returned spec carries the real one.
    pub fn bind(spec: ProxySpec) -> Result<Bound> {
        let addr = SocketAddr::V4(SocketAddrV4::new(spec.host_ip, spec.host_port));
        let err = |source| Error::ProxyBind {
            addr,
            proto: spec.proto.as_str(),
            source,
        };
        match spec.proto {
            Proto::Tcp => {
                let l = TcpListener::bind(addr).map_err(err)?;
                let port = l.local_addr().map_err(err)?.port();
                Ok(Bound::Tcp(
                    l,
                    ProxySpec {
                        host_port: port,
                        ..spec
                    },
                ))
            }
            Proto::Udp => {
                let s = UdpSocket::bind(addr).map_err(err)?;
                let port = s.local_addr().map_err(err)?.port();
                Ok(Bound::Udp(
                    s,
                    ProxySpec {
                        host_port: port,
                        ..spec
                    },
                ))
            }
        }
    }

    /// The spec with the real host port.
    pub fn spec(&self) -> ProxySpec {
        match self {
            Bound::Tcp(_, s) | Bound::Udp(_, s) => *s,
        }
    }

    /// Run in the calling thread until `stop` fires.
    pub fn run(self, stop: &Stop) -> Result<()> {
        let spec = self.spec();
        let addr = SocketAddr::V4(SocketAddrV4::new(spec.host_ip, spec.host_port));
        let err = |source| Error::Proxy {
            addr,
            proto: spec.proto.as_str(),
            source,
        };
        match self {
            Bound::Tcp(l, _) => run_tcp(l, spec, stop).map_err(err),
            Bound::Udp(s, _) => run_udp(s, spec, stop).map_err(err),
        }
    }

    /// Run in a new thread; the handle stops and joins it.
    pub fn spawn(self) -> ProxyHandle {
        let spec = self.spec();
        let stop = Stop::new().expect("pipe(2) for the proxy's stop signal");
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("proxy-{}-{}", spec.proto, spec.host_port))
            .spawn(move || self.run(&thread_stop))
            .expect("spawn the proxy thread");
        ProxyHandle {
            spec,
            stop,
            thread: Some(thread),
            process: None,
        }
    }
}

/// A stop signal every poll loop can wait on: a pipe closed once.
#[derive(Clone)]
pub struct Stop {
    inner: Arc<(OwnedFd, Mutex<Option<OwnedFd>>)>,
}

impl Stop {
    /// A new, unfired signal.
    pub fn new() -> io::Result<Stop> {
        // Close-on-exec: a child the daemon starts later (a shim, a runtime)
        // must not hold the write end, or closing ours would never wake us.
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(Stop {
            inner: Arc::new((r, Mutex::new(Some(w)))),
        })
    }

    /// Fire: closing the write end makes the read end readable (EOF) forever.
    pub fn fire(&self) {
        self.inner
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    fn pollfd(&self) -> PollFd<'_> {
        PollFd::new(self.inner.0.as_fd(), PollFlags::POLLIN)
    }
}

/// A proxy running in a thread of this process, or in a process of its own.
pub struct ProxyHandle {
    spec: ProxySpec,
    stop: Stop,
    thread: Option<JoinHandle<Result<()>>>,
    process: Option<ProxyProcess>,
}

impl ProxyHandle {
    /// What it proxies (with the real host port).
    pub fn spec(&self) -> ProxySpec {
        self.spec
    }

    /// The pid of its process, when it runs in one.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid)
    }

    /// Stop and wait for every thread (or the process) of the proxy; the
    /// port is free after.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        self.stop.fire();
        if let Some(p) = self.process.take() {
            p.stop();
        }
        match self.thread.take() {
            Some(t) => t.join().unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl From<ProxyProcess> for ProxyHandle {
    fn from(p: ProxyProcess) -> ProxyHandle {
        ProxyHandle {
            spec: p.spec,
            stop: Stop::new().expect("pipe(2) for the proxy's stop signal"),
            thread: None,
            process: Some(p),
        }
    }
}

/// A proxy in a process of its own (what dockerd's `docker-proxy` is).
pub struct ProxyProcess {
    spec: ProxySpec,
    pid: u32,
    /// Set when this process started it (and so must reap it).
    child: Option<std::process::Child>,
}

impl ProxyProcess {
    /// The spec's flags, as the proxy program takes them.
    pub fn args(spec: &ProxySpec) -> Vec<String> {
        vec![
            "--proto".into(),
            spec.proto.to_string(),
            "--host-ip".into(),
            spec.host_ip.to_string(),
            "--host-port".into(),
            spec.host_port.to_string(),
            "--container-ip".into(),
            spec.container_ip.to_string(),
            "--container-port".into(),
            spec.container_port.to_string(),
        ]
    }

    /// Start `program` with the bound socket as its standard input, the
    /// spec's flags and then `extra` on its command line.
    pub fn spawn(
        bound: Bound,
        program: &std::path::Path,
        extra: &[String],
    ) -> Result<ProxyProcess> {
        use std::os::unix::process::CommandExt;
        let spec = bound.spec();
        let fd: OwnedFd = match bound {
            Bound::Tcp(l, _) => l.into(),
            Bound::Udp(s, _) => s.into(),
        };
        let addr = SocketAddr::V4(SocketAddrV4::new(spec.host_ip, spec.host_port));
        // Our copy of the socket closes when `cmd` drops: the port is then
        // held by the proxy process alone.
        let child = std::process::Command::new(program)
            .args(Self::args(&spec))
            .args(extra)
            .stdin(std::process::Stdio::from(fd))
            .stdout(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Proxy {
                addr,
                proto: spec.proto.as_str(),
                source,
            })?;
        Ok(ProxyProcess {
            spec,
            pid: child.id(),
            child: Some(child),
        })
    }

    /// Take over the proxy process `pid` a previous run started, if it is
    /// still there and its command line is this spec's (a pid may have been
    /// reused by anything since).
    pub fn adopt(pid: u32, spec: ProxySpec, proc_root: &std::path::Path) -> Option<ProxyProcess> {
        let cmdline = std::fs::read(proc_root.join(pid.to_string()).join("cmdline")).ok()?;
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let want = Self::args(&spec);
        let found = argv.windows(want.len()).any(|w| w == want.as_slice());
        found.then_some(ProxyProcess {
            spec,
            pid,
            child: None,
        })
    }

    /// What it proxies.
    pub fn spec(&self) -> ProxySpec {
        self.spec
    }

    /// The proxy's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGTERM, then wait until it is gone (SIGKILL after 5 s).
    pub fn stop(mut self) {
        use nix::sys::signal::{kill, Signal};
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let gone = match self.child.as_mut() {
                Some(c) => !matches!(c.try_wait(), Ok(None)),
                // Not our child: it is gone when its pid is.
                None => kill(pid, None).is_err(),
            };
            if gone {
                return;
            }
            if std::time::Instant::now() > deadline {
                let _ = kill(pid, Signal::SIGKILL);
                if let Some(c) = self.child.as_mut() {
                    let _ = c.wait();
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The proxy program's side: take the bound socket its parent gave it as
/// standard input and proxy `spec` until SIGINT or SIGTERM.
pub fn run_inherited(spec: ProxySpec) -> Result<()> {
    use std::os::fd::AsRawFd;
    let addr = SocketAddr::V4(SocketAddrV4::new(spec.host_ip, spec.host_port));
    let err = |source| Error::Proxy {
        addr,
        proto: spec.proto.as_str(),
        source,
    };
    // A close-on-exec copy of fd 0 (F_DUPFD_CLOEXEC), then /dev/null on 0.
    let fd = io::stdin().as_fd().try_clone_to_owned().map_err(err)?;
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| err(e.into()))?;
    if nix::sys::stat::SFlag::from_bits_truncate(st.st_mode) & nix::sys::stat::SFlag::S_IFMT
        != nix::sys::stat::SFlag::S_IFSOCK
    {
        return Err(err(io::Error::other(
            "standard input is not a socket: this program is started by mini-dockerd",
        )));
    }
    let null = std::fs::File::open("/dev/null").map_err(err)?;
    nix::unistd::dup2(null.as_raw_fd(), 0).map_err(|e| err(e.into()))?;
    let bound = match spec.proto {
        Proto::Tcp => Bound::Tcp(TcpListener::from(fd), spec),
        Proto::Udp => Bound::Udp(UdpSocket::from(fd), spec),
    };
    run_until_terminated(bound)
}

/// Blocks SIGINT and SIGTERM in this thread (threads started later inherit
/// the mask), so that [`run_until_terminated`] receives them rather than
/// the default action ending the process. A program that tells others it
/// is ready (prints its port) calls this first: a SIGTERM sent right after
/// would otherwise kill it before its handling is in place.
pub fn block_stop_signals() -> nix::Result<nix::sys::signal::SigSet> {
    use nix::sys::signal::{SigSet, Signal};
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block()?;
    Ok(signals)
}

/// Run `bound` in this thread until SIGINT or SIGTERM.
pub fn run_until_terminated(bound: Bound) -> Result<()> {
    let spec = bound.spec();
    let addr = SocketAddr::V4(SocketAddrV4::new(spec.host_ip, spec.host_port));
    let err = |source| Error::Proxy {
        addr,
        proto: spec.proto.as_str(),
        source,
    };
    // Block the signals before any thread exists, so that only the waiter
    // below receives them (threads inherit the mask).
    let signals = block_stop_signals().map_err(|e| err(e.into()))?;
    let stop = Stop::new().map_err(err)?;
    let waiter_stop = stop.clone();
    std::thread::spawn(move || {
        let _ = signals.wait();
        waiter_stop.fire();
    });
    bound.run(&stop)
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Wait until one of `fds` or the stop signal is ready. Returns the readiness
/// of `fds`, or None when stopping.
fn wait(
    stop: &Stop,
    fds: &[std::os::fd::BorrowedFd<'_>],
    timeout: PollTimeout,
) -> io::Result<Option<Vec<bool>>> {
    let mut pfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    pfds.push(stop.pollfd());
    loop {
        match poll(&mut pfds, timeout) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let ready = |p: &PollFd<'_>| p.revents().is_some_and(|r| !r.is_empty());
    if ready(pfds.last().expect("stop fd")) {
        return Ok(None);
    }
    Ok(Some(pfds[..fds.len()].iter().map(ready).collect()))
}

fn run_tcp(listener: TcpListener, spec: ProxySpec, stop: &Stop) -> io::Result<()> {
    let upstream = SocketAddr::V4(SocketAddrV4::new(spec.container_ip, spec.container_port));
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while wait(stop, &[listener.as_fd()], PollTimeout::NONE)?.is_some() {
        let (client, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        conns.retain(|h| !h.is_finished());
        let stop = stop.clone();
        conns.push(std::thread::spawn(move || {
            // The container refusing is the client's problem: just close.
            if let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) {
                let _ = pump(client, server, &stop);
            }
        }));
    }
    for h in conns {
        let _ = h.join();
    }
    Ok(())
}

/// Copy both ways until both sides have sent EOF (or stop fires).
fn pump(mut a: TcpStream, mut b: TcpStream, stop: &Stop) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let (mut a_open, mut b_open) = (true, true);
    while a_open || b_open {
        let fds: Vec<_> = [(a_open, a.as_fd()), (b_open, b.as_fd())]
            .into_iter()
            .filter(|x| x.0)
            .map(|x| x.1)
            .collect();
        let Some(ready) = wait(stop, &fds, PollTimeout::NONE)? else {
            break;
        };
        let mut i = 0;
        for (open, from_a) in [(a_open, true), (b_open, false)] {
            if !open {
                continue;
            }
            let is_ready = ready[i];
            i += 1;
            if !is_ready {
                continue;
            }
            let (src, dst) = if from_a {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            let n = match src.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 || dst.write_all(&buf[..n]).is_err() {
                let _ = dst.shutdown(Shutdown::Write);
                if from_a {
                    a_open = false;
                } else {
                    b_open = false;
                }
            }
        }
    }
    Ok(())
}

fn run_udp(socket: UdpSocket, spec: ProxySpec, stop: &Stop) -> io::Result<()> {
    let upstream = SocketAddr::V4(SocketAddrV4::new(spec.container_ip, spec.container_port));
    let socket = Arc::new(socket);
    // client address -> socket connected to the container (and its thread)
    let mut flows: HashMap<SocketAddr, (Arc<UdpSocket>, JoinHandle<()>)> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    while wait(stop, &[socket.as_fd()], PollTimeout::NONE)?.is_some() {
        let (n, client) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        flows.retain(|_, (_, h)| !h.is_finished());
        if let std::collections::hash_map::Entry::Vacant(slot) = flows.entry(client) {
            let up = Arc::new(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?);
            up.connect(upstream)?;
            let (up2, down, stop) = (up.clone(), socket.clone(), stop.clone());
            let handle = std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                let idle = PollTimeout::try_from(UDP_IDLE).unwrap_or(PollTimeout::MAX);
                // Replies go back to the client; the flow ends after UDP_IDLE of silence.
                while let Ok(Some(ready)) = wait(&stop, &[up2.as_fd()], idle) {
                    if !ready[0] {
                        break;
                    }
                    match up2.recv(&mut buf) {
                        Ok(n) => {
                            let _ = down.send_to(&buf[..n], client);
                        }
                        Err(_) => break,
                    }
                }
            });
            slot.insert((up, handle));
        }
        let (up, _) = &flows[&client];
        let _ = up.send(&buf[..n]);
    }
    for (_, (_, h)) in flows {
        let _ = h.join();
    }
    Ok(())
}
