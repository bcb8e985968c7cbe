//! A container's life in the daemon, as a state machine, and the events its
//! transitions emit.
//!
//! ```text
//!    create
//!      │
//!      ▼        start                die
//!   created ──────────▶ running ───────────────▶ exited
//!                       │     ▲                  │   ▲
//!                 pause │     │ unpause  backoff │   │ stop
//!                       ▼     │                  ▼   │
//!                       paused                 restarting ── start ──▶ running
//!
//!   exited ── start ──▶ running            paused ── die ──▶ exited
//!   created, exited, dead ── remove ──▶ removing ── destroy ──▶ (gone)
//! ```
//!
//! A `restarting` container waits for its policy's next start: dockerd
//! shows it `Running` with no pid, refuses `rm` of it without `-f` ("You
//! cannot remove a restarting container …"), and `rm -f` first cancels the
//! restart (`stop`: `exited`).
//!
//! `kill`, `stop`, `oom` and `restart` leave the status as it is: the `die`
//! that follows is what ends a run (a `stop` of a restarting container
//! cancels the restart: `exited`).
//!
//! These are Docker's seven statuses (`State.Status` in `docker inspect`,
//! the `status` filter of `docker ps`). Every verb the daemon is asked for,
//! and every event the shim reports (a `die`, an `oom`), is an [`Action`].
//! One pure function, [`transition`], says whether the action is allowed in
//! the current status and what the status becomes; when it is not allowed,
//! the [`Refusal`] carries the message dockerd gives for the same request
//! (`docker pause` of a stopped container: "Container … is not running").
//! The engine asks it before it acts and records its answer, so the rules
//! are in one table (the unit test below prints it whole), as in runc's
//! `libcontainer` and in `mini-runc`'s own `state.rs`.
//!
//! A transition that happened is an [`Event`], named as Docker's events API
//! names it (`create`, `start`, `kill`, `die`, `stop`, `destroy`, …), sent on
//! an [`EventBus`]: a broadcast channel for live listeners and a bounded ring
//! of the recent ones, for `GET /events?since=`.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Docker's container statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started.
    #[default]
    Created,
    /// Its process runs.
    Running,
    /// Its process is frozen (the freezer cgroup); still counts as running.
    Paused,
    /// It exited, and its restart policy starts it again after a delay.
    Restarting,
    /// `rm` is releasing what it holds.
    Removing,
    /// It ran and exited (or was stopped).
    Exited,
    /// A removal failed half way (Docker's; this daemon never enters it).
    Dead,
}

/// What can happen to a container: a user's verb or the shim's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `docker start` (and a policy's restart when the delay is over).
    Start,
    /// `docker kill` (also the first step of `stop` and `rm -f`).
    Kill,
    /// `docker stop`: asked of a running container, it ends in `exited`.
    Stop,
    /// `docker pause`.
    Pause,
    /// `docker unpause`.
    Unpause,
    /// `docker restart`, once the container runs again.
    Restart,
    /// The shim reports that the kernel's OOM killer struck.
    Oom,
    /// The shim reports that the process exited.
    Die,
    /// The restart policy will start it again after a delay.
    Backoff,
    /// `docker rm` begins.
    Remove,
    /// `docker rm` finished: the record is gone.
    Destroy,
}

/// Why an action is refused, with Docker's words for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing to do (HTTP 304): start of a running container, stop of a
    /// stopped one.
    NotModified,
    /// "Container … is not running".
    NotRunning,
    /// "Cannot kill container: …: Container … is not running" (dockerd
    /// wraps the kill's reason).
    KillNotRunning,
    /// "Container … is already paused".
    AlreadyPaused,
    /// "Container … is not paused".
    NotPaused,
    /// "Container … is restarting, wait until the container is running".
    Restarting,
    /// "cannot start a paused container, try unpause instead".
    StartPaused,
    /// "container is marked for removal and cannot be started".
    MarkedForRemoval,
    /// "You cannot remove a running container …".
    RemoveRunning,
    /// "You cannot remove a paused container …".
    RemovePaused,
    /// "You cannot remove a restarting container …".
    RemoveRestarting,
    /// "removal of container … is already in progress".
    RemovalInProgress,
    /// Not a request anyone can make: an event that cannot happen in this
    /// status (a `die` of a container that is not running).
    Impossible,
}

