//! Diff: a layer's changes written as an OCI layer tar.
//!
//! Two ways to find the changes, as Docker has:
//!
//! - [`diff_upper`] (overlay2): the upper directory *is* the change set.
//!   Every file in it is written as is, except the overlay spellings of
//!   deletion, which are translated for the tar (see [`crate::whiteout`]):
//!   a char device 0/0 becomes an empty `.wh.<name>` file, and a directory
//!   with `trusted.overlay.opaque="y"` is followed by `<dir>/.wh..wh..opq`.
//! - [`diff_against`] (vfs, "naive diff"): compare a full tree with its
//!   parent's full tree. A name that is new, or whose type, mode, owner,
//!   device, xattrs, symlink target or (for non-directories) size or mtime
//!   differ, is written; a name that is gone becomes `.wh.<name>`; a
//!   directory is written when it changed or something below it did.
//!
//! Both first compute the list of entries ([`DiffItem`], printable), then
//! write them: parents before children, names sorted, hard links as `link`
//! entries to the first name of the inode, xattrs and sub-second mtimes as
//! PAX records (`SCHILY.xattr.<name>`, `mtime`). Overlay-private xattrs
//! (`trusted.overlay.*`) never go into a tar.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::whiteout::{self, OPAQUE_MARKER, OVERLAY_XATTR_PREFIX, WHITEOUT_PREFIX};
use crate::Error;

/// What a diff wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiffStats {
    /// Entries written (files, dirs, links, devices), whiteouts not counted.
    pub entries: u64,
    /// `.wh.<name>` entries.
    pub whiteouts: u64,
    /// `.wh..wh..opq` entries.
    pub opaque_dirs: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Sockets skipped (a tar cannot hold them).
    pub skipped: u64,
}

/// One planned tar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffItem {
    /// Copy this path (relative to the layer) into the tar under the same name.
    Entry(PathBuf),
    /// Write `.wh.<name>` for this path; metadata from the upper whiteout if any.
    Whiteout(PathBuf),
    /// Write `<dir>/.wh..wh..opq` for this directory.
    Opaque(PathBuf),
}

impl DiffItem {
    /// The tar entry name this item becomes.
    pub fn tar_name(&self) -> String {
        match self {
            DiffItem::Entry(p) => p.to_string_lossy().into_owned(),
            DiffItem::Whiteout(p) => {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                join_name(p.parent(), &format!("{WHITEOUT_PREFIX}{name}"))
            }
            DiffItem::Opaque(p) => join_name(Some(p), OPAQUE_MARKER),
        }
    }
}

fn join_name(dir: Option<&Path>, name: &str) -> String {
    match dir {
        Some(d) if !d.as_os_str().is_empty() => format!("{}/{name}", d.to_string_lossy()),
        _ => name.to_string(),
    }
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::ReadTree {
        path: path.to_path_buf(),
        source,
    }
}

