//! The registry client: transport, authentication, and the rules about
//! where credentials and plain HTTP may go.
//!
//! Every request goes through [`Client::send`], which does what `docker`
//! does, in this order:
//!
//! 1. **Pick the scheme.** HTTPS, except for loopback registries
//!    (`127.0.0.1:5000`, `localhost`) and the ones listed as insecure
//!    (daemon.json's `insecure-registries`), which use plain HTTP.
//! 2. **Attach what we already have** for this registry: a cached Bearer
//!    token for this scope, or Basic credentials if the registry asked for
//!    Basic before.
//! 3. **On 401, answer the challenge** in `WWW-Authenticate`: Basic, send
//!    the `config.json` credentials; Bearer, `GET realm?service=&scope=`
//!    (with the credentials, if any) for a token, then retry once.
//! 4. **Follow redirects by hand** (blob downloads are often redirected to
//!    a CDN or S3). The `Authorization` header is dropped whenever the
//!    redirect leaves the registry's host and port: credentials are never
//!    sent to a host other than the one they were issued for.
//!
//! Credentials go to the registry they are stored for and to the token
//! realm *that registry* names in its challenge (Docker Hub's registry
//! sends clients to `auth.docker.io`), and only over HTTPS or to an
//! address the scheme rule above allows.

pub mod config;
pub mod inflight;
pub mod progress;
pub mod pull;
pub mod push;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Request, Response, StatusCode, Url};

use crate::auth::{self, Challenge};
use crate::reference::{self, Reference};
use crate::spec::{self, WireError};
pub use config::Credentials;
pub use progress::Progress;

/// One HTTP exchange, for the tour's narration.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `GET`, `PUT`…
    pub method: String,
    /// `http://host/path?query`.
    pub url: String,
    /// The status code.
    pub status: u16,
    /// Request headers that matter (auth shown as a scheme only).
    pub request_headers: Vec<(String, String)>,
    /// Response headers that matter.
    pub response_headers: Vec<(String, String)>,
}

impl Exchange {
    /// One or two lines, like `curl -v` trimmed to what a learner needs.
    pub fn short(&self) -> String {
        let path = Url::parse(&self.url)
            .map(|u| match u.query() {
                Some(q) => format!(
                    "{}?{}",
                    u.path(),
                    q.replace("%3A", ":")
                        .replace("%2F", "/")
                        .replace("%2C", ",")
                ),
                None => u.path().to_string(),
            })
            .unwrap_or_else(|_| self.url.clone());
        let mut s = format!(
            "{} {} -> {}",
            self.method,
            shorten_digests(&path),
            self.status
        );
        let hs: Vec<String> = self
            .request_headers
            .iter()
            .map(|(k, v)| format!("> {k}: {v}"))
            .chain(
                self.response_headers
                    .iter()
                    .map(|(k, v)| format!("< {k}: {}", shorten_digests(v))),
            )
            .collect();
        if !hs.is_empty() {
            s.push_str("\n      ");
            s.push_str(&hs.join("\n      "));
        }
        s
    }
}

/// `sha256:<64 hex>` shortened to `sha256:<12 hex>…` for reading.
pub fn shorten_digests(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i + 7]);
        let hex: String = rest[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        if hex.len() == 64 {
            out.push_str(&hex[..12]);
            out.push('…');
        } else {
            out.push_str(&hex);
        }
        rest = &rest[i + 7 + hex.len()..];
    }
    out.push_str(rest);
    out
}

/// A callback receiving every exchange.
pub type ExchangeLog = Arc<dyn Fn(&Exchange) + Send + Sync>;

