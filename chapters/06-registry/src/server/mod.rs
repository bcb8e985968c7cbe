//! The registry server: the OCI distribution API over chapter 04's store.
//!
//! Every route of the spec, in the order a push uses them:
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET | `/v2/` | "I speak v2" (and, with auth on, the first 401 challenge) |
//! | HEAD | `/v2/<name>/blobs/<digest>` | do you have this blob? (push skips it) |
//! | POST | `/v2/<name>/blobs/uploads/?mount=<digest>&from=<other>` | cross-repository mount: link, no bytes |
//! | POST | `/v2/<name>/blobs/uploads/` | start an upload: 202 + `Location` |
//! | POST | `/v2/<name>/blobs/uploads/?digest=<d>` | monolithic upload in one request |
//! | PATCH | `/v2/<name>/blobs/uploads/<id>` | a chunk (`Content-Range: <start>-<end>`) |
//! | GET | `/v2/<name>/blobs/uploads/<id>` | how far is it? (`Range: 0-<last>`) |
//! | PUT | `/v2/<name>/blobs/uploads/<id>?digest=<d>` | last chunk + close: verify, publish |
//! | DELETE | `/v2/<name>/blobs/uploads/<id>` | cancel |
//! | PUT | `/v2/<name>/manifests/<tag-or-digest>` | the manifest, once all its blobs are there |
//! | GET/HEAD | `/v2/<name>/manifests/<tag-or-digest>` | pull starts here |
//! | GET | `/v2/<name>/blobs/<digest>` | a blob (`Range: bytes=a-b` for a part) |
//! | DELETE | `/v2/<name>/manifests/<ref>`, `/v2/<name>/blobs/<digest>` | delete |
//! | GET | `/v2/<name>/tags/list?n=&last=` | tags, paged |
//! | GET | `/v2/_catalog?n=&last=` | repositories, paged |
//!
//! Names contain `/`, so one dispatcher parses the path from the right
//! ([`Route::parse`]) and validates every piece before any handler runs.
//!
//! Content addressing on the wire: an upload's bytes go into a temp file of
//! chapter 04's store, hashed as they arrive. The final `PUT ?digest=` is
//! the only moment the blob can appear, and only if the hash matches
//! (`DIGEST_INVALID` otherwise). Two clients pushing the same blob write two
//! temp files; whichever renames first wins, and both renames produce the
//! same bytes. A crash mid-upload leaves a temp file in `ingest/`, never a
//! partial blob under a digest name; the next start deletes it (upload
//! sessions are in memory, so none survives a restart: the client's retry
//! starts a new upload, `BLOB_UPLOAD_UNKNOWN` for the old one).

pub mod storage;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::net::TcpListener;

use chapter04::digest;
use chapter04::media;
use chapter04::store::BlobWriter;
use chapter04::Digest;

use crate::auth::{self, Access, Htpasswd, TokenIssuer};
use crate::spec::{self, ErrorCode, ManifestRef, CONTENT_DIGEST, MAX_MANIFEST_SIZE};
use storage::{Storage, StorageError};

/// How the server authenticates clients.
pub enum AuthMode {
    /// Everybody may pull and push (the default; loopback only).
    None,
    /// `Authorization: Basic` checked against an htpasswd file.
    Basic(Htpasswd),
    /// Bearer tokens issued by this server's own `/token` endpoint.
    /// htpasswd users get what they ask for; anonymous clients get `pull`.
    Token {
        /// Users allowed to push (may be empty: everybody pull-only).
        users: Htpasswd,
        /// The token endpoint URL announced in challenges; `None` means
        /// `http://<listen address>/token`.
        realm: Option<String>,
        /// Signs and checks tokens.
        issuer: TokenIssuer,
    },
}

/// Server configuration.
pub struct ServerConfig {
    /// Storage root.
    pub root: PathBuf,
    /// Authentication.
    pub auth: AuthMode,
}

/// An upload in progress: a temp file in chapter 04's store, hashed as it grows.
struct Upload {
    repo: String,
    writer: Option<BlobWriter>,
    offset: u64,
}

/// An upload id's repository and state.
type UploadSlot = (String, Arc<tokio::sync::Mutex<Upload>>);

/// The running registry's state.
pub struct Registry {
    storage: Storage,
    auth: AuthMode,
    realm: String,
    uploads: Mutex<HashMap<String, UploadSlot>>,
}

/// A server answer that is an OCI error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    challenge: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unsupported,
            format!("storage: {e}"),
        )
    }
}

