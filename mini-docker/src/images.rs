//! Image commands (images, import, tag, rmi, save, load) and the system ones
//! (version, info).

use super::format;
use super::http::{self, Body, Client, Response};
use super::util;
use super::Failure;
use serde_json::Value;
use std::io::Read;

/// Flags of `images`.
#[derive(clap::Args, Debug)]
pub struct ImagesArgs {
    /// Show all images.
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print images using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions provided (dangling=, label=, reference=, before=, since=).
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Only the images REPOSITORY[:TAG] names (the `reference` filter).
    pub reference: Option<String>,
}

fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// `images`.
pub fn images(c: &Client, a: ImagesArgs) -> Result<u8, Failure> {
    // As the docker CLI: `images NAME` is the filter `reference=NAME`.
    let mut filter = a.filter.clone();
    filter.extend(a.reference.iter().map(|r| format!("reference={r}")));
    let q = format!(
        "/images/json?all={}&filters={}",
        a.all as u8,
        super::netvol::filters(&filter)?
    );
    let list = c.call("GET", &q, Body::Empty)?.json()?;
    let now = util::now_nanos() / 1_000_000_000;
    let mut rows = Vec::new();
    for img in list.as_array().cloned().unwrap_or_default() {
        let id = short_id(img["Id"].as_str().unwrap_or(""));
        let tags: Vec<String> = img["RepoTags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let tags = if tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            tags
        };
        for t in tags {
            let (repo, tag) = t
                .rsplit_once(':')
                .filter(|(_, tag)| !tag.contains('/'))
                .unwrap_or((&t, "<none>"));
            rows.push(serde_json::json!({
                "ID": id, "Repository": repo, "Tag": tag,
                "CreatedSince": format!("{} ago", util::human_duration(now - img["Created"].as_i64().unwrap_or(0))),
                "Size": util::human_size(img["Size"].as_u64().unwrap_or(0)),
            }));
        }
    }
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            if seen.insert(r["ID"].to_string()) {
                println!("{}", r["ID"].as_str().unwrap_or(""));
            }
        }
        return Ok(0);
    }
    if let Some(t) = &a.format {
        let headers = [
            ("ID", "IMAGE ID"),
            ("Repository", "REPOSITORY"),
            ("Tag", "TAG"),
            ("CreatedSince", "CREATED"),
            ("Size", "SIZE"),
        ];
        print!(
            "{}",
            format::list_as(
                t,
                &rows,
                &headers,
                &format::Go::typed(&[("", "*formatter.imageContext")])
            )
            .map_err(format::list_failure)?
        );
        return Ok(0);
    }
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                s(r, "Repository"),
                s(r, "Tag"),
                s(r, "ID"),
                s(r, "CreatedSince"),
                s(r, "Size"),
            ]
        })
        .collect();
    print!(
        "{}",
        format::table(
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &table
        )
    );
    Ok(0)
}

/// Prints a stream of JSON messages (pull, push, load); an `error` fails.
pub fn show_progress(r: Response) -> Result<(), String> {
    let tty = nix::unistd::isatty(1).unwrap_or(false);
    super::progress::render(r.body, &mut std::io::stdout(), tty)
}

fn input(file: &str) -> Result<(Box<dyn Read + Send>, u64), Failure> {
    if file == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v)?;
        let n = v.len() as u64;
        return Ok((Box::new(std::io::Cursor::new(v)), n));
    }
    let f = std::fs::File::open(file).map_err(|e| Failure {
        code: 1,
        message: format!("open {file}: {e}"),
    })?;
    let n = f.metadata()?.len();
    Ok((Box::new(f), n))
}

