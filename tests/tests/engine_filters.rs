//! The list endpoints' `filters`, driven by the real docker CLI: each
//! filter with objects that must match and objects that must not, and an
//! unknown filter refused with Docker's message. Privileged: fails without root.

use e2e::*;

/// The sorted lines of a `--format` listing.
#[track_caller]
fn names(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = d
        .docker_ok(args)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[track_caller]
fn refused(d: &Daemon, args: &[&str], message: &str) {
    let o = d.docker(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "docker {args:?} succeeded");
    assert!(err.contains(message), "docker {args:?}: {err}");
}

#[test]
fn image_filters_dangling_label_reference_before_since() {
    let d = Daemon::start();
    d.import_busybox("fbase:1");
    let ctx = tempfile::tempdir().unwrap();
    // Three builds, in order; the last one without a tag is dangling.
    for (i, (tag, label)) in [("fa:1", "a"), ("fb:2", "b"), ("", "c")].iter().enumerate() {
        std::fs::write(
            ctx.path().join("Dockerfile"),
            format!("FROM fbase:1\nLABEL which={label} n={i}\n"),
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let mut args = vec!["build", "-q"];
        if !tag.is_empty() {
            args.extend(["-t", tag]);
        }
        args.push(ctx.path().to_str().unwrap());
        d.ok(&args);
    }
    let fmt = "{{.Repository}}:{{.Tag}}";
    let all = names(&d, &["images", "--format", fmt]);
    assert_eq!(all, ["<none>:<none>", "fa:1", "fb:2", "fbase:1"]);
    // The bug: dangling=true listed every tagged image.
    assert_eq!(
        names(&d, &["images", "-f", "dangling=true", "--format", fmt]),
        ["<none>:<none>"]
    );
    assert_eq!(
        names(&d, &["images", "-f", "dangling=false", "--format", fmt]),
        ["fa:1", "fb:2", "fbase:1"]
    );
    assert_eq!(
        names(&d, &["images", "-f", "label=which=b", "--format", fmt]),
        ["fb:2"]
    );
    assert_eq!(
        names(&d, &["images", "-f", "label=which", "--format", fmt]),
        ["<none>:<none>", "fa:1", "fb:2"]
    );
    assert_eq!(
        names(&d, &["images", "-f", "reference=f?", "--format", fmt]),
        ["fa:1", "fb:2"]
    );
    assert_eq!(
        names(&d, &["images", "-f", "reference=*:1", "--format", fmt]),
        ["fa:1", "fbase:1"]
    );
    assert_eq!(
        names(&d, &["images", "-f", "since=fa:1", "--format", fmt]),
        ["<none>:<none>", "fb:2"]
    );
    assert_eq!(
        names(&d, &["images", "-f", "before=fb:2", "--format", fmt]),
        ["fa:1", "fbase:1"]
    );
    refused(
        &d,
        &["images", "-f", "colour=red"],
        "invalid filter 'colour'",
    );
    refused(
        &d,
        &["images", "-f", "dangling=maybe"],
        "invalid filter 'dangling=maybe'",
    );
}

#[test]
fn container_filters_match_dockers_set() {
    let d = Daemon::start();
    d.import_busybox("cbase");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM cbase\nLABEL child=1\n").unwrap();
    d.ok(&["build", "-q", "-t", "cchild", ctx.path().to_str().unwrap()]);
    d.ok(&["volume", "create", "fvol"]);
    let run = |name: &str, image: &str, extra: &[&str], cmd: &[&str]| {
        let mut args = vec!["run", "-d", "--network", "none", "--name", name];
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(cmd);
        d.ok(&args);
    };
    run("c-up", "cbase", &["-l", "tier=web"], &["sleep", "300"]);
    run(
        "c-three",
        "cbase",
        &["-l", "tier=db"],
        &["sh", "-c", "exit 3"],
    );
    run("c-child", "cchild", &["-v", "fvol:/data"], &["true"]);
    d.ok(&["wait", "c-three"]);
    d.ok(&["wait", "c-child"]);
    let fmt = "{{.Names}}";
    let ps = |f: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", fmt];
        for x in f {
            args.extend(["-f", x]);
        }
        names(&d, &args)
    };
    assert_eq!(
        names(&d, &["ps", "--format", fmt]),
        ["c-up"],
        "running only by default"
    );
    assert_eq!(ps(&["status=exited"]), ["c-child", "c-three"]);
    assert_eq!(ps(&["exited=3"]), ["c-three"]);
    assert_eq!(ps(&["exited=0"]), ["c-child"]);
    assert_eq!(ps(&["label=tier"]), ["c-three", "c-up"]);
    assert_eq!(ps(&["label=tier=db"]), ["c-three"]);
    assert_eq!(ps(&["name=c-t"]), ["c-three"]);
    assert_eq!(ps(&["ancestor=cchild"]), ["c-child"]);
    assert_eq!(ps(&["ancestor=cbase"]), ["c-child", "c-three", "c-up"]);
    assert_eq!(ps(&["volume=fvol"]), ["c-child"]);
    assert_eq!(ps(&["network=none"]), ["c-child", "c-three", "c-up"]);
    assert_eq!(ps(&["since=c-up"]), ["c-child", "c-three"]);
    assert_eq!(ps(&["before=c-three"]), ["c-up"]);
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "c-three"]);
    assert_eq!(ps(&[&format!("id={}", &id[..12])]), ["c-three"]);
    refused(&d, &["ps", "-f", "colour=red"], "invalid filter 'colour'");
    refused(
        &d,
        &["ps", "-f", "is-task=true"],
        "invalid filter 'is-task'",
    );
    refused(
        &d,
        &["ps", "-f", "status=sleepy"],
        "Unrecognised filter value for status: sleepy",
    );
}

