//! `HostConfig` settings applied, not dropped (issue 18): the docker CLI
//! sends them, the daemon either writes them where the kernel reads them
//! (each test reads the fact back: the cgroup file, `/proc/sys` and
//! `/proc/mounts` inside the container) or refuses them with a 400 that
//! names them, as Docker does. Privileged: they fail (never skip) without root.

use e2e::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn docker20(d: &Daemon, args: &[&str]) -> Output {
    d.docker20(args)
}

/// [`Daemon::ok20`], trimmed.
fn ok20(d: &Daemon, args: &[&str]) -> String {
    d.ok20(args).trim().to_string()
}

/// `POST /containers/create` with this body: (status, body).
fn create_raw(d: &Daemon, body: &str) -> (u16, String) {
    d.request("POST", "/containers/create", body)
}

/// The v1 hierarchy `ctrl`'s directory of a cgroup path.
fn v1(ctrl: &str, rel: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(ctrl)
        .join(rel.trim_start_matches('/'))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Removes a test's `--cgroup-parent` directories, also when it fails.
struct ParentGuard(String);

impl Drop for ParentGuard {
    fn drop(&mut self) {
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(h.path().join(&self.0));
        }
    }
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n:x}", std::process::id())
}

#[test]
fn unsupported_and_out_of_range_settings_are_refused_with_dockers_words() {
    let d = Daemon::start();
    d.import_busybox("bb");
    for (args, want) in [
        (
            vec!["--blkio-weight", "500"],
            "HostConfig.BlkioWeight is not supported by mini-dockerd",
        ),
        (
            vec!["--memory-reservation", "10m"],
            "HostConfig.MemoryReservation is not supported by mini-dockerd",
        ),
        (
            vec!["--oom-kill-disable"],
            "HostConfig.OomKillDisable is not supported by mini-dockerd",
        ),
        (
            vec!["--pid", "host"],
            "HostConfig.PidMode is not supported by mini-dockerd",
        ),
        (
            vec!["--cpu-rt-runtime", "100"],
            "HostConfig.CpuRealtimeRuntime is not supported by mini-dockerd",
        ),
        (vec!["-m", "1m"], "Minimum memory limit allowed is 6MB"),
        (
            vec!["--memory-swap", "100m"],
            "You should always set the Memory limit when using Memoryswap limit",
        ),
        (
            vec!["-m", "100m", "--memory-swap", "50m"],
            "Minimum memoryswap limit should be larger than memory limit",
        ),
        (vec!["--cpus", "64"], "Range of CPUs is from 0.01 to"),
        (
            vec!["--cpus", "1", "--cpu-quota", "50000"],
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (
            vec!["--cpu-period", "100"],
            "CPU cfs period can not be less than 1ms",
        ),
        (
            vec!["--cpu-quota", "100"],
            "CPU cfs quota can not be less than 1ms",
        ),
        (vec!["--cpu-shares", "-1"], "shares: invalid argument"),
        (
            vec!["--oom-score-adj", "5000"],
            "range for oom score adj is [-1000, 1000]",
        ),
        (
            vec!["--oom-score-adj", "-5"],
            "HostConfig.OomScoreAdj=-5 is not supported by mini-dockerd",
        ),
        (vec!["--runtime", "foo"], "Unknown runtime specified foo"),
        (
            vec!["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
        ),
    ] {
        let mut all = vec!["create"];
        all.extend(args.iter().copied());
        all.extend(["bb", "true"]);
        let o = docker20(&d, &all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // What the CLI checks itself, through the API: same words.
    for (hc, want) in [
        (r#"{"ShmSize": -1}"#, "SHM size can not be less than 0"),
        (r#"{"Sysctls": {"kernel.panic": "1"}}"#, "kernel.panic"),
        (
            r#"{"MemorySwappiness": 200}"#,
            "valid memory swappiness range is 0-100",
        ),
        (
            r#"{"Isolation": "hyperv"}"#,
            "HostConfig.Isolation is not supported by mini-dockerd",
        ),
    ] {
        let (status, body) = create_raw(
            &d,
            &format!(r#"{{"Image":"bb","Cmd":["true"],"HostConfig":{hc}}}"#),
        );
        assert_eq!(status, 400, "{hc}: {body}");
        assert!(body.contains(want), "{hc}: {body}");
    }
    // Nothing was created by any of them.
    assert!(d.ids().is_empty(), "{:?}", d.ids());
    // The CLI's defaults for every field pass.
    let id = ok20(&d, &["create", "bb", "true"]);
    assert_eq!(id.len(), 64);
}

#[test]
fn cgroup_parent_cpu_and_memory_limits_reach_the_cgroup_files() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let parent = unique("md-cgp");
    let _g = ParentGuard(parent.clone());
    let id = ok20(
        &d,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--cgroup-parent",
            &parent,
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "200000",
            "--cpu-shares",
            "512",
            "-m",
            "64m",
            "--oom-score-adj",
            "300",
            "bb",
            "sleep",
            "1000",
        ],
    );
    let rel = format!("/{parent}/{id}");
    assert!(
        v1("cpu", &rel).is_dir(),
        "the cgroup is not under the parent"
    );
    assert_eq!(read(&v1("cpu", &rel).join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(&v1("cpu", &rel).join("cpu.cfs_period_us")), "200000");
    assert_eq!(read(&v1("cpu", &rel).join("cpu.shares")), "512");
    assert_eq!(
        read(&v1("memory", &rel).join("memory.limit_in_bytes")),
        (64u64 << 20).to_string()
    );
    // No --memory-swap: memory+swap is twice the memory, as Docker sets it.
    assert_eq!(
        read(&v1("memory", &rel).join("memory.memsw.limit_in_bytes")),
        (128u64 << 20).to_string()
    );
    // The container's own process is in it, with its oom_score_adj.
    let pid = ok20(&d, &["inspect", "-f", "{{.State.Pid}}", &id]);
    let procs = read(&v1("pids", &rel).join("cgroup.procs"));
    assert!(procs.lines().any(|p| p == pid), "{procs}");
    assert_eq!(
        read(Path::new(&format!("/proc/{pid}/oom_score_adj"))),
        "300"
    );
    // Stats and top follow the cgroup where it is.
    let top = ok20(&d, &["top", &id]);
    assert!(top.contains("sleep 1000"), "{top}");
    ok20(&d, &["rm", "-f", &id]);
    assert!(!v1("cpu", &rel).exists(), "the cgroup outlived rm");
}

#[test]
fn memory_swap_follows_dockers_rules() {
    let d = Daemon::start();
    d.import_busybox("bb");
    for (flags, want) in [
        (vec!["--memory-swap", "100m"], (100u64 << 20).to_string()),
        (
            vec!["--memory-swap", "-1"],
            "9223372036854771712".to_string(),
        ),
    ] {
        let mut all = vec!["run", "-d", "--network", "none", "-m", "64m"];
        all.extend(flags.iter().copied());
        all.extend(["bb", "sleep", "1000"]);
        let id = ok20(&d, &all);
        let got =
            read(&v1("memory", &format!("/mini-docker/{id}")).join("memory.memsw.limit_in_bytes"));
        assert_eq!(got, want, "{flags:?}");
        let hc = ok20(
            &d,
            &[
                "inspect",
                "-f",
                "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
                &id,
            ],
        );
        assert!(hc.starts_with(&(64u64 << 20).to_string()), "{hc}");
        ok20(&d, &["rm", "-f", &id]);
    }
}

#[test]
fn shm_size_and_sysctls_are_what_the_container_sees() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = ok20(
        &d,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--shm-size",
            "16m",
            "--sysctl",
            "kernel.shmmax=123456",
            "--sysctl",
            "fs.mqueue.msg_max=20",
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=81",
            "bb",
            "sleep",
            "1000",
        ],
    );
    let shm = ok20(&d, &["exec", &id, "grep", " /dev/shm ", "/proc/mounts"]);
    assert!(shm.contains("size=16384k"), "{shm}");
    let df = ok20(&d, &["exec", &id, "df", "-k", "/dev/shm"]);
    assert!(
        df.lines().nth(1).unwrap_or("").split_whitespace().nth(1) == Some("16384"),
        "{df}"
    );
    for (file, want) in [
        ("/proc/sys/kernel/shmmax", "123456"),
        ("/proc/sys/fs/mqueue/msg_max", "20"),
        ("/proc/sys/net/ipv4/ip_unprivileged_port_start", "81"),
    ] {
        assert_eq!(ok20(&d, &["exec", &id, "cat", file]), want, "{file}");
    }
    // The host's own values did not move.
    assert_ne!(read(Path::new("/proc/sys/kernel/shmmax")), "123456");
    // Without --shm-size, Docker's 64 MiB.
    let id2 = ok20(
        &d,
        &["run", "-d", "--network", "none", "bb", "sleep", "1000"],
    );
    let shm = ok20(&d, &["exec", &id2, "grep", " /dev/shm ", "/proc/mounts"]);
    assert!(shm.contains("size=65536k"), "{shm}");
    ok20(&d, &["rm", "-f", &id, &id2]);
}

#[test]
fn the_oom_kill_is_reported_in_inspect() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // `tail` keeps the whole newline-less stream in memory: far over 8 MiB.
    let o = docker20(
        &d,
        &[
            "run",
            "--name",
            "hog",
            "--network",
            "none",
            "-m",
            "8m",
            "bb",
            "sh",
            "-c",
            "head -c 64m /dev/zero | tail",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let st = ok20(
        &d,
        &[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
            "hog",
        ],
    );
    assert_eq!(st, "true 137");
    // An ordinary exit is not an OOM kill.
    let o = docker20(
        &d,
        &[
            "run",
            "--name",
            "fine",
            "--network",
            "none",
            "-m",
            "8m",
            "bb",
            "true",
        ],
    );
    assert!(o.status.success());
    assert_eq!(
        ok20(&d, &["inspect", "-f", "{{.State.OOMKilled}}", "fine"]),
        "false"
    );
}

#[test]
fn mini_dockers_own_run_flags_send_the_same_settings() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "-m",
            "64m",
            "--memory-swap",
            "100m",
            "--cpu-quota",
            "30000",
            "--cpu-shares",
            "256",
            "--shm-size",
            "8m",
            "--sysctl",
            "kernel.shmmax=4242",
            "--oom-score-adj",
            "5",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=2",
            "bb",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let rel = format!("/mini-docker/{id}");
    assert_eq!(
        read(&v1("memory", &rel).join("memory.memsw.limit_in_bytes")),
        (100u64 << 20).to_string()
    );
    assert_eq!(read(&v1("cpu", &rel).join("cpu.cfs_quota_us")), "30000");
    assert_eq!(read(&v1("cpu", &rel).join("cpu.shares")), "256");
    assert_eq!(
        d.ok(&["exec", &id, "cat", "/proc/sys/kernel/shmmax"])
            .trim(),
        "4242"
    );
    let shm = d.ok(&["exec", &id, "grep", " /dev/shm ", "/proc/mounts"]);
    assert!(shm.contains("size=8192k"), "{shm}");
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
    assert_eq!(
        read(Path::new(&format!("/proc/{}/oom_score_adj", pid.trim()))),
        "5"
    );
    let lc: serde_json::Value =
        serde_json::from_str(&d.ok(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", &id]))
            .unwrap();
    assert_eq!(
        lc,
        serde_json::json!({"Type": "json-file", "Config": {"max-file": "2", "max-size": "1k"}})
    );
    d.ok(&["rm", "-f", &id]);
}
