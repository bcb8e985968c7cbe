//! Health checks (issue 21): a check runs in the container through the exec
//! path, moves `State.Health` through starting, healthy and unhealthy as
//! dockerd's does, shows in `ps` and its `health=` filter, emits
//! `health_status` events, kills a probe that hangs at its timeout, comes
//! from a Dockerfile `HEALTHCHECK` (or is turned off by `--no-healthcheck`),
//! and resumes after a daemon restart. The same commands run against a real
//! dockerd give the reference. Privileged: it fails (never skips) without root.

use e2e::*;
use serde_json::Value;

/// A container that is healthy while /tmp/ok exists.
const RUN: &[&str] = &[
    "run",
    "-d",
    "--network",
    "none",
    "--health-cmd",
    "test -e /tmp/ok && echo fine",
    "--health-interval",
    "300ms",
    "--health-timeout",
    "2s",
    "--health-retries",
    "2",
    "bb",
    "sh",
    "-c",
    "touch /tmp/ok; exec sleep 600",
];

fn health(docker: &dyn Fn(&[&str]) -> std::process::Output, id: &str) -> Value {
    let out = docker(&["inspect", "-f", "{{json .State.Health}}", id]);
    assert!(out.status.success(), "inspect: {}", stderr(&out));
    serde_json::from_str(stdout(&out).trim()).unwrap()
}

/// The health's shape: status, streak, and per probe its keys, exit code
/// and output (times checked to be RFC 3339 and ordered, then dropped).
fn shape(h: &Value) -> String {
    let log: Vec<String> = h["Log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
            let (s, e) = (p["Start"].as_str().unwrap(), p["End"].as_str().unwrap());
            assert!(s.len() >= 20 && s <= e, "{p}");
            format!(
                "{} exit={} output={:?}",
                keys.join(","),
                p["ExitCode"],
                p["Output"]
            )
        })
        .collect();
    format!(
        "{} streak={} last={:?}",
        h["Status"].as_str().unwrap(),
        h["FailingStreak"],
        log.last()
    )
}

