//! User-defined networks, end to end: two networks with their own bridges
//! and subnets (free /24s of 10.204.0.0/16), containers that reach each
//! other by name inside one network and not across, live connect and
//! disconnect, `network rm` refused while in use, and nothing left behind.
//! Privileged: they fail (never skip) without root. Traffic goes only to
//! the containers' own addresses on the test's own networks.

use e2e::*;
use std::path::PathBuf;

/// Two free /24s of 10.204.0.0/16 (not a host route, not each other).
fn free_subnets(n: usize) -> Vec<network::Subnet> {
    let routes = network::network::host_routes().unwrap();
    let seed = u32::from_str_radix(&network::names::unique_id(), 16).unwrap();
    let mut out: Vec<network::Subnet> = Vec::new();
    for i in 0..256u32 {
        let s: network::Subnet = format!("10.204.{}.0/24", (seed + i * 7) % 256)
            .parse()
            .unwrap();
        if network::subnet::check_free(s, &routes).is_ok() && !out.contains(&s) {
            out.push(s);
            if out.len() == n {
                return out;
            }
        }
    }
    panic!("no free /24 left in 10.204.0.0/16");
}

/// Deletes the bridges and tables of the networks a daemon saved, even
/// when the test failed half-way (declared after the daemon: dropped first).
struct NetGuard(PathBuf);

