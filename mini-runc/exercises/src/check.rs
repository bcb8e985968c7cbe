//! The checks of mini-runc's exercises. Each builds a real bundle in
//! `/tmp/md-ex-runc-<pid>` (a busybox root filesystem and a `config.json`),
//! removed when the check ends. Exercises 1, 2 and 4 run your function in a
//! re-execution of this checker (`__child`), which then enters the bundle's
//! root (and, for 2, a mount and a UTS namespace of its own, so nothing it
//! mounts reaches the host). Exercise 3 creates a real container with
//! mini-runc's library and deletes it at the end, also when a check fails.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use exercise_kit::{
    attempt, child_report, child_value, run_child, Exercise, Report, Scratch, Variant,
};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use oci_spec::runtime::Spec;

use crate::{ex1, ex2, ex3, ex4, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 4] = [
    Exercise {
        title: "the process to exec, read from config.json",
        check: check_process,
    },
    Exercise {
        title: "maskedPaths and readonlyPaths",
        check: check_masks,
    },
    Exercise {
        title: "start: release the created container through exec.fifo",
        check: check_start,
    },
    Exercise {
        title: "rlimits and no_new_privs",
        check: check_limits,
    },
];

/// What exercise 1's process prints about itself, `|`-separated.
const WHOAMI: &str = "echo \"OK uid=$(id -u)|gid=$(id -g)|groups=$(id -G | tr ' ' ,)|cwd=$(pwd)|greeting=$GREETING|leak=${MD_EX_HOST_ONLY:-none}|args=$1,$2\"";

/// The masked and read-only paths: some of Docker's (REFERENCE-NOTES), and
/// some that no kernel has (skipped). The checks read the ones this host has
/// (`/proc/sysrq-trigger` and `/proc/kcore` are absent on some kernels).
const MASKED: [&str; 5] = [
    "/proc/keys",
    "/proc/timer_list",
    "/sys/firmware",
    "/proc/acpi",
    "/proc/md-ex-does-not-exist",
];
const READONLY: [&str; 4] = [
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/md-ex-absent",
];

/// A bundle: `rootfs/` (busybox) and `config.json` made of `process` and
/// `linux` (merged into a minimal spec).
fn bundle(
    dir: &Path,
    mut process: serde_json::Value,
    linux: serde_json::Value,
) -> Result<PathBuf, String> {
    let b = dir.join("bundle");
    if process.get("user").is_none() {
        process["user"] = serde_json::json!({"uid": 0, "gid": 0});
    }
    namespaces::rootfs::build_busybox_rootfs(&b.join("rootfs"))
        .map_err(|e| format!("build a busybox rootfs: {e}"))?;
    let spec = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "md-ex-runc",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": linux,
    });
    std::fs::write(b.join("config.json"), spec.to_string()).map_err(|e| e.to_string())?;
    Ok(b)
}

/// [`bundle`], or one FAIL that says why there is none.
fn bundle_or_fail(
    r: &mut Report,
    dir: &Path,
    process: serde_json::Value,
    linux: serde_json::Value,
) -> Option<PathBuf> {
    bundle(dir, process, linux)
        .map_err(|e| {
            r.fail(
                "the checker builds a bundle",
                e,
                "is busybox installed on this host?",
            )
        })
        .ok()
}

fn load(bundle: &Path) -> Result<Spec, String> {
    Spec::load(bundle.join("config.json")).map_err(|e| format!("read config.json: {e}"))
}

fn cstrings(v: &[String]) -> Result<Vec<CString>, String> {
    v.iter()
        .map(|s| CString::new(s.as_str()).map_err(|e| e.to_string()))
        .collect()
}

