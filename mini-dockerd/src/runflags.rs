//! # More `run` flags, as edits of the OCI spec
//!
//! Each flag is one small change to `config.json`; the runtime does the rest:
//!
//! | flag | `HostConfig` | spec | the runtime then… |
//! | --- | --- | --- | --- |
//! | `--ulimit nofile=1024:2048` | `Ulimits` | `process.rlimits` | `setrlimit(2)` (`prlimit --nofile=1024:2048`) |
//! | `--cap-add NET_ADMIN`, `--cap-drop ALL` | `CapAdd`, `CapDrop` | `process.capabilities.*` | `capset(2)`, `prctl(PR_CAPBSET_DROP)` |
//! | `--security-opt no-new-privileges` | `SecurityOpt` | `process.noNewPrivileges` | `prctl(PR_SET_NO_NEW_PRIVS)` |
//! | `--security-opt seccomp=unconfined` | `SecurityOpt` | no `linux.seccomp` | no filter |
//! | `--security-opt seccomp=profile.json` | `SecurityOpt` | `linux.seccomp` from Docker's profile format | `seccomp(2)` |
//! | `--read-only` | `ReadonlyRootfs` | `root.readonly` | `mount -o remount,bind,ro /` |
//! | `--privileged` | `Privileged` | every capability (of the daemon's bounding set), no seccomp, no masked or read-only paths, `/sys` and the cgroup mount writable, every host device, devices `a rwm` | |
//! | `--device`, `--device-cgroup-rule`, `--group-add` | `Devices`, `DeviceCgroupRules`, `GroupAdd` | see [`super::security`] | `mknod`, `devices.allow` / eBPF, `setgroups(2)` |
//! | `--add-host h:1.2.3.4` | `ExtraHosts` | (a line of `/etc/hosts`) | |
//! | `--dns 10.0.0.2` | `Dns` | (the container's own `resolv.conf`; on a user network, where the embedded DNS forwards: [`super::dns`]) | |
//! | `--init` | `Init` | tini bind-mounted read-only at `/sbin/docker-init`, `process.args` = `["/sbin/docker-init", "--", CMD…]` | tini, as PID 1, reaps zombies and forwards signals |
//!
//! Invalid values are refused at `create` ([`check`]), as Docker does.

use super::{ApiError, Result};
use oci_spec::runtime::{Capabilities, Capability, PosixRlimitBuilder, PosixRlimitType, Spec};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::bad(m)
}

/// The rlimit names `--ulimit` knows (`nofile` → `RLIMIT_NOFILE`).
const RLIMITS: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `CAP_NET_ADMIN` for `NET_ADMIN` or `cap_net_admin`; `ALL` stays.
pub fn cap_name(n: &str) -> Result<String> {
    let up = n.to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    full.parse::<caps::Capability>()
        .map(|_| full.clone())
        .map_err(|_| bad(format!("unknown capability: {n:?}")))
}

