//! mini-docker end to end, the container verbs of issue 9 beyond the core:
//! `restart`, `rename`, `top`, `system prune` / `container prune`,
//! `--env-file`, `ps -f`. Privileged: they fail (never skip) without root.

use e2e::*;
use std::io::Write;

/// One raw API request over the daemon's socket: (status, body).
fn api(d: &Daemon, method: &str, path: &str) -> (u16, String) {
    d.request(method, path, "")
}

#[test]
fn restart_rename_and_top() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&[
            "run",
            "-d",
            "--name",
            "first",
            "--network",
            "none",
            "bb",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let pid1 = d.ok(&["inspect", "--format", "{{ .State.Pid }}", "first"]);

    // top: Docker's ps -ef columns, and the container's process by its host pid.
    let top = d.ok(&["top", "first"]);
    let mut lines = top.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "only the container's process: {top}");
    assert_eq!(rows[0].split_whitespace().nth(1), Some(pid1.trim()));
    assert!(rows[0].ends_with("sleep 1000"), "{top}");
    // ps options pass through (`docker top first -o pid,comm`).
    let top = d.ok(&["top", "first", "-o", "pid,comm"]);
    assert_eq!(
        top.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        [pid1.trim(), "sleep"]
    );
    let (status, body) = api(&d, "GET", "/containers/first/top?ps_args=-ef");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Processes"][0][1], pid1.trim());

    // restart: prints the name, a new process, still running.
    assert_eq!(d.ok(&["restart", "-t", "1", "first"]), "first\n");
    let after = d.ok(&[
        "inspect",
        "--format",
        "{{ .State.Status }} {{ .State.Pid }}",
        "first",
    ]);
    let (st, pid2) = after.trim().split_once(' ').unwrap();
    assert_eq!(st, "running");
    assert_ne!(pid2, pid1.trim(), "restart made a new process");
    assert!(
        !std::path::Path::new(&format!("/proc/{}", pid1.trim())).exists(),
        "the old process is gone"
    );
    // Restarting an exited container starts it (exit status 204).
    d.ok(&["run", "--name", "done", "--network", "none", "bb", "true"]);
    assert_eq!(api(&d, "POST", "/containers/done/restart?t=0").0, 204);
    d.ok(&["wait", "done"]);
    assert_eq!(
        d.ok(&["inspect", "--format", "{{ .State.Status }}", "done"]),
        "exited\n"
    );

    // rename: silent; the old name is gone, the id unchanged.
    assert_eq!(d.ok(&["rename", "first", "second"]), "");
    assert_eq!(
        d.ok(&["inspect", "--format", "{{ .Id }} {{ .Name }}", "second"]),
        format!("{id} /second\n")
    );
    let gone = d.cli(&["inspect", "first"]);
    assert_ne!(gone.status.code(), Some(0));
    // A taken name: 409, and Docker's message through the CLI.
    assert_eq!(
        api(&d, "POST", "/containers/second/rename?name=done").0,
        409
    );
    let taken = d.cli(&["rename", "second", "done"]);
    assert_eq!(taken.status.code(), Some(1));
    assert!(
        stderr(&taken).contains(
            "Error response from daemon: Conflict. The container name \"/done\" is already in use"
        ),
        "{}",
        stderr(&taken)
    );
    assert_eq!(
        api(&d, "POST", "/containers/second/rename?name=bad%2Fname").0,
        400
    );
    assert_eq!(api(&d, "POST", "/containers/nosuch/rename?name=x").0, 404);

    // top of a stopped container: 409.
    d.ok(&["stop", "-t", "1", "second"]);
    assert_eq!(api(&d, "GET", "/containers/second/top").0, 409);
    let top = d.cli(&["top", "second"]);
    assert_eq!(top.status.code(), Some(1));
    assert!(stderr(&top).contains("is not running"), "{}", stderr(&top));
}

