//! The command line, as runc spells it (containerd and Docker call it so).

use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An OCI runtime built from the container-internals chapters. It runs
/// containers from OCI bundles (a config.json and a root filesystem), with
/// the command line of runc: `mini-runc run ID` in a bundle directory, or
/// `create` then `start`, `state`, `kill`, `delete`.
#[derive(Parser, Debug)]
#[command(name = "mini-runc", version)]
pub struct Cli {
    /// Where container state is kept.
    #[arg(long, global = true, default_value = "/run/mini-runc")]
    pub root: PathBuf,
    /// Append errors (and, with --debug, progress) to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// `text` or `json` lines in --log.
    #[arg(long = "log-format", global = true)]
    pub log_format: Option<String>,
    /// More output.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility with runc; cgroups are always managed through cgroupfs.
    #[arg(long = "systemd-cgroup", global = true, hide = true)]
    pub systemd_cgroup: bool,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by `create` and `run`.
#[derive(Args, Debug, Clone)]
pub struct CreateOpts {
    /// The bundle directory (config.json and rootfs).
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// A unix socket that receives the master end of the container's terminal.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Write the container's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Pass this many descriptors after stdio (3, 4, …) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for compatibility with runc.
    #[arg(long = "no-new-keyring", hide = true)]
    pub no_new_keyring: bool,
}

/// The verbs.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container: everything is ready, the program waits for `start`.
    Create {
        #[command(flatten)]
        opts: CreateOpts,
        /// Container id.
        id: String,
    },
    /// Start the program of a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print the container's state as JSON.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal (default SIGTERM) to the container's init, or to all its processes.
    Kill {
        /// Signal every process in the container.
        #[arg(long, short)]
        all: bool,
        /// Container id.
        id: String,
        /// Signal name or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a stopped (or, with --force, any) container.
    Delete {
        /// Kill it first if it runs.
        #[arg(long, short)]
        force: bool,
        /// Container id.
        id: String,
    },
    /// Create and start a container, wait for it, and delete it.
    Run {
        #[command(flatten)]
        opts: CreateOpts,
        /// Return after starting it.
        #[arg(long, short)]
        detach: bool,
        /// Keep the container's state after it exited.
        #[arg(long = "keep")]
        keep: bool,
        /// Container id.
        id: String,
    },
    /// Run a new process inside a running container.
    Exec {
        /// A JSON file with an OCI process (instead of the arguments).
        #[arg(long, short)]
        process: Option<PathBuf>,
        /// Allocate a terminal (needs --console-socket).
        #[arg(long, short)]
        tty: bool,
        /// A unix socket that receives the terminal's master end.
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        /// Working directory.
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Environment variables (KEY=value).
        #[arg(long, short)]
        env: Vec<String>,
        /// uid[:gid].
        #[arg(long, short)]
        user: Option<String>,
        /// Extra capabilities.
        #[arg(long)]
        cap: Vec<String>,
        /// Set no_new_privs.
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        /// Do not wait for the process.
        #[arg(long, short)]
        detach: bool,
        /// Write the process's pid to this file.
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        /// Pass this many descriptors after stdio.
        #[arg(long = "preserve-fds", default_value_t = 0)]
        preserve_fds: u32,
        /// Container id.
        id: String,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true)]
        command: Vec<String>,
    },
    /// List the processes of a container.
    Ps {
        /// `table` or `json` (a JSON array of pids, as containerd reads it).
        #[arg(long, short, default_value = "table")]
        format: String,
        /// Container id.
        id: String,
    },
    /// Freeze all processes of a container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// Container id.
        id: String,
    },
    /// Change the cgroup limits of a running or paused container.
    Update(crate::commands::update::UpdateArgs),
    /// Refused: checkpointing needs CRIU, which mini-runc does not implement.
    Checkpoint {
        /// runc's options and the container id (read, then refused).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Refused: restoring needs CRIU, which mini-runc does not implement.
    Restore {
        /// runc's options and the container id (read, then refused).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// List containers.
    List {
        /// `table` or `json`.
        #[arg(long, short, default_value = "table")]
        format: String,
        /// Only ids.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write a starter config.json into the bundle directory.
    Spec {
        /// The bundle directory.
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
        /// A spec for running without root (user namespace mapping the caller).
        #[arg(long)]
        rootless: bool,
    },
    /// Print what this runtime supports, as JSON.
    Features,
}

/// Appends an error line to the --log file, in runc's JSON shape when asked.
pub fn log_error(path: &Path, json: bool, msg: &str) {
    let line = if json {
        serde_json::json!({"level": "error", "msg": msg, "time": mini_runc::container::now_rfc3339()}).to_string()
    } else {
        format!("level=error msg={msg:?}")
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}
