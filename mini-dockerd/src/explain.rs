//! # `--explain`: every kernel step of starting a container, in order
//!
//! `mini-docker run --explain …` (and `create`/`start --explain`) prints
//! what the engine and the runtime will do to start the container, each
//! step beside the shell command that does the same. Nothing here is
//! written for the occasion: every line comes from the plan the real path
//! executes, computed by the chapter that teaches it:
//!
//! | phase | who | the plan comes from |
//! | --- | --- | --- |
//! | layers and root filesystem | engine | chapter 03: [`unionfs::Driver::mounts`] (`mount -t overlay …`) |
//! | network | engine | chapter 05: `plan_create_network`, `plan_connect`, `plan_publish` (`ip …`, `nft …`) |
//! | bundle | engine | [`super::spec`]: the `config.json` the runtime reads |
//! | cgroups | runtime | chapter 02: `plan_create_at`, `plan_set`, `plan_add_pid` (`mkdir`, `echo … > memory.limit_in_bytes`) |
//! | namespaces, mounts, pivot_root, process, credentials and exec | runtime (the container's init) | [`mini_runc::plan::plan_create`] (`unshare`, `mount`, `pivot_root`, `capsh`, `exec`), chapter 01's steps inside |
//!
//! The daemon computes the plan (`GET /containers/{id}/explain`): it knows
//! the layers, the network and the cgroup layout; the client prints it
//! grouped by phase. Values decided only at start are shown as they would
//! be: the next free address from the IPAM, `$INIT_PID` for the init's pid,
//! `$ROOTFS` for the container's root as the init sees it.
//!
//! `run --explain` prints the plan and then runs the container, like a
//! verbose mode (the plan is what *will* happen, so it is printed first);
//! `create --explain` creates the container and prints the plan of its
//! start; `start --explain` prints it and starts.

use super::{spec, ApiError, Engine, Result};
pub use mini_docker_api::explain::{render, Phase, Step};
use mini_runc::plan::RtStep;
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::PathBuf;

fn step(command: impl Into<String>, why: impl Into<String>) -> Step {
    Step {
        command: command.into(),
        why: why.into(),
    }
}

/// How the container's network will be made.
#[derive(Debug, Clone)]
pub enum NetPlan {
    /// `--network host`.
    Host,
    /// `--network none` (or no bridge configured).
    Isolated,
    /// The default bridge, wired by the engine.
    Bridge {
        /// Steps creating the bridge (empty when it is up already).
        create: Vec<network::Step>,
        /// The namespace file.
        netns: PathBuf,
        /// veth, address, routes.
        connect: Vec<network::Step>,
        /// `-p`: DNAT rules and proxies.
        publish: Vec<network::Step>,
        /// `net.*` sysctls written inside the namespace.
        sysctls: Vec<(String, String)>,
    },
    /// Another mode (a user network, `container:`): described in a word.
    Other(String),
}

/// Everything the plan is computed from.
pub struct Inputs {
    /// The container id.
    pub id: String,
    /// Its bundle directory (`containers/<id>`), with `rootfs` in it.
    pub bundle: PathBuf,
    /// Chapter 03's mounts of its root.
    pub rootfs_mounts: Vec<unionfs::Mount>,
    /// The storage driver's name.
    pub driver: String,
    /// The network.
    pub net: NetPlan,
    /// The `config.json` the engine writes (without the `net.*` sysctls the engine sets).
    pub spec: Value,
    /// The host's cgroup layout.
    pub layout: cgroups::Layout,
    /// The shim binary.
    pub shim: PathBuf,
}

