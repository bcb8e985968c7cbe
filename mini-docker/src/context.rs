//! `mini-docker context …`: named daemon endpoints, stored exactly as the
//! docker CLI stores them, so either CLI reads the other's contexts.
//!
//! A context is what `docker-machine env` used to print (a host, and the
//! TLS files that go with it), kept under a name. Docker's layout, under
//! the config directory (`--config`, `$DOCKER_CONFIG`, or `~/.docker`):
//!
//! ```text
//! config.json                               {"currentContext": "NAME", …}
//! contexts/meta/<sha256 of NAME>/meta.json  {"Name": …, "Metadata": {"Description": …},
//!                                            "Endpoints": {"docker": {"Host": …, "SkipTLSVerify": …}}}
//! contexts/tls/<sha256 of NAME>/docker/     ca.pem, cert.pem, key.pem (copies, mode 0600)
//! ```
//!
//! The directory is named by the hash so any name is a safe path. The
//! context called `default` is never stored: it is `-H`, `DOCKER_HOST`,
//! the TLS flags, or the default socket.
//!
//! Which endpoint a command talks to ([`endpoint`]), in the docker CLI's
//! order:
//!
//! 1. `--context NAME` (given together with `-H`: an error);
//! 2. `-H`, then `DOCKER_HOST`: the default context;
//! 3. `DOCKER_CONTEXT`;
//! 4. `currentContext` in config.json (set by `context use`);
//! 5. the default context.
//!
//! A stored context uses TLS when it has TLS files or `skip-tls-verify`
//! (then the daemon's certificate is not checked, as Docker's
//! `InsecureSkipVerify`); the `--tls*` flags shape only the default
//! context. `export` writes Docker's tar (`meta.json`, `tls/docker/*.pem`);
//! `import` reads it under a new name.

use super::format;
use super::tls;
use super::Failure;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The context that is not stored.
pub const DEFAULT: &str = "default";
const DEFAULT_DESCRIPTION: &str = "Current DOCKER_HOST based configuration";
const DEFAULT_HOST: &str = "unix:///run/mini-docker.sock";
/// The TLS files a context may hold, in Docker's names.
const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

fn fail(m: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: m.into(),
    }
}

/// `context …`.
#[derive(clap::Subcommand, Debug)]
pub enum ContextCmd {
    /// Create a context.
    Create(CreateArgs),
    /// List contexts.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Set the current context (written to config.json).
    Use {
        /// The context.
        name: String,
    },
    /// Display detailed information on one or more contexts.
    Inspect(InspectArgs),
    /// Remove one or more contexts.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Print the name of the current context.
    Show,
    /// Export a context to a tar file (`-` for stdout).
    Export {
        /// The context.
        name: String,
        /// The file to write; default NAME.dockercontext.
        file: Option<PathBuf>,
    },
    /// Import a context from a tar file (`-` for stdin).
    Import {
        /// The name to give it.
        name: String,
        /// The file to read.
        file: PathBuf,
    },
}

/// Flags of `context create`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Description of the context.
    #[arg(long)]
    pub description: Option<String>,
    /// The daemon endpoint: host=URL[,ca=FILE,cert=FILE,key=FILE,skip-tls-verify=BOOL];
    /// default the current context's.
    #[arg(long)]
    pub docker: Option<String>,
    /// The context's name.
    pub name: String,
}

/// Flags of `context ls`.
#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Format the output using a Go template (`table …`, `json`).
    #[arg(long)]
    pub format: Option<String>,
    /// Only show context names.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Flags of `context inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format the output using the given Go template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Contexts; default the current one.
    pub names: Vec<String>,
}

/// Flags of `context rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Remove a context even if it is the current one.
    #[arg(short, long)]
    pub force: bool,
    /// Contexts.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// The global flags that choose an endpoint.
#[derive(Debug, Default)]
pub struct Globals {
    /// `-H`.
    pub host: Option<String>,
    /// `--context`.
    pub context: Option<String>,
    /// `--config`.
    pub config: Option<String>,
    /// `--tlsverify`, `--tlscacert`, …: the default context's TLS.
    pub tls: tls::TlsFlags,
}

