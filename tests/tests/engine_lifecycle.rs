//! mini-docker end to end, the lifecycle verbs of issue 22 driven by the real
//! docker CLI: `pause`/`unpause` (the freezer). Privileged: they fail (never
//! skip) without root.

use e2e::*;
use std::path::PathBuf;

/// The docker CLI, failing unless it succeeded; returns stdout.
fn docker_ok(d: &Daemon, args: &[&str]) -> String {
    let out = d.docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed ({:?}): {}{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// `docker run -d --network none bb ARGS…`: the new container's id.
fn run_bb(d: &Daemon, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--network", "none", "bb"];
    all.extend_from_slice(args);
    docker_ok(d, &all).trim().to_string()
}

/// The file of a cgroup controller of container `id`: `/sys/fs/cgroup/<ctrl>/mini-docker/<id>/<file>`
/// on v1, `/sys/fs/cgroup/mini-docker/<id>/<v2 file>` on v2.
fn cgroup_file(id: &str, v1: (&str, &str), v2: &str) -> PathBuf {
    let root = PathBuf::from("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        root.join("mini-docker").join(id).join(v2)
    } else {
        root.join(v1.0).join("mini-docker").join(id).join(v1.1)
    }
}

/// Whether the kernel reports the container's cgroup frozen.
fn frozen(id: &str) -> bool {
    let f = cgroup_file(id, ("freezer", "freezer.state"), "cgroup.events");
    let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
    text.trim() == "FROZEN" || text.lines().any(|l| l == "frozen 1")
}

/// The counter the container's loop writes to its rootfs.
fn counter(d: &Daemon, id: &str) -> u64 {
    let f = d
        .data_root()
        .join("containers")
        .join(id)
        .join("rootfs/tmp/n");
    std::fs::read_to_string(f)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn pause_freezes_every_process_and_unpause_resumes() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = run_bb(
        &d,
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; usleep 10000; done",
        ],
    );
    eventually("the counter runs", || counter(&d, &id) > 3);

    docker_ok(&d, &["pause", &id]);
    assert!(frozen(&id), "the freezer reads FROZEN after docker pause");
    let before = counter(&d, &id);
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(counter(&d, &id), before, "the loop stopped while paused");

    let ps = docker_ok(&d, &["ps", "--filter", &format!("id={id}")]);
    assert!(ps.contains("(Paused)"), "ps shows Up … (Paused): {ps}");
    let state = docker_ok(
        &d,
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}",
            &id,
        ],
    );
    assert_eq!(state.trim(), "paused true true");

    // Docker's errors, word for word.
    let again = d.docker(&["pause", &id]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains(&format!("Container {id} is already paused")),
        "{}",
        stderr(&again)
    );

    let exec = d.docker(&["exec", &id, "true"]);
    assert!(
        stderr(&exec).contains(&format!(
            "Container {id} is paused, unpause the container before exec"
        )),
        "{}",
        stderr(&exec)
    );

    docker_ok(&d, &["unpause", &id]);
    assert!(!frozen(&id), "thawed after docker unpause");
    let resumed = counter(&d, &id);
    eventually("the loop advances again", || counter(&d, &id) > resumed + 3);
    let state = docker_ok(
        &d,
        &["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", &id],
    );
    assert_eq!(state.trim(), "running false");
    let not_paused = d.docker(&["unpause", &id]);
    assert!(stderr(&not_paused).contains(&format!("Container {id} is not paused")));

    // A stop of a paused container thaws it so the signal lands.
    docker_ok(&d, &["pause", &id]);
    let t = std::time::Instant::now();
    docker_ok(&d, &["stop", "-t", "2", &id]);
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
    let state = docker_ok(
        &d,
        &["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", &id],
    );
    assert_eq!(state.trim(), "exited false");
    let stopped = d.docker(&["pause", &id]);
    assert!(!stopped.status.success());
    assert!(
        stderr(&stopped).contains(&format!("Container {id} is not running")),
        "{}",
        stderr(&stopped)
    );
}

#[test]
fn kill_and_rm_force_of_a_paused_container() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let a = run_bb(&d, &["sleep", "1000"]);
    docker_ok(&d, &["pause", &a]);
    docker_ok(&d, &["kill", &a]);
    eventually("the killed paused container exits", || {
        stdout(&d.docker(&["inspect", "-f", "{{.State.Status}}", &a])).trim() == "exited"
    });
    let b = run_bb(&d, &["sleep", "1000"]);
    docker_ok(&d, &["pause", &b]);
    docker_ok(&d, &["rm", "-f", &b]);
    assert!(
        !cgroup_exists(&b),
        "rm -f removed the paused container's cgroups"
    );
    assert!(processes_with(&b).is_empty());
}

