//! `service create` and `service update` take the docker CLI 20.10's flags
//! and set the same `ServiceSpec` (issue 23).
//!
//! On one real swarm manager (a dockerd in a network namespace of its own,
//! [`e2e::docker::SwarmNode`]), each command runs twice: once with
//! `/usr/bin/docker` (20.10) and once with mini-docker, on a service of the
//! same name (removed in between), and the two stored specs
//! (`service inspect`'s `.Spec`) must be equal key by key. A difference is
//! reported by its path (`TaskTemplate.ContainerSpec.Mounts[1].ReadOnly`).
//! Env, Secrets and Configs are compared as sets: the docker CLI builds
//! those lists from Go maps, in random order.
//!
//! The flags that mean nothing here are refused by name, and leave no
//! service behind.
//!
//! Privileged: fails, never skips, without root. The tasks never run (the
//! image is not on the node); only the specs are compared.

use e2e::docker::SwarmNode;
use e2e::{cli_bin, run_with_host};
use serde_json::Value;
use std::process::Output;

/// The stored spec of service `name`, with the lists the docker CLI builds
/// from Go maps (in random order) sorted: Env, Secrets and Configs.
fn spec_of(n: &SwarmNode, name: &str) -> Value {
    let out = n
        .daemon
        .ok(&["service", "inspect", "--format", "{{json .Spec}}", name]);
    let mut v: Value = serde_json::from_str(&out).unwrap();
    let cs = &mut v["TaskTemplate"]["ContainerSpec"];
    for list in ["Env", "Secrets", "Configs"] {
        if let Some(l) = cs[list].as_array_mut() {
            l.sort_by_key(|e| e.to_string());
        }
    }
    v
}

fn ours(n: &SwarmNode, args: &[&str]) -> Output {
    run_with_host(&cli_bin(), &[("-H", &n.daemon.host())], args, &[])
}

fn ours_ok(n: &SwarmNode, args: &[&str]) {
    let o = ours(n, args);
    assert!(
        o.status.success(),
        "mini-docker {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every path at which `a` and `b` differ.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                differences(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: docker {a}, mini-docker {b}")),
        _ => {}
    }
}

#[track_caller]
fn assert_same(docker: &Value, ours: &Value, what: &str) {
    let mut d = Vec::new();
    differences(docker, ours, "", &mut d);
    assert!(d.is_empty(), "{what}: the specs differ:\n{}", d.join("\n"));
}

/// `service create ARGS` by both clients, compared.
fn create_both(n: &SwarmNode, name: &str, args: &[&str]) {
    let mut full = vec!["service", "create", "--detach", "--name", name];
    full.extend_from_slice(args);
    n.daemon.ok(&full);
    let docker = spec_of(n, name);
    n.daemon.ok(&["service", "rm", name]);
    ours_ok(n, &full);
    let mine = spec_of(n, name);
    n.daemon.ok(&["service", "rm", name]);
    assert_same(&docker, &mine, &format!("service create {args:?}"));
}

/// `service update ARGS` by both clients on the same service (created by
/// the docker CLI from `base`), compared.
fn update_both(n: &SwarmNode, name: &str, base: &[&str], args: &[&str]) {
    let mut create = vec!["service", "create", "--detach", "--name", name];
    create.extend_from_slice(base);
    let mut update = vec!["service", "update", "--detach"];
    update.extend_from_slice(args);
    update.push(name);
    n.daemon.ok(&create);
    n.daemon.ok(&update);
    let docker = spec_of(n, name);
    n.daemon.ok(&["service", "rm", name]);
    n.daemon.ok(&create);
    ours_ok(n, &update);
    let mine = spec_of(n, name);
    n.daemon.ok(&["service", "rm", name]);
    assert_same(&docker, &mine, &format!("service update {args:?}"));
}

/// The compose file of the stack test: every key `stack deploy` maps.
const STACK_FILE: &str = r#"version: "3.8"
services:
  web:
    image: md-busybox
    command: sleep 100
    entrypoint: ["sh", "-c"]
    environment:
      B: "2"
      A: "1"
    labels:
      cl: "1"
    hostname: h1
    user: "1000"
    working_dir: /w
    init: true
    stop_signal: SIGINT
    stop_grace_period: 3s
    cap_add: [NET_ADMIN]
    cap_drop: [CHOWN]
    read_only: true
    ulimits:
      nofile: {soft: 10, hard: 20}
      nproc: 5
    extra_hosts: ["db:10.0.0.3"]
    dns: 10.0.0.2
    logging:
      driver: json-file
      options: {max-size: 1m}
    healthcheck:
      test: ["CMD", "true"]
      interval: 5s
      timeout: 2s
      retries: 3
      start_period: 1s
    ports:
      - "8080:80"
      - target: 81
        published: 8081
        protocol: udp
        mode: host
    volumes:
      - data:/data
      - /tmp:/host:ro
      - /anon
      - {type: volume, source: more, target: /more, read_only: true}
    networks:
      default:
      back:
        aliases: [api]
    secrets:
      - tok
      - {source: tok, target: tok2, uid: "5"}
    configs:
      - {source: conf, target: /etc/conf}
    deploy:
      replicas: 2
