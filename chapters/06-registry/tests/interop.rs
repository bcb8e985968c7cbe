//! Interop with the real tools: `skopeo copy` pushes to and pulls from our
//! server; our client pushes to and pulls from the real `docker-registry`
//! (the CNCF distribution registry). Everything on 127.0.0.1.

mod common;

use chapter04::{digest, ImageStore};
use chapter06::client::Credentials;
use chapter06::server::AuthMode;
use chapter06::{demo, Client, ClientConfig, Reference};

/// The manifest digest `skopeo inspect` reports for an image.
fn skopeo_digest(transport_ref: &str, tls_flag: &str) -> String {
    let out = common::skopeo(&["inspect", tls_flag, "--raw", transport_ref]);
    digest::sha256(&out.stdout).to_string()
}

fn busybox(store: &ImageStore, name: &str) -> chapter04::Digest {
    let work = tempfile::tempdir().unwrap();
    demo::busybox_image(store, work.path(), name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_pushes_to_and_pulls_from_our_server() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let (store, _sd) = common::store();
    let built =
        demo::synthetic_image(&store, "multi:latest", &[300_000, 50_000, 1_000], 1).unwrap();
    let (layout, _ld) = common::layout_of(&store, "multi:latest");
    let host = s.host();
    let src = format!("oci:{}:latest", layout.display());
    let dst = format!("docker://{host}/skopeo/multi:v1");
    let h = tokio::task::spawn_blocking({
        let (src, dst) = (src.clone(), dst.clone());
        move || {
            common::skopeo(&["copy", "--dest-tls-verify=false", &src, &dst]);
        }
    });
    h.await.unwrap();
    // Our client sees what skopeo pushed, byte for byte.
    let (fresh, _fd) = common::store();
    let pulled = common::client()
        .pull(
            &Reference::parse(&format!("{host}/skopeo/multi:v1")).unwrap(),
            &fresh,
        )
        .await
        .unwrap();
    assert_eq!(pulled.digest, built, "skopeo kept the manifest as is");
    assert_eq!(pulled.fetched.len(), 4);
    // And skopeo pulls it back into an OCI layout.
    let out_dir = tempfile::tempdir().unwrap();
    let back = format!("oci:{}:v1", out_dir.path().join("back").display());
    let dst2 = dst.clone();
    tokio::task::spawn_blocking(move || {
        common::skopeo(&["copy", "--src-tls-verify=false", &dst2, &back]);
        assert_eq!(
            skopeo_digest(&dst2, "--tls-verify=false"),
            built.to_string()
        );
    })
    .await
    .unwrap();
    let index = std::fs::read(out_dir.path().join("back/index.json")).unwrap();
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(index["manifests"][0]["digest"], pulled.digest.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_between_docker_registry_and_our_server() {
    // docker-registry -> ours -> docker-registry, all by skopeo: two
    // independent implementations agree on the bytes.
    let real = common::DockerRegistry::start(None);
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let (store, _sd) = common::store();
    let built = busybox(&store, "bb:latest");
    let (layout, _ld) = common::layout_of(&store, "bb:latest");
    let (real_host, ours) = (real.host.clone(), s.host());
    tokio::task::spawn_blocking(move || {
        let src = format!("oci:{}:latest", layout.display());
        common::skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &src,
            &format!("docker://{real_host}/bb:1"),
        ]);
        common::skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{real_host}/bb:1"),
            &format!("docker://{ours}/copied/bb:1"),
        ]);
        common::skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{ours}/copied/bb:1"),
            &format!("docker://{real_host}/bb:2"),
        ]);
        assert_eq!(
            skopeo_digest(&format!("docker://{real_host}/bb:2"), "--tls-verify=false"),
            built.to_string()
        );
        assert_eq!(
            skopeo_digest(
                &format!("docker://{ours}/copied/bb:1"),
                "--tls-verify=false"
            ),
            built.to_string()
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_pushes_to_and_pulls_from_docker_registry() {
    let real = common::DockerRegistry::start(None);
    let (store, _sd) = common::store();
    let built = busybox(&store, "bb:latest");
    let extra = demo::synthetic_image(&store, "big:latest", &[2_500_000, 10_000], 7).unwrap();
    // Monolithic push.
    let c = common::client();
    let target = Reference::parse(&format!("{}/lib/busybox:latest", real.host)).unwrap();
    let r = c.push(&store, "bb:latest", &target, None).await.unwrap();
    assert_eq!(r.digest.as_ref(), Some(&built));
    assert_eq!(r.pushed.len(), 2);
    // Again: everything is skipped after HEAD.
    let r = c.push(&store, "bb:latest", &target, None).await.unwrap();
    assert_eq!((r.pushed.len(), r.skipped.len()), (0, 2));
    // Chunked push of a bigger image, then a cross-repository mount.
    let chunked = Client::new(ClientConfig {
        loopback_only: true,
        chunk_size: Some(1_000_000),
        ..Default::default()
    });
    let big = Reference::parse(&format!("{}/lib/big:v1", real.host)).unwrap();
    let r = chunked
        .push(&store, "big:latest", &big, None)
        .await
        .unwrap();
    assert_eq!(r.digest.as_ref(), Some(&extra));
    assert_eq!(r.pushed.len(), 3);
    let mounted = Reference::parse(&format!("{}/other/big:v1", real.host)).unwrap();
    let r = c
        .push(&store, "big:latest", &mounted, Some("lib/big"))
        .await
        .unwrap();
    assert_eq!(r.mounted.len(), 3, "{r:?}");
    // Pull both back into a fresh store; a second pull skips every blob.
    let (fresh, _fd) = common::store();
    let p = c.pull(&target, &fresh).await.unwrap();
    assert_eq!(p.digest, built);
    assert_eq!(p.fetched.len(), 2);
    let p = c.pull(&mounted, &fresh).await.unwrap();
    assert_eq!(p.digest, extra);
    let p = c.pull(&mounted, &fresh).await.unwrap();
    assert_eq!((p.fetched.len(), p.skipped.len()), (0, 3));
    // Pinned by digest.
    let pinned = Reference::parse(&format!("{}/lib/busybox@{built}", real.host)).unwrap();
    let (fresh2, _fd2) = common::store();
    assert_eq!(c.pull(&pinned, &fresh2).await.unwrap().digest, built);
    // The image reads back through chapter 04, blob by blob.
    let img = fresh.resolve(&target.familiar(), None).unwrap();
    for l in img.manifest.layers() {
        fresh.blobs.verify(l.digest()).unwrap();
    }
    assert_eq!(
        c.list_tags(&real.host, "lib/busybox").await.unwrap(),
        ["latest"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_logs_in_to_docker_registry_with_basic_auth() {
    let line = chapter06::auth::Htpasswd::entry("alice", "s3cret", 5).unwrap();
    let real = common::DockerRegistry::start(Some(&line));
    let (store, _sd) = common::store();
    demo::synthetic_image(&store, "img:latest", &[10_000], 3).unwrap();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.json");
    let c = Client::new(ClientConfig {
        loopback_only: true,
        auth_file: Some(cfg.clone()),
        ..Default::default()
    });
    let target = Reference::parse(&format!("{}/alice/img:latest", real.host)).unwrap();
    // Anonymous: refused with a hint.
    let e = c
        .push(&store, "img:latest", &target, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("log in"), "{e}");
    // Wrong password: login fails, nothing is stored.
    let bad = Credentials {
        user: "alice".into(),
        password: "nope".into(),
    };
    assert!(c.login(&real.host, bad, &cfg).await.is_err());
    assert!(!cfg.exists());
    // Right password: stored in config.json, then used by a new client.
    let good = Credentials {
        user: "alice".into(),
        password: "s3cret".into(),
    };
    Client::new(ClientConfig {
        loopback_only: true,
        ..Default::default()
    })
    .login(&real.host, good.clone(), &cfg)
    .await
    .unwrap();
    assert_eq!(
        chapter06::client::config::load(&cfg, &real.host).unwrap(),
        Some(good)
    );
    c.push(&store, "img:latest", &target, None).await.unwrap();
    let (fresh, _fd) = common::store();
    c.pull(&target, &fresh).await.unwrap();
}
