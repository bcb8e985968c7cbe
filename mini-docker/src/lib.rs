//! # The `mini-docker` client
//!
//! Docker's command line over the Engine API: each command is one or a few
//! HTTP requests (see `REFERENCE-NOTES.md` for what the docker CLI sends),
//! and prints what Docker prints. `containers`, `images` and `system` hold
//! the commands; [`format`] the tables and Go templates.

pub mod auth;
pub mod build;
pub mod certs;
pub mod compose;
pub mod containers;
pub mod context;
pub mod cp;
pub mod dial;
pub mod events;
pub mod format;
pub mod http;
pub mod images;
pub mod interactive;
pub mod manage;
pub mod netvol;
pub mod progress;
pub mod swarm;
pub mod system;
pub mod tls;
pub mod tools;

/// The API crate's units, times and ids, as the client's tables use them.
pub(crate) mod util {
    pub use mini_docker_api::ids::new_id;
    pub use mini_docker_api::time::{now_nanos, parse_rfc3339, rfc3339_nanos};
    pub use mini_docker_api::units::{human_duration, human_size};
}

use clap::{Parser, Subcommand};
use http::{Client, ClientError};

/// A container engine with Docker's architecture in miniature.
#[derive(Parser, Debug)]
#[command(name = "mini-docker", version, about)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path, tcp://HOST:PORT or ssh://USER@HOST); default $DOCKER_HOST or unix:///run/mini-docker.sock.
    #[arg(short = 'H', long = "host", global = true)]
    pub host: Option<String>,
    /// Name of the context to use (overrides DOCKER_HOST, DOCKER_CONTEXT and `context use`).
    #[arg(short = 'c', long = "context")]
    pub context: Option<String>,
    /// Location of the client config files (config.json); default $DOCKER_CONFIG or ~/.mini-docker.
    #[arg(long = "config", global = true)]
    pub config: Option<String>,
    /// Use TLS, without checking who the daemon is (implied by --tlsverify).
    #[arg(long = "tls")]
    pub tls: bool,
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

