//! From files on disk to one resolved project, in compose's order:
//!
//! 1. find the files (`-f`, or `compose.yaml`, `compose.yml`,
//!    `docker-compose.yaml`, `docker-compose.yml` in the current folder);
//! 2. read the variables: `.env` beside the first file (or `--env-file`),
//!    overridden by the shell's environment;
//! 3. per file: parse the YAML (remembering each key's line), interpolate
//!    every string, and check it against the typed model, so that an
//!    unknown key or a wrong type names the file, the line and the key path;
//! 4. merge the files in order (later wins; lists such as `ports` add up,
//!    `environment` and `labels` merge by name, `volumes` by target);
//! 5. resolve `extends`, fold `env_file` into `environment`, make relative
//!    paths absolute, and keep the services whose `profiles` are active;
//! 6. refuse, by key and file, what the engine cannot do yet.

use super::interp::{self, Vars};
use super::model::{Compose, Service};
use super::yaml;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The names compose looks for, in its order.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// What the command line says about the project.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-f` (in order).
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--env-file`.
    pub env_files: Vec<PathBuf>,
    /// `--profile` (and `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// The folder to search (the current one).
    pub cwd: PathBuf,
    /// The environment (the shell's, in real use).
    pub env: Vars,
}

/// A loaded project.
#[derive(Debug, Clone)]
pub struct Project {
    /// Its name (labels, container and network prefixes).
    pub name: String,
    /// The folder of the first file.
    pub working_dir: PathBuf,
    /// The files, absolute.
    pub config_files: Vec<PathBuf>,
    /// The model: only the active services.
    pub model: Compose,
    /// Things to tell the user (unset variables, `version`).
    pub warnings: Vec<String>,
}

/// Compose's project name rule: lower case, only `a-z0-9_-`, starting with
/// a letter or digit.
pub fn normalize_name(s: &str) -> String {
    let lower: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    lower
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

fn fail(m: impl Into<String>) -> String {
    m.into()
}

/// The short name of a file for messages (as given on the command line).
fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// Reads, interpolates and type-checks one file.
fn read_file(path: &Path, vars: &Vars, warnings: &mut Vec<String>) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("{}: {e}", shown(path))))?;
    let (mut v, lines) = yaml::load(&text)
        .map_err(|e| fail(format!("{}:{}: {}", shown(path), e.line, e.message)))?;
    if v.is_null() {
        v = Value::Object(Map::new());
    }
    if !v.is_object() {
        return Err(format!(
            "{}:1: a compose file is a mapping of top-level keys (services, networks, volumes)",
            shown(path)
        ));
    }
    let line_of = |p: &str| -> usize {
        let mut p = p.to_string();
        loop {
            if let Some(l) = lines.get(&p) {
                return *l;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return 1,
            }
        }
    };
    interp::interpolate_tree(&mut v, "", vars, warnings)
        .map_err(|(p, e)| format!("{}:{}: {p}: {e}", shown(path), line_of(&p)))?;
    // Drop the `x-` extension keys (at the top level and in services) before
    // the typed check: they are the user's own, for anchors.
    strip_extensions(&mut v);
    if let Err(e) = serde_path_to_error::deserialize::<_, Compose>(&v) {
        let mut p = e.path().to_string();
        let inner = e.inner().to_string();
        let msg = match inner.strip_prefix("unknown field `") {
            Some(rest) => {
                let key = rest.split('`').next().unwrap_or_default();
                if !p.ends_with(key) {
                    p = if p == "." || p.is_empty() {
                        key.to_string()
                    } else {
                        format!("{p}.{key}")
                    };
                }
                format!("unknown or unsupported key `{key}`: check its spelling; mini-docker compose refuses keys it does not implement rather than ignore them")
            }
            None => inner
                .replace(
                    "data did not match any variant of untagged enum",
                    "wrong form for",
                )
                .replace("invalid type: ", "wrong type: "),
        };
        return Err(format!("{}:{}: {p}: {msg}", shown(path), line_of(&p)));
    }
    // What the engine cannot do yet is refused here too, with its line.
    let refuse = |p: String, why: &str| Err(format!("{}:{}: {p}: {why}", shown(path), line_of(&p)));
    // Secrets and configs: file-based only (a read-only bind mount).
    for kind in ["secrets", "configs"] {
        for (name, sec) in v[kind].as_object().into_iter().flatten() {
            if sec.get("file").and_then(|f| f.as_str()).is_none() {
                return refuse(
                    format!("{kind}.{name}"),
                    &format!("only file-based {kind} are supported (`file: ./path`); environment, content and external {kind} need a swarm"),
                );
            }
        }
    }
    for (name, svc) in v["services"].as_object().into_iter().flatten() {
        if let Some(h) = svc.get("healthcheck") {
            if let Err(why) = super::plan::healthcheck(h) {
                return refuse(format!("services.{name}.healthcheck"), &why);
            }
        }
    }
    Ok(v)
}

