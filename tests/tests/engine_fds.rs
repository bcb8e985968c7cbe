//! Descriptor hygiene and stops that return, with published ports.
//!
//! Every descriptor the daemon makes is close-on-exec. When one is not (the
//! stop pipe of a userland proxy was made with `pipe(2)`), every shim started
//! afterwards inherits it: closing the daemon's write end then never wakes
//! the proxy, its stop waits forever, and with it every `run` and `stop`.
//! These tests look at the kernel's own view (`/proc/<pid>/fd`) and drive
//! stops in every order with the real docker CLI and docker-compose.
//! Privileged: they fail (never skip) without root. Traffic goes only to
//! 127.0.0.1.

use e2e::*;
use std::collections::BTreeSet;
use std::net::TcpStream;
use std::process::Output;
use std::time::{Duration, Instant};

/// The open descriptors of `pid`: fd number -> what it points at
/// (`socket:[inode]`, `pipe:[inode]`, a path).
fn fds_of(pid: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(t) = std::fs::read_link(e.path()) {
            out.push((n, t.display().to_string()));
        }
    }
    out.sort();
    out
}

fn ppid_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // comm may hold spaces: the fields after the last ')' are fixed.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(1).unwrap().parse().unwrap()
}

fn pid_of(d: &Daemon, name: &str) -> i32 {
    d.ok(&["inspect", "--format", "{{.State.Pid}}", name])
        .trim()
        .parse()
        .unwrap()
}

/// Nothing listens on 127.0.0.1:`port` any more.
fn closed(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .is_err()
}

/// Runs `f` on a thread and fails unless it returns within `limit` (a hang
/// is the bug these tests are about: never wait for it forever).
#[track_caller]
fn within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("{what} did not return within {limit:?}"),
    }
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The docker CLI 20.10 against `d`, bounded in time.
fn docker(d: &Daemon, args: &[&str]) -> Output {
    let host = d.host();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    within(
        &format!("docker {args:?}"),
        Duration::from_secs(30),
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with_host("/usr/bin/docker", &[], &args, &[("DOCKER_HOST", &host)])
        },
    )
}

fn web(d: &Daemon, name: &str) -> u16 {
    let out = docker(d, &web_args(name));
    ok(&format!("docker run {name}"), &out);
    let port = host_port_80(d, name);
    fetch_page(port).unwrap();
    port
}

#[test]
fn a_new_shim_and_its_container_hold_none_of_the_daemons_descriptors() {
    let d = Daemon::start_bridged();
    d.import_busybox("bb");
    // Two containers with published ports: their proxies (and the stop
    // pipes of those) live in the daemon.
    for name in ["web1", "web2"] {
        d.ok(&web_args(name));
        fetch_page(host_port_80(&d, name)).unwrap();
    }
    d.ok(&["run", "-d", "--name", "quiet", "bb", "sleep", "600"]);
    let daemon = d.child.as_ref().unwrap().id() as i32;
    // What the daemon got from this test (cargo's jobserver pipe, say) is
    // not the daemon's own making.
    let ours: BTreeSet<String> = fds_of(std::process::id() as i32)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let theirs: BTreeSet<String> = fds_of(daemon)
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| !ours.contains(t))
        // Shared on purpose: the null device, and the daemon's log, which is
        // this test's file, not something the daemon made.
        .filter(|t| t != "/dev/null" && !t.ends_with("daemon.log"))
        .collect();
    assert!(
        theirs.iter().any(|t| t.starts_with("pipe:")),
        "the daemon holds its proxies' stop pipes: {theirs:?}"
    );
    let container = pid_of(&d, "quiet");
    let shim = ppid_of(container);
    assert!(
        std::fs::read_to_string(format!("/proc/{shim}/cmdline"))
            .unwrap()
            .contains("shim"),
        "the parent of the container's process is its shim"
    );
    let proxies: Vec<(String, i32)> = proxy_processes(&d)
        .into_iter()
        .map(|p| ("a port's proxy process".to_string(), p))
        .collect();
    assert_eq!(proxies.len(), 2, "a proxy process per published port");
    let mut who_pid = vec![
        ("the shim".to_string(), shim),
        ("the container's process".to_string(), container),
    ];
    who_pid.extend(proxies);
    for (who, pid) in who_pid {
        let fds = fds_of(pid);
        assert!(!fds.is_empty(), "{who} ({pid}) has descriptors");
        let leaked: Vec<_> = fds.iter().filter(|(_, t)| theirs.contains(t)).collect();
        assert!(
            leaked.is_empty(),
            "{who} ({pid}) inherited the daemon's descriptors: {leaked:?}\nall of its fds: {fds:?}"
        );
    }
    // And the container's process got nothing beyond its stdio.
    let extra: Vec<_> = fds_of(container)
        .into_iter()
        .filter(|(n, _)| *n > 2)
        .collect();
    assert!(extra.is_empty(), "the container's process holds {extra:?}");
}

