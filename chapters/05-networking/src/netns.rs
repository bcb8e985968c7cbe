//! Network namespaces that live in a file, the way `ip netns add` makes them.
//!
//! A namespace lives as long as something refers to it: a process inside it,
//! an open file descriptor, or a *bind mount* of its `/proc/<pid>/ns/net` file.
//! `ip netns add NAME` uses the last one so the namespace outlives the process
//! that made it:
//!
//! 1. create an empty file `/run/netns/NAME`;
//! 2. `unshare(CLONE_NEWNET)`: the calling thread gets a new, empty namespace
//!    (only a `lo` that is down);
//! 3. `mount --bind /proc/thread-self/ns/net /run/netns/NAME`;
//! 4. the thread can now leave or exit: the mount keeps the namespace alive.
//!
//! The engine does this *before* the container exists: it wires the
//! namespace (veth, address, routes) and then hands its path to the runtime,
//! which joins it with `setns(2)` (the OCI way: `linux.namespaces[].path` in
//! config.json). Deleting is `umount` + `rm`; once the last reference is gone
//! the kernel destroys the namespace and every link in it (a veth's other end
//! goes with it).
//!
//! The shell equivalent, for a file anywhere:
//! `touch F && unshare --net=F true` to create, `umount F && rm F` to delete.
//!
//! Read: network_namespaces(7), unshare(2), setns(2), ip-netns(8).

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{Error, Result};

/// Create a network namespace bind-mounted on `path` (which must not exist).
/// `proc_root` is normally `/proc`.
pub fn create(path: &Path, proc_root: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| Error::CreateNetnsFile {
            path: path.into(),
            source,
        })?;
    let from = proc_root.join("thread-self/ns/net");
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            // A fresh thread: unsharing moves only this thread, which ends
            // right after, so the rest of the program stays in its namespace.
            unshare(CloneFlags::CLONE_NEWNET).map_err(|source| Error::UnshareNet {
                path: path.into(),
                source,
            })?;
            mount(
                Some(&from),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|source| Error::MountNetns {
                from: from.clone(),
                path: path.into(),
                source,
            })
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::CreateNetnsFile {
                path: path.into(),
                source: io::Error::other("helper thread panicked"),
            })
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Unmount and remove a namespace file. Missing or not mounted is fine (it
/// makes teardown idempotent); returns whether there was anything to remove.
pub fn delete(path: &Path) -> Result<bool> {
    let mut existed = false;
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) => existed = true,
        // EINVAL: not a mount point; ENOENT: no such file.
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(source) => {
            return Err(Error::UmountNetns {
                path: path.into(),
                source,
            })
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => existed = true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::RemoveNetnsFile {
                path: path.into(),
                source,
            })
        }
    }
    Ok(existed)
}

/// A namespace file that is deleted when dropped (the RAII guard).
#[derive(Debug)]
pub struct Netns {
    path: PathBuf,
    armed: bool,
}

impl Netns {
    /// Create `dir/name` as a new network namespace.
    pub fn create(dir: &Path, name: &str, proc_root: &Path) -> Result<Netns> {
        let path = dir.join(name);
        create(&path, proc_root)?;
        Ok(Netns { path, armed: true })
    }

    /// Take charge of an existing namespace file (to delete it later).
    pub fn adopt(path: PathBuf) -> Netns {
        Netns { path, armed: true }
    }

    /// Where the namespace is mounted: pass this to the runtime.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Delete now, reporting failure.
    pub fn delete(mut self) -> Result<()> {
        self.armed = false;
        delete(&self.path).map(|_| ())
    }

    /// Keep the namespace after this value is dropped.
    pub fn into_path(mut self) -> PathBuf {
        self.armed = false;
        std::mem::take(&mut self.path)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if self.armed {
            let _ = delete(&self.path);
        }
    }
}
