//! # Writing a file atomically
//!
//! A reader sees the old file or the new one, never half of either: write
//! a temporary file in the same directory, then `rename(2)` it over the
//! target (a rename within one filesystem is atomic). What survives a
//! power cut is a separate promise, so the caller chooses it:
//!
//! ```text
//! open(dir/.tmpXXXXXX, O_CREAT|O_EXCL|O_CLOEXEC)   write(…)
//! fsync(tmp)                  [Durability::File and ::Directory]
//! rename(tmp, path)
//! fsync(dir)                  [Durability::Directory: the rename itself is on disk]
//! ```
//!
//! The daemon's records under the data root promise to survive a crash
//! (`Directory`); the runtime's state under `/run` is emptied by a reboot
//! together with the processes it describes (`Rename` only: syncing would
//! cost milliseconds per container for nothing). A crash between create
//! and rename leaves a `.tmp*` file, which the daemon removes at start.

use std::io::Write;
use std::path::Path;

/// What must be on disk when [`write_atomic`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Only atomic for readers (state on a tmpfs such as `/run`).
    Rename,
    /// The new contents are on disk before the rename.
    File,
    /// The contents and the rename are on disk (the directory is synced).
    Directory,
}

/// Writes `data` to `path` atomically, as durable as `durability` says.
pub fn write_atomic(path: &Path, data: &[u8], durability: Durability) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    if durability != Durability::Rename {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    if durability == Durability::Directory {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        for (i, how) in [Durability::Rename, Durability::File, Durability::Directory]
            .into_iter()
            .enumerate()
        {
            write_atomic(&p, format!("{i}").as_bytes(), how).unwrap();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), i.to_string());
        }
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["x.json"]);
    }
}
