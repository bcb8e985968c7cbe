//! Networking of containers: `none`, `host`, and the default `bridge`.
//!
//! `none` keeps the new, empty network namespace of the default spec;
//! `host` drops it from the spec. `bridge` (chapter 05) is wired by the
//! daemon the OCI way: a named netns, a veth into the bridge, an address
//! from the IPAM, and its path in `linux.namespaces`.

use super::{ApiError, Engine, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Network options of the daemon.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// `--bridge-subnet`, e.g. `10.203.7.0/24` (None: chapter 05 picks).
    pub subnet: Option<String>,
    /// `--bridge-name` (None: no bridge, containers get an empty netns).
    pub bridge: Option<String>,
}

/// A published port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Port {
    /// Host address.
    pub host_ip: String,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub port: u16,
    /// tcp or udp.
    pub proto: String,
}

/// What a container got from its network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    /// Network id.
    pub network_id: String,
    /// Endpoint id.
    pub endpoint_id: String,
    /// Its address.
    pub ip: String,
    /// Prefix length.
    pub prefix: u8,
    /// Gateway.
    pub gateway: String,
    /// MAC.
    pub mac: String,
    /// netns path.
    pub netns: String,
    /// Published ports.
    pub ports: Vec<Port>,
}

impl Attachment {
    /// `Ports` of `/containers/json`.
    pub fn port_summaries(&self) -> Vec<Value> {
        self.ports
            .iter()
            .map(|p| json!({"IP": p.host_ip, "PrivatePort": p.port, "PublicPort": p.host_port, "Type": p.proto}))
            .collect()
    }

    /// `NetworkSettings.Ports` of inspect.
    pub fn ports_map(&self) -> Value {
        let mut m = serde_json::Map::new();
        for p in &self.ports {
            let e = m
                .entry(format!("{}/{}", p.port, p.proto))
                .or_insert_with(|| json!([]));
            if let Some(a) = e.as_array_mut() {
                a.push(json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()}));
            }
        }
        Value::Object(m)
    }
}

/// The default bridge network, once created.
pub struct Bridge {
    /// The name.
    pub name: String,
}

impl Engine {
    /// Wires a container into the default bridge (when one is configured).
    pub fn attach_network(&self, _c: &super::Container) -> Result<Option<Attachment>> {
        if self.opts.net.bridge.is_none() {
            return Ok(None);
        }
        Err(ApiError::internal(
            "the bridge network is not implemented yet",
        ))
    }

    /// Undoes [`Engine::attach_network`].
    pub fn detach_network(&self, _a: &Attachment) {}
}
