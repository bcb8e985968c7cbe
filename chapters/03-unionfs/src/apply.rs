//! Apply: an OCI layer tar becomes a directory, safely.
//!
//! Applying a layer is `tar -x` plus two rules from the OCI image spec:
//! `.wh.<name>` deletes `<name>` from the layers below, and `.wh..wh..opq`
//! makes its directory opaque. Where the result goes decides how those
//! rules are written down ([`WhiteoutMode`]):
//!
//! - [`WhiteoutMode::Overlay`]: the layer gets a directory of its own that
//!   will be an overlay `lowerdir` (Docker's overlay2). Whiteouts become
//!   character devices 0/0 and opaque markers become the xattr
//!   `trusted.overlay.opaque="y"`, the spelling overlayfs reads.
//! - [`WhiteoutMode::Delete`]: the layer is applied *over a copy* of its
//!   parent (the copy driver, Docker's vfs). Whiteouts delete for real, and
//!   an opaque marker empties the directory of everything this layer did not
//!   itself add.
//! - [`WhiteoutMode::Plain`]: the tar is *not* a layer (`docker cp`, a build
//!   context, an archive that ADD extracts): `.wh.` names are ordinary
//!   files and delete nothing, as `tar -x` and Docker's `Untar` treat them.
//!   Whiteouts belong to layer application only; honouring them here would
//!   let a file called `.wh.victim` delete `victim` on the host or in a
//!   container.
//!
//! ## Safety against hostile tars
//!
//! A layer tar comes from the network. Its names can be absolute, contain
//! `..`, or walk through a symlink that an earlier entry planted
//! (`lib -> /etc`, then `lib/passwd`). String checks on the joined path do
//! not work: the symlink is only on disk. So every entry is applied like this:
//!
//! 1. the name is cleaned: absolute names and `..` components are refused;
//! 2. its parent directory is opened with
//!    `openat2(root_fd, parent, O_PATH|O_DIRECTORY, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`:
//!    the kernel resolves every symlink *as if the root were `/`*;
//!    a missing parent is created one component at a time the same way;
//! 3. the last component is created relative to that fd (`openat2` with
//!    `O_CREAT|O_EXCL|O_NOFOLLOW`, `mkdirat`, `symlinkat`, `linkat`,
//!    `mknodat`), replacing what was there without following it;
//! 4. owner, mode, xattrs and times are set through the fd or with
//!    `AT_SYMLINK_NOFOLLOW`; directory times last, once their children exist.
//!
//! Setuid and setgid bits are part of the layer and are kept, as Docker
//! keeps them: `su`, `ping` and `passwd` in real images need them, and
//! what they may do inside a container is decided when it runs (its
//! capabilities and `no_new_privs`), not by the files. Clear
//! [`ApplyOptions::keep_setid`] to drop them (a tree unpacked for
//! inspection outside any container). Since `chown` clears both bits on a
//! regular file, the mode is always set after the owner.
//! Device numbers must fit the kernel's 12-bit major / 20-bit minor.
//!
//! Read: openat2(2), the OCI image-spec layer.md, containerd's
//! `archive/tar.go` and moby's `pkg/archive` for the same job in Go.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use xattr::FileExt;

use crate::fsat::{self, io_err};
use crate::whiteout::{self, TarName, OVERLAY_OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use crate::Error;

/// How whiteouts and opaque markers are written into the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// As overlayfs reads them: char device 0/0, `trusted.overlay.opaque=y`.
    Overlay,
    /// Really delete (the target is a full copy of the parent layer).
    Delete,
    /// Not a layer: `.wh.` names are plain files (`cp`, build contexts, ADD).
    Plain,
}

/// Options for [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// How whiteouts are applied.
    pub whiteouts: WhiteoutMode,
    /// Keep setuid/setgid bits from the tar (on by default, as Docker).
    pub keep_setid: bool,
    /// Set owners from the tar (needs root; on by default).
    pub same_owner: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            whiteouts: WhiteoutMode::Overlay,
            keep_setid: true,
            same_owner: true,
        }
    }
}

