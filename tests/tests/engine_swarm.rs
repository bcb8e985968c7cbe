//! Swarm and plugins: mini-dockerd answers as a dockerd outside a swarm
//! (503, "This node is not a swarm manager…", plus how to run services on
//! mini-runc with a real swarm) and has no plugins. Driven by the real
//! docker CLI 20.10. Privileged (the daemon needs root).

use e2e::*;

const NOT_A_MANAGER: &str = "Error response from daemon: This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

fn docker20(d: &Daemon, args: &[&str]) -> std::process::Output {
    run_with_host("/usr/bin/docker", &[], args, &[("DOCKER_HOST", &d.host())])
}

#[test]
fn swarm_commands_say_this_node_is_not_a_manager_and_how_to_get_one() {
    let d = Daemon::start();
    for args in [
        &["service", "ls"][..],
        &["node", "ls"],
        &["secret", "ls"],
        &["config", "ls"],
        &["service", "create", "--name", "md-svc", "busybox"],
        &["swarm", "leave"],
    ] {
        let o = docker20(&d, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "docker {args:?}");
        assert!(err.starts_with(NOT_A_MANAGER), "docker {args:?}: {err}");
        assert!(
            err.contains("--add-runtime mini=/path/to/mini-runc --default-runtime mini"),
            "docker {args:?}: {err}"
        );
    }
    // The status is dockerd's, on every swarm path.
    for (method, path) in [
        ("GET", "/swarm"),
        ("POST", "/swarm/init"),
        ("POST", "/swarm/join"),
        ("GET", "/tasks"),
        ("GET", "/nodes/abc"),
        ("POST", "/services/create"),
    ] {
        let (status, body) = d.request(method, path, "");
        assert_eq!(status, 503, "{method} {path}: {body}");
    }
}

#[test]
fn plugin_ls_is_an_empty_table() {
    let d = Daemon::start();
    let o = docker20(&d, &["plugin", "ls"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("ENABLED"),
        "{out}"
    );
    assert_eq!(d.request("GET", "/plugins", ""), (200, "[]".to_string()));
}
