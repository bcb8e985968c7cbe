//! Plan, then apply: every step that makes a container, as data.
//!
//! [`plan`] turns a [`Spec`] (what the container should look like) into the
//! ordered list of [`Step`]s that build it. Nothing happens yet. The same list
//! is then
//!
//! * printed by the tour, each step beside the shell command that does the same
//!   ([`Step::command`]), so you can replay it by hand;
//! * snapshotted by the unit tests, without root;
//! * executed, step by step, by the processes in [`crate::init`].
//!
//! The order matters, and it is the lesson of this chapter:
//!
//! ```text
//!  parent (this program)          init (re-exec'd, single-threaded)        PID 1 of the new PID namespace
//!  ─────────────────────          ─────────────────────────────────        ──────────────────────────────
//!  spawn init ───────────────────▶ join cgroups, join a netns
//!                                  drop to an unprivileged user (demo)
//!                                  unshare(CLONE_NEWUSER)
//!  write uid_map, gid_map ◀──────  "maps please"
//!                                  unshare(UTS|IPC|MNT|NET|CGROUP|PID)
//!                                  fork() ─────────────────────────────────▶ mount --make-rprivate /
//!                                  waits for PID 1, exits like it            sethostname, pivot_root, /proc, /dev
//!  "start" ────────────────────────────────────────────────────────────────▶ execve(argv)
//! ```
//!
//! * The user namespace comes first, alone, because it owns the namespaces
//!   created after it: once the parent has written the id maps, the init is
//!   root *in it* and may create the others even if it is nobody outside.
//! * A netns to join is joined before that: `setns` into a namespace owned by
//!   the host's user namespace needs the host's privileges.
//! * `unshare(CLONE_NEWPID)` does not move the caller: only its next child is
//!   PID 1 in the new namespace. That is why `unshare(1)` has `--fork`.
//! * The mount work happens in PID 1, so that the fresh `/proc` shows the new
//!   PID namespace.

use crate::namespace::{self, Namespace};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::PathBuf;

/// One line of `/proc/<pid>/uid_map` or `gid_map`: ids `inside..inside+count`
/// in the namespace are ids `outside..outside+count` outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMapEntry {
    /// First id inside the namespace.
    pub inside: u32,
    /// First id outside (in the parent user namespace).
    pub outside: u32,
    /// How many ids are mapped.
    pub count: u32,
}

/// The uid and gid maps of a new user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// Lines of `uid_map`.
    pub uids: Vec<IdMapEntry>,
    /// Lines of `gid_map`.
    pub gids: Vec<IdMapEntry>,
    /// Write `deny` to `/proc/<pid>/setgroups` first. An unprivileged parent must,
    /// before it may write `gid_map` (see `user_namespaces(7)`).
    pub deny_setgroups: bool,
}

impl IdMap {
    /// Root inside is `uid`/`gid` outside, and nothing else is mapped: what an
    /// unprivileged user may set up alone (`unshare --map-root-user`).
    pub fn root_is(uid: u32, gid: u32) -> IdMap {
        IdMap {
            uids: vec![IdMapEntry {
                inside: 0,
                outside: uid,
                count: 1,
            }],
            gids: vec![IdMapEntry {
                inside: 0,
                outside: gid,
                count: 1,
            }],
            deny_setgroups: true,
        }
    }

    /// Ids `0..count` inside are `base..base+count` outside, as Docker's
    /// `userns-remap` does with a range from `/etc/subuid`. Only root may write it.
    pub fn range(base: u32, count: u32) -> IdMap {
        IdMap {
            uids: vec![IdMapEntry {
                inside: 0,
                outside: base,
                count,
            }],
            gids: vec![IdMapEntry {
                inside: 0,
                outside: base,
                count,
            }],
            deny_setgroups: false,
        }
    }

    /// The text written to `uid_map` (one `inside outside count` line per entry).
    pub fn uid_map_text(&self) -> String {
        map_text(&self.uids)
    }

    /// The text written to `gid_map`.
    pub fn gid_map_text(&self) -> String {
        map_text(&self.gids)
    }
}

