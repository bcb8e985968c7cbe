//! # The embedded DNS server of user-defined networks (127.0.0.11)
//!
//! On a user network, Docker gives every container `nameserver 127.0.0.11`
//! in its `/etc/resolv.conf`, and answers there itself: container names,
//! network aliases (compose's service names are aliases), short ids, and
//! several containers with one alias round-robin. Other names go on to the
//! host's resolvers. The default bridge keeps the host's resolv.conf and no
//! server, as in Docker.
//!
//! 127.0.0.11 is a loopback address, so the server must listen on the
//! container's *own* loopback: inside its network namespace. Docker does it
//! with iptables rules that redirect port 53 to a random port of a socket
//! opened there. This engine needs no rule at all, because **a socket
//! belongs to the network namespace it was created in**, whichever thread
//! or process later reads it:
//!
//! ```text
//! thread "md-dns-<id>":  open("<data-root>/netns/<id>")      the namespace file
//!                        setns(fd, CLONE_NEWNET)              this thread only
//!                        socket(AF_INET, SOCK_DGRAM) + bind(127.0.0.11:53)
//!                        socket(AF_INET, SOCK_STREAM) + bind + listen
//!                        return both fds, exit               (the daemon stays in the host's)
//! daemon's runtime:      recvfrom / accept on those fds       queries from inside the container
//!                        sendto(upstream)                     from the host's namespace
//! ```
//!
//! (`ip netns exec <ns> ss -lunp` shows the daemon holding `127.0.0.11:53`
//! in the container's namespace.) The sockets close when the container
//! stops: [`Dns::stop`] drops the tasks that own them.
//!
//! The names come from the engine's own records ([`Table`]): every running
//! container's endpoints on user networks, rebuilt whenever a peer starts,
//! stops, connects or disconnects. A container is answered only the names
//! of the networks it is on, so two networks stay invisible to each other.
//!
//! Answers:
//! - a known name, type A: every address, rotated once per query;
//! - a known name, another type (AAAA, MX, …): no records, NOERROR;
//! - `4.3.2.10.in-addr.arpa` of a container: its name (PTR);
//! - an unknown single-label name, or `x.<network>`: NXDOMAIN (it is a name
//!   of this network, and never leaves the machine);
//! - anything else: forwarded, as is, to the upstream resolvers. These are
//!   daemon.json `dns` (or `mini-dockerd --dns`), else the host's
//!   `/etc/resolv.conf` nameservers without the loopback ones (a resolver on
//!   the host's 127.0.0.53 is not the container's). A container's own
//!   `--dns` replaces them for that container, as in Docker. When none
//!   answers within two seconds, the answer is SERVFAIL.
//!
//! Messages are parsed and built with `hickory-proto`; a forwarded query and
//! its answer are passed on byte for byte.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// Where the server listens inside each container's namespace.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// How long an upstream resolver has to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Time to live of the answers: short, as containers come and go (Docker: 600).
const TTL: u32 = 600;

/// The names of one user network.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Net {
    /// Ids of the running containers on it: who may ask.
    pub members: BTreeSet<String>,
    /// Lower-case name -> addresses (container names, aliases, short ids).
    pub names: BTreeMap<String, Vec<Ipv4Addr>>,
    /// Address -> container name, for PTR.
    pub ptr: BTreeMap<Ipv4Addr, String>,
}

/// The names of every user network, by network name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Table {
    /// By network name.
    pub nets: BTreeMap<String, Net>,
}

