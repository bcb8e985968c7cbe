//! The `filters` of the list endpoints, evaluated as Docker evaluates them.
//!
//! A client sends `?filters={"label":["a=b"],"dangling":["true"]}` (or the
//! older map spelling `{"label":{"a=b":true}}`). Each endpoint accepts a
//! fixed set of keys; any other key is an invalid parameter, `invalid filter 'x'`, never
//! silently ignored (`docker rmi $(docker images -qf dangling=true)` must
//! not see every image because a filter was dropped). Within one key the
//! values are alternatives (OR), except `label`, where every value must
//! hold (AND); different keys must all hold.
//!
//! | endpoint | keys |
//! | --- | --- |
//! | `GET /images/json` | dangling, label, reference, before, since |
//! | `GET /containers/json` | id, name, label, status, ancestor, exited, network, volume, before, since, health, is-task (refused: no swarm here) |
//! | `GET /volumes` | dangling, name, label, driver |
//! | `GET /networks` | name, id, label, driver, type, dangling |

use super::{ApiError, Container, Engine, Result};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Parsed `filters`: key -> values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

fn invalid(key: &str, value: Option<&str>) -> ApiError {
    match value {
        Some(v) => ApiError::bad(format!("invalid filter '{key}={v}'")),
        None => ApiError::bad(format!("invalid filter '{key}'")),
    }
}

impl Filters {
    /// From the `filters` query parameter (absent or empty: no filter).
    pub fn from_query(q: &HashMap<String, String>) -> Result<Filters> {
        match q.get("filters") {
            Some(raw) if !raw.is_empty() => Self::parse(raw),
            _ => Ok(Filters::default()),
        }
    }

    /// From the JSON text of `filters`.
    pub fn parse(raw: &str) -> Result<Filters> {
        let v: Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::bad(format!("invalid filter: {}", crate::errors::chain(&e))))?;
        let Some(m) = v.as_object() else {
            return Err(ApiError::bad(format!(
                "invalid filter: expected a JSON object, got {raw}"
            )));
        };
        let mut out = BTreeMap::new();
        for (k, vals) in m {
            let list: Vec<String> = match vals {
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(String::from).ok_or_else(|| invalid(k, None)))
                    .collect::<Result<_>>()?,
                Value::Object(o) => o.keys().cloned().collect(),
                _ => return Err(invalid(k, None)),
            };
            out.insert(k.clone(), list);
        }
        Ok(Filters(out))
    }

    /// One filter, for tests and callers building them.
    pub fn with(mut self, key: &str, value: &str) -> Filters {
        self.0
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
        self
    }

    /// Refuses keys outside `accepted` (Docker's `invalid filter 'x'`).
    pub fn accept(&self, accepted: &[&str]) -> Result<()> {
        match self.0.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(invalid(k, None)),
            None => Ok(()),
        }
    }

    /// The values of `key` (none: the key is absent).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.0.get(key).map(Vec::as_slice)
    }

    /// A boolean filter (`true`/`1`, `false`/`0`); another value is refused.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        let Some(vals) = self.get(key) else {
            return Ok(None);
        };
        let mut out = None;
        for v in vals {
            let b = match v.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(invalid(key, Some(v))),
            };
            out = Some(out.unwrap_or(false) || b);
        }
        Ok(out)
    }

    /// Does some value of `key` hold for `pred`? (Absent key: yes.)
    pub fn any(&self, key: &str, pred: impl Fn(&str) -> bool) -> bool {
        self.get(key)
            .is_none_or(|vals| vals.iter().any(|v| pred(v)))
    }

    /// Every `label` filter (`k` or `k=v`) holds for these labels.
    pub fn labels_match(&self, labels: &Value) -> bool {
        self.get("label").is_none_or(|vals| {
            vals.iter().all(|l| {
                let (k, want) = l
                    .split_once('=')
                    .map_or((l.as_str(), None), |(k, v)| (k, Some(v)));
                match labels.get(k).and_then(Value::as_str) {
                    Some(have) => want.is_none_or(|w| w == have),
                    None => false,
                }
            })
        })
    }
}

/// Go's `path.Match` for reference patterns: `*` is any run of characters
/// but `/`, `?` one character but `/`, `[…]` a class; the rest is literal.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => {
                (0..=n.len()).any(|i| n[..i].iter().all(|c| *c != '/') && go(rest, &n[i..]))
            }
            Some(('?', rest)) => n.first().is_some_and(|c| *c != '/') && go(rest, &n[1..]),
            Some(('[', rest)) => {
                let Some(end) = rest.iter().position(|c| *c == ']') else {
                    return false;
                };
                let (class, after) = (&rest[..end], &rest[end + 1..]);
                let (neg, class) = match class.first() {
                    Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let Some(c) = n.first() else { return false };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= *c && *c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == *c;
                        i += 1;
                    }
                }
                hit != neg && go(after, &n[1..])
            }
            Some(('\\', rest)) if !rest.is_empty() => {
                n.first() == Some(&rest[0]) && go(&rest[1..], &n[1..])
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Docker's `reference` filter: the pattern matches the familiar name
/// (`busybox`) or the name with its tag (`busybox:1.36`).
pub fn reference_matches(pattern: &str, tag: &str) -> bool {
    let name = match tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => n,
        _ => tag,
    };
    glob_match(pattern, tag) || glob_match(pattern, name)
}

const CONTAINER_STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

