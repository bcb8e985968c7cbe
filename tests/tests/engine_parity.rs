//! Parity with Docker where a user sees it: the environment a container
//! gets, and the images list. Each test runs the same thing against
//! `mini-dockerd` and a real dockerd (with runc) and compares.
//! Privileged: they fail (never skip) without root.

use e2e::*;

/// `env` in a container, sorted, for each of the users and hostnames below.
fn envs(run: impl Fn(&[&str]) -> String) -> Vec<String> {
    let cases: [&[&str]; 4] = [
        &[],
        &["--hostname", "md-par-host"],
        &["-u", "daemon"],
        &[
            "-u",
            "4242",
            "-e",
            "HOSTNAME=mine",
            "-e",
            "PATH=/bin:/usr/bin",
        ],
    ];
    cases
        .iter()
        .map(|extra| {
            let mut args = vec!["run", "--rm", "--network", "none"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["md-par-bb", "env"]);
            let out = run(&args);
            let mut lines: Vec<&str> = out.lines().collect();
            lines.sort();
            lines.join("\n")
        })
        .collect()
}

#[test]
fn a_container_gets_home_and_hostname_as_in_docker() {
    let d = Daemon::start();
    d.import_busybox("md-par-bb");
    let docker = DockerDaemon::start(&[]);
    // The same tarball on both sides.
    docker.ok(&["import", busybox_tar().to_str().unwrap(), "md-par-bb"]);
    // The container id is its hostname: make it the same word on both sides.
    let redact = |out: String| {
        out.lines()
            .map(|l| match l.strip_prefix("HOSTNAME=") {
                Some(h) if h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit()) => {
                    "HOSTNAME=<id>".to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let ours = envs(|a| redact(d.ok(a)));
    let theirs = envs(|a| redact(docker.ok(a)));
    assert_eq!(ours, theirs);
    // …and the facts themselves, in case both were wrong the same way.
    assert!(ours[0].contains("HOME=/root"), "{}", ours[0]);
    assert!(ours[0].contains("HOSTNAME=<id>"), "{}", ours[0]);
    assert!(ours[1].contains("HOSTNAME=md-par-host"), "{}", ours[1]);
    assert!(ours[2].contains("HOME=/usr/sbin"), "{}", ours[2]);
    assert!(ours[3].contains("HOME=/\n"), "{}", ours[3]);
    assert!(ours[3].contains("HOSTNAME=mine"), "{}", ours[3]);
}

/// `images` lines as `REPO:TAG SIZE`, sorted, with `-a` or without.
fn image_lines(out: String) -> Vec<String> {
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn image_sizes_and_intermediates_are_dockers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM md-par-bb\nRUN echo one > /one && mkdir /d\nRUN echo twotwo > /d/two\nLABEL md.par=yes\n",
    )
    .unwrap();
    let ctx = dir.path().to_str().unwrap();
    let mut d = Daemon::start();
    d.import_busybox("md-par-bb");
    d.ok(&["build", "-q", "-t", "md-par-built", ctx]);
    let docker = DockerDaemon::start(&[]);
    // The same tarball on both sides.
    docker.ok(&["import", busybox_tar().to_str().unwrap(), "md-par-bb"]);
    let out = std::process::Command::new(docker_cli())
        .env(
            "DOCKER_HOST",
            format!("unix://{}", docker.dir.path().join("docker.sock").display()),
        )
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", "md-par-built", ctx])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fmt = "{{.Repository}}:{{.Tag}} {{.Size}}";
    let sizes = "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}";
    for args in [
        &["images", "--format", fmt][..],
        &["images", "-a", "--format", fmt],
    ] {
        let ours = image_lines(d.ok(args));
        let theirs = image_lines(docker.ok(args));
        assert_eq!(ours, theirs, "{args:?}");
    }
    // The intermediates: two `<none>` images with `-a` (the two RUN steps),
    // none without, each the parent of the next.
    let all = d.ok(&["images", "-a", "--format", sizes]);
    assert_eq!(all.matches("<none>:<none>").count(), 2, "{all}");
    assert!(!d.ok(&["images", "--format", fmt]).contains("<none>"));
    let top = d.ok(&["image", "inspect", "-f", "{{.Parent}}", "md-par-built"]);
    let top = top.trim().trim_start_matches("sha256:");
    assert!(all.contains(&top[..12]), "{top} in {all}");
    // Unpacked bytes (busybox is ~1 MB compressed, ~2 MB unpacked), the
    // same through the list and inspect, and after a restart.
    let size: u64 = d
        .ok(&["image", "inspect", "-f", "{{.Size}}", "md-par-bb"])
        .trim()
        .parse()
        .unwrap();
    let theirs: u64 = docker
        .ok(&["image", "inspect", "-f", "{{.Size}}", "md-par-bb"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(size, theirs);
    // An image no container used yet (its layer is not unpacked) too.
    let tmp = tempfile::tempdir().unwrap();
    let other = tmp.path().join("other.tar");
    e2e::host::busybox_rootfs_tar(&tmp.path().join("rootfs"), &other);
    let other = other.to_str().unwrap();
    d.ok(&["import", other, "md-par-fresh"]);
    docker.ok(&["import", other, "md-par-fresh"]);
    let t = "{{.Size}}";
    assert_eq!(
        d.ok(&["image", "inspect", "-f", t, "md-par-fresh"]),
        docker.ok(&["image", "inspect", "-f", t, "md-par-fresh"])
    );
    let (_, list) = d.request("GET", "/images/json", "");
    assert!(list.contains(&format!("\"Size\":{size}")), "{list}");
    let all = d.ok(&["images", "-a", "--format", sizes]);
    d.kill9();
    d.spawn();
    assert_eq!(
        d.ok(&["images", "-a", "--format", sizes]),
        all,
        "sizes stay the same after a restart"
    );
}

#[test]
fn inspect_looks_for_each_kind_in_dockers_order() {
    let d = Daemon::start();
    d.import_busybox("md-par-img");
    d.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "md-par-ctr",
        "md-par-img",
        "true",
    ]);
    // A network named as the container, a volume named as the image.
    d.ok(&["network", "create", "md-par-ctr"]);
    d.ok(&["volume", "create", "md-par-img"]);
    d.ok(&["volume", "create", "md-par-vol"]);
    let t = "{{if .Config}}{{.Config.Image}}{{end}}{{.Name}}";
    let cases: [&[&str]; 10] = [
        &["inspect", "-f", "{{.Id}}", "md-par-ctr", "md-par-vol"],
        &[
            "inspect",
            "-f",
            t,
            "md-par-ctr",
            "md-par-vol",
            "md-par-nosuch",
        ],
        &[
            "inspect",
            "--type",
            "network",
            "-f",
            "{{.Name}} {{.Driver}}",
            "md-par-ctr",
        ],
        &[
            "inspect",
            "--type",
            "volume",
            "-f",
            "{{.Name}} {{.Driver}}",
            "md-par-img",
        ],
        &[
            "inspect",
            "--type",
            "image",
            "-f",
            "{{.Os}}",
            "md-par-img",
            "md-par-ctr",
        ],
        &[
            "inspect",
            "--type",
            "container",
            "-f",
            "{{.Name}}",
            "md-par-img",
        ],
        &["inspect", "--type", "volume", "md-par-nosuch"],
        &["inspect", "--type", "foo", "md-par-img"],
        &["image", "inspect", "-f", "{{.Os}}", "md-par-ctr"],
        &["container", "inspect", "-f", "{{.Name}}", "md-par-img"],
    ];
    for args in cases {
        let ours = d.cli(args);
        let theirs = d.docker20(args);
        // Byte for byte, a template error's position (`:1:2: executing ""
        // at <.Id>`) included.
        let show = |o: &std::process::Output| {
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        };
        assert_eq!(show(&ours), show(&theirs), "{args:?}");
    }
    d.ok(&["rm", "md-par-ctr"]);
    d.ok(&["network", "rm", "md-par-ctr"]);
    d.ok(&["volume", "rm", "md-par-img", "md-par-vol"]);
}

/// The digest a push printed (`latest: digest: sha256:… size: N`).
fn pushed_digest(out: &str) -> String {
    let line = out.lines().find(|l| l.contains(": digest: ")).expect(out);
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn repo_digests_after_push_and_pull_are_dockers() {
    let reg = Registry::start();
    let repo = format!("{}/md-par-rd", reg.host());
    let tagged = format!("{repo}:v1");
    let t = "{{.RepoDigests}}";
    let ours = {
        let d = Daemon::start();
        d.import_busybox("md-par-bb");
        d.ok(&["tag", "md-par-bb", &tagged]);
        assert_eq!(d.ok(&["image", "inspect", "-f", t, &tagged]), "[]\n");
        let digest = pushed_digest(&d.ok(&["push", &tagged]));
        let want = format!("[{repo}@{digest}]\n");
        // What the docker CLI reads, Go-printed, after the push…
        let got =
            String::from_utf8_lossy(&d.docker20(&["image", "inspect", "-f", t, &tagged]).stdout)
                .into_owned();
        assert_eq!(got, want);
        // …and after a pull into a fresh daemon, through the list too.
        let fresh = Daemon::start();
        fresh.ok(&["pull", &tagged]);
        assert_eq!(fresh.ok(&["image", "inspect", "-f", t, &tagged]), want);
        let (_, list) = fresh.request("GET", "/images/json", "");
        assert!(
            list.contains(&format!("\"RepoDigests\":[\"{repo}@{digest}\"]")),
            "{list}"
        );
        // Pulling again (up to date) adds nothing.
        fresh.ok(&["pull", &tagged]);
        assert_eq!(fresh.ok(&["image", "inspect", "-f", t, &tagged]), want);
        want.replace(&digest, "<digest>")
    };
    // A real dockerd pushing its own import of the same files says the same
    // (its manifest, so its digest, differs).
    let docker = DockerDaemon::start(&[]);
    docker.ok(&["import", busybox_tar().to_str().unwrap(), "md-par-bb"]);
    let theirs_tag = format!("{repo}:v2");
    docker.ok(&["tag", "md-par-bb", &theirs_tag]);
    let digest = pushed_digest(&docker.ok(&["push", &theirs_tag]));
    let theirs = docker.ok(&["image", "inspect", "-f", t, &theirs_tag]);
    assert_eq!(theirs.replace(&digest, "<digest>"), ours);
}

#[test]
fn save_writes_an_oci_layout_that_skopeo_umoci_and_docker_read() {
    let d = Daemon::start();
    d.import_busybox("md-par-bb");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM md-par-bb\nRUN echo saved-as-oci > /marker\n",
    )
    .unwrap();
    d.ok(&[
        "build",
        "-q",
        "-t",
        "md-par-oci:v1",
        dir.path().to_str().unwrap(),
    ]);
    let tar = dir.path().join("img.tar");
    let tar_s = tar.to_str().unwrap();
    d.ok(&["save", "-o", tar_s, "md-par-oci:v1"]);
    let run = |cmd: &str, args: &[&str]| {
        let out = std::process::Command::new(cmd).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // skopeo reads the tar as an OCI archive: the same manifest and config.
    let theirs: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", &format!("oci-archive:{tar_s}")],
    ))
    .unwrap();
    let (_, ours) = d.request("GET", "/distribution/md-par-oci:v1/json", "");
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "md-par-oci:v1"]);
    let layers = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        "md-par-oci:v1",
    ]);
    assert_eq!(
        theirs["Layers"].as_array().unwrap().len().to_string(),
        layers.trim()
    );
    let config = run(
        "skopeo",
        &["inspect", "--raw", &format!("oci-archive:{tar_s}")],
    );
    assert!(
        config.contains(id.trim()),
        "the manifest names config {id}: {config} ({ours})"
    );
    // umoci unpacks the layout (it reads directories: untar it first).
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    run("tar", &["-C", layout.to_str().unwrap(), "-xf", tar_s]);
    let bundle = dir.path().join("bundle");
    run(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:v1", layout.display()),
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/marker")).unwrap(),
        "saved-as-oci\n"
    );
    // A real dockerd loads the same file and runs it; so does a fresh daemon.
    let docker = DockerDaemon::start(&[]);
    docker.ok(&["load", "-i", tar_s]);
    let fresh = Daemon::start();
    fresh.ok(&["load", "-i", tar_s]);
    let cat = [
        "run",
        "--rm",
        "--network",
        "none",
        "md-par-oci:v1",
        "cat",
        "/marker",
    ];
    assert_eq!(docker.ok(&cat), "saved-as-oci\n");
    assert_eq!(fresh.ok(&cat), "saved-as-oci\n");
    assert_eq!(
        docker.ok(&["image", "inspect", "-f", "{{.Id}}", "md-par-oci:v1"]),
        id
    );
}