impl Table {
    /// Adds a running container's endpoint on `net`.
    pub fn add(&mut self, net: &str, id: &str, name: &str, aliases: &[String], ip: Ipv4Addr) {
        let n = self.nets.entry(net.to_string()).or_default();
        n.members.insert(id.to_string());
        let short = &id[..id.len().min(12)];
        for key in std::iter::once(name)
            .chain(std::iter::once(short))
            .chain(aliases.iter().map(String::as_str))
        {
            let ips = n.names.entry(key.to_ascii_lowercase()).or_default();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        n.ptr.insert(ip, name.to_string());
    }

    /// What the container `id` is told about `qname` (lower case, no
    /// trailing dot): the addresses of that name on its networks, `None`
    /// when no network of its has the name.
    pub fn lookup(&self, id: &str, qname: &str) -> Option<Vec<Ipv4Addr>> {
        let mut found: Option<Vec<Ipv4Addr>> = None;
        for (net, n) in self.nets.iter().filter(|(_, n)| n.members.contains(id)) {
            // `web` and `web.<network>` are the same name.
            let key = qname
                .strip_suffix(net.as_str())
                .and_then(|k| k.strip_suffix('.'))
                .unwrap_or(qname);
            if let Some(ips) = n.names.get(key) {
                let all = found.get_or_insert_with(Vec::new);
                for ip in ips {
                    if !all.contains(ip) {
                        all.push(*ip);
                    }
                }
            }
        }
        found
    }

    /// The container name at `ip` on one of `id`'s networks.
    pub fn reverse(&self, id: &str, ip: Ipv4Addr) -> Option<&str> {
        self.nets
            .values()
            .filter(|n| n.members.contains(id))
            .find_map(|n| n.ptr.get(&ip).map(String::as_str))
    }

    /// Whether `qname` is a name of `id`'s networks, known or not: a single
    /// label, or `x.<network>`. Those are answered here, never forwarded.
    pub fn is_local(&self, id: &str, qname: &str) -> bool {
        !qname.contains('.')
            || self
                .nets
                .iter()
                .filter(|(_, n)| n.members.contains(id))
                .any(|(net, _)| qname.ends_with(&format!(".{net}")))
    }
}

/// What the server does with one query.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// Answered here: the encoded response.
    Local(Vec<u8>),
    /// Passed on to the upstream resolvers as is.
    Forward,
}

/// The answer to `query` (a DNS message) asked by container `id`.
/// `rotation` counts the A answers with several addresses, and turns their
/// order by one each time (round-robin).
pub fn answer(table: &Table, id: &str, query: &[u8], rotation: &AtomicUsize) -> Reply {
    let Ok(req) = Message::from_vec(query) else {
        // Not even a header: nothing to answer to.
        return Reply::Local(Vec::new());
    };
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.add_queries(req.queries.iter().cloned());
    let encode = |m: &Message| Reply::Local(m.to_vec().unwrap_or_default());
    if req.metadata.message_type != MessageType::Query || req.queries.len() != 1 {
        resp.metadata.response_code = ResponseCode::FormErr;
        return encode(&resp);
    }
    let q = &req.queries[0];
    let qname = q.name().to_ascii().to_ascii_lowercase();
    let qname = qname.trim_end_matches('.');
    if q.query_type() == RecordType::PTR {
        if let Some(ip) = arpa_to_ip(qname) {
            if let Some(name) = table.reverse(id, ip) {
                if let Ok(target) = Name::from_ascii(format!("{name}.")) {
                    resp.metadata.authoritative = true;
                    resp.add_answer(Record::from_rdata(
                        q.name().clone(),
                        TTL,
                        RData::PTR(PTR(target)),
                    ));
                    return encode(&resp);
                }
            }
        }
        return Reply::Forward;
    }
    match table.lookup(id, qname) {
        Some(mut ips) => {
            resp.metadata.authoritative = true;
            if q.query_type() == RecordType::A {
                if ips.len() > 1 {
                    let turn = rotation.fetch_add(1, Ordering::Relaxed);
                    let len = ips.len();
                    ips.rotate_left(turn % len);
                }
                for ip in ips {
                    resp.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(ip))));
                }
            }
            encode(&resp)
        }
        None if table.is_local(id, qname) => {
            resp.metadata.response_code = ResponseCode::NXDomain;
            encode(&resp)
        }
        None => Reply::Forward,
    }
}

/// `4.3.2.10.in-addr.arpa` -> 10.2.3.4.
fn arpa_to_ip(qname: &str) -> Option<Ipv4Addr> {
    let rest = qname.strip_suffix(".in-addr.arpa")?;
    let mut octets: Vec<u8> = rest
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    if octets.len() != 4 {
        return None;
    }
    octets.reverse();
    Some(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
}

/// A SERVFAIL answer to `query` (no upstream answered).
fn servfail(query: &[u8]) -> Vec<u8> {
    let Ok(req) = Message::from_vec(query) else {
        return Vec::new();
    };
    let mut resp = Message::error_msg(
        req.metadata.id,
        req.metadata.op_code,
        ResponseCode::ServFail,
    );
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.add_queries(req.queries.iter().cloned());
    resp.to_vec().unwrap_or_default()
}

/// The nameservers of a resolv.conf text, without loopback ones (Docker's
/// rule: the host's 127.0.0.53 is not reachable from a container's side).
pub fn host_upstreams(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_loopback())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// One upstream as daemon.json `dns` or `--dns` gives it: `IP` (port 53)
/// or `IP:PORT` / `[IPv6]:PORT`.
pub fn parse_upstream(s: &str) -> Option<SocketAddr> {
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .or_else(|_| s.parse::<SocketAddr>())
        .ok()
}

/// The resolv.conf of a container on a user network: the embedded server,
/// with the host's (or the container's) search domains and options, and
/// `ndots:0` as Docker writes it, unless `ndots` is given.
pub fn resolv_conf(search: &[String], options: &[String]) -> String {
    let mut s = format!("nameserver {ADDRESS}\n");
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    let mut opts = options.to_vec();
    if !opts.iter().any(|o| o.starts_with("ndots:")) {
        opts.push("ndots:0".into());
    }
    s.push_str(&format!("options {}\n", opts.join(" ")));
    s
}

/// The `search` domains and `options` of a resolv.conf text.
pub fn search_and_options(text: &str) -> (Vec<String>, Vec<String>) {
    let words = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(key))
            .filter(|rest| rest.starts_with([' ', '\t']))
            .flat_map(|rest| rest.split_whitespace().map(String::from))
            .collect()
    };
    (words("search"), words("options"))
}

