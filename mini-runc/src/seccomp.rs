//! Seccomp: the spec's syscall filter, compiled to BPF with `seccompiler`.
//!
//! An OCI profile (like Docker's default) has a default action and rules that
//! give other actions to some syscalls, possibly only for some argument values.
//! seccompiler builds filters with one "match" and one "mismatch" action, so a
//! profile becomes several filters, installed in order. The kernel runs every
//! installed filter and keeps the most restrictive answer (with ties going to
//! the most recently installed filter):
//!
//! 1. the *base* filter: a syscall a rule names (with that rule's argument
//!    conditions) is allowed, anything else gets the default action;
//! 2. one filter per other action: the syscalls of that action's rules get it,
//!    everything else is allowed.
//!
//! So `clone3 -> ERRNO(ENOSYS)` under a default of `ERRNO(EPERM)` yields
//! ENOSYS for clone3, EPERM for an unlisted syscall, and success for an
//! allowed one, as libseccomp would.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Why a seccomp profile cannot be compiled: the rule or filter at fault,
/// with seccompiler's reason as `source()` where it has one.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// An action seccompiler has no equivalent for (`SCMP_ACT_NOTIFY`).
    #[error("seccomp action {0:?} is not supported by mini-runc")]
    UnsupportedAction(LinuxSeccompAction),
    /// The profile's `architectures` leave this machine's out.
    #[error("seccomp profile has no x86_64 among its architectures {0}")]
    NoArchitecture(String),
    /// An `args[].index` beyond the six syscall arguments.
    #[error("seccomp argument index {0} is out of range")]
    ArgumentIndex(usize),
    /// An argument condition seccompiler refuses.
    #[error("seccomp condition")]
    Condition(#[source] seccompiler::BackendError),
    /// A rule (a syscall's conditions) seccompiler refuses.
    #[error("seccomp rule")]
    Rule(#[source] seccompiler::BackendError),
    /// The filter of the default action cannot be built.
    #[error("seccomp base filter")]
    BaseFilter(#[source] seccompiler::BackendError),
    /// The filter of one of the rules' actions cannot be built.
    #[error("seccomp filter")]
    Filter(#[source] seccompiler::BackendError),
}

impl SeccompError {
    /// The message followed by its cause (`seccomp rule: …`), for the
    /// places that carry errors as text.
    pub fn chain(&self) -> String {
        match std::error::Error::source(self) {
            Some(cause) => format!("{self}: {cause}"),
            None => self.to_string(),
        }
    }
}

/// The seccompiler action for an OCI action.
fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, SeccompError> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => {
            SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32))
        }
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(0)),
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        other => return Err(SeccompError::UnsupportedAction(other)),
    })
}

