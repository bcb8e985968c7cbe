//! Interactive containers as a person uses them: `run -it`, `exec -it`,
//! `start -ai`, Ctrl-P Ctrl-Q and `attach`, driven through a real
//! pseudo-terminal (rexpect); then pipes, binary data and stream separation.

use e2e::{cli_bin, Daemon};
use rexpect::process::wait::WaitStatus;
use rexpect::session::{spawn_command, PtySession};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

const PROMPT: &str = "/ # ";

fn cli(d: &Daemon, args: &[&str]) -> Command {
    let mut c = Command::new(cli_bin());
    c.arg("-H").arg(d.host()).args(args);
    c
}

fn docker_cli(d: &Daemon, args: &[&str]) -> Command {
    let bin = ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("the docker CLI is installed (apt-get install docker.io)");
    let mut c = Command::new(bin);
    c.env("DOCKER_HOST", d.host()).args(args);
    c
}

/// Spawns on a pty of 30 rows × 90 columns.
fn spawn(cmd: Command) -> PtySession {
    let p = spawn_command(cmd, Some(30_000)).expect("spawn on a pty");
    set_size(&p, 30, 90);
    p
}

/// Changes the pty's size: the kernel sends SIGWINCH to the client.
fn set_size(p: &PtySession, rows: u16, cols: u16) {
    let master = p.process.get_file_handle();
    mini_runc::sys::set_window_size(master.as_raw_fd(), rows, cols).unwrap();
}

/// The terminal's line discipline flags, read through the master.
fn local_flags(p: &PtySession) -> nix::sys::termios::LocalFlags {
    let master = p.process.get_file_handle();
    nix::sys::termios::tcgetattr(&master).unwrap().local_flags
}

/// Canonical mode (line editing) is on: not raw.
fn cooked(p: &PtySession) -> bool {
    local_flags(p).contains(nix::sys::termios::LocalFlags::ICANON)
}

fn exit_status(p: &mut PtySession) -> i32 {
    p.exp_eof().expect("the client ends");
    match p.process.wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("the client did not exit normally: {other:?}"),
    }
}

fn inspect(d: &Daemon, name: &str, fmt: &str) -> String {
    d.ok(&["inspect", "--format", fmt, name]).trim().to_string()
}