/// One container's server: dropping it stops its tasks, which close the sockets.
struct Server {
    _stop: watch::Sender<bool>,
}

/// The embedded DNS of a daemon: the name table and one server per container.
pub struct Dns {
    upstreams: Vec<SocketAddr>,
    table: Arc<RwLock<Table>>,
    servers: Mutex<HashMap<String, Server>>,
    rotation: Arc<AtomicUsize>,
    runtime: OnceLock<tokio::runtime::Handle>,
}

impl Dns {
    /// A server forwarding to `configured` (daemon.json `dns`), or, when
    /// that is empty, to the host's resolvers read from `host_resolv_conf`.
    pub fn new(configured: Vec<SocketAddr>, host_resolv_conf: &Path) -> Dns {
        let upstreams = if configured.is_empty() {
            host_upstreams(&std::fs::read_to_string(host_resolv_conf).unwrap_or_default())
        } else {
            configured
        };
        Dns {
            upstreams,
            table: Default::default(),
            servers: Default::default(),
            rotation: Default::default(),
            runtime: OnceLock::new(),
        }
    }

    /// The resolvers names are forwarded to by default.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Replaces the name table (the engine calls it when peers change).
    pub fn set_table(&self, t: Table) {
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = t;
    }

    /// The daemon's runtime when there is one (the engine is called from
    /// it), else a small one of this server's own.
    fn runtime(&self) -> tokio::runtime::Handle {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Handle::try_current().unwrap_or_else(|_| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a tokio runtime for the DNS server");
                    let handle = rt.handle().clone();
                    std::thread::Builder::new()
                        .name("md-dns".into())
                        .spawn(move || rt.block_on(std::future::pending::<()>()))
                        .expect("the DNS server's thread");
                    handle
                })
            })
            .clone()
    }

    /// Serves container `id` on 127.0.0.11:53 (UDP and TCP) inside the
    /// network namespace at `netns`, forwarding to `upstreams` (or the
    /// daemon's when empty).
    pub fn serve(&self, id: &str, netns: &Path, upstreams: Vec<SocketAddr>) -> std::io::Result<()> {
        let (udp, tcp) = bind_in(netns)?;
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;
        let (stop, rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            id: id.to_string(),
            table: self.table.clone(),
            rotation: self.rotation.clone(),
            upstreams: if upstreams.is_empty() {
                self.upstreams.clone()
            } else {
                upstreams
            },
        });
        let rt = self.runtime();
        {
            let (ctx, rx) = (ctx.clone(), rx.clone());
            rt.spawn(async move {
                if let Ok(s) = tokio::net::UdpSocket::from_std(udp) {
                    serve_udp(ctx, Arc::new(s), rx).await;
                }
            });
        }
        rt.spawn(async move {
            if let Ok(l) = tokio::net::TcpListener::from_std(tcp) {
                serve_tcp(ctx, l, rx).await;
            }
        });
        let old = self
            .servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), Server { _stop: stop });
        drop(old);
        Ok(())
    }

    /// Stops serving container `id` (its sockets close); nothing if it had no server.
    pub fn stop(&self, id: &str) {
        let s = self
            .servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        drop(s);
    }

    /// Whether container `id` is being served.
    pub fn serving(&self, id: &str) -> bool {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }
}

/// What every task of one container's server shares.
struct Ctx {
    id: String,
    table: Arc<RwLock<Table>>,
    rotation: Arc<AtomicUsize>,
    upstreams: Vec<SocketAddr>,
}