/// Where a command connects: `host` (`None`: `DOCKER_HOST` or the default
/// socket) and its TLS settings.
pub struct Endpoint {
    /// The daemon's address.
    pub host: Option<String>,
    /// TLS, if any.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// The context store: the config directory.
pub struct Store {
    dir: PathBuf,
}

/// A stored context's `meta.json`.
#[derive(Debug, Clone)]
struct Meta {
    name: String,
    description: Option<String>,
    host: String,
    skip_tls_verify: bool,
}

/// A context as Docker writes it, in Docker's key order (meta.json, and
/// `context inspect` with `TLSMaterial` and `Storage`).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Doc {
    name: String,
    metadata: Value,
    endpoints: Value,
    #[serde(rename = "TLSMaterial", skip_serializing_if = "Option::is_none")]
    tls_material: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<Value>,
}

impl Meta {
    fn doc(&self) -> Doc {
        let mut metadata = serde_json::Map::new();
        if let Some(d) = &self.description {
            metadata.insert("Description".into(), json!(d));
        }
        Doc {
            name: self.name.clone(),
            metadata: metadata.into(),
            endpoints: json!({"docker": {"Host": self.host, "SkipTLSVerify": self.skip_tls_verify}}),
            tls_material: None,
            storage: None,
        }
    }

    /// meta.json's text.
    fn to_json(&self) -> String {
        serde_json::to_string(&self.doc()).unwrap_or_default()
    }

    fn from_json(v: &Value, at: &Path) -> Result<Meta, Failure> {
        let docker = &v["Endpoints"]["docker"];
        Ok(Meta {
            name: v["Name"]
                .as_str()
                .ok_or_else(|| fail(format!("{}: no \"Name\"", at.display())))?
                .to_string(),
            description: v["Metadata"]["Description"].as_str().map(String::from),
            host: docker["Host"].as_str().unwrap_or_default().to_string(),
            skip_tls_verify: docker["SkipTLSVerify"].as_bool().unwrap_or(false),
        })
    }
}

/// Docker's rule for context names.
fn validate_name(name: &str) -> Result<(), Failure> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = name.len() >= 2
        && name
            .chars()
            .skip(1)
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if !(ok_first && ok_rest) {
        return Err(fail(format!(
            "context name {name:?} is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\""
        )));
    }
    if name == DEFAULT {
        return Err(fail(format!("{DEFAULT:?} is a reserved context name")));
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temp file and a rename, with `mode`.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |e: std::io::Error| fail(format!("write {}: {e}", path.display()));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn mkdir(dir: &Path, mode: u32) -> Result<(), Failure> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| fail(format!("create {}: {e}", dir.display())))
}

impl Store {
    /// `--config DIR`, `$DOCKER_CONFIG`, or `~/.docker`: where the docker CLI keeps its contexts.
    pub fn new(config: Option<&str>) -> Store {
        let dir = match config.map(PathBuf::from).or_else(|| {
            std::env::var_os("DOCKER_CONFIG")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        }) {
            Some(d) => d,
            None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker"),
        };
        Store { dir }
    }

    fn id(name: &str) -> String {
        let d = images::digest::sha256(name.as_bytes());
        images::digest::hex_of(&d).to_string()
    }

    fn meta_dir(&self, name: &str) -> PathBuf {
        self.dir.join("contexts/meta").join(Self::id(name))
    }

    fn tls_dir(&self, name: &str) -> PathBuf {
        self.dir.join("contexts/tls").join(Self::id(name))
    }

