//! Layers and the files in them, as real clients found them (issues 18
//! and 22): setuid/setgid bits survive every path an image takes, `cp`
//! never treats `.wh.` names as whiteouts, a multi-image `docker save`
//! loads with its shared layers intact. Privileged: they fail without root.

use e2e::*;
use std::io::Read;
use std::path::Path;
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A tar header owned by root, time 0.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    h
}

/// The busybox rootfs plus a setuid-root program and a setgid directory.
fn setid_rootfs_tar(out: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    let mut src = tar::Archive::new(std::fs::File::open(busybox_tar()).unwrap());
    for e in src.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let path = e.path().unwrap().into_owned();
        if h.entry_type().is_symlink() {
            let t = e.link_name().unwrap().unwrap().into_owned();
            b.append_link(&mut h, &path, &t).unwrap();
        } else {
            b.append_data(&mut h, &path, &mut e).unwrap();
        }
    }
    let script = b"#!/bin/sh\necho setuid\n";
    let mut h = header(tar::EntryType::Regular, 0o4755, script.len() as u64);
    b.append_data(&mut h, "usr/bin/su-like", &script[..])
        .unwrap();
    let mut h = header(tar::EntryType::Directory, 0o2775, 0);
    h.set_gid(50);
    b.append_data(&mut h, "srv/shared/", std::io::empty())
        .unwrap();
    b.finish().unwrap();
}

/// `stat -c %a` of each path, in a container of `image`.
fn modes(d: &Daemon, image: &str, paths: &[&str]) -> String {
    let mut args = vec![
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "stat",
        "-c",
        "%a",
    ];
    args.extend_from_slice(paths);
    d.ok(&args)
}

#[test]
fn setuid_and_setgid_bits_survive_load_run_commit_build_push_and_pull() {
    let tmp = tempfile::Builder::new()
        .prefix("md-layers-")
        .tempdir()
        .unwrap();
    let rootfs = tmp.path().join("rootfs.tar");
    setid_rootfs_tar(&rootfs);

    // Made in one daemon, saved, and loaded into another.
    let a = Daemon::start();
    a.ok(&["import", rootfs.to_str().unwrap(), "setid:v1"]);
    assert_eq!(
        modes(&a, "setid:v1", &["/usr/bin/su-like", "/srv/shared"]),
        "4755\n2775\n"
    );
    let saved = tmp.path().join("setid.tar");
    a.ok(&["save", "-o", saved.to_str().unwrap(), "setid:v1"]);
    let b = Daemon::start();
    b.docker_ok(&["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(
        modes(&b, "setid:v1", &["/usr/bin/su-like", "/srv/shared"]),
        "4755\n2775\n",
        "after load"
    );

    // Commit: the bits the container set, and those below, stay.
    let c = b.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "setid:v1",
        "sh",
        "-c",
        "chmod 4711 /usr/bin/su-like && mkdir /srv/g2 && chmod 2770 /srv/g2",
    ]);
    let c = c.trim();
    assert_eq!(b.ok(&["wait", c]).trim(), "0");
    b.docker_ok(&["commit", c, "setid:committed"]);
    assert_eq!(
        modes(
            &b,
            "setid:committed",
            &["/usr/bin/su-like", "/srv/g2", "/srv/shared"]
        ),
        "4711\n2770\n2775\n",
        "after commit"
    );

    // Build (the real CLI, legacy builder): COPY keeps a setuid file's
    // mode and a setgid directory's (a directory's own destination is
    // made 0755, as Docker's CopyWithTar makes it, so copy its parent).
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("tool"), "#!/bin/sh\necho tool\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(ctx.join("tool"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::create_dir(ctx.join("gdir")).unwrap();
    std::fs::set_permissions(ctx.join("gdir"), std::fs::Permissions::from_mode(0o2755)).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM setid:v1\nCOPY tool /usr/local/bin/tool\nCOPY . /opt/ctx/\n",
    )
    .unwrap();
    let o = std::process::Command::new(
        ["/usr/local/bin/docker", "/usr/bin/docker"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap(),
    )
    .env("DOCKER_HOST", b.host())
    .env("DOCKER_BUILDKIT", "0")
    .args(["build", "-t", "setid:built", ctx.to_str().unwrap()])
    .output()
    .unwrap();
    assert!(o.status.success(), "docker build: {}", text(&o));
    assert_eq!(
        modes(
            &b,
            "setid:built",
            &["/usr/local/bin/tool", "/opt/ctx/gdir", "/usr/bin/su-like"]
        ),
        "4755\n2755\n4755\n",
        "after build"
    );

    // Push both, pull them into a third daemon.
    let reg = Registry::start();
    let c = Daemon::start();
    for (local, want) in [
        ("setid:committed", "4711\n2770\n"),
        ("setid:built", "4755\n2755\n"),
    ] {
        let remote = format!("{}/{local}", reg.host());
        b.docker_ok(&["tag", local, &remote]);
        b.docker_ok(&["push", &remote]);
        c.docker_ok(&["pull", &remote]);
        let paths: &[&str] = if local.ends_with("committed") {
            &["/usr/bin/su-like", "/srv/g2"]
        } else {
            &["/usr/local/bin/tool", "/opt/ctx/gdir"]
        };
        assert_eq!(modes(&c, &remote, paths), want, "after pull of {remote}");
    }
}

