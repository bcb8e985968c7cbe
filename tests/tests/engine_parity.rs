//! Parity with Docker where a user sees it: the environment a container
//! gets, and the images list. Each test runs the same thing against
//! `mini-dockerd` and a real dockerd (with runc) and compares.
//! Privileged: they fail (never skip) without root.

use e2e::*;

/// `env` in a container, sorted, for each of the users and hostnames below.
fn envs(run: impl Fn(&[&str]) -> String) -> Vec<String> {
    let cases: [&[&str]; 4] = [
        &[],
        &["--hostname", "md-par-host"],
        &["-u", "daemon"],
        &[
            "-u",
            "4242",
            "-e",
            "HOSTNAME=mine",
            "-e",
            "PATH=/bin:/usr/bin",
        ],
    ];
    cases
        .iter()
        .map(|extra| {
            let mut args = vec!["run", "--rm", "--network", "none"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["md-par-bb", "env"]);
            let out = run(&args);
            let mut lines: Vec<&str> = out.lines().collect();
            lines.sort();
            lines.join("\n")
        })
        .collect()
}

#[test]
fn a_container_gets_home_and_hostname_as_in_docker() {
    let d = Daemon::start();
    d.import_busybox("md-par-bb");
    let docker = DockerDaemon::start(&[]);
    docker.import_busybox("md-par-bb");
    // The container id is its hostname: make it the same word on both sides.
    let redact = |out: String| {
        out.lines()
            .map(|l| match l.strip_prefix("HOSTNAME=") {
                Some(h) if h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit()) => {
                    "HOSTNAME=<id>".to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let ours = envs(|a| redact(d.ok(a)));
    let theirs = envs(|a| redact(docker.ok(a)));
    assert_eq!(ours, theirs);
    // …and the facts themselves, in case both were wrong the same way.
    assert!(ours[0].contains("HOME=/root"), "{}", ours[0]);
    assert!(ours[0].contains("HOSTNAME=<id>"), "{}", ours[0]);
    assert!(ours[1].contains("HOSTNAME=md-par-host"), "{}", ours[1]);
    assert!(ours[2].contains("HOME=/usr/sbin"), "{}", ours[2]);
    assert!(ours[3].contains("HOME=/\n"), "{}", ours[3]);
    assert!(ours[3].contains("HOSTNAME=mine"), "{}", ours[3]);
}
