//! `mini-docker compose` (our own compose client) against mini-dockerd,
//! checked with the real tools: the page comes through the published port,
//! a second `up` keeps every container (same ids), a change recreates only
//! its service, the real docker CLI 20.10 sees compose's names and labels,
//! docker-compose 1.29 lists the project as its own, and `down` leaves no
//! container and no network.
//! Privileged: it fails (never skips) without root.

use e2e::*;
use std::collections::BTreeMap;
use std::path::Path;

fn project(client_mode: &str) -> String {
    format!(
        r#"services:
  setup:
    image: mdcc-bb:1
    command: ["true"]
  web:
    image: mdcc-bb:1
    command: httpd -f -p 8080 -h /www
    ports:
      - "127.0.0.1:${{WEB_PORT}}:8080"
    volumes:
      - data:/data
    depends_on:
      setup:
        condition: service_completed_successfully
    labels:
      org.example.role: front
  client:
    image: mdcc-bb:1
    command: sleep 3600
    environment:
      MODE: {client_mode}
    stop_grace_period: 1s
    depends_on: [web]
volumes:
  data: {{}}
"#
    )
}

/// A folder for the project's files, removed at the end.
fn project_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("md-composec-")
        .tempdir()
        .unwrap()
}

/// A daemon with a bridge and the test image, and a project folder.
fn daemon_and_dir() -> (Daemon, tempfile::TempDir) {
    let d = Daemon::start_bridged();
    d.import_busybox("mdcc-bb:1");
    (d, project_dir())
}

#[track_caller]
fn compose(d: &Daemon, dir: &Path, args: &[&str]) -> String {
    let file = dir.join("docker-compose.yml");
    let mut all = vec!["compose", "-f", file.to_str().unwrap(), "-p", "mdcc"];
    all.extend_from_slice(args);
    d.ok(&all)
}

/// name -> (id, service), from the real docker CLI 20.10's `ps`.
fn docker_ps(d: &Daemon) -> BTreeMap<String, (String, String)> {
    d.ok20(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "label=com.docker.compose.project=mdcc",
        "--format",
        "{{.Names}} {{.ID}} {{.Label \"com.docker.compose.service\"}} {{.Label \"com.docker.compose.container-number\"}} {{.Label \"com.docker.compose.oneoff\"}}",
    ])
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f.len(), 5, "{l}");
        let number = f[0].rsplit('-').next().unwrap();
        assert_eq!((f[3], f[4]), (number, "False"), "compose labels on {l}");
        (f[0].to_string(), (f[1].to_string(), f[2].to_string()))
    })
    .collect()
}

