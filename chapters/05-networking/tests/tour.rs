//! The tour and the proxy process, run as a user would run them.
//! Privileged: run as root (sudo -E cargo test -p chapter05).

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_chapter05");

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the tour needs root: run the tests as root (sudo -E cargo test -p chapter05)"
    );
}

#[test]
fn tour_fetches_the_page_and_leaves_nothing() {
    require_root();
    let data_root = tempfile::Builder::new()
        .prefix("ch05-tour-")
        .tempdir()
        .unwrap();
    // A subnet of its own, so it never meets the privileged tests' networks.
    let routes = chapter05::network::host_routes().unwrap();
    let subnet = (0u8..=255)
        .map(|n| chapter05::Subnet::new(Ipv4Addr::new(10, 202, n, 0), 24).unwrap())
        .find(|s| !routes.iter().any(|r| r.prefix() > 0 && r.overlaps(s)))
        .unwrap();
    let out = Command::new(BIN)
        .args([
            "--data-root",
            data_root.path().to_str().unwrap(),
            "--subnet",
            &subnet.to_string(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tour failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 packets transmitted, 3 packets received"),
        "{stdout}"
    );
    assert!(
        stdout.contains("HTTP/1.1 200 OK") && stdout.contains("hello from a busybox container"),
        "{stdout}"
    );
    assert!(stdout.contains("dnat to"), "{stdout}");
    // The page also came from the client container through the host's port,
    // by the DNAT rule: conntrack's reply direction is web's port 80 (through
    // the proxy, which listens on every address too, it would be the host port).
    assert_eq!(
        stdout
            .matches("<h1>hello from a busybox container</h1>")
            .count(),
        2,
        "{stdout}"
    );
    if std::path::Path::new("/proc/net/nf_conntrack").exists() {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with("ipv4") && l.contains(" sport=80 ")),
            "no conntrack entry shows the DNAT to port 80:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("nobody listens (the proxy is gone)"),
        "{stdout}"
    );
    let ids: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("+ ip link add name "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    let links = String::from_utf8(
        Command::new("ip")
            .args(["-br", "link"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        !links.contains(ids[0]),
        "the bridge {} is still there",
        ids[0]
    );
    assert!(std::fs::read_dir(data_root.path())
        .map(|d| d.count() == 0)
        .unwrap_or(true));
}

#[test]
fn explain_needs_no_root_and_prints_commands() {
    let out = Command::new(BIN)
        .args(["--explain", "--subnet", "10.203.0.0/24"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "ip link add name ch05b",
        "type veth peer name eth0 netns ",
        "nft add table ip chapter05_",
        "masquerade",
        "dnat to 10.203.0.2:80",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
}

#[test]
fn proxy_process_exits_on_sigterm_and_frees_its_port() {
    let mut child = Command::new(BIN)
        .args([
            "proxy",
            "--host-ip",
            "127.0.0.1",
            "--host-port",
            "0",
            "--container-ip",
            "127.0.0.1",
            "--container-port",
            "9",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "proxying 127.0.0.1:PORT/tcp -> 127.0.0.1:9"
    let port: u16 = line
        .split(':')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err(),
        "the proxy holds its port"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is free after the proxy exits");
}
