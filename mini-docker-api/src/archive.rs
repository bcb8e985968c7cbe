//! `docker cp` on the wire: the stat of a path travels base64-encoded in a
//! header (`X-Docker-Container-Path-Stat`), and paths are split the way
//! Docker splits them (a trailing `/` asks for a directory, `/.` for its
//! contents).

use std::ffi::OsString;
use std::path::PathBuf;

/// The header that carries a path's stat (base64 of JSON).
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// What `stat` says about a path, as Docker's `types.ContainerPathStat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Go's `os.FileMode` bits (type bits high, permissions low).
    pub mode: u32,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i64,
    /// Where a symlink points ("" otherwise).
    pub link_target: String,
}

impl PathStat {
    /// Is it a directory?
    pub fn is_dir(&self) -> bool {
        self.mode & GO_MODE_DIR != 0
    }

    /// The JSON Docker sends.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "size": self.size,
            "mode": self.mode,
            "mtime": crate::time::rfc3339_nanos(self.mtime),
            "linkTarget": self.link_target,
        })
    }

    /// The header value: base64 of the JSON.
    pub fn header_value(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.to_json().to_string())
    }

    /// Decodes the header value (base64 of the JSON), as the client reads it.
    pub fn from_header(value: &str) -> Option<PathStat> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        let j: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        Some(PathStat {
            name: j["name"].as_str().unwrap_or_default().into(),
            size: j["size"].as_u64().unwrap_or(0),
            mode: j["mode"].as_u64().unwrap_or(0) as u32,
            mtime: j["mtime"]
                .as_str()
                .and_then(crate::time::parse_rfc3339)
                .unwrap_or(0),
            link_target: j["linkTarget"].as_str().unwrap_or_default().into(),
        })
    }
}

/// Go `os.ModeDir`.
pub const GO_MODE_DIR: u32 = 1 << 31;

/// A path of the API, split the way Docker splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The parent directory, relative to the root ("" for the root).
    pub parent: PathBuf,
    /// The last component (`.` for the directory itself).
    pub name: OsString,
    /// The name its tar entries start with (`.` for `dir/.`: the contents).
    pub tar_name: String,
    /// Whether the last component must be (and is followed as) a directory.
    pub want_dir: bool,
}

/// Splits an API path: `/etc/hosts` is `hosts` in `etc`; a trailing `/`
/// asks for a directory (followed if it is a symlink); a trailing `/.`
/// asks for the directory's contents (entries named `./…`).
pub fn split_path(path: &str) -> Target {
    let contents = path.ends_with("/.") || path == ".";
    let want_dir = contents || path.ends_with('/');
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let clean: PathBuf = parts.iter().collect();
    if want_dir || parts.is_empty() {
        let base = parts.last().copied().unwrap_or(".");
        return Target {
            parent: clean,
            name: ".".into(),
            tar_name: if contents || parts.is_empty() {
                ".".into()
            } else {
                base.to_string()
            },
            want_dir: true,
        };
    }
    let name = parts[parts.len() - 1];
    Target {
        parent: parts[..parts.len() - 1].iter().collect(),
        name: name.into(),
        tar_name: name.to_string(),
        want_dir: false,
    }
}
