//! Mounting inside the rootfs without being fooled by it.
//!
//! The rootfs comes from an image: anyone may have put symlinks in it. If the
//! runtime mounted onto `rootfs + destination` as a string, a symlink
//! `/proc -> /etc` in the image, or one swapped in by a process racing the
//! runtime (CVE-2021-30465), would make the kernel mount on the *host's*
//! files. So every destination is opened with `openat2(RESOLVE_IN_ROOT)`,
//! which resolves symlinks as if the rootfs were `/`, and the mount is made
//! onto `/proc/self/fd/<that fd>`: the very inode that was checked.

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstatat, Mode, SFlag};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use unionfs::sys::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};

/// Mount flags, propagation and data parsed from OCI mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount itself.
    pub flags: MsFlags,
    /// Flags that need a second, remount call on a bind mount (ro, nosuid, …).
    pub bind_remount: MsFlags,
    /// Propagation flags applied after mounting.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data (`mode=755,size=65536k`).
    pub data: String,
    /// Recursive bind.
    pub recursive: bool,
}

/// Parses `options` as `mount(8)` does.
pub fn parse_options(options: &[String]) -> Result<MountOptions, String> {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        bind_remount: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        recursive: false,
    };
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => {
                o.recursive = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation
                    .push(propagation_flag(opt).unwrap_or(MsFlags::MS_PRIVATE));
                continue;
            }
            "tmpcopyup" | "defaults" => continue,
            "idmap" | "ridmap" => return Err(format!("mount option {opt} is not supported")),
            other => {
                if other.contains(',') {
                    return Err(format!("mount option {other:?} contains a comma"));
                }
                data.push(other.to_string());
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
    }
    o.data = data.join(",");
    if o.flags.contains(MsFlags::MS_BIND) {
        let extra = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        o.bind_remount = extra;
    }
    Ok(o)
}

/// The flag for a propagation name (`rslave` → `MS_SLAVE | MS_REC`).
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// The propagation to give `/` *before* `pivot_root`, for a requested
/// `rootfsPropagation` (`None`: runc's default, `rslave`). The kernel refuses
/// `pivot_root` when the current root or the new root's parent mount is
/// shared, and a shared root would carry the container's mounts back to the
/// host; an unbindable one cannot be bound (the rootfs, the read-only paths).
/// So the shared and unbindable modes start from `rslave`, and the requested
/// mode is applied to the new root once the root filesystem is complete.
pub fn propagation_before_pivot(requested: Option<&str>) -> &str {
    match requested {
        None | Some("shared" | "rshared" | "unbindable" | "runbindable") => "rslave",
        Some(other) => other,
    }
}

/// The mount point of the mount that holds `path`, from the text of
/// `/proc/self/mountinfo`: the longest mount point that is `path` or one of
/// its ancestors (the last one listed wins, as the kernel stacks them).
pub fn mount_point_of(mountinfo: &str, path: &Path) -> Option<PathBuf> {
    let mut best: Option<PathBuf> = None;
    for point in mount_points(mountinfo) {
        if path.starts_with(&point)
            && best
                .as_ref()
                .is_none_or(|b| point.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some(point);
        }
    }
    best
}

/// The mount points at or below `dir`, deepest (last mounted) first: what
/// `umount -R dir` would take away, from the text of `/proc/self/mountinfo`.
pub fn mounts_below(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mount_points(mountinfo)
        .filter(|p| p.starts_with(dir))
        .collect();
    out.reverse();
    out
}

/// Every mount point, in mount order (chapter 02 parses the file).
fn mount_points(mountinfo: &str) -> impl Iterator<Item = PathBuf> {
    cgroups::layout::parse_mountinfo(mountinfo)
        .into_iter()
        .map(|m| m.mount_point)
}

/// Opens `root` as a directory to resolve paths in.
pub fn open_root(root: &Path) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `open` just returned this descriptor and nothing else holds it,
    // so the OwnedFd is its only owner.
    #[allow(unsafe_code)]
    let fd = unsafe { super::sys::own_fd(fd) };
    Ok(fd)
}