#[test]
fn compose_up_publishes_is_idempotent_recreates_only_changes_and_down_leaves_nothing() {
    let (d, dir) = daemon_and_dir();
    let port = free_port();
    std::fs::write(dir.path().join(".env"), format!("WEB_PORT={port}\n")).unwrap();
    let write =
        |mode: &str| std::fs::write(dir.path().join("docker-compose.yml"), project(mode)).unwrap();
    write("one");

    // The plan, before anything exists.
    let plan = compose(&d, dir.path(), &["up", "--explain"]);
    insta::with_settings!({filters => vec![
        (port.to_string().as_str(), "[PORT]"),
        (r"[0-9a-f]{12}…", "[HASH]…"),
    ]}, {
        insta::assert_snapshot!("compose_up_explain", plan);
    });
    assert!(docker_ps(&d).is_empty(), "--explain creates nothing");

    compose(&d, dir.path(), &["up", "-d"]);
    // The page really comes through the published port.
    let page = fetch_page(port).unwrap();
    assert!(page.contains("hello from mini-docker"), "{page}");
    let first = docker_ps(&d);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["mdcc-client-1", "mdcc-setup-1", "mdcc-web-1"],
        "compose v2 names, seen by the real docker CLI"
    );
    assert_eq!(first["mdcc-web-1"].1, "web");
    // setup ran to completion (exit 0) before web started.
    let setup = d.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}}",
        "mdcc-setup-1",
    ]);
    let web_started = d.ok(&["inspect", "-f", "{{.State.StartedAt}}", "mdcc-web-1"]);
    let fields: Vec<&str> = setup.split_whitespace().collect();
    assert_eq!(&fields[..2], ["exited", "0"], "{setup}");
    assert!(
        fields[2] <= web_started.trim(),
        "setup ended ({}) before web started ({web_started})",
        fields[2]
    );
    // The network and volume, with compose's names and labels.
    let net = d.ok20(&["network", "inspect", "-f", "{{index .Labels \"com.docker.compose.network\"}} {{index .Labels \"com.docker.compose.project\"}}", "mdcc_default"]);
    assert_eq!(net.trim(), "default mdcc");
    let vol = d.ok20(&[
        "volume",
        "inspect",
        "-f",
        "{{index .Labels \"com.docker.compose.volume\"}}",
        "mdcc_data",
    ]);
    assert_eq!(vol.trim(), "data");

    // ps: compose v2's columns.
    let ps = compose(&d, dir.path(), &["ps", "-a"]);
    insta::with_settings!({filters => vec![
        (port.to_string().as_str(), "[PORT]"),
        (r"Exited \(0\) (Less than a second|About a minute|\d+ \w+) ago", "Exited (0) [AGO]"),
        (r"Up (Less than a second|About a minute|\d+ \w+)", "Up [TIME]"),
        (r"(Less than a second|About a minute|\d+ \w+) ago", "[AGO]"),
        (r" +", " "),
    ]}, {
        insta::assert_snapshot!("compose_ps", ps);
    });

    // docker-compose 1.29 sees the same project.
    let out = d.compose(dir.path(), &["-p", "mdcc", "ps"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["mdcc-web-1", "mdcc-client-1"] {
        assert!(
            text.contains(name),
            "docker-compose ps lists {name}: {text}"
        );
    }

    // A second up changes nothing.
    compose(&d, dir.path(), &["up", "-d"]);
    assert_eq!(
        docker_ps(&d),
        first,
        "the same containers after a second up"
    );
    let plan = compose(&d, dir.path(), &["up", "--explain"]);
    assert!(
        !plan.contains("create") && plan.contains("keep mdcc-web-1"),
        "{plan}"
    );

    // A change to client recreates client only.
    write("two");
    compose(&d, dir.path(), &["up", "-d"]);
    let second = docker_ps(&d);
    assert_eq!(second["mdcc-web-1"], first["mdcc-web-1"], "web kept");
    assert_eq!(second["mdcc-setup-1"], first["mdcc-setup-1"], "setup kept");
    assert_ne!(
        second["mdcc-client-1"].0, first["mdcc-client-1"].0,
        "client recreated"
    );
    let env = d.ok(&["inspect", "-f", "{{json .Config.Env}}", "mdcc-client-1"]);
    assert!(env.contains("MODE=two"), "{env}");
    assert!(fetch_page(port).is_ok(), "web still serves");

    // logs, with compose's prefixes.
    let logs = compose(
        &d,
        dir.path(),
        &["exec", "-T", "client", "echo", "from-exec"],
    );
    assert_eq!(logs.trim(), "from-exec");

    // logs: each line behind compose's `service-n  | ` prefix.
    let logs = compose(&d, dir.path(), &["logs", "--tail", "5", "web", "setup"]);
    assert!(
        logs.lines()
            .all(|l| l.starts_with("web-1    | ") || l.starts_with("setup-1  | ")),
        "{logs:?}"
    );

    // --scale adds replicas with the next numbers, and takes them away.
    compose(&d, dir.path(), &["up", "-d", "--scale", "client=2"]);
    let scaled = docker_ps(&d);
    assert!(scaled.contains_key("mdcc-client-2"), "{scaled:?}");
    assert_eq!(
        scaled["mdcc-client-1"], second["mdcc-client-1"],
        "replica 1 kept"
    );
    compose(&d, dir.path(), &["up", "-d"]);
    assert_eq!(docker_ps(&d), second, "back to one client");

    // stop and start one service while the others run.
    compose(&d, dir.path(), &["stop", "client"]);
    let state = |n: &str| {
        d.ok(&["inspect", "-f", "{{.State.Status}}", n])
            .trim()
            .to_string()
    };
    assert_eq!(state("mdcc-client-1"), "exited");
    assert_eq!(state("mdcc-web-1"), "running");
    compose(&d, dir.path(), &["start", "client"]);
    assert_eq!(state("mdcc-client-1"), "running");

    // run --rm: a one-off container, gone afterwards.
    let out = compose(
        &d,
        dir.path(),
        &[
            "run",
            "--rm",
            "--no-deps",
            "client",
            "sh",
            "-c",
            "echo one-off $MODE",
        ],
    );
    assert_eq!(out.trim(), "one-off two");
    assert_eq!(docker_ps(&d).len(), 3, "the one-off container is removed");

    // down: no container, no network; the volume stays without -v.
    compose(&d, dir.path(), &["down"]);
    assert!(docker_ps(&d).is_empty(), "no container after down");
    assert!(!d
        .ok20(&["network", "ls", "--format", "{{.Name}}"])
        .contains("mdcc_default"));
    assert!(d
        .ok20(&["volume", "ls", "--format", "{{.Name}}"])
        .contains("mdcc_data"));
    compose(&d, dir.path(), &["down", "-v"]);
    assert!(!d
        .ok20(&["volume", "ls", "--format", "{{.Name}}"])
        .contains("mdcc_data"));
    assert!(
        fetch_page(port).is_err(),
        "nothing listens on the port any more"
    );
}

#[test]
fn compose_refuses_bad_files_with_file_line_and_key() {
    // No daemon needed: the model is checked before any request.
    let dir = project_dir();
    let f = dir.path().join("compose.yaml");
    let cli = &cli_bin();
    let run = |text: &str| {
        std::fs::write(&f, text).unwrap();
        let o = std::process::Command::new(cli)
            .args(["-H", "unix:///nonexistent", "compose", "-f"])
            .arg(&f)
            .arg("config")
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).replace(&dir.path().display().to_string(), "DIR")
    };
    insta::assert_snapshot!(
        "compose_errors",
        [
            run("services:\n  web:\n    image: busybox\n    restart: always\n    prots: ['80']\n"),
            run("services:\n  web:\n    image: busybox\n    cap_add: NET_ADMIN\n"),
            run("services:\n  web:\n    image: busybox\n    healthcheck:\n      test: ['PING', 'true']\n"),
            run("services:\n  web:\n    image: ${IMAGE:?set IMAGE in .env}\n"),
            run("services:\n  web:\n    image: busybox\n  web:\n    image: x\n"),
        ]
        .join("")
    );
}

