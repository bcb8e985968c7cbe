//! Whiteouts and opaque directories: how a deletion is written down.
//!
//! A layer can only *add* things. To delete a name that a lower layer has,
//! the upper layer stores a marker. There are two spellings of the same idea:
//!
//! | meaning | on disk (overlayfs upper) | in an OCI layer tar |
//! | --- | --- | --- |
//! | `name` was deleted | character device 0/0 called `name` | empty file `.wh.name` |
//! | `dir` hides all lower content | xattr `trusted.overlay.opaque="y"` on `dir` | empty file `dir/.wh..wh..opq` |
//!
//! ```text
//! $ rm merged/etc/motd
//! $ ls -l upper/etc/motd
//! c--------- 2 root root 0, 0 ... upper/etc/motd
//! $ rm -r merged/opt/app && mkdir merged/opt/app
//! $ getfattr -n trusted.overlay.opaque upper/opt/app
//! trusted.overlay.opaque="y"
//! ```
//!
//! [`diff`](crate::diff) converts the first column into the second and
//! [`apply`](crate::apply) converts back. Read: overlayfs.rst ("whiteouts and
//! opaque directories"), OCI image-spec layer.md ("Whiteouts").

use std::collections::BTreeSet;
use std::fmt;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::Error;

/// Prefix of a whiteout entry in a layer tar.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the opaque-directory marker in a layer tar.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Prefix of whiteout "meta" names (aufs), reserved.
pub const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
/// The xattr overlayfs sets on an opaque directory in upper.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Prefix of all overlayfs-private xattrs; never copied into a layer tar.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// Is this inode an overlayfs whiteout (a character device 0/0)?
pub fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Does this directory carry `trusted.overlay.opaque="y"`?
pub fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, OVERLAY_OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

/// What a tar entry's base name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarName<'a> {
    /// An ordinary name.
    Plain(&'a str),
    /// `.wh.<name>`: delete `<name>` from the layers below.
    Whiteout(&'a str),
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// Another `.wh..wh.*` name (aufs metadata): ignored.
    Meta(&'a str),
}

/// Classify a tar entry's base name, refusing whiteouts that name nothing
/// (`.wh.`), the directory itself (`.wh..`) or its parent (`.wh...`).
pub fn classify(base: &str) -> Result<TarName<'_>, String> {
    if base == OPAQUE_MARKER {
        return Ok(TarName::Opaque);
    }
    if base.starts_with(WHITEOUT_META_PREFIX) {
        return Ok(TarName::Meta(base));
    }
    match base.strip_prefix(WHITEOUT_PREFIX) {
        None => Ok(TarName::Plain(base)),
        Some("") => Err("whiteout `.wh.` names nothing".into()),
        Some(".") | Some("..") => Err(format!("whiteout `{base}` names `.` or `..`")),
        Some(name) => Ok(TarName::Whiteout(name)),
    }
}

/// One change in a container's upper directory, like a line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Path relative to the root of the merged view, e.g. `etc/motd`.
    pub path: PathBuf,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// The kinds of change `docker diff` prints (A, C, D) plus opaque dirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// `A`: new, no lower layer has it.
    Added,
    /// `C`: a lower layer has it; this is the copied-up (or replaced) version.
    Changed,
    /// `D`: deleted (a whiteout).
    Deleted,
    /// The directory was deleted and made again: lower contents are hidden.
    Opaque,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            ChangeKind::Added => "A",
            ChangeKind::Changed => "C",
            ChangeKind::Deleted => "D",
            ChangeKind::Opaque => "O",
        };
        write!(f, "{k} /{}", self.path.display())
    }
}

/// List the changes recorded in an overlay `upper` directory, telling added
/// from changed by looking the name up in `lowers` (topmost first).
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, Error> {
    let mut out = BTreeSet::new();
    walk_changes(upper, Path::new(""), lowers, &mut out)?;
    Ok(out.into_iter().collect())
}