fn strip_extensions(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !k.starts_with("x-"));
        if let Some(Value::Object(s)) = o.get_mut("services") {
            for svc in s.values_mut() {
                if let Some(o) = svc.as_object_mut() {
                    o.retain(|k, _| !k.starts_with("x-"));
                }
            }
        }
    }
}

/// `["A=1", "B"]` -> `{A: "1", B: null}`; a map stays.
fn list_to_map(v: &Value, sep: char) -> Value {
    match v {
        Value::Array(a) => Value::Object(
            a.iter()
                .filter_map(|x| x.as_str())
                .map(|s| match s.split_once(sep) {
                    Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
                    None => (s.to_string(), Value::Null),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `[a, b]` -> `{a: null, b: null}` (networks, depends_on).
fn names_to_map(v: &Value, empty: Value) -> Value {
    match v {
        Value::Array(a) => Value::Object(
            a.iter()
                .filter_map(|x| x.as_str())
                .map(|s| (s.to_string(), empty.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn target_of(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.len() {
                1 => parts[0].to_string(),
                _ => parts[1].to_string(),
            }
        }
        other => other["target"].as_str().unwrap_or_default().to_string(),
    }
}

/// Merges one service over another, as compose merges `-f` files and
/// `extends`.
pub fn merge_service(base: &Value, over: &Value) -> Value {
    let (Some(b), Some(o)) = (base.as_object(), over.as_object()) else {
        return over.clone();
    };
    let mut out = b.clone();
    for (k, ov) in o {
        let merged = match (k.as_str(), out.get(k)) {
            (_, None) => ov.clone(),
            ("environment" | "labels", Some(bv)) => {
                merge_maps(&list_to_map(bv, '='), &list_to_map(ov, '='))
            }
            ("networks", Some(bv)) => merge_maps(
                &names_to_map(bv, Value::Null),
                &names_to_map(ov, Value::Null),
            ),
            ("depends_on", Some(bv)) => {
                let dflt = serde_json::json!({"condition": "service_started"});
                merge_maps(&names_to_map(bv, dflt.clone()), &names_to_map(ov, dflt))
            }
            ("volumes", Some(Value::Array(bv))) => {
                let mut list: Vec<Value> = bv.clone();
                for x in ov.as_array().into_iter().flatten() {
                    let t = target_of(x);
                    list.retain(|y| target_of(y) != t);
                    list.push(x.clone());
                }
                Value::Array(list)
            }
            (
                "ports" | "expose" | "dns" | "cap_add" | "cap_drop" | "env_file" | "tmpfs"
                | "profiles" | "extra_hosts",
                Some(bv),
            ) if bv.is_array() || ov.is_array() => {
                let as_list = |v: &Value| match v {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                let mut list = as_list(bv);
                for x in as_list(ov) {
                    if !list.contains(&x) {
                        list.push(x);
                    }
                }
                Value::Array(list)
            }
            ("build", Some(bv)) => {
                let long = |v: &Value| match v {
                    Value::String(s) => serde_json::json!({ "context": s }),
                    other => other.clone(),
                };
                merge_maps(&long(bv), &long(ov))
            }
            (_, Some(bv)) if bv.is_object() && ov.is_object() => merge_maps(bv, ov),
            _ => ov.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

/// Maps merge key by key, recursively; anything else is replaced.
fn merge_maps(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let m = match out.get(k) {
                    Some(bv) if k == "args" => {
                        merge_maps(&list_to_map(bv, '='), &list_to_map(v, '='))
                    }
                    Some(bv) => merge_maps(bv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), m);
            }
            Value::Object(out)
        }
        (_, Value::Null) if !base.is_null() => base.clone(),
        _ => over.clone(),
    }
}

/// Merges a whole file over another.
pub fn merge_files(base: &mut Value, over: &Value) {
    let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) else {
        return;
    };
    for (k, ov) in o {
        match (k.as_str(), b.get_mut(k)) {
            ("services", Some(Value::Object(bs))) => {
                for (name, svc) in ov.as_object().into_iter().flatten() {
                    let m = match bs.get(name) {
                        Some(old) => merge_service(old, svc),
                        None => svc.clone(),
                    };
                    bs.insert(name.clone(), m);
                }
            }
            (_, Some(bv)) => *bv = merge_maps(bv, ov),
            (_, None) => {
                b.insert(k.clone(), ov.clone());
            }
        }
    }
}

/// Resolves `extends` of one service (recursively; a loop is an error).
fn resolve_extends(
    services: &Map<String, Value>,
    name: &str,
    file: &Path,
    vars: &Vars,
    warnings: &mut Vec<String>,
    seen: &mut Vec<String>,
) -> Result<Value, String> {
    let key = format!("{}#{name}", file.display());
    if seen.contains(&key) {
        return Err(format!(
            "{}: services.{name}.extends: a loop of extends ({})",
            shown(file),
            seen.join(" -> ")
        ));
    }
    seen.push(key);
    let svc = services
        .get(name)
        .cloned()
        .ok_or_else(|| format!("{}: extends: no service {name:?} in this file", shown(file)))?;
    let Some(ext) = svc.get("extends").cloned() else {
        return Ok(svc);
    };
    let (base_name, base_file) = match &ext {
        Value::String(s) => (s.clone(), None),
        other => (
            other["service"].as_str().unwrap_or_default().to_string(),
            other["file"].as_str().map(String::from),
        ),
    };
    let base = match base_file {
        None => resolve_extends(services, &base_name, file, vars, warnings, seen)?,
        Some(f) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(f);
            let v = read_file(&path, vars, warnings)?;
            let other = v["services"].as_object().cloned().unwrap_or_default();
            resolve_extends(&other, &base_name, &path, vars, warnings, seen)?
        }
    };
    let mut own = svc;
    if let Some(o) = own.as_object_mut() {
        o.remove("extends");
    }
    Ok(merge_service(&base, &own))
}

fn absolute(dir: &Path, p: &str) -> String {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Ok(home) = std::env::var("HOME") {
            return Path::new(&home).join(rest).display().to_string();
        }
    }
    let joined = dir.join(p);
    // Lexically clean `./` and `../` as compose prints them.
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// Folds `env_file` into `environment` and makes paths absolute.
fn normalize_service(name: &str, s: &mut Service, dir: &Path) -> Result<(), String> {
    use super::model::{Build, BuildLong, ListOrMap, Scalar, ServiceVolume};
    if let Some(files) = s.env_file.take() {
        let mut env = s
            .environment
            .as_ref()
            .map(|e| e.to_map('='))
            .unwrap_or_default();
        let mut from_files = std::collections::BTreeMap::new();
        for f in files.items() {
            let p = absolute(dir, &f);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("services.{name}.env_file: {p}: {e}"))?;
            let vars = interp::parse_env_file(&text)
                .map_err(|e| format!("services.{name}.env_file: {p}: {e}"))?;
            from_files.extend(vars);
        }
        for (k, v) in from_files {
            env.entry(k).or_insert(Some(v));
        }
        s.environment = Some(ListOrMap::Map(
            env.into_iter()
                .map(|(k, v)| (k, v.map(Scalar::Str)))
                .collect(),
        ));
    }
    if let Some(b) = s.build.take() {
        let mut long = match b {
            Build::Context(c) => BuildLong {
                context: Some(c),
                ..Default::default()
            },
            Build::Long(l) => l,
        };
        long.context = Some(absolute(dir, long.context.as_deref().unwrap_or(".")));
        s.build = Some(Build::Long(long));
    }
    for v in &mut s.volumes {
        match v {
            ServiceVolume::Short(spec) => {
                if let Some((src, rest)) = spec.split_once(':') {
                    if src.starts_with('.') || src.starts_with('/') || src.starts_with('~') {
                        *spec = format!("{}:{rest}", absolute(dir, src));
                    }
                }
            }
            ServiceVolume::Long(l) if l.kind == "bind" => {
                if let Some(src) = &l.source {
                    l.source = Some(absolute(dir, src));
                }
            }
            ServiceVolume::Long(_) => {}
        }
    }
    Ok(())
}

/// Refuses, by key, what the engine cannot do yet, and what does not hold
/// together (a dependency on a service that is not there).
fn check(model: &Compose, files: &str) -> Result<(), String> {
    let refuse = |key: String, why: &str| Err(format!("{files}: {key}: {why}"));
    for (name, s) in &model.services {
        if s.image.is_none() && s.build.is_none() {
            return refuse(
                format!("services.{name}"),
                "a service needs an `image` or a `build`",
            );
        }
        for (dep, d) in s
            .depends_on
            .as_ref()
            .map(|d| d.to_map())
            .unwrap_or_default()
        {
            match d.condition.as_str() {
                "service_started" | "service_completed_successfully" | "service_healthy" => {}
                other => {
                    return refuse(
                        format!("services.{name}.depends_on.{dep}.condition"),
                        &format!("unknown condition {other:?}: use service_started, service_healthy or service_completed_successfully"),
                    )
                }
            }
            if !model.services.contains_key(&dep) && d.required != Some(false) {
                return refuse(
                    format!("services.{name}.depends_on"),
                    &format!("depends on undefined service {dep:?}"),
                );
            }
        }
        for net in s
            .networks
            .as_ref()
            .map(|n| n.to_map())
            .unwrap_or_default()
            .keys()
        {
            if net != "default" && !model.networks.contains_key(net) {
                return refuse(
                    format!("services.{name}.networks.{net}"),
                    "network is not declared in the top-level `networks`",
                );
            }
        }
        if let Some(l) = &s.logging {
            if l.driver
                .as_deref()
                .is_some_and(|d| d != "json-file" && d != "none" && d != "local")
            {
                return refuse(
                    format!("services.{name}.logging.driver"),
                    "mini-dockerd has the json-file, local and none log drivers",
                );
            }
        }
    }
    Ok(())
}

/// Loads the project the options describe.
pub fn load(o: &Options) -> Result<Project, String> {
    let files: Vec<PathBuf> = if o.files.is_empty() {
        let found = DEFAULT_FILES
            .iter()
            .map(|n| o.cwd.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "no configuration file provided: not found (looked for {} in {})",
                    DEFAULT_FILES.join(", "),
                    o.cwd.display()
                )
            })?;
        vec![found]
    } else {
        o.files.iter().map(|f| o.cwd.join(f)).collect()
    };
    let working_dir = files[0]
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| o.cwd.clone());
    let working_dir = std::fs::canonicalize(&working_dir).unwrap_or(working_dir);
    // Variables: the env files, then the shell's environment over them.
    let mut vars = Vars::new();
    let env_files: Vec<PathBuf> = if o.env_files.is_empty() {
        let dot = working_dir.join(".env");
        if dot.is_file() {
            vec![dot]
        } else {
            vec![]
        }
    } else {
        o.env_files.iter().map(|f| o.cwd.join(f)).collect()
    };
    for f in &env_files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        vars.extend(interp::parse_env_file(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    vars.extend(o.env.clone());
    let mut warnings = Vec::new();
    let mut merged = Value::Object(Map::new());
    let mut extends_file = files[0].clone();
    for (i, f) in files.iter().enumerate() {
        let v = read_file(f, &vars, &mut warnings)?;
        if v.get("version").is_some() {
            warnings.push(format!("{}: `version` is obsolete", shown(f)));
        }
        if i == 0 {
            extends_file = f.clone();
        }
        merge_files(&mut merged, &v);
    }
    if let Some(o) = merged.as_object_mut() {
        o.remove("version");
    }
    // extends, then the typed model.
    let services = merged["services"].as_object().cloned().unwrap_or_default();
    let mut resolved = Map::new();
    for name in services.keys() {
        let v = resolve_extends(
            &services,
            name,
            &extends_file,
            &vars,
            &mut warnings,
            &mut Vec::new(),
        )?;
        resolved.insert(name.clone(), v);
    }
    merged["services"] = Value::Object(resolved);
    let files_shown = files
        .iter()
        .map(|f| shown(f))
        .collect::<Vec<_>>()
        .join(", ");
    let mut model: Compose = serde_path_to_error::deserialize(&merged)
        .map_err(|e| format!("{files_shown}: {}: {}", e.path(), e.inner()))?;
    // Profiles: a service with profiles runs only when one is active.
    let mut active: BTreeSet<String> = o.profiles.iter().cloned().collect();
    if let Some(p) = o.env.get("COMPOSE_PROFILES") {
        active.extend(p.split(',').filter(|s| !s.is_empty()).map(String::from));
    }
    model
        .services
        .retain(|_, s| s.profiles.is_empty() || s.profiles.iter().any(|p| active.contains(p)));
    for (name, s) in model.services.iter_mut() {
        normalize_service(name, s, &working_dir).map_err(|e| format!("{files_shown}: {e}"))?;
    }
    // `data:` alone is an empty definition (printed as `{}` by `config`).
    for v in model.volumes.values_mut() {
        v.get_or_insert_with(Default::default);
    }
    for n in model.networks.values_mut() {
        n.get_or_insert_with(Default::default);
    }
    check(&model, &files_shown)?;
    let name = o
        .project_name
        .clone()
        .or_else(|| o.env.get("COMPOSE_PROJECT_NAME").cloned())
        .or_else(|| model.name.clone())
        .unwrap_or_else(|| {
            working_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let name = normalize_name(&name);
    if name.is_empty() {
        return Err("the project name is empty: give one with -p or `name:`".into());
    }
    model.name = Some(name.clone());
    Ok(Project {
        name,
        working_dir,
        config_files: files
            .iter()
            .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
            .collect(),
        model,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Project, String> {
        let dir = tempfile::Builder::new()
            .prefix("My App.")
            .tempdir()
            .unwrap();
        for (n, t) in files {
            std::fs::write(dir.path().join(n), t).unwrap();
        }
        let o = Options {
            cwd: dir.path().to_path_buf(),
            files: files
                .iter()
                .filter(|(n, _)| n.ends_with(".yml") || n.ends_with(".yaml"))
                .map(|(n, _)| PathBuf::from(n))
                .take(
                    if files.len() > 1 && files[1].0.starts_with("compose.override") {
                        2
                    } else {
                        1
                    },
                )
                .collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        let r = load(&o);
        r.map_err(|e| e.replace(&dir.path().display().to_string(), "DIR"))
    }

    #[test]
    fn unknown_key_names_file_line_and_path() {
        let e = project(
            &[(
                "compose.yaml",
                "services:\n  web:\n    image: busybox\n    enviroment:\n      A: 1\n",
            )],
            &[],
        )
        .unwrap_err();
        assert_eq!(e, "DIR/compose.yaml:4: services.web.enviroment: unknown or unsupported key `enviroment`: check its spelling; mini-docker compose refuses keys it does not implement rather than ignore them");
    }

    #[test]
    fn wrong_type_names_file_line_and_path() {
        let e = project(
            &[(
                "compose.yaml",
                "services:\n  web:\n    image: busybox\n    init: {a: 1}\n",
            )],
            &[],
        )
        .unwrap_err();
        assert!(
            e.starts_with(
                "DIR/compose.yaml:4: services.web.init: wrong type: map, expected a boolean"
            ),
            "{e}"
        );
        let e = project(
            &[(
                "compose.yaml",
                "services:\n  web:\n    image: busybox\n    ports:\n      - 80\n      - true\n",
            )],
            &[],
        )
        .unwrap_err();
        assert!(
            e.starts_with("DIR/compose.yaml:6: services.web.ports[1]: wrong form for Port"),
            "{e}"
        );
    }

    #[test]
    fn healthcheck_and_service_healthy_are_accepted_and_planned() {
        let p = project(
            &[("compose.yaml", "services:\n  a:\n    image: busybox\n    healthcheck:\n      test: wget -q localhost\n      interval: 1m30s\n      retries: 2\n  b:\n    image: busybox\n    depends_on:\n      a:\n        condition: service_healthy\n")],
            &[],
        )
        .unwrap();
        let hc =
            super::super::plan::healthcheck(p.model.services["a"].healthcheck.as_ref().unwrap())
                .unwrap();
        assert_eq!(
            hc,
            serde_json::json!({"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 90_000_000_000i64, "Retries": 2})
        );
        let off = super::super::plan::healthcheck(&serde_json::json!({"disable": true})).unwrap();
        assert_eq!(off, serde_json::json!({"Test": ["NONE"]}));
        let bad =
            super::super::plan::healthcheck(&serde_json::json!({"test": ["PING"]})).unwrap_err();
        assert!(bad.contains("CMD, CMD-SHELL or NONE"), "{bad}");
    }

    #[test]
    fn env_file_interpolation_profiles_extends_and_name() {
        let p = project(
            &[
                ("compose.yaml", "services:\n  base:\n    image: busybox\n    environment: [A=1]\n  tool:\n    image: busybox\n    profiles: [tools]\n  web:\n    extends: base\n    command: httpd -p ${PORT:-80}\n    environment:\n      B: ${B:?set B}\n    volumes: [./www:/www:ro]\n"),
                (".env", "B=from-dotenv\nPORT=81\n"),
            ],
            &[("PORT", "8080")],
        )
        .unwrap();
        assert!(p.name.starts_with("myapp"), "{}", p.name);
        assert_eq!(p.model.services.keys().collect::<Vec<_>>(), ["base", "web"]);
        let web = &p.model.services["web"];
        assert_eq!(web.image.as_deref(), Some("busybox"));
        let env = web.environment.as_ref().unwrap().to_map('=');
        assert_eq!(env["A"].as_deref(), Some("1"));
        assert_eq!(env["B"].as_deref(), Some("from-dotenv"));
        assert_eq!(web.command.as_ref().unwrap().items(), ["httpd -p 8080"]);
        let e = project(
            &[(
                "compose.yaml",
                "services:\n  w:\n    image: ${IMG:?give IMG}\n",
            )],
            &[],
        )
        .unwrap_err();
        assert_eq!(e, "DIR/compose.yaml:3: services.w.image: required variable IMG is missing a value: give IMG");
    }

    #[test]
    fn override_files_merge_as_compose_does() {
        let p = project(
            &[
                ("compose.yaml", "services:\n  web:\n    image: busybox\n    ports: ['80']\n    environment: [A=1, B=2]\n    command: [a]\n"),
                ("compose.override.yaml", "services:\n  web:\n    ports: ['81']\n    environment: {B: 3}\n    command: [b]\n"),
            ],
            &[],
        )
        .unwrap();
        let web = &p.model.services["web"];
        assert_eq!(web.ports.len(), 2);
        let env = web.environment.as_ref().unwrap().to_map('=');
        assert_eq!(
            (env["A"].as_deref(), env["B"].as_deref()),
            (Some("1"), Some("3"))
        );
        assert_eq!(web.command.as_ref().unwrap().items(), ["b"]);
    }

    #[test]
    fn project_names_are_normalized() {
        assert_eq!(normalize_name("My App.x"), "myappx");
        assert_eq!(normalize_name("_-Web_1"), "web_1");
    }
}