/// Reads a cgroup file of container `id`, trimmed.
fn cgroup_read(id: &str, v1: (&str, &str), v2: &str) -> String {
    let f = cgroup_file(id, v1, v2);
    std::fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("read {}: {e}", f.display()))
        .trim()
        .to_string()
}

/// The limits `docker update` below sets, as the kernel reports them.
fn limits(id: &str) -> Vec<String> {
    vec![
        cgroup_read(id, ("memory", "memory.limit_in_bytes"), "memory.max"),
        cgroup_read(id, ("cpu", "cpu.cfs_quota_us"), "cpu.max"),
        cgroup_read(id, ("pids", "pids.max"), "pids.max"),
    ]
}

#[test]
fn update_writes_the_cgroup_persists_and_survives_a_restart() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = run_bb(&d, &["sleep", "1000"]);
    docker_ok(
        &d,
        &[
            "update",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "50",
            "--cpu-shares",
            "512",
            "--restart",
            "always",
            &id,
        ],
    );
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let want = if v2 {
        vec!["67108864", "50000 100000", "50"]
    } else {
        vec!["67108864", "50000", "50"]
    };
    assert_eq!(limits(&id), want, "the running container's cgroup");
    if !v2 {
        assert_eq!(cgroup_read(&id, ("cpu", "cpu.shares"), ""), "512");
    }
    let hc = docker_ok(
        &d,
        &[
            "inspect", "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}",
            &id,
        ],
    );
    assert_eq!(hc.trim(), "67108864 500000000 50 512 always");

    docker_ok(&d, &["restart", "-t", "1", &id]);
    // Once (in 1 of ~8 runs) the memory cgroup file was missing right after
    // `docker restart` returned, with `--restart always` set: wait for the
    // container to be up with its cgroup (the race is reported in issue 22's
    // notes), then check the limits it came back with.
    eventually("the restarted container runs in its cgroup", || {
        cgroup_file(&id, ("memory", "memory.limit_in_bytes"), "memory.max").exists()
    });
    assert_eq!(limits(&id), want, "a restart keeps the updated limits");

    // What we cannot apply is refused by name, and nothing changes.
    for (flag, value, field) in [
        ("--blkio-weight", "300", "BlkioWeight"),
        ("--memory-reservation", "32m", "MemoryReservation"),
        ("--kernel-memory", "32m", "KernelMemory"),
    ] {
        let out = d.docker(&["update", flag, value, &id]);
        assert!(!out.status.success(), "{flag} is refused");
        assert!(
            stderr(&out).contains(&format!("cannot update {field}")),
            "{flag}: {}",
            stderr(&out)
        );
    }
    let out = d.docker(&["update", "--cpu-quota", "20000", &id]);
    assert!(
        stderr(&out).contains("CPU Quota cannot be updated as NanoCPUs has already been set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(limits(&id), want);
}

/// The entries of a tar file, without a leading `./`.
fn tar_entries(path: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("tar")
        .arg("tf")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "tar tf: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect()
}

#[test]
fn export_is_the_merged_filesystem_and_imports_back() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = run_bb(
        &d,
        &[
            "sh",
            "-c",
            "echo written-inside > /hello.txt && rm /bin/vi && sleep 1000",
        ],
    );
    eventually("the container wrote its file", || {
        d.data_root()
            .join("containers")
            .join(&id)
            .join("rootfs/hello.txt")
            .exists()
    });
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("c.tar");
    // Running, then stopped (a private mount of its layers): the same tree.
    for phase in ["running", "stopped"] {
        if phase == "stopped" {
            docker_ok(&d, &["stop", "-t", "1", &id]);
        }
        docker_ok(&d, &["export", "-o", tar.to_str().unwrap(), &id]);
        let entries = tar_entries(&tar);
        assert!(
            entries.iter().any(|e| e == "hello.txt"),
            "{phase}: the written file"
        );
        assert!(
            entries.iter().any(|e| e == "bin/sh"),
            "{phase}: the image's files"
        );
        assert!(
            !entries.iter().any(|e| e == "bin/vi"),
            "{phase}: a file deleted in the container (whited out) is not exported"
        );
        assert!(
            !entries
                .iter()
                .any(|e| e.starts_with("proc/") && e.len() > 5),
            "{phase}: /proc's contents are not exported"
        );
        assert!(
            !entries.iter().any(|e| e.contains(".wh.")),
            "{phase}: no whiteout files"
        );
    }
    docker_ok(&d, &["import", tar.to_str().unwrap(), "exported:1"]);
    let out = docker_ok(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "exported:1",
            "/bin/cat",
            "/hello.txt",
        ],
    );
    assert_eq!(out, "written-inside\n");
}

