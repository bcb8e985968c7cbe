//! `swarm …`, `node …`, `service …` and `stack …`: mini-docker as a client
//! of a real Docker swarm manager (mini-dockerd itself is not one, and says
//! so).
//!
//! A swarm is a set of dockerd that agree (with Raft, among the managers)
//! on a desired state: *services*, each a container template with a
//! number of replicas. The managers split each service into *tasks*, one
//! per replica, and assign every task to a *node*; the node's dockerd runs
//! it as an ordinary container (on mini-runc, when that is its default
//! runtime: see docs/REMOTE.md). The client only edits the desired state
//! and reads it back, through these Engine API calls:
//!
//! - `swarm init` / `join` / `leave`: `POST /swarm/init`, `/swarm/join`,
//!   `/swarm/leave`; `join-token` reads `GET /swarm`'s `JoinTokens`;
//! - `node ls`: `GET /nodes`, with `GET /info` to mark this node (`*`);
//! - `service create`: `POST /services/create` with a `ServiceSpec`;
//!   `update` and `scale` read `GET /services/{id}` and send the edited
//!   spec back with `POST /services/{id}/update?version=N` (the version is
//!   the optimistic lock: a spec changed meanwhile is refused);
//! - `service ls`: `GET /services?status=true` (running/desired counts);
//! - `service ps`: `GET /tasks?filters={"service":…}` and `GET /nodes`;
//! - `service logs`: `GET /services/{id}/logs` (the multiplexed stream,
//!   with `details=1` naming each line's task and node);
//! - `service rm`: `DELETE /services/{id}`;
//! - `stack deploy -c compose.yaml NAME`: the compose file, read by
//!   `compose::load` (variables, merging, `extends`), becomes an overlay
//!   network `NAME_default` and one service `NAME_SVC` per compose service
//!   (`deploy.replicas`), each labelled `com.docker.stack.namespace=NAME`,
//!   created or updated in place; `stack ls/ps/rm` find them by that label.
//!
//! Without `--detach`, `create`, `update` and `scale` wait, as the docker
//! CLI does, until the running tasks match the desired ones.

use super::format;
use super::http::{self, Body, Client};
use super::Failure;
use clap::Subcommand;
use serde_json::{json, Value};

mod spec;

/// The flags of `service create` that take no value (the others do).
const CREATE_SWITCHES: &[&str] = &[
    "-d",
    "--detach",
    "-q",
    "--quiet",
    "-t",
    "--tty",
    "--no-resolve-image",
    "--with-registry-auth",
    "--init",
    "--read-only",
    "--no-healthcheck",
];

