//! nftables: NAT and filtering in a table of our own.
//!
//! Netfilter calls *hooks* at fixed points of a packet's path through the
//! kernel; nftables lets us attach *base chains* to them:
//!
//! ```text
//!  in ──> prerouting ──> routing ──> forward ──> postrouting ──> out
//!         (dstnat -100)     │                    (srcnat 100)
//!                           └──> input   local process ──> output ──┘
//!                                                  (dstnat -100)
//! ```
//!
//! - **masquerade** (postrouting): a packet from a container leaving through
//!   another interface gets the outgoing interface's address as its source,
//!   so replies find their way back. Conntrack (`conntrack -L`) remembers the
//!   translation and undoes it on the replies.
//! - **DNAT** (prerouting for packets from outside, output for packets the
//!   host itself sends): a packet to `HOST_PORT` on a local address gets the
//!   container's address and port as its destination: that is `-p`.
//! - **isolation** (forward): packets from one of our bridges to another are
//!   dropped, so two networks cannot talk.
//!
//! Everything lives in one table per network (`chapter05_<id>`), so we never
//! touch anyone else's rules and `nft delete table ip chapter05_<id>` removes
//! all of it at once.
//!
//! Each command is data ([`NftCommand`]) that prints as the `nft` command a
//! learner can type, and turns into nft's JSON form. A list of commands is
//! applied as *one* transaction with `nft -j -f -`: either all of it is in
//! the kernel, or none.
//!
//! Read: nft(8) (sections CHAINS, NAT STATEMENTS), libnftables-json(5).

use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::subnet::Subnet;

/// Transport protocol of a port mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP
    Tcp,
    /// UDP
    Udp,
}

impl Proto {
    /// `tcp` or `udp`
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which hook a base chain is attached to, with its type and priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `type nat hook prerouting priority dstnat` (-100): DNAT for packets from outside.
    Prerouting,
    /// `type nat hook output priority -100`: DNAT for packets the host sends.
    Output,
    /// `type nat hook postrouting priority srcnat` (100): masquerade.
    Postrouting,
    /// `type filter hook forward priority filter` (0): isolation.
    Forward,
}

impl Hook {
    fn name(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
            Hook::Forward => "forward",
        }
    }
    fn kind(self) -> &'static str {
        match self {
            Hook::Forward => "filter",
            _ => "nat",
        }
    }
    fn priority(self) -> i32 {
        match self {
            Hook::Prerouting | Hook::Output => -100,
            Hook::Postrouting => 100,
            Hook::Forward => 0,
        }
    }
}

/// One match or statement of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `ip saddr SUBNET`
    SaddrIn(Subnet),
    /// `ip daddr IP`
    Daddr(Ipv4Addr),
    /// `ip daddr != SUBNET`
    DaddrNotIn(Subnet),
    /// `iifname "NAME"` (a trailing `*` matches a prefix)
    IifName(String),
    /// `oifname "NAME"` (a trailing `*` matches a prefix)
    OifName(String),
    /// `oifname != "NAME"`
    OifNameNot(String),
    /// `fib daddr type local`: the destination is one of the host's addresses.
    DaddrIsLocal,
    /// `tcp dport N` / `udp dport N`
    Dport(Proto, u16),
    /// `ct status dnat`: the connection was DNATed.
    CtStatusDnat,
    /// `counter`
    Counter,
    /// `masquerade`
    Masquerade,
    /// `dnat to IP:PORT`
    Dnat(Ipv4Addr, u16),
    /// `drop`
    Drop,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::SaddrIn(s) => write!(f, "ip saddr {s}"),
            Expr::Daddr(ip) => write!(f, "ip daddr {ip}"),
            Expr::DaddrNotIn(s) => write!(f, "ip daddr != {s}"),
            Expr::IifName(n) => write!(f, "iifname \"{n}\""),
            Expr::OifName(n) => write!(f, "oifname \"{n}\""),
            Expr::OifNameNot(n) => write!(f, "oifname != \"{n}\""),
            Expr::DaddrIsLocal => f.write_str("fib daddr type local"),
            Expr::Dport(p, port) => write!(f, "{p} dport {port}"),
            Expr::CtStatusDnat => f.write_str("ct status dnat"),
            Expr::Counter => f.write_str("counter"),
            Expr::Masquerade => f.write_str("masquerade"),
            Expr::Dnat(ip, port) => write!(f, "dnat to {ip}:{port}"),
            Expr::Drop => f.write_str("drop"),
        }
    }
}