impl Refusal {
    /// Docker's message for container `id`.
    pub fn message(self, id: &str) -> String {
        match self {
            Refusal::NotModified => String::new(),
            Refusal::NotRunning => format!("Container {id} is not running"),
            Refusal::KillNotRunning => {
                format!("Cannot kill container: {id}: Container {id} is not running")
            }
            Refusal::AlreadyPaused => format!("Container {id} is already paused"),
            Refusal::NotPaused => format!("Container {id} is not paused"),
            Refusal::Restarting => {
                format!("Container {id} is restarting, wait until the container is running")
            }
            Refusal::StartPaused => "cannot start a paused container, try unpause instead".into(),
            Refusal::MarkedForRemoval => {
                "container is marked for removal and cannot be started".into()
            }
            Refusal::RemoveRestarting => format!(
                "You cannot remove a restarting container {id}. Stop the container before attempting removal or force remove"
            ),
            Refusal::RemoveRunning => format!(
                "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
            ),
            Refusal::RemovePaused => format!(
                "You cannot remove a paused container {id}. Unpause and then stop the container before attempting removal or force remove"
            ),
            Refusal::RemovalInProgress => {
                format!("removal of container {id} is already in progress")
            }
            Refusal::Impossible => format!("container {id}: this cannot happen in its status"),
        }
    }

    /// The API error for container `id`: 304, or 409 with Docker's message.
    pub fn to_api(self, id: &str) -> ApiError {
        match self {
            Refusal::NotModified => ApiError::not_modified(),
            Refusal::Impossible => ApiError::internal(self.message(id)),
            _ => ApiError::conflict(self.message(id)),
        }
    }
}

/// Whether `action` is allowed in `status`, and the status it leads to.
///
/// Kill, oom and restart leave the status as it is: the `die` the shim
/// reports later is what ends a run. Stop, asked of a running container,
/// also stays until that `die`; asked of a restarting one, it cancels the
/// pending restart.
pub fn transition(status: Status, action: Action) -> Result<Status, Refusal> {
    use Action as A;
    use Refusal as R;
    use Status as S;
    match (action, status) {
        (A::Start, S::Created | S::Exited | S::Restarting) => Ok(S::Running),
        (A::Start, S::Running) => Err(R::NotModified),
        (A::Start, S::Paused) => Err(R::StartPaused),
        (A::Start, S::Removing | S::Dead) => Err(R::MarkedForRemoval),

        (A::Kill | A::Oom, S::Running | S::Paused) => Ok(status),
        (A::Kill, _) => Err(R::KillNotRunning),
        (A::Oom, _) => Err(R::Impossible),

        (A::Stop, S::Running | S::Paused) => Ok(status),
        (A::Stop, S::Restarting) => Ok(S::Exited),
        (A::Stop, S::Created | S::Exited | S::Removing | S::Dead) => Err(R::NotModified),

        (A::Pause, S::Running) => Ok(S::Paused),
        (A::Pause, S::Paused) => Err(R::AlreadyPaused),
        (A::Pause, S::Restarting) => Err(R::Restarting),
        (A::Pause, _) => Err(R::NotRunning),

        (A::Unpause, S::Paused) => Ok(S::Running),
        (A::Unpause, _) => Err(R::NotPaused),

        (A::Restart, S::Running) => Ok(S::Running),
        (A::Restart, _) => Err(R::NotRunning),

        (A::Die, S::Running | S::Paused) => Ok(S::Exited),
        (A::Die, _) => Err(R::Impossible),

        (A::Backoff, S::Exited) => Ok(S::Restarting),
        (A::Backoff, _) => Err(R::Impossible),

        (A::Remove, S::Created | S::Exited | S::Dead) => Ok(S::Removing),
        (A::Remove, S::Restarting) => Err(R::RemoveRestarting),
        (A::Remove, S::Running) => Err(R::RemoveRunning),
        (A::Remove, S::Paused) => Err(R::RemovePaused),
        (A::Remove, S::Removing) => Err(R::RemovalInProgress),

        (A::Destroy, S::Removing) => Ok(S::Removing),
        (A::Destroy, _) => Err(R::Impossible),
    }
}

