//! The guided demos: one per namespace, each showing the host's view and the
//! container's view of the same thing, side by side.
//!
//! Every demo returns a report of what was observed, so the tour prints it and
//! the tests assert on it. The observations are real: the inside view comes
//! from a program running in the container, the host view from this process or
//! from `/proc/<pid>` of the container's PID 1 while it is still alive.

use crate::container::{spawn, Config, Error as ContainerError};
use crate::namespace::Namespace;
use crate::plan::IdMap;
use crate::rootfs;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

/// What went wrong in a demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Making the container failed.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// Building the rootfs failed.
    #[error(transparent)]
    Rootfs(#[from] rootfs::RootfsError),
    /// Reading or writing a file or pipe failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The container did not print what the demo expected.
    #[error("the container's output was not as expected ({0}); its output was shown above")]
    Unexpected(String),
}

fn io<E: Into<std::io::Error>>(what: &str) -> impl FnOnce(E) -> DemoError + '_ {
    move |e| DemoError::Io {
        what: what.to_string(),
        source: e.into(),
    }
}

/// Settings shared by all demos.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print each step as it happens.
    pub narrate: bool,
    /// The binary re-exec'd as the container's init (default: this one).
    pub init_binary: Option<PathBuf>,
}

impl Options {
    fn config(&self, argv: Vec<String>, namespaces: &[Namespace]) -> Config {
        let mut c = Config::new(argv);
        c.namespaces = namespaces.to_vec();
        c.narrate = self.narrate;
        c.init_binary = self.init_binary.clone();
        c
    }
}

fn busybox() -> Result<String, DemoError> {
    Ok(rootfs::find_busybox()?.to_string_lossy().into_owned())
}

fn sh(script: &str) -> Result<Vec<String>, DemoError> {
    Ok(vec![busybox()?, "sh".into(), "-c".into(), script.into()])
}

/// Runs a container to the end and returns its standard output.
fn run_capture(mut config: Config) -> Result<(String, ExitStatus), DemoError> {
    config.stdout = Stdio::piped();
    config.stdin = Stdio::null();
    let mut child = spawn(config)?;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(io("read the container's output"))?;
    }
    let status = child.wait().map_err(io("wait for the container"))?;
    Ok((out, status))
}

/// Reads the container's output up to a line that is exactly `marker` (which
/// the container prints when it is ready to be looked at from outside).
fn read_until_marker(child: &mut crate::Child, marker: &str) -> Result<String, DemoError> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| DemoError::Unexpected("no stdout".into()))?;
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(io("read the container's output"))?;
        if line == marker {
            return Ok(text);
        }
        text.push_str(&line);
        text.push('\n');
    }
    Err(DemoError::Unexpected(format!(
        "it ended before printing {marker:?}: {text}"
    )))
}

