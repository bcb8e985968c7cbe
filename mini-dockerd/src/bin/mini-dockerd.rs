//! `mini-dockerd`: the daemon. Serves the Docker Engine API (v1.41) on a
//! unix socket (and optionally on tcp://ADDR:PORT), keeping its state
//! under `--data-root`.
//!
//! TCP is guarded as in dockerd: with `--tlsverify` every connection first
//! completes a TLS handshake in which the client shows a certificate signed
//! by `--tlscacert` (see `mini_docker_api::tls`), and only then is HTTP
//! read; `--tls` encrypts without asking for one. Plain TCP lets anyone who
//! reaches the port run containers as root, so on an address other than
//! loopback it is refused unless `--insecure-tcp` says the risk is wanted.

use anyhow::{bail, Context};
use clap::Parser;
use mini_dockerd::{api, net, runtimes::Registry, Engine, Options};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

/// The mini-docker daemon.
#[derive(Parser, Debug)]
#[command(name = "mini-dockerd", version)]
struct Cli {
    /// Where to listen: unix://PATH or tcp://127.0.0.1:PORT (repeatable).
    #[arg(short = 'H', long = "host")]
    hosts: Vec<String>,
    /// Root of the daemon's state.
    #[arg(long, default_value = "/var/lib/mini-docker")]
    data_root: PathBuf,
    /// A daemon.json-style config file (data-root, hosts, bridge-subnet).
    #[arg(long = "config-file")]
    config_file: Option<PathBuf>,
    /// Subnet of the default bridge (default: chapter 05 picks a free one).
    #[arg(long)]
    bridge_subnet: Option<String>,
    /// Name of the default bridge (at most 15 characters); `none` gives
    /// `bridge` containers an empty network namespace, as `dockerd -b none`.
    #[arg(long, default_value = "md-br0")]
    bridge_name: String,
    /// The mini-shim binary (default: next to this one).
    #[arg(long)]
    shim: Option<PathBuf>,
    /// Use TLS on tcp:// hosts (clients need no certificate); implied by --tlsverify.
    #[arg(long)]
    tls: bool,
    /// Use TLS and accept only clients whose certificate --tlscacert signed.
    #[arg(long)]
    tlsverify: bool,
    /// Trust client certs signed only by this CA; default $DOCKER_CERT_PATH/ca.pem or ~/.docker/ca.pem.
    #[arg(long)]
    tlscacert: Option<PathBuf>,
    /// The daemon's TLS certificate; default cert.pem beside the CA.
    #[arg(long)]
    tlscert: Option<PathBuf>,
    /// The daemon's TLS key; default key.pem beside the CA.
    #[arg(long)]
    tlskey: Option<PathBuf>,
    /// Serve plain TCP on an address other than loopback: anyone who reaches
    /// it controls the machine as root. Use --tlsverify instead.
    #[arg(long)]
    insecure_tcp: bool,
    /// Check this host as `mini-docker doctor` does, print the checks as
    /// JSON, and exit (1 if one failed). The client runs this when no daemon
    /// answers.
    #[arg(long)]
    doctor: bool,
    /// Register an OCI runtime NAME=PATH (repeatable): a binary with runc's
    /// command line (runc, crun, mini-runc), for `run --runtime NAME`.
    #[arg(long = "add-runtime", value_name = "NAME=PATH")]
    add_runtime: Vec<String>,
    /// The runtime of containers that name none [default: runc, the
    /// built-in one, which is the mini-runc beside this daemon].
    #[arg(long = "default-runtime", value_name = "NAME")]
    default_runtime: Option<String>,
    /// A resolver the embedded DNS of user networks forwards to: IP or
    /// IP:PORT (repeatable; daemon.json `dns`) [default: the host's
    /// /etc/resolv.conf nameservers, loopback ones left out].
    #[arg(long = "dns", value_name = "IP[:PORT]")]
    dns: Vec<String>,
    /// The init binary of `run --init` containers (daemon.json
    /// `init-path`) [default: docker-init, then tini-static, on PATH].
    #[arg(long = "init-path", value_name = "PATH")]
    init_path: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Before any thread: see the function's doc (daemon RSS 24 -> 16 MiB at 100 containers).
    mini_runc::sys::single_malloc_arena();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mini-dockerd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    let (mut mirrors, mut insecure, mut ulimits) = (Vec::new(), Vec::new(), Vec::new());
    let mut max_layer_size = mini_dockerd::DEFAULT_MAX_LAYER_SIZE;
    let mut log_config = serde_json::json!({"Type": "json-file", "Config": {}});
    let mut runtimes = runtime_registry(&cli)?;
    if let Some(p) = &cli.config_file {
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(p).with_context(|| format!("read {}", p.display()))?,
        )?;
        if let Some(r) = v["data-root"].as_str() {
            cli.data_root = r.into();
        }
        if let Some(s) = v["bridge-subnet"].as_str() {
            cli.bridge_subnet.get_or_insert(s.into());
        }
        if let Some(b) = v["bridge"].as_str() {
            cli.bridge_name = b.into();
        }
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        mirrors = strings("registry-mirrors");
        // {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}}
        if let Some(m) = v["default-ulimits"].as_object() {
            for (name, u) in m {
                let (soft, hard) = (u["Soft"].as_u64(), u["Hard"].as_u64());
                match (soft, hard) {
                    (Some(s), Some(h)) if s <= h => ulimits.push(
                        serde_json::json!({"Name": u["Name"].as_str().unwrap_or(name), "Soft": s, "Hard": h}),
                    ),
                    _ => bail!("{}: default-ulimits.{name} needs Soft <= Hard", p.display()),
                }
            }
        }
        insecure = strings("insecure-registries");
        if !v["max-layer-size"].is_null() {
            max_layer_size = v["max-layer-size"].as_u64().filter(|n| *n > 0).with_context(|| {
                format!(
                    "{}: max-layer-size must be a positive number of bytes (e.g. 34359738368 for 32 GiB)",
                    p.display()
                )
            })?;
        }
        // {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}
        if !v["log-driver"].is_null() || !v["log-opts"].is_null() {
            let driver = v["log-driver"].as_str().unwrap_or("json-file");
            log_config = serde_json::json!({"Type": driver, "Config": v["log-opts"].clone()});
            if !v["log-opts"].is_null() && !v["log-opts"].is_object() {
                bail!("{}: log-opts must be an object of strings", p.display());
            }
            if log_config["Config"].is_null() {
                log_config["Config"] = serde_json::json!({});
            }
            mini_dockerd::logs::LogConfig::from_value(&log_config)
                .map_err(|e| anyhow::anyhow!("{}: log-driver/log-opts: {e}", p.display()))?;
        }
        // dockerd's keys: {"tls": true, "tlsverify": true, "tlscacert": "…"}.
        for (k, flag) in [("tls", &mut cli.tls), ("tlsverify", &mut cli.tlsverify)] {
            match &v[k] {
                serde_json::Value::Null => {}
                serde_json::Value::Bool(b) => *flag |= *b,
                _ => bail!("{}: {k} must be true or false", p.display()),
            }
        }
        for (k, path) in [
            ("tlscacert", &mut cli.tlscacert),
            ("tlscert", &mut cli.tlscert),
            ("tlskey", &mut cli.tlskey),
        ] {
            match &v[k] {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => {
                    path.get_or_insert_with(|| s.into());
                }
                _ => bail!("{}: {k} must be a path", p.display()),
            }
        }
        // {"dns": ["192.0.2.1", "127.0.0.1:5353"], "init-path": "/usr/bin/tini-static"}
        if !v["dns"].is_null() {
            let list = v["dns"]
                .as_array()
                .with_context(|| format!("{}: dns must be a list of addresses", p.display()))?;
            for d in list {
                cli.dns.push(
                    d.as_str()
                        .with_context(|| format!("{}: dns: {d} is not a string", p.display()))?
                        .to_string(),
                );
            }
        }
        match &v["init-path"] {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => {
                cli.init_path.get_or_insert_with(|| s.into());
            }
            _ => bail!("{}: init-path must be a path", p.display()),
        }
        runtimes_from_file(&mut runtimes, &cli, &v)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        if let Some(h) = v["hosts"].as_array() {
            cli.hosts
                .extend(h.iter().filter_map(|x| x.as_str().map(String::from)));
        }
    }
    if cli.doctor {
        let shim = match &cli.shim {
            Some(s) => s.clone(),
            None => std::env::current_exe()?.with_file_name("mini-shim"),
        };
        let socket = cli
            .hosts
            .iter()
            .find_map(|h| h.strip_prefix("unix://"))
            .map(PathBuf::from);
        let checks = mini_dockerd::doctor::run_checks(&mini_dockerd::doctor::HostPaths::real(
            &cli.data_root,
            &shim,
            socket,
        ));
        println!("{}", serde_json::to_string(&checks)?);
        std::process::exit(if checks.iter().all(|c| c.ok) { 0 } else { 1 });
    }
    // After daemon.json: the default may be a runtime the file defines.
    if let Some(d) = &cli.default_runtime {
        runtimes.set_default(d)?;
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("the daemon needs root (namespaces, mounts, cgroups): run it with sudo");
    }
    if cli.hosts.is_empty() {
        cli.hosts.push("unix:///run/mini-docker.sock".into());
    }
    let tls = tls_acceptor(&cli).map_err(anyhow::Error::msg)?;
    let hosts = cli
        .hosts
        .iter()
        .map(|h| listen_address(h, tls.is_some(), cli.insecure_tcp))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if cli.tls && !cli.tlsverify && hosts.iter().any(|h| matches!(h, Listen::Tcp(_))) {
        tracing::warn!(
            "--tls without --tlsverify: the connection is encrypted but any client may use the API; add --tlsverify and --tlscacert to accept only clients with a certificate of your CA"
        );
    }
    let shim = match cli.shim {
        Some(s) => s,
        None => std::env::current_exe()?.with_file_name("mini-shim"),
    };
    let opts = Options {
        root: cli.data_root,
        shim,
        net: net::NetOptions {
            subnet: cli.bridge_subnet,
            bridge: Some(cli.bridge_name).filter(|b| b != "none"),
        },
        registry_mirrors: mirrors,
        insecure_registries: insecure,
        default_ulimits: ulimits,
        max_layer_size,
        log_config,
        runtimes,
        dns: cli
            .dns
            .iter()
            .map(|d| {
                mini_dockerd::dns::parse_upstream(d).with_context(|| {
                    format!("dns {d}: not an address: give IP or IP:PORT, e.g. 192.0.2.1 or 127.0.0.1:5353")
                })
            })
            .collect::<anyhow::Result<_>>()?,
        init_path: cli.init_path,
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(opts, hosts, tls))
}