/// Sorted names of a directory.
fn sorted_names(dir: &Path) -> Result<Vec<OsString>, Error> {
    let mut names = fs::read_dir(dir)
        .map_err(read_err(dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(dir))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Plan the tar of an overlay upper directory.
pub fn plan_upper(upper: &Path) -> Result<Vec<DiffItem>, Error> {
    let mut items = Vec::new();
    plan_upper_dir(upper, Path::new(""), &mut items)?;
    Ok(items)
}

fn plan_upper_dir(upper: &Path, rel: &Path, items: &mut Vec<DiffItem>) -> Result<(), Error> {
    for name in sorted_names(&upper.join(rel))? {
        let r = rel.join(&name);
        let p = upper.join(&r);
        let m = fs::symlink_metadata(&p).map_err(read_err(&p))?;
        if whiteout::is_whiteout(&m) {
            items.push(DiffItem::Whiteout(r));
        } else if m.is_dir() {
            items.push(DiffItem::Entry(r.clone()));
            if whiteout::is_opaque(&p) {
                items.push(DiffItem::Opaque(r.clone()));
            }
            plan_upper_dir(upper, &r, items)?;
        } else {
            items.push(DiffItem::Entry(r));
        }
    }
    Ok(())
}

/// Write the OCI layer tar of an overlay upper directory to `out`.
pub fn diff_upper<W: Write>(upper: &Path, out: W) -> Result<DiffStats, Error> {
    let plan = plan_upper(upper)?;
    write_plan(upper, &plan, out)
}

/// Plan the tar of `upper` compared with `lower` (`None`: an empty lower).
pub fn plan_against(lower: Option<&Path>, upper: &Path) -> Result<Vec<DiffItem>, Error> {
    plan_against_dir(lower, upper, Path::new(""))
}

fn plan_against_dir(
    lower: Option<&Path>,
    upper: &Path,
    rel: &Path,
) -> Result<Vec<DiffItem>, Error> {
    let mut names: BTreeMap<Vec<u8>, OsString> = BTreeMap::new();
    for n in sorted_names(&upper.join(rel))? {
        names.insert(n.as_bytes().to_vec(), n);
    }
    if let Some(l) = lower {
        for n in sorted_names(&l.join(rel))? {
            names.insert(n.as_bytes().to_vec(), n);
        }
    }
    let mut items = Vec::new();
    for name in names.into_values() {
        let r = rel.join(&name);
        let up = upper.join(&r);
        let um = match fs::symlink_metadata(&up) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(read_err(&up)(e)),
        };
        let lm = lower.and_then(|l| fs::symlink_metadata(l.join(&r)).ok());
        match (lm, um) {
            (None, None) => {}
            (Some(_), None) => items.push(DiffItem::Whiteout(r)),
            (lm, Some(um)) => {
                let lp = lower.map(|l| l.join(&r));
                let changed = match (&lm, &lp) {
                    (Some(lm), Some(lp)) => differs(lp, lm, &up, &um)?,
                    _ => true,
                };
                if um.is_dir() {
                    // Compare the children with the lower directory only if
                    // the lower one is a directory too.
                    let sub_lower = match &lm {
                        Some(lm) if lm.is_dir() => lower,
                        _ => None,
                    };
                    let children = plan_against_dir(sub_lower, upper, &r)?;
                    if changed || !children.is_empty() {
                        items.push(DiffItem::Entry(r));
                        items.extend(children);
                    }
                } else if changed {
                    items.push(DiffItem::Entry(r));
                }
            }
        }
    }
    Ok(items)
}

/// Does the upper version differ from the lower one (moby's rules)?
fn differs(lp: &Path, lm: &Metadata, up: &Path, um: &Metadata) -> Result<bool, Error> {
    if lm.file_type() != um.file_type()
        || lm.mode() != um.mode()
        || lm.uid() != um.uid()
        || lm.gid() != um.gid()
        || lm.rdev() != um.rdev()
    {
        return Ok(true);
    }
    if !um.is_dir()
        && (lm.size() != um.size()
            || lm.mtime() != um.mtime()
            || lm.mtime_nsec() != um.mtime_nsec())
    {
        return Ok(true);
    }
    if um.file_type().is_symlink()
        && fs::read_link(lp).map_err(read_err(lp))? != fs::read_link(up).map_err(read_err(up))?
    {
        return Ok(true);
    }
    Ok(read_xattrs(lp)? != read_xattrs(up)?)
}

/// Write the OCI layer tar of `upper` compared with `lower`.
pub fn diff_against<W: Write>(
    lower: Option<&Path>,
    upper: &Path,
    out: W,
) -> Result<DiffStats, Error> {
    let plan = plan_against(lower, upper)?;
    write_plan(upper, &plan, out)
}

/// The xattrs of a path (not followed), without overlay-private ones, sorted.
pub fn read_xattrs(p: &Path) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    let names = match xattr::list(p) {
        Ok(n) => n,
        // Filesystems without xattrs (and symlinks on some) have none.
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(out),
        Err(e) => return Err(read_err(p)(e)),
    };
    for n in names {
        let name = n.to_string_lossy().into_owned();
        if name.starts_with(OVERLAY_XATTR_PREFIX) {
            continue;
        }
        if let Some(v) = xattr::get(p, &n).map_err(read_err(p))? {
            out.push((name, v));
        }
    }
    out.sort();
    Ok(out)
}

/// Encode PAX records (`"<len> <key>=<value>\n"`, len counting itself).
fn pax_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (k, v) in records {
        let rest = 1 + k.len() + 1 + v.len() + 1;
        let mut len = rest + 1;
        while rest + len.to_string().len() != len {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} {k}=").as_bytes());
        data.extend_from_slice(v);
        data.push(b'\n');
    }
    data
}

struct LayerWriter<W: Write> {
    tar: tar::Builder<W>,
    /// (dev, ino) -> first tar name, for hard links.
    links: HashMap<(u64, u64), String>,
    stats: DiffStats,
}

