//! The compose commands, each a few Engine API requests over the client's
//! one HTTP client ([`crate::http::Client`]).
//!
//! `up` asks the engine what the project has (containers by the
//! `com.docker.compose.project` label, networks and volumes by name),
//! computes the steps with [`super::plan::diff`] and executes them in the
//! services' dependency order, waiting where `depends_on` says so.

use super::load::Project;
use super::plan::{self, Desired, Existing, Step, L};
use super::{bad, ComposeCmd};
use crate::http::{enc, Body, Client, ClientError};
use crate::Failure;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

/// The project's containers (`-a`: stopped ones too).
pub fn containers(c: &Client, project: &str, all: bool) -> Result<Vec<Value>, Failure> {
    let filters = json!({"label": [format!("{L}.project={project}")]}).to_string();
    let v = c
        .call(
            "GET",
            &format!(
                "/containers/json?all={}&filters={}",
                all as u8,
                enc(&filters)
            ),
            Body::Empty,
        )?
        .json()?;
    let mut list = v.as_array().cloned().unwrap_or_default();
    list.sort_by_key(|x| {
        let e = Existing::from_api(x);
        (e.service, e.number)
    });
    Ok(list)
}

fn exists(c: &Client, path: &str) -> Result<bool, Failure> {
    match c.call("GET", path, Body::Empty) {
        Ok(_) => Ok(true),
        Err(ClientError::Api { status: 404, .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn scale_flags(flags: &[String]) -> Result<BTreeMap<String, u32>, Failure> {
    flags
        .iter()
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| bad(format!("--scale {f}: use SERVICE=NUM")))?;
            let n = v
                .parse()
                .map_err(|_| bad(format!("--scale {f}: {v} is not a number")))?;
            Ok((k.to_string(), n))
        })
        .collect()
}

/// Pulls an image the engine does not have (or builds it, with `build:`).
fn ensure_image(c: &Client, s: &plan::ServicePlan, force_build: bool) -> Result<(), Failure> {
    let have = exists(c, &format!("/images/{}/json", enc(&s.image)))?;
    if have && !force_build {
        return Ok(());
    }
    if let Some(b) = &s.build {
        let ctx = b.context.clone().unwrap_or_else(|| ".".into());
        let a = crate::build::BuildArgs {
            file: b
                .dockerfile
                .as_ref()
                .map(|f| std::path::Path::new(&ctx).join(f).display().to_string()),
            tags: vec![s.image.clone()],
            build_args: b
                .args
                .as_ref()
                .map(|a| a.to_map('='))
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k,
                })
                .collect(),
            no_cache: false,
            target: b.target.clone(),
            quiet: false,
            force_rm: false,
            network: None,
            context: ctx,
        };
        eprintln!("Building {}", s.name);
        crate::build::build(c, a)?;
        return Ok(());
    }
    pull(c, s)
}

/// `POST /images/create?fromImage=` of a service's image, with its progress.
fn pull(c: &Client, s: &plan::ServicePlan) -> Result<(), Failure> {
    eprintln!("Pulling {} ({})", s.name, s.image);
    let r = c.call(
        "POST",
        &format!("/images/create?fromImage={}", enc(&s.image)),
        Body::Empty,
    )?;
    crate::images::show_progress(r).map_err(bad)
}

/// Creates replica `n` of a service.
fn create(
    c: &Client,
    d: &Desired,
    p: &Project,
    s: &plan::ServicePlan,
    n: u32,
) -> Result<String, Failure> {
    let name = s.container_name(&p.name, n);
    let body = s.create_body(d, p, n, false).map_err(bad)?;
    create_named(c, s, &name, body)
}

/// `POST /containers/create?name=`, then connects the service's other
/// networks (a create joins only one). Returns the id.
fn create_named(
    c: &Client,
    s: &plan::ServicePlan,
    name: &str,
    body: Value,
) -> Result<String, Failure> {
    eprintln!(" Container {name}  Creating");
    let id = c
        .call(
            "POST",
            &format!("/containers/create?name={}", enc(name)),
            Body::Json(body),
        )?
        .json()?["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for (net, aliases) in s.networks.iter().skip(1) {
        c.call(
            "POST",
            &format!("/networks/{}/connect", enc(net)),
            Body::Json(json!({"Container": id, "EndpointConfig": {"Aliases": aliases}})),
        )?;
    }
    Ok(id)
}

