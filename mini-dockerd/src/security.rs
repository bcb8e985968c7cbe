//! # Docker's security flags, as spec edits
//!
//! | flag | `HostConfig` | spec |
//! | --- | --- | --- |
//! | `--cap-add SYS_ADMIN` | `CapAdd` | the capability, and the syscalls Docker's default seccomp profile allows with it (`mount`, `unshare`, `setns`, any `clone`…) |
//! | `--security-opt seccomp=profile.json` | `SecurityOpt` (the CLI sends the file's text) | `linux.seccomp`, resolved from Docker's profile format for the container's capabilities |
//! | `--privileged` | `Privileged` | every host device in `linux.devices`, `a *:* rwm` allowed in `linux.resources.devices` |
//! | `--device /dev/X[:/dev/Y][:rwm]` | `Devices` | the node in `linux.devices`, an allow rule for it |
//! | `--device-cgroup-rule 'c 1:3 rwm'` | `DeviceCgroupRules` | an allow rule |
//! | `--group-add 123`, `--group-add audio` | `GroupAdd` | `process.user.additionalGids` (names from the image's `/etc/group`) |
//!
//! Allow rules are appended after Docker's list (`deny a`, then the default
//! devices), so the last match, theirs, wins: the runtime writes them to v1's
//! `devices.allow` and into the cgroup v2 eBPF filter alike.

use super::runflags::strings;
use super::{ApiError, Result};
use mini_runc::seccomp::{self, ProfileHost};
use oci_spec::runtime::{
    Linux, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxSeccomp, LinuxSeccompAction, Spec,
};
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::bad(m)
}

