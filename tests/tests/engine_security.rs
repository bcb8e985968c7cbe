//! Docker's security flags through the real docker CLI against mini-dockerd:
//! `--cap-add` (and the seccomp rules it brings), `--privileged`,
//! `--security-opt seccomp=profile.json`, `--device`, `--device-cgroup-rule`,
//! `--group-add`, and the device filter of a default container. Each test
//! asserts what the kernel did inside the container. Privileged: they fail
//! (never skip) without root.

use e2e::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `docker run --rm --network none [flags] bb sh -c script`, which must succeed.
fn run(d: &Daemon, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["bb", "sh", "-c", script]);
    let out = d.docker(&args);
    assert!(out.status.success(), "docker {args:?}:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A profile in Docker's format that refuses `mkdir` with EPERM.
const DENY_MKDIR: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW",
    "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
    "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                {"names":["chroot"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"includes":{"caps":["CAP_SYS_NICE"]}}]}"#;

fn has(out: &str, line: &str) -> bool {
    out.lines().any(|l| l.trim() == line)
}

/// A loop device over a file of this test, detached on drop.
struct Loop {
    dev: PathBuf,
    _file: tempfile::NamedTempFile,
}

impl Loop {
    fn new(content: &[u8]) -> Loop {
        let file = tempfile::Builder::new()
            .prefix("md-devsec-loop-")
            .tempfile()
            .unwrap();
        let mut data = content.to_vec();
        data.resize(64 * 1024, 0);
        std::fs::write(file.path(), &data).unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(file.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {}", text(&out));
        let dev = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Loop { dev, _file: file }
    }

    fn major_minor(&self) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        let rdev = std::fs::metadata(&self.dev).unwrap().rdev();
        (
            nix::sys::stat::major(rdev) as u64,
            nix::sys::stat::minor(rdev) as u64,
        )
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

#[test]
fn a_default_container_cannot_open_a_block_device_it_makes() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let lo = Loop::new(b"md-devsec");
    let (major, minor) = lo.major_minor();
    let out = run(
        &d,
        &[],
        &format!(
            "mknod /tmp/l b {major} {minor} && echo mknod=ok; \
             (head -c 9 /tmp/l) 2>&1 | grep -q 'Operation not permitted' && echo open=EPERM; \
             head -c1 /dev/zero | wc -c | sed 's/^/zero=/'; echo x >/dev/null && echo null=ok"
        ),
    );
    for l in ["mknod=ok", "open=EPERM", "zero=1", "null=ok"] {
        assert!(has(&out, l), "{l}:\n{out}");
    }
}

#[test]
fn a_running_container_has_the_device_filter_attached() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let out = d.docker(&["run", "-d", "--network", "none", "bb", "sleep", "100"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let layout = cgroups::Layout::detect().unwrap();
    let dir = cgroups::devices::v2_dir(&layout, Path::new(&format!("/mini-docker/{id}"))).unwrap();
    let progs = cgroups::devices::attached(&dir).unwrap();
    assert_eq!(progs.len(), 1, "one device program on {}", dir.display());
    let out = d.docker(&["rm", "-f", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!dir.exists());
}

#[test]
fn cap_add_sys_admin_brings_its_syscalls() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let probe = "mkdir -p /m; (mount -t tmpfs none /m && echo mount=ok) 2>&1; \
                 (unshare -u true && echo unshare=ok) 2>&1; true";
    let plain = run(&d, &[], probe);
    assert!(
        !has(&plain, "mount=ok") && !has(&plain, "unshare=ok"),
        "{plain}"
    );
    let admin = run(&d, &["--cap-add", "SYS_ADMIN"], probe);
    assert!(has(&admin, "mount=ok"), "{admin}");
    assert!(has(&admin, "unshare=ok"), "{admin}");
}

#[test]
fn privileged_gets_every_device_capability_and_no_seccomp() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let lo = Loop::new(b"md-devsec");
    let name = lo.dev.file_name().unwrap().to_string_lossy().into_owned();
    let out = run(
        &d,
        &["--privileged"],
        &format!(
            "grep -E '^(CapEff|Seccomp):' /proc/self/status; ls /dev; \
             head -c 9 /dev/{name}; echo; (touch /sys/kernel/md-x) 2>&1 | grep -q 'Read-only' || echo sys=rw"
        ),
    );
    let bounding = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!("CapEff:\t{bounding}")),
        "every capability of the daemon:\n{out}"
    );
    assert!(out.contains("Seccomp:\t0"), "no seccomp:\n{out}");
    for dev in ["vda", "loop0", name.as_str()] {
        if Path::new("/dev").join(dev).exists() {
            assert!(has(&out, dev), "/dev/{dev} of the host:\n{out}");
        }
    }
    assert!(
        has(&out, "md-devsec"),
        "the loop device reads through:\n{out}"
    );
    assert!(has(&out, "sys=rw"), "/sys is writable:\n{out}");
}

