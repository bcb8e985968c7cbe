//! Issue 14, faults: the daemon SIGKILLed mid-pull, mid-`load` and mid-`rm`,
//! and a data root on a small tmpfs that fills up. After a restart the
//! store holds no partial or wrong blob, no half-made image or container
//! is listed, running containers are adopted, and the operation repeated
//! succeeds. Privileged: fails (never skips) without root.

use e2e::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A crash in the middle of an operation: runs `mini-docker ARGS` against
/// `d`, waits until `cond` sees the operation under way, SIGKILLs the daemon
/// (and the client), and starts the daemon again on the same data root.
fn sigkill_during(
    d: &mut Daemon,
    args: &[&str],
    what: &str,
    mut cond: impl FnMut(&Daemon) -> bool,
) {
    let mut client = std::process::Command::new(cli_bin())
        .args(["-H", &d.host()])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(what, || cond(d));
    d.kill9();
    let _ = client.kill();
    let _ = client.wait();
    d.spawn();
}

/// Whether some file under `dir` has begun to fill.
fn a_file_filling(dir: &Path) -> bool {
    files(dir)
        .iter()
        .any(|p| p.metadata().map(|m| m.len() > 0).unwrap_or(false))
}

/// Nothing a crash mid-write leaves: ingest files, temp bodies, half layers.
#[track_caller]
fn no_partial_writes(d: &Daemon) {
    let root = d.data_root();
    let ingest = files(&root.join("ingest"));
    assert!(ingest.is_empty(), "partial blobs: {ingest:?}");
    let stray: Vec<PathBuf> = files(&root)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(".tmp") || n.starts_with(".ingest-")
        })
        .collect();
    assert!(stray.is_empty(), "temp files: {stray:?}");
}

