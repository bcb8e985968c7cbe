//! The vocabulary of the distribution spec: names, references, error codes.
//!
//! Everything a client puts in a URL ends up, on the server, next to a file
//! name. So the server checks each piece against the spec's grammar *before*
//! it is used anywhere:
//!
//! | piece | grammar (OCI distribution spec, "Pulling manifests") | example |
//! | --- | --- | --- |
//! | repository name | `[a-z0-9]+((\.\|_\|__\|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.\|_\|__\|-+)[a-z0-9]+)*)*`, at most 255 bytes | `library/busybox` |
//! | tag | `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` | `1.36-musl` |
//! | digest | `sha256:` + 64 lowercase hex (chapter 04's [`chapter04::digest::parse`]) | `sha256:4b2c…` |
//!
//! `../etc`, `a//b`, `UPPER`, `x:y` and a 300-byte name all fail here, so no
//! request can name a path outside the registry's root.
//!
//! Errors travel as JSON with a machine-readable code, the same body for
//! every failure:
//!
//! ```text
//! HTTP/1.1 400 Bad Request
//! Content-Type: application/json
//!
//! {"errors":[{"code":"DIGEST_INVALID","message":"...","detail":{...}}]}
//! ```

use chapter04::digest;
use chapter04::Digest;

/// Maximum size of a manifest body the server accepts and the client reads
/// (4 MiB, the limit docker-registry and Docker Hub use).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// The header carrying a blob's or a manifest's digest.
pub const CONTENT_DIGEST: &str = "Docker-Content-Digest";

/// The header announcing the API version on `/v2/`.
pub const API_VERSION: &str = "Docker-Distribution-Api-Version";

/// OCI error codes (distribution spec, "Error Codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The blob is not in the repository.
    BlobUnknown,
    /// The upload failed (bad range, bad body).
    BlobUploadInvalid,
    /// No such upload session.
    BlobUploadUnknown,
    /// The content does not match the digest, or the digest is malformed.
    DigestInvalid,
    /// A manifest references a blob the repository does not have.
    ManifestBlobUnknown,
    /// The manifest is malformed.
    ManifestInvalid,
    /// No such manifest.
    ManifestUnknown,
    /// The repository name is malformed.
    NameInvalid,
    /// No such repository.
    NameUnknown,
    /// A length does not match the content, or a body is too large.
    SizeInvalid,
    /// Authentication is needed.
    Unauthorized,
    /// Authenticated, but not allowed.
    Denied,
    /// The operation is not supported.
    Unsupported,
}

impl ErrorCode {
    /// The code as it appears in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
        }
    }
}

/// The JSON error body: `{"errors":[{"code","message","detail"}]}`.
pub fn error_body(code: ErrorCode, message: &str, detail: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "errors": [{ "code": code.as_str(), "message": message, "detail": detail }]
    })
}

/// One error of an error body, as a client reads it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct WireError {
    /// The code, e.g. `DIGEST_INVALID`.
    pub code: String,
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
}

/// Parse an error body; anything else gives an empty list.
pub fn parse_error_body(body: &[u8]) -> Vec<WireError> {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<WireError>,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.errors)
        .unwrap_or_default()
}

/// Why a name, tag or reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{value}`: {reason}")]
pub struct Invalid {
    /// "repository name", "tag", "digest", "reference".
    pub what: &'static str,
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        what,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Check one path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("empty path component (`//`, or a leading or trailing `/`)".into());
    }
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(format!(
            "component `{c}` must start and end with a lowercase letter or digit"
        ));
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return Err(format!(
                "`{sep}` in `{c}`: only lowercase letters, digits and the separators `.`, `_`, `__`, `-` are allowed"
            ));
        }
    }
    Ok(())
}