secrets:
  tok:
    file: ./tok.txt
configs:
  conf:
    file: ./conf.txt
networks:
  back:
    labels: {tier: back}
volumes:
  data:
  more:
    labels: {kind: test}
"#;

#[test]
fn stack_deploy_sets_the_spec_the_docker_cli_sets() {
    e2e::require_root();
    let n = SwarmNode::start("sws");
    n.init();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, STACK_FILE).unwrap();
    std::fs::write(dir.path().join("tok.txt"), "s3cret\n").unwrap();
    std::fs::write(dir.path().join("conf.txt"), "k=v\n").unwrap();
    let file = file.to_str().unwrap();
    // The two stacks have their own names (a removed stack's network goes
    // in the background); the docker CLI's is renamed to compare.
    // Networks are compared by name, secrets and configs without their
    // ids (both differ between the two stacks).
    let by_name = |spec: &mut Value| {
        let cs = &mut spec["TaskTemplate"]["ContainerSpec"];
        for (list, id) in [("Secrets", "SecretID"), ("Configs", "ConfigID")] {
            if let Some(l) = cs[list].as_array_mut() {
                for r in l.iter_mut() {
                    r[id] = Value::Null;
                }
                l.sort_by_key(|e| e.to_string());
            }
        }
        for net in spec["TaskTemplate"]["Networks"].as_array_mut().unwrap() {
            let id = net["Target"].as_str().unwrap().to_string();
            let name = n
                .daemon
                .ok(&["network", "inspect", "--format", "{{.Name}}", &id]);
            net["Target"] = Value::String(name.trim().to_string());
        }
    };
    n.daemon.ok(&["stack", "deploy", "-c", file, "md-std"]);
    let mut docker = spec_of(&n, "md-std_web");
    by_name(&mut docker);
    let docker: Value =
        serde_json::from_str(&docker.to_string().replace("md-std", "md-sto")).unwrap();
    // (frees the published ports)
    let docker_rm = n
        .daemon
        .ok(&["stack", "rm", "md-std"])
        .replace("md-std", "md-sto");
    ours_ok(&n, &["stack", "deploy", "-c", file, "md-sto"]);
    let mut mine = spec_of(&n, "md-sto_web");
    by_name(&mut mine);
    // The stack's own network: an overlay with the stack's label and its own.
    let net = |name: &str| {
        n.daemon.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Driver}} {{.Scope}} {{json .Labels}}",
            name,
        ])
    };
    assert_eq!(
        net("md-sto_back"),
        "overlay swarm {\"com.docker.stack.namespace\":\"md-sto\",\"tier\":\"back\"}\n"
    );
    assert_same(&docker, &mine, "stack deploy");
    // rm removes what the stack made, as the docker CLI's does.
    let o = ours(&n, &["stack", "rm", "md-sto"]);
    let mut ours_rm: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    let mut docker_rm: Vec<String> = docker_rm.lines().map(String::from).collect();
    ours_rm.sort();
    docker_rm.sort();
    assert_eq!(ours_rm, docker_rm);
    for kind in ["service", "secret", "config"] {
        let left = n.daemon.ok(&[kind, "ls", "-q"]);
        assert_eq!(left, "", "{kind}s left by stack rm");
    }
}

