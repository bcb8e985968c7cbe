//! Privileged tests: real namespaces, links, nftables tables and traffic.
//!
//! They need root and FAIL without it (run them with sudo). Traffic goes
//! only to 127.0.0.1 and to addresses inside namespaces these tests create.
//! Every object has a unique `ch05`/`chapter05_` name and is removed by
//! guards, also when an assertion fails.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use chapter05::network::host_routes;
use chapter05::nft::list_tables;
use chapter05::{names, netns::Netns, Applier, Network, NetworkSpec, PortMap, PortMapping, Subnet};
use nix::sched::{setns, CloneFlags};

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests create namespaces, links and nftables rules: run them as root (sudo -E cargo test -p chapter05)"
    );
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A /24 inside 10.201.0.0/16, unique per test in this process, that no
/// host route overlaps.
fn test_subnet() -> Subnet {
    let routes = host_routes().unwrap();
    for _ in 0..256 {
        let n = std::process::id()
            .wrapping_mul(31)
            .wrapping_add(COUNTER.fetch_add(1, Ordering::SeqCst) * 7)
            % 256;
        let s = Subnet::new(Ipv4Addr::new(10, 201, n as u8, 0), 24).unwrap();
        if !routes.iter().any(|r| r.prefix() > 0 && r.overlaps(&s)) {
            return s;
        }
    }
    panic!("no free /24 left in 10.201.0.0/16");
}

/// A temp dir for namespace files and IPAM state.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("ch05-test-")
                .tempdir()
                .unwrap(),
        }
    }
    fn netns(&self, label: &str) -> Netns {
        Netns::create(
            self.dir.path(),
            &names::netns_name(label, &names::unique_id()),
            Path::new("/proc"),
        )
        .unwrap()
    }
    fn ipam(&self, net: &str) -> PathBuf {
        self.dir.path().join(format!("ipam-{net}.json"))
    }
}

fn network(scratch: &Scratch, name: &str) -> Network {
    let spec = NetworkSpec::new(name, test_subnet());
    Network::create(spec, &scratch.ipam(name), &mut Applier::new()).unwrap()
}

/// Run `f` in a thread that has joined the namespace at `path` (what
/// `nsenter --net` does for a process).
fn in_netns<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let file = File::open(path).unwrap();
    std::thread::spawn(move || {
        setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
}

/// A TCP echo server inside a namespace that serves `n` connections.
fn tcp_echo(ns: &Path, port: u16, n: usize) -> std::thread::JoinHandle<()> {
    let (tx, rx) = mpsc::channel();
    let h = in_netns(ns, move || {
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).unwrap();
        tx.send(()).unwrap();
        for _ in 0..n {
            let (mut c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = Vec::new();
            let _ = c.read_to_end(&mut buf);
            let _ = c.write_all(&buf);
        }
    });
    rx.recv().unwrap();
    h
}

/// A UDP echo server inside a namespace that answers `n` datagrams.
fn udp_echo(ns: &Path, port: u16, n: usize) -> std::thread::JoinHandle<()> {
    let (tx, rx) = mpsc::channel();
    let h = in_netns(ns, move || {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 1500];
        for _ in 0..n {
            let Ok((len, from)) = s.recv_from(&mut buf) else {
                return;
            };
            s.send_to(&buf[..len], from).unwrap();
        }
    });
    rx.recv().unwrap();
    h
}

fn tcp_roundtrip(to: SocketAddr, msg: &str) -> std::io::Result<String> {
    let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(msg.as_bytes())?;
    c.shutdown(std::net::Shutdown::Write)?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(out)
}

