//! Manifests, indexes and image configs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for announced in [
        None,
        Some("application/vnd.oci.image.manifest.v1+json"),
        Some("application/vnd.oci.image.index.v1+json"),
    ] {
        let _ = images::document::parse_document(data, announced, "fuzz");
    }
    let _ = images::document::parse_config(data, "fuzz");
});