/// Drives a check through healthy and unhealthy; returns the health shapes
/// seen, the ps line, the `health=` filters' answers and the events.
fn scenario(docker: &dyn Fn(&[&str]) -> std::process::Output) -> Vec<String> {
    let ok = |args: &[&str]| {
        let out = docker(args);
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    let from = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let id = ok(RUN);
    // What `ps` adds to the status: `healthy)`, `unhealthy)`.
    let ps_health = || {
        let ps = ok(&[
            "ps",
            "--filter",
            &format!("id={id}"),
            "--format",
            "{{.Status}}",
        ]);
        format!("ps: {}", ps.split_once(" (").map_or("", |(_, s)| s))
    };
    let mut seen = vec![format!("at start: {}", health(docker, &id)["Status"])];
    eventually("the container turns healthy", || {
        health(docker, &id)["Status"] == "healthy"
    });
    seen.push(shape(&health(docker, &id)));
    seen.push(ps_health());
    for f in ["healthy", "unhealthy", "starting", "none"] {
        let ids = ok(&["ps", "-q", "--no-trunc", "--filter", &format!("health={f}")]);
        seen.push(format!("health={f}: {}", ids.contains(&id)));
    }
    ok(&["exec", &id, "rm", "/tmp/ok"]);
    eventually("the container turns unhealthy", || {
        health(docker, &id)["Status"] == "unhealthy"
    });
    let h = health(docker, &id);
    seen.push(shape(&h));
    assert!(h["Log"].as_array().unwrap().len() <= 5);
    seen.push(ps_health());
    ok(&["rm", "-f", &id]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = (from + 60).min(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let events = ok(&[
        "events",
        "--since",
        &from.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}}",
    ]);
    seen.push(format!("events: {}", events.replace('\n', " | ")));
    seen
}

#[test]
fn the_health_moves_as_dockerds() {
    let real = DockerDaemon::start(&[]);
    real.import_busybox("bb");
    let want = scenario(&|args| real.docker(args));
    let d = Daemon::start();
    d.import_busybox("bb");
    let got = scenario(&|args| d.docker(args));
    assert_eq!(got, want);
    insta::assert_snapshot!(want.join("\n"));
}

/// A probe that hangs is killed at its timeout: the log says so with exit
/// -1, and no probe process is left in the container.
#[test]
fn a_hanging_probe_is_killed_at_its_timeout() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--health-cmd",
        "sleep 77",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "500ms",
        "--health-retries",
        "1",
        "bb",
        "sleep",
        "600",
    ]);
    let id = id.trim();
    eventually("the hanging probe is logged", || {
        !health(&|a| d.docker(a), id)["Log"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    let h = health(&|a| d.docker(a), id);
    let first = &h["Log"][0];
    assert_eq!(first["ExitCode"], -1, "{h}");
    assert_eq!(
        first["Output"], "Health check exceeded timeout (500ms)",
        "{h}"
    );
    assert_eq!(h["Status"], "unhealthy", "{h}");
    // Probes keep starting every 200 ms, each killed at 500 ms: a `sleep
    // 77` seen now is gone 700 ms later.
    let probes = || -> Vec<String> {
        d.docker_ok(&["exec", id, "ps", "-o", "pid,args"])
            .lines()
            .filter(|l| l.contains("sleep 77"))
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect()
    };
    let before = probes();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let after = probes();
    assert!(
        before.iter().all(|p| !after.contains(p)),
        "a probe outlived its timeout: {before:?} {after:?}"
    );
    d.docker_ok(&["rm", "-f", id]);
}

/// A Dockerfile's `HEALTHCHECK` is kept by the build and runs; `run
/// --no-healthcheck` turns it off; after a daemon restart (SIGKILL, then a
/// new daemon adopting the container) the checks go on.
#[test]
fn the_images_check_runs_is_disabled_on_request_and_resumes_after_a_restart() {
    let mut d = Daemon::start();
    d.import_busybox("bb");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM bb\nHEALTHCHECK --interval=300ms --timeout=2s CMD echo probed\n",
    )
    .unwrap();
    d.ok(&["build", "-t", "mdh-img:1", ctx.path().to_str().unwrap()]);
    let cfg = d.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", "mdh-img:1"]);
    assert!(
        cfg.contains("echo probed") && cfg.contains("300000000"),
        "{cfg}"
    );
    let off = d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--no-healthcheck",
        "mdh-img:1",
        "sleep",
        "600",
    ]);
    let on = d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "mdh-img:1",
        "sleep",
        "600",
    ]);
    let (off, on) = (off.trim(), on.trim());
    // A commit keeps the container's own check.
    let mine = d.ok(&[
        "create",
        "--network",
        "none",
        "--health-cmd",
        "echo mine",
        "bb",
        "true",
    ]);
    d.ok(&["commit", mine.trim(), "mdh-img:2"]);
    let kept = d.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", "mdh-img:2"]);
    assert!(
        kept.contains(r#"["CMD-SHELL","echo mine"]"#),
        "commit kept the check: {kept}"
    );
    d.ok(&["rm", mine.trim()]);
    eventually("the image's check turns healthy", || {
        health(&|a| d.docker(a), on)["Status"] == "healthy"
    });
    assert_eq!(health(&|a| d.docker(a), on)["Log"][0]["Output"], "probed\n");
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{json .State.Health}}", off])
            .trim(),
        "null"
    );
    // The last probe of the old daemon; after it, the new one's.
    let last = |h: &Value| {
        h["Log"].as_array().unwrap().last().unwrap()["Start"]
            .as_str()
            .unwrap()
            .to_string()
    };
    d.kill9();
    let restarted = last(
        &serde_json::from_str(
            &std::fs::read_to_string(
                d.data_root()
                    .join("containers")
                    .join(on)
                    .join("container.json"),
            )
            .unwrap_or_default(),
        )
        .map(|c: Value| c["state"]["health"].clone())
        .unwrap_or_default(),
    );
    d.spawn();
    // The new daemon starts the checks again: a newer probe is logged.
    eventually("the checks resume after the restart", || {
        let out = d.docker(&["inspect", "-f", "{{json .State.Health}}", on]);
        let Ok(h) = serde_json::from_str::<Value>(stdout(&out).trim()) else {
            return false; // the new daemon does not answer yet
        };
        h["Status"] == "healthy" && last(&h) > restarted
    });
    d.ok(&["rm", "-f", on, off]);
}
