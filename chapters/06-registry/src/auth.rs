//! Registry authentication, both sides: Basic, and Docker's Bearer token flow.
//!
//! ```text
//! client                                   registry                     token service (realm)
//!   | GET /v2/app/manifests/v1 ------------> |
//!   | <---- 401 WWW-Authenticate: Bearer realm="http://r/token",
//!   |           service="r",scope="repository:app:pull"
//!   | GET /token?service=r&scope=repository:app:pull  (Basic user:pass, or anonymous) ---> |
//!   | <------------------------------------------------ {"token":"eyJ..","expires_in":300} |
//!   | GET /v2/app/manifests/v1 -------------> |
//!   |   Authorization: Bearer eyJ..           |  checks signature, expiry, audience, and
//!   | <---- 200                              |  that the token grants pull on `app`
//! ```
//!
//! A token names exactly what it grants: `repository:app:pull,push` is
//! "pull and push on `app`", nothing else. A token for `app` opens no other
//! repository, and a pull-only token cannot push: the registry answers 401
//! with `error="insufficient_scope"` and the scope it wanted.
//!
//! Our tokens are JWTs (RFC 7519) signed with HMAC-SHA256 by a secret only
//! this server knows; Docker Hub signs with RS256 and a certificate chain,
//! the shape is the same. Passwords for Basic auth live in an htpasswd file
//! with bcrypt hashes (`htpasswd -Bbn user pass`), the only kind
//! docker-registry accepts.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why an htpasswd file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file could not be read.
    #[error("read the htpasswd file {}", .path.display())]
    ReadHtpasswd {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not `user:$2y$...`.
    #[error("{}:{line}: not `user:bcrypt-hash` (create entries with `htpasswd -Bbn user pass` or `chapter06 htpasswd user pass`)", .path.display())]
    BadHtpasswdLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// bcrypt refused to hash.
    #[error("hash or check a password with bcrypt")]
    Bcrypt(#[from] bcrypt::BcryptError),
}

/// Users and bcrypt hashes from an htpasswd file.
#[derive(Debug, Default)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// Checked (user, password) pairs, hashed; bcrypt is slow on purpose and
    /// a push makes dozens of requests.
    verified: Mutex<BTreeSet<[u8; 32]>>,
}

impl Htpasswd {
    /// Read `user:hash` lines; only bcrypt hashes (`$2y$`, `$2b$`, `$2a$`).
    pub fn load(path: &Path) -> Result<Htpasswd, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::ReadHtpasswd {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|line| AuthError::BadHtpasswdLine {
            path: path.to_path_buf(),
            line,
        })
    }

    /// Parse htpasswd text; the error is the bad line number.
    pub fn parse(text: &str) -> Result<Htpasswd, usize> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((u, h)) if !u.is_empty() && h.starts_with("$2") => {
                    users.insert(u.to_string(), h.to_string());
                }
                _ => return Err(i + 1),
            }
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::default(),
        })
    }

    /// One htpasswd line for `user` (bcrypt, cost 10 like `htpasswd -B`).
    pub fn entry(user: &str, password: &str, cost: u32) -> Result<String, AuthError> {
        Ok(format!("{user}:{}", bcrypt::hash(password, cost)?))
    }

    /// Check a password.
    pub fn check(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let key: [u8; 32] = {
            use sha2::Digest as _;
            let mut h = Sha256::new();
            h.update(user.as_bytes());
            h.update([0]);
            h.update(password.as_bytes());
            h.update([0]);
            h.update(hash.as_bytes());
            h.finalize().into()
        };
        if self.verified.lock().expect("not poisoned").contains(&key) {
            return true;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            self.verified.lock().expect("not poisoned").insert(key);
        }
        ok
    }
}