fn udp_roundtrip(to: SocketAddr, msg: &str) -> std::io::Result<String> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.send_to(msg.as_bytes(), to)?;
    let mut buf = [0u8; 1500];
    let n = s.recv(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// `nsenter --net=NS busybox ping -c 1 -W 2 IP` (a test may observe with tools).
fn ping(ns: &Path, ip: Ipv4Addr) -> bool {
    Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .args(["busybox", "ping", "-c", "1", "-W", "2", &ip.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Observe the host's links with iproute2 (tests only).
fn host_link_names() -> String {
    String::from_utf8(
        Command::new("ip")
            .args(["-br", "link"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
}

fn assert_gone(link_names: &[&str], tables: &[&str], files: &[&Path]) {
    let links = host_link_names();
    for l in link_names {
        assert!(!links.contains(l), "link {l} is still there:\n{links}");
    }
    let all = list_tables().unwrap();
    for t in tables {
        assert!(
            !all.iter().any(|(_, n)| n == t),
            "nft table {t} is still there: {all:?}"
        );
    }
    for f in files {
        assert!(!f.exists(), "{} is still there", f.display());
    }
}

#[test]
fn container_to_container_on_one_bridge() {
    require_root();
    let scratch = Scratch::new();
    let net = network(&scratch, "c2c");
    let (ns_a, ns_b) = (scratch.netns("a"), scratch.netns("b"));
    let mut ap = Applier::new();
    let a = net.connect(ns_a.path(), "a", &mut ap).unwrap();
    let b = net.connect(ns_b.path(), "b", &mut ap).unwrap();
    assert_ne!(a.ip(), b.ip());

    // The kernel's view inside B: eth0 has the address, the default route is via the gateway.
    let mut nl = chapter05::netlink::Netlink::open_in(ns_b.path()).unwrap();
    let links = nl.links().unwrap();
    let eth0 = links
        .iter()
        .find(|l| l.name == "eth0")
        .expect("eth0 inside the namespace");
    assert!(eth0.up);
    assert!(links.iter().any(|l| l.name == "lo" && l.up));
    assert!(nl
        .addresses()
        .unwrap()
        .iter()
        .any(|x| x.index == eth0.index && x.ip == b.ip()));
    assert!(nl
        .routes()
        .unwrap()
        .iter()
        .any(|r| r.destination.prefix() == 0 && r.gateway == Some(net.spec().gateway())));
    drop(nl);

    assert!(ping(ns_a.path(), b.ip()), "A cannot ping B");
    let server = tcp_echo(ns_b.path(), 7007, 1);
    let to = SocketAddr::from((b.ip(), 7007));
    let reply = in_netns(ns_a.path(), move || tcp_roundtrip(to, "hello from A"))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(reply, "hello from A");
    server.join().unwrap();
}

#[test]
fn published_ports_reach_the_container_over_loopback_tcp_and_udp() {
    require_root();
    let scratch = Scratch::new();
    let net = network(&scratch, "pub");
    let ns = scratch.netns("web");
    let mut ap = Applier::new();
    let ep = net.connect(ns.path(), "web", &mut ap).unwrap();
    let tcp_server = tcp_echo(ns.path(), 80, 1);
    let udp_server = udp_echo(ns.path(), 53, 1);
    let maps: Vec<PortMapping> = ["80", "53/udp"]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
    let pm = PortMap::publish(ep.ip(), &maps, &mut ap).unwrap();
    let (tcp_port, udp_port) = (pm.mappings()[0].host_port, pm.mappings()[1].host_port);
    assert_ne!(tcp_port, 0);
    assert_ne!(udp_port, 0);

    let reply = tcp_roundtrip((Ipv4Addr::LOCALHOST, tcp_port).into(), "GET / over tcp").unwrap();
    assert_eq!(reply, "GET / over tcp");
    let reply = udp_roundtrip((Ipv4Addr::LOCALHOST, udp_port).into(), "query over udp").unwrap();
    assert_eq!(reply, "query over udp");
    tcp_server.join().unwrap();
    udp_server.join().unwrap();

    let table = pm.table().to_string();
    pm.unpublish(&mut ap).unwrap();
    // The proxy is gone: nothing listens on the host port any more.
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, tcp_port)).is_err());
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, tcp_port)).expect("the host port is free again");
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, udp_port)).expect("the udp host port is free again");
    assert_gone(&[], &[&table], &[]);
}