/// Enters `rootfs` (chroot is enough for a check: pivot_root is chapter 01's
/// exercise 3) and execs as `p` says. Returns only on failure.
fn exec_in(rootfs: &Path, p: &mini_runc::config::ProcessConfig) -> String {
    let run = || -> Result<std::convert::Infallible, String> {
        let args = cstrings(&p.args)?;
        let env = cstrings(&p.env)?;
        let program = args.first().ok_or("args is empty: nothing to exec")?;
        nix::unistd::chroot(rootfs).map_err(|e| format!("chroot: {e}"))?;
        nix::unistd::chdir(&p.cwd).map_err(|e| format!("chdir {:?}: {e}", p.cwd))?;
        let groups: Vec<nix::unistd::Gid> = p
            .additional_gids
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
        nix::unistd::setgid(nix::unistd::Gid::from_raw(p.gid))
            .map_err(|e| format!("setgid: {e}"))?;
        nix::unistd::setuid(nix::unistd::Uid::from_raw(p.uid))
            .map_err(|e| format!("setuid: {e}"))?;
        nix::unistd::execve(program, &args, &env).map_err(|e| format!("execve {program:?}: {e}"))
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// What a `__child` does: `args` are the exercise number and the bundle.
pub fn child(variant: Variant, args: &[String]) -> ExitCode {
    let number = args.first().cloned().unwrap_or_default();
    let bundle = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("/nonexistent"));
    let rootfs = bundle.join("rootfs");
    match number.as_str() {
        "1" => {
            let p = match load(&bundle).and_then(|spec| {
                attempt(|| match variant {
                    Variant::Learner => ex1::process_to_exec(&spec),
                    Variant::Solution => solutions::ex1::process_to_exec(&spec),
                })?
            }) {
                Ok(p) => p,
                Err(e) => {
                    return child_report(|| Err::<String, _>(format!("process_to_exec: {e}")))
                }
            };
            let e = exec_in(&rootfs, &p);
            child_report(|| Err::<String, _>(e))
        }
        "2" => child_report(|| {
            let spec = load(&bundle)?;
            let linux = spec.linux().clone().unwrap_or_default();
            let masked = linux.masked_paths().clone().unwrap_or_default();
            let readonly = linux.readonly_paths().clone().unwrap_or_default();
            enter_with_proc_and_sys(&rootfs)?;
            attempt(|| match variant {
                Variant::Learner => ex2::mask_and_protect(&masked, &readonly),
                Variant::Solution => solutions::ex2::mask_and_protect(&masked, &readonly),
            })?
            .map_err(|e| format!("mask_and_protect: {e}"))?;
            let size = |p: &str| match std::fs::read(p) {
                Ok(b) => b.len().to_string(),
                Err(e) => format!("error:{}", e.kind()),
            };
            let entries = |p: &str| match std::fs::read_dir(p) {
                Ok(d) => d.count().to_string(),
                Err(e) => format!("error:{}", e.kind()),
            };
            let write = std::fs::write("/proc/sys/kernel/hostname", "md-ex-changed")
                .map(|_| "written".to_string())
                .unwrap_or_else(|e| {
                    e.raw_os_error()
                        .map(|n| nix::errno::Errno::from_raw(n).to_string())
                        .unwrap_or_default()
                });
            let ostype = std::fs::read_to_string("/proc/sys/kernel/ostype").unwrap_or_default();
            let irq = mount_options("/proc/irq");
            Ok::<_, String>(format!(
                "keys={} timer_list={} firmware={} hostname_write={} ostype={} irq={}",
                size("/proc/keys"),
                size("/proc/timer_list"),
                entries("/sys/firmware"),
                write.replace(' ', "_"),
                ostype.trim(),
                irq,
            ))
        }),
        "4" => {
            let p = match load(&bundle).and_then(|spec| {
                let process = spec.process().clone().ok_or("config.json has no process")?;
                let p = mini_runc::config::process_config(&process).map_err(|e| e.to_string())?;
                attempt(|| match variant {
                    Variant::Learner => ex4::limits(&p),
                    Variant::Solution => solutions::ex4::limits(&p),
                })?
                .map_err(|e| format!("limits: {e}"))?;
                Ok(p)
            }) {
                Ok(p) => p,
                Err(e) => return child_report(|| Err::<String, _>(e)),
            };
            if let Err(e) = enter_with_proc_and_sys(&rootfs) {
                return child_report(|| Err::<String, _>(e));
            }
            let e = exec_in(Path::new("/"), &p);
            child_report(|| Err::<String, _>(e))
        }
        other => child_report(|| Err::<String, _>(format!("no child step {other}"))),
    }
}

/// A private mount namespace and a UTS one, then `rootfs` entered with
/// `/proc`, `/sys` and `/dev/null` as the runtime mounts them.
fn enter_with_proc_and_sys(rootfs: &Path) -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS)
        .map_err(|e| format!("unshare(CLONE_NEWNS|CLONE_NEWUTS): {e}"))?;
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| format!("mount --make-rprivate /: {e}"))?;
    mount(
        Some(rootfs),
        rootfs,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(|e| format!("bind the rootfs: {e}"))?;
    mount(
        Some("proc"),
        &rootfs.join("proc"),
        Some("proc"),
        MsFlags::empty(),
        none,
    )
    .map_err(|e| format!("mount proc: {e}"))?;
    mount(
        Some("sysfs"),
        &rootfs.join("sys"),
        Some("sysfs"),
        MsFlags::MS_RDONLY,
        none,
    )
    .map_err(|e| format!("mount sysfs: {e}"))?;
    let null = rootfs.join("dev/null");
    std::fs::write(&null, "").map_err(|e| format!("create dev/null: {e}"))?;
    mount(Some("/dev/null"), &null, none, MsFlags::MS_BIND, none)
        .map_err(|e| format!("bind /dev/null: {e}"))?;
    nix::unistd::chroot(rootfs).map_err(|e| format!("chroot: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))
}

/// The mount options (`ro`/`rw`) of the mount at `path`, from mountinfo.
fn mount_options(path: &str) -> String {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(path))
        .and_then(|l| l.split(' ').nth(5))
        .map(|o| o.split(',').next().unwrap_or("").to_string())
        .unwrap_or_else(|| "not-a-mount".into())
}

fn field<'a>(seen: &'a str, key: &str, sep: char) -> &'a str {
    seen.split(sep)
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or("<none>")
}

