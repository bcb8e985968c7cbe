//! `--format` byte for byte as the docker CLI 20.10 prints it: both clients
//! talk to the same `mini-dockerd`, so the data is the same and so must be
//! the output (tables, Docker's template functions, Go's printing).
//! Privileged: they fail (never skip) without root.

use e2e::*;

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn list_formats_match_the_docker_cli() {
    let d = Daemon::start();
    d.import_busybox("md-fmt-bb");
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "md-fmt-one",
        "--label",
        "team=Blue Sky",
        "-v",
        "md-fmt-named-volume-long:/data",
        "-v",
        "/tmp:/host-tmp",
        "md-fmt-bb",
        "sleep",
        "300",
    ]);
    let net = format!("md-fmt-net-{}", std::process::id());
    d.ok(&["network", "create", &net]);
    let vol = format!("md-fmt-vol-{}", std::process::id());
    d.ok(&["volume", "create", &vol]);
    let templates = [
        "{{.ID}}",
        "table {{.ID}}\t{{.Names}}\t{{.Image}}",
        // (Not `.Status`: "Up 1 second" changes between the two calls.)
        "table {{.Names}}\t{{.State}}",
        "{{.Names}} {{upper .Names}} {{lower .Image}} {{title .Names}}",
        "{{json .Names}}|{{truncate .Names 4}}|{{pad .Names 2 3}}|",
        "{{join (split .Names \"-\") \"+\"}}",
        "{{printf \"%-12s|%q\" .Names .Image}}",
        "{{.Labels}}",
        // `\t` and `\n` typed as two characters, as a shell passes them.
        "table {{.Names}}\\t{{.Image}}",
        "{{.Names}}\\t{{.Image}}\\n",
        "table {{.Names}}\t{{.Networks}}\t{{.Mounts}}\t{{.LocalVolumes}}",
    ];
    for t in templates {
        let ours = stdout(&d.cli(&["ps", "--format", t]));
        let theirs = stdout(&d.docker20(&["ps", "--format", t]));
        assert_eq!(ours, theirs, "ps --format {t:?}");
    }
    let ours = stdout(&d.cli(&["ps", "--no-trunc", "--format", "{{.Mounts}}"]));
    assert_eq!(
        ours,
        stdout(&d.docker20(&["ps", "--no-trunc", "--format", "{{.Mounts}}"]))
    );
    // `-q` everywhere Docker has it, the same ids.
    for args in [
        &["ps", "-q"][..],
        &["ps", "-aq", "--no-trunc"],
        &["images", "-q"],
        &["images", "-q", "md-fmt-bb"],
        &["network", "ls", "-q"],
        &["volume", "ls", "-q"],
    ] {
        assert_eq!(stdout(&d.cli(args)), stdout(&d.docker20(args)), "{args:?}");
    }
    for t in [
        "{{.Repository}}:{{.Tag}}",
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
        "{{upper .Repository}} {{.Size}}",
    ] {
        let ours = stdout(&d.cli(&["images", "--format", t]));
        let theirs = stdout(&d.docker20(&["images", "--format", t]));
        assert_eq!(ours, theirs, "images --format {t:?}");
    }
    for t in [
        "{{.Name}} {{.Driver}}",
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
    ] {
        let ours = stdout(&d.cli(&["network", "ls", "--format", t]));
        let theirs = stdout(&d.docker20(&["network", "ls", "--format", t]));
        assert_eq!(ours, theirs, "network ls --format {t:?}");
    }
    for t in ["{{.Name}} {{.Driver}}", "table {{.Name}}\t{{.Driver}}"] {
        let ours = stdout(&d.cli(&["volume", "ls", "--format", t]));
        let theirs = stdout(&d.docker20(&["volume", "ls", "--format", t]));
        assert_eq!(ours, theirs, "volume ls --format {t:?}");
    }
    for t in [
        "{{.Name}} {{.State.Status}} {{.Config.Image}}",
        "{{json .Config.Cmd}}",
        "{{upper .State.Status}} {{.HostConfig.NetworkMode}}",
        // Lists and maps as Go prints them.
        "{{.Config.Cmd}} {{.Config.Labels}} {{.Config.Env}}",
        "{{.Mounts}} {{.NetworkSettings.Ports}} {{.HostConfig.Dns}}",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        // What Docker's JSON omits when empty is still a field of Go's
        // type: a nil pointer, map or slice, false or "" (no health check).
        "{{json .State.Health}} {{.State.Health}}",
        "{{json .Config.ExposedPorts}} {{.Config.ExposedPorts}} {{.Config.Healthcheck}} {{json .Config.Healthcheck}}",
        "{{.Config.StopTimeout}} {{.Config.Shell}} {{json .Config.Shell}} {{.Config.MacAddress}}|{{.Config.StopSignal}}|{{.Config.ArgsEscaped}} {{.Config.NetworkDisabled}}",
        "{{.SizeRw}} {{json .SizeRootFs}} {{.Node}} {{.HostConfig.Init}} {{.HostConfig.Mounts}} {{json .HostConfig.Mounts}}",
    ] {
        let ours = stdout(&d.cli(&["inspect", "--format", t, "md-fmt-one"]));
        let theirs = stdout(&d.docker20(&["inspect", "--format", t, "md-fmt-one"]));
        assert_eq!(ours, theirs, "inspect --format {t:?}");
    }
    d.ok(&["rm", "-f", "md-fmt-one"]);
    d.ok(&["network", "rm", &net]);
    d.ok(&["volume", "rm", &vol, "md-fmt-named-volume-long"]);
}