/// A rootfs tar of `mib` MiB of random bytes (one file): a layer that takes
/// a while to move.
fn big_rootfs(dir: &Path, mib: usize) -> PathBuf {
    let root = dir.join("bigroot");
    std::fs::create_dir_all(&root).unwrap();
    let mut f = std::fs::File::create(root.join("blob.bin")).unwrap();
    let mut rng = std::fs::File::open("/dev/urandom").unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..mib {
        rng.read_exact(&mut buf).unwrap();
        f.write_all(&buf).unwrap();
    }
    let tar = dir.join("big.tar");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// A loopback TCP proxy in front of the registry that, while `stall` is
/// set, stops passing bytes on after `limit` bytes in one direction: the
/// registry's answers (a pull that hangs mid-layer) or the client's
/// requests (a push that hangs mid-upload), deterministically.
struct StallingProxy {
    addr: String,
    stall: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Bytes passed on in the stalling direction.
    sent: Arc<AtomicU64>,
}

/// (stall, stop, sent, limit): hold the bytes back after `limit` while
/// stall is set, until stop.
type Gate = (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicU64>, u64);

/// Copies `from` to `to`, through `gate` when given.
fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream, gate: Option<Gate>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Some((st, sp, sent, limit)) = &gate {
            while st.load(Ordering::SeqCst)
                && sent.load(Ordering::SeqCst) >= *limit
                && !sp.load(Ordering::SeqCst)
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some((_, _, sent, _)) = &gate {
            sent.fetch_add(n as u64, Ordering::SeqCst);
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
    let _ = from.shutdown(std::net::Shutdown::Read);
}

impl StallingProxy {
    /// Stalls the registry's answers (a pull).
    fn start(upstream: String, limit: u64) -> StallingProxy {
        Self::start_dir(upstream, limit, false)
    }

    /// Stalls the client's requests (a push's upload).
    fn start_upload(upstream: String, limit: u64) -> StallingProxy {
        Self::start_dir(upstream, limit, true)
    }

    fn start_dir(upstream: String, limit: u64, upload: bool) -> StallingProxy {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let stall = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (st, sp, se) = (stall.clone(), stop.clone(), sent.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(up) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let gate = Some((st.clone(), sp.clone(), se.clone(), limit));
                let (c2, u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
                let (up_gate, down_gate) = if upload { (gate, None) } else { (None, gate) };
                std::thread::spawn(move || pump(client, up, up_gate));
                std::thread::spawn(move || pump(u2, c2, down_gate));
            }
        });
        StallingProxy {
            addr,
            stall,
            stop,
            sent,
        }
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(&self.addr);
    }
}

#[test]
fn sigkill_mid_pull_leaves_no_partial_blob_and_the_pull_then_succeeds() {
    let reg = Registry::start();
    let work = tempfile::Builder::new()
        .prefix("md-hd-pull-")
        .tempdir()
        .unwrap();
    let a = Daemon::start();
    let tar = big_rootfs(work.path(), 24);
    let proxy = StallingProxy::start(reg.host(), 4 << 20);
    let name = format!("{}/hd/big:v1", proxy.addr);
    a.ok(&["import", tar.to_str().unwrap(), &name]);
    proxy.stall.store(false, Ordering::SeqCst);
    a.ok(&["push", &name]);
    drop(a);
    proxy.stall.store(true, Ordering::SeqCst);

    let mut b = Daemon::start();
    b.import_busybox("bb");
    let running = b
        .ok(&["run", "-d", "--network", "none", "bb", "sleep", "300"])
        .trim()
        .to_string();
    let blobs_before = blobs_verify(&b);
    let layers_before = b.layers();
    // The big layer is on its way into ingest/, and unpacking into the
    // layer store as it comes (issue 25), and stuck there: kill now.
    let filling = |b: &Daemon| {
        b.layers()
            .iter()
            .filter(|l| l.starts_with(".ch03-filling-"))
            .any(|l| a_file_filling(&b.data_root().join("layers").join(l)))
    };
    sigkill_during(
        &mut b,
        &["pull", &name],
        "a partial blob in ingest/ and a layer half unpacked",
        |b| a_file_filling(&b.data_root().join("ingest")) && filling(b),
    );

    no_partial_writes(&b);
    // The half layer went at the restart; none was published under an id
    // that a later create would trust.
    assert_eq!(b.layers(), layers_before, "the layer store changed");
    // Whole small documents (manifest, config) may have landed, verified;
    // the big layer, cut mid-way, did not, and nothing is wrong.
    let after = blobs_verify(&b);
    assert!(after <= blobs_before + 2, "{blobs_before} then {after}");
    for p in files(&b.data_root().join("blobs/sha256")) {
        assert!(
            p.metadata().unwrap().len() < 8 << 20,
            "{} is the layer",
            p.display()
        );
    }
    assert!(
        !b.ok(&["images"]).contains("hd/big"),
        "no half-pulled image"
    );
    // The container that ran through it was adopted.
    assert_eq!(
        b.ok(&["inspect", "-f", "{{.State.Running}}", &running]),
        "true\n"
    );
    assert_eq!(b.ok(&["exec", &running, "echo", "adopted"]), "adopted\n");
    // The pull, repeated, completes and verifies.
    proxy.stall.store(false, Ordering::SeqCst);
    let out = b.ok(&["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert!(blobs_verify(&b) > blobs_before);
    no_partial_writes(&b);
    // The pull itself unpacked the layer, whole, before any create.
    let new: Vec<String> = b
        .layers()
        .into_iter()
        .filter(|l| !layers_before.contains(l))
        .collect();
    assert_eq!(new.len(), 1, "one new layer: {new:?}");
    assert!(new[0].starts_with("ch04-"), "{new:?}");
    let unpacked = b
        .data_root()
        .join("layers")
        .join(&new[0])
        .join("diff/blob.bin");
    assert_eq!(std::fs::metadata(&unpacked).unwrap().len(), 24 << 20);
    // ... and create uses it as it is.
    b.ok(&["create", "--network", "none", &name, "/blob.bin"]);
    assert_eq!(
        b.layers().len(),
        layers_before.len() + 2,
        "{:?}",
        b.layers()
    );
    b.ok(&["rm", "-f", &running]);
}

#[test]
fn sigkill_mid_load_leaves_nothing_and_the_load_then_succeeds() {
    let work = tempfile::Builder::new()
        .prefix("md-hd-load-")
        .tempdir()
        .unwrap();
    let mut d = Daemon::start();
    let tar = big_rootfs(work.path(), 8);
    d.ok(&["import", tar.to_str().unwrap(), "hd-big"]);
    let archive = work.path().join("saved.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "hd-big"]);
    d.ok(&["rmi", "hd-big"]);
    d.import_busybox("bb");
    let images_before = d.ok(&["images", "-q"]);
    let blobs_before = blobs_verify(&d);

    // Half of the archive, then nothing: the daemon holds half a body.
    let body = std::fs::read(&archive).unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    write!(
        s,
        "POST /v1.41/images/load HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    let root = d.data_root();
    eventually("the body being received", || {
        files(&root).iter().any(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with(".tmp")
                && p.metadata().map(|m| m.len() > 0).unwrap_or(false)
        })
    });
    // What a crash inside chapter 04's writers leaves, too.
    std::fs::write(root.join("ingest/.ingest-hdcrash"), b"half a blob").unwrap();
    std::fs::create_dir_all(root.join("layers/.ch04-unpacking-hdcrash/usr")).unwrap();
    d.kill9();
    drop(s);
    d.spawn();

    no_partial_writes(&d);
    assert!(!root.join("layers/.ch04-unpacking-hdcrash").exists());
    assert_eq!(d.ok(&["images", "-q"]), images_before);
    assert_eq!(blobs_verify(&d), blobs_before);
    let out = d.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.contains("hd-big"), "{out}");
    d.ok(&["run", "--rm", "--network", "none", "bb", "true"]);
    no_partial_writes(&d);
}

#[test]
fn sigkill_mid_rm_then_rm_again_leaves_nothing() {
    let mut d = Daemon::start();
    d.import_busybox("bb");
    let ids: Vec<String> = (0..4)
        .map(|_| {
            d.ok(&["run", "-d", "--network", "none", "bb", "sleep", "300"])
                .trim()
                .to_string()
        })
        .collect();
    let keep = d
        .ok(&["run", "-d", "--network", "none", "bb", "sleep", "300"])
        .trim()
        .to_string();
    let mut args = vec!["-H".to_string(), d.host(), "rm".into(), "-f".into()];
    args.extend(ids.iter().cloned());
    let mut rm = std::process::Command::new(cli_bin())
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the first removal is under way.
    eventually("a removal under way", || {
        ids.iter().any(|id| {
            !d.data_root()
                .join("containers")
                .join(id)
                .join("container.json")
                .exists()
                || !cgroup_exists(id)
        }) || d.ids().len() < 5
    });
    d.kill9();
    let _ = rm.wait();
    d.spawn();

    // Every container still listed is whole: inspectable, and removable now.
    let left = d.ids();
    assert!(left.contains(&keep), "the untouched container is adopted");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", &keep]),
        "true\n"
    );
    for id in &left {
        d.ok(&["inspect", id]);
    }
    for id in &ids {
        let _ = d.cli(&["rm", "-f", id]);
    }
    assert_eq!(d.ids(), vec![keep.clone()]);
    for id in &ids {
        assert!(!cgroup_exists(id), "cgroup of {id} left");
        assert!(
            !d.data_root().join("containers").join(id).exists(),
            "directory of {id} left"
        );
        let m = mounts_under(&d.data_root().join("containers").join(id));
        assert!(m.is_empty(), "mounts of {id} left: {m:?}");
    }
    d.ok(&["rm", "-f", &keep]);
    assert!(mounts_under(&d.data_root().join("containers")).is_empty());
}

/// Unmounts (lazily) on drop, even when the test fails.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn used_bytes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).unwrap();
    (s.blocks() - s.blocks_free()) as u64 * s.fragment_size() as u64
}

#[test]
fn a_full_data_root_gives_a_clear_error_and_releases_the_space() {
    let work = tempfile::Builder::new()
        .prefix("md-hd-full-")
        .tempdir()
        .unwrap();
    let big = big_rootfs(work.path(), 40);
    let mut d = Daemon::start();
    d.kill9();
    // The data root on a 32 MiB tmpfs of its own.
    let root = d.data_root();
    std::fs::create_dir_all(&root).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &root,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=32m,mode=0710"),
    )
    .unwrap();
    let _guard = Unmount(root.clone());
    d.spawn();
    d.import_busybox("bb");
    let images = d.ok(&["images", "-q"]);
    let blobs = blobs_verify(&d);
    let used = used_bytes(&root);

    let big = big.to_str().unwrap();
    for (verb, args) in [
        ("import", vec!["import", big, "hd-full"]),
        ("load", vec!["load", "-i", big]),
    ] {
        let out = d.cli(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert_ne!(out.status.code(), Some(0), "{verb} on a full disk");
        assert!(err.contains("no space left on device"), "{verb}: {err}");
        assert_eq!(d.ok(&["images", "-q"]), images, "{verb}");
        assert_eq!(blobs_verify(&d), blobs, "{verb}");
        no_partial_writes(&d);
        let now = used_bytes(&root);
        assert!(
            now <= used + (1 << 20),
            "{verb}: the space is released ({used} then {now})"
        );
    }
    // The daemon still works on what is left.
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "bb", "echo", "fine"]),
        "fine\n"
    );
}