/// The phase of a runtime step.
fn rt_phase(s: &RtStep) -> &'static str {
    use namespaces::Step as C;
    match s {
        RtStep::Setns { .. } | RtStep::Setsid => "namespaces",
        RtStep::Ch01(C::SetHostname { .. }) => "pivot_root and the view from inside",
        RtStep::Ch01(_) => "namespaces",
        RtStep::RootPropagation { .. }
        | RtStep::BindRootfs { .. }
        | RtStep::Mount(_)
        | RtStep::Device(_)
        | RtStep::DevSymlinks
        | RtStep::Hooks(_)
        | RtStep::CreateContainerHooks => "mounts and devices",
        RtStep::PivotRoot { .. }
        | RtStep::ReadonlyPath(_)
        | RtStep::MaskPath(_)
        | RtStep::Domainname(_)
        | RtStep::Sysctl { .. }
        | RtStep::ReadonlyRoot => "pivot_root and the view from inside",
        RtStep::Console
        | RtStep::OomScoreAdj(_)
        | RtStep::Rlimit { .. }
        | RtStep::CloseFds { .. }
        | RtStep::Ready
        | RtStep::WaitStart
        | RtStep::StartContainerHooks => "process setup, then wait for start",
        RtStep::Seccomp
        | RtStep::BoundingSet(_)
        | RtStep::SetUser { .. }
        | RtStep::Capabilities
        | RtStep::NoNewPrivs
        | RtStep::Umask(_)
        | RtStep::Chdir(_)
        | RtStep::Exec(_) => "capabilities, seccomp, user, exec",
    }
}

fn rt_why(s: &RtStep) -> &'static str {
    use namespaces::Step as C;
    match s {
        RtStep::Setns { .. } => "join a namespace the engine made (the network, wired already)",
        RtStep::Ch01(C::Unshare { .. }) => {
            "the namespaces the spec asks to be new: the container's own view"
        }
        RtStep::Ch01(C::Fork { .. }) => "the child is PID 1 of the new PID namespace",
        RtStep::Ch01(C::SetHostname { .. }) => "the UTS namespace's own hostname",
        RtStep::Setsid => "a session of its own, detached from the shim's terminal",
        RtStep::RootPropagation { .. } => "mounts made inside do not leak to the host",
        RtStep::BindRootfs { .. } => "pivot_root needs the new root to be a mount point",
        RtStep::Mount(_) => "a mount from config.json, its target resolved inside the rootfs",
        RtStep::Device(_) => "a device node every container gets",
        RtStep::PivotRoot { .. } => "the rootfs becomes /, the host's root is detached",
        RtStep::ReadonlyPath(_) => "Docker's read-only /proc paths",
        RtStep::MaskPath(_) => "Docker's masked paths: hidden from the container",
        RtStep::Sysctl { .. } => "a namespaced kernel setting from the spec",
        RtStep::CloseFds { .. } => "no host descriptor leaks into the container (CVE-2024-21626)",
        RtStep::WaitStart => "create is done; start opens the fifo",
        RtStep::Seccomp => "Docker's default syscall allowlist",
        RtStep::BoundingSet(_) => "Docker's 14 capabilities, the rest dropped for good",
        RtStep::SetUser { .. } => "the image's USER (or -u)",
        RtStep::Capabilities => "effective, permitted, inheritable, ambient sets from the spec",
        RtStep::Exec(_) => "the container's program replaces the init",
        _ => "",
    }
}

fn push(phases: &mut Vec<Phase>, actor: &str, name: &str, s: Step) {
    match phases.last_mut() {
        Some(p) if p.actor == actor && p.name == name => p.steps.push(s),
        _ => phases.push(Phase {
            actor: actor.into(),
            name: name.into(),
            steps: vec![s],
        }),
    }
}

