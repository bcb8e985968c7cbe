//! mini-runc against the parts of the OCI runtime spec that the runtime-tools
//! validation suite found it failing: root propagation, joined and inherited
//! namespaces, every `linux.resources` field, the hooks' order and failure
//! rules, and the checks that must fail `create` rather than the container.
//! Privileged: they fail (never skip) without root.

use e2e::runtime::*;
use e2e::{eventually, require_root};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn set_namespaces(b: &mut Bundle, f: impl Fn(&str) -> Option<serde_json::Value>) {
    let list: Vec<serde_json::Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| {
            f(n["type"].as_str().unwrap()).map(|v| if v.is_null() { n.clone() } else { v })
        })
        .collect();
    b.config["linux"]["namespaces"] = list.into();
}

const ROOT_LINE: &str = "awk '$5==\"/\"' /proc/self/mountinfo";

#[test]
fn every_rootfs_propagation_mode_starts_and_shows_on_the_root() {
    require_root();
    let root = Root::new();
    for (mode, expected) in [
        ("shared", "shared"),
        ("rshared", "shared"),
        ("slave", ""),
        ("rslave", ""),
        ("private", ""),
        ("rprivate", ""),
        ("unbindable", "unbindable"),
        ("runbindable", "unbindable"),
    ] {
        let mut b = Bundle::new("prop", &["sh", "-c", ROOT_LINE]);
        b.config["linux"]["rootfsPropagation"] = mode.into();
        b.save();
        let out = root.runc(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout.lines().last().unwrap_or_default();
        assert_eq!(root_propagation(line), expected, "{mode}: {line}");
        // A slave mode makes the root a slave of nothing: the rootfs's own
        // mount was made private first, as runc does (so its mounts never
        // reach the host).
        assert!(!line.contains("master:"), "{mode}: {line}");
    }
}

#[test]
fn an_unknown_rootfs_propagation_is_refused_by_name() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new("prop-bad", &["true"]);
    b.config["linux"]["rootfsPropagation"] = "sideways".into();
    b.save();
    let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rootfsPropagation \"sideways\""));
    assert!(!root.path().join(&b.id).exists());
}

#[test]
fn hostname_is_set_in_a_joined_uts_namespace() {
    require_root();
    let root = Root::new();
    let holder = Holder::new(&["--uts"]);
    let host_before = nix::unistd::gethostname().unwrap();
    let mut b = Bundle::new("utsjoin", &["hostname"]);
    let path = holder.ns("uts");
    set_namespaces(&mut b, |t| {
        Some(if t == "uts" {
            json!({"type": "uts", "path": path})
        } else {
            serde_json::Value::Null
        })
    });
    b.config["hostname"] = "mrt-joined-uts".into();
    b.save();
    let out = root.ok(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert_eq!(out.trim(), "mrt-joined-uts", "the container sees it");
    let seen = Command::new("nsenter")
        .arg(format!("--uts={path}"))
        .arg("hostname")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout).trim(),
        "mrt-joined-uts",
        "the joined namespace keeps it"
    );
    assert_eq!(nix::unistd::gethostname().unwrap(), host_before);
}

#[test]
fn a_hostname_without_a_uts_namespace_of_its_own_is_refused() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new("utsnone", &["true"]);
    set_namespaces(&mut b, |t| (t != "uts").then_some(serde_json::Value::Null));
    b.save();
    let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs the container's own UTS namespace"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!root.path().join(&b.id).exists());
    assert!(!cgroup_exists(&b.id));
}

