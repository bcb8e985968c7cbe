//! The guided tour: two containers on a bridge, a ping, a published web
//! server, and a teardown that leaves nothing behind.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use chapter01::{Config, Namespace};
use chapter05::netns::Netns;
use chapter05::network::{choose_default_subnet, host_routes};
use chapter05::plan::Step;
use chapter05::{dns, names, nft, Applier, Endpoint, Network, NetworkSpec, PortMap, Subnet};

/// Tour options (see `chapter05 --help`).
pub struct Options {
    /// Where namespace files, IPAM state and root filesystems go.
    pub data_root: PathBuf,
    /// The network's subnet, if chosen by the user.
    pub subnet: Option<Subnet>,
    /// Print chapter 01's steps too.
    pub verbose: bool,
}

fn section(n: u32, title: &str) {
    println!("\n=== {n}. {title} ===\n");
}

/// A container made by chapter 01 in a namespace of ours.
struct Container {
    name: String,
    netns: Netns,
    endpoint: Option<Endpoint>,
    rootfs: PathBuf,
}

/// Run everything; every object is held by a guard, so an error anywhere
/// still tears down what was made.
pub fn run(opts: &Options) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("this chapter creates bridges, namespaces and nftables rules and needs root: run it with sudo (or try `chapter05 --explain`)");
    }
    let run_dir = opts.data_root.join(format!("tour-{}", names::unique_id()));
    let _run_dir = DirGuard::create(&run_dir)?;
    let netns_dir = run_dir.join("netns");
    std::fs::create_dir_all(&netns_dir)
        .with_context(|| format!("mkdir {}", netns_dir.display()))?;
    let mut ap = Applier::new().narrate(true);

    section(1, "a bridge network");
    let subnet = match opts.subnet {
        Some(s) => s,
        None => {
            let s = choose_default_subnet(&[])?;
            println!(
                "subnet {s}: the first of Docker's address pools (without docker0's 172.17.0.0/16)"
            );
            println!("that overlaps none of the host's routes:");
            for r in host_routes()? {
                println!("    {r}");
            }
            println!();
            s
        }
    };
    let net = Network::create(
        NetworkSpec::new("demo", subnet),
        &run_dir.join("ipam/demo.json"),
        &mut ap,
    )?;

    section(
        2,
        "a network namespace per container, made before the container",
    );
    let mut containers = Vec::new();
    for name in ["web", "client"] {
        let path = netns_dir.join(names::netns_name(name, &names::unique_id()));
        ap.apply(&[Step::CreateNetns(path.clone())])?;
        let netns = Netns::adopt(path);
        let rootfs = run_dir.join(format!("rootfs-{name}"));
        chapter01::rootfs::build_busybox_rootfs(&rootfs)
            .context("build a busybox root filesystem")?;
        containers.push(Container {
            name: name.into(),
            netns,
            endpoint: None,
            rootfs,
        });
    }

    section(
        3,
        "plug each namespace into the bridge: veth pair, address from IPAM, default route",
    );
    for c in &mut containers {
        println!("# {}", c.name);
        c.endpoint = Some(net.connect(c.netns.path(), &c.name, &mut ap)?);
        println!();
    }
    println!("IPAM state ({}):", net.ipam().path().display());
    for (ip, owner) in net.ipam().allocations()? {
        println!("    {ip}  {owner}");
    }

    section(
        4,
        "/etc/hosts and /etc/resolv.conf: the containers know each other by name",
    );
    let peers: Vec<(String, Ipv4Addr)> = containers
        .iter()
        .map(|c| (c.name.clone(), c.endpoint.as_ref().expect("connected").ip()))
        .collect();
    for c in &containers {
        let ip = c.endpoint.as_ref().expect("connected").ip();
        dns::write_hosts(&c.rootfs.join("etc/hosts"), &c.name, ip, &peers)?;
        dns::write_resolv_conf(
            Path::new("/etc/resolv.conf"),
            &c.rootfs.join("etc/resolv.conf"),
            &[],
        )?;
    }
    println!("{}/etc/hosts of client:", containers[1].rootfs.display());
    print!(
        "{}",
        std::fs::read_to_string(containers[1].rootfs.join("etc/hosts"))?
    );

    section(5, "the containers (chapter 01) join their namespaces");
    let web = &containers[0];
    let mut httpd = spawn(
        opts,
        web,
        &["httpd", "-f", "-v", "-p", "80", "-h", "/var/www"],
        Stdio::null(),
    )?;
    println!(
        "web: busybox httpd -f -p 80 runs as pid {} on the host",
        httpd.pid()
    );
    let client = &containers[1];
    println!("\nclient: ip addr show eth0; ip route");
    run_to_end(opts, client, &["sh", "-c", "ip addr show eth0; ip route"])?;
    println!(
        "\nclient: ping -c 3 web  (web is {} through /etc/hosts)",
        peers[0].1
    );
    run_to_end(opts, client, &["ping", "-c", "3", "web"])?;

    section(6, "publish web's port 80 on a random host port (-p 80)");
    let web_ip = web.endpoint.as_ref().expect("connected").ip();
    let ports = PortMap::publish(web_ip, &["80".parse()?], &mut ap)?;
    let host_port = ports.mappings()[0].host_port;
    println!("\nthe kernel picked host port {host_port}");

    section(
        7,
        "fetch the page from the host through 127.0.0.1 (the userland proxy)",
    );
    let page = fetch(host_port)?;
    println!("GET http://127.0.0.1:{host_port}/ ->");
    for line in page.lines().take(12) {
        println!("    {line}");
    }
    println!(
        "(httpd's log line above shows who connected: {}, the bridge's address, because",
        net.spec().gateway()
    );
    println!(
        " the proxy on the host opened that connection: `ss -tnp` while it runs shows both halves)"
    );

    let gateway = net.spec().gateway();
    section(
        8,
        "fetch the same page from the client container through the host's port (the DNAT rule)",
    );
    println!("Traffic from other machines and other containers takes this path: it reaches a host");
    println!(
        "address ({gateway}, the bridge's), prerouting's `dnat to {web_ip}:80` rewrites it, and"
    );
    println!("the hairpin `ct status dnat masquerade` makes web answer through the host.");
    let url = format!("http://{gateway}:{host_port}/");
    println!("\nclient: wget -q -O - {url}");
    run_to_end(opts, client, &["wget", "-q", "-O", "-", &url])?;
    // The proof that the DNAT rule, not the proxy (which listens on every
    // host address too), carried it: conntrack's entry has web's address in
    // its reply direction. Through the proxy it would show the gateway's.
    println!("\n$ grep 'dport={host_port} ' /proc/net/nf_conntrack    # the connection as conntrack tracked it");
    match std::fs::read_to_string("/proc/net/nf_conntrack") {
        Ok(table) => {
            let needle = format!("dport={host_port} ");
            for line in table
                .lines()
                .filter(|l| l.contains(&needle) && l.contains(&format!("src={}", peers[1].1)))
            {
                println!(
                    "    {}",
                    line.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
            println!(
                "(the first src/dst pair is what client sent; the second, what came back: from {web_ip}:80 to {gateway},\n the DNAT and the masquerade undone by conntrack on the way back)"
            );
        }
        Err(e) => println!(
            "    ({e}: this kernel has no conntrack procfs; `conntrack -L` shows the same)"
        ),
    }

    section(9, "the nftables rules this made");
    println!("$ nft list table ip {}", net.spec().table);
    print!("{}", nft::list_table(&net.spec().table)?);
    println!("$ nft list table ip {}", ports.table());
    print!("{}", nft::list_table(ports.table())?);

    section(10, "teardown");
    // httpd is PID 1 of its PID namespace: it ignores SIGTERM unless it
    // installed a handler, so it gets SIGKILL, as `docker kill` sends.
    httpd.kill(nix::sys::signal::Signal::SIGKILL).ok();
    httpd.wait().context("wait for httpd")?;
    println!("# web's httpd stopped");
    let tables = [net.spec().table.clone(), ports.table().to_string()];
    let mut our_links = vec![net.spec().bridge.clone()];
    our_links.extend(
        containers
            .iter()
            .filter_map(|c| c.endpoint.as_ref())
            .map(|e| e.spec().host_veth.clone()),
    );
    ports.unpublish(&mut ap)?;
    for c in containers {
        if let Some(ep) = c.endpoint {
            ep.disconnect(&mut ap)?;
        }
        ap.apply(&[Step::DeleteNetns(c.netns.path().to_path_buf())])?;
        let _ = c.netns.into_path(); // already deleted above
    }
    net.delete(&mut ap)?;

    section(11, "nothing is left");
    let links: Vec<String> = chapter05::netlink::Netlink::open()?
        .links()?
        .into_iter()
        .map(|l| l.name)
        .filter(|n| our_links.contains(n))
        .collect();
    println!(
        "links {}: {}",
        our_links.join(", "),
        if links.is_empty() {
            "gone".into()
        } else {
            links.join(" ")
        }
    );
    let ours: Vec<String> = nft::list_tables()?
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| tables.contains(n))
        .collect();
    println!(
        "nft tables {}: {}",
        tables.join(", "),
        if ours.is_empty() {
            "gone".into()
        } else {
            ours.join(" ")
        }
    );
    let left: Vec<_> = std::fs::read_dir(&netns_dir)?.collect();
    println!("namespace files in {}: {}", netns_dir.display(), left.len());
    match TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, host_port).into(),
        Duration::from_secs(1),
    ) {
        Ok(_) => println!("127.0.0.1:{host_port}: still answers!"),
        Err(_) => println!("127.0.0.1:{host_port}: nobody listens (the proxy is gone)"),
    }
    if !links.is_empty() || !ours.is_empty() || !left.is_empty() {
        bail!("something was left behind (see above)");
    }
    println!(
        "\nCheck for yourself: ip -br link; nft list tables; ls {}",
        opts.data_root.display()
    );
    Ok(())
}

