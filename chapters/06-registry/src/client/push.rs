//! `docker push`, step by step.
//!
//! ```text
//! for each layer, then the config (5 at a time):
//!   HEAD /v2/<name>/blobs/<d>                        200: "Layer already exists", next
//!   POST /v2/<name>/blobs/uploads/?mount=<d>&from=<other>   201: "Mounted from <other>", next
//!                                                    (202: not mountable, an upload was started)
//!   POST /v2/<name>/blobs/uploads/                   202 Location: <upload URL>
//!   monolithic:  PUT <upload URL>?digest=<d>         the whole blob        -> 201
//!   chunked:     PATCH <upload URL>  Content-Range: 0-1048575             -> 202 Location, Range
//!                PATCH <new URL>     Content-Range: 1048576-2097151       -> 202 …
//!                PUT <new URL>?digest=<d>            (empty)              -> 201
//! then:
//!   PUT /v2/<name>/manifests/<tag>   Content-Type: <manifest media type>  -> 201 Docker-Content-Digest
//! ```
//!
//! The manifest goes last: a registry refuses a manifest whose blobs it
//! does not have (`MANIFEST_BLOB_UNKNOWN`), so a half-pushed image is never
//! visible under its tag.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};

use chapter04::{digest, Digest, ImageStore};

use super::{expect_status, Client, ClientError, Endpoint};
use crate::reference::Reference;
use crate::spec::CONTENT_DIGEST;

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    /// The manifest digest the registry stored.
    pub digest: Option<Digest>,
    /// Blobs uploaded.
    pub pushed: Vec<Digest>,
    /// Blobs the registry already had.
    pub skipped: Vec<Digest>,
    /// Blobs mounted from another repository.
    pub mounted: Vec<Digest>,
    /// Bytes uploaded.
    pub bytes: u64,
}

enum BlobOutcome {
    Pushed(u64),
    Skipped,
    Mounted,
}

