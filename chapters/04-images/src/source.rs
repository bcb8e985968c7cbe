//! Where images are loaded from: a directory (an OCI layout) or a tarball
//! (`docker save`, an OCI archive), read without extracting anything.
//!
//! A tarball is indexed once (name -> offset and size, links followed by
//! name inside the archive) and files are read straight from it. Nothing in
//! it is ever written to disk except through the blob store, which checks
//! every digest.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::Error;

/// A read-only tree of named files.
pub trait Source {
    /// What this is, for messages.
    fn path(&self) -> &Path;
    /// Open a file by its name inside the source.
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, Error>;
    /// Does the file exist?
    fn exists(&self, name: &str) -> bool;
    /// Read a small file (at most `limit` bytes).
    fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>, Error> {
        crate::store::read_limited(
            self.open(name)?,
            limit,
            &format!("{} in {}", name, self.path().display()),
        )
    }
}

/// Normalize a name found in an archive or a manifest: relative, no `..`.
pub fn clean_name(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

fn not_found(src: &Path, name: &str) -> Error {
    Error::Archive {
        path: src.to_path_buf(),
        reason: format!("`{name}` is missing"),
    }
}

/// A directory, e.g. an OCI image layout.
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// Read from `root`.
    pub fn new(root: &Path) -> DirSource {
        DirSource {
            root: root.to_path_buf(),
        }
    }
}

impl Source for DirSource {
    fn path(&self) -> &Path {
        &self.root
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, Error> {
        let clean = clean_name(name).ok_or_else(|| Error::Archive {
            path: self.root.clone(),
            reason: format!("refusing the name `{name}` (absolute or with `..`)"),
        })?;
        let p = self.root.join(&clean);
        match File::open(&p) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found(&self.root, &clean)),
            Err(e) => Err(Error::io("open", p)(e)),
        }
    }

    fn exists(&self, name: &str) -> bool {
        clean_name(name).is_some_and(|n| self.root.join(n).is_file())
    }
}

#[derive(Debug, Clone)]
enum TarItem {
    File {
        offset: u64,
        size: u64,
    },
    Link(String),
    /// A link whose target is outside the archive (absolute, or `..`
    /// past its top): never followed.
    Outside(String),
}

/// A tar file, indexed once.
pub struct TarSource {
    path: PathBuf,
    items: HashMap<String, TarItem>,
}

impl TarSource {
    /// Index the tarball at `path`.
    pub fn open(path: &Path) -> Result<TarSource, Error> {
        let f = File::open(path).map_err(Error::io("open", path))?;
        // `first`: no entry was read yet, so this is no tar at all. The tar
        // crate's message for a bad header quotes the bytes it read: never
        // echo such a file (`load /etc/passwd`).
        let bad = |e: io::Error, first: bool| Error::Archive {
            path: path.to_path_buf(),
            reason: if first {
                "not a docker-archive or OCI archive: it is not a tar file (no valid tar header); \
                 give what `docker save` or `skopeo copy … oci-archive:` wrote, or an OCI layout directory"
                    .to_string()
            } else {
                format!("not a readable tar archive: {e}")
            },
        };
        let mut archive = tar::Archive::new(f);
        let mut items = HashMap::new();
        for e in archive.entries_with_seek().map_err(|e| bad(e, true))? {
            let e = e.map_err(|e| bad(e, items.is_empty()))?;
            let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let Some(name) = clean_name(&raw) else {
                continue;
            };
            let item = match e.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => TarItem::File {
                    offset: e.raw_file_position(),
                    size: e.size(),
                },
                tar::EntryType::Symlink => {
                    let t = e
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    // Relative to the link's directory, inside the archive
                    // (`docker save` links a shared layer as
                    // `../<id>/layer.tar`); an absolute target names the
                    // host's files, not the archive's.
                    let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                    match resolve_dots(&dir.join(&t).display().to_string()) {
                        Some(n) if !t.starts_with('/') => TarItem::Link(n),
                        _ => TarItem::Outside(t),
                    }
                }
                tar::EntryType::Link => {
                    let t = e
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    match clean_name(&t) {
                        Some(n) => TarItem::Link(n),
                        None => continue,
                    }
                }
                _ => continue,
            };
            items.insert(name, item);
        }
        Ok(TarSource {
            path: path.to_path_buf(),
            items,
        })
    }

    /// Follows links (inside the archive only) to a file's bytes.
    fn find(&self, name: &str) -> Result<(u64, u64), Error> {
        let mut n = clean_name(name).ok_or_else(|| not_found(&self.path, name))?;
        for _ in 0..16 {
            match self.items.get(&n) {
                None => return Err(not_found(&self.path, &n)),
                Some(TarItem::File { offset, size }) => return Ok((*offset, *size)),
                Some(TarItem::Link(t)) => n = t.clone(),
                Some(TarItem::Outside(t)) => {
                    return Err(Error::Archive {
                        path: self.path.clone(),
                        reason: format!("`{n}` is a link to `{t}`, outside the archive: refused"),
                    })
                }
            }
        }
        Err(Error::Archive {
            path: self.path.clone(),
            reason: format!("`{name}`: more than 16 links in a row"),
        })
    }

    /// The names of all files (for messages and tests).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.items.keys().cloned().collect();
        v.sort();
        v
    }
}

/// `a/b/../c` -> `a/c` inside the archive; leaving the top is `None`.
fn resolve_dots(p: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            x => out.push(x),
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out.join("/"))
    }
}

impl Source for TarSource {
    fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, Error> {
        let (offset, size) = self.find(name)?;
        let mut f = File::open(&self.path).map_err(Error::io("open", &self.path))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(Error::io("seek in", &self.path))?;
        Ok(Box::new(f.take(size)))
    }

    fn exists(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }
}

/// Open a directory or a tarball.
pub fn open_source(path: &Path) -> Result<Box<dyn Source>, Error> {
    let md = std::fs::metadata(path).map_err(Error::io("open", path))?;
    if md.is_dir() {
        Ok(Box::new(DirSource::new(path)))
    } else {
        Ok(Box::new(TarSource::open(path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("./a/b").as_deref(), Some("a/b"));
        assert_eq!(clean_name("/a"), None);
        assert_eq!(clean_name("a/../b"), None);
        assert_eq!(resolve_dots("a/../b").as_deref(), Some("b"));
        assert_eq!(resolve_dots("../b"), None);
    }

    #[test]
    fn links_are_followed_inside_the_archive_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "one/layer.tar", &b"layer"[..])
            .unwrap();
        for (name, target) in [
            ("two/layer.tar", "../one/layer.tar"),
            ("abs/layer.tar", "/etc/passwd"),
            ("up/layer.tar", "../../etc/passwd"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        }
        b.finish().unwrap();
        drop(b);
        let src = TarSource::open(&path).unwrap();
        let mut got = String::new();
        src.open("two/layer.tar")
            .unwrap()
            .read_to_string(&mut got)
            .unwrap();
        assert_eq!(got, "layer");
        for name in ["abs/layer.tar", "up/layer.tar"] {
            let e = src.open(name).err().unwrap().to_string();
            assert!(e.contains("outside the archive"), "{e}");
            assert!(!src.exists(name));
        }
    }
}