impl Engine {
    /// `GET /containers/json?all=&filters=`: the summaries, newest first,
    /// serialized (a JSON array).
    pub fn list_containers(&self, all: bool, f: &Filters) -> Result<Vec<u8>> {
        f.accept(&[
            "id", "name", "label", "status", "ancestor", "exited", "network", "volume", "before",
            "since", "is-task", "health",
        ])?;
        for s in f.get("health").unwrap_or_default() {
            if !["starting", "healthy", "unhealthy", "none"].contains(&s.as_str()) {
                return Err(ApiError::bad(format!(
                    "Unrecognised filter value for health: {s}"
                )));
            }
        }
        if f.get("is-task").is_some() {
            return Err(ApiError::bad(
                "invalid filter 'is-task': this daemon is not part of a swarm and runs no tasks"
                    .to_string(),
            ));
        }
        for s in f.get("status").unwrap_or_default() {
            if !CONTAINER_STATES.contains(&s.as_str()) {
                return Err(ApiError::bad(format!(
                    "Unrecognised filter value for status: {s}"
                )));
            }
        }
        let mut exited = Vec::new();
        for v in f.get("exited").unwrap_or_default() {
            exited.push(v.parse::<i64>().map_err(|_| invalid("exited", Some(v)))?);
        }
        // `before`/`since` name a container; the list is cut at it. Both
        // are looked up before the containers' lock is taken.
        let created_of = |key: &str| -> Result<Option<i64>> {
            match f.get(key).and_then(|v| v.first()) {
                Some(r) => Ok(Some(self.find(r)?.created)),
                None => Ok(None),
            }
        };
        let before = created_of("before")?;
        let since = created_of("since")?;
        // `ancestor` names an image: its id, and those of images built on it.
        // The lineage file is read only when that filter is given.
        let ancestors: Option<Vec<String>> = f.get("ancestor").map(|vals| {
            vals.iter()
                .filter_map(|a| self.images.resolve(a).ok())
                .map(|i| i.config_digest.to_string())
                .collect()
        });
        let made = match ancestors {
            Some(_) => super::lineage::all(self.images.store.root()),
            None => Default::default(),
        };
        let descends = |id: &str, from: &str| {
            let mut cur = id.to_string();
            for _ in 0..1000 {
                if cur == from {
                    return true;
                }
                match made.get(&cur) {
                    Some(m) if !m.parent.is_empty() => cur = m.parent.clone(),
                    _ => return false,
                }
            }
            false
        };
        let all = all
            || f.get("status").is_some()
            || !exited.is_empty()
            || before.is_some()
            || since.is_some();
        let labels = f.get("label").is_some();
        // Filter the records in place, under the lock, and answer from the
        // summaries kept beside them ([`super::summaries`]): no record (with
        // its Config and HostConfig) is cloned and no summary rebuilt, so a
        // container costs a few comparisons and a copy of its kept JSON
        // (issue 25: `ps` flat from 10 to 500 containers).
        let keep = |c: &Container| {
            let health = c
                .state
                .health
                .as_ref()
                .map_or("none", |h| h.status.as_str());
            (all || c.state.shown_running())
                && f.any("status", |s| s == c.state.status)
                && f.any("health", |s| s == health)
                && f.any("id", |s| c.id.starts_with(s))
                && f.any("name", |s| c.name.contains(s.trim_start_matches('/')))
                && (!labels
                    || f.labels_match(&serde_json::to_value(&c.config.labels).unwrap_or_default()))
                && (exited.is_empty()
                    || (c.state.status == "exited" && exited.contains(&c.state.exit_code)))
                && f.any("network", |n| {
                    c.network_mode() == n || c.endpoints.contains_key(n)
                })
                && f.any("volume", |v| {
                    c.mounts
                        .iter()
                        .any(|m| (!m.name.is_empty() && m.name == v) || m.destination == v)
                })
                && before.is_none_or(|t| c.created < t)
                && since.is_none_or(|t| c.created > t)
                && ancestors
                    .as_ref()
                    .is_none_or(|a| a.iter().any(|a| descends(&c.image_id, a)))
        };
        Ok(self.lock().summaries_json(keep, super::util::now_nanos()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_parse_and_unknown_keys_are_refused() {
        let a = Filters::parse(r#"{"label":["a=b"],"dangling":{"true":true}}"#).unwrap();
        assert_eq!(a.get("label").unwrap(), ["a=b"]);
        assert_eq!(a.bool("dangling").unwrap(), Some(true));
        let e = a.accept(&["label"]).unwrap_err();
        assert_eq!(e.message, "invalid filter 'dangling'");
        let e = Filters::default()
            .with("dangling", "maybe")
            .bool("dangling")
            .unwrap_err();
        assert_eq!(e.message, "invalid filter 'dangling=maybe'");
        assert!(Filters::parse("nope").is_err());
    }

    #[test]
    fn labels_all_hold() {
        let l = json!({"a": "1", "b": "2"});
        let f = Filters::default().with("label", "a").with("label", "b=2");
        assert!(f.labels_match(&l));
        assert!(!f.clone().with("label", "c").labels_match(&l));
        assert!(!Filters::default().with("label", "a=2").labels_match(&l));
        assert!(!Filters::default()
            .with("label", "a")
            .labels_match(&json!(null)));
    }

    #[test]
    fn references_match_like_go_path_match() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busybox:1.*", "busybox:1.36"));
        assert!(reference_matches("bu*", "busybox:1.36"));
        assert!(!reference_matches("bu*", "library/busybox:1"));
        assert!(reference_matches("*/app", "someone/app:v1"));
        assert!(reference_matches("app:v[0-9]", "app:v1"));
        assert!(!reference_matches("app", "apple:latest"));
    }
}
