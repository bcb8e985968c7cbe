//! Platforms: choosing one manifest from an index.
//!
//! An index lists one manifest per platform (`linux/amd64`, `linux/arm64/v8`,
//! …); the client picks the one it can run. We default to `linux/amd64` and
//! take `--platform os/arch[/variant]` like `docker run --platform`.
//!
//! ```text
//! $ skopeo inspect --raw oci:layout:tag | jq '.manifests[].platform'
//! ```

use std::fmt;
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageIndex};

use crate::Error;

/// A platform to select: `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, … (Go's GOARCH names).
    pub arch: String,
    /// `v7`, `v8`, … when the architecture has variants.
    pub variant: Option<String>,
}

impl Default for PlatformSpec {
    fn default() -> Self {
        PlatformSpec {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
        }
    }
}

impl PlatformSpec {
    /// The platform of this machine, in Go's names.
    pub fn host() -> PlatformSpec {
        PlatformSpec {
            os: "linux".into(),
            arch: normalize_arch(std::env::consts::ARCH).into(),
            variant: None,
        }
    }

    /// Does a platform read from a document match this one?
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        if os != self.os || normalize_arch(arch) != self.arch {
            return false;
        }
        let norm = |v: Option<&str>| -> Option<String> {
            match (self.arch.as_str(), v) {
                // arm64 without a variant is v8.
                ("arm64", None) => Some("v8".into()),
                (_, v) => v.map(str::to_string),
            }
        };
        match &self.variant {
            None => true,
            Some(want) => norm(variant).as_deref() == Some(want.as_str()),
        }
    }
}

/// Go's names for Rust's/uname's architecture names.
pub fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "x86" | "i386" | "i686" => "386",
        other => other,
    }
}

impl FromStr for PlatformSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidPlatform {
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("empty component"));
        }
        if !parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(bad("only letters, digits and `_` are allowed"));
        }
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(v.to_string())),
            _ => return Err(bad("expected two or three components")),
        };
        Ok(PlatformSpec {
            os: os.to_lowercase(),
            arch: normalize_arch(&arch.to_lowercase()).to_string(),
            variant,
        })
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// `os/arch[/variant]` of a descriptor's platform, or `unknown`.
pub fn describe(d: &Descriptor) -> String {
    match d.platform() {
        Some(p) => {
            let mut s = format!("{}/{}", p.os(), p.architecture());
            if let Some(v) = p.variant() {
                s.push('/');
                s.push_str(v);
            }
            s
        }
        None => "(no platform)".into(),
    }
}

/// Choose the manifest for `want` from an index.
///
/// An index whose only entry has no platform (what `umoci` and many OCI
/// layouts write) gives that entry; the caller then checks the config.
pub fn select<'a>(index: &'a ImageIndex, want: &PlatformSpec) -> Result<&'a Descriptor, Error> {
    let manifests: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| {
            matches!(
                crate::media::classify(d.media_type().as_ref()),
                Some(crate::media::Kind::Manifest | crate::media::Kind::Index)
            )
        })
        .collect();
    let found = manifests.iter().find(|d| {
        d.platform().as_ref().is_some_and(|p| {
            want.matches(
                &p.os().to_string(),
                &p.architecture().to_string(),
                p.variant().as_deref(),
            )
        })
    });
    if let Some(d) = found {
        return Ok(d);
    }
    let unlabelled: Vec<&&Descriptor> = manifests
        .iter()
        .filter(|d| d.platform().is_none())
        .collect();
    if unlabelled.len() == 1 && manifests.len() == 1 {
        return Ok(unlabelled[0]);
    }
    Err(Error::NoMatchingPlatform {
        wanted: want.to_string(),
        available: if manifests.is_empty() {
            "no manifests".into()
        } else {
            manifests
                .iter()
                .map(|d| describe(d))
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[(&str, &str, Option<&str>)]) -> ImageIndex {
        let ms: Vec<String> = platforms
            .iter()
            .enumerate()
            .map(|(i, (os, arch, v))| {
                let v = v.map(|v| format!(r#","variant":"{v}""#)).unwrap_or_default();
                format!(
                    r#"{{"mediaType":"{}","digest":"sha256:{}","size":1,"platform":{{"os":"{os}","architecture":"{arch}"{v}}}}}"#,
                    crate::media::OCI_MANIFEST,
                    format!("{i}").repeat(64)
                )
            })
            .collect();
        serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            ms.join(",")
        ))
        .unwrap()
    }

    #[test]
    fn parse_platforms() {
        assert_eq!(
            "linux/amd64".parse::<PlatformSpec>().unwrap(),
            PlatformSpec::default()
        );
        let p: PlatformSpec = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(
            "linux/x86_64".parse::<PlatformSpec>().unwrap().arch,
            "amd64"
        );
        assert!("linux".parse::<PlatformSpec>().is_err());
        assert!("linux//".parse::<PlatformSpec>().is_err());
        assert!("linux/../x".parse::<PlatformSpec>().is_err());
    }

    #[test]
    fn select_by_platform() {
        let idx = index(&[
            ("linux", "arm64", Some("v8")),
            ("linux", "amd64", None),
            ("linux", "arm", Some("v7")),
        ]);
        let d = select(&idx, &PlatformSpec::default()).unwrap();
        assert!(d.digest().as_ref().ends_with(&"1".repeat(64)));
        let d = select(&idx, &"linux/arm64".parse().unwrap()).unwrap();
        assert!(d.digest().as_ref().ends_with(&"0".repeat(64)));
        let d = select(&idx, &"linux/arm/v7".parse().unwrap()).unwrap();
        assert!(d.digest().as_ref().ends_with(&"2".repeat(64)));
        let e = select(&idx, &"linux/s390x".parse().unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no manifest for linux/s390x in the index; it has: linux/arm64/v8, linux/amd64, linux/arm/v7 (choose one with --platform)"
        );
    }
}
