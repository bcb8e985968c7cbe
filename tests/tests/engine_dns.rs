//! The embedded DNS of user networks (127.0.0.11), end to end.
//!
//! The daemon forwards names it does not know only to the resolver this
//! test runs on 127.0.0.1 (daemon.json `dns`), so no query leaves the
//! machine, and the fake resolver's log proves what was forwarded and what
//! was not. Queries are sent the way a container sends them: from inside
//! its network namespace (a thread of the test joins it) to 127.0.0.11:53
//! over UDP and TCP, and with busybox's `nslookup` in a container, through
//! our CLI and the real docker CLI 20.10.
//! Privileged: they fail (never skip) without root.

use e2e::*;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An upstream resolver on 127.0.0.1: answers `outside.example` with
/// 192.0.2.77, anything else NXDOMAIN, and logs every name it was asked.
struct FakeResolver {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeResolver {
    fn start() -> FakeResolver {
        Self::start_on("127.0.0.1:0")
    }

    fn start_on(addr: &str) -> FakeResolver {
        let sock = UdpSocket::bind(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let asked: Arc<Mutex<Vec<String>>> = Default::default();
        let stop: Arc<AtomicBool> = Default::default();
        let (log, done) = (asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !done.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(query) = q.queries.first() else {
                    continue;
                };
                let name = query.name().to_ascii();
                log.lock().unwrap().push(name.clone());
                let mut r = Message::response(q.metadata.id, q.metadata.op_code);
                r.add_query(query.clone());
                if name == "outside.example." && query.query_type() == RecordType::A {
                    r.add_answer(Record::from_rdata(
                        query.name().clone(),
                        60,
                        RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::new(192, 0, 2, 77))),
                    ));
                } else if name != "outside.example." {
                    r.metadata.response_code = ResponseCode::NXDomain;
                }
                let _ = sock.send_to(&r.to_vec().unwrap(), peer);
            }
        });
        FakeResolver {
            port,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for FakeResolver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A daemon whose embedded DNS forwards to `fake` only.
fn daemon(fake: &FakeResolver) -> Daemon {
    let d = Daemon::start_with_config(
        &serde_json::json!({"dns": [format!("127.0.0.1:{}", fake.port)]}).to_string(),
    );
    d.import_busybox("mdd-bb:1");
    d
}

/// One DNS question, asked from inside container `name`'s network
/// namespace (a thread joins it) to 127.0.0.11:53 over UDP or TCP.
fn ask(d: &Daemon, name: &str, qname: &str, t: RecordType, tcp: bool) -> Message {
    let pid = d
        .ok(&["inspect", "--format", "{{.State.Pid}}", name])
        .trim()
        .to_string();
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(qname).unwrap(), t));
    let bytes = m.to_vec().unwrap();
    let server = SocketAddr::from(([127, 0, 0, 11], 53));
    let answer = std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let timeout = Some(Duration::from_secs(5));
            if tcp {
                let mut c = std::net::TcpStream::connect_timeout(&server, Duration::from_secs(5))
                    .expect("a TCP connection to 127.0.0.11:53 inside the container");
                c.set_read_timeout(timeout).unwrap();
                let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&bytes);
                c.write_all(&framed).unwrap();
                let mut len = [0u8; 2];
                c.read_exact(&mut len).unwrap();
                let mut out = vec![0u8; u16::from_be_bytes(len) as usize];
                c.read_exact(&mut out).unwrap();
                out
            } else {
                let u = UdpSocket::bind("0.0.0.0:0").unwrap();
                u.set_read_timeout(timeout).unwrap();
                u.send_to(&bytes, server).unwrap();
                let mut buf = vec![0u8; 4096];
                let n = u.recv(&mut buf).expect("an answer from 127.0.0.11:53");
                buf.truncate(n);
                buf
            }
        })
        .join()
        .unwrap()
    });
    let r = Message::from_vec(&answer).unwrap();
    assert_eq!(r.metadata.id, m.metadata.id, "the answer to our query");
    r
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

fn ip_on(d: &Daemon, net: &str, name: &str) -> String {
    d.ok(&[
        "inspect",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        name,
    ])
    .trim()
    .to_string()
}

