//! The daemon on TCP, as Docker guards it: mutual TLS (`--tlsverify`) with
//! certificates from `mini-docker system certs`, driven by the real docker
//! CLI and by ours; clients without a certificate of the CA are refused at
//! the handshake; plain TCP beyond loopback is refused without
//! `--insecure-tcp`. Privileged (the daemon needs root): they fail, never
//! skip, without it. Everything listens on 127.0.0.1 only.

use e2e::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A temp dir with a `pki/` made by `system certs`.
fn new_pki() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("md-tls-")
        .tempdir()
        .unwrap();
    let pki = dir.path().join("pki");
    certs(&pki);
    (dir, pki)
}

/// Asserts that a command failed and said `what`.
fn fails_with(o: &Output, what: &str) {
    assert!(!o.status.success() && text(o).contains(what), "{}", text(o));
}

/// `mini-docker system certs DIR --hostname 127.0.0.1`.
fn certs(dir: &Path) {
    let out = Command::new(cli_bin())
        .args(["system", "certs", "--hostname", "127.0.0.1"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A daemon on its unix socket and on TLS at 127.0.0.1:PORT, set up through
/// daemon.json's keys (hosts, tlsverify, tlscacert, tlscert, tlskey).
fn tls_daemon(certs: &Path) -> (Daemon, String) {
    tls_daemon_with(certs, "tlsverify")
}

/// [`tls_daemon`] with `key` (`tlsverify`, or `tls`: no client certificate required).
fn tls_daemon_with(certs: &Path, key: &str) -> (Daemon, String) {
    Daemon::start_tls(certs, key)
}

/// The real docker CLI 20.10 with `--tlsverify` and these files; HOME is
/// the cert dir so that no ~/.docker of the machine is read.
fn docker_tls(host: &str, ca: &Path, cert: Option<(&Path, &Path)>, args: &[&str]) -> Output {
    let mut flags = vec![
        "--tlsverify".to_string(),
        "--tlscacert".into(),
        ca.display().to_string(),
        "-H".into(),
        host.to_string(),
    ];
    if let Some((c, k)) = cert {
        flags.extend([
            "--tlscert".into(),
            c.display().to_string(),
            "--tlskey".into(),
            k.display().to_string(),
        ]);
    }
    let home = ca.parent().unwrap().display().to_string();
    let all: Vec<&str> = flags
        .iter()
        .map(String::as_str)
        .chain(args.iter().copied())
        .collect();
    run_with_host("/usr/bin/docker", &[], &all, &[("HOME", &home)])
}

/// Our client the way a user points it at a remote daemon: environment only.
fn mini_tls(host: &str, cert_path: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let cert_path = cert_path.display().to_string();
    let env = [
        ("DOCKER_HOST", host),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", &cert_path),
    ];
    run_with_stdin(&cli_bin(), args, &env, stdin)
}

/// A DOCKER_CERT_PATH `name` in `dir` trusting `ca_of`'s CA, with
/// `client_of`'s client certificate (or none).
fn cert_path(dir: &Path, name: &str, ca_of: &Path, client_of: Option<&Path>) -> std::path::PathBuf {
    let out = dir.join(name);
    std::fs::create_dir(&out).unwrap();
    std::fs::copy(ca_of.join("ca.pem"), out.join("ca.pem")).unwrap();
    for f in client_of.map_or(&[][..], |_| &["cert.pem", "key.pem"][..]) {
        std::fs::copy(client_of.unwrap().join(f), out.join(f)).unwrap();
    }
    out
}

#[test]
fn system_certs_writes_dockers_files_with_private_keys() {
    let dir = tempfile::Builder::new()
        .prefix("md-certs-")
        .tempdir()
        .unwrap();
    let out = dir.path().join("certs");
    certs(&out);
    for (f, mode) in [
        ("ca.pem", 0o644),
        ("ca-key.pem", 0o600),
        ("server-cert.pem", 0o644),
        ("server-key.pem", 0o600),
        ("cert.pem", 0o644),
        ("key.pem", 0o600),
    ] {
        let m = std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, mode, "{f}");
    }
    // The server certificate names 127.0.0.1, and the CA signed both: openssl says so.
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(out.join("ca.pem"))
        .arg(out.join("server-cert.pem"))
        .arg(out.join("cert.pem"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
    let sans = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-ext",
            "subjectAltName,extendedKeyUsage",
            "-in",
        ])
        .arg(out.join("server-cert.pem"))
        .output()
        .unwrap();
    let sans = text(&sans);
    assert!(
        sans.contains("IP Address:127.0.0.1") && sans.contains("TLS Web Server Authentication"),
        "{sans}"
    );
    // A second run never replaces the CA.
    let again = Command::new(cli_bin())
        .args(["system", "certs"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(text(&again).contains("ca.pem exists"), "{}", text(&again));
}

#[test]
fn docker_cli_and_ours_work_over_mutual_tls() {
    let (_dir, pki) = new_pki();
    let (d, tcp) = tls_daemon(&pki);
    d.import_busybox("busybox");
    let (ca, cert, key) = (
        pki.join("ca.pem"),
        pki.join("cert.pem"),
        pki.join("key.pem"),
    );
    let docker = |args: &[&str]| {
        let o = docker_tls(&tcp, &ca, Some((&cert, &key)), args);
        assert!(o.status.success(), "docker {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let v = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(v.trim(), "1.41");
    // A container started over TLS, seen by ps over TLS and by the unix socket.
    let id = docker(&[
        "run",
        "-d",
        "--name",
        "md-tls-web",
        "busybox",
        "sleep",
        "60",
    ]);
    let id = id.trim();
    assert!(docker(&["ps", "--no-trunc"]).contains(id));
    assert!(d.ok(&["ps", "--no-trunc"]).contains(id));
    // exec (a hijacked stream inside TLS) and run with attach.
    assert_eq!(
        docker(&["exec", "md-tls-web", "echo", "inside"]).trim(),
        "inside"
    );
    assert_eq!(
        docker(&["run", "--rm", "busybox", "echo", "attached"]).trim(),
        "attached"
    );

    // Ours, from DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
    let ours = |args: &[&str], stdin: &[u8]| {
        let o = mini_tls(&tcp, &pki, args, stdin);
        assert!(o.status.success(), "mini-docker {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(ours(&["ps", "--no-trunc"], b"").contains(id));
    // And from the flags, as the docker CLI takes them (before the command).
    let (ca_s, cert_s, key_s) = (
        ca.display().to_string(),
        cert.display().to_string(),
        key.display().to_string(),
    );
    let flags = run_with_host(
        &cli_bin(),
        &[],
        &[
            "--tlsverify",
            "--tlscacert",
            &ca_s,
            "--tlscert",
            &cert_s,
            "--tlskey",
            &key_s,
            "-H",
            &tcp,
            "ps",
            "-q",
            "--no-trunc",
        ],
        &[],
    );
    assert!(flags.status.success(), "{}", text(&flags));
    assert_eq!(String::from_utf8_lossy(&flags.stdout).trim(), id);
    let cmdline = ours(&["exec", "md-tls-web", "cat", "/proc/1/cmdline"], b"");
    assert_eq!(cmdline, "sleep\x0060\x00");
    // stdin through the hijacked TLS stream, EOF by close_notify.
    let upper = ours(
        &["run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z"],
        b"over tls\n",
    );
    assert_eq!(upper, "OVER TLS\n");
    assert_eq!(
        ours(&["exec", "-i", "md-tls-web", "wc", "-c"], b"12345").trim(),
        "5"
    );
    // 8 MiB both ways at once: input and output flow together through one
    // TLS session (a reader waiting never holds up the writer).
    let big: Vec<u8> = (0..8u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
    let back = mini_tls(&tcp, &pki, &["exec", "-i", "md-tls-web", "cat"], &big);
    assert!(back.status.success(), "{}", text(&back));
    assert!(
        back.stdout == big,
        "{} bytes came back of {}",
        back.stdout.len(),
        big.len()
    );
}

#[test]
fn clients_without_a_certificate_of_the_ca_are_refused_at_the_handshake() {
    let (dir, pki) = new_pki();
    let other = dir.path().join("other");
    certs(&other);
    let (d, tcp) = tls_daemon(&pki);
    let ca = pki.join("ca.pem");

    // A certificate from another CA. The daemon's CertificateRequest names
    // the CA it accepts, so Go's client sends none, and the daemon's alert
    // ends the handshake (ours sends it anyway: see below).
    let o = docker_tls(
        &tcp,
        &ca,
        Some((&other.join("cert.pem"), &other.join("key.pem"))),
        &["version"],
    );
    fails_with(&o, "remote error: tls: certificate required");
    // No certificate at all.
    let o = docker_tls(&tcp, &ca, None, &["version"]);
    fails_with(&o, "remote error: tls: certificate required");
    // Ours, with the other CA's client files but our CA: the daemon checks
    // the foreign certificate and refuses it; the error says TLS.
    let mixed = cert_path(dir.path(), "mixed", &pki, Some(&other));
    let o = mini_tls(&tcp, &mixed, &["ps"], b"");
    fails_with(&o, "TLS: received fatal alert: UnknownCA");
    // Ours trusting another CA: the daemon's certificate is the one refused.
    let o = mini_tls(&tcp, &other, &["ps"], b"");
    fails_with(&o, "TLS: invalid peer certificate");
    // Plain HTTP to the TLS port gets no API answer, and is told why.
    let o = run_with_host(&cli_bin(), &[("-H", &tcp)], &["ps"], &[]);
    fails_with(&o, "this daemon wants TLS");
    // No client certificate at all, with ours.
    let bare = cert_path(dir.path(), "bare", &pki, None);
    let o = mini_tls(&tcp, &bare, &["ps"], b"");
    fails_with(&o, "TLS: received fatal alert: CertificateRequired");
    // The daemon logged the refusals and keeps serving the others.
    let log = std::fs::read_to_string(d.dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("TLS handshake with 127.0.0.1"), "{log}");
    let ok = docker_tls(
        &tcp,
        &ca,
        Some((&pki.join("cert.pem"), &pki.join("key.pem"))),
        &["version"],
    );
    assert!(ok.status.success(), "{}", text(&ok));
}

/// A bare mini-dockerd with these arguments; killed on drop.
struct Bare(std::process::Child, tempfile::TempDir);

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn plain_tcp_beyond_loopback_needs_insecure_tcp() {
    require_root();
    let dir = tempfile::Builder::new()
        .prefix("md-tcp-")
        .tempdir()
        .unwrap();
    let port = free_port();
    let any = format!("tcp://0.0.0.0:{port}");
    let sock = format!("unix://{}", dir.path().join("d.sock").display());
    let refused = Command::new(dockerd_bin())
        .args(["-H", &any, "--bridge-name", "none", "--data-root"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = text(&refused);
    assert!(
        err.contains("refusing plain TCP on 0.0.0.0")
            && err.contains("--tlsverify")
            && err.contains("--insecure-tcp"),
        "{err}"
    );
    // Refused before anything was opened: no data root, nothing on the port.
    assert!(!dir.path().join("data").exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    // With --insecure-tcp it serves, and says why that is dangerous.
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let child = Command::new(dockerd_bin())
        .args([
            "-H",
            &any,
            "-H",
            &sock,
            "--insecure-tcp",
            "--bridge-name",
            "none",
            "--data-root",
        ])
        .arg(dir.path().join("data"))
        .stderr(log)
        .spawn()
        .unwrap();
    let _d = Bare(child, dir);
    let local = format!("tcp://127.0.0.1:{port}");
    eventually("the daemon to answer on 127.0.0.1", || {
        run_with_host(&cli_bin(), &[("-H", &local)], &["version"], &[])
            .status
            .success()
    });
    let log = std::fs::read_to_string(_d.1.path().join("log")).unwrap();
    assert!(
        log.contains("WARN") && log.contains("--insecure-tcp"),
        "{log}"
    );
}

#[test]
fn tls_without_verify_encrypts_and_asks_for_no_certificate() {
    let (dir, pki) = new_pki();
    let (d, tcp) = tls_daemon_with(&pki, "tls");
    // The docker CLI verifying the daemon, with no certificate of its own.
    let o = docker_tls(&tcp, &pki.join("ca.pem"), None, &["version"]);
    assert!(o.status.success(), "{}", text(&o));
    // Still TLS: plain HTTP gets no answer.
    let o = run_with_host(&cli_bin(), &[("-H", &tcp)], &["ps"], &[]);
    fails_with(&o, "this daemon wants TLS");
    // The tlscacert given is applied, not ignored: a certificate offered
    // must be the CA's (ours offers another CA's).
    let other = dir.path().join("other");
    certs(&other);
    let mixed = cert_path(dir.path(), "mixed", &pki, Some(&other));
    let o = mini_tls(&tcp, &mixed, &["ps"], b"");
    fails_with(&o, "TLS: received fatal alert: UnknownCA");
    let log = std::fs::read_to_string(d.dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("--tls without --tlsverify"), "{log}");
}

/// `--tls` without `--tlsverify`, as the docker CLI has it: the channel is
/// encrypted but the daemon's certificate is not checked. Both CLIs reach a
/// `--tls` daemon whose CA they do not have (where `--tlsverify` fails),
/// and offer a client certificate when DOCKER_CERT_PATH has one, so `--tls`
/// also reaches a `--tlsverify` daemon with the right certificate.
#[test]
fn client_tls_without_verify_encrypts_and_does_not_check_the_daemon() {
    let (dir, pki) = new_pki();
    let (d, tcp) = tls_daemon_with(&pki, "tls");
    d.import_busybox("busybox");
    // The clients' directory trusts another CA and has no certificate.
    let other = dir.path().join("other");
    certs(&other);
    let stranger = cert_path(dir.path(), "stranger", &other, None);
    let stranger_path = stranger.display().to_string();
    let home = dir.path().display().to_string();
    let env = [
        ("DOCKER_CERT_PATH", stranger_path.as_str()),
        ("HOME", &home),
    ];
    let ours = |flag: &str, args: &[&str]| {
        run_with_host(
            &cli_bin(),
            &[("-H", &tcp)],
            &[&[flag][..], args].concat(),
            &env,
        )
    };
    let docker = |flag: &str, args: &[&str]| {
        run_with_host(
            "/usr/bin/docker",
            &[],
            &[&[flag, "-H", &tcp][..], args].concat(),
            &env,
        )
    };

    // --tlsverify: the daemon's certificate is not of the CA they trust.
    fails_with(&ours("--tlsverify", &["ps"]), "not signed by our CA");
    fails_with(
        &docker("--tlsverify", &["ps"]),
        "certificate signed by unknown authority",
    );
    // --tls: they go through, and a container runs over the encrypted link.
    let o = docker("--tls", &["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stdout(&o).trim(), "1.41");
    let o = ours("--tls", &["run", "--rm", "busybox", "echo", "over-tls"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stdout(&o), "over-tls\n");
    let o = docker("--tls", &["run", "--rm", "busybox", "echo", "over-tls"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stdout(&o), "over-tls\n");
    // Without TLS the daemon reads no HTTP: the link really is TLS.
    fails_with(
        &run_with_host(&cli_bin(), &[("-H", &tcp)], &["ps"], &env),
        "this daemon wants TLS",
    );
    drop(d);

    // A --tlsverify daemon: --tls with no client certificate is refused at
    // the handshake; with the CA's client certificate in DOCKER_CERT_PATH
    // (and still no check of the daemon) it is let in.
    let (_d, tcp) = tls_daemon(&pki);
    let run = |dir: &Path| {
        let cp = dir.display().to_string();
        run_with_host(
            &cli_bin(),
            &[("-H", &tcp)],
            &["--tls", "ps", "-q"],
            &[("DOCKER_CERT_PATH", &cp), ("HOME", &home)],
        )
    };
    fails_with(&run(&stranger), "wants a client certificate");
    let client = cert_path(dir.path(), "client", &other, Some(&pki));
    let o = run(&client);
    assert!(o.status.success(), "{}", text(&o));
}
