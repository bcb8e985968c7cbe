//! A minimal root filesystem, made from the host's static busybox, with no network.
//!
//! A container image is, at its heart, a directory tree that becomes `/` for the
//! container's processes. The smallest useful one holds a single statically
//! linked program, busybox, which is a shell and some 300 Unix tools in one
//! binary: `ls`, `ps`, `hostname`, `httpd`, `ip` … are links to it, and busybox
//! looks at the name it was started under to know which tool to be.
//!
//! By hand, the same tree is:
//!
//! ```text
//! mkdir -p rootfs/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
//! cp /bin/busybox rootfs/bin/busybox
//! for applet in $(rootfs/bin/busybox --list-full); do ln -s /bin/busybox "rootfs/$applet"; done
//! echo 'root:x:0:0:root:/root:/bin/sh' > rootfs/etc/passwd
//! ```
//!
//! The busybox must be *statically* linked: inside the new root there is no
//! `/lib` with a dynamic loader or libc for it to load. On Debian and Ubuntu that
//! is the `busybox-static` package. Every chapter, the engine and the tests
//! build their demo root filesystems with [`build_busybox_rootfs`].

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the host's busybox is looked for, in order. `CHAPTER01_BUSYBOX` overrides.
pub const BUSYBOX_CANDIDATES: [&str; 3] = ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"];

/// What can go wrong while building the root filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// No busybox binary on the host.
    #[error(
        "no busybox found (looked at {looked_at}): install the static one with \
         `apt-get install busybox-static` (Debian/Ubuntu), or point CHAPTER01_BUSYBOX at a \
         statically linked busybox"
    )]
    BusyboxMissing {
        /// The paths that were tried.
        looked_at: String,
    },
    /// The busybox found is dynamically linked and cannot run inside an empty root.
    #[error(
        "{path} is dynamically linked, so it cannot run inside a root filesystem without \
         libc: install the static one with `apt-get install busybox-static`"
    )]
    BusyboxNotStatic {
        /// The binary that was found.
        path: PathBuf,
    },
    /// The target directory exists and is not empty.
    #[error("{path} is not empty: give an empty or new directory for the root filesystem")]
    DestNotEmpty {
        /// The target directory.
        path: PathBuf,
    },
    /// A file operation failed.
    #[error("{step} {path}")]
    Io {
        /// What was being done (`mkdir`, `copy`, `symlink`, …).
        step: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The error from the kernel.
        #[source]
        source: std::io::Error,
    },
    /// `busybox --list-full` did not work.
    #[error("`{path} --list-full` failed: {detail}")]
    ListApplets {
        /// The binary.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

fn io(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RootfsError {
    let path = path.to_path_buf();
    move |source| RootfsError::Io { step, path, source }
}

/// A root filesystem directory that was built by [`build_busybox_rootfs`].
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// The directory that becomes `/` inside the container.
    pub path: PathBuf,
    /// How many busybox applets were linked.
    pub applets: usize,
}

/// Finds the host's busybox and checks that it is statically linked.
pub fn find_busybox() -> Result<PathBuf, RootfsError> {
    let candidates: Vec<PathBuf> = match std::env::var_os("CHAPTER01_BUSYBOX") {
        Some(p) => vec![PathBuf::from(p)],
        None => BUSYBOX_CANDIDATES.iter().map(PathBuf::from).collect(),
    };
    let found = candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| RootfsError::BusyboxMissing {
            looked_at: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if !is_static_elf(&found).map_err(io("read", &found))? {
        return Err(RootfsError::BusyboxNotStatic { path: found });
    }
    Ok(found)
}

/// True when `path` is an ELF executable without a `PT_INTERP` program header,
/// that is, one that needs no dynamic loader.
pub fn is_static_elf(path: &Path) -> std::io::Result<bool> {
    let mut data = Vec::new();
    fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut data)?;
    Ok(elf_has_no_interp(&data).unwrap_or(false))
}

/// Reads the program headers of a 64-bit little-endian ELF image; `None` if it is
/// not one (or the headers are not in the first bytes given).
fn elf_has_no_interp(data: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if data.get(0..4)? != b"\x7fELF" || *data.get(4)? != 2 || *data.get(5)? != 1 {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let off = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(data.get(off..off + 4)?.try_into().ok()?);
        if p_type == PT_INTERP {
            return Some(false);
        }
    }
    Some(true)
}

/// Builds a minimal busybox root filesystem in `dest` (created if missing; must be
/// empty). Needs no network and no root.
pub fn build_busybox_rootfs(dest: &Path) -> Result<Rootfs, RootfsError> {
    let busybox = find_busybox()?;
    if dest.exists() {
        let mut entries = fs::read_dir(dest).map_err(io("read directory", dest))?;
        if entries.next().is_some() {
            return Err(RootfsError::DestNotEmpty {
                path: dest.to_path_buf(),
            });
        }
    }
    for dir in [
        "", "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
        "home", "var/www", "run", "mnt",
    ] {
        let p = dest.join(dir);
        fs::create_dir_all(&p).map_err(io("mkdir", &p))?;
    }
    set_mode(&dest.join("tmp"), 0o1777)?;
    set_mode(&dest.join("root"), 0o700)?;
    set_mode(dest, 0o755)?;

    let target = dest.join("bin/busybox");
    fs::copy(&busybox, &target).map_err(io("copy", &target))?;
    set_mode(&target, 0o755)?;

    let applets = list_applets(&busybox)?;
    let mut linked = 0;
    for applet in &applets {
        let link = dest.join(applet.trim_start_matches('/'));
        if link == target || link.exists() {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).map_err(io("mkdir", parent))?;
        }
        symlink("/bin/busybox", &link).map_err(io("symlink", &link))?;
        linked += 1;
    }

    for (file, content, mode) in [
        ("etc/passwd", PASSWD, 0o644),
        ("etc/group", GROUP, 0o644),
        ("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", 0o644),
        ("etc/hostname", "busybox\n", 0o644),
        ("etc/os-release", OS_RELEASE, 0o644),
        ("etc/profile", PROFILE, 0o644),
        ("var/www/index.html", INDEX_HTML, 0o644),
    ] {
        let p = dest.join(file);
        fs::write(&p, content).map_err(io("write", &p))?;
        set_mode(&p, mode)?;
    }
    Ok(Rootfs {
        path: dest.to_path_buf(),
        applets: linked,
    })
}

