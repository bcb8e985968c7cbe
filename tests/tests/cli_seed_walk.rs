//! The tutorials' command table, walked twice against one `mini-dockerd`:
//! once with `mini-docker` and once with the docker CLI 20.10. The seed
//! tutorials' own table was not in the tree, so this one is built from the
//! commands issue 22 lists (Docker's management commands and the classic
//! ones a first tutorial uses), in a tutorial's order. Each step must end
//! the same way in both (exit code), and where the output does not hold
//! ids or times, print the same thing (with each walk's name prefix
//! replaced by `<n>`). Privileged: fails (never skips) without root.

use e2e::*;

/// What a step compares besides the exit code.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// Exit code only (ids, times, sizes).
    Exit,
    /// Exit code and stdout.
    Out,
    /// Exit code and stdout's lines, sorted.
    Sorted,
}
use Check::*;

#[rustfmt::skip] // one step a line, as a tutorial's table reads
const STEPS: &[(Check, &[&str])] = &[
    (Exit, &["version"]),
    (Exit, &["info"]),
    (Exit, &["image", "ls"]),
    (Out, &["images", "--format", "{{.Repository}}:{{.Tag}}", "md-seed-bb"]),
    (Out, &["image", "inspect", "-f", "{{.Os}} {{.Config.Cmd}}", "md-seed-bb"]),
    (Out, &["run", "--rm", "--network", "none", "-h", "seed-host", "md-seed-bb", "hostname"]),
    (Exit, &["run", "-d", "--network", "none", "--name", "{n}web", "md-seed-bb", "sleep", "300"]),
    (Out, &["ps", "--format", "{{.Names}} {{.Image}}", "-f", "name={n}web"]),
    (Out, &["container", "ls", "-a", "--format", "{{.Names}}", "-f", "name={n}web"]),
    (Out, &["exec", "{n}web", "echo", "hello from exec"]),
    (Out, &["container", "exec", "{n}web", "sh", "-c", "echo made > /made; cat /made"]),
    (Sorted, &["diff", "{n}web"]),
    (Out, &["container", "inspect", "-f", "{{.State.Running}} {{.Config.Cmd}}", "{n}web"]),
    (Exit, &["top", "{n}web"]),
    (Exit, &["container", "top", "{n}web"]),
    (Exit, &["pause", "{n}web"]),
    (Out, &["inspect", "-f", "{{.State.Status}}", "{n}web"]),
    (Exit, &["unpause", "{n}web"]),
    (Out, &["inspect", "-f", "{{.State.Status}}", "{n}web"]),
    (Exit, &["container", "update", "--cpu-shares", "512", "{n}web"]),
    (Out, &["inspect", "-f", "{{.HostConfig.CpuShares}}", "{n}web"]),
    (Exit, &["rename", "{n}web", "{n}app"]),
    (Out, &["ps", "--format", "{{.Names}}", "-f", "name={n}app"]),
    (Exit, &["cp", "{n}app:/made", "-"]),
    (Exit, &["commit", "{n}app", "{n}img:v1"]),
    (Out, &["images", "--format", "{{.Repository}}:{{.Tag}}", "{n}img"]),
    (Exit, &["image", "history", "{n}img:v1"]),
    (Exit, &["tag", "{n}img:v1", "{n}img:v2"]),
    (Out, &["image", "ls", "--format", "{{.Tag}}", "{n}img"]),
    (Exit, &["image", "rm", "{n}img:v2"]),
    (Out, &["run", "--rm", "--network", "none", "{n}img:v1", "cat", "/made"]),
    (Exit, &["stop", "-t", "1", "{n}app"]),
    (Out, &["container", "inspect", "-f", "{{.State.Status}}", "{n}app"]),
    (Exit, &["start", "{n}app"]),
    (Exit, &["restart", "-t", "1", "{n}app"]),
    (Exit, &["kill", "{n}app"]),
    (Out, &["wait", "{n}app"]),
    (Out, &["logs", "{n}app"]),
    (Exit, &["rm", "{n}app"]),
    (Exit, &["create", "--network", "none", "--name", "{n}later", "md-seed-bb", "echo", "later"]),
    (Exit, &["container", "start", "-a", "{n}later"]),
    (Out, &["container", "logs", "{n}later"]),
    (Exit, &["container", "rm", "{n}later"]),
    (Exit, &["volume", "create", "{n}vol"]),
    (Out, &["volume", "ls", "-q", "-f", "name={n}vol"]),
    (Out, &["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "{n}vol"]),
    (Out, &["run", "--rm", "--network", "none", "-v", "{n}vol:/data", "md-seed-bb", "sh", "-c", "echo kept > /data/f; cat /data/f"]),
    (Out, &["run", "--rm", "--network", "none", "-v", "{n}vol:/data", "md-seed-bb", "cat", "/data/f"]),
    (Exit, &["volume", "rm", "{n}vol"]),
    (Exit, &["network", "create", "{n}net"]),
    (Out, &["network", "ls", "--format", "{{.Name}} {{.Driver}}", "-f", "name={n}net"]),
    (Out, &["network", "inspect", "-f", "{{.Name}} {{.Driver}}", "{n}net"]),
    (Exit, &["network", "rm", "{n}net"]),
    (Exit, &["image", "rm", "{n}img:v1"]),
    (Exit, &["system", "df"]),
    (Exit, &["container", "prune", "-f"]),
    (Exit, &["image", "prune", "-f"]),
    (Out, &["inspect", "{n}gone"]),
];

#[test]
fn the_tutorial_commands_behave_the_same_in_mini_docker_and_the_docker_cli() {
    let d = Daemon::start();
    d.import_busybox("md-seed-bb");
    let walk = |prefix: &str, run: &dyn Fn(&[&str]) -> std::process::Output| {
        STEPS
            .iter()
            .map(|(check, args)| {
                let args: Vec<String> = args.iter().map(|a| a.replace("{n}", prefix)).collect();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = run(&args);
                let stdout = String::from_utf8_lossy(&out.stdout).replace(prefix, "<n>");
                let shown = match check {
                    Exit => String::new(),
                    Out => stdout,
                    Sorted => {
                        let mut l: Vec<&str> = stdout.lines().collect();
                        l.sort();
                        l.join("\n")
                    }
                };
                (
                    args.join(" ").replace(prefix, "<n>"),
                    out.status.code(),
                    shown,
                    String::from_utf8_lossy(&out.stderr).replace(prefix, "<n>"),
                )
            })
            .collect::<Vec<_>>()
    };
    let ours = walk("md-seed-a-", &|a| d.cli(a));
    let theirs = walk("md-seed-b-", &|a| d.docker20(a));
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!(
            (&o.0, o.1, &o.2),
            (&t.0, t.1, &t.2),
            "step `{}`\n  mini-docker stderr: {}\n  docker stderr: {}",
            o.0,
            o.3,
            t.3
        );
    }
    // Every step but the last (a name that does not exist) succeeded.
    let failed: Vec<_> = ours[..ours.len() - 1]
        .iter()
        .filter(|s| s.1 != Some(0))
        .map(|s| format!("{} -> {:?}: {}", s.0, s.1, s.3))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