fn key(a: &SeccompAction) -> String {
    format!("{a:?}")
}

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// Compiles the profile into the BPF programs to install, in order.
pub fn compile(profile: &LinuxSeccomp) -> Result<Vec<BpfProgram>, SeccompError> {
    if let Some(archs) = profile.architectures() {
        let ok = archs.is_empty()
            || archs
                .iter()
                .any(|a| format!("{a:?}").to_ascii_lowercase().contains("x86_64"));
        if !ok {
            return Err(SeccompError::NoArchitecture(format!("{archs:?}")));
        }
    }
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut base: Rules = BTreeMap::new();
    let mut per_action: BTreeMap<String, (SeccompAction, Rules)> = BTreeMap::new();
    let mut base_uncond = std::collections::BTreeSet::new();
    let mut act_uncond: BTreeMap<String, std::collections::BTreeSet<i64>> = BTreeMap::new();
    for rule in profile.syscalls().clone().unwrap_or_default() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let mut conditions = Vec::new();
        for arg in rule.args().clone().unwrap_or_default() {
            let index = u8::try_from(arg.index())
                .ok()
                .filter(|i| *i < 6)
                .ok_or(SeccompError::ArgumentIndex(arg.index()))?;
            let (op, value) = match arg.op() {
                LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
                LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
                LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
                LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
                LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
                LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
                LinuxSeccompOperator::ScmpCmpMaskedEq => (
                    SeccompCmpOp::MaskedEq(arg.value()),
                    arg.value_two().unwrap_or(0),
                ),
            };
            conditions.push(
                SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
                    .map_err(SeccompError::Condition)?,
            );
        }
        for name in rule.names() {
            // Names of other architectures' syscalls are skipped, as libseccomp does.
            let Ok(sysno) = syscalls::Sysno::from_str(name) else {
                continue;
            };
            let nr = sysno.id() as i64;
            let make = || -> Result<Option<SeccompRule>, SeccompError> {
                if conditions.is_empty() {
                    Ok(None)
                } else {
                    SeccompRule::new(conditions.clone())
                        .map(Some)
                        .map_err(SeccompError::Rule)
                }
            };
            merge(&mut base, &mut base_uncond, nr, make()?);
            if act != SeccompAction::Allow {
                let entry = per_action
                    .entry(key(&act))
                    .or_insert_with(|| (act.clone(), BTreeMap::new()));
                let unc = act_uncond.entry(key(&act)).or_default();
                merge(&mut entry.1, unc, nr, make()?);
            }
        }
    }
    let mut programs = Vec::new();
    if default != SeccompAction::Allow {
        let f = SeccompFilter::new(base, default, SeccompAction::Allow, TargetArch::x86_64)
            .map_err(SeccompError::BaseFilter)?;
        programs.push(f.try_into().map_err(SeccompError::BaseFilter)?);
    }
    for (_, (act, rules)) in per_action {
        let f = SeccompFilter::new(rules, SeccompAction::Allow, act, TargetArch::x86_64)
            .map_err(SeccompError::Filter)?;
        programs.push(f.try_into().map_err(SeccompError::Filter)?);
    }
    Ok(programs)
}

/// Adds a rule for `nr`: unconditional rules win over conditional ones.
fn merge(
    rules: &mut Rules,
    unconditional: &mut std::collections::BTreeSet<i64>,
    nr: i64,
    rule: Option<SeccompRule>,
) {
    if unconditional.contains(&nr) {
        return;
    }
    match rule {
        None => {
            unconditional.insert(nr);
            rules.insert(nr, Vec::new());
        }
        Some(r) => rules.entry(nr).or_default().push(r),
    }
}

/// The actions a profile may name (mini-runc runs all but `SCMP_ACT_NOTIFY`).
const ACTIONS: [&str; 8] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
];