/// A key/value line `key value…` from a container's output.
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Two columns: the host's view and the container's.
fn side_by_side(f: &mut fmt::Formatter<'_>, rows: &[(&str, String, String)]) -> fmt::Result {
    let w1 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(4);
    let w2 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(f, "  {:<w1$}   {:<w2$}   INSIDE", "", "HOST")?;
    for (what, host, inside) in rows {
        writeln!(f, "  {what:<w1$}   {host:<w2$}   {inside}")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- UTS

/// What the UTS demo saw.
#[derive(Debug, Clone)]
pub struct UtsReport {
    /// The host's hostname before.
    pub host_before: String,
    /// The hostname the container's `hostname` printed.
    pub inside: String,
    /// The host's hostname after.
    pub host_after: String,
}

/// UTS: set a hostname inside; the host's does not change.
pub fn uts(opts: &Options, name: &str) -> Result<UtsReport, DemoError> {
    let host_before = hostname();
    let mut c = opts.config(vec![busybox()?, "hostname".into()], &[Namespace::Uts]);
    c.hostname = Some(name.into());
    let (out, _) = run_capture(c)?;
    Ok(UtsReport {
        host_before,
        inside: out.trim().to_string(),
        host_after: hostname(),
    })
}

impl fmt::Display for UtsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        side_by_side(
            f,
            &[
                ("hostname before", self.host_before.clone(), "-".into()),
                ("hostname", self.host_after.clone(), self.inside.clone()),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------- PID

/// What the PID demo saw.
#[derive(Debug, Clone)]
pub struct PidReport {
    /// `$$` of the shell inside.
    pub inside_pid: u32,
    /// The same process's pid on the host.
    pub host_pid: i32,
    /// The pids listed in the fresh `/proc` inside.
    pub inside_pids: Vec<u32>,
    /// How many processes the host's `/proc` lists.
    pub host_process_count: usize,
    /// The orphan's pid inside.
    pub orphan_pid: u32,
    /// The orphan's parent after its own parent exited.
    pub orphan_ppid: u32,
    /// Whether the orphan was gone (reaped) after it exited.
    pub orphan_reaped: bool,
}

const PID_SCRIPT: &str = r#"
echo "pid $$"
o=$($BB sh -c "$BB sleep 0.3 </dev/null >/dev/null 2>&1 & echo \$!")
echo "orphan $o"
echo "orphan-ppid $($BB awk '{print $4}' /proc/$o/stat)"
$BB sleep 0.8
if [ -e /proc/$o ]; then echo "orphan-state $($BB awk '{print $3}' /proc/$o/stat)"; else echo "orphan-reaped yes"; fi
echo "pids $($BB ls /proc | $BB grep -E '^[0-9]+$' | $BB tr '\n' ' ')"
"#;

/// PID: the shell inside is PID 1, sees only its own processes, adopts an
/// orphan and reaps it.
pub fn pid(opts: &Options) -> Result<PidReport, DemoError> {
    let mut c = opts.config(sh(PID_SCRIPT)?, &[Namespace::Pid, Namespace::Mnt]);
    c.mount_proc = true;
    c.env.push(format!("BB={}", busybox()?));
    c.stdout = Stdio::piped();
    let mut child = spawn(c)?;
    let host_pid = child.pid().as_raw();
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out)
            .map_err(io("read the container's output"))?;
    }
    child.wait().map_err(io("wait for the container"))?;
    let num = |k: &str| field(&out, k).and_then(|v| v.trim().parse::<u32>().ok());
    let host_process_count = std::fs::read_dir("/proc")
        .map_err(io("list /proc"))?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .count();
    Ok(PidReport {
        inside_pid: num("pid").ok_or_else(|| DemoError::Unexpected(out.clone()))?,
        host_pid,
        inside_pids: field(&out, "pids")
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        host_process_count,
        orphan_pid: num("orphan").unwrap_or(0),
        orphan_ppid: num("orphan-ppid").unwrap_or(0),
        orphan_reaped: field(&out, "orphan-reaped").is_some(),
    })
}

impl fmt::Display for PidReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pids: Vec<String> = self.inside_pids.iter().map(u32::to_string).collect();
        side_by_side(
            f,
            &[
                (
                    "the shell's pid",
                    self.host_pid.to_string(),
                    self.inside_pid.to_string(),
                ),
                (
                    "processes seen",
                    self.host_process_count.to_string(),
                    format!("{} ({})", pids.len(), pids.join(" ")),
                ),
                (
                    "orphan's parent",
                    "-".into(),
                    format!(
                        "pid {} was adopted by pid {}",
                        self.orphan_pid, self.orphan_ppid
                    ),
                ),
                (
                    "orphan after exit",
                    "-".into(),
                    if self.orphan_reaped {
                        "reaped by PID 1: no zombie".into()
                    } else {
                        "still there: a zombie".into()
                    },
                ),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------- IPC

/// A System V message queue made on the host, removed on drop.
#[derive(Debug)]
pub struct HostQueue {
    /// Its key.
    pub key: i32,
    id: i32,
}

impl HostQueue {
    /// `ipcmk -Q`: makes a queue with a key of our own (derived from our pid).
    pub fn create() -> Result<HostQueue, DemoError> {
        let base = 0x0c01_0000 | (std::process::id() as i32 & 0xffff) << 4;
        for n in 0..16 {
            match crate::sys::msgget_create(base + n) {
                Ok(id) => return Ok(HostQueue { key: base + n, id }),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(e) => return Err(io("msgget(IPC_CREAT)")(e)),
            }
        }
        Err(DemoError::Unexpected("no free message queue key".into()))
    }
}

impl Drop for HostQueue {
    fn drop(&mut self) {
        let _ = crate::sys::msgctl_remove(self.id);
    }
}

/// The keys listed in a `/proc/sysvipc/msg` text.
pub fn sysv_keys(text: &str) -> Vec<i32> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// What the IPC demo saw.
#[derive(Debug, Clone)]
pub struct IpcReport {
    /// The queue's key.
    pub key: i32,
    /// Whether the host's `/proc/sysvipc/msg` lists it.
    pub host_sees: bool,
    /// Whether the container's lists it.
    pub inside_sees: bool,
    /// How many queues the container sees at all.
    pub inside_count: usize,
}

/// IPC: a message queue made on the host is invisible inside.
pub fn ipc(opts: &Options) -> Result<IpcReport, DemoError> {
    let queue = HostQueue::create()?;
    let host =
        std::fs::read_to_string("/proc/sysvipc/msg").map_err(io("read /proc/sysvipc/msg"))?;
    let c = opts.config(
        vec![busybox()?, "cat".into(), "/proc/sysvipc/msg".into()],
        &[Namespace::Ipc],
    );
    let (out, _) = run_capture(c)?;
    let inside = sysv_keys(&out);
    Ok(IpcReport {
        key: queue.key,
        host_sees: sysv_keys(&host).contains(&queue.key),
        inside_sees: inside.contains(&queue.key),
        inside_count: inside.len(),
    })
}

impl fmt::Display for IpcReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| {
            if b {
                "listed".to_string()
            } else {
                "not there".to_string()
            }
        };
        side_by_side(
            f,
            &[
                (
                    &format!("queue {:#x}", self.key),
                    yes(self.host_sees),
                    yes(self.inside_sees),
                ),
                ("queues in total", "-".into(), self.inside_count.to_string()),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------- MNT

/// What the MNT demo saw.
#[derive(Debug, Clone)]
pub struct MntReport {
    /// The source name of the tmpfs mounted inside.
    pub source: String,
    /// Whether the container's mount table had it.
    pub inside_sees: bool,
    /// Whether the host's mount table had it, while the container was running.
    pub host_sees: bool,
    /// Mount points inside after pivot_root.
    pub inside_mounts: Vec<String>,
    /// Number of mounts on the host.
    pub host_mount_count: usize,
    /// The container's `/etc/os-release` NAME (it is the rootfs's, not the host's).
    pub inside_os: String,
}

/// Mount points (field 5) of a mountinfo text.
pub fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .collect()
}

/// MNT: pivot into a busybox rootfs; a tmpfs mounted inside is invisible on the
/// host, checked while the container is still running.
pub fn mnt(opts: &Options) -> Result<MntReport, DemoError> {
    let dir = tempfile::Builder::new()
        .prefix("chapter01-mnt-")
        .tempdir()
        .map_err(io("make a temp dir"))?;
    let rootfs = rootfs::build_busybox_rootfs(&dir.path().join("rootfs"))?;
    let source = format!("ch01-mnt-{}", std::process::id());
    let script = format!(
        "mount -t tmpfs {source} /mnt && . /etc/os-release && echo \"os $NAME\" && \
         cat /proc/self/mountinfo && echo mounted && read _"
    );
    let mut c = opts.config(
        vec!["/bin/sh".into(), "-c".into(), script],
        &[Namespace::Mnt],
    );
    c.rootfs = Some(rootfs.path.clone());
    c.stdin = Stdio::piped();
    c.stdout = Stdio::piped();
    let mut child = spawn(c)?;
    let text = read_until_marker(&mut child, "mounted")?;
    let os = field(&text, "os").unwrap_or("").to_string();
    let inside: String = text
        .lines()
        .filter(|l| !l.starts_with("os "))
        .map(|l| format!("{l}\n"))
        .collect();
    // The container is alive and its tmpfs mounted right now. Look from here.
    let host = std::fs::read_to_string("/proc/self/mountinfo").map_err(io("read mountinfo"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"\n");
    }
    child.wait().map_err(io("wait for the container"))?;
    let has_source = |text: &str| text.lines().any(|l| l.contains(&format!(" {source} ")));
    Ok(MntReport {
        inside_sees: has_source(&inside),
        host_sees: has_source(&host),
        inside_mounts: mount_points(&inside),
        host_mount_count: mount_points(&host).len(),
        inside_os: os,
        source,
    })
}

impl fmt::Display for MntReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| {
            if b {
                "mounted".to_string()
            } else {
                "not there".to_string()
            }
        };
        side_by_side(
            f,
            &[
                (
                    "/etc/os-release",
                    "(the host's)".into(),
                    self.inside_os.clone(),
                ),
                (
                    "mounts",
                    self.host_mount_count.to_string(),
                    format!(
                        "{} ({})",
                        self.inside_mounts.len(),
                        self.inside_mounts.join(" ")
                    ),
                ),
                (
                    &format!("tmpfs {}", self.source),
                    yes(self.host_sees),
                    yes(self.inside_sees),
                ),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------- NET

/// What the NET demo saw.
#[derive(Debug, Clone)]
pub struct NetReport {
    /// Network interfaces of the host.
    pub host_links: Vec<String>,
    /// Interfaces inside, with whether each is up.
    pub inside_links: Vec<(String, bool)>,
}

/// Parses `ip -o link` output into (name, up) pairs.
pub fn parse_ip_link(out: &str) -> Vec<(String, bool)> {
    out.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ": ");
            parts.next()?;
            let name = parts.next()?.split('@').next()?.to_string();
            let flags = l.split('<').nth(1)?.split('>').next()?;
            Some((name, flags.split(',').any(|f| f == "UP")))
        })
        .collect()
}

/// NET: a new network namespace has only `lo`, and it is down.
pub fn net(opts: &Options) -> Result<NetReport, DemoError> {
    let mut host_links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map_err(io("list /sys/class/net"))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host_links.sort();
    let c = opts.config(
        vec![busybox()?, "ip".into(), "-o".into(), "link".into()],
        &[Namespace::Net],
    );
    let (out, _) = run_capture(c)?;
    Ok(NetReport {
        host_links,
        inside_links: parse_ip_link(&out),
    })
}

impl fmt::Display for NetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inside: Vec<String> = self
            .inside_links
            .iter()
            .map(|(n, up)| format!("{n} ({})", if *up { "UP" } else { "DOWN" }))
            .collect();
        side_by_side(
            f,
            &[("interfaces", self.host_links.join(" "), inside.join(" "))],
        )
    }
}

// ---------------------------------------------------------------------------------- USER

/// What the USER demo saw.
#[derive(Debug, Clone)]
pub struct UserReport {
    /// Our uid outside (the user the container's root maps to).
    pub outside_uid: u32,
    /// `id -u` inside.
    pub inside_uid: u32,
    /// `id -g` inside.
    pub inside_gid: u32,
    /// `/proc/self/uid_map` inside.
    pub uid_map: String,
    /// The container's PID 1 as the host sees it (`Uid:` of `/proc/<pid>/status`).
    pub host_view_uid: u32,
    /// `CapEff` inside.
    pub cap_eff: String,
    /// What `ls /root` said inside (the host's `/root` is not ours).
    pub root_dir: String,
}

const USER_SCRIPT: &str = r#"
echo "uid $($BB id -u)"
echo "gid $($BB id -g)"
echo "uid_map $($BB cat /proc/self/uid_map | $BB tr -s ' ')"
echo "cap $($BB grep CapEff /proc/self/status | $BB cut -f2)"
echo "root-dir $($BB ls /root 2>&1 | $BB head -n1)"
echo ready
read _
"#;

/// USER: an unprivileged user is root in its own user namespace. When the tour
/// runs as root, it first becomes `nobody` to show that no privilege is needed.
pub fn user(opts: &Options) -> Result<UserReport, DemoError> {
    let mut c = opts.config(sh(USER_SCRIPT)?, &[Namespace::User]);
    c.env.push(format!("BB={}", busybox()?));
    if nix::unistd::geteuid().is_root() {
        c.become_user = Some((65534, 65534));
    }
    let outside_uid = c
        .become_user
        .map(|(u, _)| u)
        .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
    c.stdin = Stdio::piped();
    c.stdout = Stdio::piped();
    let mut child = spawn(c)?;
    let out = read_until_marker(&mut child, "ready")?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.pid()))
        .map_err(io("read the container's /proc/<pid>/status"))?;
    let host_view_uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(u32::MAX);
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"\n");
    }
    child.wait().map_err(io("wait for the container"))?;
    let num = |k: &str| field(&out, k).and_then(|v| v.trim().parse::<u32>().ok());
    Ok(UserReport {
        outside_uid,
        inside_uid: num("uid").ok_or_else(|| DemoError::Unexpected(out.clone()))?,
        inside_gid: num("gid").unwrap_or(u32::MAX),
        uid_map: field(&out, "uid_map").unwrap_or("").trim().to_string(),
        host_view_uid,
        cap_eff: field(&out, "cap").unwrap_or("").trim().to_string(),
        root_dir: field(&out, "root-dir").unwrap_or("").trim().to_string(),
    })
}