/// A runnable rootfs tar: busybox plus `/blob.bin`, `mib` MiB of random
/// bytes (a layer that takes a while to move, and an image that runs).
fn big_busybox_rootfs(dir: &Path, mib: usize) -> PathBuf {
    let root = dir.join("bbroot");
    std::fs::create_dir_all(&root).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-xf")
        .arg(busybox_tar())
        .status()
        .unwrap();
    assert!(st.success());
    random_file(&root.join("blob.bin"), mib);
    let tar = dir.join("bigbb.tar");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// `mib` MiB of random bytes at `path`.
fn random_file(path: &Path, mib: usize) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut rng = std::fs::File::open("/dev/urandom").unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..mib {
        rng.read_exact(&mut buf).unwrap();
        f.write_all(&buf).unwrap();
    }
}

/// The registry's blobs all hash to their names; returns them with sizes.
#[track_caller]
fn registry_blobs_verify(reg: &Registry) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for p in files(&reg.root().join("blobs/sha256")) {
        let sum = std::process::Command::new("sha256sum")
            .arg(&p)
            .output()
            .unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            String::from_utf8_lossy(&sum.stdout).starts_with(&name),
            "registry blob {} does not match its digest",
            p.display()
        );
        out.push((p.clone(), p.metadata().unwrap().len()));
    }
    out
}