fn check_process(r: &mut Report, variant: Variant) {
    let dir = Scratch::new("md-ex-runc1");
    let process = serde_json::json!({
        "args": ["/bin/sh", "-c", WHOAMI, "sh", "one", "two words"],
        "env": ["PATH=/bin:/usr/bin", "GREETING=hello from config.json"],
        "cwd": "/var/www",
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
    });
    // Namespaces for the real runc's run below (the check's own exec only
    // enters the root).
    let linux = serde_json::json!({
        "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}],
    });
    let Some(b) = bundle_or_fail(r, &dir.0, process, linux) else {
        return;
    };
    let out = std::process::Command::new("/proc/self/exe")
        .args(["__child", variant.arg(), "1"])
        .arg(&b)
        .env("MD_EX_HOST_ONLY", "the runtime's own environment")
        .output();
    let seen = match out.map_err(|e| e.to_string()).and_then(|o| child_value(&o)) {
        Ok(v) => v,
        Err(e) => {
            return r.fail(
                "the container's process runs",
                e,
                "return the spec's process: args, env, cwd and user",
            )
        }
    };
    let f = |k| field(&seen, k, '|');
    r.check(
        "the process runs process.args (\"one\", \"two words\" as $1 and $2)",
        f("args") == "one,two words",
        f("args"),
        "args is the whole argv, program first: do not split or join it",
    );
    r.check(
        "its environment is process.env",
        f("greeting") == "hello from config.json",
        format!("GREETING={}", f("greeting")),
        "env is process.env, as KEY=value strings",
    );
    r.check(
        "and nothing of the runtime's environment",
        f("leak") == "none",
        format!("MD_EX_HOST_ONLY={}", f("leak")),
        "do not start from std::env::vars(): the container gets process.env only",
    );
    r.check(
        "it starts in process.cwd",
        f("cwd") == "/var/www",
        f("cwd"),
        "cwd is process.cwd()",
    );
    r.check(
        "it runs as uid 1000, gid 1000, with group 10 too",
        f("uid") == "1000" && f("gid") == "1000" && f("groups").split(',').any(|g| g == "10"),
        format!("uid={} gid={} groups={}", f("uid"), f("gid"), f("groups")),
        "process.user(): uid(), gid() and additional_gids()",
    );
    // The yardstick: the real runc, on the same bundle.
    let runc = Runc {
        root: dir.0.join("runc-state"),
        id: format!("md-ex-runc1-{}", std::process::id()),
    };
    let theirs = runc.run(&b);
    r.check(
        "the process prints the same line under the real runc (runc run)",
        theirs.as_deref() == Ok(seen.as_str()),
        format!("runc: {theirs:?}"),
        "runc gives the process exactly process.args, process.env, process.cwd and process.user",
    );
}

