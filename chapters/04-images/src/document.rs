//! Reading manifests, indexes and configs: strictly.
//!
//! A manifest or an index is a small JSON document that names other blobs by
//! digest. It comes from someone else, so before it is believed:
//!
//! 1. it is at most 4 MiB (the registry limit; [`crate::store::MAX_DOCUMENT_SIZE`]);
//! 2. its `schemaVersion` is 2 (schema 1, signed JWS manifests, is refused);
//! 3. it is *one* thing: a document with both `manifests` (an index) and
//!    `config`/`layers` (a manifest) is refused, because two readers could
//!    see two different images in it;
//! 4. its `mediaType` field, when present, agrees with its shape and with the
//!    media type of the descriptor that pointed at it;
//! 5. every digest in it passes [`crate::digest::parse`], every media type is
//!    one we know.
//!
//! Docker schema 2 documents are read as their OCI equivalents: same shape,
//! media types renamed ([`crate::media::to_oci`]).

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde_json::{Map, Value};

use crate::digest;
use crate::media::{self, Kind};
use crate::store::check_document_size;
use crate::Error;

/// An index or a manifest.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // parsed once, matched at once
pub enum Document {
    /// An image index (or Docker manifest list), media types in OCI names.
    Index(ImageIndex),
    /// An image manifest, media types in OCI names.
    Manifest(ImageManifest),
}

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    Error::InvalidDocument {
        what: what.to_string(),
        reason: reason.into(),
    }
}

fn object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, Error> {
    check_document_size(what, bytes.len() as u64)?;
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(what, "not a JSON object")),
        Err(source) => Err(Error::Json {
            what: what.to_string(),
            source,
        }),
    }
}

/// Rename Docker media types to OCI ones in a descriptor object.
fn normalize_descriptor(v: &mut Value) {
    if let Some(Value::String(mt)) = v.get_mut("mediaType") {
        *mt = media::to_oci(mt).to_string();
    }
}

/// Parse an index or a manifest. `announced` is the media type of the
/// descriptor that pointed at it (if any).
pub fn parse_document(
    bytes: &[u8],
    announced: Option<&str>,
    what: &str,
) -> Result<Document, Error> {
    let mut m = object(bytes, what)?;
    let body_mt = m
        .get("mediaType")
        .and_then(Value::as_str)
        .map(str::to_string);
    for mt in [announced, body_mt.as_deref()].into_iter().flatten() {
        if mt == media::DOCKER_SCHEMA1 || mt == media::DOCKER_SCHEMA1_SIGNED {
            return Err(invalid(
                what,
                "Docker schema 1 manifests are not supported (deprecated since 2017): re-push the image with a current tool",
            ));
        }
    }
    match m.get("schemaVersion").and_then(Value::as_u64) {
        Some(2) => {}
        Some(1) => {
            return Err(invalid(
                what,
                "schemaVersion 1 (Docker schema 1) is not supported",
            ))
        }
        other => {
            return Err(invalid(
                what,
                format!("schemaVersion must be 2, found {other:?}"),
            ))
        }
    }
    let is_index = m.contains_key("manifests");
    let is_manifest = m.contains_key("config") || m.contains_key("layers");
    let shape = match (is_index, is_manifest) {
        (true, true) => {
            return Err(invalid(
                what,
                "it is both an index (`manifests`) and a manifest (`config`/`layers`): refusing an ambiguous document",
            ))
        }
        (true, false) => Kind::Index,
        (false, true) => Kind::Manifest,
        (false, false) => {
            return Err(invalid(what, "it has neither `manifests` (index) nor `config`/`layers` (manifest)"))
        }
    };
    for (mt, whose) in [
        (body_mt.as_deref(), "its mediaType field"),
        (announced, "the descriptor"),
    ] {
        let Some(mt) = mt else { continue };
        match media::classify(mt) {
            Some(k @ (Kind::Index | Kind::Manifest)) if k != shape => {
                return Err(invalid(
                    what,
                    format!(
                        "{whose} says `{mt}` but the content is {}",
                        if shape == Kind::Index {
                            "an index"
                        } else {
                            "a manifest"
                        }
                    ),
                ))
            }
            Some(Kind::Index | Kind::Manifest) => {}
            _ => {
                return Err(Error::UnknownMediaType {
                    media_type: mt.to_string(),
                    what: format!("{what} ({whose})"),
                })
            }
        }
    }
    if let (Some(a), Some(b)) = (announced, body_mt.as_deref()) {
        if media::to_oci(a) != media::to_oci(b) {
            return Err(invalid(
                what,
                format!("the descriptor says `{a}` but its mediaType field says `{b}`"),
            ));
        }
    }
    if let Some(v) = m.get_mut("mediaType") {
        normalize_descriptor_value(v);
    }
    match shape {
        Kind::Index => {
            if let Some(Value::Array(list)) = m.get_mut("manifests") {
                list.iter_mut().for_each(normalize_descriptor);
            }
            let idx: ImageIndex =
                serde_json::from_value(Value::Object(m)).map_err(|source| Error::Json {
                    what: what.to_string(),
                    source,
                })?;
            for (i, d) in idx.manifests().iter().enumerate() {
                check_descriptor(d, &format!("{what} manifests[{i}]"))?;
            }
            Ok(Document::Index(idx))
        }
        _ => {
            if let Some(c) = m.get_mut("config") {
                normalize_descriptor(c);
            }
            if let Some(Value::Array(list)) = m.get_mut("layers") {
                list.iter_mut().for_each(normalize_descriptor);
            }
            let man: ImageManifest =
                serde_json::from_value(Value::Object(m)).map_err(|source| Error::Json {
                    what: what.to_string(),
                    source,
                })?;
            check_descriptor(man.config(), &format!("{what} config"))?;
            for (i, d) in man.layers().iter().enumerate() {
                check_descriptor(d, &format!("{what} layers[{i}]"))?;
            }
            Ok(Document::Manifest(man))
        }
    }
}

