//! containerd's CRI path with mini-runc as its runc: the way a kubelet
//! starts a pod (issue 23).
//!
//! A real containerd (Debian's 1.6) runs with a config of the test's own:
//! its CRI plugin's runtime `runc` (`io.containerd.runc.v2`, the shim every
//! Kubernetes node uses) has `BinaryName` = mini-runc and a private `Root`,
//! the sandbox ("pause") image is one the test made, and pods get their
//! network from the real `bridge` CNI plugin on a bridge the test made.
//!
//! The test then speaks the CRI gRPC API as a kubelet does, through the CRI
//! protos (`k8s-cri`) and tonic over containerd's unix socket:
//! 1. `RunPodSandbox`: containerd makes the netns, CNI adds `eth0` with an
//!    address of the test's subnet, and the shim runs `mini-runc create`
//!    and `start` for the sandbox (pause) container;
//! 2. `CreateContainer` + `StartContainer`: a web server that joins the
//!    sandbox's network namespace (mini-runc `setns`es into its path);
//! 3. `ExecSync` (`mini-runc exec`), `ContainerStatus`;
//! 4. `StopPodSandbox`, `RemovePodSandbox`.
//!
//! No internet: both images are busybox, saved by our own engine and
//! imported with `ctr -n k8s.io images import`. The processes are checked
//! to be mini-runc's (its state under the `Root` given, with the same pid)
//! and, after removal, nothing is left: no process, mount, cgroup, netns or
//! CNI state.

use e2e::containerd::runtime_copy;
use e2e::runtime::mini_runc_state;
use e2e::{Containerd, Daemon};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use tonic::transport::{Channel, Endpoint, Uri};

const IMAGE: &str = "docker.io/library/md-bb:cri";
const PAUSE: &str = "docker.io/library/md-pause:cri";

/// containerd's config: the CRI plugin's runc is mini-runc, with a `Root`
/// of its own (the shim adds the namespace: `<Root>/k8s.io/<id>`).
///
/// `restrict_oom_score_adj`: a pod's sandbox asks for `oomScoreAdj: -998`,
/// and lowering a score needs CAP_SYS_RESOURCE, which this machine's root
/// lacks (bit 24 is clear in `CapBnd`: runc fails the same way, "nsexec:
/// failed to update /proc/self/oom_score_adj: Permission denied"). With it,
/// containerd raises the value to the shim's own, as on rootless nodes.
const CONFIG: &str = r#"version = 2
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "docker.io/library/md-pause:cri"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{dir}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{dir}/mini-runc"
        Root = "{dir}/runc"
        SystemdCgroup = false
"#;

/// A bridge the test made (`ip link add … type bridge`), deleted on drop.
struct Bridge(String);

impl Bridge {
    fn new(name: &str) -> Bridge {
        ip(&["link", "add", name, "type", "bridge"]);
        ip(&["link", "set", name, "up"]);
        Bridge(name.to_string())
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// What a pod leaves outside containerd's directories when the test fails
/// before `RemovePodSandbox`: its network namespace (a bind mount under
/// `/run/netns` that containerd made) and the results libcni caches under
/// `/var/lib/cni/results/<network>-<pod id>-<interface>` (one for the
/// bridge network, one for the loopback network containerd adds).
#[derive(Default)]
struct PodLeftovers {
    netns: Option<PathBuf>,
    pod: Option<String>,
}

/// libcni's cached results of the pod `id`.
fn cni_results(id: &str) -> Vec<PathBuf> {
    let infix = format!("-{id}-");
    std::fs::read_dir("/var/lib/cni/results")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(&infix))
        .map(|e| e.path())
        .collect()
}

impl Drop for PodLeftovers {
    fn drop(&mut self) {
        if let Some(p) = &self.netns {
            if p.exists() {
                let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
                let _ = std::fs::remove_file(p);
            }
        }
        for f in self.pod.iter().flat_map(|id| cni_results(id)) {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// A CRI client: the runtime and image services over containerd's socket,
/// each call run to its end on a runtime of the test's own.
struct Cri {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl Cri {
    fn connect(socket: &Path) -> Cri {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let socket = socket.to_path_buf();
        // gRPC needs a URI; the connector ignores it and dials the socket.
        let channel = rt
            .block_on(
                Endpoint::try_from("http://[::]")
                    .unwrap()
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let socket = socket.clone();
                        async move {
                            let s = tokio::net::UnixStream::connect(socket).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(s))
                        }
                    })),
            )
            .expect("connect to containerd's socket");
        Cri {
            rt,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        }
    }
}

/// Runs one CRI call, failing the test with its gRPC status.
macro_rules! cri {
    ($cri:expr, $svc:ident . $call:ident ($req:expr)) => {{
        let c = &mut $cri;
        let fut = c.$svc.$call($req);
        match c.rt.block_on(fut) {
            Ok(r) => r.into_inner(),
            Err(e) => panic!("{}: {}", stringify!($call), e),
        }
    }};
}

/// The parent pid of `pid`, from `/proc/<pid>/stat`.
fn ppid(pid: i64) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(1).unwrap().parse().unwrap()
}

