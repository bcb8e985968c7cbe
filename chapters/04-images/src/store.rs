//! The content-addressed blob store: `blobs/sha256/<hex>`.
//!
//! Every blob (layer, config, manifest, index) is a file named by its own
//! digest. Two images that share a layer share the file. A name can never
//! point at the wrong content, *if* nothing is ever published under a name
//! before its content was checked. So a blob is written like this (what
//! containerd's content store does):
//!
//! ```text
//! $ cat > ingest/.tmpXXXX            # 1. stream into a temp file on the same filesystem,
//!                                   #    hashing and counting on the way
//! $ sha256sum ingest/.tmpXXXX        # 2. digest and size must be the announced ones,
//!                                   #    else the temp file is deleted: nothing changed
//! $ sync ingest/.tmpXXXX             # 3. fsync: the bytes are on disk before the name is
//! $ mv ingest/.tmpXXXX blobs/sha256/<hex>   # 4. rename(2) is atomic: the name appears
//!                                   #    complete or not at all
//! $ sync blobs/sha256                # 5. fsync the directory: the rename survives a crash
//! ```
//!
//! A crash between any two steps leaves at worst a stray temp file in
//! `ingest/`, never a wrong or partial blob under a digest name.
//!
//! A loader that brings several blobs (an image) can stop after step 3 for
//! each of them ([`BlobWriter::verify`] gives a [`VerifiedBlob`]) and publish
//! them all at the end, so a bad last blob leaves the store as it was.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{self, Algorithm, Digest, Hasher};
use crate::Error;

/// The largest manifest, index or config we read (4 MiB, the registry limit).
pub const MAX_DOCUMENT_SIZE: u64 = 4 * 1024 * 1024;

/// A blob store rooted at a directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Open (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<BlobStore, Error> {
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let p = root.join("blobs").join(alg.name());
            fs::create_dir_all(&p).map_err(Error::io("create the blob directory", &p))?;
        }
        let ingest = root.join("ingest");
        fs::create_dir_all(&ingest).map_err(Error::io("create the ingest directory", &ingest))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `d` lives. The digest is validated first: this is the
    /// only place a digest becomes a path.
    pub fn blob_path(&self, d: &Digest) -> Result<PathBuf, Error> {
        let alg = digest::validate(d)?;
        Ok(self
            .root
            .join("blobs")
            .join(alg.name())
            .join(digest::hex_of(d)))
    }

    /// Does the store have this blob?
    pub fn contains(&self, d: &Digest) -> Result<bool, Error> {
        Ok(self.blob_path(d)?.is_file())
    }

    /// Start writing a new blob (SHA-256).
    pub fn writer(&self) -> Result<BlobWriter, Error> {
        self.writer_for(Algorithm::Sha256)
    }

    /// Start writing a new blob hashed with `alg`.
    pub fn writer_for(&self, alg: Algorithm) -> Result<BlobWriter, Error> {
        let dir = self.root.join("ingest");
        let tmp = tempfile::Builder::new()
            .prefix(".ingest-")
            .tempfile_in(&dir)
            .map_err(Error::io("create a temp file in", &dir))?;
        Ok(BlobWriter {
            store: self.clone(),
            tmp,
            hasher: Hasher::new(alg),
            limit: None,
        })
    }

    /// Copy `r` into the store, checking it against `expected` digest and
    /// `size` when given. Returns the digest and size.
    pub fn ingest<R: Read>(
        &self,
        mut r: R,
        expected: Option<&Digest>,
        size: Option<u64>,
        what: &str,
    ) -> Result<(Digest, u64), Error> {
        let alg = match expected {
            Some(d) => digest::validate(d)?,
            None => Algorithm::Sha256,
        };
        let mut w = self.writer_for(alg)?;
        w.limit = size;
        copy_into(&mut r, &mut w, what)?;
        w.verify(expected, size, what)?.publish()
    }

    /// Like [`BlobStore::ingest`] but stop before publishing: the blob is
    /// checked and synced in `ingest/`, and becomes visible only when
    /// [`VerifiedBlob::publish`] is called (dropping it deletes it).
    pub fn stage<R: Read>(
        &self,
        mut r: R,
        expected: Option<&Digest>,
        size: Option<u64>,
        what: &str,
    ) -> Result<VerifiedBlob, Error> {
        let alg = match expected {
            Some(d) => digest::validate(d)?,
            None => Algorithm::Sha256,
        };
        let mut w = self.writer_for(alg)?;
        w.limit = size;
        copy_into(&mut r, &mut w, what)?;
        w.verify(expected, size, what)
    }

    /// Store bytes we made ourselves.
    pub fn put(&self, bytes: &[u8]) -> Result<(Digest, u64), Error> {
        self.ingest(bytes, None, None, "a new blob")
    }

    /// Open a blob for reading.
    pub fn open_blob(&self, d: &Digest) -> Result<File, Error> {
        let p = self.blob_path(d)?;
        File::open(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::BlobNotFound {
                    digest: d.to_string(),
                    path: p.clone(),
                }
            } else {
                Error::io("open the blob", &p)(e)
            }
        })
    }

    /// Read a small document (manifest, index, config): refuse it if the
    /// descriptor or the file says it is over 4 MiB, and check its digest
    /// and size again as it is read.
    pub fn read_document(
        &self,
        d: &Digest,
        size: Option<u64>,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        let what = format!("{what} {d}");
        if let Some(size) = size {
            check_document_size(&what, size)?;
        }
        let f = self.open_blob(d)?;
        let bytes = read_limited(f, MAX_DOCUMENT_SIZE, &what)?;
        check_bytes(&bytes, d, size, &what)?;
        Ok(bytes)
    }

    /// Re-hash a blob on disk and compare with its name.
    pub fn verify(&self, d: &Digest) -> Result<u64, Error> {
        let f = self.open_blob(d)?;
        let mut r = digest::HashingReader::new(f, digest::algorithm_of(d));
        let p = self.blob_path(d)?;
        io::copy(&mut r, &mut io::sink()).map_err(Error::io("read the blob", &p))?;
        let (actual, n) = r.finish().map_err(Error::io("read the blob", &p))?;
        if &actual != d {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", p.display()),
                expected: d.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(n)
    }

    /// Every blob in the store, sorted.
    pub fn list(&self) -> Result<Vec<Digest>, Error> {
        let mut out = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.root.join("blobs").join(alg.name());
            for e in fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
                let e = e.map_err(Error::io("list", &dir))?;
                let name = e.file_name().to_string_lossy().into_owned();
                if let Ok(d) = digest::parse(&format!("{}:{name}", alg.name())) {
                    out.push(d);
                }
            }
        }
        out.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        Ok(out)
    }
}