#[test]
fn compose_service_keys_reach_the_engine() {
    let (d, dir) = daemon_and_dir();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    std::fs::write(dir.path().join("conf/app.txt"), "from the host\n").unwrap();
    std::fs::write(dir.path().join("app.env"), "FROM_FILE=yes\n").unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        r#"x-common: &common
  image: mdcc-bb:1
services:
  app:
    <<: *common
    command: ["sleep", "3600"]
    env_file: app.env
    environment: {A: "1"}
    user: "1000:1000"
    working_dir: /tmp
    hostname: apphost
    read_only: true
    tmpfs: [/tmp]
    cap_drop: [NET_RAW]
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    extra_hosts: ["db.local:10.9.9.9"]
    stop_signal: SIGINT
    stop_grace_period: 3s
    restart: unless-stopped
    labels: [org.example.x=y]
    volumes:
      - ./conf:/conf:ro
      - /anon
    networks:
      front: {aliases: [api]}
      back: {}
networks:
  front: {}
  back: {}
"#,
    )
    .unwrap();
    compose(&d, dir.path(), &["up", "-d"]);
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "mdcc-app-1"])).unwrap();
    let (cfg, host) = (&v[0]["Config"], &v[0]["HostConfig"]);
    let env = cfg["Env"].to_string();
    assert!(
        env.contains("A=1") && env.contains("FROM_FILE=yes"),
        "{env}"
    );
    assert_eq!(cfg["User"], "1000:1000");
    assert_eq!(cfg["WorkingDir"], "/tmp");
    assert_eq!(cfg["Hostname"], "apphost");
    assert_eq!(cfg["StopSignal"], "SIGINT");
    assert_eq!(cfg["StopTimeout"], 3);
    assert_eq!(cfg["Labels"]["org.example.x"], "y");
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["Memory"], 64 << 20);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["PidsLimit"], 50);
    assert_eq!(host["CapDrop"][0], "NET_RAW");
    assert_eq!(host["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(host["ExtraHosts"][0], "db.local:10.9.9.9");
    assert_eq!(host["Ulimits"][0]["Hard"], 2048);
    // Both networks, the alias on the first.
    let nets = &v[0]["NetworkSettings"]["Networks"];
    assert!(
        nets["mdcc_front"].is_object() && nets["mdcc_back"].is_object(),
        "{nets}"
    );
    assert!(
        nets["mdcc_front"]["Aliases"].to_string().contains("api"),
        "{nets}"
    );
    // In the container: the bind mount is read-only, tmpfs is writable, the
    // host name and the extra host are there.
    let out = compose(
        &d,
        dir.path(),
        &[
            "exec",
            "-T",
            "app",
            "sh",
            "-c",
            "cat /conf/app.txt; touch /conf/x 2>/dev/null || echo ro; touch /tmp/ok && echo tmp; hostname; grep db.local /etc/hosts | cut -f1",
        ],
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["from", "the", "host", "ro", "tmp", "apphost", "10.9.9.9"],
        "{out}"
    );
    compose(&d, dir.path(), &["down"]);
    let left = d.ok20(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!left.contains("mdcc_"), "{left}");
}

#[test]
fn compose_builds_through_the_engine() {
    let (d, dir) = daemon_and_dir();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/Dockerfile.dev"),
        "FROM mdcc-bb:1 AS base\nARG GREETING=none\nRUN echo \"$GREETING\" > /built\nFROM base AS final\nRUN echo final >> /built\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  app:\n    build:\n      context: ./app\n      dockerfile: Dockerfile.dev\n      target: base\n      args: {GREETING: hi}\n    command: sleep 3600\n",
    )
    .unwrap();
    compose(&d, dir.path(), &["up", "-d"]);
    // The image is named <project>-<service>, as compose v2 names it.
    let img = d.ok(&["inspect", "-f", "{{.Config.Image}}", "mdcc-app-1"]);
    assert_eq!(img.trim(), "mdcc-app");
    let out = compose(&d, dir.path(), &["exec", "-T", "app", "cat", "/built"]);
    assert_eq!(
        out, "hi\n",
        "the arg reached the build, and the target stopped it at base"
    );
    compose(&d, dir.path(), &["down"]);
}

