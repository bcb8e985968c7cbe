//! The registry's files: chapter 04's blob store plus a little metadata per
//! repository.
//!
//! ```text
//! ROOT/blobs/sha256/<hex>                                every blob once (chapter 04's store)
//! ROOT/ingest/.ingest-XXXX                               uploads in progress (temp files;
//!                                                        a crash's leftovers go at start)
//! ROOT/repositories/<name>/_layers/sha256/<hex>          "this repository holds this blob"
//! ROOT/repositories/<name>/_manifests/revisions/sha256/<hex>   a manifest of this repository;
//!                                                        the file holds its media type
//! ROOT/repositories/<name>/_manifests/tags/<tag>         the digest the tag points at
//! ```
//!
//! Blobs are shared by all repositories (the same layer pushed to two
//! repositories is stored once), but a repository only serves the blobs it
//! was given, by an upload or a cross-repository mount: being able to read
//! `alice/app` must not let anyone fetch `bob/secret`'s layers by digest.
//!
//! Names, tags and digests reaching this module were validated by
//! [`crate::spec`]; a repository component cannot start with `_` or `.`, so
//! `_layers` and `_manifests` never collide with a repository and no path
//! escapes `ROOT`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chapter04::digest;
use chapter04::{BlobStore, Digest};

/// A failure of the server's storage (turned into a 500 by the server).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file operation failed.
    #[error("{step} {}", .path.display())]
    Io {
        /// What was being done.
        step: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Chapter 04's store refused something.
    #[error(transparent)]
    Store(#[from] chapter04::Error),
}

fn io(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |source| StorageError::Io { step, path, source }
}

/// Write a small file atomically: temp file, fsync, rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = path.parent().expect("metadata paths have a parent");
    fs::create_dir_all(dir).map_err(io("create the directory", dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io("create a temp file in", dir))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(io("write", tmp.path()))?;
    tmp.persist(path).map_err(|e| StorageError::Io {
        step: "rename into",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<String>, StorageError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", path)(e)),
    }
}

fn remove_optional(path: &Path) -> Result<bool, StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io("remove", path)(e)),
    }
}

/// The registry's storage under one root directory.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    /// Chapter 04's content-addressed store, shared by all repositories.
    pub blobs: BlobStore,
}

impl Storage {
    /// Open (creating) the storage at `root`.
    pub fn open(root: &Path) -> Result<Storage, StorageError> {
        let blobs = BlobStore::open(root)?;
        let repos = root.join("repositories");
        fs::create_dir_all(&repos).map_err(io("create", &repos))?;
        Ok(Storage {
            root: root.to_path_buf(),
            blobs,
        })
    }

