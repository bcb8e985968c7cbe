//! The device cgroup: which device nodes the container may open.
//!
//! Making `/dev/sda` inside a container is harmless unless the container may
//! *open* it. On cgroup v1 the `devices` controller decides: the runtime writes
//! `a` to `devices.deny` (nothing), then one `devices.allow` line per rule of
//! the spec (`c 1:3 rwm` for /dev/null). Docker's default list allows null,
//! zero, full, random, urandom, tty, the ptys and a few more.
//!
//! On cgroup v2 the same job is done by an eBPF program attached to the
//! container's cgroup2 directory (chapter 02's [`cgroups::devices`] builds it
//! from the same rules, loads and attaches it). mini-runc attaches it wherever
//! the host has a cgroup2 tree: on a unified host it is the only device
//! restriction; on a hybrid host (v1 controllers plus `/sys/fs/cgroup/unified`)
//! v1's `devices.*` already apply and the program is a second, independent
//! check on top (both must allow), which is also what lets the v2 path be
//! tested on such a host. A program that cannot be loaded or attached stops
//! the `create`: a container is never started without its device filter.

use super::container::RuntimeError;
use std::fs;
use std::path::{Path, PathBuf};

/// One `linux.resources.devices` rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// `a`, `c` or `b`.
    pub kind: char,
    /// Major number, or any.
    pub major: Option<i64>,
    /// Minor number, or any.
    pub minor: Option<i64>,
    /// Access: some of `rwm`.
    pub access: String,
}

impl DeviceRule {
    /// The line written to `devices.allow` or `devices.deny`.
    pub fn line(&self) -> String {
        let num = |n: Option<i64>| {
            n.filter(|v| *v >= 0)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "*".into())
        };
        if self.kind == 'a' && self.major.is_none() && self.minor.is_none() {
            return "a".into();
        }
        let access = if self.access.is_empty() {
            "rwm"
        } else {
            &self.access
        };
        format!(
            "{} {}:{} {access}",
            self.kind,
            num(self.major),
            num(self.minor)
        )
    }
}

/// What runc always allows after the spec's rules: creating any node (`m`),
/// and using null, zero, full, random, urandom, tty, console, ptmx, the ptys
/// and tun.
pub fn default_rules() -> Vec<DeviceRule> {
    let r = |kind: char, major: Option<i64>, minor: Option<i64>, access: &str| DeviceRule {
        allow: true,
        kind,
        major,
        minor,
        access: access.into(),
    };
    vec![
        r('c', None, None, "m"),
        r('b', None, None, "m"),
        r('c', Some(1), Some(3), "rwm"),
        r('c', Some(1), Some(8), "rwm"),
        r('c', Some(1), Some(7), "rwm"),
        r('c', Some(5), Some(0), "rwm"),
        r('c', Some(1), Some(5), "rwm"),
        r('c', Some(1), Some(9), "rwm"),
        r('c', Some(5), Some(1), "rwm"),
        r('c', Some(136), None, "rwm"),
        r('c', Some(5), Some(2), "rwm"),
        r('c', Some(10), Some(200), "rwm"),
    ]
}

/// The v1 devices hierarchy's mount point, if the host has one.
pub fn hierarchy(layout: &cgroups::Layout) -> Option<PathBuf> {
    layout
        .hierarchies
        .iter()
        .find(|h| {
            h.version == cgroups::Version::V1 && h.controllers.iter().any(|c| c.name() == "devices")
        })
        .map(|h| h.mount_point.clone())
}

/// The container's directory in the devices hierarchy.
pub fn dir(layout: &cgroups::Layout, rel: &Path) -> Option<PathBuf> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    hierarchy(layout).map(|m| m.join(rel))
}

/// Creates the container's device cgroup, writes the rules and puts `pid` in it.
/// Returns the directory (or `None` on a host without a v1 devices controller).
pub fn apply(
    layout: &cgroups::Layout,
    rel: &Path,
    rules: &[DeviceRule],
    pid: i32,
) -> Result<Option<PathBuf>, RuntimeError> {
    let Some(dir) = dir(layout, rel) else {
        return Ok(None);
    };
    fs::create_dir_all(&dir).map_err(|source| RuntimeError::CreateDeviceCgroup {
        path: dir.clone(),
        source,
    })?;
    let write = |file: &str, line: &str| {
        let path = dir.join(file);
        fs::write(&path, line).map_err(|source| RuntimeError::WriteDeviceRule {
            line: line.into(),
            path,
            source,
        })
    };
    for rule in rules {
        write(
            if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            },
            &rule.line(),
        )?;
    }
    write("cgroup.procs", &pid.to_string())?;
    Ok(Some(dir))
}

impl DeviceRule {
    /// The same rule for chapter 02's eBPF program builder.
    pub fn to_bpf(&self) -> cgroups::devices::Rule {
        cgroups::devices::Rule {
            allow: self.allow,
            kind: match self.kind {
                'c' => cgroups::devices::DeviceType::Char,
                'b' => cgroups::devices::DeviceType::Block,
                _ => cgroups::devices::DeviceType::All,
            },
            major: self.major.filter(|m| *m >= 0),
            minor: self.minor.filter(|m| *m >= 0),
            access: self.access.clone(),
        }
    }
}

/// Loads the eBPF device filter for `rules` and attaches it to the
/// container's directory in the host's cgroup2 tree (replacing the one there),
/// when the host has a cgroup2 tree. Returns that directory. With `debug`,
/// prints the program (`mini-runc --debug`).
pub fn apply_v2(
    layout: &cgroups::Layout,
    rel: &Path,
    rules: &[DeviceRule],
    debug: bool,
) -> Result<Option<PathBuf>, RuntimeError> {
    let Some(dir) = cgroups::devices::v2_dir(layout, rel) else {
        return Ok(None);
    };
    let rules: Vec<_> = rules.iter().map(DeviceRule::to_bpf).collect();
    let program = cgroups::devices::attach(&dir, &rules).map_err(RuntimeError::DeviceFilter)?;
    if debug {
        eprintln!(
            "mini-runc: device filter attached to {}:\n{}",
            dir.display(),
            program.listing()
        );
    }
    Ok(Some(dir))
}

/// Removes the container's device cgroup (its processes must be gone).
pub fn remove(layout: &cgroups::Layout, rel: &Path) {
    if let Some(dir) = dir(layout, rel) {
        for _ in 0..100 {
            match fs::remove_dir(&dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_lines() {
        let deny_all = DeviceRule {
            allow: false,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        };
        assert_eq!(deny_all.line(), "a");
        let null = DeviceRule {
            allow: true,
            kind: 'c',
            major: Some(1),
            minor: Some(3),
            access: "rwm".into(),
        };
        assert_eq!(null.line(), "c 1:3 rwm");
        let pts = DeviceRule {
            allow: true,
            kind: 'c',
            major: Some(136),
            minor: None,
            access: "rwm".into(),
        };
        assert_eq!(pts.line(), "c 136:* rwm");
    }
}
