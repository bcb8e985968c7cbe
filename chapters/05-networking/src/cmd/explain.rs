//! `chapter05 --explain`: the tour's steps as shell commands, doing nothing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use chapter05::network::{
    plan_connect, plan_create_network, plan_delete_network, plan_disconnect, plan_publish,
    plan_unpublish, EndpointSpec,
};
use chapter05::plan::{render, Step};
use chapter05::{names, NetworkSpec, PortMapping, Subnet};

/// Print the plans of the tour with example names and addresses.
pub fn run(subnet: Option<Subnet>) -> anyhow::Result<()> {
    let subnet = subnet.unwrap_or_else(|| "172.18.0.0/16".parse().expect("a valid subnet"));
    let net = NetworkSpec::new("demo", subnet);
    let dir = Path::new("/run/chapter05/netns");
    let web_ns = dir.join(names::netns_name("web", &names::unique_id()));
    let client_ns = dir.join(names::netns_name("client", &names::unique_id()));
    let host = |n: u64| subnet.nth(n).unwrap_or(Ipv4Addr::UNSPECIFIED);
    let web = EndpointSpec::new(&net, &names::unique_id(), &web_ns, host(2));
    let client = EndpointSpec::new(&net, &names::unique_id(), &client_ns, host(3));
    let map = PortMapping {
        host_port: 49153,
        ..("80".parse::<PortMapping>()?)
    };
    let table = names::table_name(&names::unique_id());

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# 1. the network: a bridge, its address, and a table of nftables rules"
    );
    out.push_str(&render(&plan_create_network(&net, false)));
    let _ = writeln!(
        out,
        "\n# 2. one namespace per container, made before the container"
    );
    out.push_str(&render(&[
        Step::CreateNetns(web_ns.clone()),
        Step::CreateNetns(client_ns.clone()),
    ]));
    let _ = writeln!(out, "\n# 3. plug each namespace into the bridge");
    out.push_str(&render(&plan_connect(&net, &web)));
    out.push_str(&render(&plan_connect(&net, &client)));
    let _ = writeln!(
        out,
        "\n# 4. the containers (chapter 01) join the namespaces with setns(2)"
    );
    let _ = writeln!(
        out,
        "+ nsenter --net={} <container web: httpd -f -p 80>",
        web_ns.display()
    );
    let _ = writeln!(out, "+ nsenter --net={} ping -c 3 web", client_ns.display());
    let _ = writeln!(
        out,
        "\n# 5. publish web's port 80 on a random host port (here 49153): -p 80"
    );
    out.push_str(&render(&plan_publish(&table, web.ip, &[map])));
    let _ = writeln!(out, "+ wget -O - http://127.0.0.1:49153/");
    let _ = writeln!(out, "\n# 6. teardown");
    out.push_str(&render(&plan_unpublish(&table, web.ip, &[map])));
    out.push_str(&render(&plan_disconnect(&web)));
    out.push_str(&render(&plan_disconnect(&client)));
    out.push_str(&render(&[
        Step::DeleteNetns(web_ns),
        Step::DeleteNetns(client_ns),
    ]));
    out.push_str(&render(&plan_delete_network(&net)));
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(())
}
