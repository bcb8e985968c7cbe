//! A two-node Docker swarm whose containers run on mini-runc (issue 23).
//!
//! Two real `dockerd`, each in a network namespace of its own (`md-sw…-1`,
//! `md-sw…-2`) joined by a veth pair on 10.231.N.0/24, both started with
//! `--add-runtime mini=…/mini-runc --default-runtime mini` (a swarm service
//! cannot choose a runtime, so the default is the way) on private data
//! roots. `swarm init` on the first, `join` from the second (by
//! mini-docker); a service with
//! four replicas spreads over both; every task's container was created by
//! mini-runc (Docker records runtime `mini`, and `mini-runc state` reads the
//! container from the state root dockerd gave it, with the same pid); it
//! scales, updates rolling, and a drained node's tasks move to the other.
//!
//! A published port: a second service, two replicas of busybox's httpd
//! with `--publish mode=host,target=80,published=P` and
//! `--replicas-max-per-node 1`, so one task runs on each node. Each page is
//! fetched from the *other* node's namespace through `<node address>:P`
//! (and from inside the node at 127.0.0.1:P), and names the container that
//! served it: the node's own task, made by mini-runc.
//!
//! Why host mode and not the routing mesh: ingress load-balances with IPVS,
//! and this kernel is built without it (`# CONFIG_IP_VS is not set` in
//! /proc/config.gz, `# CONFIG_MODULES is not set`, no /lib/modules, no
//! /proc/net/ip_vs), so no swarm can publish through ingress on this
//! machine. Host mode needs Docker's own networking in each node: the task
//! is attached to the default bridge, and dockerd publishes it with a DNAT
//! rule and its docker-proxy. With the harness's `--bridge=none` the task
//! gets `NetworkMode: default` with no network and `NetworkSettings.Ports`
//! is `{}`: the binding is dropped without an error, no rule, no proxy. So
//! the nodes run with the bridge, iptables (iptables-nft, per namespace) and
//! the proxy on ([`DockerDaemon::start_in_netns_networked`]); all of it
//! lives inside the namespaces the test made and goes with them.
//!
//! Privileged: fails, never skips, without root. The daemons are reached
//! by unix sockets; the swarm's own traffic stays on the veth link inside
//! the two namespaces.

use e2e::docker::{rand_u16, sh, wait_for, Netns};
use e2e::DockerDaemon;
use std::process::Command;
use std::time::Duration;