fn start(c: &Client, name: &str) -> Result<(), Failure> {
    eprintln!(" Container {name}  Starting");
    match c.call(
        "POST",
        &format!("/containers/{}/start", enc(name)),
        Body::Empty,
    ) {
        Ok(_) | Err(ClientError::Api { status: 304, .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn remove(c: &Client, name: &str, timeout: Option<i64>, volumes: bool) -> Result<(), Failure> {
    eprintln!(" Container {name}  Stopping");
    let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
    match c.call(
        "POST",
        &format!("/containers/{}/stop{t}", enc(name)),
        Body::Empty,
    ) {
        Ok(_) | Err(ClientError::Api { status: 304, .. }) => {}
        Err(e) => return Err(e.into()),
    }
    eprintln!(" Container {name}  Removing");
    c.call(
        "DELETE",
        &format!("/containers/{}?force=1&v={}", enc(name), volumes as u8),
        Body::Empty,
    )?;
    Ok(())
}

/// Waits for the dependencies of a service to meet their conditions.
fn wait_dependencies(c: &Client, p: &Project, s: &plan::ServicePlan) -> Result<(), Failure> {
    for (dep, cond) in &s.depends {
        if cond == "service_healthy" {
            for e in containers(c, &p.name, true)?.iter().map(Existing::from_api) {
                if e.service == *dep && !e.oneoff {
                    eprintln!(" Container {}  Waiting", e.name);
                    wait_healthy(c, &e.name).map_err(|why| {
                        bad(format!(
                            "dependency failed to start: {why} (services.{}.depends_on.{dep}: service_healthy)",
                            s.name
                        ))
                    })?;
                    eprintln!(" Container {}  Healthy", e.name);
                }
            }
            continue;
        }
        if cond != "service_completed_successfully" {
            continue;
        }
        for e in containers(c, &p.name, true)?.iter().map(Existing::from_api) {
            if e.service != *dep || e.oneoff {
                continue;
            }
            eprintln!(" Container {}  Waiting", e.name);
            let v = c
                .call(
                    "POST",
                    &format!("/containers/{}/wait?condition=not-running", e.id),
                    Body::Empty,
                )?
                .json()?;
            let code = v["StatusCode"].as_i64().unwrap_or(-1);
            if code != 0 {
                return Err(bad(format!(
                    "service {dep:?} didn't complete successfully: exit {code} (services.{}.depends_on.{dep}: service_completed_successfully)",
                    s.name
                )));
            }
        }
    }
    Ok(())
}

/// Polls container `name` until its health check says `healthy`. Its
/// failing (`unhealthy`), its exit, or its having no check is the error,
/// in words that name the container.
fn wait_healthy(c: &Client, name: &str) -> Result<(), String> {
    loop {
        let v = c
            .call(
                "GET",
                &format!("/containers/{}/json", enc(name)),
                Body::Empty,
            )
            .and_then(|r| r.json())
            .map_err(|e| format!("container {name}: {e}"))?;
        let state = &v["State"];
        match state["Health"]["Status"].as_str() {
            Some("healthy") => return Ok(()),
            Some("unhealthy") => return Err(format!("container {name} is unhealthy")),
            None => return Err(format!("container {name} has no healthcheck configured")),
            _ => {}
        }
        if state["Running"] != true {
            return Err(format!(
                "container {name} exited ({}) before it was healthy",
                state["ExitCode"]
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `compose events [--json] [SERVICE…]`: the engine's container events of
/// this project (`GET /events`, filtered by its label), as compose prints
/// them: `TIME container ACTION ID (attrs)`, or one JSON object per event
/// (`time`, `type`, `action`, `id`, `service`, `attributes`). Compose's own
/// labels are left out of the attributes.
fn events(c: &Client, p: &Project, a: &super::EventsArgs) -> Result<u8, Failure> {
    use std::io::{BufRead, Write};
    let filters = json!({
        "type": ["container"],
        "label": [format!("com.docker.compose.project={}", p.name)],
    });
    let r = c.call(
        "GET",
        &format!("/events?filters={}", enc(&filters.to_string())),
        Body::Empty,
    )?;
    let mut out = std::io::stdout().lock();
    for line in std::io::BufReader::new(r.body).lines() {
        let Ok(ev) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        let attrs = ev["Actor"]["Attributes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let service = attrs
            .get("com.docker.compose.service")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !a.services.is_empty() && !a.services.contains(&service) {
            continue;
        }
        let shown: serde_json::Map<String, Value> = attrs
            .into_iter()
            .filter(|(k, _)| !k.starts_with("com.docker.compose."))
            .collect();
        let nanos = ev["timeNano"].as_i64().unwrap_or(0);
        let (id, action) = (
            ev["Actor"]["ID"].as_str().unwrap_or(""),
            ev["Action"].as_str().unwrap_or(""),
        );
        if a.json {
            let j = json!({
                "time": crate::util::rfc3339_nanos(nanos),
                "type": "container",
                "action": action,
                "id": id,
                "service": service,
                "attributes": shown,
            });
            writeln!(out, "{j}")?;
        } else {
            let kv: Vec<String> = shown
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            let time = crate::util::rfc3339_nanos(nanos);
            // Compose's `2006-01-02 15:04:05.000000`.
            let time = format!("{} {}", &time[..10], &time[11..26]);
            writeln!(out, "{time} container {action} {id} ({})", kv.join(", "))?;
        }
        out.flush()?;
    }
    Ok(0)
}

fn up(c: &Client, p: &Project, a: super::UpArgs) -> Result<u8, Failure> {
    let mut d = plan::desired(p, &scale_flags(&a.scale)?).map_err(bad)?;
    let chosen = |s: &str| a.services.is_empty() || a.services.iter().any(|x| x == s);
    // Images first (pulled, or built: always with --build), as compose
    // does; `--explain` does nothing.
    if !a.explain {
        for s in d.services.iter().filter(|s| chosen(&s.name)) {
            ensure_image(c, s, a.build && s.build.is_some())?;
        }
    }
    // The image each service runs now is part of its hash: a service
    // whose image was re-pulled, rebuilt or re-tagged is recreated.
    for s in d.services.iter_mut() {
        let path = format!("/images/{}/json", enc(&s.image));
        match c.call("GET", &path, Body::Empty) {
            Ok(r) => {
                let id = r.json()?["Id"].as_str().unwrap_or_default().to_string();
                s.hash = plan::hash_with_image(&s.hash, &id);
            }
            Err(ClientError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let existing: Vec<Existing> = containers(c, &p.name, true)?
        .iter()
        .map(Existing::from_api)
        .collect();
    let mut have_nets = Vec::new();
    for n in &d.networks {
        if exists(c, &format!("/networks/{}", enc(&n.name)))? {
            have_nets.push(n.name.clone());
        } else if n.external {
            return Err(bad(format!(
                "network {} declared as external, but could not be found",
                n.name
            )));
        }
    }
    let mut have_vols = Vec::new();
    for v in &d.volumes {
        if exists(c, &format!("/volumes/{}", enc(&v.name)))? {
            have_vols.push(v.name.clone());
        } else if v.external {
            return Err(bad(format!("external volume {:?} not found", v.name)));
        }
    }
    let steps = plan::diff(
        &d,
        &existing,
        &have_nets,
        &have_vols,
        &a.services,
        a.force_recreate,
        a.build,
        a.remove_orphans,
    );
    if a.explain {
        print!("{}", plan::explain(&d, p, &steps));
        return Ok(0);
    }
    for e in &existing {
        if !e.oneoff && !d.services.iter().any(|s| s.name == e.service) && !a.remove_orphans {
            eprintln!("WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", e.name);
        }
    }
    for step in &steps {
        match step {
            Step::CreateNetwork(n) => {
                eprintln!(" Network {n}  Creating");
                let body = d
                    .networks
                    .iter()
                    .find(|x| &x.name == n)
                    .map(|x| x.body.clone())
                    .unwrap_or_default();
                c.call("POST", "/networks/create", Body::Json(body))?;
            }
            Step::CreateVolume(n) => {
                eprintln!(" Volume \"{n}\"  Creating");
                let body = d
                    .volumes
                    .iter()
                    .find(|x| &x.name == n)
                    .map(|x| x.body.clone())
                    .unwrap_or_default();
                c.call("POST", "/volumes/create", Body::Json(body))?;
            }
            Step::Remove { name, .. } => remove(c, name, None, false)?,
            _ => {}
        }
    }
    // Per service, in dependency order: wait, then its containers.
    let mut started = Vec::new();
    for s in d.services.iter().filter(|s| chosen(&s.name)) {
        wait_dependencies(c, p, s)?;
        for step in &steps {
            match step {
                Step::Create {
                    service,
                    number,
                    name,
                } if *service == s.name => {
                    create(c, &d, p, s, *number)?;
                    start(c, name)?;
                    started.push((name.clone(), s.stop_timeout));
                }
                Step::Recreate {
                    service,
                    number,
                    name,
                    old,
                } if *service == s.name => {
                    eprintln!(" Container {name}  Recreate");
                    remove(c, old, s.stop_timeout, false)?;
                    create(c, &d, p, s, *number)?;
                    start(c, name)?;
                    started.push((name.clone(), s.stop_timeout));
                }
                Step::Start { name }
                    if existing
                        .iter()
                        .any(|e| &e.name == name && e.service == s.name) =>
                {
                    start(c, name)?;
                    started.push((name.clone(), s.stop_timeout));
                }
                Step::Keep { name }
                    if existing
                        .iter()
                        .any(|e| &e.name == name && e.service == s.name) =>
                {
                    eprintln!(" Container {name}  Running");
                    started.push((name.clone(), s.stop_timeout));
                }
                _ => {}
            }
        }
    }
    if a.wait {
        // `--wait`: every container started runs, and is healthy if it has a check.
        for (name, _) in &started {
            let v = c
                .call(
                    "GET",
                    &format!("/containers/{}/json", enc(name)),
                    Body::Empty,
                )?
                .json()?;
            if v["State"]["Health"].is_object() {
                wait_healthy(c, name).map_err(bad)?;
                eprintln!(" Container {name}  Healthy");
            } else if v["State"]["Running"] != true {
                return Err(bad(format!(
                    "container {name} exited ({})",
                    v["State"]["ExitCode"]
                )));
            }
        }
    }
    if a.detach || a.wait {
        return Ok(0);
    }
    // Attached: follow every container's logs until they all end; Ctrl-C
    // stops the services (their stop_grace_period), a second one kills them.
    attached(c, p, a.services, started)
}

/// What ends an attached `up`.
enum Attached {
    /// Every followed container ended.
    LogsDone(Result<u8, Failure>),
    /// SIGINT or SIGTERM.
    Signal,
    /// The graceful stop after the first Ctrl-C is done.
    Stopped,
}

/// `up` without `-d`: the logs in one thread, the signals in another (both
/// blocked in this thread first, so every thread inherits the mask and only
/// `sigwait` sees them), and this thread deciding, as compose does: first
/// Ctrl-C "Gracefully stopping...", second Ctrl-C kills.
fn attached(
    c: &Client,
    p: &Project,
    services: Vec<String>,
    containers: Vec<(String, Option<i64>)>,
) -> Result<u8, Failure> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    let _ = set.thread_block();
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let (tx, c, p) = (tx.clone(), c.clone(), p.clone());
        std::thread::spawn(move || {
            let r = logs(
                &c,
                &p,
                &super::LogsArgs {
                    follow: true,
                    tail: "all".into(),
                    no_color: false,
                    no_log_prefix: false,
                    services,
                },
            );
            let _ = tx.send(Attached::LogsDone(r));
        });
    }
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            while set.wait().is_ok() {
                if tx.send(Attached::Signal).is_err() {
                    return;
                }
            }
        });
    }
    let mut stopping = false;
    loop {
        match rx.recv() {
            Ok(Attached::LogsDone(r)) if !stopping => return r,
            Ok(Attached::LogsDone(_)) => {}
            Ok(Attached::Signal) if !stopping => {
                stopping = true;
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                let (tx, c, list) = (tx.clone(), c.clone(), containers.clone());
                std::thread::spawn(move || {
                    for (name, t) in list.iter().rev() {
                        eprintln!(" Container {name}  Stopping");
                        let t = t.map(|t| format!("?t={t}")).unwrap_or_default();
                        let _ = c.call(
                            "POST",
                            &format!("/containers/{}/stop{t}", enc(name)),
                            Body::Empty,
                        );
                        eprintln!(" Container {name}  Stopped");
                    }
                    let _ = tx.send(Attached::Stopped);
                });
            }
            Ok(Attached::Signal) => {
                for (name, _) in containers.iter().rev() {
                    eprintln!(" Container {name}  Killing");
                    let _ = c.call(
                        "POST",
                        &format!("/containers/{}/kill", enc(name)),
                        Body::Empty,
                    );
                }
                return Ok(130);
            }
            Ok(Attached::Stopped) => return Ok(130),
            Err(_) => return Ok(130),
        }
    }
}
/// Refuses a service name the project does not define.
fn known_services(p: &Project, services: &[String]) -> Result<(), Failure> {
    match services.iter().find(|s| !p.model.services.contains_key(*s)) {
        Some(s) => Err(bad(format!("no such service: {s}"))),
        None => Ok(()),
    }
}

/// The plans of the named services (all when none), in dependency order.
fn services_of(p: &Project, services: &[String]) -> Result<Vec<plan::ServicePlan>, Failure> {
    known_services(p, services)?;
    let d = plan::desired(p, &BTreeMap::new()).map_err(bad)?;
    Ok(d.services
        .into_iter()
        .filter(|s| services.is_empty() || services.contains(&s.name))
        .collect())
}

/// Picks the project's containers of the named services (all when none).
fn selected(
    c: &Client,
    p: &Project,
    services: &[String],
    all: bool,
) -> Result<Vec<Existing>, Failure> {
    known_services(p, services)?;
    Ok(containers(c, &p.name, all)?
        .iter()
        .map(Existing::from_api)
        .filter(|e| services.is_empty() || services.contains(&e.service))
        .collect())
}

fn down(c: &Client, p: &Project, a: super::DownArgs) -> Result<u8, Failure> {
    let d = plan::desired(p, &BTreeMap::new()).map_err(bad)?;
    for e in selected(c, p, &[], true)?.iter().rev() {
        let known = d.services.iter().find(|s| s.name == e.service);
        if known.is_none() && !a.remove_orphans && !e.oneoff {
            eprintln!(
                "WARN[0000] Found orphan container {} (use --remove-orphans)",
                e.name
            );
            continue;
        }
        let t = a.timeout.or(known.and_then(|s| s.stop_timeout));
        remove(c, &e.name, t, a.volumes)?;
    }
    for n in d.networks.iter().filter(|n| !n.external) {
        if exists(c, &format!("/networks/{}", enc(&n.name)))? {
            eprintln!(" Network {}  Removing", n.name);
            c.call(
                "DELETE",
                &format!("/networks/{}", enc(&n.name)),
                Body::Empty,
            )?;
        }
    }
    // `--rmi local`: the images compose named itself (no `image:`);
    // `--rmi all`: every service's. An image already gone is fine.
    if let Some(rmi) = &a.rmi {
        let mut done = Vec::new();
        for s in &d.services {
            let local = s.service.image.is_none();
            if (rmi == "all" || local) && !done.contains(&s.image) {
                done.push(s.image.clone());
                match c.call("DELETE", &format!("/images/{}", enc(&s.image)), Body::Empty) {
                    Ok(_) => eprintln!(" Image {}  Removed", s.image),
                    Err(ClientError::Api { status: 404, .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    if a.volumes {
        for v in d.volumes.iter().filter(|v| !v.external) {
            if exists(c, &format!("/volumes/{}", enc(&v.name)))? {
                eprintln!(" Volume {}  Removing", v.name);
                c.call("DELETE", &format!("/volumes/{}", enc(&v.name)), Body::Empty)?;
            }
        }
    }
    Ok(0)
}

/// The rows of `compose ps`, as compose v2 prints them.
pub fn ps_table(list: &[Value], now: i64) -> String {
    let mut rows = vec![vec![
        "NAME".to_string(),
        "IMAGE".into(),
        "COMMAND".into(),
        "SERVICE".into(),
        "CREATED".into(),
        "STATUS".into(),
        "PORTS".into(),
    ]];
    for v in list {
        let f = crate::containers::ps_fields(v, now, true);
        rows.push(vec![
            f["Names"].as_str().unwrap_or_default().into(),
            f["Image"].as_str().unwrap_or_default().into(),
            f["Command"].as_str().unwrap_or_default().into(),
            Existing::from_api(v).service,
            f["RunningFor"].as_str().unwrap_or_default().into(),
            f["Status"].as_str().unwrap_or_default().into(),
            f["Ports"].as_str().unwrap_or_default().into(),
        ]);
    }
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(3);
    for r in rows {
        let _ = writeln!(w, "{}", r.join("\t"));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Compose's log colors, one per container in turn.
const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "36;1"];

fn logs(c: &Client, p: &Project, a: &super::LogsArgs) -> Result<u8, Failure> {
    let list = selected(c, p, &a.services, true)?;
    let color = !a.no_color && std::io::stdout().is_terminal();
    let prefix_of = |e: &Existing| format!("{}-{}", e.service, e.number);
    let width = list.iter().map(|e| prefix_of(e).len()).max().unwrap_or(0);
    let tail = if a.tail == "all" {
        String::new()
    } else {
        format!("&tail={}", enc(&a.tail))
    };
    let mut threads = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let prefix = if a.no_log_prefix {
            String::new()
        } else if color {
            format!(
                "\x1b[{}m{:width$}  |\x1b[0m ",
                COLORS[i % COLORS.len()],
                prefix_of(e)
            )
        } else {
            format!("{:width$}  | ", prefix_of(e))
        };
        let r = c.call(
            "GET",
            &format!(
                "/containers/{}/logs?stdout=1&stderr=1&follow={}{tail}",
                e.id, a.follow as u8
            ),
            Body::Empty,
        )?;
        threads.push(std::thread::spawn(move || {
            // Demultiplex into a pipe, then prefix line by line.
            let (rd, mut wr) = match std::io::pipe() {
                Ok(p) => p,
                Err(_) => return,
            };
            let demux = std::thread::spawn(move || {
                let mut w2 = wr.try_clone().ok();
                let _ = match w2.as_mut() {
                    Some(w2) => crate::http::demux(r.body, &mut wr, w2),
                    None => Ok(()),
                };
            });
            for line in std::io::BufReader::new(rd).lines() {
                let Ok(line) = line else { break };
                let mut o = std::io::stdout().lock();
                let _ = writeln!(o, "{prefix}{line}");
            }
            let _ = demux.join();
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(0)
}

/// A verb over the selected containers.
fn each(
    c: &Client,
    list: &[Existing],
    verb: &str,
    what: &str,
    path: impl Fn(&Existing) -> String,
) -> Result<u8, Failure> {
    for e in list {
        eprintln!(" Container {}  {verb}", e.name);
        match c.call("POST", &path(e), Body::Empty) {
            Ok(_) | Err(ClientError::Api { status: 304, .. }) => {
                eprintln!(" Container {}  {what}", e.name)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(0)
}

/// Runs one compose command on a loaded project.
pub fn run(c: &Client, p: &Project, cmd: ComposeCmd) -> Result<u8, Failure> {
    let timeout = |t: Option<i64>| t.map(|t| format!("?t={t}")).unwrap_or_default();
    match cmd {
        ComposeCmd::Version => Ok(0),
        ComposeCmd::Config(a) => {
            if a.services {
                for s in p.model.services.keys() {
                    println!("{s}");
                }
            } else if !a.quiet {
                let v = serde_json::to_value(&p.model).map_err(|e| bad(e.to_string()))?;
                print!("{}", super::yaml::dump(&v));
            }
            Ok(0)
        }
        ComposeCmd::Up(a) => up(c, p, a),
        ComposeCmd::Down(a) => down(c, p, a),
        ComposeCmd::Ps(a) => {
            let list: Vec<Value> = containers(c, &p.name, a.all)?
                .into_iter()
                .filter(|v| {
                    a.services.is_empty() || a.services.contains(&Existing::from_api(v).service)
                })
                .collect();
            if a.quiet {
                for v in &list {
                    println!("{}", v["Id"].as_str().unwrap_or_default());
                }
            } else {
                print!("{}", ps_table(&list, crate::util::now_nanos()));
            }
            Ok(0)
        }
        ComposeCmd::Logs(a) => logs(c, p, &a),
        ComposeCmd::Events(a) => events(c, p, &a),
        ComposeCmd::Start(a) => {
            let list = selected(c, p, &a.services, true)?;
            each(c, &list, "Starting", "Started", |e| {
                format!("/containers/{}/start", e.id)
            })
        }
        ComposeCmd::Stop(a) => {
            let list = selected(c, p, &a.services, false)?;
            each(c, &list, "Stopping", "Stopped", |e| {
                format!("/containers/{}/stop{}", e.id, timeout(a.timeout))
            })
        }
        ComposeCmd::Restart(a) => {
            let list = selected(c, p, &a.services, true)?;
            each(c, &list, "Restarting", "Started", |e| {
                format!("/containers/{}/restart{}", e.id, timeout(a.timeout))
            })
        }
        ComposeCmd::Kill(a) => {
            let list = selected(c, p, &a.services, false)?;
            each(c, &list, "Killing", "Killed", |e| {
                format!("/containers/{}/kill?signal={}", e.id, enc(&a.signal))
            })
        }
        ComposeCmd::Rm(a) => {
            let list: Vec<Existing> = selected(c, p, &a.services, true)?;
            let all = containers(c, &p.name, true)?;
            for e in &list {
                let running = all
                    .iter()
                    .any(|v| v["Id"] == e.id.as_str() && v["State"] == "running");
                if running && !a.stop {
                    continue;
                }
                remove(c, &e.name, None, a.volumes)?;
            }
            if list.is_empty() {
                eprintln!("No stopped containers");
            }
            Ok(0)
        }
        ComposeCmd::Exec(a) => {
            let e = selected(c, p, std::slice::from_ref(&a.service), false)?
                .into_iter()
                .find(|e| e.number == a.index && !e.oneoff)
                .ok_or_else(|| {
                    bad(format!(
                        "service {:?} is not running (index {})",
                        a.service, a.index
                    ))
                })?;
            crate::interactive::exec_cmd(
                c,
                crate::interactive::ExecArgs {
                    interactive: false,
                    tty: false,
                    detach: false,
                    detach_keys: None,
                    env: vec![],
                    user: a.user,
                    workdir: None,
                    container: e.id,
                    command: a.command,
                },
            )
        }
        ComposeCmd::Run(a) => run_oneoff(c, p, a),
        ComposeCmd::Build(a) => {
            for s in services_of(p, &a.services)?
                .iter()
                .filter(|s| s.build.is_some())
            {
                ensure_image(c, s, true)?;
            }
            Ok(0)
        }
        ComposeCmd::Pull(a) => {
            for s in services_of(p, &a.services)?
                .iter()
                .filter(|s| s.build.is_none())
            {
                pull(c, s)?;
            }
            Ok(0)
        }
        ComposeCmd::Push(a) => {
            let list = services_of(p, &a.services)?;
            for s in list
                .iter()
                .filter(|s| s.build.is_some() && s.service.image.is_some())
            {
                eprintln!("Pushing {} ({})", s.name, s.image);
                crate::images::push(c, &s.image, None)?;
            }
            Ok(0)
        }
        ComposeCmd::Top(a) => {
            for e in selected(c, p, &a.services, false)? {
                println!("{}", e.name);
                crate::system::top(c, &e.id, &[])?;
                println!();
            }
            Ok(0)
        }
        ComposeCmd::Images(a) => {
            let list = selected(c, p, &a.services, true)?;
            let mut w = tabwriter::TabWriter::new(Vec::new()).padding(3);
            let _ = writeln!(w, "CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE");
            for e in list {
                let info = c
                    .call("GET", &format!("/containers/{}/json", e.id), Body::Empty)?
                    .json()?;
                let image = info["Config"]["Image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let img = c
                    .call("GET", &format!("/images/{}/json", enc(&image)), Body::Empty)?
                    .json()?;
                let (repo, tag) = image
                    .rsplit_once(':')
                    .filter(|(_, t)| !t.contains('/'))
                    .unwrap_or((&image, "latest"));
                let id = img["Id"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("sha256:");
                let _ = writeln!(
                    w,
                    "{}\t{repo}\t{tag}\t{}\t{}",
                    e.name,
                    &id[..id.len().min(12)],
                    crate::util::human_size(img["Size"].as_u64().unwrap_or(0))
                );
            }
            print!(
                "{}",
                String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
            );
            Ok(0)
        }
        ComposeCmd::Port(a) => {
            let e = selected(c, p, std::slice::from_ref(&a.service), false)?
                .into_iter()
                .find(|e| e.number == a.index)
                .ok_or_else(|| {
                    bad(format!(
                        "service {:?} is not running (index {})",
                        a.service, a.index
                    ))
                })?;
            let info = c
                .call("GET", &format!("/containers/{}/json", e.id), Body::Empty)?
                .json()?;
            let key = format!("{}/{}", a.private_port, a.protocol);
            match info["NetworkSettings"]["Ports"][&key]
                .as_array()
                .and_then(|l| l.first())
            {
                Some(b) => {
                    println!(
                        "{}:{}",
                        b["HostIp"].as_str().unwrap_or("0.0.0.0"),
                        b["HostPort"].as_str().unwrap_or_default()
                    );
                    Ok(0)
                }
                None => Err(bad(format!("no port {key} for container {}", e.name))),
            }
        }
    }
}

/// `run [--rm] SERVICE [COMMAND…]`: a one-off container
/// (`<project>-<service>-run-<id>`, label `oneoff=True`), attached.
fn run_oneoff(c: &Client, p: &Project, a: super::RunArgs) -> Result<u8, Failure> {
    let d = plan::desired(p, &BTreeMap::new()).map_err(bad)?;
    let s = d
        .services
        .iter()
        .find(|s| s.name == a.service)
        .ok_or_else(|| bad(format!("no such service: {}", a.service)))?;
    // Its networks and volumes, and (unless --no-deps) its dependencies.
    if !a.no_deps && !s.depends.is_empty() {
        up(
            c,
            p,
            super::UpArgs {
                detach: true,
                explain: false,
                build: false,
                scale: vec![],
                remove_orphans: false,
                force_recreate: false,
                wait: false,
                services: s.depends.keys().cloned().collect(),
            },
        )?;
    }
    for n in d.networks.iter().filter(|n| !n.external) {
        if !exists(c, &format!("/networks/{}", enc(&n.name)))? {
            c.call("POST", "/networks/create", Body::Json(n.body.clone()))?;
        }
    }
    for v in d.volumes.iter().filter(|v| !v.external) {
        if !exists(c, &format!("/volumes/{}", enc(&v.name)))? {
            c.call("POST", "/volumes/create", Body::Json(v.body.clone()))?;
        }
    }
    ensure_image(c, s, false)?;
    let mut body = s.create_body(&d, p, 1, true).map_err(bad)?;
    // A one-off publishes no ports (as compose without --service-ports).
    if let Some(h) = body["HostConfig"].as_object_mut() {
        h.remove("PortBindings");
    }
    if !a.command.is_empty() {
        body["Cmd"] = json!(a.command);
    }
    if !a.env.is_empty() {
        let mut env: Vec<Value> = body["Env"].as_array().cloned().unwrap_or_default();
        env.extend(a.env.iter().map(|e| json!(e)));
        body["Env"] = json!(env);
    }
    if a.rm {
        body["HostConfig"]["AutoRemove"] = json!(true);
    }
    let suffix = &crate::util::new_id()[..12];
    let name = format!("{}-{}-run-{suffix}", p.name, s.name);
    body["AttachStdout"] = json!(!a.detach);
    body["AttachStderr"] = json!(!a.detach);
    let id = create_named(c, s, &name, body)?;
    if a.detach {
        start(c, &name)?;
        println!("{name}");
        return Ok(0);
    }
    let attach = crate::interactive::Attach {
        id: &id,
        tty: false,
        stdin: false,
        detach_keys: None,
        sig_proxy: true,
    };
    let h = crate::interactive::open_attach(c, &attach)?;
    let cond = if a.rm { "removed" } else { "next-exit" };
    let waited = c.call(
        "POST",
        &format!("/containers/{id}/wait?condition={cond}"),
        Body::Empty,
    )?;
    c.call("POST", &format!("/containers/{id}/start"), Body::Empty)?;
    crate::interactive::attached(c, h, &attach)?;
    let code = waited.json()?["StatusCode"].as_i64().unwrap_or(1);
    let _ = std::io::stdout().flush();
    Ok(code.clamp(0, 255) as u8)
}