#[test]
fn compose_config_prints_the_resolved_model() {
    // No daemon needed: two files merged, .env interpolated, paths made absolute.
    let dir = project_dir();
    let p = dir.path();
    std::fs::write(p.join(".env"), "TAG=1\nPORT=8080\n").unwrap();
    std::fs::write(
        p.join("compose.yaml"),
        "services:\n  web:\n    image: mdcc-bb:${TAG}\n    ports: [\"127.0.0.1:${PORT}:80\"]\n    environment: [A=1, B=2]\n    volumes: [./www:/www:ro, data:/data]\n  tool:\n    image: mdcc-bb:1\n    profiles: [debug]\nvolumes:\n  data:\n",
    )
    .unwrap();
    std::fs::write(
        p.join("compose.prod.yaml"),
        "services:\n  web:\n    environment: {B: \"3\"}\n    ports: [\"127.0.0.1:9090:90\"]\n    restart: always\n",
    )
    .unwrap();
    let o = std::process::Command::new(cli_bin())
        .current_dir(p)
        .args([
            "compose",
            "-f",
            "compose.yaml",
            "-f",
            "compose.prod.yaml",
            "-p",
            "Shop.1",
            "config",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).replace(&p.display().to_string(), "DIR");
    insta::assert_snapshot!("compose_config", text);
}

/// A database that becomes healthy after a second, and an app that waits
/// for it (`depends_on: condition: service_healthy`).
const HEALTHY_PROJECT: &str = r#"services:
  db:
    image: mdcc-bb:1
    command: sh -c "sleep 1; touch /tmp/ready; exec sleep 3600"
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 300ms
      retries: 30
    stop_grace_period: 1s
  app:
    image: mdcc-bb:1
    command: sleep 3600
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_healthy
"#;

#[test]
fn compose_waits_for_healthy_services_and_fails_naming_an_unhealthy_one() {
    let (d, dir) = daemon_and_dir();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, HEALTHY_PROJECT).unwrap();
    // Ours.
    compose(&d, dir.path(), &["up", "-d"]);
    d.assert_started_after_healthy("mdcc-db-1", "mdcc-app-1");
    compose(&d, dir.path(), &["down"]);
    // `up --wait`: returns once every container runs and is healthy.
    compose(&d, dir.path(), &["up", "--wait", "db"]);
    let status = d.ok(&["inspect", "-f", "{{.State.Health.Status}}", "mdcc-db-1"]);
    assert_eq!(status.trim(), "healthy");
    compose(&d, dir.path(), &["down"]);
    // A dependency that turns unhealthy: `up` fails and names it.
    std::fs::write(
        &file,
        HEALTHY_PROJECT
            .replace(
                r#"["CMD", "test", "-e", "/tmp/ready"]"#,
                r#"["CMD", "false"]"#,
            )
            .replace("retries: 30", "retries: 1"),
    )
    .unwrap();
    let out = d.cli(&[
        "compose",
        "-f",
        file.to_str().unwrap(),
        "-p",
        "mdcc",
        "up",
        "-d",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("container mdcc-db-1 is unhealthy")
            && err.contains("services.app.depends_on.db: service_healthy"),
        "{err}"
    );
    assert!(
        d.cli(&["inspect", "mdcc-app-1"]).status.code() != Some(0),
        "the app was not created"
    );
    compose(&d, dir.path(), &["down"]);
    // The real docker-compose 1.29 waits on the same State.Health.
    std::fs::write(&file, HEALTHY_PROJECT).unwrap();
    let out = d.compose(dir.path(), &["-p", "mdcc", "up", "-d"]);
    assert!(out.status.success(), "docker-compose up: {}", stderr(&out));
    d.assert_started_after_healthy("mdcc_db_1", "mdcc_app_1");
    let out = d.compose(dir.path(), &["-p", "mdcc", "down"]);
    assert!(
        out.status.success(),
        "docker-compose down: {}",
        stderr(&out)
    );
    assert!(d.ids().is_empty(), "nothing is left: {:?}", d.ids());
}

/// `compose events --json` streams the project's container events, with
/// the service named and compose's labels left out of the attributes.
#[test]
fn compose_events_stream_the_projects_container_events() {
    use std::io::BufRead;
    let (d, dir) = daemon_and_dir();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        "services:\n  once:\n    image: mdcc-bb:1\n    command: [\"true\"]\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(cli_bin())
        .args([
            "-H",
            &d.host(),
            "compose",
            "-f",
            file.to_str().unwrap(),
            "-p",
            "mdcc",
            "events",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The stream is open once the daemon answered; a moment for that.
    std::thread::sleep(std::time::Duration::from_millis(500));
    compose(&d, dir.path(), &["up", "-d"]);
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|(a, _): &(String, serde_json::Value)| a == "die")
    {
        let line = lines.next().expect("the stream ended early").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push((v["action"].as_str().unwrap().to_string(), v));
    }
    let _ = child.kill();
    let _ = child.wait();
    let actions: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["create", "start", "die"], "{seen:?}");
    for (_, v) in &seen {
        assert_eq!(
            (v["type"].as_str(), v["service"].as_str()),
            (Some("container"), Some("once")),
            "{v}"
        );
        assert_eq!(v["attributes"]["name"], "mdcc-once-1", "{v}");
        assert!(
            v["attributes"]
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("com.docker.compose.")),
            "{v}"
        );
    }
    compose(&d, dir.path(), &["down"]);
}

