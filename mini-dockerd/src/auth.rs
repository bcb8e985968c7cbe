//! # Registry credentials and search: `POST /auth`, `X-Registry-Auth`, `GET /images/search`
//!
//! The daemon never stores credentials. `docker login` sends them once to
//! `POST /auth`; the daemon checks them against the registry (chapter 06's
//! client answers the registry's 401 challenge, Basic or token) and the
//! CLI stores them in its own `config.json`. Every later `pull`/`push`
//! carries them in the `X-Registry-Auth` header (base64url of
//! `{"username","password","serveraddress"}`), and the daemon uses them for
//! that registry only: credentials for `127.0.0.1:5000` are never sent to
//! another host. A header without `serveraddress` (docker-py's
//! `auth_config={"username","password"}`) is, as dockerd reads it, for the
//! registry of the image being pulled or pushed, and so goes to that one.
//!
//! `search` reads a registry's catalog (`GET /v2/_catalog`) and keeps the
//! repositories whose name contains the term (Docker Hub's search API is
//! not part of the distribution spec).

use super::errors::chain;
use super::ApiError;
use base64::Engine as _;
use registry::client::config::Credentials;
pub use registry::reference::{registry_host, split_term};
use registry::Client;
use serde::Deserialize;
use serde_json::{json, Value};

/// Docker's `AuthConfig` (the `/auth` body and the decoded `X-Registry-Auth`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthConfig {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// The registry, as `host[:port]` or a URL.
    #[serde(default)]
    pub serveraddress: String,
}

impl AuthConfig {
    /// Decodes an `X-Registry-Auth` header (base64url, padded or not; the
    /// docker CLI sends URL-safe, some SDKs standard base64).
    pub fn from_header(h: &str) -> Option<AuthConfig> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let h = h.trim();
        let bytes = URL_SAFE
            .decode(h)
            .or_else(|_| URL_SAFE_NO_PAD.decode(h))
            .or_else(|_| STANDARD.decode(h))
            .ok()?;
        let a: AuthConfig = serde_json::from_slice(&bytes).ok()?;
        (!a.username.is_empty()).then_some(a)
    }

    /// The registry host these credentials are for (`http://h:p/v2/` -> `h:p`).
    pub fn registry(&self) -> String {
        registry_host(&self.serveraddress)
    }

    /// Whether these credentials go to `registry`, the one an operation
    /// talks to: the one they name, or any when they name none (they came
    /// with this one request, for its image).
    pub fn applies_to(&self, registry: &str) -> bool {
        self.serveraddress.trim().is_empty() || self.registry() == registry
    }
}

/// A client that sends `auth` to `registry` and nowhere else.
pub fn client_for(
    base: &registry::ClientConfig,
    registry: &str,
    auth: Option<&AuthConfig>,
) -> Client {
    let c = Client::new(base.clone());
    if let Some(a) = auth.filter(|a| a.applies_to(registry)) {
        c.set_credentials(
            registry,
            Credentials {
                user: a.username.clone(),
                password: a.password.clone(),
            },
        );
    }
    c
}

/// Whether the registry refused the credentials (or their absence).
pub fn is_auth_failure(e: &registry::client::ClientError) -> bool {
    use registry::client::ClientError as E;
    match e {
        E::Unauthorized { .. } | E::Token { .. } => true,
        E::Status { status, .. } => status.as_u16() == 401 || status.as_u16() == 403,
        _ => false,
    }
}

/// `POST /auth`: checks the credentials against the registry.
pub async fn login(base: &registry::ClientConfig, body: &[u8]) -> Result<Value, ApiError> {
    let a: AuthConfig = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("invalid JSON: {}", crate::errors::chain(&e))))?;
    let host = a.registry();
    let c = client_for(base, &host, Some(&a));
    match c.ping(&host).await {
        Ok(()) => Ok(json!({"Status": "Login Succeeded", "IdentityToken": ""})),
        Err(e) if is_auth_failure(&e) => Err(ApiError::unauthorized(format!(
            "login attempt to {host} failed: unauthorized: {}",
            chain(&e)
        ))),
        Err(e) => Err(ApiError::internal(format!(
            "login to {host}: {}",
            chain(&e)
        ))),
    }
}

