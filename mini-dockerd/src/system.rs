//! # The system service: what `GET /version` and `GET /info` report
//!
//! Facts about the host and the daemon, read from the host each time:
//! the kernel release (`uname`), the architecture in Docker's names (Go's
//! `GOARCH`: `amd64`, `arm64`, …, from Rust's `std::env::consts::ARCH`), and
//! the cgroup version, found as Docker finds it: `/sys/fs/cgroup` is a
//! `cgroup2` filesystem (`statfs` magic `CGROUP2_SUPER_MAGIC`) on a unified
//! host, and a tmpfs holding v1 trees otherwise.

use super::Engine;
use serde_json::{json, Value};
use std::path::Path;

/// Docker's (Go's `GOARCH`) name of the architecture `arch`, written as
/// Rust's `std::env::consts::ARCH` names it.
pub fn docker_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// `"2"` when the cgroup tree at `root` is cgroup2 (a unified host), `"1"`
/// otherwise (v1 or hybrid), as `docker info`'s `CgroupVersion`.
pub fn cgroup_version(root: &Path) -> &'static str {
    match nix::sys::statfs::statfs(root) {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether a host file (a sysctl) exists and its trimmed text passes `f`.
fn host_file_is(path: &str, f: impl Fn(&str) -> bool) -> bool {
    std::fs::read_to_string(path)
        .map(|s| f(s.trim()))
        .unwrap_or(false)
}

impl Engine {
    /// `GET /version`.
    pub fn version(&self) -> Value {
        let v = env!("CARGO_PKG_VERSION");
        let api = mini_docker_api::API_VERSION;
        let arch = docker_arch(std::env::consts::ARCH);
        json!({
            "Platform": {"Name": "mini-docker"},
            "Components": [{"Name": "Engine", "Version": v, "Details": {"ApiVersion": api, "MinAPIVersion": "1.12", "Os": "linux", "Arch": arch, "KernelVersion": kernel(),
                "GitCommit": "mini", "GoVersion": "rust", "BuildTime": "", "Experimental": "false"}}],
            "Version": v, "ApiVersion": api, "MinAPIVersion": "1.12", "GitCommit": "mini", "GoVersion": "rust",
            "Os": "linux", "Arch": arch, "KernelVersion": kernel(), "BuildTime": "",
        })
    }

    /// `GET /info`.
    pub fn info(&self) -> Value {
        let cs = self.list();
        let running = cs.iter().filter(|c| c.state.running).count();
        let images = self.images.list().as_array().map(Vec::len).unwrap_or(0);
        let host = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut v = json!({
            "ID": "mini-docker", "Containers": cs.len(), "ContainersRunning": running, "ContainersPaused": 0,
            "ContainersStopped": cs.len() - running, "Images": images, "Driver": self.images.driver_name(),
            "DriverStatus": [], "DockerRootDir": self.opts.root, "KernelVersion": kernel(), "OperatingSystem": "linux",
            "OSType": "linux", "Architecture": std::env::consts::ARCH, "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| m.lines().next()?.split_whitespace().nth(1)?.parse::<u64>().ok()).unwrap_or(0) * 1024, "Name": host, "ServerVersion": env!("CARGO_PKG_VERSION"), "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version(Path::new(super::manage::CGROUP_ROOT)), "LoggingDriver": self.opts.log_config["Type"], "DefaultRuntime": self.opts.runtimes.default_name(),
            "Runtimes": self.opts.runtimes.info(), "SecurityOptions": ["name=seccomp,profile=default"],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"]},
            "Labels": [], "ExperimentalBuild": false, "LiveRestoreEnabled": true, "Warnings": null,
        });
        // The rest of Docker's fields, so that clients that index them find them.
        let more = json!({
            "Debug": false, "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            "NGoroutines": 0, "NEventsListener": 0, "SystemTime": super::util::rfc3339_nanos(super::util::now_nanos()),
            "IndexServerAddress": "https://index.docker.io/v1/", "InitBinary": "", "Isolation": "",
            "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""}, "GenericResources": null,
            "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "OSVersion": "",
            "MemoryLimit": true, "SwapLimit": host_file_is("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", |_| true),
            "KernelMemory": false, "KernelMemoryTCP": false, "CpuCfsPeriod": true, "CpuCfsQuota": true,
            "CPUShares": true, "CPUSet": true, "PidsLimit": true, "OomKillDisable": false,
            "IPv4Forwarding": host_file_is("/proc/sys/net/ipv4/ip_forward", |v| v == "1"),
            "BridgeNfIptables": host_file_is("/proc/sys/net/bridge/bridge-nf-call-iptables", |v| v == "1"),
            "BridgeNfIp6tables": host_file_is("/proc/sys/net/bridge/bridge-nf-call-ip6tables", |v| v == "1"),
        });
        for (k, x) in more.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        v["Plugins"]["Authorization"] = Value::Null;
        v["Swarm"] = json!({"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                                "ControlAvailable": false, "Error": "", "RemoteManagers": null});
        v["RegistryConfig"] = json!({
                "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": [],
                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true}},
        });
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_uses_dockers_names() {
        assert_eq!(docker_arch("x86_64"), "amd64");
        assert_eq!(docker_arch("aarch64"), "arm64");
    }

    #[test]
    fn cgroup_version_reads_the_filesystem_type() {
        // The fact, read another way: the type /proc/self/mountinfo gives
        // the mount at /sys/fs/cgroup (after the " - " separator).
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let fstype = mountinfo
            .lines()
            .rev()
            .filter(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup"))
            .find_map(|l| l.split(" - ").nth(1)?.split(' ').next())
            .unwrap();
        let want = if fstype == "cgroup2" { "2" } else { "1" };
        assert_eq!(cgroup_version(Path::new("/sys/fs/cgroup")), want);
        // A tmpfs (or any other filesystem) is not cgroup2.
        assert_eq!(cgroup_version(Path::new("/proc")), "1");
    }
}