/// The text of a `uid_map`/`gid_map`: one `inside outside count` line per entry.
pub fn map_text(entries: &[IdMapEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{} {} {}\n", e.inside, e.outside, e.count))
        .collect()
}

/// Devices bind-mounted from the host into a container's `/dev` (the same set
/// rootless runtimes use: in a user namespace `mknod` is not allowed).
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// What the container should look like: everything the init needs to know,
/// sent to it over the sync socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The program to run (`argv[0]` is looked up in `PATH` when it has no `/`).
    pub argv: Vec<String>,
    /// Its environment, as `KEY=value`.
    pub env: Vec<String>,
    /// The namespaces to create.
    pub namespaces: Vec<Namespace>,
    /// A hostname to set (needs [`Namespace::Uts`]).
    pub hostname: Option<String>,
    /// A root filesystem to `pivot_root` into (needs [`Namespace::Mnt`]).
    pub rootfs: Option<PathBuf>,
    /// Mount a fresh `/proc` over the host's when there is no rootfs
    /// (`unshare --mount-proc`). With a rootfs, `/proc` is always mounted.
    pub mount_proc: bool,
    /// The working directory inside.
    pub workdir: Option<String>,
    /// The id maps of the user namespace (needs [`Namespace::User`]).
    pub id_map: Option<IdMap>,
    /// Become this `(uid, gid)` before creating the user namespace, to show what
    /// an unprivileged user can do when the tour itself runs as root.
    pub become_user: Option<(u32, u32)>,
    /// `cgroup.procs` files the init writes its pid into before anything else.
    pub cgroup_procs: Vec<PathBuf>,
    /// A network namespace to join (`/run/netns/NAME`) instead of a new one.
    pub netns: Option<PathBuf>,
}

/// Which process performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// The program that asked for the container (it has the host's view).
    Parent,
    /// The re-exec'd init process, before it forks.
    Init,
    /// The container's PID 1, the forked child of init.
    Pid1,
}

/// One step of building a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Write our pid into a cgroup's `cgroup.procs` (moves us into that cgroup).
    JoinCgroup {
        /// The `cgroup.procs` file.
        procs: PathBuf,
    },
    /// `setns(2)` into an existing network namespace.
    JoinNetns {
        /// The namespace file, e.g. `/run/netns/NAME`.
        path: PathBuf,
    },
    /// Drop to an unprivileged user (`setgroups`, `setresgid`, `setresuid`).
    BecomeUser {
        /// The uid to become.
        uid: u32,
        /// The gid to become.
        gid: u32,
    },
    /// `unshare(2)` the given namespaces.
    Unshare {
        /// Which namespaces.
        namespaces: Vec<Namespace>,
    },
    /// Write `deny` to `/proc/<pid>/setgroups`.
    DenySetgroups,
    /// Write `/proc/<pid>/uid_map`.
    WriteUidMap {
        /// The map text.
        map: String,
    },
    /// Write `/proc/<pid>/gid_map`.
    WriteGidMap {
        /// The map text.
        map: String,
    },
    /// `setresgid(0)`, `setresuid(0)`: become root *of the namespace*. Until then
    /// our ids may be unmapped there (root outside is not in a `0 100000 65536`
    /// map), and creating a file would fail with EOVERFLOW.
    BecomeNsRoot,
    /// `fork(2)`: with a new PID namespace, the child is its PID 1.
    Fork {
        /// Whether the child lands in a new PID namespace (and so is its PID 1).
        pid1: bool,
    },
    /// Make every mount in our new mount namespace private.
    MakeRprivate,
    /// `sethostname(2)`.
    SetHostname {
        /// The new name.
        name: String,
    },
    /// Bind-mount the rootfs onto itself, so it is a mount point.
    BindRootfs {
        /// The rootfs directory.
        rootfs: PathBuf,
    },
    /// Mount a fresh tmpfs on `<rootfs>/dev`.
    MountDevTmpfs {
        /// The target (`<rootfs>/dev`).
        target: PathBuf,
    },
    /// Bind-mount a host device node into the new `/dev`.
    BindDevice {
        /// Device name under `/dev`.
        name: String,
        /// The target (`<rootfs>/dev/<name>`).
        target: PathBuf,
    },
    /// `pivot_root(2)`: the rootfs becomes `/`, the old root moves under it.
    PivotRoot {
        /// The new root.
        rootfs: PathBuf,
    },
    /// Mount a fresh procfs.
    MountProc {
        /// Where (`/proc`).
        target: PathBuf,
    },
    /// Lazily unmount the old root and remove its mount point.
    DetachOldRoot,
    /// `chdir(2)` into the working directory.
    Chdir {
        /// The directory.
        dir: String,
    },
    /// `execve(2)` the program.
    Exec {
        /// The program and its arguments.
        argv: Vec<String>,
    },
}

