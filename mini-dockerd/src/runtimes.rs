//! # The OCI runtime behind a trait, and the daemon's registry of runtimes
//!
//! Docker never creates a container itself: dockerd asks containerd, whose
//! shim executes an OCI runtime binary (runc by default) with runc's
//! command line. That command line is the de-facto interface every OCI
//! runtime speaks (runc, crun, youki, mini-runc), so a daemon that only
//! *executes* it can use any of them. The daemon needs a few verbs itself,
//! outside the shim, on a container that already exists:
//!
//! | the daemon's call          | argv (after the binary and its `runtimeArgs`)          |
//! |----------------------------|--------------------------------------------------------|
//! | [`Runtime::kill`]          | `--root ROOT kill ID SIGNUM`                           |
//! | [`Runtime::pause`]         | `--root ROOT pause ID`                                 |
//! | [`Runtime::resume`]        | `--root ROOT resume ID`                                |
//! | [`Runtime::update`]        | `--root ROOT update --resources - ID` (LinuxResources JSON on stdin) |
//! | [`Runtime::delete_force`]  | `--root ROOT delete --force ID`                        |
//! | [`Runtime::state`]         | `--root ROOT state ID` (prints the OCI state JSON)     |
//!
//! `create`, `start` and `exec` belong to the shim, which stays the
//! container's parent; the daemon hands it the binary (`ShimArgs::runtime`).
//!
//! ## The registry
//!
//! As `dockerd`: a built-in runtime named `runc` (Docker's stock name,
//! reserved: `--add-runtime runc=…` is refused as dockerd refuses it), here
//! the `mini-runc` beside the daemon; `--add-runtime NAME=PATH`
//! (repeatable) and daemon.json `"runtimes": {NAME: {"path", "runtimeArgs"}}`
//! add others; `--default-runtime` / daemon.json `"default-runtime"`
//! choose the one a container gets when `HostConfig.Runtime` is empty.
//!
//! Each runtime keeps its state under its own root, as dockerd's
//! `runtime-<name>` directories: `<data-root>/runtime` for the built-in
//! (where every earlier daemon kept it) and `<data-root>/runtime-<NAME>`
//! for the others. Two runtimes never read each other's state.
//!
//! A container records the runtime it was created with, name *and* path
//! and root ([`OciRuntime`], persisted in its record), so a daemon
//! restarted with other flags still kills, pauses and removes it with the
//! binary that created it (live restore).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Docker's name for the stock runtime (reserved).
pub const BUILTIN: &str = "runc";

/// A container's status as the runtime reports it (the OCI state's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is running.
    Creating,
    /// Ready; the process waits for `start`.
    Created,
    /// The process runs.
    Running,
    /// Frozen.
    Paused,
    /// The process has exited.
    Stopped,
}

/// The part of the OCI state (`runtime state ID`) the daemon reads. runc,
/// crun and mini-runc all print these keys (and a few more of their own).
#[derive(Debug, Clone, Deserialize)]
pub struct State {
    /// The container id.
    pub id: String,
    /// Its init's host pid (0 once stopped).
    pub pid: i64,
    /// Its status.
    pub status: Status,
    /// The bundle directory.
    pub bundle: PathBuf,
}

