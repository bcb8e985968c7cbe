//! The checks of chapter 05's exercises: real links, a real namespace, real
//! packets, all named `ch05-ex…-<n>` and deleted by guards at the end.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::ExitCode;

use chapter05::netlink::Netlink;
use chapter05::netns::Netns;
use exercise_kit::{attempt, Exercise, Report, Scratch, Variant};

use crate::{ex1, ex2, ex3, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 3] = [
    Exercise {
        title: "a veth pair from a namespace into a bridge",
        check: check_veth,
    },
    Exercise {
        title: "an address and a default route inside the namespace",
        check: check_route,
    },
    Exercise {
        title: "a DNAT rule publishes a container's port",
        check: check_dnat,
    },
];

/// What a `__child` does: join the network namespace `args[1]`, connect
/// to `args[2]` (`ip:port`) and report the line the host sent.
pub fn child(_: Variant, args: &[String]) -> ExitCode {
    if args.first().map(String::as_str) == Some("serve") {
        return serve(args);
    }
    exercise_kit::child_report(|| {
        let netns = std::fs::File::open(args.get(1).ok_or("no namespace")?)
            .map_err(|e| format!("open the namespace: {e}"))?;
        nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("setns: {e}"))?;
        let addr: std::net::SocketAddr = args
            .get(2)
            .and_then(|a| a.parse().ok())
            .ok_or("no address")?;
        let stream = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
            .map_err(|e| format!("connect to {addr} from the namespace: {e}"))?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line)
            .map_err(|e| format!("read: {e}"))?;
        Ok::<_, String>(line.trim().to_string())
    })
}

/// Deletes the links it names when dropped (a veth's peer goes with it).
struct Links(Vec<String>);

impl Drop for Links {
    fn drop(&mut self) {
        if let Ok(mut nl) = Netlink::open() {
            for name in &self.0 {
                let _ = nl.delete_link(name);
            }
        }
    }
}

fn check_veth(r: &mut Report, v: Variant) {
    let n = std::process::id() % 100_000;
    let (bridge, host_end, ns_end) = (
        format!("ch05-ex1b-{n}"),
        format!("ch05-ex1h-{n}"),
        format!("ch05-ex1c-{n}"),
    );
    // A /24 of its own per run: 10.251.<n mod 250>.0/24.
    let third = (n % 250) as u8;
    let (gateway, inside) = (
        Ipv4Addr::new(10, 251, third, 1),
        Ipv4Addr::new(10, 251, third, 2),
    );
    let scratch = Scratch::new("ch05-ex1");
    let _links = Links(vec![bridge.clone(), host_end.clone()]);
    let setup = (|| -> chapter05::Result<(Netlink, Netns)> {
        let mut nl = Netlink::open()?;
        nl.add_bridge(&bridge)?;
        nl.add_address(&bridge, gateway, 24)?;
        nl.set_up(&bridge)?;
        let ns = Netns::create(&scratch.0, &format!("ch05-ex1-{n}"), Path::new("/proc"))?;
        Ok((nl, ns))
    })();
    let (mut nl, ns) = match setup {
        Ok(s) => s,
        Err(e) => {
            return r.fail(
                "the checker made a bridge and a namespace",
                e,
                "run as root (sudo scripts/check.sh 05 1)",
            )
        }
    };
    let done = attempt(|| match v {
        Variant::Learner => ex1::veth_into_bridge(&mut nl, &bridge, &host_end, &ns_end, ns.path()),
        Variant::Solution => {
            solutions::ex1::veth_into_bridge(&mut nl, &bridge, &host_end, &ns_end, ns.path())
        }
    });
    match done {
        Err(e) => return r.fail("veth_into_bridge ran", e, "see src/ex1.rs's hint"),
        Ok(Err(e)) => {
            return r.fail(
                "veth_into_bridge made the links",
                e,
                "the veth pair first, then master, up and netns",
            )
        }
        Ok(Ok(())) => {}
    }
    let links = nl.links().unwrap_or_default();
    let bridge_index = links.iter().find(|l| l.name == bridge).map(|l| l.index);
    let host = links.iter().find(|l| l.name == host_end);
    r.check(
        "the host end is a port of the bridge, and up",
        host.is_some_and(|h| h.master.is_some() && h.master == bridge_index && h.up),
        format!("{host_end}: {host:?} (bridge index {bridge_index:?})"),
        "set_master(host_end, bridge), then set_up(host_end)",
    );
    let still_on_host = links.iter().any(|l| l.name == ns_end);
    let in_ns = (|| -> chapter05::Result<Vec<String>> {
        let mut inner = Netlink::open_in(ns.path())?;
        let names = inner
            .links()?
            .into_iter()
            .map(|l| l.name)
            .collect::<Vec<_>>();
        if names.contains(&ns_end) {
            inner.add_address(&ns_end, inside, 24)?;
            inner.set_up(&ns_end)?;
            inner.set_up("lo")?;
        }
        Ok(names)
    })();
    let in_ns = in_ns.unwrap_or_else(|e| vec![format!("<{e}>")]);
    r.check(
        "the other end is inside the namespace, not on the host",
        in_ns.contains(&ns_end) && !still_on_host,
        format!("links in the namespace: {in_ns:?}; still on the host: {still_on_host}"),
        "set_netns(ns_end, netns) moves it",
    );
    // The host listens on the bridge's address; the namespace connects.
    let said = connect_from(v, &ns, (gateway, 0).into());
    r.check(
        &format!("from the namespace ({inside}), a TCP connection to the bridge ({gateway}) gets the host's greeting"),
        said.as_deref() == Ok("hello from the host"),
        format!("{said:?}"),
        "both ends must be up, and the host end a port of the bridge",
    );
    drop(ns);
}