impl From<spec::Invalid> for ApiError {
    fn from(e: spec::Invalid) -> ApiError {
        let code = match e.what {
            "digest" => ErrorCode::DigestInvalid,
            "tag" => ErrorCode::ManifestInvalid,
            _ => ErrorCode::NameInvalid,
        };
        ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = spec::error_body(self.code, &self.message, serde_json::json!({}));
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(c) = self.challenge {
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        r
    }
}

type ApiResult = Result<Response, ApiError>;

/// A parsed, validated request path.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags(String),
    /// `/v2/<name>/manifests/<ref>`
    Manifest(String, ManifestRef),
    /// `/v2/<name>/blobs/<digest>`
    Blob(String, Digest),
    /// `/v2/<name>/blobs/uploads/` (start)
    UploadStart(String),
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload(String, String),
    /// `/token` (token mode)
    Token,
}

impl Route {
    /// Parse a path; `Ok(None)` for paths that are not ours (404).
    pub fn parse(path: &str) -> Result<Option<Route>, spec::Invalid> {
        if path == "/token" {
            return Ok(Some(Route::Token));
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            return Ok(if path == "/v2" {
                Some(Route::Base)
            } else {
                None
            });
        };
        if rest.is_empty() {
            return Ok(Some(Route::Base));
        }
        if rest == "_catalog" {
            return Ok(Some(Route::Catalog));
        }
        if let Some(name) = rest.strip_suffix("/tags/list") {
            spec::validate_name(name)?;
            return Ok(Some(Route::Tags(name.into())));
        }
        if let Some(i) = rest.rfind("/manifests/") {
            let (name, r) = (&rest[..i], &rest[i + "/manifests/".len()..]);
            if !r.contains('/') {
                spec::validate_name(name)?;
                return Ok(Some(Route::Manifest(name.into(), ManifestRef::parse(r)?)));
            }
        }
        if let Some(i) = rest.rfind("/blobs/uploads/") {
            let (name, id) = (&rest[..i], &rest[i + "/blobs/uploads/".len()..]);
            if !id.contains('/') {
                spec::validate_name(name)?;
                if id.is_empty() {
                    return Ok(Some(Route::UploadStart(name.into())));
                }
                if !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') || id.len() > 64 {
                    return Err(spec::Invalid {
                        what: "upload id",
                        value: id.into(),
                        reason: "not an id this server issued".into(),
                    });
                }
                return Ok(Some(Route::Upload(name.into(), id.into())));
            }
        }
        if let Some(i) = rest.rfind("/blobs/") {
            let (name, d) = (&rest[..i], &rest[i + "/blobs/".len()..]);
            if !d.contains('/') {
                spec::validate_name(name)?;
                return Ok(Some(Route::Blob(name.into(), spec::parse_digest(d)?)));
            }
        }
        Ok(None)
    }
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    let q = uri.query().unwrap_or("");
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn query(uri: &Uri, key: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn new_upload_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl Registry {
    /// Open the storage and build the state.
    pub fn new(config: ServerConfig, addr: SocketAddr) -> Result<Registry, StorageError> {
        let realm = match &config.auth {
            AuthMode::Token { realm: Some(r), .. } => r.clone(),
            _ => format!("http://{addr}/token"),
        };
        let storage = Storage::open(&config.root)?;
        // Uploads of a previous run (killed mid-upload) cannot be resumed.
        storage.remove_stale_uploads()?;
        Ok(Registry {
            storage,
            auth: config.auth,
            realm,
            uploads: Mutex::default(),
        })
    }

    /// The storage (for tests and the tour).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn service(&self) -> &str {
        match &self.auth {
            AuthMode::Token { issuer, .. } => &issuer.service,
            _ => "chapter06",
        }
    }

    /// Check the request may do `needs` (`None` for `/v2/`: any valid login).
    fn authorize(&self, headers: &HeaderMap, needs: &[Access]) -> Result<(), ApiError> {
        let authz = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match &self.auth {
            AuthMode::None => Ok(()),
            AuthMode::Basic(users) => match auth::parse_basic(authz) {
                Some((u, p)) if users.check(&u, &p) => Ok(()),
                _ => Err(ApiError {
                    challenge: Some(r#"Basic realm="chapter06 registry""#.into()),
                    ..ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        ErrorCode::Unauthorized,
                        "authentication required",
                    )
                }),
            },
            AuthMode::Token { issuer, .. } => {
                let claims = authz
                    .strip_prefix("Bearer ")
                    .and_then(|t| issuer.verify(t.trim()).ok());
                let missing: Vec<&Access> = match &claims {
                    None => needs.iter().collect(),
                    Some(c) => needs
                        .iter()
                        .filter(|n| {
                            !n.actions
                                .iter()
                                .all(|a| auth::grants(&c.access, &n.name, a))
                        })
                        .collect(),
                };
                if claims.is_some() && missing.is_empty() {
                    return Ok(());
                }
                let mut challenge = format!(
                    r#"Bearer realm="{}",service="{}""#,
                    self.realm,
                    self.service()
                );
                if !missing.is_empty() {
                    let scopes: Vec<String> = missing.iter().map(|a| a.scope()).collect();
                    challenge.push_str(&format!(r#",scope="{}""#, scopes.join(" ")));
                }
                if claims.is_some() {
                    challenge.push_str(r#",error="insufficient_scope""#);
                }
                Err(ApiError {
                    challenge: Some(challenge),
                    ..ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        ErrorCode::Unauthorized,
                        if claims.is_some() {
                            "the token does not grant this access"
                        } else {
                            "authentication required"
                        },
                    )
                })
            }
        }
    }

    /// `GET /token?service=&scope=`: the token service of token mode.
    fn token(&self, headers: &HeaderMap, uri: &Uri) -> ApiResult {
        let AuthMode::Token { users, issuer, .. } = &self.auth else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::Unsupported,
                "this registry does not issue tokens",
            ));
        };
        let authz = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let user = match auth::parse_basic(authz) {
            Some((u, p)) if users.check(&u, &p) => Some(u),
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    "wrong user name or password",
                ))
            }
            None => None,
        };
        let mut granted = Vec::new();
        for (k, v) in query_pairs(uri) {
            if k != "scope" {
                continue;
            }
            for s in v.split(' ') {
                let Some(a) = Access::parse_scope(s) else {
                    continue;
                };
                if a.kind != "repository" || spec::validate_name(&a.name).is_err() {
                    continue;
                }
                // The policy: users get what they ask for, anonymous only pull.
                let actions: Vec<String> = a
                    .actions
                    .iter()
                    .filter(|x| user.is_some() || x.as_str() == "pull")
                    .cloned()
                    .collect();
                if !actions.is_empty() {
                    granted.push(Access { actions, ..a });
                }
            }
        }
        let token = issuer.issue(user.as_deref().unwrap_or(""), granted);
        Ok(axum::Json(serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": issuer.lifetime,
            "issued_at": chapter04::rfc3339(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            ),
        }))
        .into_response())
    }

    async fn dispatch(
        self: Arc<Self>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Body,
    ) -> ApiResult {
        let route = Route::parse(uri.path())?.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::Unsupported,
                "no such endpoint",
            )
        })?;
        let pull = |n: &str| vec![Access::repository(n, &["pull"])];
        let push = |n: &str| vec![Access::repository(n, &["pull", "push"])];
        let is_read = method == Method::GET || method == Method::HEAD;
        match route {
            Route::Token => return self.token(&headers, &uri),
            Route::Base | Route::Catalog => self.authorize(&headers, &[])?,
            Route::Tags(ref n) => self.authorize(&headers, &pull(n))?,
            Route::Manifest(ref n, _) | Route::Blob(ref n, _) if is_read => {
                self.authorize(&headers, &pull(n))?
            }
            Route::Manifest(ref n, _) | Route::Blob(ref n, _) if method == Method::DELETE => {
                self.authorize(&headers, &[Access::repository(n, &["delete"])])?
            }
            Route::Manifest(ref n, _)
            | Route::Blob(ref n, _)
            | Route::UploadStart(ref n)
            | Route::Upload(ref n, _) => self.authorize(&headers, &push(n))?,
        }
        match (route, method) {
            (Route::Base, Method::GET | Method::HEAD) => {
                Ok((StatusCode::OK, axum::Json(serde_json::json!({}))).into_response())
            }
            (Route::Catalog, Method::GET) => self.catalog(&uri),
            (Route::Tags(n), Method::GET) => self.tags(&n, &uri),
            (Route::Manifest(n, r), Method::GET) => self.get_manifest(&n, &r, &headers, true),
            (Route::Manifest(n, r), Method::HEAD) => self.get_manifest(&n, &r, &headers, false),
            (Route::Manifest(n, r), Method::PUT) => self.put_manifest(&n, &r, &headers, body).await,
            (Route::Manifest(n, r), Method::DELETE) => self.delete_manifest(&n, &r),
            (Route::Blob(n, d), Method::GET) => self.get_blob(&n, &d, &headers, true).await,
            (Route::Blob(n, d), Method::HEAD) => self.get_blob(&n, &d, &headers, false).await,
            (Route::Blob(n, d), Method::DELETE) => {
                if self.storage.unlink_blob(&n, &d)? {
                    Ok(StatusCode::ACCEPTED.into_response())
                } else {
                    Err(blob_unknown(&d))
                }
            }
            (Route::UploadStart(n), Method::POST) => {
                self.start_upload(&n, &uri, &headers, body).await
            }
            (Route::Upload(n, id), Method::PATCH) => {
                self.patch_upload(&n, &id, &headers, body).await
            }
            (Route::Upload(n, id), Method::PUT) => {
                self.finish_upload(&n, &id, &uri, &headers, body).await
            }
            (Route::Upload(n, id), Method::GET) => self.upload_status(&n, &id).await,
            (Route::Upload(n, id), Method::DELETE) => {
                self.take_upload(&n, &id)?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            (_, m) => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::Unsupported,
                format!("{m} is not allowed here"),
            )),
        }
    }

    fn catalog(&self, uri: &Uri) -> ApiResult {
        let all = self.storage.catalog()?;
        let n = query(uri, "n").and_then(|n| n.parse().ok());
        let last = query(uri, "last");
        let (page, more) = storage::page(&all, n, last.as_deref());
        let mut r = axum::Json(serde_json::json!({ "repositories": page })).into_response();
        if more {
            if let (Some(n), Some(l)) = (n, page.last()) {
                link_next(&mut r, &format!("/v2/_catalog?n={n}&last={l}"));
            }
        }
        Ok(r)
    }

    fn tags(&self, name: &str, uri: &Uri) -> ApiResult {
        let all = self.storage.tags(name)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NameUnknown,
                format!("repository {name} is not known to this registry"),
            )
        })?;
        let n = query(uri, "n").and_then(|n| n.parse().ok());
        let last = query(uri, "last");
        let (page, more) = storage::page(&all, n, last.as_deref());
        let mut r = axum::Json(serde_json::json!({ "name": name, "tags": page })).into_response();
        if more {
            if let (Some(n), Some(l)) = (n, page.last()) {
                link_next(&mut r, &format!("/v2/{name}/tags/list?n={n}&last={l}"));
            }
        }
        Ok(r)
    }

    fn resolve(&self, name: &str, r: &ManifestRef) -> Result<Digest, ApiError> {
        let unknown = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ManifestUnknown,
                format!("manifest {name}:{r} is not known to this registry"),
            )
        };
        let d = match r {
            ManifestRef::Digest(d) => d.clone(),
            ManifestRef::Tag(t) => self.storage.resolve_tag(name, t)?.ok_or_else(unknown)?,
        };
        if !self.storage.has_manifest(name, &d) {
            return Err(unknown());
        }
        Ok(d)
    }

    /// `GET`/`HEAD /v2/<name>/manifests/<ref>`, honouring `Accept` as the
    /// distribution registry (2.x) does: an OCI manifest or index goes only
    /// to a client that names its media type (exactly; `*/*` does not
    /// count, and neither does no `Accept` at all). Any other client gets
    /// a 404 `MANIFEST_UNKNOWN` saying why, by tag or by digest alike.
    fn get_manifest(
        &self,
        name: &str,
        r: &ManifestRef,
        headers: &HeaderMap,
        with_body: bool,
    ) -> ApiResult {
        let d = self.resolve(name, r)?;
        let (media_type, bytes) = self.storage.get_manifest(name, &d)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ManifestUnknown,
                "manifest gone",
            )
        })?;
        let refused = match media_type.as_str() {
            media::OCI_MANIFEST => {
                Some("OCI manifest found, but accept header does not support OCI manifests")
            }
            media::OCI_INDEX => {
                Some("OCI index found, but accept header does not support OCI indexes")
            }
            _ => None,
        };
        if let Some(why) = refused.filter(|_| !accepts(headers, &media_type)) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ManifestUnknown,
                why,
            ));
        }
        let len = bytes.len();
        let body = if with_body {
            Body::from(bytes)
        } else {
            Body::empty()
        };
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, hv(&media_type));
        h.insert(header::CONTENT_LENGTH, hv(&len.to_string()));
        h.insert(CONTENT_DIGEST, hv(d.as_ref()));
        Ok(resp)
    }

    async fn put_manifest(
        &self,
        name: &str,
        r: &ManifestRef,
        headers: &HeaderMap,
        body: Body,
    ) -> ApiResult {
        let bytes = axum::body::to_bytes(body, MAX_MANIFEST_SIZE)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::SizeInvalid,
                    format!("manifest body is over the {MAX_MANIFEST_SIZE}-byte (4 MiB) limit"),
                )
            })?;
        let actual = digest::sha256(&bytes);
        if let ManifestRef::Digest(want) = r {
            if want != &actual {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::DigestInvalid,
                    format!("the manifest hashes to {actual}, not {want}"),
                ));
            }
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let refs = manifest_references(&bytes, content_type.as_deref())
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::ManifestInvalid, e))?;
        for (d, is_manifest) in &refs.children {
            let present = if *is_manifest {
                self.storage.has_manifest(name, d)
            } else {
                self.storage.blob_size(name, d)?.is_some()
            };
            if !present {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ManifestBlobUnknown,
                    format!("the manifest references {d}, which is not in repository {name}: push it first"),
                ));
            }
        }
        let tag = match r {
            ManifestRef::Tag(t) => Some(t.as_str()),
            ManifestRef::Digest(_) => None,
        };
        self.storage
            .put_manifest(name, &bytes, &actual, &refs.media_type, tag)?;
        let mut resp = StatusCode::CREATED.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::LOCATION,
            hv(&format!("/v2/{name}/manifests/{actual}")),
        );
        h.insert(CONTENT_DIGEST, hv(actual.as_ref()));
        Ok(resp)
    }

    fn delete_manifest(&self, name: &str, r: &ManifestRef) -> ApiResult {
        let found = match r {
            ManifestRef::Digest(d) => self.storage.delete_manifest(name, d)?,
            ManifestRef::Tag(t) => self.storage.delete_tag(name, t)?,
        };
        if !found {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ManifestUnknown,
                format!("manifest {name}:{r} is not known to this registry"),
            ));
        }
        Ok(StatusCode::ACCEPTED.into_response())
    }

    async fn get_blob(
        &self,
        name: &str,
        d: &Digest,
        headers: &HeaderMap,
        with_body: bool,
    ) -> ApiResult {
        let size = self
            .storage
            .blob_size(name, d)?
            .ok_or_else(|| blob_unknown(d))?;
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|r| parse_range(r, size).ok_or(()))
            .transpose()
            .map_err(|_| {
                let mut e = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    ErrorCode::BlobUnknown,
                    format!("range not satisfiable for a {size}-byte blob"),
                );
                e.challenge = None;
                e
            })?;
        let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
        let len = if size == 0 { 0 } else { end - start + 1 };
        let mut resp = if with_body {
            let path = self
                .storage
                .blobs
                .blob_path(d)
                .map_err(StorageError::from)?;
            let mut f = tokio::fs::File::open(&path)
                .await
                .map_err(|_| blob_unknown(d))?;
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            f.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Unsupported,
                    e.to_string(),
                )
            })?;
            let stream = tokio_util::io::ReaderStream::with_capacity(f.take(len), 256 * 1024);
            Response::new(Body::from_stream(stream))
        } else {
            Response::new(Body::empty())
        };
        if range.is_some() {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            resp.headers_mut().insert(
                header::CONTENT_RANGE,
                hv(&format!("bytes {start}-{end}/{size}")),
            );
        }
        let h = resp.headers_mut();
        h.insert(header::CONTENT_LENGTH, hv(&len.to_string()));
        h.insert(header::CONTENT_TYPE, hv("application/octet-stream"));
        h.insert(header::ACCEPT_RANGES, hv("bytes"));
        h.insert(CONTENT_DIGEST, hv(d.as_ref()));
        Ok(resp)
    }

    async fn start_upload(
        &self,
        name: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: Body,
    ) -> ApiResult {
        // Cross-repository mount: no bytes travel, the blob is linked.
        if let (Some(m), Some(from)) = (query(uri, "mount"), query(uri, "from")) {
            let d = spec::parse_digest(&m)?;
            spec::validate_name(&from)?;
            let may_read = self
                .authorize(headers, &[Access::repository(&from, &["pull"])])
                .is_ok();
            if may_read && self.storage.blob_size(&from, &d)?.is_some() {
                self.storage.link_blob(name, &d)?;
                return Ok(blob_created(name, &d));
            }
            // Not mountable: fall through to a normal upload, as the spec says.
        }
        let writer = self.storage.blobs.writer().map_err(StorageError::from)?;
        let mut up = Upload {
            repo: name.to_string(),
            writer: Some(writer),
            offset: 0,
        };
        // Monolithic: POST ?digest= with the whole blob as the body.
        if let Some(d) = query(uri, "digest") {
            let d = spec::parse_digest(&d)?;
            append(&mut up, body, None).await?;
            return self.publish(name, up, &d);
        }
        let id = new_upload_id();
        self.uploads.lock().expect("not poisoned").insert(
            id.clone(),
            (name.to_string(), Arc::new(tokio::sync::Mutex::new(up))),
        );
        Ok(upload_accepted(name, &id, 0))
    }

    fn find_upload(
        &self,
        name: &str,
        id: &str,
    ) -> Result<Arc<tokio::sync::Mutex<Upload>>, ApiError> {
        self.uploads
            .lock()
            .expect("not poisoned")
            .get(id)
            .filter(|(repo, _)| repo == name)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| upload_unknown(id))
    }

    fn take_upload(
        &self,
        name: &str,
        id: &str,
    ) -> Result<Arc<tokio::sync::Mutex<Upload>>, ApiError> {
        let u = self.find_upload(name, id)?;
        self.uploads.lock().expect("not poisoned").remove(id);
        Ok(u)
    }

    async fn patch_upload(
        &self,
        name: &str,
        id: &str,
        headers: &HeaderMap,
        body: Body,
    ) -> ApiResult {
        let u = self.find_upload(name, id)?;
        let mut up = u.lock().await;
        if up.writer.is_none() {
            return Err(upload_unknown(id));
        }
        let range = content_range(headers)?;
        append(&mut up, body, range).await?;
        Ok(upload_accepted(name, id, up.offset))
    }

    async fn upload_status(&self, name: &str, id: &str) -> ApiResult {
        let u = self.find_upload(name, id)?;
        let up = u.lock().await;
        let mut r = upload_accepted(name, id, up.offset);
        *r.status_mut() = StatusCode::NO_CONTENT;
        Ok(r)
    }

    async fn finish_upload(
        &self,
        name: &str,
        id: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: Body,
    ) -> ApiResult {
        // The upload is closed whatever happens next: a failed PUT must be
        // restarted from POST (as in docker-registry).
        let u = self.take_upload(name, id)?;
        let mut up = u.lock().await;
        let d = query(uri, "digest").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::DigestInvalid,
                "the closing PUT needs ?digest=<algorithm>:<hex>",
            )
        })?;
        let d = spec::parse_digest(&d)?;
        let range = content_range(headers)?;
        append(&mut up, body, range).await?;
        let taken = Upload {
            repo: up.repo.clone(),
            writer: up.writer.take(),
            offset: up.offset,
        };
        self.publish(name, taken, &d)
    }

    /// Verify the upload against `d` and publish it (chapter 04's
    /// verify-then-rename), then link it into the repository.
    fn publish(&self, name: &str, mut up: Upload, d: &Digest) -> ApiResult {
        let writer = up.writer.take().ok_or_else(|| upload_unknown("closed"))?;
        let verified = writer
            .verify(Some(d), None, &format!("upload to {name}"))
            .map_err(|e| match e {
                chapter04::Error::DigestMismatch {
                    expected, actual, ..
                } => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::DigestInvalid,
                    format!("the uploaded content hashes to {actual}, not {expected}"),
                ),
                chapter04::Error::InvalidDigest { .. } => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::DigestInvalid,
                    e.to_string(),
                ),
                other => ApiError::from(StorageError::from(other)),
            })?;
        verified.publish().map_err(StorageError::from)?;
        self.storage.link_blob(name, d)?;
        Ok(blob_created(name, d))
    }
}