/// Client settings (daemon.json and `docker` flags, in miniature).
#[derive(Clone)]
pub struct ClientConfig {
    /// Registries allowed over plain HTTP besides loopback ones
    /// (daemon.json `insecure-registries`), as `host[:port]`.
    pub insecure_registries: Vec<String>,
    /// Mirrors for Docker Hub (daemon.json `registry-mirrors`), as URLs.
    pub mirrors: Vec<String>,
    /// Docker `config.json` to read credentials from (`None`: no file).
    pub auth_file: Option<PathBuf>,
    /// Refuse every registry that is not on loopback (tests and the tour:
    /// a bug can never reach the Internet).
    pub loopback_only: bool,
    /// Upload in chunks of this size (`None`: one monolithic PUT).
    pub chunk_size: Option<u64>,
    /// How many blobs move at once (Docker's default is 3 down, 5 up).
    pub concurrency: usize,
    /// Where progress bars go (hidden by default; `Progress::new(true)` to draw).
    pub progress: Progress,
    /// Platform to pick from an index.
    pub platform: chapter04::PlatformSpec,
    /// Receives every HTTP exchange.
    pub log: Option<ExchangeLog>,
    /// Blobs being fetched, shared by the clones of this config: a pull
    /// waits for another's download of a blob instead of fetching it again.
    pub in_flight: inflight::InFlight,
    /// Unpack each layer into this layer store as it downloads (`None`:
    /// only download; the layers are unpacked at the first `create`).
    pub unpack: Option<pull::UnpackInto>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            insecure_registries: Vec::new(),
            mirrors: Vec::new(),
            auth_file: None,
            loopback_only: false,
            chunk_size: None,
            concurrency: 3,
            progress: Progress::new(false),
            platform: chapter04::PlatformSpec::host(),
            log: None,
            in_flight: inflight::InFlight::default(),
            unpack: None,
        }
    }
}

impl ClientConfig {
    /// Read `registry-mirrors` and `insecure-registries` from a Docker
    /// `daemon.json`, as dockerd does:
    ///
    /// ```json
    /// { "registry-mirrors": ["https://mirror.example"], "insecure-registries": ["myreg.lan:5000"] }
    /// ```
    pub fn apply_daemon_json(&mut self, path: &std::path::Path) -> Result<(), config::ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| config::ConfigError::Io {
            step: "read",
            path: path.to_path_buf(),
            source,
        })?;
        #[derive(serde::Deserialize)]
        struct Daemon {
            #[serde(rename = "registry-mirrors", default)]
            mirrors: Vec<String>,
            #[serde(rename = "insecure-registries", default)]
            insecure: Vec<String>,
        }
        let d: Daemon =
            serde_json::from_slice(&bytes).map_err(|e| config::ConfigError::Malformed {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        self.mirrors.extend(d.mirrors);
        self.insecure_registries.extend(d.insecure);
        Ok(())
    }
}

/// What went wrong talking to a registry, named after the step.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A reference, name or digest is malformed.
    #[error(transparent)]
    Invalid(#[from] spec::Invalid),
    /// Plain HTTP to a registry that is neither loopback nor listed insecure.
    #[error("refusing to use plain HTTP for {registry}: only loopback registries and those listed with --insecure-registry may use it")]
    InsecureRefused {
        /// The registry.
        registry: String,
    },
    /// `loopback_only` is set and the registry is elsewhere.
    #[error("refusing to contact {host}: this client is restricted to loopback registries")]
    NotLoopback {
        /// The host.
        host: String,
    },
    /// The request could not be sent or the answer not read.
    #[error("{method} {url}")]
    Http {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The registry answered with an error status.
    #[error("{what}: {url} answered {status}{}", errors_suffix(.errors))]
    Status {
        /// What we were doing.
        what: String,
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The OCI errors in the body.
        errors: Vec<WireError>,
    },
    /// Authentication failed or was refused.
    #[error("{registry}: {reason}")]
    Unauthorized {
        /// The registry.
        registry: String,
        /// What happened, and what to do.
        reason: String,
    },
    /// The token service did not give a token.
    #[error("get a token from {realm}: {reason}")]
    Token {
        /// The token endpoint.
        realm: String,
        /// What happened.
        reason: String,
    },
    /// Content did not verify, or chapter 04's store failed.
    #[error(transparent)]
    Store(#[from] chapter04::Error),
    /// The layers unpacked during the pull could not be made durable or
    /// moved under their ids in the layer store.
    #[error("publish the pulled layers in the layer store (check its disk)")]
    Publish(#[source] chapter03::Error),
    /// Reading the Docker config.json failed.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The registry sent something that is not what the protocol says.
    #[error("{registry}: {reason}")]
    Protocol {
        /// The registry.
        registry: String,
        /// What is wrong.
        reason: String,
    },
    /// Every mirror and the registry itself failed.
    #[error("pull {reference}: {}", .attempts.join("; "))]
    AllEndpointsFailed {
        /// The reference.
        reference: String,
        /// One line per endpoint tried.
        attempts: Vec<String>,
    },
}

fn errors_suffix(errors: &[WireError]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        let e: Vec<String> = errors
            .iter()
            .map(|e| format!("{} ({})", e.code, e.message))
            .collect();
        format!(": {}", e.join(", "))
    }
}

impl ClientError {
    /// The first OCI error code in the answer, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Status { errors, .. } => errors.first().map(|e| e.code.as_str()),
            _ => None,
        }
    }
}

