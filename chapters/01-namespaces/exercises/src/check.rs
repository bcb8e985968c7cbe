//! The checks of chapter 01's exercises. Each runs the exercise's function
//! in a fresh process (a re-execution of this checker as `__child`), so a
//! namespace it makes never touches the checker itself, and observes the
//! result from outside.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use exercise_kit::{attempt, child_report, child_value, run_child, Exercise, Report, Variant};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitPidFlag};

use crate::{ex1, ex2, ex3, ex4, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 4] = [
    Exercise {
        title: "a UTS namespace of one's own",
        check: check_uts,
    },
    Exercise {
        title: "PID 1 reaps its orphans",
        check: check_reap,
    },
    Exercise {
        title: "pivot_root, with / shared as on systemd",
        check: check_pivot,
    },
    Exercise {
        title: "a user namespace's id maps",
        check: check_userns,
    },
];

/// The scratch directory of exercise `n`; a mount that leaked to the host
/// (exercise 3 done wrong) is undone first.
struct Scratch(exercise_kit::Scratch);

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch(exercise_kit::Scratch::new(&format!("ch01-ex{n}")))
    }

    fn dir(&self) -> &Path {
        &self.0 .0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = umount2(&self.0 .0, MntFlags::MNT_DETACH);
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What a `__child` does; `args[0]` is the exercise number.
pub fn child(variant: Variant, args: &[String]) -> ExitCode {
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(0).as_str() {
        "1" => child_report(|| {
            match variant {
                Variant::Learner => ex1::own_hostname(&arg(1)),
                Variant::Solution => solutions::ex1::own_hostname(&arg(1)),
            }
            .map_err(|e| e.to_string())?;
            let ns = std::fs::read_link("/proc/self/ns/uts").map_err(|e| e.to_string())?;
            Ok::<_, String>(format!("{} {}", hostname(), ns.display()))
        }),
        // Exercise 2, first process: make the PID namespace, start its PID 1.
        "2" => child_report(|| {
            unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("unshare(CLONE_NEWPID): {e}"))?;
            let out = Command::new("/proc/self/exe")
                .args(["__child", variant.arg(), "2-init"])
                .output()
                .map_err(|e| format!("start PID 1: {e}"))?;
            child_value(&out)
        }),
        // Exercise 2, PID 1: leave two orphans, then reap.
        "2-init" => child_report(|| {
            let me = std::process::id();
            // sh starts two sleeps and exits at once: they become our orphans.
            let _sh = Command::new("/bin/sh")
                .args(["-c", "sleep 0.3 & sleep 0.3 & exit 7"])
                .spawn()
                .map_err(|e| format!("start /bin/sh: {e}"))?;
            let reaped = match variant {
                Variant::Learner => attempt(ex2::reap_all),
                Variant::Solution => attempt(solutions::ex2::reap_all),
            }?
            .map_err(|e| format!("reap_all: {e}"))?;
            // Anything left, running or zombie?
            std::thread::sleep(std::time::Duration::from_millis(500));
            let left = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Err(nix::errno::Errno::ECHILD) => 0,
                _ => {
                    let mut n = 0;
                    while let Ok(s) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                        if s.pid().is_none() {
                            break;
                        }
                        n += 1;
                    }
                    n.max(1)
                }
            };
            Ok::<_, String>(format!("pid={me} reaped={reaped} left={left}"))
        }),
        "3" => child_report(|| {
            unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
            // As on a systemd host: / is shared in this mount namespace.
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_SHARED,
                None::<&str>,
            )
            .map_err(|e| format!("mount --make-rshared /: {e}"))?;
            let root = PathBuf::from(arg(1));
            match variant {
                Variant::Learner => ex3::pivot_into(&root),
                Variant::Solution => solutions::ex3::pivot_into(&root),
            }
            .map_err(|e| {
                if e == nix::errno::Errno::EINVAL {
                    format!("{e} (pivot_root says EINVAL when a mount is shared, or new_root is no mount point)")
                } else {
                    e.to_string()
                }
            })?;
            let mut names: Vec<String> = std::fs::read_dir("/")
                .map_err(|e| format!("ls /: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            names.sort();
            let marker = std::fs::read_to_string("/marker").unwrap_or_else(|e| format!("<{e}>"));
            Ok::<_, String>(format!("{}|{}", names.join(","), marker.trim()))
        }),
        "4" => child_report(|| {
            unshare(CloneFlags::CLONE_NEWUSER)
                .map_err(|e| format!("unshare(CLONE_NEWUSER): {e}"))?;
            println!("READY");
            std::io::stdout().flush().map_err(|e| e.to_string())?;
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            // Until now this process kept the host's ids (unmapped inside:
            // 65534). Like runc's init, become the namespace's root; this
            // fails with EINVAL when 0 is not mapped.
            let root = (nix::unistd::setgid(0.into()), nix::unistd::setuid(0.into()));
            if let (Err(e), _) | (_, Err(e)) = root {
                return Err(format!(
                    "uid={} gid={} setuid(0)/setgid(0): {e}",
                    nix::unistd::getuid(),
                    nix::unistd::getgid()
                ));
            }
            let file = Path::new(&arg(1)).join("made-inside");
            let made = std::fs::write(&file, "hello\n")
                .map(|_| "created".to_string())
                .unwrap_or_else(|e| format!("not created: {e}"));
            Ok::<_, String>(format!(
                "uid={} gid={} file={made}",
                nix::unistd::getuid(),
                nix::unistd::getgid()
            ))
        }),
        other => {
            eprintln!("unknown child {other}");
            ExitCode::from(2)
        }
    }
}

