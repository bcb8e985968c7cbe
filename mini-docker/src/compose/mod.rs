//! # `mini-docker compose`: a client of the Engine API, like Docker's compose
//!
//! Compose is not part of the engine. It reads a project (one or more YAML
//! files), works out what should exist, asks the engine what does exist,
//! and sends the difference as ordinary API requests:
//!
//! ```text
//! compose.yaml ─load─▶ model ─plan─▶ networks, volumes, containers (+labels)
//!                                      │ diff with GET /containers/json?filters=label…
//!                                      ▼
//!                      POST /networks/create, /volumes/create,
//!                      /containers/create, /containers/{id}/start …
//! ```
//!
//! What makes a re-run find its containers is only their labels:
//! `com.docker.compose.project`, `.service`, `.container-number`, `.oneoff`,
//! and `.config-hash`, a digest of the service's resolved configuration. A
//! second `up` recreates exactly the services whose hash changed. The names
//! (`<project>-<service>-<n>`, `<project>_default`, `<project>_<volume>`) and
//! the labels are Docker Compose v2's, so the real `docker ps`,
//! `docker compose` and docker-compose 1.29 see the same project.
//!
//! [`load`] reads the files, [`model`] is the typed Compose Specification,
//! [`plan`] the desired state and its diff, [`apply`] the commands.

pub mod apply;
pub mod interp;
pub mod load;
pub mod model;
pub mod plan;
pub mod yaml;

use super::http::Client;
use super::Failure;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `compose [OPTIONS] COMMAND`.
#[derive(Args, Debug)]
pub struct ComposeArgs {
    /// Compose configuration files (repeatable; later files override earlier ones).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name (default: the folder of the first file, or `name:`).
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// An alternate environment file (default: `.env` beside the first file).
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Activate a profile (repeatable; also COMPOSE_PROFILES).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// The command.
    #[command(subcommand)]
    pub cmd: ComposeCmd,
}

/// The compose commands.
#[derive(Subcommand, Debug)]
pub enum ComposeCmd {
    /// Create and start containers.
    Up(UpArgs),
    /// Stop and remove containers and networks (and volumes with -v).
    Down(DownArgs),
    /// List containers.
    Ps(PsArgs),
    /// View output from containers.
    Logs(LogsArgs),
    /// Parse, resolve and print the compose file (YAML).
    Config(ConfigArgs),
    /// Start services.
    Start(ServicesArgs),
    /// Stop services.
    Stop(TimeoutArgs),
    /// Restart services.
    Restart(TimeoutArgs),
    /// Force stop service containers.
    Kill(KillArgs),
    /// Remove stopped service containers.
    Rm(RmArgs),
    /// Execute a command in a running service container.
    Exec(ExecArgs),
    /// Run a one-off command on a service.
    Run(RunArgs),
    /// List images used by the created containers.
    Images(ServicesArgs),
    /// Print the public port for a port binding.
    Port(PortArgs),
    /// Receive real time events from containers.
    Events(EventsArgs),
    /// Build or rebuild services (those with `build:`).
    Build(ServicesArgs),
    /// Pull service images (those with `image:` and no `build:`).
    Pull(ServicesArgs),
    /// Push service images (those with `build:` and `image:`).
    Push(ServicesArgs),
    /// Display the running processes.
    Top(ServicesArgs),
    /// Show the compose version.
    Version,
}

/// Flags of `events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Output events as a stream of JSON objects.
    #[arg(long)]
    pub json: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Print the plan (what is created, recreated, kept) and do nothing.
    #[arg(long)]
    pub explain: bool,
    /// Build images before starting containers.
    #[arg(long)]
    pub build: bool,
    /// Scale SERVICE to NUM instances (SERVICE=NUM; overrides `scale` and `deploy.replicas`).
    #[arg(long = "scale")]
    pub scale: Vec<String>,
    /// Remove containers for services not defined in the compose file.
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Recreate containers even if their configuration has not changed.
    #[arg(long = "force-recreate")]
    pub force_recreate: bool,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `down`.
#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove named volumes declared in the `volumes` section and anonymous volumes.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
    /// Remove images used by services: "local" only those without a custom
    /// tag (no `image:`), "all" every service's image.
    #[arg(long, value_name = "TYPE", value_parser = ["local", "all"])]
    pub rmi: Option<String>,
}

/// Flags of `ps`.
#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all stopped containers too.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container.
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Produce monochrome output.
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Don't print prefix in logs.
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `config`.
#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,
    /// Only validate the configuration, don't print anything.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Service names.
#[derive(Args, Debug)]
pub struct ServicesArgs {
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `stop` and `restart`.
#[derive(Args, Debug)]
pub struct TimeoutArgs {
    /// Shutdown timeout in seconds (default: the service's stop_grace_period, or 10).
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `kill`.
#[derive(Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container.
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal (always so here).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop the containers, if required, before removing.
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Flags of `exec`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Disable pseudo-TTY allocation (always so here: use `mini-docker exec -it` for a terminal).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Run the command as this user.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// The service.
    pub service: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

/// Flags of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Run the container in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables (KEY=VALUE).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Don't start linked services.
    #[arg(long = "no-deps")]
    pub no_deps: bool,
    /// The service.
    pub service: String,
    /// The command (default: the service's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Flags of `port`.
#[derive(Args, Debug)]
pub struct PortArgs {
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// The service.
    pub service: String,
    /// The private port.
    pub private_port: u16,
}

fn bad(m: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: m.into(),
    }
}

/// Loads the project from the flags and the shell's environment.
pub fn project(a: &ComposeArgs) -> Result<load::Project, Failure> {
    let o = load::Options {
        files: a.files.clone(),
        project_name: a.project_name.clone(),
        env_files: a.env_files.clone(),
        profiles: a.profiles.clone(),
        cwd: std::env::current_dir()?,
        env: std::env::vars().collect(),
    };
    let p = load::load(&o).map_err(bad)?;
    for w in &p.warnings {
        eprintln!("WARN[0000] {w}");
    }
    Ok(p)
}

/// Runs `compose …`.
pub fn compose(c: &Client, a: ComposeArgs) -> Result<u8, Failure> {
    if let ComposeCmd::Version = a.cmd {
        println!("mini-docker compose version v{}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let p = project(&a)?;
    apply::run(c, &p, a.cmd)
}