/// Where to listen, checked before anything is opened.
/// The built-in runtime (the `mini-runc` beside this binary) and `--add-runtime`s.
fn runtime_registry(cli: &Cli) -> anyhow::Result<Registry> {
    let mut r = Registry::new(std::env::current_exe()?.with_file_name("mini-runc"));
    for f in &cli.add_runtime {
        let (name, path) = Registry::parse_flag(f)?;
        r.add(&name, &path, vec![])
            .with_context(|| format!("--add-runtime {f}"))?;
    }
    Ok(r)
}

/// daemon.json `runtimes` and `default-runtime` (given once: as a flag or in the file).
fn runtimes_from_file(r: &mut Registry, cli: &Cli, v: &serde_json::Value) -> anyhow::Result<()> {
    if !v["runtimes"].is_null() {
        r.add_json(&v["runtimes"])?;
    }
    match (&v["default-runtime"], &cli.default_runtime) {
        (serde_json::Value::Null, _) => {}
        (serde_json::Value::String(f), Some(flag)) => bail!(
            "the following directives are specified both as a flag and in the configuration file: default-runtime: (from flag: {flag}, from file: {f})"
        ),
        (serde_json::Value::String(f), None) => r.set_default(f)?,
        _ => bail!("default-runtime must be a runtime's name"),
    }
    Ok(())
}