#[test]
fn distribution_inspect_asks_the_registry_with_the_requests_credentials() {
    let reg = Registry::with_user("distuser", "d1st-s3cret");
    let d = Daemon::start();
    d.import_busybox("mdpy-dist:1");
    let script = e2e::tests_dir().join("py/registry_data.py");
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .args([&reg.host(), "distuser", "d1st-s3cret", "mdpy-dist:1"])
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    let desc = &v["attrs"]["Descriptor"];
    assert_eq!(
        desc["digest"], v["pushed"],
        "the digest the push reported: {v}"
    );
    assert_eq!(v["id"], v["pushed"]);
    // The size and digest are those of the manifest the registry holds.
    let digest = desc["digest"].as_str().unwrap();
    let (status, body) = {
        let o = std::process::Command::new("curl")
            .args(["-s", "-u", "distuser:d1st-s3cret", "-H"])
            .arg(format!("Accept: {}", desc["mediaType"].as_str().unwrap()))
            .arg(format!(
                "http://{}/v2/team/dist/manifests/{digest}",
                reg.host()
            ))
            .output()
            .unwrap();
        (o.status.success(), o.stdout)
    };
    assert!(status);
    assert_eq!(desc["size"].as_u64().unwrap(), body.len() as u64);
    assert!(
        desc["mediaType"].as_str().unwrap().contains("manifest"),
        "{desc}"
    );
    assert_eq!(v["attrs"]["Platforms"][0]["os"], "linux", "{v}");
    assert!(v["attrs"]["Platforms"][0]["architecture"].is_string());
    // Without credentials the registry refuses, and so does the daemon.
    assert!(
        v["anonymous"].as_str().unwrap().starts_with("401"),
        "{}",
        v["anonymous"]
    );
}