fn normalize_descriptor_value(v: &mut Value) {
    if let Value::String(mt) = v {
        *mt = media::to_oci(mt).to_string();
    }
}

/// A descriptor's digest must be valid before anything uses it.
pub fn check_descriptor(d: &Descriptor, what: &str) -> Result<(), Error> {
    digest::validate(d.digest()).map_err(|e| match e {
        Error::InvalidDigest { digest, reason } => Error::InvalidDigest {
            digest,
            reason: format!("{reason} (in {what})"),
        },
        e => e,
    })?;
    Ok(())
}

/// Check that a manifest's config and layers have media types we can use.
pub fn check_manifest_media_types(m: &ImageManifest, what: &str) -> Result<(), Error> {
    let mt = m.config().media_type().to_string();
    if media::classify(&mt) != Some(Kind::Config) {
        return Err(Error::UnknownMediaType {
            media_type: mt,
            what: format!("the config of {what} (expected {})", media::OCI_CONFIG),
        });
    }
    for (i, l) in m.layers().iter().enumerate() {
        let mt = l.media_type().to_string();
        if !matches!(media::classify(&mt), Some(Kind::Layer(_))) {
            return Err(Error::UnknownMediaType {
                media_type: mt,
                what: format!("layers[{i}] of {what} (expected a tar, tar+gzip or tar+zstd layer)"),
            });
        }
    }
    Ok(())
}

/// Parse an image config.
pub fn parse_config(bytes: &[u8], what: &str) -> Result<ImageConfiguration, Error> {
    let mut m = object(bytes, what)?;
    for key in ["architecture", "os"] {
        if !m.get(key).is_some_and(Value::is_string) {
            return Err(invalid(what, format!("`{key}` is missing")));
        }
    }
    let Some(Value::Object(rootfs)) = m.get("rootfs") else {
        return Err(invalid(what, "`rootfs` is missing"));
    };
    if rootfs.get("type").and_then(Value::as_str) != Some("layers") {
        return Err(invalid(what, "`rootfs.type` must be \"layers\""));
    }
    // History is optional in the spec; oci-spec wants the field.
    m.entry("history").or_insert_with(|| Value::Array(vec![]));
    if m.get("history").is_some_and(Value::is_null) {
        m.insert("history".into(), Value::Array(vec![]));
    }
    let cfg: ImageConfiguration =
        serde_json::from_value(Value::Object(m)).map_err(|source| Error::Json {
            what: what.to_string(),
            source,
        })?;
    for d in cfg.rootfs().diff_ids() {
        digest::parse(d)?;
    }
    Ok(cfg)
}