/// `import FILE|- [REPOSITORY[:TAG]]`.
pub fn import(
    c: &Client,
    file: &str,
    reference: Option<&str>,
    message: Option<&str>,
) -> Result<u8, Failure> {
    let (r, n) = input(file)?;
    let mut q = "/images/create?fromSrc=-".to_string();
    if let Some(reference) = reference {
        let (repo, tag) = split_ref(reference);
        q.push_str(&format!("&repo={}&tag={}", http::enc(repo), http::enc(tag)));
    }
    if let Some(m) = message {
        q.push_str(&format!("&message={}", http::enc(m)));
    }
    let resp = c.call("POST", &q, Body::Reader(r, n, "application/x-tar"))?;
    show_progress(resp).map_err(|m| Failure {
        code: 1,
        message: m,
    })?;
    Ok(0)
}

/// `name[:tag][@digest]` -> (`name`, tag or digest): chapter 04's parser,
/// the one the engine uses too.
pub use ::images::image::split_ref;

/// `tag`.
pub fn tag(c: &Client, source: &str, target: &str) -> Result<u8, Failure> {
    let (repo, tag) = split_ref(target);
    c.call(
        "POST",
        &format!(
            "/images/{source}/tag?repo={}&tag={}",
            http::enc(repo),
            http::enc(tag)
        ),
        Body::Empty,
    )?;
    Ok(0)
}