/// The comparison operators of `args[].op`.
const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// What a Docker profile's `includes`/`excludes` are checked against: the
/// container's capabilities, this machine's architecture (Go's name, as in
/// the profile: `amd64`) and the kernel version.
#[derive(Debug, Clone, Default)]
pub struct ProfileHost {
    /// The container's capabilities, `CAP_…`.
    pub caps: Vec<String>,
    /// Go's name of the architecture (`amd64`).
    pub arch: String,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

impl ProfileHost {
    /// This machine, with the container's capabilities.
    pub fn this_machine(caps: Vec<String>) -> ProfileHost {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        ProfileHost {
            caps,
            arch: match std::env::consts::ARCH {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                other => other,
            }
            .into(),
            kernel: kernel_version(&release).unwrap_or((0, 0)),
        }
    }
}

/// `"4.8"` or `"6.18.44-fc"` as (major, minor).
fn kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn strs(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Turns a profile in Docker's format (`docker run --security-opt
/// seccomp=profile.json`; Docker's own default is one) into the spec's
/// `linux.seccomp`, as dockerd does before it writes `config.json`:
///
/// - `architectures`, or else the `archMap` entry of this machine's
///   architecture with its sub-architectures;
/// - each rule of `syscalls` is kept only if its `includes` hold (every cap
///   in `caps` is the container's, this architecture is in `arches`, the
///   kernel is at least `minKernel`) and its `excludes` do not (no cap of
///   `caps`, not in `arches`);
/// - `name` (old profiles) becomes `names`; `comment`, `includes` and
///   `excludes` are dropped.
///
/// Errors name the field: `syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
pub fn from_docker_profile(text: &str, host: &ProfileHost) -> Result<serde_json::Value, String> {
    use serde_json::{json, Value};
    let p: Value = serde_json::from_str(text)
        .map_err(|e| format!("the seccomp profile is not valid JSON: {e}"))?;
    if !p.is_object() {
        return Err("the seccomp profile is not a JSON object".into());
    }
    let action = |v: &Value, field: &str| -> Result<String, String> {
        let a = v
            .as_str()
            .ok_or_else(|| format!("{field}: missing (one of {})", ACTIONS.join(", ")))?;
        if ACTIONS.contains(&a) {
            Ok(a.to_string())
        } else {
            Err(format!(
                "{field}: unknown action {a:?} (one of {})",
                ACTIONS.join(", ")
            ))
        }
    };
    let mut out = json!({ "defaultAction": action(&p["defaultAction"], "defaultAction")? });
    if let Some(n) = p.get("defaultErrnoRet").filter(|v| !v.is_null()) {
        out["defaultErrnoRet"] = json!(n.as_u64().ok_or("defaultErrnoRet: not a number")?);
    }
    let native = match host.arch.as_str() {
        "amd64" => "SCMP_ARCH_X86_64",
        "arm64" => "SCMP_ARCH_AARCH64",
        _ => "",
    };
    let mut arches = strs(&p["architectures"]);
    if arches.is_empty() {
        for (i, m) in p["archMap"].as_array().into_iter().flatten().enumerate() {
            let arch = m["architecture"]
                .as_str()
                .ok_or_else(|| format!("archMap[{i}].architecture: missing"))?;
            if arch == native {
                arches.push(arch.to_string());
                arches.extend(strs(&m["subArchitectures"]));
            }
        }
    }
    if !arches.is_empty() {
        out["architectures"] = json!(arches);
    }
    let holds = |cond: &Value, include: bool| -> Result<bool, String> {
        let caps = strs(&cond["caps"]);
        let arch_list = strs(&cond["arches"]);
        if include {
            let mut ok = caps.iter().all(|c| host.caps.contains(c))
                && (arch_list.is_empty() || arch_list.contains(&host.arch));
            if let Some(min) = cond["minKernel"].as_str() {
                let want = kernel_version(min)
                    .ok_or_else(|| format!("minKernel {min:?}: not a version"))?;
                ok &= host.kernel >= want;
            }
            Ok(ok)
        } else {
            Ok(caps.iter().any(|c| host.caps.contains(c)) || arch_list.contains(&host.arch))
        }
    };
    let mut rules = Vec::new();
    for (i, r) in p["syscalls"].as_array().into_iter().flatten().enumerate() {
        let field = |f: &str| format!("syscalls[{i}].{f}");
        let mut names = strs(&r["names"]);
        if let Some(n) = r["name"].as_str() {
            names.push(n.to_string());
        }
        if names.is_empty() {
            return Err(format!("{}: no syscall names", field("names")));
        }
        let act = action(&r["action"], &field("action"))?;
        if !holds(&r["includes"], true).map_err(|e| format!("{}: {e}", field("includes")))?
            || holds(&r["excludes"], false)?
        {
            continue;
        }
        let mut rule = json!({"names": names, "action": act});
        if let Some(e) = r.get("errnoRet").filter(|v| !v.is_null()) {
            rule["errnoRet"] = json!(e
                .as_u64()
                .ok_or_else(|| format!("{}: not a number", field("errnoRet")))?);
        }
        let mut args = Vec::new();
        for (j, a) in r["args"].as_array().into_iter().flatten().enumerate() {
            let f = |x: &str| format!("syscalls[{i}].args[{j}].{x}");
            let op = a["op"].as_str().unwrap_or("");
            if !OPS.contains(&op) {
                return Err(format!(
                    "{}: unknown operator {op:?} (one of {})",
                    f("op"),
                    OPS.join(", ")
                ));
            }
            let index = a["index"]
                .as_u64()
                .filter(|i| *i < 6)
                .ok_or_else(|| format!("{}: 0 to 5", f("index")))?;
            let value = a["value"]
                .as_u64()
                .ok_or_else(|| format!("{}: not a number", f("value")))?;
            let mut arg = json!({"index": index, "value": value, "op": op});
            if let Some(v2) = a["valueTwo"].as_u64() {
                arg["valueTwo"] = json!(v2);
            }
            args.push(arg);
        }
        if !args.is_empty() {
            rule["args"] = json!(args);
        }
        rules.push(rule);
    }
    out["syscalls"] = json!(rules);
    // What the runtime will do with it must work too.
    let parsed: LinuxSeccomp =
        serde_json::from_value(out.clone()).map_err(|e| format!("the seccomp profile: {e}"))?;
    compile(&parsed).map_err(|e| e.chain())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn docker_like_profile_compiles_to_two_filters() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[
                  {"names":["read","write","exit_group","not_a_syscall"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
                  {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}
                ]}"#,
        );
        let programs = compile(&p).unwrap();
        assert_eq!(programs.len(), 2, "a base filter and one for ERRNO(38)");
        assert!(programs.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn allow_by_default_needs_only_the_action_filters() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        assert_eq!(compile(&p).unwrap().len(), 1);
    }

    fn amd64(caps: &[&str]) -> ProfileHost {
        ProfileHost {
            caps: caps.iter().map(|c| c.to_string()).collect(),
            arch: "amd64".into(),
            kernel: (5, 10),
        }
    }

    #[test]
    fn docker_profiles_are_resolved_for_the_caps_arch_and_kernel() {
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
            "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]},
                       {"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],
            "syscalls":[
              {"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
              {"names":["mount","unshare"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
              {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"excludes":{"caps":["CAP_SYS_ADMIN"]}},
              {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64"]}},
              {"names":["set_tls"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}},
              {"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}},
              {"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":1,"comment":"old format",
               "args":[{"index":1,"value":448,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}
            ]}"#;
        let plain = from_docker_profile(text, &amd64(&[])).unwrap();
        let names = |v: &serde_json::Value| -> Vec<String> {
            v["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| strs(&r["names"]))
                .collect()
        };
        assert_eq!(
            plain["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        assert_eq!(
            names(&plain),
            ["read", "write", "clone3", "arch_prctl", "ptrace", "mkdir"]
        );
        let admin = from_docker_profile(text, &amd64(&["CAP_SYS_ADMIN"])).unwrap();
        assert_eq!(
            names(&admin),
            [
                "read",
                "write",
                "mount",
                "unshare",
                "arch_prctl",
                "ptrace",
                "mkdir"
            ]
        );
        let old = ProfileHost {
            kernel: (4, 4),
            ..amd64(&[])
        };
        assert!(!names(&from_docker_profile(text, &old).unwrap()).contains(&"ptrace".to_string()));
    }

    #[test]
    fn bad_docker_profiles_name_the_field() {
        let e = from_docker_profile("{not json", &amd64(&[])).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let e =
            from_docker_profile(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, &amd64(&[])).unwrap_err();
        assert!(
            e.starts_with("defaultAction: unknown action \"SCMP_ACT_NOPE\""),
            "{e}"
        );
        let e = from_docker_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["mkdir"],"action":"DENY"}]}"#,
            &amd64(&[]),
        )
        .unwrap_err();
        assert!(
            e.starts_with("syscalls[1].action: unknown action \"DENY\""),
            "{e}"
        );
        let e = from_docker_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            &amd64(&[]),
        )
        .unwrap_err();
        assert!(e.starts_with("syscalls[0].args[0].index"), "{e}");
    }

    #[test]
    fn unsupported_things_are_refused() {
        let p = profile(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#);
        assert!(matches!(
            compile(&p),
            Err(SeccompError::UnsupportedAction(
                LinuxSeccompAction::ScmpActNotify
            ))
        ));
        let p =
            profile(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64"]}"#);
        let e = compile(&p).unwrap_err();
        assert!(matches!(e, SeccompError::NoArchitecture(_)), "{e:?}");
        assert!(e.to_string().contains("x86_64"), "{e}");
    }
}