/// Append a request body to an upload. With a `Content-Range`, the chunk
/// must start exactly where the upload stands (else 416) and have the
/// announced length.
async fn append(up: &mut Upload, body: Body, range: Option<(u64, u64)>) -> Result<(), ApiError> {
    let writer = up.writer.as_mut().ok_or_else(|| upload_unknown("closed"))?;
    if let Some((start, end)) = range {
        if start != up.offset || end < start {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::BlobUploadInvalid,
                format!(
                    "chunk {start}-{end} does not continue the upload, which has {} bytes: send {}-…",
                    up.offset, up.offset
                ),
            ));
        }
        // A ranged chunk is read whole before any byte is written, so a
        // short or long chunk leaves the upload as it was.
        let want = end - start + 1;
        let bytes = axum::body::to_bytes(body, want as usize + 1)
            .await
            .map_err(|_| range_mismatch(want))?;
        if bytes.len() as u64 != want {
            return Err(range_mismatch(want));
        }
        writer.write_all(&bytes).map_err(write_failed)?;
        up.offset += want;
        return Ok(());
    }
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BlobUploadInvalid,
                format!("read the body: {e}"),
            )
        })?;
        writer.write_all(&chunk).map_err(write_failed)?;
        up.offset += chunk.len() as u64;
    }
    Ok(())
}