/// Where the old root sits after `pivot_root`, inside the new root.
pub const OLD_ROOT: &str = "oldroot";

impl Step {
    /// Which process performs it.
    pub fn actor(&self) -> Actor {
        match self {
            Step::JoinCgroup { .. }
            | Step::JoinNetns { .. }
            | Step::BecomeUser { .. }
            | Step::Unshare { .. }
            | Step::BecomeNsRoot
            | Step::Fork { .. } => Actor::Init,
            Step::DenySetgroups | Step::WriteUidMap { .. } | Step::WriteGidMap { .. } => {
                Actor::Parent
            }
            _ => Actor::Pid1,
        }
    }

    /// The system call(s), as a C programmer would write them.
    pub fn syscall(&self) -> String {
        match self {
            Step::JoinCgroup { procs } => format!("write({}, \"<pid>\")", procs.display()),
            Step::JoinNetns { path } => {
                format!("setns(open(\"{}\"), CLONE_NEWNET)", path.display())
            }
            Step::BecomeUser { uid, gid } => {
                format!("setgroups(0, NULL); setresgid({gid}); setresuid({uid})")
            }
            Step::Unshare { namespaces } => {
                let flags: Vec<&str> = namespaces.iter().map(|n| n.flag_name()).collect();
                format!("unshare({})", flags.join(" | "))
            }
            Step::DenySetgroups => "write(/proc/<pid>/setgroups, \"deny\")".into(),
            Step::WriteUidMap { map } => format!("write(/proc/<pid>/uid_map, \"{}\")", map.trim()),
            Step::WriteGidMap { map } => format!("write(/proc/<pid>/gid_map, \"{}\")", map.trim()),
            Step::BecomeNsRoot => "setresgid(0, 0, 0); setresuid(0, 0, 0)".into(),
            Step::Fork { .. } => "fork()".into(),
            Step::MakeRprivate => "mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL)".into(),
            Step::SetHostname { name } => format!("sethostname(\"{name}\")"),
            Step::BindRootfs { rootfs } => {
                let r = rootfs.display();
                format!("mount(\"{r}\", \"{r}\", NULL, MS_BIND | MS_REC, NULL)")
            }
            Step::MountDevTmpfs { target } => {
                format!(
                    "mount(\"tmpfs\", \"{}\", \"tmpfs\", MS_NOSUID, \"mode=755\")",
                    target.display()
                )
            }
            Step::BindDevice { name, target } => {
                format!(
                    "mount(\"/dev/{name}\", \"{}\", NULL, MS_BIND, NULL)",
                    target.display()
                )
            }
            Step::PivotRoot { rootfs } => {
                format!(
                    "chdir(\"{}\"); pivot_root(\".\", \"{OLD_ROOT}\"); chdir(\"/\")",
                    rootfs.display()
                )
            }
            Step::MountProc { target } => format!(
                "mount(\"proc\", \"{}\", \"proc\", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)",
                target.display()
            ),
            Step::DetachOldRoot => {
                format!("umount2(\"/{OLD_ROOT}\", MNT_DETACH); rmdir(\"/{OLD_ROOT}\")")
            }
            Step::Chdir { dir } => format!("chdir(\"{dir}\")"),
            Step::Exec { argv } => format!(
                "execve(\"{}\", …)",
                argv.first().map(String::as_str).unwrap_or("")
            ),
        }
    }