/// The command line for clap. `service create` has a `--host` (a hosts
/// entry) and a `--config` (a swarm config), as in the docker CLI, where
/// `-H/--host` and `--config` are flags of the top-level command only; ours
/// are global flags, which clap would share with any subcommand flag of the
/// same name. So here, between `service create` and its IMAGE, `--host` is
/// renamed `--host-entry` and `--config` `--config-ref` before clap sees them.
pub fn clap_argv(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = args.into_iter().collect();
    let start = out
        .windows(2)
        .position(|w| w[0] == "service" && w[1] == "create")
        .map(|i| i + 2);
    let Some(mut i) = start else {
        return out;
    };
    while i < out.len() {
        let Some(arg) = out[i].to_str().map(String::from) else {
            break;
        };
        if !arg.starts_with('-') || arg == "--" {
            break; // the IMAGE: the rest is the service's command
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let renamed = match name.as_str() {
            "--host" => Some("--host-entry"),
            "--config" => Some("--config-ref"),
            _ => None,
        };
        if let Some(r) = renamed {
            out[i] = match &inline {
                Some(v) => format!("{r}={v}").into(),
                None => r.into(),
            };
        }
        let switch = CREATE_SWITCHES.contains(&name.as_str())
            || (!name.starts_with("--") && name[1..].chars().all(|c| "dqt".contains(c)));
        i += if inline.is_some() || switch { 1 } else { 2 };
    }
    out
}

/// `swarm …`.
#[derive(Subcommand, Debug)]
pub enum SwarmCmd {
    /// Initialize a swarm: this daemon becomes its first manager.
    Init {
        /// Advertised address (format: <ip|interface>[:port]).
        #[arg(long = "advertise-addr")]
        advertise_addr: Option<String>,
        /// Listen address (format: <ip|interface>[:port]).
        #[arg(long = "listen-addr", default_value = "0.0.0.0:2377")]
        listen_addr: String,
    },
    /// Join a swarm as a node and/or manager.
    Join {
        /// Token for entry into the swarm.
        #[arg(long)]
        token: String,
        /// Advertised address (format: <ip|interface>[:port]).
        #[arg(long = "advertise-addr")]
        advertise_addr: Option<String>,
        /// Listen address (format: <ip|interface>[:port]).
        #[arg(long = "listen-addr", default_value = "0.0.0.0:2377")]
        listen_addr: String,
        /// A manager's address (HOST:PORT).
        remote: String,
    },
    /// Manage join tokens.
    #[command(name = "join-token")]
    JoinToken {
        /// Only display token.
        #[arg(short, long)]
        quiet: bool,
        /// `worker` or `manager`.
        role: String,
    },
    /// Leave the swarm.
    Leave {
        /// Force this node to leave the swarm, ignoring warnings.
        #[arg(short, long)]
        force: bool,
    },
}

/// `node …`.
#[derive(Subcommand, Debug)]
pub enum NodeCmd {
    /// List nodes in the swarm.
    #[command(alias = "list")]
    Ls {
        /// Only display IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Pretty-print nodes using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
}

/// `service …`.
#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Create a new service.
    Create(Box<CreateArgs>),
    /// List services.
    #[command(alias = "list")]
    Ls {
        /// Only display IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Pretty-print services using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// List the tasks of one or more services.
    Ps {
        /// How to list them.
        #[command(flatten)]
        list: TaskListArgs,
        /// Services.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Scale one or multiple replicated services (SERVICE=REPLICAS).
    Scale {
        /// Exit immediately instead of waiting for the service to converge.
        #[arg(short, long)]
        detach: bool,
        /// SERVICE=REPLICAS.
        #[arg(required = true)]
        scales: Vec<String>,
    },
    /// Update a service.
    Update(Box<UpdateArgs>),
    /// Remove one or more services.
    #[command(alias = "remove")]
    Rm {
        /// Services.
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Fetch the logs of a service.
    Logs {
        /// Follow log output.
        #[arg(short, long)]
        follow: bool,
        /// Number of lines to show from the end of the logs.
        #[arg(long, default_value = "all")]
        tail: String,
        /// Do not print the task and node of each line.
        #[arg(long)]
        raw: bool,
        /// Service.
        service: String,
    },
}

/// The flags of `service ps` and `stack ps`.
#[derive(clap::Args, Debug)]
pub struct TaskListArgs {
    /// Only display task IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print tasks using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

/// `service create`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Service name.
    #[arg(long)]
    pub name: Option<String>,
    /// Service mode (replicated, global, replicated-job, or global-job).
    #[arg(long, default_value = "replicated")]
    pub mode: String,
    /// The flags that set one field each (`update` has them too).
    #[command(flatten)]
    pub fields: spec::FieldArgs,
    /// The list flags.
    #[command(flatten)]
    pub lists: spec::CreateLists,
    /// Image.
    pub image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `service update`.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// Service image tag.
    #[arg(long)]
    pub image: Option<String>,
    /// Service command args.
    #[arg(long)]
    pub args: Option<String>,
    /// Force update even if no changes require it.
    #[arg(long)]
    pub force: bool,
    /// Rollback to previous specification.
    #[arg(long)]
    pub rollback: bool,
    /// The flags that set one field each (`create` has them too).
    #[command(flatten)]
    pub fields: spec::FieldArgs,
    /// The `--X-add` and `--X-rm` flags.
    #[command(flatten)]
    pub lists: spec::UpdateLists,
    /// Service.
    pub service: String,
}

fn bad(m: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: m.into(),
    }
}

/// Docker's `PrettyPrint`: the first letter upper-cased (`ready` → `Ready`).
fn pretty(v: &Value) -> String {
    let s = v.as_str().unwrap_or("");
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// An image reference without its `@sha256:…` pin, as the tables show it.
fn image_name(v: &Value) -> String {
    let s = v.as_str().unwrap_or("");
    s.split_once('@').map_or(s, |(n, _)| n).to_string()
}

fn get(c: &Client, path: &str) -> Result<Value, Failure> {
    Ok(c.call("GET", path, Body::Empty)?.json()?)
}

/// The tasks of service `id` (current and past), from `GET /tasks`.
fn service_tasks(c: &Client, id: &str) -> Result<Value, Failure> {
    let filters = json!({"service": {id: true}}).to_string();
    get(c, &format!("/tasks?filters={}", http::enc(&filters)))
}

/// `swarm …`.
pub fn swarm(c: &Client, cmd: SwarmCmd) -> Result<u8, Failure> {
    match cmd {
        SwarmCmd::Init {
            advertise_addr,
            listen_addr,
        } => {
            let id = c
                .call(
                    "POST",
                    "/swarm/init",
                    Body::Json(json!({
                        "ListenAddr": listen_addr,
                        "AdvertiseAddr": advertise_addr.unwrap_or_default(),
                        "ForceNewCluster": false,
                        "Spec": {},
                    })),
                )?
                .json()?;
            let id = id.as_str().unwrap_or("");
            println!("Swarm initialized: current node ({id}) is now a manager.\n");
            print_join(c, "worker")?;
            println!("To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n");
            Ok(0)
        }
        SwarmCmd::Join {
            token,
            advertise_addr,
            listen_addr,
            remote,
        } => {
            c.call(
                "POST",
                "/swarm/join",
                Body::Json(json!({
                    "ListenAddr": listen_addr,
                    "AdvertiseAddr": advertise_addr.unwrap_or_default(),
                    "RemoteAddrs": [remote],
                    "JoinToken": token,
                })),
            )?;
            let info = get(c, "/info")?;
            if info["Swarm"]["ControlAvailable"] == true {
                println!("This node joined a swarm as a manager.");
            } else {
                println!("This node joined a swarm as a worker.");
            }
            Ok(0)
        }
        SwarmCmd::JoinToken { quiet, role } => {
            if role != "worker" && role != "manager" {
                return Err(bad(format!(
                    "unknown role {role}: join-token takes worker or manager"
                )));
            }
            if quiet {
                let sw = get(c, "/swarm")?;
                println!("{}", sw["JoinTokens"][title(&role)].as_str().unwrap_or(""));
            } else {
                print_join(c, &role)?;
            }
            Ok(0)
        }
        SwarmCmd::Leave { force } => {
            let q = if force { "?force=1" } else { "" };
            c.call("POST", &format!("/swarm/leave{q}"), Body::Empty)?;
            println!("Node left the swarm.");
            Ok(0)
        }
    }
}

fn title(role: &str) -> &'static str {
    if role == "manager" {
        "Manager"
    } else {
        "Worker"
    }
}

/// The "To add a worker…" paragraph, with the token and a manager's address.
fn print_join(c: &Client, role: &str) -> Result<(), Failure> {
    let sw = get(c, "/swarm")?;
    let info = get(c, "/info")?;
    let addr = info["Swarm"]["RemoteManagers"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["NodeID"] == info["Swarm"]["NodeID"])
                .or(m.first())
        })
        .and_then(|m| m["Addr"].as_str())
        .unwrap_or("")
        .to_string();
    let token = sw["JoinTokens"][title(role)].as_str().unwrap_or("");
    println!("To add a {role} to this swarm, run the following command:\n");
    println!("    docker swarm join --token {token} {addr}\n");
    Ok(())
}

/// `node …`.
pub fn node(c: &Client, cmd: NodeCmd) -> Result<u8, Failure> {
    let NodeCmd::Ls { quiet, format } = cmd;
    let nodes = get(c, "/nodes")?;
    let info = get(c, "/info")?;
    let me = info["Swarm"]["NodeID"].as_str().unwrap_or("");
    let mut rows: Vec<Value> = nodes
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let id = n["ID"].as_str().unwrap_or("");
            let manager = &n["ManagerStatus"];
            let manager = if manager.is_null() {
                String::new()
            } else if manager["Leader"] == true {
                "Leader".into()
            } else {
                pretty(&manager["Reachability"])
            };
            json!({
                "ID": if id == me { format!("{id} *") } else { id.to_string() },
                "Self": id == me,
                "Hostname": n["Description"]["Hostname"],
                "Status": pretty(&n["Status"]["State"]),
                "Availability": pretty(&n["Spec"]["Availability"]),
                "ManagerStatus": manager,
                "EngineVersion": n["Description"]["Engine"]["EngineVersion"],
            })
        })
        .collect();
    rows.sort_by(|a, b| a["Hostname"].as_str().cmp(&b["Hostname"].as_str()));
    let columns = [
        ("ID", "ID"),
        ("Hostname", "HOSTNAME"),
        ("Status", "STATUS"),
        ("Availability", "AVAILABILITY"),
        ("ManagerStatus", "MANAGER STATUS"),
        ("EngineVersion", "ENGINE VERSION"),
    ];
    print_rows(&rows, quiet, format, &columns)
}

