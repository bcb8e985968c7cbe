//! `diff` and `stats`: a container's changed files and its counters,
//! printed as Docker prints them.

use super::format;
use super::http::{self, Body, Client, ClientError};
use super::Failure;
use serde_json::{json, Value};

fn fail(m: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: m.into(),
    }
}

/// The letter `docker diff` prints for a `Kind`.
pub fn kind_letter(kind: i64) -> char {
    match kind {
        0 => 'C',
        1 => 'A',
        2 => 'D',
        _ => '?',
    }
}

/// `diff CONTAINER`: one `C /path` line per change.
pub fn diff(c: &Client, container: &str) -> Result<u8, Failure> {
    let v = c
        .call(
            "GET",
            &format!("/containers/{}/changes", http::enc(container)),
            Body::Empty,
        )?
        .json()?;
    for ch in v.as_array().into_iter().flatten() {
        println!(
            "{} {}",
            kind_letter(ch["Kind"].as_i64().unwrap_or(-1)),
            ch["Path"].as_str().unwrap_or("")
        );
    }
    Ok(0)
}

/// Flags of `stats`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Pretty-print using a Go template ("table" prefix: with a header).
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (default: all running).
    pub containers: Vec<String>,
}

/// `%.Ng` of Go: `n` significant digits, trailing zeros dropped.
fn sig(x: f64, n: i32) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let digits = (n - 1 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn custom_size(mut size: f64, base: f64, units: &[&str], digits: i32) -> String {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", sig(size, digits), units[i])
}

/// go-units `BytesSize`: binary units, 4 significant digits (`64MiB`).
pub fn bytes_size(n: f64) -> String {
    custom_size(n, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

/// go-units `HumanSizeWithPrecision(n, 3)`: decimal units (`1.5kB`).
pub fn human_size(n: f64) -> String {
    custom_size(n, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

/// One row of the table, as the fields Docker's templates know.
pub fn stats_fields(container: &str, v: &Value) -> Value {
    let f = |p: &str| v.pointer(p).and_then(Value::as_f64).unwrap_or(0.0);
    let id = v["id"].as_str().unwrap_or("");
    let name = v["name"].as_str().unwrap_or("").trim_start_matches('/');
    let cpu_delta =
        f("/cpu_stats/cpu_usage/total_usage") - f("/precpu_stats/cpu_usage/total_usage");
    let sys_delta = f("/cpu_stats/system_cpu_usage") - f("/precpu_stats/system_cpu_usage");
    let ncpu = f("/cpu_stats/online_cpus").max(1.0);
    let cpu = if cpu_delta > 0.0 && sys_delta > 0.0 {
        cpu_delta / sys_delta * ncpu * 100.0
    } else {
        0.0
    };
    // Docker leaves the page cache out: usage - inactive file pages.
    let usage = f("/memory_stats/usage");
    let cache = v
        .pointer("/memory_stats/stats/total_inactive_file")
        .or_else(|| v.pointer("/memory_stats/stats/inactive_file"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let mem = if cache < usage { usage - cache } else { usage };
    let limit = f("/memory_stats/limit");
    let mem_pct = if limit > 0.0 {
        mem / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in v["networks"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        rx += n["rx_bytes"].as_f64().unwrap_or(0.0);
        tx += n["tx_bytes"].as_f64().unwrap_or(0.0);
    }
    let (mut br, mut bw) = (0.0, 0.0);
    for e in v
        .pointer("/blkio_stats/io_service_bytes_recursive")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => br += e["value"].as_f64().unwrap_or(0.0),
            Some("write") => bw += e["value"].as_f64().unwrap_or(0.0),
            _ => {}
        }
    }
    json!({
        "Container": container,
        "ID": &id[..id.len().min(12)],
        "Name": name,
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(mem), bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", human_size(rx), human_size(tx)),
        "BlockIO": format!("{} / {}", human_size(br), human_size(bw)),
        "PIDs": v.pointer("/pids_stats/current").and_then(Value::as_u64).unwrap_or(0).to_string(),
    })
}

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// Renders rows with a template; `table …` adds a header and aligns columns.
pub fn render_stats(template: &str, rows: &[Value]) -> Result<String, String> {
    let (table, t) = match template.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, template.to_string()),
    };
    let t = t.replace("\\t", "\t");
    let mut lines = Vec::new();
    for r in rows {
        lines.push(format::render(&t, r)?);
    }
    if !table {
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    let mut header = t.clone();
    for (field, title) in COLUMNS {
        header = header.replace(&format!("{{{{.{field}}}}}"), title);
        header = header.replace(&format!("{{{{ .{field} }}}}"), title);
    }
    let split = |l: &str| l.split('\t').map(String::from).collect::<Vec<_>>();
    let head = split(&header);
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let body: Vec<Vec<String>> = lines.iter().map(|l| split(l)).collect();
    Ok(format::table(&head, &body))
}

fn sample(c: &Client, names: &[String]) -> Result<Vec<Value>, Failure> {
    let results: Vec<Result<Value, ClientError>> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| {
                s.spawn(move || {
                    c.call(
                        "GET",
                        &format!("/containers/{}/stats?stream=false", http::enc(n)),
                        Body::Empty,
                    )?
                    .json()
                    .map(|v| stats_fields(n, &v))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ClientError::Io("stats thread panicked".into())))
            })
            .collect()
    });
    results
        .into_iter()
        .map(|r| r.map_err(Failure::from))
        .collect()
}

/// `stats [--no-stream] [--format T] [CONTAINER...]`.
pub fn stats(c: &Client, a: StatsArgs) -> Result<u8, Failure> {
    let template = a.format.clone().unwrap_or_else(|| DEFAULT_FORMAT.into());
    loop {
        let names = if a.containers.is_empty() {
            let list = c
                .call(
                    "GET",
                    &format!("/containers/json?all={}", a.all as u8),
                    Body::Empty,
                )?
                .json()?;
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["Id"].as_str().map(|s| s[..12.min(s.len())].to_string()))
                .collect()
        } else {
            a.containers.clone()
        };
        let rows = sample(c, &names)?;
        let out = render_stats(&template, &rows).map_err(fail)?;
        if a.no_stream {
            print!("{out}");
            return Ok(0);
        }
        // Clear the screen and redraw, as `docker stats` does.
        print!("\x1b[2J\x1b[H{out}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
}

/// `doctor`: the daemon checks its host (`GET /mini/doctor`); with no
/// daemon to ask, the client checks this host itself.
pub fn doctor(c: &Client) -> Result<u8, Failure> {
    use mini_docker_api::doctor;
    let socket = c.host.strip_prefix("unix://").map(String::from);
    let q = socket
        .as_ref()
        .map(|s| format!("?socket={}", http::enc(s)))
        .unwrap_or_default();
    let checks: Vec<doctor::Check> = match c.call("GET", &format!("/mini/doctor{q}"), Body::Empty) {
        Ok(r) => serde_json::from_value(r.json()?)
            .map_err(|e| fail(format!("bad answer from the daemon: {e}")))?,
        Err(ClientError::Connect(_)) => {
            println!(
                "(no daemon at {}: checking this host from the client)",
                c.host
            );
            local_doctor(socket.as_deref())?
        }
        Err(e) => return Err(e.into()),
    };
    print!("{}", doctor::render(&checks));
    Ok(if checks.iter().all(|c| c.ok) { 0 } else { 1 })
}

/// With no daemon to ask: the checks of `mini-dockerd --doctor`, installed
/// next to this client (the client itself knows nothing of the host).
fn local_doctor(socket: Option<&str>) -> Result<Vec<mini_docker_api::doctor::Check>, Failure> {
    let daemon = std::env::current_exe()
        .map(|p| p.with_file_name("mini-dockerd"))
        .unwrap_or_else(|_| "mini-dockerd".into());
    let mut cmd = std::process::Command::new(&daemon);
    cmd.arg("--doctor");
    if let Some(s) = socket {
        cmd.arg("-H").arg(format!("unix://{s}"));
    }
    let out = cmd.output().map_err(|e| {
        fail(format!(
            "cannot run {} --doctor: {e} (install mini-dockerd next to mini-docker)",
            daemon.display()
        ))
    })?;
    serde_json::from_slice(&out.stdout).map_err(|e| {
        fail(format!(
            "{} --doctor gave no checks ({e}): {}",
            daemon.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })
}

/// Prints the plan of a container's next start (`--explain`).
pub fn explain(c: &Client, container: &str) -> Result<(), Failure> {
    use mini_docker_api::explain;
    let v = c
        .call(
            "GET",
            &format!("/containers/{}/explain", http::enc(container)),
            Body::Empty,
        )?
        .json()?;
    let phases: Vec<explain::Phase> =
        serde_json::from_value(v).map_err(|e| fail(format!("bad answer from the daemon: {e}")))?;
    print!("{}", explain::render(&phases));
    use std::io::Write;
    let _ = std::io::stdout().flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(bytes_size(64.0 * 1024.0 * 1024.0), "64MiB");
        assert_eq!(bytes_size(1_503_232.0), "1.434MiB");
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(human_size(1500.0), "1.5kB");
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(123_456.0), "123kB");
    }

    #[test]
    fn a_row_and_the_table() {
        let v = json!({
            "id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 2_097_152, "limit": 67_108_864, "stats": {"total_inactive_file": 1_048_576}},
            "pids_stats": {"current": 4},
            "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 0}},
        });
        let r = stats_fields("web", &v);
        assert_eq!(r["CPUPerc"], "40.00%");
        assert_eq!(r["MemUsage"], "1MiB / 64MiB");
        assert_eq!(r["MemPerc"], "1.56%");
        let out = render_stats(DEFAULT_FORMAT, std::slice::from_ref(&r)).unwrap();
        insta::assert_snapshot!(out);
        assert_eq!(
            render_stats("{{.Name}}: {{.PIDs}}", &[r]).unwrap(),
            "web: 4\n"
        );
    }
}