impl Ctx {
    /// The response bytes to one query, forwarding when it is not ours.
    async fn respond(&self, query: &[u8]) -> Vec<u8> {
        let reply = {
            let t = self.table.read().unwrap_or_else(|e| e.into_inner());
            answer(&t, &self.id, query, &self.rotation)
        };
        match reply {
            Reply::Local(bytes) => bytes,
            Reply::Forward => match forward(&self.upstreams, query).await {
                Some(bytes) => bytes,
                None => servfail(query),
            },
        }
    }
}

/// Sends `query` to each upstream in turn (UDP, from the host's namespace)
/// and returns the first answer.
async fn forward(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    for up in upstreams {
        let local: SocketAddr = if up.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(sock) = tokio::net::UdpSocket::bind(local).await else {
            continue;
        };
        if sock.connect(up).await.is_err() || sock.send(query).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 65535];
        if let Ok(Ok(n)) = tokio::time::timeout(UPSTREAM_TIMEOUT, sock.recv(&mut buf)).await {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

async fn serve_udp(
    ctx: Arc<Ctx>,
    sock: Arc<tokio::net::UdpSocket>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = tokio::select! {
            _ = stop.changed() => return,
            r = sock.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(_) => continue,
            },
        };
        let query = buf[..n].to_vec();
        let (ctx, sock, mut stop) = (ctx.clone(), sock.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.changed() => {}
                out = ctx.respond(&query) => {
                    if !out.is_empty() {
                        let _ = sock.send_to(&out, peer).await;
                    }
                }
            }
        });
    }
}

async fn serve_tcp(ctx: Arc<Ctx>, l: tokio::net::TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        let conn = tokio::select! {
            _ = stop.changed() => return,
            r = l.accept() => match r {
                Ok((c, _)) => c,
                Err(_) => continue,
            },
        };
        let (ctx, mut stop) = (ctx.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.changed() => {}
                _ = serve_conn(&ctx, conn) => {}
            }
        });
    }
}

/// DNS over TCP: each message is preceded by its length (2 bytes, big endian).
async fn serve_conn(ctx: &Ctx, mut conn: tokio::net::TcpStream) -> std::io::Result<()> {
    loop {
        let len = conn.read_u16().await?;
        let mut query = vec![0u8; usize::from(len)];
        conn.read_exact(&mut query).await?;
        let out = ctx.respond(&query).await;
        if out.is_empty() {
            return Ok(());
        }
        let mut framed = (out.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&out);
        conn.write_all(&framed).await?;
    }
}

/// Creates the two listening sockets inside the namespace at `netns`, from
/// a short-lived thread that joins it (see the module docs).
fn bind_in(netns: &Path) -> std::io::Result<(UdpSocket, std::net::TcpListener)> {
    let ns = std::fs::File::open(netns)?;
    let addr = SocketAddr::from((ADDRESS, 53));
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("md-dns-bind".into())
            .spawn_scoped(s, || {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(
                    |e| std::io::Error::other(format!("setns into {}: {e}", netns.display())),
                )?;
                let udp = UdpSocket::bind(addr).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("bind udp {addr} in {}: {e}", netns.display()),
                    )
                })?;
                let tcp = std::net::TcpListener::bind(addr).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("bind tcp {addr} in {}: {e}", netns.display()),
                    )
                })?;
                Ok((udp, tcp))
            })?
            .join()
            .map_err(|_| std::io::Error::other("the DNS bind thread panicked"))?
    })
}

impl super::Engine {
    /// Whether container `c` gets the embedded DNS: its network is a user
    /// network (not `bridge`, `host`, `none` or `container:`), as in Docker.
    pub fn embedded_dns(c: &super::Container) -> bool {
        let mode = c.network_mode();
        !super::networks::PREDEFINED.contains(&mode.as_str())
            && !mode.starts_with("container:")
            && mode != "default"
    }

    /// Rebuilds the name table from the containers' endpoints that have an
    /// address: plugged in, from the start step that connects them (before
    /// the process runs, so it can ask at once) until its exit unplugs them.
    pub fn refresh_dns(&self) {
        let mut t = Table::default();
        for c in self.list().iter() {
            for (net, ep) in &c.endpoints {
                if let Ok(ip) = ep.ip.parse::<Ipv4Addr>() {
                    t.add(net, &c.id, &c.name, &ep.aliases, ip);
                }
            }
        }
        self.dns.set_table(t);
    }