/// A template error, as the docker CLI 20.10 prints it for each command
/// (its prefix, Go's position and words, the exit code, and what goes to
/// stdout), byte for byte: `(args, stdout, stderr, exit code)` of ours
/// and of the docker CLI against the same daemon.
#[test]
fn template_errors_match_the_docker_cli_byte_for_byte() {
    let d = Daemon::start();
    d.import_busybox("md-fmt-bb");
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "md-fmt-err",
        "md-fmt-bb",
        "sleep",
        "300",
    ]);
    let vol = format!("md-fmt-errvol-{}", std::process::id());
    d.ok(&["volume", "create", &vol]);
    let cases: Vec<Vec<&str>> = vec![
        // inspect: over the JSON as a map; a parse error is a usage error (64).
        vec!["inspect", "-f", "{{.Nope}}", "md-fmt-err"],
        vec!["inspect", "-f", "{{.State.Nope}}", "md-fmt-err"],
        vec!["inspect", "-f", "{{ .Config.Nope.X }}", "md-fmt-err"],
        vec!["inspect", "-f", "{{json .Config.Nope.X}}", "md-fmt-err"],
        vec!["inspect", "-f", "a\n b\n{{if .Nope}}x{{end}}", "md-fmt-err"],
        vec![
            "inspect",
            "-f",
            "a
 b{{.Nope}}",
            "md-fmt-err",
        ],
        vec!["inspect", "-f", "{{.Config.Cmd.x}}", "md-fmt-err"],
        vec!["inspect", "-f", "{{$c := .}}{{$c.Nope}}", "md-fmt-err"],
        vec!["inspect", "-f", "{{.Nope", "md-fmt-err"],
        vec!["inspect", "-f", "{{.Nope}", "md-fmt-err"],
        vec!["inspect", "-f", "{{nosuch}}", "md-fmt-err"],
        vec![
            "inspect",
            "-f",
            "x{{.Name}}{{.Nope}}",
            "md-fmt-err",
            "md-fmt-bb",
        ],
        vec!["inspect", "-f", "{{.Nope}}", "md-fmt-nosuch", "md-fmt-err"],
        vec!["image", "inspect", "-f", "{{.Nope}}", "md-fmt-bb"],
        vec![
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{.Nope}}",
            "none",
            "md-fmt-nosuch",
        ],
        vec![
            "volume",
            "inspect",
            "-f",
            "{{.Nope}}",
            "md-fmt-nosuch",
            &vol,
        ],
        vec!["volume", "inspect", "-f", "{{.Name", &vol],
        // ps: checked as typed, before anything is listed.
        vec!["ps", "--format", "{{.Nope}}"],
        vec!["ps", "--format", "table {{.ID}}\t{{.Nope}}"],
        vec![
            "ps",
            "--format",
            "{{.ID}}
{{.Nope}}",
        ],
        vec!["ps", "--format", "{{.ID"],
        vec!["ps", "--format", "{{nosuch}}"],
        vec![
            "ps",
            "-a",
            "--filter",
            "name=md-fmt-none",
            "--format",
            "{{.Nope}}",
        ],
        // The other lists: over their rows' Go types.
        vec!["images", "--format", "table {{.ID}}\t{{.Nope}}"],
        vec!["images", "--format", "{{.Nope"],
        vec!["images", "--format", "{{nosuch .ID}}"],
        vec!["network", "ls", "--format", "{{.Nope}}"],
        vec!["network", "ls", "--format", "{{.Nope}"],
        vec!["volume", "ls", "--format", "table {{.Name}}\t{{.Nope}}"],
        vec!["volume", "ls", "--format", "{{nosuch}}"],
        // info and version: what was written before the error is printed.
        vec!["info", "--format", "{{.NCPU}} {{.Nope}}"],
        vec!["info", "--format", "{{.Swarm.Nope}}"],
        vec![
            "info",
            "--format",
            "

{{nosuch}}",
        ],
        vec!["info", "--format", "{{.Nope"],
        vec![
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.ApiVersion}}",
        ],
        vec!["version", "--format", "{{.Client.Nope}}"],
        vec!["version", "-f", "{{.Server.Platform.Nope}}"],
        vec!["version", "-f", "{{nosuch}}"],
        vec!["version", "--format", "{{.Nope"],
        vec![
            "version",
            "--format",
            "{{.Server.APIVersion}} {{.Client.APIVersion}} {{json .Client.Platform}}",
        ],
    ];
    let show = |o: &std::process::Output| {
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code(),
        )
    };
    for args in &cases {
        let theirs = show(&d.docker20(args));
        assert_eq!(show(&d.cli(args)), theirs, "{args:?}");
    }
    // The one case above that succeeds, and that every other one failed.
    let failed = cases
        .iter()
        .filter(|a| !d.docker20(a).status.success())
        .count();
    assert_eq!(failed, cases.len() - 1);
    d.ok(&["rm", "-f", "md-fmt-err"]);
    d.ok(&["volume", "rm", &vol]);
}

