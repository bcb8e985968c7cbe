//! `rename`, `top`, `system prune` / `container prune`: one or a few API
//! calls each, printed as Docker prints them.

use super::format;
use super::http::{self, Body, Client};
use super::util;
use super::Failure;
use serde_json::Value;
use std::io::{BufRead, Write};

/// `rename OLD NEW`: prints nothing on success.
pub fn rename(c: &Client, old: &str, new: &str) -> Result<u8, Failure> {
    c.call(
        "POST",
        &format!(
            "/containers/{}/rename?name={}",
            http::enc(old),
            http::enc(new)
        ),
        Body::Empty,
    )?;
    Ok(0)
}

/// `top CONTAINER [ps OPTIONS]`: the daemon's `ps` rows, as a table.
pub fn top(c: &Client, container: &str, ps_args: &[String]) -> Result<u8, Failure> {
    let mut path = format!("/containers/{}/top", http::enc(container));
    if !ps_args.is_empty() {
        path.push_str(&format!("?ps_args={}", http::enc(&ps_args.join(" "))));
    }
    let v = c.call("GET", &path, Body::Empty)?.json()?;
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = v["Processes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    r.as_array()
                        .map(|f| {
                            f.iter()
                                .map(|x| x.as_str().unwrap_or("").to_string())
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    print!("{}", format::table(&titles, &rows));
    Ok(0)
}

/// Asks `[y/N]` on stdin; true for y/yes.
pub(super) fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

pub(super) fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `container prune [-f]`.
pub fn container_prune(c: &Client, force: bool) -> Result<u8, Failure> {
    if !force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let v = c.call("POST", "/containers/prune", Body::Empty)?.json()?;
    print_section("Deleted Containers", &ids(&v, "ContainersDeleted"));
    println!(
        "Total reclaimed space: {}",
        util::human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0))
    );
    Ok(0)
}

/// `system prune [-a] [-f]`: stopped containers, unused networks, and
/// with `-a` every image no container uses (the engine has no dangling
/// images or build cache: an image is its names).
pub fn system_prune(c: &Client, all: bool, force: bool) -> Result<u8, Failure> {
    let images = if all {
        "  - all images without at least one container associated to them\n  - all build cache\n"
    } else {
        "  - all dangling images\n  - all dangling build cache\n"
    };
    let warning = format!("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n{images}");
    if !force && !confirm(&warning) {
        return Ok(0);
    }
    let v = c.call("POST", "/containers/prune", Body::Empty)?.json()?;
    let mut space = v["SpaceReclaimed"].as_u64().unwrap_or(0);
    print_section("Deleted Containers", &ids(&v, "ContainersDeleted"));
    let n = c.call("POST", "/networks/prune", Body::Empty)?.json()?;
    print_section("Deleted Networks", &ids(&n, "NetworksDeleted"));
    let filters = if all {
        r#"{"dangling":["false"]}"#
    } else {
        r#"{"dangling":["true"]}"#
    };
    let i = c
        .call(
            "POST",
            &format!("/images/prune?filters={}", http::enc(filters)),
            Body::Empty,
        )?
        .json()?;
    space += i["SpaceReclaimed"].as_u64().unwrap_or(0);
    print_section("Deleted Images", &image_lines(&i));
    println!("Total reclaimed space: {}", util::human_size(space));
    Ok(0)
}

/// A prune's `TITLE:` and one line each, then a blank line (nothing when
/// nothing went).
pub(super) fn print_section(title: &str, lines: &[String]) {
    if !lines.is_empty() {
        println!("{title}:");
        for l in lines {
            println!("{l}");
        }
        println!();
    }
}

/// The `untagged: …` / `deleted: …` lines of an image prune's answer.
pub(super) fn image_lines(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for d in v["ImagesDeleted"].as_array().into_iter().flatten() {
        if let Some(t) = d["Untagged"].as_str() {
            out.push(format!("untagged: {t}"));
        }
        if let Some(t) = d["Deleted"].as_str() {
            out.push(format!("deleted: {t}"));
        }
    }
    out
}

/// Docker's `SIZE (N%)` reclaimable column.
fn reclaimable(part: u64, total: u64) -> String {
    match (part * 100).checked_div(total) {
        Some(pct) => format!("{} ({pct}%)", util::human_size(part)),
        None => util::human_size(part),
    }
}

/// `system df`: TYPE TOTAL ACTIVE SIZE RECLAIMABLE, as Docker prints it.
pub fn system_df(c: &Client) -> Result<u8, Failure> {
    let v = c.call("GET", "/system/df", Body::Empty)?.json()?;
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let (images, containers) = (list("Images"), list("Containers"));
    let size = |i: &Value, k: &str| i[k].as_u64().unwrap_or(0);
    let img_total: u64 = images.iter().map(|i| size(i, "Size")).sum();
    let img_active = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .count();
    let img_free: u64 = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) == 0)
        .map(|i| size(i, "Size"))
        .sum();
    let running = |c: &Value| c["State"].as_str() == Some("running");
    let ct_total: u64 = containers.iter().map(|c| size(c, "SizeRw")).sum();
    let ct_active = containers.iter().filter(|c| running(c)).count();
    let ct_free: u64 = containers
        .iter()
        .filter(|c| !running(c))
        .map(|c| size(c, "SizeRw"))
        .sum();
    let volumes = list("Volumes");
    let used = |v: &Value| v["UsageData"]["RefCount"].as_u64().unwrap_or(0) > 0;
    let vsize = |v: &Value| v["UsageData"]["Size"].as_u64().unwrap_or(0);
    let vol_total: u64 = volumes.iter().map(vsize).sum();
    let vol_active = volumes.iter().filter(|v| used(v)).count();
    let vol_free: u64 = volumes.iter().filter(|v| !used(v)).map(vsize).sum();
    let rows = vec![
        vec![
            "Images".to_string(),
            images.len().to_string(),
            img_active.to_string(),
            util::human_size(img_total),
            reclaimable(img_free, img_total),
        ],
        vec![
            "Containers".to_string(),
            containers.len().to_string(),
            ct_active.to_string(),
            util::human_size(ct_total),
            reclaimable(ct_free, ct_total),
        ],
        vec![
            "Local Volumes".into(),
            volumes.len().to_string(),
            vol_active.to_string(),
            util::human_size(vol_total),
            reclaimable(vol_free, vol_total),
        ],
        vec![
            "Build Cache".into(),
            "0".into(),
            "0".into(),
            "0B".into(),
            "0B".into(),
        ],
    ];
    print!(
        "{}",
        format::table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &rows)
    );
    Ok(0)
}
