//! `docker pull`, step by step.
//!
//! ```text
//! 1. GET /v2/<name>/manifests/<tag>    Accept: OCI index, OCI manifest, Docker list, Docker manifest
//!    -> the body's sha256 must equal the pinned digest (or Docker-Content-Digest)
//! 2. an index? choose the platform (chapter 04), GET /v2/<name>/manifests/<digest>
//! 3. GET /v2/<name>/blobs/<config>, /blobs/<layer>…  in parallel (3 at a time),
//!    each streamed into chapter 04's store through a temp file, hashed and
//!    counted as it arrives; a byte more than announced stops the download,
//!    a wrong hash leaves the store unchanged. Blobs already there are skipped;
//!    a blob another pull is fetching right now is waited for, not fetched
//!    twice (`inflight`).
//! 4. chapter 04 reads the image back and checks it; the name is tagged.
//! ```

use std::sync::Arc;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::StatusCode;

use chapter04::document::{self, Document};
use chapter04::{digest, BlobStore, Digest, ImageStore};

use super::inflight::{Claim, WAITING_FOR_ANOTHER_PULL};
use super::{expect_status, Client, ClientError, Endpoint};
use crate::reference::Reference;
use crate::spec::{self, CONTENT_DIGEST, MAX_MANIFEST_SIZE};

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The digest the reference resolved to (index or manifest): the
    /// "RepoDigest".
    pub digest: Digest,
    /// The platform manifest's digest.
    pub manifest_digest: Digest,
    /// The config digest (image ID).
    pub config_digest: Digest,
    /// Blobs downloaded.
    pub fetched: Vec<Digest>,
    /// Blobs already in the store.
    pub skipped: Vec<Digest>,
    /// Bytes downloaded (blobs only).
    pub bytes: u64,
    /// The endpoint that served the pull (a mirror or the registry).
    pub endpoint: String,
}

fn short(d: &Digest) -> String {
    digest::short(d)
}

impl Client {
    /// Pull `r` into `store` and tag it there as `r` (its familiar name).
    pub async fn pull(&self, r: &Reference, store: &ImageStore) -> Result<PullReport, ClientError> {
        let mut attempts: Vec<(String, ClientError)> = Vec::new();
        for ep in self.pull_endpoints(r)? {
            match self.pull_from(&ep, r, &store.blobs).await {
                Ok(report) => {
                    let name = if r.digest.is_some() && r.tag.is_none() {
                        None
                    } else {
                        Some(r.familiar())
                    };
                    if let Some(name) = name {
                        store.tag(&name, &report.digest)?;
                    }
                    return Ok(report);
                }
                // Like Docker: a failing mirror falls back to the next
                // endpoint; every failure is reported if all fail.
                Err(e) => attempts.push((ep.base.to_string(), e)),
            }
        }
        if attempts.len() == 1 {
            // One endpoint: its error as it is.
            return Err(attempts.remove(0).1);
        }
        Err(ClientError::AllEndpointsFailed {
            reference: r.to_string(),
            attempts: attempts
                .into_iter()
                .map(|(ep, e)| format!("{ep}: {e}"))
                .collect(),
        })
    }