impl Status {
    /// Every status, in Docker's order.
    pub const ALL: [Status; 7] = [
        Status::Created,
        Status::Running,
        Status::Paused,
        Status::Restarting,
        Status::Removing,
        Status::Exited,
        Status::Dead,
    ];

    /// The lowercase name, as `docker inspect` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether its process exists (`State.Running`: paused counts).
    pub fn is_running(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Status> for &str {
    fn eq(&self, other: &Status) -> bool {
        *self == other.as_str()
    }
}

impl Action {
    /// Every action, in the order of the table.
    pub const ALL: [Action; 11] = [
        Action::Start,
        Action::Kill,
        Action::Stop,
        Action::Pause,
        Action::Unpause,
        Action::Restart,
        Action::Oom,
        Action::Die,
        Action::Backoff,
        Action::Remove,
        Action::Destroy,
    ];

    /// The event's name in Docker's events API; none for the steps Docker
    /// does not report (the start of a removal, a policy's delay).
    pub fn event(self) -> Option<&'static str> {
        Some(match self {
            Action::Start => "start",
            Action::Kill => "kill",
            Action::Stop => "stop",
            Action::Pause => "pause",
            Action::Unpause => "unpause",
            Action::Restart => "restart",
            Action::Oom => "oom",
            Action::Die => "die",
            Action::Destroy => "destroy",
            Action::Backoff | Action::Remove => return None,
        })
    }
}

/// The actor of an event: the container, with its attributes (`image`,
/// `name`, the labels, and per action `exitCode` or `signal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The container id, the image id or reference, the network id, the
    /// volume name.
    #[serde(rename = "ID")]
    pub id: String,
    /// What the event says about it.
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One event, as `GET /events` sends it (Engine API v1.41's `EventMessage`,
/// with the older `status`/`id`/`from` fields the 20.10 CLI still reads;
/// dockerd fills them for container and image events only, and omits them
/// when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The action (old field).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The container or image id (old field).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The container's image (old field).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `container`, `image`, `network`, `volume` or `daemon`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `kill`, `die`, `stop`, `destroy`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// The container and its attributes.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// `local`.
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event of type `kind` (`image`, `network`, `volume`, …) about
    /// `actor_id`, stamped `time_nano`. The old `status`/`id` fields are
    /// filled for images and containers, as dockerd does.
    pub fn new(
        kind: &str,
        action: &str,
        actor_id: &str,
        attributes: BTreeMap<String, String>,
        time_nano: i64,
    ) -> Event {
        let old = matches!(kind, "container" | "image");
        let old_field = |v: &str| if old { v.to_string() } else { String::new() };
        Event {
            status: old_field(action),
            id: old_field(actor_id),
            from: String::new(),
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: actor_id.into(),
                attributes,
            },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }

    /// A container event: `attributes` gets `image` and `name` added.
    pub fn container(
        action: &str,
        id: &str,
        image: &str,
        name: &str,
        mut attributes: BTreeMap<String, String>,
        time_nano: i64,
    ) -> Event {
        attributes.insert("image".into(), image.into());
        attributes.insert("name".into(), name.into());
        let mut e = Event::new("container", action, id, attributes, time_nano);
        e.from = image.into();
        e
    }
}

/// The `filters` of `GET /events`, as dockerd evaluates them
/// (`daemon/events/filter.go`). Every key must hold (AND); within a key the
/// values are alternatives (OR), except `label`, where all must hold.
///
/// | key | holds when |
/// | --- | --- |
/// | `type` | the type is one of the values |
/// | `event` | the action is one of them (`health_status`, `exec_create` and `exec_start` also match as prefixes: `health_status: healthy`) |
/// | `container`, `network`, `volume`, `daemon`, … | the actor's ID or its `name` attribute starts with a value |
/// | `image` | the actor's ID, or its `image` (container) or `name` (image) attribute, with or without its tag, is a value |
/// | `label` | every `k` or `k=v` is among the attributes |
/// | `scope` | the scope (`local`) is a value |
#[derive(Debug, Clone, Default)]
pub struct EventFilter(crate::filters::Filters);

/// The keys `GET /events` accepts; any other is a 400.
pub const EVENT_FILTERS: [&str; 14] = [
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// The keys that match by name prefix (dockerd's `fuzzyMatchName`).
const BY_NAME: [&str; 9] = [
    "config",
    "container",
    "daemon",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "volume",
];

impl EventFilter {
    /// Checks the keys (an unknown one is Docker's `invalid filter 'x'`).
    pub fn new(f: crate::filters::Filters) -> Result<EventFilter, ApiError> {
        f.accept(&EVENT_FILTERS)?;
        Ok(EventFilter(f))
    }

    /// Whether `e` passes every filter.
    pub fn matches(&self, e: &Event) -> bool {
        let f = &self.0;
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        let fuzzy_action = f.get("event").is_some_and(|vals| {
            vals.iter()
                .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"))
        });
        let event_ok = f.any("event", |v| {
            v == e.action || (fuzzy_action && e.action.starts_with(v))
        });
        let by_name = BY_NAME.iter().all(|key| {
            f.any(key, |v| {
                e.actor.id.starts_with(v) || attr("name").is_some_and(|n| n.starts_with(v))
            })
        });
        let name = attr(if e.kind == "image" { "name" } else { "image" }).unwrap_or("");
        let image_ok = f.any("image", |v| {
            [e.actor.id.as_str(), name]
                .iter()
                .any(|s| *s == v || strip_tag(s) == v)
        });
        let labels = serde_json::to_value(&e.actor.attributes).unwrap_or_default();
        event_ok
            && f.any("type", |v| v == e.kind)
            && f.any("scope", |v| v == e.scope)
            && by_name
            && image_ok
            && f.labels_match(&labels)
    }
}

/// `busybox:1.36` -> `busybox` (a registry's port is not a tag).
pub(crate) fn strip_tag(r: &str) -> &str {
    let r = r.split('@').next().unwrap_or(r);
    match r.rfind(':') {
        Some(i) if !r[i..].contains('/') => &r[..i],
        _ => r,
    }
}

/// How many past events the bus keeps for `since` (dockerd keeps 256).
pub const RECENT: usize = 256;

/// Where events go: live subscribers, and a ring of the recent ones.
pub struct EventBus {
    tx: tokio::sync::broadcast::Sender<Event>,
    recent: Mutex<VecDeque<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: tokio::sync::broadcast::channel(RECENT).0,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
        }
    }
}

