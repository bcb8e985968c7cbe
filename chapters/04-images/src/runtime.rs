//! From image config to a process: Docker's rules for combining them.
//!
//! The config's `config` object holds the defaults a container starts with.
//! `docker run` arguments override them like this (moby `daemon/create.go`,
//! `runconfig`):
//!
//! | field | rule |
//! | --- | --- |
//! | Entrypoint | `--entrypoint X` replaces it; `--entrypoint ""` clears it |
//! | Cmd | arguments after the image name replace it; **`--entrypoint` also drops the image's Cmd** |
//! | argv | Entrypoint ++ Cmd; empty is an error ("no command specified") |
//! | Env | image Env, then each `-e K=V` replaces the same K or is added; PATH gets a default if absent |
//! | WorkingDir | `-w` replaces it; default `/`; must be absolute |
//! | User | `-u` replaces it; default root |
//! | ExposedPorts, Volumes | image's and user's together |
//! | Labels | image's, then `--label` replaces the same key |
//!
//! Some values are refused because they are attacks, not mistakes: a volume
//! `""` or with `..` (moby refuses `Volumes: {"":{}}` and `"/../.."`), and a
//! working directory or volume under `/proc/self/fd/` (CVE-2024-21626: a
//! leaked fd as cwd escapes the root).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use oci_spec::image::Config;

use crate::Error;

