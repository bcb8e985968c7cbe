//! Media types: what a blob is, told by its descriptor.
//!
//! | what | OCI | Docker (schema 2) |
//! | --- | --- | --- |
//! | index | `application/vnd.oci.image.index.v1+json` | `application/vnd.docker.distribution.manifest.list.v2+json` |
//! | manifest | `application/vnd.oci.image.manifest.v1+json` | `application/vnd.docker.distribution.manifest.v2+json` |
//! | config | `application/vnd.oci.image.config.v1+json` | `application/vnd.docker.container.image.v1+json` |
//! | layer | `application/vnd.oci.image.layer.v1.tar` (`+gzip`, `+zstd`) | `application/vnd.docker.image.rootfs.diff.tar.gzip` |
//!
//! Docker's schema 2 documents have the same shape as the OCI ones (OCI
//! started from them), so we read a Docker document by mapping its media
//! types to the OCI names. The digest is always of the original bytes.

use std::io::{self, BufRead};

use oci_spec::image::MediaType;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer, plain tar.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer (always gzip).
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker "foreign" layer (Windows base layers), gzip.
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker schema 1 (signed), refused.
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 (signed, prettyjws), refused.
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// How a layer's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (RFC 1952).
    Gzip,
    /// zstd (RFC 8878).
    Zstd,
}

impl Compression {
    /// The suffix of the OCI media type (`+gzip`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Compression::None => OCI_LAYER,
            Compression::Gzip => OCI_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        }
    }
}

/// What a media type says a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An index (or Docker manifest list).
    Index,
    /// A manifest.
    Manifest,
    /// An image config.
    Config,
    /// A layer, and how it is compressed.
    Layer(Compression),
}

/// Classify a media type; `None` for types we do not read.
pub fn classify(mt: &str) -> Option<Kind> {
    use Compression as C;
    Some(match mt {
        OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Manifest,
        OCI_CONFIG | DOCKER_CONFIG => Kind::Config,
        OCI_LAYER
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Kind::Layer(C::None),
        OCI_LAYER_GZIP
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | DOCKER_LAYER_GZIP
        | DOCKER_FOREIGN_LAYER_GZIP => Kind::Layer(C::Gzip),
        OCI_LAYER_ZSTD
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Kind::Layer(C::Zstd),
        _ => return None,
    })
}

/// The OCI name of a (possibly Docker) media type.
pub fn to_oci(mt: &str) -> &str {
    match mt {
        DOCKER_MANIFEST_LIST => OCI_INDEX,
        DOCKER_MANIFEST => OCI_MANIFEST,
        DOCKER_CONFIG => OCI_CONFIG,
        DOCKER_LAYER_GZIP => OCI_LAYER_GZIP,
        DOCKER_FOREIGN_LAYER_GZIP => "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar" => OCI_LAYER,
        "application/vnd.docker.image.rootfs.diff.tar.zstd" => OCI_LAYER_ZSTD,
        other => other,
    }
}

/// The string of an oci-spec media type.
pub fn as_str(mt: &MediaType) -> String {
    mt.to_string()
}

/// Guess the compression from the first bytes (magic numbers), as
/// `docker load` does for layers in a tarball.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Sniff the compression of a buffered reader without consuming anything.
pub fn sniff_reader<R: BufRead>(r: &mut R) -> io::Result<Compression> {
    Ok(sniff(r.fill_buf()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_types_map_to_oci() {
        assert_eq!(to_oci(DOCKER_MANIFEST), OCI_MANIFEST);
        assert_eq!(to_oci(DOCKER_LAYER_GZIP), OCI_LAYER_GZIP);
        assert_eq!(classify(DOCKER_MANIFEST_LIST), Some(Kind::Index));
        assert_eq!(classify("text/plain"), None);
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(sniff(b"etc/"), Compression::None);
    }
}