/// Validate a repository name (`library/busybox`).
pub fn validate_name(name: &str) -> Result<(), Invalid> {
    if name.len() > 255 {
        return Err(invalid(
            "repository name",
            name,
            format!("{} bytes, the limit is 255", name.len()),
        ));
    }
    for c in name.split('/') {
        valid_component(c).map_err(|r| invalid("repository name", name, r))?;
    }
    Ok(())
}

/// Validate a tag (`latest`, `1.36.1-musl`).
pub fn validate_tag(tag: &str) -> Result<(), Invalid> {
    let b = tag.as_bytes();
    if b.is_empty() || b.len() > 128 {
        return Err(invalid("tag", tag, "a tag has 1 to 128 characters"));
    }
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    if !word(b[0]) {
        return Err(invalid(
            "tag",
            tag,
            "a tag starts with a letter, digit or `_`",
        ));
    }
    if let Some(&x) = b.iter().find(|&&x| !(word(x) || x == b'.' || x == b'-')) {
        return Err(invalid(
            "tag",
            tag,
            format!(
                "`{}` is not allowed (letters, digits, `_`, `.`, `-`)",
                x as char
            ),
        ));
    }
    Ok(())
}

/// What a manifest URL names: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRef {
    /// `/manifests/latest`
    Tag(String),
    /// `/manifests/sha256:…`
    Digest(Digest),
}

impl ManifestRef {
    /// Parse the last segment of a `/manifests/<reference>` URL.
    pub fn parse(s: &str) -> Result<ManifestRef, Invalid> {
        if s.contains(':') {
            parse_digest(s).map(ManifestRef::Digest)
        } else {
            validate_tag(s)?;
            Ok(ManifestRef::Tag(s.to_string()))
        }
    }
}

impl std::fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestRef::Tag(t) => f.write_str(t),
            ManifestRef::Digest(d) => f.write_str(d.as_ref()),
        }
    }
}

/// Validate a digest string from a URL or a query (chapter 04's rules).
pub fn parse_digest(s: &str) -> Result<Digest, Invalid> {
    digest::parse(s).map_err(|e| match e {
        chapter04::Error::InvalidDigest { reason, .. } => invalid("digest", s, reason),
        other => invalid("digest", s, other.to_string()),
    })
}

/// The `Accept` header a client sends for manifests: every kind it can read.
pub const MANIFEST_ACCEPT: &[&str] = &[
    chapter04::media::OCI_INDEX,
    chapter04::media::OCI_MANIFEST,
    chapter04::media::DOCKER_MANIFEST_LIST,
    chapter04::media::DOCKER_MANIFEST,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "busybox",
            "library/busybox",
            "a/b/c",
            "my-app",
            "my--app",
            "my_app",
            "my__app",
            "my.app",
            "0",
        ] {
            validate_name(ok).unwrap();
        }
        for bad in [
            "",
            "../etc",
            "a/../b",
            "a//b",
            "/a",
            "a/",
            "UPPER",
            "a:b",
            "a___b",
            "a..b",
            "-a",
            "a-",
            "a b",
            &"a".repeat(256),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn tags() {
        for ok in ["latest", "1.36.1", "_x", "A-b.c_D", &"t".repeat(128)] {
            validate_tag(ok).unwrap();
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "../x", &"t".repeat(129)] {
            assert!(validate_tag(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn manifest_refs() {
        assert_eq!(
            ManifestRef::parse("latest").unwrap(),
            ManifestRef::Tag("latest".into())
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(matches!(
            ManifestRef::parse(&d).unwrap(),
            ManifestRef::Digest(_)
        ));
        assert!(ManifestRef::parse("sha256:../x").is_err());
        assert!(ManifestRef::parse("..").is_err());
    }

    #[test]
    fn error_bodies_round_trip() {
        let b = error_body(ErrorCode::DigestInvalid, "bad", serde_json::json!({}));
        let bytes = serde_json::to_vec(&b).unwrap();
        assert_eq!(
            parse_error_body(&bytes),
            vec![WireError {
                code: "DIGEST_INVALID".into(),
                message: "bad".into()
            }]
        );
    }
}
