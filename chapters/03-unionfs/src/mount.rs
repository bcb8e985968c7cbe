//! Mounts as data: describe first, print, then perform.
//!
//! containerd's snapshotters never mount anything themselves: they return a
//! list of `Mount { type, source, target, options }` and let the caller
//! decide ("mounts are the lingua franca"). We do the same, so the engine can
//! print a mount, store it, snapshot it in a test, and only then apply it.
//!
//! An overlay mount joins directories into one view:
//!
//! ```text
//! mount -t overlay overlay -o lowerdir=L1:L2,upperdir=U,workdir=W merged
//! ```
//!
//! - `lowerdir` is a `:`-separated list, **topmost first**; all are read-only.
//! - `upperdir` receives every change (copy-up, whiteouts, opaque markers).
//! - `workdir` is an empty scratch directory on the *same filesystem* as the
//!   upper; the kernel prepares files there and renames them into place so
//!   each change appears atomically.
//!
//! The mount data is passed as one string of at most a page (4096 bytes), so
//! many long lower paths do not fit: Docker's overlay2 shortens them with
//! symlinks in `l/` and mounts from inside the layer directory.
//!
//! Syscalls: `mount(2)` with fstype `overlay`, `umount2(2)`.
//! Read: Documentation/filesystems/overlayfs.rst, mount(8).

use std::fmt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::Error;

/// The largest mount data string the kernel accepts (one page).
pub const MAX_MOUNT_DATA: usize = 4096;

/// A mount described as data. `Display` prints the `mount(8)` command that
/// does the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Filesystem type: `overlay`, or `bind` for a bind mount.
    pub fstype: String,
    /// What to mount: `overlay` for overlays, the source directory for binds.
    pub source: PathBuf,
    /// Where to mount it.
    pub target: PathBuf,
    /// Options, as `mount -o` takes them.
    pub options: Vec<String>,
}

impl Mount {
    /// An overlay of `lowers` (topmost first) with a writable `upper`.
    ///
    /// Fails if a path contains a character the option string cannot carry
    /// (`,` `:` or `=`), or if the options would not fit in one page.
    pub fn overlay(
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<Mount, Error> {
        Self::overlay_with(lowers, upper, work, target, &[])
    }

    /// Like [`Mount::overlay`], with extra options appended (for example
    /// `redirect_dir=off`, see [`crate::driver::overlay_extra_options`]).
    pub fn overlay_with(
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
        extra: &[String],
    ) -> Result<Mount, Error> {
        if lowers.is_empty() {
            return Err(Error::InvalidMount {
                mount: format!("overlay on {}", target.display()),
                reason: "an overlay needs at least one lower directory".into(),
            });
        }
        for p in lowers.iter().map(PathBuf::as_path).chain([upper, work]) {
            let s = p.to_string_lossy();
            if s.contains([',', ':', '=']) {
                return Err(Error::InvalidMount {
                    mount: format!("overlay on {}", target.display()),
                    reason: format!(
                        "path `{s}` contains `,` `:` or `=`, which overlay options cannot carry"
                    ),
                });
            }
        }
        let lowerdir = lowers
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(":");
        let mut options = vec![
            format!("lowerdir={lowerdir}"),
            format!("upperdir={}", upper.display()),
            format!("workdir={}", work.display()),
        ];
        options.extend(extra.iter().cloned());
        let m = Mount {
            fstype: "overlay".into(),
            source: "overlay".into(),
            target: target.to_path_buf(),
            options,
        };
        if m.data().len() >= MAX_MOUNT_DATA {
            return Err(Error::InvalidMount {
                mount: m.to_string(),
                reason: format!(
                    "the option string is {} bytes, the kernel takes at most {}",
                    m.data().len(),
                    MAX_MOUNT_DATA - 1
                ),
            });
        }
        Ok(m)
    }

    /// A bind mount of `source` on `target` (what the copy driver hands out).
    pub fn bind(source: &Path, target: &Path) -> Mount {
        Mount {
            fstype: "bind".into(),
            source: source.to_path_buf(),
            target: target.to_path_buf(),
            options: vec!["rbind".into()],
        }
    }

    /// The data string passed to mount(2) (the options joined by `,`).
    pub fn data(&self) -> String {
        self.options.join(",")
    }

    /// Perform the mount. The returned guard unmounts on drop.
    pub fn apply(&self) -> Result<MountGuard, Error> {
        let res = if self.fstype == "bind" {
            nix::mount::mount(
                Some(&self.source),
                &self.target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
        } else {
            let data = self.data();
            nix::mount::mount(
                Some(&self.source),
                &self.target,
                Some(self.fstype.as_str()),
                MsFlags::empty(),
                Some(data.as_str()),
            )
        };
        res.map_err(|errno| Error::Mount {
            mount: self.to_string(),
            errno,
        })?;
        Ok(MountGuard {
            target: Some(self.target.clone()),
        })
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fstype == "bind" {
            write!(
                f,
                "mount --rbind {} {}",
                self.source.display(),
                self.target.display()
            )
        } else {
            write!(
                f,
                "mount -t {} {} -o {} {}",
                self.fstype,
                self.source.display(),
                self.data(),
                self.target.display()
            )
        }
    }
}

/// Unmounts its target when dropped (lazily, with `MNT_DETACH`, if a plain
/// unmount fails because something still uses it). Call
/// [`MountGuard::unmount`] to see the error instead.
#[derive(Debug)]
pub struct MountGuard {
    target: Option<PathBuf>,
}

impl MountGuard {
    /// The mount point.
    pub fn target(&self) -> &Path {
        self.target.as_deref().unwrap_or(Path::new(""))
    }

    /// Unmount now and report failure (`umount TARGET`).
    pub fn unmount(mut self) -> Result<(), Error> {
        match self.target.take() {
            Some(t) => nix::mount::umount2(&t, MntFlags::empty())
                .map_err(|errno| Error::Unmount { target: t, errno }),
            None => Ok(()),
        }
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Some(t) = self.target.take() {
            if nix::mount::umount2(&t, MntFlags::empty()).is_err() {
                let _ = nix::mount::umount2(&t, MntFlags::MNT_DETACH);
            }
        }
    }
}

/// Several mounts applied in order and unmounted in reverse order.
#[derive(Debug, Default)]
pub struct Mounted {
    guards: Vec<MountGuard>,
}

impl Mounted {
    /// Apply each mount in order; on failure, the ones already made are undone.
    pub fn apply_all(mounts: &[Mount]) -> Result<Mounted, Error> {
        let mut done = Mounted::default();
        for m in mounts {
            done.guards.push(m.apply()?);
        }
        Ok(done)
    }

    /// Leave the mounts in place and return their targets, newest last:
    /// from now on someone else unmounts them (an engine keeps a
    /// container's root mounted until the container exits or is removed).
    pub fn keep(mut self) -> Vec<PathBuf> {
        self.guards
            .drain(..)
            .filter_map(|mut g| g.target.take())
            .collect()
    }

    /// Unmount everything now, newest first, reporting the first failure.
    pub fn unmount(mut self) -> Result<(), Error> {
        let mut first = Ok(());
        while let Some(g) = self.guards.pop() {
            let r = g.unmount();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        while let Some(g) = self.guards.pop() {
            drop(g);
        }
    }
}

/// Mount points listed in a mountinfo file (`/proc/self/mountinfo`, a
/// parameter so tests can pass a fixture), decoded from its octal escapes.
pub fn mount_points(mountinfo: &Path) -> std::io::Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(mountinfo)?;
    Ok(text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_octal(p)))
        .collect())
}