/// Where a registry's API is: `http://127.0.0.1:5000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL, no path.
    pub base: Url,
    /// The registry host:port whose credentials apply.
    pub registry: String,
}

impl Endpoint {
    /// `base/v2/<path>`.
    pub fn url(&self, path: &str) -> Url {
        self.base
            .join(&format!("/v2/{path}"))
            .expect("a valid path")
    }
}

/// A registry client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Settings.
    pub config: ClientConfig,
    credentials: Arc<Mutex<HashMap<String, Credentials>>>,
    tokens: Arc<Mutex<HashMap<(String, String), String>>>,
    /// One token request at a time: parallel blob tasks share the result.
    token_fetch: Arc<tokio::sync::Mutex<()>>,
    basic_hosts: Arc<Mutex<HashSet<String>>>,
}

/// `host:port` of a URL, the unit credentials are bound to.
fn authority(u: &Url) -> String {
    match (u.host_str(), u.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

impl Client {
    /// A client with these settings.
    pub fn new(config: ClientConfig) -> Client {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chapter06/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initializes");
        Client {
            http,
            config,
            credentials: Arc::default(),
            tokens: Arc::default(),
            token_fetch: Arc::default(),
            basic_hosts: Arc::default(),
        }
    }

    /// Use these credentials for `registry` (overrides config.json).
    pub fn set_credentials(&self, registry: &str, creds: Credentials) {
        self.credentials
            .lock()
            .expect("not poisoned")
            .insert(registry.to_string(), creds);
    }

    fn credentials_for(&self, registry: &str) -> Result<Option<Credentials>, ClientError> {
        if let Some(c) = self.credentials.lock().expect("not poisoned").get(registry) {
            return Ok(Some(c.clone()));
        }
        match &self.config.auth_file {
            Some(p) => Ok(config::load(p, registry)?),
            None => Ok(None),
        }
    }

    /// May we talk plain HTTP to this `host[:port]`?
    fn plain_http_allowed(&self, host: &str) -> bool {
        reference::is_loopback_host(host)
            || self.config.insecure_registries.iter().any(|r| r == host)
    }

    fn check_url(&self, u: &Url) -> Result<(), ClientError> {
        let host = authority(u);
        let bare = u.host_str().unwrap_or("");
        if self.config.loopback_only && !reference::is_loopback_host(bare) {
            return Err(ClientError::NotLoopback { host });
        }
        if u.scheme() == "http" {
            let given = match u.port() {
                Some(p) => format!("{bare}:{p}"),
                None => bare.to_string(),
            };
            if !self.plain_http_allowed(&given) && !self.plain_http_allowed(bare) {
                return Err(ClientError::InsecureRefused { registry: given });
            }
        } else if u.scheme() != "https" {
            return Err(ClientError::Protocol {
                registry: host,
                reason: format!("unsupported URL scheme `{}`", u.scheme()),
            });
        }
        Ok(())
    }

    /// The endpoint of a registry named in a reference.
    pub fn endpoint(&self, registry: &str) -> Result<Endpoint, ClientError> {
        let api_host = if registry == reference::DOCKER_HUB {
            reference::DOCKER_HUB_API
        } else {
            registry
        };
        if self.config.loopback_only && !reference::is_loopback_host(api_host) {
            return Err(ClientError::NotLoopback {
                host: api_host.to_string(),
            });
        }
        let scheme = if self.plain_http_allowed(api_host) {
            "http"
        } else {
            "https"
        };
        let base =
            Url::parse(&format!("{scheme}://{api_host}/")).map_err(|e| ClientError::Protocol {
                registry: registry.into(),
                reason: format!("not a host name: {e}"),
            })?;
        Ok(Endpoint {
            base,
            registry: registry.to_string(),
        })
    }

    /// The endpoints to pull `r` from: the mirrors first for Docker Hub
    /// images (as daemon.json `registry-mirrors`), then the registry.
    pub fn pull_endpoints(&self, r: &Reference) -> Result<Vec<Endpoint>, ClientError> {
        let mut out = Vec::new();
        if r.registry == reference::DOCKER_HUB {
            for m in &self.config.mirrors {
                let base = Url::parse(m).map_err(|e| ClientError::Protocol {
                    registry: m.clone(),
                    reason: format!("mirror is not a URL: {e}"),
                })?;
                self.check_url(&base)?;
                out.push(Endpoint {
                    registry: authority_for_creds(&base),
                    base,
                });
            }
        }
        match self.endpoint(&r.registry) {
            Ok(e) => out.push(e),
            // With mirrors, a refused Hub only matters if they all fail.
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => {}
        }
        Ok(out)
    }

    fn log(&self, req: &Request, resp: &Response) {
        let Some(log) = &self.config.log else { return };
        let mut request_headers = Vec::new();
        if let Some(a) = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let scheme = a.split(' ').next().unwrap_or("");
            request_headers.push(("Authorization".into(), format!("{scheme} …")));
        }
        for k in ["Content-Range", "Range", "Content-Type"] {
            if let Some(v) = req.headers().get(k).and_then(|v| v.to_str().ok()) {
                request_headers.push((k.into(), v.into()));
            }
        }
        let mut response_headers = Vec::new();
        for k in [
            "WWW-Authenticate",
            "Location",
            "Range",
            "Docker-Content-Digest",
            "Content-Type",
        ] {
            if let Some(v) = resp.headers().get(k).and_then(|v| v.to_str().ok()) {
                if k == "Content-Type" && !v.contains("vnd.") {
                    continue;
                }
                if k == "Location" {
                    // Keep it short: the path is enough.
                    let p = Url::parse(v)
                        .map(|u| u.path().to_string())
                        .unwrap_or(v.to_string());
                    response_headers.push((k.into(), p));
                    continue;
                }
                response_headers.push((k.into(), v.into()));
            }
        }
        log(&Exchange {
            method: req.method().to_string(),
            url: req.url().to_string(),
            status: resp.status().as_u16(),
            request_headers,
            response_headers,
        });
    }

    /// Send one request, following redirects for GET and HEAD by hand and
    /// dropping `Authorization` when a redirect leaves `origin`.
    async fn execute(&self, mut req: Request, origin: &str) -> Result<Response, ClientError> {
        for _ in 0..5 {
            self.check_url(req.url())?;
            if authority(req.url()) != origin {
                req.headers_mut().remove(AUTHORIZATION);
            }
            let follow_template = if matches!(*req.method(), Method::GET | Method::HEAD) {
                Some((
                    req.method().clone(),
                    req.url().clone(),
                    req.headers().clone(),
                ))
            } else {
                None
            };
            let shown = Request::new(req.method().clone(), req.url().clone());
            let mut shown = shown;
            *shown.headers_mut() = req.headers().clone();
            let resp = self
                .http
                .execute(req)
                .await
                .map_err(|source| ClientError::Http {
                    method: shown.method().to_string(),
                    url: shown.url().to_string(),
                    source,
                })?;
            self.log(&shown, &resp);
            let redirect =
                resp.status().is_redirection() && resp.status() != StatusCode::NOT_MODIFIED;
            match (redirect, follow_template, resp.headers().get(LOCATION)) {
                (true, Some((method, url, headers)), Some(loc)) => {
                    let loc = loc.to_str().unwrap_or("");
                    let next = url.join(loc).map_err(|e| ClientError::Protocol {
                        registry: origin.into(),
                        reason: format!("bad redirect Location `{loc}`: {e}"),
                    })?;
                    let mut r = Request::new(method, next);
                    *r.headers_mut() = headers;
                    req = r;
                }
                _ => return Ok(resp),
            }
        }
        Err(ClientError::Protocol {
            registry: origin.into(),
            reason: "more than 5 redirects".into(),
        })
    }

    /// Send a request built by `build` (called again for each retry), with
    /// the auth flow for `scope` (`repository:<name>:pull[,push]`).
    pub async fn send<F>(
        &self,
        ep: &Endpoint,
        scope: &str,
        build: F,
    ) -> Result<Response, ClientError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let origin = authority(&ep.base);
        let mut last_challenge = None;
        for attempt in 0..3 {
            let mut req = build(&self.http)
                .build()
                .map_err(|source| ClientError::Http {
                    method: "build".into(),
                    url: ep.base.to_string(),
                    source,
                })?;
            let attached = self.attach_auth(&mut req, ep, scope)?;
            let resp = self.execute(req, &origin).await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(auth::parse_challenge);
            if attempt == 2 || challenge.is_none() || challenge == last_challenge {
                let body = resp.bytes().await.unwrap_or_default();
                let errors = spec::parse_error_body(&body);
                let creds = self.credentials_for(&ep.registry)?.is_some();
                return Err(ClientError::Unauthorized {
                    registry: ep.registry.clone(),
                    reason: format!(
                        "access to {scope} refused{}{}",
                        errors_suffix(&errors),
                        if creds {
                            " (the stored credentials do not grant it)"
                        } else {
                            ": log in first (`chapter06 login`)"
                        }
                    ),
                });
            }
            match challenge.clone().expect("checked") {
                Challenge::Basic => {
                    if self.credentials_for(&ep.registry)?.is_none() {
                        return Err(ClientError::Unauthorized {
                            registry: ep.registry.clone(),
                            reason: "the registry wants a user name and password: log in first (`chapter06 login`)".into(),
                        });
                    }
                    self.basic_hosts
                        .lock()
                        .expect("not poisoned")
                        .insert(origin.clone());
                }
                Challenge::Bearer {
                    realm,
                    service,
                    scope: wanted,
                    ..
                } => {
                    // Ask for what we need and what the registry says it wants.
                    let mut scopes: Vec<String> = Vec::new();
                    for s in scope
                        .split(' ')
                        .chain(wanted.as_deref().unwrap_or("").split(' '))
                    {
                        if !s.is_empty() && !scopes.iter().any(|x| x == s) {
                            scopes.push(s.to_string());
                        }
                    }
                    let _one_at_a_time = self.token_fetch.lock().await;
                    let key = (origin.clone(), scope.to_string());
                    let cached = self.tokens.lock().expect("not poisoned").get(&key).cloned();
                    if cached.is_some() && cached != attached {
                        // Another task got a fresh token meanwhile: use it.
                        continue;
                    }
                    let token = self
                        .fetch_token(ep, &realm, service.as_deref(), &scopes)
                        .await?;
                    self.tokens.lock().expect("not poisoned").insert(key, token);
                }
            }
            last_challenge = challenge;
        }
        unreachable!("the loop returns")
    }

    /// Attach a cached token or Basic credentials; returns the token used.
    fn attach_auth(
        &self,
        req: &mut Request,
        ep: &Endpoint,
        scope: &str,
    ) -> Result<Option<String>, ClientError> {
        let origin = authority(&ep.base);
        if authority(req.url()) != origin {
            return Ok(None);
        }
        let token = self
            .tokens
            .lock()
            .expect("not poisoned")
            .get(&(origin.clone(), scope.to_string()))
            .cloned();
        let value = if let Some(t) = &token {
            Some(format!("Bearer {t}"))
        } else if self
            .basic_hosts
            .lock()
            .expect("not poisoned")
            .contains(&origin)
        {
            self.credentials_for(&ep.registry)?
                .map(|c| auth::basic_value(&c.user, &c.password))
        } else {
            None
        };
        if let Some(v) = value {
            req.headers_mut().insert(
                AUTHORIZATION,
                v.parse().map_err(|_| ClientError::Protocol {
                    registry: ep.registry.clone(),
                    reason: "credentials contain characters not allowed in a header".into(),
                })?,
            );
        }
        Ok(token)
    }

    /// `GET realm?service=&scope=` for a Bearer token.
    async fn fetch_token(
        &self,
        ep: &Endpoint,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<String, ClientError> {
        let terr = |reason: String| ClientError::Token {
            realm: realm.to_string(),
            reason,
        };
        let mut url = Url::parse(realm).map_err(|e| terr(format!("not a URL: {e}")))?;
        self.check_url(&url)?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let mut req = Request::new(Method::GET, url.clone());
        if let Some(c) = self.credentials_for(&ep.registry)? {
            req.headers_mut().insert(
                AUTHORIZATION,
                auth::basic_value(&c.user, &c.password)
                    .parse()
                    .map_err(|_| terr("bad credentials".into()))?,
            );
        }
        // The realm is the origin for this request: the registry named it.
        let resp = self.execute(req, &authority(&url)).await?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|source| ClientError::Http {
            method: "GET".into(),
            url: url.to_string(),
            source,
        })?;
        if !status.is_success() {
            if status == StatusCode::UNAUTHORIZED {
                return Err(ClientError::Unauthorized {
                    registry: ep.registry.clone(),
                    reason: "the token service refused the credentials: check user name and password (`chapter06 login`)".into(),
                });
            }
            return Err(terr(format!("status {status}")));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| terr(format!("not a token response: {e}")))?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| terr("the answer has no token".into()))
    }

    /// `GET /v2/`: is it a registry, and do the credentials work? (`login`)
    pub async fn ping(&self, registry: &str) -> Result<(), ClientError> {
        let ep = self.endpoint(registry)?;
        let url = ep.url("");
        let resp = self.send(&ep, "", |c| c.get(url.clone())).await?;
        expect_status(resp, &[StatusCode::OK], "check the registry", &ep).await?;
        Ok(())
    }

    /// `docker login`: check the credentials against the registry, then
    /// store them in `config.json`.
    pub async fn login(
        &self,
        registry: &str,
        creds: Credentials,
        file: &std::path::Path,
    ) -> Result<(), ClientError> {
        self.set_credentials(registry, creds.clone());
        self.basic_hosts.lock().expect("not poisoned").clear();
        let ep = self.endpoint(registry)?;
        let url = ep.url("");
        // The 401 challenge tells how to log in: Basic, or a token (for no
        // particular scope) from the realm; send() answers it.
        let checked = match self.send(&ep, "", |c| c.get(url.clone())).await {
            Ok(resp) => expect_status(resp, &[StatusCode::OK], "log in", &ep)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            // Wrong credentials are forgotten, not kept for later requests.
            self.credentials
                .lock()
                .expect("not poisoned")
                .remove(registry);
            return Err(e);
        }
        config::store(file, registry, &creds)?;
        Ok(())
    }

    /// Tags of a repository (`GET /v2/<name>/tags/list`, following `Link`).
    pub async fn list_tags(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Vec<String>, ClientError> {
        spec::validate_name(repository)?;
        let ep = self.endpoint(registry)?;
        let scope = format!("repository:{repository}:pull");
        let mut url = ep.url(&format!("{repository}/tags/list?n=100"));
        let mut out = Vec::new();
        loop {
            let u = url.clone();
            let resp = self.send(&ep, &scope, |c| c.get(u.clone())).await?;
            let resp = expect_status(resp, &[StatusCode::OK], "list tags", &ep).await?;
            let next = resp
                .headers()
                .get("Link")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split(';').next())
                .map(|l| {
                    l.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                });
            #[derive(serde::Deserialize)]
            struct Tags {
                tags: Option<Vec<String>>,
            }
            let body = resp.bytes().await.map_err(|source| ClientError::Http {
                method: "GET".into(),
                url: url.to_string(),
                source,
            })?;
            let t: Tags = serde_json::from_slice(&body).map_err(|e| ClientError::Protocol {
                registry: registry.into(),
                reason: format!("tags/list answer is not JSON: {e}"),
            })?;
            out.extend(t.tags.unwrap_or_default());
            match next {
                Some(n) => {
                    url = ep.base.join(&n).map_err(|e| ClientError::Protocol {
                        registry: registry.into(),
                        reason: format!("bad Link header: {e}"),
                    })?
                }
                None => return Ok(out),
            }
        }
    }
}