#[test]
fn a_namespace_type_left_out_is_the_runtimes_own() {
    require_root();
    let root = Root::new();
    for (spec_name, proc_name) in [
        ("pid", "pid"),
        ("network", "net"),
        ("uts", "uts"),
        ("ipc", "ipc"),
    ] {
        let mut b = Bundle::new(
            "inherit",
            &["sh", "-c", &format!("readlink /proc/self/ns/{proc_name}")],
        );
        set_namespaces(&mut b, |t| {
            (t != spec_name).then_some(serde_json::Value::Null)
        });
        if spec_name == "uts" {
            b.config.as_object_mut().unwrap().remove("hostname");
        }
        b.save();
        let out = root.ok(&["run", "--bundle", b.path().to_str().unwrap(), &b.id]);
        let host = std::fs::read_link(format!("/proc/self/ns/{proc_name}")).unwrap();
        assert_eq!(
            out.trim(),
            host.to_string_lossy(),
            "without {spec_name} the container shares ours"
        );
        assert!(!cgroup_exists(&b.id));
    }
    // Without a mount namespace the container's mounts are made in ours,
    // under its rootfs, and it is a chroot; delete takes the mounts away.
    let mut b = Bundle::new(
        "inherit-mnt",
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/mnt; cat /etc/hostname-check; sleep 30",
        ],
    );
    std::fs::write(b.rootfs().join("etc/hostname-check"), "inside the rootfs\n").unwrap();
    set_namespaces(&mut b, |t| {
        (t != "mount").then_some(serde_json::Value::Null)
    });
    b.save();
    let rootfs = b.rootfs().canonicalize().unwrap();
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(rootfs.to_str().unwrap()))
            .count()
    };
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(mounted() > 0, "its /proc and /dev are mounts of ours");
    let pid = root.state(&b.id)["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        std::fs::read_link("/proc/self/ns/mnt").unwrap()
    );
    let seen = root.ok(&["exec", &b.id, "cat", "/etc/hostname-check"]);
    assert_eq!(seen.trim(), "inside the rootfs", "exec enters the chroot");
    root.ok(&["delete", "--force", &b.id]);
    assert_eq!(mounted(), 0, "delete unmounts what the container mounted");
    assert!(!cgroup_exists(&b.id));
    // What would change the host's own mounts is refused.
    let mut b = Bundle::new("inherit-mnt-ro", &["true"]);
    set_namespaces(&mut b, |t| {
        (t != "mount").then_some(serde_json::Value::Null)
    });
    b.config["root"]["readonly"] = true.into();
    b.save();
    let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("root.readonly needs a mount namespace"));
    assert!(!root.path().join(&b.id).exists());
    assert_eq!(mounted(), 0);
}

fn cgroup_file(tree: &str, id: &str, file: &str) -> String {
    let p = Path::new("/sys/fs/cgroup")
        .join(tree)
        .join("mini-runc-test")
        .join(id)
        .join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// major:minor of a block device of this machine.
fn a_block_device() -> String {
    std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with("loop"))
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .expect("a block device in /sys/block")
        .trim()
        .to_string()
}