/// Decode `Authorization: Basic base64(user:pass)`.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let b64 = header.strip_prefix("Basic ")?;
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Encode `user:pass` for `Authorization: Basic`.
pub fn basic_value(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A scope: `repository:<name>:<action>[,<action>]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Access {
    /// `repository` (or `registry` for `registry:catalog:*`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository name.
    pub name: String,
    /// `pull`, `push`, `delete`, `*`.
    pub actions: Vec<String>,
}

impl Access {
    /// Parse `repository:app:pull,push`. Names may not contain `:`, so the
    /// last `:` separates the actions.
    pub fn parse_scope(scope: &str) -> Option<Access> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some(Access {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    /// The scope string.
    pub fn scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }

    /// `repository:<name>:<actions>`.
    pub fn repository(name: &str, actions: &[&str]) -> Access {
        Access {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// The claims of our JWT.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user name, empty for anonymous.
    pub sub: String,
    /// Audience: the registry's service name.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Not before.
    pub nbf: u64,
    /// Issued at.
    pub iat: u64,
    /// What the token grants.
    pub access: Vec<Access>,
}

/// Issues and checks tokens with an HMAC secret.
pub struct TokenIssuer {
    secret: [u8; 32],
    /// The `service` name in challenges and the `aud` of tokens.
    pub service: String,
    /// Token lifetime in seconds.
    pub lifetime: u64,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not three parts, bad base64, bad JSON.
    Malformed,
    /// The signature does not match.
    BadSignature,
    /// Expired or not yet valid.
    Expired,
    /// Issued for another service.
    WrongAudience,
}

type HmacSha256 = Hmac<Sha256>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenIssuer {
    /// A new issuer with a random secret.
    pub fn new(service: &str) -> TokenIssuer {
        TokenIssuer {
            secret: rand::random(),
            service: service.to_string(),
            lifetime: 300,
        }
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Issue a token for `sub` granting `access`.
    pub fn issue(&self, sub: &str, access: Vec<Access>) -> String {
        let t = now();
        let claims = Claims {
            iss: "chapter06".into(),
            sub: sub.into(),
            aud: self.service.clone(),
            exp: t + self.lifetime,
            nbf: t.saturating_sub(10),
            iat: t,
            access,
        };
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("serializable"));
        let signing_input = format!("{header}.{payload}");
        let sig = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{sig}")
    }

    /// Check a token's signature, expiry and audience; return its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenProblem> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenProblem::Malformed);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenProblem::Malformed)?;
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("any key length");
        mac.update(format!("{h}.{p}").as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenProblem::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| TokenProblem::Malformed)?;
        let claims: Claims =
            serde_json::from_slice(&payload).map_err(|_| TokenProblem::Malformed)?;
        let t = now();
        if t >= claims.exp || t < claims.nbf {
            return Err(TokenProblem::Expired);
        }
        if claims.aud != self.service {
            return Err(TokenProblem::WrongAudience);
        }
        Ok(claims)
    }
}

/// Does a set of grants allow `action` on repository `name`?
pub fn grants(access: &[Access], name: &str, action: &str) -> bool {
    access.iter().any(|a| {
        a.kind == "repository"
            && a.name == name
            && a.actions.iter().any(|x| x == action || x == "*")
    })
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`.
    Basic,
    /// `Bearer realm="..",service="..",scope=".."`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The service name to ask for.
        service: Option<String>,
        /// The scope the registry wants.
        scope: Option<String>,
        /// `insufficient_scope` and friends.
        error: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header value (quoted params; commas inside
/// quotes, as in `scope="repository:a:pull,push"`, stay in the value).
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(' ' | ',')) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n)
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), val);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.remove("realm")?,
            service: params.remove("service"),
            scope: params.remove("scope"),
            error: params.remove("error"),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htpasswd_bcrypt() {
        let line = Htpasswd::entry("alice", "s3cret", 4).unwrap();
        let h = Htpasswd::parse(&line).unwrap();
        assert!(h.check("alice", "s3cret"));
        assert!(h.check("alice", "s3cret"), "cached path");
        assert!(!h.check("alice", "wrong"));
        assert!(!h.check("bob", "s3cret"));
        assert_eq!(Htpasswd::parse("alice:plaintext").unwrap_err(), 1);
    }

    #[test]
    fn tokens_grant_what_they_say() {
        let iss = TokenIssuer::new("reg");
        let t = iss.issue("alice", vec![Access::repository("app", &["pull"])]);
        let c = iss.verify(&t).unwrap();
        assert!(grants(&c.access, "app", "pull"));
        assert!(!grants(&c.access, "app", "push"));
        assert!(!grants(&c.access, "other", "pull"));
        // Tampering breaks the signature.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                access: vec![Access::repository("app", &["push"])],
                ..c
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert_eq!(
            iss.verify(&parts.join(".")).unwrap_err(),
            TokenProblem::BadSignature
        );
        // Another server's token is not ours.
        let other = TokenIssuer::new("reg");
        assert_eq!(other.verify(&t).unwrap_err(), TokenProblem::BadSignature);
    }

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
                error: None,
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Access::parse_scope("repository:a/b:pull,push").unwrap(),
            Access::repository("a/b", &["pull", "push"])
        );
    }
}
