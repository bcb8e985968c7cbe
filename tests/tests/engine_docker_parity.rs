//! What a container and an image look like to the user, compared key by key
//! with a real dockerd 20.10 doing the same steps: a container's
//! `/etc/hosts`, `State.Health` across a stop and a start, and
//! `RepoDigests` as `rmi` removes references. Privileged: they fail (never
//! skip) without root.

use e2e::docker::Netns;
use e2e::*;

/// `sha256:<64 hex>` as `<digest>`: the two daemons' manifests differ.
fn no_digests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i]);
        let hex = &rest[i + 7..];
        let n = hex.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        out.push_str(if n >= 12 { "<digest>" } else { "sha256:" });
        rest = &hex[n..];
    }
    out.push_str(rest);
    out
}

/// Each `docker run` flag set's `/etc/hosts`, as the container reads it.
const HOSTS_CASES: [&[&str]; 4] = [
    &["--hostname", "plain"],
    &[
        "--hostname",
        "web.example.com",
        "--add-host",
        "a.b:1.2.3.4",
        "--add-host",
        "c:5.6.7.8",
        "--network-alias",
        "al",
    ],
    &["--domainname", "dom.org", "-h", "hh"],
    &["--network", "none", "-h", "hh", "--add-host", "a:1.1.1.1"],
];

/// The `/etc/hosts` of a container on a user network lists the container
/// itself and `--add-host`, never its peers (the embedded DNS answers
/// those): byte for byte dockerd's, for the same flags and subnet.
#[test]
fn etc_hosts_is_dockers_on_user_networks_and_none() {
    let subnet = free_subnet(231).to_string();
    let net = format!("md-ph-{}", std::process::id());
    let hosts = |run: &dyn Fn(&[&str]) -> String| {
        // A peer first: on the network, running, and absent from the files.
        run(&[
            "run",
            "-d",
            "--network",
            &net,
            "--name",
            "md-ph-peer",
            "--network-alias",
            "pal",
            "md-ph-bb",
            "sleep",
            "300",
        ]);
        HOSTS_CASES
            .iter()
            .map(|flags| {
                let mut args = vec!["run", "--rm"];
                if !flags.contains(&"none") {
                    args.extend(["--network", net.as_str()]);
                }
                args.extend(*flags);
                args.extend(["md-ph-bb", "cat", "/etc/hosts"]);
                run(&args)
            })
            .collect::<Vec<_>>()
    };
    let ours = {
        let d = Daemon::start();
        d.import_busybox("md-ph-bb");
        d.ok(&["network", "create", "--subnet", &subnet, &net]);
        let got = hosts(&|a| d.ok(a));
        d.ok(&["rm", "-f", "md-ph-peer"]);
        d.ok(&["network", "rm", &net]);
        got
    };
    let ns = Netns::new(format!("md-ph-{}", std::process::id()));
    let docker = DockerDaemon::start_in_netns(&ns.0, &[]);
    docker.import_busybox("md-ph-bb");
    docker.ok(&["network", "create", "--subnet", &subnet, &net]);
    let theirs = hosts(&|a| docker.ok(a));
    // The container's own address: the same subnet, but dockerd hands a
    // freed address out again at once where ours takes the next one.
    let prefix = subnet.rsplit_once('.').unwrap().0.to_string() + ".";
    let own = |text: &str| -> String {
        text.lines()
            .map(|l| match l.strip_prefix(&prefix) {
                Some(rest) => format!("<own address>{}\n", &rest[rest.find('\t').unwrap()..]),
                None => format!("{l}\n"),
            })
            .collect()
    };
    for (i, flags) in HOSTS_CASES.iter().enumerate() {
        assert_eq!(own(&ours[i]), own(&theirs[i]), "/etc/hosts with {flags:?}");
    }
    assert!(own(&ours[1]).ends_with("5.6.7.8\tc\n<own address>\tweb.example.com web\n"));
    assert!(!ours[0].contains("md-ph-peer") && !ours[1].contains("pal"));
    drop(docker);
    drop(ns);
}

/// `State.Health` as dockerd keeps it: none before the first start; after a
/// stop `unhealthy` with its streak and log; `starting` on the next start.
#[test]
fn health_after_stop_and_start_is_dockers() {
    let steps = |cli: &dyn Fn(&[&str]) -> String| -> Vec<String> {
        let f = "{{json .State.Health}}";
        let brief = "{{.State.Health.Status}} {{.State.Health.FailingStreak}}";
        let mut seen = Vec::new();
        cli(&[
            "create",
            "--name",
            "md-phh",
            "--network",
            "none",
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            "md-ph-bb",
            "sleep",
            "300",
        ]);
        seen.push(cli(&["inspect", "-f", f, "md-phh"]));
        cli(&["start", "md-phh"]);
        seen.push(cli(&["inspect", "-f", brief, "md-phh"]));
        eventually("the check to pass", || {
            cli(&["inspect", "-f", brief, "md-phh"]) == "healthy 0\n"
        });
        let logged = |c: &dyn Fn(&[&str]) -> String| {
            c(&["inspect", "-f", "{{len .State.Health.Log}}", "md-phh"])
                .trim()
                .parse::<usize>()
                .unwrap()
        };
        let before = logged(cli);
        cli(&["stop", "-t", "1", "md-phh"]);
        seen.push(cli(&["inspect", "-f", brief, "md-phh"]));
        assert!(logged(cli) >= before, "the log stays after a stop");
        cli(&["start", "md-phh"]);
        seen.push(cli(&["inspect", "-f", brief, "md-phh"]));
        assert!(logged(cli) >= before, "the log stays after a start");
        cli(&["rm", "-f", "md-phh"]);
        seen
    };
    let d = Daemon::start();
    d.import_busybox("md-ph-bb");
    let ours = steps(&|a| d.ok(a));
    let docker = DockerDaemon::start(&[]);
    docker.import_busybox("md-ph-bb");
    let theirs = steps(&|a| docker.ok(a));
    assert_eq!(ours, theirs);
    assert_eq!(
        theirs,
        ["null\n", "starting 0\n", "unhealthy 0\n", "starting 0\n"]
    );
}