fn range_mismatch(want: u64) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::BlobUploadInvalid,
        format!("the chunk is not the {want} bytes its Content-Range announces"),
    )
}

fn write_failed(e: std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::BlobUploadInvalid,
        format!("write the upload: {e}"),
    )
}

/// Whether the `Accept` headers (each a comma-separated list, with
/// optional `;q=` parameters) name `media_type` itself.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|m| m.split(';').next().unwrap_or_default().trim())
        .any(|m| m.eq_ignore_ascii_case(media_type))
}

/// `Content-Range: <start>-<end>` (also accepts a `bytes ` prefix).
fn content_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("");
    let s = s
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches([' ', '=']);
    let s = s.split('/').next().unwrap_or("");
    let parsed = s
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some(r) => Ok(Some(r)),
        None => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::BlobUploadInvalid,
            format!(
                "Content-Range `{}` is not `<start>-<end>`",
                v.to_str().unwrap_or("?")
            ),
        )),
    }
}

/// `Range: bytes=a-b`, `bytes=a-`, `bytes=-n` against a blob of `size` bytes.
pub fn parse_range(r: &str, size: u64) -> Option<(u64, u64)> {
    let spec = r.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
    };
    if start > end || start >= size {
        return None;
    }
    Some((start, end))
}

/// What a manifest body refers to, and the media type to serve it with.
#[derive(Debug)]
struct ManifestRefs {
    media_type: String,
    /// (digest, is a manifest) for every child.
    children: Vec<(Digest, bool)>,
}