#[test]
fn system_prune_asks_then_removes_only_stopped_containers() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let keep = d
        .ok(&[
            "run",
            "-d",
            "--name",
            "keep",
            "--network",
            "none",
            "bb",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    d.ok(&["run", "--name", "x1", "--network", "none", "bb", "true"]);
    let x1 = d
        .ok(&["inspect", "--format", "{{ .Id }}", "x1"])
        .trim()
        .to_string();
    let x2 = d
        .ok(&["create", "--name", "x2", "--network", "none", "bb", "true"])
        .trim()
        .to_string();
    let x1_dir = d.data_root().join("containers").join(&x1);
    assert!(x1_dir.exists());

    // system df: one image used by three containers, one running.
    std::fs::write(
        d.data_root()
            .join("layers")
            .join(format!("md-{x1}"))
            .join("junk"),
        vec![0u8; 5000],
    )
    .unwrap();
    let df = d.ok(&["system", "df"]);
    let rows: Vec<Vec<&str>> = df.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert_eq!(rows[1][..3], ["Images", "1", "1"]);
    assert_eq!(rows[1][4..], ["0B", "(0%)"]);
    assert_eq!(rows[2][..3], ["Containers", "3", "1"], "{df}");
    assert!(rows[2][3].ends_with("kB"), "x1's 5000 bytes: {df}");
    // Nearly all of it is in stopped containers (the running one has its /etc files).
    assert!(rows[2][4].ends_with("kB"), "{df}");
    assert!(rows[2][5].starts_with("(9"), "{df}");
    assert_eq!(rows[3], ["Local", "Volumes", "0", "0", "0B", "0B"]);
    let real = d.docker(&["system", "df"]);
    assert!(real.status.success(), "{}", stderr(&real));
    let real_rows: Vec<Vec<String>> = stdout(&real)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(real_rows[1][..3], ["Images", "1", "1"], "{}", stdout(&real));
    assert_eq!(
        real_rows[2][..3],
        ["Containers", "3", "1"],
        "{}",
        stdout(&real)
    );

    // Without -f it asks; stdin is empty (no "y"): nothing is removed.
    let asked = d.cli(&["system", "prune"]);
    assert_eq!(asked.status.code(), Some(0));
    assert!(stdout(&asked).starts_with("WARNING! This will remove:\n  - all stopped containers\n"));
    assert!(stdout(&asked).contains("Are you sure you want to continue? [y/N] "));
    assert_eq!(d.ids().len(), 3);

    let out = d.ok(&["system", "prune", "-f"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Deleted Containers:"));
    let mut deleted: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
    deleted.sort();
    let mut want = vec![x1.as_str(), x2.as_str()];
    want.sort();
    assert_eq!(deleted, want);
    let last = lines.last().unwrap();
    assert!(last.starts_with("Total reclaimed space: "), "{out}");
    assert!(last.ends_with('B'), "{out}");
    assert_eq!(d.ids(), vec![keep.clone()], "the running one stays");
    assert!(!x1_dir.exists(), "its directory is gone");

    // Nothing left to prune: only the total; the API answers Docker's shape.
    assert_eq!(
        d.ok(&["container", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let (status, body) = api(&d, "POST", "/containers/prune");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ContainersDeleted"], serde_json::json!([]));
    assert_eq!(v["SpaceReclaimed"], 0);
    assert_eq!(api(&d, "POST", "/networks/prune").0, 200);

    // -a: images no container uses go; the one `keep` runs stays, every name of it.
    d.ok(&["tag", "bb", "bb:second"]);
    // Its own content: importing the same tar twice within a second gives
    // the same image, which `keep` uses, so it would rightly not be pruned.
    let extra = tempfile::tempdir().unwrap();
    std::fs::write(extra.path().join("spare.txt"), "spare\n").unwrap();
    let spare_tar = extra.path().join("spare.tar");
    std::fs::copy(busybox_tar(), &spare_tar).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-rf")
        .arg(&spare_tar)
        .arg("-C")
        .arg(extra.path())
        .arg("spare.txt")
        .status()
        .unwrap();
    assert!(st.success());
    d.ok(&["import", spare_tar.to_str().unwrap(), "spare"]);
    let spare = d.ok(&["inspect", "--format", "{{ .Id }}", "spare"]);
    let out = d.ok(&["system", "prune", "-a", "-f"]);
    let (head, reclaimed) = out.rsplit_once("Total reclaimed space: ").unwrap();
    assert_eq!(
        head,
        format!(
            "Deleted Images:\nuntagged: spare:latest\ndeleted: {}\n\n",
            spare.trim()
        )
    );
    // The spare image's own layer blob (about 1 MB of busybox) was freed.
    assert!(
        reclaimed.ends_with("MB\n") && !reclaimed.starts_with('0'),
        "{reclaimed}"
    );
    let names = d.ok(&["images", "--format", "{{ .Repository }}:{{ .Tag }}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["bb:latest", "bb:second"]);
    // Without -a nothing is dangling: an image here is its names.
    assert_eq!(
        d.ok(&["system", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    d.ok(&["rm", "-f", "keep"]);
}

#[test]
fn the_docker_cli_drives_restart_rename_top_and_prune() {
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "one",
        "--network",
        "none",
        "bb",
        "sleep",
        "1000",
    ]);
    let pid1 = d.ok(&["inspect", "--format", "{{ .State.Pid }}", "one"]);
    let docker_ok = |args: &[&str]| -> String {
        let out = d.docker(args);
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(docker_ok(&["restart", "-t", "1", "one"]), "one\n");
    let pid2 = d.ok(&["inspect", "--format", "{{ .State.Pid }}", "one"]);
    assert_ne!(pid1, pid2);
    assert_eq!(docker_ok(&["rename", "one", "two"]), "");
    let top = docker_ok(&["top", "two", "-o", "pid,comm"]);
    let lines: Vec<Vec<&str>> = top
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines, [vec!["PID", "COMMAND"], vec![pid2.trim(), "sleep"]]);
    d.ok(&["run", "--name", "ex", "--network", "none", "bb", "true"]);
    let ex = d.ok(&["inspect", "--format", "{{ .Id }}", "ex"]);
    let out = docker_ok(&["system", "prune", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Containers:\n{}\n\n", ex.trim())),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(d.ids().len(), 1);
    d.ok(&["rm", "-f", "two"]);
}

#[test]
fn env_file_and_ps_filters() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("app.env");
    std::fs::write(&env, "# a comment\nA=1\n\nB=two words\n").unwrap();
    let out = d.cli(&[
        "run",
        "--name",
        "envy",
        "--network",
        "none",
        "--env-file",
        env.to_str().unwrap(),
        "-e",
        "C=3",
        "--label",
        "tier=web",
        "bb",
        "sh",
        "-c",
        "echo \"$A|$B|$C\"",
    ]);
    assert_eq!(stdout(&out), "1|two words|3\n", "{}", stderr(&out));
    d.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--network",
        "none",
        "--label",
        "tier=db",
        "bb",
        "sleep",
        "1000",
    ]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ps", "-a", "--format", "{{ .Names }}"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = d.ok(&a).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(names(&["-f", "status=exited"]), ["envy"]);
    assert_eq!(names(&["-f", "status=running"]), ["busy"]);
    assert_eq!(names(&["-f", "name=bus"]), ["busy"]);
    assert_eq!(names(&["-f", "label=tier=web"]), ["envy"]);
    assert_eq!(names(&["-f", "label=tier"]), ["busy", "envy"]);
    assert!(names(&["-f", "label=tier=none"]).is_empty());
    let bad = d.cli(&["ps", "-f", "nonsense"]);
    assert_ne!(bad.status.code(), Some(0));
    d.ok(&["rm", "-f", "busy"]);
}

/// `mini-docker -H … --config DIR args` with `input` on stdin.
fn cli_in(
    d: &Daemon,
    config: &std::path::Path,
    args: &[&str],
    input: &str,
) -> std::process::Output {
    let mut child = std::process::Command::new(cli_bin())
        .arg("-H")
        .arg(d.host())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A raw API request with an `X-Registry-Auth` header: the status.
fn api_auth(d: &Daemon, method: &str, path: &str, auth: &serde_json::Value) -> u16 {
    use base64::Engine as _;
    let h = base64::engine::general_purpose::URL_SAFE.encode(auth.to_string());
    d.raw(
        method,
        &format!("/v1.41{path}"),
        &[("X-Registry-Auth", &h)],
        b"",
    )
    .status
}

#[test]
fn login_push_pull_search_logout_against_an_htpasswd_registry() {
    use std::os::unix::fs::PermissionsExt;
    let reg = Registry::with_user("alice", "s3cret");
    let host = reg.host();
    let name = format!("{host}/team/bb:v1");
    let conf = tempfile::tempdir().unwrap();
    let cfg = conf.path().to_str().unwrap();
    let file = conf.path().join("config.json");

    let a = Daemon::start();
    a.import_busybox("bb");
    a.ok(&["tag", "bb", &name]);
    // Not logged in: the registry refuses the push.
    let denied = a.cli(&["--config", cfg, "push", &name]);
    assert_ne!(denied.status.code(), Some(0));
    assert!(
        stderr(&denied).contains("docker login"),
        "{}",
        stderr(&denied)
    );

    // A wrong password: 401 from /auth, an error, nothing stored.
    let bad = a.cli(&[
        "--config", cfg, "login", "-u", "alice", "-p", "wrong", &host,
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("Error response from daemon: login attempt to"),
        "{}",
        stderr(&bad)
    );
    assert!(stderr(&bad).contains("unauthorized"), "{}", stderr(&bad));
    assert!(!file.exists());
    assert_eq!(
        api(&a, "POST", "/auth").0,
        400,
        "an empty body is a bad request"
    );

    // The right one, from stdin: stored Docker-style, mode 0600.
    let ok = cli_in(
        &a,
        conf.path(),
        &["login", "-u", "alice", "--password-stdin", &host],
        "s3cret\n",
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(stdout(&ok), "Login Succeeded\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["auths"][&host]["auth"], "YWxpY2U6czNjcmV0"); // base64("alice:s3cret")

    // push and pull now carry X-Registry-Auth.
    let pushed = a.ok(&["--config", cfg, "push", &name]);
    assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
    let b = Daemon::start();
    let pulled = b.ok(&["--config", cfg, "pull", &name]);
    assert!(
        pulled.contains("Status: Downloaded newer image for"),
        "{pulled}"
    );
    assert_eq!(
        b.ok(&["run", "--rm", "--network", "none", &name, "echo", "authed"]),
        "authed\n"
    );

    // The daemon uses credentials for the registry they name, only.
    let c = Daemon::start();
    let path = format!("/images/create?fromImage={host}/team/bb&tag=v1");
    let elsewhere = serde_json::json!({"username": "alice", "password": "s3cret", "serveraddress": "127.0.0.2:5000"});
    assert_eq!(api_auth(&c, "POST", &path, &elsewhere), 404);
    let here = serde_json::json!({"username": "alice", "password": "s3cret", "serveraddress": format!("http://{host}/v2/")});
    assert_eq!(api_auth(&c, "POST", &path, &here), 200);

    // search: the catalog, as Docker's table; both spellings of the registry.
    let found = a.ok(&["--config", cfg, "search", "--registry", &host, "bb"]);
    let mut lines = found.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row, [format!("{host}/team/bb").as_str(), "0"]);
    assert!(lines.next().is_none());
    assert_eq!(
        a.ok(&["--config", cfg, "search", &format!("{host}/team")]),
        found
    );
    assert_eq!(
        a.ok(&[
            "--config",
            cfg,
            "search",
            "--registry",
            &host,
            "nothing-like-it"
        ])
        .lines()
        .count(),
        1
    );
    let nohost = a.cli(&["--config", cfg, "search", "bb"]);
    assert_eq!(nohost.status.code(), Some(1));
    assert!(
        stderr(&nohost).contains("give the term as HOST/bb"),
        "{}",
        stderr(&nohost)
    );

    // The real docker CLI logs in through /auth and searches the same way.
    let dconf = tempfile::tempdir().unwrap();
    let dcfg = dconf.path().to_str().unwrap();
    let out = a.docker(&[
        "--config", dcfg, "login", "-u", "alice", "-p", "s3cret", &host,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Login Succeeded"), "{}", stdout(&out));
    let out = a.docker(&["--config", dcfg, "search", &format!("{host}/team")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{host}/team/bb")),
        "{}",
        stdout(&out)
    );
    let out = a.docker(&[
        "--config", dcfg, "login", "-u", "alice", "-p", "nope", &host,
    ]);
    assert!(!out.status.success());

    // logout forgets them; the registry refuses again.
    assert_eq!(
        a.ok(&["--config", cfg, "logout", &host]),
        format!("Removing login credentials for {host}\n")
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["auths"].get(&host).is_none());
    assert_eq!(
        a.ok(&["--config", cfg, "logout", &host]),
        format!("Not logged in to {host}\n")
    );
    let unauth = a.cli(&["--config", cfg, "search", "--registry", &host, "bb"]);
    assert_eq!(unauth.status.code(), Some(1));
    assert!(
        stderr(&unauth).contains("unauthorized"),
        "{}",
        stderr(&unauth)
    );
    a.ok(&["rmi", &name]);
    let again = a.cli(&["--config", cfg, "pull", &name]);
    assert_ne!(again.status.code(), Some(0));
}

#[test]
fn daemon_json_default_ulimits_apply_under_the_containers_own() {
    let d = Daemon::start_with_config(
        r#"{"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1000, "Hard": 2000}},
            "registry-mirrors": ["http://127.0.0.1:9"], "insecure-registries": ["127.0.0.1:9"]}"#,
    );
    d.import_busybox("bb");
    let limits = |extra: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["bb", "sh", "-c", "echo $(ulimit -Sn) $(ulimit -Hn)"]);
        d.ok(&args)
    };
    assert_eq!(limits(&[]), "1000 2000\n", "the daemon's default");
    assert_eq!(
        limits(&["--ulimit", "nofile=500:600"]),
        "500 600\n",
        "the container's own wins"
    );
}
