//! # `doctor`: does this host have what the engine needs?
//!
//! One check per mechanism the chapters teach, each answering ✔ or ✘ with
//! what it saw, and for a ✘ what to do about it:
//!
//! | check | looks at | needed by |
//! | --- | --- | --- |
//! | running as root | `geteuid()` | namespaces, mounts, cgroups, links |
//! | kernel | `/proc/sys/kernel/osrelease` ≥ 5.6 | `openat2` (safe `cp`, layer extraction) |
//! | cgroup layout | `/proc/self/mountinfo`, `/proc/cgroups` (chapter 02) | limits, stats |
//! | cgroup controllers | memory, cpu, pids (+ cpuacct on v1) mounted | `-m`, `--cpus`, `--pids-limit`, `stats` |
//! | overlayfs | `/proc/filesystems` | copy-on-write layers (chapter 03; else the copy driver) |
//! | user namespaces | `/proc/sys/user/max_user_namespaces` | chapter 01's user-namespace demo, rootless ideas |
//! | nftables | the `nft` binary (and on the real host `nft list tables`) | NAT and `-p` (chapter 05) |
//! | busybox-static | `/bin/busybox` is a static ELF | the chapters' tour root filesystems |
//! | API socket | a unix socket with mode 0660 | who may drive the daemon (= root) |
//! | data root | not writable by group/others, not listable by others | layers and container roots |
//! | runtime | `mini-shim` (and `mini-runc`) next to the daemon | running containers |
//!
//! Every system path is a field of [`HostPaths`], so the unit test runs the
//! checks on a fake host in a temp dir (chapter 02's cgroup fixture) and
//! pins the output with insta; `GET /mini/doctor` runs them on the daemon's
//! host, where the daemon's needs are.

pub use mini_docker_api::doctor::{render, Check};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the checks look.
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// `/proc`.
    pub proc: PathBuf,
    /// `/sys/fs/cgroup`.
    pub cgroup_root: PathBuf,
    /// The daemon's data root.
    pub data_root: PathBuf,
    /// The API socket, when known.
    pub socket: Option<PathBuf>,
    /// Candidates for busybox.
    pub busybox: Vec<PathBuf>,
    /// Directories searched for `nft`.
    pub path_dirs: Vec<PathBuf>,
    /// The shim binary (the runtime runs inside it); `mini-runc` is looked for beside it.
    pub shim: PathBuf,
    /// The effective uid.
    pub euid: u32,
    /// Also run commands (`nft list tables`): only on the real host.
    pub probe: bool,
}

impl HostPaths {
    /// The real host, for a daemon with `data_root` and `shim`.
    pub fn real(data_root: &Path, shim: &Path, socket: Option<PathBuf>) -> HostPaths {
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        for d in ["/usr/sbin", "/sbin"] {
            if !dirs.iter().any(|x| x == Path::new(d)) {
                dirs.push(d.into());
            }
        }
        HostPaths {
            proc: "/proc".into(),
            cgroup_root: cgroups::layout::CGROUP_ROOT.into(),
            data_root: data_root.into(),
            socket,
            busybox: vec!["/bin/busybox".into(), "/usr/bin/busybox".into()],
            path_dirs: dirs,
            shim: shim.into(),
            euid: nix::unistd::geteuid().as_raw(),
            probe: true,
        }
    }
}

fn pass(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        detail: detail.into(),
        fix: String::new(),
    }
}

fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: false,
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// Runs every check, in the table's order.
pub fn run_checks(h: &HostPaths) -> Vec<Check> {
    let mut out = vec![root(h), kernel(h)];
    out.extend(cgroups_checks(h));
    out.push(overlay(h));
    out.push(userns(h));
    out.push(nftables(h));
    out.push(busybox(h));
    out.push(socket(h));
    out.push(data_root(h));
    out.push(runtime(h));
    out
}

fn root(h: &HostPaths) -> Check {
    if h.euid == 0 {
        pass("root", "running as uid 0")
    } else {
        fail(
            "root",
            format!("running as uid {}", h.euid),
            "run the daemon as root (sudo mini-dockerd): namespaces, mounts and cgroups need it",
        )
    }
}