impl fmt::Display for UserReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        side_by_side(
            f,
            &[
                (
                    "uid",
                    self.host_view_uid.to_string(),
                    self.inside_uid.to_string(),
                ),
                (
                    "uid_map",
                    "-".into(),
                    format!("{} (inside outside count)", self.uid_map),
                ),
                (
                    "capabilities",
                    "none".into(),
                    format!("CapEff {} (all, but only here)", self.cap_eff),
                ),
                ("ls /root", "-".into(), self.root_dir.clone()),
            ],
        )
    }
}

// ------------------------------------------------------------------------------- CGROUP

/// What the CGROUP demo saw.
#[derive(Debug, Clone)]
pub struct CgroupReport {
    /// `/proc/self/cgroup` of this process (the container starts in the same cgroups).
    pub host: String,
    /// `/proc/self/cgroup` inside a new cgroup namespace.
    pub inside: String,
}

/// CGROUP: inside a new cgroup namespace the current cgroup becomes `/`.
pub fn cgroup(opts: &Options) -> Result<CgroupReport, DemoError> {
    let host =
        std::fs::read_to_string("/proc/self/cgroup").map_err(io("read /proc/self/cgroup"))?;
    let c = opts.config(
        vec![busybox()?, "cat".into(), "/proc/self/cgroup".into()],
        &[Namespace::Cgroup],
    );
    let (inside, _) = run_capture(c)?;
    Ok(CgroupReport { host, inside })
}

