//! Issue 14, security defaults: what Docker promises, checked from INSIDE a
//! default container (`run` and `exec`), and on the host (socket, data root,
//! credentials). Privileged: they fail (never skip) without root.

use e2e::*;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

/// Docker's 14 default capabilities as a mask (CapEff of a default container).
const DOCKER_CAPS: &str = "00000000a80425fb";

/// The `Cap*` and `Seccomp` lines of a `/proc/self/status`.
fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
        .to_string()
}

fn assert_docker_profile(status: &str, who: &str) {
    assert_eq!(status_field(status, "CapEff"), DOCKER_CAPS, "{who}: CapEff");
    assert_eq!(status_field(status, "CapPrm"), DOCKER_CAPS, "{who}: CapPrm");
    assert_eq!(status_field(status, "CapBnd"), DOCKER_CAPS, "{who}: CapBnd");
    assert_eq!(
        status_field(status, "CapInh"),
        "0000000000000000",
        "{who}: CapInh"
    );
    assert_eq!(status_field(status, "CapAmb"), "0000000000000000", "{who}");
    assert_eq!(
        status_field(status, "Seccomp"),
        "2",
        "{who}: seccomp filter"
    );
}

#[test]
fn run_and_exec_get_dockers_capabilities_and_a_seccomp_filter() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let status = d.ok(&["run", "--rm", "bb", "cat", "/proc/self/status"]);
    assert_docker_profile(&status, "run");

    d.ok(&["run", "-d", "--name", "hd-exec", "bb", "sleep", "300"]);
    let status = d.ok(&["exec", "hd-exec", "cat", "/proc/self/status"]);
    assert_docker_profile(&status, "exec");
    // exec as another user: no capabilities left at all, inheritable still empty.
    let status = d.ok(&["exec", "-u", "1000", "hd-exec", "cat", "/proc/self/status"]);
    assert_eq!(status_field(&status, "CapEff"), "0000000000000000");
    assert_eq!(status_field(&status, "CapInh"), "0000000000000000");
    assert_eq!(status_field(&status, "CapBnd"), DOCKER_CAPS);
    d.ok(&["rm", "-f", "hd-exec"]);
}

#[test]
fn seccomp_blocks_unshare_with_eperm() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // A new user namespace needs no capability: only the filter refuses it.
    let blocked = d.cli(&["run", "--rm", "bb", "unshare", "-U", "true"]);
    assert_ne!(blocked.status.code(), Some(0));
    let err = String::from_utf8_lossy(&blocked.stderr);
    assert!(err.contains("Operation not permitted"), "{err}");
    let blocked = d.cli(&["run", "--rm", "bb", "unshare", "-m", "true"]);
    let err = String::from_utf8_lossy(&blocked.stderr);
    assert!(err.contains("Operation not permitted"), "{err}");
    // …and the same command passes without the filter: the EPERM was seccomp's.
    d.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "bb",
        "unshare",
        "-U",
        "true",
    ]);
}

/// A script run in a default container: one `key=value` line per fact.
const PROBE: &str = r#"
for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/timer_stats /proc/acpi /proc/scsi /proc/asound /sys/firmware; do
  if [ -d $p ]; then echo "masked $p $(ls -A $p | wc -l)";
  elif [ -e $p ]; then echo "masked $p $(cat $p 2>/dev/null | wc -c)"; fi
done
for p in /proc/sys/vm/drop_caches /proc/sysrq-trigger; do
  if ( : > $p ) 2>/dev/null; then echo "write $p ok"; else echo "write $p refused"; fi
done
for d in /proc/bus /proc/fs /proc/irq /sys /sys/fs/cgroup; do
  if touch $d/md-probe 2>/dev/null || mkdir $d/md-probe 2>/dev/null; then echo "create $d ok"; else echo "create $d refused"; fi
done
grep -E ' /(proc/(bus|fs|irq|sysrq-trigger|sys)|sys/fs/cgroup[^ ]*|sys) ' /proc/self/mountinfo | awk '{print "mount " $5 " " $6}'
if mknod /tmp/disk b 8 0 2>/dev/null; then
  if head -c 1 /tmp/disk >/dev/null 2>&1; then echo "disk readable"; else echo "disk refused"; fi
else echo "disk refused"; fi
if mknod /tmp/mem c 1 1 2>/dev/null && head -c 1 /tmp/mem >/dev/null 2>&1; then echo "mem readable"; else echo "mem refused"; fi
if mknod /tmp/null c 1 3 && echo x > /tmp/null; then echo "null ok"; else echo "null refused"; fi
"#;