#[test]
fn hairpin_a_container_reaches_its_own_published_port() {
    require_root();
    let scratch = Scratch::new();
    let net = network(&scratch, "hairpin");
    let (ns_a, ns_b) = (scratch.netns("a"), scratch.netns("b"));
    let mut ap = Applier::new();
    let a = net.connect(ns_a.path(), "a", &mut ap).unwrap();
    let _b = net.connect(ns_b.path(), "b", &mut ap).unwrap();
    let server = tcp_echo(ns_a.path(), 8000, 2);
    let pm = PortMap::publish(a.ip(), &["8000".parse().unwrap()], &mut ap).unwrap();
    // The host address the containers see: the bridge's (the gateway).
    let to = SocketAddr::from((net.spec().gateway(), pm.mappings()[0].host_port));
    let own = in_netns(ns_a.path(), move || {
        tcp_roundtrip(to, "A to itself via the host")
    })
    .join()
    .unwrap();
    assert_eq!(own.unwrap(), "A to itself via the host");
    let other = in_netns(ns_b.path(), move || {
        tcp_roundtrip(to, "B to A via the host")
    })
    .join()
    .unwrap();
    assert_eq!(other.unwrap(), "B to A via the host");
    server.join().unwrap();
}

#[test]
fn two_networks_are_isolated() {
    require_root();
    let scratch = Scratch::new();
    let (net1, net2) = (network(&scratch, "iso1"), network(&scratch, "iso2"));
    let (ns_a, ns_b) = (scratch.netns("a"), scratch.netns("b"));
    let mut ap = Applier::new();
    let a = net1.connect(ns_a.path(), "a", &mut ap).unwrap();
    let b = net2.connect(ns_b.path(), "b", &mut ap).unwrap();
    assert!(
        ping(ns_a.path(), net1.spec().gateway()),
        "A cannot even reach its own gateway"
    );

    assert!(!ping(ns_a.path(), b.ip()), "A reached B on another network");
    assert!(!ping(ns_b.path(), a.ip()), "B reached A on another network");
    let to = SocketAddr::from((b.ip(), 7100));
    let server = tcp_echo(ns_b.path(), 7100, 1);
    let attempt = in_netns(ns_a.path(), move || {
        TcpStream::connect_timeout(&to, Duration::from_secs(2)).map(|_| ())
    })
    .join()
    .unwrap();
    assert!(
        attempt.is_err(),
        "A opened a TCP connection to B on another network"
    );

    // Control: without the two tables the host routes between the bridges,
    // so it was the isolation rule that dropped the packets.
    chapter05::nft::delete_table(&net1.spec().table).unwrap();
    chapter05::nft::delete_table(&net2.spec().table).unwrap();
    let reply = in_netns(ns_a.path(), move || tcp_roundtrip(to, "now routed"))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(reply, "now routed");
    server.join().unwrap();
}

#[test]
fn ipam_never_collides_across_parallel_processes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ipam.json");
    let subnet = "10.201.250.0/24";
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "ipam_child_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(
                    "CH05_IPAM_CHILD",
                    format!("{}|{subnet}|p{i}", state.display()),
                )
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut all = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        // The harness prints "test ... " on the same line as the first one.
        all.extend(
            text.lines()
                .filter_map(|l| l.split_once("ALLOCATED "))
                .map(|(_, ip)| ip.to_string()),
        );
    }
    assert_eq!(all.len(), 4 * 25);
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "an address was handed out twice");
    let ipam = chapter05::ipam::Ipam::open(&state, subnet.parse().unwrap()).unwrap();
    assert_eq!(ipam.allocations().unwrap().len(), 100);
}

/// Helper for the test above: allocates 25 addresses when run as a child.
#[test]
fn ipam_child_process() {
    let Ok(arg) = std::env::var("CH05_IPAM_CHILD") else {
        return;
    };
    let mut parts = arg.split('|');
    let (path, subnet, who) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    for i in 0..25 {
        let ipam = chapter05::ipam::Ipam::open(Path::new(path), subnet.parse().unwrap()).unwrap();
        println!(
            "ALLOCATED {}",
            ipam.allocate(&format!("{who}-{i}")).unwrap()
        );
    }
}