#[test]
fn volume_and_network_filters() {
    let d = Daemon::start();
    d.import_busybox("vbase");
    d.docker_ok(&["volume", "create", "--label", "keep=yes", "fv-used"]);
    d.docker_ok(&["volume", "create", "--label", "keep=no", "fv-free"]);
    d.docker_ok(&["volume", "create", "other"]);
    d.ok(&[
        "create",
        "--network",
        "none",
        "-v",
        "fv-used:/data",
        "vbase",
        "true",
    ]);
    let vols = |f: &str| names(&d, &["volume", "ls", "-q", "-f", f]);
    assert_eq!(vols("dangling=true"), ["fv-free", "other"]);
    assert_eq!(vols("dangling=false"), ["fv-used"]);
    assert_eq!(vols("label=keep"), ["fv-free", "fv-used"]);
    assert_eq!(vols("label=keep=yes"), ["fv-used"]);
    assert_eq!(vols("name=fv-"), ["fv-free", "fv-used"]);
    assert_eq!(vols("driver=local").len(), 3);
    assert!(vols("driver=nfs").is_empty());
    refused(
        &d,
        &["volume", "ls", "-f", "colour=red"],
        "invalid filter 'colour'",
    );

    d.docker_ok(&["network", "create", "--label", "team=a", "fn-a"]);
    d.docker_ok(&["network", "create", "fn-b"]);
    d.ok(&["run", "-d", "--network", "fn-b", "vbase", "sleep", "300"]);
    let nets = |f: &str| names(&d, &["network", "ls", "--format", "{{.Name}}", "-f", f]);
    assert_eq!(nets("label=team=a"), ["fn-a"]);
    assert_eq!(nets("label=team=b"), Vec::<String>::new());
    assert_eq!(nets("name=fn-"), ["fn-a", "fn-b"]);
    assert_eq!(nets("type=custom"), ["fn-a", "fn-b"]);
    assert_eq!(nets("type=builtin"), ["host", "none"]);
    assert_eq!(nets("driver=bridge"), ["fn-a", "fn-b"]);
    assert_eq!(nets("dangling=true"), ["fn-a"]);
    let id = d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "fn-b"]);
    assert_eq!(nets(&format!("id={}", &id[..10])), ["fn-b"]);
    refused(
        &d,
        &["network", "ls", "-f", "colour=red"],
        "invalid filter 'colour'",
    );
}
