//! # `docker cp` on the engine side: tar archives of paths inside a container
//!
//! Three endpoints of the Engine API carry `docker cp`:
//!
//! | request | does |
//! | --- | --- |
//! | `HEAD /containers/{id}/archive?path=P` | stat `P`: header `X-Docker-Container-Path-Stat` (base64 JSON) |
//! | `GET /containers/{id}/archive?path=P` | a tar of `P` (the same header) |
//! | `PUT /containers/{id}/archive?path=D` | extract the tar body into the directory `D` |
//!
//! ## Why paths are never joined as strings
//!
//! A container's files belong to whoever runs in it. If the engine did
//! `open(rootfs + "/" + P)`, a container that made `/data` a symlink to
//! `/` (or to `../../../..`) would have the *host* walked instead: that is
//! CVE-2018-15664 (`docker cp` symlink race). So every path is resolved by
//! the kernel, relative to a descriptor of the container's root, with
//! `openat2(2)` and `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (chapter 03's
//! [`unionfs::sys::openat2`]): `..` stops at that root, an absolute symlink
//! starts again from it, and `/proc/<pid>/fd/N` links are refused. Below the
//! resolved path, the tree is walked one name at a time relative to the
//! parent's descriptor, never following a symlink (`O_NOFOLLOW`,
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), so swapping a directory for a
//! link in the middle of a copy leads nowhere either.
//!
//! Extraction reuses chapter 03's layer extractor ([`unionfs::apply`]),
//! which resolves every entry inside its target the same way; the target
//! is handed to it as `/proc/self/fd/N` of the already resolved directory,
//! so the path is not walked again.
//!
//! ## Which root
//!
//! A running container's root is the overlay (or bind) mount the engine
//! made at `containers/<id>/rootfs`. A stopped container has none: the
//! driver's mounts are made on a private directory, the root is opened, and
//! the mount is detached at once (`umount -l`): the open descriptor keeps it
//! alive until the copy is done, and nothing is left behind if the daemon
//! dies meanwhile.
//!
//! What this root does not show: the mounts the runtime makes inside the
//! container's own mount namespace (`/proc`, `/dev`, the `/etc/hosts` bind,
//! volumes). `cp` sees the image's files and the container's changes, as
//! Docker's does before it mounts the volumes into the container's root on
//! the daemon side for the copy.
//!
//! Read: openat2(2), path_resolution(7), moby's `daemon/archive.go`.

pub use mini_docker_api::archive::{split_path, PathStat, Target, GO_MODE_DIR, PATH_STAT_HEADER};

use super::{ApiError, Engine, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, SFlag};

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use unionfs::sys::{
    openat2, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
};

/// A container's root directory, open (and mounted for as long as it is open).
pub struct ContainerRoot {
    fd: OwnedFd,
}

impl ContainerRoot {
    /// The descriptor every path is resolved against.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Opens `dir` as a root (an `O_PATH` directory descriptor).
pub fn open_root(dir: &Path) -> std::io::Result<ContainerRoot> {
    let f = std::fs::File::open(dir)?;
    Ok(ContainerRoot { fd: f.into() })
}

impl Engine {
    /// The root of container `key`: its rootfs mount when it runs, else a
    /// private, already detached mount of its layers (see the module docs).
    pub fn container_root(&self, key: &str) -> Result<ContainerRoot> {
        let c = self.find(key)?;
        let dir = self.dir(&c.id);
        if c.state.running {
            return open_root(&dir.join("rootfs")).map_err(|e| {
                ApiError::internal(format!("open the root of container {}: {e}", c.id))
            });
        }
        let target = dir.join(format!("cp-{}", &super::util::new_id()[..8]));
        std::fs::create_dir(&target).map_err(|e| {
            ApiError::internal(format!("create the mount point {}: {e}", target.display()))
        })?;
        let result = (|| {
            let mounts = self
                .images
                .driver()
                .mounts(&c.layer, &target)
                .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?;
            let mut guards = Vec::new();
            for m in &mounts {
                guards.push(
                    m.apply()
                        .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?,
                );
            }
            let root = open_root(&target).map_err(|e| {
                ApiError::internal(format!("open the root of container {}: {e}", c.id))
            });
            // Busy (we hold it open): the guards detach it lazily.
            drop(guards);
            root
        })();
        super::unmount(&target);
        let _ = std::fs::remove_dir(&target);
        result
    }
}

const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_DEVICE: u32 = 1 << 26;
const GO_MODE_PIPE: u32 = 1 << 25;
const GO_MODE_SOCKET: u32 = 1 << 24;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_CHAR: u32 = 1 << 21;
const GO_MODE_STICKY: u32 = 1 << 20;

/// A Unix `st_mode` as Go's `os.FileMode` (what the docker CLI decodes).
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    let fmt = SFlag::from_bits_truncate(st_mode) & SFlag::S_IFMT;
    m |= match fmt {
        SFlag::S_IFDIR => GO_MODE_DIR,
        SFlag::S_IFLNK => GO_MODE_SYMLINK,
        SFlag::S_IFBLK => GO_MODE_DEVICE,
        SFlag::S_IFCHR => GO_MODE_DEVICE | GO_MODE_CHAR,
        SFlag::S_IFIFO => GO_MODE_PIPE,
        SFlag::S_IFSOCK => GO_MODE_SOCKET,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        m |= GO_MODE_SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= GO_MODE_SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= GO_MODE_STICKY;
    }
    m
}