/// The daemon's open sockets (its DNS servers hold two per container).
fn daemon_sockets(d: &Daemon) -> usize {
    let pid = d.child.as_ref().unwrap().id();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path())
                .map(|l| l.to_string_lossy().starts_with("socket:"))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn names_aliases_round_robin_nxdomain_and_forwarding_over_udp_and_tcp() {
    let fake = FakeResolver::start();
    let d = daemon(&fake);
    let subnet = free_subnet(205);
    let idle = daemon_sockets(&d);
    d.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet.to_string(),
        "mdd-app",
    ]);
    d.ok(&["network", "create", "mdd-other"]);
    let sleeper = |name: &str, net: &str, alias: &str| {
        let mut args = vec!["run", "-d", "--name", name, "--network", net];
        if !alias.is_empty() {
            args.extend(["--network-alias", alias]);
        }
        args.extend(["mdd-bb:1", "sleep", "3600"]);
        d.ok(&args);
    };
    sleeper("mdd-web", "mdd-app", "site");
    sleeper("mdd-w1", "mdd-app", "worker");
    sleeper("mdd-w2", "mdd-app", "worker");
    sleeper("mdd-hidden", "mdd-other", "");
    let web = ip_on(&d, "mdd-app", "mdd-web");
    let (w1, w2) = (
        ip_on(&d, "mdd-app", "mdd-w1"),
        ip_on(&d, "mdd-app", "mdd-w2"),
    );
    assert!(subnet.contains(web.parse().unwrap()), "{web} in {subnet}");

    // The server is bound in the container's own namespace (/proc/net/udp
    // lists 127.0.0.11:53 as 0B00007F:0035), and the container asks it.
    let udp = d.ok(&["exec", "mdd-web", "cat", "/proc/net/udp", "/proc/net/tcp"]);
    assert_eq!(
        udp.matches("0B00007F:0035").count(),
        2,
        "UDP and TCP: {udp}"
    );
    let rc = d.ok(&["exec", "mdd-web", "cat", "/etc/resolv.conf"]);
    assert!(rc.starts_with("nameserver 127.0.0.11\n"), "{rc}");
    assert!(rc.contains("ndots:0"), "{rc}");
    assert_eq!(rc.matches("nameserver").count(), 1, "{rc}");

    for tcp in [false, true] {
        // Names, aliases, short ids, `name.network`: A records.
        for (q, ip) in [
            ("mdd-web.", &web),
            ("site.", &web),
            ("SITE.", &web),
            ("mdd-web.mdd-app.", &web),
            ("mdd-w1.", &w1),
        ] {
            let r = ask(&d, "mdd-w2", q, RecordType::A, tcp);
            assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{q}");
            assert_eq!(addresses(&r), [ip.as_str()], "{q} over tcp={tcp}");
        }
        // AAAA of a known name: no address, but the name exists.
        let r = ask(&d, "mdd-web", "site.", RecordType::AAAA, tcp);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty(), "{:?}", r.answers);
        // Unknown names of the network, and another network's container.
        for q in ["nosuch.", "nosuch.mdd-app.", "mdd-hidden."] {
            let r = ask(&d, "mdd-web", q, RecordType::A, tcp);
            assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{q}");
        }
        // Another name: forwarded to the upstream, whose answer comes back.
        let r = ask(&d, "mdd-web", "outside.example.", RecordType::A, tcp);
        assert_eq!(addresses(&r), ["192.0.2.77"], "forwarded over tcp={tcp}");
    }
    // Reverse: the address of a container gives its name.
    let arpa: Vec<&str> = w1.split('.').rev().collect();
    let r = ask(
        &d,
        "mdd-web",
        &format!("{}.in-addr.arpa.", arpa.join(".")),
        RecordType::PTR,
        false,
    );
    assert_eq!(addresses(&r), ["mdd-w1."]);

    // Round-robin: both workers, in turns.
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let r = ask(&d, "mdd-web", "worker.", RecordType::A, false);
        let mut got = addresses(&r);
        firsts.insert(got[0].clone());
        got.sort();
        let mut want = vec![w1.clone(), w2.clone()];
        want.sort();
        assert_eq!(got, want, "every worker's address");
    }
    assert_eq!(
        firsts.len(),
        2,
        "each worker came first in turn: {firsts:?}"
    );

    // Only the name the engine does not know left it, and only to the fake.
    let asked = fake.asked();
    assert!(asked.iter().all(|n| n == "outside.example."), "{asked:?}");
    assert_eq!(asked.len(), 2, "one UDP and one TCP forward: {asked:?}");

    // busybox's own resolver in a container, through our CLI.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "mdd-app",
        "mdd-bb:1",
        "sh",
        "-c",
        "nslookup site; nslookup outside.example; nslookup nosuch || echo no-such-name",
    ]);
    assert!(out.contains(&format!("Address: {web}")), "{out}");
    assert!(out.contains("Address: 192.0.2.77"), "{out}");
    assert!(
        out.contains("NXDOMAIN") && out.contains("no-such-name"),
        "{out}"
    );

    // A stopped container's name is gone, and so are its server's sockets.
    d.ok(&["stop", "-t", "0", "mdd-w1"]);
    let r = ask(&d, "mdd-web", "mdd-w1.", RecordType::A, false);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        addresses(&ask(&d, "mdd-web", "worker.", RecordType::A, false)),
        [w2.as_str()]
    );
    for c in ["mdd-web", "mdd-w1", "mdd-w2", "mdd-hidden"] {
        d.ok(&["rm", "-f", c]);
    }
    eventually("the DNS sockets to close", || daemon_sockets(&d) <= idle);
}