    /// The shell command a learner could type to do the same.
    pub fn command(&self) -> String {
        match self {
            Step::JoinCgroup { procs } => format!("echo $$ > {}", procs.display()),
            Step::JoinNetns { path } => format!("nsenter --net={}", path.display()),
            Step::BecomeUser { uid, gid } => {
                format!("setpriv --reuid={uid} --regid={gid} --clear-groups")
            }
            Step::Unshare { namespaces } => {
                let mut cmd = String::from("unshare");
                for ns in namespaces {
                    let _ = write!(cmd, " {}", ns.unshare_option());
                }
                if namespaces.contains(&Namespace::Pid) {
                    cmd.push_str(" --fork");
                }
                cmd
            }
            Step::DenySetgroups => "echo deny > /proc/$PID/setgroups".into(),
            Step::WriteUidMap { map } => format!("echo '{}' > /proc/$PID/uid_map", map.trim()),
            Step::WriteGidMap { map } => format!("echo '{}' > /proc/$PID/gid_map", map.trim()),
            Step::BecomeNsRoot => "(done by unshare --map-root-user)".into(),
            Step::Fork { pid1: true } => "(done by unshare --fork)".into(),
            Step::Fork { pid1: false } => "(the shell forks for every command)".into(),
            Step::MakeRprivate => "mount --make-rprivate /".into(),
            Step::SetHostname { name } => format!("hostname {name}"),
            Step::BindRootfs { rootfs } => {
                let r = rootfs.display();
                format!("mount --rbind {r} {r}")
            }
            Step::MountDevTmpfs { target } => {
                format!(
                    "mount -t tmpfs -o nosuid,mode=755 tmpfs {}",
                    target.display()
                )
            }
            Step::BindDevice { name, target } => {
                format!(
                    "touch {t} && mount --bind /dev/{name} {t}",
                    t = target.display()
                )
            }
            Step::PivotRoot { rootfs } => format!(
                "cd {} && mkdir -p {OLD_ROOT} && pivot_root . {OLD_ROOT} && cd /",
                rootfs.display()
            ),
            Step::MountProc { target } => {
                format!(
                    "mount -t proc -o nosuid,nodev,noexec proc {}",
                    target.display()
                )
            }
            Step::DetachOldRoot => format!("umount -l /{OLD_ROOT} && rmdir /{OLD_ROOT}"),
            Step::Chdir { dir } => format!("cd {dir}"),
            Step::Exec { argv } => format!("exec {}", shell_words(argv)),
        }
    }

    /// One sentence on why the step is there.
    pub fn explain(&self) -> String {
        match self {
            Step::JoinCgroup { .. } => {
                "move into the container's cgroup first: children inherit it".into()
            }
            Step::JoinNetns { .. } => {
                "join a network namespace prepared (and wired) by the caller, the OCI way".into()
            }
            Step::BecomeUser { uid, .. } => {
                format!("become an unprivileged user (uid {uid}) to show that no root is needed")
            }
            Step::Unshare { namespaces } if namespaces == &[Namespace::User] => {
                "a new user namespace first: it will own every namespace created after it".into()
            }
            Step::Unshare { namespaces } => {
                let names: Vec<String> = namespaces.iter().map(|n| n.to_string()).collect();
                let mut s = format!("new {} namespace(s)", names.join(", "));
                if namespaces.contains(&Namespace::Pid) {
                    s.push_str("; the PID namespace applies to our next child only");
                }
                s
            }
            Step::DenySetgroups => {
                "an unprivileged map writer must give up setgroups(2) before writing gid_map".into()
            }
            Step::WriteUidMap { .. } => {
                "the parent maps uids: now root inside is an ordinary uid outside".into()
            }
            Step::WriteGidMap { .. } => "the same for group ids".into(),
            Step::BecomeNsRoot => {
                "take the ids that are root inside; unmapped ids can create no files".into()
            }
            Step::Fork { pid1: true } => "the child is PID 1 in the new PID namespace".into(),
            Step::Fork { pid1: false } => {
                "the child does the rest; init waits for it and exits with its status".into()
            }
            Step::MakeRprivate => "stop mount events from propagating to the host; pivot_root \
                                   also fails with EINVAL while / is a shared mount"
                .into(),
            Step::SetHostname { .. } => "only our UTS namespace sees the new name".into(),
            Step::BindRootfs { .. } => "pivot_root needs the new root to be a mount point".into(),
            Step::MountDevTmpfs { .. } => "a private /dev with only the devices we allow".into(),
            Step::BindDevice { .. } => {
                "borrow the host's device node (mknod is not allowed in a user namespace)".into()
            }
            Step::PivotRoot { .. } => {
                "the rootfs becomes / ; the host's root is now /oldroot".into()
            }
            Step::MountProc { .. } => {
                "a fresh /proc that shows only the processes of our PID namespace".into()
            }
            Step::DetachOldRoot => {
                "detach the host's root: nothing of it is reachable any more".into()
            }
            Step::Chdir { .. } => "start in the working directory".into(),
            Step::Exec { .. } => "replace ourselves with the container's program".into(),
        }
    }
}

