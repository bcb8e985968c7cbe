//! `chapter03 shell`: a shell in the merged root, isolated by chapter 01.

use std::process::ExitCode;

use chapter03::DriverKind;

use crate::image::{self, say, section, shell};

/// Build and mount the image, run the shell inside, then show the diff.
pub fn run(kind: DriverKind, keep: bool, argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let mut img = image::build(kind, keep)?;
    let argv = if argv.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        argv
    };
    section(
        5,
        "A shell in the container root (chapter 01's namespaces + pivot_root)",
    );
    shell(format!(
        "unshare --mount --uts --ipc --net --pid --cgroup --fork chroot {} {}",
        img.merged.display(),
        argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
    ));
    say("change files, delete some, `exit` when done: the diff below shows what you did");
    let mut cfg = chapter01::Config::new(argv);
    cfg.namespaces = chapter01::Namespace::all_but_user();
    cfg.hostname = Some("ch03-shell".into());
    cfg.rootfs = Some(img.merged.clone());
    cfg.env = vec![
        "PATH=/bin:/sbin:/usr/bin:/usr/sbin".into(),
        "PS1=ch03# ".into(),
        "HOME=/root".into(),
    ];
    let mut child = chapter01::spawn(cfg)?;
    let status = child.wait()?;
    say(format!("the shell exited: {status}"));
    img.finish(6)?;
    if keep {
        say(format!("kept: {}", img.work.display()));
    }
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// Quote an argument for display in a shell command line.
fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.=:,".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}
