//! Snapshots of what a learner sees: each demo's narration and report, with
//! pids, keys, temp paths and host-specific values redacted.

use std::process::Command;

fn run_demo(demo: &str) -> String {
    chapter01::require_root("the narration snapshots").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chapter01"))
        .arg(demo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

macro_rules! snapshot {
    ($name:expr, $text:expr, [$($from:expr => $to:expr),* $(,)?]) => {{
        let mut filters: Vec<(String, String)> = vec![
            (r"/tmp/chapter01-(\w+)-\w+".into(), "/tmp/chapter01-$1-[RANDOM]".into()),
            (format!(r"\b{}\b", regex_escape(&host_name())), "[HOSTNAME]".into()),
            $(($from.to_string(), $to.to_string()),)*
            // Columns are as wide as the host's values: fold the padding.
            (r" {3,}".into(), "   ".into()),
        ];
        filters.retain(|(f, _)| !f.is_empty());
        let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        insta::with_settings!({ filters => filters }, {
            insta::assert_snapshot!($name, $text);
        });
    }};
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn uts_narration() {
    snapshot!("uts", run_demo("uts"), []);
}

#[test]
fn pid_narration() {
    snapshot!("pid", run_demo("pid"), [
        r"the shell's pid\s+\d+" => "the shell's pid   [HOST PID]",
        r"processes seen\s+\d+\s+\d+ \([\d ]+\)" => "processes seen   [HOST COUNT]   [N] ([PIDS])",
        r"pid \d+ was adopted" => "pid [PID] was adopted",
    ]);
}

#[test]
fn ipc_narration() {
    snapshot!("ipc", run_demo("ipc"), [r"queue 0x[0-9a-f]+" => "queue [KEY]"]);
}

#[test]
fn mnt_narration() {
    snapshot!("mnt", run_demo("mnt"), [
        r"ch01-mnt-\d+" => "ch01-mnt-[PID]",
        r"mounts\s+\d+" => "mounts   [HOST COUNT]",
    ]);
}

#[test]
fn net_narration() {
    snapshot!("net", run_demo("net"), [r"interfaces\s+.*\blo\b.*?\s{3,}lo \(DOWN\)" => "interfaces   [HOST LINKS]   lo (DOWN)"]);
}

#[test]
fn user_narration() {
    snapshot!("user", run_demo("user"), [r"CapEff [0-9a-f]+" => "CapEff [MASK]"]);
}

#[test]
fn cgroup_narration() {
    snapshot!("cgroup", run_demo("cgroup"), [r"(?s)\n\s+HOST\s+INSIDE\n.*\n\n" => "\n  [TABLE: the host's cgroups beside / for each]\n\n"]);
}