impl EventBus {
    /// Sends `e` to every subscriber and keeps it in the ring. Both happen
    /// under the ring's lock, so that [`EventBus::subscribe_since`] sees
    /// each event exactly once: in the ring or on the channel.
    pub fn emit(&self, e: Event) {
        let Ok(mut r) = self.recent.lock() else {
            return;
        };
        if r.len() == RECENT {
            r.pop_front();
        }
        r.push_back(e.clone());
        // No subscriber is no error.
        let _ = self.tx.send(e);
    }

    /// A live stream of the events from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// The kept events at or after `since_nano` (nanoseconds), oldest first.
    pub fn since(&self, since_nano: i64) -> Vec<Event> {
        self.past(Some(since_nano), None)
    }

    /// The kept events between `since` and `until` (nanoseconds, both
    /// included, either open), oldest first. With neither, none: dockerd
    /// replays the past only when asked for a window.
    pub fn past(&self, since: Option<i64>, until: Option<i64>) -> Vec<Event> {
        match self.recent.lock() {
            Ok(r) => window(&r, since, until),
            Err(_) => Vec::new(),
        }
    }

    /// The kept events of the window, and a live stream of the later ones,
    /// taken together: none is lost or sent twice between the two.
    pub fn subscribe_since(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> (Vec<Event>, tokio::sync::broadcast::Receiver<Event>) {
        match self.recent.lock() {
            Ok(r) => (window(&r, since, until), self.tx.subscribe()),
            Err(_) => (Vec::new(), self.tx.subscribe()),
        }
    }
}

fn window(r: &VecDeque<Event>, since: Option<i64>, until: Option<i64>) -> Vec<Event> {
    if since.is_none() && until.is_none() {
        return Vec::new();
    }
    r.iter()
        .filter(|e| since.is_none_or(|s| e.time_nano >= s))
        .filter(|e| until.is_none_or(|u| e.time_nano <= u))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status × action pair: the status it leads to, or the refusal
    /// (with its HTTP status and Docker's message for container `C`).
    #[test]
    fn transitions_as_a_table() {
        let mut out = String::new();
        for s in Status::ALL {
            for a in Action::ALL {
                let answer = match transition(s, a) {
                    Ok(next) => format!("-> {next}"),
                    Err(r) => {
                        let code = crate::api::status_of(r.to_api("C").kind);
                        let text = Some(r.message("C")).filter(|m| !m.is_empty());
                        let text = text.unwrap_or_else(|| "(no body)".into());
                        format!("{} {text}", code.as_u16())
                    }
                };
                out.push_str(&format!(
                    "{:<10} {:<8} {answer}\n",
                    s.as_str(),
                    format!("{a:?}")
                ));
            }
        }
        insta::assert_snapshot!(out);
    }

    /// The engine's steps for `docker run -d`, `stop`, `start`, `kill` and
    /// `rm` walk the machine and emit dockerd's events, in dockerd's order.
    /// The reference is what a real dockerd 20.10 emitted for the same
    /// commands (`docker events --since … --until …`, recorded by
    /// `tests/tests/engine_events.rs`, which also checks this daemon's).
    #[test]
    fn a_lifecycle_emits_dockers_event_sequence() {
        const DOCKERD: [&str; 9] = [
            "create", "start", "kill", "die", "stop", "start", "kill", "die", "destroy",
        ];
        fn step(status: &mut Status, events: &mut Vec<&str>, a: Action) {
            *status = transition(*status, a).unwrap_or_else(|r| panic!("{a:?}: {r:?}"));
            events.extend(a.event());
        }
        let (mut s, mut events) = (Status::Created, vec!["create"]);
        step(&mut s, &mut events, Action::Start); // run -d
                                                  // stop: allowed while running; its event comes once the process died.
        assert_eq!(transition(s, Action::Stop), Ok(Status::Running));
        step(&mut s, &mut events, Action::Kill);
        step(&mut s, &mut events, Action::Die);
        events.extend(Action::Stop.event());
        step(&mut s, &mut events, Action::Start); // start
        step(&mut s, &mut events, Action::Kill); // kill
        step(&mut s, &mut events, Action::Die);
        step(&mut s, &mut events, Action::Remove); // rm
        step(&mut s, &mut events, Action::Destroy);
        assert_eq!(events, DOCKERD);
    }

    #[test]
    fn status_reads_and_writes_as_dockers_text() {
        for s in Status::ALL {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, serde_json::json!(s.as_str()));
            assert_eq!(serde_json::from_value::<Status>(json).unwrap(), s);
            assert!(s == s.as_str() && s.as_str() == s);
        }
    }