/// Read a manifest or index just enough to check its references. Refuses a
/// document that claims to be both an index and a manifest.
fn manifest_references(bytes: &[u8], content_type: Option<&str>) -> Result<ManifestRefs, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest is not JSON: {e}"))?;
    if v.get("schemaVersion").and_then(|s| s.as_u64()) != Some(2) {
        return Err("only schemaVersion 2 manifests are accepted (schema 1 is deprecated)".into());
    }
    let has_manifests = v.get("manifests").is_some();
    let has_layers = v.get("layers").is_some() || v.get("config").is_some();
    if has_manifests && has_layers {
        return Err(
            "the document has both `manifests` (an index) and `layers`/`config` (a manifest)"
                .into(),
        );
    }
    let field_type = v.get("mediaType").and_then(|m| m.as_str());
    let media_type = field_type
        .or(content_type)
        .map(str::to_string)
        .unwrap_or_else(|| {
            if has_manifests {
                chapter04::media::OCI_INDEX.into()
            } else {
                chapter04::media::OCI_MANIFEST.into()
            }
        });
    if let (Some(f), Some(c)) = (field_type, content_type) {
        if f != c && !c.starts_with("application/json") {
            return Err(format!(
                "Content-Type `{c}` contradicts the document's mediaType `{f}`"
            ));
        }
    }
    let desc = |d: &serde_json::Value, what: &str| -> Result<Digest, String> {
        let s = d
            .get("digest")
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("{what} has no digest"))?;
        digest::parse(s).map_err(|e| format!("{what}: {e}"))
    };
    let mut children = Vec::new();
    if has_manifests {
        for (i, m) in v["manifests"]
            .as_array()
            .ok_or("`manifests` is not a list")?
            .iter()
            .enumerate()
        {
            children.push((desc(m, &format!("manifests[{i}]"))?, true));
        }
    } else {
        children.push((desc(&v["config"], "config")?, false));
        for (i, l) in v["layers"]
            .as_array()
            .ok_or("`layers` is not a list")?
            .iter()
            .enumerate()
        {
            children.push((desc(l, &format!("layers[{i}]"))?, false));
        }
    }
    Ok(ManifestRefs {
        media_type,
        children,
    })
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn link_next(r: &mut Response, url: &str) {
    r.headers_mut()
        .insert(header::LINK, hv(&format!("<{url}>; rel=\"next\"")));
}