/// What an apply did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    /// Files, directories, links and devices written.
    pub entries: u64,
    /// Whiteouts applied.
    pub whiteouts: u64,
    /// Opaque markers applied.
    pub opaque_dirs: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Entries ignored (the root `./`, global PAX headers, aufs meta files).
    pub skipped: u64,
}

/// Apply the layer tar read from `layer` to the directory `target`.
///
/// Nothing outside `target` is created, changed or linked, whatever the
/// entries say; a refused entry stops the apply with an error naming it.
pub fn apply<R: Read>(layer: R, target: &Path, opts: &ApplyOptions) -> Result<ApplyStats, Error> {
    let root: OwnedFd = File::open(target)
        .map_err(|source| Error::OpenTarget {
            path: target.to_path_buf(),
            source,
        })?
        .into();
    let mut st = State {
        root,
        opts: opts.clone(),
        created: HashSet::new(),
        dirs: Vec::new(),
        stats: ApplyStats::default(),
    };
    let mut archive = tar::Archive::new(layer);
    let entries = archive
        .entries()
        .map_err(|source| Error::ReadTar { source })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| Error::ReadTar { source })?;
        st.entry(&mut entry)?;
    }
    st.finish()
}

/// Clean a tar entry name into a relative path of normal components.
/// Refuses absolute names and `..`; drops `.` and empty components.
pub fn clean_name(raw: &[u8]) -> Result<PathBuf, String> {
    if raw.contains(&0) {
        return Err("name contains a NUL byte".into());
    }
    if raw.starts_with(b"/") {
        return Err("absolute name (layer entries are relative to the root)".into());
    }
    let mut out = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err("name contains a `..` component".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute name (layer entries are relative to the root)".into())
            }
        }
    }
    Ok(out)
}

/// Metadata of one entry, read from its header and PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    atime: TimeSpec,
    mtime: TimeSpec,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct DirMeta {
    rel: PathBuf,
    mode: u32,
    atime: TimeSpec,
    mtime: TimeSpec,
}

struct State {
    root: OwnedFd,
    opts: ApplyOptions,
    /// Paths this apply created (an opaque marker in Delete mode keeps them).
    created: HashSet<PathBuf>,
    /// Directories whose mode and times are set at the end.
    dirs: Vec<DirMeta>,
    stats: ApplyStats,
}

fn refuse(entry: &str, reason: impl Into<String>) -> Error {
    Error::UnsafeEntry {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

fn failed(entry: &str, step: impl Into<String>, e: impl Into<io::Error>) -> Error {
    Error::ApplyEntry {
        entry: entry.to_string(),
        step: step.into(),
        source: e.into(),
    }
}

fn errno(entry: &str, step: impl Into<String>) -> impl FnOnce(Errno) -> Error + '_ {
    let step = step.into();
    move |e| failed(entry, step, io_err(e))
}

/// Parse a PAX time such as `1700000000.123456789`.
fn parse_pax_time(v: &[u8]) -> Option<TimeSpec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    let nsec: i64 = digits.parse().ok()?;
    Some(if neg {
        TimeSpec::new(
            -secs - i64::from(nsec > 0),
            if nsec > 0 { 1_000_000_000 - nsec } else { 0 },
        )
    } else {
        TimeSpec::new(secs, nsec)
    })
}

fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, name: &str) -> Result<Meta, Error> {
    let h = entry.header();
    let bad = |what: &str, e: io::Error| refuse(name, format!("unreadable {what}: {e}"));
    let mode = h.mode().map_err(|e| bad("mode", e))? & 0o7777;
    let id = |v: u64, what: &str| -> Result<u32, Error> {
        u32::try_from(v)
            .ok()
            .filter(|v| *v != u32::MAX)
            .ok_or_else(|| refuse(name, format!("{what} {v} is out of range")))
    };
    let uid = id(h.uid().map_err(|e| bad("uid", e))?, "uid")?;
    let gid = id(h.gid().map_err(|e| bad("gid", e))?, "gid")?;
    let secs = h.mtime().map_err(|e| bad("mtime", e))?;
    let mut mtime = TimeSpec::new(i64::try_from(secs).unwrap_or(i64::MAX), 0);
    let mut atime = None;
    let mut xattrs = Vec::new();
    if let Some(pax) = entry.pax_extensions().map_err(|e| bad("PAX header", e))? {
        for ext in pax {
            let ext = ext.map_err(|e| bad("PAX record", e))?;
            let Ok(key) = ext.key() else { continue };
            if key == "mtime" {
                mtime = parse_pax_time(ext.value_bytes())
                    .ok_or_else(|| refuse(name, "unreadable PAX mtime"))?;
            } else if key == "atime" {
                atime = parse_pax_time(ext.value_bytes());
            } else if let Some(x) = key.strip_prefix("SCHILY.xattr.") {
                xattrs.push((x.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(Meta {
        mode,
        uid,
        gid,
        atime: atime.unwrap_or(mtime),
        mtime,
        xattrs,
    })
}

impl State {
    fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Error> {
        let raw_bytes = entry.path_bytes().into_owned();
        let raw = String::from_utf8_lossy(&raw_bytes).into_owned();
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            self.stats.skipped += 1;
            return Ok(());
        }
        let rel = clean_name(&raw_bytes).map_err(|r| refuse(&raw, r))?;
        let Some(base) = rel.file_name().map(OsStr::to_os_string) else {
            // The root itself (`./`): its metadata belongs to whoever owns
            // the target directory.
            self.stats.skipped += 1;
            return Ok(());
        };
        let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let meta = read_meta(entry, &raw)?;
        let class = match base.to_str() {
            _ if self.opts.whiteouts == WhiteoutMode::Plain => TarName::Plain(""),
            Some(s) => whiteout::classify(s).map_err(|r| refuse(&raw, r))?,
            None => TarName::Plain(""),
        };
        match class {
            TarName::Meta(_) => {
                self.stats.skipped += 1;
                Ok(())
            }
            TarName::Opaque => self.opaque(&raw, &parent),
            TarName::Whiteout(name) => self.whiteout(&raw, &parent, OsStr::new(name), &meta),
            TarName::Plain(_) => self.create(entry, &raw, &rel, &parent, &base, &meta),
        }
    }

    /// Open the parent directory inside the root, creating missing
    /// components one by one (each resolved inside the root again).
    fn ensure_parent(&mut self, raw: &str, parent: &Path) -> Result<OwnedFd, Error> {
        match fsat::resolve_dir(self.root(), parent) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(e) => {
                return Err(failed(
                    raw,
                    format!(
                        "open the parent directory `{}` inside the root",
                        parent.display()
                    ),
                    io_err(e),
                ))
            }
        }
        let mut cur_rel = PathBuf::new();
        let mut cur = fsat::resolve_dir(self.root(), &cur_rel)
            .map_err(errno(raw, "open the root directory"))?;
        for comp in parent.components() {
            let next = cur_rel.join(comp);
            cur = match fsat::resolve_dir(self.root(), &next) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    let name = comp.as_os_str();
                    fsat::mkdir_at(cur.as_fd(), name, 0o755).map_err(|e| {
                        let why = if e == Errno::EEXIST {
                            " (it exists but does not lead to a directory inside the root: a symlink pointing out?)"
                        } else {
                            ""
                        };
                        failed(
                            raw,
                            format!("create the missing parent directory `{}`{why}", next.display()),
                            io_err(e),
                        )
                    })?;
                    self.created.insert(next.clone());
                    fsat::resolve_dir(self.root(), &next).map_err(errno(
                        raw,
                        format!("open the new directory `{}`", next.display()),
                    ))?
                }
                Err(e) => {
                    return Err(failed(
                        raw,
                        format!(
                            "open the parent directory `{}` inside the root",
                            next.display()
                        ),
                        io_err(e),
                    ))
                }
            };
            cur_rel = next;
        }
        Ok(cur)
    }

    fn opaque(&mut self, raw: &str, parent: &Path) -> Result<(), Error> {
        self.stats.opaque_dirs += 1;
        match self.opts.whiteouts {
            WhiteoutMode::Overlay => {
                let dir = self.ensure_parent(raw, parent)?;
                let fd = fsat::open_beneath(
                    dir.as_fd(),
                    OsStr::new("."),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                    0,
                )
                .map_err(errno(raw, "open the opaque directory"))?;
                File::from(fd)
                    .set_xattr(OVERLAY_OPAQUE_XATTR, b"y")
                    .map_err(|e| failed(raw, format!("set {OVERLAY_OPAQUE_XATTR}=y"), e))
            }
            // `entry` classifies every name as plain in this mode.
            WhiteoutMode::Plain => unreachable!("no whiteouts in a plain tar"),
            WhiteoutMode::Delete => {
                let dir = match fsat::resolve_dir(self.root(), parent) {
                    Ok(fd) => fd,
                    Err(Errno::ENOENT) => return Ok(()),
                    Err(e) => return Err(failed(raw, "open the opaque directory", io_err(e))),
                };
                let names =
                    fsat::list_dir(dir.as_fd()).map_err(errno(raw, "list the opaque directory"))?;
                for n in names {
                    if !self.created.contains(&parent.join(&n)) {
                        fsat::remove_all_at(dir.as_fd(), &n).map_err(errno(
                            raw,
                            format!(
                                "remove `{}` hidden by the opaque marker",
                                n.to_string_lossy()
                            ),
                        ))?;
                    }
                }
                Ok(())
            }
        }
    }

    fn whiteout(
        &mut self,
        raw: &str,
        parent: &Path,
        name: &OsStr,
        meta: &Meta,
    ) -> Result<(), Error> {
        self.stats.whiteouts += 1;
        match self.opts.whiteouts {
            WhiteoutMode::Overlay => {
                let dir = self.ensure_parent(raw, parent)?;
                let d = dir.as_fd();
                fsat::remove_all_at(d, name)
                    .map_err(errno(raw, "remove what the whiteout replaces"))?;
                nix::sys::stat::mknodat(
                    Some(d.as_raw_fd()),
                    name,
                    SFlag::S_IFCHR,
                    Mode::empty(),
                    0,
                )
                .map_err(errno(raw, "mknod the whiteout (character device 0/0)"))?;
                self.created.insert(parent.join(name));
                self.set_meta_at(raw, d, name, meta, false)
            }
            // `entry` classifies every name as plain in this mode.
            WhiteoutMode::Plain => unreachable!("no whiteouts in a plain tar"),
            WhiteoutMode::Delete => {
                let dir = match fsat::resolve_dir(self.root(), parent) {
                    Ok(fd) => fd,
                    Err(Errno::ENOENT) => return Ok(()),
                    Err(e) => return Err(failed(raw, "open the whiteout's directory", io_err(e))),
                };
                fsat::remove_all_at(dir.as_fd(), name)
                    .map_err(errno(raw, "delete the whited-out name"))
            }
        }
    }

    fn mode_of(&self, meta: &Meta) -> u32 {
        if self.opts.keep_setid {
            meta.mode
        } else {
            meta.mode & !0o6000
        }
    }

    /// Owner, xattrs, mode, times of `name` in `dir` without following it.
    /// (xattrs before the mode: without root, setting `user.*` xattrs needs
    /// write permission on the inode.)
    fn set_meta_at(
        &self,
        raw: &str,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        is_symlink: bool,
    ) -> Result<(), Error> {
        let at = Some(dir.as_raw_fd());
        if self.opts.same_owner {
            nix::unistd::fchownat(
                at,
                name,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(errno(raw, "chown"))?;
        }
        let p = fsat::proc_path(dir, name);
        for (k, v) in &meta.xattrs {
            if k.starts_with(OVERLAY_XATTR_PREFIX) {
                continue;
            }
            xattr::set(&p, k, v).map_err(|e| failed(raw, format!("set xattr {k}"), e))?;
        }
        if !is_symlink {
            // Safe to follow: we created this non-symlink ourselves a moment ago.
            nix::sys::stat::fchmodat(
                at,
                name,
                Mode::from_bits_truncate(self.mode_of(meta)),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(errno(raw, "chmod"))?;
        }
        nix::sys::stat::utimensat(
            at,
            name,
            &meta.atime,
            &meta.mtime,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(errno(raw, "set the times"))
    }

    /// Owner, xattrs and (unless `defer_mode`) mode of an open file or
    /// directory. Directory modes wait until their children are written, so
    /// a read-only directory can still be filled without root.
    fn set_meta_fd(&self, raw: &str, f: &File, meta: &Meta, defer_mode: bool) -> Result<(), Error> {
        let fd = f.as_raw_fd();
        if self.opts.same_owner {
            nix::unistd::fchown(
                fd,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
            )
            .map_err(errno(raw, "chown"))?;
        }
        for (k, v) in &meta.xattrs {
            if k.starts_with(OVERLAY_XATTR_PREFIX) {
                continue;
            }
            f.set_xattr(k, v)
                .map_err(|e| failed(raw, format!("set xattr {k}"), e))?;
        }
        if !defer_mode {
            nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(self.mode_of(meta)))
                .map_err(errno(raw, "chmod"))?;
        }
        Ok(())
    }

    fn create<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        raw: &str,
        rel: &Path,
        parent: &Path,
        base: &OsStr,
        meta: &Meta,
    ) -> Result<(), Error> {
        use tar::EntryType as T;
        let kind = entry.header().entry_type();
        // Refuse what we cannot represent before touching the disk.
        let dev = match kind {
            T::Char | T::Block => {
                let h = entry.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                if major >= 1 << 12 || minor >= 1 << 20 {
                    return Err(refuse(
                        raw,
                        format!("device number {major}:{minor} is out of range (12-bit major, 20-bit minor)"),
                    ));
                }
                nix::sys::stat::makedev(u64::from(major), u64::from(minor))
            }
            T::Regular | T::Continuous | T::Directory | T::Symlink | T::Link | T::Fifo => 0,
            other => return Err(refuse(raw, format!("unsupported entry type {other:?}"))),
        };
        let link_target = match kind {
            T::Symlink | T::Link => Some(
                entry
                    .link_name_bytes()
                    .ok_or_else(|| refuse(raw, "link entry without a target"))?
                    .into_owned(),
            ),
            _ => None,
        };
        // For a hard link, find its target first: inside the root, existing.
        let hard_src = match (kind, &link_target) {
            (T::Link, Some(t)) => {
                let t_rel =
                    clean_name(t).map_err(|r| refuse(raw, format!("hard link target: {r}")))?;
                let Some(t_base) = t_rel.file_name().map(OsStr::to_os_string) else {
                    return Err(refuse(raw, "hard link to the root directory"));
                };
                let t_dir = fsat::resolve_dir(self.root(), t_rel.parent().unwrap_or(Path::new("")))
                    .map_err(errno(
                        raw,
                        format!("find the hard link target `{}`", t_rel.display()),
                    ))?;
                Some((t_dir, t_base))
            }
            _ => None,
        };

        let dir = self.ensure_parent(raw, parent)?;
        let d = dir.as_fd();
        let existing = fsat::lstat_at(d, base).map_err(errno(raw, "lstat the existing entry"))?;
        let keep_dir = kind == T::Directory && existing.as_ref().is_some_and(fsat::is_dir);
        if existing.is_some() && !keep_dir {
            fsat::remove_all_at(d, base).map_err(errno(raw, "remove the entry it replaces"))?;
        }
        match kind {
            T::Regular | T::Continuous => {
                let fd = fsat::open_beneath(
                    d,
                    base,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                    0o600,
                )
                .map_err(errno(raw, "create the file"))?;
                let mut f = File::from(fd);
                let n = io::copy(entry, &mut f)
                    .map_err(|e| failed(raw, "write the file content", e))?;
                self.stats.bytes += n;
                self.set_meta_fd(raw, &f, meta, false)?;
                nix::sys::stat::futimens(f.as_raw_fd(), &meta.atime, &meta.mtime)
                    .map_err(errno(raw, "set the times"))?;
            }
            T::Directory => {
                if !keep_dir {
                    fsat::mkdir_at(d, base, 0o700).map_err(errno(raw, "mkdir"))?;
                }
                let fd = fsat::open_beneath(d, base, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
                    .map_err(errno(raw, "open the directory"))?;
                self.set_meta_fd(raw, &File::from(fd), meta, true)?;
                self.dirs.push(DirMeta {
                    rel: rel.to_path_buf(),
                    mode: self.mode_of(meta),
                    atime: meta.atime,
                    mtime: meta.mtime,
                });
            }
            T::Symlink => {
                let target = link_target.unwrap_or_default();
                nix::unistd::symlinkat(OsStr::from_bytes(&target), Some(d.as_raw_fd()), base)
                    .map_err(errno(raw, "create the symlink"))?;
                self.set_meta_at(raw, d, base, meta, true)?;
            }
            T::Link => {
                let (t_dir, t_base) = hard_src.expect("resolved above");
                nix::unistd::linkat(
                    Some(t_dir.as_raw_fd()),
                    t_base.as_os_str(),
                    Some(d.as_raw_fd()),
                    base,
                    nix::fcntl::AtFlags::empty(),
                )
                .map_err(errno(raw, "create the hard link"))?;
            }
            T::Char | T::Block | T::Fifo => {
                let sflag = match kind {
                    T::Char => SFlag::S_IFCHR,
                    T::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                nix::sys::stat::mknodat(Some(d.as_raw_fd()), base, sflag, Mode::empty(), dev)
                    .map_err(errno(raw, "mknod"))?;
                self.set_meta_at(raw, d, base, meta, false)?;
            }
            _ => unreachable!("refused above"),
        }
        self.created.insert(rel.to_path_buf());
        self.stats.entries += 1;
        Ok(())
    }

    /// Set directory modes and times, deepest first, now that their
    /// contents exist.
    fn finish(mut self) -> Result<ApplyStats, Error> {
        let dirs = std::mem::take(&mut self.dirs);
        for d in dirs.iter().rev() {
            let name = d.rel.to_string_lossy();
            let fd = match crate::sys::openat2(
                self.root(),
                &d.rel,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                0,
                crate::sys::RESOLVE_IN_ROOT | crate::sys::RESOLVE_NO_MAGICLINKS,
            ) {
                Ok(fd) => fd,
                // Removed or replaced by a later entry of the same layer.
                Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => continue,
                Err(e) => return Err(failed(&name, "reopen the directory", io_err(e))),
            };
            nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(d.mode))
                .map_err(errno(&name, "chmod the directory"))?;
            nix::sys::stat::futimens(fd.as_raw_fd(), &d.atime, &d.mtime)
                .map_err(errno(&name, "set the directory times"))?;
        }
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_or_refused() {
        assert_eq!(clean_name(b"./a//b/./c").unwrap(), PathBuf::from("a/b/c"));
        assert_eq!(clean_name(b"dir/").unwrap(), PathBuf::from("dir"));
        assert_eq!(clean_name(b"./").unwrap(), PathBuf::from(""));
        assert!(clean_name(b"/etc/passwd").unwrap_err().contains("absolute"));
        assert!(clean_name(b"a/../../b").unwrap_err().contains(".."));
        assert!(clean_name(b"..").is_err());
    }

    #[test]
    fn pax_times_parse() {
        assert_eq!(
            parse_pax_time(b"12.5"),
            Some(TimeSpec::new(12, 500_000_000))
        );
        assert_eq!(parse_pax_time(b"12"), Some(TimeSpec::new(12, 0)));
        assert_eq!(
            parse_pax_time(b"1700000000.123456789"),
            Some(TimeSpec::new(1_700_000_000, 123_456_789))
        );
        assert_eq!(parse_pax_time(b"x"), None);
    }
}