/// "Every capability": those of the daemon's own bounding set (a daemon
/// that runs with fewer than the kernel knows cannot give more).
pub(crate) fn all_caps() -> Vec<String> {
    let have = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    let mut v: Vec<String> = have.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

/// The strings of a JSON array (others and non-strings skipped).
pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the flags of a `HostConfig` (at create).
pub fn check(hc: &Value) -> Result<()> {
    for c in strings(&hc["CapAdd"])
        .iter()
        .chain(&strings(&hc["CapDrop"]))
    {
        cap_name(c)?;
    }
    for u in hc["Ulimits"].as_array().into_iter().flatten() {
        let name = u["Name"].as_str().unwrap_or("");
        if !RLIMITS.contains(&name) {
            return Err(bad(format!("invalid ulimit type: {name}")));
        }
        let (soft, hard) = (
            u["Soft"].as_i64().unwrap_or(0),
            u["Hard"].as_i64().unwrap_or(0),
        );
        if soft > hard {
            return Err(bad(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
    }
    for o in strings(&hc["SecurityOpt"]) {
        if let SecurityOpt::SeccompProfile(text) = security_opt(&o)? {
            // The container's capabilities only choose rules; the format is checked here.
            super::security::seccomp_profile(&text, &[])?;
        }
    }
    super::security::check(hc)?;
    for h in strings(&hc["ExtraHosts"]) {
        let ok = h
            .split_once(':')
            .is_some_and(|(n, ip)| !n.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
        if !ok {
            return Err(bad(format!("invalid IP address in add-host: {h:?}")));
        }
    }
    super::restart::Policy::from_host_config(hc)?;
    Ok(())
}

/// What one `--security-opt` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `no-new-privileges[:true|=true]`.
    NoNewPrivileges(bool),
    /// `seccomp=unconfined`.
    SeccompUnconfined,
    /// `seccomp=<profile>`: the profile's text (the docker CLI reads the file
    /// and sends its content).
    SeccompProfile(String),
    /// `label=…`, `apparmor=…`: accepted, nothing to do here.
    Ignored,
}

/// Parses one `--security-opt`.
pub fn security_opt(o: &str) -> Result<SecurityOpt> {
    let (k, v) = o
        .split_once(['=', ':'])
        .map_or((o, None), |(k, v)| (k, Some(v)));
    match (k, v) {
        ("no-new-privileges", None | Some("true")) => Ok(SecurityOpt::NoNewPrivileges(true)),
        ("no-new-privileges", Some("false")) => Ok(SecurityOpt::NoNewPrivileges(false)),
        ("seccomp", Some("unconfined")) => Ok(SecurityOpt::SeccompUnconfined),
        ("seccomp", Some(text)) if text.trim_start().starts_with('{') => {
            Ok(SecurityOpt::SeccompProfile(text.to_string()))
        }
        ("seccomp", Some(path)) => Err(bad(format!(
            "invalid --security-opt seccomp={path}: give the profile's JSON text \
             (the docker CLI reads the file for you) or \"unconfined\""
        ))),
        ("label" | "apparmor", Some(_)) => Ok(SecurityOpt::Ignored),
        _ => Err(bad(format!("invalid --security-opt: {o:?}"))),
    }
}

/// The typed name of a capability (`CAP_NET_ADMIN` → [`Capability::NetAdmin`]).
pub(super) fn oci_capability(name: &str) -> Result<Capability> {
    name.strip_prefix("CAP_")
        .unwrap_or(name)
        .parse::<Capability>()
        .map_err(|_| bad(format!("unknown capability: {name:?}")))
}

/// The typed rlimit of `--ulimit NAME=…` (`nofile` → `RLIMIT_NOFILE`).
fn rlimit_type(name: &str) -> Result<PosixRlimitType> {
    format!("RLIMIT_{}", name.to_ascii_uppercase())
        .parse::<PosixRlimitType>()
        .map_err(|_| bad(format!("invalid ulimit type: {name}")))
}

/// Edits the spec for the flags of `hc`.
pub fn apply(hc: &Value, spec: &mut Spec) -> Result<()> {
    check(hc)?;
    let privileged = hc["Privileged"].as_bool().unwrap_or(false);
    let cap_flags =
        privileged || !strings(&hc["CapAdd"]).is_empty() || !strings(&hc["CapDrop"]).is_empty();
    let mut process = spec.process().clone().unwrap_or_default();
    let mut capabilities = process.capabilities().clone().unwrap_or_default();
    // Capabilities: the default set, `--cap-drop` then `--cap-add` (ALL first).
    let mut set: Vec<String> = capabilities
        .bounding()
        .iter()
        .flatten()
        .map(|c| {
            serde_json::to_value(c)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    // In Docker's order, so that `--cap-add` extends the list the way it did.
    set.sort_by_key(|c| {
        super::spec::DOCKER_CAPABILITIES
            .iter()
            .position(|d| oci_capability(c).is_ok_and(|c| c == *d))
            .unwrap_or(usize::MAX)
    });
    let drops: Vec<String> = strings(&hc["CapDrop"])
        .iter()
        .map(|c| cap_name(c))
        .collect::<Result<_>>()?;
    let adds: Vec<String> = strings(&hc["CapAdd"])
        .iter()
        .map(|c| cap_name(c))
        .collect::<Result<_>>()?;
    if drops.iter().any(|d| d == "ALL") {
        set.clear();
    }
    set.retain(|c| !drops.contains(c));
    if privileged || adds.iter().any(|a| a == "ALL") {
        set = all_caps();
    }
    for a in adds.iter().filter(|a| *a != "ALL") {
        if !set.contains(a) {
            set.push(a.clone());
        }
    }
    if cap_flags {
        let typed: Capabilities = set.iter().filter_map(|c| oci_capability(c).ok()).collect();
        capabilities.set_bounding(Some(typed.clone()));
        capabilities.set_effective(Some(typed.clone()));
        capabilities.set_permitted(Some(typed));
        process.set_capabilities(Some(capabilities));
    }
    // rlimits.
    for u in hc["Ulimits"].as_array().into_iter().flatten() {
        let typ = rlimit_type(u["Name"].as_str().unwrap_or(""))?;
        let entry = PosixRlimitBuilder::default()
            .typ(typ)
            .soft(u["Soft"].as_u64().unwrap_or(0))
            .hard(u["Hard"].as_u64().unwrap_or(0))
            .build()
            .expect("an rlimit with its three fields is valid");
        let mut list = process.rlimits().clone().unwrap_or_default();
        list.retain(|r| r.typ() != typ);
        list.push(entry);
        process.set_rlimits(Some(list));
    }
    let mut linux = spec.linux().clone().unwrap_or_default();
    // Seccomp: Docker's default resolved for these capabilities, unless a
    // profile or `unconfined` is given.
    let mut profile_given = false;
    for o in strings(&hc["SecurityOpt"]) {
        match security_opt(&o)? {
            SecurityOpt::NoNewPrivileges(on) => {
                process.set_no_new_privileges(Some(on));
            }
            SecurityOpt::SeccompUnconfined => {
                profile_given = true;
                linux.set_seccomp(None);
            }
            SecurityOpt::SeccompProfile(text) => {
                profile_given = true;
                linux.set_seccomp(Some(super::security::seccomp_profile(&text, &set)?));
            }
            SecurityOpt::Ignored => {}
        }
    }
    spec.set_process(Some(process));
    if cap_flags && !profile_given {
        super::security::extend_default_seccomp(&mut linux, &set)?;
    }
    spec.set_linux(Some(linux));
    super::security::apply_devices(hc, spec)?;
    if hc["ReadonlyRootfs"].as_bool().unwrap_or(false) {
        if let Some(root) = spec.root_mut() {
            root.set_readonly(Some(true));
        }
    }
    if privileged {
        if let Some(l) = spec.linux_mut() {
            l.set_seccomp(None);
            l.set_masked_paths(Some(vec![]));
            l.set_readonly_paths(Some(vec![]));
        }
        for m in spec.mounts_mut().iter_mut().flatten() {
            let sys = m.destination() == Path::new("/sys")
                || m.destination() == Path::new("/sys/fs/cgroup");
            if let Some(o) = m.options_mut().as_mut().filter(|_| sys) {
                o.retain(|x| x != "ro");
            }
        }
    }
    Ok(())
}

/// The text of a container's `resolv.conf` for `--dns`, `--dns-search`,
/// `--dns-option`.
pub fn resolv_conf(dns: &[String], search: &[String], opts: &[String]) -> String {
    let mut s = String::new();
    for d in dns {
        s.push_str(&format!("nameserver {d}\n"));
    }
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !opts.is_empty() {
        s.push_str(&format!("options {}\n", opts.join(" ")));
    }
    s
}

/// Where `--init` puts the init inside the container, as Docker does.
pub const INIT_TARGET: &str = "/sbin/docker-init";

/// The init binary of `--init` containers: `configured` (daemon.json
/// `init-path` / `--init-path`), else `docker-init` then `tini-static` in
/// one of `path`'s directories. It must be a static binary: it runs inside
/// any image.
pub fn find_init(configured: Option<&Path>, path: &str) -> Result<PathBuf> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ApiError::bad(format!(
                "--init: the daemon's init-path {} is not a file: install tini (tini-static) there or change init-path in daemon.json / --init-path",
                p.display()
            )))
        };
    }
    ["docker-init", "tini-static"]
        .iter()
        .flat_map(|name| std::env::split_paths(path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            ApiError::bad(
                "--init: no init binary found (docker-init or tini-static on the daemon's PATH): install tini (apt-get install tini) or set daemon.json init-path / --init-path",
            )
        })
}

/// `--init` on a spec: the init, bind-mounted read-only at [`INIT_TARGET`],
/// becomes the process's first argument and runs the command as its child
/// (`docker-init -- CMD…`). As PID 1 it reaps every orphan that exits
/// (zombies) and passes the signals it gets to the command.
pub fn apply_init(init: &Path, spec: &mut Spec) {
    if let Some(process) = spec.process_mut().as_mut() {
        let mut args = process.args().clone().unwrap_or_default();
        args.insert(0, "--".into());
        args.insert(0, INIT_TARGET.into());
        process.set_args(Some(args));
    }
    let source = init.display().to_string();
    let m = crate::spec::mount(INIT_TARGET, "bind", &source, &["rbind", "ro", "rprivate"]);
    spec.mounts_mut().get_or_insert_with(Vec::new).push(m);
}

impl super::Engine {
    /// `HostConfig.Init` (`run --init`, compose `init: true`): see [`apply_init`].
    pub fn apply_init(&self, c: &super::Container, spec: &mut Spec) -> Result<()> {
        if c.host_config.init != Some(true) {
            return Ok(());
        }
        let init = find_init(
            self.opts.init_path.as_deref(),
            &std::env::var("PATH").unwrap_or_default(),
        )?;
        apply_init(&init, spec);
        Ok(())
    }

    /// [`check`], for `create`.
    pub fn check_run_flags(&self, hc: &Value) -> Result<()> {
        check(hc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::to_json;
    use serde_json::json;

    fn spec() -> Spec {
        crate::spec::default_spec()
    }

    #[test]
    fn caps_drop_then_add() {
        let mut s = spec();
        let hc = json!({"CapDrop": ["ALL"], "CapAdd": ["net_admin", "CAP_CHOWN"]});
        apply(&hc, &mut s).unwrap();
        let s = to_json(&s);
        assert_eq!(
            s["process"]["capabilities"]["bounding"],
            json!(["CAP_CHOWN", "CAP_NET_ADMIN"])
        );
        assert_eq!(
            s["process"]["capabilities"]["effective"],
            s["process"]["capabilities"]["permitted"]
        );
        let mut s = spec();
        apply(&json!({"CapDrop": ["NET_RAW"]}), &mut s).unwrap();
        let s = to_json(&s);
        let b = strings(&s["process"]["capabilities"]["bounding"]);
        assert_eq!(b.len(), 13);
        assert!(!b.contains(&"CAP_NET_RAW".to_string()));
        assert!(check(&json!({"CapAdd": ["FLY"]})).is_err());
    }

    #[test]
    fn ulimits_nnp_readonly_privileged() {
        let mut s = spec();
        let hc = json!({
            "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
            "SecurityOpt": ["no-new-privileges"],
            "ReadonlyRootfs": true,
            "Privileged": true,
        });
        apply(&hc, &mut s).unwrap();
        let s = to_json(&s);
        assert_eq!(
            s["process"]["rlimits"],
            json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}])
        );
        assert_eq!(s["process"]["noNewPrivileges"], true);
        assert_eq!(s["root"]["readonly"], true);
        assert!(s["linux"].get("seccomp").is_none());
        assert!(strings(&s["process"]["capabilities"]["bounding"]).len() > 30);
        assert!(check(&json!({"Ulimits": [{"Name": "nofile", "Soft": 2, "Hard": 1}]})).is_err());
        assert!(check(&json!({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]})).is_err());
        assert!(check(&json!({"SecurityOpt": ["bogus"]})).is_err());
        assert!(check(&json!({"ExtraHosts": ["h:not-an-ip"]})).is_err());
    }

    #[test]
    fn dns_resolv_conf() {
        assert_eq!(
            resolv_conf(
                &["10.0.0.2".into()],
                &["example.test".into()],
                &["ndots:2".into()]
            ),
            "nameserver 10.0.0.2\nsearch example.test\noptions ndots:2\n"
        );
    }
}