impl Client {
    /// Push the local image `local` (a name in `store`) to `target`.
    /// `mount_from`: a repository on the same registry that may already
    /// hold the blobs (Docker remembers where it pulled each layer from).
    pub async fn push(
        &self,
        store: &ImageStore,
        local: &str,
        target: &Reference,
        mount_from: Option<&str>,
    ) -> Result<PushReport, ClientError> {
        let image = store.resolve(local, Some(&self.config.platform))?;
        let manifest_bytes = store.blobs.read_document(
            &image.manifest_digest,
            Some(image.manifest_size),
            "manifest",
        )?;
        let ep = self.endpoint(&target.registry)?;
        let progress = self.config.progress.clone();
        progress.println(&format!(
            "The push refers to repository [{}/{}]",
            target.registry, target.repository
        ));
        let mut scope = format!("repository:{}:pull,push", target.repository);
        if let Some(from) = mount_from {
            crate::spec::validate_name(from)?;
            scope.push_str(&format!(" repository:{from}:pull"));
        }
        let mut blobs: Vec<(Digest, u64)> = image
            .manifest
            .layers()
            .iter()
            .map(|l| (l.digest().clone(), l.size()))
            .collect();
        blobs.push((image.config_digest.clone(), image.manifest.config().size()));
        let sem = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (d, size) in blobs {
            let path = store.blobs.blob_path(&d)?;
            let (client, ep, sem, progress, scope) = (
                self.clone(),
                ep.clone(),
                sem.clone(),
                progress.clone(),
                scope.clone(),
            );
            let repo = target.repository.clone();
            let from = mount_from.map(str::to_string);
            // Bars appear in manifest order; blobs start in that order too.
            let pb = progress.bar(&digest::short(&d), size, "Waiting");
            let permit = sem.acquire_owned().await.expect("never closed");
            tasks.spawn(async move {
                let _permit = permit;
                pb.set_message("Preparing");
                let r = client
                    .push_blob(&ep, &scope, &repo, &d, size, path, from.as_deref(), &pb)
                    .await;
                match &r {
                    Ok(BlobOutcome::Pushed(_)) => progress.done(&pb, "Pushed"),
                    Ok(BlobOutcome::Skipped) => progress.done(&pb, "Layer already exists"),
                    Ok(BlobOutcome::Mounted) => progress.done(
                        &pb,
                        &format!("Mounted from {}", from.as_deref().unwrap_or("?")),
                    ),
                    Err(_) => progress.done(&pb, "Failed"),
                }
                r.map(|o| (d, o))
            });
        }
        let mut report = PushReport::default();
        let mut first_err = None;
        while let Some(res) = tasks.join_next().await {
            let res = match res {
                Ok(r) => r,
                Err(e) if e.is_cancelled() => continue,
                Err(e) => panic!("an upload task panicked: {e}"),
            };
            match res {
                Ok((d, BlobOutcome::Pushed(n))) => {
                    report.bytes += n;
                    report.pushed.push(d);
                }
                Ok((d, BlobOutcome::Skipped)) => report.skipped.push(d),
                Ok((d, BlobOutcome::Mounted)) => report.mounted.push(d),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                        tasks.abort_all();
                    }
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        // All blobs are there: now the manifest.
        let url = ep.url(&format!(
            "{}/manifests/{}",
            target.repository,
            target.manifest_ref()
        ));
        let mt = image.manifest_media_type.clone();
        let body = manifest_bytes.clone();
        let resp = self
            .send(&ep, &scope, |c| {
                c.put(url.clone())
                    .header(CONTENT_TYPE, mt.clone())
                    .body(body.clone())
            })
            .await?;
        let resp = expect_status(resp, &[StatusCode::CREATED], "put the manifest", &ep).await?;
        let stored = resp
            .headers()
            .get(CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| digest::parse(s).ok());
        if let Some(s) = &stored {
            if s != &image.manifest_digest {
                return Err(ClientError::Protocol {
                    registry: ep.registry.clone(),
                    reason: format!(
                        "the registry stored the manifest as {s}, but its bytes hash to {}",
                        image.manifest_digest
                    ),
                });
            }
        }
        progress.println(&format!(
            "{}: digest: {} size: {}",
            target.manifest_ref(),
            image.manifest_digest,
            manifest_bytes.len()
        ));
        report.digest = Some(image.manifest_digest);
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    async fn push_blob(
        &self,
        ep: &Endpoint,
        scope: &str,
        repo: &str,
        d: &Digest,
        size: u64,
        path: PathBuf,
        mount_from: Option<&str>,
        pb: &super::progress::Bar,
    ) -> Result<BlobOutcome, ClientError> {
        let blob_url = ep.url(&format!("{repo}/blobs/{d}"));
        let resp = self.send(ep, scope, |c| c.head(blob_url.clone())).await?;
        if resp.status() == StatusCode::OK {
            return Ok(BlobOutcome::Skipped);
        }
        // Start an upload, or mount.
        let mut start = ep.url(&format!("{repo}/blobs/uploads/"));
        if let Some(from) = mount_from {
            start
                .query_pairs_mut()
                .append_pair("mount", d.as_ref())
                .append_pair("from", from);
        }
        let resp = self
            .send(ep, scope, |c| {
                c.post(start.clone()).header(CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status() == StatusCode::CREATED && mount_from.is_some() {
            return Ok(BlobOutcome::Mounted);
        }
        let resp = expect_status(
            resp,
            &[StatusCode::ACCEPTED],
            &format!("start the upload of {d}"),
            ep,
        )
        .await?;
        let mut location = next_location(ep, &resp)?;
        pb.set_message("Pushing");
        match self.config.chunk_size {
            None => {
                let mut url = location.clone();
                url.query_pairs_mut().append_pair("digest", d.as_ref());
                let resp = self
                    .send(ep, scope, |c| {
                        pb.set_position(0);
                        c.put(url.clone())
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, size)
                            .body(file_body(&path, pb.clone()))
                    })
                    .await?;
                expect_status(resp, &[StatusCode::CREATED], &format!("upload {d}"), ep).await?;
            }
            Some(chunk) => {
                use std::io::{Read, Seek, SeekFrom};
                let chunk = chunk.max(1);
                let mut f = std::fs::File::open(&path).map_err(|e| chapter04::Error::Io {
                    step: "open the blob".into(),
                    path: path.clone(),
                    source: e,
                })?;
                let mut offset = 0u64;
                while offset < size {
                    let len = chunk.min(size - offset);
                    let mut buf = vec![0u8; len as usize];
                    f.seek(SeekFrom::Start(offset))
                        .and_then(|_| f.read_exact(&mut buf))
                        .map_err(|e| chapter04::Error::Io {
                            step: "read the blob".into(),
                            path: path.clone(),
                            source: e,
                        })?;
                    let buf = bytes_of(buf);
                    let range = format!("{}-{}", offset, offset + len - 1);
                    let url = location.clone();
                    let resp = self
                        .send(ep, scope, |c| {
                            c.patch(url.clone())
                                .header(CONTENT_TYPE, "application/octet-stream")
                                .header(CONTENT_RANGE, range.clone())
                                .header(CONTENT_LENGTH, len)
                                .body(buf.clone())
                        })
                        .await?;
                    let resp = expect_status(
                        resp,
                        &[StatusCode::ACCEPTED],
                        &format!("upload chunk {range} of {d}"),
                        ep,
                    )
                    .await?;
                    location = next_location(ep, &resp)?;
                    offset += len;
                    pb.set_position(offset);
                }
                let mut url = location.clone();
                url.query_pairs_mut().append_pair("digest", d.as_ref());
                let resp = self
                    .send(ep, scope, |c| {
                        c.put(url.clone()).header(CONTENT_LENGTH, "0")
                    })
                    .await?;
                expect_status(
                    resp,
                    &[StatusCode::CREATED],
                    &format!("close the upload of {d}"),
                    ep,
                )
                .await?;
            }
        }
        Ok(BlobOutcome::Pushed(size))
    }
}

fn bytes_of(v: Vec<u8>) -> axum::body::Bytes {
    // Cheap to clone for a retry after a 401.
    axum::body::Bytes::from(v)
}

/// The upload URL from a `Location` header (absolute or relative).
fn next_location(ep: &Endpoint, resp: &reqwest::Response) -> Result<Url, ClientError> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ClientError::Protocol {
            registry: ep.registry.clone(),
            reason: "an upload answer without a Location header".into(),
        })?;
    ep.base.join(loc).map_err(|e| ClientError::Protocol {
        registry: ep.registry.clone(),
        reason: format!("bad Location `{loc}`: {e}"),
    })
}

/// Stream a file as a request body, advancing a progress bar.
fn file_body(path: &std::path::Path, pb: super::progress::Bar) -> reqwest::Body {
    match std::fs::File::open(path) {
        Ok(f) => {
            let f = tokio::fs::File::from_std(f);
            let s = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).inspect(move |c| {
                if let Ok(c) = c {
                    pb.inc(c.len() as u64);
                }
            });
            reqwest::Body::wrap_stream(s)
        }
        Err(e) => reqwest::Body::wrap_stream(futures_util::stream::once(async move {
            Err::<axum::body::Bytes, std::io::Error>(e)
        })),
    }
}
