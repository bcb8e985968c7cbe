//! The same bundle (Docker's default spec) under mini-runc, runc and crun: a
//! probe inside reports what it sees, and the reports must agree.
//!
//! crun 1.8 refuses to run on a hybrid cgroup host ("cgroups in hybrid mode
//! not supported"); on such a host it runs here in a private mount namespace
//! where the empty cgroup2 mount is unmounted, which makes the host look like
//! plain v1 to it. The two others run on the host as it is.

mod common;

use common::*;
use std::process::Command;

fn run_with(runtime: &str, bundle: &Bundle, hybrid_workaround: bool) -> String {
    let state = tempfile::tempdir().unwrap();
    let name = std::path::Path::new(runtime)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let id = format!("{}-{name}", bundle.id);
    let cmd = format!(
        "{runtime} --root {} run --bundle {} {id}",
        state.path().display(),
        bundle.path().display()
    );
    let script = if hybrid_workaround && std::path::Path::new("/sys/fs/cgroup/unified").is_dir() {
        format!("mount --make-rprivate / && umount /sys/fs/cgroup/unified && {cmd}")
    } else {
        cmd
    };
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{runtime}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mini_runc_runc_and_crun_see_the_same_container() {
    require_root();
    let mut b = Bundle::docker_default("diff", &["sh", "-c", PROBE]);
    b.config["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864});
    b.config["linux"]["resources"]["pids"] = serde_json::json!({"limit": 50});
    // Each runtime makes its own cgroup; the probe reads its limits from inside.
    b.save();
    let mini = run_with(MINI_RUNC, &b, false);
    let runc = run_with("runc", &b, false);
    let crun = run_with("crun", &b, true);
    let d1 = probe_differences("runc", &runc, "mini-runc", &mini);
    assert!(
        d1.is_empty(),
        "runc and mini-runc disagree:\n{}\n\nmini-runc saw:\n{mini}",
        d1.join("\n")
    );
    // crun differs from runc (and so from mini-runc) in ways that do not
    // change what the container can do; they are folded here, by name:
    // * it mounts the v1 cgroup hierarchies its own way;
    // * it adds a /dev/core -> /proc/kcore symlink;
    // * its read-only remounts of /proc paths do not repeat nosuid,nodev,noexec
    //   (they are inherited from /proc anyway);
    // * it masks files with the host's /dev/null (devtmpfs) where runc and
    //   mini-runc use the container's (tmpfs): both read as empty.
    let crun_view = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("/sys/fs/cgroup"))
            .map(|l| {
                if let Some(rest) = l.strip_prefix("dev=") {
                    return format!(
                        "dev={}",
                        rest.split(' ')
                            .filter(|d| *d != "core")
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
                if l.starts_with('/') {
                    // mount point and ro/rw only
                    let mut f = l.split(' ');
                    let point = f.next().unwrap_or("");
                    let rw = f.next().unwrap_or("").split(',').next().unwrap_or("");
                    let rw = if point == "/proc/keys" || point == "/proc/timer_list" {
                        "masked"
                    } else {
                        rw
                    };
                    return format!("{point} {rw}");
                }
                l.to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let d2 = probe_differences("crun", &crun_view(&crun), "mini-runc", &crun_view(&mini));
    assert!(
        d2.is_empty(),
        "crun and mini-runc disagree:\n{}\n\ncrun saw:\n{crun}",
        d2.join("\n")
    );
    for fact in [
        "CapEff: 00000000a80425fb",
        "Seccomp: 2",
        "kcore=0",
        "memlimit=67108864",
        "pidsmax=50",
    ] {
        assert!(
            mini.lines().any(|l| l.trim() == fact),
            "missing {fact:?} in:\n{mini}"
        );
    }
}
