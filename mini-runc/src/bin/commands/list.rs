use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, format: &str, quiet: bool) -> anyhow::Result<u8> {
    let all = container::list(root);
    if quiet {
        for s in &all {
            println!("{}", s.id);
        }
    } else if format == "json" {
        let v: Vec<serde_json::Value> = all.iter().map(|s| s.to_oci_json()).collect();
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!(
            "{:<20} {:<8} {:<10} {:<40} CREATED",
            "ID", "PID", "STATUS", "BUNDLE"
        );
        for s in &all {
            let pid = if s.status == mini_runc::state::Status::Stopped {
                0
            } else {
                s.pid
            };
            println!(
                "{:<20} {:<8} {:<10} {:<40} {}",
                s.id,
                pid,
                s.status.name(),
                s.bundle.display(),
                s.created
            );
        }
    }
    Ok(0)
}