/// Computes the plan (no side effects).
pub fn plan(inp: &Inputs) -> std::result::Result<Vec<Phase>, String> {
    let mut ph: Vec<Phase> = Vec::new();
    let eng = |ph: &mut Vec<Phase>, name: &str, s: Step| push(ph, "engine", name, s);

    // 1. The root filesystem: chapter 03's mounts.
    let layers = "layers and root filesystem";
    for m in &inp.rootfs_mounts {
        let why = if m.fstype == "overlay" {
            "the image's layers, read-only, under the container's writable layer (copy-on-write)"
        } else {
            "the container's full copy of its image (copy driver)"
        };
        eng(&mut ph, layers, step(m.to_string(), why));
    }
    if inp.rootfs_mounts.is_empty() {
        eng(
            &mut ph,
            layers,
            step(format!("# the {} driver mounts nothing", inp.driver), ""),
        );
    }

    // 2. The network: chapter 05's plans.
    let net = "network";
    match &inp.net {
        NetPlan::Host => eng(
            &mut ph,
            net,
            step(
                "# --network host: no network namespace",
                "the container shares the host's interfaces and ports",
            ),
        ),
        NetPlan::Isolated => eng(
            &mut ph,
            net,
            step(
                "# --network none: the runtime makes a new, empty network namespace",
                "only lo, and it is down",
            ),
        ),
        NetPlan::Other(m) => eng(
            &mut ph,
            net,
            step(format!("# --network {m}"), "see `network inspect`"),
        ),
        NetPlan::Bridge {
            create,
            netns,
            connect,
            publish,
            sysctls,
        } => {
            for s in create {
                eng(&mut ph, net, step(s.to_string(), net_why(s)));
            }
            let mk = network::Step::CreateNetns(netns.clone());
            eng(&mut ph, net, step(mk.to_string(), mk.why()));
            for s in connect.iter().chain(publish) {
                eng(&mut ph, net, step(s.to_string(), s.why()));
            }
            for (k, v) in sysctls {
                eng(
                    &mut ph,
                    net,
                    step(
                        format!("nsenter --net={} sysctl -w {k}={v}", netns.display()),
                        "the spec's network sysctls, set by the engine in its namespace",
                    ),
                );
            }
        }
    }

    // 3. The bundle and the shim.
    let bundle = "bundle and shim";
    for (src, dst) in binds(&inp.spec) {
        eng(
            &mut ph,
            bundle,
            step(
                format!("cat > {src}"),
                format!("the container's {dst}, bind-mounted by the runtime"),
            ),
        );
    }
    let config = inp.bundle.join("config.json");
    eng(
        &mut ph,
        bundle,
        step(
            format!("cat > {}", config.display()),
            "the OCI runtime spec: Docker's default profile plus the image and the flags",
        ),
    );
    eng(
        &mut ph,
        bundle,
        step(
            format!(
                "{} --id {} &  # runs: mini-runc create --bundle {} {id}; mini-runc start {id}",
                inp.shim.display(),
                inp.id,
                inp.bundle.display(),
                id = inp.id
            ),
            "the shim owns the container's stdio and log and survives the daemon",
        ),
    );

    // 4. The runtime: cgroups (chapter 02), before the init runs.
    let spec: oci_spec::runtime::Spec =
        serde_json::from_value(inp.spec.clone()).map_err(|e| format!("the spec: {e}"))?;
    let cfg = mini_runc::config::from_spec(&spec, &inp.bundle, &inp.id)
        .map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
    let rt = |ph: &mut Vec<Phase>, name: &str, s: Step| push(ph, "runtime", name, s);
    let cg = "cgroups";
    let cg_path = cfg
        .cgroups_path
        .clone()
        .unwrap_or_else(|| PathBuf::from(spec::cgroups_path(&inp.id)));
    let create = cgroups::Cgroup::plan_create_at(&inp.layout, &cg_path)
        .map_err(|e| format!("plan the cgroup {}: {e}", cg_path.display()))?;
    for s in create.steps() {
        rt(&mut ph, cg, step(s.to_string(), ""));
    }
    let group = create.preview();
    if let Some(r) = &cfg.resources {
        let writes = group
            .plan_set(&mini_runc::container::resources(r))
            .map_err(|e| format!("plan the limits: {e}"))?;
        for w in writes {
            rt(&mut ph, cg, step(w.to_string(), "a limit from the flags"));
        }
    }
    for path in group.procs_files() {
        rt(
            &mut ph,
            cg,
            step(
                format!("echo $INIT_PID > {}", path.display()),
                "the container's init joins the group; its children inherit it",
            ),
        );
    }
    let rules = cfg
        .resources
        .as_ref()
        .map(|r| r.devices.clone())
        .unwrap_or_default();
    if let (false, Some(dir)) = (
        rules.is_empty(),
        mini_runc::devices::dir(&inp.layout, &cg_path),
    ) {
        rt(&mut ph, cg, step(format!("mkdir -p {}", dir.display()), ""));
        for r in rules
            .iter()
            .chain(mini_runc::devices::default_rules().iter())
        {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            rt(
                &mut ph,
                cg,
                step(
                    format!("echo '{}' > {}", r.line(), dir.join(file).display()),
                    "",
                ),
            );
        }
        rt(
            &mut ph,
            cg,
            step(
                format!("echo $INIT_PID > {}", dir.join("cgroup.procs").display()),
                "the device allowlist applies to the init",
            ),
        );
    }
    if let (false, Some(dir)) = (
        rules.is_empty(),
        cgroups::devices::v2_dir(&inp.layout, &cg_path),
    ) {
        let mut all = rules.clone();
        all.extend(mini_runc::devices::default_rules());
        let bpf: Vec<_> = all.iter().map(|r| r.to_bpf()).collect();
        let program = cgroups::devices::Program::build(&bpf);
        rt(
            &mut ph,
            cg,
            step(
                format!(
                    "bpf(BPF_PROG_LOAD, cgroup_device, {} insns); bpf(BPF_PROG_ATTACH, {}, BPF_F_ALLOW_MULTI)",
                    program.insns.len(),
                    dir.display()
                ),
                "cgroup v2's device filter: the same rules as an eBPF program (`mini-runc --debug create` prints it)",
            ),
        );
    }

    // 5. The runtime's own plan, executed by the container's init.
    let steps = mini_runc::plan::plan_create(&cfg, &mini_runc::plan::CreateOptions::default());
    for s in &steps {
        rt(&mut ph, rt_phase(s), step(s.command(), rt_why(s)));
    }
    Ok(ph)
}

