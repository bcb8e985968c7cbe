//! `network …` and `volume …`: one API call each, printed as Docker prints.

use super::format;
use super::http::{self, Body, Client, ClientError};
use super::util;
use super::Failure;
use clap::Subcommand;
use serde_json::{json, Value};

/// `network …`.
#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Pretty-print networks using a Go template.
        #[arg(long)]
        format: Option<String>,
        /// Provide filter values (e.g. name=front, driver=bridge, type=custom).
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// Do not truncate the output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
    },
    /// Create a network.
    Create {
        /// Driver to manage the network (bridge only).
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format.
        #[arg(long)]
        subnet: Option<String>,
        /// Gateway for the subnet (its first address).
        #[arg(long)]
        gateway: Option<String>,
        /// Restrict external access to the network.
        #[arg(long)]
        internal: bool,
        /// Set metadata on a network.
        #[arg(long = "label")]
        label: Vec<String>,
        /// Name.
        name: String,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        /// Networks.
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Display detailed information on one or more networks.
    Inspect {
        /// Format the output using the given Go template.
        #[arg(short, long)]
        format: Option<String>,
        /// Networks.
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        /// Add network-scoped alias for the container.
        #[arg(long)]
        alias: Vec<String>,
        /// Network.
        network: String,
        /// Container.
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Force the container to disconnect from a network.
        #[arg(short, long)]
        force: bool,
        /// Network.
        network: String,
        /// Container.
        container: String,
    },
    /// Remove all unused networks.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

/// `volume …`.
#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// Create a volume.
    Create {
        /// Set metadata for a volume.
        #[arg(long = "label")]
        label: Vec<String>,
        /// Volume driver name (local only).
        #[arg(short, long, default_value = "local")]
        driver: String,
        /// Name (default: a random one).
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short, long)]
        quiet: bool,
        /// Pretty-print volumes using a Go template.
        #[arg(long)]
        format: Option<String>,
        /// Provide filter values (e.g. dangling=true, name=x).
        #[arg(short, long = "filter")]
        filter: Vec<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes.
        #[arg(short, long)]
        force: bool,
        /// Volumes.
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        /// Format the output using the given Go template.
        #[arg(short, long)]
        format: Option<String>,
        /// Volumes.
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove all unused local volumes.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

fn bad(code: u8, m: impl Into<String>) -> Failure {
    Failure {
        code,
        message: m.into(),
    }
}

/// `-f k=v` flags as the API's `filters` JSON, URL-encoded.
pub(super) fn filters(list: &[String]) -> Result<String, Failure> {
    let mut m = serde_json::Map::new();
    for f in list {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            bad(
                1,
                format!("bad format of filter (expected name=value): {f}"),
            )
        })?;
        if let Some(a) = m.entry(k).or_insert_with(|| json!([])).as_array_mut() {
            a.push(json!(v));
        }
    }
    Ok(http::enc(&Value::Object(m).to_string()))
}

fn labels(list: &[String]) -> Value {
    let mut m = serde_json::Map::new();
    for l in list {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        m.insert(k.into(), json!(v));
    }
    Value::Object(m)
}

