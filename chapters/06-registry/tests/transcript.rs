//! What a learner sees: the exchanges of a push and a pull, in the short
//! form the tour prints, pinned as a snapshot (ports and upload ids
//! redacted; one blob at a time so the order is fixed).

mod common;

use std::sync::{Arc, Mutex};

use chapter06::server::AuthMode;
use chapter06::{demo, Client, ClientConfig, Reference};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_pull_transcript() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let (store, _sd) = common::store();
    demo::synthetic_image(&store, "img:latest", &[3_000], 42).unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let c = Client::new(ClientConfig {
        loopback_only: true,
        concurrency: 1,
        chunk_size: Some(2_048),
        log: Some(Arc::new(move |e| sink.lock().unwrap().push(e.short()))),
        ..Default::default()
    });
    let target = Reference::parse(&format!("{}/demo/img:v1", s.host())).unwrap();
    c.push(&store, "img:latest", &target, None).await.unwrap();
    lines.lock().unwrap().push("---- pull".into());
    let (fresh, _fd) = common::store();
    c.pull(&target, &fresh).await.unwrap();
    let text = lines.lock().unwrap().join("\n");
    insta::with_settings!({filters => vec![
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[upload-id]"),
    ]}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn reference_errors_read_well() {
    let cases = [
        "Busybox",
        "busybox@sha256:abc",
        "busybox@sha256:../../etc/passwd",
        "https://registry.example/app",
        "localhost:5000/a//b",
        "app:-bad",
    ];
    let out: Vec<String> = cases
        .iter()
        .map(|c| format!("{c}\n  -> {}", Reference::parse(c).unwrap_err()))
        .collect();
    insta::assert_snapshot!(out.join("\n"));
}
