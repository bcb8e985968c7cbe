//! The events a container's life emits (issue 20): every transition of the
//! daemon's state machine (`mini-dockerd/src/state.rs`) sends its event, in
//! the order and with the names dockerd uses, on `GET /events`. The same
//! commands against a real dockerd and against this one, each read back with
//! the real `docker events --since … --until …`, give the same sequence. Privileged: it fails (never skips) without root.

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

/// Seconds since the epoch, now.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Drives the reference commands, then reads them back with the real
/// `docker events --since … --until …` (an `until` in the past: the CLI
/// prints what was kept and returns).
fn recorded(docker: &dyn Fn(&[&str]) -> std::process::Output, image: &str) -> Vec<String> {
    let from = now() - 1;
    drive(docker, image);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = now().to_string();
    let out = docker(&[
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
    assert!(out.status.success(), "docker events: {}", stderr(&out));
    stdout(&out).lines().map(|l| l.trim().to_string()).collect()
}

#[test]
fn dockerd_emits_the_reference_sequence() {
    let d = DockerDaemon::start(&[]);
    d.import_busybox("bb");
    assert_eq!(recorded(&|args| d.docker(args), "bb"), REFERENCE);
}

#[test]
fn mini_dockerd_emits_the_reference_sequence() {
    let d = Daemon::start();
    d.import_busybox("bb");
    assert_eq!(recorded(&|args| d.docker(args), "bb"), REFERENCE);
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

/// One event of `GET /events`, with what differs between two daemons (ids,
/// times, subnets) written as placeholders: its top-level keys, type,
/// action, and the attributes.
fn shape(ev: &serde_json::Value, ids: &[(String, &str)]) -> String {
    let mut text = serde_json::to_string(ev).unwrap();
    for (id, name) in ids {
        text = text.replace(id.as_str(), name);
    }
    let ev: serde_json::Value = serde_json::from_str(&text).unwrap();
    let obj = ev.as_object().unwrap();
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let attrs: Vec<String> = ev["Actor"]["Attributes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect();
    let old: Vec<String> = ["status", "id", "from"]
        .iter()
        .filter_map(|k| obj.get(*k).map(|v| format!("{k}={}", v.as_str().unwrap())))
        .collect();
    let time_ok = ev["time"].as_i64().unwrap() == ev["timeNano"].as_i64().unwrap() / 1_000_000_000;
    format!(
        "{} {} actor={} ({}) old[{}] scope={} time_ok={time_ok} keys={}",
        ev["Type"].as_str().unwrap(),
        ev["Action"].as_str().unwrap(),
        ev["Actor"]["ID"].as_str().unwrap(),
        attrs.join(", "),
        old.join(" "),
        ev["scope"].as_str().unwrap(),
        keys.join(",")
    )
}

/// The events since `from` of a session (through the real docker CLI) with images, volumes, networks, a container's
/// life, a rename and an exec, as `GET /events?since=…&until=…` streams
/// them from `socket`, in `shape`. `docker` drives the real CLI.
fn session(
    docker: &dyn Fn(&[&str]) -> std::process::Output,
    socket: &std::path::Path,
    tag: &str,
    from: u64,
) -> Vec<String> {
    let ok = |args: &[&str]| {
        let out = docker(args);
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    let vol = format!("mdev-vol-{tag}");
    let net = format!("mdev-net-{tag}");
    let subnet = free_subnet(207).to_string();
    ok(&["import", busybox_tar().to_str().unwrap(), "bb"]);
    ok(&["tag", "bb", "bb:two"]);
    ok(&["volume", "create", &vol]);
    let net_id = ok(&["network", "create", "--subnet", &subnet, &net]);
    let name = format!("mdev-c-{tag}");
    let id = ok(&[
        "create",
        "--name",
        &name,
        "--label",
        "team=a",
        "--network",
        "none",
        "-v",
        &format!("{vol}:/data"),
        "bb",
        "sh",
        "-c",
        SCRIPT,
    ]);
    ok(&["rename", &name, &format!("{name}-2")]);
    ok(&["start", &id]);
    ok(&["exec", &id, "true"]);
    ok(&["kill", &id]);
    eventually("the killed container exits", || {
        ok(&["inspect", "-f", "{{.State.Status}}", &id]) == "exited"
    });
    ok(&["rm", &id]);
    let other = ok(&[
        "create",
        "--name",
        &format!("{name}-net"),
        "--network",
        &net,
        "bb",
        "true",
    ]);
    ok(&["network", "disconnect", &net, &other]);
    ok(&["network", "connect", &net, &other]);
    ok(&["rm", &other]);
    ok(&["volume", "rm", &vol]);
    ok(&["network", "rm", &net]);
    let img = ok(&["inspect", "-f", "{{.Id}}", "bb"]);
    let none = ok(&["network", "inspect", "-f", "{{.Id}}", "none"]);
    ok(&["rmi", "bb:two"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = now();
    let r = e2e::http::request(
        socket,
        "GET",
        &format!("/v1.41/events?since={from}&until={until}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").contains("application/json"));
    let exec_ids: Vec<String> = r
        .body
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| {
            e["Actor"]["Attributes"]["execID"]
                .as_str()
                .map(String::from)
        })
        .collect();
    let mut ids = vec![
        (id.clone(), "CID"),
        (other, "CID2"),
        (net_id, "NETID"),
        (none, "NONEID"),
        (img, "IMGID"),
        (vol.clone(), "VOL"),
        (net.clone(), "NET"),
        (name.clone(), "NAME"),
    ];
    ids.extend(exec_ids.into_iter().map(|x| (x, "EXECID")));
    r.body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .map(|ev| shape(&ev, &ids))
        .collect()
}

/// The same session against a real dockerd and against this daemon gives
/// the same events, key by key: types, actions, actors, attributes, the
/// old `status`/`id`/`from` fields where dockerd sends them.
#[test]
fn the_events_are_dockerds_key_by_key() {
    let tag = format!("{:x}", now() % 0xffff);
    let real = DockerDaemon::start(&[]);
    let from = now() - 1;
    let want = session(
        &|args| real.docker(args),
        &real.dir.path().join("docker.sock"),
        &format!("{tag}d"),
        from,
    );
    let d = Daemon::start();
    let from = now() - 1;
    let got = session(
        &|args| d.docker(args),
        &d.socket(),
        &format!("{tag}m"),
        from,
    );
    let (want, got) = (want.join("\n"), got.join("\n"));
    assert_eq!(got, want, "\nours:\n{got}\n\ndockerd's:\n{want}");
}

/// `mini-docker events` and `system events` print what the real docker CLI
/// prints for the same daemon and the same flags: the default line, a
/// `--filter`, a `--format` template, and `{{json .}}`.
#[test]
fn the_cli_prints_events_as_the_docker_cli() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let from = (now() - 1).to_string();
    let id = d.ok(&[
        "create",
        "--name",
        "mdev-cli",
        "--label",
        "team=a",
        "--network",
        "none",
        "bb",
        "true",
    ]);
    let id = id.trim();
    d.ok(&["start", id]);
    eventually("the container exits", || {
        d.ok(&["inspect", "-f", "{{.State.Status}}", id]).trim() == "exited"
    });
    d.ok(&["rm", id]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = now().to_string();
    let window = ["--since", from.as_str(), "--until", until.as_str()];
    let variants: [&[&str]; 4] = [
        &[],
        &["--filter", "event=die", "--filter", "label=team=a"],
        &[
            "--filter",
            "type=container",
            "--format",
            "{{.Type}}/{{.Action}} {{.Actor.Attributes.name}} {{.Status}} {{.From}}",
        ],
        &["--filter", "container=mdev-cli", "--format", "{{json .}}"],
    ];
    let mut shown = Vec::new();
    for extra in variants {
        let args: Vec<&str> = ["events"]
            .iter()
            .chain(&window)
            .chain(extra)
            .copied()
            .collect();
        let docker = d.docker(&args);
        assert!(
            docker.status.success(),
            "docker {args:?}: {}",
            stderr(&docker)
        );
        let want = stdout(&docker);
        assert!(!want.is_empty(), "docker {args:?} printed nothing");
        assert_eq!(d.ok(&args), want, "mini-docker {args:?}");
        let mut system = vec!["system"];
        system.extend(&args);
        assert_eq!(d.ok(&system), want, "mini-docker {system:?}");
        shown.push(format!("$ events {}\n{want}", extra.join(" ")));
    }
    let text = shown.join("\n").replace(id, "ID");
    let text = redact(&text);
    insta::assert_snapshot!(text);
}

/// Writes what changes from run to run as placeholders: RFC 3339 times
/// and Unix times as `TIME`, 64-digit hex ids as `HEX`.
fn redact(s: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let is_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.');
    let flush = |word: &mut String, out: &mut String| {
        let taken = std::mem::take(word);
        let w = taken.trim_start_matches(':');
        out.push_str(&taken[..taken.len() - w.len()]);
        let digits = w.bytes().all(|b| b.is_ascii_digit());
        let rfc3339 = w.len() >= 20 && w.as_bytes()[4] == b'-' && w.contains('T');
        let hex = w
            .rsplit(':')
            .next()
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        out.push_str(if (digits && w.len() >= 10) || rfc3339 {
            "TIME"
        } else if hex {
            "HEX"
        } else {
            w
        });
    };
    for c in s.chars() {
        if is_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The image events of push, pull, save, load and rmi, from a real dockerd
/// and from this daemon, each against chapter 06's registry on 127.0.0.1:
/// the same types, actions, actors and attributes.
#[test]
fn image_events_are_dockerds() {
    let reg = Registry::start();
    let run =
        |docker: &dyn Fn(&[&str]) -> std::process::Output, socket: &std::path::Path, repo: &str| {
            let ok = |args: &[&str]| {
                let out = docker(args);
                assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
                stdout(&out).trim().to_string()
            };
            ok(&["import", busybox_tar().to_str().unwrap(), "bb"]);
            let name = format!("{}/{repo}:v1", reg.host());
            let from = now() - 1;
            ok(&["tag", "bb", &name]);
            ok(&["push", &name]);
            ok(&["rmi", &name]);
            ok(&["pull", &name]);
            let tar = tempfile::NamedTempFile::new().unwrap();
            ok(&["save", "-o", tar.path().to_str().unwrap(), &name]);
            ok(&["rmi", "-f", &name, "bb"]);
            ok(&["load", "-i", tar.path().to_str().unwrap()]);
            std::thread::sleep(std::time::Duration::from_millis(1100));
            let r = e2e::http::request(
                socket,
                "GET",
                &format!("/v1.41/events?since={from}&until={}", now()),
                &[],
                b"",
            );
            assert_eq!(r.status, 200, "{}", r.body);
            let events: Vec<serde_json::Value> = r
                .body
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let ids: Vec<(String, &str)> = events
                .iter()
                .filter_map(|e| e["Actor"]["ID"].as_str())
                .filter(|id| id.starts_with("sha256:"))
                .map(|id| (id.to_string(), "IMGID"))
                .chain([(reg.host(), "REG"), (repo.to_string(), "REPO")])
                .collect();
            events.iter().map(|e| shape(e, &ids)).collect::<Vec<_>>()
        };
    let tag = format!("{:x}", now() % 0xffff);
    let real = DockerDaemon::start(&[]);
    let want = run(
        &|a| real.docker(a),
        &real.dir.path().join("docker.sock"),
        &format!("mdev-d{tag}"),
    );
    let d = Daemon::start();
    let got = run(&|a| d.docker(a), &d.socket(), &format!("mdev-m{tag}"));
    let (want, got) = (want.join("\n"), got.join("\n"));
    assert_eq!(got, want, "\nours:\n{got}\n\ndockerd's:\n{want}");
}

/// A container the kernel's OOM killer ends: `oom`, then `die` with 137,
/// from dockerd and from this daemon alike.
#[test]
fn an_oom_kill_emits_oom_then_die() {
    let run = |docker: &dyn Fn(&[&str]) -> std::process::Output| {
        let from = (now() - 1).to_string();
        let name = format!("mdev-oom-{}", now() % 0xffff);
        let out = docker(&[
            "run",
            "--name",
            &name,
            "--network",
            "none",
            "-m",
            "8m",
            "bb",
            "sh",
            "-c",
            "head -c 64m /dev/zero | tail",
        ]);
        assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let until = now().to_string();
        let out = docker(&[
            "events",
            "--since",
            &from,
            "--until",
            &until,
            "--filter",
            &format!("container={name}"),
            "--filter",
            "event=oom",
            "--filter",
            "event=die",
            "--format",
            "{{.Action}} {{.Actor.Attributes.exitCode}}",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let _ = docker(&["rm", &name]);
        let mut lines = stdout(&out)
            .lines()
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>();
        // The kernel may OOM-kill more than one process of the group (here
        // `head` and `tail`), and each kill is an `oom` event, in dockerd
        // as here: what must hold is one or more `oom`, then the `die`.
        lines.dedup();
        lines
    };
    let real = DockerDaemon::start(&[]);
    real.import_busybox("bb");
    let want = run(&|a| real.docker(a));
    let d = Daemon::start();
    d.import_busybox("bb");
    assert_eq!(run(&|a| d.docker(a)), want);
    assert_eq!(want, ["oom <no value>", "die 137"]);
}