fn prefix(s: &Subnet) -> Value {
    json!({"prefix": {"addr": s.network().to_string(), "len": s.prefix()}})
}

fn matches(op: &str, left: Value, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

impl Expr {
    /// The libnftables-json(5) form.
    pub fn to_json(&self) -> Value {
        let ip = |field: &str| json!({"payload": {"protocol": "ip", "field": field}});
        let meta = |key: &str| json!({"meta": {"key": key}});
        match self {
            Expr::SaddrIn(s) => matches("==", ip("saddr"), prefix(s)),
            Expr::Daddr(a) => matches("==", ip("daddr"), json!(a.to_string())),
            Expr::DaddrNotIn(s) => matches("!=", ip("daddr"), prefix(s)),
            Expr::IifName(n) => matches("==", meta("iifname"), json!(n)),
            Expr::OifName(n) => matches("==", meta("oifname"), json!(n)),
            Expr::OifNameNot(n) => matches("!=", meta("oifname"), json!(n)),
            Expr::DaddrIsLocal => matches(
                "==",
                json!({"fib": {"result": "type", "flags": ["daddr"]}}),
                json!("local"),
            ),
            Expr::Dport(p, port) => matches(
                "==",
                json!({"payload": {"protocol": p.as_str(), "field": "dport"}}),
                json!(port),
            ),
            Expr::CtStatusDnat => matches("in", json!({"ct": {"key": "status"}}), json!("dnat")),
            Expr::Counter => json!({"counter": {"packets": 0, "bytes": 0}}),
            Expr::Masquerade => json!({"masquerade": null}),
            Expr::Dnat(a, port) => json!({"dnat": {"addr": a.to_string(), "port": port}}),
            Expr::Drop => json!({"drop": null}),
        }
    }
}

/// One nft command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NftCommand {
    /// `nft add table ip TABLE`
    AddTable {
        /// Table name.
        table: String,
    },
    /// `nft add chain ip TABLE CHAIN { type ... hook ... priority ...; }`
    AddChain {
        /// Table name.
        table: String,
        /// The hook; the chain is named after it.
        hook: Hook,
    },
    /// `nft add rule ip TABLE CHAIN EXPR...`
    AddRule {
        /// Table name.
        table: String,
        /// The chain (named after its hook).
        hook: Hook,
        /// The rule.
        exprs: Vec<Expr>,
    },
    /// `nft delete table ip TABLE`: the table, its chains and rules.
    DeleteTable {
        /// Table name.
        table: String,
    },
}

/// The address family of our tables: `ip` (IPv4).
pub const FAMILY: &str = "ip";

impl fmt::Display for NftCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NftCommand::AddTable { table } => write!(f, "nft add table {FAMILY} {table}"),
            NftCommand::AddChain { table, hook } => write!(
                f,
                "nft 'add chain {FAMILY} {table} {} {{ type {} hook {} priority {}; policy accept; }}'",
                hook.name(),
                hook.kind(),
                hook.name(),
                hook.priority()
            ),
            NftCommand::AddRule { table, hook, exprs } => {
                let rule: Vec<String> = exprs.iter().map(|e| e.to_string()).collect();
                let rule = rule.join(" ");
                if rule.contains('"') || rule.contains('!') {
                    write!(f, "nft 'add rule {FAMILY} {table} {} {rule}'", hook.name())
                } else {
                    write!(f, "nft add rule {FAMILY} {table} {} {rule}", hook.name())
                }
            }
            NftCommand::DeleteTable { table } => write!(f, "nft delete table {FAMILY} {table}"),
        }
    }
}

impl NftCommand {
    /// The table this command is about.
    pub fn table(&self) -> &str {
        match self {
            NftCommand::AddTable { table }
            | NftCommand::AddChain { table, .. }
            | NftCommand::AddRule { table, .. }
            | NftCommand::DeleteTable { table } => table,
        }
    }