#[test]
fn a_template_error_is_one_line() {
    let d = Daemon::start();
    d.import_busybox("md-fmt-bb");
    let out = d.cli(&["images", "--format", "{{nosuchfunc .ID}}"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// The lines of `info` from `start` up to the next line at its indent.
fn block(text: &str, start: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines().skip_while(|l| !l.starts_with(start));
    if let Some(first) = lines.next() {
        out.push(first.to_string());
        out.extend(lines.take_while(|l| l.starts_with("  ")).map(String::from));
    }
    out
}

#[test]
fn info_reports_memory_and_registries_as_docker_does() {
    let d = Daemon::start();
    let ours = stdout(&d.cli(&["info"]));
    let theirs = stdout(&d.docker20(&["info"]));
    let memory = block(&theirs, " Total Memory:");
    assert_eq!(memory.len(), 1, "{theirs}");
    assert!(!memory[0].ends_with(" 0B"), "the host's memory: {theirs}");
    assert_eq!(block(&ours, " Total Memory:"), memory);
    let insecure = block(&theirs, " Insecure Registries:");
    assert!(!insecure.is_empty(), "{theirs}");
    assert_eq!(block(&ours, " Insecure Registries:"), insecure);
    assert_eq!(
        block(&ours, " Registry Mirrors:"),
        block(&theirs, " Registry Mirrors:")
    );
    let t = "{{.NCPU}} {{.MemTotal}} {{json .RegistryConfig.Mirrors}} {{.OSType}}";
    assert_eq!(
        stdout(&d.cli(&["info", "--format", t])),
        stdout(&d.docker20(&["info", "--format", t]))
    );
    // No warning the daemon did not give (the 20.10 CLI, given none, makes
    // some up from the feature flags; we print the daemon's list only).
    let (_, body) = d.request("GET", "/info", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let want: String = v["Warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| format!("{}\n", w.as_str().unwrap()))
        .collect();
    assert_eq!(String::from_utf8_lossy(&d.cli(&["info"]).stderr), want);
}