/// `network inspect` and `volume inspect`: each object as JSON (or through
/// `--format`); an unknown one is reported and makes the exit code 1.
fn inspect_each(
    c: &Client,
    path: &str,
    kind: &str,
    names: &[String],
    format: Option<&str>,
) -> Result<u8, Failure> {
    // As the docker CLI: `volume inspect` runs the template over its Go
    // type, `network inspect` over the JSON as a map.
    let go = match kind {
        "volume" => format::Go::typed(&[("", "types.Volume")]),
        _ => format::Go::MAP,
    };
    if let Some(t) = format {
        if let Err(format::TemplateError::Parse(m)) = format::execute(t, &Value::Null, &go) {
            return Err(bad(64, format!("template parsing error: {m}")));
        }
    }
    // What is found is printed first, then the errors in the order of the names.
    let (mut found, mut printed, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for n in names {
        match c
            .call("GET", &format!("/{path}/{}", http::enc(n)), Body::Empty)
            .and_then(|r| r.json())
        {
            Ok(v) => match format {
                Some(t) => match format::execute(t, &v, &go) {
                    Ok(line) => printed.push(line),
                    Err(e) => errors.push(format!("template parsing error: {e}")),
                },
                None => found.push(v),
            },
            Err(ClientError::Api { status: 404, .. }) => {
                errors.push(format!("Error: No such {kind}: {n}"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    match format {
        // Go's template inspector writes one empty line when it printed nothing.
        Some(_) if printed.is_empty() => println!(),
        Some(_) => printed.iter().for_each(|l| println!("{l}")),
        None => println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(found)).unwrap_or_default()
        ),
    }
    if errors.is_empty() {
        return Ok(0);
    }
    eprintln!("{}", errors.join("\n"));
    Ok(1)
}

/// Each name through `f`, printing it on success; exit 1 if any failed.
fn each(
    c: &Client,
    names: &[String],
    f: impl Fn(&Client, &str) -> Result<(), ClientError>,
) -> Result<u8, Failure> {
    super::containers::each(c, names, f)
}

/// The rows of `network ls`, as the fields Docker's templates know.
pub fn network_rows(list: &Value, no_trunc: bool) -> Vec<Value> {
    list.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let id = n["Id"].as_str().unwrap_or("");
            json!({
                "ID": if no_trunc { id } else { &id[..id.len().min(12)] },
                "Name": n["Name"], "Driver": n["Driver"], "Scope": n["Scope"],
                "IPv6": n["EnableIPv6"].as_bool().unwrap_or(false).to_string(),
                "Internal": n["Internal"].as_bool().unwrap_or(false).to_string(),
                "CreatedAt": n["Created"],
                "Labels": n["Labels"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")).unwrap_or_default(),
            })
        })
        .collect()
}

/// `network ls` as Docker's table.
pub fn network_table(rows: &[Value]) -> String {
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![s(r, "ID"), s(r, "Name"), s(r, "Driver"), s(r, "Scope")])
        .collect();
    format::table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &table)
}

/// `volume ls` as Docker's table.
pub fn volume_table(rows: &[Value]) -> String {
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![s(r, "Driver"), s(r, "Name")])
        .collect();
    format::table(&["DRIVER", "VOLUME NAME"], &table)
}

/// `network …`.
pub fn network(c: &Client, cmd: NetworkCmd) -> Result<u8, Failure> {
    match cmd {
        NetworkCmd::Ls {
            quiet,
            format,
            filter,
            no_trunc,
        } => {
            let list = c
                .call(
                    "GET",
                    &format!("/networks?filters={}", filters(&filter)?),
                    Body::Empty,
                )?
                .json()?;
            let mut rows = network_rows(&list, no_trunc);
            // As the docker CLI: sorted by name.
            rows.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
            if quiet {
                for r in &rows {
                    println!("{}", s(r, "ID"));
                }
            } else if let Some(t) = format {
                let headers = [
                    ("ID", "NETWORK ID"),
                    ("Name", "NAME"),
                    ("Driver", "DRIVER"),
                    ("Scope", "SCOPE"),
                ];
                let go = format::Go::typed(&[("", "*network.networkContext")]);
                print!(
                    "{}",
                    format::list_as(&t, &rows, &headers, &go).map_err(format::list_failure)?
                );
            } else {
                print!("{}", network_table(&rows));
            }
            Ok(0)
        }
        NetworkCmd::Create {
            driver,
            subnet,
            gateway,
            internal,
            label,
            name,
        } => {
            let mut config = json!({});
            if let Some(s) = subnet {
                config["Subnet"] = json!(s);
            }
            if let Some(g) = gateway {
                config["Gateway"] = json!(g);
            }
            let body = json!({
                "Name": name, "Driver": driver, "CheckDuplicate": true, "Internal": internal,
                "IPAM": {"Driver": "default", "Config": if config.as_object().is_some_and(|m| m.is_empty()) { json!([]) } else { json!([config]) }},
                "Labels": labels(&label),
            });
            let v = c
                .call("POST", "/networks/create", Body::Json(body))?
                .json()?;
            println!("{}", v["Id"].as_str().unwrap_or(""));
            Ok(0)
        }
        NetworkCmd::Rm { networks } => each(c, &networks, |c, n| {
            c.call(
                "DELETE",
                &format!("/networks/{}", http::enc(n)),
                Body::Empty,
            )
            .map(|_| ())
        }),
        NetworkCmd::Inspect { format, networks } => {
            inspect_each(c, "networks", "network", &networks, format.as_deref())
        }
        NetworkCmd::Connect {
            alias,
            network,
            container,
        } => {
            let body = json!({"Container": container, "EndpointConfig": {"Aliases": alias}});
            c.call(
                "POST",
                &format!("/networks/{}/connect", http::enc(&network)),
                Body::Json(body),
            )?;
            Ok(0)
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            let body = json!({"Container": container, "Force": force});
            c.call(
                "POST",
                &format!("/networks/{}/disconnect", http::enc(&network)),
                Body::Json(body),
            )?;
            Ok(0)
        }
        NetworkCmd::Prune { force } => {
            if !force
                && !super::system::confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.",
                )
            {
                return Ok(0);
            }
            let v = c.call("POST", "/networks/prune", Body::Empty)?.json()?;
            let deleted: Vec<&str> = v["NetworksDeleted"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Networks:");
                for n in deleted {
                    println!("{n}");
                }
            }
            Ok(0)
        }
    }
}

