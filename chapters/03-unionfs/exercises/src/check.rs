//! The checks of chapter 03's exercises. Each runs in a re-execution of
//! this checker (`__child`) that first makes a private mount namespace:
//! every overlay it mounts is gone when it exits, and nothing reaches the
//! host. The child reports what it observed as `key=value` words.

use std::path::Path;
use std::process::ExitCode;

use exercise_kit::{child_report, child_value, run_child, Exercise, Report, Scratch, Variant};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::{ex1, ex2, ex3, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 3] = [
    Exercise {
        title: "mount an overlay, and see where writes go",
        check: check_mount,
    },
    Exercise {
        title: "a whiteout hides a lower file",
        check: check_whiteout,
    },
    Exercise {
        title: "an opaque directory hides a whole lower directory",
        check: check_opaque,
    },
];

fn io(e: std::io::Error) -> String {
    e.to_string()
}

/// The layout every exercise uses: `lower/etc/{motd,hostname}` and
/// `lower/app/{old.conf,old.d/}`, with empty `upper`, `work` and `merged`.
fn layout(root: &Path) -> Result<(), String> {
    for d in ["lower/etc", "lower/app/old.d", "upper", "work", "merged"] {
        std::fs::create_dir_all(root.join(d)).map_err(io)?;
    }
    std::fs::write(
        root.join("lower/etc/motd"),
        "welcome from the lower layer\n",
    )
    .map_err(io)?;
    std::fs::write(root.join("lower/etc/hostname"), "lower\n").map_err(io)?;
    std::fs::write(root.join("lower/app/old.conf"), "old\n").map_err(io)?;
    Ok(())
}

/// This child's own mount namespace, private: nothing propagates out.
fn private_mounts() -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("mount --make-rprivate /: {e}"))
}

/// The checker's own overlay mount (exercises 2 and 3).
fn overlay(root: &Path) -> Result<(), String> {
    solutions::ex1::mount_overlay(
        &root.join("lower"),
        &root.join("upper"),
        &root.join("work"),
        &root.join("merged"),
    )
    .map_err(|e| format!("the checker's overlay mount: {e}"))
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "<none>".into())
        .replace(' ', "_")
}

fn list(p: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if names.is_empty() {
        "<empty>".into()
    } else {
        names.join(",")
    }
}

/// What a `__child` does: `args` are the exercise number and the scratch dir.
pub fn child(variant: Variant, args: &[String]) -> ExitCode {
    let number = args.first().cloned().unwrap_or_default();
    let root = Path::new(args.get(1).map(String::as_str).unwrap_or("/nonexistent")).to_path_buf();
    child_report(|| {
        private_mounts()?;
        layout(&root)?;
        let (lower, upper, merged) = (root.join("lower"), root.join("upper"), root.join("merged"));
        match number.as_str() {
            "1" => {
                match variant {
                    Variant::Learner => {
                        ex1::mount_overlay(&lower, &upper, &root.join("work"), &merged)
                    }
                    Variant::Solution => {
                        solutions::ex1::mount_overlay(&lower, &upper, &root.join("work"), &merged)
                    }
                }
                .map_err(|e| format!("mount_overlay: {e}"))?;
                let seen = read(&merged.join("etc/motd"));
                let _ = std::fs::write(merged.join("etc/hostname"), "changed\n");
                let _ = std::fs::write(merged.join("etc/new"), "new\n");
                Ok(format!(
                    "seen={seen} lower_hostname={} upper_hostname={} upper_new={} lower_new={}",
                    read(&lower.join("etc/hostname")),
                    read(&upper.join("etc/hostname")),
                    read(&upper.join("etc/new")),
                    exists(&lower.join("etc/new")),
                ))
            }
            "2" => {
                match variant {
                    Variant::Learner => ex2::whiteout(&upper, "etc/motd"),
                    Variant::Solution => solutions::ex2::whiteout(&upper, "etc/motd"),
                }
                .map_err(|e| format!("whiteout: {e}"))?;
                overlay(&root)?;
                Ok(format!(
                    "merged_motd={} merged_hostname={} lower_motd={}",
                    exists(&merged.join("etc/motd")),
                    exists(&merged.join("etc/hostname")),
                    exists(&lower.join("etc/motd")),
                ))
            }
            "3" => {
                match variant {
                    Variant::Learner => ex3::opaque_dir(&upper, "app"),
                    Variant::Solution => solutions::ex3::opaque_dir(&upper, "app"),
                }
                .map_err(|e| format!("opaque_dir: {e}"))?;
                std::fs::write(upper.join("app/new.conf"), "new\n")
                    .map_err(|e| format!("write upper/app/new.conf: {e}"))?;
                overlay(&root)?;
                Ok(format!(
                    "merged_app={} lower_app={}",
                    list(&merged.join("app")),
                    list(&lower.join("app"))
                ))
            }
            other => Err(format!("no exercise {other}")),
        }
    })
}