/// The cgroup paths (third field) of a `/proc/<pid>/cgroup` text.
pub fn cgroup_paths(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.splitn(3, ':').nth(2).map(String::from))
        .collect()
}

impl fmt::Display for CgroupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<(String, String, String)> = self
            .host
            .lines()
            .zip(self.inside.lines())
            .map(|(h, i)| {
                let mut hp = h.splitn(3, ':');
                let ip = i.splitn(3, ':').nth(2).unwrap_or("");
                let _ = hp.next();
                let ctl = hp.next().unwrap_or("");
                let ctl = if ctl.is_empty() { "(v2)" } else { ctl };
                (
                    ctl.to_string(),
                    hp.next().unwrap_or("").to_string(),
                    ip.to_string(),
                )
            })
            .collect();
        let rows: Vec<(&str, String, String)> = rows
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.clone(), c.clone()))
            .collect();
        side_by_side(f, &rows)
    }
}

// -------------------------------------------------------------------------------- SHELL

/// The uid range the shell's root maps to when the tour runs as root (like
/// Docker's `userns-remap`, which takes it from `/etc/subuid`).
pub const SHELL_UID_BASE: u32 = 100_000;

/// SHELL: an interactive shell in all seven namespaces at once, pivoted into a
/// busybox rootfs. Returns the shell's exit status.
pub fn shell(opts: &Options, hostname: &str) -> Result<ExitStatus, DemoError> {
    let dir = tempfile::Builder::new()
        .prefix("chapter01-shell-")
        .tempdir()
        .map_err(io("make a temp dir"))?;
    // The container's root must be able to walk down to its rootfs.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(io("chmod the temp dir"))?;
    let rootfs = rootfs::build_busybox_rootfs(&dir.path().join("rootfs"))?;
    let mut c = opts.config(vec!["/bin/sh".into(), "-l".into()], &Namespace::ALL);
    if nix::unistd::geteuid().is_root() {
        rootfs::chown_tree(&rootfs.path, SHELL_UID_BASE, SHELL_UID_BASE)?;
        c.id_map = Some(IdMap::range(SHELL_UID_BASE, 65536));
    }
    c.rootfs = Some(rootfs.path.clone());
    c.hostname = Some(hostname.into());
    c.env.push("HOME=/root".into());
    c.env.push(format!(
        "TERM={}",
        std::env::var("TERM").unwrap_or_else(|_| "xterm".into())
    ));
    let mut child = spawn(c)?;
    let status = child.wait().map_err(io("wait for the shell"));
    take_back_terminal();
    drop(dir);
    status
}