fn config(opts: &Options, c: &Container, argv: &[&str]) -> Config {
    let mut cfg = Config::new(argv.iter().map(|s| s.to_string()).collect());
    cfg.namespaces = Namespace::all_but_user()
        .into_iter()
        .filter(|n| *n != Namespace::Net)
        .collect();
    cfg.netns = Some(c.netns.path().to_path_buf());
    cfg.hostname = Some(c.name.clone());
    cfg.rootfs = Some(c.rootfs.clone());
    cfg.env = vec!["PATH=/bin:/sbin:/usr/bin:/usr/sbin".into()];
    cfg.narrate = opts.verbose;
    cfg
}

fn spawn(
    opts: &Options,
    c: &Container,
    argv: &[&str],
    stdout: Stdio,
) -> anyhow::Result<chapter01::Child> {
    let mut cfg = config(opts, c, argv);
    cfg.stdout = stdout;
    chapter01::spawn(cfg).with_context(|| format!("start the container {}", c.name))
}

fn run_to_end(opts: &Options, c: &Container, argv: &[&str]) -> anyhow::Result<()> {
    let status = spawn(opts, c, argv, Stdio::inherit())?.wait()?;
    if !status.success() {
        bail!("`{}` in {} failed: {status}", argv.join(" "), c.name);
    }
    Ok(())
}

/// `GET /` on 127.0.0.1:port, retrying while httpd starts (bounded).
fn fetch(port: u16) -> anyhow::Result<String> {
    let mut last = None;
    for _ in 0..50 {
        match get(port) {
            Ok(page) if !page.is_empty() => return Ok(page),
            Ok(_) => {}
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last.map_or_else(|| anyhow::anyhow!("empty answer"), anyhow::Error::from))
        .with_context(|| format!("fetch http://127.0.0.1:{port}/"))
}

fn get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Removes the tour's directory at the end, whatever happens.
struct DirGuard(PathBuf);

impl DirGuard {
    fn create(p: &Path) -> anyhow::Result<DirGuard> {
        std::fs::create_dir_all(p).with_context(|| format!("mkdir -p {}", p.display()))?;
        Ok(DirGuard(p.to_path_buf()))
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // Remove the data root too if the tour left it empty.
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}