/// `curl` on the daemon's socket; returns (status, body).
fn api(d: &Daemon, method: &str, path: &str, body: Option<&Path>) -> (u16, Vec<u8>) {
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-o"])
        .arg(out_file.path())
        .args(["-w", "%{http_code}", "--unix-socket"])
        .arg(d.socket())
        .args(["-X", method]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/x-tar", "--data-binary"])
            .arg(format!("@{}", b.display()));
    }
    let o = cmd
        .arg(format!("http://localhost/v1.41{path}"))
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    (code, std::fs::read(out_file.path()).unwrap())
}

#[test]
fn cp_copies_whiteout_names_as_plain_files_both_ways() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&["run", "-d", "--network", "none", "bb", "sleep", "300"])
        .trim()
        .to_string();
    d.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir -p /data /target /target2 && echo c > /data/.wh.victim && : > /data/.wh..wh..opq \
         && echo precious > /target/victim && echo precious > /target2/victim2",
    ]);
    let tmp = tempfile::Builder::new()
        .prefix("md-layers-cp-")
        .tempdir()
        .unwrap();

    // Out of the container, into a host directory that has `victim`.
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("data")).unwrap();
    std::fs::write(out.join("data/victim"), "host precious").unwrap();
    d.docker_ok(&["cp", &format!("{id}:/data"), &format!("{}/", out.display())]);
    assert_eq!(
        std::fs::read_to_string(out.join("data/victim")).unwrap(),
        "host precious"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("data/.wh.victim")).unwrap(),
        "c\n"
    );
    assert!(out.join("data/.wh..wh..opq").is_file());
    // One file by name, next to a host file it must not delete.
    std::fs::write(out.join("victim"), "host precious").unwrap();
    d.docker_ok(&[
        "cp",
        &format!("{id}:/data/.wh.victim"),
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("victim")).unwrap(),
        "host precious"
    );
    assert!(out.join(".wh.victim").is_file());

    // Into the container, next to `victim`.
    let src = tmp.path().join("in");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join(".wh.victim"), "plain\n").unwrap();
    std::fs::write(src.join(".wh..wh..opq"), "").unwrap();
    d.docker_ok(&[
        "cp",
        &format!("{}/.", src.display()),
        &format!("{id}:/target"),
    ]);
    assert_eq!(
        d.ok(&[
            "exec",
            &id,
            "cat",
            "/target/victim",
            "/target/.wh.victim",
            "/target/.wh..wh..opq"
        ]),
        "precious\nplain\n"
    );

    // The API itself: PUT a tar holding `.wh.victim2`, GET it back.
    let tar = tmp.path().join("put.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&tar).unwrap());
        let mut h = header(tar::EntryType::Regular, 0o644, 3);
        b.append_data(&mut h, ".wh.victim2", &b"put"[..]).unwrap();
        b.finish().unwrap();
    }
    let (code, body) = api(
        &d,
        "PUT",
        &format!("/containers/{id}/archive?path=/target2"),
        Some(&tar),
    );
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        d.ok(&[
            "exec",
            &id,
            "cat",
            "/target2/victim2",
            "/target2/.wh.victim2"
        ]),
        "precious\nput"
    );
    let (code, body) = api(
        &d,
        "GET",
        &format!("/containers/{id}/archive?path=/target2"),
        None,
    );
    assert_eq!(code, 200);
    let mut names: Vec<String> = tar::Archive::new(body.as_slice())
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .display()
                .to_string()
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["target2", "target2/.wh.victim2", "target2/victim2"]);
    d.ok(&["rm", "-f", &id]);
}