    /// Fetch a manifest or index by tag or digest; verify its digest.
    pub async fn get_manifest(
        &self,
        ep: &Endpoint,
        repository: &str,
        reference: &str,
        pinned: Option<&Digest>,
    ) -> Result<(Digest, String, Vec<u8>), ClientError> {
        let scope = format!("repository:{repository}:pull");
        let url = ep.url(&format!("{repository}/manifests/{reference}"));
        let accept = spec::MANIFEST_ACCEPT.join(", ");
        let resp = self
            .send(ep, &scope, |c| {
                c.get(url.clone()).header(ACCEPT, accept.clone())
            })
            .await?;
        let resp = expect_status(
            resp,
            &[StatusCode::OK],
            &format!("get manifest {repository}:{reference}"),
            ep,
        )
        .await?;
        let proto = |reason: String| ClientError::Protocol {
            registry: ep.registry.clone(),
            reason,
        };
        if let Some(len) = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        {
            if len > MAX_MANIFEST_SIZE as u64 {
                return Err(proto(format!(
                    "manifest {repository}:{reference} is {len} bytes, over the 4 MiB limit"
                )));
            }
        }
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
            .unwrap_or_default();
        let header_digest = resp
            .headers()
            .get(CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut bytes = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| ClientError::Http {
                method: "GET".into(),
                url: url.to_string(),
                source,
            })?;
            if bytes.len() + chunk.len() > MAX_MANIFEST_SIZE {
                return Err(proto(format!(
                    "manifest {repository}:{reference} is over the 4 MiB limit"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        // Content addressing: the digest is computed here, from the bytes.
        let actual = match pinned {
            Some(d) => {
                chapter04::store::check_bytes(
                    &bytes,
                    d,
                    None,
                    &format!("manifest {repository}@{d}"),
                )?;
                d.clone()
            }
            None => digest::sha256(&bytes),
        };
        if pinned.is_none() {
            if let Some(h) = header_digest.as_deref().and_then(|h| digest::parse(h).ok()) {
                if digest::algorithm_of(&h) == digest::Algorithm::Sha256 && h != actual {
                    return Err(ClientError::Store(chapter04::Error::DigestMismatch {
                        what: format!("manifest {repository}:{reference} (Docker-Content-Digest)"),
                        expected: h.to_string(),
                        actual: actual.to_string(),
                    }));
                }
            }
        }
        Ok((actual, media_type, bytes))
    }

    async fn pull_from(
        &self,
        ep: &Endpoint,
        r: &Reference,
        store: &BlobStore,
    ) -> Result<PullReport, ClientError> {
        let progress = self.config.progress.clone();
        progress.println(&format!(
            "{}: Pulling from {}",
            r.tag.as_deref().unwrap_or("digest"),
            r.repository
        ));
        let (top, mt, bytes) = self
            .get_manifest(ep, &r.repository, &r.manifest_ref(), r.digest.as_ref())
            .await?;
        let mut doc = document::parse_document(
            &bytes,
            Some(&mt).filter(|m| !m.is_empty()).map(|s| s.as_str()),
            "manifest",
        )?;
        store.ingest(&bytes[..], Some(&top), Some(bytes.len() as u64), "manifest")?;
        let mut manifest_digest = top.clone();
        for _ in 0..2 {
            let Document::Index(index) = &doc else { break };
            let chosen = chapter04::platform::select(index, &self.config.platform)?;
            let d = chosen.digest().clone();
            digest::validate(&d)?;
            progress.println(&format!(
                "{}: platform {} -> {}",
                short(&top),
                chapter04::platform::describe(chosen),
                short(&d)
            ));
            let (d2, mt2, b2) = self
                .get_manifest(ep, &r.repository, d.as_ref(), Some(&d))
                .await?;
            doc = document::parse_document(
                &b2,
                Some(&mt2).filter(|m| !m.is_empty()).map(|s| s.as_str()),
                "manifest",
            )?;
            store.ingest(&b2[..], Some(&d2), Some(b2.len() as u64), "manifest")?;
            manifest_digest = d2;
        }
        let Document::Manifest(manifest) = doc else {
            return Err(ClientError::Protocol {
                registry: ep.registry.clone(),
                reason: "an index nested more than twice".into(),
            });
        };
        let mut blobs = vec![(
            manifest.config().digest().clone(),
            manifest.config().size(),
            true,
        )];
        for l in manifest.layers() {
            blobs.push((l.digest().clone(), l.size(), false));
        }
        let config_digest = blobs[0].0.clone();
        let mut fetched = Vec::new();
        let mut skipped = Vec::new();
        let mut bytes_total = 0;
        let mut note = |res: (Digest, Option<u64>)| match res {
            (d, Some(n)) => {
                fetched.push(d);
                bytes_total += n;
            }
            // Already there, or fetched by another pull while this one waited.
            (d, None) => skipped.push(d),
        };
        // With a layer store to fill, the config comes first: its diff IDs
        // name every layer (chain IDs) before the first layer byte arrives.
        let unpack = self
            .config
            .unpack
            .clone()
            .filter(|u| u.driver.detached_layers());
        let mut jobs: Vec<Option<LayerJob>> = vec![None; manifest.layers().len()];
        if let Some(u) = &unpack {
            let (d, size, _) = blobs.remove(0);
            digest::validate(&d)?;
            chapter04::store::check_document_size("config", size)?;
            let pb = progress.bar(&short(&d), size, "Waiting");
            note(
                self.fetch_once(ep, &r.repository, d.clone(), size, store, pb, None)
                    .await?,
            );
            let bytes = store.read_document(&d, Some(size), "config")?;
            let config = document::parse_config(&bytes, &format!("config {d}"))?;
            let diff_ids = document::diff_ids(&config)?;
            // A count that does not match is refused below, by chapter 04.
            if diff_ids.len() == jobs.len() {
                let chains = chapter04::layer::chain_ids(&diff_ids);
                for (i, desc) in manifest.layers().iter().enumerate() {
                    let id = chapter04::layer::driver_layer_id(&chains[i]);
                    // Unpacked by an earlier pull or create: nothing to do.
                    if !u.driver.root().join(id).is_dir() {
                        jobs[i] = Some(LayerJob {
                            desc: desc.clone(),
                            diff_id: diff_ids[i].clone(),
                            chain: chains[i].clone(),
                            parent: i.checked_sub(1).map(|p| chains[p].clone()),
                        });
                    }
                }
            }
        }
        let sem = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        // One unpack per layer, on a blocking thread of its own, fed as the
        // layer downloads (or from the store if the blob is already there).
        let mut unpacks: Vec<Unpacking> = Vec::new();
        let offset = blobs.len() - jobs.len();
        for (i, (d, size, is_config)) in blobs.into_iter().enumerate() {
            digest::validate(&d)?;
            if is_config {
                chapter04::store::check_document_size("config", size)?;
            }
            let job = i
                .checked_sub(offset)
                .and_then(|l| Some((jobs.get(l)?.clone()?, unpack.clone()?)));
            if store.contains(&d)? {
                progress.line(&short(&d), "Already exists");
                note((d, None));
                if let Some((job, u)) = job {
                    unpacks.push(job.unpack_stored(u, store.clone()));
                }
                continue;
            }
            let tee = job.map(|(job, u)| {
                let (tx, u) = job.unpack_streamed(u);
                unpacks.push(u);
                tx
            });
            let (client, ep, store, sem) = (self.clone(), ep.clone(), store.clone(), sem.clone());
            let repo = r.repository.clone();
            // Bars appear in manifest order; blobs start in that order too.
            let pb = progress.bar(&short(&d), size, "Waiting");
            let permit = sem.acquire_owned().await.expect("never closed");
            tasks.spawn(async move {
                let _permit = permit;
                client
                    .fetch_once(&ep, &repo, d, size, &store, pb, tee)
                    .await
            });
        }
        let mut first_err = None;
        let mut streamed = std::collections::HashSet::new();
        while let Some(res) = tasks.join_next().await {
            let res = match res {
                Ok(r) => r,
                Err(e) if e.is_cancelled() => continue,
                Err(e) => panic!("a download task panicked: {e}"),
            };
            match res {
                Ok(res) => {
                    if res.1.is_some() {
                        streamed.insert(res.0.clone());
                    }
                    note(res);
                }
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                        // Dropping the tasks closes their unpack streams.
                        tasks.abort_all();
                    }
                }
            }
        }
        // Wait for every unpack, also after a failure: each removes its own
        // partial directory, and none may outlive the pull.
        let mut filled = Vec::new();
        for u in unpacks {
            let was_stream = u.stream;
            let (job, res) = u.finish().await;
            let res = match res {
                // The blob came from another pull's download, not through
                // our stream (which closed empty): unpack it from the store.
                Err(_)
                    if first_err.is_none()
                        && was_stream
                        && !streamed.contains(job.desc.digest()) =>
                {
                    let u = unpack.clone().expect("set when a job exists");
                    job.unpack_stored(u, store.clone()).finish().await.1
                }
                res => res,
            };
            match res {
                Ok(f) => filled.push(f),
                Err(e) if first_err.is_none() => first_err = Some(ClientError::Store(e)),
                Err(_) => {}
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        // Read the image back through chapter 04: every document parses,
        // digests and sizes match, diff IDs line up with the layers.
        chapter04::image::resolve_digest(store, &top, None, Some(&self.config.platform))?;
        // Every layer is whole and checked: make them durable with one
        // syncfs, then visible under their ids, where `create` finds them.
        if let Some(u) = unpack.filter(|_| !filled.is_empty()) {
            let root = u.driver.root().to_path_buf();
            tokio::task::spawn_blocking(move || chapter03::publish_layers(&root, filled))
                .await
                .expect("publishing layers does not panic")
                .map_err(ClientError::Publish)?;
        }
        progress.println(&format!("Digest: {top}"));
        Ok(PullReport {
            digest: top,
            manifest_digest,
            config_digest,
            fetched,
            skipped,
            bytes: bytes_total,
            endpoint: ep.base.to_string(),
        })
    }

    /// Fetch blob `d` into the store unless it is there or another pull is
    /// fetching it (then wait for that one). `tee` receives every byte of
    /// our own download. Returns the bytes downloaded (`None`: not by us).
    #[allow(clippy::too_many_arguments)]
    async fn fetch_once(
        &self,
        ep: &Endpoint,
        repo: &str,
        d: Digest,
        size: u64,
        store: &BlobStore,
        pb: super::progress::Bar,
        tee: Option<Tee>,
    ) -> Result<(Digest, Option<u64>), ClientError> {
        let progress = &self.config.progress;
        // Another pull may be fetching this very blob: wait for it
        // rather than download it twice (see `inflight`).
        let _fetching = loop {
            match self.config.in_flight.claim(store.root(), &d) {
                Claim::Fetch(guard) => break guard,
                Claim::Wait(other) => {
                    pb.set_message(WAITING_FOR_ANOTHER_PULL);
                    other.done().await;
                    // Its fetch failed? Then claim it again.
                    if store.contains(&d)? {
                        pb.set_message("Download complete");
                        progress.done(&pb, "Pull complete");
                        return Ok((d, None));
                    }
                }
            }
        };
        // It may have landed between the check above and the claim.
        if store.contains(&d)? {
            progress.done(&pb, "Already exists");
            return Ok((d, None));
        }
        pb.set_message("Downloading");
        let n = self
            .fetch_blob_tee(ep, repo, &d, size, store, &pb, tee)
            .await;
        match &n {
            Ok(_) => progress.done(&pb, "Pull complete"),
            Err(_) => progress.done(&pb, "Failed"),
        }
        n.map(|n| (d, Some(n)))
    }

    /// Stream one blob into the store, verifying size and digest on the way.
    pub async fn fetch_blob(
        &self,
        ep: &Endpoint,
        repository: &str,
        d: &Digest,
        size: u64,
        store: &BlobStore,
        pb: &super::progress::Bar,
    ) -> Result<u64, ClientError> {
        self.fetch_blob_tee(ep, repository, d, size, store, pb, None)
            .await
    }

    /// [`Client::fetch_blob`], handing each chunk to `tee` as well (an
    /// unpack reading the same bytes). A tee that went away (its unpack
    /// failed) is let go; the download goes on, and the failure is the
    /// unpack's to report.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_blob_tee(
        &self,
        ep: &Endpoint,
        repository: &str,
        d: &Digest,
        size: u64,
        store: &BlobStore,
        pb: &super::progress::Bar,
        mut tee: Option<Tee>,
    ) -> Result<u64, ClientError> {
        let scope = format!("repository:{repository}:pull");
        let url = ep.url(&format!("{repository}/blobs/{d}"));
        let resp = self.send(ep, &scope, |c| c.get(url.clone())).await?;
        let resp = expect_status(resp, &[StatusCode::OK], &format!("get blob {d}"), ep).await?;
        let mut writer = store.writer_for(digest::algorithm_of(d))?;
        let mut stream = resp.bytes_stream();
        let mut n: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| ClientError::Http {
                method: "GET".into(),
                url: url.to_string(),
                source,
            })?;
            n += chunk.len() as u64;
            if n > size {
                // Longer than the descriptor says: stop now, keep nothing.
                return Err(chapter04::Error::SizeMismatch {
                    what: format!("blob {d}"),
                    expected: size,
                    actual: n,
                }
                .into());
            }
            std::io::Write::write_all(&mut writer, &chunk).map_err(|e| chapter04::Error::Io {
                step: "write the download of".into(),
                path: d.to_string().into(),
                source: e,
            })?;
            pb.inc(chunk.len() as u64);
            if let Some(t) = &tee {
                if t.send(chunk).await.is_err() {
                    tee = None;
                }
            }
        }
        // The unpack sees the end of the stream: it checks the digest it
        // computed and finishes.
        drop(tee);
        pb.set_message("Verifying");
        writer
            .verify(Some(d), Some(size), &format!("blob {d}"))?
            .publish()?;
        Ok(n)
    }
}

/// Where a pull unpacks layers as they download: a chapter 03 driver that
/// can fill a layer before its parent ([`chapter03::Driver::detached_layers`];
/// overlay), and chapter 04's limits (size bound, cancel flag).
#[derive(Clone)]
pub struct UnpackInto {
    /// The layer store.
    pub driver: Arc<dyn chapter03::Driver + Send + Sync>,
    /// How far a layer may unpack.
    pub limits: chapter04::layer::Limits,
}

impl std::fmt::Debug for UnpackInto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnpackInto")
            .field("driver", &self.driver.name())
            .field("root", &self.driver.root())
            .field("limits", &self.limits)
            .finish()
    }
}