#[test]
fn the_default_bridge_keeps_the_hosts_resolvers() {
    let d = Daemon::start_bridged();
    d.import_busybox("mdd-bb:1");
    // No server in its namespace: nothing bound to port 53 (0035) there.
    let out = d.ok(&[
        "run",
        "--rm",
        "mdd-bb:1",
        "sh",
        "-c",
        "cat /etc/resolv.conf /proc/net/udp /proc/net/tcp",
    ]);
    assert!(!out.contains("127.0.0.11"), "{out}");
    assert!(!out.contains(":0035 "), "{out}");
}

#[test]
fn the_docker_cli_resolves_by_name() {
    let fake = FakeResolver::start();
    let d = daemon(&fake);
    d.ok20(&["network", "create", "mdd-dk"]);
    d.ok20(&[
        "run",
        "-d",
        "--name",
        "mdd-dk-web",
        "--network",
        "mdd-dk",
        "--network-alias",
        "web",
        "mdd-bb:1",
        "sleep",
        "3600",
    ]);
    let ip = ip_on(&d, "mdd-dk", "mdd-dk-web");
    let out = d.ok20(&[
        "run",
        "--rm",
        "--network",
        "mdd-dk",
        "mdd-bb:1",
        "nslookup",
        "web",
    ]);
    assert!(out.contains("Server:\t\t127.0.0.11"), "{out}");
    assert!(out.contains(&format!("Address: {ip}")), "{out}");
}

/// The sockets die with a killed daemon; the next one serves the running
/// containers again, in their namespaces.
#[test]
fn a_restarted_daemon_serves_running_containers_again() {
    let fake = FakeResolver::start();
    let mut d = daemon(&fake);
    d.ok(&["network", "create", "mdd-rs"]);
    for name in ["mdd-rs-a", "mdd-rs-b"] {
        d.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "mdd-rs",
            "mdd-bb:1",
            "sleep",
            "3600",
        ]);
    }
    let b = ip_on(&d, "mdd-rs", "mdd-rs-b");
    assert_eq!(
        addresses(&ask(&d, "mdd-rs-a", "mdd-rs-b.", RecordType::A, false)),
        [b.as_str()]
    );
    d.kill9();
    d.spawn();
    for tcp in [false, true] {
        let r = ask(&d, "mdd-rs-a", "mdd-rs-b.", RecordType::A, tcp);
        assert_eq!(addresses(&r), [b.as_str()], "after the restart, tcp={tcp}");
    }
}

/// A container's own `--dns` replaces the daemon's upstreams for it (as in
/// Docker): its resolv.conf still names 127.0.0.11, and the names the
/// engine does not know go to that server. Here it is a fake on port 53 of
/// a random 127.x.y.z (all of 127/8 is the host's loopback).
#[test]
fn a_containers_own_dns_is_where_its_queries_go() {
    let daemons = FakeResolver::start();
    let seed = u32::from_str_radix(&network::names::unique_id(), 16).unwrap();
    let own_ip = format!(
        "127.{}.{}.{}",
        100 + seed % 100,
        (seed >> 8) % 250 + 1,
        (seed >> 16) % 250 + 1
    );
    let own = FakeResolver::start_on(&format!("{own_ip}:53"));
    let d = daemon(&daemons);
    d.ok(&["network", "create", "mdd-own"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "mdd-own-a",
        "--network",
        "mdd-own",
        "--dns",
        &own_ip,
        "mdd-bb:1",
        "sleep",
        "3600",
    ]);
    let rc = d.ok(&["exec", "mdd-own-a", "cat", "/etc/resolv.conf"]);
    assert!(rc.starts_with("nameserver 127.0.0.11\n"), "{rc}");
    let r = ask(&d, "mdd-own-a", "outside.example.", RecordType::A, false);
    assert_eq!(addresses(&r), ["192.0.2.77"]);
    assert_eq!(own.asked(), ["outside.example."]);
    assert!(daemons.asked().is_empty(), "{:?}", daemons.asked());
}
