//! mini-runc as an OCI runtime: the lifecycle, exec, Docker's default profile,
//! and the known attacks. Privileged: they fail (never skip) without root.

use e2e::runtime::*;
use e2e::{eventually, require_root};
use std::os::fd::AsRawFd;

#[test]
fn run_passes_output_and_exit_code_and_cleans_up() {
    require_root();
    let root = Root::new();
    let b = Bundle::new("run", &["sh", "-c", "echo hello from $(hostname); exit 3"]);
    let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("hello from {}", b.id)
    );
    assert!(
        !root.path().join(&b.id).exists(),
        "run deletes the container's state"
    );
    assert!(!cgroup_exists(&b.id), "run deletes the container's cgroups");
}

#[test]
fn lifecycle_create_start_state_kill_delete() {
    require_root();
    let root = Root::new();
    let b = Bundle::new("life", &["sleep", "30"]);
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    let s = root.state(&b.id);
    assert_eq!(s["status"], "created");
    let pid = s["pid"].as_i64().unwrap();
    // Paused before exec, with the stage visible in ps.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "mini-runc:pid1");
    assert!(cgroup_exists(&b.id));
    assert!(
        root.runc(&["delete", &b.id]).status.success(),
        "a created container may be deleted"
    );
    assert!(!cgroup_exists(&b.id));

    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    root.ok(&["start", &b.id]);
    let s = root.state(&b.id);
    assert_eq!(s["status"], "running");
    let pid = s["pid"].as_i64().unwrap();
    // `start` returns once the init is released, as runc's; the execve
    // follows a moment later.
    let comm = || {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim()
            .to_string()
    };
    for _ in 0..200 {
        if comm() == "sleep" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(comm(), "sleep");
    let refused = root.runc(&["delete", &b.id]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("use --force"));
    assert!(
        !root.runc(&["start", &b.id]).status.success(),
        "start twice is refused"
    );
    root.ok(&["kill", &b.id, "KILL"]);
    eventually("the container stops", || {
        root.state(&b.id)["status"] == "stopped"
    });
    root.ok(&["delete", &b.id]);
    assert!(!root.path().join(&b.id).exists());
    assert!(!cgroup_exists(&b.id));
    let gone = root.runc(&["state", &b.id]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("does not exist"));
}

#[test]
fn exec_joins_namespaces_and_cgroup_and_reports_exit_code() {
    require_root();
    let root = Root::new();
    let b = Bundle::new("exec", &["sleep", "30"]);
    root.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &b.id,
    ]);
    let host = root.ok(&["exec", &b.id, "hostname"]);
    assert_eq!(host.trim(), b.id, "exec sees the container's hostname");
    let pid1 = root.ok(&["exec", &b.id, "cat", "/proc/1/comm"]);
    assert_eq!(
        pid1.trim(),
        "sleep",
        "exec is in the container's PID namespace"
    );
    let code = root
        .runc(&["exec", &b.id, "sh", "-c", "exit 5"])
        .status
        .code();
    assert_eq!(code, Some(5));
    // A detached exec: seen from the host, it sits in the container's cgroup.
    let pid_file = b.path().join("exec.pid");
    root.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &b.id,
        "sleep",
        "30",
    ]);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.lines()
            .any(|l| l.contains(":memory:") && l.contains(&b.id)),
        "exec joins the container's cgroup: {cg}"
    );
    let ps: Vec<i32> = serde_json::from_str(&root.ok(&["ps", "--format", "json", &b.id])).unwrap();
    assert_eq!(
        ps.len(),
        2,
        "the container's sleep and the exec'd one: {ps:?}"
    );
    assert!(ps.contains(&pid));
    root.ok(&["delete", "--force", &b.id]);
}

#[test]
fn docker_default_profile_is_enforced() {
    require_root();
    let root = Root::new();
    let probe = "grep -E '^(CapEff|CapInh|Seccomp):' /proc/self/status; \
                 echo kcore=$(cat /proc/kcore | wc -c); \
                 (echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo procsys=rw || echo procsys=ro; \
                 (unshare -U true) 2>&1 | grep -q 'Operation not permitted' && echo unshare=EPERM; \
                 (mknod /tmp/disk b 8 0 && head -c1 /tmp/disk) 2>&1 | grep -q 'Operation not permitted' && echo device=denied; \
                 (touch /sys/x) 2>/dev/null && echo sys=rw || echo sys=ro";
    let b = Bundle::docker_default("docker", &["sh", "-c", probe]);
    let out = root.ok(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    let has = |line: &str| {
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == line)
    };
    assert!(
        has("CapEff: 00000000a80425fb"),
        "Docker's 14 capabilities:\n{out}"
    );
    assert!(
        has("CapInh: 0000000000000000"),
        "inheritable is empty:\n{out}"
    );
    assert!(has("Seccomp: 2"), "seccomp in filter mode:\n{out}");
    assert!(has("kcore=0"), "/proc/kcore is masked:\n{out}");
    assert!(has("procsys=ro"), "/proc/sys is read-only:\n{out}");
    assert!(
        has("unshare=EPERM"),
        "unshare is blocked by seccomp:\n{out}"
    );
    assert!(
        has("device=denied"),
        "the device cgroup refuses /dev/sda:\n{out}"
    );
    assert!(has("sys=ro"), "/sys is read-only:\n{out}");
}

