use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, id: &str, format: &str) -> anyhow::Result<u8> {
    let pids = container::pids(root, id)?;
    if format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    println!("{:<8} CMD", "PID");
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd: Vec<String> = cmd
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        println!("{pid:<8} {}", cmd.join(" "));
    }
    Ok(0)
}