#[test]
fn seccomp_profiles_in_dockers_format() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let dir = tempfile::tempdir().unwrap();
    let deny = dir.path().join("deny-mkdir.json");
    std::fs::write(&deny, DENY_MKDIR).unwrap();
    let opt = format!("seccomp={}", deny.display());
    let out = run(
        &d,
        &["--security-opt", &opt],
        "(mkdir /x) 2>&1 | grep -q 'Operation not permitted' && echo mkdir=EPERM; \
         grep Seccomp: /proc/self/status; chroot / true && echo chroot=ok",
    );
    assert!(has(&out, "mkdir=EPERM"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        has(&out, "chroot=ok"),
        "a rule for a cap the container lacks is left out:\n{out}"
    );

    let allow = dir.path().join("allow.json");
    std::fs::write(&allow, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let opt = format!("seccomp={}", allow.display());
    let out = run(&d, &["--security-opt", &opt], "mkdir /x && echo mkdir=ok");
    assert!(has(&out, "mkdir=ok"), "{out}");

    // Bad profiles: a clear 400 naming the field. The CLI checks that the
    // file is JSON itself, so that case goes straight to the API.
    let f = dir.path().join("bad.json");
    std::fs::write(
        &f,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_BOOM"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", f.display());
    let out = d.docker(&["create", "--security-opt", &opt, "bb", "true"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("invalid seccomp profile: syscalls[0].action: unknown action \"SCMP_ACT_BOOM\""),
        "{t}"
    );
    let body = serde_json::json!({"Image": "bb", "Cmd": ["true"],
        "HostConfig": {"SecurityOpt": ["seccomp={\"defaultAction\": "]}});
    let (status, reply) = d.request("POST", "/containers/create", &body.to_string());
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply.contains("invalid seccomp profile: the seccomp profile is not valid JSON"),
        "{reply}"
    );
    assert!(d.ids().is_empty(), "no container was made");
}

#[test]
fn device_device_cgroup_rule_and_group_add() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let lo = Loop::new(b"md-devsec");
    let (major, minor) = lo.major_minor();

    // --device: the node appears (renamed), readable only as asked.
    let dev = format!("{}:/dev/mydisk:r", lo.dev.display());
    let out = run(
        &d,
        &["--device", &dev, "--device", "/dev/zero:/dev/myzero"],
        "head -c 9 /dev/mydisk; echo; (echo x >/dev/mydisk) 2>&1 | grep -q 'Operation not permitted' && echo write=EPERM; \
         head -c1 /dev/myzero | wc -c | sed 's/^/myzero=/'",
    );
    assert!(has(&out, "md-devsec"), "{out}");
    assert!(has(&out, "write=EPERM"), "r only:\n{out}");
    assert!(has(&out, "myzero=1"), "{out}");

    // --device-cgroup-rule: mknod + open of that device now work.
    let rule = format!("b {major}:{minor} rwm");
    let out = run(
        &d,
        &["--device-cgroup-rule", &rule],
        &format!("mknod /tmp/l b {major} {minor} && head -c 9 /tmp/l; echo"),
    );
    assert!(has(&out, "md-devsec"), "{out}");
    let out = d.docker(&["create", "--device-cgroup-rule", "c 1:3", "bb", "true"]);
    assert!(
        !out.status.success() && text(&out).contains("invalid device cgroup format"),
        "{}",
        text(&out)
    );

    // --group-add: numbers and names from the image's /etc/group.
    let out = run(
        &d,
        &["--group-add", "1234", "--group-add", "www-data"],
        "grep Groups: /proc/self/status; id -G",
    );
    let groups: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect();
    assert!(groups.contains(&"1234") && groups.contains(&"33"), "{out}");
}

#[test]
fn mini_docker_sends_the_same_flags() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let dir = tempfile::tempdir().unwrap();
    let deny = dir.path().join("deny-mkdir.json");
    std::fs::write(&deny, DENY_MKDIR).unwrap();
    let opt = format!("seccomp={}", deny.display());
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &opt,
        "--device",
        "/dev/zero:/dev/myzero:r",
        "--device-cgroup-rule",
        "c 1:3 rwm",
        "--group-add",
        "1234",
        "bb",
        "sh",
        "-c",
        "(mkdir /x) 2>&1 | grep -q 'Operation not permitted' && echo mkdir=EPERM; \
         head -c1 /dev/myzero | wc -c | sed 's/^/myzero=/'; grep Groups: /proc/self/status",
    ]);
    assert!(has(&out, "mkdir=EPERM"), "{out}");
    assert!(has(&out, "myzero=1"), "{out}");
    assert!(out.contains("1234"), "{out}");
    let out = d.cli(&["create", "--device", "/dev/zero:rel", "bb", "true"]);
    assert!(
        !out.status.success() && text(&out).contains("is not an absolute path"),
        "{}",
        text(&out)
    );
}