#[test]
fn load_of_a_multi_image_docker_save_keeps_the_shared_layer_and_pushes() {
    require_root();
    let docker = e2e::DockerDaemon::start(&[]);
    docker.import_busybox("mdl-base:1");
    let tmp = tempfile::Builder::new()
        .prefix("md-layers-save-")
        .tempdir()
        .unwrap();
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("hello"), "from the second image\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM mdl-base:1\nCOPY hello /hello\n",
    )
    .unwrap();
    let sock = format!("unix://{}", docker.dir.path().join("docker.sock").display());
    let o = std::process::Command::new(e2e::docker_cli())
        .env("DOCKER_HOST", &sock)
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", "mdl-top:1", ctx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "docker build: {}", text(&o));
    let saved = tmp.path().join("x.tar");
    docker.ok(&[
        "save",
        "-o",
        saved.to_str().unwrap(),
        "mdl-base:1",
        "mdl-top:1",
    ]);
    // The shared layer is written once; the other image's entry links to it.
    let links = tar::Archive::new(std::fs::File::open(&saved).unwrap())
        .entries()
        .unwrap()
        .filter(|e| {
            let e = e.as_ref().unwrap();
            e.header().entry_type().is_symlink()
                && e.path().unwrap().to_string_lossy().ends_with("layer.tar")
        })
        .count();
    assert!(links >= 1, "docker save wrote no layer symlink");
    drop(docker);

    let d = Daemon::start();
    let out = d.ok(&["load", "-i", saved.to_str().unwrap()]);
    assert!(
        out.contains("mdl-base:1") && out.contains("mdl-top:1"),
        "{out}"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "mdl-top:1",
            "cat",
            "/hello"
        ]),
        "from the second image\n"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "mdl-base:1",
            "echo",
            "base"
        ]),
        "base\n"
    );
    blobs_verify(&d);

    // Both push, and a fresh daemon pulls and runs both.
    let reg = Registry::start();
    let fresh = Daemon::start();
    for (name, cmd, want) in [
        ("mdl-base:1", ["echo", "base"], "base\n"),
        ("mdl-top:1", ["cat", "/hello"], "from the second image\n"),
    ] {
        let remote = format!("{}/{name}", reg.host());
        d.ok(&["tag", name, &remote]);
        let o = d.docker(&["push", &remote]);
        assert!(o.status.success(), "push {remote}: {}", text(&o));
        fresh.ok(&["pull", &remote]);
        let mut args = vec!["run", "--rm", "--network", "none", remote.as_str()];
        args.extend_from_slice(&cmd);
        assert_eq!(fresh.ok(&args), want);
    }
    assert!(dir_blobs_verify(&reg.root().join("blobs/sha256")) > 0);
    blobs_verify(&fresh);
}

#[test]
fn names_from_skopeo_archives_and_import_are_normalized() {
    let tmp = tempfile::Builder::new()
        .prefix("md-layers-names-")
        .tempdir()
        .unwrap();
    let a = Daemon::start();
    a.import_busybox("nbase:1");
    let saved = tmp.path().join("saved.tar");
    a.ok(&["save", "-o", saved.to_str().unwrap(), "nbase:1"]);
    let src = format!("docker-archive:{}", saved.display());
    let skopeo = |dest: String| {
        let o = std::process::Command::new("skopeo")
            .args(["copy", "--quiet", &src, &dest])
            .output()
            .unwrap();
        assert!(o.status.success(), "skopeo copy {dest}: {}", text(&o));
    };
    let docker_arch = tmp.path().join("da.tar");
    skopeo(format!(
        "docker-archive:{}:docker.io/library/mdx:t",
        docker_arch.display()
    ));
    let oci_arch = tmp.path().join("oci.tar");
    skopeo(format!(
        "oci-archive:{}:docker.io/library/mdy:t",
        oci_arch.display()
    ));
    let tag_only = tmp.path().join("tag-only.tar");
    skopeo(format!("oci-archive:{}:1", tag_only.display()));

    let d = Daemon::start();
    let out = d.docker_ok(&["load", "-i", docker_arch.to_str().unwrap()]);
    assert!(out.contains("Loaded image: mdx:t"), "{out}");
    let out = d.docker_ok(&["load", "-i", oci_arch.to_str().unwrap()]);
    assert!(out.contains("Loaded image: mdy:t"), "{out}");
    for name in ["mdx:t", "mdy:t", "docker.io/library/mdx:t"] {
        assert_eq!(
            d.ok(&["run", "--rm", "--network", "none", name, "echo", "ok"]),
            "ok\n",
            "{name}"
        );
    }
    // A ref.name that is only a tag: loaded untagged, never as `:1`.
    let out = d.docker_ok(&["load", "-i", tag_only.to_str().unwrap()]);
    assert!(out.contains("Loaded image ID: sha256:"), "{out}");
    let id = out.trim().rsplit(' ').next().unwrap().to_string();
    let listed = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!listed.lines().any(|l| l.starts_with(':')), "{listed}");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", &id, "echo", "ok"]),
        "ok\n"
    );

    // `docker import f.tar name:v1` is name:v1, not name:v1:latest.
    d.docker_ok(&["import", busybox_tar().to_str().unwrap(), "imp:v1"]);
    let listed = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.lines().any(|l| l == "imp:v1"), "{listed}");
    let tags: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.data_root().join("images.json")).unwrap()).unwrap();
    let keys: Vec<&String> = tags.as_object().unwrap().keys().collect();
    assert!(keys.iter().any(|k| *k == "imp:v1"), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("v1:")), "{keys:?}");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "imp:v1", "echo", "ok"]),
        "ok\n"
    );
}