fn check_masks(r: &mut Report, variant: Variant) {
    let dir = Scratch::new("md-ex-runc2");
    let process = serde_json::json!({"args": ["/bin/true"], "cwd": "/"});
    let linux = serde_json::json!({"maskedPaths": MASKED, "readonlyPaths": READONLY});
    let Some(b) = bundle_or_fail(r, &dir.0, process, linux) else {
        return;
    };
    let out = run_child(variant, &["2", &b.display().to_string()]);
    let seen = match out.and_then(|o| child_value(&o)) {
        Ok(v) => v,
        Err(e) => {
            return r.fail(
                "the masks are applied",
                e,
                "a path that does not exist is skipped, not an error",
            )
        }
    };
    let f = |k| field(&seen, k, ' ');
    r.check(
        "/proc/keys and /proc/timer_list read empty",
        f("keys") == "0" && f("timer_list") == "0",
        format!("{} and {} bytes", f("keys"), f("timer_list")),
        "bind /dev/null over a masked file",
    );
    r.check(
        "/sys/firmware is an empty directory",
        f("firmware") == "0",
        format!("{} entries", f("firmware")),
        "mount an empty read-only tmpfs over a masked directory",
    );
    r.check(
        "writing /proc/sys/kernel/hostname is refused (read-only file system)",
        f("hostname_write").starts_with("EROFS"),
        f("hostname_write"),
        "bind the path onto itself, then remount that bind with MS_RDONLY",
    );
    r.check(
        "/proc/sys still reads (ostype is Linux)",
        f("ostype") == "Linux",
        f("ostype"),
        "read-only, not masked: /proc/sys must stay readable",
    );
    r.check(
        "/proc/irq is a read-only mount of its own",
        f("irq") == "ro",
        format!("its mount options start with {}", f("irq")),
        "every path of readonlyPaths, each its own bind",
    );
    let host = std::fs::read("/proc/timer_list")
        .map(|b| b.len())
        .unwrap_or(0);
    r.check(
        "the host's /proc/timer_list is untouched",
        host > 0,
        format!("{host} bytes on the host"),
        "mask only inside the container's mount namespace",
    );
}