    fn config_file(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    fn read_config(&self) -> Result<Value, Failure> {
        let path = self.config_file();
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| fail(format!("{} is not valid JSON: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
            Err(e) => Err(fail(format!("read {}: {e}", path.display()))),
        }
    }

    /// `currentContext` in config.json, if set.
    fn current_in_config(&self) -> Result<Option<String>, Failure> {
        Ok(self.read_config()?["currentContext"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from))
    }

    /// Sets (or with `default`, removes) `currentContext`, keeping the rest of config.json.
    fn set_current(&self, name: &str) -> Result<(), Failure> {
        let mut cfg = self.read_config()?;
        let Some(obj) = cfg.as_object_mut() else {
            return Err(fail(format!(
                "{} is not a JSON object",
                self.config_file().display()
            )));
        };
        if name == DEFAULT {
            obj.remove("currentContext");
        } else {
            obj.insert("currentContext".into(), json!(name));
        }
        mkdir(&self.dir, 0o755)?;
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        );
        serde::Serialize::serialize(&cfg, &mut ser).map_err(|e| fail(e.to_string()))?;
        write_atomic(&self.config_file(), &out, 0o600)
    }

    fn exists(&self, name: &str) -> bool {
        self.meta_dir(name).join("meta.json").exists()
    }

    fn meta(&self, name: &str) -> Result<Meta, Failure> {
        let path = self.meta_dir(name).join("meta.json");
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                fail(format!(
                    "context {name:?} does not exist: `mini-docker context ls` lists them"
                ))
            } else {
                fail(format!("read {}: {e}", path.display()))
            }
        })?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| fail(format!("{} is not valid JSON: {e}", path.display())))?;
        Meta::from_json(&v, &path)
    }

    /// The stored contexts, by name.
    fn list(&self) -> Result<Vec<Meta>, Failure> {
        let dir = self.dir.join("contexts/meta");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(fail(format!("read {}: {e}", dir.display()))),
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path().join("meta.json");
            if let Ok(bytes) = std::fs::read(&path) {
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| fail(format!("{} is not valid JSON: {e}", path.display())))?;
                out.push(Meta::from_json(&v, &path)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The TLS files a context holds: (file name, contents).
    fn tls_files(&self, name: &str) -> Result<Vec<(&'static str, Vec<u8>)>, Failure> {
        let dir = self.tls_dir(name).join("docker");
        let mut out = Vec::new();
        for f in TLS_FILES {
            match std::fs::read(dir.join(f)) {
                Ok(b) => out.push((f, b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(format!("read {}: {e}", dir.join(f).display()))),
            }
        }
        Ok(out)
    }

    /// Writes a new context: meta.json last, so a context is either whole or absent.
    fn save(&self, meta: &Meta, tls_files: &[(&str, Vec<u8>)]) -> Result<(), Failure> {
        if self.exists(&meta.name) {
            return Err(fail(format!("context {:?} already exists", meta.name)));
        }
        let result = (|| {
            if !tls_files.is_empty() {
                let d = self.tls_dir(&meta.name).join("docker");
                mkdir(&d, 0o700)?;
                for (f, b) in tls_files {
                    write_atomic(&d.join(f), b, 0o600)?;
                }
            }
            let m = self.meta_dir(&meta.name);
            mkdir(&m, 0o755)?;
            write_atomic(&m.join("meta.json"), meta.to_json().as_bytes(), 0o644)
        })();
        if result.is_err() {
            self.remove(&meta.name);
        }
        result
    }

    fn remove(&self, name: &str) {
        let _ = std::fs::remove_dir_all(self.meta_dir(name));
        let _ = std::fs::remove_dir_all(self.tls_dir(name));
    }

    /// The context commands run against: Docker's order (see the module docs).
    pub fn current(&self, g: &Globals) -> Result<String, Failure> {
        if g.context.is_some() && g.host.is_some() {
            return Err(fail(
                "conflicting options: cannot specify both --host and --context",
            ));
        }
        if let Some(c) = &g.context {
            return Ok(c.clone());
        }
        if g.host.is_some() || std::env::var_os("DOCKER_HOST").is_some() {
            return Ok(DEFAULT.into());
        }
        if let Some(c) = std::env::var("DOCKER_CONTEXT")
            .ok()
            .filter(|c| !c.is_empty())
        {
            return Ok(c);
        }
        match self.current_in_config()? {
            Some(c) if c != DEFAULT && !self.exists(&c) => Err(fail(format!(
                "current context {c:?} is not found on the file system, please check your config file at {}",
                self.config_file().display()
            ))),
            Some(c) => Ok(c),
            None => Ok(DEFAULT.into()),
        }
    }

    /// The default context's host, as `-H` / `DOCKER_HOST` / the socket decide it.
    fn default_host(g: &Globals) -> String {
        g.host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| DEFAULT_HOST.into())
    }
}

/// The endpoint a command talks to.
pub fn endpoint(g: &Globals) -> Result<Endpoint, Failure> {
    let store = Store::new(g.config.as_deref());
    let name = store.current(g)?;
    if name == DEFAULT {
        let tls = g.tls.config().map_err(fail)?;
        return Ok(Endpoint {
            host: g.host.clone(),
            tls,
        });
    }
    let meta = store.meta(&name)?;
    let files = store.tls_files(&name)?;
    let tls = if files.is_empty() && !meta.skip_tls_verify {
        None
    } else {
        Some(tls_config(&store.tls_dir(&name).join("docker"), &meta)?)
    };
    Ok(Endpoint {
        host: Some(meta.host),
        tls,
    })
}

/// The TLS settings of a stored context: its CA (or no check with
/// `SkipTLSVerify`), and its client certificate when it has one.
fn tls_config(dir: &Path, meta: &Meta) -> Result<Arc<rustls::ClientConfig>, Failure> {
    let builder = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?;
    let ca = dir.join("ca.pem");
    let builder = if meta.skip_tls_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(tls::SkipVerify(tls::provider())))
    } else if ca.exists() {
        builder.with_root_certificates(tls::roots(&ca).map_err(fail)?)
    } else {
        return Err(fail(format!(
            "context {:?} has TLS files but no ca.pem: recreate it with ca=FILE, or with skip-tls-verify=true",
            meta.name
        )));
    };
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let config = if cert.exists() && key.exists() {
        builder
            .with_client_auth_cert(
                tls::read_certs(&cert).map_err(fail)?,
                tls::read_key(&key).map_err(fail)?,
            )
            .map_err(|e| {
                fail(format!(
                    "context {:?}: cert.pem and key.pem do not match: {e}",
                    meta.name
                ))
            })?
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `--docker host=…,ca=…,cert=…,key=…,skip-tls-verify=…` → (host, skip, TLS files).
type DockerFlag = (String, bool, Vec<(&'static str, Vec<u8>)>);

fn parse_docker(spec: &str) -> Result<DockerFlag, Failure> {
    let (mut host, mut skip, mut files) = (None, false, Vec::new());
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(fail(format!(
                "--docker: {part:?} is not KEY=VALUE (keys: host, ca, cert, key, skip-tls-verify)"
            )));
        };
        let file = |name: &'static str| {
            std::fs::read(v)
                .map(|b| (name, b))
                .map_err(|e| fail(format!("--docker {k}={v}: read {v}: {e}")))
        };
        match k {
            "host" => host = Some(v.to_string()),
            "ca" => files.push(file("ca.pem")?),
            "cert" => files.push(file("cert.pem")?),
            "key" => files.push(file("key.pem")?),
            "skip-tls-verify" => {
                skip = v
                    .parse()
                    .map_err(|_| fail(format!("--docker skip-tls-verify={v}: use true or false")))?
            }
            _ => {
                return Err(fail(format!(
                    "--docker: unknown key {k:?} (keys: host, ca, cert, key, skip-tls-verify)"
                )))
            }
        }
    }
    let host = host.ok_or_else(|| fail("--docker needs host=URL (unix://…, tcp://…, ssh://…)"))?;
    let scheme_ok = ["unix://", "tcp://", "ssh://"]
        .iter()
        .any(|s| host.starts_with(s));
    if !scheme_ok {
        return Err(fail(format!(
            "--docker host={host}: use unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST"
        )));
    }
    if files.iter().any(|f| f.0 == "cert.pem") != files.iter().any(|f| f.0 == "key.pem") {
        return Err(fail("--docker: cert= and key= go together: give both"));
    }
    Ok((host, skip, files))
}

