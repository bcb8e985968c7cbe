//! Exercise 3, a reference answer.

use sha2::{Digest, Sha256};

use crate::ex3::ACCEPT;

/// Pulls the manifest of `name:tag`, verified against its digest.
pub fn pull_manifest(
    http: &reqwest::blocking::Client,
    base: &str,
    name: &str,
    tag: &str,
) -> Result<(String, Vec<u8>), String> {
    let url = format!("{base}/v2/{name}/manifests/{tag}");
    let get = |token: Option<&str>| {
        let mut req = http.get(&url).header("Accept", ACCEPT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().map_err(|e| format!("GET {url}: {e}"))
    };
    let mut resp = get(None)?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        let header = resp
            .headers()
            .get("WWW-Authenticate")
            .and_then(|v| v.to_str().ok())
            .ok_or("401 without a WWW-Authenticate challenge")?;
        let challenge = super::ex1::parse_challenge(header)
            .ok_or_else(|| format!("not a Bearer challenge: {header}"))?;
        let token = super::ex2::fetch_token(http, &challenge)?;
        resp = get(Some(&token))?;
    }
    if !resp.status().is_success() {
        return Err(format!("GET {url}: {}", resp.status()));
    }
    let digest = resp
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or("no Docker-Content-Digest header")?;
    let bytes = resp
        .bytes()
        .map_err(|e| format!("read the manifest: {e}"))?
        .to_vec();
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if actual != digest {
        return Err(format!(
            "digest mismatch: the registry says {digest}, the bytes are {actual}"
        ));
    }
    Ok((digest, bytes))
}