/// Quotes `argv` so a shell would split it back the same way; a script of
/// several lines is shortened to its first line, for the narration.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let lines: Vec<&str> = a.trim().lines().collect();
            if lines.len() > 1 {
                return format!(
                    "'{} …' ({} lines)",
                    lines[0].replace('\'', r"'\''"),
                    lines.len()
                );
            }
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Computes the steps that build a container as `spec` describes.
pub fn plan(spec: &Spec) -> Vec<Step> {
    let has = |ns| spec.namespaces.contains(&ns);
    let mut steps = Vec::new();
    for procs in &spec.cgroup_procs {
        steps.push(Step::JoinCgroup {
            procs: procs.clone(),
        });
    }
    if let Some(path) = &spec.netns {
        steps.push(Step::JoinNetns { path: path.clone() });
    }
    if let Some((uid, gid)) = spec.become_user {
        steps.push(Step::BecomeUser { uid, gid });
    }
    if has(Namespace::User) {
        steps.push(Step::Unshare {
            namespaces: vec![Namespace::User],
        });
        if let Some(map) = &spec.id_map {
            if map.deny_setgroups {
                steps.push(Step::DenySetgroups);
            }
            steps.push(Step::WriteUidMap {
                map: map.uid_map_text(),
            });
            steps.push(Step::WriteGidMap {
                map: map.gid_map_text(),
            });
            steps.push(Step::BecomeNsRoot);
        }
    }
    let rest: Vec<Namespace> = Namespace::ALL
        .iter()
        .copied()
        .filter(|ns| *ns != Namespace::User && has(*ns))
        .filter(|ns| !(*ns == Namespace::Net && spec.netns.is_some()))
        .collect();
    if !rest.is_empty() {
        steps.push(Step::Unshare { namespaces: rest });
    }
    steps.push(Step::Fork {
        pid1: has(Namespace::Pid),
    });
    if has(Namespace::Mnt) {
        steps.push(Step::MakeRprivate);
    }
    if let Some(name) = &spec.hostname {
        steps.push(Step::SetHostname { name: name.clone() });
    }
    if let Some(rootfs) = &spec.rootfs {
        steps.push(Step::BindRootfs {
            rootfs: rootfs.clone(),
        });
        let dev = rootfs.join("dev");
        steps.push(Step::MountDevTmpfs {
            target: dev.clone(),
        });
        for name in DEVICES {
            steps.push(Step::BindDevice {
                name: name.into(),
                target: dev.join(name),
            });
        }
        steps.push(Step::PivotRoot {
            rootfs: rootfs.clone(),
        });
        steps.push(Step::MountProc {
            target: "/proc".into(),
        });
        steps.push(Step::DetachOldRoot);
    } else if spec.mount_proc && has(Namespace::Mnt) {
        steps.push(Step::MountProc {
            target: "/proc".into(),
        });
    }
    let workdir = spec
        .workdir
        .clone()
        .or_else(|| spec.rootfs.as_ref().map(|_| "/".into()));
    if let Some(dir) = workdir {
        steps.push(Step::Chdir { dir });
    }
    steps.push(Step::Exec {
        argv: spec.argv.clone(),
    });
    steps
}

/// Checks a spec before anything is created, with errors that say what to change.
pub fn validate(spec: &Spec) -> Result<(), String> {
    let has = |ns| spec.namespaces.contains(&ns);
    if spec.argv.is_empty() {
        return Err("no program to run: give the container a command".into());
    }
    if spec.hostname.is_some() && !has(Namespace::Uts) {
        return Err(
            "setting a hostname needs a UTS namespace: add `uts`, or the host's \
                    hostname would change"
                .into(),
        );
    }
    if spec.rootfs.is_some() && !has(Namespace::Mnt) {
        return Err("pivot_root into a rootfs needs a mount namespace: add `mnt`".into());
    }
    if spec.mount_proc && !has(Namespace::Mnt) {
        return Err(
            "mounting a fresh /proc needs a mount namespace: add `mnt`, or the \
                    host's /proc would be covered"
                .into(),
        );
    }
    if spec.id_map.is_some() && !has(Namespace::User) {
        return Err("id maps belong to a user namespace: add `user`".into());
    }
    if has(Namespace::User) && spec.id_map.is_none() {
        return Err("a user namespace needs id maps (IdMap::root_is or IdMap::range)".into());
    }
    if spec.netns.is_some() && has(Namespace::Net) {
        return Err("either join a network namespace or create a new one, not both".into());
    }
    if let Some(name) = &spec.hostname {
        if name.is_empty() || name.len() > 64 {
            return Err(format!("hostname {name:?} must be 1 to 64 bytes long"));
        }
    }
    Ok(())
}