/// Runs a `context` command.
pub fn run(cmd: ContextCmd, g: &Globals) -> Result<u8, Failure> {
    let store = Store::new(g.config.as_deref());
    match cmd {
        ContextCmd::Create(a) => create(&store, g, a),
        ContextCmd::Ls(a) => ls(&store, g, a),
        ContextCmd::Use { name } => {
            if name != DEFAULT {
                store.meta(&name)?;
            }
            store.set_current(&name)?;
            println!("{name}");
            eprintln!("Current context is now {name:?}");
            if std::env::var_os("DOCKER_HOST").is_some() {
                eprintln!("Warning: DOCKER_HOST environment variable overrides the active context. To use {name:?}, either set the global --context flag, or unset DOCKER_HOST environment variable.");
            }
            Ok(0)
        }
        ContextCmd::Inspect(a) => inspect(&store, g, a),
        ContextCmd::Rm(a) => rm(&store, g, a),
        ContextCmd::Show => {
            println!("{}", store.current(g)?);
            Ok(0)
        }
        ContextCmd::Export { name, file } => export(&store, &name, file),
        ContextCmd::Import { name, file } => import(&store, &name, &file),
    }
}

fn create(store: &Store, g: &Globals, a: CreateArgs) -> Result<u8, Failure> {
    validate_name(&a.name)?;
    if store.exists(&a.name) {
        return Err(fail(format!("context {:?} already exists", a.name)));
    }
    // Without --docker, Docker copies the current context's endpoint.
    let (host, skip, files) = match &a.docker {
        Some(spec) => parse_docker(spec)?,
        None => match store.current(g)?.as_str() {
            DEFAULT => (Store::default_host(g), false, Vec::new()),
            cur => {
                let m = store.meta(cur)?;
                (m.host, m.skip_tls_verify, store.tls_files(cur)?)
            }
        },
    };
    let meta = Meta {
        name: a.name.clone(),
        description: a.description.filter(|d| !d.is_empty()),
        host,
        skip_tls_verify: skip,
    };
    store.save(&meta, &files)?;
    println!("{}", a.name);
    eprintln!("Successfully created context {:?}", a.name);
    Ok(0)
}