/// Changes the owner of every file in the tree (without following links), as
/// Docker's `userns-remap` does to an image for a container whose root is mapped
/// to an unprivileged host uid.
pub fn chown_tree(root: &Path, uid: u32, gid: u32) -> Result<(), RootfsError> {
    std::os::unix::fs::lchown(root, Some(uid), Some(gid)).map_err(io("chown", root))?;
    let meta = fs::symlink_metadata(root).map_err(io("stat", root))?;
    if meta.is_dir() {
        for entry in fs::read_dir(root).map_err(io("read directory", root))? {
            let entry = entry.map_err(io("read directory", root))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), RootfsError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io("chmod", path))
}

fn list_applets(busybox: &Path) -> Result<Vec<String>, RootfsError> {
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| RootfsError::ListApplets {
            path: busybox.to_path_buf(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(RootfsError::ListApplets {
            path: busybox.to_path_buf(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains(".."))
        .map(String::from)
        .collect();
    if list.is_empty() {
        return Err(RootfsError::ListApplets {
            path: busybox.to_path_buf(),
            detail: "it listed no applets".into(),
        });
    }
    Ok(list)
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
www-data:x:33:33:www-data:/var/www:/bin/false\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwww-data:x:33:\nnogroup:x:65534:\n";
const OS_RELEASE: &str = "NAME=\"container-internals busybox\"\nID=busybox\nPRETTY_NAME=\"a busybox root filesystem built by chapter 01\"\n";
const PROFILE: &str = "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PS1='[\\u@\\h \\w]\\$ '\n";
const INDEX_HTML: &str = "<h1>hello from a busybox container</h1>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_parser_tells_static_from_dynamic() {
        // The test binary itself is dynamically linked (it needs libc).
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me).unwrap());
        assert_eq!(elf_has_no_interp(b"not an elf at all"), None);
    }

    #[test]
    fn builds_a_rootfs_without_root() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("rootfs");
        let rootfs = build_busybox_rootfs(&dest).expect("busybox-static must be installed");
        assert!(rootfs.applets > 100, "only {} applets", rootfs.applets);
        assert_eq!(
            fs::read_link(dest.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert!(is_static_elf(&dest.join("bin/busybox")).unwrap());
        assert!(fs::read_to_string(dest.join("etc/passwd"))
            .unwrap()
            .starts_with("root:x:0:0"));
        let err = build_busybox_rootfs(&dest).unwrap_err();
        assert!(matches!(err, RootfsError::DestNotEmpty { .. }), "{err}");
    }

    #[test]
    fn missing_busybox_names_the_package() {
        let err = RootfsError::BusyboxMissing {
            looked_at: "/bin/busybox".into(),
        };
        assert!(err.to_string().contains("apt-get install busybox-static"));
    }
}
