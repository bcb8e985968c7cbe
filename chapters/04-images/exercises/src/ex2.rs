//! Exercise 2: verify before you store.
//!
//! A registry, a tar file or a mirror hands us bytes and claims their
//! digest. The store keeps a blob under its digest
//! (`STORE/blobs/sha256/<hex>`), so a blob whose bytes do not match the
//! name would poison every image that uses it. The rule (containerd's
//! content store, chapter 04's `store.rs`): write to a temporary file,
//! compute the digest of what was written, and only when it equals the
//! claimed one rename it into place. On a mismatch nothing stays behind.
//!
//! Check with `scripts/check.sh 04 2`: the checker ingests a real blob, one
//! with a byte changed, one cut short and one with a malformed digest, then
//! lists the store.

use std::path::{Path, PathBuf};

/// Stores `data` as `store/blobs/sha256/<hex>` if its digest is `expected`
/// (`"sha256:<hex>"`), and returns that path. Otherwise returns an error
/// naming both digests, and leaves no file in the store.
pub fn ingest(store: &Path, expected: &str, data: &[u8]) -> Result<PathBuf, String> {
    let _ = (store, expected, data);
    todo!("hint: check that `expected` is sha256: + 64 hex digits; compare it with your ex1 digest of data; write a temp file in the same directory, then std::fs::rename it to blobs/sha256/<hex>")
}