/// Is anything mounted at `path` or below it, according to `mountinfo`?
pub fn mounted_under(mountinfo: &Path, path: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(mount_points(mountinfo)?
        .into_iter()
        .filter(|m| m.starts_with(path))
        .collect())
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_prints_the_mount_command() {
        let m = Mount::overlay(
            &["/l/app".into(), "/l/base".into()],
            Path::new("/c/upper"),
            Path::new("/c/work"),
            Path::new("/c/merged"),
        )
        .unwrap();
        insta::assert_snapshot!(m.to_string(), @"mount -t overlay overlay -o lowerdir=/l/app:/l/base,upperdir=/c/upper,workdir=/c/work /c/merged");
        assert_eq!(
            Mount::bind(Path::new("/a"), Path::new("/b")).to_string(),
            "mount --rbind /a /b"
        );
    }

    #[test]
    fn overlay_refuses_paths_it_cannot_express() {
        let e = Mount::overlay(
            &["/l/a:b".into()],
            Path::new("/u"),
            Path::new("/w"),
            Path::new("/m"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/l/a:b"), "{e}");
        let long: Vec<PathBuf> = (0..100)
            .map(|i| format!("/{}/{i}", "x".repeat(60)).into())
            .collect();
        let e =
            Mount::overlay(&long, Path::new("/u"), Path::new("/w"), Path::new("/m")).unwrap_err();
        assert!(e.to_string().contains("at most 4095"), "{e}");
        assert!(Mount::overlay(&[], Path::new("/u"), Path::new("/w"), Path::new("/m")).is_err());
    }

    #[test]
    fn mountinfo_is_parsed_and_unescaped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mountinfo");
        std::fs::write(
            &f,
            "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
             40 22 0:40 / /tmp/a\\040b/merged rw - overlay overlay rw,lowerdir=/l\n",
        )
        .unwrap();
        let under = mounted_under(&f, Path::new("/tmp/a b")).unwrap();
        assert_eq!(under, vec![PathBuf::from("/tmp/a b/merged")]);
        assert!(mounted_under(&f, Path::new("/srv")).unwrap().is_empty());
    }
}
