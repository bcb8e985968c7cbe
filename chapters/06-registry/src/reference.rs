//! Image references, parsed the way `docker pull` parses them.
//!
//! ```text
//! busybox                              docker.io/library/busybox:latest
//! alpine:3.19                          docker.io/library/alpine:3.19
//! someone/app                          docker.io/someone/app:latest
//! localhost:5000/app                   localhost:5000/app:latest
//! 127.0.0.1:5000/ns/app@sha256:4b2c…   by digest (the tag, if any, is ignored)
//! ghcr.io/org/tool:v1                  ghcr.io/org/tool:v1
//! ```
//!
//! The rule for the registry (moby's `splitDockerDomain`): the part before
//! the first `/` is a registry host only if it contains a `.` or a `:`, or is
//! `localhost`, or has an uppercase letter. Otherwise the whole string is a
//! repository on Docker Hub, and a single-component name there lives under
//! `library/`. `index.docker.io` is an old spelling of `docker.io`, and the
//! API of `docker.io` is served at `registry-1.docker.io`.

use std::fmt;

use chapter04::Digest;

use crate::spec::{self, Invalid};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API is.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key Docker's `config.json` uses for Docker Hub credentials.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (and port): `docker.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository: `library/busybox`.
    pub repository: String,
    /// Tag, `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// Digest, when pinned.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parse `s` as Docker does.
    pub fn parse(s: &str) -> Result<Reference, Invalid> {
        let bad = |reason: &str| Invalid {
            what: "reference",
            value: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(bad("empty reference"));
        }
        if s.contains("://") {
            return Err(bad(
                "a reference has no scheme: write `host:port/repo:tag`, not a URL",
            ));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let d = spec::parse_digest(d).map_err(|e| bad(&e.to_string()))?;
                (r, Some(d))
            }
            None => (s, None),
        };
        // A tag is after the last `:` that comes after the last `/`.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                let tag = &rest[i + 1..];
                spec::validate_tag(tag).map_err(|e| bad(&e.to_string()))?;
                (&rest[..i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        let (registry, mut repository) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if registry.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("registry host names are lowercase"));
        }
        if !registry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(bad(
                "the registry must be a host name or address, with an optional :port",
            ));
        }
        // `../x` is not the host `..`: every dot-separated label has a name.
        if !registry.starts_with('[')
            && registry
                .split(':')
                .next()
                .unwrap_or("")
                .split('.')
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return Err(bad("the registry host name has an empty or invalid label"));
        }
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("repository name must be lowercase"));
        }
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        spec::validate_name(&repository).map_err(|e| bad(&e.to_string()))?;
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What to ask `/manifests/` for: the digest if pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The host the registry API is served from (`docker.io` is special).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The same image in another repository or registry, same tag/digest.
    pub fn with_repository(&self, registry: &str, repository: &str) -> Reference {
        Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            ..self.clone()
        }
    }

    /// The short form Docker prints (`busybox:latest` for Hub images).
    pub fn familiar(&self) -> String {
        let name = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        };
        match (&self.tag, &self.digest) {
            (_, Some(d)) => format!("{name}@{d}"),
            (Some(t), None) => format!("{name}:{t}"),
            (None, None) => name,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Is this registry host on the loopback interface (plain HTTP allowed)?
pub fn is_loopback_host(registry: &str) -> bool {
    let host = host_of(registry);
    if host == "localhost" {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

/// The host part of `host[:port]` (IPv6 in brackets).
pub fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// `https://host:port/v1/` or `host:port` -> `host:port`; Docker Hub's
/// addresses -> `docker.io`.
pub fn registry_host(addr: &str) -> String {
    let s = addr
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or("");
    match s {
        "" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.into(),
        s => s.to_string(),
    }
}

/// Splits a search term into (registry, term): `HOST/term` names a
/// registry when HOST looks like one (a dot, a colon, or `localhost`).
pub fn split_term(term: &str) -> (Option<String>, String) {
    if let Some((h, rest)) = term.split_once('/') {
        if h.contains('.') || h.contains(':') || h == "localhost" {
            return (Some(h.to_string()), rest.to_string());
        }
    }
    (None, term.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_normalization() {
        assert_eq!(p("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(p("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(p("someone/app"), "docker.io/someone/app:latest");
        assert_eq!(
            p("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(p("docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(p("localhost/app"), "localhost/app:latest");
        assert_eq!(p("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(p("ghcr.io/org/tool:v1"), "ghcr.io/org/tool:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            p(&format!("127.0.0.1:5000/ns/repo@{d}")),
            format!("127.0.0.1:5000/ns/repo@{d}")
        );
        assert_eq!(
            p(&format!("busybox:1.36@{d}")),
            format!("docker.io/library/busybox:1.36@{d}")
        );
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.manifest_ref(), "latest");
    }

    #[test]
    fn malformed_references_are_refused_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("Busybox", "lowercase"),
            ("busybox:", "tag"),
            ("busybox:a b", "not allowed"),
            ("busybox@sha256:abc", "exactly 64"),
            ("busybox@sha256:../x", "digest"),
            ("https://example.invalid/x", "no scheme"),
            ("a//b", "empty path component"),
            ("localhost:5000/../x", "component"),
        ];
        for (s, want) in cases {
            let e = Reference::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_host("127.0.0.1:5000"));
        assert!(is_loopback_host("localhost:5000"));
        assert!(is_loopback_host("[::1]:5000"));
        assert!(!is_loopback_host("docker.io"));
        assert!(!is_loopback_host("10.0.0.1:5000"));
    }
}
