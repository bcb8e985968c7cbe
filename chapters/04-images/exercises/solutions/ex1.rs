//! Exercise 1, a reference answer.

use sha2::{Digest, Sha256};

/// The digest of `bytes`: `"sha256:<64 lowercase hex digits>"`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