fn check_uts(r: &mut Report, v: Variant) {
    let host_before = hostname();
    let host_ns = std::fs::read_link("/proc/self/ns/uts")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let name = format!("ch01-ex1-{}", std::process::id());
    let out = run_child(v, &["1", &name]);
    let host_after = hostname();
    if host_after != host_before {
        // Undo a sethostname that reached the host.
        let _ = nix::unistd::sethostname(&host_before);
    }
    r.check(
        "the host's hostname did not change",
        host_after == host_before,
        format!("before {host_before:?}, after {host_after:?}"),
        "unshare the UTS namespace *before* sethostname, or the host gets the name",
    );
    let value = match out.and_then(|o| child_value(&o)) {
        Ok(v) => v,
        Err(e) => return r.fail("own_hostname ran", e, "see src/ex1.rs's hint"),
    };
    let (inside, ns) = value.split_once(' ').unwrap_or((value.as_str(), ""));
    r.check(
        "the process sees its new hostname",
        inside == name,
        format!("hostname {inside:?}, wanted {name:?}"),
        "call sethostname(name) after unshare",
    );
    r.check(
        "the process is in a UTS namespace of its own",
        !ns.is_empty() && ns != host_ns,
        format!("its {ns}, the host's {host_ns}"),
        "unshare(CloneFlags::CLONE_NEWUTS) makes the new namespace",
    );
}

fn check_reap(r: &mut Report, v: Variant) {
    let value = match run_child(v, &["2"]).and_then(|o| child_value(&o)) {
        Ok(v) => v,
        Err(e) => return r.fail("reap_all ran as PID 1", e, "see src/ex2.rs's hint"),
    };
    let field = |k: &str| {
        value
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or("?")
            .to_string()
    };
    r.check(
        "the function ran as PID 1 of a new PID namespace",
        field("pid=") == "1",
        &value,
        "(this is the checker's setup: run it as root)",
    );
    r.check(
        "it reaped the shell and both orphaned sleeps",
        field("reaped=") == "3",
        format!("reaped {} (wanted 3)", field("reaped=")),
        "keep waiting until waitpid says ECHILD: orphans arrive after their parent exits",
    );
    r.check(
        "no child or zombie is left",
        field("left=") == "0",
        format!("{} left", field("left=")),
        "wait for every child, not only the first",
    );
}

fn host_mounts_under(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.display().to_string();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&p))
        .map(str::to_string)
        .collect()
}

