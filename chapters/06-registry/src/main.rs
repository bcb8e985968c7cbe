//! The chapter 06 tour: a registry on loopback, a push with progress bars,
//! every HTTP exchange printed, a pull into a fresh store, verified.
//!
//! `cargo run -p chapter06` runs the tour. The subcommands are the two
//! sides on their own: `serve` (a registry), `pull`, `push`, `login`,
//! `logout`, `tags`, `htpasswd`, `busybox` (make the demo image).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chapter04::{ImageStore, PlatformSpec};
use chapter06::auth::{Htpasswd, TokenIssuer};
use chapter06::client::{config as docker_config, Credentials, Progress};
use chapter06::server::{self, AuthMode, ServerConfig};
use chapter06::{demo, Client, ClientConfig, Reference};
use clap::{Args, Parser, Subcommand};

/// Both sides of `docker pull` and `docker push`: the OCI distribution
/// protocol. Without a subcommand, runs the guided tour.
#[derive(Parser)]
#[command(name = "chapter06", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// The guided tour: serve, push, pull, verify, all on 127.0.0.1.
    Tour,
    /// Run a registry.
    Serve(ServeArgs),
    /// Pull an image into a local store (chapter 04's).
    Pull {
        /// The image, e.g. `127.0.0.1:5000/demo/busybox:latest`.
        reference: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Push an image from a local store.
    Push {
        /// The local image name (in --store).
        local: String,
        /// Where to push it (defaults to the local name).
        reference: Option<String>,
        /// Upload in chunks of this many bytes (PATCH), instead of one PUT.
        #[arg(long)]
        chunk_size: Option<u64>,
        /// Try a cross-repository mount from this repository first.
        #[arg(long)]
        mount_from: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Check credentials against a registry and store them in config.json.
    Login {
        /// The registry host[:port].
        registry: String,
        /// User name.
        #[arg(short, long)]
        username: String,
        /// Password (prefer --password-stdin: arguments are visible in `ps`).
        #[arg(short, long)]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove stored credentials.
    Logout {
        /// The registry host[:port].
        registry: String,
        /// Docker config.json (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List a repository's tags.
    Tags {
        /// `host:port/repository`.
        repository: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print an htpasswd line (bcrypt) for `serve --htpasswd`.
    Htpasswd {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// Build chapter 04's busybox image into a store.
    Busybox {
        /// The image store.
        #[arg(long)]
        store: PathBuf,
        /// The name to tag.
        #[arg(long, default_value = "chapter06/busybox:latest")]
        name: String,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Listen address (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: String,
    /// Storage root (blobs/, repositories/).
    #[arg(long)]
    root: PathBuf,
    /// Require Basic auth against this htpasswd file (bcrypt entries).
    #[arg(long)]
    htpasswd: Option<PathBuf>,
    /// Token mode: issue Bearer tokens at /token and announce this realm URL
    /// in challenges ("auto": http://<addr>/token). Users of --htpasswd get
    /// pull and push, anonymous clients pull only.
    #[arg(long)]
    token_realm: Option<String>,
    /// The service name in token challenges.
    #[arg(long, default_value = "chapter06")]
    service: String,
}

#[derive(Args)]
struct ClientArgs {
    /// The local image store (chapter 04's layout).
    #[arg(long, default_value = "/var/tmp/chapter06-store")]
    store: PathBuf,
    /// Platform to pick from an index.
    #[arg(long, default_value = "linux/amd64")]
    platform: String,
    /// Allow plain HTTP to this registry (repeatable); loopback always may.
    #[arg(long = "insecure-registry")]
    insecure: Vec<String>,
    /// A Docker Hub mirror URL (repeatable), tried before Docker Hub.
    #[arg(long = "registry-mirror")]
    mirrors: Vec<String>,
    /// Read `registry-mirrors` and `insecure-registries` from a daemon.json.
    #[arg(long)]
    daemon_config: Option<PathBuf>,
    /// Docker config.json with credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Do not draw progress bars.
    #[arg(long)]
    quiet: bool,
    /// Print every HTTP exchange.
    #[arg(long, short)]
    verbose: bool,
}

impl ClientArgs {
    fn client(&self) -> Result<Client> {
        let mut cfg = ClientConfig {
            insecure_registries: self.insecure.clone(),
            mirrors: self.mirrors.clone(),
            auth_file: Some(
                self.config
                    .clone()
                    .unwrap_or_else(docker_config::default_path),
            ),
            platform: self
                .platform
                .parse::<PlatformSpec>()
                .context("--platform")?,
            progress: Progress::new(!self.quiet),
            ..Default::default()
        };
        if let Some(p) = &self.daemon_config {
            cfg.apply_daemon_json(p)?;
        }
        if self.verbose {
            let progress = cfg.progress.clone();
            cfg.log = Some(Arc::new(move |e| {
                progress.println(&format!("   {}", e.short()))
            }));
        }
        Ok(Client::new(cfg))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(msg) = unreachable_registry(&e) {
                eprintln!("chapter06: {msg}");
                return ExitCode::FAILURE;
            }
            // The error chain once: a cause already quoted by its parent
            // (thiserror messages often include their source) is not repeated.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg = format!("{msg}: {c}");
                }
            }
            eprintln!("chapter06: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// When the registry could not be reached at all (nothing listens there),
/// one sentence that names the request, the cause and how to start a
/// registry, instead of the HTTP client's chain that repeats the URL.
fn unreachable_registry(e: &anyhow::Error) -> Option<String> {
    let (method, url, source) =
        e.chain().find_map(
            |c| match c.downcast_ref::<chapter06::client::ClientError>() {
                Some(chapter06::client::ClientError::Http {
                    method,
                    url,
                    source,
                }) if source.is_connect() => Some((method, url, source)),
                _ => None,
            },
        )?;
    let addr = source
        .url()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| url.clone());
    // The innermost cause: "Connection refused (os error 111)".
    let mut cause: &dyn std::error::Error = source;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    Some(format!(
        "{method} {url}: cannot connect to {addr} ({cause}). Is the registry running? \
         Start one with `cargo run -p chapter06 -- serve --addr {addr}`"
    ))
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    match cli.cmd.unwrap_or(Cmd::Tour) {
        Cmd::Tour => rt.block_on(tour()),
        Cmd::Serve(a) => rt.block_on(serve(a)),
        Cmd::Pull { reference, client } => rt.block_on(async {
            let r = Reference::parse(&reference)?;
            let store = ImageStore::open(&client.store)?;
            let report = client.client()?.pull(&r, &store).await?;
            println!(
                "Status: Downloaded newer image for {} ({} blobs fetched, {} already present)",
                r.familiar(),
                report.fetched.len(),
                report.skipped.len()
            );
            println!("{r}");
            Ok(())
        }),
        Cmd::Push {
            local,
            reference,
            chunk_size,
            mount_from,
            client,
        } => rt.block_on(async {
            let target = Reference::parse(reference.as_deref().unwrap_or(&local))?;
            let store = ImageStore::open(&client.store)?;
            let mut c = client.client()?;
            c.config.chunk_size = chunk_size;
            let report = c
                .push(&store, &local, &target, mount_from.as_deref())
                .await?;
            println!(
                "pushed {} blobs ({} bytes), {} already there, {} mounted; digest {}",
                report.pushed.len(),
                report.bytes,
                report.skipped.len(),
                report.mounted.len(),
                report.digest.map(|d| d.to_string()).unwrap_or_default()
            );
            Ok(())
        }),
        Cmd::Login {
            registry,
            username,
            password,
            password_stdin,
            client,
        } => rt.block_on(async {
            let password = match (password, password_stdin) {
                (Some(p), false) => p,
                (None, true) => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_line(&mut s)
                        .context("read the password from stdin")?;
                    s.trim_end_matches(['\n', '\r']).to_string()
                }
                _ => bail!("give exactly one of --password and --password-stdin"),
            };
            let file = client
                .config
                .clone()
                .unwrap_or_else(docker_config::default_path);
            client
                .client()?
                .login(
                    &registry,
                    Credentials {
                        user: username,
                        password,
                    },
                    &file,
                )
                .await?;
            println!("Login Succeeded (credentials stored in {})", file.display());
            Ok(())
        }),
        Cmd::Logout { registry, config } => {
            let file = config.unwrap_or_else(docker_config::default_path);
            if docker_config::remove(&file, &registry)? {
                println!("Removing login credentials for {registry}");
            } else {
                println!("Not logged in to {registry}");
            }
            Ok(())
        }
        Cmd::Tags { repository, client } => rt.block_on(async {
            let r = Reference::parse(&repository)?;
            for t in client
                .client()?
                .list_tags(&r.registry, &r.repository)
                .await?
            {
                println!("{t}");
            }
            Ok(())
        }),
        Cmd::Htpasswd { user, password } => {
            println!("{}", Htpasswd::entry(&user, &password, 10)?);
            Ok(())
        }
        Cmd::Busybox { store, name } => {
            let s = ImageStore::open(&store)?;
            let work = tempfile::tempdir()?;
            let d = demo::busybox_image(&s, work.path(), &name)?;
            println!("{name} -> {d}");
            Ok(())
        }
    }
}

async fn serve(a: ServeArgs) -> Result<()> {
    let auth = match (&a.htpasswd, &a.token_realm) {
        (h, Some(realm)) => AuthMode::Token {
            users: match h {
                Some(p) => Htpasswd::load(p)?,
                None => Htpasswd::default(),
            },
            realm: (realm != "auto").then(|| realm.clone()),
            issuer: TokenIssuer::new(&a.service),
        },
        (Some(p), None) => AuthMode::Basic(Htpasswd::load(p)?),
        (None, None) => AuthMode::None,
    };
    let running = server::spawn(
        ServerConfig {
            root: a.root.clone(),
            auth,
        },
        &a.addr,
    )
    .await?;
    eprintln!(
        "chapter06 registry listening on http://{} (storage {}); Ctrl-C stops it",
        running.addr,
        a.root.display()
    );
    tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
    running.stop().await?;
    Ok(())
}

fn step(n: u32, title: &str) {
    println!("\n== {n}. {title}");
}

fn shell(cmd: &str) {
    println!("   $ {cmd}");
}

async fn tour() -> Result<()> {
    let work = tempfile::Builder::new()
        .prefix("ch06-tour-")
        .tempdir()
        .context("create a work directory")?;
    let w = work.path();

    step(
        1,
        "an image to push: chapter 04's busybox image in a local store",
    );
    let local = ImageStore::open(&w.join("store-a"))?;
    let name = "chapter06/busybox:latest";
    let built = demo::busybox_image(&local, &w.join("build"), name)?;
    let image = local.resolve(name, None)?;
    println!("   {name} -> manifest {built}");
    for l in image.manifest.layers() {
        println!("   layer {} ({} bytes)", l.digest(), l.size());
    }
    println!("   config {} (the image ID)", image.config_digest);

    step(
        2,
        "a registry on loopback (axum), storing into chapter 04's blob store",
    );
    let root = w.join("registry");
    let running = server::spawn(
        ServerConfig {
            root: root.clone(),
            auth: AuthMode::None,
        },
        "127.0.0.1:0",
    )
    .await?;
    let host = running.host();
    shell(&format!(
        "cargo run -p chapter06 -- serve --addr {host} --root {}",
        root.display()
    ));

    let progress = Progress::new(true);
    // Each HTTP exchange is printed as it completes. The push uploads one
    // blob at a time so that each upload's POST, PATCHes and PUT read in
    // order (docker push runs several at once and its requests interleave);
    // the pull keeps its parallel blob fetches, one GET each.
    let tour_client = |concurrency: usize| {
        let log_to = progress.clone();
        Client::new(ClientConfig {
            loopback_only: true,
            chunk_size: Some(256 * 1024),
            concurrency,
            progress: progress.clone(),
            log: Some(Arc::new(move |e| {
                log_to.println(&format!("   {}", e.short()))
            })),
            ..Default::default()
        })
    };
    let client = tour_client(1);

    step(
        3,
        "push, one blob at a time: HEAD to skip, POST to start, PATCH chunks, PUT to close, then the manifest",
    );
    let target = Reference::parse(&format!("{host}/demo/busybox:latest"))?;
    shell(&format!("docker push {target}"));
    let pushed = client.push(&local, name, &target, None).await?;
    println!(
        "   pushed {} blobs, {} bytes; the registry stored manifest {}",
        pushed.pushed.len(),
        pushed.bytes,
        pushed
            .digest
            .clone()
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    print_tree(&root);

    step(4, "push again: every blob is already there (HEAD -> 200)");
    let again = client.push(&local, name, &target, None).await?;
    println!("   {} blobs skipped, 0 bytes sent", again.skipped.len());

    step(5, "pull into a fresh store: manifest with Accept headers, blobs in parallel, verified while streaming");
    shell(&format!("docker pull {target}"));
    let fresh = ImageStore::open(&w.join("store-b"))?;
    let pulled = tour_client(ClientConfig::default().concurrency)
        .pull(&target, &fresh)
        .await?;
    println!(
        "   fetched {} blobs ({} bytes), digest {}",
        pulled.fetched.len(),
        pulled.bytes,
        pulled.digest
    );

    step(
        6,
        "verify: same digests on both sides, every blob re-hashed",
    );
    if pulled.digest != built {
        bail!(
            "the pulled manifest {} is not the pushed one {built}",
            pulled.digest
        );
    }
    let back = fresh.resolve(&target.familiar(), None)?;
    for d in std::iter::once(&back.config_digest)
        .chain(back.manifest.layers().iter().map(|l| l.digest()))
    {
        let n = fresh.blobs.verify(d)?;
        println!("   {d}  {n} bytes  ok");
    }
    shell(&format!("curl -s http://{host}/v2/_catalog"));
    let catalog = reqwest::get(format!("http://{host}/v2/_catalog"))
        .await?
        .text()
        .await?;
    println!("   {catalog}");

    step(7, "stop the registry");
    running.stop().await?;
    println!("   stopped; the work directory {} is removed", w.display());
    println!("\nNext: `cargo run -p chapter06 -- serve --root /tmp/reg --token-realm auto --htpasswd FILE`");
    println!("and watch the token flow with `pull -v`; the README has exercises.");
    Ok(())
}

fn print_tree(root: &Path) {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                files.push(chapter06::client::shorten_digests(
                    &rel.display().to_string().replace("sha256/", "sha256:"),
                ));
            }
        }
    }
    files.sort();
    println!("   the registry's files:");
    for f in files {
        println!("     {f}");
    }
}