fn kernel(h: &HostPaths) -> Check {
    let rel = std::fs::read_to_string(h.proc.join("sys/kernel/osrelease")).unwrap_or_default();
    let rel = rel.trim();
    let mut nums = rel
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|x| x.parse::<u32>().ok());
    let (major, minor) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    if (major, minor) >= (5, 6) {
        pass("kernel", format!("Linux {rel} (openat2 available)"))
    } else {
        fail(
            "kernel",
            format!("Linux {rel:?}"),
            "use Linux 5.6 or later: cp and layer extraction resolve paths with openat2(RESOLVE_IN_ROOT)",
        )
    }
}

fn cgroups_checks(h: &HostPaths) -> Vec<Check> {
    use cgroups::{Controller, Kind, Version};
    let layout = match cgroups::Layout::detect_at(&h.proc, &h.cgroup_root) {
        Ok(l) => l,
        Err(e) => {
            return vec![fail(
                "cgroups",
                format!("no cgroup filesystem found: {e}"),
                "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)",
            )]
        }
    };
    let kind = match layout.kind {
        Kind::Legacy => "legacy layout: cgroup v1 trees only".to_string(),
        Kind::Unified => "unified layout: one cgroup v2 tree".to_string(),
        Kind::Hybrid => {
            let v2 = layout
                .v2()
                .map(|h| h.mount_point.display().to_string())
                .unwrap_or_default();
            format!("hybrid layout: cgroup v1 controllers, plus a cgroup2 tree at {v2}")
        }
    };
    let first = pass("cgroups", kind);
    let mut wanted = vec![Controller::Memory, Controller::Cpu, Controller::Pids];
    if layout.kind != Kind::Unified {
        wanted.push(Controller::Cpuacct);
    }
    let mut have = Vec::new();
    let mut missing = Vec::new();
    for c in &wanted {
        match layout.hierarchy_for(c) {
            Some(hh) => have.push(format!(
                "{}{}",
                c.name(),
                if hh.version == Version::V1 {
                    " (v1)"
                } else {
                    " (v2)"
                }
            )),
            None => missing.push(c.name().to_string()),
        }
    }
    let second = if missing.is_empty() {
        pass("cgroup controllers", have.join(", "))
    } else {
        let fix = if layout.kind == Kind::Unified {
            format!(
                "enable them for children: echo '{}' > {}/cgroup.subtree_control",
                missing
                    .iter()
                    .map(|m| format!("+{m}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                h.cgroup_root.display()
            )
        } else {
            format!(
                "mount each v1 controller: mkdir -p {0}/<name> && mount -t cgroup -o <name> cgroup {0}/<name>",
                h.cgroup_root.display()
            )
        };
        fail(
            "cgroup controllers",
            format!("missing {} (have: {})", missing.join(", "), have.join(", ")),
            fix,
        )
    };
    vec![first, second]
}

fn overlay(h: &HostPaths) -> Check {
    let fs = std::fs::read_to_string(h.proc.join("filesystems")).unwrap_or_default();
    if fs
        .lines()
        .any(|l| l.split_whitespace().last() == Some("overlay"))
    {
        pass(
            "overlayfs",
            "overlay is in /proc/filesystems: layers are shared copy-on-write",
        )
    } else {
        fail(
            "overlayfs",
            "overlay is not in /proc/filesystems: every container gets a full copy of its image",
            "modprobe overlay (the engine falls back to the copy driver meanwhile)",
        )
    }
}

fn userns(h: &HostPaths) -> Check {
    let read = |p: &str| {
        std::fs::read_to_string(h.proc.join(p))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    match read("sys/user/max_user_namespaces") {
        Some(0) => fail(
            "user namespaces",
            "max_user_namespaces is 0",
            "sysctl -w user.max_user_namespaces=15000",
        ),
        Some(n) => {
            let unpriv = match read("sys/kernel/unprivileged_userns_clone") {
                Some(0) => ", unprivileged users may not create them",
                _ => "",
            };
            pass("user namespaces", format!("allowed (max {n}){unpriv}"))
        }
        None => fail(
            "user namespaces",
            "the kernel has no user namespaces",
            "use a kernel built with CONFIG_USER_NS=y",
        ),
    }
}

fn executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn nftables(h: &HostPaths) -> Check {
    let Some(nft) = h
        .path_dirs
        .iter()
        .map(|d| d.join("nft"))
        .find(|p| executable(p))
    else {
        return fail(
            "nftables",
            "no nft binary on the PATH",
            "apt-get install nftables (NAT and -p need it; --network none/host work without)",
        );
    };
    if !h.probe {
        return pass("nftables", format!("{} found", nft.display()));
    }
    match std::process::Command::new(&nft)
        .args(["list", "tables"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(o) if o.status.success() => pass(
            "nftables",
            format!("{} works (nft list tables)", nft.display()),
        ),
        Ok(o) => fail(
            "nftables",
            format!(
                "nft list tables failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            "modprobe nf_tables, and run as root",
        ),
        Err(e) => fail(
            "nftables",
            format!("cannot run {}: {e}", nft.display()),
            "apt-get install --reinstall nftables",
        ),
    }
}

/// Whether the ELF file at `p` has no program interpreter (is static).
pub fn is_static_elf(p: &Path) -> Option<bool> {
    let b = std::fs::read(p).ok()?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return None;
    }
    let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().ok()?) as usize;
    let (phentsize, phnum) = (u16at(0x36), u16at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let t = b.get(o..o + 4)?;
        if u32::from_le_bytes(t.try_into().ok()?) == 3 {
            return Some(false); // PT_INTERP: dynamically linked
        }
    }
    Some(true)
}

fn busybox(h: &HostPaths) -> Check {
    let Some(p) = h.busybox.iter().find(|p| p.exists()) else {
        return fail(
            "busybox-static",
            "no busybox found",
            "apt-get install busybox-static (the chapters build their root filesystems from it)",
        );
    };
    match is_static_elf(p) {
        Some(true) => pass(
            "busybox-static",
            format!("{} is statically linked", p.display()),
        ),
        Some(false) => fail(
            "busybox-static",
            format!(
                "{} is dynamically linked: it cannot run in an empty root",
                p.display()
            ),
            "apt-get install busybox-static",
        ),
        None => fail(
            "busybox-static",
            format!("{} is not a 64-bit ELF binary", p.display()),
            "apt-get install busybox-static",
        ),
    }
}

fn socket(h: &HostPaths) -> Check {
    let Some(s) = &h.socket else {
        return pass("API socket", "not a unix socket (tcp): not checked");
    };
    match std::fs::symlink_metadata(s) {
        Ok(m) if m.file_type().is_socket() => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o007 == 0 {
                pass("API socket", format!("{} has mode {mode:04o}", s.display()))
            } else {
                fail(
                    "API socket",
                    format!(
                        "{} has mode {mode:04o}: any user can drive the daemon (= root)",
                        s.display()
                    ),
                    format!("chmod 0660 {}", s.display()),
                )
            }
        }
        Ok(_) => fail(
            "API socket",
            format!("{} is not a socket", s.display()),
            "remove it and restart the daemon",
        ),
        Err(e) => fail(
            "API socket",
            format!("{}: {e}", s.display()),
            "start the daemon: sudo mini-dockerd",
        ),
    }
}

fn data_root(h: &HostPaths) -> Check {
    match std::fs::metadata(&h.data_root) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o7777;
            let who = if mode & 0o022 != 0 {
                Some("group or others can write into it")
            } else if mode & 0o004 != 0 {
                Some("others can list it")
            } else if mode & 0o001 != 0 {
                Some("others can traverse it (Docker's is 0710)")
            } else {
                None
            };
            match who {
                None => pass(
                    "data root",
                    format!("{} has mode {mode:04o}", h.data_root.display()),
                ),
                Some(w) => fail(
                    "data root",
                    format!("{} has mode {mode:04o}: {w}", h.data_root.display()),
                    format!("chmod 0710 {}", h.data_root.display()),
                ),
            }
        }
        Err(e) => fail(
            "data root",
            format!("{}: {e}", h.data_root.display()),
            "start the daemon once: it creates the data root",
        ),
    }
}