#[test]
fn sigkill_mid_push_leaves_both_stores_whole_and_the_push_then_succeeds() {
    let reg = Registry::start();
    let work = tempfile::Builder::new()
        .prefix("md-hd-push-")
        .tempdir()
        .unwrap();
    let tar = big_busybox_rootfs(work.path(), 24);
    let proxy = StallingProxy::start_upload(reg.host(), 4 << 20);
    let name = format!("{}/hd/pushed:v1", proxy.addr);

    let mut d = Daemon::start();
    d.import_busybox("bb");
    let running = d
        .ok(&["run", "-d", "--network", "none", "bb", "sleep", "300"])
        .trim()
        .to_string();
    d.ok(&["import", tar.to_str().unwrap(), &name]);
    let images_before = d.ok(&["images", "-q"]);
    let blobs_before = blobs_verify(&d);
    // The big layer is on its way to the registry and stuck there: kill now.
    sigkill_during(&mut d, &["push", &name], "an upload under way", |_| {
        proxy.sent.load(Ordering::SeqCst) >= 4 << 20
    });

    // The daemon's store: only read by a push, and whole.
    no_partial_writes(&d);
    assert_eq!(blobs_verify(&d), blobs_before);
    assert_eq!(d.ok(&["images", "-q"]), images_before);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", &running]),
        "true\n"
    );
    assert_eq!(d.ok(&["exec", &running, "echo", "adopted"]), "adopted\n");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", &name, "echo", "runs"]),
        "runs\n"
    );
    // The registry: whole small blobs at most (the config may have gone
    // up), never the cut layer, and no manifest under the tag.
    proxy.stall.store(false, Ordering::SeqCst);
    for (p, len) in registry_blobs_verify(&reg) {
        assert!(len < 8 << 20, "{} is the cut layer", p.display());
    }
    let repo = reg.root().join("repositories/hd/pushed");
    assert!(
        !repo.join("_manifests/tags/v1").exists(),
        "a half-pushed image is tagged"
    );
    assert!(files(&repo.join("_manifests/revisions")).is_empty());
    // The cut upload's temp file goes with its connection.
    let reg_ingest = reg.root().join("ingest");
    eventually("the registry's partial upload dropped", || {
        files(&reg_ingest).is_empty()
    });
    // The push, repeated, completes; another daemon pulls what it sent.
    let out = d.ok(&["push", &name]);
    assert!(out.contains("digest: sha256:"), "{out}");
    registry_blobs_verify(&reg);
    let fresh = Daemon::start();
    fresh.ok(&["pull", &name]);
    assert_eq!(
        fresh.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            &name,
            "wc",
            "-c",
            "/blob.bin"
        ]),
        format!("{} /blob.bin\n", 24 << 20)
    );
    d.ok(&["rm", "-f", &running]);
}

/// The build context directory with this Dockerfile.
fn build_context(dir: &Path, dockerfile: &str) -> PathBuf {
    let ctx = dir.join(format!("ctx-{}", files(dir).len()));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    ctx
}

/// Directories of the build's scratch space and its layers: all a build
/// makes besides its RUN containers.
#[track_caller]
fn no_build_leftovers(d: &Daemon) {
    let root = d.data_root();
    let builds = files(&root.join("builds"));
    assert!(builds.is_empty(), "build scratch left: {builds:?}");
    let layers: Vec<String> = std::fs::read_dir(root.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("md-build-"))
        .collect();
    assert!(layers.is_empty(), "build layers left: {layers:?}");
    let m = mounts_under(&root.join("builds"));
    assert!(m.is_empty(), "build mounts left: {m:?}");
}