/// `rmi`.
pub fn rmi(c: &Client, force: bool, images: &[String]) -> Result<u8, Failure> {
    let mut code = 0;
    for i in images {
        match c
            .call(
                "DELETE",
                &format!("/images/{i}?force={}", force as u8),
                Body::Empty,
            )
            .and_then(|r| r.json())
        {
            Ok(v) => {
                for e in v.as_array().cloned().unwrap_or_default() {
                    if let Some(u) = e["Untagged"].as_str() {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = e["Deleted"].as_str() {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e @ http::ClientError::Connect(_)) => return Err(e.into()),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `save -o FILE IMAGE…`.
pub fn save(c: &Client, output: Option<&str>, images: &[String]) -> Result<u8, Failure> {
    let q: Vec<String> = images
        .iter()
        .map(|i| format!("names={}", http::enc(i)))
        .collect();
    let r = c.call("GET", &format!("/images/get?{}", q.join("&")), Body::Empty)?;
    write_archive(r, output)?;
    Ok(0)
}

/// A tar archive the daemon sends (`save`, `export`) into `output`
/// (written under a temporary name, then renamed, so that a failure leaves
/// no partial file), or onto stdout unless that is a terminal.
pub fn write_archive(mut r: http::Response, output: Option<&str>) -> Result<(), Failure> {
    match output {
        Some(o) => {
            let tmp = format!("{o}.tmp-mini-docker");
            let mut f = std::fs::File::create(&tmp)?;
            std::io::copy(&mut r.body, &mut f)?;
            f.sync_all()?;
            std::fs::rename(&tmp, o)?;
        }
        None => {
            if nix::unistd::isatty(1).unwrap_or(false) {
                return Err(Failure {
                    code: 1,
                    message: "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                        .into(),
                });
            }
            std::io::copy(&mut r.body, &mut std::io::stdout())?;
        }
    }
    Ok(())
}

/// `load -i FILE`.
pub fn load(c: &Client, input_file: Option<&str>) -> Result<u8, Failure> {
    let (r, n) = input(input_file.unwrap_or("-"))?;
    let resp = c.call(
        "POST",
        "/images/load",
        Body::Reader(r, n, "application/x-tar"),
    )?;
    show_progress(resp).map_err(|m| Failure {
        code: 1,
        message: m,
    })?;
    Ok(0)
}

/// The Go types `info --format` runs over (docker/cli's `system.info`,
/// which embeds the daemon's `types.Info`), for template errors.
const INFO_TYPES: &[(&str, &str)] = &[
    ("", "system.info"),
    ("Swarm", "swarm.Info"),
    ("Plugins", "types.PluginsInfo"),
    ("RegistryConfig", "*registry.ServiceConfig"),
];

/// `info --format` and `version --format`, as the docker CLI prints them:
/// the output and a newline; a template that does not parse is a usage
/// error (exit 64); one that fails on the data prints what it wrote
/// before it failed, a newline and Go's error (exit 1).
fn print_template(t: &str, v: &Value, go: &format::Go) -> Result<u8, Failure> {
    match format::execute_partial(t, v, go) {
        Ok(out) => {
            println!("{out}");
            Ok(0)
        }
        Err((_, format::TemplateError::Parse(m))) => Err(Failure {
            code: 64,
            message: format!("template parsing error: {m}"),
        }),
        Err((partial, format::TemplateError::Exec(m))) => {
            println!("{partial}");
            Err(Failure {
                code: 1,
                message: m,
            })
        }
    }
}

/// `version --format`: Docker's `versionInfo`, `{{.Client.Version}}`
/// and `{{.Server.Version}}` (the daemon's `GET /version`).
pub fn version_format(c: &Client, t: &str) -> Result<u8, Failure> {
    let go = format::Go {
        name: "version",
        types: &[
            ("", "system.versionInfo"),
            ("Client", "system.clientVersion"),
            ("Client.Platform", "struct { Name string }"),
            ("Server", "*types.Version"),
            ("Server.Platform", "struct { Name string }"),
        ],
    };
    // The template is checked before the daemon is asked, as the docker CLI does.
    if let Err(format::TemplateError::Parse(m)) = format::execute(t, &Value::Null, &go) {
        return Err(Failure {
            code: 64,
            message: format!("template parsing error: {m}"),
        });
    }
    let mut server = c.call("GET", "/version", Body::Empty)?.json()?;
    // Go's field is `APIVersion` (its JSON name `ApiVersion`): a template
    // names the field, and `json` writes the JSON name back.
    if let Some(v) = server.as_object_mut().and_then(|o| o.remove("ApiVersion")) {
        server["APIVersion"] = v;
    }
    let client = serde_json::json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "APIVersion": mini_docker_api::API_VERSION,
        "DefaultAPIVersion": mini_docker_api::API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "BuildTime": "",
        "Context": "default",
        "Experimental": true,
    });
    print_template(
        t,
        &serde_json::json!({"Client": client, "Server": server}),
        &go,
    )
}

/// This machine's architecture in Go's words (`GOARCH`), as `version` prints it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// `version`.
pub fn version(c: &Client) -> Result<u8, Failure> {
    println!("Client: mini-docker\n Version:           {}\n API version:       {}\n OS/Arch:           linux/{}\n", env!("CARGO_PKG_VERSION"), mini_docker_api::API_VERSION, std::env::consts::ARCH);
    let v = c.call("GET", "/version", Body::Empty)?.json()?;
    println!(
        "Server: {}\n Engine:\n  Version:          {}\n  API version:      {} (minimum version {})\n  OS/Arch:          {}/{}\n  Kernel:           {}",
        v["Platform"]["Name"].as_str().unwrap_or(""),
        v["Version"].as_str().unwrap_or(""),
        v["ApiVersion"].as_str().unwrap_or(""),
        v["MinAPIVersion"].as_str().unwrap_or(""),
        v["Os"].as_str().unwrap_or(""),
        v["Arch"].as_str().unwrap_or(""),
        v["KernelVersion"].as_str().unwrap_or("")
    );
    Ok(0)
}

/// `info`.
pub fn info(c: &Client, template: Option<&str>) -> Result<u8, Failure> {
    let v = c.call("GET", "/info", Body::Empty)?.json()?;
    if let Some(t) = template {
        return print_template(t, &v, &format::Go::typed(INFO_TYPES));
    }
    println!("Server:");
    println!(" Containers: {}", v["Containers"]);
    println!("  Running: {}", v["ContainersRunning"]);
    println!("  Paused: {}", v["ContainersPaused"]);
    println!("  Stopped: {}", v["ContainersStopped"]);
    println!(" Images: {}", v["Images"]);
    println!(
        " Server Version: {}",
        v["ServerVersion"].as_str().unwrap_or("")
    );
    println!(" Storage Driver: {}", v["Driver"].as_str().unwrap_or(""));
    println!(
        " Logging Driver: {}",
        v["LoggingDriver"].as_str().unwrap_or("")
    );
    println!(
        " Cgroup Driver: {}",
        v["CgroupDriver"].as_str().unwrap_or("")
    );
    println!(
        " Cgroup Version: {}",
        v["CgroupVersion"].as_str().unwrap_or("")
    );
    println!(
        " Default Runtime: {}",
        v["DefaultRuntime"].as_str().unwrap_or("")
    );
    println!(
        " Kernel Version: {}",
        v["KernelVersion"].as_str().unwrap_or("")
    );
    println!(" OSType: {}", v["OSType"].as_str().unwrap_or(""));
    println!(
        " Architecture: {}",
        v["Architecture"].as_str().unwrap_or("")
    );
    println!(" CPUs: {}", v["NCPU"]);
    println!(
        " Total Memory: {}",
        binary_size(v["MemTotal"].as_u64().unwrap_or(0))
    );
    println!(" Name: {}", v["Name"].as_str().unwrap_or(""));
    println!(
        " Docker Root Dir: {}",
        v["DockerRootDir"].as_str().unwrap_or("")
    );
    let strings = |x: &Value| -> Vec<String> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let reg = &v["RegistryConfig"];
    // As the docker CLI: the insecure registries by name, then by CIDR.
    let mut insecure: Vec<String> = reg["IndexConfigs"]
        .as_object()
        .map(|m| {
            m.values()
                .filter(|c| c["Secure"] == Value::Bool(false))
                .filter_map(|c| c["Name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    insecure.extend(strings(&reg["InsecureRegistryCIDRs"]));
    if !insecure.is_empty() {
        println!(" Insecure Registries:");
        for r in &insecure {
            println!("  {r}");
        }
    }
    let mirrors = strings(&reg["Mirrors"]);
    if !mirrors.is_empty() {
        println!(" Registry Mirrors:");
        for m in &mirrors {
            println!("  {m}");
        }
    }
    println!(" Live Restore Enabled: {}", v["LiveRestoreEnabled"]);
    // The daemon's own warnings (none made up here), on stderr as Docker does.
    for w in strings(&v["Warnings"]) {
        eprintln!("{w}");
    }
    Ok(0)
}

/// Docker's `units.BytesSize`: binary units, 4 significant digits (`7.741GiB`).
pub fn binary_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1024.0 && i < units.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    // Go's %.4g: 4 significant digits, trailing zeros dropped.
    let int_digits = if size < 1.0 {
        1
    } else {
        size.log10().floor() as i32 + 1
    };
    let decimals = (4 - int_digits).max(0) as usize;
    let mut s = format!("{size:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[i])
}

/// `pull NAME[:TAG|@DIGEST]`: one line per layer, as Docker prints them.
pub fn pull(c: &Client, name: &str, auth: Option<&str>) -> Result<u8, Failure> {
    let (repo, tag) = split_ref(name);
    let headers: Vec<(&str, &str)> = auth
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default();
    let r = c.call_with(
        "POST",
        &format!(
            "/images/create?fromImage={}&tag={}",
            http::enc(repo),
            http::enc(tag)
        ),
        Body::Empty,
        &headers,
    )?;
    show_progress(r).map_err(|m| Failure {
        code: 1,
        message: m,
    })?;
    let shown = if name.contains('@') {
        name.to_string()
    } else {
        format!("{repo}:{tag}")
    };
    println!("{shown}");
    Ok(0)
}

/// `push NAME[:TAG]`.
pub fn push(c: &Client, name: &str, auth: Option<&str>) -> Result<u8, Failure> {
    let (repo, tag) = split_ref(name);
    let headers: Vec<(&str, &str)> = auth
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default();
    let r = c.call_with(
        "POST",
        &format!("/images/{repo}/push?tag={}", http::enc(tag)),
        Body::Empty,
        &headers,
    )?;
    show_progress(r).map_err(|m| Failure {
        code: 1,
        message: m,
    })?;
    Ok(0)
}