/// From the namespace, a TCP connection to `addr`: the greeting, or why not.
fn connect_from(v: Variant, ns: &Netns, addr: std::net::SocketAddr) -> Result<String, String> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("(checker) listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = std::io::Write::write_all(&mut s, b"hello from the host\n");
        }
    });
    let said = exercise_kit::run_child(
        v,
        &["1", &ns.path().display().to_string(), &addr.to_string()],
    )
    .and_then(|o| exercise_kit::child_value(&o));
    if said.is_err() {
        // Unblock the accept.
        let _ = std::net::TcpStream::connect(addr);
    }
    let _ = server.join();
    said
}

fn check_route(r: &mut Report, v: Variant) {
    let n = std::process::id() % 100_000;
    let (bridge, host_end, ns_end) = (
        format!("ch05-ex2b-{n}"),
        format!("ch05-ex2h-{n}"),
        format!("ch05-ex2c-{n}"),
    );
    let third = (n % 250) as u8;
    // Its own ranges, apart from exercise 1's 10.251/16 (the checkers' tests
    // run side by side): 10.254.N.0/24, and 10.253.N.1 beyond it.
    let (gateway, inside, beyond) = (
        Ipv4Addr::new(10, 254, third, 1),
        Ipv4Addr::new(10, 254, third, 2),
        Ipv4Addr::new(10, 253, third, 1),
    );
    let scratch = Scratch::new("ch05-ex2");
    let _links = Links(vec![bridge.clone(), host_end.clone()]);
    let setup = (|| -> chapter05::Result<Netns> {
        let mut nl = Netlink::open()?;
        nl.add_bridge(&bridge)?;
        nl.add_address(&bridge, gateway, 24)?;
        // A host address outside the bridge's subnet: only a route reaches it.
        nl.add_address(&bridge, beyond, 24)?;
        nl.set_up(&bridge)?;
        let ns = Netns::create(&scratch.0, &format!("ch05-ex2-{n}"), Path::new("/proc"))?;
        solutions::ex1::veth_into_bridge(&mut nl, &bridge, &host_end, &ns_end, ns.path())?;
        Ok(ns)
    })();
    let ns = match setup {
        Ok(s) => s,
        Err(e) => {
            return r.fail(
                "the checker made a bridge, a namespace and a veth between them",
                e,
                "run as root (sudo scripts/check.sh 05 2)",
            )
        }
    };
    let done = attempt(|| -> chapter05::Result<()> {
        let mut inner = Netlink::open_in(ns.path())?;
        match v {
            Variant::Learner => ex2::address_and_route(&mut inner, &ns_end, inside, 24, gateway),
            Variant::Solution => {
                solutions::ex2::address_and_route(&mut inner, &ns_end, inside, 24, gateway)
            }
        }
    });
    match done {
        Err(e) => return r.fail("address_and_route ran", e, "see src/ex2.rs's hint"),
        Ok(Err(e)) => return r.fail(
            "address_and_route configured the namespace",
            e,
            "lo up, the address, the link up, then the route (the gateway must be reachable first)",
        ),
        Ok(Ok(())) => {}
    }
    let seen = (|| -> chapter05::Result<(bool, bool, Vec<String>)> {
        let mut inner = Netlink::open_in(ns.path())?;
        let links = inner.links()?;
        let up = |name: &str| links.iter().any(|l| l.name == name && l.up);
        let addresses = inner
            .addresses()?
            .into_iter()
            .map(|a| format!("{a:?}"))
            .collect();
        Ok((up("lo"), up(&ns_end), addresses))
    })();
    let (lo_up, end_up, addresses) = match seen {
        Ok(s) => s,
        Err(e) => return r.fail("the checker reads the namespace's links", e, "(checker)"),
    };
    r.check(
        "inside the namespace, lo and the veth's end are up",
        lo_up && end_up,
        format!("lo up: {lo_up}, {ns_end} up: {end_up}"),
        "set_up(\"lo\") and set_up(ns_end)",
    );
    let has = addresses.iter().any(|a| a.contains(&inside.to_string()));
    r.check(
        &format!("the veth's end has {inside}"),
        has,
        addresses.join("; "),
        "add_address(ns_end, ip, prefix)",
    );
    let near = connect_from(v, &ns, (gateway, 0).into());
    r.check(
        &format!("from the namespace, a TCP connection to the bridge ({gateway}) gets the host's greeting"),
        near.as_deref() == Ok("hello from the host"),
        format!("{near:?}"),
        "the address and the link up are enough for the bridge's own subnet",
    );
    let far = connect_from(v, &ns, (beyond, 0).into());
    r.check(
        &format!("and one to {beyond}, outside the subnet, goes through the gateway"),
        far.as_deref() == Ok("hello from the host"),
        format!("{far:?}"),
        "without a default route the kernel answers \"Network is unreachable\": add_default_route(gateway)",
    );
    drop(ns);
}