/// Refuse a document whose announced size is over the limit, before reading.
pub fn check_document_size(what: &str, size: u64) -> Result<(), Error> {
    if size > MAX_DOCUMENT_SIZE {
        return Err(Error::TooLarge {
            what: what.to_string(),
            size,
            limit: MAX_DOCUMENT_SIZE,
        });
    }
    Ok(())
}

/// Read at most `limit` bytes; more is an error (we stop at `limit + 1`).
pub fn read_limited<R: Read>(r: R, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io(
            format!("read {what} from"),
            PathBuf::from("the store"),
        ))?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: what.to_string(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Check bytes against a digest and an optional size.
pub fn check_bytes(bytes: &[u8], d: &Digest, size: Option<u64>, what: &str) -> Result<(), Error> {
    if let Some(size) = size {
        if size != bytes.len() as u64 {
            return Err(Error::SizeMismatch {
                what: what.to_string(),
                expected: size,
                actual: bytes.len() as u64,
            });
        }
    }
    let mut h = Hasher::new(digest::validate(d)?);
    h.update(bytes);
    let actual = h.finish();
    if &actual != d {
        return Err(Error::DigestMismatch {
            what: what.to_string(),
            expected: d.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

fn copy_into<R: Read>(r: &mut R, w: &mut BlobWriter, what: &str) -> Result<(), Error> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("read {what} for"), w.tmp.path())(e)),
        };
        if let Some(limit) = w.limit {
            if w.hasher.len() + n as u64 > limit {
                // Longer than announced: stop reading now.
                return Err(Error::SizeMismatch {
                    what: what.to_string(),
                    expected: limit,
                    actual: w.hasher.len() + n as u64,
                });
            }
        }
        w.write_all(&buf[..n])
            .map_err(Error::io("write the temp file", w.tmp.path()))?;
    }
}

