//! Privileged tests: each namespace really isolates what it should, and nothing
//! is left behind. They need root and fail (never skip) without it.

use chapter01::demo::{self, Options};
use chapter01::{spawn, Config, Error, Namespace};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn root() {
    chapter01::require_root("the namespace tests").unwrap();
}

fn opts() -> Options {
    Options {
        narrate: false,
        init_binary: Some(PathBuf::from(env!("CARGO_BIN_EXE_chapter01"))),
    }
}

fn config(argv: &[&str], namespaces: &[Namespace]) -> Config {
    let mut c = Config::new(argv.iter().map(|s| s.to_string()).collect());
    c.namespaces = namespaces.to_vec();
    c.init_binary = Some(PathBuf::from(env!("CARGO_BIN_EXE_chapter01")));
    c
}

fn output(mut c: Config) -> (String, std::process::ExitStatus) {
    c.stdout = Stdio::piped();
    let mut child = spawn(c).expect("spawn");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    (out, status)
}

/// Dead: reaped (no /proc entry), or a zombie waiting for the host's init to reap it.
/// A temp dir that other users (and a remapped container root) may enter.
fn open_tempdir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

fn process_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

#[test]
fn uts_hostname_differs_inside_and_host_is_unchanged() {
    root();
    let r = demo::uts(&opts(), "ch01-test-uts").unwrap();
    assert_eq!(r.inside, "ch01-test-uts");
    assert_eq!(
        r.host_before, r.host_after,
        "the host's hostname must not change"
    );
    assert_ne!(r.host_after, "ch01-test-uts");
}

#[test]
fn pid_namespace_makes_pid_1_that_sees_only_its_tree_and_reaps() {
    root();
    let r = demo::pid(&opts()).unwrap();
    assert_eq!(r.inside_pid, 1, "the first process is PID 1");
    assert!(r.host_pid > 1, "on the host it has an ordinary pid");
    assert!(r.inside_pids.contains(&1));
    assert!(
        r.inside_pids.len() < 10,
        "inside sees only its own tree: {:?}",
        r.inside_pids
    );
    assert!(r.host_process_count > r.inside_pids.len());
    assert_eq!(r.orphan_ppid, 1, "an orphan is adopted by PID 1");
    assert!(r.orphan_reaped, "PID 1 reaped the orphan: no zombie left");
    assert!(process_dead(r.host_pid));
}

#[test]
fn ipc_queue_made_outside_is_invisible_inside() {
    root();
    let r = demo::ipc(&opts()).unwrap();
    assert!(r.host_sees, "the host lists its queue {:#x}", r.key);
    assert!(
        !r.inside_sees,
        "the container must not see the host's queue"
    );
    assert_eq!(r.inside_count, 0);
    // The queue is removed afterwards.
    let now = std::fs::read_to_string("/proc/sysvipc/msg").unwrap();
    assert!(
        !demo::sysv_keys(&now).contains(&r.key),
        "the demo's queue was left behind"
    );
}

#[test]
fn mnt_mount_inside_is_invisible_on_host_and_nothing_leaks() {
    root();
    let r = demo::mnt(&opts()).unwrap();
    assert!(r.inside_sees, "the tmpfs is mounted inside");
    assert!(
        !r.host_sees,
        "the host must not see the container's tmpfs while it runs"
    );
    assert_eq!(
        r.inside_os, "container-internals busybox",
        "/ is the busybox rootfs"
    );
    assert!(r.inside_mounts.contains(&"/proc".to_string()));
    assert!(
        !r.inside_mounts.iter().any(|m| m.starts_with("/oldroot")),
        "old root detached"
    );
    assert!(r.inside_mounts.len() < r.host_mount_count + 10);
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(&r.source), "a mount leaked to the host");
    assert!(
        !host.contains("chapter01-mnt-"),
        "the rootfs is still mounted on the host"
    );
}

#[test]
fn net_namespace_has_only_lo_and_it_is_down() {
    root();
    let r = demo::net(&opts()).unwrap();
    assert_eq!(r.inside_links, vec![("lo".to_string(), false)]);
    assert!(r.host_links.contains(&"lo".to_string()));
}

#[test]
fn user_namespace_root_inside_is_the_unprivileged_caller_outside() {
    root();
    let r = demo::user(&opts()).unwrap();
    assert_eq!(r.inside_uid, 0, "root inside");
    assert_eq!(r.inside_gid, 0);
    assert_eq!(
        r.outside_uid, 65534,
        "as root, the demo first becomes nobody"
    );
    assert_eq!(
        r.host_view_uid, 65534,
        "the host sees the container's root as nobody"
    );
    assert_eq!(r.uid_map, "0 65534 1");
    assert!(
        r.root_dir.contains("Permission denied"),
        "root inside cannot read the host's /root: {}",
        r.root_dir
    );
}

