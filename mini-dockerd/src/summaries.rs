//! The container records, and the `GET /containers/json` summaries kept
//! beside them.
//!
//! `docker ps` is asked often (scripts poll it, compose reads it before each
//! step) and its answer is mostly the same from one call to the next. So the
//! daemon does not build a summary per container per call: each record's
//! summary is serialized once, the first time it is listed, and kept as two
//! pieces of JSON text on either side of `Status`, the one field that moves
//! with the clock ("Up 5 minutes"):
//!
//! ```text
//! {"Id":…,"Names":…,…,"State":"running"  ,"Status":"Up 5 minutes",  "HostConfig":…,"Mounts":[]}
//! └──────────── head (kept) ─────────────┘ └── made per call ──┘ └────── tail (kept) ──────┘
//! ```
//!
//! A call then costs, per container listed, the filters' comparisons, one
//! short `format!` for the status and two copies of kept bytes (issue 25:
//! `ps` flat from 10 to 500 containers).
//!
//! A kept summary must never outlive the record it was made from. That is
//! the job of [`Records`]: the map of records reads as a `BTreeMap` (it
//! derefs to one), but every way of changing a record goes through
//! `Records`' own `get_mut`, `insert` and `remove`, which drop that record's
//! summary first. The map is not reachable mutably any other way (no
//! `DerefMut`), so a new state change cannot forget to: it does not compile.

use crate::state;
use crate::Container;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;

/// The containers by id, with their summaries as far as they were listed.
#[derive(Default)]
pub struct Records {
    map: BTreeMap<String, Container>,
    /// Kept summaries, by id: each one was made from the record as it is now.
    kept: HashMap<String, Kept>,
}

/// The JSON of one summary without its `Status` (see the module's picture).
struct Kept {
    /// From `{` through `"State":"…"` (no comma after it).
    head: Box<[u8]>,
    /// From `"HostConfig"` through the closing `}`.
    tail: Box<[u8]>,
}

impl From<BTreeMap<String, Container>> for Records {
    fn from(map: BTreeMap<String, Container>) -> Records {
        Records {
            map,
            kept: HashMap::new(),
        }
    }
}

impl Deref for Records {
    type Target = BTreeMap<String, Container>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl Records {
    /// The record `id`, to change: its kept summary goes.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Container> {
        self.kept.remove(id);
        self.map.get_mut(id)
    }

    /// Adds or replaces the record of `id`.
    pub fn insert(&mut self, id: String, c: Container) -> Option<Container> {
        self.kept.remove(&id);
        self.map.insert(id, c)
    }

    /// Removes the record of `id`.
    pub fn remove(&mut self, id: &str) -> Option<Container> {
        self.kept.remove(id);
        self.map.remove(id)
    }

    /// The JSON array of the summaries of the records `keep` keeps, newest
    /// first, with their `Status` as at `now`. A summary not kept yet is
    /// made and kept; the others are copied.
    pub fn summaries_json(&mut self, keep: impl Fn(&Container) -> bool, now: i64) -> Vec<u8> {
        let mut shown: Vec<&Container> = self.map.values().filter(|c| keep(c)).collect();
        shown.sort_by_key(|c| std::cmp::Reverse(c.created));
        let mut out = Vec::with_capacity(shown.len() * 1024 + 2);
        out.push(b'[');
        for c in shown {
            if !self.kept.contains_key(&c.id) {
                self.kept.insert(c.id.clone(), Kept::of(c));
            }
            let kept = &self.kept[&c.id];
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(&kept.head);
            out.extend_from_slice(b",\"Status\":");
            // A string always serializes.
            let _ = serde_json::to_writer(&mut out, &c.status_text(now));
            out.push(b',');
            out.extend_from_slice(&kept.tail);
        }
        out.push(b']');
        out
    }
}

impl Kept {
    fn of(c: &Container) -> Kept {
        // Both halves are structs of strings and JSON values: they serialize.
        let head = serde_json::to_vec(&Head::of(c)).unwrap_or_else(|_| b"{}".to_vec());
        let tail = serde_json::to_vec(&Tail::of(c)).unwrap_or_else(|_| b"{}".to_vec());
        Kept {
            // `{…}` without its closing brace, and without its opening one.
            head: head[..head.len() - 1].into(),
            tail: tail[1..].into(),
        }
    }
}

/// One entry of `GET /containers/json` (Docker's `ContainerSummary`), made
/// afresh: `system df` and the tests use it; `ps` uses [`Records::summaries_json`].
#[derive(Serialize)]
pub struct Summary<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    #[serde(rename = "Status")]
    status: String,
    #[serde(flatten)]
    tail: Tail,
}

impl Summary<'_> {
    /// The summary of `c` as at `now`.
    pub fn of(c: &Container, now: i64) -> Summary<'_> {
        Summary {
            head: Head::of(c),
            status: c.status_text(now),
            tail: Tail::of(c),
        }
    }
}