fn write_plan<W: Write>(root: &Path, plan: &[DiffItem], out: W) -> Result<DiffStats, Error> {
    let mut w = LayerWriter {
        tar: tar::Builder::new(out),
        links: HashMap::new(),
        stats: DiffStats::default(),
    };
    for item in plan {
        w.item(root, item)?;
    }
    w.tar.finish().map_err(|source| Error::WriteTar {
        entry: "(end of archive)".into(),
        source,
    })?;
    Ok(w.stats)
}

fn header_from(m: Option<&Metadata>) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    if let Some(m) = m {
        h.set_mode(m.mode() & 0o7777);
        h.set_uid(u64::from(m.uid()));
        h.set_gid(u64::from(m.gid()));
        h.set_mtime(u64::try_from(m.mtime()).unwrap_or(0));
    } else {
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
    }
    h.set_size(0);
    h
}

impl<W: Write> LayerWriter<W> {
    fn pax(
        &mut self,
        name: &str,
        m: Option<&Metadata>,
        xattrs: &[(String, Vec<u8>)],
    ) -> Result<(), Error> {
        let mut records = Vec::new();
        if let Some(m) = m {
            if m.mtime_nsec() != 0 && m.mtime() >= 0 {
                records.push((
                    "mtime".to_string(),
                    format!("{}.{:09}", m.mtime(), m.mtime_nsec()).into_bytes(),
                ));
            }
        }
        for (k, v) in xattrs {
            records.push((format!("SCHILY.xattr.{k}"), v.clone()));
        }
        if records.is_empty() {
            return Ok(());
        }
        let data = pax_records(&records);
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        let base = Path::new(name)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        let short: String = base.chars().take(80).collect();
        self.tar
            .append_data(&mut h, format!("PaxHeaders.0/{short}"), data.as_slice())
            .map_err(|source| Error::WriteTar {
                entry: name.to_string(),
                source,
            })
    }

    fn item(&mut self, root: &Path, item: &DiffItem) -> Result<(), Error> {
        let name = item.tar_name();
        let werr = |source| Error::WriteTar {
            entry: name.clone(),
            source,
        };
        match item {
            DiffItem::Whiteout(rel) => {
                // Keep the upper whiteout's owner/mode/time (as moby does);
                // a naive diff has none and writes a plain 0644 root file.
                let m = fs::symlink_metadata(root.join(rel))
                    .ok()
                    .filter(whiteout::is_whiteout);
                let mut h = header_from(m.as_ref());
                h.set_entry_type(tar::EntryType::Regular);
                self.pax(&name, m.as_ref(), &[])?;
                self.tar
                    .append_data(&mut h, &name, std::io::empty())
                    .map_err(werr)?;
                self.stats.whiteouts += 1;
            }
            DiffItem::Opaque(rel) => {
                let p = root.join(rel);
                let m = fs::symlink_metadata(&p).map_err(read_err(&p))?;
                let mut h = header_from(Some(&m));
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(m.mode() & 0o777);
                self.pax(&name, Some(&m), &[])?;
                self.tar
                    .append_data(&mut h, &name, std::io::empty())
                    .map_err(werr)?;
                self.stats.opaque_dirs += 1;
            }
            DiffItem::Entry(rel) => {
                let p = root.join(rel);
                let m = fs::symlink_metadata(&p).map_err(read_err(&p))?;
                let ft = m.file_type();
                if ft.is_socket() {
                    self.stats.skipped += 1;
                    return Ok(());
                }
                let mut h = header_from(Some(&m));
                if !ft.is_dir() && m.nlink() > 1 {
                    if let Some(first) = self.links.get(&(m.dev(), m.ino())).cloned() {
                        h.set_entry_type(tar::EntryType::Link);
                        self.pax(&name, Some(&m), &[])?;
                        self.tar.append_link(&mut h, &name, &first).map_err(werr)?;
                        self.stats.entries += 1;
                        return Ok(());
                    }
                    self.links.insert((m.dev(), m.ino()), name.clone());
                }
                let xattrs = read_xattrs(&p)?;
                self.pax(&name, Some(&m), &xattrs)?;
                if ft.is_dir() {
                    h.set_entry_type(tar::EntryType::Directory);
                    self.tar
                        .append_data(&mut h, format!("{name}/"), std::io::empty())
                        .map_err(werr)?;
                } else if ft.is_symlink() {
                    h.set_entry_type(tar::EntryType::Symlink);
                    let target = fs::read_link(&p).map_err(read_err(&p))?;
                    self.tar.append_link(&mut h, &name, &target).map_err(werr)?;
                } else if ft.is_file() {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(m.size());
                    let f = fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(&p)
                        .map_err(read_err(&p))?;
                    let mut limited = f.take(m.size());
                    self.tar
                        .append_data(&mut h, &name, &mut limited)
                        .map_err(werr)?;
                    if limited.limit() != 0 {
                        return Err(Error::WriteTar {
                            entry: name.clone(),
                            source: std::io::Error::other(
                                "the file shrank while it was being read",
                            ),
                        });
                    }
                    self.stats.bytes += m.size();
                } else if ft.is_char_device() || ft.is_block_device() {
                    h.set_entry_type(if ft.is_char_device() {
                        tar::EntryType::Char
                    } else {
                        tar::EntryType::Block
                    });
                    let rdev = m.rdev();
                    h.set_device_major(nix::sys::stat::major(rdev) as u32)
                        .map_err(werr)?;
                    h.set_device_minor(nix::sys::stat::minor(rdev) as u32)
                        .map_err(werr)?;
                    self.tar
                        .append_data(&mut h, &name, std::io::empty())
                        .map_err(werr)?;
                } else if ft.is_fifo() {
                    h.set_entry_type(tar::EntryType::Fifo);
                    self.tar
                        .append_data(&mut h, &name, std::io::empty())
                        .map_err(werr)?;
                }
                self.stats.entries += 1;
            }
        }
        Ok(())
    }
}