/// What running an OCI runtime can go wrong with. Each names the runtime
/// and the verb; the runtime's own words (its stderr) come once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binary could not be executed.
    #[error("could not execute the OCI runtime {runtime:?} ({}) for `{verb}`: check that the path is an executable runtime", path.display())]
    Spawn {
        /// The runtime's name.
        runtime: String,
        /// Its binary.
        path: PathBuf,
        /// The verb.
        verb: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It ran and failed.
    #[error("the OCI runtime {runtime:?} failed `{verb}` ({status}): {stderr}")]
    Failed {
        /// The runtime's name.
        runtime: String,
        /// The verb.
        verb: &'static str,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it wrote on stderr (trimmed).
        stderr: String,
    },
    /// `state` printed something that is not an OCI state.
    #[error("the OCI runtime {runtime:?} printed a `state` that is not an OCI state JSON")]
    BadState {
        /// The runtime's name.
        runtime: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
}

/// The verbs the daemon runs on a container outside its shim.
pub trait Runtime: Send + Sync {
    /// The runtime's name (`HostConfig.Runtime`).
    fn name(&self) -> &str;
    /// Sends `signal` to the container's init.
    fn kill(&self, id: &str, signal: nix::sys::signal::Signal) -> Result<(), Error>;
    /// Freezes every process of the container.
    fn pause(&self, id: &str) -> Result<(), Error>;
    /// Thaws them.
    fn resume(&self, id: &str) -> Result<(), Error>;
    /// Changes the container's cgroup limits.
    fn update(&self, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<(), Error>;
    /// Deletes the container's state (killing it first if it runs).
    fn delete_force(&self, id: &str) -> Result<(), Error>;
    /// The container's state.
    fn state(&self, id: &str) -> Result<State, Error>;

    /// [`Runtime::kill`], where a container that is gone or stopped (it
    /// exited meanwhile) is no error: `Ok(false)`. Runtimes word that case
    /// differently, so their state decides, not their message.
    fn kill_if_running(&self, id: &str, signal: nix::sys::signal::Signal) -> Result<bool, Error> {
        match self.kill(id, signal) {
            Ok(()) => Ok(true),
            Err(e) => match self.state(id) {
                Ok(s) if s.status != Status::Stopped => Err(e),
                _ => Ok(false),
            },
        }
    }
}

/// An OCI runtime binary driven through runc's command line; what a
/// container records as its runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciRuntime {
    /// Its name in the registry.
    pub name: String,
    /// The binary.
    pub path: PathBuf,
    /// Options put before the verb (daemon.json `runtimeArgs`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Its `--root` (state directory).
    pub root: PathBuf,
}

impl OciRuntime {
    /// Runs `verb` with `args` (and `stdin`); its stdout.
    fn run(
        &self,
        verb: &'static str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Vec<u8>, Error> {
        let spawn_err = |source| Error::Spawn {
            runtime: self.name.clone(),
            path: self.path.clone(),
            verb,
            source,
        };
        let mut child = Command::new(&self.path)
            .args(&self.args)
            .arg("--root")
            .arg(&self.root)
            .arg(verb)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A runtime that fails before reading closes the pipe: its
            // stderr, read below, says why.
            let _ = pipe.write_all(data);
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        if !out.status.success() {
            return Err(Error::Failed {
                runtime: self.name.clone(),
                verb,
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }
}

impl Runtime for OciRuntime {
    fn name(&self) -> &str {
        &self.name
    }

    fn kill(&self, id: &str, signal: nix::sys::signal::Signal) -> Result<(), Error> {
        // By number: every runtime reads numbers, not every one every name.
        self.run("kill", &[id, &(signal as i32).to_string()], None)
            .map(drop)
    }

    fn pause(&self, id: &str) -> Result<(), Error> {
        self.run("pause", &[id], None).map(drop)
    }

    fn resume(&self, id: &str) -> Result<(), Error> {
        self.run("resume", &[id], None).map(drop)
    }

    fn update(&self, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<(), Error> {
        let body = serde_json::to_vec(r).unwrap_or_default();
        self.run("update", &["--resources", "-", id], Some(&body))
            .map(drop)
    }

    fn delete_force(&self, id: &str) -> Result<(), Error> {
        self.run("delete", &["--force", id], None).map(drop)
    }

    fn state(&self, id: &str) -> Result<State, Error> {
        let out = self.run("state", &[id], None)?;
        serde_json::from_slice(&out).map_err(|source| Error::BadState {
            runtime: self.name.clone(),
            source,
        })
    }
}

/// A runtime as configured: its binary and `runtimeArgs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    /// The binary (absolute once registered).
    pub path: PathBuf,
    /// Options put before the verb.
    pub args: Vec<String>,
}

/// A mistake in the runtime settings, found when the daemon starts.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--add-runtime` without `NAME=PATH`.
    #[error("invalid runtime argument: {0} (give --add-runtime NAME=PATH)")]
    BadFlag(String),
    /// The stock name.
    #[error("runtime name '{BUILTIN}' is reserved: give your runtime another name")]
    Reserved,
    /// A name that cannot be a directory name.
    #[error("invalid runtime name {0:?}: use letters, digits, '.', '_' and '-'")]
    BadName(String),
    /// Named twice.
    #[error(
        "runtime {0:?} is given twice (flags and daemon.json together name each runtime once)"
    )]
    Twice(String),
    /// No such binary.
    #[error("runtime {name:?}: {path} is not an executable file (give the path of an OCI runtime binary, or a name found in PATH)")]
    NotFound {
        /// The runtime's name.
        name: String,
        /// What was given.
        path: String,
    },
    /// `--default-runtime` names no runtime.
    #[error("specified default runtime '{0}' does not exist")]
    NoDefault(String),
    /// daemon.json `runtimes` of the wrong shape.
    #[error("daemon.json runtimes.{0}: give {{\"path\": \"/path/to/runtime\", \"runtimeArgs\": [\"…\"]}}")]
    BadJson(String),
}

/// The daemon's runtimes, by name, and the default.
#[derive(Debug, Clone)]
pub struct Registry {
    runtimes: BTreeMap<String, Configured>,
    default: String,
}

impl Registry {
    /// Only the built-in runtime `runc`, executing `builtin` (mini-runc).
    pub fn new(builtin: PathBuf) -> Registry {
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            BUILTIN.to_string(),
            Configured {
                path: builtin,
                args: vec![],
            },
        );
        Registry {
            runtimes,
            default: BUILTIN.into(),
        }
    }

    /// Parses `--add-runtime NAME=PATH`.
    pub fn parse_flag(s: &str) -> Result<(String, String), ConfigError> {
        match s.split_once('=') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n.into(), p.into())),
            _ => Err(ConfigError::BadFlag(s.into())),
        }
    }

    /// Adds a runtime; `path` without a slash is looked up in `PATH`.
    pub fn add(&mut self, name: &str, path: &str, args: Vec<String>) -> Result<(), ConfigError> {
        if name == BUILTIN {
            return Err(ConfigError::Reserved);
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            || name.starts_with('.')
        {
            return Err(ConfigError::BadName(name.into()));
        }
        if self.runtimes.contains_key(name) {
            return Err(ConfigError::Twice(name.into()));
        }
        let path = find_executable(path).ok_or_else(|| ConfigError::NotFound {
            name: name.into(),
            path: path.into(),
        })?;
        self.runtimes.insert(name.into(), Configured { path, args });
        Ok(())
    }

    /// Adds daemon.json's `runtimes` object.
    pub fn add_json(&mut self, runtimes: &Value) -> Result<(), ConfigError> {
        let Some(m) = runtimes.as_object() else {
            return Err(ConfigError::BadJson("(the whole key)".into()));
        };
        for (name, r) in m {
            let bad = || ConfigError::BadJson(name.clone());
            let path = r["path"]
                .as_str()
                .filter(|p| !p.is_empty())
                .ok_or_else(bad)?;
            let args = match &r["runtimeArgs"] {
                Value::Null => vec![],
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(String::from))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?,
                _ => return Err(bad()),
            };
            self.add(name, path, args)?;
        }
        Ok(())
    }

    /// `--default-runtime NAME`.
    pub fn set_default(&mut self, name: &str) -> Result<(), ConfigError> {
        if !self.runtimes.contains_key(name) {
            return Err(ConfigError::NoDefault(name.into()));
        }
        self.default = name.into();
        Ok(())
    }

    /// The default runtime's name.
    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// The runtime `HostConfig.Runtime` names ("" is the default), with its
    /// state root under `data_root`; `None` for an unknown name.
    pub fn resolve(&self, name: &str, data_root: &Path) -> Option<OciRuntime> {
        let name = if name.is_empty() { &self.default } else { name };
        let c = self.runtimes.get(name)?;
        Some(OciRuntime {
            name: name.into(),
            path: c.path.clone(),
            args: c.args.clone(),
            root: state_root(data_root, name),
        })
    }

    /// `GET /info`'s `Runtimes`.
    pub fn info(&self) -> Value {
        self.runtimes
            .iter()
            .map(|(n, c)| {
                let mut v = json!({"path": c.path});
                if !c.args.is_empty() {
                    v["runtimeArgs"] = json!(c.args);
                }
                (n.clone(), v)
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

impl super::Engine {
    /// The runtime `HostConfig.Runtime` names (the default when empty);
    /// an unknown name is dockerd's 400.
    pub(super) fn choose_runtime(&self, body: &Value) -> super::Result<OciRuntime> {
        let name = match &body["HostConfig"]["Runtime"] {
            Value::Null => "",
            Value::String(s) => s.as_str(),
            _ => return Err(super::ApiError::bad("HostConfig.Runtime must be a string")),
        };
        self.opts
            .runtimes
            .resolve(name, &self.opts.root)
            .ok_or_else(|| super::ApiError::bad(format!("Unknown runtime specified {name}")))
    }
}

/// Where runtime `name` keeps its state under the data root.
pub fn state_root(data_root: &Path, name: &str) -> PathBuf {
    if name == BUILTIN {
        data_root.join("runtime")
    } else {
        data_root.join(format!("runtime-{name}"))
    }
}

/// `p` if it is an executable file, or the first executable `p` in `PATH`
/// when it has no slash.
fn find_executable(p: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let ok = |c: &Path| {
        std::fs::metadata(c)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if p.contains('/') {
        let c = PathBuf::from(p);
        return ok(&c).then(|| std::path::absolute(&c).unwrap_or(c));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
        .map(|d| d.join(p))
        .find(|c| ok(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_refuses_what_dockerd_refuses() {
        let mut r = Registry::new("/bin/true".into());
        assert_eq!(
            Registry::parse_flag("bad"),
            Err(ConfigError::BadFlag("bad".into()))
        );
        assert_eq!(
            Registry::parse_flag("crun=/usr/bin/crun"),
            Ok(("crun".into(), "/usr/bin/crun".into()))
        );
        assert_eq!(
            r.add("runc", "/bin/true", vec![]),
            Err(ConfigError::Reserved)
        );
        assert_eq!(
            r.add("a/b", "/bin/true", vec![]),
            Err(ConfigError::BadName("a/b".into()))
        );
        assert!(matches!(
            r.add("x", "/nonexistent/rt", vec![]),
            Err(ConfigError::NotFound { .. })
        ));
        assert_eq!(
            r.set_default("nope").unwrap_err().to_string(),
            "specified default runtime 'nope' does not exist"
        );
        r.add("t", "true", vec!["--debug".into()]).unwrap();
        assert_eq!(
            r.add("t", "/bin/true", vec![]),
            Err(ConfigError::Twice("t".into()))
        );
        r.set_default("t").unwrap();
        let chosen = r.resolve("", Path::new("/d")).unwrap();
        assert_eq!(chosen.name, "t");
        assert!(chosen.path.is_absolute(), "a bare name is found in PATH");
        assert_eq!(chosen.root, Path::new("/d/runtime-t"));
        assert_eq!(
            r.resolve("runc", Path::new("/d")).unwrap().root,
            Path::new("/d/runtime")
        );
        assert!(r.resolve("nope", Path::new("/d")).is_none());
        assert_eq!(r.info()["t"]["runtimeArgs"], json!(["--debug"]));
        assert_eq!(r.info()["runc"], json!({"path": "/bin/true"}));
    }

    #[test]
    fn daemon_json_runtimes_need_a_path() {
        let mut r = Registry::new("/bin/true".into());
        assert_eq!(
            r.add_json(&json!({"x": {"runtimeArgs": []}})),
            Err(ConfigError::BadJson("x".into()))
        );
        r.add_json(&json!({"y": {"path": "/bin/true", "runtimeArgs": ["--a"]}}))
            .unwrap();
        assert_eq!(r.resolve("y", Path::new("/d")).unwrap().args, ["--a"]);
    }
}