/// The config hash covers the image's id: a new image under the same name
/// (here a commit tagged over it, as a re-pull would bring) recreates the
/// service that runs it, and only that one; a further `up` keeps both.
#[test]
fn a_new_image_under_the_same_name_recreates_its_service() {
    let (d, dir) = daemon_and_dir();
    d.import_busybox("mdcc-other:1");
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  one:\n    image: mdcc-bb:1\n    command: sleep 3600\n    stop_grace_period: 1s\n  two:\n    image: mdcc-other:1\n    command: sleep 3600\n    stop_grace_period: 1s\n",
    )
    .unwrap();
    compose(&d, dir.path(), &["up", "-d"]);
    let first = docker_ps(&d);
    compose(&d, dir.path(), &["up", "-d"]);
    assert_eq!(docker_ps(&d), first, "nothing changed: nothing recreated");
    let old = d.ok(&["image", "inspect", "-f", "{{.Id}}", "mdcc-bb:1"]);
    d.ok(&["commit", "mdcc-one-1", "mdcc-bb:1"]);
    let new = d.ok(&["image", "inspect", "-f", "{{.Id}}", "mdcc-bb:1"]);
    assert_ne!(old, new, "a new image under the old name");
    compose(&d, dir.path(), &["up", "-d"]);
    let second = docker_ps(&d);
    assert_ne!(
        second["mdcc-one-1"].0, first["mdcc-one-1"].0,
        "one recreated"
    );
    assert_eq!(second["mdcc-two-1"], first["mdcc-two-1"], "two kept");
    let image = d.ok(&["inspect", "-f", "{{.Image}}", "mdcc-one-1"]);
    assert_eq!(image.trim(), new.trim(), "it runs the new image");
    compose(&d, dir.path(), &["up", "-d"]);
    assert_eq!(docker_ps(&d), second, "and a further up keeps it");
    compose(&d, dir.path(), &["down"]);
}