#[test]
fn cve_2019_5736_the_runtime_binary_cannot_be_written_from_the_container() {
    require_root();
    let root = Root::new();
    let b = Bundle::new("exe", &["sleep", "30"]);
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    // PID 1 still runs the runtime's code, waiting for `start`: this is the
    // moment a process in the container could grab /proc/<pid>/exe.
    let pid = root.state(&b.id)["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    let link = std::fs::read_link(&exe).unwrap();
    let readonly = nix::sys::statvfs::statvfs(exe.as_str())
        .map(|st| st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false);
    assert!(
        readonly || link.to_string_lossy().contains("memfd:mini-runc"),
        "the init must run from a read-only bind or a sealed memfd, not the host binary ({})",
        link.display()
    );
    let write = std::fs::OpenOptions::new().write(true).open(&exe);
    assert!(
        write.is_err(),
        "the runtime's image must not be writable from the container"
    );
    root.ok(&["delete", "--force", &b.id]);
    assert!(!root.path().join(&b.id).exists());
}

#[test]
fn cve_2024_21626_no_descriptor_leaks_in_and_no_cwd_outside() {
    require_root();
    let root = Root::new();
    // A directory of the host, open in the runtime's caller without close-on-exec.
    let host_dir = std::fs::File::open("/").unwrap();
    let leaked =
        nix::fcntl::fcntl(host_dir.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD(40)).unwrap();
    let b = Bundle::new("fds", &["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"]);
    let out = root.ok(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        fds,
        ["0", "1", "2", "3"],
        "only stdio (and ls's own directory) reach the container"
    );

    let mut b = Bundle::new("cwd", &["pwd"]);
    b.config["process"]["cwd"] = format!("/proc/self/fd/{leaked}").into();
    b.save();
    let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(
        !out.status.success(),
        "a working directory outside the container is refused"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the container"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = nix::unistd::close(leaked);
}

#[test]
fn symlinked_proc_in_the_image_is_refused() {
    require_root();
    let root = Root::new();
    let b = Bundle::new("procln", &["true"]);
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::os::unix::fs::symlink("/etc", b.rootfs().join("proc")).unwrap();
    let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/proc is a symlink"), "{err}");
    assert!(
        !b.rootfs().join("etc/cpuinfo").exists(),
        "proc was not mounted over /etc"
    );
    assert!(
        !root.path().join(&b.id).exists(),
        "a failed create leaves no state"
    );
    assert!(!cgroup_exists(&b.id), "a failed create leaves no cgroup");
}

#[test]
fn cve_2021_30465_mount_targets_resolve_inside_the_rootfs() {
    require_root();
    let root = Root::new();
    let victim = tempfile::Builder::new()
        .prefix("mini-runc-victim-")
        .tempdir()
        .unwrap();
    let mut b = Bundle::new("escape", &["sh", "-c", "echo inside > /mnt/escape/x/file"]);
    // A symlink in the image that points at the host's victim directory. Inside
    // the rootfs the same path exists too: that is where it must resolve.
    let up = "../".repeat(12);
    std::os::unix::fs::symlink(
        format!("{up}{}", victim.path().display()),
        b.rootfs().join("mnt/escape"),
    )
    .unwrap();
    let inside = b.rootfs().join(victim.path().strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(serde_json::json!({
        "destination": "/mnt/escape/x", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
    }));
    b.save();
    let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "the host's directory stayed untouched"
    );
    assert!(
        inside.join("x").is_dir(),
        "the mount point was made inside the rootfs at {}",
        inside.display()
    );

    // Dangling in the rootfs: refused with a clear error, the host untouched.
    std::fs::remove_dir_all(b.rootfs().join("tmp")).unwrap();
    std::fs::create_dir(b.rootfs().join("tmp")).unwrap();
    let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("create mount point /mnt/escape/x"));
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "the host's directory stayed untouched"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(victim.path().to_str().unwrap()));
}

#[test]
fn pause_and_resume_freeze_the_container() {
    require_root();
    let root = Root::new();
    let b = Bundle::new("pause", &["sleep", "30"]);
    root.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &b.id,
    ]);
    root.ok(&["pause", &b.id]);
    let pid = root.state(&b.id)["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/freezer/mini-runc-test/{}/freezer.state",
        b.id
    ))
    .unwrap();
    assert_eq!(stat.trim(), "FROZEN", "pid {pid} is frozen");
    assert_eq!(root.state(&b.id)["status"], "paused");
    root.ok(&["resume", &b.id]);
    assert_eq!(root.state(&b.id)["status"], "running");
    root.ok(&["delete", "--force", &b.id]);
}

