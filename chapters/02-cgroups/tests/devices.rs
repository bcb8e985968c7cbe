//! The device filter on the host's real cgroup2 tree (on a unified host, or the
//! `unified` tree of a hybrid one). Needs root and fails without it:
//! `sudo -E cargo test -p chapter02 --test devices`.

use std::io::Write;
use std::process::{Command, Stdio};

use chapter02::devices::{self, DeviceType, Rule};
use chapter02::{Cgroup, Layout};

fn rule(allow: bool, kind: DeviceType, major: Option<i64>, minor: Option<i64>) -> Rule {
    Rule {
        allow,
        kind,
        major,
        minor,
        access: "rwm".into(),
    }
}

/// Runs `script` in a shell placed in `group`, and returns (exit ok, stderr).
fn run_in(group: &Cgroup, script: &str) -> (bool, String) {
    let mut child = Command::new("sh")
        .args(["-c", &format!("read go; {script}")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    group.add_pid(child.id() as i32).expect("join the group");
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_filter_refuses_what_the_rules_do_not_allow_and_is_replaced_on_update() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test needs root: run `sudo -E cargo test -p chapter02 --test devices`"
    );
    let layout = Layout::detect().unwrap();
    let name = chapter02::unique_name("devices");
    let group = Cgroup::create(&layout, &name).unwrap();
    let dir = devices::v2_dir(&layout, std::path::Path::new(&name))
        .expect("this host has a cgroup2 tree (unified or hybrid)");
    assert!(dir.is_dir());

    let (ok, err) = run_in(&group, "exec 3</dev/loop0");
    assert!(ok, "without the filter root opens a loop device: {err}");

    // Deny everything, then allow /dev/null: opening a loop device (block 7:0) is refused
    // (this group is in no v1 devices group of its own: only the program decides).
    let rules = [
        rule(false, DeviceType::All, None, None),
        rule(true, DeviceType::Char, Some(1), Some(3)),
    ];
    devices::attach(&dir, &rules).expect("attach the filter");
    let first = devices::attached(&dir).unwrap();
    assert_eq!(first.len(), 1, "one program on {}", dir.display());
    let (ok, err) = run_in(&group, "exec 3</dev/loop0");
    assert!(
        !ok && (err.contains("ermission denied") || err.contains("not permitted")),
        "{err}"
    );
    let (ok, err) = run_in(&group, "echo x >/dev/null && head -c1 /dev/null");
    assert!(ok, "{err}");
    let (ok, err) = run_in(&group, "head -c1 /dev/zero >/dev/null");
    assert!(!ok, "/dev/zero is not allowed: {err}");

    // An update replaces the program: now /dev/zero is allowed too.
    let mut more = rules.to_vec();
    more.push(rule(true, DeviceType::Char, Some(1), Some(5)));
    devices::attach(&dir, &more).unwrap();
    let second = devices::attached(&dir).unwrap();
    assert_eq!(second.len(), 1, "the old program was detached");
    assert_ne!(first, second);
    let (ok, err) = run_in(&group, "head -c1 /dev/zero >/dev/null");
    assert!(ok, "{err}");
    group.delete().unwrap();
    assert!(!dir.exists());
}

#[test]
fn attaching_to_a_directory_that_is_no_cgroup_names_the_step() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test needs root: run `sudo -E cargo test -p chapter02 --test devices`"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = devices::attach(dir.path(), &[rule(false, DeviceType::All, None, None)])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("bpf BPF_PROG_QUERY on {}", dir.path().display()))
            || err.starts_with(&format!("bpf BPF_PROG_ATTACH on {}", dir.path().display())),
        "{err}"
    );
}

#[test]
fn a_program_the_verifier_refuses_comes_back_with_its_log() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test needs root: run `sudo -E cargo test -p chapter02 --test devices`"
    );
    // No `exit`: the verifier refuses to run off the end.
    let program = devices::Program {
        insns: vec![(devices::Insn::MovImm { dst: 0, imm: 1 }, String::new())],
    };
    let err = program.load().unwrap_err().to_string();
    assert!(
        err.starts_with("load the device filter (bpf BPF_PROG_LOAD")
            && err.contains("the verifier said:"),
        "{err}"
    );
}