/// `GET /images/search?term=&limit=`: the catalog's repositories that
/// contain the term, in Docker's result shape.
pub async fn search(
    base: &registry::ClientConfig,
    term: &str,
    limit: usize,
    auth: Option<AuthConfig>,
) -> Result<Value, ApiError> {
    let (host, needle) = split_term(term);
    let host = host.ok_or_else(|| {
        ApiError::bad(format!(
            "search needs a registry: give the term as HOST/{term} (mini-docker searches a registry's catalog; Docker Hub's search API is not supported)"
        ))
    })?;
    let c = client_for(base, &host, auth.as_ref());
    let ep = c
        .endpoint(&host)
        .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?;
    let mut repos: Vec<String> = Vec::new();
    let mut url = ep.url("_catalog?n=1000");
    // Follow `Link: <…?last=…>; rel="next"` pages.
    for _ in 0..100 {
        let u = url.clone();
        let resp = c
            .send(&ep, "registry:catalog:*", |h| h.get(u.clone()))
            .await
            .map_err(|e| search_err(&host, &e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(if status == 401 || status == 403 {
                ApiError::unauthorized(format!(
                    "search {host}: unauthorized: log in with `mini-docker login {host}`"
                ))
            } else {
                ApiError::internal(format!("search {host}: the catalog answered {status}"))
            });
        }
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
        let body = resp
            .bytes()
            .await
            .map_err(|e| ApiError::internal(format!("search {host}: {}", chain(&e))))?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::internal(format!(
                "search {host}: bad catalog: {}",
                crate::errors::chain(&e)
            ))
        })?;
        repos.extend(
            v["repositories"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(String::from)),
        );
        match next {
            Some(n) => match ep.base.join(&n) {
                Ok(u) => url = u,
                Err(_) => break,
            },
            None => break,
        }
    }
    let out: Vec<Value> = repos
        .into_iter()
        .filter(|r| r.contains(&needle))
        .take(limit)
        .map(|r| {
            json!({"name": format!("{host}/{r}"), "description": "", "star_count": 0,
                   "is_official": false, "is_automated": false})
        })
        .collect();
    Ok(Value::Array(out))
}

fn search_err(host: &str, e: &registry::client::ClientError) -> ApiError {
    if is_auth_failure(e) {
        ApiError::unauthorized(format!("search {host}: unauthorized: {}", chain(e)))
    } else {
        ApiError::internal(format!("search {host}: {}", chain(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_decodes_and_names_its_registry_only() {
        let raw =
            r#"{"username":"u","password":"p?>","serveraddress":"http://127.0.0.1:5000/v2/"}"#;
        let h = base64::engine::general_purpose::URL_SAFE.encode(raw);
        let a = AuthConfig::from_header(&h).unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p?>"));
        assert_eq!(a.registry(), "127.0.0.1:5000");
        assert!(AuthConfig::from_header("not base64!").is_none());
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert!(a.applies_to("127.0.0.1:5000"));
        assert!(!a.applies_to("127.0.0.1:5001"), "never to another host");
        // docker-py's auth_config: no server address, for the image's registry.
        let raw = r#"{"username":"u","password":"p"}"#;
        let a = AuthConfig::from_header(&base64::engine::general_purpose::URL_SAFE.encode(raw))
            .unwrap();
        assert!(a.applies_to("127.0.0.1:5001"));
    }

    #[test]
    fn terms_name_a_registry_by_host() {
        assert_eq!(
            split_term("127.0.0.1:5000/bus"),
            (Some("127.0.0.1:5000".into()), "bus".into())
        );
        assert_eq!(split_term("library/bus"), (None, "library/bus".into()));
        assert_eq!(split_term("bus"), (None, "bus".into()));
    }
}