#[test]
fn memory_cpu_and_blkio_settings_reach_the_cgroup_files() {
    require_root();
    let root = Root::new();
    let dev = a_block_device();
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let mut b = Bundle::new("res", &["sleep", "30"]);
    b.config["linux"]["resources"]["memory"] = json!({
        "limit": 67108864, "reservation": 33554432, "swappiness": 10,
        "disableOOMKiller": true, "kernelTCP": 16777216
    });
    b.config["linux"]["resources"]["cpu"] = json!({
        "shares": 512, "quota": 20000, "period": 100000, "cpus": "0"
    });
    b.config["linux"]["resources"]["blockIO"] = json!({
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
    });
    b.config["linux"]["resources"]["pids"] = json!({"limit": 42});
    b.save();
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    let id = &b.id;
    assert_eq!(
        cgroup_file("memory", id, "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(
        cgroup_file("memory", id, "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(cgroup_file("memory", id, "memory.swappiness"), "10");
    assert!(cgroup_file("memory", id, "memory.oom_control").contains("oom_kill_disable 1"));
    assert_eq!(
        cgroup_file("memory", id, "memory.kmem.tcp.limit_in_bytes"),
        "16777216"
    );
    assert_eq!(cgroup_file("cpu", id, "cpu.shares"), "512");
    assert_eq!(cgroup_file("cpu", id, "cpu.cfs_quota_us"), "20000");
    assert_eq!(cgroup_file("cpuset", id, "cpuset.cpus"), "0");
    assert_eq!(cgroup_file("pids", id, "pids.max"), "42");
    assert_eq!(
        cgroup_file("blkio", id, "blkio.throttle.read_bps_device"),
        format!("{dev} 1048576")
    );
    assert_eq!(
        cgroup_file("blkio", id, "blkio.throttle.write_iops_device"),
        format!("{dev} 100")
    );
    root.ok(&["delete", "--force", id]);
    assert!(!cgroup_exists(id), "the blkio directory goes too");
}

#[test]
fn a_resource_the_host_cannot_apply_is_refused_by_its_field_and_file() {
    require_root();
    let root = Root::new();
    // This host (hybrid, Linux 6.x) has no net_cls tree, no blkio.weight
    // (no BFQ), ignores kernel memory limits, and its cgroup2 tree has no
    // controllers for `unified` files; a v2 host lacks memory.swappiness.
    let hybrid = Path::new("/sys/fs/cgroup/unified").is_dir();
    let mut cases = vec![
        (json!({"network": {"classID": 1048577}}), "network.classID"),
        (json!({"memory": {"kernel": 50593792}}), "memory.kernel"),
        (
            json!({"cpu": {"period": 100000}}),
            "cpu.period needs cpu.quota",
        ),
        (json!({"cpu": {"burst": 1000}}), "cpu.burst"),
    ];
    if !Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists() {
        cases.push((json!({"blockIO": {"weight": 500}}), "blockIO.weight"));
    }
    if hybrid {
        cases.push((json!({"unified": {"memory.high": "1G"}}), "unified"));
        cases.push((json!({"cpu": {"idle": 1}}), "cpu.idle"));
    }
    for (resources, field) in cases {
        let mut b = Bundle::new("res-refused", &["true"]);
        b.config["linux"]["resources"] = resources.clone();
        b.save();
        let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{resources} was accepted");
        assert!(stderr.contains(field), "{resources}: {stderr}");
        assert!(!root.path().join(&b.id).exists(), "{resources}");
        assert!(!cgroup_exists(&b.id), "{resources}: a cgroup was left");
    }
}

/// A hook running `/bin/sh -c script` (with the state on its stdin).
fn hook(script: &str) -> serde_json::Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

#[test]
fn failing_poststart_and_poststop_hooks_warn_and_the_rest_go_on() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new("hooks-warn", &["sleep", "30"]);
    let dir = b.path().to_path_buf();
    let exe = dir.join("poststart.exe");
    let later = dir.join("poststart.later");
    let stopped = dir.join("poststop.later");
    b.config["hooks"] = json!({
        "poststart": [
            hook(&format!(
                "pid=$(sed 's/.*\"pid\": *\\([0-9]*\\).*/\\1/'); readlink /proc/$pid/exe > {}",
                exe.display()
            )),
            hook("exit 3"),
            hook(&format!("touch {}", later.display())),
        ],
        "poststop": [hook("exit 4"), hook(&format!("touch {}", stopped.display()))],
    });
    b.save();
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    let out = root.runc(&["start", &b.id]);
    assert!(
        out.status.success(),
        "a failing poststart hook does not fail start"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: poststart"), "{stderr}");
    assert!(later.exists(), "the hooks after the failing one ran");
    // Run after the execve: the process is the program, not the runtime.
    let ran = std::fs::read_to_string(&exe).unwrap();
    assert!(ran.trim().ends_with("busybox"), "poststart saw {ran:?}");
    assert_eq!(root.state(&b.id)["status"], "running");
    let out = root.runc(&["delete", "--force", &b.id]);
    assert!(
        out.status.success(),
        "a failing poststop hook does not fail delete"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: poststop"));
    assert!(stopped.exists());
    assert!(!root.path().join(&b.id).exists());
}

#[test]
fn failing_or_slow_create_hooks_fail_create_and_leave_nothing() {
    require_root();
    let root = Root::new();
    for (stage, h, says) in [
        ("prestart", hook("exit 1"), "failed"),
        ("createRuntime", hook("exit 1"), "failed"),
        ("createContainer", hook("exit 1"), "failed"),
        (
            "prestart",
            json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 20"], "timeout": 1}),
            "timed out after 1 s",
        ),
    ] {
        let mut b = Bundle::new("hooks-fail", &["sleep", "30"]);
        b.config["hooks"] = json!({ stage: [h] });
        b.save();
        let started = std::time::Instant::now();
        let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stage}");
        assert!(stderr.contains(says), "{stage}: {stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(!root.path().join(&b.id).exists(), "{stage}: state left");
        assert!(!cgroup_exists(&b.id), "{stage}: cgroup left");
    }
}

#[test]
fn create_hooks_see_the_created_state_and_run_where_the_spec_says() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new("hooks-where", &["sleep", "30"]);
    let dir = b.path().to_path_buf();
    let out = |name: &str| dir.join(name).display().to_string();
    b.config["hooks"] = json!({
        "createRuntime": [hook(&format!(
            "cat > {}; readlink /proc/self/ns/mnt > {}", out("runtime.json"), out("runtime.mnt")))],
        "createContainer": [hook(&format!(
            "cat > {}; readlink /proc/self/ns/mnt > {}", out("container.json"), out("container.mnt")))],
        // Inside the container, after pivot_root: it writes into the rootfs.
        "startContainer": [hook("hostname > /started-in")],
    });
    b.save();
    root.ok(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
    let pid = root.state(&b.id)["pid"].as_i64().unwrap();
    let container_mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read("runtime.mnt").trim(), host_mnt.to_string_lossy());
    assert_eq!(
        read("container.mnt").trim(),
        container_mnt.to_string_lossy()
    );
    for file in ["runtime.json", "container.json"] {
        let state: serde_json::Value = serde_json::from_str(&read(file)).unwrap();
        assert_eq!(state["status"], "created", "{file}");
        assert_eq!(state["pid"].as_i64(), Some(pid), "{file}");
        assert_eq!(state["id"], b.id.as_str(), "{file}");
    }
    assert!(!b.rootfs().join("started-in").exists(), "not before start");
    root.ok(&["start", &b.id]);
    // The shell makes the file before `hostname` writes into it: wait for
    // the line, not the file.
    eventually("the startContainer hook ran", || {
        std::fs::read_to_string(b.rootfs().join("started-in")).is_ok_and(|s| s.ends_with('\n'))
    });
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("started-in"))
            .unwrap()
            .trim(),
        b.id,
        "in the container's UTS namespace"
    );
}

#[test]
fn a_program_that_cannot_run_fails_create_with_a_clear_message() {
    require_root();
    let root = Root::new();
    for (args, says) in [
        (
            vec!["no-such-program"],
            "executable file not found in $PATH",
        ),
        (vec!["/etc/passwd"], "not an executable file"),
        (vec!["/no/such/file"], "No such file"),
    ] {
        let b = Bundle::new("noexec", &args);
        let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was created");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!root.path().join(&b.id).exists());
        assert!(!cgroup_exists(&b.id));
    }
}

#[test]
fn an_oci_version_this_runtime_does_not_implement_is_refused() {
    require_root();
    let root = Root::new();
    for version in ["9.0.0", "bogus", ""] {
        let mut b = Bundle::new("version", &["true"]);
        b.config["ociVersion"] = version.into();
        b.save();
        let out = root.runc(&["create", "--bundle", b.path().to_str().unwrap(), &b.id]);
        assert!(!out.status.success(), "{version:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("ociVersion"));
    }
}

#[test]
fn a_capability_that_cannot_be_granted_fails_create() {
    require_root();
    let root = Root::new();
    let mut b = Bundle::new("caps", &["true"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push("CAP_SYS_TIME".into());
    }
    b.save();
    // The runtime itself without CAP_SYS_TIME: no process it starts can have it.
    let err_path = b.path().join("create.stderr");
    let out = Command::new("setpriv")
        .args(["--bounding-set=-sys_time", "--inh-caps=-all", "--"])
        .arg(mini_runc())
        .arg("--root")
        .arg(root.path())
        .args(["create", "--bundle", b.path().to_str().unwrap(), &b.id])
        .stdin(std::process::Stdio::null())
        // Not pipes: a created container would hold them open.
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(!out.success(), "created without CAP_SYS_TIME: {stderr}");
    assert!(
        stderr.contains("CAP_SYS_TIME is not in the runtime's own bounding set"),
        "{stderr}"
    );
    assert!(!root.path().join(&b.id).exists());
    assert!(!cgroup_exists(&b.id));
}