/// The fields before `Status`, in Docker's order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Head<'a> {
    id: &'a str,
    names: [String; 1],
    image: &'a str,
    #[serde(rename = "ImageID")]
    image_id: &'a str,
    command: String,
    created: i64,
    ports: Vec<Value>,
    labels: &'a BTreeMap<String, String>,
    state: state::Status,
}

impl Head<'_> {
    fn of(c: &Container) -> Head<'_> {
        static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();
        Head {
            id: &c.id,
            names: [format!("/{}", c.name)],
            image: &c.image,
            image_id: &c.image_id,
            command: c.command(),
            created: c.created / 1_000_000_000,
            ports: c
                .net
                .as_ref()
                .map(|n| n.port_summaries())
                .unwrap_or_default(),
            labels: c.config.labels.as_ref().unwrap_or(&NO_LABELS),
            state: c.state.status,
        }
    }
}

/// The fields after `Status`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Tail {
    host_config: TailHostConfig,
    network_settings: TailNetworks,
    mounts: Value,
}

/// `HostConfig` of a summary.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TailHostConfig {
    network_mode: String,
}

/// `NetworkSettings` of a summary.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TailNetworks {
    networks: Value,
}

impl Tail {
    fn of(c: &Container) -> Tail {
        Tail {
            host_config: TailHostConfig {
                network_mode: c.network_mode(),
            },
            network_settings: TailNetworks {
                networks: c.networks(),
            },
            mounts: crate::volumes::mounts_json(&c.mounts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str, created: i64) -> Container {
        let config = crate::ContainerConfig {
            labels: Some(BTreeMap::from([(
                "team".to_string(),
                "Blue \"Sky\"".to_string(),
            )])),
            ..Default::default()
        };
        Container {
            id: id.to_string(),
            name: name.to_string(),
            created,
            image: "busybox".into(),
            image_id: "sha256:abc".into(),
            path: "sleep".into(),
            args: vec!["300".into(), "two words".into()],
            config,
            host_config: Default::default(),
            state: Default::default(),
            layer: String::new(),
            exits: 0,
            net: None,
            endpoints: BTreeMap::new(),
            mounts: Vec::new(),
            restart: Default::default(),
            runtime: None,
        }
    }

    /// The summaries of `ids` made afresh, as one JSON array.
    fn fresh(r: &Records, ids: &[&str], now: i64) -> Vec<u8> {
        let all: Vec<Summary> = ids.iter().map(|id| Summary::of(&r[*id], now)).collect();
        serde_json::to_vec(&all).unwrap()
    }

    #[test]
    fn kept_summaries_are_the_fresh_ones_byte_for_byte() {
        let now = 2_000_000_000_000_000_000;
        let mut r = Records::from(BTreeMap::from([
            (
                "a".repeat(64),
                record(&"a".repeat(64), "one", now - 90_000_000_000),
            ),
            (
                "b".repeat(64),
                record(&"b".repeat(64), "two", now - 5_000_000_000),
            ),
        ]));
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let ids = [b.as_str(), a.as_str()];
        // Made and kept at the first call, copied at the second.
        assert_eq!(r.summaries_json(|_| true, now), fresh(&r, &ids, now));
        assert_eq!(r.summaries_json(|_| true, now), fresh(&r, &ids, now));
        assert_eq!(r.summaries_json(|_| false, now), b"[]");
        let only_a = r.summaries_json(|c| c.name == "one", now);
        assert_eq!(only_a, fresh(&r, &[a.as_str()], now));
        let v: Value = serde_json::from_slice(&r.summaries_json(|_| true, now)).unwrap();
        assert_eq!(v[0]["Names"][0], "/two");
        assert_eq!(v[1]["Command"], "sleep 300 'two words'");
        assert_eq!(v[1]["Labels"]["team"], "Blue \"Sky\"");
    }

    #[test]
    fn a_changed_record_is_never_listed_from_its_old_summary() {
        let now = 2_000_000_000_000_000_000;
        let id = "c".repeat(64);
        let mut r = Records::from(BTreeMap::from([(id.clone(), record(&id, "old", now))]));
        let _ = r.summaries_json(|_| true, now);
        // A state change and a rename, through the only mutable way in.
        let c = r.get_mut(&id).unwrap();
        c.state.status = state::Status::Running;
        c.state.running = true;
        c.state.started_at = now - 3_600_000_000_000;
        c.name = "new".into();
        let v: Value = serde_json::from_slice(&r.summaries_json(|_| true, now)).unwrap();
        assert_eq!(v[0]["Names"][0], "/new");
        assert_eq!(v[0]["State"], "running");
        assert_eq!(v[0]["Status"], "Up About an hour");
        // Replaced whole, and removed.
        r.insert(id.clone(), record(&id, "again", now));
        let v: Value = serde_json::from_slice(&r.summaries_json(|_| true, now)).unwrap();
        assert_eq!(v[0]["Names"][0], "/again");
        r.remove(&id);
        assert_eq!(r.summaries_json(|_| true, now), b"[]");
    }
}