#[test]
fn sigkill_mid_build_leaves_no_image_nor_step_container_and_the_build_then_succeeds() {
    let work = tempfile::Builder::new()
        .prefix("md-hd-build-")
        .tempdir()
        .unwrap();
    let mut d = Daemon::start();
    d.import_busybox("bb");
    let keep = d
        .ok(&["run", "-d", "--network", "none", "bb", "sleep", "300"])
        .trim()
        .to_string();
    let images_before = d.ok(&["images", "-q"]);
    let blobs_before = blobs_verify(&d);
    let slow = build_context(
        work.path(),
        "FROM bb\nENV STEP=one\nRUN touch /started && sleep 300\n",
    );
    let mut build = std::process::Command::new(cli_bin())
        .args([
            "-H",
            &d.host(),
            "build",
            "--network",
            "none",
            "-t",
            "hd-built:v1",
        ])
        .arg(&slow)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The RUN step's container is up (its command started): kill now.
    let containers = d.data_root().join("containers");
    let mut step = String::new();
    eventually("the RUN step's container running", || {
        for e in std::fs::read_dir(&containers).unwrap().flatten() {
            if e.path().join("rootfs/started").exists() {
                step = e.file_name().to_string_lossy().into_owned();
                return true;
            }
        }
        false
    });
    assert_ne!(step, keep);
    // What a crash mid-COPY leaves, too: a step's layer, mounted in the
    // build's scratch directory.
    let scratch = std::fs::read_dir(d.data_root().join("builds"))
        .unwrap()
        .flatten()
        .next()
        .expect("the build's scratch directory")
        .path();
    let copy_mount = scratch.join("md-build-hdcrash");
    std::fs::create_dir_all(&copy_mount).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &copy_mount,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    let _guard = Unmount(copy_mount.clone());
    std::fs::create_dir_all(d.data_root().join("layers/md-build-hdcrash/diff")).unwrap();
    d.kill9();
    let _ = build.kill();
    let _ = build.wait();
    d.spawn();

    // Only the container that ran before is there, adopted.
    assert_eq!(d.ids(), vec![keep.clone()], "the step's container is gone");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", &keep]),
        "true\n"
    );
    assert_eq!(d.ok(&["exec", &keep, "echo", "adopted"]), "adopted\n");
    assert!(!cgroup_exists(&step), "cgroup of the step left");
    assert!(
        !containers.join(&step).exists(),
        "directory of the step left: {:?} {}",
        files(&containers.join(&step)),
        std::fs::read_to_string(d.dir.path().join("daemon.log")).unwrap()
    );
    let m = mounts_under(&containers.join(&step));
    assert!(m.is_empty(), "mounts of the step left: {m:?}");
    assert!(
        processes_with(&step).is_empty(),
        "processes of the step left"
    );
    no_build_leftovers(&d);
    no_partial_writes(&d);
    // No half-made image: nothing tagged, and at most one new untagged
    // image, the ENV step's, whole (the build cache, kept as Docker keeps
    // a failed build's last step: the build below reuses it).
    let images = d.ok(&["images"]);
    assert!(!images.contains("hd-built"), "{images}");
    let listed = d.ok(&["images", "-q"]);
    let new: Vec<&str> = listed
        .lines()
        .filter(|l| !images_before.lines().any(|b| b == *l))
        .collect();
    assert!(new.len() <= 1, "{images}");
    assert!(blobs_verify(&d) >= blobs_before);
    // The build, repeated with a short step, succeeds and runs.
    let quick = build_context(work.path(), "FROM bb\nENV STEP=one\nRUN touch /started\n");
    let out = d.ok(&[
        "build",
        "--network",
        "none",
        "-t",
        "hd-built:v1",
        quick.to_str().unwrap(),
    ]);
    assert!(
        out.contains("ENV STEP=one\n ---> Using cache"),
        "the ENV step's image is reused: {out}"
    );
    assert_eq!(
        d.ok(&["images", "-q"]).lines().count(),
        images_before.lines().count() + 1,
        "the step's image is now an intermediate one, not listed"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "hd-built:v1",
            "ls",
            "/started"
        ]),
        "/started\n"
    );
    no_build_leftovers(&d);
    d.ok(&["rm", "-f", &keep]);
}

#[test]
fn sigkill_mid_commit_leaves_no_image_and_the_commit_then_succeeds() {
    let mut d = Daemon::start();
    d.import_busybox("bb");
    let c = d
        .ok(&["run", "-d", "--network", "none", "bb", "sleep", "300"])
        .trim()
        .to_string();
    // A big read-write layer: what the commit diffs, compresses and stores.
    let big = d.data_root().join("containers").join(&c).join("rootfs/big");
    std::fs::create_dir_all(&big).unwrap();
    random_file(&big.join("a.bin"), 24);
    random_file(&big.join("b.bin"), 24);
    assert_eq!(
        d.ok(&["exec", &c, "wc", "-c", "/big/a.bin"]),
        format!("{} /big/a.bin\n", 24 << 20)
    );
    let images_before = d.ok(&["images", "-q"]);
    let blobs_before = blobs_verify(&d);
    // The layer is being written into the store: kill now.
    sigkill_during(
        &mut d,
        &["commit", &c, "hd-committed:v1"],
        "the layer on its way into ingest/",
        |d| a_file_filling(&d.data_root().join("ingest")),
    );

    no_partial_writes(&d);
    // At most the layer, whole, may have landed; never a wrong blob, never
    // an image.
    let after = blobs_verify(&d);
    assert!(after <= blobs_before + 1, "{blobs_before} then {after}");
    assert_eq!(d.ok(&["images", "-q"]), images_before);
    assert!(!d.ok(&["images"]).contains("hd-committed"));
    // The container is still there, adopted.
    assert_eq!(d.ids(), vec![c.clone()]);
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.Running}}", &c]), "true\n");
    assert_eq!(d.ok(&["exec", &c, "echo", "adopted"]), "adopted\n");
    // The commit, repeated, makes an image that runs with the files.
    d.ok(&["commit", &c, "hd-committed:v1"]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "hd-committed:v1",
            "wc",
            "-c",
            "/big/b.bin"
        ]),
        format!("{} /big/b.bin\n", 24 << 20)
    );
    blobs_verify(&d);
    no_partial_writes(&d);
    d.ok(&["rm", "-f", &c]);
}

