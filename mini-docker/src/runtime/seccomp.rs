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

/// The seccompiler action for an OCI action.
fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, String> {
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
        other => {
            return Err(format!(
                "seccomp action {other:?} is not supported by mini-runc"
            ))
        }
    })
}

fn key(a: &SeccompAction) -> String {
    format!("{a:?}")
}

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// Compiles the profile into the BPF programs to install, in order.
pub fn compile(profile: &LinuxSeccomp) -> Result<Vec<BpfProgram>, String> {
    if let Some(archs) = profile.architectures() {
        let ok = archs.is_empty()
            || archs
                .iter()
                .any(|a| format!("{a:?}").to_ascii_lowercase().contains("x86_64"));
        if !ok {
            return Err(format!(
                "seccomp profile has no x86_64 among its architectures {archs:?}"
            ));
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
                .ok_or_else(|| format!("seccomp argument index {} is out of range", arg.index()))?;
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
                    .map_err(|e| format!("seccomp condition: {e}"))?,
            );
        }
        for name in rule.names() {
            // Names of other architectures' syscalls are skipped, as libseccomp does.
            let Ok(sysno) = syscalls::Sysno::from_str(name) else {
                continue;
            };
            let nr = sysno.id() as i64;
            let make = || -> Result<Option<SeccompRule>, String> {
                if conditions.is_empty() {
                    Ok(None)
                } else {
                    SeccompRule::new(conditions.clone())
                        .map(Some)
                        .map_err(|e| format!("seccomp rule: {e}"))
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
            .map_err(|e| format!("seccomp base filter: {e}"))?;
        programs.push(
            f.try_into()
                .map_err(|e| format!("seccomp base filter: {e}"))?,
        );
    }
    for (_, (act, rules)) in per_action {
        let f = SeccompFilter::new(rules, SeccompAction::Allow, act, TargetArch::x86_64)
            .map_err(|e| format!("seccomp filter: {e}"))?;
        programs.push(f.try_into().map_err(|e| format!("seccomp filter: {e}"))?);
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

    #[test]
    fn unsupported_things_are_refused() {
        let p = profile(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#);
        assert!(compile(&p).is_err());
        let p =
            profile(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64"]}"#);
        assert!(compile(&p).unwrap_err().contains("x86_64"));
    }
}