/// Runs the child for exercise `n` and returns its `key=value` words.
fn observe(
    r: &mut Report,
    v: Variant,
    n: usize,
    what: &str,
    hint: &str,
) -> Option<(Scratch, Vec<(String, String)>)> {
    let scratch = Scratch::new(&format!("ch03-ex{n}"));
    match run_child(v, &[&n.to_string(), &scratch.arg()]).and_then(|o| child_value(&o)) {
        Ok(words) => {
            let kv = words
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Some((scratch, kv))
        }
        Err(e) => {
            r.fail(what, e, hint);
            None
        }
    }
}

fn get(kv: &[(String, String)], key: &str) -> String {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn check_mount(r: &mut Report, v: Variant) {
    let Some((_s, kv)) = observe(
        r,
        v,
        1,
        "mount_overlay ran",
        "see src/ex1.rs's hint; `dmesg | tail` tells why overlay refused options",
    ) else {
        return;
    };
    let g = |k: &str| get(&kv, k);
    r.check(
        "a lower file reads through the merged view",
        g("seen") == "welcome_from_the_lower_layer",
        format!("merged/etc/motd = {:?}", g("seen")),
        "lowerdir= is the read-only layer",
    );
    r.check(
        "changing a lower file copied it up into upper",
        g("upper_hostname") == "changed",
        format!("upper/etc/hostname = {:?}", g("upper_hostname")),
        "upperdir= receives every write",
    );
    r.check(
        "the lower file is untouched",
        g("lower_hostname") == "lower",
        format!("lower/etc/hostname = {:?}", g("lower_hostname")),
        "mount overlay, not a bind mount of lower",
    );
    r.check(
        "a new file landed in upper only",
        g("upper_new") == "new" && g("lower_new") == "false",
        format!(
            "upper/etc/new = {:?}, in lower: {}",
            g("upper_new"),
            g("lower_new")
        ),
        "upperdir= receives every write",
    );
}

fn check_whiteout(r: &mut Report, v: Variant) {
    let Some((_s, kv)) = observe(
        r,
        v,
        2,
        "whiteout ran and the overlay mounted",
        "see src/ex2.rs's hint",
    ) else {
        return;
    };
    let g = |k: &str| get(&kv, k);
    r.check("etc/motd is hidden in the merged view", g("merged_motd") == "false", format!("merged/etc/motd exists: {}", g("merged_motd")), "a whiteout is a character device 0/0 (mknod S_IFCHR, makedev(0, 0)) at the same path in upper");
    r.check(
        "its neighbour etc/hostname is still there",
        g("merged_hostname") == "true",
        format!("merged/etc/hostname exists: {}", g("merged_hostname")),
        "hide one file, not its directory",
    );
    r.check(
        "the lower layer still has etc/motd",
        g("lower_motd") == "true",
        format!("lower/etc/motd exists: {}", g("lower_motd")),
        "never change a lower layer: record the deletion in upper",
    );
}

fn check_opaque(r: &mut Report, v: Variant) {
    let Some((_s, kv)) = observe(
        r,
        v,
        3,
        "opaque_dir ran and the overlay mounted",
        "see src/ex3.rs's hint",
    ) else {
        return;
    };
    let g = |k: &str| get(&kv, k);
    r.check(
        "merged app/ shows only upper's entries",
        g("merged_app") == "new.conf",
        format!("ls merged/app = {}", g("merged_app")),
        "set the xattr trusted.overlay.opaque to \"y\" on upper's directory",
    );
    r.check(
        "the lower app/ is untouched",
        g("lower_app") == "old.conf,old.d",
        format!("ls lower/app = {}", g("lower_app")),
        "never change a lower layer",
    );
}