fn walk_changes(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut BTreeSet<Change>,
) -> Result<(), Error> {
    let dir = upper.join(rel);
    let rd = std::fs::read_dir(&dir).map_err(|source| Error::ReadTree {
        path: dir.clone(),
        source,
    })?;
    for ent in rd {
        let ent = ent.map_err(|source| Error::ReadTree {
            path: dir.clone(),
            source,
        })?;
        let path = rel.join(ent.file_name());
        let meta = ent.metadata().map_err(|source| Error::ReadTree {
            path: ent.path(),
            source,
        })?;
        let in_lower = lowers
            .iter()
            .any(|l| std::fs::symlink_metadata(l.join(&path)).is_ok());
        if is_whiteout(&meta) {
            out.insert(Change {
                path,
                kind: ChangeKind::Deleted,
            });
            continue;
        }
        let kind = if in_lower {
            ChangeKind::Changed
        } else {
            ChangeKind::Added
        };
        // A directory that only exists in upper because something below it
        // changed is still listed as changed, as `docker diff` does.
        out.insert(Change {
            path: path.clone(),
            kind,
        });
        if meta.is_dir() {
            if in_lower && is_opaque(&ent.path()) {
                out.insert(Change {
                    path: path.clone(),
                    kind: ChangeKind::Opaque,
                });
            }
            walk_changes(upper, &path, lowers, out)?;
        }
    }
    Ok(())
}

/// How [`rename_like_mv`] moved a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renamed {
    /// rename(2) worked (a directory that exists only in upper, or any
    /// directory on a plain filesystem).
    Directly,
    /// rename(2) said `EXDEV`: overlayfs without `redirect_dir` cannot
    /// rename a directory that comes from a lower layer, so, like `mv`, we
    /// copied it to the new name and deleted the old one. In upper this
    /// leaves a full copy under the new name and a whiteout for the old.
    CopiedThenDeleted,
}

/// Rename a directory as `mv` does: try rename(2), and on `EXDEV` copy the
/// tree (owners, modes, times, xattrs, links) and delete the original.
pub fn rename_like_mv(from: &Path, to: &Path) -> Result<Renamed, Error> {
    match std::fs::rename(from, to) {
        Ok(()) => return Ok(Renamed::Directly),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        Err(source) => {
            return Err(Error::Layer {
                step: "rename",
                path: from.to_path_buf(),
                source,
            })
        }
    }
    fn layer_err(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Layer { step, path, source }
    }
    let meta = std::fs::symlink_metadata(from).map_err(layer_err("stat", from))?;
    std::fs::create_dir(to).map_err(layer_err("create the new directory", to))?;
    crate::diff::copy_tree(from, to)?;
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))
        .map_err(layer_err("chown", to))?;
    std::fs::set_permissions(to, meta.permissions()).map_err(layer_err("chmod", to))?;
    let times = |s: i64, ns: i64| nix::sys::time::TimeSpec::new(s, ns);
    nix::sys::stat::utimensat(
        None,
        to,
        &times(meta.atime(), meta.atime_nsec()),
        &times(meta.mtime(), meta.mtime_nsec()),
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| layer_err("set the times of", to)(std::io::Error::from_raw_os_error(e as i32)))?;
    std::fs::remove_dir_all(from).map_err(layer_err("delete the old directory", from))?;
    Ok(Renamed::CopiedThenDeleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified() {
        assert_eq!(classify("motd"), Ok(TarName::Plain("motd")));
        assert_eq!(classify(".wh.motd"), Ok(TarName::Whiteout("motd")));
        assert_eq!(classify(".wh..hidden"), Ok(TarName::Whiteout(".hidden")));
        assert_eq!(classify(".wh..wh..opq"), Ok(TarName::Opaque));
        assert_eq!(classify(".wh..wh.plnk"), Ok(TarName::Meta(".wh..wh.plnk")));
        assert!(classify(".wh.").is_err());
        assert!(classify(".wh..").is_err());
        assert!(classify(".wh...").is_err());
    }
}