fn runtime(h: &HostPaths) -> Check {
    if !executable(&h.shim) {
        return fail(
            "runtime",
            format!("{} is missing or not executable", h.shim.display()),
            "cargo build -p mini-docker (mini-shim must sit next to mini-dockerd)",
        );
    }
    let runc = h.shim.with_file_name("mini-runc");
    if executable(&runc) {
        pass(
            "runtime",
            format!("{} and {}", h.shim.display(), runc.display()),
        )
    } else {
        pass(
            "runtime",
            format!(
                "{} (runs the runtime library; no mini-runc binary beside it)",
                h.shim.display()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake host: chapter 02's hybrid cgroup fixture, and the rest made up.
    fn fake(base: &Path, good: bool) -> HostPaths {
        let fx = cgroups::fixture::Fixture::build(
            base,
            if good {
                cgroups::fixture::HostKind::Hybrid
            } else {
                cgroups::fixture::HostKind::UnifiedSession
            },
        )
        .unwrap();
        let w = |p: &str, s: &str| {
            let p = fx.proc.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        w(
            "sys/kernel/osrelease",
            if good { "6.18.0-test\n" } else { "5.4.0\n" },
        );
        w(
            "filesystems",
            if good {
                "nodev\tproc\n\text4\nnodev\toverlay\n"
            } else {
                "nodev\tproc\n\text4\n"
            },
        );
        w(
            "sys/user/max_user_namespaces",
            if good { "15000\n" } else { "0\n" },
        );
        if !good {
            // A v2 host whose kernel offers no pids controller.
            std::fs::write(
                fx.cgroup_root.join("cgroup.controllers"),
                "cpuset cpu io memory\n",
            )
            .unwrap();
        }
        let bin = base.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = |p: &Path, bytes: &[u8]| {
            std::fs::write(p, bytes).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        // A minimal static ELF header (no program headers) or a dynamic one.
        let mut elf = vec![0u8; 64];
        elf[..5].copy_from_slice(b"\x7fELF\x02");
        if !good {
            elf[0x20] = 64; // phoff
            elf[0x36] = 56; // phentsize
            elf[0x38] = 1; // phnum
            elf.extend_from_slice(&[3, 0, 0, 0]); // PT_INTERP
            elf.resize(64 + 56, 0);
        }
        exe(&bin.join("busybox"), &elf);
        if good {
            exe(&bin.join("nft"), b"#!/bin/sh\n");
            exe(&bin.join("mini-shim"), b"");
            exe(&bin.join("mini-runc"), b"");
        }
        let data = base.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(
            &data,
            std::fs::Permissions::from_mode(if good { 0o710 } else { 0o755 }),
        )
        .unwrap();
        let sock = base.join("d.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::mem::forget(listener);
        std::fs::set_permissions(
            &sock,
            std::fs::Permissions::from_mode(if good { 0o660 } else { 0o666 }),
        )
        .unwrap();
        HostPaths {
            proc: fx.proc,
            cgroup_root: fx.cgroup_root,
            data_root: data,
            socket: Some(sock),
            busybox: vec![bin.join("busybox")],
            path_dirs: vec![bin.clone()],
            shim: bin.join("mini-shim"),
            euid: if good { 0 } else { 1000 },
            probe: false,
        }
    }

    #[test]
    fn doctor_on_fake_hosts() {
        for good in [true, false] {
            let d = tempfile::tempdir().unwrap();
            let out = render(&run_checks(&fake(d.path(), good)));
            let out = out.replace(&d.path().display().to_string(), "[HOST]");
            let name = if good {
                "doctor_healthy_host"
            } else {
                "doctor_broken_host"
            };
            insta::assert_snapshot!(name, out);
        }
    }

    #[test]
    fn static_elf_of_this_host() {
        // /proc/self/exe (this test) is dynamically linked.
        assert_eq!(is_static_elf(Path::new("/proc/self/exe")), Some(false));
    }
}
