//! The checks of chapter 05's exercises: real links, a real namespace, real
//! packets, all named `ch05-ex…-<n>` and deleted by guards at the end.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::ExitCode;

use chapter05::netlink::Netlink;
use chapter05::netns::Netns;
use exercise_kit::{attempt, Exercise, Report, Scratch, Variant};

use crate::{ex1, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 1] = [Exercise {
    title: "a veth pair from a namespace into a bridge",
    check: check_veth,
}];

/// What a `__child` does: join the network namespace `args[1]`, connect
/// to `args[2]` (`ip:port`) and report the line the host sent.
pub fn child(_: Variant, args: &[String]) -> ExitCode {
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
    let listener = match std::net::TcpListener::bind((gateway, 0)) {
        Ok(l) => l,
        Err(e) => {
            return r.fail(
                "the host listens on the bridge's address",
                e,
                "(checker setup)",
            )
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = std::io::Write::write_all(&mut s, b"hello from the host\n");
        }
    });
    let said = exercise_kit::run_child(v, &["1", &ns.path().display().to_string(), &addr])
        .and_then(|o| exercise_kit::child_value(&o));
    if said.is_err() {
        // Unblock the accept.
        let _ = std::net::TcpStream::connect(&addr);
    }
    let _ = server.join();
    r.check(
        &format!("from the namespace ({inside}), a TCP connection to the bridge ({addr}) gets the host's greeting"),
        said.as_deref() == Ok("hello from the host"),
        format!("{said:?}"),
        "both ends must be up, and the host end a port of the bridge",
    );
    drop(ns);
}