/// The namespaces of `spec` as the one `unshare(1)` command that would create them.
pub fn unshare_command(spec: &Spec) -> String {
    let mut cmd = String::from("unshare");
    for ns in &spec.namespaces {
        let _ = write!(cmd, " {}", ns.unshare_option());
    }
    if spec.namespaces.contains(&Namespace::Pid) {
        cmd.push_str(" --fork");
    }
    if spec.mount_proc {
        cmd.push_str(" --mount-proc");
    }
    if spec.namespaces.contains(&Namespace::User) {
        cmd.push_str(" --map-root-user");
    }
    let _ = write!(cmd, " {}", shell_words(&spec.argv));
    cmd
}

/// The clone flags of everything `spec` creates.
pub fn all_flags(spec: &Spec) -> nix::sched::CloneFlags {
    namespace::clone_flags(&spec.namespaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(steps: &[Step]) -> String {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{:>2}. [{:?}] {}\n      $ {}\n      # {}\n",
                    i + 1,
                    s.actor(),
                    s.syscall(),
                    s.command(),
                    s.explain()
                )
            })
            .collect()
    }

    fn spec(ns: &[Namespace]) -> Spec {
        Spec {
            argv: vec!["hostname".into()],
            namespaces: ns.to_vec(),
            ..Spec::default()
        }
    }

    #[test]
    fn uts_plan() {
        let mut s = spec(&[Namespace::Uts]);
        s.hostname = Some("ch01-uts".into());
        insta::assert_snapshot!(render(&plan(&s)));
    }

    #[test]
    fn full_container_plan() {
        let mut s = spec(&Namespace::ALL);
        s.argv = vec!["/bin/sh".into()];
        s.hostname = Some("ch01-shell".into());
        s.rootfs = Some("/tmp/rootfs".into());
        s.id_map = Some(IdMap::range(100000, 65536));
        s.cgroup_procs = vec!["/sys/fs/cgroup/memory/demo/cgroup.procs".into()];
        insta::assert_snapshot!(render(&plan(&s)));
    }

    #[test]
    fn unprivileged_user_plan() {
        let mut s = spec(&[Namespace::User]);
        s.argv = vec!["id".into()];
        s.become_user = Some((65534, 65534));
        s.id_map = Some(IdMap::root_is(65534, 65534));
        insta::assert_snapshot!(render(&plan(&s)));
    }

    #[test]
    fn joined_netns_is_not_unshared() {
        let mut s = spec(&[Namespace::Uts, Namespace::Net]);
        s.netns = Some("/run/netns/x".into());
        assert!(validate(&s).is_err());
        s.namespaces = vec![Namespace::Uts];
        assert!(validate(&s).is_ok());
        let steps = plan(&s);
        assert_eq!(
            steps[0],
            Step::JoinNetns {
                path: "/run/netns/x".into()
            }
        );
        assert_eq!(
            steps[1],
            Step::Unshare {
                namespaces: vec![Namespace::Uts]
            }
        );
    }

    #[test]
    fn validation_explains() {
        let mut s = spec(&[]);
        s.hostname = Some("x".into());
        assert!(validate(&s).unwrap_err().contains("add `uts`"));
        let mut s = spec(&[Namespace::Mnt]);
        s.rootfs = Some("/r".into());
        assert!(validate(&s).is_ok());
        s.argv.clear();
        assert!(validate(&s).unwrap_err().contains("command"));
    }

    #[test]
    fn unshare_command_reads_like_the_tool() {
        let mut s = spec(&[Namespace::Pid, Namespace::Mnt]);
        s.mount_proc = true;
        s.argv = vec!["sh".into(), "-c".into(), "echo $$".into()];
        assert_eq!(
            unshare_command(&s),
            "unshare --pid --mount --fork --mount-proc sh -c 'echo $$'"
        );
    }
}
