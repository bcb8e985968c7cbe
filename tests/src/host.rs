//! What is left on the host: processes, mounts, cgroups and files, looked
//! up the way a person would (`/proc`, `mountinfo`, the cgroup tree).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Processes whose command line mentions `needle` (this one and pid 1 aside).
pub fn processes_with(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid <= 1 || pid == std::process::id() as i32 {
            continue;
        }
        if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&c).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

/// Mount points under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&*dir.to_string_lossy()))
        .map(String::from)
        .collect()
}

/// Detaches every mount under `dir`, deepest first.
pub fn unmount_all_under(dir: &Path) {
    let mut points = mounts_under(dir);
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Whether `<hierarchy>/<parent>/<id>` exists in any cgroup hierarchy.
pub fn cgroup_exists_under(parent: &str, id: &str) -> bool {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| {
            rd.flatten()
                .any(|h| h.path().join(parent).join(id).exists())
        })
        .unwrap_or(false)
}

/// Files (recursively) under `dir`.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every file in `dir` (a `blobs/sha256` of a store or a registry) hashes
/// to its name; returns how many there are.
#[track_caller]
pub fn dir_blobs_verify(dir: &Path) -> usize {
    let mut n = 0;
    for p in files(dir) {
        let out = Command::new("sha256sum").arg(&p).output().unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with(&name),
            "blob {} does not match its digest",
            p.display()
        );
        n += 1;
    }
    n
}

/// A busybox root filesystem (chapter 01's) packed as a tar at `tar`.
pub fn busybox_rootfs_tar(rootfs: &Path, tar: &Path) {
    namespaces::rootfs::build_busybox_rootfs(rootfs).unwrap();
    tar_dir(rootfs, tar);
}

/// `tar -C dir -cf tar .`
pub fn tar_dir(dir: &Path, tar: &Path) {
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar -C {} failed", dir.display());
}