/// `volume …`.
pub fn volume(c: &Client, cmd: VolumeCmd) -> Result<u8, Failure> {
    match cmd {
        VolumeCmd::Create {
            label,
            driver,
            name,
        } => {
            let body = json!({"Name": name.unwrap_or_default(), "Driver": driver, "Labels": labels(&label)});
            let v = c
                .call("POST", "/volumes/create", Body::Json(body))?
                .json()?;
            println!("{}", v["Name"].as_str().unwrap_or(""));
            Ok(0)
        }
        VolumeCmd::Ls {
            quiet,
            format,
            filter,
        } => {
            let v = c
                .call(
                    "GET",
                    &format!("/volumes?filters={}", filters(&filter)?),
                    Body::Empty,
                )?
                .json()?;
            let mut rows: Vec<Value> = v["Volumes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|v| json!({"Name": v["Name"], "Driver": v["Driver"], "Mountpoint": v["Mountpoint"], "Scope": v["Scope"]}))
                .collect();
            rows.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
            if quiet {
                for r in &rows {
                    println!("{}", s(r, "Name"));
                }
            } else if let Some(t) = format {
                let headers = [
                    ("Name", "VOLUME NAME"),
                    ("Driver", "DRIVER"),
                    ("Scope", "SCOPE"),
                    ("Mountpoint", "MOUNTPOINT"),
                ];
                let go = format::Go::typed(&[("", "*formatter.volumeContext")]);
                print!(
                    "{}",
                    format::list_as(&t, &rows, &headers, &go).map_err(format::list_failure)?
                );
            } else {
                print!("{}", volume_table(&rows));
            }
            Ok(0)
        }
        VolumeCmd::Rm { force, volumes } => each(c, &volumes, |c, n| {
            c.call(
                "DELETE",
                &format!("/volumes/{}?force={}", http::enc(n), force as u8),
                Body::Empty,
            )
            .map(|_| ())
        }),
        VolumeCmd::Inspect { format, volumes } => {
            inspect_each(c, "volumes", "volume", &volumes, format.as_deref())
        }
        VolumeCmd::Prune { force } => {
            if !force && !super::system::confirm("WARNING! This will remove all local volumes not used by at least one container.") {
                return Ok(0);
            }
            let v = c.call("POST", "/volumes/prune", Body::Empty)?.json()?;
            let deleted: Vec<&str> = v["VolumesDeleted"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Volumes:");
                for n in deleted {
                    println!("{n}");
                }
                println!();
            }
            println!(
                "Total reclaimed space: {}",
                util::human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0))
            );
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_as_docker_prints_them() {
        let list = json!([
            {"Id": "a".repeat(64), "Name": "bridge", "Driver": "bridge", "Scope": "local"},
            {"Id": "0123456789abcdef", "Name": "front", "Driver": "bridge", "Scope": "local",
             "Labels": {"tier": "web"}},
            {"Id": "b".repeat(64), "Name": "none", "Driver": "null", "Scope": "local"},
        ]);
        let rows = network_rows(&list, false);
        assert_eq!(rows[1]["Labels"], "tier=web");
        let vols = vec![
            json!({"Driver": "local", "Name": "data"}),
            json!({"Driver": "local", "Name": "c".repeat(64)}),
        ];
        insta::assert_snapshot!(network_table(&rows) + "\n" + &volume_table(&vols));
    }
}