fn check_pivot(r: &mut Report, v: Variant) {
    let scratch = Scratch::new(3);
    let root = scratch.dir().join("rootfs");
    std::fs::create_dir_all(&root).expect("mkdir rootfs");
    std::fs::write(root.join("marker"), "inside the new root\n").expect("write marker");
    let out = run_child(v, &["3", &root.display().to_string()]);
    let leaked = host_mounts_under(scratch.dir());
    for m in leaked.iter().rev() {
        let _ = umount2(m.as_str(), MntFlags::MNT_DETACH);
    }
    r.check(
        "no mount leaked to the host",
        leaked.is_empty(),
        if leaked.is_empty() { "the host's mount table has nothing below the root".to_string() } else { format!("the host now has {leaked:?}") },
        "make / private (MS_REC | MS_PRIVATE) before mounting anything: shared mounts propagate to the host",
    );
    let value =
        match out.and_then(|o| child_value(&o)) {
            Ok(v) => v,
            Err(e) => return r.fail(
                "pivot_into ran",
                e,
                "make / private first (MS_REC | MS_PRIVATE), and bind-mount new_root onto itself",
            ),
        };
    let (names, marker) = value.split_once('|').unwrap_or((value.as_str(), ""));
    r.check(
        "/ is the new root: the marker file is there",
        marker == "inside the new root",
        format!("/marker reads {marker:?}"),
        "pivot_root(new_root, put_old), then chdir(\"/\")",
    );
    r.check(
        "the old root is gone: / lists only the new root's files",
        names == "marker",
        format!("ls / = {names}"),
        "umount2(\"/old\", MNT_DETACH) and remove the directory, or the container can reach the host's files",
    );
}

fn check_userns(r: &mut Report, v: Variant) {
    const HOST_ID: u32 = 100_000;
    let scratch = Scratch::new(4);
    let _ = std::fs::set_permissions(scratch.dir(), std::fs::Permissions::from_mode(0o1777));
    let mut child = match Command::new("/proc/self/exe")
        .args([
            "__child",
            v.arg(),
            "4",
            &scratch.dir().display().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return r.fail("the child started", e, "(checker setup)"),
    };
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let ready = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    let wrote = if ready == "READY" {
        attempt(|| match v {
            Variant::Learner => ex4::write_id_maps(child.id() as i32, HOST_ID, 65536),
            Variant::Solution => solutions::ex4::write_id_maps(child.id() as i32, HOST_ID, 65536),
        })
    } else {
        Err(format!(
            "the child did not unshare its user namespace: {ready}"
        ))
    };
    let _ = child.stdin.take().map(|mut s| s.write_all(b"go\n"));
    let report: String = lines.map_while(Result::ok).collect::<Vec<_>>().join(" ");
    let _ = child.wait();
    match wrote {
        Err(e) => return r.fail("write_id_maps ran", e, "see src/ex4.rs's hint"),
        Ok(Err(e)) => {
            return r.fail(
                "write_id_maps wrote both maps",
                e,
                "each map file takes one write, as root, before the process uses its ids",
            )
        }
        Ok(Ok(())) => {}
    }
    let report = report
        .strip_prefix("OK ")
        .or_else(|| report.strip_prefix("ERR "))
        .unwrap_or(&report)
        .to_string();
    r.check(
        "inside, the process is root (uid 0, gid 0)",
        report.starts_with("uid=0 gid=0"),
        &report,
        "the line is `INSIDE OUTSIDE COUNT`: 0 first, then the host id, in uid_map and gid_map",
    );
    let file = scratch.dir().join("made-inside");
    let owner = std::fs::metadata(&file).map(|m| (m.uid(), m.gid()));
    r.check(
        "the file it created belongs to 100000:100000 on the host",
        matches!(owner, Ok((HOST_ID, HOST_ID))),
        match owner {
            Ok((u, g)) => format!("{} is owned by {u}:{g}", file.display()),
            Err(e) => format!("{}: {e}", file.display()),
        },
        "map 0 to 100000 in both uid_map and gid_map",
    );
}