    /// Delete what uploads of an earlier run left in `ingest/`.
    ///
    /// Upload sessions live in the server's memory only, so after a crash
    /// (`kill -9`, power loss) no client can ever resume them: their temp
    /// files are garbage, and a retried push starts a new upload. The
    /// server calls this once at start, before it accepts a connection
    /// (the CNCF registry purges old uploads at start the same way). Only
    /// one server may serve a root at a time. Returns how many files went.
    ///
    /// ```text
    /// $ rm -f ROOT/ingest/.ingest-*
    /// ```
    pub fn remove_stale_uploads(&self) -> Result<usize, StorageError> {
        let dir = self.root.join("ingest");
        let mut n = 0;
        for e in fs::read_dir(&dir).map_err(io("list", &dir))? {
            let p = e.map_err(io("list", &dir))?.path();
            if p.is_file() && remove_optional(&p)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }

    fn digest_path(base: PathBuf, d: &Digest) -> PathBuf {
        base.join(digest::algorithm_of(d).name())
            .join(digest::hex_of(d))
    }

    fn layer_link(&self, name: &str, d: &Digest) -> PathBuf {
        Self::digest_path(self.repo(name).join("_layers"), d)
    }

    fn revision(&self, name: &str, d: &Digest) -> PathBuf {
        Self::digest_path(self.repo(name).join("_manifests").join("revisions"), d)
    }

    fn tag_file(&self, name: &str, tag: &str) -> PathBuf {
        self.repo(name).join("_manifests").join("tags").join(tag)
    }

    /// The size of blob `d` if repository `name` may serve it.
    pub fn blob_size(&self, name: &str, d: &Digest) -> Result<Option<u64>, StorageError> {
        if !self.layer_link(name, d).is_file() {
            return Ok(None);
        }
        let p = self.blobs.blob_path(d)?;
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("stat", &p)(e)),
        }
    }

    /// Record that repository `name` holds blob `d` (after an upload or a mount).
    pub fn link_blob(&self, name: &str, d: &Digest) -> Result<(), StorageError> {
        write_atomic(&self.layer_link(name, d), b"")
    }

    /// Forget that `name` holds `d` (the blob file stays: others may share it).
    pub fn unlink_blob(&self, name: &str, d: &Digest) -> Result<bool, StorageError> {
        remove_optional(&self.layer_link(name, d))
    }

    /// Store a manifest's bytes and record it (and the tag) in the repository.
    pub fn put_manifest(
        &self,
        name: &str,
        bytes: &[u8],
        d: &Digest,
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<(), StorageError> {
        self.blobs
            .ingest(bytes, Some(d), Some(bytes.len() as u64), "manifest")?;
        write_atomic(&self.revision(name, d), media_type.as_bytes())?;
        if let Some(tag) = tag {
            write_atomic(&self.tag_file(name, tag), d.as_ref().as_bytes())?;
        }
        Ok(())
    }

    /// Resolve a tag to a digest.
    pub fn resolve_tag(&self, name: &str, tag: &str) -> Result<Option<Digest>, StorageError> {
        Ok(read_optional(&self.tag_file(name, tag))?.and_then(|s| digest::parse(s.trim()).ok()))
    }

    /// A manifest of repository `name`: its media type and bytes.
    pub fn get_manifest(
        &self,
        name: &str,
        d: &Digest,
    ) -> Result<Option<(String, Vec<u8>)>, StorageError> {
        let Some(media_type) = read_optional(&self.revision(name, d))? else {
            return Ok(None);
        };
        let bytes = self.blobs.read_document(d, None, "manifest")?;
        Ok(Some((media_type, bytes)))
    }

    /// Does the repository have this manifest?
    pub fn has_manifest(&self, name: &str, d: &Digest) -> bool {
        self.revision(name, d).is_file()
    }

    /// Delete a manifest and every tag pointing at it.
    pub fn delete_manifest(&self, name: &str, d: &Digest) -> Result<bool, StorageError> {
        let found = remove_optional(&self.revision(name, d))?;
        for tag in self.tags(name)?.unwrap_or_default() {
            if self.resolve_tag(name, &tag)?.as_ref() == Some(d) {
                remove_optional(&self.tag_file(name, &tag))?;
            }
        }
        Ok(found)
    }

    /// Delete a tag (the manifest stays).
    pub fn delete_tag(&self, name: &str, tag: &str) -> Result<bool, StorageError> {
        remove_optional(&self.tag_file(name, tag))
    }

    /// The tags of a repository, sorted; `None` if the repository is unknown.
    pub fn tags(&self, name: &str) -> Result<Option<Vec<String>>, StorageError> {
        let repo = self.repo(name);
        if !repo.join("_manifests").is_dir() && !repo.join("_layers").is_dir() {
            return Ok(None);
        }
        let dir = repo.join("_manifests").join("tags");
        let mut tags = Vec::new();
        match fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries {
                    let e = e.map_err(io("list", &dir))?;
                    let t = e.file_name().to_string_lossy().into_owned();
                    if !t.starts_with('.') {
                        tags.push(t);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("list", &dir)(e)),
        }
        tags.sort();
        Ok(Some(tags))
    }

    /// Every repository with at least one manifest, sorted.
    pub fn catalog(&self) -> Result<Vec<String>, StorageError> {
        let base = self.root.join("repositories");
        let mut out = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            if dir.join("_manifests").is_dir() {
                let name = dir.strip_prefix(&base).expect("under base");
                out.push(name.to_string_lossy().into_owned());
            }
            for e in fs::read_dir(&dir).map_err(io("list", &dir))? {
                let e = e.map_err(io("list", &dir))?;
                let n = e.file_name();
                let n = n.to_string_lossy();
                if !n.starts_with('_') && !n.starts_with('.') && e.path().is_dir() {
                    stack.push(e.path());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Apply the `n` and `last` paging parameters to a sorted list; returns the
/// page and whether more follow.
pub fn page(all: &[String], n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
    let start = match last {
        Some(l) => all.partition_point(|x| x.as_str() <= l),
        None => 0,
    };
    let rest = &all[start..];
    match n {
        Some(n) if n < rest.len() => (rest[..n].to_vec(), true),
        _ => (rest.to_vec(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            page(&all, Some(2), None),
            (vec!["a".into(), "b".into()], true)
        );
        assert_eq!(
            page(&all, Some(2), Some("b")),
            (vec!["c".into(), "d".into()], false)
        );
        assert_eq!(page(&all, None, Some("c")), (vec!["d".into()], false));
        assert_eq!(page(&all, Some(0), None), (vec![], true));
    }

    #[test]
    fn manifests_tags_and_links() {
        let t = tempfile::tempdir().unwrap();
        let s = Storage::open(t.path()).unwrap();
        let blob = b"layer";
        let (d, _) = s.blobs.put(blob).unwrap();
        assert_eq!(s.blob_size("a/b", &d).unwrap(), None);
        s.link_blob("a/b", &d).unwrap();
        assert_eq!(s.blob_size("a/b", &d).unwrap(), Some(5));
        assert_eq!(s.blob_size("other", &d).unwrap(), None);
        let m = b"{}";
        let md = digest::sha256(m);
        s.put_manifest("a/b", m, &md, "application/x", Some("v1"))
            .unwrap();
        assert_eq!(s.resolve_tag("a/b", "v1").unwrap(), Some(md.clone()));
        assert_eq!(s.get_manifest("a/b", &md).unwrap().unwrap().1, m);
        assert_eq!(s.catalog().unwrap(), vec!["a/b".to_string()]);
        assert_eq!(s.tags("a/b").unwrap().unwrap(), vec!["v1".to_string()]);
        assert!(s.delete_manifest("a/b", &md).unwrap());
        assert_eq!(s.tags("a/b").unwrap().unwrap(), Vec::<String>::new());
    }
}