fn errno_to_api(path: &str, e: Errno) -> ApiError {
    match e {
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP => ApiError::not_found(format!(
            "Could not find the file {path} in container: {}",
            e.desc()
        )),
        Errno::EXDEV => ApiError::bad(format!("{path}: refused, it leads out of the container")),
        other => ApiError::internal(format!("{path}: {}", other.desc())),
    }
}

/// Resolves the directory `rel` inside the root, as if the root were `/`.
fn resolve_dir(root: BorrowedFd<'_>, rel: &Path) -> std::result::Result<OwnedFd, Errno> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    openat2(
        root,
        rel,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// Opens the single `name` under `dir`, following no symlink at all.
fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlag,
) -> std::result::Result<OwnedFd, Errno> {
    openat2(
        dir,
        Path::new(name),
        flags | OFlag::O_NOFOLLOW,
        0,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
}

fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> std::result::Result<FileStat, Errno> {
    nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// The parent's descriptor and the stat of the last component (not followed).
fn locate(root: BorrowedFd<'_>, path: &str) -> Result<(OwnedFd, FileStat, Target)> {
    let t = split_path(path);
    let parent = resolve_dir(root, &t.parent).map_err(|e| errno_to_api(path, e))?;
    let st = lstat_at(parent.as_fd(), &t.name).map_err(|e| errno_to_api(path, e))?;
    if t.want_dir && kind(&st) != SFlag::S_IFDIR {
        return Err(errno_to_api(path, Errno::ENOTDIR));
    }
    Ok((parent, st, t))
}

/// `HEAD /containers/{id}/archive`: the stat of `path` inside `root`.
pub fn stat_path(root: BorrowedFd<'_>, path: &str) -> Result<PathStat> {
    let (parent, st, t) = locate(root, path)?;
    let link_target = if kind(&st) == SFlag::S_IFLNK {
        nix::fcntl::readlinkat(Some(parent.as_raw_fd()), t.name.as_os_str())
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let name = if t.name == "." {
        t.parent
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into())
    } else {
        t.name.to_string_lossy().into_owned()
    };
    Ok(PathStat {
        name,
        size: st.st_size as u64,
        mode: go_file_mode(st.st_mode),
        mtime: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec,
        link_target,
    })
}

/// `GET /containers/{id}/archive`: writes a tar of `path` to `out`.
pub fn write_archive(root: BorrowedFd<'_>, path: &str, out: impl Write) -> Result<()> {
    let (parent, st, t) = locate(root, path)?;
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    append(&mut b, parent.as_fd(), &t.name, &st, &t.tar_name)
        .map_err(|e| ApiError::internal(format!("archive {path}: {}", crate::errors::chain(&e))))?;
    b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| ApiError::internal(format!("archive {path}: {}", crate::errors::chain(&e))))
}

fn header_for(st: &FileStat) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// Appends `name` (in `dir`) as `tar_name`, and below it if a directory.
fn append<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    st: &FileStat,
    tar_name: &str,
) -> std::io::Result<()> {
    let io = |e: Errno| std::io::Error::from_raw_os_error(e as i32);
    let mut h = header_for(st);
    match kind(st) {
        SFlag::S_IFDIR => {
            h.set_entry_type(tar::EntryType::Directory);
            let entry = if tar_name == "." {
                "./".to_string()
            } else {
                format!("{tar_name}/")
            };
            let sub = match open_beneath(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
                Ok(fd) => fd,
                // Removed (or swapped for a link) since the listing: skip it.
                Err(Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR) if tar_name != "." => {
                    return Ok(())
                }
                Err(e) => return Err(io(e)),
            };
            b.append_data(&mut h, &entry, std::io::empty())?;
            let mut names = Vec::new();
            {
                let dup =
                    nix::fcntl::fcntl(sub.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(0))
                        .map_err(io)?;
                let mut d = nix::dir::Dir::from_fd(dup).map_err(io)?;
                for e in d.iter() {
                    let e = e.map_err(io)?;
                    let n = e.file_name().to_bytes();
                    if n != b"." && n != b".." {
                        names.push(OsStr::from_bytes(n).to_os_string());
                    }
                }
            }
            names.sort();
            for n in names {
                let cst = match lstat_at(sub.as_fd(), &n) {
                    Ok(s) => s,
                    Err(Errno::ENOENT) => continue, // gone meanwhile
                    Err(e) => return Err(io(e)),
                };
                let child = format!("{}/{}", tar_name, n.to_string_lossy());
                let child = child.trim_start_matches("./").to_string();
                append(b, sub.as_fd(), &n, &cst, &child)?;
            }
        }
        SFlag::S_IFREG => {
            let fd = match open_beneath(dir, name, OFlag::O_RDONLY) {
                Ok(fd) => fd,
                // Removed (or swapped for a link) since the listing: skip it.
                Err(Errno::ENOENT | Errno::ELOOP) => return Ok(()),
                Err(e) => return Err(io(e)),
            };
            let f = std::fs::File::from(fd);
            // The size of what we opened; a file that changes meanwhile is
            // cut or padded to it, so the archive stays well formed.
            let size = f.metadata()?.len();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(size);
            let data = f.take(size).chain(std::io::repeat(0)).take(size);
            b.append_data(&mut h, tar_name, data)?;
        }
        SFlag::S_IFLNK => {
            let target = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name).map_err(io)?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, tar_name, Path::new(&target))?;
        }
        SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
            h.set_entry_type(match kind(st) {
                SFlag::S_IFCHR => tar::EntryType::Char,
                SFlag::S_IFBLK => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            });
            let (major, minor) = (
                nix::sys::stat::major(st.st_rdev),
                nix::sys::stat::minor(st.st_rdev),
            );
            h.set_device_major(major as u32)?;
            h.set_device_minor(minor as u32)?;
            b.append_data(&mut h, tar_name, std::io::empty())?;
        }
        // Sockets cannot go into a tar.
        _ => {}
    }
    Ok(())
}