/// Chapter 05's reason for a step; an address set in the host's namespace
/// is the bridge's (chapter 05 recognises only its own `ch05b` bridges).
fn net_why(s: &network::Step) -> String {
    match s {
        network::Step::Link {
            netns: None,
            op: network::plan::LinkOp::AddAddress { .. },
        } => "the bridge's address is the containers' gateway (and adds the subnet's route on the host)"
            .into(),
        _ => s.why(),
    }
}

/// The `(host file, container path)` binds of the spec that the engine writes.
fn binds(spec: &Value) -> Vec<(String, String)> {
    spec["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == "bind")
        .filter_map(|m| {
            Some((
                m["source"].as_str()?.into(),
                m["destination"].as_str()?.into(),
            ))
        })
        .collect()
}

impl Engine {
    /// `GET /containers/{id}/explain`: the plan of the container's next start.
    pub fn explain(&self, key: &str) -> Result<Vec<Phase>> {
        let c = self.find(key)?;
        let dir = self.dir(&c.id);
        let rootfs = dir.join("rootfs");
        let driver = self.images.driver();
        let rootfs_mounts = driver
            .mounts(&c.layer, &rootfs)
            .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?;
        // The user, from the image's files (read inside the container's root).
        let (uid, gid) = {
            let root = self.container_root(&c.id)?;
            let read = |p: &str| super::archive::read_file(root.fd(), p).unwrap_or_default();
            let user = c.config.user.as_str();
            ::images::runtime::resolve_user(user, &read("/etc/passwd"), &read("/etc/group"))
                .map_err(|e| {
                    ApiError::bad(format!(
                        "unable to find user {user}: {}",
                        crate::errors::chain(&e)
                    ))
                })?
        };
        let mode = c.network_mode();
        let net = match (mode.as_str(), &self.opts.net.bridge) {
            ("host", _) => NetPlan::Host,
            ("none", _) | ("bridge", None) => NetPlan::Isolated,
            ("bridge", Some(name)) => self.explain_bridge(&c, name)?,
            (other, _) => NetPlan::Other(other.to_string()),
        };
        let netns = match &net {
            NetPlan::Bridge { netns, .. } => Some(netns.display().to_string()),
            _ => None,
        };
        let mut binds = vec![(
            dir.join("hosts").display().to_string(),
            "/etc/hosts".to_string(),
        )];
        if netns.is_some() {
            binds.push((
                dir.join("resolv.conf").display().to_string(),
                "/etc/resolv.conf".into(),
            ));
        }
        binds.push((
            dir.join("hostname").display().to_string(),
            "/etc/hostname".into(),
        ));
        let mut oci = self.container_spec(&c, (uid, gid), netns, binds)?;
        // As `start` does: the engine sets the `net.*` sysctls itself only in
        // a namespace it made (bridge); otherwise the runtime writes them.
        let sysctls = match &net {
            NetPlan::Bridge { .. } => super::net::take_net_sysctls(&mut oci),
            _ => vec![],
        };
        let net = match net {
            NetPlan::Bridge {
                create,
                netns,
                connect,
                publish,
                ..
            } => NetPlan::Bridge {
                create,
                netns,
                connect,
                publish,
                sysctls,
            },
            other => other,
        };
        let layout = cgroups::Layout::detect().map_err(|e| {
            ApiError::internal(format!("detect cgroups: {}", crate::errors::chain(&e)))
        })?;
        let inputs = Inputs {
            id: c.id.clone(),
            bundle: dir,
            rootfs_mounts,
            driver: driver.name().into(),
            net,
            spec: spec::to_json(&oci),
            layout,
            shim: self.opts.shim.clone(),
        };
        plan(&inputs).map_err(ApiError::internal)
    }

    /// The default bridge's part: the bridge (if not up yet), the namespace,
    /// the veth pair with the next free address, and the published ports.
    fn explain_bridge(&self, c: &super::Container, name: &str) -> Result<NetPlan> {
        use ::network::network::{plan_connect, plan_create_network, plan_publish, EndpointSpec};
        let short = &c.id[..12];
        let netns = self.opts.root.join("netns").join(short);
        let maps = super::net::port_mappings(&c.config, &c.host_config)?;
        let nets_dir = self.opts.root.join("networks");
        // The next free address: taken and given back at once.
        let next_ip = |ipam: &::network::ipam::IpamState| -> Result<Ipv4Addr> {
            ipam.clone()
                .allocate(&c.id)
                .map_err(|e| ApiError::internal(format!("IPAM: {}", crate::errors::chain(&e))))
        };
        let loaded = {
            let g = self.bridge.lock().unwrap_or_else(|e| e.into_inner());
            match g.as_ref() {
                Some(br) => Some((br.spec.clone(), next_ip(&br.ipam)?)),
                None => None,
            }
        };
        let (spec, ip, create) = match loaded {
            Some((spec, ip)) => (spec, ip, vec![]),
            None => {
                let saved: Option<::network::Subnet> = std::fs::read(nets_dir.join("bridge.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| v["subnet"].as_str().and_then(|s| s.parse().ok()));
                let subnet = match (&self.opts.net.subnet, saved) {
                    (Some(s), _) => s.parse().map_err(|e| {
                        ApiError::bad(format!("--bridge-subnet {s}: {}", crate::errors::chain(&e)))
                    })?,
                    (None, Some(s)) => s,
                    (None, None) => {
                        ::network::network::choose_default_subnet(&[]).map_err(|e| {
                            ApiError::internal(format!(
                                "choose a subnet: {}",
                                crate::errors::chain(&e)
                            ))
                        })?
                    }
                };
                let spec = ::network::NetworkSpec {
                    name: "bridge".into(),
                    id: String::new(),
                    subnet,
                    bridge: name.into(),
                    table: super::net::bridge_table(name),
                };
                let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                    .map(|v| v.trim() == "1")
                    .unwrap_or(false);
                let ipam = self.bridge_ipam(&spec);
                let ip = next_ip(&ipam)?;
                (spec.clone(), ip, plan_create_network(&spec, forward))
            }
        };
        let ep = EndpointSpec {
            host_veth: format!("md-{short}"),
            peer_veth: format!("mdp{short}"),
            ..EndpointSpec::new(&spec, short, &netns, ip)
        };
        let publish = if maps.is_empty() {
            vec![]
        } else {
            plan_publish("chapter05_<hex>", ip, &maps)
        };
        Ok(NetPlan::Bridge {
            create,
            connect: plan_connect(&spec, &ep),
            netns,
            publish,
            sysctls: vec![],
        })
    }
}

/// For tests: a plan with everything fixed, on chapter 02's hybrid fixture.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_course_in_one_plan() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let fx = cgroups::fixture::Fixture::build(
            &base.join("host"),
            cgroups::fixture::HostKind::Hybrid,
        )
        .unwrap();
        let id = "0123456789ab".repeat(5) + "cdef";
        let bundle = base.join("containers").join(&id);
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        let short = &id[..12];
        let netns = base.join("netns").join(short);
        let net_spec = network::NetworkSpec {
            name: "bridge".into(),
            id: String::new(),
            subnet: "10.203.7.0/24".parse().unwrap(),
            bridge: "md-br0".into(),
            table: crate::net::bridge_table("md-br0"),
        };
        let ip: Ipv4Addr = "10.203.7.2".parse().unwrap();
        let ep = network::network::EndpointSpec {
            host_veth: format!("md-{short}"),
            peer_veth: format!("mdp{short}"),
            ..network::network::EndpointSpec::new(&net_spec, short, &netns, ip)
        };
        let maps = vec!["8080:80".parse::<network::PortMapping>().unwrap()];
        let input = spec::SpecInput {
            id: id.clone(),
            args: vec!["httpd".into(), "-f".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            hostname: short.into(),
            network_mode: "bridge".into(),
            netns: Some(netns.display().to_string()),
            memory: 64 << 20,
            nano_cpus: 500_000_000,
            pids_limit: 20,
            binds: vec![(
                bundle.join("hosts").display().to_string(),
                "/etc/hosts".into(),
            )],
            ..Default::default()
        };
        let mut oci = spec::build_spec(&input);
        let sysctls = crate::net::take_net_sysctls(&mut oci);
        let layers = base.join("layers");
        let inputs = Inputs {
            id: id.clone(),
            bundle: bundle.clone(),
            rootfs_mounts: vec![unionfs::Mount::overlay(
                &[layers.join("l2/diff"), layers.join("l1/diff")],
                &layers.join(format!("md-{id}/diff")),
                &layers.join(format!("md-{id}/work")),
                &bundle.join("rootfs"),
            )
            .unwrap()],
            driver: "overlay".into(),
            net: NetPlan::Bridge {
                create: network::network::plan_create_network(&net_spec, false),
                netns: netns.clone(),
                connect: network::network::plan_connect(&net_spec, &ep),
                publish: network::network::plan_publish("chapter05_<hex>", ip, &maps),
                sysctls,
            },
            spec: spec::to_json(&oci),
            layout: fx.layout().unwrap(),
            shim: "/usr/local/bin/mini-shim".into(),
        };
        let out = render(&plan(&inputs).unwrap());
        let base_s = std::fs::canonicalize(base).unwrap().display().to_string();
        let out = out
            .replace(&base_s, "[TMP]")
            .replace(&base.display().to_string(), "[TMP]");
        insta::assert_snapshot!(out);
    }
}
