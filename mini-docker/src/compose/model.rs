//! The Compose Specification as typed structs.
//!
//! Every struct refuses keys it does not know (`deny_unknown_fields`), so a
//! typo (`enviroment:`) or a key this client does not implement is an error
//! naming the file, the line and the key path, never ignored. Keys whose
//! forms are checked later (`healthcheck`, `secrets`, `configs`) are read as
//! JSON values, so that [`super::load`] and [`super::plan`] can refuse the
//! forms the engine cannot do (an environment secret, a config's `mode`)
//! by name.
//!
//! The short and long forms the specification allows (a list or a map of
//! environment variables, a string or a list for `command`) are untagged
//! enums, turned into one form by the accessors below.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A whole project file (or several, merged).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    /// Obsolete in the Compose Specification; read and ignored with a warning, as compose does.
    #[serde(default, skip_serializing)]
    pub version: Option<Value>,
    /// The project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The services.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Networks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<Network>>,
    /// Named volumes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Option<Volume>>,
    /// File-based secrets (`name: {file: ./path}`), bind-mounted read-only
    /// at `/run/secrets/<target>` of the services that name them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Value>,
    /// File-based configs, bind-mounted read-only at `/<name>` or their
    /// `target` in the services that name them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configs: Option<Value>,
}

/// A top-level network.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Driver (`bridge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Made outside compose: must exist, never created or removed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub external: bool,
    /// Its name on the engine (default `<project>_<key>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// No outside access.
    #[serde(default, skip_serializing_if = "is_false")]
    pub internal: bool,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<ListOrMap>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Driver (`local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Made outside compose.
    #[serde(default, skip_serializing_if = "is_false")]
    pub external: bool,
    /// Its name on the engine (default `<project>_<key>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<ListOrMap>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One service.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Service {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<StringOrList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<StringOrList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<ListOrMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<StringOrList>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<Scalar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<StringOrList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<ServiceNetworks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<DependsOn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<ListOrMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<ListOrMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<StringOrList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<Extends>,
}

/// A string, number or boolean where the specification takes any of them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    /// Text.
    Str(String),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Str(s) => f.write_str(s),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `["a", "b"]` or `"a b"`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum StringOrList {
    /// A string (a command is split as a shell would).
    One(String),
    /// A list.
    List(Vec<String>),
}

impl StringOrList {
    /// As a list, a string being one element.
    pub fn items(&self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s.clone()],
            StringOrList::List(l) => l.clone(),
        }
    }
}

/// `["K=V"]` or `{K: V}` (environment, labels, extra_hosts, build args).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ListOrMap {
    /// `K=V` strings (`K` alone: no value).
    List(Vec<String>),
    /// A map; a null value means "no value".
    Map(BTreeMap<String, Option<Scalar>>),
}

impl ListOrMap {
    /// As a map (`sep` splits list items: `=` or `:` for extra_hosts).
    pub fn to_map(&self, sep: char) -> BTreeMap<String, Option<String>> {
        match self {
            ListOrMap::List(l) => l
                .iter()
                .map(|s| match s.split_once(sep) {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s.clone(), None),
                })
                .collect(),
            ListOrMap::Map(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|v| v.to_string())))
                .collect(),
        }
    }
}

/// `build: ./dir` or its long form.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Build {
    /// The context.
    Context(String),
    /// Long form.
    Long(BuildLong),
}

/// `build:` as a map.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct BuildLong {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<ListOrMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// `"127.0.0.1:8080:80/tcp"`, `80`, or the long form.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Port {
    /// A bare container port.
    Number(u16),
    /// `[[ip:]published:]target[/proto]`.
    Short(String),
    /// Long form.
    Long(PortLong),
}

/// A port in long form.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PortLong {
    pub target: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// `"data:/data:ro"` or the long form.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ServiceVolume {
    /// `[source:]target[:ro|rw]`.
    Short(String),
    /// Long form.
    Long(VolumeLong),
}

/// A service volume in long form.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct VolumeLong {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// `networks: [a, b]` or with per-network settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ServiceNetworks {
    /// Names.
    List(Vec<String>),
    /// Name -> settings.
    Map(BTreeMap<String, Option<ServiceNetwork>>),
}

impl ServiceNetworks {
    /// As a map.
    pub fn to_map(&self) -> BTreeMap<String, ServiceNetwork> {
        match self {
            ServiceNetworks::List(l) => l.iter().map(|n| (n.clone(), Default::default())).collect(),
            ServiceNetworks::Map(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect(),
        }
    }
}

/// A service's settings on one network.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    /// More names for the service on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// `depends_on: [a]` or with conditions.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum DependsOn {
    /// Names (`service_started`).
    List(Vec<String>),
    /// Name -> condition.
    Map(BTreeMap<String, Dependency>),
}

impl DependsOn {
    /// As a map.
    pub fn to_map(&self) -> BTreeMap<String, Dependency> {
        match self {
            DependsOn::List(l) => l
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        Dependency {
                            condition: "service_started".into(),
                            restart: None,
                            required: None,
                        },
                    )
                })
                .collect(),
            DependsOn::Map(m) => m.clone(),
        }
    }
}

/// One dependency.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Dependency {
    #[serde(default = "started")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

fn started() -> String {
    "service_started".into()
}

/// `nofile: 1024` or `{soft, hard}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Ulimit {
    /// Both.
    One(i64),
    /// Soft and hard.
    Pair {
        /// Soft.
        soft: i64,
        /// Hard.
        hard: i64,
    },
}

/// `logging:`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Logging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// `deploy:` (only `replicas`: the rest is swarm's).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// How many containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// `extends: svc` or `{service, file}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Extends {
    /// A service of the same file.
    Name(String),
    /// A service of (maybe) another file.
    Long {
        /// The service.
        service: String,
        /// Its file, relative to this one.
        #[serde(default)]
        file: Option<String>,
    },
}