#[test]
fn user_demo_works_without_root() {
    root();
    // Copy the binary somewhere nobody can reach and run the demo as nobody.
    let dir = open_tempdir("chapter01-nobody-");
    let bin = dir.path().join("chapter01");
    std::fs::copy(env!("CARGO_BIN_EXE_chapter01"), &bin).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["--quiet", "user"])
        .current_dir(dir.path())
        .output()
        .expect("setpriv (util-linux) must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uid_row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("uid "))
        .unwrap();
    let cols: Vec<&str> = uid_row.split_whitespace().collect();
    assert_eq!(cols, ["uid", "65534", "0"], "host uid 65534, inside 0");
    // And the other demos say clearly that they need root.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .arg("uts")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs root: run it with sudo"), "{stderr}");
}

#[test]
fn cgroup_namespace_makes_the_current_cgroup_the_root() {
    root();
    let r = demo::cgroup(&opts()).unwrap();
    let inside = demo::cgroup_paths(&r.inside);
    assert!(!inside.is_empty());
    assert!(
        inside.iter().all(|p| p == "/"),
        "inside, every cgroup path is /: {inside:?}"
    );
    assert_eq!(demo::cgroup_paths(&r.host).len(), inside.len());
}

#[test]
fn joins_an_existing_network_namespace_by_path() {
    root();
    let mut holder = config(&["sleep", "30"], &[Namespace::Net]);
    holder.stdout = Stdio::null();
    let mut holder = spawn(holder).unwrap();
    let ns_path = format!("/proc/{}/ns/net", holder.pid());
    let expected = std::fs::read_link(&ns_path).unwrap();
    let mut c = config(&["readlink", "/proc/self/ns/net"], &[Namespace::Uts]);
    c.netns = Some(PathBuf::from(&ns_path));
    let (out, status) = output(c);
    assert!(status.success());
    assert_eq!(out.trim(), expected.to_string_lossy());
    holder.kill(nix::sys::signal::Signal::SIGKILL).unwrap();
    holder.wait().unwrap();
}

#[test]
fn exit_codes_and_signals_are_passed_through() {
    root();
    let (_, status) = output(config(&["sh", "-c", "exit 7"], &[Namespace::Pid]));
    assert_eq!(status.code(), Some(7));
    let (_, status) = output(config(&["sh", "-c", "kill -KILL $$"], &[Namespace::Uts]));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "a container killed by SIGKILL is reported so"
    );
}

#[test]
fn a_missing_program_is_a_clear_error_and_leaves_nothing() {
    root();
    let c = config(&["/no/such/program"], &[Namespace::Uts, Namespace::Pid]);
    let err = spawn(c).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Step { .. }), "{text}");
    assert!(text.contains("execve(\"/no/such/program\""), "{text}");
    assert!(
        text.contains("hint: the program is not in the container's PATH"),
        "{text}"
    );
}

#[test]
fn an_impossible_config_is_refused_before_anything_is_made() {
    let mut c = config(&["true"], &[]);
    c.hostname = Some("x".into());
    let err = spawn(c).unwrap_err();
    assert!(err.to_string().contains("needs a UTS namespace"), "{err}");
}

#[test]
fn dropping_a_created_container_kills_it() {
    root();
    let created = chapter01::create(config(&["sleep", "30"], &[Namespace::Pid])).unwrap();
    let pid = created.pid().as_raw();
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "PID 1 waits, paused, before exec"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(status.trim(), "ch01-pid1", "ps shows the stage");
    drop(created);
    for _ in 0..100 {
        if process_dead(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("PID 1 {pid} outlived its dropped container");
}

#[test]
fn pivot_root_with_a_user_namespace_and_a_remapped_rootfs() {
    root();
    let dir = open_tempdir("chapter01-userns-");
    let rootfs = chapter01::rootfs::build_busybox_rootfs(&dir.path().join("rootfs")).unwrap();
    chapter01::rootfs::chown_tree(&rootfs.path, 200_000, 200_000).unwrap();
    let mut c = config(
        &[
            "/bin/sh",
            "-c",
            "touch /root/x && id -u && cat /proc/self/uid_map",
        ],
        &Namespace::ALL,
    );
    c.rootfs = Some(rootfs.path.clone());
    c.hostname = Some("ch01-test-userns".into());
    c.id_map = Some(chapter01::IdMap::range(200_000, 65536));
    let (out, status) = output(c);
    assert!(status.success(), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "65536"]
    );
    // The file root made inside belongs to uid 200000 outside.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(rootfs.path.join("root/x")).unwrap().uid(),
        200_000
    );
}
