//! `cp` end to end: both directions, a directory, a tar stream, a stopped
//! container, and the symlink attacks (CVE-2018-15664): a link in the
//! container to `/` or `../../..` never lets `cp` read or write the host.
//! Privileged: they fail (never skip) without root.

use e2e::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs the CLI with `input` on stdin.
fn cli_stdin(d: &Daemon, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(cli_bin())
        .arg("-H")
        .arg(d.host())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn rootfs(d: &Daemon, id: &str) -> PathBuf {
    d.data_root().join("containers").join(id).join("rootfs")
}

fn tar_names(bytes: &[u8]) -> Vec<String> {
    tar::Archive::new(bytes)
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

fn wait_for(p: &Path) {
    for _ in 0..500 {
        if std::fs::symlink_metadata(p).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never appeared", p.display());
}

#[test]
fn cp_both_ways_files_directories_and_streams() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "box",
            "bb",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let host = tempfile::tempdir().unwrap();
    let h = host.path();
    std::fs::write(h.join("a.txt"), "hello cp\n").unwrap();
    std::fs::create_dir_all(h.join("tree/sub")).unwrap();
    std::fs::write(h.join("tree/sub/deep.txt"), "deep\n").unwrap();
    std::os::unix::fs::symlink("sub/deep.txt", h.join("tree/link")).unwrap();
    let p = |x: &str| h.join(x).display().to_string();

    // Host -> container: a file into a directory, a file to a new name, a directory.
    d.ok(&["cp", &p("a.txt"), "box:/www"]);
    assert_eq!(
        std::fs::read_to_string(rootfs(&d, &id).join("www/a.txt")).unwrap(),
        "hello cp\n"
    );
    d.ok(&["cp", &p("a.txt"), "box:/renamed.txt"]);
    assert_eq!(
        std::fs::read_to_string(rootfs(&d, &id).join("renamed.txt")).unwrap(),
        "hello cp\n"
    );
    d.ok(&["cp", &p("tree"), "box:/data"]);
    let data = rootfs(&d, &id).join("data");
    assert_eq!(
        std::fs::read_to_string(data.join("sub/deep.txt")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap(),
        Path::new("sub/deep.txt")
    );
    // Copying into an existing directory nests it, as Docker does.
    d.ok(&["cp", &p("tree"), "box:/data"]);
    assert!(data.join("tree/sub/deep.txt").is_file());

    // Container -> host: a file, a renamed file, a directory, its contents (`/.`).
    let out = tempfile::tempdir().unwrap();
    let o = |x: &str| out.path().join(x).display().to_string();
    d.ok(&["cp", "box:/www/index.html", out.path().to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("index.html")).unwrap(),
        "hello from mini-docker\n"
    );
    d.ok(&["cp", "box:/www/index.html", &o("copy.html")]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("copy.html")).unwrap(),
        "hello from mini-docker\n"
    );
    d.ok(&["cp", "box:/data", &o("fetched")]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("fetched/sub/deep.txt")).unwrap(),
        "deep\n"
    );
    std::fs::create_dir(out.path().join("flat")).unwrap();
    d.ok(&["cp", "box:/data/sub/.", &o("flat")]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("flat/deep.txt")).unwrap(),
        "deep\n"
    );

    // A link is copied as a link; with -L, what it points to (resolved inside).
    d.ok(&["cp", "box:/data/link", &o("l2")]);
    assert_eq!(
        std::fs::read_link(out.path().join("l2")).unwrap(),
        Path::new("sub/deep.txt")
    );
    d.ok(&["cp", "-L", "box:/data/link", &o("followed.txt")]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("followed.txt")).unwrap(),
        "deep\n"
    );
    // Owners: the container's root by default, the archive's with -a.
    let owned = h.join("owned.txt");
    std::fs::write(&owned, "mine\n").unwrap();
    std::os::unix::fs::chown(&owned, Some(1234), Some(2345)).unwrap();
    d.ok(&["cp", owned.to_str().unwrap(), "box:/www/plain.txt"]);
    d.ok(&["cp", "-a", owned.to_str().unwrap(), "box:/www/kept.txt"]);
    use std::os::unix::fs::MetadataExt;
    let meta = |n: &str| std::fs::metadata(rootfs(&d, &id).join("www").join(n)).unwrap();
    assert_eq!((meta("plain.txt").uid(), meta("plain.txt").gid()), (0, 0));
    assert_eq!(
        (meta("kept.txt").uid(), meta("kept.txt").gid()),
        (1234, 2345)
    );

    // A file onto a missing directory path is refused (trailing slash).
    assert!(!d
        .cli(&["cp", "box:/www/index.html", &o("nodir/")])
        .status
        .success());

    // Streams: a tar on stdout, a tar from stdin.
    let t = d.cli(&["cp", "box:/data/sub", "-"]);
    assert!(t.status.success(), "{}", stderr(&t));
    assert_eq!(tar_names(&t.stdout), vec!["sub/", "sub/deep.txt"]);
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(7);
    hd.set_mode(0o600);
    hd.set_uid(0);
    hd.set_gid(0);
    hd.set_mtime(0);
    b.append_data(&mut hd, "streamed.txt", &b"stream\n"[..])
        .unwrap();
    let tar = b.into_inner().unwrap();
    let r = cli_stdin(&d, &["cp", "-", "box:/www"], &tar);
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(
        std::fs::read_to_string(rootfs(&d, &id).join("www/streamed.txt")).unwrap(),
        "stream\n"
    );

    // A stopped container: its layers are mounted for the copy, then let go.
    d.ok(&["stop", "-t", "0", "box"]);
    assert!(mounts_under(&d.data_root().join("containers")).is_empty());
    d.ok(&["cp", &p("a.txt"), "box:/stopped.txt"]);
    d.ok(&["cp", "box:/stopped.txt", &o("back.txt")]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("back.txt")).unwrap(),
        "hello cp\n"
    );
    d.ok(&["cp", "box:/data/sub/deep.txt", &o("deep-stopped.txt")]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("deep-stopped.txt")).unwrap(),
        "deep\n"
    );
    assert!(
        mounts_under(&d.data_root().join("containers")).is_empty(),
        "cp left a mount behind"
    );
    // Not found is an error naming the path.
    let nf = d.cli(&["cp", "box:/no/such/file", &o("x")]);
    assert!(!nf.status.success());
    assert!(
        stderr(&nf).contains("Could not find the file /no/such/file"),
        "{}",
        stderr(&nf)
    );
}