/// The `Cap*` lines of `/proc/self/status` as a process of `exec ARGS…`
/// sees them (`CapInh` … `CapAmb`, in the kernel's order).
fn exec_caps(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("Cap"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The capability sets of this test process (root, as the daemon runs).
fn own_bounding_set() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn exec_privileged_has_every_capability_and_a_plain_exec_the_containers() {
    // moby's exec sets bounding, permitted, effective and inheritable to
    // every capability for `--privileged`; the container's own process and
    // a plain exec keep Docker's 14 (a80425fb, as a real dockerd shows).
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = run_bb(&d, &["sleep", "1000"]);
    let status = ["grep", "Cap", "/proc/self/status"];
    let plain = exec_caps(&docker_ok(&d, &[&["exec", &id][..], &status[..]].concat()));
    let docker_default = "00000000a80425fb";
    assert_eq!(
        plain,
        [
            "CapInh: 0000000000000000".to_string(),
            format!("CapPrm: {docker_default}"),
            format!("CapEff: {docker_default}"),
            format!("CapBnd: {docker_default}"),
            "CapAmb: 0000000000000000".to_string(),
        ]
    );
    let privileged = exec_caps(&docker_ok(
        &d,
        &[&["exec", "--privileged", &id][..], &status[..]].concat(),
    ));
    // Every capability the daemon holds (root's bounding set here, which
    // on this host lacks CAP_SYS_RESOURCE; on a full host it is all 41).
    let all = own_bounding_set();
    assert_eq!(
        privileged,
        [
            format!("CapInh: {all}"),
            format!("CapPrm: {all}"),
            format!("CapEff: {all}"),
            format!("CapBnd: {all}"),
            "CapAmb: 0000000000000000".to_string(),
        ]
    );
    // The flag is echoed in exec inspect, and the container is unchanged.
    let (code, body) = d.request(
        "POST",
        &format!("/containers/{id}/exec"),
        r#"{"Cmd":["true"],"Privileged":true}"#,
    );
    assert_eq!(code, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let exec_id = created["Id"].as_str().unwrap();
    let (_, inspect) = d.request("GET", &format!("/exec/{exec_id}/json"), "");
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["ProcessConfig"]["privileged"], true, "{inspect}");
    let again = exec_caps(&docker_ok(&d, &[&["exec", &id][..], &status[..]].concat()));
    assert_eq!(
        again, plain,
        "a privileged exec left the container's sets alone"
    );

    // The same two execs on a real dockerd (runc). Its privileged exec asks
    // for every capability the kernel knows (cap_last_cap), not those the
    // daemon holds: where root lacks one (this host's bounding set has no
    // CAP_SYS_RESOURCE) runc cannot raise it and the exec fails; where root
    // has them all, dockerd's sets are the full ones, which are ours.
    let real = DockerDaemon::start(&[]);
    real.import_busybox("bb");
    let rid = real.ok(&["run", "-d", "--network", "none", "bb", "sleep", "1000"]);
    let rid = rid.trim();
    let real_plain = exec_caps(&real.ok(&[&["exec", rid][..], &status[..]].concat()));
    assert_eq!(real_plain, plain, "a plain exec's sets, dockerd's and ours");
    let out = real.docker(&[&["exec", "--privileged", rid][..], &status[..]].concat());
    let last_cap: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let kernel_all = format!("{:016x}", (1u64 << (last_cap + 1)) - 1);
    if all == kernel_all {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(exec_caps(&stdout(&out)), privileged, "dockerd's and ours");
    } else {
        // The CLI 20.10 prints an exec's runtime error on stdout.
        assert!(
            !out.status.success()
                && format!("{}{}", stdout(&out), stderr(&out)).contains("unable to apply caps"),
            "dockerd on a host whose root lacks capabilities ({all} of {kernel_all}): {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

/// Polls `inspect` of `name` (through `docker`) until its status is
/// `restarting`; returns the `State` then, as JSON.
fn until_restarting(docker: &dyn Fn(&[&str]) -> String, name: &str) -> serde_json::Value {
    let t = std::time::Instant::now();
    loop {
        let state: serde_json::Value =
            serde_json::from_str(&docker(&["inspect", "--format", "{{json .State}}", name]))
                .unwrap();
        if state["Status"] == "restarting" {
            return state;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{name} never showed restarting: {state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_restarting_container_is_shown_and_refused_as_dockerd_does() {
    // `--restart always` running `false`: between its runs it is
    // `restarting`. dockerd shows it Running with no pid, lists it in `ps`,
    // and refuses `rm` without `-f` with a 409 naming it.
    let d = Daemon::start();
    d.import_busybox("bb");
    let real = DockerDaemon::start(&[]);
    real.import_busybox("bb");
    let run = ["run", "-d", "--name", "md-restarting", "--network", "none"];
    let run = [&run[..], &["--restart", "always", "bb", "false"]].concat();
    let ours = docker_ok(&d, &run).trim().to_string();
    let theirs = real.ok(&run).trim().to_string();

    let keys = [
        "Status",
        "Running",
        "Paused",
        "Restarting",
        "Dead",
        "Pid",
        "ExitCode",
    ];
    let pick = |s: &serde_json::Value| -> Vec<String> {
        keys.iter().map(|k| format!("{k}={}", s[k])).collect()
    };
    let our_state = until_restarting(&|a| docker_ok(&d, a), "md-restarting");
    let their_state = until_restarting(&|a| real.ok(a), "md-restarting");
    assert_eq!(
        pick(&our_state),
        pick(&their_state),
        "{our_state} / {their_state}"
    );

    let listed = |out: String| {
        out.lines()
            .any(|l| l.starts_with("md-restarting Restarting ("))
    };
    let ps = ["ps", "--format", "{{.Names}} {{.Status}}"];
    eventually("ps lists it as restarting", || listed(docker_ok(&d, &ps)));
    eventually("dockerd's ps too", || listed(real.ok(&ps)));

    // `rm` without -f: refused while restarting, in dockerd's words.
    let (code, body) = loop {
        until_restarting(&|a| docker_ok(&d, a), "md-restarting");
        let (code, body) = d.request("DELETE", "/containers/md-restarting", "");
        // Caught while running for a moment (the next try): try again.
        if !body.contains("running container") {
            break (code, body);
        }
    };
    let want = |id: &str| {
        format!(
            "You cannot remove a restarting container {id}. Stop the container before attempting removal or force remove"
        )
    };
    assert_eq!(code, 409, "{body}");
    let msg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(msg["message"], want(&ours));
    let out = loop {
        until_restarting(&|a| real.ok(a), "md-restarting");
        let out = real.docker(&["rm", "md-restarting"]);
        if !stderr(&out).contains("running container") {
            break out;
        }
    };
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&want(&theirs)), "{}", stderr(&out));

    // `rm -f` cancels the restart and removes it: nothing runs it again.
    docker_ok(&d, &["rm", "-f", "md-restarting"]);
    let (code, _) = d.request("GET", "/containers/md-restarting/json", "");
    assert_eq!(code, 404);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !docker_ok(&d, &["ps", "-a", "--format", "{{.Names}}"]).contains("md-restarting"),
        "no restart brought it back"
    );
}