/// A blob being written: a temp file in `ingest/` and a running hash.
/// Dropping it deletes the temp file.
pub struct BlobWriter {
    store: BlobStore,
    tmp: tempfile::NamedTempFile,
    hasher: Hasher,
    limit: Option<u64>,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

impl BlobWriter {
    /// Steps 2 and 3: check digest and size, fsync. Nothing is visible yet.
    pub fn verify(
        mut self,
        expected: Option<&Digest>,
        size: Option<u64>,
        what: &str,
    ) -> Result<VerifiedBlob, Error> {
        let n = self.hasher.len();
        if let Some(size) = size {
            if n != size {
                return Err(Error::SizeMismatch {
                    what: what.to_string(),
                    expected: size,
                    actual: n,
                });
            }
        }
        let actual = self.hasher.clone().finish();
        if let Some(d) = expected {
            if &actual != d {
                return Err(Error::DigestMismatch {
                    what: what.to_string(),
                    expected: d.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        self.tmp
            .flush()
            .and_then(|_| self.tmp.as_file().sync_all())
            .map_err(Error::io("fsync", self.tmp.path()))?;
        Ok(VerifiedBlob {
            store: self.store,
            tmp: self.tmp,
            digest: actual,
            size: n,
        })
    }

    /// Verify against nothing (content we produced) and publish.
    pub fn finish(self) -> Result<(Digest, u64), Error> {
        self.verify(None, None, "a new blob")?.publish()
    }
}

/// A blob whose content was checked and synced, not yet published.
pub struct VerifiedBlob {
    store: BlobStore,
    tmp: tempfile::NamedTempFile,
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
}

impl VerifiedBlob {
    /// The temp file holding the content (to read it again before publishing).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Steps 4 and 5: rename into `blobs/<alg>/<hex>`, fsync the directory.
    pub fn publish(self) -> Result<(Digest, u64), Error> {
        let dest = self.store.blob_path(&self.digest)?;
        if dest.is_file() {
            // Same digest, same content: keep the one that is there.
            return Ok((self.digest, self.size));
        }
        let from = self.tmp.path().to_path_buf();
        self.tmp
            .persist(&dest)
            .map_err(|e| Error::io(format!("rename {} to", from.display()), &dest)(e.error))?;
        let dir = dest.parent().expect("blob paths have a parent");
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(Error::io("fsync the directory", dir))?;
        Ok((self.digest, self.size))
    }
}

/// Publish several verified blobs (all checks are already done).
pub fn publish_all(blobs: Vec<VerifiedBlob>) -> Result<(), Error> {
    for b in blobs {
        b.publish()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(p: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![p.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let path = e.path();
                out.push(path.strip_prefix(p).unwrap().display().to_string());
                if e.file_type().unwrap().is_dir() {
                    stack.push(path);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn put_then_read_back() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let (d, n) = s.put(b"hello").unwrap();
        assert_eq!(n, 5);
        assert_eq!(d, digest::sha256(b"hello"));
        assert!(s.contains(&d).unwrap());
        assert_eq!(fs::read(s.blob_path(&d).unwrap()).unwrap(), b"hello");
        assert_eq!(s.verify(&d).unwrap(), 5);
        assert_eq!(s.list().unwrap(), vec![d.clone()]);
        // The same content again is a no-op.
        assert_eq!(s.put(b"hello").unwrap().0, d);
    }

    #[test]
    fn digest_mismatch_leaves_the_store_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let before = files_under(t.path());
        let wrong = digest::sha256(b"something else");
        let e = s
            .ingest(&b"hello"[..], Some(&wrong), Some(5), "layer x")
            .unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
        assert!(e.to_string().contains("layer x"), "{e}");
        assert_eq!(files_under(t.path()), before);
    }

    #[test]
    fn truncated_and_oversized_blobs_leave_the_store_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let before = files_under(t.path());
        let d = digest::sha256(b"hello world");
        let e = s
            .ingest(&b"hello"[..], Some(&d), Some(11), "blob")
            .unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = s
            .ingest(&b"hello world!!"[..], Some(&d), Some(11), "blob")
            .unwrap_err();
        assert!(matches!(e, Error::SizeMismatch { .. }), "{e}");
        assert_eq!(files_under(t.path()), before);
    }

    #[test]
    fn hostile_digests_never_become_paths() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        // oci-spec accepts this one (unknown algorithm, any case) ...
        let d = Digest::try_from("md5:ABC-def_x").unwrap();
        // ... we do not.
        assert!(matches!(s.blob_path(&d), Err(Error::InvalidDigest { .. })));
        assert!(matches!(
            s.ingest(&b"x"[..], Some(&d), None, "blob"),
            Err(Error::InvalidDigest { .. })
        ));
    }

    #[test]
    fn oversized_documents_are_refused_before_reading() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let big = vec![b' '; (MAX_DOCUMENT_SIZE + 1) as usize];
        let (d, n) = s.put(&big).unwrap();
        let e = s.read_document(&d, Some(n), "manifest").unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("4 MiB"), "{e}");
        // Even when the descriptor lies about the size.
        let e = s.read_document(&d, None, "manifest").unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    }
}