fn ls(store: &Store, g: &Globals, a: LsArgs) -> Result<u8, Failure> {
    let current = store.current(g)?;
    let mut rows = vec![json!({
        "Name": DEFAULT,
        "Description": DEFAULT_DESCRIPTION,
        "DockerEndpoint": Store::default_host(g),
        "Current": current == DEFAULT,
        "Error": "",
    })];
    for m in store.list()? {
        rows.push(json!({
            "Name": m.name,
            "Description": m.description.clone().unwrap_or_default(),
            "DockerEndpoint": m.host,
            "Current": current == m.name,
            "Error": "",
        }));
    }
    rows.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    if a.quiet {
        for r in &rows {
            println!("{}", r["Name"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let out = match a.format {
        Some(t) => format::list(
            &t,
            &rows,
            &[
                ("Name", "NAME"),
                ("Description", "DESCRIPTION"),
                ("DockerEndpoint", "DOCKER ENDPOINT"),
                ("Current", "CURRENT"),
                ("Error", "ERROR"),
            ],
        )
        .map_err(fail)?,
        None => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                    let star = if r["Current"] == json!(true) {
                        " *"
                    } else {
                        ""
                    };
                    vec![
                        format!("{}{star}", s("Name")),
                        s("Description"),
                        s("DockerEndpoint"),
                        s("Error"),
                    ]
                })
                .collect();
            format::table(&["NAME", "DESCRIPTION", "DOCKER ENDPOINT", "ERROR"], &table)
        }
    };
    print!("{out}");
    Ok(0)
}

/// What `context inspect` shows of one context.
fn inspect_doc(store: &Store, g: &Globals, name: &str) -> Result<Doc, Failure> {
    if name == DEFAULT {
        let mem = "<IN MEMORY>";
        let meta = Meta {
            name: DEFAULT.into(),
            description: None,
            host: Store::default_host(g),
            skip_tls_verify: false,
        };
        return Ok(Doc {
            tls_material: Some(json!({})),
            storage: Some(json!({"MetadataPath": mem, "TLSPath": mem})),
            ..meta.doc()
        });
    }
    let files: Vec<&str> = store.tls_files(name)?.iter().map(|f| f.0).collect();
    Ok(Doc {
        tls_material: Some(if files.is_empty() {
            json!({})
        } else {
            json!({ "docker": files })
        }),
        storage: Some(json!({
            "MetadataPath": store.meta_dir(name),
            "TLSPath": store.tls_dir(name),
        })),
        ..store.meta(name)?.doc()
    })
}

fn inspect(store: &Store, g: &Globals, a: InspectArgs) -> Result<u8, Failure> {
    let names = if a.names.is_empty() {
        vec![store.current(g)?]
    } else {
        a.names
    };
    let mut all = Vec::new();
    for n in &names {
        all.push(inspect_doc(store, g, n)?);
    }
    match a.format {
        Some(t) => {
            for d in &all {
                let v = serde_json::to_value(d).map_err(|e| fail(e.to_string()))?;
                println!("{}", format::render(&t, &v).map_err(fail)?);
            }
        }
        None => {
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut out,
                serde_json::ser::PrettyFormatter::with_indent(b"    "),
            );
            serde::Serialize::serialize(&all, &mut ser).map_err(|e| fail(e.to_string()))?;
            println!("{}", String::from_utf8_lossy(&out));
        }
    }
    Ok(0)
}