fn blob_unknown(d: &Digest) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::BlobUnknown,
        format!("blob {d} is not in this repository"),
    )
}

fn upload_unknown(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::BlobUploadUnknown,
        format!("no upload {id} in progress (start one with POST)"),
    )
}

fn blob_created(name: &str, d: &Digest) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, hv(&format!("/v2/{name}/blobs/{d}")));
    h.insert(CONTENT_DIGEST, hv(d.as_ref()));
    h.insert(header::CONTENT_LENGTH, hv("0"));
    r
}

fn upload_accepted(name: &str, id: &str, offset: u64) -> Response {
    let mut r = StatusCode::ACCEPTED.into_response();
    let h = r.headers_mut();
    h.insert(
        header::LOCATION,
        hv(&format!("/v2/{name}/blobs/uploads/{id}")),
    );
    h.insert("Docker-Upload-UUID", hv(id));
    h.insert(
        header::RANGE,
        hv(&format!("0-{}", offset.saturating_sub(1))),
    );
    h.insert(header::CONTENT_LENGTH, hv("0"));
    r
}

/// The axum app: one fallback handler that routes by [`Route::parse`].
pub fn router(registry: Arc<Registry>) -> axum::Router {
    axum::Router::new()
        .fallback(
            |axum::extract::State(reg): axum::extract::State<Arc<Registry>>,
             method: Method,
             uri: Uri,
             headers: HeaderMap,
             body: Body| async move {
                let mut resp = match reg.dispatch(method, uri, headers, body).await {
                    Ok(r) => r,
                    Err(e) => e.into_response(),
                };
                resp.headers_mut()
                    .insert(spec::API_VERSION, HeaderValue::from_static("registry/2.0"));
                resp
            },
        )
        .with_state(registry)
}

