//! `POST /commit`: a container's read-write layer burnt into a new image.
//!
//! ```text
//! image layers ─┐                                   ┌─ image layers
//!               ├─ container (rw layer) ──diff──▶   ├─ + the rw layer's diff (chapter 03)
//!               │                                   └─ config: the container's, with --change applied
//! ```
//!
//! The new config starts from the container's (its Env, Cmd, Entrypoint,
//! WorkingDir, User, ports, labels, volumes: what `docker run` gave it),
//! then the body's config (the API's `ContainerConfig`), then each
//! `changes` line, a Dockerfile instruction (`CMD ["x"]`, `ENV A=1`).
//! The history gets one entry: the container's command, and the comment.

use super::builder::{self, Current};
use super::{ApiError, Engine, Result};
use crate::build::dockerfile::{self, Cmd};
use serde_json::{json, Value};
use std::sync::Arc;

/// The instructions `--change` accepts (Docker's list, less ONBUILD).
const CHANGEABLE: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// The keys of a container's `Config` that become the image's.
const KEYS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Volumes",
    "StopSignal",
    "Healthcheck",
];

/// What a commit needs, from the query.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `container`.
    pub container: String,
    /// `repo` (may be empty: an untagged image).
    pub repo: String,
    /// `tag`.
    pub tag: String,
    /// `comment`.
    pub comment: String,
    /// `author`.
    pub author: String,
    /// `changes` (repeatable; each may hold several lines).
    pub changes: Vec<String>,
}

impl CommitOptions {
    /// From the raw query (`changes` may repeat).
    pub fn from_query(raw: &str) -> CommitOptions {
        let mut o = CommitOptions::default();
        for kv in raw.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = super::api::percent_decode(v);
            match k {
                "container" => o.container = v,
                "repo" => o.repo = v,
                "tag" => o.tag = v,
                "comment" => o.comment = v,
                "author" => o.author = v,
                "changes" if !v.is_empty() => o.changes.push(v),
                _ => {}
            }
        }
        o
    }
}

/// Applies `--change` lines to a config document.
pub fn apply_changes(doc: &mut Value, changes: &[String]) -> Result<()> {
    let text: String = changes.iter().map(|c| format!("{c}\n")).collect();
    if text.trim().is_empty() {
        return Ok(());
    }
    // The parser wants a FROM first; it stands for the container.
    let df = dockerfile::parse("--change", &format!("FROM scratch\n{text}"))
        .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
    let shell = vec!["/bin/sh".to_string(), "-c".to_string()];
    let mut cmd_set = true;
    for ins in df.instructions.iter().skip(1) {
        if !CHANGEABLE.contains(&ins.name.as_str()) {
            return Err(ApiError::bad(format!(
                "{} is not a valid change command",
                ins.name
            )));
        }
        let env: Vec<(String, String)> = doc["config"]["Env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        let cmd = ins
            .expand(&df, &env)
            .map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        if matches!(cmd, Cmd::Entrypoint(_)) {
            // `--change 'ENTRYPOINT …'` keeps the container's Cmd, as Docker does.
            cmd_set = true;
        }
        builder::apply_meta(doc, &cmd, &shell, &mut cmd_set)
            .map_err(|m| ApiError::bad(format!("--change {}: {m}", ins)))?;
    }
    Ok(())
}

/// `POST /commit` (blocking): the new image id.
pub fn commit(engine: &Arc<Engine>, o: &CommitOptions, body: &[u8]) -> Result<String> {
    let c = engine.find(&o.container)?;
    if !o.repo.is_empty()
        && o.repo
            .chars()
            .any(|ch| ch.is_ascii_uppercase() || ch.is_whitespace())
    {
        return Err(ApiError::bad(format!(
            "invalid reference format: repository name must be lowercase: {}",
            o.repo
        )));
    }
    let img = engine.images.resolve(&c.image_id)?;
    let parent = Current::of(&img)?;
    let mut doc = parent.doc.clone();
    if !doc["config"].is_object() {
        doc["config"] = json!({});
    }
    let config = c.config.to_value();
    for k in KEYS {
        let had = !doc["config"][*k].is_null();
        match config.get(*k) {
            // What the engine filled in with nothing to say (`{}`, `""`, the
            // default `/`) stays out unless the image had the key.
            Some(v)
                if !had
                    && (v == &json!({})
                        || v == &json!("")
                        || (*k == "WorkingDir" && v == &json!("/"))) => {}
            Some(v) if !v.is_null() => doc["config"][*k] = v.clone(),
            _ => {}
        }
    }
    // The engine adds the default PATH to a container whose image has
    // none (Docker does it in the runtime spec only): it is not the user's.
    let parent_has_path = parent.doc["config"]["Env"].as_array().is_some_and(|a| {
        a.iter()
            .any(|e| e.as_str().is_some_and(|e| e.starts_with("PATH=")))
    });
    if !parent_has_path {
        let engine_path = format!("PATH={}", ::images::runtime::DEFAULT_PATH);
        if let Some(env) = doc["config"]["Env"].as_array_mut() {
            env.retain(|e| e.as_str() != Some(engine_path.as_str()));
        }
    }
    // The body's config, when one was sent, wins.
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
        for (k, v) in m {
            if KEYS.contains(&k.as_str()) && !v.is_null() {
                doc["config"][k] = v;
            }
        }
    }
    apply_changes(&mut doc, &o.changes)?;
    if !o.author.is_empty() {
        doc["author"] = json!(o.author);
    }
    let driver = engine.images.driver();
    let layer = super::buildfs::diff_to_layer(engine, driver.as_ref(), &c.layer, true)?;
    let created_by = std::iter::once(c.path.clone())
        .chain(c.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut history = json!({ "created_by": created_by });
    if !o.comment.is_empty() {
        history["comment"] = json!(o.comment);
        doc["comment"] = json!(o.comment);
    }
    if !o.author.is_empty() {
        history["author"] = json!(o.author);
    }
    let next = builder::commit_step(engine, &parent, doc, layer.as_ref(), history)?;
    if !o.repo.is_empty() {
        engine.images.tag(&next.id, &o.repo, &o.tag)?;
    }
    Ok(next.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_edit_the_config_like_a_dockerfile() {
        let mut doc = json!({"config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}});
        apply_changes(
            &mut doc,
            &[
                "CMD [\"x\"]".into(),
                "ENV A=1 B=$PATH:/x\nEXPOSE 80".into(),
                "WORKDIR /app".into(),
                "LABEL k=v".into(),
            ],
        )
        .unwrap();
        insta::assert_snapshot!(serde_json::to_string_pretty(&doc).unwrap());
        let e = apply_changes(&mut doc, &["RUN true".into()]).unwrap_err();
        assert_eq!(e.message, "RUN is not a valid change command");
        let e = apply_changes(&mut doc, &["WORKDIR /proc/self/fd/3".into()]).unwrap_err();
        assert!(e.message.contains("/proc/self/fd/3"), "{}", e.message);
    }
}