/// Three containers, two of them with published ports, stopped in `order`
/// with the docker CLI: each stop returns promptly, the stopped one's port
/// closes, the others keep serving.
fn stop_in_order(order: [&str; 3]) {
    let d = Daemon::start_bridged();
    d.import_busybox("bb");
    let mut ports = std::collections::HashMap::new();
    ports.insert("ca", Some(web(&d, "ca")));
    ok(
        "run cb",
        &docker(&d, &["run", "-d", "--name", "cb", "bb", "sleep", "600"]),
    );
    ports.insert("cb", None);
    ports.insert("cc", Some(web(&d, "cc")));
    let mut running: Vec<&str> = vec!["ca", "cb", "cc"];
    for name in order {
        let t = Instant::now();
        ok(
            &format!("stop {name}"),
            &docker(&d, &["stop", "-t", "2", name]),
        );
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "stop {name} took {:?}",
            t.elapsed()
        );
        running.retain(|n| *n != name);
        if let Some(p) = ports[name] {
            assert!(closed(p), "{name}'s port {p} is closed after its stop");
        }
        for n in &running {
            if let Some(p) = ports[n] {
                fetch_page(p).unwrap_or_else(|e| panic!("after stop {name}, {n}: {e}"));
            }
        }
        let ps = docker(&d, &["ps", "--format", "{{.Names}}"]);
        let mut names: Vec<String> = String::from_utf8_lossy(&ps.stdout)
            .lines()
            .map(String::from)
            .collect();
        names.sort();
        assert_eq!(names, running, "ps after stop {name}");
    }
    // And a new run still works.
    ok("run after", &docker(&d, &["run", "--rm", "bb", "true"]));
}

#[test]
fn stops_in_order_abc() {
    stop_in_order(["ca", "cb", "cc"]);
}
#[test]
fn stops_in_order_acb() {
    stop_in_order(["ca", "cc", "cb"]);
}
#[test]
fn stops_in_order_bac() {
    stop_in_order(["cb", "ca", "cc"]);
}
#[test]
fn stops_in_order_bca() {
    stop_in_order(["cb", "cc", "ca"]);
}
#[test]
fn stops_in_order_cab() {
    stop_in_order(["cc", "ca", "cb"]);
}
#[test]
fn stops_in_order_cba() {
    stop_in_order(["cc", "cb", "ca"]);
}

#[test]
fn restart_rm_f_and_a_self_exit_return_while_others_run() {
    let d = Daemon::start_bridged();
    d.import_busybox("bb");
    web(&d, "ca");
    ok(
        "run cb",
        &docker(&d, &["run", "-d", "--name", "cb", "bb", "sleep", "600"]),
    );
    let c = web(&d, "cc");
    // restart: the same mapping comes back (a new proxy on the same port
    // once the old one let go of it).
    ok("restart ca", &docker(&d, &["restart", "-t", "1", "ca"]));
    let a2 = host_port_80(&d, "ca");
    fetch_page(a2).unwrap();
    fetch_page(c).unwrap();
    // rm -f of a running one with a port.
    ok("rm -f cc", &docker(&d, &["rm", "-f", "cc"]));
    assert!(closed(c), "cc's port is closed");
    fetch_page(a2).unwrap();
    // A container that exits by itself, with a port, started after b.
    ok(
        "run short",
        &docker(
            &d,
            &[
                "run",
                "-d",
                "--name",
                "short",
                "-p",
                "127.0.0.1::80",
                "bb",
                "sleep",
                "1",
            ],
        ),
    );
    let short = host_port_80(&d, "short");
    ok("wait short", &docker(&d, &["wait", "short"]));
    eventually("short's port closes", || closed(short));
    fetch_page(a2).unwrap();
    ok("run after", &docker(&d, &["run", "--rm", "bb", "true"]));
}

#[test]
fn docker_compose_stop_web_returns_and_the_others_keep_running() {
    let d = Daemon::start_bridged();
    d.import_busybox("bb");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::Builder::new()
        .prefix("md-compose-")
        .tempdir()
        .unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        format!(
            "version: '3'\nservices:\n  web:\n    image: bb\n    command: httpd -f -p 80 -h /www\n    ports:\n      - \"127.0.0.1:{port}:80\"\n  worker:\n    image: bb\n    command: sleep 600\n  cache:\n    image: bb\n    command: sleep 600\n"
        ),
    )
    .unwrap();
    let compose = |args: &[&str]| -> Output {
        let host = d.host();
        let cwd = dir.path().to_path_buf();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        within(
            &format!("docker-compose {args:?}"),
            Duration::from_secs(60),
            move || {
                std::process::Command::new("/usr/bin/docker-compose")
                    .args(["-p", "mdfds"])
                    .args(&args)
                    .current_dir(cwd)
                    .env("DOCKER_HOST", host)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .unwrap()
            },
        )
    };
    ok("docker-compose up -d", &compose(&["up", "-d"]));
    fetch_page(port).unwrap();
    let t = Instant::now();
    ok(
        "docker-compose stop web",
        &compose(&["stop", "-t", "2", "web"]),
    );
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "stop took {:?}",
        t.elapsed()
    );
    assert!(closed(port), "web's port is closed");
    let ps = docker(&d, &["ps", "--format", "{{.Names}}"]);
    let mut names: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    assert_eq!(names, ["mdfds_cache_1", "mdfds_worker_1"]);
    ok("docker-compose stop", &compose(&["stop", "-t", "1"]));
    let ps = docker(&d, &["ps", "-q"]);
    assert!(ps.stdout.is_empty(), "nothing runs after stop");
    ok("docker-compose down", &compose(&["down"]));
}
