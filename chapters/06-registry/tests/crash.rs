//! Issue 14: the registry server, a separate process (`chapter06 serve`),
//! is killed with SIGKILL while a push is half-way through a big blob. It
//! is started again on the same storage directory: nothing of the dead
//! upload is left, the retried push completes, the stored blob hashes to its
//! digest, and a pull gets the same bytes. Only 127.0.0.1, temp dirs.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use chapter04::digest;
use chapter06::Reference;

/// `chapter06 serve` on 127.0.0.1:`port` over `root`, killed on drop.
struct Server {
    child: Child,
}

impl Server {
    fn start(root: &Path, port: u16) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chapter06"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chapter06 serve");
        // Listening once a connection is accepted (or it died: say so).
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = child.try_wait().unwrap() {
                panic!("chapter06 serve exited before listening: {st}");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Server { child }
    }

    /// `kill -9`, and reap it.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP proxy that, while `stall` is set, stops passing the
/// client's bytes on after `limit` of them: an upload stuck mid-way,
/// deterministically, until the test lets it go.
struct StallingProxy {
    addr: String,
    stall: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl StallingProxy {
    fn start(upstream: String, limit: u64) -> StallingProxy {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let stall = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (st, sp) = (stall.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(up) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (mut u_in, mut c_out) = (up.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut u_in, &mut c_out);
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                });
                let (mut c_in, mut u_out) = (client, up);
                let (st, sent) = (st.clone(), sent.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        while st.load(Ordering::SeqCst) && sent.load(Ordering::SeqCst) >= limit {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                        let n = match c_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if u_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    let _ = u_out.shutdown(std::net::Shutdown::Both);
                    let _ = c_in.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        StallingProxy { addr, stall, stop }
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.stall.store(false, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_mid_upload_then_a_retried_push_completes_and_verifies() {
    let root = tempfile::Builder::new()
        .prefix("ch06-test-crash-reg-")
        .tempdir()
        .unwrap();
    let port = common::free_port();
    let mut server = Server::start(root.path(), port);
    let proxy = StallingProxy::start(format!("127.0.0.1:{port}"), 4 << 20);
    let (store, _sd) = common::store();
    let built = chapter06::demo::synthetic_image(&store, "big:latest", &[16 << 20], 14).unwrap();
    let target = Reference::parse(&format!("{}/crash/big:latest", proxy.addr)).unwrap();

    // 1. The push, stuck with a few MiB of the layer in the server's ingest/.
    let push = {
        let (store, target) = (store.clone(), target.clone());
        tokio::spawn(async move {
            common::client()
                .push(&store, "big:latest", &target, None)
                .await
        })
    };
    let ingest = root.path().join("ingest");
    while !files(&ingest)
        .iter()
        .any(|p| p.metadata().map(|m| m.len() >= 1 << 20).unwrap_or(false))
    {
        assert!(!push.is_finished(), "the push ended before the stall");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // 2. kill -9 the server: the partial upload stays on disk, the push fails.
    server.kill9();
    assert!(!files(&ingest).is_empty(), "the dead upload's temp file");
    proxy.stall.store(false, Ordering::SeqCst);
    let failed = push.await.unwrap();
    assert!(failed.is_err(), "a push cut by the crash fails: {failed:?}");

    // 3. Started again on the same directory: the leftovers are gone.
    let _server = Server::start(root.path(), port);
    assert!(files(&ingest).is_empty(), "{:?}", files(&ingest));

    // 4. The push, retried, completes.
    let report = common::client()
        .push(&store, "big:latest", &target, None)
        .await
        .expect("the retried push");
    assert_eq!(report.digest, Some(built.clone()));

    // 5. Every stored blob hashes to its name, nothing temporary is left.
    let blobs = files(&root.path().join("blobs/sha256"));
    let image = store.resolve("big:latest", None).unwrap();
    let layer = image.manifest.layers()[0].digest().clone();
    assert!(blobs.iter().any(|p| p.ends_with(digest::hex_of(&layer))));
    for p in &blobs {
        let d = digest::sha256(&std::fs::read(p).unwrap());
        assert_eq!(
            digest::hex_of(&d),
            p.file_name().unwrap().to_string_lossy(),
            "{} does not match its digest",
            p.display()
        );
    }
    assert!(files(&ingest).is_empty(), "{:?}", files(&ingest));
    let temps: Vec<PathBuf> = files(root.path())
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");

    // 6. A pull into another store gets the very same bytes.
    let (store2, _sd2) = common::store();
    let pulled = common::client().pull(&target, &store2).await.unwrap();
    assert_eq!(pulled.digest, built);
    assert!(pulled.fetched.contains(&layer));
    assert!(
        std::fs::read(store2.blobs.blob_path(&layer).unwrap()).unwrap()
            == std::fs::read(store.blobs.blob_path(&layer).unwrap()).unwrap(),
        "the pulled layer is the pushed one"
    );
}