/// `__child V serve NETNS`: in the namespace, listen on port 80, say READY,
/// and greet one connection with its peer's address.
fn serve(args: &[String]) -> ExitCode {
    exercise_kit::child_report(|| {
        let netns = std::fs::File::open(args.get(1).ok_or("no namespace")?)
            .map_err(|e| format!("open the namespace: {e}"))?;
        nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("setns: {e}"))?;
        let listener = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 80))
            .map_err(|e| format!("listen on :80: {e}"))?;
        println!("READY");
        std::io::Write::flush(&mut std::io::stdout()).map_err(|e| e.to_string())?;
        let (mut s, peer) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        std::io::Write::write_all(&mut s, b"hello from the container's port 80\n")
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(format!("served {peer}"))
    })
}

/// Deletes the learner's nft table when dropped.
struct Table(String);

impl Drop for Table {
    fn drop(&mut self) {
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "ip", &self.0])
            .output();
    }
}

fn check_dnat(r: &mut Report, v: Variant) {
    use chapter05::{Applier, Network, NetworkSpec, Subnet};
    let n = std::process::id() % 100_000;
    let scratch = Scratch::new("ch05-ex3");
    // A /24 that no host route covers.
    let routes = chapter05::network::host_routes().unwrap_or_default();
    let Some(subnet) = (0..250u32)
        .map(|i| ((n + i) % 250) as u8)
        .filter_map(|k| Subnet::new(Ipv4Addr::new(10, 252, k, 0), 24).ok())
        .find(|s| !routes.iter().any(|r| r.prefix() > 0 && r.overlaps(s)))
    else {
        return r.fail(
            "the checker found a free subnet",
            "every 10.252.x.0/24 is in use",
            "(checker setup)",
        );
    };
    let mut ap = Applier::new();
    let setup = (|| -> chapter05::Result<_> {
        let net = Network::create(
            NetworkSpec::new("ex3", subnet),
            &scratch.0.join("ipam.json"),
            &mut ap,
        )?;
        let web_ns = Netns::create(&scratch.0, &format!("ch05-ex3-web-{n}"), Path::new("/proc"))?;
        let client_ns = Netns::create(
            &scratch.0,
            &format!("ch05-ex3-client-{n}"),
            Path::new("/proc"),
        )?;
        let web = net.connect(web_ns.path(), "web", &mut ap)?;
        let client = net.connect(client_ns.path(), "client", &mut ap)?;
        Ok((net, web_ns, client_ns, web, client))
    })();
    let (net, web_ns, client_ns, web, client) = match setup {
        Ok(s) => s,
        Err(e) => {
            return r.fail(
                "the checker made a network with two namespaces",
                e,
                "run as root (sudo scripts/check.sh 05 2)",
            )
        }
    };
    let gateway = net.spec().gateway();
    let host_port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18080);
    let table = Table(format!("ch05_ex3_{n}"));
    let script = attempt(|| match v {
        Variant::Learner => ex3::publish_rules(&table.0, host_port, web.ip(), 80),
        Variant::Solution => solutions::ex3::publish_rules(&table.0, host_port, web.ip(), 80),
    });
    let script = match script {
        Ok(s) => s,
        Err(e) => return r.fail("publish_rules ran", e, "see src/ex3.rs's hint"),
    };
    let loaded = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            if let Some(mut stdin) = c.stdin.take() {
                std::io::Write::write_all(&mut stdin, script.as_bytes())?;
            }
            c.wait_with_output()
        });
    let loaded_ok = loaded.as_ref().is_ok_and(|o| o.status.success());
    r.check(
        "nft -f - accepts the rules",
        loaded_ok,
        match &loaded {
            Ok(o) if o.status.success() => "loaded".to_string(),
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => e.to_string(),
        },
        "a table, a chain with `type nat hook prerouting priority dstnat;`, and the rule",
    );
    if !loaded_ok {
        return;
    }
    // The container's server, then the other container's connection.
    let mut server = match std::process::Command::new("/proc/self/exe")
        .args([
            "__child",
            v.arg(),
            "serve",
            &web_ns.path().display().to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return r.fail(
                "the server started in web's namespace",
                e,
                "(checker setup)",
            )
        }
    };
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        server.stdout.take().expect("piped"),
    ));
    let ready = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    let target = format!("{gateway}:{host_port}");
    let said = if ready == "READY" {
        exercise_kit::run_child(v, &["1", &client_ns.path().display().to_string(), &target])
            .and_then(|o| exercise_kit::child_value(&o))
    } else {
        Err(format!("the server did not start: {ready}"))
    };
    if said.is_err() {
        // Unblock its accept, from inside web's namespace.
        let _ = exercise_kit::run_child(
            v,
            &[
                "1",
                &web_ns.path().display().to_string(),
                &format!("{}:80", web.ip()),
            ],
        );
    }
    let served: String = lines.map_while(Result::ok).collect::<Vec<_>>().join(" ");
    let _ = server.wait();
    r.check(
        &format!("from client ({}), {target} answers with web's port 80", client.ip()),
        said.as_deref() == Ok("hello from the container's port 80"),
        format!("{said:?}"),
        "the rule must match tcp dport HOST_PORT on a local address, and `dnat to CONTAINER_IP:CONTAINER_PORT`",
    );
    r.check(
        "web saw the connection arrive rewritten (from the gateway, by the network's masquerade)",
        served.contains(&format!("served {gateway}:")),
        served,
        "DNAT in prerouting; the chapter's network adds the hairpin masquerade",
    );
    drop(table);
    let _ = client.disconnect(&mut ap);
    let _ = web.disconnect(&mut ap);
    let _ = net.delete(&mut ap);
    drop((web_ns, client_ns));
}
