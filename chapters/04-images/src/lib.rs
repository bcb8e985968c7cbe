//! # Chapter 04: images, the OCI image format and a content-addressed store
//!
//! An image is a few JSON documents and some tarballs, all named by the
//! SHA-256 of their bytes:
//!
//! ```text
//!  index.json / image index   "for linux/amd64 use manifest sha256:aa.."      (optional)
//!        |
//!  manifest  sha256:aa..       "config is sha256:cc.., layers are sha256:11.., sha256:22.."
//!        |            \
//!  config sha256:cc..  layers sha256:11.. (tar+gzip), sha256:22.. (tar+gzip)
//!  (Env, Cmd, diff_ids)          each one a changeset: files, whiteouts (chapter 03)
//! ```
//!
//! Because every reference is a digest, a manifest digest names the whole
//! image: change one byte of one layer and the layer digest changes, so the
//! manifest changes, so its digest changes. The config digest is what Docker
//! calls the *image ID*.
//!
//! The modules follow the lesson:
//!
//! 1. [`digest`]: what a digest string is, and why it is validated before it
//!    is ever used as a file name (`sha256:../../etc/passwd`).
//! 2. [`store`]: the content-addressed blob store, `blobs/sha256/<hex>`,
//!    written through a verified temp file and an atomic rename.
//! 3. [`media`] and [`document`]: OCI and Docker media types; reading an
//!    index or a manifest (Docker schema 2 read as its OCI equivalent),
//!    refusing documents that contradict themselves or are too large.
//! 4. [`platform`]: choosing one manifest from an index (`linux/amd64`).
//! 5. [`image`]: resolving a tag or digest to manifest + config, checked.
//! 6. [`layer`]: gzip/zstd/plain layers, diff IDs vs. digests, chain IDs,
//!    and unpacking a stack of layers *through chapter 03's safe apply*.
//! 7. [`runtime`]: the image config turned into what a process needs, with
//!    Docker's rules for combining it with `docker run` arguments.
//! 8. [`import`], [`layout`], [`archive`]: `docker import`, the OCI image
//!    layout and the `docker save` tarball, in both directions.
//! 9. [`inspect`]: explain an image someone else made.
//!
//! Read: the OCI image spec (`manifest.md`, `image-index.md`, `config.md`,
//! `layer.md`, `image-layout.md`, `descriptor.md`), Docker's "Image Manifest
//! V2, Schema 2", and moby's `image/tarexport` for the `docker save` format.

pub mod archive;
pub mod digest;
pub mod document;
pub mod image;
pub mod import;
pub mod inspect;
pub mod layer;
pub mod layout;
pub mod media;
pub mod platform;
pub mod runtime;
pub mod source;
pub mod store;

use std::path::PathBuf;

pub use digest::Digest;
pub use image::{Image, ImageStore};
pub use platform::PlatformSpec;
pub use store::BlobStore;

/// Everything that can go wrong in this chapter, named after the step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A digest string is malformed; it never reached a path.
    #[error("invalid digest `{digest}`: {reason}")]
    InvalidDigest {
        /// The string as found.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Content does not hash to the digest it was announced with.
    #[error("digest mismatch for {what}: expected {expected}, the content hashes to {actual}")]
    DigestMismatch {
        /// What was being checked (a blob, a layer, a config).
        what: String,
        /// The digest that was announced.
        expected: String,
        /// The digest of the bytes actually read.
        actual: String,
    },
    /// Content is not as long as announced (truncated download, padding).
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}{}",
        if .actual < .expected { " (truncated)" } else { "" })]
    SizeMismatch {
        /// What was being checked.
        what: String,
        /// The size announced by the descriptor.
        expected: u64,
        /// The size read (or `expected + 1` when reading stopped early).
        actual: u64,
    },
    /// A blob was asked for that the store does not have.
    #[error("blob {digest} is not in the store (no file {})", .path.display())]
    BlobNotFound {
        /// The digest.
        digest: String,
        /// Where it would be.
        path: PathBuf,
    },
    /// A manifest, index or config is larger than we accept.
    #[error("{what} is {size} bytes, over the {limit}-byte limit for manifests and configs (4 MiB): refusing to read it")]
    TooLarge {
        /// Which document.
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A media type we do not know how to read.
    #[error("unsupported media type `{media_type}` for {what}")]
    UnknownMediaType {
        /// The media type.
        media_type: String,
        /// Where it was found.
        what: String,
    },
    /// A document is not what it claims to be, or is self-contradictory.
    #[error("invalid {what}: {reason}")]
    InvalidDocument {
        /// Which document.
        what: String,
        /// Why.
        reason: String,
    },
    /// JSON that does not parse.
    #[error("parse {what} as JSON")]
    Json {
        /// Which document.
        what: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A platform string like `linux/amd64` that does not parse.
    #[error("invalid platform `{value}`: {reason} (write os/arch[/variant], e.g. linux/amd64)")]
    InvalidPlatform {
        /// What was given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The index has no manifest for the wanted platform.
    #[error(
        "no manifest for {wanted} in the index; it has: {available} (choose one with --platform)"
    )]
    NoMatchingPlatform {
        /// The platform asked for.
        wanted: String,
        /// The platforms offered.
        available: String,
    },
    /// A tag or image name that is not in the store.
    #[error("no image `{name}` in {} (known: {known})", .root.display())]
    UnknownImage {
        /// The name asked for.
        name: String,
        /// The store root.
        root: PathBuf,
        /// The names that exist.
        known: String,
    },
    /// A layer unpacks to more bytes than the caller allows (a gzip bomb:
    /// a few MB of zeros compress to a few KB).
    #[error("layer {digest} unpacks to more than {limit} bytes ({setting})")]
    LayerTooLarge {
        /// The layer digest.
        digest: String,
        /// The bound, in bytes of uncompressed tar.
        limit: u64,
        /// The setting that chose the bound, to raise it.
        setting: String,
    },
    /// The caller stopped the unpack (its client went away).
    #[error("unpacking layer {digest} was cancelled: the client went away")]
    Cancelled {
        /// The layer digest.
        digest: String,
    },
    /// A layer could not be unpacked (chapter 03 refused an entry, or a
    /// write failed).
    #[error("unpack layer {digest}")]
    Unpack {
        /// The layer digest.
        digest: String,
        /// The cause, naming the tar entry.
        source: chapter03::Error,
    },
    /// A field of an image config that cannot be used safely.
    #[error("invalid image config: {field} `{value}`: {reason}")]
    InvalidConfig {
        /// The field, e.g. `Volumes`.
        field: &'static str,
        /// The value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A `docker save` tarball or an OCI layout that is malformed.
    #[error("{}: {reason}", .path.display())]
    Archive {
        /// The archive or layout.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error("{step} {}", .path.display())]
    Io {
        /// What was being done, e.g. "create the temp file in".
        step: String,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(
        step: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let step = step.into();
        let path = path.into();
        move |source| Error::Io { step, path, source }
    }
}

/// Serialize a value as canonical JSON: keys sorted, no spaces. Documents we
/// write are hashed, so the same content must always give the same bytes
/// (oci-spec keeps some maps as `HashMap`, whose order changes per run).
pub fn canonical_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let value = serde_json::to_value(v).expect("OCI types always serialize");
    serde_json::to_vec(&value).expect("a JSON value always serializes")
}

/// Pretty JSON with sorted keys, for printing.
pub fn pretty_json(bytes: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Seconds since the epoch as RFC 3339 (`1970-01-01T00:00:00Z`), the form
/// image configs use for `created`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