#[test]
fn a_data_root_that_fills_up_during_pull_or_build_gives_a_clear_error_and_releases_the_space() {
    let reg = Registry::start();
    let work = tempfile::Builder::new()
        .prefix("md-hd-fullpb-")
        .tempdir()
        .unwrap();
    let name = format!("{}/hd/fullpull:v1", reg.host());
    {
        // Pushed from a daemon with room enough.
        let a = Daemon::start();
        let tar = big_busybox_rootfs(work.path(), 40);
        a.ok(&["import", tar.to_str().unwrap(), &name]);
        a.ok(&["push", &name]);
    }
    let mut d = Daemon::start();
    d.kill9();
    // The data root on a 32 MiB tmpfs of its own.
    let root = d.data_root();
    std::fs::create_dir_all(&root).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &root,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=32m,mode=0710"),
    )
    .unwrap();
    let _guard = Unmount(root.clone());
    d.spawn();
    d.import_busybox("bb");
    // Run once: the base image is unpacked (as any build or run does).
    d.ok(&["run", "--rm", "--network", "none", "bb", "true"]);
    let images = d.ok(&["images", "-q"]);
    let blobs = blobs_verify(&d);
    let used = used_bytes(&root);
    let mut blobs_before = files(&root.join("blobs/sha256"));
    let free_mib = ((32u64 << 20) - used) >> 20;

    // A build whose context fits twice (the upload, then unpacked) but
    // not three times (the COPY into a layer); one that does not fit
    // unpacked; one whose RUN writes more than there is.
    let copy_ctx = build_context(work.path(), "FROM bb\nCOPY big.bin /big.bin\n");
    random_file(&copy_ctx.join("big.bin"), (free_mib * 2 / 5) as usize);
    let unpack_ctx = build_context(work.path(), "FROM bb\nCOPY big.bin /big.bin\n");
    random_file(&unpack_ctx.join("big.bin"), (free_mib * 3 / 5) as usize);
    let run_ctx = build_context(
        work.path(),
        "FROM bb\nRUN dd if=/dev/zero of=/big bs=1M count=64\n",
    );
    let build = |ctx: &Path| {
        vec![
            "build".to_string(),
            "--network".into(),
            "none".into(),
            // Docker keeps a failed RUN step's container for a post-mortem
            // (and its layer holds the space) unless told otherwise.
            "--force-rm".into(),
            "-t".into(),
            "hd-fullbuild:v1".into(),
            ctx.display().to_string(),
        ]
    };
    for (what, args) in [
        ("pull", vec!["pull".to_string(), name.clone()]),
        ("build COPY", build(&copy_ctx)),
        ("build context", build(&unpack_ctx)),
        ("build RUN", build(&run_ctx)),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = d.cli(&args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "{what} on a full disk: {text}");
        assert!(
            text.to_lowercase().contains("no space left on device"),
            "{what}: {text}"
        );
        assert!(!text.contains("not a tar"), "{what}: {text}");
        assert_eq!(d.ok(&["images", "-q"]), images, "{what}");
        // Whole small documents a pull fetched first (its manifest and
        // config, verified) may stay, as after a pull cut by SIGKILL;
        // never the layer, never a wrong blob.
        let after = blobs_verify(&d);
        let new: Vec<PathBuf> = files(&root.join("blobs/sha256"))
            .into_iter()
            .filter(|p| !blobs_before.contains(p))
            .collect();
        assert!(after <= blobs + 2, "{what}: {new:?}");
        for p in &new {
            let len = p.metadata().unwrap().len();
            assert!(len < 64 << 10, "{what}: {} ({len} bytes)", p.display());
        }
        if what != "pull" {
            assert!(new.is_empty(), "{what}: blobs made: {new:?}");
        }
        blobs_before.extend(new);
        no_partial_writes(&d);
        no_build_leftovers(&d);
        assert!(d.ids().is_empty(), "{what}: a container left");
        let m = mounts_under(&root.join("containers"));
        assert!(m.is_empty(), "{what}: mounts left: {m:?}");
        let now = used_bytes(&root);
        assert!(
            now <= used + (1 << 20),
            "{what}: the space is released ({used} then {now})"
        );
    }
    // The daemon still works on what is left.
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "bb", "echo", "fine"]),
        "fine\n"
    );
}