/// A server running on a background task; dropping it stops it.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub registry: Arc<Registry>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// `host:port`, for references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Stop and wait for the server to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(t) => t.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// bind(2) failed.
    #[error("listen on {addr} (is the port in use? pass --addr 127.0.0.1:0 for a free one)")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The storage root could not be prepared.
    #[error("prepare the storage")]
    Storage(#[from] StorageError),
}

/// Bind `addr` and serve in the background (needs a tokio runtime).
pub async fn spawn(config: ServerConfig, addr: &str) -> Result<RunningServer, ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let registry = Arc::new(Registry::new(config, local)?);
    let app = router(registry.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningServer {
        addr: local,
        registry,
        stop: Some(tx),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let d = format!("sha256:{}", "a".repeat(64));
        let p = |s: &str| Route::parse(s).unwrap();
        assert_eq!(p("/v2/"), Some(Route::Base));
        assert_eq!(p("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(p("/v2/a/b/tags/list"), Some(Route::Tags("a/b".into())));
        assert_eq!(
            p("/v2/a/manifests/b/manifests/latest"),
            Some(Route::Manifest(
                "a/manifests/b".into(),
                ManifestRef::Tag("latest".into())
            ))
        );
        assert_eq!(
            p("/v2/a/blobs/uploads/"),
            Some(Route::UploadStart("a".into()))
        );
        assert_eq!(
            p("/v2/a/blobs/uploads/0a-1b"),
            Some(Route::Upload("a".into(), "0a-1b".into()))
        );
        assert!(matches!(
            p(&format!("/v2/a/blobs/{d}")),
            Some(Route::Blob(..))
        ));
        assert!(Route::parse("/v2/../etc/blobs/uploads/").is_err());
        assert!(Route::parse("/v2/a/blobs/sha256:..").is_err());
        // A digest with `/` in it matches no route at all (404).
        assert_eq!(p("/v2/a/blobs/sha256:../../x"), None);
        assert!(Route::parse("/v2/a/manifests/..").is_err());
        assert!(Route::parse("/v2/A/tags/list").is_err());
        assert_eq!(p("/other"), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert!(parse_range("bytes=100-", 100).is_none());
        assert!(parse_range("bytes=5-1", 100).is_none());
        assert!(parse_range("lines=1-2", 100).is_none());
    }

    #[test]
    fn index_and_manifest_at_once_is_refused() {
        let d = format!("sha256:{}", "a".repeat(64));
        let both = format!(
            r#"{{"schemaVersion":2,"manifests":[],"config":{{"digest":"{d}"}},"layers":[]}}"#
        );
        assert!(manifest_references(both.as_bytes(), None)
            .unwrap_err()
            .contains("both"));
        let bad = r#"{"schemaVersion":2,"config":{"digest":"sha256:../x"},"layers":[]}"#;
        assert!(manifest_references(bad.as_bytes(), None).is_err());
    }
}
