//! mini-docker as a client of a real swarm manager (issue 23): `swarm
//! init/join-token/leave`, `node ls`, `service create/ls/ps/scale/update/
//! logs/rm`, `stack deploy/ls/ps/rm` (a compose file's `deploy:`), pointed
//! with `-H` at a real dockerd, next to the docker CLI 20.10 on the same
//! daemon (their tables must be the same bytes).
//!
//! The manager is one dockerd in a network namespace of its own (its swarm
//! ports stay off the host's), on an address of a veth link there, with
//! mini-runc as its default runtime: every task is checked in mini-runc's
//! own state. A second node is `swarm_mini_runc.rs`'s business.
//!
//! Privileged: fails, never skips, without root.

use e2e::docker::{wait_for, SwarmNode};
use e2e::{cli_bin, run_with_host};
use std::process::Output;
use std::time::Duration;

/// The manager: a dockerd whose default runtime is mini-runc.
struct Manager(SwarmNode);

impl Manager {
    /// mini-docker -H <this daemon> ARGS.
    fn ours(&self, args: &[&str]) -> Output {
        run_with_host(&cli_bin(), &[("-H", &self.0.daemon.host())], args, &[])
    }

    fn ours_ok(&self, args: &[&str]) -> String {
        let o = self.ours(args);
        assert!(
            o.status.success(),
            "mini-docker {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The docker CLI 20.10 on the same daemon.
    fn docker(&self, args: &[&str]) -> String {
        let o = run_with_host(
            "/usr/bin/docker",
            &[("-H", &self.0.daemon.host())],
            args,
            &[],
        );
        assert!(
            o.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Ours and docker's output of the same command, which must be equal.
    fn same(&self, args: &[&str]) -> String {
        let ours = self.ours_ok(args);
        assert_eq!(ours, self.docker(args), "{args:?}");
        ours
    }

    /// The running containers of service `name`.
    fn tasks(&self, name: &str) -> Vec<String> {
        self.0.daemon.service_containers(name)
    }
}

#[test]
fn mini_docker_drives_services_on_a_real_swarm_manager() {
    e2e::require_root();
    let node = SwarmNode::start("swc");
    let addr = node.addr.clone();
    let m = Manager(node);

    // swarm init, as the docker CLI prints it.
    let out = m.ours_ok(&[
        "swarm",
        "init",
        "--advertise-addr",
        &addr,
        "--listen-addr",
        &format!("{addr}:2377"),
    ]);
    let node_id = m.docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    let node_id = node_id.trim();
    let token = m.docker(&["swarm", "join-token", "-q", "worker"]);
    assert_eq!(
        out,
        format!(
            "Swarm initialized: current node ({node_id}) is now a manager.\n\n\
             To add a worker to this swarm, run the following command:\n\n    \
             docker swarm join --token {} {addr}:2377\n\n\
             To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n\n",
            token.trim()
        )
    );
    m.same(&["swarm", "join-token", "worker"]);
    m.same(&["swarm", "join-token", "-q", "manager"]);
    let nodes = m.same(&["node", "ls"]);
    assert!(nodes.contains(&format!("{node_id} *")), "{nodes}");
    m.same(&[
        "node",
        "ls",
        "--format",
        "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}",
    ]);
    m.same(&["node", "ls", "-q"]);
    // The same through a context (in a config directory of the test's own).
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path().to_str().unwrap();
    let ctx = |args: &[&str]| {
        let o = run_with_host(&cli_bin(), &[("--config", cfg)], args, &[]);
        assert!(
            o.status.success(),
            "mini-docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    ctx(&[
        "context",
        "create",
        "manager",
        "--docker",
        &format!("host={}", m.0.daemon.host()),
    ]);
    assert_eq!(ctx(&["--context", "manager", "node", "ls"]), nodes);

    // A replicated service, created by us; each task on mini-runc.
    m.0.daemon.import_busybox("md-busybox");
    let created = m.ours_ok(&[
        "service",
        "create",
        "--name",
        "web",
        "--replicas",
        "2",
        "--env",
        "MD_A=1",
        "md-busybox",
        "sh",
        "-c",
        "echo svc-log-line; exec sleep 600",
    ]);
    let lines: Vec<&str> = created.lines().collect();
    assert_eq!(lines.len(), 2, "{created}");
    assert_eq!(lines[1], "verify: Service converged");
    let id = m.docker(&["service", "inspect", "--format", "{{.ID}}", "web"]);
    assert_eq!(lines[0], id.trim());
    let tasks = m.tasks("web");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    for t in &tasks {
        m.0.daemon.assert_run_by_mini_runc(t);
        let env = m.docker(&["inspect", "--format", "{{json .Config.Env}}", t]);
        assert!(env.contains("MD_A=1"), "{env}");
    }
    let ls = m.same(&["service", "ls"]);
    assert!(ls.contains("   2/2   "), "{ls}");
    m.same(&["service", "ls", "-q"]);
    let table = m.same(&[
        "service",
        "ls",
        "--format",
        "table {{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}",
    ]);
    insta::assert_snapshot!("swarm_client_service_ls", table);
    let ps = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.Error}}";
    m.same(&["service", "ps", "--format", ps, "web"]);

    // Scale (waits until converged), then a rolling update.
    let out = m.ours_ok(&["service", "scale", "web=3"]);
    assert_eq!(out, "web scaled to 3\nverify: Service converged\n");
    assert_eq!(m.tasks("web").len(), 3);
    let out = m.ours_ok(&[
        "service",
        "update",
        "--update-parallelism",
        "1",
        "--update-delay",
        "100ms",
        "--env-add",
        "MD_B=2",
        "web",
    ]);
    assert_eq!(out, "web\nverify: Service converged\n");
    let tasks = m.tasks("web");
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    for t in &tasks {
        m.0.daemon.assert_run_by_mini_runc(t);
        let env = m.docker(&["inspect", "--format", "{{json .Config.Env}}", t]);
        assert!(env.contains("MD_A=1") && env.contains("MD_B=2"), "{env}");
    }
    let spec = m.docker(&[
        "service",
        "inspect",
        "--format",
        "{{json .Spec.UpdateConfig}}",
        "web",
    ]);
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["Parallelism"], 1);
    assert_eq!(spec["Delay"], 100_000_000);
    // The replaced tasks are listed under their slot, as docker does.
    let ps = m.same(&["service", "ps", "--format", ps, "web"]);
    assert!(ps.contains(" \\_ web."), "{ps}");

    // Logs: every task's line, named as docker names it.
    let mut ours: Vec<String> = m
        .ours_ok(&["service", "logs", "web"])
        .lines()
        .map(String::from)
        .collect();
    let mut theirs: Vec<String> = m
        .docker(&["service", "logs", "web"])
        .lines()
        .map(String::from)
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert!(
        ours.len() >= 3 && ours.iter().all(|l| l.ends_with("| svc-log-line")),
        "{ours:?}"
    );
    let raw = m.ours_ok(&["service", "logs", "--raw", "web"]);
    assert!(raw.lines().all(|l| l == "svc-log-line"), "{raw}");

    // Refusals are clear and change nothing.
    let o = m.ours(&["service", "scale", "web=lots"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("give SERVICE=REPLICAS"));

    // A stack: the compose file's services (with `deploy:`) as services
    // of the swarm, on the stack's overlay network.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    let compose = |replicas: u32| {
        format!(
            "services:\n  app:\n    image: md-busybox\n    command: [\"sh\", \"-c\", \"echo stack-log; exec sleep 600\"]\n    environment:\n      MD_STACK: \"1\"\n    deploy:\n      replicas: {replicas}\n"
        )
    };
    std::fs::write(&file, compose(2)).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(
        m.ours_ok(&["stack", "deploy", "-c", f, "mdst"]),
        "Creating network mdst_default\nCreating service mdst_app\n"
    );
    wait_for("the stack's 2 tasks", Duration::from_secs(90), || {
        m.tasks("mdst_app").len() == 2
    });
    for t in m.tasks("mdst_app") {
        m.0.daemon.assert_run_by_mini_runc(&t);
        let env = m.docker(&["inspect", "--format", "{{json .Config.Env}}", &t]);
        assert!(env.contains("MD_STACK=1"), "{env}");
    }
    let net = m.docker(&[
        "network",
        "inspect",
        "--format",
        "{{.Driver}} {{.Scope}}",
        "mdst_default",
    ]);
    assert_eq!(net.trim(), "overlay swarm");
    m.same(&["stack", "ls"]);
    m.same(&[
        "stack",
        "ps",
        "--format",
        "{{.Name}} {{.Image}} {{.Node}} {{.DesiredState}}",
        "mdst",
    ]);
    std::fs::write(&file, compose(3)).unwrap();
    let id = m.docker(&["service", "inspect", "--format", "{{.ID}}", "mdst_app"]);
    assert_eq!(
        m.ours_ok(&["stack", "deploy", "-c", f, "mdst"]),
        format!("Updating service mdst_app (id: {})\n", id.trim())
    );
    wait_for("the stack's 3 tasks", Duration::from_secs(90), || {
        m.tasks("mdst_app").len() == 3
    });
    // A key it cannot turn into a service is refused by name (the docker
    // CLI prints "Ignoring unsupported options: restart" and drops it).
    std::fs::write(
        &file,
        "services:\n  app:\n    image: md-busybox\n    restart: always\n",
    )
    .unwrap();
    let o = m.ours(&["stack", "deploy", "-c", f, "mdst"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("services.app.restart"), "{err}");
    assert_eq!(
        m.ours_ok(&["stack", "rm", "mdst"]),
        "Removing service mdst_app\nRemoving network mdst_default\n"
    );
    wait_for("the stack's tasks to go", Duration::from_secs(60), || {
        m.tasks("mdst_app").is_empty()
    });

    // rm, then leave.
    assert_eq!(m.ours_ok(&["service", "rm", "web"]), "web\n");
    wait_for("the tasks to go", Duration::from_secs(60), || {
        m.tasks("web").is_empty()
    });
    assert_eq!(m.docker(&["service", "ls", "-q"]), "");
    assert_eq!(
        m.ours_ok(&["swarm", "leave", "--force"]),
        "Node left the swarm.\n"
    );
    let state = m.docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert_eq!(state.trim(), "inactive");
}

/// mini-dockerd is no manager: our client gets Docker's words and how to
/// run services on a real swarm with mini-runc.
#[test]
fn mini_dockerd_answers_swarm_commands_as_a_non_manager() {
    let d = e2e::Daemon::start();
    for args in [
        &["service", "ls"][..],
        &["node", "ls"],
        &["swarm", "join-token", "worker"],
    ] {
        let o = d.cli(args);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("This node is not a swarm manager."),
            "{args:?}: {err}"
        );
        assert!(err.contains("--default-runtime mini"), "{args:?}: {err}");
    }
}
