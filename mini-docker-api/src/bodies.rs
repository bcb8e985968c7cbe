//! # Request bodies of the smaller verbs
//!
//! `POST /containers/{id}/exec`, `POST /exec/{id}/start`,
//! `POST /networks/{id}/connect` and `/disconnect`, and
//! `POST /volumes/create` (Engine API
//! v1.41) as serde structs with Docker's key names. The daemon's routers
//! parse a body into one of these before the engine sees it, so a value of
//! the wrong type (`"Cmd": {"a": 1}`, `"Labels": "x"`) is a `400` naming
//! the field, as dockerd's decoder answers. Every field is an `Option`: a
//! client may leave it out or send `null` (docker-py sends `"Env": null`),
//! and both mean Docker's default. Keys outside v1.41 are ignored, as Go's
//! decoder ignores them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The body of `POST /containers/{id}/exec` (Docker's `ExecConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecCreate {
    /// argv of the new process (required, non-empty).
    pub cmd: Option<Vec<String>>,
    /// `K=V` added to the container's environment.
    pub env: Option<Vec<String>>,
    /// The working directory (absolute; empty: the container's).
    pub working_dir: Option<String>,
    /// `user`, `user:group`, `uid[:gid]` (empty: the container's).
    pub user: Option<String>,
    /// Give the process a terminal.
    pub tty: Option<bool>,
    /// Attach the client's stdin.
    pub attach_stdin: Option<bool>,
    /// Attach stdout (the stream always carries it).
    pub attach_stdout: Option<bool>,
    /// Attach stderr (the stream always carries it).
    pub attach_stderr: Option<bool>,
    /// The keys that detach from the stream (`ctrl-p,ctrl-q`).
    pub detach_keys: Option<String>,
    /// `--privileged` for the exec.
    pub privileged: Option<bool>,
}

/// The body of `POST /exec/{id}/start` (Docker's `ExecStartCheck`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStart {
    /// Start it and answer at once; the output is not sent.
    pub detach: Option<bool>,
    /// Give it a terminal (added to the exec's own `Tty`).
    pub tty: Option<bool>,
}

/// The body of `POST /networks/{id}/connect` (Docker's `NetworkConnect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnect {
    /// The container's id or name.
    pub container: Option<String>,
    /// Its settings on this network (`Aliases`; the rest as given).
    pub endpoint_config: Option<crate::container::EndpointSettings>,
}

/// The body of `POST /networks/{id}/disconnect` (Docker's `NetworkDisconnect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnect {
    /// The container's id or name.
    pub container: Option<String>,
    /// Disconnect even if the container is gone (dockerd's; it changes
    /// nothing here, where a container's endpoints go with it).
    pub force: Option<bool>,
}

/// The body of `POST /volumes/create` (Docker's `VolumeCreateBody`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreate {
    /// The volume's name (empty: a new random one).
    pub name: Option<String>,
    /// The driver (only `local`).
    pub driver: Option<String>,
    /// The driver's options (the local driver's `type`, `device`, `o`).
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// User labels.
    pub labels: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_missing_keys_are_defaults_and_wrong_types_are_errors() {
        let e: ExecCreate =
            serde_json::from_str(r#"{"Cmd": ["ls"], "Env": null, "NewerKey": 1}"#).unwrap();
        assert_eq!(e.cmd.as_deref(), Some(&["ls".to_string()][..]));
        assert_eq!(e.env, None);
        assert!(serde_json::from_str::<ExecCreate>(r#"{"Cmd": {"a": 1}}"#).is_err());
        let v: VolumeCreate = serde_json::from_str(r#"{"Labels": {"a": "b"}}"#).unwrap();
        assert_eq!(v.labels.unwrap()["a"], "b");
        assert!(serde_json::from_str::<VolumeCreate>(r#"{"Labels": "x"}"#).is_err());
    }
}
