//! Exercise 2, a reference answer.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Stores `data` under its digest if it is `expected`.
pub fn ingest(store: &Path, expected: &str, data: &[u8]) -> Result<PathBuf, String> {
    let hex = expected
        .strip_prefix("sha256:")
        .filter(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or_else(|| {
            format!("{expected:?} is not a sha256 digest (sha256: and 64 lowercase hex digits)")
        })?;
    let actual = super::ex1::digest_of(data);
    if actual != expected {
        return Err(format!(
            "digest mismatch: expected {expected}, the bytes are {actual}"
        ));
    }
    let dir = store.join("blobs/sha256");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let dest = dir.join(hex);
    let mut tmp = tempfile_in(&dir)?;
    tmp.1
        .write_all(data)
        .and_then(|_| tmp.1.sync_all())
        .map_err(|e| format!("write {}: {e}", tmp.0.display()))?;
    std::fs::rename(&tmp.0, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        format!("rename into {}: {e}", dest.display())
    })?;
    Ok(dest)
}

fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File), String> {
    let path = dir.join(format!(".ingest-{}", std::process::id()));
    std::fs::File::create(&path)
        .map(|f| (path.clone(), f))
        .map_err(|e| format!("create {}: {e}", path.display()))
}