/// The commands. Docker's management commands (`container …`, `image …`,
/// `system …`, `builder …`) are the same commands under a second name:
/// [`ContainerCmd`] and [`ImageCmd`] hold the same argument structs as the
/// top-level commands and turn into them ([`ContainerCmd::into_cmd`]), so
/// each command has one parser and one implementation.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show the client and daemon versions.
    Version(InfoArgs),
    /// Display system-wide information.
    Info(InfoArgs),
    /// Get real time events from the server.
    Events(events::EventsArgs),
    /// Create and run a new container from an image.
    Run(containers::RunArgs),
    /// Create a new container.
    Create(containers::RunArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(AttachArgs),
    /// Execute a command in a running container.
    Exec(interactive::ExecArgs),
    /// Stop one or more running containers.
    Stop(TimeArgs),
    /// Restart one or more containers.
    Restart(TimeArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// Pause all processes within one or more containers.
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers.
    Unpause(ContainersArgs),
    /// Update configuration of one or more containers.
    Update(manage::UpdateArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
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
    /// Manage images.
    Image {
        /// The command.
        #[command(subcommand)]
        cmd: ImageCmd,
    },
    /// Manage contexts (named daemon endpoints, in the docker CLI's store).
    Context {
        /// The command.
        #[command(subcommand)]
        cmd: context::ContextCmd,
    },
    /// Manage builds.
    Builder {
        /// The command.
        #[command(subcommand)]
        cmd: BuilderCmd,
    },
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// List containers.
    Ps(containers::PsArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Download an image from a registry.
    Pull(NameArgs),
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
    Push(NameArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(ContainersArgs),
    /// Return low-level information on containers or images.
    Inspect(InspectArgs),
    /// List images.
    Images(images::ImagesArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Remove one or more images.
    Rmi(RmiArgs),
    /// Save one or more images to a tar archive.
    Save(SaveArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(ContainerArg),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(tools::StatsArgs),
    /// Check that this host has what the engine needs (cgroups, overlayfs,
    /// user namespaces, nftables, busybox-static, socket and data root
    /// permissions, the runtime): one line per check, with what to fix.
    Doctor,
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
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
    /// Manage a swarm (on a dockerd that is a swarm manager).
    Swarm {
        /// The command.
        #[command(subcommand)]
        cmd: swarm::SwarmCmd,
    },
    /// Manage swarm nodes.
    Node {
        /// The command.
        #[command(subcommand)]
        cmd: swarm::NodeCmd,
    },
    /// Manage swarm services.
    Service {
        /// The command.
        #[command(subcommand)]
        cmd: swarm::ServiceCmd,
    },
    /// Manage swarm stacks (a compose file's services).
    Stack {
        /// The command.
        #[command(subcommand)]
        cmd: swarm::StackCmd,
    },
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Define and run multi-container applications (a Compose client).
    Compose(compose::ComposeArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Show the history of an image.
    History(build::HistoryArgs),
}

/// Flags of `info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Format the output using the given Go template.
    #[arg(short, long)]
    pub format: Option<String>,
}

/// Flags of `start`.
#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach the container's STDIN.
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Print every kernel step of the start (with the equivalent shell
    /// commands) before starting.
    #[arg(long)]
    pub explain: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Flags of `attach`.
#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Container.
    pub container: String,
}

/// Flags of `stop` and `restart`.
#[derive(clap::Args, Debug)]
pub struct TimeArgs {
    /// Seconds to wait before killing it.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: i64,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// One or more containers (`wait`, `pause`, `unpause`).
#[derive(clap::Args, Debug)]
pub struct ContainersArgs {
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// One container (`diff`).
#[derive(clap::Args, Debug)]
pub struct ContainerArg {
    /// Container.
    pub container: String,
}

/// Arguments of `rename`.
#[derive(clap::Args, Debug)]
pub struct RenameArgs {
    /// Container.
    pub container: String,
    /// New name.
    pub new_name: String,
}

/// Arguments of `top`.
#[derive(clap::Args, Debug)]
pub struct TopArgs {
    /// Container.
    pub container: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Flags of `export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<String>,
    /// Container.
    pub container: String,
}

/// Flags of `kill`.
#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Flags of `rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// Remove the anonymous volumes associated with the container.
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Flags of `logs`.
#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Number of lines to show from the end of the logs ("all" for all).
    #[arg(long = "tail", short = 'n', default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since a timestamp (e.g. 2026-11-22T12:00:00Z) or relative (e.g. 42m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time.
    #[arg(long)]
    pub until: Option<String>,
    /// Container.
    pub container: String,
}

/// An image name (`pull`, `push`).
#[derive(clap::Args, Debug)]
pub struct NameArgs {
    /// NAME[:TAG|@DIGEST].
    pub name: String,
}

/// Arguments of `port`.
#[derive(clap::Args, Debug)]
pub struct PortArgs {
    /// Container.
    pub container: String,
    /// PRIVATE_PORT[/PROTO].
    pub private: Option<String>,
}

/// Flags of `inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format the output using the given Go template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Return JSON for specified type (container, image, network, volume)
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Names or ids.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Flags of `import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// File, or - for stdin.
    pub file: String,
    /// REPOSITORY[:TAG].
    pub reference: Option<String>,
}

/// Arguments of `tag`.
#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// Source.
    pub source: String,
    /// Target.
    pub target: String,
}

/// Flags of `rmi`.
#[derive(clap::Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image.
    #[arg(short, long)]
    pub force: bool,
    /// Images.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Flags of `save`.
#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<String>,
    /// Images.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Flags of `load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short, long)]
    pub input: Option<String>,
}

/// Flags of `commit`.
#[derive(clap::Args, Debug)]
pub struct CommitArgs {
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image (repeatable).
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// Container.
    pub container: String,
    /// REPOSITORY[:TAG].
    pub reference: Option<String>,
}

/// Flags of `container prune`.
#[derive(clap::Args, Debug)]
pub struct ForceArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// Flags of `system prune`, `image prune` and `builder prune`.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// `system …`.
#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show docker disk usage.
    Df,
    /// Get real time events from the server.
    Events(events::EventsArgs),
    /// Display system-wide information.
    Info(InfoArgs),
    /// Remove unused data (stopped containers, unused networks; -a: unused images).
    Prune(PruneArgs),
    /// Make a CA and the daemon's and a client's certificates for
    /// `--tlsverify`, with Docker's file names (ca.pem, server-cert.pem,
    /// server-key.pem, cert.pem, key.pem).
    Certs(certs::CertsArgs),
    /// Proxy stdin and stdout to the daemon (what `-H ssh://` runs on the
    /// far side).
    DialStdio,
}

/// `container …`: the container commands under Docker's management names.
#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// List containers.
    #[command(visible_aliases = ["ps", "list"])]
    Ls(containers::PsArgs),
    /// Create and run a new container from an image.
    Run(containers::RunArgs),
    /// Create a new container.
    Create(containers::RunArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Stop one or more running containers.
    Stop(TimeArgs),
    /// Restart one or more containers.
    Restart(TimeArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Remove one or more containers.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more containers.
    Inspect(InspectArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Execute a command in a running container.
    Exec(interactive::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(AttachArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(tools::StatsArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(ContainerArg),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(ContainersArgs),
    /// Pause all processes within one or more containers.
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers.
    Unpause(ContainersArgs),
    /// Update configuration of one or more containers.
    Update(manage::UpdateArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Remove all stopped containers.
    Prune(ForceArgs),
}

impl ContainerCmd {
    /// The top-level command this one is another name for (`prune` has
    /// none and stays the `Err`).
    pub fn into_cmd(self) -> Result<Cmd, ForceArgs> {
        Ok(match self {
            ContainerCmd::Ls(a) => Cmd::Ps(a),
            ContainerCmd::Run(a) => Cmd::Run(a),
            ContainerCmd::Create(a) => Cmd::Create(a),
            ContainerCmd::Start(a) => Cmd::Start(a),
            ContainerCmd::Stop(a) => Cmd::Stop(a),
            ContainerCmd::Restart(a) => Cmd::Restart(a),
            ContainerCmd::Kill(a) => Cmd::Kill(a),
            ContainerCmd::Rm(a) => Cmd::Rm(a),
            ContainerCmd::Inspect(a) => Cmd::Inspect(InspectArgs {
                kind: Some("container".into()),
                ..a
            }),
            ContainerCmd::Logs(a) => Cmd::Logs(a),
            ContainerCmd::Exec(a) => Cmd::Exec(a),
            ContainerCmd::Attach(a) => Cmd::Attach(a),
            ContainerCmd::Port(a) => Cmd::Port(a),
            ContainerCmd::Top(a) => Cmd::Top(a),
            ContainerCmd::Stats(a) => Cmd::Stats(a),
            ContainerCmd::Cp(a) => Cmd::Cp(a),
            ContainerCmd::Diff(a) => Cmd::Diff(a),
            ContainerCmd::Commit(a) => Cmd::Commit(a),
            ContainerCmd::Rename(a) => Cmd::Rename(a),
            ContainerCmd::Wait(a) => Cmd::Wait(a),
            ContainerCmd::Pause(a) => Cmd::Pause(a),
            ContainerCmd::Unpause(a) => Cmd::Unpause(a),
            ContainerCmd::Update(a) => Cmd::Update(a),
            ContainerCmd::Export(a) => Cmd::Export(a),
            ContainerCmd::Prune(a) => return Err(a),
        })
    }
}

/// `image …`: the image commands under Docker's management names.
#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// List images.
    #[command(visible_aliases = ["images", "list"])]
    Ls(images::ImagesArgs),
    /// Remove one or more images.
    #[command(visible_aliases = ["rmi", "remove"])]
    Rm(RmiArgs),
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Upload an image to a registry.
    Push(NameArgs),
    /// Download an image from a registry.
    Pull(NameArgs),
    /// Display detailed information on one or more images.
    Inspect(InspectArgs),
    /// Show the history of an image.
    History(build::HistoryArgs),
    /// Save one or more images to a tar archive.
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Remove unused images.
    Prune(PruneArgs),
}

impl ImageCmd {
    /// The top-level command this one is another name for (`prune` has
    /// none and stays the `Err`).
    pub fn into_cmd(self) -> Result<Cmd, PruneArgs> {
        Ok(match self {
            ImageCmd::Ls(a) => Cmd::Images(a),
            ImageCmd::Rm(a) => Cmd::Rmi(a),
            ImageCmd::Build(a) => Cmd::Build(a),
            ImageCmd::Tag(a) => Cmd::Tag(a),
            ImageCmd::Push(a) => Cmd::Push(a),
            ImageCmd::Pull(a) => Cmd::Pull(a),
            ImageCmd::Inspect(a) => Cmd::Inspect(InspectArgs {
                kind: Some("image".into()),
                ..a
            }),
            ImageCmd::History(a) => Cmd::History(a),
            ImageCmd::Save(a) => Cmd::Save(a),
            ImageCmd::Load(a) => Cmd::Load(a),
            ImageCmd::Import(a) => Cmd::Import(a),
            ImageCmd::Prune(a) => return Err(a),
        })
    }
}

/// `builder …`.
#[derive(Subcommand, Debug)]
pub enum BuilderCmd {
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Remove build cache.
    Prune(PruneArgs),
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
    let globals = context::Globals {
        host: cli.host,
        context: cli.context,
        config: cli.config.clone(),
        tls: tls::TlsFlags {
            tls: cli.tls,
            verify: cli.tlsverify,
            cacert: cli.tlscacert,
            cert: cli.tlscert,
            key: cli.tlskey,
        },
    };
    if let Cmd::Context { cmd } = cli.cmd {
        return context::run(cmd, &globals);
    }
    // The endpoint: `--context`, `-H`, DOCKER_HOST, DOCKER_CONTEXT, `context use`.
    let endpoint = context::endpoint(&globals)?;
    let c = Client::new(endpoint.host).with_tls(endpoint.tls);
    dispatch(&c, cli.config.as_deref(), cli.cmd)
}

/// Runs one command (a management command's alias runs its top-level one).
fn dispatch(c: &Client, cfg: Option<&str>, cmd: Cmd) -> Result<u8, Failure> {
    let post_each = |containers: &[String], path: &dyn Fn(&str) -> String| {
        containers::each(c, containers, |c, id| {
            c.call("POST", &path(&http::enc(id)), http::Body::Empty)
                .map(|_| ())
        })
    };
    match cmd {
        Cmd::Version(a) => match a.format.as_deref() {
            Some(t) => images::version_format(c, t),
            None => images::version(c),
        },
        Cmd::Info(a)
        | Cmd::System {
            cmd: SystemCmd::Info(a),
        } => images::info(c, a.format.as_deref()),
        Cmd::Events(a)
        | Cmd::System {
            cmd: SystemCmd::Events(a),
        } => events::events(c, &a),
        Cmd::Run(a) => containers::run(c, a, true),
        Cmd::Create(a) => containers::run(c, a, false),
        Cmd::Start(a) => containers::start(
            c,
            &a.containers,
            a.attach,
            a.interactive,
            a.detach_keys.as_deref(),
            a.explain,
        ),
        Cmd::Attach(a) => interactive::attach_cmd(
            c,
            &a.container,
            a.no_stdin,
            a.detach_keys.as_deref(),
            a.sig_proxy,
        ),
        Cmd::Exec(a) => interactive::exec_cmd(c, a),
        Cmd::Stop(a) => post_each(&a.containers, &|id| {
            format!("/containers/{id}/stop?t={}", a.time)
        }),
        Cmd::Restart(a) => post_each(&a.containers, &|id| {
            format!("/containers/{id}/restart?t={}", a.time)
        }),
        Cmd::Pause(a) => post_each(&a.containers, &|id| format!("/containers/{id}/pause")),
        Cmd::Unpause(a) => post_each(&a.containers, &|id| format!("/containers/{id}/unpause")),
        Cmd::Update(a) => manage::update(c, a),
        Cmd::Export(a) => manage::export(c, &a.container, a.output.as_deref()),
        Cmd::Rename(a) => system::rename(c, &a.container, &a.new_name),
        Cmd::Top(a) => system::top(c, &a.container, &a.ps_args),
        Cmd::System {
            cmd: SystemCmd::Prune(a),
        } => system::system_prune(c, a.all, a.force),
        Cmd::System { cmd: SystemCmd::Df } => system::system_df(c),
        Cmd::System {
            cmd: SystemCmd::Certs(a),
        } => certs::certs(&a),
        Cmd::System {
            cmd: SystemCmd::DialStdio,
        } => dial::dial_stdio(c),
        Cmd::Container { cmd } => match cmd.into_cmd() {
            Ok(cmd) => dispatch(c, cfg, cmd),
            Err(prune) => system::container_prune(c, prune.force),
        },
        Cmd::Image { cmd } => match cmd.into_cmd() {
            Ok(cmd) => dispatch(c, cfg, cmd),
            Err(prune) => manage::image_prune(c, prune.all, prune.force),
        },
        Cmd::Context { .. } => unreachable!("run() handles `context` before it dials"),
        Cmd::Builder {
            cmd: BuilderCmd::Build(a),
        } => build::build(c, a),
        Cmd::Builder {
            cmd: BuilderCmd::Prune(a),
        } => manage::builder_prune(c, a.all, a.force),
        Cmd::Kill(a) => post_each(&a.containers, &|id| {
            format!("/containers/{id}/kill?signal={}", http::enc(&a.signal))
        }),
        Cmd::Rm(a) => containers::each(c, &a.containers, |c, id| {
            c.call(
                "DELETE",
                &format!(
                    "/containers/{}?force={}&v={}",
                    http::enc(id),
                    a.force as u8,
                    a.volumes as u8
                ),
                http::Body::Empty,
            )
            .map(|_| ())
        }),
        Cmd::Ps(a) => containers::ps(c, a),
        Cmd::Logs(a) => containers::logs(
            c,
            &a.container,
            &a.tail,
            a.timestamps,
            a.follow,
            a.since.as_deref(),
            a.until.as_deref(),
        ),
        Cmd::Pull(a) => images::pull(c, &a.name, auth::registry_auth(&a.name, cfg).as_deref()),
        Cmd::Push(a) => images::push(c, &a.name, auth::registry_auth(&a.name, cfg).as_deref()),
        Cmd::Login(a) => auth::login(c, a, cfg),
        Cmd::Logout { server } => auth::logout(server.as_deref(), cfg),
        Cmd::Search(a) => auth::search(c, a, cfg),
        Cmd::Port(a) => containers::port(c, &a.container, a.private.as_deref()),
        Cmd::Wait(a) => containers::wait(c, &a.containers),
        Cmd::Inspect(a) => containers::inspect(c, a.format.as_deref(), a.kind.as_deref(), &a.names),
        Cmd::Images(a) => images::images(c, a),
        Cmd::Import(a) => images::import(c, &a.file, a.reference.as_deref(), a.message.as_deref()),
        Cmd::Tag(a) => images::tag(c, &a.source, &a.target),
        Cmd::Rmi(a) => images::rmi(c, a.force, &a.images),
        Cmd::Save(a) => images::save(c, a.output.as_deref(), &a.images),
        Cmd::Load(a) => images::load(c, a.input.as_deref()),
        Cmd::Cp(a) => cp::cp(c, a),
        Cmd::Diff(a) => tools::diff(c, &a.container),
        Cmd::Stats(a) => tools::stats(c, a),
        Cmd::Doctor => tools::doctor(c),
        Cmd::Network { cmd } => netvol::network(c, cmd),
        Cmd::Swarm { cmd } => swarm::swarm(c, cmd),
        Cmd::Node { cmd } => swarm::node(c, cmd),
        Cmd::Service { cmd } => swarm::service(c, cmd, cfg),
        Cmd::Stack { cmd } => swarm::stack(c, cmd),
        Cmd::Volume { cmd } => netvol::volume(c, cmd),
        Cmd::Build(a) => build::build(c, a),
        Cmd::Compose(a) => compose::compose(c, a),
        Cmd::Commit(a) => build::commit(
            c,
            &a.container,
            a.reference.as_deref(),
            a.message.as_deref(),
            &a.change,
            a.author.as_deref(),
        ),
        Cmd::History(a) => build::history(c, a),
    }
}
