//! The evidence of issue 21: a realistic three-service application driven
//! through `mini-docker compose`, then through the real docker-compose 1.29.
//!
//! - `web`: busybox httpd, a published port on 127.0.0.1, a named volume
//!   holding its page;
//! - `app`: an image built from a Dockerfile, which reaches `web` by its
//!   service name (the engine's names: the embedded DNS at 127.0.0.11);
//! - `worker`: two replicas with a restart policy, reached by name, the
//!   DNS answering both addresses round-robin.
//!
//! Then: up, an idempotent re-up, a changed config recreating one service,
//! scale, logs -f, exec, stop one service while the others run, and
//! down -v, after which nothing is left (container, network, volume, nft
//! table, mount, netns file). The daemon's upstream resolver is a closed
//! port on 127.0.0.1: no name can leave the machine.
//! Privileged: it fails (never skips) without root.

use e2e::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COMPOSE: &str = r#"services:
  web:
    image: mdca-bb:1
    command: sh -c 'echo "hello from web" > /www/index.html && exec httpd -f -p 8080 -h /www'
    ports:
      - "127.0.0.1:${WEB_PORT}:8080"
    volumes:
      - site:/www
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 300ms
      retries: 30
  app:
    build:
      context: ./app
    depends_on:
      web:
        condition: service_healthy
      worker:
        condition: service_started
    stop_grace_period: 1s
  worker:
    image: mdca-bb:1
    command: sh -c 'hostname > /www/index.html && exec httpd -f -p 8080 -h /www'
    environment:
      MODE: ${WORKER_MODE}
    scale: 2
    restart: unless-stopped
    init: true
    secrets:
      - token
volumes:
  site: {}
secrets:
  token:
    file: ./token.txt
"#;

/// The app: fetches web's page by name, once a second, into its log.
const FETCH: &str = "while true; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 web 8080 | grep hello; sleep 1; done\n";

fn project_dir(port: u16, worker_mode: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("md-composea-")
        .tempdir()
        .unwrap();
    write_project(dir.path(), port, worker_mode);
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/Dockerfile"),
        "FROM mdca-bb:1\nCOPY fetch.sh /fetch.sh\nCMD [\"sh\", \"/fetch.sh\"]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("app/fetch.sh"), FETCH).unwrap();
    std::fs::write(dir.path().join("token.txt"), "s3cret-token\n").unwrap();
    dir
}

fn write_project(dir: &Path, port: u16, worker_mode: &str) {
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("WEB_PORT={port}\nWORKER_MODE={worker_mode}\n"),
    )
    .unwrap();
}

/// A daemon whose embedded DNS may forward only to a closed local port.
fn daemon() -> Daemon {
    let d = Daemon::start_with_config(
        &serde_json::json!({"dns": [format!("127.0.0.1:{}", free_port())]}).to_string(),
    );
    d.import_busybox("mdca-bb:1");
    d
}

#[track_caller]
fn compose(d: &Daemon, dir: &Path, args: &[&str]) -> String {
    let file = dir.join("docker-compose.yml");
    let mut all = vec!["compose", "-f", file.to_str().unwrap(), "-p", "mdca"];
    all.extend_from_slice(args);
    d.ok(&all)
}

/// service -> its containers' ids (sorted), from `compose ps -q` and inspect.
fn ids_of(d: &Daemon, project: &str, service: &str) -> Vec<String> {
    let mut ids: Vec<String> = d
        .ok(&[
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ])
        .lines()
        .map(String::from)
        .collect();
    ids.sort();
    ids
}

/// The addresses `nslookup NAME` prints (after the server's own), in order.
fn nslookup(d: &Daemon, container: &str, name: &str) -> Vec<String> {
    let out = d.ok(&["exec", container, "nslookup", "-type=a", name]);
    out.lines()
        .filter_map(|l| l.strip_prefix("Address: "))
        .map(String::from)
        .collect()
}

fn ip_of(d: &Daemon, container: &str) -> String {
    d.ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    ])
    .trim()
    .to_string()
}