    /// dockerd's rules, one per key (`daemon/events/filter.go`).
    #[test]
    fn event_filters_match_as_dockerds() {
        let mut labels = BTreeMap::new();
        labels.insert("team".to_string(), "a".to_string());
        let c = Event::container("die", "abc123", "busybox:1.36", "web", labels, 1);
        let img = Event::new(
            "image",
            "tag",
            "sha256:f00",
            BTreeMap::from([("name".to_string(), "busybox:2".to_string())]),
            1,
        );
        let health = Event::container(
            "health_status: healthy",
            "abc123",
            "bb",
            "web",
            BTreeMap::new(),
            1,
        );
        let f =
            |json: &str| EventFilter::new(crate::filters::Filters::parse(json).unwrap()).unwrap();
        let cases: &[(&str, &Event, bool)] = &[
            (r#"{"type":["container"]}"#, &c, true),
            (r#"{"type":["image"]}"#, &c, false),
            (r#"{"event":["die","stop"]}"#, &c, true),
            (r#"{"event":["di"]}"#, &c, false),
            (r#"{"event":["health_status"]}"#, &health, true),
            (r#"{"container":["we"]}"#, &c, true),
            (r#"{"container":["abc"]}"#, &c, true),
            (r#"{"container":["db"]}"#, &c, false),
            (r#"{"image":["busybox"]}"#, &c, true),
            (r#"{"image":["busybox:1.36"]}"#, &c, true),
            (r#"{"image":["busy"]}"#, &c, false),
            (r#"{"image":["busybox"]}"#, &img, true),
            (r#"{"image":["sha256:f00"]}"#, &img, true),
            (r#"{"label":["team"]}"#, &c, true),
            (r#"{"label":["team=a","name=web"]}"#, &c, true),
            (r#"{"label":["team=b"]}"#, &c, false),
            (r#"{"network":["x"]}"#, &c, false),
            (r#"{"scope":["local"]}"#, &c, true),
            (
                r#"{"type":{"container":true},"event":{"die":true}}"#,
                &c,
                true,
            ),
        ];
        for (json, ev, want) in cases {
            assert_eq!(
                f(json).matches(ev),
                *want,
                "{json} on {} {}",
                ev.kind,
                ev.action
            );
        }
        let unknown =
            EventFilter::new(crate::filters::Filters::parse(r#"{"colour":["red"]}"#).unwrap());
        assert_eq!(unknown.unwrap_err().message, "invalid filter 'colour'");
    }

    #[test]
    fn the_bus_replays_a_window() {
        let bus = EventBus::default();
        for t in 1..=5 {
            bus.emit(Event::container("start", "x", "i", "n", BTreeMap::new(), t));
        }
        let times = |v: Vec<Event>| v.iter().map(|e| e.time_nano).collect::<Vec<_>>();
        assert_eq!(times(bus.past(None, None)), Vec::<i64>::new());
        assert_eq!(times(bus.past(Some(2), Some(4))), [2, 3, 4]);
        assert_eq!(times(bus.past(None, Some(2))), [1, 2]);
        let (past, mut live) = bus.subscribe_since(Some(5), None);
        assert_eq!(times(past), [5]);
        bus.emit(Event::new("network", "create", "n1", BTreeMap::new(), 6));
        let next = live.try_recv().unwrap();
        let json = serde_json::to_value(&next).unwrap();
        // dockerd leaves the old fields out for a network.
        assert!(
            json.get("status").is_none() && json.get("id").is_none(),
            "{json}"
        );
    }

    #[test]
    fn the_bus_keeps_a_bounded_ring() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        let event = |t| Event::container("start", "x", "img", "n", BTreeMap::new(), t);
        bus.emit(event(0));
        let got = rx.try_recv().unwrap();
        assert_eq!((got.action.as_str(), got.from.as_str()), ("start", "img"));
        for t in 1..(RECENT as i64 + 10) {
            bus.emit(event(t));
        }
        assert_eq!(bus.since(0).len(), RECENT);
        assert_eq!(bus.since(0)[0].time_nano, 10);
        assert_eq!(bus.since(RECENT as i64 + 5).len(), 5);
    }
}
