//! `pull` and `push` through chapter 06's registry client, with Docker's
//! JSON progress messages.
//!
//! Chapter 06 moves the blobs (three at a time, each verified before it
//! enters chapter 04's store) and reports, once done, which blobs it
//! fetched, skipped, pushed or mounted. The daemon turns that report into
//! Docker's progress lines (`{"status":"Pull complete","id":"<layer>"}`).
//! The lines come when the transfer is over, not byte by byte: chapter 06
//! has no progress callback yet, only terminal progress bars.
//!
//! Each layer is unpacked into the layer store while it downloads, all
//! layers at once (chapter 06 hands the bytes to chapter 04's unpack as
//! they arrive; the overlay store lets a layer land before its parent),
//! and the layers are published together after one `syncfs`: the first
//! `create` finds them ready. With the copy driver they still wait for it.
//!
//! Concurrent pulls of one image download each layer once: the engine's
//! `registry` config is cloned for every pull, and its clones share chapter
//! 06's table of blobs in flight; a pull that wants a layer another pull is
//! fetching shows `Waiting`, then `Download complete` and `Pull complete`.

use super::auth::{client_for, AuthConfig};
use super::errors::chain;
use super::{ApiError, Engine};
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use registry::client::progress::{Event, Progress};
use registry::Reference;
use serde_json::{json, Value};
use std::sync::Arc;

/// Docker's 12-digit short form of a digest (chapter 04's).
fn parse_ref(image: &str, tag: &str) -> Result<Reference, ApiError> {
    let r = if tag.is_empty() {
        image.to_string()
    } else if tag.starts_with("sha256:") {
        format!("{image}@{tag}")
    } else {
        format!("{image}:{tag}")
    };
    Reference::parse(&r).map_err(|e| {
        ApiError::bad(format!(
            "invalid reference format: {}",
            crate::errors::chain(&e)
        ))
    })
}

fn registry_err(what: &str, r: &Reference, e: registry::client::ClientError) -> ApiError {
    let code = e.code().unwrap_or("");
    if matches!(code, "MANIFEST_UNKNOWN" | "NAME_UNKNOWN") {
        return ApiError::not_found(format!(
            "manifest for {} not found: manifest unknown: {}",
            r.familiar(),
            chain(&e)
        ));
    }
    if matches!(code, "UNAUTHORIZED" | "DENIED") || super::auth::is_auth_failure(&e) {
        return ApiError::not_found(format!(
            "{what} access denied for {}, repository does not exist or may require 'docker login': {}",
            r.familiar(),
            chain(&e)
        ));
    }
    ApiError::internal(format!("{what} {}: {}", r.familiar(), chain(&e)))
}

/// `POST /images/create?fromImage=&tag=`.
/// One progress event as Docker's JSON message.
fn message(ev: &Event, pulling: bool) -> Vec<Value> {
    let status_only = |s: &str| json!({"status": s, "progressDetail": {}, "id": ev.id});
    match (pulling, ev.status.as_str()) {
        (true, "Waiting") => vec![status_only("Pulling fs layer")],
        // Another pull is fetching this layer (chapter 06's `inflight`).
        (true, registry::client::inflight::WAITING_FOR_ANOTHER_PULL) => {
            vec![status_only("Waiting")]
        }
        (true, "Verifying") => vec![
            status_only("Verifying Checksum"),
            status_only("Download complete"),
        ],
        (_, "Downloading" | "Pushing") if ev.total > 0 => vec![json!({
            "status": ev.status,
            "progressDetail": {"current": ev.current, "total": ev.total},
            "progress": bar(ev.current, ev.total),
            "id": ev.id,
        })],
        (_, s) => vec![status_only(s)],
    }
}

