//! What a person sees, pinned: tables, `port`, `logs -t`, `inspect
//! --format`, `system df`, errors, and `--help`. Ids, times, sizes and temp
//! paths are redacted; review a changed snapshot before accepting it.

use e2e::*;

fn settings(d: &Daemon) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&d.dir.path().display().to_string()), "[TMP]");
    s.add_filter(r"[0-9a-f]{64}", "[ID]");
    s.add_filter(r"[0-9a-f]{12}", "[SHORT-ID]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    s.add_filter(
        r"(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes?|hours?)) ago",
        "[AGO]",
    );
    s.add_filter(
        r"Up (Less than a second|About a minute|\d+ seconds?)",
        "Up [TIME]",
    );
    s.add_filter(r"\d+(\.\d+)?([kMG]?B)\b", "[SIZE]");
    s.add_filter(r"\b10\.203\.\d+\.\d+", "[IP]");
    // Column widths follow the redacted values: pin the order, not the widths.
    s.add_filter(r" {3,}", " | ");
    s
}

/// Escapes a literal for insta's regex filters.
fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn both(out: std::process::Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn tables_and_outputs_as_a_person_sees_them() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let s = settings(&d);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "echo started; exec sleep 300",
    ]);
    d.ok(&[
        "create",
        "--name",
        "idle",
        "--network",
        "none",
        "bb",
        "true",
    ]);
    d.ok(&["volume", "create", "data"]);
    for _ in 0..200 {
        if d.ok(&["logs", "web"]) == "started\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    s.bind(|| {
        insta::assert_snapshot!("ps_all", d.ok(&["ps", "-a"]));
        insta::assert_snapshot!(
            "ps_format",
            d.ok(&["ps", "-a", "--format", "{{.Names}}\t{{.Status}}\t{{.Command}}"])
        );
        insta::assert_snapshot!("logs_timestamps", d.ok(&["logs", "-t", "web"]));
        insta::assert_snapshot!(
            "inspect_format",
            d.ok(&[
                "inspect",
                "--format",
                "{{.Name}} {{.State.Status}} {{.Config.Image}} {{.HostConfig.NetworkMode}} {{json .Config.Cmd}}",
                "web",
            ])
        );
        insta::assert_snapshot!("volume_ls", d.ok(&["volume", "ls"]));
        insta::assert_snapshot!("network_ls", d.ok(&["network", "ls"]));
        insta::assert_snapshot!("system_df", d.ok(&["system", "df"]));
    });
}

#[test]
fn errors_as_a_person_sees_them() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let s = settings(&d);
    d.ok(&[
        "create",
        "--name",
        "taken",
        "--network",
        "none",
        "bb",
        "true",
    ]);
    s.bind(|| {
        insta::assert_snapshot!(
            "error_name_in_use",
            both(d.cli(&["run", "--name", "taken", "--network", "none", "bb", "true"]))
        );
        insta::assert_snapshot!(
            "error_bad_memory",
            both(d.cli(&["run", "--memory", "lots", "bb", "true"]))
        );
        insta::assert_snapshot!(
            "error_no_such_container",
            both(d.cli(&["exec", "nothing-here", "true"]))
        );
        insta::assert_snapshot!(
            "error_exec_stopped",
            both(d.cli(&["exec", "taken", "true"]))
        );
        insta::assert_snapshot!("error_attach_stopped", both(d.cli(&["attach", "taken"])));
        insta::assert_snapshot!(
            "error_bad_detach_keys",
            both(d.cli(&["run", "--detach-keys", "ctrl-", "bb", "true"]))
        );
        insta::assert_snapshot!(
            "error_bad_reference",
            both(d.cli(&["pull", "UPPER/Case:bad tag"]))
        );
    });
}

#[test]
fn help_texts() {
    for cmd in ["run", "exec", "attach", "logs", "container", "image"] {
        let out = std::process::Command::new(cli_bin())
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success());
        insta::assert_snapshot!(format!("help_{cmd}"), String::from_utf8_lossy(&out.stdout));
    }
}
