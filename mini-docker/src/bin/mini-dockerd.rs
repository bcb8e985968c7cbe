//! `mini-dockerd`: the daemon. Serves the Docker Engine API (v1.41) on a
//! unix socket (and optionally on tcp://127.0.0.1:PORT), keeping its state
//! under `--data-root`.

use anyhow::{bail, Context};
use clap::Parser;
use mini_docker::engine::{api, net, Engine, Options};
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
}

fn main() -> ExitCode {
    // Before any thread: see the function's doc (daemon RSS 24 -> 16 MiB at 100 containers).
    mini_docker::runtime::sys::single_malloc_arena();
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
    let mut max_layer_size = mini_docker::engine::DEFAULT_MAX_LAYER_SIZE;
    let mut log_config = serde_json::json!({"Type": "json-file", "Config": {}});
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
            mini_docker::engine::logs::LogConfig::from_value(&log_config)
                .map_err(|e| anyhow::anyhow!("{}: log-driver/log-opts: {e}", p.display()))?;
        }
        if let Some(h) = v["hosts"].as_array() {
            cli.hosts
                .extend(h.iter().filter_map(|x| x.as_str().map(String::from)));
        }
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("the daemon needs root (namespaces, mounts, cgroups): run it with sudo");
    }
    if cli.hosts.is_empty() {
        cli.hosts.push("unix:///run/mini-docker.sock".into());
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
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(opts, cli.hosts))
}

async fn serve(opts: Options, hosts: Vec<String>) -> anyhow::Result<()> {
    let engine = Engine::open(opts)?;
    engine.restore_user_networks();
    engine.restore();
    engine.restore_user_ports();
    engine.restart_on_boot();
    let app = api::router(engine.clone());
    let mut sockets = Vec::new();
    for h in &hosts {
        if let Some(path) = h.strip_prefix("unix://") {
            let path = PathBuf::from(path);
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
        } else if let Some(addr) = h.strip_prefix("tcp://") {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listen on {addr}"))?;
            tracing::info!("API listening on tcp://{addr}");
            let app = app.clone();
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    tokio::spawn(api::serve_connection(s, app.clone()));
                }
            });
        } else {
            bail!("unknown -H {h}: use unix:///path or tcp://127.0.0.1:PORT");
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