/// Every file under `dir`, with its content (or link target).
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let what = if m.is_dir() {
                stack.push(e.path());
                "dir".to_string()
            } else if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(e.path()).unwrap().display())
            } else {
                std::fs::read_to_string(e.path()).unwrap_or_default()
            };
            out.push((e.path(), what));
        }
    }
    out.sort();
    out
}

#[test]
fn cp_never_follows_a_container_symlink_to_the_host() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // A victim directory on the host, and the same path (empty) in the container.
    let victim = tempfile::Builder::new()
        .prefix("md-cp-victim-")
        .tempdir()
        .unwrap();
    let v = victim.path().display().to_string();
    std::fs::write(victim.path().join("secret.txt"), "host secret\n").unwrap();
    let before = snapshot(victim.path());
    let script = format!(
        "mkdir -p {v} /tmp && ln -s / /escape && ln -s ../../../../../.. /up && \
         ln -s {v} /victim && ln -s /escape/etc /etc2 && touch /ready && sleep 1000"
    );
    let id = d
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "evil",
            "bb",
            "sh",
            "-c",
            &script,
        ])
        .trim()
        .to_string();
    wait_for(&rootfs(&d, &id).join("ready"));
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("pwned"), "pwned\n").unwrap();
    let pwned = src.path().join("pwned").display().to_string();

    // Into the container through each link: it lands inside, never on the host.
    for (i, dest) in [
        format!("evil:/escape{v}/p0"),
        format!("evil:/up{v}/p1"),
        "evil:/victim/p2".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let r = d.cli(&["cp", &pwned, dest]);
        assert!(r.status.success(), "cp {dest}: {}", stderr(&r));
        assert!(
            !victim.path().join(format!("p{i}")).exists(),
            "cp {dest} wrote on the host"
        );
        let inside = rootfs(&d, &id)
            .join(v.trim_start_matches('/'))
            .join(format!("p{i}"));
        assert_eq!(
            std::fs::read_to_string(&inside).unwrap(),
            "pwned\n",
            "{dest}"
        );
    }
    // A directory destination that is itself a link to `/`.
    let r = d.cli(&["cp", &pwned, "evil:/victim"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(!victim.path().join("pwned").exists());
    assert!(rootfs(&d, &id)
        .join(v.trim_start_matches('/'))
        .join("pwned")
        .is_file());

    // A hostile tar stream into `/escape`: `..` and absolute names are refused,
    // names through the link stay inside.
    for name in [format!("..{v}/t1"), format!("../../../..{v}/t2")] {
        let mut b = tar::Builder::new(Vec::new());
        let mut hd = tar::Header::new_gnu();
        hd.set_size(3);
        hd.set_mode(0o644);
        hd.set_uid(0);
        hd.set_gid(0);
        hd.set_mtime(0);
        // `append_data` refuses `..`: write the raw name as an attacker would.
        hd.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        hd.set_cksum();
        b.append(&hd, &b"bad"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let _ = cli_stdin(&d, &["cp", "-", "evil:/escape"], &tar);
    }

    // Out of the container through the links: never the host's file.
    let out = tempfile::tempdir().unwrap();
    for src in [
        format!("evil:/escape{v}/secret.txt"),
        format!("evil:/up{v}/secret.txt"),
        "evil:/victim/secret.txt".to_string(),
    ] {
        let dest = out.path().join("got");
        let r = d.cli(&["cp", &src, dest.to_str().unwrap()]);
        assert!(!r.status.success(), "cp {src} succeeded");
        assert!(!dest.exists(), "cp {src} created {}", dest.display());
    }
    // A tar of the link `/escape` is the link itself, and `/escape/` is the
    // container's root (its /etc holds the container's files, not the host's).
    let t = d.cli(&["cp", "evil:/etc2/", "-"]);
    assert!(t.status.success(), "{}", stderr(&t));
    let names = tar_names(&t.stdout);
    assert!(
        !names.iter().any(|n| n.contains("shadow")),
        "host /etc leaked: {names:?}"
    );

    assert_eq!(snapshot(victim.path()), before, "the host victim changed");
}