#[test]
fn teardown_leaves_nothing_behind() {
    require_root();
    let scratch = Scratch::new();
    let net = network(&scratch, "tear");
    let ns = scratch.netns("web");
    let mut ap = Applier::new();
    let ep = net.connect(ns.path(), "web", &mut ap).unwrap();
    let pm = PortMap::publish(ep.ip(), &["80".parse().unwrap()], &mut ap).unwrap();
    let port = pm.mappings()[0].host_port;
    let (bridge, table, veth, pm_table) = (
        net.spec().bridge.clone(),
        net.spec().table.clone(),
        ep.spec().host_veth.clone(),
        pm.table().to_string(),
    );
    let ns_path = ns.path().to_path_buf();
    assert!(host_link_names().contains(&bridge));

    pm.unpublish(&mut ap).unwrap();
    ep.disconnect(&mut ap).unwrap();
    ns.delete().unwrap();
    net.delete(&mut ap).unwrap();
    assert_gone(&[&bridge, &veth], &[&table, &pm_table], &[&ns_path]);
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).expect("the proxy's port is free");
}

#[test]
fn a_panic_half_way_leaves_nothing_behind() {
    require_root();
    let scratch = Scratch::new();
    let (tx, rx) = mpsc::channel();
    let scratch_ref = &scratch;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let net = network(scratch_ref, "panic");
        let ns = scratch_ref.netns("web");
        let ep = net.connect(ns.path(), "web", &mut Applier::new()).unwrap();
        let pm = PortMap::publish(ep.ip(), &["80".parse().unwrap()], &mut Applier::new()).unwrap();
        tx.send((
            net.spec().bridge.clone(),
            net.spec().table.clone(),
            ep.spec().host_veth.clone(),
            pm.table().to_string(),
            ns.path().to_path_buf(),
            pm.mappings()[0].host_port,
        ))
        .unwrap();
        panic!("simulated failure half-way through a container start");
    }));
    assert!(result.is_err());
    let (bridge, table, veth, pm_table, ns_path, port) = rx.recv().unwrap();
    assert_gone(&[&bridge, &veth], &[&table, &pm_table], &[&ns_path]);
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).expect("the proxy's port is free");
}

#[test]
fn a_failing_step_rolls_back_what_was_made() {
    require_root();
    let scratch = Scratch::new();
    // Network: the bridge is made, then nft refuses the table name (too long).
    let mut spec = NetworkSpec::new("bad", test_subnet());
    spec.table = format!("{}{}", names::TABLE_PREFIX, "x".repeat(300));
    let bridge = spec.bridge.clone();
    let err = Network::create(spec, &scratch.ipam("bad"), &mut Applier::new())
        .err()
        .expect("nft must refuse");
    assert!(err.to_string().contains("nft"), "{err}");
    assert_gone(&[&bridge], &[], &[]);

    // Endpoint: the veth is made and plugged in, then moving it into a
    // "namespace" that is a plain file fails.
    let net = network(&scratch, "good");
    let not_a_netns = scratch.dir.path().join("ch05-not-a-netns");
    std::fs::write(&not_a_netns, b"").unwrap();
    let before = net.ipam().allocations().unwrap().len();
    let err = net
        .connect(&not_a_netns, "web", &mut Applier::new())
        .err()
        .expect("setns into a plain file must fail");
    assert!(err.to_string().contains("netns"), "{err}");
    let links = host_link_names();
    let ours: Vec<&str> = links
        .lines()
        .filter(|l| l.starts_with("ch05v") || l.starts_with("ch05p"))
        .collect();
    // Other tests run in parallel; none of their veths is unplugged, ours must be gone.
    for l in ours {
        let name = l
            .split_whitespace()
            .next()
            .unwrap()
            .split('@')
            .next()
            .unwrap();
        let master = Command::new("ip")
            .args(["-br", "link", "show", "master", &net.spec().bridge])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&master.stdout).contains(name),
            "{name} is still plugged into our bridge"
        );
    }
    assert_eq!(
        net.ipam().allocations().unwrap().len(),
        before,
        "the address was not given back"
    );
}
