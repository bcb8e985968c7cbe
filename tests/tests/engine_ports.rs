//! Published ports and the default bridge across daemon restarts, resets
//! of the data root, and a daemon that dies mid-request. Privileged: they
//! fail (never skip) without root. Traffic goes only to 127.0.0.1.

use e2e::*;
use std::io::Read;
use std::net::{Ipv4Addr, TcpStream};

fn web(d: &Daemon, name: &str) -> u16 {
    d.ok(&web_args(name));
    host_port_80(d, name)
}

/// A daemon on a fresh data root finds the bridge a previous daemon left
/// (as docker0 outlives dockerd): it adopts the bridge's subnet, so its
/// containers get addresses the bridge routes and their ports serve.
#[test]
fn a_fresh_data_root_adopts_the_existing_bridges_subnet() {
    let mut first = Daemon::start_bridged();
    let (bridge, subnet) = first.bridge.clone().unwrap();
    first.import_busybox("bb");
    first.ok(&["run", "--rm", "bb", "true"]);
    // The daemon goes, the bridge stays (its drop deletes it at the end).
    first.kill9();
    let second = Daemon::start_on_bridge(&bridge, "");
    second.import_busybox("bb");
    let port = web(&second, "web");
    fetch_page(port).unwrap();
    let ip: Ipv4Addr = second
        .ok(&[
            "inspect",
            "--format",
            "{{.NetworkSettings.IPAddress}}",
            "web",
        ])
        .trim()
        .parse()
        .unwrap();
    let subnet: network::Subnet = subnet.parse().unwrap();
    assert!(subnet.contains(ip), "{ip} is in the bridge's {subnet}");
    let net = second.ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        "bridge",
    ]);
    assert_eq!(net.trim(), subnet.to_string());
    // Asking for another subnet on that bridge is refused, naming the flag.
    let other: network::Subnet = format!(
        "10.203.{}.0/24",
        (subnet.network().octets()[2] as u16 + 1) % 256
    )
    .parse()
    .unwrap();
    let third = Daemon::start_on_bridge(&bridge, &other.to_string());
    third.import_busybox("bb");
    let out = third.cli(&["run", "--rm", "bb", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "the bridge {bridge} already exists on {subnet}, not on --bridge-subnet {other}"
        )),
        "{err}"
    );
    drop(third);
    drop(second);
    drop(first);
    assert!(
        network::netlink::Netlink::open()
            .unwrap()
            .link_index(&bridge)
            .unwrap()
            .is_none(),
        "the test's bridge is gone"
    );
}

/// A daemon that dies while the client waits for its answer: the client
/// says so, rather than `bad answer from the daemon: ""`.
#[test]
fn a_daemon_that_closes_the_connection_gets_a_clear_error() {
    let dir = tempfile::Builder::new()
        .prefix("md-closed-")
        .tempdir()
        .unwrap();
    let sock = dir.path().join("d.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // A "daemon" that reads the request and dies without answering.
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
        }
    });
    let out = std::process::Command::new(cli_bin())
        .args(["-H", &format!("unix://{}", sock.display()), "ps"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("the daemon closed the connection: is it running? see its log"),
        "{err}"
    );
    assert!(!err.contains("bad answer"), "{err}");
    drop(server);
}

fn table_exists(table: &str) -> bool {
    network::nft::list_tables()
        .unwrap()
        .iter()
        .any(|(_, t)| t == table)
}

fn net_record(d: &Daemon, id: &str) -> serde_json::Value {
    let p = d
        .data_root()
        .join("containers")
        .join(id)
        .join("container.json");
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap()["net"].clone()
}

/// A published port lives in its own proxy process (as docker-proxy): it
/// keeps serving while the daemon is dead, the next daemon adopts it, and
/// the container's stop ends it.
#[test]
fn a_published_port_keeps_serving_while_the_daemon_is_dead() {
    let mut d = Daemon::start_bridged();
    d.import_busybox("bb");
    let id = d.ok(&web_args("web")).trim().to_string();
    let port = host_port_80(&d, "web");
    fetch_page(port).unwrap();
    let proxies = proxy_processes(&d);
    assert_eq!(proxies.len(), 1, "one proxy process for one port");
    let pid = net_record(&d, &id)["ports"][0]["proxy_pid"]
        .as_u64()
        .unwrap() as i32;
    assert_eq!(proxies, [pid], "the recorded pid is the proxy's");
    d.kill9();
    // No daemon: the page still comes through 127.0.0.1.
    assert!(std::fs::metadata(format!("/proc/{pid}")).is_ok());
    fetch_page(port).unwrap();
    d.spawn();
    fetch_page(port).unwrap();
    // Adopted, not replaced; its DNAT table written again.
    assert_eq!(proxy_processes(&d), [pid]);
    let net = net_record(&d, &id);
    assert_eq!(net["ports"][0]["proxy_pid"].as_u64(), Some(pid as u64));
    assert!(table_exists(net["table"].as_str().unwrap()));
    d.ok(&["stop", "-t", "1", "web"]);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port is closed after the stop"
    );
    assert!(proxy_processes(&d).is_empty(), "no proxy process is left");
    assert!(!table_exists(net["table"].as_str().unwrap()));
    // The same after a restart of a stopped container's daemon: nothing comes back.
    d.ok(&["start", "web"]);
    let port = host_port_80(&d, "web");
    fetch_page(port).unwrap();
    let pid = proxy_processes(&d);
    assert_eq!(pid.len(), 1);
    d.kill9();
    d.spawn();
    d.ok(&["rm", "-f", "web"]);
    assert!(
        proxy_processes(&d).is_empty(),
        "rm -f after a restart ends the adopted proxy"
    );
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

/// A daemon SIGKILLed while a container publishes a port leaves that port's
/// DNAT table behind, as a crashed dockerd leaves its rules until its next
/// start; the test harness's drop must remove it (it once did not, and
/// `chapter05_…` tables piled up on the host).
#[test]
fn a_killed_daemons_port_table_goes_with_the_test() {
    let mut d = Daemon::start_bridged();
    d.import_busybox("bb");
    let out = d.ok(&["run", "-d", "-p", "127.0.0.1::80", "bb", "sleep", "300"]);
    let table = d.record(out.trim())["net"]["table"]
        .as_str()
        .unwrap()
        .to_string();
    let exists = |t: &str| {
        std::process::Command::new("nft")
            .args(["list", "table", "ip", t])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(exists(&table), "{table} was never made");
    d.kill9();
    drop(d);
    assert!(!exists(&table), "{table} outlived the test's daemon");
}