enum Listen {
    Unix(PathBuf),
    Tcp(String),
}

/// Parses one `-H`; refuses plain TCP beyond loopback without `--insecure-tcp`.
fn listen_address(h: &str, tls: bool, insecure_tcp: bool) -> anyhow::Result<Listen> {
    if let Some(path) = h.strip_prefix("unix://") {
        return Ok(Listen::Unix(path.into()));
    }
    let Some(addr) = h.strip_prefix("tcp://") else {
        bail!("unknown -H {h}: use unix:///path or tcp://ADDR:PORT");
    };
    let addr = addr.trim_end_matches('/');
    // dockerd's default ports: 2376 with TLS, 2375 without.
    let addr = match addr.rsplit_once(':') {
        Some((_, p)) if p.parse::<u16>().is_ok() => addr.to_string(),
        _ => format!("{addr}:{}", if tls { 2376 } else { 2375 }),
    };
    if !tls && !is_loopback(&addr) {
        if !insecure_tcp {
            bail!(
                "refusing plain TCP on {addr}: anyone who can reach it could run containers as root on this machine. \
                 Use --tlsverify with --tlscacert, --tlscert and --tlskey (make them with `mini-docker system certs DIR`), \
                 or pass --insecure-tcp if you really want an unauthenticated API on the network"
            );
        }
        tracing::warn!(
            "API listening on plain TCP at {addr} (--insecure-tcp): anyone who can reach it has root on this machine; use --tlsverify"
        );
    }
    Ok(Listen::Tcp(addr))
}

