//! The seven namespaces this chapter uses, and what each one isolates.
//!
//! A namespace wraps one kind of global resource so that the processes inside
//! see their own copy of it. A process gets new namespaces with `clone(2)` or
//! `unshare(2)` and joins existing ones with `setns(2)`; each namespace it is in
//! shows up as a link under `/proc/<pid>/ns/`:
//!
//! ```text
//! $ ls -l /proc/self/ns
//! cgroup -> 'cgroup:[4026531835]'   ipc -> 'ipc:[4026531839]'   mnt -> 'mnt:[4026531841]'
//! net    -> 'net:[4026531840]'      pid -> 'pid:[4026531836]'   user -> 'user:[4026531837]'
//! uts    -> 'uts:[4026531838]'
//! ```
//!
//! Two processes are in the same namespace exactly when those inode numbers are
//! equal. Read `namespaces(7)` for the overview and one man page per kind:
//! `uts_namespaces(7)`, `pid_namespaces(7)`, `ipc_namespaces(7)`,
//! `mount_namespaces(7)`, `network_namespaces(7)`, `user_namespaces(7)`,
//! `cgroup_namespaces(7)`.

use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One kind of Linux namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Namespace {
    /// The user namespace: its own uid and gid numbers and its own capabilities.
    /// It is created first, because it owns every other namespace created with it.
    User,
    /// Hostname and NIS domain name.
    Uts,
    /// System V IPC objects (message queues, semaphores, shared memory) and POSIX
    /// message queues.
    Ipc,
    /// The mount table: what is mounted where.
    Mnt,
    /// Network devices, addresses, routes, firewall rules, sockets and ports.
    Net,
    /// The cgroup root a process sees in `/proc/self/cgroup` and in a cgroupfs mount.
    Cgroup,
    /// Process ids. Only children move into a new PID namespace; the first one
    /// becomes its PID 1.
    Pid,
}

impl Namespace {
    /// All seven, in the order they are created (user first, pid last).
    pub const ALL: [Namespace; 7] = [
        Namespace::User,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Mnt,
        Namespace::Net,
        Namespace::Cgroup,
        Namespace::Pid,
    ];

    /// Every namespace except the user namespace: what Docker gives a container
    /// by default (Docker uses a user namespace only with `userns-remap`).
    pub fn all_but_user() -> Vec<Namespace> {
        Self::ALL
            .iter()
            .copied()
            .filter(|ns| *ns != Namespace::User)
            .collect()
    }

    /// The `CLONE_NEW*` flag that asks `clone(2)`/`unshare(2)` for this namespace.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Mnt => CloneFlags::CLONE_NEWNS,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
        }
    }

    /// The name of the flag, as the man pages spell it.
    pub fn flag_name(self) -> &'static str {
        match self {
            Namespace::User => "CLONE_NEWUSER",
            Namespace::Uts => "CLONE_NEWUTS",
            Namespace::Ipc => "CLONE_NEWIPC",
            Namespace::Mnt => "CLONE_NEWNS",
            Namespace::Net => "CLONE_NEWNET",
            Namespace::Cgroup => "CLONE_NEWCGROUP",
            Namespace::Pid => "CLONE_NEWPID",
        }
    }

    /// The option of `unshare(1)` that does the same from a shell.
    pub fn unshare_option(self) -> &'static str {
        match self {
            Namespace::User => "--user",
            Namespace::Uts => "--uts",
            Namespace::Ipc => "--ipc",
            Namespace::Mnt => "--mount",
            Namespace::Net => "--net",
            Namespace::Cgroup => "--cgroup",
            Namespace::Pid => "--pid",
        }
    }

    /// The file name under `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::User => "user",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Mnt => "mnt",
            Namespace::Net => "net",
            Namespace::Cgroup => "cgroup",
            Namespace::Pid => "pid",
        }
    }

    /// The kernel option that must be built in for this namespace to exist, for
    /// the error a learner sees on a kernel without it.
    pub fn kernel_config(self) -> &'static str {
        match self {
            Namespace::User => "CONFIG_USER_NS",
            Namespace::Uts => "CONFIG_UTS_NS",
            Namespace::Ipc => "CONFIG_IPC_NS",
            Namespace::Mnt => "(always built in)",
            Namespace::Net => "CONFIG_NET_NS",
            Namespace::Cgroup => "CONFIG_CGROUPS",
            Namespace::Pid => "CONFIG_PID_NS",
        }
    }

    /// The sysctl that limits how many of these namespaces may exist; 0 disables them.
    pub fn max_sysctl(self) -> String {
        format!("user.max_{}_namespaces", self.proc_name())
    }

    /// Parses the names used on the command line (`uts`, `pid`, `mnt`/`mount`, …).
    pub fn parse(name: &str) -> Option<Namespace> {
        Some(match name {
            "user" => Namespace::User,
            "uts" => Namespace::Uts,
            "ipc" => Namespace::Ipc,
            "mnt" | "mount" => Namespace::Mnt,
            "net" | "network" => Namespace::Net,
            "cgroup" => Namespace::Cgroup,
            "pid" => Namespace::Pid,
            _ => return None,
        })
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Namespace::User => "USER",
            Namespace::Uts => "UTS",
            Namespace::Ipc => "IPC",
            Namespace::Mnt => "MNT",
            Namespace::Net => "NET",
            Namespace::Cgroup => "CGROUP",
            Namespace::Pid => "PID",
        };
        f.write_str(name)
    }
}

/// The union of the clone flags of `namespaces`.
pub fn clone_flags(namespaces: &[Namespace]) -> CloneFlags {
    namespaces
        .iter()
        .fold(CloneFlags::empty(), |acc, ns| acc | ns.clone_flag())
}

/// The namespace id of `pid` for `ns`, as `readlink /proc/<pid>/ns/<name>` prints it
/// (for example `uts:[4026532193]`).
pub fn ns_id(proc_root: &std::path::Path, pid: &str, ns: Namespace) -> std::io::Result<String> {
    let link = std::fs::read_link(proc_root.join(pid).join("ns").join(ns.proc_name()))?;
    Ok(link.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for ns in Namespace::ALL {
            assert_eq!(Namespace::parse(ns.proc_name()), Some(ns));
        }
        assert_eq!(Namespace::parse("mount"), Some(Namespace::Mnt));
        assert_eq!(Namespace::parse("nope"), None);
    }

    #[test]
    fn user_comes_first_and_pid_last() {
        assert_eq!(Namespace::ALL[0], Namespace::User);
        assert_eq!(Namespace::ALL[6], Namespace::Pid);
        assert!(!Namespace::all_but_user().contains(&Namespace::User));
    }
}