/// `PUT /containers/{id}/archive`: extracts the tar `input` into the
/// directory `path` inside `root` (with chapter 03's safe extractor). Files
/// belong to the container's root unless `copy_uid_gid` (`cp -a`) keeps the
/// archive's owners.
pub fn extract_archive(
    root: BorrowedFd<'_>,
    path: &str,
    input: impl Read,
    copy_uid_gid: bool,
) -> Result<()> {
    let rel: PathBuf = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let dir = resolve_dir(root, &rel).map_err(|e| match e {
        Errno::ENOTDIR => ApiError::bad(format!("extraction point is not a directory: {path}")),
        e => errno_to_api(path, e),
    })?;
    // The resolved directory, named by its descriptor: chapter 03 reopens
    // it through /proc/self/fd, so the path is not walked again.
    let target = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    let opts = unionfs::ApplyOptions {
        whiteouts: unionfs::WhiteoutMode::Plain,
        keep_setid: true,
        same_owner: copy_uid_gid,
    };
    unionfs::apply(input, &target, &opts)
        .map(|_| ())
        .map_err(|e| ApiError::bad(format!("extract into {path}: {}", crate::errors::chain(&e))))
}

/// Reads the file at `path` inside the root, every symlink resolved inside
/// it (for the engine's own reads of image files, e.g. `/etc/passwd`).
pub fn read_file(root: BorrowedFd<'_>, path: &str) -> Option<String> {
    let rel = path.trim_start_matches('/');
    let fd = openat2(
        root,
        Path::new(if rel.is_empty() { "." } else { rel }),
        OFlag::O_RDONLY,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    .ok()?;
    std::io::read_to_string(std::fs::File::from(fd)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake container root with the classic escape links, and a host
    /// directory beside it that must never be read or written through them.
    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("rootfs");
        let host = t.path().join("host");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(root.join("etc/hostname"), "container\n").unwrap();
        std::fs::write(host.join("secret"), "host secret\n").unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", root.join("up")).unwrap();
        std::os::unix::fs::symlink(&host, root.join("hostdir")).unwrap();
        (t, root, host)
    }

    fn names(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn paths_split_like_docker() {
        let t = split_path("/etc/hosts");
        assert_eq!(
            (t.parent, t.name, t.tar_name.as_str(), t.want_dir),
            ("etc".into(), "hosts".into(), "hosts", false)
        );
        let t = split_path("/etc/");
        assert_eq!(
            (t.parent, t.tar_name.as_str(), t.want_dir),
            ("etc".into(), "etc", true)
        );
        let t = split_path("/etc/.");
        assert_eq!(
            (t.parent, t.tar_name.as_str(), t.want_dir),
            ("etc".into(), ".", true)
        );
        assert_eq!(split_path("/").tar_name, ".");
        assert_eq!(go_file_mode(0o040755), GO_MODE_DIR | 0o755);
        assert_eq!(go_file_mode(0o120777), GO_MODE_SYMLINK | 0o777);
        assert_eq!(go_file_mode(0o104755), GO_MODE_SETUID | 0o755);
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let (_t, root, host) = setup();
        let r = open_root(&root).unwrap();
        let hostp = host.display().to_string();
        // Reading through the links: the container's files, never the host's.
        for p in [
            format!("/escape{hostp}/secret"),
            format!("/up{hostp}/secret"),
            "/hostdir/secret".into(),
        ] {
            let e = stat_path(r.fd(), &p).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::NotFound, "{p}: {}", e.message);
            assert!(write_archive(r.fd(), &p, Vec::new()).is_err(), "{p}");
            assert_eq!(read_file(r.fd(), &p), None, "{p}");
        }
        assert_eq!(
            read_file(r.fd(), "/escape/etc/hostname").unwrap(),
            "container\n"
        );
        assert_eq!(
            read_file(r.fd(), "/up/etc/hostname").unwrap(),
            "container\n"
        );
        // The link itself is archived as a link; with `/` it is followed, inside.
        let mut out = Vec::new();
        write_archive(r.fd(), "/escape", &mut out).unwrap();
        assert_eq!(names(&out), vec!["escape"]);
        let mut out = Vec::new();
        write_archive(r.fd(), "/escape/etc/", &mut out).unwrap();
        assert_eq!(names(&out), vec!["etc/", "etc/hostname"]);
        let st = stat_path(r.fd(), "/hostdir").unwrap();
        assert_eq!(st.link_target, hostp);
        assert!(!st.is_dir());
    }

    #[test]
    fn extraction_through_links_stays_inside() {
        let (_t, root, host) = setup();
        let r = open_root(&root).unwrap();
        let tar = |name: &str| {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(6);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &b"pwned\n"[..]).unwrap();
            b.into_inner().unwrap()
        };
        // Into a directory that is a link to the host dir: lands in the root's copy of that path.
        let hostp = host.display().to_string();
        std::fs::create_dir_all(root.join(hostp.trim_start_matches('/'))).unwrap();
        extract_archive(r.fd(), "/hostdir", &tar("p1")[..], false).unwrap();
        extract_archive(r.fd(), &format!("/escape{hostp}"), &tar("p2")[..], false).unwrap();
        extract_archive(r.fd(), &format!("/up{hostp}"), &tar("p3")[..], false).unwrap();
        for p in ["p1", "p2", "p3"] {
            assert!(!host.join(p).exists(), "{p} reached the host");
            assert!(
                root.join(hostp.trim_start_matches('/')).join(p).is_file(),
                "{p}"
            );
        }
        // Hostile names are refused.
        for name in ["../../host/p4", "/tmp/p5"] {
            let _ = extract_archive(r.fd(), "/", &tar(name)[..], false);
        }
        assert!(!host.join("p4").exists());
        assert_eq!(
            std::fs::read_dir(&host).unwrap().count(),
            1,
            "only the secret is in the host dir"
        );
        assert_eq!(
            std::fs::read_to_string(host.join("secret")).unwrap(),
            "host secret\n"
        );
    }
}