/// The rules of Docker's default seccomp profile that depend on a capability
/// outside Docker's default set (moby's `profiles/seccomp/default.json`, its
/// `includes.caps`), in Docker's profile format. Docker's defaults already
/// have what their own capabilities need.
const CAP_RULES: &str = r#"[
  {"names": ["open_by_handle_at"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_DAC_READ_SEARCH"]}},
  {"names": ["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
             "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
             "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
             "umount2", "unshare"],
   "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
  {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}},
  {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
  {"names": ["delete_module", "init_module", "finit_module"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_MODULE"]}},
  {"names": ["acct"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PACCT"]}},
  {"names": ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
   "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}},
  {"names": ["iopl", "ioperm"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_RAWIO"]}},
  {"names": ["settimeofday", "stime", "clock_settime", "clock_settime64"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_TIME"]}},
  {"names": ["vhangup"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_TTY_CONFIG"]}},
  {"names": ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_NICE"]}},
  {"names": ["syslog"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYSLOG"]}},
  {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF"]}},
  {"names": ["perf_event_open"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_PERFMON"]}}
]"#;

/// Extends the default profile's allowlist for the container's capabilities,
/// as Docker resolves its default profile: with `CAP_SYS_ADMIN` the rules
/// Docker *excludes* for it go too (clone only without namespace flags,
/// clone3 answering ENOSYS).
pub fn extend_default_seccomp(linux: &mut Linux, caps: &[String]) -> Result<()> {
    let Some(mut seccomp) = linux.seccomp().clone() else {
        return Ok(());
    };
    let fragment = format!(r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":{CAP_RULES}}}"#);
    let extra = seccomp::from_docker_profile(&fragment, &ProfileHost::this_machine(caps.to_vec()))
        .map_err(|e| ApiError::internal(format!("the capability seccomp rules: {e}")))?;
    let extra: LinuxSeccomp = serde_json::from_value(extra)
        .map_err(|e| ApiError::internal(format!("the capability seccomp rules: {e}")))?;
    let mut list = seccomp.syscalls().clone().unwrap_or_default();
    if caps.iter().any(|c| c == "CAP_SYS_ADMIN") {
        list.retain(|r| {
            let names = r.names();
            let clone_masked = *names == ["clone"] && r.args().is_some();
            let clone3_enosys =
                *names == ["clone3"] && r.action() == LinuxSeccompAction::ScmpActErrno;
            !clone_masked && !clone3_enosys
        });
    }
    list.extend(extra.syscalls().clone().unwrap_or_default());
    seccomp.set_syscalls(Some(list));
    linux.set_seccomp(Some(seccomp));
    Ok(())
}

/// `--security-opt seccomp=<profile text>` resolved for `caps`.
pub fn seccomp_profile(text: &str, caps: &[String]) -> Result<LinuxSeccomp> {
    let v = seccomp::from_docker_profile(text, &ProfileHost::this_machine(caps.to_vec()))
        .map_err(|e| bad(format!("invalid seccomp profile: {e}")))?;
    serde_json::from_value(v).map_err(|e| bad(format!("invalid seccomp profile: {e}")))
}

/// One device node of the host, as a `linux.devices` entry and an allow rule.
fn device_entry(
    host: &Path,
    in_container: &str,
    access: &str,
) -> Result<(LinuxDevice, LinuxDeviceCgroup)> {
    let meta = std::fs::metadata(host).map_err(|e| {
        bad(format!(
            "error gathering device information while adding custom device {:?}: {e}",
            host.display().to_string()
        ))
    })?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err(bad(format!(
            "error gathering device information while adding custom device {:?}: not a device node",
            host.display().to_string()
        )));
    };
    let rdev = meta.rdev();
    let (major, minor) = (
        nix::sys::stat::major(rdev) as i64,
        nix::sys::stat::minor(rdev) as i64,
    );
    let node = LinuxDeviceBuilder::default()
        .path(in_container)
        .typ(kind)
        .major(major)
        .minor(minor)
        .file_mode(meta.mode() & 0o7777)
        .uid(meta.uid())
        .gid(meta.gid())
        .build()
        .expect("a device with its path, type and numbers is valid");
    let rule = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(kind)
        .major(major)
        .minor(minor)
        .access(access)
        .build()
        .expect("a device rule is valid");
    Ok((node, rule))
}

/// Every char and block device under `/dev`, as Docker's `--privileged`
/// gives them (not the ptys, shm, mqueue or fd, which the container has its
/// own of, nor /dev/console).
fn host_devices(dir: &Path, out: &mut Vec<LinuxDevice>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if !["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]
                .contains(&name.as_str())
            {
                host_devices(&path, out);
            }
        } else if (ft.is_char_device() || ft.is_block_device()) && path != Path::new("/dev/console")
        {
            if let Ok((node, _)) = device_entry(&path, &path.to_string_lossy(), "rwm") {
                out.push(node);
            }
        }
    }
}

/// `c 1:3 rwm` → (type, major, minor, access), Docker's format.
fn cgroup_rule(rule: &str) -> Result<LinuxDeviceCgroup> {
    let invalid = || bad(format!("invalid device cgroup format '{rule}'"));
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, nums, access] = parts[..] else {
        return Err(invalid());
    };
    let typ = match kind {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(invalid()),
    };
    if access.is_empty() || access.len() > 3 || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(invalid());
    }
    let (major, minor) = nums.split_once(':').ok_or_else(invalid)?;
    let num = |n: &str| -> Result<Option<i64>> {
        if n == "*" {
            Ok(None)
        } else {
            n.parse::<i64>().map(Some).map_err(|_| invalid())
        }
    };
    let mut r = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .access(access)
        .build()
        .expect("a device rule is valid");
    r.set_major(num(major)?);
    r.set_minor(num(minor)?);
    Ok(r)
}

/// The `Devices` entries: (host path, container path, permissions).
fn devices(hc: &Value) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for d in hc["Devices"].as_array().into_iter().flatten() {
        let host = d["PathOnHost"].as_str().unwrap_or("").to_string();
        if host.is_empty() {
            return Err(bad("invalid device: PathOnHost is empty"));
        }
        let inside = d["PathInContainer"]
            .as_str()
            .filter(|p| !p.is_empty())
            .unwrap_or(&host)
            .to_string();
        if !inside.starts_with('/') {
            return Err(bad(format!(
                "invalid device path in container: {inside:?} (must be absolute)"
            )));
        }
        let perms = d["CgroupPermissions"]
            .as_str()
            .filter(|p| !p.is_empty())
            .unwrap_or("rwm");
        if !perms.chars().all(|c| "rwm".contains(c)) {
            return Err(bad(format!(
                "invalid device mode: {perms:?} (some of r, w, m)"
            )));
        }
        out.push((host, inside, perms.to_string()));
    }
    Ok(out)
}

/// Checks the flags of this module (at create).
pub fn check(hc: &Value) -> Result<()> {
    for (host, inside, perms) in devices(hc)? {
        device_entry(Path::new(&host), &inside, &perms)?;
    }
    for r in strings(&hc["DeviceCgroupRules"]) {
        cgroup_rule(&r)?;
    }
    for g in strings(&hc["GroupAdd"]) {
        if g.is_empty() {
            return Err(bad("invalid --group-add: empty"));
        }
    }
    Ok(())
}

/// Edits the spec's devices and device rules for `--privileged`, `--device`
/// and `--device-cgroup-rule`.
pub fn apply_devices(hc: &Value, spec: &mut Spec) -> Result<()> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    if hc["Privileged"].as_bool().unwrap_or(false) {
        host_devices(Path::new("/dev"), &mut nodes);
        rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .access("rwm")
                .build()
                .expect("a device rule is valid"),
        );
    }
    for (host, inside, perms) in devices(hc)? {
        let (node, rule) = device_entry(Path::new(&host), &inside, &perms)?;
        nodes.retain(|n| n.path() != node.path());
        nodes.push(node);
        rules.push(rule);
    }
    for r in strings(&hc["DeviceCgroupRules"]) {
        rules.push(cgroup_rule(&r)?);
    }
    if nodes.is_empty() && rules.is_empty() {
        return Ok(());
    }
    let linux = spec.linux_mut().get_or_insert_with(Linux::default);
    if !nodes.is_empty() {
        let list = linux.devices_mut().get_or_insert_with(Vec::new);
        list.retain(|d| !nodes.iter().any(|n| n.path() == d.path()));
        list.extend(nodes);
    }
    if !rules.is_empty() {
        let resources = linux.resources_mut().get_or_insert_with(Default::default);
        let mut list = resources.devices().clone().unwrap_or_default();
        list.extend(rules);
        resources.set_devices(Some(list));
    }
    Ok(())
}

/// `--group-add`: numbers as they are, names looked up in the image's
/// `/etc/group` (as Docker, which fails the start for an unknown one).
pub fn apply_group_add(hc: &Value, spec: &mut Spec, rootfs: &Path) -> Result<()> {
    let wanted = strings(&hc["GroupAdd"]);
    if wanted.is_empty() {
        return Ok(());
    }
    let groups = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let Some(process) = spec.process_mut() else {
        return Ok(());
    };
    let mut gids: Vec<u32> = process.user().additional_gids().clone().unwrap_or_default();
    for g in wanted {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == g)
                        .then(|| f[2].parse::<u32>().ok())
                        .flatten()
                })
                .ok_or_else(|| {
                    bad(format!(
                        "Unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
        if !gids.contains(&gid) {
            gids.push(gid);
        }
    }
    process.user_mut().set_additional_gids(Some(gids));
    Ok(())
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
    fn device_cgroup_rules_parse_as_docker() {
        let rule = |r: &str| serde_json::to_value(cgroup_rule(r).unwrap()).unwrap();
        assert_eq!(
            rule("c 1:3 rwm"),
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(
            rule("b 7:* r"),
            json!({"allow": true, "type": "b", "major": 7, "access": "r"})
        );
        for bad in ["c 1:3", "x 1:3 rwm", "c 1:3 rwx", "c a:3 r", "c 1-3 r"] {
            let e = cgroup_rule(bad).unwrap_err();
            assert!(
                e.message.contains("invalid device cgroup format"),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn device_flags_add_the_node_and_its_rule_last() {
        let mut s = spec();
        let hc = json!({"Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/myzero", "CgroupPermissions": "r"}],
                        "DeviceCgroupRules": ["c 1:3 rwm"]});
        check(&hc).unwrap();
        apply_devices(&hc, &mut s).unwrap();
        let s = to_json(&s);
        let node = s["linux"]["devices"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(node["path"], "/dev/myzero");
        assert_eq!(
            (node["major"].as_i64(), node["minor"].as_i64()),
            (Some(1), Some(5))
        );
        let rules = s["linux"]["resources"]["devices"].as_array().unwrap();
        assert_eq!(rules[rules.len() - 2]["access"], "r");
        assert_eq!(rules[rules.len() - 1]["minor"], 3);
        assert!(check(&json!({"Devices": [{"PathOnHost": "/etc/hostname"}]})).is_err());
        assert!(check(&json!({"Devices": [{"PathOnHost": "/dev/md-no-such"}]})).is_err());
    }

    #[test]
    fn sys_admin_extends_the_default_seccomp() {
        let mut linux = spec().linux().clone().unwrap();
        let before = linux
            .seccomp()
            .as_ref()
            .unwrap()
            .syscalls()
            .as_ref()
            .unwrap()
            .len();
        extend_default_seccomp(&mut linux, &["CAP_SYS_ADMIN".into()]).unwrap();
        let s = json!({"linux": serde_json::to_value(&linux).unwrap()});
        let rules = s["linux"]["seccomp"]["syscalls"].as_array().unwrap();
        let allowed: Vec<String> = rules
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
            .flat_map(|r| strings(&r["names"]))
            .collect();
        for n in ["mount", "umount2", "unshare", "setns", "clone"] {
            assert!(allowed.contains(&n.to_string()), "{n}");
        }
        assert!(!rules
            .iter()
            .any(|r| strings(&r["names"]) == ["clone3"] && r["action"] == "SCMP_ACT_ERRNO"));
        assert!(rules.len() > before - 2);
    }

    #[test]
    fn group_add_numbers_and_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\naudio:x:29:\n").unwrap();
        let mut s = spec();
        s.process_mut()
            .as_mut()
            .unwrap()
            .user_mut()
            .set_additional_gids(Some(vec![0]));
        apply_group_add(&json!({"GroupAdd": ["1234", "audio"]}), &mut s, dir.path()).unwrap();
        assert_eq!(
            to_json(&s)["process"]["user"]["additionalGids"],
            json!([0, 1234, 29])
        );
        let e = apply_group_add(&json!({"GroupAdd": ["nosuch"]}), &mut s, dir.path()).unwrap_err();
        assert!(e.message.contains("Unable to find group nosuch"), "{e:?}");
    }
}