/// Docker's progress text: `[=====>      ]  1.2MB/2.5MB` (decimal units).
pub fn bar(current: u64, total: u64) -> String {
    let width = 50u64;
    let filled = (current.min(total) * width).checked_div(total).unwrap_or(0);
    let mut b = "=".repeat(filled as usize);
    if filled < width {
        b.push('>');
        b.push_str(&" ".repeat((width - filled - 1) as usize));
    }
    let human = |n: u64| {
        let f = n as f64;
        if f >= 1e9 {
            format!("{:.3}GB", f / 1e9)
        } else if f >= 1e6 {
            format!("{:.3}MB", f / 1e6)
        } else if f >= 1e3 {
            format!("{:.3}kB", f / 1e3)
        } else {
            format!("{n}B")
        }
    };
    format!("[{b}] {:>8}/{}", human(current), human(total))
}

/// Runs a registry transfer, streaming its progress as JSON lines. An error
/// before the first message is an HTTP error (the client shows it as
/// `Error response from daemon: …`); after, an `errorDetail` line, as dockerd.
async fn stream<T, F, Fut>(
    first: Value,
    pulling: bool,
    base: &registry::ClientConfig,
    start: F,
    finish: impl FnOnce(T) -> Vec<Value> + Send + 'static,
) -> Result<Response, ApiError>
where
    T: Send + 'static,
    F: FnOnce(registry::ClientConfig) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let mut cfg = base.clone();
    let events = tx.clone();
    cfg.progress = Progress::events(Arc::new(move |ev: Event| {
        for m in message(&ev, pulling) {
            let _ = events.send(m);
        }
    }));
    let mut task = tokio::spawn(start(cfg));
    let early = tokio::select! {
        biased;
        m = rx.recv() => Err(m),
        r = &mut task => Ok(r),
    };
    let (out_tx, out_rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let line = |v: &Value| Bytes::from(format!("{v}\r\n"));
    match early {
        Ok(done) => {
            // Finished (or failed) before any progress: one answer.
            let result = done.map_err(|e| ApiError::internal(crate::errors::chain(&e)))??;
            let mut lines = vec![first];
            while let Ok(m) = rx.try_recv() {
                lines.push(m);
            }
            lines.extend(finish(result));
            let body: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
            return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
        }
        Err(m) => {
            let _ = out_tx.send(line(&first)).await;
            if let Some(m) = m {
                let _ = out_tx.send(line(&m)).await;
            }
        }
    }
    drop(tx);
    tokio::spawn(async move {
        let mut task = task;
        let result = loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => { let _ = out_tx.send(line(&m)).await; }
                    None => break (&mut task).await,
                },
                r = &mut task => {
                    while let Ok(m) = rx.try_recv() {
                        let _ = out_tx.send(line(&m)).await;
                    }
                    break r;
                }
            }
        };
        let tail = match result {
            Ok(Ok(t)) => finish(t),
            Ok(Err(e)) => vec![json!({"errorDetail": {"message": e.message}, "error": e.message})],
            Err(e) => {
                vec![json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()})]
            }
        };
        for m in tail {
            let _ = out_tx.send(line(&m)).await;
        }
    });
    let body = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// Docker's `RepoDigests` entry for image `id`: the repository it was
/// pulled from or pushed to, with the manifest digest the registry has.
fn record_repo_digest(e: &Engine, id: &str, r: &Reference, digest: &::images::Digest) {
    let pinned = Reference {
        tag: None,
        digest: Some(digest.clone()),
        ..r.clone()
    };
    if let Err(err) = e.images.add_repo_digest(id, pinned.familiar()) {
        tracing::warn!("recording the repo digest of {id}: {err}");
    }
}