/// An attached `up` (no `-d`), interrupted as a person does at a terminal:
/// the first Ctrl-C stops the services (within their stop_grace_period),
/// the second kills them. `sleep` as PID 1 ignores SIGTERM, so only the
/// kill ends `slow` quickly. The containers stay (stopped), as compose's.
#[test]
fn ctrl_c_stops_an_attached_up_and_a_second_one_kills() {
    use std::io::{BufRead, BufReader};
    let (d, dir) = daemon_and_dir();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  quick:\n    image: mdcc-bb:1\n    command: sh -c 'trap \"echo bye; exit 3\" TERM; echo ready; while :; do sleep 0.1; done'\n  slow:\n    image: mdcc-bb:1\n    command: sh -c 'echo ready; exec sleep 3600'\n    stop_grace_period: 60s\n",
    )
    .unwrap();
    let up = |project: &str, services: &[&str]| {
        let mut child = std::process::Command::new(cli_bin())
            .args(["-H", &d.host(), "compose", "-f"])
            .arg(dir.path().join("docker-compose.yml"))
            .args(["-p", project, "up"])
            .args(services)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the services' first output: up is attached to their logs.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in services {
            let l = lines.next().unwrap().unwrap();
            assert!(l.ends_with("| ready"), "{l}");
        }
        (child, lines)
    };
    let sigint = |child: &std::process::Child| {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    };
    let state = |name: &str| {
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            name,
        ])
        .trim()
        .to_string()
    };

    // One Ctrl-C: a graceful stop (quick's trap runs).
    let (mut child, lines) = up("mdccc", &["quick"]);
    sigint(&child);
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("Gracefully stopping... (press Ctrl+C again to force)"),
        "{err}"
    );
    assert!(rest.iter().any(|l| l.ends_with("| bye")), "{rest:?}");
    assert_eq!(state("mdccc-quick-1"), "exited 3");
    // What the person at the terminal saw on stderr.
    insta::assert_snapshot!("compose_up_ctrl_c", err);

    // Two: slow would take 60 s to stop; the second Ctrl-C kills it.
    let (child, _lines) = up("mdccs", &["slow"]);
    let t = std::time::Instant::now();
    sigint(&child);
    std::thread::sleep(std::time::Duration::from_millis(500));
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    eventually("slow to be killed", || {
        state("mdccs-slow-1") == "exited 137"
    });
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
}