#[test]
fn sigkill_mid_unpack_never_leaves_half_a_layer_to_run_from() {
    let work = tempfile::Builder::new()
        .prefix("md-hd-unpack-")
        .tempdir()
        .unwrap();
    let tar = big_busybox_rootfs(work.path(), 40);
    let mut d = Daemon::start();
    d.ok(&["import", tar.to_str().unwrap(), "hd-unpack"]);
    // The first run unpacks the layer into the storage driver: kill then.
    let layers = d.data_root().join("layers");
    sigkill_during(
        &mut d,
        &["run", "--rm", "--network", "none", "hd-unpack", "true"],
        "the layer being unpacked",
        |_| {
            files(&layers).iter().any(|p| {
                p.file_name().is_some_and(|n| n == "blob.bin")
                    && p.metadata().map(|m| m.len() > 0).unwrap_or(false)
            })
        },
    );

    no_partial_writes(&d);
    let filling: Vec<PathBuf> = std::fs::read_dir(&layers)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(filling.is_empty(), "half-filled layers left: {filling:?}");
    // Whatever a run finds now is the whole layer.
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "hd-unpack",
            "wc",
            "-c",
            "/blob.bin"
        ]),
        format!("{} /blob.bin\n", 40 << 20)
    );
}

#[test]
fn concurrent_first_runs_of_an_image_all_see_its_whole_layer() {
    let d = Daemon::start();
    d.import_busybox("bb");
    // Eight first runs at once: each finds the layer unpacked whole, or
    // unpacks it itself; none runs from a layer another is still filling.
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| d.cli(&["run", "--rm", "--network", "none", "bb", "echo", "ok"])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "ok\n",
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(d.ids().is_empty());
}

/// A start that fails at a late step releases what the steps before it
/// made. `--group-add` names a group the image lacks: the name is looked up
/// in the image's `/etc/group` only when the spec is built, after the root
/// is mounted, the namespace wired into the bridge and the port published.
#[test]
fn a_start_that_fails_late_leaves_no_netns_link_mount_cgroup_or_shim() {
    let d = Daemon::start_bridged();
    d.import_busybox("bb");
    let id = d
        .ok(&[
            "create",
            "-p",
            "127.0.0.1::80",
            "--group-add",
            "nosuchgroup",
            "bb",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let out = d.cli(&["start", &id]);
    assert!(!out.status.success(), "the start must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unable to find group nosuchgroup"), "{err}");
    // The state says why, and it is not running.
    let state = d.ok(&["inspect", "-f", "{{.State.Running}} {{.State.Error}}", &id]);
    assert!(state.starts_with("false Unable to find group"), "{state}");
    // No network namespace file, no veth, no mount, no cgroup, no shim.
    let netns: Vec<_> = std::fs::read_dir(d.data_root().join("netns"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(netns.is_empty(), "netns left: {netns:?}");
    let short = &id[..12];
    assert!(
        !Path::new("/sys/class/net")
            .join(format!("md-{short}"))
            .exists(),
        "veth md-{short} left"
    );
    let dir = d.data_root().join("containers").join(&id);
    let m = mounts_under(&dir);
    assert!(m.is_empty(), "mounts left: {m:?}");
    assert!(!cgroup_exists(&id), "cgroup left");
    assert!(
        !d.data_root()
            .join("shims")
            .join(format!("{short}.sock"))
            .exists(),
        "shim socket left"
    );
    let shims = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(&id))
        .count();
    assert_eq!(shims, 0, "a process of the container is left");
    d.ok(&["rm", &id]);
}

/// The names in a directory of the data root (none when it is absent).
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A create that fails late releases what its earlier steps made. The
/// name is checked for conflicts last (under the lock that records the
/// container), after the create has made an anonymous and a named volume,
/// unpacked the image and made the container's directory: none of the
/// volumes or the directory, and no rw layer, may be left.
#[test]
fn a_create_that_fails_late_leaves_no_volume_directory_or_layer() {
    let d = Daemon::start();
    d.import_busybox("bb");
    let first = d.ok(&["create", "--name", "web", "bb", "true"]);
    let first = first.trim();
    let root = d.data_root();
    let layers = names_in(&root.join("layers"));
    assert_eq!(names_in(&root.join("containers")), [first]);
    assert!(names_in(&root.join("volumes")).is_empty());
    let named = format!("md-late-{}", std::process::id());
    let out = d.cli(&[
        "create",
        "--name",
        "web",
        "-v",
        "/data",
        "-v",
        &format!("{named}:/named"),
        "bb",
        "true",
    ]);
    assert!(!out.status.success(), "the second create must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"The container name "/web" is already in use"#),
        "{err}"
    );
    let volumes = names_in(&root.join("volumes"));
    assert!(volumes.is_empty(), "volumes left: {volumes:?}");
    assert_eq!(
        names_in(&root.join("containers")),
        [first],
        "a directory is left"
    );
    assert_eq!(names_in(&root.join("layers")), layers, "a layer is left");
    assert_eq!(d.ids(), [first.to_string()]);
    // The same create under a free name works, volumes and all.
    d.ok(&["create", "--name", "web2", "-v", "/data", "bb", "true"]);
    assert_eq!(names_in(&root.join("volumes")).len(), 1);
}

/// Issue 25: `rm` hands the directory to a background reaper
/// (`<data>/reap/<id>`). A daemon SIGKILLed in the middle of a reap
/// resumes it at its next start: the rootfs mount, the rw layer, the
/// runtime's state and the directory are all gone.
#[test]
fn sigkill_mid_reap_then_restart_leaves_nothing() {
    let mut d = Daemon::start();
    d.import_busybox("bb");
    // Many files in the rw layer: its removal takes long enough to be cut.
    let id = d
        .ok(&[
            "create",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "mkdir /many && cd /many && i=0; while [ $i -lt 20000 ]; do : > f$i; i=$((i+1)); done",
        ])
        .trim()
        .to_string();
    d.ok(&["start", "-a", &id]);
    let rw = d.record(&id)["layer"].as_str().unwrap().to_string();
    assert!(d.layers().contains(&rw));
    d.ok(&["rm", &id]);
    let trash = d.data_root().join("reap").join(&id);
    let cut = trash.exists();
    d.kill9();
    assert!(cut, "the reap was already over: nothing was cut");
    d.spawn();
    eventually("the resumed reap to finish", || !trash.exists());
    assert!(!d.ids().contains(&id));
    assert!(!cgroup_exists(&id), "cgroup of {id} left");
    let m = mounts_under(&d.data_root());
    assert!(m.is_empty(), "mounts left: {m:?}");
    assert!(!d.layers().contains(&rw), "the rw layer {rw} left");
    let left: Vec<PathBuf> = files(&d.data_root())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&id[..12]))
        .collect();
    assert!(left.is_empty(), "left: {left:?}");
}