#[test]
fn run_it_gives_a_shell_with_a_terminal_and_its_exit_code() {
    let d = Daemon::start();
    d.import_busybox("bb:it");
    let mut p = spawn(cli(&d, &["run", "-it", "--name", "md-it-1", "bb:it", "sh"]));
    p.exp_string(PROMPT).expect("the shell's prompt");
    let id = inspect(&d, "md-it-1", "{{.Id}}");
    p.send_line("echo host=$(hostname)").unwrap();
    p.exp_string(&format!("host={}", &id[..12]))
        .expect("the container's hostname");
    p.send_line("tty").unwrap();
    p.exp_string("/dev/pts/0").expect("stdin is a terminal");
    p.send_line("echo term=$TERM").unwrap();
    p.exp_string("term=xterm").expect("TERM as Docker sets it");
    p.send_line("ps -o pid,comm").unwrap();
    p.exp_regex(r"\n\s*1 sh\r").expect("the shell is PID 1");
    p.send_line("stty size").unwrap();
    p.exp_string("30 90")
        .expect("the window size sent at start");
    set_size(&p, 44, 120);
    // The resize travels client → daemon → shim asynchronously: ask until seen.
    let mut seen = false;
    for _ in 0..50 {
        p.send_line("stty size").unwrap();
        if p.exp_regex(r"\r\n(\d+ \d+)\r\n")
            .map(|(_, m)| m.contains("44 120"))
            .unwrap_or(false)
        {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(seen, "the window change reached the container's terminal");
    assert!(!cooked(&p), "the client put the terminal in raw mode");
    p.send_line("exit 7").unwrap();
    assert_eq!(
        exit_status(&mut p),
        7,
        "run -it exits with the shell's status"
    );
    assert!(cooked(&p), "the client restored the terminal");
    assert_eq!(inspect(&d, "md-it-1", "{{.State.ExitCode}}"), "7");
}

#[test]
fn ctrl_p_ctrl_q_detaches_and_attach_reconnects() {
    let d = Daemon::start();
    d.import_busybox("bb:det");
    let mut p = spawn(cli(&d, &["run", "-it", "--name", "md-det", "bb:det", "sh"]));
    p.exp_string(PROMPT).unwrap();
    p.send_line("echo marker=$((40+2))").unwrap();
    p.exp_string("marker=42").unwrap();
    p.send_control('p').unwrap();
    p.send_control('q').unwrap();
    assert_eq!(exit_status(&mut p), 0, "detaching exits 0");
    assert!(cooked(&p), "the terminal is restored after a detach");
    assert_eq!(
        inspect(&d, "md-det", "{{.State.Running}}"),
        "true",
        "the container keeps running after the detach"
    );

    let mut a = spawn(cli(&d, &["attach", "md-det"]));
    a.send_line("echo back=$((1+1))").unwrap();
    a.exp_string("back=2")
        .expect("attach reaches the same shell");
    a.send_line("exit 3").unwrap();
    assert_eq!(
        exit_status(&mut a),
        3,
        "attach ends with the container's status"
    );
    assert_eq!(inspect(&d, "md-det", "{{.State.Running}}"), "false");

    // Custom detach keys.
    let mut p = spawn(cli(
        &d,
        &[
            "run",
            "-it",
            "--detach-keys",
            "ctrl-a,x",
            "--name",
            "md-det2",
            "bb:det",
            "sh",
        ],
    ));
    p.exp_string(PROMPT).unwrap();
    p.send_control('a').unwrap();
    p.send("x").unwrap();
    p.flush().unwrap();
    assert_eq!(exit_status(&mut p), 0);
    assert_eq!(inspect(&d, "md-det2", "{{.State.Running}}"), "true");
    d.ok(&["rm", "-f", "md-det2"]);
}

#[test]
fn start_ai_and_exec_it() {
    let d = Daemon::start();
    d.import_busybox("bb:sai");
    d.ok(&["create", "-it", "--name", "md-sai", "bb:sai", "sh"]);
    let mut p = spawn(cli(&d, &["start", "-ai", "md-sai"]));
    p.exp_string(PROMPT).expect("start -ai shows the prompt");
    p.send_line("echo started=yes").unwrap();
    p.exp_string("started=yes").unwrap();
    p.send_line("exit 4").unwrap();
    assert_eq!(exit_status(&mut p), 4);

    d.ok(&["run", "-d", "--name", "md-ex", "bb:sai", "sleep", "600"]);
    let mut e = spawn(cli(&d, &["exec", "-it", "md-ex", "sh"]));
    e.exp_string(PROMPT).expect("exec -it shows a prompt");
    e.send_line("tty; echo term=$TERM").unwrap();
    e.exp_string("/dev/pts/")
        .expect("the exec has its own terminal");
    e.exp_string("term=xterm").unwrap();
    e.send_line("ps -o pid,comm | grep -c sleep").unwrap();
    e.exp_string("1")
        .expect("the exec sees the container's processes");
    e.send_line("stty size").unwrap();
    e.exp_string("30 90")
        .expect("the exec's terminal got the window size");
    e.send_line("exit 9").unwrap();
    assert_eq!(
        exit_status(&mut e),
        9,
        "exec -it exits with the process's status"
    );
    assert!(cooked(&e));
    d.ok(&["rm", "-f", "md-ex"]);
}

#[test]
fn pipes_binary_data_and_separate_streams() {
    let d = Daemon::start();
    d.import_busybox("bb:pipe");
    // `-i` without `-t`: stdin from a pipe, closed at its end.
    let mut c = cli(
        &d,
        &["run", "-i", "--rm", "bb:pipe", "sh", "-c", "cat; echo done"],
    );
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\ndone\n");

    // 10 MiB of random bytes through `cat` arrive byte-identical.
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..10 << 20).map(|_| rand::random::<u8>()).collect();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, &data).unwrap();
    let output = dir.path().join("out.bin");
    let st = cli(&d, &["run", "-i", "--rm", "bb:pipe", "cat"])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(std::fs::File::create(&output).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let got = std::fs::read(&output).unwrap();
    assert_eq!(got.len(), data.len(), "every byte came back");
    assert!(got == data, "the bytes are identical");

    // Without a terminal, stdout and stderr stay apart.
    let out = d.cli(&[
        "run",
        "--rm",
        "bb:pipe",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to-out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-err\n");

    // exec without a terminal: piped stdin, exit code, -e -u -w.
    d.ok(&["run", "-d", "--name", "md-pipe", "bb:pipe", "sleep", "600"]);
    let mut child = cli(&d, &["exec", "-i", "md-pipe", "sh", "-c", "wc -c; exit 5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"12345").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
    let out = d.ok(&[
        "exec",
        "-e",
        "GREETING=hello",
        "-u",
        "1000:1000",
        "-w",
        "/tmp",
        "md-pipe",
        "sh",
        "-c",
        "echo $GREETING $(id -u) $(pwd)",
    ]);
    assert_eq!(out, "hello 1000 /tmp\n");
    // A detached exec runs on after the client returns.
    d.ok(&[
        "exec",
        "-d",
        "md-pipe",
        "sh",
        "-c",
        "echo bg > /tmp/bg; sleep 1",
    ]);
    let mut seen = String::new();
    for _ in 0..100 {
        seen = d.ok(&["exec", "md-pipe", "cat", "/tmp/bg"]);
        if seen == "bg\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(seen, "bg\n");
    let out = d.cli(&["exec", "md-pipe", "/no/such/binary"]);
    assert_eq!(
        out.status.code(),
        Some(126),
        "an exec that cannot start: 126"
    );
    d.ok(&["rm", "-f", "md-pipe"]);
}

#[test]
fn logs_follow_ends_with_the_container() {
    let d = Daemon::start();
    d.import_busybox("bb:logs");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "md-logs",
        "bb:logs",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.2; done",
    ]);
    let out = d.ok(&["logs", "-f", "md-logs"]);
    assert_eq!(
        out, "line1\nline2\nline3\n",
        "follow saw every line and ended"
    );
    assert_eq!(d.ok(&["logs", "--tail", "1", "md-logs"]), "line3\n");
    let stamped = d.ok(&["logs", "-t", "md-logs"]);
    assert!(
        stamped.lines().all(|l| l.len() > 30 && l.contains('T')),
        "{stamped}"
    );
    // --since / --until cut at the time stamped on line 2.
    let t2 = stamped
        .lines()
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(d.ok(&["logs", "--since", &t2, "md-logs"]), "line2\nline3\n");
    assert_eq!(d.ok(&["logs", "--until", &t2, "md-logs"]), "line1\n");
    assert_eq!(
        d.ok(&["logs", "--since", "1h", "md-logs"]),
        "line1\nline2\nline3\n"
    );
    // The log survives a daemon restart.
    let mut d = d;
    d.kill9();
    d.spawn();
    assert_eq!(d.ok(&["logs", "md-logs"]), "line1\nline2\nline3\n");
    // A terminal's log is raw, as the container printed it.
    d.ok(&[
        "run",
        "-t",
        "--name",
        "md-logs-tty",
        "bb:logs",
        "sh",
        "-c",
        "printf 'a\\tb\\n'",
    ]);
    assert_eq!(d.ok(&["logs", "md-logs-tty"]), "a\tb\r\n");
}

#[test]
fn the_real_docker_cli_runs_interactive_flows() {
    let d = Daemon::start();
    d.import_busybox("bb:dk");
    // Piped stdin through `docker run -i`.
    let mut child = docker_cli(
        &d,
        &["run", "-i", "--rm", "bb:dk", "sh", "-c", "cat; exit 6"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through docker\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through docker\n");
    assert_eq!(out.status.code(), Some(6));

    // `docker run -it` and `docker exec -it` on a terminal.
    let mut p = spawn(docker_cli(
        &d,
        &["run", "-it", "--name", "md-dk", "bb:dk", "sh"],
    ));
    p.exp_string(PROMPT)
        .expect("docker run -it shows the prompt");
    p.send_line("tty; stty size").unwrap();
    p.exp_string("/dev/pts/0").unwrap();
    p.exp_string("30 90")
        .expect("the docker CLI's resize arrived");
    p.send_control('p').unwrap();
    p.send_control('q').unwrap();
    p.exp_eof().expect("docker run -it detaches");
    assert_eq!(inspect(&d, "md-dk", "{{.State.Running}}"), "true");

    let mut e = spawn(docker_cli(&d, &["exec", "-it", "md-dk", "sh"]));
    e.exp_string(PROMPT)
        .expect("docker exec -it shows the prompt");
    e.send_line("exit 8").unwrap();
    assert_eq!(exit_status(&mut e), 8, "docker exec reports the exit code");

    let mut a = spawn(docker_cli(&d, &["attach", "md-dk"]));
    a.send_line("echo via=attach").unwrap();
    a.exp_string("via=attach").unwrap();
    a.send_line("exit 2").unwrap();
    assert_eq!(
        exit_status(&mut a),
        2,
        "docker attach ends with the container's status"
    );
}

#[test]
fn signals_to_the_client_reach_the_container() {
    let d = Daemon::start();
    d.import_busybox("bb:sig");
    let script = "trap 'echo got-term; exit 5' TERM; echo ready; while true; do sleep 0.1; done";
    let mut child = cli(&d, &["run", "--rm", "bb:sig", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n", "the container's trap ran");
    assert_eq!(
        child.wait().unwrap().code(),
        Some(5),
        "the client exits with the container's status"
    );
}