/// What a project leaves: containers, networks, volumes named after it.
fn leftovers(d: &Daemon, project: &str) -> String {
    let ps = d.ok(&["ps", "-aq"]);
    let nets = d.ok(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("name={project}"),
    ]);
    let vols = d.ok(&["volume", "ls", "-q"]);
    let netns: Vec<_> = std::fs::read_dir(d.data_root().join("netns"))
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    d.reaps_finish();
    let mounts = mounts_under(&d.data_root());
    format!("{ps}{nets}{vols}{netns:?}{mounts:?}")
        .replace("[][]", "")
        .trim()
        .to_string()
}

#[test]
fn mini_docker_compose_runs_the_three_service_app() {
    let d = daemon();
    let port = free_port();
    let dir = project_dir(port, "one");

    // up: the app is built, everything starts, the page comes through the port.
    compose(&d, dir.path(), &["up", "-d"]);
    // At once (the health log keeps only the last five probes).
    d.assert_started_after_healthy("mdca-web-1", "mdca-app-1");
    let page = fetch_page_with(port, "hello from web");
    assert!(page.contains("hello from web"), "{page}");
    let (web, app, workers) = (
        ids_of(&d, "mdca", "web"),
        ids_of(&d, "mdca", "app"),
        ids_of(&d, "mdca", "worker"),
    );
    assert_eq!((web.len(), app.len(), workers.len()), (1, 1, 2));
    let policy = d.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.RestartPolicy.Name}}",
        "mdca-worker-2",
    ]);
    assert_eq!(policy.trim(), "unless-stopped");
    worker_has_secret_and_init(&d, "mdca-worker-2");

    // app reaches web by its service name: the page is in app's log (logs -f).
    let mut follow = Command::new(cli_bin())
        .args(["-H", &d.host(), "compose", "-f"])
        .arg(dir.path().join("docker-compose.yml"))
        .args(["-p", "mdca", "logs", "-f", "--no-color", "app"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(
        line.starts_with("app-1  | hello from web") || line.contains("| hello from web"),
        "{line}"
    );

    // Names come from the embedded DNS; worker has both replicas, in turns.
    let rc = compose(&d, dir.path(), &["exec", "app", "cat", "/etc/resolv.conf"]);
    assert!(rc.starts_with("nameserver 127.0.0.11"), "{rc}");
    let mut want = vec![ip_of(&d, "mdca-worker-1"), ip_of(&d, "mdca-worker-2")];
    want.sort();
    let first = nslookup(&d, "mdca-app-1", "worker");
    let second = nslookup(&d, "mdca-app-1", "worker");
    let mut got = first.clone();
    got.sort();
    assert_eq!(got, want, "both workers answer to 'worker'");
    assert_ne!(
        first[0], second[0],
        "round-robin: {first:?} then {second:?}"
    );
    assert_eq!(nslookup(&d, "mdca-app-1", "web"), [ip_of(&d, "mdca-web-1")]);

    // A second up keeps every container.
    compose(&d, dir.path(), &["up", "-d"]);
    assert_eq!(ids_of(&d, "mdca", "web"), web);
    assert_eq!(ids_of(&d, "mdca", "app"), app);
    assert_eq!(ids_of(&d, "mdca", "worker"), workers);

    // A changed setting recreates only its service.
    write_project(dir.path(), port, "two");
    compose(&d, dir.path(), &["up", "-d"]);
    assert_eq!(ids_of(&d, "mdca", "web"), web, "web kept");
    assert_eq!(ids_of(&d, "mdca", "app"), app, "app kept");
    let recreated = ids_of(&d, "mdca", "worker");
    assert_eq!(recreated.len(), 2);
    assert!(
        recreated.iter().all(|id| !workers.contains(id)),
        "workers recreated"
    );

    // Scale: a third worker, and the name answers three addresses.
    compose(&d, dir.path(), &["up", "-d", "--scale", "worker=3"]);
    assert_eq!(ids_of(&d, "mdca", "worker").len(), 3);
    assert_eq!(nslookup(&d, "mdca-app-1", "worker").len(), 3);

    // Stop one service: the others keep running and serving.
    compose(&d, dir.path(), &["stop", "worker"]);
    let running = d.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(!running.contains("worker"), "{running}");
    assert!(
        running.contains("mdca-web-1") && running.contains("mdca-app-1"),
        "{running}"
    );
    assert!(fetch_page_with(port, "hello from web").contains("hello from web"));
    let out = d.cli(&["exec", "mdca-app-1", "nslookup", "worker"]);
    assert!(
        !out.status.success(),
        "stopped workers have no name any more"
    );

    // top: the processes of each running container of a service.
    let top = compose(&d, dir.path(), &["top", "web"]);
    assert!(
        top.starts_with("mdca-web-1\n") && top.contains("httpd -f -p 8080"),
        "{top}"
    );
    // build: the app's image again (cached), under the same name.
    let app_image = d.ok(&["inspect", "-f", "{{.Config.Image}}", "mdca-app-1"]);
    let app_image = app_image.trim();
    compose(&d, dir.path(), &["build"]);
    d.ok(&["image", "inspect", app_image]);

    // down -v --rmi local: nothing left, but the image the file names.
    let net = d.ok(&["network", "inspect", "-f", "{{.Id}}", "mdca_default"]);
    assert!(
        !no_tables_of(&net[..12]),
        "the network has its nftables table"
    );
    compose(&d, dir.path(), &["down", "-v", "--rmi", "local"]);
    assert_eq!(leftovers(&d, "mdca"), "", "everything is gone");
    assert!(
        no_tables_of(&net[..12]),
        "the network's nftables table is gone"
    );
    assert!(
        !d.cli(&["image", "inspect", app_image]).status.success(),
        "the built image is gone"
    );
    d.ok(&["image", "inspect", "mdca-bb:1"]);
}

/// A worker reads its secret at /run/secrets/token (read-only), and runs
/// under the init (`init: true`).
fn worker_has_secret_and_init(d: &Daemon, c: &str) {
    assert_eq!(
        d.ok(&["exec", c, "cat", "/run/secrets/token"]),
        "s3cret-token\n"
    );
    let w = d.cli(&["exec", c, "sh", "-c", "echo x > /run/secrets/token"]);
    assert!(!w.status.success(), "the secret is read-only");
    let pid1 = d.ok(&["exec", c, "cat", "/proc/1/cmdline"]);
    assert!(pid1.starts_with("/sbin/docker-init\0--\0"), "{pid1:?}");
}

/// Whether no nftables table has `id` (a network's short id) in its name.
fn no_tables_of(id: &str) -> bool {
    let out = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    assert!(out.status.success(), "nft list tables");
    !String::from_utf8_lossy(&out.stdout).contains(id)
}

#[test]
fn docker_compose_1_29_runs_the_same_app() {
    let d = daemon();
    let port = free_port();
    let dir = project_dir(port, "one");
    let dc = |args: &[&str]| {
        let mut all = vec!["-p", "mdcadc"];
        all.extend_from_slice(args);
        let out = d.compose(dir.path(), &all);
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    dc(&["up", "-d"]);
    assert!(fetch_page_with(port, "hello from web").contains("hello from web"));
    let workers = ids_of(&d, "mdcadc", "worker");
    assert_eq!(workers.len(), 2);
    let app = d.ok(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.compose.service=app",
    ]);
    let app = app.trim();
    // app reaches web by name, and both workers answer to 'worker'.
    let t = Instant::now();
    while !d.ok(&["logs", app]).contains("hello from web") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "app never reached web"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(nslookup(&d, app, "worker").len(), 2);
    worker_has_secret_and_init(&d, &workers[0]);
    // A second up -d keeps every container.
    dc(&["up", "-d"]);
    assert_eq!(ids_of(&d, "mdcadc", "worker"), workers);
    // Stop one service, then scale it up again.
    dc(&["stop", "worker"]);
    assert!(fetch_page_with(port, "hello from web").contains("hello from web"));
    dc(&["up", "-d", "--scale", "worker=3"]);
    assert_eq!(ids_of(&d, "mdcadc", "worker").len(), 3);
    assert_eq!(nslookup(&d, app, "worker").len(), 3);
    let net = d.ok(&["network", "inspect", "-f", "{{.Id}}", "mdcadc_default"]);
    assert!(
        !no_tables_of(&net[..12]),
        "the network has its nftables table"
    );
    dc(&["down", "-v"]);
    assert_eq!(leftovers(&d, "mdcadc"), "", "everything is gone");
    assert!(
        no_tables_of(&net[..12]),
        "the network's nftables table is gone"
    );
}

/// `GET /` through 127.0.0.1:`port` until the page has `want` (or why not).
fn fetch_page_with(port: u16, want: &str) -> String {
    fetch_until(port, 200, |p| p.contains(want)).unwrap_or_else(|e| e)
}
