//! Digests: `algorithm:hex`, the names of everything in an image.
//!
//! A digest is the hash of a blob's bytes, written `sha256:` followed by 64
//! lowercase hex digits. It names the blob *and* proves its content: whoever
//! hands us a blob for `sha256:4b2c…` cannot change a byte without the hash
//! changing.
//!
//! Digests arrive in documents written by someone else, and the store turns
//! them into file names (`blobs/sha256/<hex>`). So they are validated before
//! they touch a path, with exactly these rules (the OCI descriptor spec's,
//! narrowed to what we can verify):
//!
//! | input | verdict |
//! | --- | --- |
//! | `sha256:` + 64 of `0-9a-f` | accepted |
//! | `sha512:` + 128 of `0-9a-f` | accepted |
//! | `sha256:../../etc/passwd` | refused: not hex (and would escape `blobs/`) |
//! | `sha256:ABCD…` | refused: uppercase (two spellings of one digest) |
//! | `sha256:abc` | refused: wrong length |
//! | `md5:…`, `sha384:…`, no `:` | refused: algorithm we do not verify |
//!
//! ```text
//! $ sha256sum layer.tar.gz
//! 4b2c…  layer.tar.gz          # the digest is "sha256:4b2c…"
//! ```

use std::io::{self, Read, Write};

use sha2::Digest as _;

use crate::Error;

pub use oci_spec::image::Digest;

/// The hash algorithms this chapter can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256, what everybody uses.
    Sha256,
    /// SHA-512, allowed by the spec.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings and in `blobs/<name>/`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Number of hex digits of a digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Parse and validate a digest string. Only what passes here may become a
/// path.
pub fn parse(s: &str) -> Result<Digest, Error> {
    let bad = |reason: &str| Error::InvalidDigest {
        digest: s.to_string(),
        reason: reason.to_string(),
    };
    let (alg, hex) = s
        .split_once(':')
        .ok_or_else(|| bad("no `:` between algorithm and hex"))?;
    let alg = match alg {
        "sha256" => Algorithm::Sha256,
        "sha512" => Algorithm::Sha512,
        _ => return Err(bad("the algorithm must be sha256 or sha512")),
    };
    if hex.len() != alg.hex_len() {
        return Err(bad(&format!(
            "{} digests have exactly {} hex digits, this has {}",
            alg.name(),
            alg.hex_len(),
            hex.len()
        )));
    }
    if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(bad(&format!(
            "`{c}` is not a lowercase hex digit (0-9, a-f)"
        )));
    }
    Digest::try_from(s).map_err(|e| bad(&e.to_string()))
}

/// Check a digest that came from a parsed document (oci-spec accepts any
/// algorithm; we do not).
pub fn validate(d: &Digest) -> Result<Algorithm, Error> {
    parse(d.as_ref())?;
    Ok(algorithm_of(d))
}

/// The algorithm of a validated digest.
pub fn algorithm_of(d: &Digest) -> Algorithm {
    if d.as_ref().starts_with("sha512:") {
        Algorithm::Sha512
    } else {
        Algorithm::Sha256
    }
}

/// The hex part of a digest.
pub fn hex_of(d: &Digest) -> &str {
    d.digest()
}

/// The first 12 hex digits, as Docker shows image IDs.
pub fn short(d: &Digest) -> String {
    d.digest().chars().take(12).collect()
}

/// A running hash that counts bytes too.
#[derive(Clone)]
pub struct Hasher {
    inner: HasherInner,
    len: u64,
}

#[derive(Clone)]
enum HasherInner {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A new hash of the given algorithm.
    pub fn new(alg: Algorithm) -> Hasher {
        let inner = match alg {
            Algorithm::Sha256 => HasherInner::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => HasherInner::Sha512(sha2::Sha512::new()),
        };
        Hasher { inner, len: 0 }
    }

    /// Feed bytes.
    pub fn update(&mut self, b: &[u8]) {
        self.len += b.len() as u64;
        match &mut self.inner {
            HasherInner::Sha256(h) => h.update(b),
            HasherInner::Sha512(h) => h.update(b),
        }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let s = match self.inner {
            HasherInner::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            HasherInner::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        };
        Digest::try_from(s).expect("a computed digest is valid")
    }
}

/// `sha256sum` of a byte slice.
pub fn sha256(bytes: &[u8]) -> Digest {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(bytes);
    h.finish()
}

/// A reader that hashes and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    /// Wrap `inner`.
    pub fn new(inner: R, alg: Algorithm) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(alg),
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.hasher.len()
    }

    /// Read to the end (tar stops reading at its end-of-archive blocks, but
    /// the digest covers every byte), then return digest and length.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let n = self.hasher.len();
        Ok((self.hasher.finish(), n))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Wrap `inner`.
    pub fn new(inner: W, alg: Algorithm) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(alg),
        }
    }

    /// The digest and length of what was written, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        let n = self.hasher.len();
        (self.hasher.finish(), n, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(sha256(b"").as_ref(), EMPTY);
    }

    #[test]
    fn good_digests_parse() {
        assert!(parse(EMPTY).is_ok());
        let s512 = format!("sha512:{}", "a".repeat(128));
        assert_eq!(validate(&parse(&s512).unwrap()).unwrap(), Algorithm::Sha512);
    }

    #[test]
    fn bad_digests_are_refused_before_any_path() {
        for bad in [
            "sha256:../x",
            "sha256:../../../../etc/passwd",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
            &format!("sha256:{}", "a".repeat(65)),
            &format!("sha256:{}/", "a".repeat(63)),
            &format!("sha384:{}", "a".repeat(96)),
            &format!("md5:{}", "a".repeat(32)),
            &format!("SHA256:{}", "a".repeat(64)),
            "sha256:",
            "sha256",
            "",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidDigest { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn the_error_says_what_is_wrong() {
        let e = parse(&format!("sha256:{}", "A".repeat(64))).unwrap_err();
        assert!(e.to_string().contains("lowercase hex"), "{e}");
        let e = parse("sha256:abc").unwrap_err();
        assert!(e.to_string().contains("exactly 64"), "{e}");
    }
}