/// Names of the entries in a layer tar, in order, with a one-letter type
/// (`d` dir, `f` file, `l` symlink, `h` hard link, `c`/`b` device, `p` fifo)
/// as `tar -tv` would show them. For the tour and for tests.
pub fn list_entries<R: Read>(layer: R) -> Result<Vec<(char, String)>, Error> {
    let mut a = tar::Archive::new(layer);
    let mut out = Vec::new();
    for e in a.entries().map_err(|source| Error::ReadTar { source })? {
        let e = e.map_err(|source| Error::ReadTar { source })?;
        let t = match e.header().entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            tar::EntryType::Char => 'c',
            tar::EntryType::Block => 'b',
            tar::EntryType::Fifo => 'p',
            _ => 'f',
        };
        out.push((t, String::from_utf8_lossy(&e.path_bytes()).into_owned()));
    }
    Ok(out)
}

/// Used by the drivers: stream a whole tree into a fresh directory by
/// writing its diff against nothing into a pipe and applying it on the
/// other end ("a full copy is a diff against an empty layer").
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<(), Error> {
    let (reader, writer) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Layer {
            step: "create a pipe to copy",
            path: src.to_path_buf(),
            source: std::io::Error::from_raw_os_error(e as i32),
        })?;
    let (reader, writer) = (File::from(reader), File::from(writer));
    let src_owned = src.to_path_buf();
    let producer = std::thread::spawn(move || diff_against(None, &src_owned, writer));
    let opts = crate::ApplyOptions {
        whiteouts: crate::WhiteoutMode::Delete,
        keep_setid: true,
        same_owner: true,
    };
    let applied = crate::apply(reader, dst, &opts);
    let produced = producer.join().unwrap_or_else(|_| {
        Err(Error::ReadTree {
            path: src.to_path_buf(),
            source: std::io::Error::other("the copying thread panicked"),
        })
    });
    produced?;
    applied.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let d = pax_records(&[("mtime".into(), b"1.5".to_vec())]);
        assert_eq!(d, b"13 mtime=1.5\n");
        let long = pax_records(&[("k".into(), vec![b'v'; 94])]);
        assert!(
            long.starts_with(b"101 k="),
            "{:?}",
            String::from_utf8_lossy(&long[..8])
        );
        assert_eq!(long.len(), 101);
    }

    #[test]
    fn items_print_their_tar_names() {
        assert_eq!(
            DiffItem::Whiteout("etc/motd".into()).tar_name(),
            "etc/.wh.motd"
        );
        assert_eq!(DiffItem::Whiteout("motd".into()).tar_name(), ".wh.motd");
        assert_eq!(
            DiffItem::Opaque("opt/app".into()).tar_name(),
            "opt/app/.wh..wh..opq"
        );
        assert_eq!(DiffItem::Entry("a/b".into()).tar_name(), "a/b");
    }
}