/// `POST /images/create?fromImage=`: pull, with progress as it happens.
pub async fn pull(
    e: Arc<Engine>,
    image: String,
    tag: String,
    auth: Option<AuthConfig>,
) -> Result<Response, ApiError> {
    let r = parse_ref(&image, &tag)?;
    let r = if r.tag.is_none() && r.digest.is_none() {
        parse_ref(&image, "latest")?
    } else {
        r
    };
    let before = e
        .images
        .tags()
        .get(&::images::image::normalize_name(&r.familiar()))
        .cloned();
    let first = json!({
        "status": format!("Pulling from {}", r.repository),
        "id": r.tag.clone().unwrap_or_else(|| "latest".into()),
    });
    let (r2, e2, e3) = (r.clone(), e.clone(), e.clone());
    stream(
        first,
        true,
        &e.registry,
        move |mut cfg| async move {
            // Each layer is unpacked into the layer store as it downloads.
            cfg.unpack = e2.images.unpack_into(e2.opts.layer_limits());
            let c = client_for(&cfg, &r2.registry, auth.as_ref());
            c.pull(&r2, &e2.images.store)
                .await
                .map_err(|err| registry_err("pull", &r2, err))
        },
        move |report| {
            record_repo_digest(&e3, report.config_digest.as_ref(), &r, &report.digest);
            let done = if before.as_deref() == Some(report.digest.to_string().as_str()) {
                "Image is up to date for"
            } else {
                "Downloaded newer image for"
            };
            let familiar = r.familiar();
            let name = crate::state::strip_tag(&familiar);
            e3.emit_event("image", "pull", &familiar, &[("name", name)]);
            vec![
                json!({"status": format!("Digest: {}", report.digest)}),
                json!({"status": format!("Status: {done} {}", r.familiar())}),
            ]
        },
    )
    .await
}

/// `POST /images/{name}/push`, with progress as it happens.
pub async fn push(
    e: Arc<Engine>,
    name: String,
    tag: String,
    auth: Option<AuthConfig>,
) -> Result<Response, ApiError> {
    let r = parse_ref(&name, &tag)?;
    let r = if r.tag.is_none() && r.digest.is_none() {
        parse_ref(&name, "latest")?
    } else {
        r
    };
    let local = r.familiar();
    let img = e.images.resolve(&local)?;
    let (size, id) = (img.manifest_size, img.config_digest.to_string());
    let first = json!({
        "status": format!("The push refers to repository [{}/{}]", r.registry, r.repository)
    });
    let (r2, e2, e3) = (r.clone(), e.clone(), e.clone());
    stream(
        first,
        false,
        &e.registry,
        move |cfg| async move {
            let c = client_for(&cfg, &r2.registry, auth.as_ref());
            c.push(&e2.images.store, &local, &r2, None)
                .await
                .map_err(|err| registry_err("push", &r2, err))
        },
        move |report| {
            let digest = report
                .digest
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            if let Some(d) = &report.digest {
                record_repo_digest(&e3, &id, &r, d);
            }
            let tag = r.tag.clone().unwrap_or_default();
            let familiar = r.familiar();
            let name = crate::state::strip_tag(&familiar);
            e3.emit_event("image", "push", &familiar, &[("name", name)]);
            vec![
                json!({"status": format!("{tag}: digest: {digest} size: {size}")}),
                json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}}),
            ]
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_text_as_docker_draws_it() {
        assert_eq!(
            bar(1_200_000, 2_500_000),
            format!("[{}>{}]  1.200MB/2.500MB", "=".repeat(24), " ".repeat(25))
        );
        assert!(bar(10, 10).starts_with(&format!("[{}]", "=".repeat(50))));
        assert!(bar(0, 0).starts_with("[>"));
    }

    #[test]
    fn pull_events_become_dockers_messages() {
        let ev = |s: &str, c, t| Event {
            id: "abc".into(),
            status: s.into(),
            current: c,
            total: t,
        };
        assert_eq!(
            message(&ev("Waiting", 0, 10), true)[0]["status"],
            "Pulling fs layer"
        );
        let m = &message(&ev("Downloading", 5, 10), true)[0];
        assert_eq!(m["progressDetail"]["current"], 5);
        assert_eq!(m["progressDetail"]["total"], 10);
        let v = message(&ev("Verifying", 10, 10), true);
        assert_eq!(v[1]["status"], "Download complete");
        assert_eq!(
            message(&ev("Waiting", 0, 10), false)[0]["status"],
            "Waiting"
        );
        let other = registry::client::inflight::WAITING_FOR_ANOTHER_PULL;
        assert_eq!(message(&ev(other, 0, 10), true)[0]["status"], "Waiting");
    }
}
