//! `mini-docker context`: contexts in the docker CLI's own store, so that
//! the real docker CLI (20.10 and 28) and ours read and write each other's
//! contexts, export/import each other's tar files, and reach a daemon over
//! mutual TLS through them; and the order in which `--context`, `-H`,
//! `DOCKER_HOST`, `DOCKER_CONTEXT` and `context use` choose the endpoint,
//! checked against docker 28's `context show`. The daemon tests are
//! privileged (they fail, never skip, without root); everything listens on
//! 127.0.0.1 only.

use e2e::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DOCKER20: &str = "/usr/bin/docker";
const DOCKER28: &str = "/usr/local/bin/docker";

/// A private config dir (`DOCKER_CONFIG`) that both CLIs use.
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new() -> Config {
        Config {
            dir: tempfile::Builder::new()
                .prefix("md-ctx-")
                .tempdir()
                .unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `bin args` with this config dir, no endpoint from the test's own
    /// environment, and `env` on top.
    fn run(&self, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(bin);
        for k in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("DOCKER_CONFIG", self.path())
            .env("HOME", self.path())
            .envs(env.iter().copied())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs and asserts success; stdout.
    fn ok(&self, bin: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let o = self.run(bin, args, env);
        assert!(o.status.success(), "{bin} {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn config_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path().join("config.json")).unwrap()).unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts that a command failed and said `what`.
fn fails_with(o: &Output, what: &str) {
    assert!(!o.status.success() && text(o).contains(what), "{}", text(o));
}

/// `mini-docker system certs DIR --hostname 127.0.0.1`.
fn certs(dir: &Path) -> PathBuf {
    let out = Command::new(cli_bin())
        .args(["system", "certs", "--hostname", "127.0.0.1"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    dir.to_path_buf()
}

fn inspect(cfg: &Config, bin: &str, name: &str) -> Value {
    serde_json::from_str(&cfg.ok(bin, &["context", "inspect", name], &[])).unwrap()
}

fn names(cfg: &Config, bin: &str) -> Vec<String> {
    cfg.ok(bin, &["context", "ls", "--format", "{{.Name}}"], &[])
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn contexts_live_in_the_docker_clis_store_both_ways() {
    let cfg = Config::new();
    let pki = certs(&cfg.path().join("pki"));
    let f = |n: &str| pki.join(n).display().to_string();
    let spec = format!(
        "host=tcp://127.0.0.1:2376,ca={},cert={},key={}",
        f("ca.pem"),
        f("cert.pem"),
        f("key.pem")
    );

    // Ours, with TLS files: both docker CLIs list it, and docker 28's
    // inspect is byte for byte ours (same keys, same paths, same files).
    let out = cfg.ok(
        &cli_bin(),
        &[
            "context",
            "create",
            "md-ours",
            "--description",
            "the lab machine",
            "--docker",
            &spec,
        ],
        &[],
    );
    assert_eq!(out.trim(), "md-ours");
    for bin in [DOCKER20, DOCKER28] {
        assert!(names(&cfg, bin).contains(&"md-ours".to_string()), "{bin}");
    }
    assert_eq!(
        cfg.ok(DOCKER28, &["context", "inspect", "md-ours"], &[]),
        cfg.ok(&cli_bin(), &["context", "inspect", "md-ours"], &[])
    );
    let ours = inspect(&cfg, DOCKER20, "md-ours");
    assert_eq!(
        ours[0]["Endpoints"]["docker"]["Host"],
        "tcp://127.0.0.1:2376"
    );
    assert_eq!(ours[0]["Metadata"]["Description"], "the lab machine");
    // The TLS files were copied into the store, private.
    let tls = PathBuf::from(ours[0]["Storage"]["TLSPath"].as_str().unwrap()).join("docker");
    for n in ["ca.pem", "cert.pem", "key.pem"] {
        assert_eq!(
            std::fs::read(tls.join(n)).unwrap(),
            std::fs::read(pki.join(n)).unwrap()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tls.join(n)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{n}");
    }

    // Theirs: docker 28 writes, we read the same thing.
    cfg.ok(
        DOCKER28,
        &[
            "context",
            "create",
            "md-theirs",
            "--docker",
            "host=unix:///run/md-theirs.sock,skip-tls-verify=true",
        ],
        &[],
    );
    assert_eq!(
        cfg.ok(&cli_bin(), &["context", "inspect", "md-theirs"], &[]),
        cfg.ok(DOCKER28, &["context", "inspect", "md-theirs"], &[])
    );
    assert_eq!(
        cfg.ok(&cli_bin(), &["context", "ls", "--format", "json"], &[]),
        cfg.ok(DOCKER28, &["context", "ls", "--format", "json"], &[])
            .replace(
                "unix:///var/run/docker.sock",
                "unix:///run/mini-docker.sock"
            )
    );

    // `use` by either CLI is seen by the other; config.json keeps its other keys.
    std::fs::write(
        cfg.path().join("config.json"),
        r#"{"auths": {"md-registry.invalid": {"auth": "dTpw"}}}"#,
    )
    .unwrap();
    cfg.ok(&cli_bin(), &["context", "use", "md-ours"], &[]);
    assert_eq!(
        cfg.ok(DOCKER28, &["context", "show"], &[]).trim(),
        "md-ours"
    );
    assert_eq!(
        cfg.config_json()["auths"]["md-registry.invalid"]["auth"],
        "dTpw"
    );
    cfg.ok(DOCKER20, &["context", "use", "md-theirs"], &[]);
    assert_eq!(
        cfg.ok(&cli_bin(), &["context", "show"], &[]).trim(),
        "md-theirs"
    );
    let table = cfg.ok(&cli_bin(), &["context", "ls"], &[]);
    assert!(
        table.starts_with("NAME")
            && table.lines().any(|l| l.starts_with("md-theirs *"))
            && table.lines().any(|l| l.starts_with("md-ours ")),
        "{table}"
    );
    cfg.ok(&cli_bin(), &["context", "use", "default"], &[]);
    assert!(cfg.config_json().get("currentContext").is_none());
    assert_eq!(
        cfg.ok(DOCKER28, &["context", "show"], &[]).trim(),
        "default"
    );

    // export by us, import by both docker CLIs; export by docker 28, import by us.
    let tar = cfg.path().join("ours.tar");
    cfg.ok(
        &cli_bin(),
        &["context", "export", "md-ours", tar.to_str().unwrap()],
        &[],
    );
    for (bin, name) in [(DOCKER20, "md-imp20"), (DOCKER28, "md-imp28")] {
        cfg.ok(
            bin,
            &["context", "import", name, tar.to_str().unwrap()],
            &[],
        );
        let v = inspect(&cfg, DOCKER28, name);
        assert_eq!(v[0]["Endpoints"], ours[0]["Endpoints"], "{bin}");
        assert_eq!(v[0]["Metadata"], ours[0]["Metadata"], "{bin}");
        assert_eq!(v[0]["TLSMaterial"], ours[0]["TLSMaterial"], "{bin}");
    }
    let theirs_tar = cfg.path().join("theirs.tar");
    cfg.ok(
        DOCKER28,
        &[
            "context",
            "export",
            "md-imp28",
            theirs_tar.to_str().unwrap(),
        ],
        &[],
    );
    cfg.ok(
        &cli_bin(),
        &["context", "import", "md-back", theirs_tar.to_str().unwrap()],
        &[],
    );
    let back = inspect(&cfg, &cli_bin(), "md-back");
    assert_eq!(back[0]["Endpoints"], ours[0]["Endpoints"]);
    let back_tls = PathBuf::from(back[0]["Storage"]["TLSPath"].as_str().unwrap()).join("docker");
    assert_eq!(
        std::fs::read(back_tls.join("key.pem")).unwrap(),
        std::fs::read(pki.join("key.pem")).unwrap()
    );

    // rm by us; docker no longer sees it (and its TLS files are gone).
    let out = cfg.ok(&cli_bin(), &["context", "rm", "md-imp20"], &[]);
    assert_eq!(out.trim(), "md-imp20");
    assert!(!names(&cfg, DOCKER28).contains(&"md-imp20".to_string()));

    // Docker's refusals, with Docker's words.
    cfg.ok(&cli_bin(), &["context", "use", "md-back"], &[]);
    fails_with(
        &cfg.run(&cli_bin(), &["context", "rm", "md-back"], &[]),
        "is in use, set -f flag to force remove",
    );
    cfg.ok(&cli_bin(), &["context", "rm", "-f", "md-back"], &[]);
    assert!(cfg.config_json().get("currentContext").is_none());
    assert!(!back_tls.exists());
    fails_with(
        &cfg.run(&cli_bin(), &["context", "rm", "default"], &[]),
        "context \"default\" cannot be removed",
    );
    fails_with(
        &cfg.run(
            &cli_bin(),
            &["context", "create", "default", "--docker", "host=unix:///x"],
            &[],
        ),
        "\"default\" is a reserved context name",
    );
    fails_with(
        &cfg.run(
            &cli_bin(),
            &["context", "create", "a b", "--docker", "host=unix:///x"],
            &[],
        ),
        "is invalid",
    );
    fails_with(
        &cfg.run(
            &cli_bin(),
            &["context", "create", "md-ours", "--docker", "host=unix:///x"],
            &[],
        ),
        "already exists",
    );
    fails_with(
        &cfg.run(
            &cli_bin(),
            &[
                "context",
                "create",
                "md-x",
                "--docker",
                "host=unix:///x,colour=red",
            ],
            &[],
        ),
        "unknown key \"colour\"",
    );
    fails_with(
        &cfg.run(
            &cli_bin(),
            &[
                "context",
                "create",
                "md-x",
                "--docker",
                "host=unix:///x,skip-tls-verify=maybe",
            ],
            &[],
        ),
        "skip-tls-verify=maybe",
    );
    fails_with(
        &cfg.run(&cli_bin(), &["context", "use", "md-nope"], &[]),
        "context \"md-nope\" does not exist",
    );
    // A refused create leaves nothing behind.
    assert!(!names(&cfg, &cli_bin()).contains(&"md-x".to_string()));
}

#[test]
fn the_endpoint_is_chosen_in_the_docker_clis_order() {
    let cfg = Config::new();
    // Three contexts on three (absent) sockets: the connect error names
    // the socket a command really dialled.
    for n in ["md-a", "md-b"] {
        cfg.ok(
            &cli_bin(),
            &[
                "context",
                "create",
                n,
                "--docker",
                &format!("host=unix:///run/{n}.sock"),
            ],
            &[],
        );
    }
    cfg.ok(&cli_bin(), &["context", "use", "md-a"], &[]);
    let dialled = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.push("version");
        let o = cfg.run(&cli_bin(), &all, env);
        assert!(!o.status.success());
        let t = text(&o);
        for s in ["md-a", "md-b", "md-h"] {
            if t.contains(&format!("/run/{s}.sock")) {
                return s.to_string();
            }
        }
        panic!("no socket named in: {t}")
    };
    let show = |bin: &str, args: &[&str], env: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.extend(["context", "show"]);
        cfg.ok(bin, &all, env).trim().to_string()
    };
    let h = ("DOCKER_HOST", "unix:///run/md-h.sock");
    let ctx_b = ("DOCKER_CONTEXT", "md-b");
    /// (flags, environment, the context, the socket dialled)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[], &[], "md-a", "md-a"),
        (&[], &[ctx_b], "md-b", "md-b"),
        (&[], &[h], "default", "md-h"),
        (&[], &[h, ctx_b], "default", "md-h"),
        (&["--context", "md-b"], &[h], "md-b", "md-b"),
        (&["-c", "md-b"], &[], "md-b", "md-b"),
        (
            &["-H", "unix:///run/md-h.sock"],
            &[ctx_b],
            "default",
            "md-h",
        ),
        (&["--context", "md-a"], &[ctx_b], "md-a", "md-a"),
    ];
    for (flags, env, context, socket) in cases {
        assert_eq!(
            show(DOCKER28, flags, env),
            *context,
            "docker {flags:?} {env:?}"
        );
        assert_eq!(
            show(&cli_bin(), flags, env),
            *context,
            "ours {flags:?} {env:?}"
        );
        assert_eq!(dialled(flags, env), *socket, "ours {flags:?} {env:?}");
    }
    fails_with(
        &cfg.run(
            &cli_bin(),
            &["-H", "unix:///x", "--context", "md-a", "ps"],
            &[],
        ),
        "conflicting options: cannot specify both --host and --context",
    );
    // A current context that was removed behind our back: said, not ignored.
    std::fs::remove_dir_all(cfg.path().join("contexts/meta")).unwrap();
    fails_with(
        &cfg.run(&cli_bin(), &["ps"], &[]),
        "current context \"md-a\" is not found on the file system",
    );
    fails_with(
        &cfg.run(&cli_bin(), &["--context", "md-b", "ps"], &[]),
        "context \"md-b\" does not exist",
    );
}

/// A daemon on its unix socket and on mutual TLS at 127.0.0.1:PORT.
fn tls_daemon(pki: &Path) -> (Daemon, String) {
    Daemon::start_tls(pki, "tlsverify")
}

#[test]
fn a_context_reaches_a_tls_daemon_from_either_cli() {
    require_root();
    let cfg = Config::new();
    let pki = certs(&cfg.path().join("pki"));
    let other = certs(&cfg.path().join("other-pki"));
    let (d, tcp) = tls_daemon(&pki);
    d.import_busybox("busybox");
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "md-ctx-web",
        "busybox",
        "sleep",
        "60",
    ]);
    let id = id.trim();
    let f = |dir: &Path, n: &str| dir.join(n).display().to_string();
    let create = |bin: &str, name: &str, spec: String| {
        cfg.ok(bin, &["context", "create", name, "--docker", &spec], &[]);
    };
    let full = |ca_dir: &Path| {
        format!(
            "host={tcp},ca={},cert={},key={}",
            f(ca_dir, "ca.pem"),
            f(&pki, "cert.pem"),
            f(&pki, "key.pem")
        )
    };

    // Ours, used by us (flag, env, `context use`) and by both docker CLIs.
    create(&cli_bin(), "md-remote", full(&pki));
    let ps = |bin: &str, args: &[&str], env: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.extend(["ps", "-q", "--no-trunc"]);
        cfg.ok(bin, &all, env)
    };
    assert!(ps(&cli_bin(), &["--context", "md-remote"], &[]).contains(id));
    assert!(ps(&cli_bin(), &[], &[("DOCKER_CONTEXT", "md-remote")]).contains(id));
    assert!(ps(DOCKER20, &["--context", "md-remote"], &[]).contains(id));
    assert!(ps(DOCKER28, &[], &[("DOCKER_CONTEXT", "md-remote")]).contains(id));
    cfg.ok(&cli_bin(), &["context", "use", "md-remote"], &[]);
    assert!(ps(&cli_bin(), &[], &[]).contains(id));
    // A hijacked stream (exec) inside TLS, through the context.
    assert_eq!(
        cfg.ok(&cli_bin(), &["exec", "md-ctx-web", "echo", "inside"], &[])
            .trim(),
        "inside"
    );
    cfg.ok(&cli_bin(), &["context", "use", "default"], &[]);

    // Theirs (docker 28 wrote it), used by us: a container started through it.
    create(DOCKER28, "md-theirs", full(&pki));
    let out = cfg.ok(
        &cli_bin(),
        &[
            "--context",
            "md-theirs",
            "run",
            "--rm",
            "busybox",
            "echo",
            "through-theirs",
        ],
        &[],
    );
    assert_eq!(out.trim(), "through-theirs");

    // The context's files are really what is used: without a client
    // certificate the daemon refuses the handshake; with another CA we
    // refuse the daemon; skip-tls-verify=true accepts it without a CA.
    create(
        &cli_bin(),
        "md-nocert",
        format!("host={tcp},ca={}", f(&pki, "ca.pem")),
    );
    fails_with(
        &cfg.run(&cli_bin(), &["--context", "md-nocert", "ps"], &[]),
        "client certificate",
    );
    create(&cli_bin(), "md-wrongca", full(&other));
    fails_with(
        &cfg.run(&cli_bin(), &["--context", "md-wrongca", "ps"], &[]),
        "not signed by our CA",
    );
    create(
        &cli_bin(),
        "md-skip",
        format!(
            "host={tcp},cert={},key={},skip-tls-verify=true",
            f(&pki, "cert.pem"),
            f(&pki, "key.pem")
        ),
    );
    assert!(ps(&cli_bin(), &["--context", "md-skip"], &[]).contains(id));
    assert!(ps(DOCKER28, &["--context", "md-skip"], &[]).contains(id));
    d.ok(&["rm", "-f", "md-ctx-web"]);
}

/// A daemon a test started from a shell line; killed (and reaped) on drop.
struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_remote_page_works_as_written() {
    require_root();
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/REMOTE.md"))
            .unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("md-remote-page-")
        .tempdir()
        .unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let built = Path::new(&cli_bin())
        .parent()
        .unwrap()
        .display()
        .to_string();
    std::fs::create_dir_all(t("bin")).unwrap();
    std::fs::create_dir_all(t("home")).unwrap();
    // What the page says is replaced here, and nothing else.
    let subst = [
        ("target/release", built.clone()),
        ("/usr/local/bin/", format!("{}/", t("bin"))),
        ("/etc/mini-docker", t("etc")),
        ("/var/lib/mini-docker", t("data")),
        (
            "unix:///run/mini-docker.sock",
            format!("unix://{}", t("d.sock")),
        ),
        ("scp lab.example:", "cp ".into()),
        (" lab.example:", " ".into()),
        ("192.0.2.10", "127.0.0.1".into()),
        ("2376", port.clone()),
    ];
    // Each line of each ```sh block, in order.
    let mut lines = Vec::new();
    let mut in_sh = false;
    for l in page.lines() {
        match (in_sh, l.trim()) {
            (false, "```sh") => in_sh = true,
            (true, "```") => in_sh = false,
            (true, l) if !l.is_empty() && !l.starts_with('#') => lines.push(l.to_string()),
            _ => {}
        }
    }
    assert!(lines.len() >= 10, "the page has {} commands", lines.len());
    let path = format!("{}:{}", t("bin"), std::env::var("PATH").unwrap());
    let env = [
        ("PATH", path.as_str()),
        ("HOME", &t("home")),
        ("DOCKER_CONFIG", ""),
    ];
    let mut daemon = None;
    let mut outputs = Vec::new();
    for line in &lines {
        let mut cmd = line.clone();
        for (from, to) in &subst {
            cmd = cmd.replace(from, to);
        }
        let daemon_line = line.starts_with("mini-dockerd ");
        if daemon_line {
            // The one addition: no default bridge, so that the test shares
            // nothing with other tests' daemons; `exec`, so that dropping
            // the guard stops the daemon itself.
            cmd = format!("exec {cmd} --bridge-name none");
        }
        let mut sh = Command::new("bash");
        sh.args(["-euc", &cmd]);
        for k in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
        ] {
            sh.env_remove(k);
        }
        sh.envs(env.iter().copied()).env_remove("DOCKER_CONFIG");
        if daemon_line {
            let log = std::fs::File::create(t("daemon.log")).unwrap();
            sh.stdout(log.try_clone().unwrap()).stderr(log);
            daemon = Some(Background(sh.spawn().unwrap()));
            eventually("the page's daemon to listen on TLS", || {
                std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok()
            });
            continue;
        }
        let o = sh.stdin(std::process::Stdio::null()).output().unwrap();
        assert!(
            o.status.success(),
            "{line}\n(run as: {cmd})\n{}\ndaemon log: {}",
            text(&o),
            std::fs::read_to_string(t("daemon.log")).unwrap_or_default()
        );
        outputs.push((
            line.clone(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ));
    }
    assert!(daemon.is_some(), "the page starts no daemon");
    // The binaries really were installed, and the context really reached
    // that daemon: it reports the page's data root, and API 1.41 to docker.
    assert!(Path::new(&t("bin")).join("mini-runc").exists());
    let said = |prefix: &str| {
        outputs
            .iter()
            .find(|(l, _)| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line"))
            .1
            .trim()
            .to_string()
    };
    assert_eq!(said("mini-docker --context lab info"), t("data"));
    assert_eq!(said("docker --context lab version"), "1.41");
    assert!(said("mini-docker context ls").contains("tcp://127.0.0.1:"));
}
