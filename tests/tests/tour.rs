//! The README's main job: the tour runs from start to end and leaves nothing.

use std::process::Command;

#[test]
fn chapter01_tour_runs_every_demo_and_leaves_nothing_behind() {
    e2e::require_root();
    let before_queues = std::fs::read_to_string("/proc/sysvipc/msg")
        .unwrap()
        .lines()
        .count();
    let out = Command::new(e2e::bin("chapter01")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for title in [
        "UTS namespace",
        "PID namespace",
        "IPC namespace",
        "MNT namespace",
        "NET namespace",
        "USER namespace",
        "CGROUP namespace",
    ] {
        assert!(
            stdout.contains(&format!("== {title}")),
            "the tour skipped {title}:\n{stdout}"
        );
    }
    // Every demo showed its own fact, not just a heading.
    assert!(stdout.contains("ch01-uts"));
    assert!(stdout.contains("reaped by PID 1: no zombie"));
    assert!(stdout.contains("lo (DOWN)"));
    // Nothing left: no mount of a demo rootfs, no init, no message queue.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains("chapter01-"),
        "a demo mount was left behind"
    );
    let after_queues = std::fs::read_to_string("/proc/sysvipc/msg")
        .unwrap()
        .lines()
        .count();
    assert!(after_queues <= before_queues, "the IPC demo left its queue");
}