/// Whether `addr` is on loopback only: a literal 127.0.0.0/8 or ::1, or
/// `localhost`. Other names are not resolved, so they count as the network.
fn is_loopback(addr: &str) -> bool {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(a) => a.ip().is_loopback(),
        Err(_) => addr.rsplit_once(':').is_some_and(|(h, _)| h == "localhost"),
    }
}

/// The TLS side of `--tls`/`--tlsverify`, or `None` for plain TCP.
fn tls_acceptor(cli: &Cli) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
    use mini_docker_api::tls;
    if !cli.tls && !cli.tlsverify {
        if let Some(given) = [&cli.tlscacert, &cli.tlscert, &cli.tlskey]
            .into_iter()
            .flatten()
            .next()
        {
            return Err(format!(
                "{} is given but TLS is off: add --tlsverify (or --tls)",
                given.display()
            ));
        }
        return Ok(None);
    }
    let dir = tls::cert_dir();
    let cert = cli.tlscert.clone().unwrap_or_else(|| dir.join("cert.pem"));
    let key = cli.tlskey.clone().unwrap_or_else(|| dir.join("key.pem"));
    let builder = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    // --tlsverify: a client certificate of the CA is required. --tls with
    // an explicit --tlscacert: none is required, but one offered must be
    // the CA's (the CA is applied, not ignored). --tls alone: none asked.
    let ca = match (&cli.tlscacert, cli.tlsverify) {
        (Some(ca), _) => Some(ca.clone()),
        (None, true) => Some(dir.join("ca.pem")),
        (None, false) => None,
    };
    let builder = match ca {
        Some(ca) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                std::sync::Arc::new(tls::roots(&ca)?),
                tls::provider(),
            );
            let verifier = if cli.tlsverify {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(tls::read_certs(&cert)?, tls::read_key(&key)?)
        .map_err(|e| format!("{} and {} do not match: {e}", cert.display(), key.display()))?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(
        config,
    ))))
}

async fn serve(
    opts: Options,
    hosts: Vec<Listen>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> anyhow::Result<()> {
    let engine = Engine::open(opts)?;
    engine.restore_user_networks();
    engine.restore();
    engine.restore_user_ports();
    engine.restore_dns();
    engine.restart_on_boot();
    let app = api::router(engine.clone());
    let mut sockets = Vec::new();
    for h in hosts {
        match h {
            Listen::Unix(path) => {
                let _ = std::fs::remove_file(&path);
                let l = tokio::net::UnixListener::bind(&path)
                    .with_context(|| format!("listen on {}", path.display()))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))?;
                tracing::info!("API listening on unix://{}", path.display());
                sockets.push(path);
                let app = app.clone();
                tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        tokio::spawn(api::serve_connection(s, app.clone()));
                    }
                });
            }
            Listen::Tcp(addr) => {
                let l = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("listen on {addr}"))?;
                let how = if tls.is_some() { " (TLS)" } else { "" };
                tracing::info!("API listening on tcp://{addr}{how}");
                let (app, tls) = (app.clone(), tls.clone());
                tokio::spawn(async move {
                    while let Ok((s, peer)) = l.accept().await {
                        let app = app.clone();
                        match tls.clone() {
                            None => {
                                tokio::spawn(api::serve_connection(s, app));
                            }
                            // The handshake runs in the connection's task, so a
                            // slow or refused client holds up no one else.
                            Some(tls) => {
                                tokio::spawn(async move {
                                    match tls.accept(s).await {
                                        Ok(s) => api::serve_connection(s, app).await,
                                        Err(e) => {
                                            tracing::warn!("TLS handshake with {peer} refused: {e}")
                                        }
                                    }
                                });
                            }
                        }
                    }
                });
            }
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    // Containers keep running under their shims (live restore).
    for s in sockets {
        let _ = std::fs::remove_file(s);
    }
    tracing::info!("stopping; containers keep running");
    Ok(())
}