/// The sending end of a layer's bytes, from the download to its unpack.
type Tee = tokio::sync::mpsc::Sender<bytes::Bytes>;

/// One layer to unpack: what chapter 04 needs to check and place it.
#[derive(Clone)]
struct LayerJob {
    desc: oci_spec::image::Descriptor,
    diff_id: Digest,
    chain: Digest,
    parent: Option<Digest>,
}

/// An unpack running on a blocking thread.
struct Unpacking {
    job: LayerJob,
    /// Fed by the download (rather than read from the store).
    stream: bool,
    handle: tokio::task::JoinHandle<Result<chapter03::FilledLayer, chapter04::Error>>,
}

impl LayerJob {
    fn run(
        self,
        u: UnpackInto,
        stream: bool,
        blob: impl std::io::Read + Send + 'static,
    ) -> Unpacking {
        let job = self.clone();
        let handle = tokio::task::spawn_blocking(move || {
            chapter04::layer::unpack_detached(
                u.driver.as_ref(),
                blob,
                &job.desc,
                &job.diff_id,
                (&job.chain, job.parent.as_ref()),
                &u.limits,
            )
            .map(|(_, filled)| filled)
        });
        Unpacking {
            job: self,
            stream,
            handle,
        }
    }

    /// Unpack from the blob already in the store.
    fn unpack_stored(self, u: UnpackInto, store: BlobStore) -> Unpacking {
        let d = self.desc.digest().clone();
        let blob = LazyBlob {
            store,
            d,
            file: None,
        };
        self.run(u, false, blob)
    }

