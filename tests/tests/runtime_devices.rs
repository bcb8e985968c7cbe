//! The device cgroup of mini-runc: the v1 `devices.*` files and the cgroup v2
//! eBPF filter. This host is hybrid (v1 controllers plus a cgroup2 tree at
//! /sys/fs/cgroup/unified); mini-runc attaches the filter there too, so the v2
//! path is exercised here. Needs root: `cargo test -p e2e --test runtime_devices`.

use e2e::runtime::*;
use e2e::{eventually, require_root};
use std::path::PathBuf;

/// The container's directory in the host's cgroup2 tree.
fn v2_dir(id: &str) -> PathBuf {
    let layout = cgroups::Layout::detect().unwrap();
    cgroups::devices::v2_dir(&layout, &PathBuf::from(format!("/mini-runc-test/{id}")))
        .expect("this host has a cgroup2 tree (unified, or hybrid with /sys/fs/cgroup/unified)")
}

/// The container's v1 devices directory, if the host has that controller.
fn v1_devices_dir(id: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(format!("/sys/fs/cgroup/devices/mini-runc-test/{id}"));
    dir.is_dir().then_some(dir)
}

#[test]
fn the_bpf_filter_alone_refuses_a_block_device_and_allows_the_default_ones() {
    require_root();
    let root = Root::new();
    // Loop device 7:0: a block device of the host, harmless to open. The
    // results go to a file of the rootfs (a created container's stdout is
    // the runtime's, gone by the time it runs).
    let probe = "exec >/result 2>&1; \
                 mknod /tmp/blk b 7 0 && echo mknod=ok; \
                 (exec 3</tmp/blk) 2>&1 | grep -q 'Operation not permitted' && echo open=EPERM; \
                 head -c1 /dev/zero | wc -c | sed 's/^/zero=/'; \
                 head -c1 /dev/urandom | wc -c | sed 's/^/urandom=/'; \
                 echo x >/dev/null && echo null=ok; \
                 (exec 3<>/dev/ptmx) && echo ptmx=ok; \
                 (exec 3<>/dev/tty) 2>&1 | grep -q 'No such device or address' && echo tty=ENXIO";
    let b = Bundle::docker_default("bpf", &["sh", "-c", probe]);
    let out = root.runc(&[
        "--debug",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &b.id,
    ]);
    let debug = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{debug}");
    assert!(
        debug.contains("device filter attached to")
            && debug.contains("deny a *:* rwm: matches, refuse"),
        "--debug prints the program:\n{debug}"
    );

    // The filter is attached to the container's own cgroup2 directory, and
    // the container is in it.
    let dir = v2_dir(&b.id);
    let ids = cgroups::devices::attached(&dir).unwrap();
    assert_eq!(ids.len(), 1, "one device program on {}", dir.display());
    let pid = root.state(&b.id)["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.lines()
            .any(|l| l == format!("0::/mini-runc-test/{}", b.id)),
        "the container is in that cgroup2 directory:\n{cg}"
    );
    // Take v1's devices controller out of the picture: its group now allows
    // everything, so whatever still refuses is the eBPF program.
    if let Some(v1) = v1_devices_dir(&b.id) {
        std::fs::write(v1.join("devices.allow"), "a").unwrap();
        let list = std::fs::read_to_string(v1.join("devices.list")).unwrap();
        assert_eq!(list.trim(), "a *:* rwm");
    }

    root.ok(&["start", &b.id]);
    eventually("the container exits", || {
        root.state(&b.id)["status"] == "stopped"
    });
    let out = std::fs::read_to_string(b.rootfs().join("result")).unwrap();
    for line in [
        "mknod=ok",
        "open=EPERM",
        "zero=1",
        "urandom=1",
        "null=ok",
        "ptmx=ok",
        "tty=ENXIO",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}:\n{out}");
    }
    root.ok(&["delete", &b.id]);
    assert!(
        !dir.exists(),
        "the cgroup2 directory is gone with its program"
    );
    assert!(!cgroup_exists(&b.id));
}