    /// The libnftables-json(5) form.
    pub fn to_json(&self) -> Value {
        match self {
            NftCommand::AddTable { table } => {
                json!({"add": {"table": {"family": FAMILY, "name": table}}})
            }
            NftCommand::AddChain { table, hook } => json!({"add": {"chain": {
                "family": FAMILY, "table": table, "name": hook.name(),
                "type": hook.kind(), "hook": hook.name(), "prio": hook.priority(), "policy": "accept"
            }}}),
            NftCommand::AddRule { table, hook, exprs } => json!({"add": {"rule": {
                "family": FAMILY, "table": table, "chain": hook.name(),
                "expr": exprs.iter().map(Expr::to_json).collect::<Vec<_>>()
            }}}),
            NftCommand::DeleteTable { table } => {
                json!({"delete": {"table": {"family": FAMILY, "name": table}}})
            }
        }
    }
}

/// The JSON document `nft -j -f -` reads for a batch.
pub fn batch_json(commands: &[NftCommand]) -> Value {
    json!({"nftables": commands.iter().map(NftCommand::to_json).collect::<Vec<_>>()})
}

/// Apply commands as one transaction: `nft -j -f -` with the batch on stdin.
pub fn apply(commands: &[NftCommand]) -> Result<()> {
    if commands.is_empty() {
        return Ok(());
    }
    let doc = batch_json(commands).to_string();
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::NftSpawn { source })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(doc.as_bytes())
            .map_err(|source| Error::NftSpawn { source })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|source| Error::NftSpawn { source })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Nft {
            commands: commands
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// `nft delete table ip TABLE`, where a missing table is fine.
/// Returns whether the table existed.
pub fn delete_table(table: &str) -> Result<bool> {
    match apply(&[NftCommand::DeleteTable {
        table: table.to_string(),
    }]) {
        Ok(()) => Ok(true),
        Err(Error::Nft { stderr, .. }) if stderr.contains("No such file or directory") => Ok(false),
        Err(e) => Err(e),
    }
}

fn nft_output(args: &[&str]) -> Result<String> {
    let out = Command::new("nft")
        .args(args)
        .output()
        .map_err(|source| Error::NftSpawn { source })?;
    if !out.status.success() {
        return Err(Error::Nft {
            commands: format!("nft {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `nft -j list tables`: (family, name) of every table in the kernel.
pub fn list_tables() -> Result<Vec<(String, String)>> {
    let args = ["-j", "list", "tables"];
    let text = nft_output(&args)?;
    let bad = |detail: String| Error::NftOutput {
        args: args.join(" "),
        detail,
    };
    let doc: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `nftables` array".into()))?;
    Ok(items
        .iter()
        .filter_map(|i| i.get("table"))
        .filter_map(|t| {
            Some((
                t.get("family")?.as_str()?.to_string(),
                t.get("name")?.as_str()?.to_string(),
            ))
        })
        .collect())
}

/// `nft list table ip TABLE`, in nft's own syntax (for showing a learner).
pub fn list_table(table: &str) -> Result<String> {
    nft_output(&["list", "table", FAMILY, table])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_prints_like_nft_and_has_json() {
        let cmd = NftCommand::AddRule {
            table: "chapter05_abc123".into(),
            hook: Hook::Postrouting,
            exprs: vec![
                Expr::SaddrIn("10.201.3.0/24".parse().unwrap()),
                Expr::OifNameNot("ch05babc123".into()),
                Expr::Masquerade,
            ],
        };
        assert_eq!(
            cmd.to_string(),
            "nft 'add rule ip chapter05_abc123 postrouting ip saddr 10.201.3.0/24 oifname != \"ch05babc123\" masquerade'"
        );
        let j = cmd.to_json();
        assert_eq!(
            j["add"]["rule"]["expr"][0]["match"]["right"]["prefix"]["len"],
            24
        );
        assert_eq!(j["add"]["rule"]["expr"][2], json!({"masquerade": null}));
    }
}
