//! Published ports and the default bridge across daemon restarts, resets
//! of the data root, and a daemon that dies mid-request. Privileged: they
//! fail (never skip) without root. Traffic goes only to 127.0.0.1.

mod engine_common;

use engine_common::*;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

/// `GET /` through 127.0.0.1:`port`, retried while httpd starts.
fn fetch(port: u16) -> Result<String, String> {
    let mut last = String::new();
    for _ in 0..100 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.contains("hello from mini-docker") {
                    return Ok(body);
                }
                last = body;
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("no page from 127.0.0.1:{port}: {last}"))
}

fn host_port(d: &Daemon, name: &str) -> u16 {
    d.ok(&["port", name, "80"])
        .lines()
        .next()
        .unwrap()
        .trim()
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap()
}

fn web(d: &Daemon, name: &str) -> u16 {
    d.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "-p",
        "127.0.0.1::80",
        "bb",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    host_port(d, name)
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
    fetch(port).unwrap();
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
    let out = std::process::Command::new(CLI)
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
