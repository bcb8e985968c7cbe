//! Two pulls of one image through clients sharing one config (a daemon's):
//! the layer is fetched by one, the other waits. When that fetch fails, the
//! waiting pull does not fail with it: it fetches the layer itself.
//! Only 127.0.0.1, temp dirs; every step waits for a condition.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chapter06::client::inflight::WAITING_FOR_ANOTHER_PULL;
use chapter06::client::progress::{Event, Progress};
use chapter06::{Client, ClientConfig, Reference};

/// A loopback proxy in front of the registry. It counts `GET`s whose path
/// ends with `target`; the first one is held (not passed on) until
/// `release`, then answered `500` without reaching the registry.
struct FailFirstProxy {
    addr: String,
    held: Arc<AtomicBool>,
    release: Arc<AtomicBool>,
    gets: Arc<AtomicUsize>,
}

impl FailFirstProxy {
    fn start(upstream: String, target: String) -> FailFirstProxy {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let held = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));
        let gets = Arc::new(AtomicUsize::new(0));
        let (h, r, g) = (held.clone(), release.clone(), gets.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(client) = conn else { continue };
                let Ok(up) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (mut u_in, mut c_out) = (up.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut u_in, &mut c_out);
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                });
                let (mut c_in, mut u_out, mut c_fail) = (client.try_clone().unwrap(), up, client);
                let (h, r, g, target) = (h.clone(), r.clone(), g.clone(), target.clone());
                // Pull requests are GETs and HEADs without bodies, one at a
                // time per connection: a read holds whole request heads.
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match c_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        let is_target = text.lines().any(|l| {
                            let mut w = l.split_whitespace();
                            w.next() == Some("GET")
                                && w.next().is_some_and(|p| p.ends_with(&target))
                        });
                        if is_target && g.fetch_add(1, Ordering::SeqCst) == 0 {
                            h.store(true, Ordering::SeqCst);
                            while !r.load(Ordering::SeqCst) {
                                std::thread::sleep(std::time::Duration::from_millis(5));
                            }
                            let _ = c_fail.write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                            let _ = c_fail.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                        if u_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = u_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        FailFirstProxy {
            addr,
            held,
            release,
            gets,
        }
    }
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..6000 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_waiting_for_a_failed_download_fetches_the_blob_itself() {
    let (s, _root) = common::our_registry(chapter06::server::AuthMode::None).await;
    let (src, _sd) = common::store();
    chapter06::demo::synthetic_image(&src, "img:latest", &[2 << 20], 21).unwrap();
    let image = src.resolve("img:latest", None).unwrap();
    let layer = image.manifest.layers()[0].digest().clone();
    let short = chapter04::digest::short(&layer);
    common::client()
        .push(
            &src,
            "img:latest",
            &Reference::parse(&format!("{}/inflight/img:latest", s.host())).unwrap(),
            None,
        )
        .await
        .unwrap();

    let proxy = FailFirstProxy::start(s.host(), layer.to_string());
    let target = Reference::parse(&format!("{}/inflight/img:latest", proxy.addr)).unwrap();
    let events = Arc::new(Mutex::new(Vec::<Event>::new()));
    let seen = events.clone();
    // One config, two clients: they share the table of blobs in flight.
    let config = ClientConfig {
        loopback_only: true,
        progress: Progress::events(Arc::new(move |e: Event| seen.lock().unwrap().push(e))),
        ..Default::default()
    };
    let (store, _st) = common::store();
    let pull = |c: Client| {
        let (store, target) = (store.clone(), target.clone());
        tokio::spawn(async move { c.pull(&target, &store).await })
    };
    // A fetches the layer: its GET is held at the proxy.
    let a = pull(Client::new(config.clone()));
    until("pull A's layer GET at the proxy", || {
        proxy.held.load(Ordering::SeqCst)
    })
    .await;
    // B wants the same layer: it waits for A instead of fetching it.
    let b = pull(Client::new(config.clone()));
    until("pull B waiting for A", || {
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.id == short && e.status == WAITING_FOR_ANOTHER_PULL)
    })
    .await;
    assert_eq!(proxy.gets.load(Ordering::SeqCst), 1, "B sent no GET");
    // A's download fails: A fails, B fetches the layer itself and succeeds.
    proxy.release.store(true, Ordering::SeqCst);
    let a = a.await.unwrap();
    assert!(a.is_err(), "A's download failed: {a:?}");
    let b = b.await.unwrap().expect("B pulls the image");
    assert!(b.fetched.contains(&layer), "{b:?}");
    assert_eq!(proxy.gets.load(Ordering::SeqCst), 2, "A's GET, then B's");
    // The image is whole and verified in the store.
    let pulled = store.resolve(&target.familiar(), None).unwrap();
    assert_eq!(pulled.manifest_digest, image.manifest_digest);
    assert_eq!(
        std::fs::read(store.blobs.blob_path(&layer).unwrap()).unwrap(),
        std::fs::read(src.blobs.blob_path(&layer).unwrap()).unwrap()
    );
}