/// Docker's default PATH for Linux containers.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the user gave on the command line (`docker run` flags).
#[derive(Debug, Clone, Default)]
pub struct RunOverrides {
    /// `--entrypoint`: `Some(vec![])` for `--entrypoint ""`.
    pub entrypoint: Option<Vec<String>>,
    /// The arguments after the image name.
    pub cmd: Vec<String>,
    /// `-e K=V`.
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-v` destinations and `--expose`d volumes.
    pub volumes: Vec<String>,
    /// `--expose`.
    pub expose: Vec<String>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
}

/// What the runtime needs to start the process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuntimeConfig {
    /// argv.
    pub args: Vec<String>,
    /// Environment, `K=V`, in order.
    pub env: Vec<String>,
    /// Working directory inside the container (absolute, clean).
    pub cwd: String,
    /// `user[:group]`, empty for root.
    pub user: String,
    /// `port/proto`.
    pub exposed_ports: BTreeSet<String>,
    /// Absolute paths that get a volume.
    pub volumes: BTreeSet<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The signal `docker stop` sends.
    pub stop_signal: Option<String>,
}

fn refuse(field: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Is this a path to a process's fd directory (`/proc/self/fd/3`,
/// `/proc/1/fd/3`, `/proc/thread-self/fd/3`)?
fn is_proc_fd(clean: &str) -> bool {
    let parts: Vec<&str> = clean.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["proc", who, "fd", ..] | ["proc", who, "task", _, "fd", ..] => {
            *who == "self" || *who == "thread-self" || who.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// Clean an absolute path lexically (`/a/./b/../c` -> `/a/c`), as Go's
/// `filepath.Clean` does for `WORKDIR`.
fn clean_abs(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n.to_str().unwrap_or("")),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    format!("/{}", out.join("/"))
}

/// Check a working directory: absolute, cleaned, not a /proc fd path.
pub fn check_workdir(w: &str) -> Result<String, Error> {
    if !w.starts_with('/') {
        return Err(refuse(
            "WorkingDir",
            w,
            "the working directory must be an absolute path",
        ));
    }
    if w.contains('\0') {
        return Err(refuse("WorkingDir", w, "contains a NUL byte"));
    }
    let clean = clean_abs(w);
    if is_proc_fd(&clean) {
        return Err(refuse(
            "WorkingDir",
            w,
            "a /proc/<pid>/fd path as working directory can escape the container (CVE-2024-21626)",
        ));
    }
    Ok(clean)
}

/// Check a volume destination: non-empty, absolute, no `..`, not /proc fds.
pub fn check_volume(v: &str) -> Result<String, Error> {
    if v.is_empty() {
        return Err(refuse("Volumes", v, "an empty volume path is not allowed"));
    }
    if !v.starts_with('/') {
        return Err(refuse("Volumes", v, "a volume path must be absolute"));
    }
    if v.contains('\0') {
        return Err(refuse("Volumes", v, "contains a NUL byte"));
    }
    if Path::new(v).components().any(|c| c == Component::ParentDir) {
        return Err(refuse("Volumes", v, "a volume path must not contain `..`"));
    }
    let clean = clean_abs(v);
    if clean == "/" {
        return Err(refuse("Volumes", v, "a volume cannot be mounted over `/`"));
    }
    if is_proc_fd(&clean) {
        return Err(refuse(
            "Volumes",
            v,
            "a /proc/<pid>/fd path can escape the container",
        ));
    }
    Ok(clean)
}

/// Check a port: `80`, `80/tcp`, `53/udp`, `1000-1010/tcp`; normalized with
/// `/tcp` as Docker does.
pub fn check_port(p: &str) -> Result<String, Error> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(refuse(
            "ExposedPorts",
            p,
            "the protocol must be tcp, udp or sctp",
        ));
    }
    let ok = |s: &str| s.parse::<u16>().is_ok_and(|n| n > 0);
    let valid = match num.split_once('-') {
        Some((a, b)) => ok(a) && ok(b) && a.parse::<u16>().ok() <= b.parse::<u16>().ok(),
        None => ok(num),
    };
    if !valid {
        return Err(refuse(
            "ExposedPorts",
            p,
            "the port must be 1-65535 (or a range a-b)",
        ));
    }
    Ok(format!("{num}/{proto}"))
}

/// Check a user spec: `name`, `uid`, `name:group`, `uid:gid`.
pub fn check_user(u: &str) -> Result<(), Error> {
    if u.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = u.split(':').collect();
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'))
    };
    if parts.len() > 2 || !parts.iter().all(|p| ok(p)) {
        return Err(refuse(
            "User",
            u,
            "expected user[:group] with names or numeric ids",
        ));
    }
    Ok(())
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map(|(k, _)| k).unwrap_or(e)
}

fn check_env(e: &str, field: &'static str) -> Result<(), Error> {
    match e.split_once('=') {
        Some((k, _)) if !k.is_empty() && !k.contains('\0') => Ok(()),
        _ => Err(refuse(field, e, "environment entries are KEY=VALUE")),
    }
}

/// Combine the image's config with the user's overrides, Docker's way.
pub fn runtime_config(image: Option<&Config>, o: &RunOverrides) -> Result<RuntimeConfig, Error> {
    let img = image.cloned().unwrap_or_default();
    // Entrypoint and Cmd.
    let (entrypoint, cmd) = match &o.entrypoint {
        Some(ep) => (ep.clone(), o.cmd.clone()),
        None => (
            img.entrypoint().clone().unwrap_or_default(),
            if o.cmd.is_empty() {
                img.cmd().clone().unwrap_or_default()
            } else {
                o.cmd.clone()
            },
        ),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(refuse(
            "Cmd",
            "",
            "no command specified: the image has no Entrypoint or Cmd, give one after the image name",
        ));
    }
    // Env: image first, user entries replace by key.
    let mut env: Vec<String> = Vec::new();
    for e in img.env().clone().unwrap_or_default() {
        check_env(&e, "Env")?;
        env.push(e);
    }
    for e in &o.env {
        check_env(e, "Env")?;
        match env.iter_mut().find(|x| env_key(x) == env_key(e)) {
            Some(x) => *x = e.clone(),
            None => env.push(e.clone()),
        }
    }
    if !env.iter().any(|e| env_key(e) == "PATH") {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    let cwd = match o.workdir.as_deref().or(img.working_dir().as_deref()) {
        None | Some("") => "/".to_string(),
        Some(w) => check_workdir(w)?,
    };
    let user = o
        .user
        .clone()
        .or_else(|| img.user().clone())
        .unwrap_or_default();
    check_user(&user)?;
    let mut exposed_ports = BTreeSet::new();
    for p in img
        .exposed_ports()
        .clone()
        .unwrap_or_default()
        .iter()
        .chain(&o.expose)
    {
        exposed_ports.insert(check_port(p)?);
    }
    let mut volumes = BTreeSet::new();
    for v in img
        .volumes()
        .clone()
        .unwrap_or_default()
        .iter()
        .chain(&o.volumes)
    {
        volumes.insert(check_volume(v)?);
    }
    let mut labels: BTreeMap<String, String> = img
        .labels()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(o.labels.clone());
    Ok(RuntimeConfig {
        args,
        env,
        cwd,
        user,
        exposed_ports,
        volumes,
        labels,
        stop_signal: img.stop_signal().clone(),
    })
}

/// Resolve `user[:group]` to numeric ids with the image's `/etc/passwd` and
/// `/etc/group` contents (as runc does inside the rootfs). A numeric user
/// missing from passwd gets gid 0... unless a group is given.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32), Error> {
    if spec.is_empty() {
        return Ok((0, 0));
    }
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entries = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
            .filter(|f| f.len() >= 3)
            .collect()
    };
    let pw = entries(passwd);
    let (uid, mut gid) = match u.parse::<u32>() {
        Ok(uid) => (
            uid,
            pw.iter()
                .find(|f| f[2] == u)
                .and_then(|f| f.get(3)?.parse().ok())
                .unwrap_or(0),
        ),
        Err(_) => {
            let f = pw.iter().find(|f| f[0] == u).ok_or_else(|| {
                refuse(
                    "User",
                    spec,
                    format!("no user `{u}` in the image's /etc/passwd"),
                )
            })?;
            let uid = f[2]
                .parse()
                .map_err(|_| refuse("User", spec, "bad uid in /etc/passwd"))?;
            let gid = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(0);
            (uid, gid)
        }
    };
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => entries(group)
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    refuse(
                        "User",
                        spec,
                        format!("no group `{g}` in the image's /etc/group"),
                    )
                })?,
        };
    }
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    fn over() -> RunOverrides {
        RunOverrides::default()
    }

    #[test]
    fn entrypoint_and_cmd_follow_docker() {
        let c = cfg(r#"{"Entrypoint":["/bin/ep"],"Cmd":["default"]}"#);
        // docker run img
        assert_eq!(
            runtime_config(Some(&c), &over()).unwrap().args,
            ["/bin/ep", "default"]
        );
        // docker run img x y
        let o = RunOverrides {
            cmd: vec!["x".into(), "y".into()],
            ..over()
        };
        assert_eq!(
            runtime_config(Some(&c), &o).unwrap().args,
            ["/bin/ep", "x", "y"]
        );
        // docker run --entrypoint /bin/sh img   (the image Cmd is dropped)
        let o = RunOverrides {
            entrypoint: Some(vec!["/bin/sh".into()]),
            ..over()
        };
        assert_eq!(runtime_config(Some(&c), &o).unwrap().args, ["/bin/sh"]);
        // docker run --entrypoint "" img ls
        let o = RunOverrides {
            entrypoint: Some(vec![]),
            cmd: vec!["ls".into()],
            ..over()
        };
        assert_eq!(runtime_config(Some(&c), &o).unwrap().args, ["ls"]);
        // nothing at all
        let e = runtime_config(Some(&cfg("{}")), &over()).unwrap_err();
        assert!(e.to_string().contains("no command specified"), "{e}");
    }

    #[test]
    fn env_merges_by_key_and_gets_a_path() {
        let c = cfg(r#"{"Env":["A=1","B=2"],"Cmd":["x"]}"#);
        let o = RunOverrides {
            env: vec!["B=3".into(), "C=4".into()],
            ..over()
        };
        let r = runtime_config(Some(&c), &o).unwrap();
        assert_eq!(
            r.env,
            [
                format!("PATH={DEFAULT_PATH}"),
                "A=1".into(),
                "B=3".into(),
                "C=4".into()
            ]
        );
        let c = cfg(r#"{"Env":["PATH=/bin"],"Cmd":["x"]}"#);
        assert_eq!(
            runtime_config(Some(&c), &over()).unwrap().env,
            ["PATH=/bin"]
        );
        let o = RunOverrides {
            env: vec!["=x".into()],
            ..over()
        };
        assert!(runtime_config(Some(&c), &o).is_err());
    }

    #[test]
    fn workdir_user_ports_labels() {
        let c = cfg(
            r#"{"Cmd":["x"],"WorkingDir":"/srv/./app/","User":"nobody","ExposedPorts":{"80/tcp":{}},"Labels":{"a":"1","b":"2"}}"#,
        );
        let o = RunOverrides {
            expose: vec!["53/udp".into(), "8080".into()],
            labels: [("b".to_string(), "3".to_string())].into(),
            ..over()
        };
        let r = runtime_config(Some(&c), &o).unwrap();
        assert_eq!(r.cwd, "/srv/app");
        assert_eq!(r.user, "nobody");
        assert_eq!(
            r.exposed_ports.iter().collect::<Vec<_>>(),
            ["53/udp", "80/tcp", "8080/tcp"]
        );
        assert_eq!(r.labels["b"], "3");
        let o = RunOverrides {
            workdir: Some("/tmp".into()),
            user: Some("1000:1000".into()),
            ..over()
        };
        let r = runtime_config(Some(&c), &o).unwrap();
        assert_eq!((r.cwd.as_str(), r.user.as_str()), ("/tmp", "1000:1000"));
        assert_eq!(
            runtime_config(Some(&cfg(r#"{"Cmd":["x"]}"#)), &over())
                .unwrap()
                .cwd,
            "/"
        );
    }

    #[test]
    fn hostile_volumes_and_workdirs_are_refused() {
        for v in [
            r#"{"":{}}"#,
            r#"{"/../..":{}}"#,
            r#"{"relative":{}}"#,
            r#"{"/a/../../etc":{}}"#,
            r#"{"/proc/self/fd/5":{}}"#,
            r#"{"/":{}}"#,
        ] {
            let c = cfg(&format!(r#"{{"Cmd":["x"],"Volumes":{v}}}"#));
            let e = runtime_config(Some(&c), &over()).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidConfig {
                        field: "Volumes",
                        ..
                    }
                ),
                "{v}: {e}"
            );
        }
        for w in [
            "/proc/self/fd/7",
            "/proc/thread-self/fd/7",
            "/proc/1/fd/7",
            "/x/../proc/self/fd/3",
            "relative/dir",
        ] {
            let c = cfg(&format!(r#"{{"Cmd":["x"],"WorkingDir":"{w}"}}"#));
            let e = runtime_config(Some(&c), &over()).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidConfig {
                        field: "WorkingDir",
                        ..
                    }
                ),
                "{w}: {e}"
            );
        }
        let c = cfg(r#"{"Cmd":["x"],"ExposedPorts":{"99999/tcp":{}}}"#);
        assert!(runtime_config(Some(&c), &over()).is_err());
        let c = cfg(r#"{"Cmd":["x"],"User":"a:b:c"}"#);
        assert!(runtime_config(Some(&c), &over()).is_err());
    }

    #[test]
    fn users_resolve_against_the_image() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34::/var/www:/bin/false\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(resolve_user("", passwd, group).unwrap(), (0, 0));
        assert_eq!(resolve_user("www", passwd, group).unwrap(), (33, 34));
        assert_eq!(resolve_user("www:staff", passwd, group).unwrap(), (33, 50));
        assert_eq!(resolve_user("1000:7", passwd, group).unwrap(), (1000, 7));
        assert!(resolve_user("nobody", passwd, group).is_err());
    }
}
