//! Drives `chapter01 shell` as a person would, through a pseudo-terminal.

use rexpect::session::spawn_command;
use std::process::Command;

#[test]
fn shell_demo_is_isolated_and_exits_cleanly() {
    chapter01::require_root("the shell demo test").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chapter01"));
    cmd.args(["--quiet", "shell"]);
    let mut p = spawn_command(cmd, Some(30_000)).expect("spawn chapter01 shell");
    // The prompt: /etc/profile of the rootfs sets PS1='[\u@\h \w]\$ '.
    p.exp_string("[root@ch01-shell /]# ")
        .expect("the shell's prompt");

    p.send_line("echo host=$(hostname)").unwrap();
    p.exp_string("host=ch01-shell")
        .expect("the container's hostname");

    // Only the container's processes: sh is PID 1, and a handful of others
    // (ps, wc and the subshell), where the host has dozens.
    p.send_line("ps -o pid,comm").unwrap();
    p.exp_regex(r"\n\s*1 sh\r")
        .expect("ps shows the shell as PID 1");
    p.send_line("echo count=$(ps -o pid | wc -l)").unwrap();
    p.exp_regex(r"count=[3-6]\r")
        .expect("ps lists only the container's few processes");

    p.send_line(
        "echo uid=$(id -u) links=$(ls /sys/class/net 2>/dev/null | wc -l) ip=$(ip -o link | wc -l)",
    )
    .unwrap();
    p.exp_string("uid=0").expect("root inside");
    p.exp_regex(r"ip=1\b")
        .expect("only lo in the network namespace");

    p.send_line("exit").unwrap();
    p.exp_eof().expect("the tour ends when the shell exits");
    let status = p.process.wait().unwrap();
    assert_eq!(
        status,
        rexpect::process::wait::WaitStatus::Exited(p.process.child_pid, 0),
        "exit ends the demo with status 0"
    );
}