#[test]
fn a_layer_over_max_layer_size_is_refused_and_leaves_nothing() {
    // 4 MiB: the busybox image (2 MiB) fits, 16 MiB of zeros do not.
    let d = Daemon::start_with_config(r#"{"max-layer-size": 4194304}"#);
    d.import_busybox("small");
    let tmp = tempfile::Builder::new()
        .prefix("md-layers-bomb-")
        .tempdir()
        .unwrap();
    let plain = tmp.path().join("bomb.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&plain).unwrap());
        let mut h = header(tar::EntryType::Regular, 0o644, 16 << 20);
        b.append_data(&mut h, "zeros", std::io::repeat(0).take(16 << 20))
            .unwrap();
        b.finish().unwrap();
    }
    let st = std::process::Command::new("gzip")
        .args(["-9", "-n"])
        .arg(&plain)
        .status()
        .unwrap();
    assert!(st.success());
    let bomb = tmp.path().join("bomb.tar.gz");
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    d.ok(&["import", bomb.to_str().unwrap(), "bomb:1"]);
    let layers = d.data_root().join("layers");
    let before: Vec<_> = files(&layers);
    let o = d.docker(&["run", "--rm", "--network", "none", "bomb:1", "true"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unpacks to more than 4194304 bytes (daemon.json max-layer-size)"),
        "{err}"
    );
    assert!(err.contains("layer sha256:"), "{err}");
    // Nothing partial: no layer directory, no container.
    assert_eq!(files(&layers), before);
    assert!(d.ids().is_empty());
    // What fits still runs.
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "small", "echo", "ok"]),
        "ok\n"
    );
}

/// Temp files of a daemon's data root (request bodies, blobs being written,
/// layers being unpacked).
fn temp_files(d: &Daemon) -> Vec<std::path::PathBuf> {
    files(&d.data_root())
        .into_iter()
        .filter(|p| {
            let n = p.to_string_lossy();
            n.contains("/.tmp") || n.contains("/.ingest-") || n.contains("/.ch04-unpacking-")
        })
        .collect()
}

#[test]
fn a_client_gone_mid_load_leaves_no_temp_file() {
    use std::io::Write as _;
    let d = Daemon::start();
    d.import_busybox("gone");
    let tmp = tempfile::Builder::new()
        .prefix("md-layers-gone-")
        .tempdir()
        .unwrap();
    let archive = tmp.path().join("saved.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "gone"]);
    let images_before = d.ok(&["images", "-q"]);
    let body = std::fs::read(&archive).unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    write!(
        s,
        "POST /v1.41/images/load HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    eventually("the body being received", || !temp_files(&d).is_empty());
    // The client goes away: the daemon drops what it had received.
    drop(s);
    eventually("the temp body removed", || temp_files(&d).is_empty());
    assert_eq!(d.ok(&["images", "-q"]), images_before);
    blobs_verify(&d);
}

#[test]
fn a_create_whose_client_goes_away_stops_unpacking_and_leaves_nothing() {
    use std::io::Write as _;
    // 512 MiB of zeros, under 1 MiB gzipped: its unpack takes seconds, far
    // longer than this client waits, and stays under the default bound.
    let d = Daemon::start();
    let tmp = tempfile::Builder::new()
        .prefix("md-layers-gone-create-")
        .tempdir()
        .unwrap();
    let bomb = tmp.path().join("bomb.tar.gz");
    {
        let mut gz = std::process::Command::new("gzip")
            .args(["-1", "-n", "-c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::fs::File::create(&bomb).unwrap())
            .spawn()
            .unwrap();
        let mut b = tar::Builder::new(gz.stdin.take().unwrap());
        let mut h = header(tar::EntryType::Regular, 0o644, 512 << 20);
        b.append_data(&mut h, "zeros", std::io::repeat(0).take(512 << 20))
            .unwrap();
        drop(b.into_inner().unwrap());
        assert!(gz.wait().unwrap().success());
    }
    d.ok(&["import", bomb.to_str().unwrap(), "bomb:512m"]);
    let layers = d.data_root().join("layers");
    let before = files(&layers);
    // A raw create (what `docker run` sends first), then the client hangs
    // up as soon as the unpack is under way.
    let body = r#"{"Image":"bomb:512m","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    write!(
        s,
        "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    eventually("the unpack under way", || files(&layers) != before);
    drop(s);
    // The partial layer goes, and no whole layer or container ever comes:
    // the unpack stopped rather than finished.
    eventually("the cancelled unpack removed", || files(&layers) == before);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        files(&layers),
        before,
        "a layer appeared after the client left"
    );
    assert!(d.ids().is_empty(), "the create went on without its client");
    assert!(temp_files(&d).is_empty());
}