fn rm(store: &Store, g: &Globals, a: RmArgs) -> Result<u8, Failure> {
    let current = store.current(g).unwrap_or_else(|_| DEFAULT.into());
    let in_config = store.current_in_config()?;
    let mut errors = Vec::new();
    for name in &a.names {
        if name == DEFAULT {
            errors.push(format!("context {DEFAULT:?} cannot be removed"));
            continue;
        }
        if !store.exists(name) {
            errors.push(format!("context {name:?} does not exist"));
            continue;
        }
        if *name == current && !a.force {
            errors.push(format!(
                "context {name:?} is in use, set -f flag to force remove"
            ));
            continue;
        }
        store.remove(name);
        if in_config.as_deref() == Some(name) {
            store.set_current(DEFAULT)?;
        }
        println!("{name}");
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(fail(errors.join("\n")))
    }
}

/// Docker's export: a tar of `meta.json` and `tls/docker/*.pem`.
fn export(store: &Store, name: &str, file: Option<PathBuf>) -> Result<u8, Failure> {
    if name == DEFAULT {
        return Err(fail(
            "the default context is not stored: create one with `mini-docker context create` to export it",
        ));
    }
    let meta = store.meta(name)?;
    let files = store.tls_files(name)?;
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32, kind: tar::EntryType| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        tar.append_data(&mut h, path, data)
            .map_err(|e| fail(format!("write the archive: {e}")))
    };
    add(
        "meta.json",
        meta.to_json().as_bytes(),
        0o644,
        tar::EntryType::Regular,
    )?;
    if !files.is_empty() {
        add("tls", &[], 0o700, tar::EntryType::Directory)?;
        add("tls/docker", &[], 0o700, tar::EntryType::Directory)?;
        for (f, b) in &files {
            add(
                &format!("tls/docker/{f}"),
                b,
                0o600,
                tar::EntryType::Regular,
            )?;
        }
    }
    let bytes = tar
        .into_inner()
        .map_err(|e| fail(format!("write the archive: {e}")))?;
    let file = file.unwrap_or_else(|| PathBuf::from(format!("{name}.dockercontext")));
    if file.as_os_str() == "-" {
        std::io::stdout().write_all(&bytes)?;
    } else {
        write_atomic(&file, &bytes, 0o600)?;
        eprintln!("Written file {:?}", file.display().to_string());
    }
    Ok(0)
}

fn import(store: &Store, name: &str, file: &Path) -> Result<u8, Failure> {
    validate_name(name)?;
    if store.exists(name) {
        return Err(fail(format!("context {name:?} already exists")));
    }
    let mut bytes = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    read.map_err(|e| fail(format!("read {}: {e}", file.display())))?;
    // The docker CLI's export ends right after the last file's data: no
    // padding to the 512-byte block and no end-of-archive blocks (its tar
    // writer is never closed). Pad, so that a strict reader accepts it.
    bytes.resize(bytes.len().div_ceil(512) * 512 + 1024, 0);
    let bad = |why: String| fail(format!("{} is not a context export: {why}", file.display()));
    let mut meta = None;
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(&bytes[..]);
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(e.to_string()))?;
        if path == "meta.json" {
            let v: Value =
                serde_json::from_slice(&data).map_err(|e| bad(format!("meta.json: {e}")))?;
            meta = Some(Meta::from_json(&v, Path::new("meta.json"))?);
        } else if let Some(f) = path
            .strip_prefix("tls/docker/")
            .and_then(|f| TLS_FILES.iter().find(|t| **t == f))
        {
            files.push((*f, data));
        } else {
            return Err(bad(format!("unexpected entry {path:?}")));
        }
    }
    let mut meta = meta.ok_or_else(|| bad("no meta.json".into()))?;
    meta.name = name.to_string();
    store.save(&meta, &files)?;
    println!("{name}");
    eprintln!("Successfully imported context {name:?}");
    Ok(0)
}
