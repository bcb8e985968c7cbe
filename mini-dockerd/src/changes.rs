//! # `docker diff`: what a container changed in its root filesystem
//!
//! `GET /containers/{id}/changes` lists the paths of the container's
//! read-write layer, with Docker's kinds: `0` modified (`C`), `1` added
//! (`A`), `2` deleted (`D`). The list comes straight from chapter 03's
//! driver ([`unionfs::Driver::changes`]): with overlay, the upper directory
//! *is* the change set (a file there is new or copied up, a 0/0 character
//! device is a whiteout); with the copy driver, the tree is compared with
//! its parent layer.
//!
//! ```text
//! $ ls -la <data-root>/layers/md-<id>/diff/etc     # the upper dir
//! c--------- 1 root root 0, 0 … motd                # whiteout: D /etc/motd
//! -rw-r--r-- 1 root root    6 … hostname.new        # A /etc/hostname.new
//! ```
//!
//! The mount points the engine and the runtime create before the
//! container's program runs (`/etc/hosts`, `/proc`, `/dev/pts`, …) are left
//! out, as Docker keeps them in a separate "init" layer.

use super::{ApiError, Engine, Result};
use serde_json::{json, Value};
use unionfs::whiteout::{Change, ChangeKind};

/// Paths the engine and runtime make as mount points (Docker's init layer).
pub const INIT_PATHS: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/console",
    "/proc",
    "/sys",
    "/.dockerenv",
];

/// Docker's `Kind` number of a change (`None`: not reported).
pub fn kind_number(k: ChangeKind) -> Option<u8> {
    match k {
        ChangeKind::Changed => Some(0),
        ChangeKind::Added => Some(1),
        ChangeKind::Deleted => Some(2),
        // The directory is also listed as changed: that line says it.
        ChangeKind::Opaque => None,
    }
}

/// The API's list: sorted by path, init paths left out, and a directory
/// that changed only because of them left out too.
pub fn to_api(changes: &[Change]) -> Value {
    let path = |c: &Change| format!("/{}", c.path.display());
    let kept: Vec<(String, u8)> = changes
        .iter()
        .filter_map(|c| kind_number(c.kind).map(|k| (path(c), k)))
        .filter(|(p, _)| !INIT_PATHS.contains(&p.as_str()))
        .collect();
    let has_child = |dir: &str| kept.iter().any(|(p, _)| p.starts_with(&format!("{dir}/")));
    let init_parent = |dir: &str| INIT_PATHS.iter().any(|p| p.starts_with(&format!("{dir}/")));
    let mut out: Vec<Value> = kept
        .iter()
        .filter(|(p, k)| !(*k == 0 && init_parent(p) && !has_child(p)))
        .map(|(p, k)| json!({"Path": p, "Kind": k}))
        .collect();
    out.sort_by(|a, b| a["Path"].as_str().cmp(&b["Path"].as_str()));
    Value::Array(out)
}

impl Engine {
    /// `GET /containers/{id}/changes`.
    pub fn changes(&self, key: &str) -> Result<Value> {
        let c = self.find(key)?;
        let list = self
            .images
            .driver()
            .changes(&c.layer)
            .map_err(|e| ApiError::internal(format!("changes of {}: {e}", c.id)))?;
        Ok(to_api(&list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ch(p: &str, kind: ChangeKind) -> Change {
        Change {
            path: PathBuf::from(p),
            kind,
        }
    }

    #[test]
    fn kinds_and_init_paths() {
        let v = to_api(&[
            ch("etc", ChangeKind::Changed),
            ch("etc/hosts", ChangeKind::Added),
            ch("etc/hostname", ChangeKind::Added),
            ch("proc", ChangeKind::Added),
            ch("tmp", ChangeKind::Changed),
            ch("tmp/new", ChangeKind::Added),
            ch("bin/ls", ChangeKind::Deleted),
            ch("bin", ChangeKind::Changed),
            ch("bin", ChangeKind::Opaque),
        ]);
        assert_eq!(
            v,
            json!([
                {"Path": "/bin", "Kind": 0},
                {"Path": "/bin/ls", "Kind": 2},
                {"Path": "/tmp", "Kind": 0},
                {"Path": "/tmp/new", "Kind": 1},
            ])
        );
        let v = to_api(&[
            ch("etc", ChangeKind::Changed),
            ch("etc/hosts", ChangeKind::Added),
            ch("etc/motd", ChangeKind::Added),
        ]);
        assert_eq!(
            v,
            json!([{"Path": "/etc", "Kind": 0}, {"Path": "/etc/motd", "Kind": 1}])
        );
    }
}