impl NetGuard {
    fn bridges(&self) -> Vec<String> {
        std::fs::read_dir(self.0.join("networks"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter_map(|v| v["bridge"].as_str().map(String::from))
            .collect()
    }
}

impl Drop for NetGuard {
    fn drop(&mut self) {
        for br in self.bridges() {
            let _ = network::nft::delete_table(&mini_dockerd::net::bridge_table(&br));
            if let Ok(mut nl) = network::netlink::Netlink::open() {
                let _ = nl.delete_link(&br);
            }
        }
    }
}

fn link_exists(name: &str) -> bool {
    network::netlink::Netlink::open()
        .unwrap()
        .link_index(name)
        .unwrap()
        .is_some()
}

fn links_with_prefix(prefix: &str) -> Vec<String> {
    network::netlink::Netlink::open()
        .unwrap()
        .links()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn table_exists(table: &str) -> bool {
    network::nft::list_tables()
        .unwrap()
        .iter()
        .any(|(_, t)| t == table)
}

fn fmt(d: &Daemon, template: &str, what: &str) -> String {
    d.ok(&["inspect", "--format", template, what])
        .trim()
        .to_string()
}

/// `run --rm …` and its (success, stdout+stderr).
fn run_rm(d: &Daemon, args: &[&str]) -> (bool, String) {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    let out = d.cli(&all);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A shell command that fetches `/` from `host` port `port` (busybox `nc`:
/// its `wget` resolves names through glibc's static getaddrinfo, which
/// crashes without NSS modules; `nc` and `ping` read `/etc/hosts` fine).
fn fetch(host: &str, port: u16, timeout: u32) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w {timeout} {host} {port} | grep hello")
}

/// `GET /` through 127.0.0.1:`port` (the userland proxy), retried while it starts.
fn page_via_host(port: u16) -> String {
    fetch_until(port, 200, |page| page.contains("hello")).unwrap_or_default()
}

/// A shell loop that waits (at most ~30 s) until `cond` holds, then prints `done`.
fn until(cond: &str) -> String {
    format!(
        "i=0; until {cond}; do i=$((i+1)); [ $i -gt 150 ] && exit 1; sleep 0.2; done; echo done"
    )
}

#[test]
fn user_networks_resolve_by_name_isolate_and_connect_live() {
    let d = Daemon::start_bridged();
    let guard = NetGuard(d.data_root());
    d.import_busybox("bb");
    let subnets = free_subnets(2);
    let (s1, s2) = (subnets[0], subnets[1]);
    let front_id = d
        .ok(&["network", "create", "--subnet", &s1.to_string(), "front"])
        .trim()
        .to_string();
    assert_eq!(front_id.len(), 64, "{front_id}");
    d.ok(&["network", "create", "--subnet", &s2.to_string(), "back"]);
    let dup = d.cli(&["network", "create", "front"]);
    assert!(!dup.status.success(), "a second 'front' is refused");

    // ls: Docker's table, -q, --format.
    let ls = d.ok(&["network", "ls"]);
    assert!(ls.starts_with("NETWORK ID"), "{ls}");
    for name in ["front", "back", "bridge", "host", "none"] {
        assert!(ls.contains(name), "{ls}");
    }
    assert!(d.ok(&["network", "ls", "-q"]).contains(&front_id[..12]));
    let names = d.ok(&[
        "network",
        "ls",
        "--filter",
        "type=custom",
        "--format",
        "{{.Name}} {{.Driver}}",
    ]);
    assert_eq!(names.lines().count(), 2, "{names}");
    assert!(names.contains("front bridge"), "{names}");

    // Each network is its own bridge with its own nftables table.
    // Named after the network's id (Docker's are `br-<12 hex>`); it is not
    // an option, since the request did not choose it.
    let bridge = format!("mdn{}", &front_id[..12]);
    assert!(link_exists(&bridge), "the bridge {bridge} exists");
    let table = mini_dockerd::net::bridge_table(&bridge);
    assert!(table_exists(&table), "its table {table} exists");

    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--network-alias",
        "www",
        "bb",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "other",
        "--network",
        "back",
        "bb",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let web_ip: std::net::Ipv4Addr =
        fmt(&d, "{{.NetworkSettings.Networks.front.IPAddress}}", "web")
            .parse()
            .unwrap();
    assert!(s1.contains(web_ip), "{web_ip} in {s1}");
    assert_eq!(
        fmt(&d, "{{.NetworkSettings.Networks.front.Gateway}}", "web"),
        s1.gateway().to_string()
    );
    let mac = fmt(&d, "{{.NetworkSettings.Networks.front.MacAddress}}", "web");
    assert_eq!(mac.len(), 17, "a MAC address: {mac}");
    let other_ip = fmt(&d, "{{.NetworkSettings.Networks.back.IPAddress}}", "other");
    let inspect = d.ok(&["network", "inspect", "front"]);
    let web_id = fmt(&d, "{{.Id}}", "web");
    let on_front = d.ok(&["ps", "-q", "--no-trunc", "--filter", "network=front"]);
    assert_eq!(on_front.trim(), web_id, "ps --filter network=front");
    // Its own /etc/hosts names only itself, by its hostname, as Docker
    // 20.10's: names and aliases are the embedded DNS's to answer.
    let hosts =
        std::fs::read_to_string(d.data_root().join("containers").join(&web_id).join("hosts"))
            .unwrap();
    assert!(
        hosts.ends_with(&format!(
            "ff02::2\tip6-allrouters\n{web_ip}\t{}\n",
            &web_id[..12]
        )),
        "{hosts}"
    );
    assert!(
        !hosts.contains("www") && !hosts.contains("other"),
        "{hosts}"
    );
    assert!(inspect.contains(&web_id), "{inspect}");

    // Inside one network: by name, by alias, by short id.
    let (ok, out) = run_rm(
        &d,
        &[
            "--network",
            "front",
            "bb",
            "sh",
            "-c",
            &format!(
                "{} && {} && {}",
                fetch("web", 80, 5),
                fetch("www", 80, 5),
                fetch(&web_id[..12], 80, 5)
            ),
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(out.matches("hello from mini-docker").count(), 3, "{out}");

    // Across networks: no name, and no route through the host either.
    let (ok, out) = run_rm(
        &d,
        &[
            "--network",
            "front",
            "bb",
            "sh",
            "-c",
            &fetch("other", 80, 2),
        ],
    );
    assert!(!ok, "'other' is not resolvable from front: {out}");
    let (ok, out) = run_rm(
        &d,
        &[
            "--network",
            "front",
            "bb",
            "sh",
            "-c",
            &fetch(&other_ip, 80, 2),
        ],
    );
    assert!(!ok, "back is isolated from front: {out}");
    // Nor from the default bridge.
    let (ok, out) = run_rm(&d, &["bb", "sh", "-c", &fetch(&web_ip.to_string(), 80, 2)]);
    assert!(!ok, "front is isolated from the default bridge: {out}");

    // Connect live: a container on front waits until it can fetch from
    // 'other'; connecting it to back makes that happen.
    let waiter = d
        .ok(&[
            "run",
            "-d",
            "--network",
            "front",
            "bb",
            "sh",
            "-c",
            &until(&fetch("other", 80, 1)),
        ])
        .trim()
        .to_string();
    d.ok(&["network", "connect", "back", &waiter]);
    assert_eq!(
        d.ok(&["wait", &waiter]).trim(),
        "0",
        "{}",
        d.ok(&["logs", &waiter])
    );
    assert!(d.ok(&["logs", &waiter]).contains("done"));
    let nets = fmt(&d, "{{json .NetworkSettings.Networks}}", &waiter);
    assert!(
        nets.contains("\"front\"") && nets.contains("\"back\""),
        "{nets}"
    );

    // Disconnect live: the name stops resolving and the route goes.
    let leaver = d
        .ok(&[
            "run",
            "-d",
            "--network",
            "back",
            "bb",
            "sh",
            "-c",
            &format!(
                "{} && {}",
                until(&fetch("other", 80, 1)),
                until(&format!("! {}", fetch("other", 80, 1)))
            ),
        ])
        .trim()
        .to_string();
    // It reaches `other` by name first (the embedded DNS answers)…
    eventually("the leaver to reach other by name", || {
        d.ok(&["logs", &leaver]).contains("done")
    });
    // …and no longer once it has left the network.
    d.ok(&["network", "disconnect", "back", &leaver]);
    assert_eq!(
        d.ok(&["wait", &leaver]).trim(),
        "0",
        "{}",
        d.ok(&["logs", &leaver])
    );

    // A network in use cannot be removed.
    let rm = d.cli(&["network", "rm", "front"]);
    assert!(!rm.status.success());
    let err = String::from_utf8_lossy(&rm.stderr);
    assert!(err.contains("active endpoints"), "{err}");
    assert!(link_exists(&bridge));

    // Leak check: containers gone, then the networks; no bridge, veth or table left.
    for c in d.ids() {
        d.ok(&["rm", "-f", &c]);
    }
    let bridges = guard.bridges();
    assert_eq!(bridges.len(), 2);
    d.ok(&["network", "rm", "front", "back"]);
    for br in &bridges {
        assert!(!link_exists(br), "{br} is gone");
        let t = mini_dockerd::net::bridge_table(br);
        assert!(!table_exists(&t), "{t} is gone");
    }
    for id in [&web_id, &waiter, &leaver] {
        let veths = links_with_prefix(&format!("mdv{}", &id[..6]));
        assert!(veths.is_empty(), "veths of {id} are gone: {veths:?}");
    }
    assert!(guard.bridges().is_empty(), "the network files are gone");
    let left = std::fs::read_dir(d.data_root().join("netns"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "no netns file left");
}

#[test]
fn container_network_mode_and_prune() {
    let d = Daemon::start();
    let _guard = NetGuard(d.data_root());
    d.import_busybox("bb");
    let s = free_subnets(1)[0];
    d.ok(&["network", "create", "--subnet", &s.to_string(), "solo"]);
    d.ok(&[
        "network",
        "create",
        "--subnet",
        &free_subnets(2)[1].to_string(),
        "spare",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "solo",
        "-p",
        "127.0.0.1::8080",
        "bb",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/www",
    ]);
    // Published from a user network: the page comes through 127.0.0.1.
    let port = host_port(&d, "srv", "8080");
    let page = page_via_host(port);
    assert!(page.contains("hello from mini-docker"), "{page}");
    let record = d
        .data_root()
        .join("containers")
        .join(fmt(&d, "{{.Id}}", "srv"))
        .join("container.json");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    let table = record["net"]["table"].as_str().unwrap().to_string();
    assert!(table_exists(&table), "{table}");
    // `container:srv` shares its namespace: the server is on its localhost.
    let (ok, out) = run_rm(
        &d,
        &[
            "--network",
            "container:srv",
            "bb",
            "sh",
            "-c",
            &until(&fetch("127.0.0.1", 8080, 1)),
        ],
    );
    assert!(ok && out.contains("hello from mini-docker"), "{out}");
    // prune removes only the unused network.
    let pruned = d.ok(&["network", "prune", "-f"]);
    assert!(
        pruned.contains("spare") && !pruned.contains("solo"),
        "{pruned}"
    );
    d.ok(&["rm", "-f", "srv"]);
    assert!(!table_exists(&table), "{table} is gone");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    d.ok(&["network", "rm", "solo"]);
    assert!(!d.ok(&["network", "ls"]).contains("solo"));
}

#[test]
fn the_docker_cli_manages_networks_too() {
    let d = Daemon::start();
    let _guard = NetGuard(d.data_root());
    d.import_busybox("bb");
    let s = free_subnets(1)[0];
    let out = d.docker(&["network", "create", "--subnet", &s.to_string(), "dnet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ls = d.docker(&["network", "ls"]);
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.contains("dnet") && ls.contains("bridge"), "{ls}");
    for name in ["ca", "cb"] {
        let r = d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "dnet",
            "bb",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let r = d.docker(&[
        "run",
        "--rm",
        "--network",
        "dnet",
        "bb",
        "sh",
        "-c",
        &until(&fetch("cb", 80, 1)),
    ]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success() && text.contains("hello"), "{text}");
    let ip = d.docker(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.Networks.dnet.IPAddress}}",
        "ca",
    ]);
    let ip: std::net::Ipv4Addr = String::from_utf8_lossy(&ip.stdout).trim().parse().unwrap();
    assert!(s.contains(ip));
    // A static address would be ignored (the network assigns one), so it
    // is refused by name, at run and at connect, and nothing is created.
    let want = (u32::from(ip) + 100).to_be_bytes();
    let want = std::net::Ipv4Addr::from(want).to_string();
    let r = d.docker(&[
        "run",
        "-d",
        "--name",
        "cx",
        "--network",
        "dnet",
        "--ip",
        &want,
        "bb",
        "true",
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("EndpointsConfig.dnet.IPAMConfig is not supported"),
        "{err}"
    );
    assert!(
        !d.docker(&["inspect", "cx"]).status.success(),
        "cx was not created"
    );
    let r = d.docker(&["network", "disconnect", "dnet", "cb"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = d.docker(&["network", "connect", "--ip", &want, "dnet", "cb"]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("EndpointConfig.IPAMConfig is not supported"),
        "{err}"
    );
    let nets = d.docker_ok(&[
        "inspect",
        "--format",
        "{{len .NetworkSettings.Networks}}",
        "cb",
    ]);
    assert_eq!(nets.trim(), "0", "cb was not connected");
    let rm = d.docker(&["network", "rm", "dnet"]);
    assert!(!rm.status.success(), "in use");
    assert!(d.docker(&["rm", "-f", "ca", "cb"]).status.success());
    let rm = d.docker(&["network", "rm", "dnet"]);
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
}

#[test]
fn user_networks_survive_a_daemon_restart() {
    let mut d = Daemon::start();
    let guard = NetGuard(d.data_root());
    d.import_busybox("bb");
    let s = free_subnets(1)[0];
    d.ok(&["network", "create", "--subnet", &s.to_string(), "keep"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "kweb",
        "--network",
        "keep",
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
    let bridge = guard.bridges().pop().unwrap();
    let port = host_port(&d, "kweb", "80");
    assert!(page_via_host(port).contains("hello from mini-docker"));
    d.kill9();
    d.spawn();
    // The published port is served again by the new daemon.
    assert!(page_via_host(port).contains("hello from mini-docker"));
    assert!(d.ok(&["network", "ls"]).contains("keep"));
    let table = mini_dockerd::net::bridge_table(&bridge);
    assert!(link_exists(&bridge) && table_exists(&table));
    // The adopted container is still reachable by name from a new one.
    let (ok, out) = run_rm(
        &d,
        &[
            "--network",
            "keep",
            "bb",
            "sh",
            "-c",
            &until(&fetch("kweb", 80, 1)),
        ],
    );
    assert!(ok && out.contains("hello from mini-docker"), "{out}");
    // Its exit after the restart still releases what it had.
    d.ok(&["rm", "-f", "kweb"]);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "the new daemon's proxy let go of {port}"
    );
    d.ok(&["network", "rm", "keep"]);
    assert!(!link_exists(&bridge) && !table_exists(&table));
    let ipam = d.data_root().join("networks/keep-ipam.json");
    assert!(!ipam.exists(), "{} is gone", ipam.display());
}
