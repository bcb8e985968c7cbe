//! Exercise 3: pull a manifest.
//!
//! A pull starts with the manifest: `GET /v2/<name>/manifests/<tag>`, with
//! an `Accept` header listing the media types the client understands
//! (without it, registries may convert or refuse). The first try gets a
//! 401 and a challenge (exercise 1), the client fetches a token (exercise
//! 2) and tries again with `Authorization: Bearer <token>`. The registry
//! answers the bytes and `Docker-Content-Digest`; the client checks that
//! the bytes hash to that digest before trusting them (chapter 04,
//! exercise 2). Chapter 06's client does this in `client/pull.rs`.
//!
//! Check with `scripts/check.sh 06 3`: the checker's registry holds
//! `demo/app:latest`; it compares what you return with what it stored.

/// The OCI and Docker manifest media types a client accepts.
pub const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Pulls the manifest of `name:tag` from the registry at `base`
/// (`http://127.0.0.1:PORT`), and returns its digest (`sha256:…`) and bytes,
/// after checking that the bytes match the digest.
pub fn pull_manifest(
    http: &reqwest::blocking::Client,
    base: &str,
    name: &str,
    tag: &str,
) -> Result<(String, Vec<u8>), String> {
    let _ = (http, base, name, tag, ACCEPT);
    todo!("hint: GET {{base}}/v2/{{name}}/manifests/{{tag}} with Accept; on 401 parse WWW-Authenticate with your ex1, get a token with your ex2, GET again with bearer_auth(token); compare the sha256 of the body with the Docker-Content-Digest header")
}