#[test]
fn bad_specs_get_clear_errors() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new("bad", &["true"]);
    b.config["linux"]["sysctl"] = serde_json::json!({"kernel.panic": "1"});
    b.save();
    let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not namespaced"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = root.runc(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "../escape",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid container id"));
    b.config["linux"]["sysctl"] = serde_json::json!({});
    b.config["process"]["args"] = serde_json::json!(["/no/such/program"]);
    b.save();
    let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/program"));
}

#[test]
fn hooks_run_at_each_stage_with_the_state() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new("hooks", &["true"]);
    let out = b.path().join("hooks");
    std::fs::create_dir(&out).unwrap();
    let hook = |file: &str| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {file}")]});
    let host = |stage: &str| out.join(format!("{stage}.json")).display().to_string();
    b.config["hooks"] = serde_json::json!({
        "prestart": [hook(&host("prestart"))],
        "createRuntime": [hook(&host("createRuntime"))],
        "createContainer": [hook(&host("createContainer"))],
        "startContainer": [hook("/tmp/startContainer.json")],
        "poststart": [hook(&host("poststart"))],
        "poststop": [hook(&host("poststop"))],
    });
    b.save();
    root.ok(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    for stage in ["prestart", "createRuntime", "poststart", "poststop"] {
        let text = std::fs::read_to_string(host(stage))
            .unwrap_or_else(|e| panic!("{stage} hook did not run: {e}"));
        let state: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(state["id"], b.id.as_str(), "{stage}: {text}");
    }
    let prestart: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(host("prestart")).unwrap()).unwrap();
    assert!(
        prestart["pid"].as_i64().unwrap() > 0,
        "prestart sees the container's pid"
    );
    let poststop: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(host("poststop")).unwrap()).unwrap();
    assert_eq!(poststop["status"], "stopped");
    // createContainer ran in the container's namespaces before pivot_root; startContainer inside it.
    assert!(
        std::path::Path::new(&host("createContainer")).exists(),
        "createContainer hook did not run"
    );
    assert!(
        b.rootfs().join("tmp/startContainer.json").exists(),
        "startContainer hook did not run inside"
    );
}

#[test]
fn a_user_namespace_maps_root_to_an_unprivileged_range() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new(
        "userns",
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; touch /root/made-inside",
        ],
    );
    namespaces::rootfs::chown_tree(&b.rootfs(), 300_000, 300_000).unwrap();
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    b.config["linux"]["uidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.save();
    let out = root.ok(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "root inside");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "300000", "65536"]
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(b.rootfs().join("root/made-inside"))
            .unwrap()
            .uid(),
        300_000,
        "uid 0 inside is 300000 outside"
    );
}

#[test]
fn net_sysctls_need_a_network_namespace_that_is_not_the_hosts() {
    require_root();
    let root = Root::new();
    // A container whose network namespace the next one joins by path.
    let holder = Bundle::new("netholder", &["sleep", "30"]);
    root.ok(&[
        "run",
        "--detach",
        "--bundle",
        holder.path().to_str().unwrap(),
        &holder.id,
    ]);
    let pid = root.state(&holder.id)["pid"].as_i64().unwrap();
    let with_netns = |tag: &str, path: String| {
        let mut b = Bundle::new(
            tag,
            &["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
        );
        for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "network" {
                ns["path"] = path.clone().into();
            }
        }
        b.config["linux"]["sysctl"] =
            serde_json::json!({"net.ipv4.ip_unprivileged_port_start": "1000"});
        b.save();
        b
    };
    let b = with_netns("joined", format!("/proc/{pid}/ns/net"));
    let out = root.ok(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert_eq!(
        out.trim(),
        "1000",
        "the sysctl was set in the joined namespace"
    );
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    assert_ne!(host.trim(), "1000", "the host's value is untouched");
    let b = with_netns("hostnet", "/proc/self/ns/net".to_string());
    let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(
        !out.status.success(),
        "a net sysctl in the host's network namespace is refused"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("own NET namespace"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.ok(&["delete", "--force", &holder.id]);
}

#[test]
fn preserve_fds_and_no_pivot() {
    require_root();
    let root = Root::new();
    // --preserve-fds 1: descriptor 3 of the caller reaches the container.
    let b = Bundle::new("fds3", &["sh", "-c", "cat <&3"]);
    let secret = b.path().join("passed.txt");
    std::fs::write(&secret, "handed over\n").unwrap();
    let script = format!(
        "exec 3<{} && exec {} --root {} run --preserve-fds 1 --bundle {} {}",
        secret.display(),
        mini_runc(),
        root.path().display(),
        b.path().display(),
        b.id
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "handed over\n");

    // --no-pivot: MS_MOVE and chroot instead of pivot_root; the container still
    // sees its rootfs as / and not the host's files.
    let b = Bundle::new("nopivot", &["sh", "-c", ". /etc/os-release; echo $NAME"]);
    let out = root.ok(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &b.id,
    ]);
    assert_eq!(out.trim(), "container-internals busybox");
}