/// Prints a list command's rows: their IDs (`-q`), `--format`, or the
/// docker CLI's table of `columns` (field, title), in that order.
fn print_rows(
    rows: &[Value],
    quiet: bool,
    format: Option<String>,
    columns: &[(&str, &str)],
) -> Result<u8, Failure> {
    if quiet {
        for r in rows {
            println!("{}", r["ID"].as_str().unwrap_or("").trim_end_matches(" *"));
        }
        return Ok(0);
    }
    let template = format.unwrap_or_else(|| {
        let fields: Vec<String> = columns
            .iter()
            .map(|(f, _)| format!("{{{{.{f}}}}}"))
            .collect();
        format!("table {}", fields.join("\t"))
    });
    print!("{}", format::list(&template, rows, columns).map_err(bad)?);
    Ok(0)
}

/// `service …`.
pub fn service(c: &Client, cmd: ServiceCmd, cfg: Option<&str>) -> Result<u8, Failure> {
    match cmd {
        ServiceCmd::Create(a) => {
            let spec = spec::create_spec(
                c,
                a.name.as_deref(),
                &a.mode,
                &a.fields,
                &a.lists,
                &a.image,
                &a.args,
            )?;
            let auth = registry_auth(&a.fields, &a.image, cfg);
            let r = c
                .call_with(
                    "POST",
                    "/services/create",
                    Body::Json(spec),
                    &auth_header(&auth),
                )?
                .json()?;
            warnings(&r);
            let id = r["ID"].as_str().unwrap_or("").to_string();
            println!("{id}");
            if !a.fields.detach {
                converge(c, &id, None, a.fields.quiet)?;
            }
            Ok(0)
        }
        ServiceCmd::Ls { quiet, format } => {
            let list = get(c, "/services?status=true")?;
            let mut rows: Vec<Value> = list
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(service_row)
                .collect();
            rows.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            let columns = [
                ("ID", "ID"),
                ("Name", "NAME"),
                ("Mode", "MODE"),
                ("Replicas", "REPLICAS"),
                ("Image", "IMAGE"),
                ("Ports", "PORTS"),
            ];
            print_rows(&rows, quiet, format, &columns)
        }
        ServiceCmd::Ps { list, services } => ps(c, &services, list),
        ServiceCmd::Scale { detach, scales } => {
            for s in &scales {
                let (name, n) = s
                    .split_once('=')
                    .and_then(|(name, n)| Some((name, n.parse::<u64>().ok()?)))
                    .ok_or_else(|| {
                        bad(format!(
                            "invalid scale specifier {s:?}: give SERVICE=REPLICAS, e.g. web=4"
                        ))
                    })?;
                let (id, version, mut spec) = inspect(c, name)?;
                if spec["Mode"]["Replicated"].is_null() {
                    return Err(bad(format!(
                        "{name}: scale can only be used with replicated mode"
                    )));
                }
                spec["Mode"]["Replicated"]["Replicas"] = json!(n);
                update(c, &id, version, spec)?;
                println!("{name} scaled to {n}");
                if !detach {
                    converge(c, &id, None, false)?;
                }
            }
            Ok(0)
        }
        ServiceCmd::Update(a) => {
            let (id, version, mut spec) = inspect(c, &a.service)?;
            let before = spec["TaskTemplate"].clone();
            let query = if a.rollback {
                // Rolled back by the manager (`?rollback=previous`), which
                // honours the service's RollbackConfig.
                let mut fields = a.fields.clone();
                (fields.detach, fields.quiet) = (false, false);
                if fields != spec::FieldArgs::default()
                    || a.lists != spec::UpdateLists::default()
                    || a.image.is_some()
                    || a.args.is_some()
                    || a.force
                {
                    return Err(bad("other flags may not be combined with --rollback"));
                }
                "&rollback=previous"
            } else {
                let cs = &mut spec["TaskTemplate"]["ContainerSpec"];
                if let Some(i) = &a.image {
                    cs["Image"] = json!(i);
                }
                if let Some(args) = &a.args {
                    cs["Args"] = json!(super::compose::plan::shell_split(args)
                        .map_err(|m| bad(format!("invalid --args {args:?}: {m}")))?);
                }
                spec::apply_lists(c, &mut spec, &a.lists)?;
                spec::apply_fields(&mut spec, &a.fields, false)?;
                if a.force {
                    let f = spec["TaskTemplate"]["ForceUpdate"].as_u64().unwrap_or(0);
                    spec["TaskTemplate"]["ForceUpdate"] = json!(f + 1);
                }
                ""
            };
            let image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let auth = registry_auth(&a.fields, &image, cfg);
            let rolling = (a.rollback || spec["TaskTemplate"] != before)
                .then(mini_docker_api::time::now_nanos);
            let r = c
                .call_with(
                    "POST",
                    &format!(
                        "/services/{}/update?version={version}{query}",
                        http::enc(&id)
                    ),
                    Body::Json(spec),
                    &auth_header(&auth),
                )?
                .json()?;
            warnings(&r);
            println!("{}", a.service);
            if !a.fields.detach {
                converge(c, &id, rolling, a.fields.quiet)?;
            }
            Ok(0)
        }
        ServiceCmd::Rm { services } => {
            let mut code = 0;
            for s in &services {
                match c.call(
                    "DELETE",
                    &format!("/services/{}", http::enc(s)),
                    Body::Empty,
                ) {
                    Ok(_) => println!("{s}"),
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        ServiceCmd::Logs {
            follow,
            tail,
            raw,
            service,
        } => logs(c, &service, follow, &tail, raw),
    }
}

/// `--with-registry-auth`: the `X-Registry-Auth` header's value for the
/// image's registry (from `login`), which the manager hands to the nodes
/// that pull.
fn registry_auth(f: &spec::FieldArgs, image: &str, cfg: Option<&str>) -> Option<String> {
    f.with_registry_auth
        .then(|| super::auth::registry_auth(image, cfg))
        .flatten()
}

/// The request headers for an `X-Registry-Auth` value.
fn auth_header(auth: &Option<String>) -> Vec<(&str, &str)> {
    auth.as_deref()
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default()
}

fn warnings(r: &Value) {
    for w in r["Warnings"].as_array().into_iter().flatten() {
        eprintln!("{}", w.as_str().unwrap_or(""));
    }
}

/// A service's id, spec version and spec.
fn inspect(c: &Client, name: &str) -> Result<(String, u64, Value), Failure> {
    let s = get(c, &format!("/services/{}", http::enc(name)))?;
    Ok((
        s["ID"].as_str().unwrap_or("").to_string(),
        s["Version"]["Index"].as_u64().unwrap_or(0),
        s["Spec"].clone(),
    ))
}

fn update(c: &Client, id: &str, version: u64, spec: Value) -> Result<(), Failure> {
    let r = c
        .call(
            "POST",
            &format!("/services/{}/update?version={version}", http::enc(id)),
            Body::Json(spec),
        )?
        .json()?;
    warnings(&r);
    Ok(())
}

/// Waits until the service's running tasks are the desired ones, printing
/// each new task error once. `rolling`: the task template changed at that
/// time (nanoseconds), so the manager replaces every task, and the wait
/// also lasts until the update that started then is completed.
fn converge(c: &Client, id: &str, rolling: Option<i64>, quiet: bool) -> Result<(), Failure> {
    let mut last_err = String::new();
    loop {
        let list = get(c, "/services?status=true")?;
        let s = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["ID"] == id)
            .cloned()
            .ok_or_else(|| bad(format!("service {id} was removed while waiting for it")))?;
        let st = &s["ServiceStatus"];
        let update = &s["UpdateStatus"];
        let updated = match rolling {
            None => true,
            Some(since) => {
                let started = update["StartedAt"]
                    .as_str()
                    .and_then(mini_docker_api::time::parse_rfc3339)
                    .unwrap_or(0);
                // (A second of slack: the manager's clock stamps it.)
                match update["State"].as_str() {
                    _ if started < since - 1_000_000_000 => false,
                    Some("completed") => true,
                    Some(state @ ("paused" | "rollback_completed" | "rollback_paused")) => {
                        return Err(bad(format!(
                            "the update of service {id} stopped ({state}): {}; see `service ps {id}`",
                            update["Message"].as_str().unwrap_or("")
                        )))
                    }
                    _ => false,
                }
            }
        };
        if st["RunningTasks"] == st["DesiredTasks"] && updated {
            if !quiet {
                println!("verify: Service converged");
            }
            return Ok(());
        }
        let tasks = service_tasks(c, id)?;
        if let Some(e) = tasks
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["Status"]["Err"].as_str())
            .next_back()
        {
            if e != last_err && !quiet {
                eprintln!("task: {e}");
                last_err = e.to_string();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// A service as `service ls`'s fields.
fn service_row(s: &Value) -> Value {
    let spec = &s["Spec"];
    let mode = if spec["Mode"]["Global"].is_null() {
        "replicated"
    } else {
        "global"
    };
    let st = &s["ServiceStatus"];
    let replicas = format!(
        "{}/{}",
        st["RunningTasks"].as_u64().unwrap_or(0),
        st["DesiredTasks"].as_u64().unwrap_or(0)
    );
    let ports: Vec<String> = s["Endpoint"]["Ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "*:{}->{}/{}",
                p["PublishedPort"],
                p["TargetPort"],
                p["Protocol"].as_str().unwrap_or("tcp")
            )
        })
        .collect();
    let id = s["ID"].as_str().unwrap_or("");
    json!({
        "ID": &id[..id.len().min(12)],
        "Name": spec["Name"],
        "Mode": mode,
        "Replicas": replicas,
        "Image": image_name(&spec["TaskTemplate"]["ContainerSpec"]["Image"]),
        "Ports": ports.join(", "),
    })
}

/// `service ps`: each service's tasks by slot, the newest first and the
/// ones it replaced under it (` \_ `), as the docker CLI lists them.
fn ps(c: &Client, services: &[String], list: TaskListArgs) -> Result<u8, Failure> {
    let mut groups = Vec::new();
    for name in services {
        let (id, _, spec) = inspect(c, name)?;
        let tasks = service_tasks(c, &id)?;
        let svc = spec["Name"].as_str().unwrap_or(name).to_string();
        groups.push((svc, tasks.as_array().cloned().unwrap_or_default()));
    }
    print_tasks(c, groups, list)
}

/// The task table of `service ps` and `stack ps`: (service name, its tasks).
fn print_tasks(
    c: &Client,
    groups: Vec<(String, Vec<Value>)>,
    list: TaskListArgs,
) -> Result<u8, Failure> {
    let TaskListArgs {
        quiet,
        format,
        no_trunc,
    } = list;
    let nodes = get(c, "/nodes")?;
    let host = |id: &Value| {
        nodes
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["ID"] == *id)
            .map(|n| {
                n["Description"]["Hostname"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let now = mini_docker_api::time::now_nanos();
    let mut rows = Vec::new();
    for (svc, mut tasks) in groups {
        let slot = |t: &Value| match t["Slot"].as_u64() {
            Some(n) if n > 0 => format!("{:020}", n),
            _ => t["NodeID"].as_str().unwrap_or("").to_string(),
        };
        tasks.sort_by(|a, b| {
            slot(a)
                .cmp(&slot(b))
                .then(b["CreatedAt"].as_str().cmp(&a["CreatedAt"].as_str()))
        });
        let mut prev = String::new();
        for t in &tasks {
            let s = slot(t);
            let base = match t["Slot"].as_u64() {
                Some(n) if n > 0 => format!("{svc}.{n}"),
                _ => format!("{svc}.{}", t["NodeID"].as_str().unwrap_or("")),
            };
            let name = if s == prev {
                format!(" \\_ {base}")
            } else {
                base
            };
            prev = s;
            let since = t["Status"]["Timestamp"]
                .as_str()
                .and_then(mini_docker_api::time::parse_rfc3339)
                .map(|ts| (now - ts) / 1_000_000_000)
                .unwrap_or(0);
            let ago = mini_docker_api::units::human_duration(since).to_lowercase();
            let tid = t["ID"].as_str().unwrap_or("");
            let err = t["Status"]["Err"].as_str().unwrap_or("");
            rows.push(json!({
                "ID": if no_trunc { tid } else { &tid[..tid.len().min(12)] },
                "Name": name,
                "Image": image_name(&t["Spec"]["ContainerSpec"]["Image"]),
                "Node": host(&t["NodeID"]),
                "DesiredState": pretty(&t["DesiredState"]),
                "CurrentState": format!("{} {ago} ago", pretty(&t["Status"]["State"])),
                "Error": if err.is_empty() { String::new() } else { format!("{err:?}") },
                "Ports": "",
            }));
        }
    }
    let columns = [
        ("ID", "ID"),
        ("Name", "NAME"),
        ("Image", "IMAGE"),
        ("Node", "NODE"),
        ("DesiredState", "DESIRED STATE"),
        ("CurrentState", "CURRENT STATE"),
        ("Error", "ERROR"),
        ("Ports", "PORTS"),
    ];
    print_rows(&rows, quiet, format, &columns)
}

/// `service logs`: the service's multiplexed log stream; each line gets
/// its task (`NAME.SLOT.TASKID@NODE | `) from the `details` attributes the
/// daemon puts before it, unless `--raw`.
fn logs(c: &Client, service: &str, follow: bool, tail: &str, raw: bool) -> Result<u8, Failure> {
    let (id, _, spec) = inspect(c, service)?;
    let svc = spec["Name"].as_str().unwrap_or(service).to_string();
    let nodes = get(c, "/nodes")?;
    let tasks = service_tasks(c, &id)?;
    let r = c.call(
        "GET",
        &format!(
            "/services/{}/logs?stdout=1&stderr=1&details=1&follow={}&tail={}",
            http::enc(&id),
            follow as u8,
            http::enc(tail)
        ),
        Body::Empty,
    )?;
    let prefix = |attrs: &str| -> String {
        let attr = |k: &str| {
            attrs
                .split(',')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .unwrap_or("")
        };
        let (task, node) = (
            attr("com.docker.swarm.task.id"),
            attr("com.docker.swarm.node.id"),
        );
        let slot = tasks
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["ID"] == task)
            .and_then(|t| t["Slot"].as_u64())
            .map_or_else(|| node.to_string(), |s| s.to_string());
        let host = nodes
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["ID"] == node)
            .and_then(|n| n["Description"]["Hostname"].as_str())
            .unwrap_or(node);
        format!("{svc}.{slot}.{}@{host}", &task[..task.len().min(12)])
    };
    // Frames are read whole, then split into lines (a line never spans frames).
    let mut body = r.body;
    let sink = |buf: &[u8], to_err: bool| {
        let text = String::from_utf8_lossy(buf);
        for line in text.split_inclusive('\n') {
            let (attrs, msg) = line.split_once(' ').unwrap_or(("", line));
            let line = if raw {
                msg.to_string()
            } else {
                format!("{}    | {msg}", prefix(attrs))
            };
            if to_err {
                eprint!("{line}");
            } else {
                print!("{line}");
            }
        }
    };
    loop {
        let mut head = [0u8; 8];
        if std::io::Read::read_exact(&mut body, &mut head).is_err() {
            break;
        }
        let n = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let mut buf = vec![0u8; n];
        std::io::Read::read_exact(&mut body, &mut buf)?;
        sink(&buf, head[0] == 2);
    }
    Ok(0)
}

/// `stack …`.
#[derive(Subcommand, Debug)]
pub enum StackCmd {
    /// Deploy a new stack or update an existing stack.
    #[command(alias = "up")]
    Deploy {
        /// Path to a Compose file.
        #[arg(short = 'c', long = "compose-file", required = true)]
        compose_file: Vec<std::path::PathBuf>,
        /// Stack name.
        stack: String,
    },
    /// List stacks.
    #[command(alias = "list")]
    Ls {
        /// Pretty-print stacks using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// List the tasks in the stack.
    Ps {
        /// How to list them.
        #[command(flatten)]
        list: TaskListArgs,
        /// Stack.
        stack: String,
    },
    /// Remove one or more stacks.
    #[command(alias = "down", alias = "remove")]
    Rm {
        /// Stacks.
        #[arg(required = true)]
        stacks: Vec<String>,
    },
}

/// The label that ties a service or network to its stack.
const NAMESPACE: &str = "com.docker.stack.namespace";

/// The keys of a compose service that `stack deploy` turns into a service
/// spec, as the docker CLI's `stack deploy` does; any other key is refused
/// by name rather than dropped (the docker CLI prints "Ignoring
/// unsupported options" for some, such as `restart`, and drops them).
const STACK_KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "labels",
    "ports",
    "deploy",
    "hostname",
    "user",
    "working_dir",
    "init",
    "stop_signal",
    "stop_grace_period",
    "cap_add",
    "cap_drop",
    "read_only",
    "ulimits",
    "extra_hosts",
    "dns",
    "logging",
    "healthcheck",
    "volumes",
    "networks",
    "secrets",
    "configs",
];

/// The services or networks of `stack` (`GET /services` or `/networks`
/// filtered by the namespace label).
fn of_stack(c: &Client, what: &str, stack: &str) -> Result<Vec<Value>, Failure> {
    let filters = json!({"label": {format!("{NAMESPACE}={stack}"): true}}).to_string();
    let list = get(c, &format!("/{what}?filters={}", http::enc(&filters)))?;
    Ok(list.as_array().cloned().unwrap_or_default())
}

/// One compose service as a swarm `ServiceSpec` of stack `stack`.
fn stack_service(
    stack: &str,
    name: &str,
    s: &super::compose::model::Service,
    networks: Vec<Value>,
    volumes: &std::collections::BTreeMap<String, Option<super::compose::model::Volume>>,
    files: &StackFiles,
) -> Result<Value, Failure> {
    use super::compose::model::Port;
    let set = serde_json::to_value(s).map_err(|e| bad(e.to_string()))?;
    for key in set.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !STACK_KEYS.contains(&key.as_str()) {
            return Err(bad(format!(
                "services.{name}.{key}: mini-docker's stack deploy turns only {} into a swarm service; remove it, or deploy with the docker CLI",
                STACK_KEYS.join(", ")
            )));
        }
    }
    let image = s.image.clone().ok_or_else(|| {
        bad(format!(
            "services.{name}.image: a stack service needs an image"
        ))
    })?;
    let pairs = |m: Option<&super::compose::model::ListOrMap>| -> Vec<(String, Option<String>)> {
        m.map(|m| m.to_map('=').into_iter().collect())
            .unwrap_or_default()
    };
    let env: Vec<String> = pairs(s.environment.as_ref())
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k,
        })
        .collect();
    // `labels:` are the containers' labels; the service's own are the
    // stack's (and the image it was deployed with), as in the docker CLI.
    let mut labels = serde_json::Map::new();
    for (k, v) in pairs(s.labels.as_ref()) {
        labels.insert(k, json!(v.unwrap_or_default()));
    }
    labels.insert(NAMESPACE.into(), json!(stack));
    let ports = s
        .ports
        .iter()
        .map(|p| match p {
            Port::Number(t) => spec::port(&t.to_string()),
            Port::Short(p) if p.split(':').count() <= 2 => spec::port(p),
            Port::Long(l) if l.host_ip.is_none() => {
                let mut v = json!({
                    "Protocol": l.protocol.as_deref().unwrap_or("tcp"),
                    "TargetPort": l.target,
                    "PublishMode": l.mode.as_deref().unwrap_or("ingress"),
                });
                if let Some(p) = &l.published {
                    v["PublishedPort"] = json!(p.to_string().parse::<u16>().map_err(|_| {
                        bad(format!("services.{name}.ports: published {p} is not a port"))
                    })?);
                }
                Ok(v)
            }
            _ => Err(bad(format!(
                "services.{name}.ports: give each as \"[PUBLISHED:]TARGET[/PROTOCOL]\" or the long form without host_ip (a swarm publishes on every address)"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = env;
    env.sort();
    let mut cs = json!({
        "Image": spec::familiar_image(&image),
        "Labels": labels,
        "Privileges": {"CredentialSpec": null, "SELinuxContext": null, "NoNewPrivileges": false},
        "Isolation": "default",
    });
    if !env.is_empty() {
        cs["Env"] = json!(env);
    }
    if let Some(c) = &s.entrypoint {
        cs["Command"] = json!(c.items());
    }
    if let Some(c) = &s.command {
        cs["Args"] = json!(match c {
            super::compose::model::StringOrList::One(line) =>
                super::compose::plan::shell_split(line)
                    .map_err(|m| bad(format!("services.{name}.command: {m}")))?,
            l => l.items(),
        });
    }
    for (key, v) in [
        ("Hostname", &s.hostname),
        ("User", &s.user),
        ("Dir", &s.working_dir),
        ("StopSignal", &s.stop_signal),
    ] {
        if let Some(v) = v {
            cs[key] = json!(v);
        }
    }
    if let Some(i) = s.init {
        cs["Init"] = json!(i);
    }
    if let Some(r) = s.read_only {
        cs["ReadOnly"] = json!(r);
    }
    if let Some(d) = &s.stop_grace_period {
        cs["StopGracePeriod"] = json!(mini_docker_api::units::go_duration_nanos(d).ok_or_else(
            || bad(format!(
                "services.{name}.stop_grace_period: {d:?} is not a duration"
            ))
        )?);
    }
    let cap = |l: &[String]| -> Vec<String> { l.iter().map(|c| spec::capability(c)).collect() };
    if !s.cap_add.is_empty() {
        cs["CapabilityAdd"] = json!(cap(&s.cap_add));
    }
    if !s.cap_drop.is_empty() {
        cs["CapabilityDrop"] = json!(cap(&s.cap_drop));
    }
    if !s.ulimits.is_empty() {
        use super::compose::model::Ulimit;
        cs["Ulimits"] = s
            .ulimits
            .iter()
            .map(|(n, u)| match u {
                Ulimit::One(v) => json!({"Name": n, "Hard": v, "Soft": v}),
                Ulimit::Pair { soft, hard } => json!({"Name": n, "Hard": hard, "Soft": soft}),
            })
            .collect::<Vec<_>>()
            .into();
    }
    if let Some(h) = &s.extra_hosts {
        cs["Hosts"] = h
            .to_map(':')
            .into_iter()
            .map(|(host, ip)| format!("{} {host}", ip.unwrap_or_default()))
            .collect::<Vec<_>>()
            .into();
    }
    cs["DNSConfig"] = json!({});
    if let Some(d) = &s.dns {
        cs["DNSConfig"]["Nameservers"] = json!(d.items());
    }
    if let Some(h) = &s.healthcheck {
        cs["Healthcheck"] = stack_healthcheck(name, h)?;
    }
    for (kind, field, list) in [
        ("secrets", "Secrets", &s.secrets),
        ("configs", "Configs", &s.configs),
    ] {
        if let Some(list) = list {
            cs[field] = stack_file_refs(name, kind, list, files)?.into();
        }
    }
    if !s.volumes.is_empty() {
        cs["Mounts"] = s
            .volumes
            .iter()
            .map(|v| stack_mount(stack, name, v, volumes))
            .collect::<Result<Vec<_>, _>>()?
            .into();
    }
    let mut task = json!({
        "ContainerSpec": cs,
        "Resources": {},
        "Placement": {},
        "Networks": networks,
        "ForceUpdate": 0,
        "Runtime": "container",
    });
    if let Some(l) = &s.logging {
        if let Some(d) = &l.driver {
            task["LogDriver"] = json!({"Name": d, "Options": l.options});
        } else if !l.options.is_empty() {
            return Err(bad(format!(
                "services.{name}.logging.options need logging.driver: give the driver too"
            )));
        }
    }
    let replicas = s.deploy.as_ref().and_then(|d| d.replicas).unwrap_or(1);
    let mut endpoint = json!({"Mode": "vip"});
    if !ports.is_empty() {
        endpoint["Ports"] = json!(ports);
    }
    Ok(json!({
        "Name": format!("{stack}_{name}"),
        "Labels": {NAMESPACE: stack, "com.docker.stack.image": image},
        "TaskTemplate": task,
        "Mode": {"Replicated": {"Replicas": replicas}},
        "EndpointSpec": endpoint,
    }))
}

/// A service's `volumes:` entry as a swarm `Mount`: a path is a bind, a
/// name is the stack's volume `STACK_NAME` (labelled with the stack, as
/// the docker CLI makes it; an external one keeps its name), a lone target
/// an anonymous volume.
fn stack_mount(
    stack: &str,
    service: &str,
    v: &super::compose::model::ServiceVolume,
    volumes: &std::collections::BTreeMap<String, Option<super::compose::model::Volume>>,
) -> Result<Value, Failure> {
    use super::compose::model::ServiceVolume;
    let (kind, source, target, ro) = match v {
        ServiceVolume::Short(spec) => {
            let parts: Vec<&str> = spec.split(':').collect();
            match parts.as_slice() {
                [t] => ("volume", None, t.to_string(), false),
                [src, t, rest @ ..] => {
                    let ro = match rest {
                        [] | ["rw"] => false,
                        ["ro"] => true,
                        _ => {
                            return Err(bad(format!(
                                "services.{service}.volumes: {spec:?}: give SOURCE:TARGET[:ro|rw]"
                            )))
                        }
                    };
                    let kind = if src.starts_with('/') {
                        "bind"
                    } else {
                        "volume"
                    };
                    (kind, Some(src.to_string()), t.to_string(), ro)
                }
                [] => unreachable!("split yields at least one part"),
            }
        }
        ServiceVolume::Long(l) => {
            let kind = match l.kind.as_str() {
                "bind" => "bind",
                "volume" => "volume",
                k => {
                    return Err(bad(format!(
                        "services.{service}.volumes: type {k:?}: a stack mounts bind or volume"
                    )))
                }
            };
            (
                kind,
                l.source.clone(),
                l.target.clone(),
                l.read_only.unwrap_or(false),
            )
        }
    };
    let mut m = json!({"Type": kind, "Target": target});
    if ro {
        m["ReadOnly"] = json!(true);
    }
    match (kind, source) {
        ("bind", Some(src)) => m["Source"] = json!(src),
        ("volume", Some(key)) => {
            let decl = volumes.get(&key).ok_or_else(|| {
                bad(format!(
                    "services.{service}.volumes: volume {key:?} is not declared in the top-level `volumes`"
                ))
            })?;
            let decl = decl.clone().unwrap_or_default();
            if decl.external {
                m["Source"] = json!(decl.name.unwrap_or(key));
            } else {
                m["Source"] = json!(decl.name.unwrap_or_else(|| format!("{stack}_{key}")));
                let mut labels = serde_json::Map::new();
                for (k, v) in decl.labels.map(|l| l.to_map('=')).unwrap_or_default() {
                    labels.insert(k, json!(v.unwrap_or_default()));
                }
                labels.insert(NAMESPACE.into(), json!(stack));
                m["VolumeOptions"] = json!({"Labels": labels});
                if let Some(d) = decl.driver {
                    m["VolumeOptions"]["DriverConfig"] = json!({"Name": d});
                }
            }
        }
        _ => {}
    }
    Ok(m)
}

/// The stack's secrets and configs: (kind, key) → (name, id).
type StackFiles = std::collections::BTreeMap<(String, String), (String, String)>;

/// Makes the stack's file-based secrets and configs (`STACK_KEY`, labelled
/// with the stack, the file's bytes as data) that do not exist yet, as the
/// docker CLI's `stack deploy` does, and returns every one's name and id
/// (an external one is looked up by its name).
/// `dry`: only their names (ids left empty), to check the services first.
fn stack_files(
    c: &Client,
    stack: &str,
    p: &super::compose::load::Project,
    dry: bool,
) -> Result<StackFiles, Failure> {
    use base64::Engine;
    let mut out = StackFiles::new();
    for (kind, declared) in [
        ("secret", p.model.secrets.as_ref()),
        ("config", p.model.configs.as_ref()),
    ] {
        for (key, d) in declared.and_then(Value::as_object).into_iter().flatten() {
            let external = d["external"] == true;
            let name = d["name"].as_str().map(String::from).unwrap_or_else(|| {
                if external {
                    key.clone()
                } else {
                    format!("{stack}_{key}")
                }
            });
            if dry {
                out.insert((format!("{kind}s"), key.clone()), (name, String::new()));
                continue;
            }
            let filters = json!({"name": {&name: true}}).to_string();
            let found = get(c, &format!("/{kind}s?filters={}", http::enc(&filters)))?;
            let id = found
                .as_array()
                .into_iter()
                .flatten()
                .find(|o| o["Spec"]["Name"] == name.as_str())
                .and_then(|o| o["ID"].as_str())
                .map(String::from);
            let id = match (id, external) {
                (Some(id), _) => id,
                (None, true) => return Err(bad(format!("{kind} not found: {name}"))),
                (None, false) => {
                    let file = d["file"].as_str().ok_or_else(|| {
                        bad(format!("{kind}s.{key}: give a file (or external: true)"))
                    })?;
                    let data = std::fs::read(p.working_dir.join(file))
                        .map_err(|e| bad(format!("{kind}s.{key}.file: {file}: {e}")))?;
                    println!("Creating {kind} {name}");
                    let r = c
                        .call(
                            "POST",
                            &format!("/{kind}s/create"),
                            Body::Json(json!({
                                "Name": name,
                                "Labels": {NAMESPACE: stack},
                                "Data": base64::engine::general_purpose::STANDARD.encode(data),
                            })),
                        )?
                        .json()?;
                    r["ID"].as_str().unwrap_or("").to_string()
                }
            };
            out.insert((format!("{kind}s"), key.clone()), (name, id));
        }
    }
    Ok(out)
}

/// A service's `secrets:` or `configs:` as swarm references (short `- key`
/// or long `{source, target, uid, gid, mode}`), as the docker CLI makes them.
fn stack_file_refs(
    service: &str,
    kind: &str,
    list: &Value,
    files: &StackFiles,
) -> Result<Vec<Value>, Failure> {
    let at = format!("services.{service}.{kind}");
    let title = if kind == "secrets" {
        "Secret"
    } else {
        "Config"
    };
    let mut out = Vec::new();
    for item in list
        .as_array()
        .ok_or_else(|| bad(format!("{at}: must be a list")))?
    {
        let (source, o) = match item {
            Value::String(s) => (s.clone(), serde_json::Map::new()),
            Value::Object(o) => (
                o.get("source")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{at}: an entry needs a source")))?
                    .to_string(),
                o.clone(),
            ),
            _ => return Err(bad(format!("{at}: {item} is not a name"))),
        };
        let (name, id) = files
            .get(&(kind.to_string(), source.clone()))
            .ok_or_else(|| {
                bad(format!(
                    "{at}: {source:?} is not declared in the top-level {kind}"
                ))
            })?;
        let text = |k: &str, default: &str| match &o.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => default.to_string(),
        };
        if o.contains_key("mode") {
            // docker's stack deploy reads YAML 1.1, where `0400` is octal;
            // our compose parser reads YAML 1.2 (as compose does), where it
            // is four hundred: rather than a wrong mode, none.
            return Err(bad(format!(
                "{at}: mode is not supported by mini-docker's stack deploy (YAML 1.1 and 1.2 read 0400 differently); leave it out (0444) or set it with `service update --{}-add source=…,mode=0400`",
                &kind[..kind.len() - 1]
            )));
        }
        let mode = 0o444;
        out.push(json!({
            "File": {"Name": text("target", &source), "UID": text("uid", "0"), "GID": text("gid", "0"), "Mode": mode},
            format!("{title}ID"): id,
            format!("{title}Name"): name,
        }));
    }
    Ok(out)
}

/// A compose `healthcheck:` as a swarm `HealthConfig`.
fn stack_healthcheck(name: &str, h: &Value) -> Result<Value, Failure> {
    let err = |k: &str| {
        bad(format!(
            "services.{name}.healthcheck.{k}: not a valid value"
        ))
    };
    let mut out = json!({});
    if h["disable"] == true {
        return Ok(json!({"Test": ["NONE"]}));
    }
    match &h["test"] {
        Value::String(s) => out["Test"] = json!(["CMD-SHELL", s]),
        Value::Array(a) => out["Test"] = json!(a),
        Value::Null => {}
        _ => return Err(err("test")),
    }
    for (k, key) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start_period", "StartPeriod"),
    ] {
        if let Some(d) = h[k].as_str() {
            out[key] = json!(mini_docker_api::units::go_duration_nanos(d).ok_or_else(|| err(k))?);
        }
    }
    if let Some(r) = h["retries"].as_u64() {
        out["Retries"] = json!(r);
    }
    for k in h.as_object().into_iter().flatten().map(|(k, _)| k) {
        if ![
            "test",
            "interval",
            "timeout",
            "start_period",
            "retries",
            "disable",
        ]
        .contains(&k.as_str())
        {
            return Err(bad(format!(
                "services.{name}.healthcheck.{k}: swarm has no such setting; remove it"
            )));
        }
    }
    Ok(out)
}

/// `stack …`: a compose file's services as swarm services named
/// `STACK_SERVICE`, on an overlay network `STACK_default`, all labelled
/// `com.docker.stack.namespace=STACK` (how `ls`, `ps` and `rm` find them).
pub fn stack(c: &Client, cmd: StackCmd) -> Result<u8, Failure> {
    match cmd {
        StackCmd::Deploy {
            compose_file,
            stack,
        } => {
            let o = super::compose::load::Options {
                files: compose_file,
                project_name: Some(stack.clone()),
                cwd: std::env::current_dir()?,
                env: std::env::vars().collect(),
                ..Default::default()
            };
            let p = super::compose::load::load(&o).map_err(bad)?;
            for w in &p.warnings {
                eprintln!("{w}");
            }
            // Each service's networks (`default` when it names none): the
            // stack's own are `STACK_KEY` overlays, labelled with the
            // stack; the service is on each under its aliases and name.
            let mut to_create: std::collections::BTreeMap<String, Value> = Default::default();
            // Every service is checked (with the secrets' and configs'
            // names only) before anything is made.
            let mut files = stack_files(c, &stack, &p, true)?;
            let mut specs_first: Vec<(String, Value)> = Vec::new();
            for pass in ["check", "make"] {
                if pass == "make" {
                    files = stack_files(c, &stack, &p, false)?;
                    specs_first.clear();
                }
                for (svc, s) in &p.model.services {
                    let nets =
                        s.networks.as_ref().map(|n| n.to_map()).unwrap_or_else(|| {
                            [("default".to_string(), Default::default())].into()
                        });
                    let mut attach = Vec::new();
                    for (key, sn) in nets {
                        if key != "default" && !p.model.networks.contains_key(&key) {
                            return Err(bad(format!(
                            "services.{svc}.networks: network {key:?} is not declared in the top-level `networks`"
                        )));
                        }
                        let decl = p
                            .model
                            .networks
                            .get(&key)
                            .cloned()
                            .flatten()
                            .unwrap_or_default();
                        let net = if decl.external {
                            decl.name.clone().unwrap_or(key.clone())
                        } else {
                            let net = decl.name.clone().unwrap_or(format!("{stack}_{key}"));
                            let mut labels = serde_json::Map::new();
                            for (k, v) in decl.labels.map(|l| l.to_map('=')).unwrap_or_default() {
                                labels.insert(k, json!(v.unwrap_or_default()));
                            }
                            labels.insert(NAMESPACE.into(), json!(stack));
                            to_create.insert(
                                net.clone(),
                                json!({
                                    "Name": net,
                                    "Driver": decl.driver.as_deref().unwrap_or("overlay"),
                                    "CheckDuplicate": true,
                                    "Internal": decl.internal,
                                    "Labels": labels,
                                }),
                            );
                            net
                        };
                        // The network's aliases, then the service's name.
                        let mut aliases = sn.aliases;
                        aliases.push(svc.clone());
                        attach.push(json!({"Target": net, "Aliases": aliases}));
                    }
                    attach.sort_by_key(|n| n["Target"].as_str().unwrap_or("").to_string());
                    specs_first.push((
                        svc.clone(),
                        stack_service(&stack, svc, s, attach, &p.model.volumes, &files)?,
                    ));
                }
            }
            let have = of_stack(c, "networks", &stack)?;
            for (net, body) in to_create {
                if !have.iter().any(|n| n["Name"] == net.as_str()) {
                    println!("Creating network {net}");
                    c.call("POST", "/networks/create", Body::Json(body))?;
                }
            }
            let existing = of_stack(c, "services", &stack)?;
            for (_, spec) in specs_first {
                let name = spec["Name"].as_str().unwrap_or("").to_string();
                match existing.iter().find(|s| s["Spec"]["Name"] == name.as_str()) {
                    Some(s) => {
                        let id = s["ID"].as_str().unwrap_or("");
                        println!("Updating service {name} (id: {id})");
                        update(c, id, s["Version"]["Index"].as_u64().unwrap_or(0), spec)?;
                    }
                    None => {
                        println!("Creating service {name}");
                        let r = c
                            .call("POST", "/services/create", Body::Json(spec))?
                            .json()?;
                        warnings(&r);
                    }
                }
            }
            Ok(0)
        }
        StackCmd::Ls { format } => {
            let list = get(
                c,
                &format!(
                    "/services?filters={}",
                    http::enc(&json!({"label": {NAMESPACE: true}}).to_string())
                ),
            )?;
            let mut count = std::collections::BTreeMap::<String, u64>::new();
            for s in list.as_array().into_iter().flatten() {
                if let Some(n) = s["Spec"]["Labels"][NAMESPACE].as_str() {
                    *count.entry(n.to_string()).or_default() += 1;
                }
            }
            let rows: Vec<Value> = count
                .iter()
                .map(|(n, k)| json!({"Name": n, "Services": k.to_string(), "Orchestrator": "Swarm", "Namespace": ""}))
                .collect();
            let columns = [
                ("Name", "NAME"),
                ("Services", "SERVICES"),
                ("Orchestrator", "ORCHESTRATOR"),
            ];
            print_rows(&rows, false, format, &columns)
        }
        StackCmd::Ps { list, stack } => {
            let services = of_stack(c, "services", &stack)?;
            if services.is_empty() {
                return Err(bad(format!("nothing found in stack: {stack}")));
            }
            let mut groups = Vec::new();
            for s in &services {
                let tasks = service_tasks(c, s["ID"].as_str().unwrap_or(""))?;
                groups.push((
                    s["Spec"]["Name"].as_str().unwrap_or("").to_string(),
                    tasks.as_array().cloned().unwrap_or_default(),
                ));
            }
            groups.sort_by(|a, b| a.0.cmp(&b.0));
            print_tasks(c, groups, list)
        }
        StackCmd::Rm { stacks } => {
            let mut code = 0;
            for stack in &stacks {
                // In the docker CLI's order: services, secrets, configs,
                // networks (the secrets and networks are in use until the
                // services go).
                let mut found = false;
                for (what, kind, name_of, id_key) in [
                    ("services", "service", "/Spec/Name", "ID"),
                    ("secrets", "secret", "/Spec/Name", "ID"),
                    ("configs", "config", "/Spec/Name", "ID"),
                    ("networks", "network", "/Name", "Id"),
                ] {
                    for o in of_stack(c, what, stack)? {
                        found = true;
                        let name = o.pointer(name_of).and_then(Value::as_str).unwrap_or("");
                        println!("Removing {kind} {name}");
                        let id = o[id_key].as_str().unwrap_or("");
                        if let Err(e) =
                            c.call("DELETE", &format!("/{what}/{}", http::enc(id)), Body::Empty)
                        {
                            eprintln!("{e}");
                            code = 1;
                        }
                    }
                }
                if !found {
                    eprintln!("Nothing found in stack: {stack}");
                }
            }
            Ok(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clap_argv;

    fn argv(s: &str) -> Vec<String> {
        clap_argv(s.split(' ').map(std::ffi::OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn service_create_s_host_and_config_are_renamed_up_to_the_image() {
        assert_eq!(
            argv("md -H unix:///s service create -d --host a:1.2.3.4 --config=c -t --name x img sh --host y"),
            argv("md -H unix:///s service create -d --host-entry a:1.2.3.4 --config-ref=c -t --name x img sh --host y"),
        );
        // A flag's value that looks like the image is skipped over.
        assert_eq!(
            argv("md service create --name img --config c img")[4..],
            ["img", "--config-ref", "c", "img"]
        );
        // Elsewhere nothing changes.
        assert_eq!(
            argv("md --config d ps --host x"),
            ["md", "--config", "d", "ps", "--host", "x"]
        );
    }
}