fn authority_for_creds(u: &Url) -> String {
    match u.port() {
        Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
        None => u.host_str().unwrap_or("").to_string(),
    }
}

/// Turn an unexpected status into [`ClientError::Status`] with the OCI errors.
pub(crate) async fn expect_status(
    resp: Response,
    ok: &[StatusCode],
    what: &str,
    ep: &Endpoint,
) -> Result<Response, ClientError> {
    if ok.contains(&resp.status()) {
        return Ok(resp);
    }
    let status = resp.status();
    let url = resp.url().to_string();
    let body = resp.bytes().await.unwrap_or_default();
    let _ = ep;
    Err(ClientError::Status {
        what: what.to_string(),
        url,
        status,
        errors: spec::parse_error_body(&body),
    })
}

/// Headers for a request, a helper for tests and callers.
pub fn headers() -> HeaderMap {
    HeaderMap::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_rules() {
        let c = Client::new(ClientConfig {
            insecure_registries: vec!["myreg.lan:5000".into()],
            ..Default::default()
        });
        assert_eq!(
            c.endpoint("127.0.0.1:5000").unwrap().base.as_str(),
            "http://127.0.0.1:5000/"
        );
        assert_eq!(
            c.endpoint("localhost:5000").unwrap().base.as_str(),
            "http://localhost:5000/"
        );
        assert_eq!(
            c.endpoint("myreg.lan:5000").unwrap().base.as_str(),
            "http://myreg.lan:5000/"
        );
        assert_eq!(
            c.endpoint("ghcr.io").unwrap().base.as_str(),
            "https://ghcr.io/"
        );
        assert_eq!(
            c.endpoint("docker.io").unwrap().base.as_str(),
            "https://registry-1.docker.io/"
        );
        assert!(matches!(
            c.check_url(&Url::parse("http://ghcr.io/token").unwrap()),
            Err(ClientError::InsecureRefused { .. })
        ));
        let local = Client::new(ClientConfig {
            loopback_only: true,
            ..Default::default()
        });
        assert!(matches!(
            local.endpoint("docker.io"),
            Err(ClientError::NotLoopback { .. })
        ));
    }

    #[test]
    fn mirrors_come_first_for_docker_hub_only() {
        let c = Client::new(ClientConfig {
            mirrors: vec!["http://127.0.0.1:7000".into()],
            ..Default::default()
        });
        let hub = Reference::parse("busybox").unwrap();
        let eps = c.pull_endpoints(&hub).unwrap();
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].base.as_str(), "http://127.0.0.1:7000/");
        assert_eq!(eps[1].base.as_str(), "https://registry-1.docker.io/");
        let other = Reference::parse("127.0.0.1:5000/x").unwrap();
        assert_eq!(c.pull_endpoints(&other).unwrap().len(), 1);
    }

    #[test]
    fn digests_are_shortened_for_reading() {
        let d = format!("/v2/a/blobs/sha256:{}", "ab".repeat(32));
        assert_eq!(shorten_digests(&d), "/v2/a/blobs/sha256:abababababab…");
    }
}
