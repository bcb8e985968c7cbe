//! The events a container's life emits (issue 20): every transition of the
//! daemon's state machine (`mini-dockerd/src/state.rs`) sends its event, in
//! the order and with the names dockerd uses. `GET /events` does not exist
//! yet, so the test reads the daemon's log, where each event is one line
//! (`container event: ACTION ID ATTRS`). The same commands against a real
//! dockerd, read back with `docker events --since … --until …`, give the
//! reference sequence. Privileged: it fails (never skips) without root.

use e2e::*;

/// What dockerd 20.10 emits for `run -d` of a container that exits on
/// SIGTERM, `restart`, `stop`, `start`, `pause`, `unpause`, `kill`, `rm`: the action
/// and its `signal` or `exitCode` attribute (recorded from the real dockerd
/// by the test below).
const REFERENCE: &[&str] = &[
    "create",
    "start",
    "kill signal=15",
    "die exitCode=0",
    "stop",
    "start",
    "restart",
    "kill signal=15",
    "die exitCode=0",
    "stop",
    "start",
    "pause",
    "unpause",
    "kill signal=9",
    "die exitCode=137",
    "destroy",
];

/// A container that exits 0 on SIGTERM (PID 1 ignores an untrapped one).
const SCRIPT: &str = "trap 'exit 0' TERM; while true; do sleep 0.1; done";

/// Runs the reference commands through `docker` (a function over the CLI).
fn drive(docker: &dyn Fn(&[&str]) -> std::process::Output, image: &str) {
    let ok = |args: &[&str]| {
        let out = docker(args);
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let id = ok(&["run", "-d", "--network", "none", image, "sh", "-c", SCRIPT]);
    let id = id.trim();
    ok(&["restart", "-t", "10", id]);
    ok(&["stop", "-t", "10", id]);
    ok(&["start", id]);
    ok(&["pause", id]);
    ok(&["unpause", id]);
    ok(&["kill", id]);
    eventually("the killed container exits", || {
        ok(&["inspect", "-f", "{{.State.Status}}", id]).trim() == "exited"
    });
    ok(&["rm", id]);
}

#[test]
fn dockerd_emits_the_reference_sequence() {
    let d = DockerDaemon::start(&[]);
    d.import_busybox("bb");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let from = now() - 1;
    drive(&|args| d.docker(args), "bb");
    // `--until` in the past: the CLI prints what was kept and returns.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = now().to_string();
    let out = d.ok(&[
        "events",
        "--since",
        &from.to_string(),
        "--until",
        &until,
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{with .Actor.Attributes.signal}}signal={{.}}{{end}}{{with .Actor.Attributes.exitCode}}exitCode={{.}}{{end}}",
    ]);
    let got: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(got, REFERENCE, "dockerd's events:\n{out}");
}

#[test]
fn mini_dockerd_emits_the_reference_sequence() {
    let d = Daemon::start();
    d.import_busybox("bb");
    drive(&|args| d.docker(args), "bb");
    // The destroy is logged before `rm` answers.
    let log = std::fs::read_to_string(d.dir.path().join("daemon.log")).unwrap();
    let got: Vec<String> = log
        .lines()
        .filter_map(|l| l.split_once("container event: ").map(|(_, e)| e))
        .map(|e| {
            let mut parts = e.split(' ');
            let action = parts.next().unwrap_or_default();
            let _id = parts.next();
            let attrs = parts.next().unwrap_or_default();
            format!("{action} {attrs}").trim().to_string()
        })
        .collect();
    assert_eq!(got, REFERENCE, "the daemon's log:\n{log}");
}

/// The verbs a container's status refuses, with the id written `ID`: the
/// exit code and what the CLI printed on stderr.
fn refusals(docker: &dyn Fn(&[&str]) -> std::process::Output, image: &str) -> Vec<String> {
    let out = docker(&["create", "--network", "none", image, "sh", "-c", SCRIPT]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let steps: &[&[&str]] = &[
        &["pause"],   // created
        &["unpause"], // created
        &["kill"],    // created
        &["stop"],    // created: nothing to do
        &["start"],
        &["start"],   // running: nothing to do
        &["unpause"], // running
        &["rm"],      // running
        &["pause"],
        &["pause"], // paused
        &["start"], // paused
        &["rm"],    // paused
        &["unpause"],
        &["stop"],
        &["pause"], // exited
        &["rm"],
    ];
    steps
        .iter()
        .map(|verb| {
            let mut args = verb.to_vec();
            args.push(&id);
            let out = docker(&args);
            let said = stderr(&out).replace(&id, "ID");
            let line = format!("{verb:?} -> {:?} {}", out.status.code(), said.trim());
            line.trim_end().to_string()
        })
        .collect()
}

#[test]
fn refusals_are_dockerds() {
    let real = DockerDaemon::start(&[]);
    real.import_busybox("bb");
    let want = refusals(&|args| real.docker(args), "bb");
    let d = Daemon::start();
    d.import_busybox("bb");
    let got = refusals(&|args| d.docker(args), "bb");
    assert_eq!(got, want);
    insta::assert_snapshot!(want.join("\n"));
}