/// `curl` run inside network namespace `ns` (the test's own), the body of
/// `url` on success.
fn curl_in(ns: &Netns, url: &str) -> Result<String, String> {
    let o = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", ns.0))
        .args(["curl", "-sS", "--max-time", "5", url])
        .output()
        .unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// A swarm node: a real dockerd in a namespace (the e2e crate's
/// `DockerDaemon`: private directories, stopped and unmounted on drop).
struct Node(DockerDaemon);

impl Node {
    fn start(netns: &Netns) -> Node {
        Node(DockerDaemon::start_in_netns_networked(
            &netns.0,
            &[
                "--add-runtime".to_string(),
                format!("mini={}", e2e::runtime::mini_runc()),
                "--default-runtime".to_string(),
                "mini".to_string(),
            ],
        ))
    }

    fn ok(&self, args: &[&str]) -> String {
        self.0.ok(args).trim().to_string()
    }

    /// The running containers of service `name`.
    fn tasks(&self, name: &str) -> Vec<String> {
        self.0.service_containers(name)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Out of the swarm first; DockerDaemon's drop then removes the
        // containers and stops dockerd.
        let _ = self.0.docker(&["swarm", "leave", "--force"]);
    }
}

#[test]
fn a_two_node_swarm_runs_its_service_on_mini_runc() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test starts dockerd in network namespaces: run it as root"
    );
    let hex = format!("{:04x}", rand_u16());
    let third = 1 + (rand_u16() % 250);
    let (a1, a2) = (format!("10.231.{third}.1"), format!("10.231.{third}.2"));
    let ns1 = Netns::new(format!("md-sw{hex}-1"));
    let ns2 = Netns::new(format!("md-sw{hex}-2"));
    let (v1, v2) = (format!("md-sw{hex}a"), format!("md-sw{hex}b"));
    sh(&[
        "ip", "link", "add", &v1, "type", "veth", "peer", "name", &v2,
    ]);
    sh(&["ip", "link", "set", &v1, "netns", &ns1.0]);
    sh(&["ip", "link", "set", &v2, "netns", &ns2.0]);
    for (ns, v, a) in [(&ns1, &v1, &a1), (&ns2, &v2, &a2)] {
        sh(&[
            "ip",
            "-n",
            &ns.0,
            "addr",
            "add",
            &format!("{a}/24"),
            "dev",
            v,
        ]);
        sh(&["ip", "-n", &ns.0, "link", "set", v, "up"]);
    }
    // Drop order: nodes (declared later) stop before their namespaces go.
    let n1 = Node::start(&ns1);
    let n2 = Node::start(&ns2);

    // The swarm, over the veth link.
    n1.ok(&[
        "swarm",
        "init",
        "--advertise-addr",
        &a1,
        "--listen-addr",
        &format!("{a1}:2377"),
    ]);
    let token = n1.ok(&["swarm", "join-token", "-q", "worker"]);
    // The second node joins through mini-docker (a swarm client too).
    let n2_host = n2.0.host();
    let joined = e2e::run_with_host(
        &e2e::cli_bin(),
        &[("-H", &n2_host)],
        &[
            "swarm",
            "join",
            "--token",
            &token,
            "--advertise-addr",
            &a2,
            "--listen-addr",
            &format!("{a2}:2377"),
            &format!("{a1}:2377"),
        ],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&joined.stdout),
        "This node joined a swarm as a worker.\n",
        "{}",
        String::from_utf8_lossy(&joined.stderr)
    );
    let id2 = n2.ok(&["info", "--format", "{{.Swarm.NodeID}}"]);
    wait_for("both nodes Ready", Duration::from_secs(30), || {
        n1.ok(&["node", "ls", "--format", "{{.Status}}"])
            .lines()
            .filter(|s| *s == "Ready")
            .count()
            == 2
    });
    for n in [&n1, &n2] {
        n.0.import_busybox("md-busybox");
    }

    // Four replicas, on both nodes, each made by mini-runc.
    let svc = format!("md-svc-{hex}");
    n1.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        &svc,
        "--replicas",
        "4",
        "md-busybox",
        "sleep",
        "600",
    ]);
    let spread = |want: usize| {
        let (t1, t2) = (n1.tasks(&svc), n2.tasks(&svc));
        (t1.len() + t2.len() == want).then_some((t1, t2))
    };
    let check_all = |want: usize, both: bool| {
        let mut got = None;
        wait_for(
            &format!("{want} running tasks"),
            Duration::from_secs(90),
            || {
                got = spread(want);
                got.is_some()
            },
        );
        let (t1, t2) = got.unwrap();
        if both {
            assert!(!t1.is_empty() && !t2.is_empty(), "{t1:?} {t2:?}");
        }
        for id in &t1 {
            n1.0.assert_run_by_mini_runc(id);
        }
        for id in &t2 {
            n2.0.assert_run_by_mini_runc(id);
        }
        (t1, t2)
    };
    check_all(4, true);

    // Scale up.
    n1.ok(&["service", "scale", "--detach", &format!("{svc}=6")]);
    check_all(6, true);

    // A rolling update (one task at a time): every task is replaced by one
    // with the new environment, again on mini-runc.
    n1.ok(&[
        "service",
        "update",
        "--detach",
        "--update-parallelism",
        "1",
        "--update-delay",
        "1s",
        "--env-add",
        "MD_VERSION=2",
        &svc,
    ]);
    wait_for("the rolling update", Duration::from_secs(180), || {
        n1.ok(&[
            "service",
            "inspect",
            "--format",
            "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
            &svc,
        ]) == "completed"
    });
    let (t1, t2) = check_all(6, true);
    for (n, id) in t1
        .iter()
        .map(|i| (&n1, i))
        .chain(t2.iter().map(|i| (&n2, i)))
    {
        let env = n.ok(&["inspect", "--format", "{{json .Config.Env}}", id]);
        assert!(env.contains("MD_VERSION=2"), "{id}: {env}");
    }

    // A published port: one httpd task on each node (host mode), each page
    // fetched through the other node's link, from the node that did not
    // run it.
    let web = format!("md-web-{hex}");
    let port = (20000 + rand_u16() % 40000).to_string();
    n1.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        &web,
        "--replicas",
        "2",
        "--replicas-max-per-node",
        "1",
        "--publish",
        &format!("mode=host,target=80,published={port}"),
        "md-busybox",
        "/bin/busybox",
        "sh",
        "-c",
        "mkdir -p /www && hostname > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www",
    ]);
    let mut on = Vec::new();
    wait_for("a web task on each node", Duration::from_secs(90), || {
        on = vec![n1.tasks(&web), n2.tasks(&web)];
        on.iter().all(|t| t.len() == 1)
    });
    for ((node, addr, there, elsewhere), tasks) in [(&n1, &a1, &ns1, &ns2), (&n2, &a2, &ns2, &ns1)]
        .into_iter()
        .zip(&on)
    {
        let id = &tasks[0];
        node.0.assert_run_by_mini_runc(id);
        // dockerd bound the port for the task (not dropped).
        let ports = node.ok(&["inspect", "--format", "{{json .NetworkSettings.Ports}}", id]);
        assert!(
            ports.contains(&format!("\"HostPort\":\"{port}\"")),
            "{id}: {ports}"
        );
        let hostname = node.ok(&["inspect", "--format", "{{.Config.Hostname}}", id]);
        let mut page = Err(String::new());
        wait_for(
            &format!("{addr}:{port} to answer"),
            Duration::from_secs(30),
            || {
                page = curl_in(elsewhere, &format!("http://{addr}:{port}/"));
                page.is_ok()
            },
        );
        assert_eq!(
            page.unwrap(),
            hostname,
            "the page at {addr}:{port} from the other node"
        );
        assert_eq!(
            curl_in(there, &format!("http://127.0.0.1:{port}/")).unwrap(),
            hostname,
            "the page at 127.0.0.1:{port} inside the node"
        );
    }
    n1.ok(&["service", "rm", &web]);

    // Drain the second node: its tasks move to the first.
    n1.ok(&["node", "update", "--availability", "drain", &id2]);
    wait_for("the drained node to empty", Duration::from_secs(90), || {
        n2.tasks(&svc).is_empty()
    });
    let (t1, _) = check_all(6, false);
    assert_eq!(t1.len(), 6);

    n1.ok(&["service", "rm", &svc]);

    // Nothing is left: with the daemons stopped, no process (shim,
    // docker-proxy, task) runs in either namespace; with the namespaces
    // gone, so are the veth pair, the bridges and their nf_tables rules.
    drop(n2);
    drop(n1);
    for ns in [&ns1, &ns2] {
        assert_eq!(ns.pids(), Vec::<i32>::new(), "processes left in {}", ns.0);
    }
    let names = [ns1.0.clone(), ns2.0.clone()];
    drop(ns2);
    drop(ns1);
    for n in &names {
        assert!(
            !std::path::Path::new(&format!("/run/netns/{n}")).exists(),
            "{n}"
        );
    }
    for v in [&v1, &v2] {
        let o = Command::new("ip")
            .args(["link", "show", v])
            .output()
            .unwrap();
        assert!(!o.status.success(), "link {v} outlived the test");
    }
}