fn comm(pid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn a_pod_runs_on_mini_runc_through_containerds_cri() {
    e2e::require_root();
    let name = format!("md-cri-{}", network::names::unique_id());
    let subnet = e2e::free_subnet(77);
    let bridge = Bridge::new(&name);
    let c = Containerd::start_with_config(CONFIG, "k8s.io", &format!("/{name}"));
    let dir = c.dir.path().to_path_buf();
    let runc_root = dir.join("runc/k8s.io");
    runtime_copy(&dir);

    // The CNI network: the real bridge plugin on the test's bridge, with
    // host-local addresses of a free /24 (its state under our directory).
    std::fs::create_dir_all(dir.join("cni")).unwrap();
    let conf = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": name,
        "plugins": [{
            "type": "bridge",
            "bridge": name,
            "isGateway": true,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": subnet.to_string() }]],
                "dataDir": dir.join("ipam"),
            },
        }],
    });
    std::fs::write(dir.join("cni/10-md.conflist"), conf.to_string()).unwrap();

    // The images: busybox, and a "pause" made from it whose command sleeps
    // (a sandbox container only holds the pod's namespaces).
    let d = Daemon::start();
    d.import_busybox("md-bb:cri");
    d.ok(&["create", "--name", "md-cri-pause", "md-bb:cri", "true"]);
    d.ok(&[
        "commit",
        "--change",
        r#"CMD ["sleep", "86400"]"#,
        "md-cri-pause",
        "md-pause:cri",
    ]);
    let tar = dir.join("images.tar");
    d.ok(&[
        "save",
        "-o",
        tar.to_str().unwrap(),
        "md-bb:cri",
        "md-pause:cri",
    ]);
    drop(d);
    c.ok(&["images", "import", tar.to_str().unwrap()]);

    let mut cri = Cri::connect(&c.socket());
    let version = cri!(
        cri,
        runtime.version(VersionRequest {
            version: "v1".into()
        })
    );
    assert_eq!(version.runtime_name, "containerd", "{version:?}");
    let listed = cri!(cri, images.list_images(ListImagesRequest { filter: None }));
    let tags: Vec<&String> = listed.images.iter().flat_map(|i| &i.repo_tags).collect();
    assert!(
        tags.iter().any(|t| *t == IMAGE) && tags.iter().any(|t| *t == PAUSE),
        "{tags:?}"
    );

    // 1. The pod sandbox, in a network namespace of its own (mode POD).
    let mut leftovers = PodLeftovers::default();
    let sandbox_config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "web".into(),
            uid: name.clone(),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: "md-cri-pod".into(),
        log_directory: dir.join("logs").display().to_string(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: format!("/{name}"),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Pod as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = cri!(
        cri,
        runtime.run_pod_sandbox(RunPodSandboxRequest {
            config: Some(sandbox_config.clone()),
            runtime_handler: String::new(),
        })
    )
    .pod_sandbox_id;
    leftovers.pod = Some(pod.clone());
    let status = cri!(
        cri,
        runtime.pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: pod.clone(),
            verbose: true,
        })
    );
    let info: serde_json::Value =
        serde_json::from_str(status.info.get("info").expect("verbose info")).unwrap();
    leftovers.netns = info["runtimeSpec"]["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "network")
        .and_then(|n| n["path"].as_str())
        .map(PathBuf::from);
    let netns_path = leftovers.netns.clone().expect("the pod has a netns path");
    let sandbox = status.status.unwrap();
    assert_eq!(sandbox.state, PodSandboxState::SandboxReady as i32);
    let pod_ip: std::net::Ipv4Addr = sandbox.network.unwrap().ip.parse().unwrap();
    assert!(
        subnet.contains(pod_ip),
        "the bridge plugin gave {pod_ip}, not of {subnet}"
    );

    // The sandbox's process was made by mini-runc: its state, under the
    // Root containerd was given, names the same pid, which runs the pause
    // image's command, as a child of containerd's runc shim.
    let sandbox_pid = info["pid"].as_i64().unwrap();
    let state = mini_runc_state(&runc_root, &pod);
    assert_eq!(state["status"], "running", "{state}");
    assert_eq!(state["pid"].as_i64(), Some(sandbox_pid), "{state}");
    assert_eq!(comm(sandbox_pid), "sleep");
    assert_eq!(comm(ppid(sandbox_pid)), "containerd-shim");

    // 2. A container in the pod: a web server on port 8080 of the pod's
    // address.
    let container_config = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: "httpd".into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: IMAGE.into(),
            ..Default::default()
        }),
        command: vec!["sh".into(), "-c".into()],
        args: vec![
            "mkdir -p /srv && echo hello-from-cri > /srv/index.html && exec httpd -f -p 8080 -h /srv"
                .into(),
        ],
        log_path: "httpd.log".into(),
        // As a kubelet asks by default: the pod's network and IPC, a PID
        // namespace of the container's own (so its pid 1 is httpd).
        linux: Some(LinuxContainerConfig {
            security_context: Some(LinuxContainerSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Pod as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ctr = cri!(
        cri,
        runtime.create_container(CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(container_config),
            sandbox_config: Some(sandbox_config.clone()),
        })
    )
    .container_id;
    cri!(
        cri,
        runtime.start_container(StartContainerRequest {
            container_id: ctr.clone(),
        })
    );

    // 3. Its status, its pid in mini-runc's state, and the network it
    // shares with the sandbox.
    let status = cri!(
        cri,
        runtime.container_status(ContainerStatusRequest {
            container_id: ctr.clone(),
            verbose: true,
        })
    );
    assert_eq!(
        status.status.as_ref().unwrap().state,
        ContainerState::ContainerRunning as i32,
        "{status:?}"
    );
    let cinfo: serde_json::Value =
        serde_json::from_str(status.info.get("info").expect("verbose info")).unwrap();
    let pid = cinfo["pid"].as_i64().unwrap();
    let state = mini_runc_state(&runc_root, &ctr);
    assert_eq!(state["status"], "running", "{state}");
    assert_eq!(state["pid"].as_i64(), Some(pid), "{state}");
    assert_eq!(comm(ppid(pid)), "containerd-shim");
    let ns_of = |p: i64, ns: &str| std::fs::read_link(format!("/proc/{p}/ns/{ns}")).unwrap();
    assert_eq!(
        ns_of(pid, "net"),
        ns_of(sandbox_pid, "net"),
        "one network for the pod"
    );
    assert_eq!(ns_of(pid, "ipc"), ns_of(sandbox_pid, "ipc"));
    assert_ne!(ns_of(pid, "pid"), ns_of(sandbox_pid, "pid"));

    // The page comes from the pod's address, over the test's bridge.
    let mut page = String::new();
    e2e::eventually("httpd answers on the pod's address", || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect((pod_ip, 8080)) else {
            return false;
        };
        let _ = s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
        page.clear();
        s.read_to_string(&mut page).is_ok() && page.contains("hello-from-cri")
    });

    // ExecSync: `mini-runc exec` in the container; output and exit code.
    let exec = cri!(
        cri,
        runtime.exec_sync(ExecSyncRequest {
            container_id: ctr.clone(),
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "echo exec-ok $(cat /proc/1/comm) $(hostname); echo to-stderr >&2; exit 4".into(),
            ],
            timeout: 30,
        })
    );
    assert_eq!(
        String::from_utf8_lossy(&exec.stdout),
        "exec-ok httpd md-cri-pod\n"
    );
    assert_eq!(String::from_utf8_lossy(&exec.stderr), "to-stderr\n");
    assert_eq!(exec.exit_code, 4);

    // 4. Stop the pod: both containers exit; then remove it.
    cri!(
        cri,
        runtime.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
    );
    let status = cri!(
        cri,
        runtime.container_status(ContainerStatusRequest {
            container_id: ctr.clone(),
            verbose: false,
        })
    );
    assert_eq!(
        status.status.unwrap().state,
        ContainerState::ContainerExited as i32
    );
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert!(!Path::new(&format!("/proc/{sandbox_pid}")).exists());
    cri!(
        cri,
        runtime.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
    );
    let left = cri!(
        cri,
        runtime.list_containers(ListContainersRequest { filter: None })
    );
    assert!(left.containers.is_empty(), "{left:?}");
    let left = cri!(
        cri,
        runtime.list_pod_sandbox(ListPodSandboxRequest { filter: None })
    );
    assert!(left.items.is_empty(), "{left:?}");

    // Nothing left by the pod itself (before the guards run): mini-runc's
    // state, the netns, the pod's cgroups, mounts of the pod's containers.
    // (`.mini-runc@exe` is mini-runc's sealed copy of itself, kept for the
    // next container, not a container's state.)
    let runc_left: Vec<_> = std::fs::read_dir(&runc_root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name())
                .filter(|n| !n.to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(runc_left.is_empty(), "mini-runc state left: {runc_left:?}");
    assert!(!netns_path.exists(), "{} left", netns_path.display());
    assert_eq!(cni_results(&pod), Vec::<PathBuf>::new(), "CNI results left");
    for id in [&pod, &ctr] {
        assert!(
            !e2e::host::cgroup_exists_under(&name, id),
            "cgroup {name}/{id} left"
        );
        let mounts = e2e::mounts_under(&dir);
        assert!(
            mounts.iter().all(|m| !m.contains(id.as_str())),
            "{mounts:?}"
        );
    }
    drop(cri);
    drop(c);
    drop(bridge);
    drop(leftovers);
    assert!(e2e::processes_with(&dir.display().to_string()).is_empty());
    assert!(!Path::new("/sys/class/net").join(&name).exists());
}