/// `compose build` and `push` on one daemon, `compose pull` on another,
/// through a registry on 127.0.0.1: the second daemon runs what the first
/// built.
#[test]
fn compose_build_push_and_pull_through_a_registry() {
    let reg = Registry::start();
    let image = format!("{}/mdcc-pushed:1", reg.host());
    let (a, dir) = daemon_and_dir();
    std::fs::create_dir(dir.path().join("ctx")).unwrap();
    std::fs::write(
        dir.path().join("ctx/Dockerfile"),
        "FROM mdcc-bb:1\nRUN echo built-here > /built\n",
    )
    .unwrap();
    let file = |body: String| std::fs::write(dir.path().join("docker-compose.yml"), body).unwrap();
    file(format!(
        "services:\n  app:\n    build: ./ctx\n    image: {image}\n  plain:\n    image: mdcc-bb:1\n"
    ));
    compose(&a, dir.path(), &["build"]);
    a.ok(&["image", "inspect", &image]);
    compose(&a, dir.path(), &["push"]);

    let b = Daemon::start();
    file(format!("services:\n  app:\n    image: {image}\n"));
    compose(&b, dir.path(), &["pull"]);
    assert_eq!(
        b.ok(&["run", "--rm", &image, "cat", "/built"]),
        "built-here\n"
    );
}

/// File-based configs: each file is bind-mounted read-only at `/<name>`, or
/// at its `target`; `mode` (which a bind of the host's file cannot give)
/// is refused by name, never ignored, and nothing is created.
#[test]
fn compose_configs_are_mounted_read_only_and_mode_is_refused() {
    let (d, dir) = daemon_and_dir();
    std::fs::write(dir.path().join("motd.txt"), "welcome\n").unwrap();
    std::fs::write(dir.path().join("app.conf"), "level=debug\n").unwrap();
    let file = dir.path().join("docker-compose.yml");
    let text = "services:
  web:
    image: mdcc-bb:1
    command: sleep 3600
    stop_grace_period: 1s
    configs:
      - motd
      - source: app
        target: /etc/app/app.conf
configs:
  motd:
    file: ./motd.txt
  app:
    file: ./app.conf
";
    std::fs::write(&file, text).unwrap();
    compose(&d, dir.path(), &["up", "-d"]);
    assert_eq!(d.ok(&["exec", "mdcc-web-1", "cat", "/motd"]), "welcome\n");
    assert_eq!(
        d.ok(&["exec", "mdcc-web-1", "cat", "/etc/app/app.conf"]),
        "level=debug\n"
    );
    let w = d.cli(&["exec", "mdcc-web-1", "sh", "-c", "echo x > /motd"]);
    assert!(!w.status.success(), "a config is read-only");
    compose(&d, dir.path(), &["down"]);

    std::fs::write(
        &file,
        text.replace(
            "        target: /etc/app/app.conf\n",
            "        target: /etc/app/app.conf\n        mode: 0440\n",
        ),
    )
    .unwrap();
    let out = d.cli(&[
        "compose",
        "-f",
        file.to_str().unwrap(),
        "-p",
        "mdcc",
        "up",
        "-d",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("services.web.configs: mode is not supported"),
        "{err}"
    );
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "", "nothing was created");
}
