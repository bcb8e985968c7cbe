//! The json-file log (issue 18): `docker logs` streams it with bounded
//! daemon memory whatever its size, `--log-opt max-size/max-file` rotate it
//! as Docker does, and `LogConfig` is checked, shown and honoured (daemon.json
//! defaults, `--log-driver none`). Driven through the real docker CLI.
//! Privileged: they fail (never skip) without root.

use e2e::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

fn docker20(d: &Daemon, args: &[&str]) -> Output {
    d.docker20(args)
}

fn ok20(d: &Daemon, args: &[&str]) -> String {
    d.ok20(args)
}

fn err20(d: &Daemon, args: &[&str]) -> String {
    let o = docker20(d, args);
    assert!(!o.status.success(), "docker {args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The daemon's peak RSS since the last [`reset_peak`], in KiB.
fn peak_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Resets VmHWM to the current RSS (`clear_refs` 5, proc(5)).
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

fn log_path(d: &Daemon, name: &str) -> PathBuf {
    PathBuf::from(ok20(d, &["inspect", "-f", "{{.LogPath}}", name]).trim())
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .len()
}

#[test]
fn a_200mb_log_streams_with_bounded_daemon_memory() {
    let d = Daemon::start();
    d.import_busybox("bb");
    ok20(&d, &["create", "--name", "big", "bb", "true"]);
    let path = log_path(&d, "big");
    // ~200 MB in Docker's json-file format, written as the shim writes it.
    let pad = "x".repeat(150);
    let lines = 1_000_000u64;
    {
        let mut w =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        for i in 1..=lines {
            writeln!(
                w,
                r#"{{"log":"line {i:07} {pad}\n","stream":"stdout","time":"2026-12-07T04:00:00.000000001Z"}}"#
            )
            .unwrap();
        }
    }
    assert!(size(&path) > 190_000_000, "{}", size(&path));
    let pid = d.child.as_ref().unwrap().id();
    const BOUND_KIB: u64 = 64 * 1024;

    reset_peak(pid);
    let out = ok20(&d, &["logs", "--tail", "2", "big"]);
    assert_eq!(
        out,
        format!("line 0999999 {pad}\nline 1000000 {pad}\n"),
        "the last two lines"
    );
    let peak = peak_kib(pid);
    assert!(
        peak < BOUND_KIB,
        "logs --tail 2 drove the daemon to {peak} KiB"
    );

    reset_peak(pid);
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg("/usr/bin/docker logs big | wc -c")
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    let bytes: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert_eq!(
        bytes,
        lines * (5 + 7 + 1 + 150 + 1),
        "every line came through"
    );
    let peak = peak_kib(pid);
    eprintln!("daemon peak RSS during a full logs: {peak} KiB");
    assert!(peak < BOUND_KIB, "logs drove the daemon to {peak} KiB");
}

#[test]
fn max_size_and_max_file_rotate_as_docker_does_and_logs_reads_them_in_order() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let out = ok20(
        &d,
        &[
            "run",
            "--name",
            "rot",
            "--network",
            "none",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "bb",
            "sh",
            "-c",
            "i=1; while [ $i -le 300 ]; do echo line $i; i=$((i+1)); done",
        ],
    );
    assert_eq!(out.lines().count(), 300, "run itself shows everything");
    let lc = ok20(
        &d,
        &["inspect", "-f", "{{json .HostConfig.LogConfig}}", "rot"],
    );
    assert_eq!(
        lc.trim(),
        r#"{"Type":"json-file","Config":{"max-file":"3","max-size":"1k"}}"#
    );
    // Three files: the live one and two rotated, the oldest dropped.
    let path = log_path(&d, "rot");
    let rotated = |i: u32| PathBuf::from(format!("{}.{i}", path.display()));
    assert!(rotated(1).exists() && rotated(2).exists(), "rotated files");
    assert!(!rotated(3).exists(), "more than max-file files");
    // Docker rotates before a write once the file reached max-size (1k is
    // 1000 bytes, decimal as Docker's units.FromHumanSize): a full file is
    // at least 1000 bytes and at most one line over.
    for i in [1, 2] {
        let s = size(&rotated(i));
        assert!(
            (1000..1100).contains(&s),
            "{}: {s} bytes",
            rotated(i).display()
        );
    }
    assert!(size(&path) <= 1100);
    // `docker logs` gives the newest lines, in order, from all three files.
    let logs = ok20(&d, &["logs", "rot"]);
    let got: Vec<u32> = logs
        .lines()
        .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
        .collect();
    assert_eq!(got.last(), Some(&300));
    assert!(got.len() > 20 && got.len() < 300, "{} lines", got.len());
    let first = got[0];
    assert_eq!(
        got,
        (first..=300).collect::<Vec<_>>(),
        "in order, none missing"
    );
    let on_disk: usize = [rotated(2), rotated(1), path.clone()]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum();
    assert_eq!(got.len(), on_disk);
    // --tail reaches back across the files.
    let n = (size(&path) / 40 + 5).to_string();
    let tail = ok20(&d, &["logs", "--tail", &n, "rot"]);
    let want: String = (301 - n.parse::<u32>().unwrap()..=300)
        .map(|i| format!("line {i}\n"))
        .collect();
    assert_eq!(tail, want);
}

#[test]
fn log_config_defaults_refusals_and_the_none_driver() {
    let d = Daemon::start_with_config(
        r#"{"log-driver": "json-file", "log-opts": {"max-size": "2k", "max-file": "2"}}"#,
    );
    d.import_busybox("bb");
    // daemon.json's options fill in those the container did not give.
    ok20(
        &d,
        &[
            "create",
            "--name",
            "dflt",
            "--log-opt",
            "max-file=4",
            "bb",
            "true",
        ],
    );
    let lc = ok20(
        &d,
        &["inspect", "-f", "{{json .HostConfig.LogConfig}}", "dflt"],
    );
    assert_eq!(
        lc.trim(),
        r#"{"Type":"json-file","Config":{"max-file":"4","max-size":"2k"}}"#
    );
    for (args, want) in [
        (vec!["--log-driver", "foo"], "plugin \"foo\" not found"),
        (
            vec!["--log-opt", "bogus=1"],
            "unknown log opt 'bogus' for json-file log driver",
        ),
        (vec!["--log-opt", "max-size=x"], "invalid size: 'x'"),
        (
            vec!["--log-opt", "max-file=0"],
            "max-file cannot be less than 1",
        ),
        (
            vec!["--log-opt", "compress=true"],
            "log opt 'compress' of the json-file log driver is not supported",
        ),
    ] {
        let mut all = vec!["create"];
        all.extend(args.iter().copied());
        all.extend(["bb", "true"]);
        let e = err20(&d, &all);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // `none`: no log at all, and `logs` says so as Docker does.
    let out = ok20(
        &d,
        &[
            "run",
            "--name",
            "quiet",
            "--network",
            "none",
            "--log-driver",
            "none",
            "bb",
            "echo",
            "hi",
        ],
    );
    assert_eq!(out, "hi\n", "attach still gets the output");
    let e = err20(&d, &["logs", "quiet"]);
    assert!(
        e.contains("configured logging driver does not support reading"),
        "{e}"
    );
    assert_eq!(log_path(&d, "quiet"), PathBuf::from(""));
    let id = ok20(&d, &["inspect", "-f", "{{.Id}}", "quiet"]);
    let dir = d.data_root().join("containers").join(id.trim());
    assert!(!dir.join(format!("{}-json.log", id.trim())).exists());
    let lc = ok20(
        &d,
        &["inspect", "-f", "{{json .HostConfig.LogConfig}}", "quiet"],
    );
    assert_eq!(lc.trim(), r#"{"Type":"none","Config":{}}"#);
}

#[test]
fn inspect_shows_the_default_log_config() {
    let d = Daemon::start();
    d.import_busybox("bb");
    ok20(&d, &["create", "--name", "plain", "bb", "true"]);
    let lc = ok20(
        &d,
        &["inspect", "-f", "{{json .HostConfig.LogConfig}}", "plain"],
    );
    assert_eq!(lc.trim(), r#"{"Type":"json-file","Config":{}}"#);
    assert!(log_path(&d, "plain").exists());
}

#[test]
fn logs_follow_keeps_up_across_rotations() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // 400 lines (~30 KB) into 1k files: the live log rotates ~30 times
    // while the follower reads; max-file keeps them all.
    ok20(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "chatty",
            "--network",
            "none",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=100",
            "bb",
            "sh",
            "-c",
            "sleep 1; i=1; while [ $i -le 400 ]; do echo line $i; i=$((i+1)); done",
        ],
    );
    let out = ok20(&d, &["logs", "-f", "chatty"]);
    let want: String = (1..=400).map(|i| format!("line {i}\n")).collect();
    assert_eq!(out, want, "the follower saw every line once, in order");
    let path = log_path(&d, "chatty");
    assert!(
        PathBuf::from(format!("{}.20", path.display())).exists(),
        "it did rotate"
    );
}