/// Deletes the exercise's container when the check ends, however it ends.
struct Container {
    root: PathBuf,
    id: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = mini_runc::container::delete(&self.root, &self.id, true);
        // mini-runc's create made this process a mount namespace of its own
        // and bound its binary read-only into the state root (the init runs
        // from there, see `container::protected_exe`): unmount it, or the
        // scratch directory cannot be removed.
        let exe = self.root.join(mini_runc::container::PROTECTED_EXE);
        let _ = nix::mount::umount2(&exe, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn check_start(r: &mut Report, variant: Variant) {
    let dir = Scratch::new("md-ex-runc3");
    let id = format!("md-ex-runc-{}", std::process::id());
    let process = serde_json::json!({
        "args": ["/bin/sh", "-c", "echo started > /started"],
        "env": ["PATH=/bin:/usr/bin"],
        "cwd": "/",
    });
    let linux = serde_json::json!({
        "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}],
        "cgroupsPath": format!("/{id}"),
    });
    let Some(b) = bundle_or_fail(r, &dir.0, process, linux) else {
        return;
    };
    let started = b.join("rootfs/started");
    let c = Container {
        root: dir.0.join("state"),
        id: id.clone(),
    };
    let args = mini_runc::container::CreateArgs {
        bundle: b.clone(),
        ..Default::default()
    };
    if let Err(e) = mini_runc::container::create(&c.root, &id, &args) {
        return r.fail(
            "mini-runc creates the container",
            e,
            "run the checker as root",
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = mini_runc::container::load(&c.root, &id)
        .map(|s| s.status.name().to_string())
        .map_err(|e| e.to_string());
    r.check(
        "after create, state says created and the process has not run",
        before.as_deref() == Ok("created") && !started.exists(),
        format!("state {:?}, /started exists: {}", before, started.exists()),
        "this is mini-runc's create; if it fails, the host cannot run containers",
    );
    match start_within(variant, &c.root, &id) {
        Ok(()) => {}
        Err(e) if e == BLOCKED => {
            return r.fail(
                "start returns",
                e,
                "open the fifo for reading (the init holds it open for writing), never for writing",
            )
        }
        Err(e) => {
            return r.fail(
                "start returns",
                e,
                "open exec.fifo for reading, read, remove it",
            )
        }
    }
    let t = Instant::now();
    while !started.exists() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    r.check(
        "after start, the container's process ran (/started is in its root)",
        started.exists(),
        format!(
            "after {} ms: {}",
            t.elapsed().as_millis(),
            std::fs::read_to_string(&started)
                .unwrap_or_else(|_| "no /started".into())
                .trim()
        ),
        "reading the fifo releases the init; it writes one byte and execs",
    );
    let after = mini_runc::container::load(&c.root, &id)
        .map(|s| s.status.name().to_string())
        .map_err(|e| e.to_string());
    r.check(
        "and state no longer says created",
        matches!(after.as_deref(), Ok("running") | Ok("stopped")),
        format!(
            "state {after:?}, exec.fifo exists: {}",
            mini_runc::state::State::fifo(&c.root, &id).exists()
        ),
        "remove exec.fifo after reading it: its absence is how state tells created from running",
    );
    // The yardstick: runc keeps its exec fifo at the same place
    // (`<root>/<id>/exec.fifo`), so the same start releases a container the
    // real runc created.
    let _ = std::fs::remove_file(&started);
    let runc_id = format!("{id}-runc");
    let rc = Runc {
        root: dir.0.join("runc-state"),
        id: runc_id.clone(),
    };
    if let Err(e) = rc.create(&b) {
        return r.fail(
            "the real runc creates the same bundle",
            e,
            "install runc (scripts/setup.sh)",
        );
    }
    let released = start_within(variant, &rc.root, &runc_id);
    let t = Instant::now();
    while released.is_ok() && !started.exists() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let state = rc.status();
    r.check(
        "your start also releases a container the real runc created (runc state: no longer created)",
        released.is_ok() && started.exists() && matches!(state.as_str(), "running" | "stopped"),
        format!(
            "start: {released:?}, /started exists: {}, runc state: {state}",
            started.exists()
        ),
        "runc's create waits on <root>/<id>/exec.fifo too: read it, then remove it",
    );
}

const BLOCKED: &str = "still blocked after 10 s";

/// Runs `variant`'s start of container `id` in a thread, and gives up
/// waiting after 10 s (a start that opens the fifo for writing never
/// returns); a panic (a `todo!()`) is an error.
fn start_within(variant: Variant, root: &Path, id: &str) -> Result<(), String> {
    let (root, id) = (root.to_path_buf(), id.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(attempt(|| match variant {
            Variant::Learner => ex3::start(&root, &id),
            Variant::Solution => solutions::ex3::start(&root, &id),
        }));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BLOCKED.to_string()),
    }
}

/// A container of the real runc (`runc --root ROOT …`), deleted on drop.
struct Runc {
    root: PathBuf,
    id: String,
}

impl Runc {
    fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new("runc");
        c.arg("--root").arg(&self.root);
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        c
    }

    /// Gives the bundle's container the cgroup `/<id>`.
    fn set_cgroup(&self, bundle: &Path) -> Result<(), String> {
        let path = bundle.join("config.json");
        let mut spec: serde_json::Value = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("read config.json")?;
        spec["linux"]["cgroupsPath"] = format!("/{}", self.id).into();
        std::fs::write(&path, spec.to_string()).map_err(|e| e.to_string())
    }

    /// `runc create` of `bundle`, in a cgroup of its own.
    fn create(&self, bundle: &Path) -> Result<(), String> {
        self.set_cgroup(bundle)?;
        // Its stderr goes to a file, not a pipe: the created container keeps
        // runc's stdio (it is the container's), so a pipe would never end.
        let log = self.root.with_extension("create.err");
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let status = self
            .command()
            .stderr(file)
            .args(["create", "--bundle"])
            .arg(bundle)
            .arg(&self.id)
            .status()
            .map_err(|e| format!("run runc: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            Err(format!("runc create: {}", text.trim()))
        }
    }

    /// `runc run` of `bundle` in the foreground, in a cgroup of its own:
    /// what its process printed.
    fn run_output(&self, bundle: &Path) -> Result<String, String> {
        self.set_cgroup(bundle)?;
        let out = self
            .command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .args(["run", "--bundle"])
            .arg(bundle)
            .arg(&self.id)
            .output()
            .map_err(|e| format!("run runc: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "runc run: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The `OK …` value the process of `runc run` printed.
    fn run(&self, bundle: &Path) -> Result<String, String> {
        let out = self.run_output(bundle)?;
        out.lines()
            .find_map(|l| l.strip_prefix("OK "))
            .map(String::from)
            .ok_or_else(|| format!("runc run printed {out:?}"))
    }

    /// `status` of `runc state`.
    fn status(&self) -> String {
        let out = self
            .command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .args(["state", &self.id])
            .output();
        out.ok()
            .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
            .and_then(|v| v["status"].as_str().map(String::from))
            .unwrap_or_else(|| "<no state>".into())
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        let _ = self
            .command()
            .stderr(std::process::Stdio::null())
            .args(["delete", "--force", &self.id])
            .status();
    }
}

fn check_limits(r: &mut Report, variant: Variant) {
    let dir = Scratch::new("md-ex-runc4");
    let process = serde_json::json!({
        "args": ["/bin/cat", "/proc/self/limits", "/proc/self/status"],
        "cwd": "/",
        "rlimits": [
            {"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
            {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192},
        ],
        "noNewPrivileges": true,
    });
    let linux = serde_json::json!({
        "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}],
    });
    let Some(b) = bundle_or_fail(r, &dir.0, process, linux) else {
        return;
    };
    // The yardstick first, while the root is as the bundle made it (the
    // check's own child adds a dev/null to it).
    let runc = Runc {
        root: dir.0.join("runc-state"),
        id: format!("md-ex-runc4-{}", std::process::id()),
    };
    let runc_saw = runc.run_output(&b);
    let out = match run_child(variant, &["4", &b.display().to_string()]) {
        Ok(o) => o,
        Err(e) => return r.fail("the process runs", e, "run the checker as root"),
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(err) = text.lines().find_map(|l| l.strip_prefix("ERR ")) {
        return r.fail(
            "the limits are applied",
            err,
            "apply every rlimit, then no_new_privs",
        );
    }
    let limit = |name: &str| limit_in(&text, name);
    r.check(
        "Max open files is 123 (soft) / 456 (hard)",
        limit("Max open files") == "123/456",
        limit("Max open files"),
        "RLIMIT_NOFILE: setrlimit(Resource::RLIMIT_NOFILE, soft, hard)",
    );
    r.check(
        "Max msgqueue size is 4096 / 8192",
        limit("Max msgqueue size") == "4096/8192",
        limit("Max msgqueue size"),
        "every rlimit of the list, by its name",
    );
    let nnp = limit_in(&text, "NoNewPrivs:");
    r.check(
        "NoNewPrivs is 1",
        nnp == "1",
        format!("NoNewPrivs: {nnp}"),
        "nix::sys::prctl::set_no_new_privs() when p.no_new_privileges",
    );
    let facts = |t: &str| {
        ["Max open files", "Max msgqueue size", "NoNewPrivs:"]
            .map(|k| limit_in(t, k))
            .join(" ")
    };
    let theirs = runc_saw.map(|t| facts(&t));
    r.check(
        "the kernel shows the same under the real runc (runc run)",
        theirs.as_deref() == Ok(facts(&text).as_str()),
        format!("yours: {}; runc: {theirs:?}", facts(&text)),
        "runc applies every rlimit with setrlimit, and no_new_privs with prctl",
    );
}

/// The first two numbers after `name` on its line of `/proc/self/limits`
/// or `/proc/self/status` (`soft/hard`, or the one value).
fn limit_in(text: &str, name: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(name))
        .map(|l| {
            l[name.len()..]
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_else(|| "<none>".into())
}