#[test]
fn masked_and_read_only_paths_and_the_device_cgroup() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let out = d.ok(&["run", "--rm", "bb", "sh", "-c", PROBE]);
    let lines: Vec<&str> = out.lines().collect();
    // Masked paths that exist read empty (files) or list nothing (dirs).
    let masked: Vec<&&str> = lines.iter().filter(|l| l.starts_with("masked ")).collect();
    // Every masked path this host's kernel has (no /proc/kcore on some).
    let list = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
        "/proc/timer_stats",
        "/proc/acpi",
        "/proc/scsi",
        "/proc/asound",
        "/sys/firmware",
    ];
    let on_host: Vec<&str> = list
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    assert!(on_host.contains(&"/proc/keys") && on_host.contains(&"/sys/firmware"));
    for must in on_host {
        assert!(
            masked.iter().any(|l| l.split(' ').nth(1) == Some(must)),
            "{must} is there (masked): {out}"
        );
    }
    for l in &masked {
        assert!(l.ends_with(" 0"), "a masked path shows content: {l}\n{out}");
    }
    // Read-only paths and mounts refuse writes.
    for p in ["/proc/sys/vm/drop_caches", "/proc/sysrq-trigger"] {
        if !std::path::Path::new(p).exists() {
            continue;
        }
        assert!(
            lines.contains(&format!("write {p} refused").as_str()),
            "{p}: {out}"
        );
    }
    for p in [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/sys",
        "/sys/fs/cgroup",
    ] {
        assert!(
            lines.contains(&format!("create {p} refused").as_str()),
            "{p}: {out}"
        );
    }
    // …because they are read-only mounts, as Docker's.
    for p in [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/sys",
    ] {
        if !std::path::Path::new(p).exists() {
            continue; // this kernel has no magic sysrq
        }
        let m = lines
            .iter()
            .find(|l| l.starts_with("mount ") && l.split(' ').nth(1) == Some(p))
            .unwrap_or_else(|| panic!("{p} is a mount point: {out}"));
        assert!(
            m.split(' ').nth(2).unwrap().split(',').any(|o| o == "ro"),
            "{m}"
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("mount /sys/fs/cgroup")),
        "{out}"
    );
    for l in lines
        .iter()
        .filter(|l| l.starts_with("mount /sys/fs/cgroup"))
    {
        assert!(
            l.split(' ').nth(2).unwrap().split(',').any(|o| o == "ro"),
            "{l}"
        );
    }
    // The device cgroup: a host disk and /dev/mem stay closed, /dev/null works.
    assert!(lines.contains(&"disk refused"), "{out}");
    assert!(lines.contains(&"mem refused"), "{out}");
    assert!(lines.contains(&"null ok"), "{out}");
}

#[test]
fn socket_is_a_0660_path_and_the_data_root_is_closed_to_others() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&["run", "-d", "bb", "sleep", "300"])
        .trim()
        .to_string();

    let sock = std::fs::symlink_metadata(d.socket()).unwrap();
    assert!(sock.file_type().is_socket());
    assert_eq!(sock.permissions().mode() & 0o7777, 0o660);
    // A path socket, not an abstract one (`@…` in /proc/net/unix).
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap();
    let path = d.socket().display().to_string();
    assert!(unix.lines().any(|l| l.ends_with(&path)), "{path} listed");
    assert!(!unix.lines().any(|l| l.ends_with(&format!("@{path}"))));

    // Docker's /var/lib/docker is 0710 root:root; ours too, and a
    // container's directory is the daemon's alone.
    let root = d.data_root();
    let meta = std::fs::metadata(&root).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o710);
    let cdir = root.join("containers").join(&id);
    let mode = std::fs::metadata(&cdir).unwrap().permissions().mode();
    assert_eq!(mode & 0o007, 0, "{} has mode {mode:o}", cdir.display());
    // The fact itself: user nobody can neither list nor traverse it.
    for target in [root.clone(), cdir.join("rootfs")] {
        let st = std::process::Command::new("/bin/ls")
            .arg(&target)
            .uid(65534)
            .gid(65534)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!st.success(), "nobody can list {}", target.display());
    }
    // …and doctor agrees the data root is fine.
    let doc = d.cli(&["doctor"]);
    let text = String::from_utf8_lossy(&doc.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("data root"))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    assert!(line.contains("0710") && !line.contains('✘'), "{line}");
    d.ok(&["rm", "-f", &id]);
}

use std::os::unix::process::CommandExt;

#[test]
fn credentials_are_stored_0600_and_never_logged() {
    let password = "hd-Pa55-w0rd-9f3c";
    let reg = Registry::with_user("hduser", password);
    let host = reg.host();
    let conf = tempfile::tempdir().unwrap();
    let cfg = conf.path().to_str().unwrap();
    let d = Daemon::start();
    d.import_busybox("bb");
    // A failed login, a good one, then a push and a pull carrying them.
    let bad = d.cli(&[
        "--config",
        cfg,
        "login",
        "-u",
        "hduser",
        "-p",
        "hd-wr0ng-pw",
        &host,
    ]);
    assert_ne!(bad.status.code(), Some(0));
    d.ok(&[
        "--config", cfg, "login", "-u", "hduser", "-p", password, &host,
    ]);
    let file = conf.path().join("config.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let name = format!("{host}/hd/bb:v1");
    d.ok(&["tag", "bb", &name]);
    d.ok(&["--config", cfg, "push", &name]);
    d.ok(&["rmi", &name]);
    d.ok(&["--config", cfg, "pull", &name]);

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("hduser:{password}"));
    let log = std::fs::read_to_string(d.dir.path().join("daemon.log")).unwrap();
    assert!(!log.contains(password), "the password is in the daemon log");
    assert!(
        !log.contains("hd-wr0ng-pw"),
        "a wrong password is in the daemon log"
    );
    assert!(!log.contains(&b64), "the basic credentials are in the log");
    // Nor anywhere in the daemon's data root (it never stores them).
    let grep = std::process::Command::new("grep")
        .args(["-r", "-l", password])
        .arg(d.data_root())
        .output()
        .unwrap();
    assert!(
        grep.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&grep.stdout)
    );
}