/// An interactive shell makes itself the terminal's foreground process group;
/// when it is gone, take the terminal back so this program can go on printing.
fn take_back_terminal() {
    use nix::sys::signal::Signal;
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        let _ = crate::sys::set_signal_ignored(Signal::SIGTTOU, true);
        let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
        let _ = crate::sys::set_signal_ignored(Signal::SIGTTOU, false);
    }
}

/// Prints `path`'s state for the leak checks of the tests: is it still a mount?
pub fn still_mounted(path: &Path) -> bool {
    crate::container::is_mount_point(path).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_link() {
        let out = "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
                   2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n";
        assert_eq!(
            parse_ip_link(out),
            vec![("lo".into(), false), ("eth0".into(), true)]
        );
    }

    #[test]
    fn parses_sysv_keys() {
        let text = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n\
                    201392128          0   600           0          0     0     0     0     0     0     0          0          0 1700000000\n";
        assert_eq!(sysv_keys(text), vec![201392128]);
        assert!(sysv_keys(text.lines().next().unwrap()).is_empty());
    }

    #[test]
    fn parses_cgroup_paths() {
        assert_eq!(
            cgroup_paths("4:memory:/a/b\n0::/\n"),
            vec!["/a/b".to_string(), "/".to_string()]
        );
    }
}