/// `RepoDigests` follow the references as dockerd's do: a tag's removal
/// takes its repository's digest when it was that repository's last tag; a
/// digest can be removed by itself; by id, every reference goes, and
/// references in two repositories need `-f`.
#[test]
fn repo_digests_go_with_their_references_as_in_dockerd() {
    let reg = Registry::start();
    let run = |who: &str, cli: &dyn Fn(&[&str]) -> std::process::Output| -> Vec<String> {
        let repo = format!("{}/md-pd-{who}", reg.host());
        let ok = |args: &[&str]| {
            let o = cli(args);
            assert!(
                o.status.success(),
                "{who}: {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        // Each step's output, with the repository and digests made alike.
        let mut seen = Vec::new();
        let mut note = |text: String| seen.push(no_digests(&text.replace(&repo, "REPO")));
        let digests = |r: &str| ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", r]);
        let v = |t: &str| format!("{repo}:{t}");
        for t in ["v1", "v2"] {
            ok(&["tag", "md-pd-bb", &v(t)]);
        }
        ok(&["tag", "md-pd-bb", "md-pd-local:1"]);
        ok(&["push", &v("v1")]);
        note(digests("md-pd-bb"));
        // v2 still tags the repository: its digest stays.
        note(ok(&["rmi", &v("v1")]));
        note(digests("md-pd-bb"));
        // The last tag of the repository: the digest goes with it.
        note(ok(&["rmi", &v("v2")]));
        note(digests("md-pd-bb"));
        // A digest removed by itself, the tag staying.
        ok(&["tag", "md-pd-bb", &v("v3")]);
        ok(&["push", &v("v3")]);
        let pinned: Vec<String> = serde_json::from_str(&digests("md-pd-bb")).unwrap();
        note(ok(&["rmi", &pinned[0]]));
        note(digests("md-pd-bb"));
        ok(&["push", &v("v3")]);
        // By id: references in two repositories need -f, then all go.
        let id = ok(&["image", "inspect", "-f", "{{.Id}}", "md-pd-bb"]);
        let id = id.trim();
        let o = cli(&["rmi", id]);
        note(format!(
            "{:?} {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).replace(&id[7..19], "<id>")
        ));
        // (dockerd then lists each layer it deleted; ours keeps no such ids.)
        let untagged: String = ok(&["rmi", "-f", id])
            .lines()
            .filter(|l| l.starts_with("Untagged: "))
            .map(|l| format!("{l}\n"))
            .collect();
        note(untagged);
        let o = cli(&[
            "image",
            "inspect",
            &format!("{repo}@{}", &pinned[0][pinned[0].len() - 71..]),
        ]);
        note(format!("{:?}", o.status.code()));
        seen
    };
    let d = Daemon::start();
    d.import_busybox("md-pd-bb");
    let ours = run("ours", &|a| d.docker20(a));
    let docker = DockerDaemon::start(&[]);
    docker.import_busybox("md-pd-bb");
    let theirs = run("theirs", &|a| docker.docker(a));
    assert_eq!(ours, theirs);
    // What dockerd did, to read (and so the comparison compared something).
    assert_eq!(theirs[0], "[\"REPO@<digest>\"]\n", "{theirs:#?}");
    assert_eq!(theirs[1], "Untagged: REPO:v1\n", "{theirs:#?}");
    assert_eq!(theirs[3], "Untagged: REPO:v2\nUntagged: REPO@<digest>\n");
    assert_eq!(theirs[4], "[]\n");
}

/// `docker cp` (the 20.10 CLI: `HEAD` to stat the destination, `PUT` and
/// `GET /containers/{id}/archive`) both ways against mini-dockerd: the
/// bytes arrive, a directory lands where Docker puts it, and a missing path
/// is refused with dockerd's words.
#[test]
fn the_docker_cli_copies_into_and_out_of_a_container() {
    let d = Daemon::start();
    d.import_busybox("md-pcp-bb");
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "md-pcp",
        "md-pcp-bb",
        "sleep",
        "300",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("dir")).unwrap();
    std::fs::write(tmp.path().join("dir/a.txt"), "through HEAD and PUT\n").unwrap();
    let src = tmp.path().join("dir");
    d.ok20(&["cp", src.to_str().unwrap(), "md-pcp:/tmp/"]);
    assert_eq!(
        d.ok(&["exec", "md-pcp", "cat", "/tmp/dir/a.txt"]),
        "through HEAD and PUT\n"
    );
    let out = tmp.path().join("back");
    d.ok20(&["cp", "md-pcp:/tmp/dir", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("a.txt")).unwrap(),
        "through HEAD and PUT\n"
    );
    let missing = d.docker20(&["cp", "md-pcp:/no/such", out.to_str().unwrap()]);
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "Error: No such container:path: md-pcp:/no/such\n"
    );
    d.ok(&["rm", "-f", "md-pcp"]);
}