/// Issue 25: the bridge's IPAM lives in memory, rebuilt from the records at
/// start. A daemon SIGKILLed with containers running on the bridge comes
/// back with the same addresses in their namespaces, and the containers
/// started after it get other addresses: none is handed out twice.
#[test]
fn sigkill_with_bridged_containers_keeps_their_addresses_and_hands_none_out_twice() {
    let mut d = Daemon::start_bridged();
    d.import_busybox("bb");
    let ip_of = |d: &Daemon, id: &str| -> String {
        d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", id])
            .trim()
            .to_string()
    };
    // The address the kernel really has on the container's eth0.
    let kernel_ip = |d: &Daemon, id: &str| -> String {
        let out = d.ok(&["exec", id, "ip", "-4", "-o", "addr", "show", "eth0"]);
        out.split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .unwrap_or_default()
            .to_string()
    };
    // A user network too: its IPAM is rebuilt from the endpoints.
    let net = format!("md-ipam-{}", std::process::id());
    d.ok(&["network", "create", "--subnet", "10.207.77.0/24", &net]);
    let on_net = |d: &Daemon| {
        d.ok(&["run", "-d", "--network", &net, "bb", "sleep", "300"])
            .trim()
            .to_string()
    };
    let user_ip = |d: &Daemon, id: &str| -> String {
        d.ok(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            id,
        ])
        .trim()
        .to_string()
    };
    let u_first: Vec<String> = (0..2).map(|_| on_net(&d)).collect();
    let u_ips: Vec<String> = u_first.iter().map(|id| user_ip(&d, id)).collect();
    let run = |d: &Daemon| {
        d.ok(&["run", "-d", "bb", "sleep", "300"])
            .trim()
            .to_string()
    };
    let first: Vec<String> = (0..3).map(|_| run(&d)).collect();
    // One released before the crash: its address may be given again.
    let gone = run(&d);
    d.ok(&["rm", "-f", &gone]);
    let ips: Vec<String> = first.iter().map(|id| ip_of(&d, id)).collect();
    for (id, ip) in first.iter().zip(&ips) {
        assert!(!ip.is_empty());
        assert_eq!(&kernel_ip(&d, id), ip);
    }
    d.kill9();
    d.spawn();
    let second: Vec<String> = (0..4).map(|_| run(&d)).collect();
    let mut all = Vec::new();
    for id in first.iter().chain(&second) {
        let ip = ip_of(&d, id);
        assert_eq!(
            kernel_ip(&d, id),
            ip,
            "{id}: the record and the kernel agree"
        );
        all.push(ip);
    }
    assert_eq!(&all[..3], &ips[..], "the running ones keep their addresses");
    let mut uniq = all.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        all.len(),
        "an address handed out twice: {all:?}"
    );
    let u_second: Vec<String> = (0..2).map(|_| on_net(&d)).collect();
    let mut u_all: Vec<String> = u_first
        .iter()
        .chain(&u_second)
        .map(|id| user_ip(&d, id))
        .collect();
    assert_eq!(
        &u_all[..2],
        &u_ips[..],
        "the user network's addresses are kept"
    );
    for (id, ip) in u_first.iter().chain(&u_second).zip(&u_all) {
        assert_eq!(&kernel_ip(&d, id), ip, "{id} on {net}");
    }
    u_all.sort();
    u_all.dedup();
    assert_eq!(u_all.len(), 4, "an address on {net} handed out twice");
    for id in first.iter().chain(&second).chain(&u_first).chain(&u_second) {
        d.ok(&["rm", "-f", id]);
    }
    d.ok(&["network", "rm", &net]);
}