#[test]
#[rustfmt::skip] // flag and value on one line
fn service_create_and_update_set_the_spec_the_docker_cli_sets() {
    e2e::require_root();
    let n = SwarmNode::start("swf");
    n.init();
    // What the flags name: secrets, configs and overlay networks.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "s3cret\n").unwrap();
    let file = file.to_str().unwrap();
    for (kind, name) in [
        ("secret", "md-s1"),
        ("secret", "md-s2"),
        ("config", "md-c1"),
        ("config", "md-c2"),
    ] {
        n.daemon.ok(&[kind, "create", name, file]);
    }
    for net in ["md-net1", "md-net2"] {
        n.daemon.ok(&["network", "create", "--driver", "overlay", net]);
    }
    let env_file = dir.path().join("env");
    std::fs::write(&env_file, "FROM_FILE=1\n# a comment\n\nUNSET_HERE\n").unwrap();
    let env_file = env_file.to_str().unwrap();

    // Every flag that maps to a spec field, in one service.
    create_both(
        &n,
        "md-many",
        &[
            "--no-resolve-image",
            "--replicas", "2",
            "--replicas-max-per-node", "3",
            "-e", "A=1",
            "--env", "B=2",
            "--env-file", env_file,
            "-l", "svc=1",
            "--container-label", "c=2",
            "--constraint", "node.role==manager",
            "--placement-pref", "spread=node.labels.zone",
            "--mount", "type=volume,source=v1,target=/data,volume-label=a=b,volume-driver=local,volume-opt=type=tmpfs,volume-nocopy",
            "--mount", "type=bind,source=/tmp,target=/host,readonly,bind-propagation=rslave",
            "--mount", "type=tmpfs,target=/tmpfs,tmpfs-size=1m,tmpfs-mode=1770",
            "-p", "8080:80",
            "-p", "81",
            "-p", "mode=host,target=82,published=8082,protocol=udp",
            "--limit-cpu", "0.5",
            "--limit-memory", "64m",
            "--limit-pids", "100",
            "--reserve-cpu", "0.25",
            "--reserve-memory", "32m",
            "--generic-resource", "gpu=1",
            "--restart-condition", "on-failure",
            "--restart-delay", "3s",
            "--restart-max-attempts", "4",
            "--restart-window", "1m",
            "--update-parallelism", "2",
            "--update-delay", "2s",
            "--update-failure-action", "continue",
            "--update-monitor", "7s",
            "--update-max-failure-ratio", "0.3",
            "--update-order", "start-first",
            "--rollback-parallelism", "3",
            "--rollback-delay", "1s",
            "--rollback-failure-action", "continue",
            "--rollback-monitor", "6s",
            "--rollback-max-failure-ratio", "0.2",
            "--rollback-order", "start-first",
            "--health-cmd", "true",
            "--health-interval", "5s",
            "--health-timeout", "2s",
            "--health-retries", "3",
            "--health-start-period", "1s",
            "-u", "1000:1000",
            "-w", "/work",
            "--hostname", "h1",
            "--dns", "10.0.0.2",
            "--dns-option", "ndots:2",
            "--dns-search", "example.test",
            "--host", "db:10.0.0.3",
            "--group", "44",
            "--secret", "md-s1",
            "--secret", "source=md-s2,target=/run/s2,uid=5,gid=6,mode=0400",
            "--config", "source=md-c1,target=/etc/c1",
            "--config", "md-c2",
            "--network", "md-net1",
            "--network", "name=md-net2,alias=web",
            "--endpoint-mode", "vip",
            "--entrypoint", "/bin/sh -c",
            "--init",
            "--read-only",
            "--stop-grace-period", "3s",
            "--stop-signal", "SIGUSR1",
            "--sysctl", "net.core.somaxconn=1024",
            "-t",
            "--ulimit", "nofile=1024:2048",
            "--ulimit", "nproc=10",
            "--cap-add", "NET_ADMIN",
            "--cap-drop", "CHOWN",
            "--log-driver", "json-file",
            "--log-opt", "max-size=1m",
            "--isolation", "default",
            "md-busybox",
            "echo", "hi",
        ],
    );
    // The other modes, and the flags that go with them.
    create_both(&n, "md-job", &["--no-resolve-image", "--mode", "replicated-job", "--replicas", "3", "--max-concurrent", "2", "md-busybox", "true"]);
    create_both(&n, "md-gjob", &["--no-resolve-image", "--mode", "global-job", "md-busybox"]);
    create_both(&n, "md-global", &["--no-resolve-image", "--mode", "global", "--endpoint-mode", "dnsrr", "--no-healthcheck", "md-busybox:1.0"]);

    // update: every --X-add/--X-rm, on a service that has something of each.
    let base = [
        "--no-resolve-image",
        "-e", "A=1", "-e", "B=2",
        "-l", "x=1", "-l", "y=2",
        "--container-label", "c=1",
        "--constraint", "node.role==manager",
        "--placement-pref", "spread=node.labels.a",
        "--mount", "type=volume,src=v1,dst=/v1",
        "--mount", "type=tmpfs,dst=/t",
        "-p", "8080:80",
        "--dns", "1.1.1.1",
        "--host", "a:10.0.0.1",
        "--group", "10",
        "--secret", "md-s1",
        "--config", "md-c1",
        "--network", "md-net1",
        "--sysctl", "net.core.somaxconn=10",
        "--ulimit", "nofile=10:20",
        "--cap-add", "NET_ADMIN",
        "--cap-drop", "CHOWN",
        "--generic-resource", "gpu=1",
        "--limit-pids", "5",
        "--limit-cpu", "1",
        "md-busybox", "sleep", "100",
    ];
    update_both(
        &n,
        "md-upd",
        &base,
        &[
            "--env-add", "C=3", "--env-add", "A=9", "--env-rm", "B",
            "--label-add", "z=3", "--label-rm", "x",
            "--container-label-add", "d=2", "--container-label-rm", "c",
            "--constraint-add", "node.role!=worker", "--constraint-rm", "node.role==manager",
            "--placement-pref-add", "spread=node.labels.b", "--placement-pref-rm", "spread=node.labels.a",
            "--mount-add", "type=bind,src=/tmp,dst=/b", "--mount-rm", "/t",
            "--publish-add", "9090:90", "--publish-rm", "80",
            "--dns-add", "8.8.8.8", "--dns-rm", "1.1.1.1",
            "--dns-option-add", "ndots:1", "--dns-search-add", "ex.test",
            "--host-add", "b:10.0.0.2", "--host-rm", "a:10.0.0.1",
            "--group-add", "20", "--group-rm", "10",
        ],
    );
    update_both(
        &n,
        "md-upd",
        &base,
        &[
            "--secret-add", "md-s2", "--secret-rm", "md-s1",
            "--config-add", "source=md-c2,target=/c2", "--config-rm", "md-c1",
            "--network-add", "md-net2", "--network-rm", "md-net1",
            "--sysctl-add", "net.ipv4.ip_forward=1", "--sysctl-rm", "net.core.somaxconn",
            "--ulimit-add", "nproc=5", "--ulimit-rm", "nofile",
            "--cap-add", "CHOWN", "--cap-add", "SYS_TIME", "--cap-drop", "NET_ADMIN",
            "--generic-resource-add", "fpga=2", "--generic-resource-rm", "gpu",
        ],
    );
    // And every flag that sets one field.
    update_both(
        &n,
        "md-upd",
        &base,
        &[
            "--no-resolve-image",
            "--limit-memory", "10m", "--reserve-cpu", "0.5",
            "--restart-condition", "none", "--restart-max-attempts", "2",
            "--update-parallelism", "3", "--update-order", "start-first",
            "--rollback-monitor", "9s",
            "--health-cmd", "true", "--health-retries", "2",
            "-u", "5", "-w", "/w", "--hostname", "hh",
            "--stop-signal", "SIGINT", "--stop-grace-period", "1s",
            "--init", "--read-only", "-t",
            "--replicas", "3", "--replicas-max-per-node", "2",
            "--endpoint-mode", "dnsrr", "--publish-rm", "80",
            "--log-driver", "json-file", "--log-opt", "max-file=2",
            "--image", "md-busybox:2", "--args", "sleep 5", "--force",
        ],
    );

    // --rollback: the manager puts the previous spec back; no other flag
    // may go with it.
    n.daemon.ok(&["service", "create", "--detach", "--name", "md-rb", "md-busybox"]);
    n.daemon.ok(&["service", "update", "--detach", "--env-add", "MD_NEW=1", "md-rb"]);
    let o = ours(&n, &["service", "update", "--detach", "--rollback", "--env-add", "X=1", "md-rb"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("other flags may not be combined with --rollback"), "{err}");
    ours_ok(&n, &["service", "update", "--detach", "--rollback", "md-rb"]);
    let env = spec_of(&n, "md-rb")["TaskTemplate"]["ContainerSpec"]["Env"].clone();
    assert!(env.is_null(), "rolled back, yet Env is {env}");
    n.daemon.ok(&["service", "rm", "md-rb"]);

    // Refused by name, and nothing made.
    for (args, says) in [
        (
            &["--credential-spec", "file://x.json", "md-busybox"][..],
            "--credential-spec",
        ),
        (&["--log-opt", "max-size=1m", "md-busybox"][..], "--log-opt"),
        (
            &["--generic-resource", "ssd=fast", "md-busybox"][..],
            "Named Generic Resources is not supported",
        ),
    ] {
        let mut full = vec!["service", "create", "--detach", "--name", "md-refused"];
        full.extend_from_slice(args);
        let o = ours(&n, &full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(n.daemon.ok(&["service", "ls", "-q"]), "", "a refused create left a service");
}