    /// At start: the server of a container on a user network, in `netns`.
    /// Its `--dns` servers replace the daemon's upstreams.
    pub fn serve_dns(&self, c: &super::Container, netns: Option<&str>) -> super::Result<()> {
        let Some(netns) = netns.filter(|_| Self::embedded_dns(c)) else {
            return Ok(());
        };
        let own: Vec<SocketAddr> = c
            .host_config
            .dns
            .iter()
            .flatten()
            .filter_map(|d| parse_upstream(d))
            .collect();
        self.dns.serve(&c.id, Path::new(netns), own).map_err(|e| {
            super::ApiError::internal(format!(
                "start the embedded DNS server at {ADDRESS}:53: {}",
                super::errors::chain(&e)
            ))
        })?;
        self.refresh_dns();
        Ok(())
    }

    /// After a daemon restart: serve the running containers again (their
    /// sockets died with the old daemon).
    pub fn restore_dns(&self) {
        for c in self.list().iter().filter(|c| c.state.running) {
            let netns = c.net.as_ref().map(|a| a.netns.clone());
            if let Err(e) = self.serve_dns(c, netns.as_deref().filter(|n| !n.is_empty())) {
                tracing::warn!(id = %c.id, "{}", e.message);
            }
        }
        self.refresh_dns();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    fn table() -> Table {
        let mut t = Table::default();
        let ip = |d| Ipv4Addr::new(10, 9, 0, d);
        for (id, name, alias, d) in [
            ('a', "proj-web-1", "web", 2),
            ('b', "proj-worker-1", "worker", 3),
            ('c', "proj-worker-2", "worker", 4),
        ] {
            t.add(
                "app",
                &id.to_string().repeat(64),
                name,
                &[alias.into()],
                ip(d),
            );
        }
        t.add("other", &"d".repeat(64), "secret", &[], ip(5));
        t
    }

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 7;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn ask(name: &str, t: RecordType, rotation: usize) -> Message {
        let rotation = AtomicUsize::new(rotation);
        match answer(&table(), &"a".repeat(64), &query(name, t), &rotation) {
            Reply::Local(b) => Message::from_vec(&b).unwrap(),
            Reply::Forward => panic!("{name} was forwarded"),
        }
    }

    /// Whether the container "aaa…" asking `name` is forwarded upstream.
    fn forwarded(name: &str, t: RecordType) -> bool {
        let q = query(name, t);
        answer(&table(), &"a".repeat(64), &q, &AtomicUsize::new(0)) == Reply::Forward
    }

    fn addresses(m: &Message) -> Vec<String> {
        m.answers.iter().map(|r| r.data.to_string()).collect()
    }

    #[test]
    fn names_aliases_and_round_robin() {
        let m = ask("web.", RecordType::A, 0);
        assert_eq!(m.metadata.id, 7);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addresses(&m), ["10.9.0.2"]);
        assert_eq!(
            addresses(&ask("proj-web-1.app.", RecordType::A, 0)),
            ["10.9.0.2"]
        );
        assert_eq!(
            addresses(&ask("aaaaaaaaaaaa.", RecordType::A, 0)),
            ["10.9.0.2"]
        );
        assert_eq!(
            addresses(&ask("WORKER.", RecordType::A, 0)),
            ["10.9.0.3", "10.9.0.4"]
        );
        assert_eq!(
            addresses(&ask("worker.", RecordType::A, 1)),
            ["10.9.0.4", "10.9.0.3"]
        );
        let m = ask("worker.", RecordType::AAAA, 0);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn other_networks_are_invisible_and_unknown_local_names_do_not_exist() {
        for name in ["secret.", "nosuch.", "nosuch.app."] {
            let m = ask(name, RecordType::A, 0);
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
        }
        assert!(forwarded("example.com.", RecordType::A));
    }

    #[test]
    fn reverse_names() {
        let m = ask("3.0.9.10.in-addr.arpa.", RecordType::PTR, 0);
        assert_eq!(addresses(&m), ["proj-worker-1."]);
        assert!(forwarded("5.0.9.10.in-addr.arpa.", RecordType::PTR));
    }

    #[test]
    fn upstreams_skip_loopback_and_resolv_conf_points_here() {
        let host =
            "nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example\noptions edns0\n";
        assert_eq!(
            host_upstreams(host),
            [SocketAddr::from(([192, 0, 2, 1], 53))]
        );
        let (search, opts) = search_and_options(host);
        assert_eq!(
            resolv_conf(&search, &opts),
            "nameserver 127.0.0.11\nsearch corp.example\noptions edns0 ndots:0\n"
        );
        assert_eq!(
            parse_upstream("127.0.0.1:5353"),
            Some(SocketAddr::from(([127, 0, 0, 1], 5353)))
        );
        assert_eq!(
            parse_upstream("192.0.2.9"),
            Some(SocketAddr::from(([192, 0, 2, 9], 53)))
        );
        assert_eq!(parse_upstream("nope"), None);
    }
}
