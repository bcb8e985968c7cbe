//! Helpers for the runtime tests: bundles with a busybox rootfs, unique ids,
//! and running the `mini-runc` binary. Everything made here is removed on drop.

use crate::eventually;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The `mini-runc` binary (see [`crate::bin`]).
pub fn mini_runc() -> String {
    crate::bin_str("mini-runc")
}

/// `mini-runc --root ROOT state ID` as JSON: how a test checks that
/// mini-runc (and not another runtime) made a container that dockerd or
/// containerd runs, under the state root they gave it.
pub fn mini_runc_state(root: &Path, id: &str) -> serde_json::Value {
    let o = Command::new(mini_runc())
        .arg("--root")
        .arg(root)
        .args(["state", id])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "mini-runc state {id}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A unique, readable id for a container of this test run.
pub fn unique_id(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "mrt-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A bundle in a temp dir: `rootfs/` (busybox) and `config.json`.
pub struct Bundle {
    /// The bundle directory.
    pub dir: tempfile::TempDir,
    /// `config.json` as JSON: change it, then [`Bundle::save`].
    pub config: serde_json::Value,
    /// The container id this bundle is meant for.
    pub id: String,
}

impl Bundle {
    /// A bundle from `mini-runc spec`, without a terminal, running `args`.
    pub fn new(tag: &str, args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("mini-runc-test-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        namespaces::rootfs::build_busybox_rootfs(&dir.path().join("rootfs")).unwrap();
        let out = Command::new(mini_runc())
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = unique_id(tag);
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
        config["root"]["readonly"] = false.into();
        config["hostname"] = id.clone().into();
        config["linux"]["cgroupsPath"] = format!("/mini-runc-test/{id}").into();
        let b = Bundle { dir, config, id };
        b.save();
        b
    }

    /// A bundle whose config is Docker 20.10's default spec for a container
    /// (captured from a real `docker run`, with its host-specific parts removed).
    pub fn docker_default(tag: &str, args: &[&str]) -> Bundle {
        let mut b = Bundle::new(tag, args);
        let text = include_str!("../fixtures/docker-20.10-default-config.json");
        let mut c: serde_json::Value = serde_json::from_str(text).unwrap();
        c["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
        c["hostname"] = b.id.clone().into();
        c["linux"]["cgroupsPath"] = format!("/mini-runc-test/{}", b.id).into();
        b.config = c;
        b.save();
        b
    }

    /// Writes [`Bundle::config`] to `config.json`.
    pub fn save(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its `rootfs/`.
    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }
}

/// A state root for one test, removed (with any container left in it) on drop.
pub struct Root {
    /// The state root (`--root`).
    pub dir: tempfile::TempDir,
}

impl Default for Root {
    fn default() -> Root {
        Root {
            dir: tempfile::Builder::new()
                .prefix("mini-runc-root-")
                .tempdir()
                .unwrap(),
        }
    }
}

impl Root {
    /// An empty state root in a temp dir.
    pub fn new() -> Root {
        Root::default()
    }

    /// The state root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `mini-runc --root <root> args…`. Its output goes through files,
    /// not pipes: a created container keeps the runtime's stdio open (it is
    /// the container's), so waiting for EOF on a pipe would wait for the
    /// container.
    pub fn runc(&self, args: &[&str]) -> Output {
        crate::cli::capture(
            Command::new(self.binary())
                .arg("--root")
                .arg(self.path())
                .args(args),
        )
    }

    /// mini-runc; unchecked once looked up (a drop must not panic).
    fn binary(&self) -> PathBuf {
        if std::thread::panicking() {
            crate::profile_dir().join("mini-runc")
        } else {
            crate::bin("mini-runc")
        }
    }

    /// Like [`Root::runc`], failing the test unless it succeeded.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.runc(args);
        assert!(
            out.status.success(),
            "mini-runc {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `state` as JSON.
    pub fn state(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir(self.path()) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.runc(&["delete", "--force", &id]);
            }
        }
    }
}

/// True while any cgroup directory of the test container exists.
pub fn cgroup_exists(id: &str) -> bool {
    crate::host::cgroup_exists_under("mini-runc-test", id)
}

/// What a process sees of its container, one fact per line.
pub const PROBE: &str = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Uid|Gid|Groups):' /proc/self/status | tr -s '\\t ' ' '; \
    echo hostname-is-id=$( [ \"$(hostname)\" = \"$HOSTNAME\" ] && echo yes || echo no ); \
    echo nofile=$(ulimit -n); echo cwd=$(pwd); \
    echo dev=$(ls /dev | tr '\\n' ' '); \
    echo fds=$(ls /proc/self/fd | tr '\\n' ' '); \
    echo kcore=$(cat /proc/kcore | wc -c); echo keys=$(cat /proc/keys 2>&1 | wc -c); \
    echo memlimit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); \
    echo pidsmax=$(cat /sys/fs/cgroup/pids/pids.max); \
    (echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null && echo procsys=rw || echo procsys=ro; \
    (unshare -U true) 2>/dev/null && echo unshare=ok || echo unshare=refused; \
    cat /proc/self/mountinfo | cut -d' ' -f5,6,9 | sort";

/// Lines of a probe's output, with the one known, documented difference
/// between runtimes folded: runc names the source of the name=systemd
/// hierarchy "systemd", mini-runc says "cgroup".
pub fn normalize_probe(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.replace("relatime systemd", "relatime cgroup"))
        // A documented difference: the spec marks the cgroup mount `ro`;
        // mini-runc mounts the v1 tmpfs at /sys/fs/cgroup read-only as asked,
        // runc 1.1 leaves the tmpfs itself writable (only the hierarchies
        // under it are read-only). The line is compared without its rw/ro.
        .map(|l| match l.strip_prefix("/sys/fs/cgroup r") {
            Some(rest)
                if l.ends_with(" tmpfs") && (rest.starts_with("w,") || rest.starts_with("o,")) =>
            {
                format!("/sys/fs/cgroup r?{}", &rest[1..])
            }
            _ => l,
        })
        .collect()
}

/// The lines only one side has, labelled.
pub fn probe_differences(a_name: &str, a: &str, b_name: &str, b: &str) -> Vec<String> {
    let (a, b) = (normalize_probe(a), normalize_probe(b));
    a.iter()
        .filter(|l| !b.contains(l))
        .map(|l| format!("{a_name} only: {l}"))
        .chain(
            b.iter()
                .filter(|l| !a.contains(l))
                .map(|l| format!("{b_name} only: {l}")),
        )
        .collect()
}

/// The propagation fields of a mountinfo line of `/` (the last line of
/// `out`), their numbers dropped: `shared:12 master:3` reads `shared master`.
pub fn root_propagation(out: &str) -> String {
    let line = out.lines().last().unwrap_or_default();
    let fields: Vec<&str> = line.split(' ').collect();
    let end = fields
        .iter()
        .position(|f| *f == "-")
        .unwrap_or(fields.len());
    fields[6.min(end)..end]
        .iter()
        .map(|f| f.split(':').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A process holding namespaces of its own (`unshare FLAGS sleep 60`), for a
/// container to join by path; killed on drop.
pub struct Holder(pub std::process::Child);

impl Holder {
    /// Starts `unshare FLAGS sleep 60` and waits until its namespaces exist.
    pub fn new(flags: &[&str]) -> Holder {
        let child = Command::new("unshare")
            .args(flags)
            .args(["sleep", "60"])
            .spawn()
            .unwrap();
        let comm = format!("/proc/{}/comm", child.id());
        // unshare executes sleep once the namespaces exist.
        eventually("the holder's namespaces exist", || {
            std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep")
        });
        Holder(child)
    }

    /// `/proc/<pid>/ns/<kind>` of the holder.
    pub fn ns(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.0.id())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