/// Resolves `path` (absolute, inside the container) under `root`, following
/// symlinks only inside it. Returns an `O_PATH` descriptor.
pub fn resolve(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    openat2(
        root.as_fd(),
        rel,
        OFlag::O_PATH,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// What a mount destination should be when it has to be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// An empty regular file (to bind a file or device onto).
    File,
}

/// Creates `path` inside `root` if it is missing (and its parents, as
/// directories), each step resolved inside the root, then opens it.
pub fn create_and_open(root: &OwnedFd, path: &Path, kind: Kind) -> nix::Result<OwnedFd> {
    if let Ok(fd) = resolve(root, path) {
        return Ok(fd);
    }
    let mut parent = PathBuf::from("/");
    let comps: Vec<Component> = path.components().collect();
    for (i, comp) in comps.iter().enumerate() {
        let Component::Normal(name) = comp else {
            continue;
        };
        let here = parent.join(name);
        if resolve(root, &here).is_err() {
            let dir = resolve(root, &parent)?;
            let last = i == comps.len() - 1;
            if last && kind == Kind::File {
                let fd = nix::fcntl::openat(
                    Some(dir.as_raw_fd()),
                    *name,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_CLOEXEC
                        | OFlag::O_NOFOLLOW,
                    Mode::from_bits_truncate(0o644),
                );
                match fd {
                    Ok(fd) => {
                        // SAFETY: `openat` just returned `fd` and nothing else holds
                        // it; owning it closes it.
                        #[allow(unsafe_code)]
                        let fd = unsafe { super::sys::own_fd(fd) };
                        drop(fd)
                    }
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
            } else {
                match nix::sys::stat::mkdirat(
                    Some(dir.as_raw_fd()),
                    *name,
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        parent = here;
    }
    resolve(root, path)
}

/// The path that names an open descriptor, for mount(2).
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// True when `path` inside `root` exists and is a symlink (not followed).
pub fn is_symlink_in(root: &OwnedFd, path: &Path) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    let Some(parent) = path.parent() else {
        return false;
    };
    let Ok(dir) = resolve(root, parent) else {
        return false;
    };
    match fstatat(
        Some(dir.as_raw_fd()),
        name,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK,
        Err(_) => false,
    }
}

/// The flags of the mount that holds `path` (from statvfs), in mount(2) terms:
/// a bind remount must keep the ones the kernel locked (nosuid, nodev, noexec
/// in a user namespace) or it fails with EPERM.
pub fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (a, b) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(a) {
            m |= b;
        }
    }
    m
}

/// The shell command that does what a spec mount does.
pub fn mount_command(fstype: &str, source: &str, dest: &Path, options: &[String]) -> String {
    let opts = if options.is_empty() {
        String::new()
    } else {
        format!(" -o {}", options.join(","))
    };
    if fstype == "bind" {
        format!("mount --bind{opts} {source} $ROOTFS{}", dest.display())
    } else {
        format!("mount -t {fstype}{opts} {source} $ROOTFS{}", dest.display())
    }
}

/// A name for an OsStr in messages.
pub fn show(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_holding_a_path_is_the_longest_prefix() {
        let info = "22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n\
                    30 22 0:40 / /var/lib rw shared:9 - ext4 /dev/sdb rw\n\
                    31 30 0:41 / /var/lib/my\\040dir rw - tmpfs tmpfs rw\n";
        let at = |p: &str| mount_point_of(info, Path::new(p)).unwrap();
        assert_eq!(at("/var/lib/x/rootfs"), Path::new("/var/lib"));
        assert_eq!(at("/var/library"), Path::new("/"));
        assert_eq!(at("/var/lib/my dir/rootfs"), Path::new("/var/lib/my dir"));
        assert_eq!(at("/var/lib"), Path::new("/var/lib"));
    }

    #[test]
    fn mounts_below_a_rootfs_come_deepest_first() {
        let info = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    40 22 0:5 / /b/rootfs/proc rw - proc proc rw\n\
                    41 22 0:6 / /b/rootfs/dev rw - tmpfs tmpfs rw\n\
                    42 41 0:7 / /b/rootfs/dev/pts rw - devpts devpts rw\n\
                    43 22 0:8 / /b/rootfs2/proc rw - proc proc rw\n";
        let got = mounts_below(info, Path::new("/b/rootfs"));
        let want = ["/b/rootfs/dev/pts", "/b/rootfs/dev", "/b/rootfs/proc"];
        assert_eq!(got, want.map(PathBuf::from));
    }

    #[test]
    fn shared_and_unbindable_roots_wait_for_pivot_root() {
        for mode in ["shared", "rshared", "unbindable", "runbindable"] {
            assert_eq!(propagation_before_pivot(Some(mode)), "rslave", "{mode}");
        }
        assert_eq!(propagation_before_pivot(None), "rslave");
        assert_eq!(propagation_before_pivot(Some("private")), "private");
    }

    fn opts(v: &[&str]) -> MountOptions {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn parses_docker_default_mounts() {
        let proc = opts(&["nosuid", "noexec", "nodev"]);
        assert_eq!(
            proc.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
        );
        let dev = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(dev.data, "mode=755,size=65536k");
        let bind = opts(&["rbind", "ro", "rprivate"]);
        assert!(bind.recursive);
        assert_eq!(bind.bind_remount, MsFlags::MS_RDONLY);
        assert_eq!(
            bind.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]
        );
        assert!(parse_options(&["idmap".to_string()]).is_err());
    }

    #[test]
    fn resolves_symlinks_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("proc")).unwrap();
        std::os::unix::fs::symlink("../../../../", root.join("up")).unwrap();
        let rfd = open_root(&root).unwrap();
        assert!(is_symlink_in(&rfd, Path::new("/proc")));
        // `/up/x` resolves inside the root, not above it.
        let fd = create_and_open(&rfd, Path::new("/up/x/y"), Kind::Dir).unwrap();
        let real = std::fs::read_link(fd_path(&fd)).unwrap();
        assert_eq!(real, root.join("x/y"));
        let f = create_and_open(&rfd, Path::new("/etc/hosts"), Kind::File).unwrap();
        assert!(std::fs::read_link(fd_path(&f)).unwrap().starts_with(&root));
        assert!(root.join("etc/hosts").is_file());
    }
}