    /// Unpack from the download: returns where to send its bytes.
    fn unpack_streamed(self, u: UnpackInto) -> (Tee, Unpacking) {
        // A few chunks of slack: the download runs ahead of the unpack by
        // at most this much, then waits for it (the blob store write too).
        let (tx, rx) = tokio::sync::mpsc::channel(32);
        let reader = ChannelReader {
            rx,
            cur: bytes::Bytes::new(),
        };
        (tx, self.run(u, true, reader))
    }
}

impl Unpacking {
    async fn finish(self) -> (LayerJob, Result<chapter03::FilledLayer, chapter04::Error>) {
        let res = self.handle.await.expect("an unpack thread panicked");
        (self.job, res)
    }
}

/// A blob of the store, opened on the unpack's own thread.
struct LazyBlob {
    store: BlobStore,
    d: Digest,
    file: Option<std::fs::File>,
}

impl std::io::Read for LazyBlob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.file.is_none() {
            let f = self
                .store
                .open_blob(&self.d)
                .map_err(std::io::Error::other)?;
            self.file = Some(f);
        }
        self.file.as_mut().expect("just opened").read(buf)
    }
}

/// The download's chunks as a `Read` for the unpack thread: it blocks
/// until the next chunk arrives, and reads 0 (the end) once the download
/// drops its sender.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    cur: bytes::Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}