/// The diff IDs of a config, parsed.
pub fn diff_ids(cfg: &ImageConfiguration) -> Result<Vec<digest::Digest>, Error> {
    cfg.rootfs()
        .diff_ids()
        .iter()
        .map(|d| digest::parse(d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn manifest(mt: &str, layer_mt: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{mt}","config":{{"mediaType":"{}","digest":"{D}","size":0}},"layers":[{{"mediaType":"{layer_mt}","digest":"{D}","size":0}}]}}"#,
            media::DOCKER_CONFIG
        )
    }

    #[test]
    fn docker_manifest_reads_as_oci() {
        let doc = parse_document(
            manifest(media::DOCKER_MANIFEST, media::DOCKER_LAYER_GZIP).as_bytes(),
            Some(media::DOCKER_MANIFEST),
            "m",
        )
        .unwrap();
        let Document::Manifest(m) = doc else { panic!() };
        assert_eq!(m.config().media_type().to_string(), media::OCI_CONFIG);
        assert_eq!(
            m.layers()[0].media_type().to_string(),
            media::OCI_LAYER_GZIP
        );
        assert_eq!(
            m.media_type().as_ref().unwrap().to_string(),
            media::OCI_MANIFEST
        );
    }

    #[test]
    fn docker_manifest_list_reads_as_oci_index() {
        let s = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{D}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            media::DOCKER_MANIFEST_LIST,
            media::DOCKER_MANIFEST
        );
        let Document::Index(i) = parse_document(s.as_bytes(), None, "i").unwrap() else {
            panic!()
        };
        assert_eq!(
            i.manifests()[0].media_type().to_string(),
            media::OCI_MANIFEST
        );
    }

    #[test]
    fn index_and_manifest_at_once_is_refused() {
        let s = format!(
            r#"{{"schemaVersion":2,"manifests":[],"config":{{"mediaType":"{}","digest":"{D}","size":0}},"layers":[]}}"#,
            media::OCI_CONFIG
        );
        let e = parse_document(s.as_bytes(), None, "doc").unwrap_err();
        assert!(e.to_string().contains("both an index"), "{e}");
    }

    #[test]
    fn media_type_contradicting_content_is_refused() {
        let e = parse_document(
            manifest(media::OCI_INDEX, media::OCI_LAYER).as_bytes(),
            None,
            "doc",
        )
        .unwrap_err();
        assert!(e.to_string().contains("content is a manifest"), "{e}");
        let e = parse_document(
            manifest(media::OCI_MANIFEST, media::OCI_LAYER).as_bytes(),
            Some(media::OCI_INDEX),
            "doc",
        )
        .unwrap_err();
        assert!(e.to_string().contains("the descriptor says"), "{e}");
    }

    #[test]
    fn unknown_media_type_is_named() {
        let e = parse_document(
            manifest("application/x-evil", media::OCI_LAYER).as_bytes(),
            None,
            "doc",
        )
        .unwrap_err();
        assert!(matches!(e, Error::UnknownMediaType { .. }), "{e}");
        let Document::Manifest(m) = parse_document(
            manifest(media::OCI_MANIFEST, "application/x-evil").as_bytes(),
            None,
            "doc",
        )
        .unwrap() else {
            panic!()
        };
        let e = check_manifest_media_types(&m, "doc").unwrap_err();
        assert!(e.to_string().contains("application/x-evil"), "{e}");
    }

    #[test]
    fn schema1_and_bad_digests_are_refused() {
        let e = parse_document(br#"{"schemaVersion":1,"fsLayers":[]}"#, None, "doc").unwrap_err();
        assert!(e.to_string().contains("schema"), "{e}");
        let s =
            manifest(media::OCI_MANIFEST, media::OCI_LAYER).replace(&D[7..], "../../../etc/passwd");
        assert!(parse_document(s.as_bytes(), None, "doc").is_err());
    }

    #[test]
    fn oversized_document_is_refused() {
        let mut s = manifest(media::OCI_MANIFEST, media::OCI_LAYER);
        s.push_str(&" ".repeat(4 * 1024 * 1024));
        let e = parse_document(s.as_bytes(), None, "doc").unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    }

    #[test]
    fn config_without_history_parses() {
        let s = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{D}"]}}}}"#
        );
        let c = parse_config(s.as_bytes(), "config").unwrap();
        assert_eq!(diff_ids(&c).unwrap().len(), 1);
        let bad = s.replace(&D[7..], &D[7..].to_uppercase());
        assert!(parse_config(bad.as_bytes(), "config").is_err());
    }
}
