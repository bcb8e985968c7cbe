//! Credentials in Docker's `config.json`, written by `login`.
//!
//! ```json
//! {
//!   "auths": {
//!     "127.0.0.1:5000":              { "auth": "YWxpY2U6czNjcmV0" },
//!     "https://index.docker.io/v1/": { "auth": "..." }
//!   }
//! }
//! ```
//!
//! `auth` is `base64("user:password")`: encoded, not encrypted, which is why
//! the file is written with mode 0600 (Docker's credential helpers exist to
//! keep it out of files altogether). The key is the registry host exactly as
//! it appears in image references; Docker Hub's historic key is
//! `https://index.docker.io/v1/`. The file is found at `$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`; other keys in it are kept untouched.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::reference::{DOCKER_HUB, DOCKER_HUB_AUTH_KEY};

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: <redacted> }}",
            self.user
        )
    }
}

/// Why `config.json` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Read or write failed.
    #[error("{step} {}", .path.display())]
    Io {
        /// What was done.
        step: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not JSON, or not the expected shape.
    #[error("{} is not a Docker config.json: {reason}", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The default location: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn default_path() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return PathBuf::from(d).join("config.json");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    home.join(".docker").join("config.json")
}

/// The key used in `auths` for a registry host.
pub fn auth_key(registry: &str) -> String {
    if registry == DOCKER_HUB || registry == "index.docker.io" || registry == "registry-1.docker.io"
    {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        registry.to_string()
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, ConfigError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| ConfigError::Malformed {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(source) => Err(ConfigError::Io {
            step: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The credentials stored for `registry`, if any.
pub fn load(path: &Path, registry: &str) -> Result<Option<Credentials>, ConfigError> {
    let v = read_json(path)?;
    let key = auth_key(registry);
    let Some(entry) = v.get("auths").and_then(|a| a.get(&key)) else {
        return Ok(None);
    };
    let bad = |reason: &str| ConfigError::Malformed {
        path: path.to_path_buf(),
        reason: format!("auths.{key}: {reason}"),
    };
    if let Some(a) = entry.get("auth").and_then(|a| a.as_str()) {
        let raw = STANDARD
            .decode(a)
            .map_err(|_| bad("`auth` is not base64"))?;
        let s = String::from_utf8(raw).map_err(|_| bad("`auth` is not UTF-8"))?;
        let (u, p) = s
            .split_once(':')
            .ok_or_else(|| bad("`auth` is not user:password"))?;
        return Ok(Some(Credentials {
            user: u.into(),
            password: p.into(),
        }));
    }
    match (
        entry.get("username").and_then(|u| u.as_str()),
        entry.get("password").and_then(|p| p.as_str()),
    ) {
        (Some(u), Some(p)) => Ok(Some(Credentials {
            user: u.into(),
            password: p.into(),
        })),
        _ => Ok(None),
    }
}

/// Store credentials for `registry` (what `docker login` does), keeping
/// everything else in the file; written atomically with mode 0600.
pub fn store(path: &Path, registry: &str, creds: &Credentials) -> Result<(), ConfigError> {
    let mut v = read_json(path)?;
    if !v.is_object() {
        v = serde_json::json!({});
    }
    let auths = v
        .as_object_mut()
        .expect("an object")
        .entry("auths")
        .or_insert_with(|| serde_json::json!({}));
    let entry = serde_json::json!({
        "auth": STANDARD.encode(format!("{}:{}", creds.user, creds.password))
    });
    match auths.as_object_mut() {
        Some(a) => {
            a.insert(auth_key(registry), entry);
        }
        None => {
            return Err(ConfigError::Malformed {
                path: path.to_path_buf(),
                reason: "`auths` is not an object".into(),
            })
        }
    }
    write_private(path, &serde_json::to_vec_pretty(&v).expect("JSON"))
}

/// Remove the credentials for `registry` (`docker logout`).
pub fn remove(path: &Path, registry: &str) -> Result<bool, ConfigError> {
    let mut v = read_json(path)?;
    let removed = v
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .map(|a| a.remove(&auth_key(registry)).is_some())
        .unwrap_or(false);
    if removed {
        write_private(path, &serde_json::to_vec_pretty(&v).expect("JSON"))?;
    }
    Ok(removed)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let io = |step: &'static str| {
        move |source| ConfigError::Io {
            step,
            path: path.to_path_buf(),
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create the directory of"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temp file next to"))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io("chmod 600 the temp file for"))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(io("write"))?;
    tmp.persist(path).map_err(|e| ConfigError::Io {
        step: "rename into",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_keeps_other_keys() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"credsStore":"none","auths":{"other:1":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let c = Credentials {
            user: "alice".into(),
            password: "s3:cret".into(),
        };
        store(&p, "127.0.0.1:5000", &c).unwrap();
        assert_eq!(load(&p, "127.0.0.1:5000").unwrap(), Some(c.clone()));
        assert_eq!(load(&p, "127.0.0.1:5001").unwrap(), None);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["credsStore"], "none");
        assert_eq!(v["auths"]["127.0.0.1:5000"]["auth"], "YWxpY2U6czM6Y3JldA==");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        store(&p, "docker.io", &c).unwrap();
        assert!(v["auths"].get("https://index.docker.io/v1/").is_none());
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert!(v["auths"].get("https://index.docker.io/v1/").is_some());
        assert!(remove(&p, "127.0.0.1:5000").unwrap());
        assert_eq!(load(&p, "127.0.0.1:5000").unwrap(), None);
        assert!(format!("{c:?}").contains("redacted"));
    }
}
