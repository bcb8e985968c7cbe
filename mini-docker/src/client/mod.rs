//! # The `mini-docker` client
//!
//! Docker's command line over the Engine API: each command is one or a few
//! HTTP requests (see `REFERENCE-NOTES.md` for what the docker CLI sends),
//! and prints what Docker prints. `containers`, `images` and `system` hold
//! the commands; [`format`] the tables and Go templates.

pub mod auth;
pub mod build;
pub mod certs;
pub mod containers;
pub mod cp;
pub mod dial;
pub mod format;
pub mod http;
pub mod images;
pub mod interactive;
pub mod netvol;
pub mod progress;
pub mod system;
pub mod tls;
pub mod tools;

use clap::{Parser, Subcommand};
use http::{Client, ClientError};

/// A container engine with Docker's architecture in miniature.
#[derive(Parser, Debug)]
#[command(name = "mini-docker", version, about)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path, tcp://HOST:PORT or ssh://USER@HOST); default $DOCKER_HOST or unix:///run/mini-docker.sock.
    #[arg(short = 'H', long = "host", global = true)]
    pub host: Option<String>,
    /// Location of the client config files (config.json); default $DOCKER_CONFIG or ~/.mini-docker.
    #[arg(long = "config", global = true)]
    pub config: Option<String>,
    /// Use TLS and verify the daemon's certificate against the CA (also $DOCKER_TLS_VERIFY).
    /// Like the docker CLI's, the TLS flags go before the command.
    #[arg(long = "tlsverify")]
    pub tlsverify: bool,
    /// Trust certs signed only by this CA; default $DOCKER_CERT_PATH/ca.pem or ~/.docker/ca.pem.
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<std::path::PathBuf>,
    /// Path to TLS certificate file; default cert.pem beside the CA.
    #[arg(long = "tlscert")]
    pub tlscert: Option<std::path::PathBuf>,
    /// Path to TLS key file; default key.pem beside the CA.
    #[arg(long = "tlskey")]
    pub tlskey: Option<std::path::PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show the client and daemon versions.
    Version,
    /// Display system-wide information.
    Info,
    /// Create and run a new container from an image.
    Run(containers::RunArgs),
    /// Create a new container.
    Create(containers::RunArgs),
    /// Start one or more stopped containers.
    Start {
        /// Attach STDOUT/STDERR and forward signals.
        #[arg(short, long)]
        attach: bool,
        /// Attach the container's STDIN.
        #[arg(short, long)]
        interactive: bool,
        /// Override the key sequence for detaching a container.
        #[arg(long = "detach-keys")]
        detach_keys: Option<String>,
        /// Print every kernel step of the start (with the equivalent shell
        /// commands) before starting.
        #[arg(long)]
        explain: bool,
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Attach local standard input, output, and error streams to a running container.
    Attach {
        /// Do not attach STDIN.
        #[arg(long = "no-stdin")]
        no_stdin: bool,
        /// Override the key sequence for detaching a container.
        #[arg(long = "detach-keys")]
        detach_keys: Option<String>,
        /// Proxy all received signals to the process.
        #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        sig_proxy: bool,
        /// Container.
        container: String,
    },
    /// Execute a command in a running container.
    Exec(interactive::ExecArgs),

    /// Stop one or more running containers.
    Stop {
        /// Seconds to wait before killing it.
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: i64,
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Restart one or more containers.
    Restart {
        /// Seconds to wait before killing it.
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: i64,
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Rename a container.
    Rename {
        /// Container.
        container: String,
        /// New name.
        new_name: String,
    },
    /// Display the running processes of a container.
    Top {
        /// Container.
        container: String,
        /// Options for ps (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Manage the engine.
    System {
        /// The command.
        #[command(subcommand)]
        cmd: SystemCmd,
    },
    /// Manage containers.
    Container {
        /// The command.
        #[command(subcommand)]
        cmd: ContainerCmd,
    },
    /// Kill one or more running containers.
    Kill {
        /// Signal to send.
        #[arg(short = 's', long = "signal", default_value = "KILL")]
        signal: String,
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove one or more containers.
    Rm {
        /// Force the removal of a running container (uses SIGKILL).
        #[arg(short, long)]
        force: bool,
        /// Remove the anonymous volumes associated with the container.
        #[arg(short, long)]
        volumes: bool,
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers.
    Ps(containers::PsArgs),
    /// Fetch the logs of a container.
    Logs {
        /// Number of lines to show from the end of the logs ("all" for all).
        #[arg(long = "tail", short = 'n', default_value = "all")]
        tail: String,
        /// Show timestamps.
        #[arg(short = 't', long)]
        timestamps: bool,
        /// Follow log output.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Show logs since a timestamp (e.g. 2026-11-22T12:00:00Z) or relative (e.g. 42m).
        #[arg(long)]
        since: Option<String>,
        /// Show logs before a timestamp or relative time.
        #[arg(long)]
        until: Option<String>,
        /// Container.
        container: String,
    },
    /// Download an image from a registry.
    Pull {
        /// NAME[:TAG|@DIGEST].
        name: String,
    },
    /// Log in to a registry.
    Login(auth::LoginArgs),
    /// Log out from a registry.
    Logout {
        /// The registry (default: Docker Hub).
        server: Option<String>,
    },
    /// Search a registry's catalog for images.
    Search(auth::SearchArgs),
    /// Upload an image to a registry.
    Push {
        /// NAME[:TAG].
        name: String,
    },
    /// List port mappings or a specific mapping for the container.
    Port {
        /// Container.
        container: String,
        /// PRIVATE_PORT[/PROTO].
        private: Option<String>,
    },
    /// Block until one or more containers stop, then print their exit codes.
    Wait {
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Return low-level information on containers or images.
    Inspect {
        /// Format the output using the given Go template.
        #[arg(short, long)]
        format: Option<String>,
        /// Names or ids.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List images.
    Images(images::ImagesArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import {
        /// Commit message.
        #[arg(short, long)]
        message: Option<String>,
        /// File, or - for stdin.
        file: String,
        /// REPOSITORY[:TAG].
        reference: Option<String>,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag {
        /// Source.
        source: String,
        /// Target.
        target: String,
    },
    /// Remove one or more images.
    Rmi {
        /// Force removal of the image.
        #[arg(short, long)]
        force: bool,
        /// Images.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Save one or more images to a tar archive.
    Save {
        /// Write to a file, instead of STDOUT.
        #[arg(short, long)]
        output: Option<String>,
        /// Images.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff {
        /// Container.
        container: String,
    },
    /// Display a live stream of container(s) resource usage statistics.
    Stats(tools::StatsArgs),
    /// Check that this host has what the engine needs (cgroups, overlayfs,
    /// user namespaces, nftables, busybox-static, socket and data root
    /// permissions, the runtime): one line per check, with what to fix.
    Doctor,
    /// Load an image from a tar archive or STDIN.
    Load {
        /// Read from tar archive file, instead of STDIN.
        #[arg(short, long)]
        input: Option<String>,
    },
    /// Manage networks.
    Network {
        /// The command.
        #[command(subcommand)]
        cmd: netvol::NetworkCmd,
    },
    /// Manage volumes.
    Volume {
        /// The command.
        #[command(subcommand)]
        cmd: netvol::VolumeCmd,
    },
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Create a new image from a container's changes.
    Commit {
        /// Commit message.
        #[arg(short, long)]
        message: Option<String>,
        /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
        #[arg(short, long)]
        author: Option<String>,
        /// Apply Dockerfile instruction to the created image (repeatable).
        #[arg(short, long = "change")]
        change: Vec<String>,
        /// Container.
        container: String,
        /// REPOSITORY[:TAG].
        reference: Option<String>,
    },
    /// Show the history of an image.
    History(build::HistoryArgs),
}

/// `system …`.
#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show docker disk usage.
    Df,
    /// Remove unused data (stopped containers, unused networks; -a: unused images).
    Prune {
        /// Remove all unused images, not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// Make a CA and the daemon's and a client's certificates for
    /// `--tlsverify`, with Docker's file names (ca.pem, server-cert.pem,
    /// server-key.pem, cert.pem, key.pem).
    Certs(certs::CertsArgs),
    /// Proxy stdin and stdout to the daemon (what `-H ssh://` runs on the
    /// far side).
    DialStdio,
}

/// `container …`.
#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// Remove all stopped containers.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

/// What a failed command exits with, and what it prints.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// One line.
    pub message: String,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure {
            code: 1,
            message: e.to_string(),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure {
            code: 1,
            message: e.to_string(),
        }
    }
}

/// Runs a parsed command line; `Ok(code)` is the exit code.
pub fn run(cli: Cli) -> Result<u8, Failure> {
    if let Cmd::System {
        cmd: SystemCmd::Certs(a),
    } = &cli.cmd
    {
        return certs::certs(a);
    }
    let tls = tls::TlsFlags {
        verify: cli.tlsverify,
        cacert: cli.tlscacert,
        cert: cli.tlscert,
        key: cli.tlskey,
    }
    .config()
    .map_err(|message| Failure { code: 1, message })?;
    let c = Client::new(cli.host).with_tls(tls);
    let cfg = cli.config.as_deref();
    match cli.cmd {
        Cmd::Version => images::version(&c),
        Cmd::Info => images::info(&c),
        Cmd::Run(a) => containers::run(&c, a, true),
        Cmd::Create(a) => containers::run(&c, a, false),
        Cmd::Start {
            attach,
            interactive,
            detach_keys,
            explain,
            containers,
        } => containers::start(
            &c,
            &containers,
            attach,
            interactive,
            detach_keys.as_deref(),
            explain,
        ),
        Cmd::Attach {
            no_stdin,
            detach_keys,
            sig_proxy,
            container,
        } => interactive::attach_cmd(&c, &container, no_stdin, detach_keys.as_deref(), sig_proxy),
        Cmd::Exec(a) => interactive::exec_cmd(&c, a),
        Cmd::Stop { time, containers } => containers::each(&c, &containers, |c, id| {
            c.call(
                "POST",
                &format!("/containers/{}/stop?t={time}", http::enc(id)),
                http::Body::Empty,
            )
            .map(|_| ())
        }),
        Cmd::Restart { time, containers } => containers::each(&c, &containers, |c, id| {
            c.call(
                "POST",
                &format!("/containers/{}/restart?t={time}", http::enc(id)),
                http::Body::Empty,
            )
            .map(|_| ())
        }),
        Cmd::Rename {
            container,
            new_name,
        } => system::rename(&c, &container, &new_name),
        Cmd::Top { container, ps_args } => system::top(&c, &container, &ps_args),
        Cmd::System {
            cmd: SystemCmd::Prune { all, force },
        } => system::system_prune(&c, all, force),
        Cmd::System { cmd: SystemCmd::Df } => system::system_df(&c),
        Cmd::System {
            cmd: SystemCmd::Certs(a),
        } => certs::certs(&a),
        Cmd::System {
            cmd: SystemCmd::DialStdio,
        } => dial::dial_stdio(&c),
        Cmd::Container {
            cmd: ContainerCmd::Prune { force },
        } => system::container_prune(&c, force),
        Cmd::Kill { signal, containers } => containers::each(&c, &containers, |c, id| {
            c.call(
                "POST",
                &format!(
                    "/containers/{}/kill?signal={}",
                    http::enc(id),
                    http::enc(&signal)
                ),
                http::Body::Empty,
            )
            .map(|_| ())
        }),
        Cmd::Rm {
            force,
            volumes,
            containers,
        } => containers::each(&c, &containers, |c, id| {
            c.call(
                "DELETE",
                &format!(
                    "/containers/{}?force={}&v={}",
                    http::enc(id),
                    force as u8,
                    volumes as u8
                ),
                http::Body::Empty,
            )
            .map(|_| ())
        }),
        Cmd::Ps(a) => containers::ps(&c, a),
        Cmd::Logs {
            tail,
            timestamps,
            follow,
            since,
            until,
            container,
        } => containers::logs(
            &c,
            &container,
            &tail,
            timestamps,
            follow,
            since.as_deref(),
            until.as_deref(),
        ),
        Cmd::Pull { name } => images::pull(&c, &name, auth::registry_auth(&name, cfg).as_deref()),
        Cmd::Push { name } => images::push(&c, &name, auth::registry_auth(&name, cfg).as_deref()),
        Cmd::Login(a) => auth::login(&c, a, cfg),
        Cmd::Logout { server } => auth::logout(server.as_deref(), cfg),
        Cmd::Search(a) => auth::search(&c, a, cfg),
        Cmd::Port { container, private } => containers::port(&c, &container, private.as_deref()),
        Cmd::Wait { containers } => containers::wait(&c, &containers),
        Cmd::Inspect { format, names } => containers::inspect(&c, format.as_deref(), &names),
        Cmd::Images(a) => images::images(&c, a),
        Cmd::Import {
            message,
            file,
            reference,
        } => images::import(&c, &file, reference.as_deref(), message.as_deref()),
        Cmd::Tag { source, target } => images::tag(&c, &source, &target),
        Cmd::Rmi { force, images } => images::rmi(&c, force, &images),
        Cmd::Save { output, images } => images::save(&c, output.as_deref(), &images),
        Cmd::Load { input } => images::load(&c, input.as_deref()),
        Cmd::Cp(a) => cp::cp(&c, a),
        Cmd::Diff { container } => tools::diff(&c, &container),
        Cmd::Stats(a) => tools::stats(&c, a),
        Cmd::Doctor => tools::doctor(&c),
        Cmd::Network { cmd } => netvol::network(&c, cmd),
        Cmd::Volume { cmd } => netvol::volume(&c, cmd),
        Cmd::Build(a) => build::build(&c, a),
        Cmd::Commit {
            message,
            author,
            change,
            container,
            reference,
        } => build::commit(
            &c,
            &container,
            reference.as_deref(),
            message.as_deref(),
            &change,
            author.as_deref(),
        ),
        Cmd::History(a) => build::history(&c, a),
    }
}
