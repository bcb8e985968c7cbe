//! The server, spoken to with raw HTTP: every error case of the issue,
//! with the status and the OCI error code asserted, plus the happy paths
//! (chunked upload, Range, paging, mount, delete) and the atomicity claims.

mod common;

use std::io::Write;

use chapter04::digest;
use chapter06::server::AuthMode;
use chapter06::spec::parse_error_body;
use reqwest::StatusCode;

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(host: &str) -> Api {
        Api {
            base: format!("http://{host}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }
    fn url(&self, p: &str) -> String {
        if p.starts_with("http") {
            p.to_string()
        } else {
            format!("{}{p}", self.base)
        }
    }
    async fn start(&self, repo: &str) -> String {
        let r = self
            .http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        r.headers()["Location"].to_str().unwrap().to_string()
    }
    async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let d = digest::sha256(data).to_string();
        let r = self
            .http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        d
    }
}

/// Status and first OCI error code of an answer.
async fn err(r: reqwest::Response) -> (StatusCode, String) {
    let st = r.status();
    let body = r.bytes().await.unwrap();
    let code = parse_error_body(&body)
        .first()
        .map(|e| e.code.clone())
        .unwrap_or_default();
    (st, code)
}

fn blob_files(root: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn ingest_files(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("ingest")).unwrap().count()
}

fn manifest_json(config: &str, config_size: usize, layers: &[(&str, usize)]) -> String {
    let layers: Vec<String> = layers
        .iter()
        .map(|(d, s)| {
            format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":{s}}}"#)
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{}]}}"#,
        layers.join(",")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_endpoint_announces_v2() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let r = api.http.get(api.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["Docker-Distribution-Api-Version"],
        "registry/2.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_digest_on_monolithic_upload_is_digest_invalid_and_leaves_nothing() {
    let (s, root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let wrong = digest::sha256(b"something else");
    // POST ?digest= with the body (monolithic in one request).
    let r = api
        .http
        .post(api.url(&format!("/v2/a/blobs/uploads/?digest={wrong}")))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into())
    );
    // POST, then one PUT with the whole body (the spec's monolithic PUT).
    let loc = api.start("a").await;
    let r = api
        .http
        .put(api.url(&format!("{loc}?digest={wrong}")))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into())
    );
    // Malformed digests never reach a path.
    for bad in [
        "sha256:../../etc/passwd",
        "sha256:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ] {
        let loc = api.start("a").await;
        let r = api
            .http
            .put(api.url(&format!("{loc}?digest={bad}")))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(
            err(r).await,
            (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into()),
            "{bad}"
        );
    }
    let right = digest::sha256(b"hello");
    let r = api
        .http
        .head(api.url(&format!("/v2/a/blobs/{right}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        blob_files(root.path()).is_empty(),
        "no blob may be published"
    );
    assert_eq!(
        ingest_files(root.path()),
        0,
        "failed uploads leave no temp files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_with_bad_final_digest_is_refused() {
    let (s, root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let loc = api.start("a").await;
    let r = api
        .http
        .patch(api.url(&loc))
        .header("Content-Range", "0-4")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["Range"], "0-4");
    let loc = r.headers()["Location"].to_str().unwrap().to_string();
    // The last chunk comes with the closing PUT; the digest is of "hello" only.
    let r = api
        .http
        .put(api.url(&format!("{loc}?digest={}", digest::sha256(b"hello"))))
        .header("Content-Range", "5-10")
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into())
    );
    // The upload is closed after a failed PUT.
    let r = api.http.get(api.url(&loc)).send().await.unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into())
    );
    assert!(blob_files(root.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_then_range_reads() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let d = digest::sha256(&data);
    let mut loc = api.start("ns/repo").await;
    for (i, chunk) in data.chunks(30_000).enumerate() {
        let start = i * 30_000;
        let r = api
            .http
            .patch(api.url(&loc))
            .header(
                "Content-Range",
                format!("{}-{}", start, start + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        loc = r.headers()["Location"].to_str().unwrap().to_string();
        // Status GET says how far it is.
        let st = api.http.get(api.url(&loc)).send().await.unwrap();
        assert_eq!(st.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            st.headers()["Range"],
            format!("0-{}", start + chunk.len() - 1)
        );
    }
    let r = api
        .http
        .put(api.url(&format!("{loc}?digest={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["Docker-Content-Digest"], d.as_ref());
    let r = api
        .http
        .get(api.url(&format!("/v2/ns/repo/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    let r = api
        .http
        .get(api.url(&format!("/v2/ns/repo/blobs/{d}")))
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["Content-Range"], "bytes 1000-1999/100000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[1000..2000]);
    let r = api
        .http
        .get(api.url(&format!("/v2/ns/repo/blobs/{d}")))
        .header("Range", "bytes=200000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_chunk_gets_416() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let loc = api.start("a").await;
    let r = api
        .http
        .patch(api.url(&loc))
        .header("Content-Range", "0-4")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // A gap (10-14 after 0-4), a repeat (0-4 again), a wrong length.
    for (range, body) in [("10-14", "world"), ("0-4", "hello"), ("5-9", "abc")] {
        let r = api
            .http
            .patch(api.url(&loc))
            .header("Content-Range", range)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            err(r).await,
            (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID".into()
            ),
            "{range}"
        );
    }
    // The upload is unchanged and can go on.
    let r = api.http.get(api.url(&loc)).send().await.unwrap();
    assert_eq!(r.headers()["Range"], "0-4");
    let r = api
        .http
        .patch(api.url(&loc))
        .header("Content-Range", "5-9")
        .body("world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = api
        .http
        .put(api.url(&format!("{loc}?digest={}", digest::sha256(b"helloworld"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_things_are_404_with_their_codes() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let d = digest::sha256(b"nothing");
    let r = api
        .http
        .get(api.url(&format!("/v2/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (StatusCode::NOT_FOUND, "BLOB_UNKNOWN".into()));
    let r = api
        .http
        .get(api.url("/v2/a/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".into())
    );
    let r = api
        .http
        .get(api.url(&format!("/v2/a/manifests/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".into())
    );
    let r = api
        .http
        .get(api.url("/v2/a/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (StatusCode::NOT_FOUND, "NAME_UNKNOWN".into()));
    let r = api
        .http
        .patch(api.url("/v2/a/blobs/uploads/0123abcd"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into())
    );
    // A blob of another repository is not served here.
    let d = api.push_blob("alice/app", b"alice's layer").await;
    let r = api
        .http
        .get(api.url(&format!("/v2/bob/app/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (StatusCode::NOT_FOUND, "BLOB_UNKNOWN".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_names_and_references_are_refused() {
    let (s, root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    for name in ["UPPER", "a..b", "x:y", "-a", "a__-b", "a%2F..%2F..%2Fetc"] {
        let r = api
            .http
            .get(api.url(&format!("/v2/{name}/tags/list")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            err(r).await,
            (StatusCode::BAD_REQUEST, "NAME_INVALID".into()),
            "{name}"
        );
        let r = api
            .http
            .post(api.url(&format!("/v2/{name}/blobs/uploads/")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            err(r).await,
            (StatusCode::BAD_REQUEST, "NAME_INVALID".into()),
            "{name}"
        );
    }
    let long = "a".repeat(256);
    let r = api
        .http
        .get(api.url(&format!("/v2/{long}/tags/list")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::BAD_REQUEST, "NAME_INVALID".into())
    );
    for d in [
        "sha256:..%2F..%2Fx",
        "sha256:ABC",
        &format!("sha256:{}", "A".repeat(64)),
    ] {
        let r = api
            .http
            .get(api.url(&format!("/v2/a/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            err(r).await,
            (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into()),
            "{d}"
        );
    }
    let r = api
        .http
        .put(api.url("/v2/a/manifests/.hidden"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await.0, StatusCode::BAD_REQUEST);
    // Nothing was created outside the repositories directory.
    let mut top: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["blobs", "ingest", "repositories"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_checked_before_they_are_stored() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let cfg = api.push_blob("a", b"{}").await;
    let missing = digest::sha256(b"never pushed").to_string();
    let oci = "application/vnd.oci.image.manifest.v1+json";
    // A layer that is not there.
    let m = manifest_json(&cfg, 2, &[(&missing, 12)]);
    let r = api
        .http
        .put(api.url("/v2/a/manifests/v1"))
        .header("Content-Type", oci)
        .body(m)
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN".into())
    );
    // Pushed by digest, but the bytes hash to something else.
    let layer = api.push_blob("a", b"layer").await;
    let m = manifest_json(&cfg, 2, &[(&layer, 5)]);
    let r = api
        .http
        .put(api.url(&format!("/v2/a/manifests/{missing}")))
        .header("Content-Type", oci)
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into())
    );
    // Both an index and a manifest.
    let both = m.replacen("\"config\"", "\"manifests\":[],\"config\"", 1);
    let r = api
        .http
        .put(api.url("/v2/a/manifests/v1"))
        .header("Content-Type", oci)
        .body(both)
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::BAD_REQUEST, "MANIFEST_INVALID".into())
    );
    // Over 4 MiB.
    let big = format!("{}{}", m, " ".repeat(4 * 1024 * 1024));
    let r = api
        .http
        .put(api.url("/v2/a/manifests/v1"))
        .header("Content-Type", oci)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID".into())
    );
    // The good one, by tag; then GET/HEAD by tag and digest, then DELETE.
    let docker_v2 = "application/vnd.docker.distribution.manifest.v2+json";
    let r = api
        .http
        .put(api.url("/v2/a/manifests/v1"))
        .header("Content-Type", oci)
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let d = digest::sha256(m.as_bytes());
    assert_eq!(r.headers()["Docker-Content-Digest"], d.as_ref());
    for path in [
        "/v2/a/manifests/v1".to_string(),
        format!("/v2/a/manifests/{d}"),
    ] {
        let r = api
            .http
            .get(api.url(&path))
            .header("Accept", format!("{docker_v2}, {oci};q=0.9"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["Content-Type"], oci);
        assert_eq!(r.bytes().await.unwrap().as_ref(), m.as_bytes());
        let r = api
            .http
            .head(api.url(&path))
            .header("Accept", oci)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["Content-Length"], m.len().to_string());
        // A client that does not name the OCI type gets what the
        // distribution registry 2.8 answers (docker-registry, run here):
        // 404 MANIFEST_UNKNOWN, by tag and by digest, with no Accept, `*/*`
        // or Docker's types only.
        for accept in [None, Some("*/*"), Some(docker_v2)] {
            let mut q = api.http.get(api.url(&path));
            if let Some(a) = accept {
                q = q.header("Accept", a);
            }
            let r = q.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path} {accept:?}");
            let body: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            let e = &body["errors"][0];
            assert_eq!(
                (e["code"].as_str(), e["message"].as_str()),
                (
                    Some("MANIFEST_UNKNOWN"),
                    Some("OCI manifest found, but accept header does not support OCI manifests")
                ),
                "{path} {accept:?}"
            );
        }
    }
    let r = api
        .http
        .delete(api.url(&format!("/v2/a/manifests/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = api
        .http
        .get(api.url("/v2/a/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_catalog_are_paged() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let oci = "application/vnd.oci.image.manifest.v1+json";
    for repo in ["r1", "r2", "r3"] {
        let cfg = api.push_blob(repo, b"{}").await;
        let m = manifest_json(&cfg, 2, &[]);
        for tag in ["a", "b", "c", "d", "e"] {
            let r = api
                .http
                .put(api.url(&format!("/v2/{repo}/manifests/{tag}")))
                .header("Content-Type", oci)
                .body(m.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        }
    }
    let r = api
        .http
        .get(api.url("/v2/r1/tags/list?n=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["Link"],
        "</v2/r1/tags/list?n=2&last=b>; rel=\"next\""
    );
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"name":"r1","tags":["a","b"]}));
    let r = api
        .http
        .get(api.url("/v2/r1/tags/list?n=2&last=d"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("Link").is_none());
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["tags"], serde_json::json!(["e"]));
    let r = api
        .http
        .get(api.url("/v2/_catalog?n=2"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("Link").is_some());
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["r1", "r2"]));
    // Through the client, following Link headers.
    let c = common::client();
    assert_eq!(
        c.list_tags(&s.host(), "r3").await.unwrap(),
        ["a", "b", "c", "d", "e"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_repository_mount_and_cancel() {
    let (s, _root) = common::our_registry(AuthMode::None).await;
    let api = Api::new(&s.host());
    let d = api.push_blob("src/repo", b"shared layer").await;
    let r = api
        .http
        .post(api.url(&format!(
            "/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["Location"], format!("/v2/dst/repo/blobs/{d}"));
    let r = api
        .http
        .head(api.url(&format!("/v2/dst/repo/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["Content-Length"], "12");
    // Not mountable (the source lacks it): an upload starts instead.
    let other = digest::sha256(b"elsewhere");
    let r = api
        .http
        .post(api.url(&format!(
            "/v2/dst/repo/blobs/uploads/?mount={other}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = r.headers()["Location"].to_str().unwrap().to_string();
    let r = api.http.delete(api.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = api
        .http
        .patch(api.url(&loc))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_of_one_blob_publish_it_once_and_whole() {
    let (s, root) = common::our_registry(AuthMode::None).await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let d = digest::sha256(&data);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let host = s.host();
        let data = data.clone();
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let api = Api::new(&host);
            let mut loc = api.start(&format!("repo{i}")).await;
            for (j, c) in data.chunks(1_000_000).enumerate() {
                let start = j * 1_000_000;
                let r = api
                    .http
                    .patch(api.url(&loc))
                    .header(
                        "Content-Range",
                        format!("{}-{}", start, start + c.len() - 1),
                    )
                    .body(c.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::ACCEPTED);
                loc = r.headers()["Location"].to_str().unwrap().to_string();
            }
            let r = api
                .http
                .put(api.url(&format!("{loc}?digest={d}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(blob_files(root.path()), [digest::hex_of(&d).to_string()]);
    let on_disk = std::fs::read(root.path().join("blobs/sha256").join(digest::hex_of(&d))).unwrap();
    assert!(on_disk == data, "the published blob is the whole content");
    assert_eq!(ingest_files(root.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_upload_leaves_no_partial_blob() {
    let (s, root) = common::our_registry(AuthMode::None).await;
    let host = s.host();
    let data = vec![7u8; 200_000];
    let d = digest::sha256(&data);
    // 1. A client dies mid-body: announce 200000 bytes, send half, hang up.
    {
        let mut tcp = std::net::TcpStream::connect(&host).unwrap();
        write!(
            tcp,
            "POST /v2/a/blobs/uploads/?digest={d} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n",
            data.len()
        )
        .unwrap();
        tcp.write_all(&data[..100_000]).unwrap();
    }
    // 2. The server dies mid-upload: a chunked upload half done, then the
    //    server is dropped (its tasks aborted) and started again.
    let api = Api::new(&host);
    let loc = api.start("a").await;
    let r = api
        .http
        .patch(api.url(&loc))
        .header("Content-Range", "0-99999")
        .body(data[..100_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        blob_files(root.path()).is_empty(),
        "nothing is published mid-upload"
    );
    drop(s);
    let s2 = chapter06::server::spawn(
        chapter06::server::ServerConfig {
            root: root.path().to_path_buf(),
            auth: AuthMode::None,
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let api = Api::new(&s2.host());
    let r = api
        .http
        .head(api.url(&format!("/v2/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let loc2 = loc.replace(&host, &s2.host());
    let r = api.http.get(api.url(&loc2)).send().await.unwrap();
    assert_eq!(
        err(r).await,
        (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into())
    );
    assert!(blob_files(root.path()).is_empty());
    // A fresh push of the same blob works.
    api.push_blob("a", &data).await;
    assert_eq!(blob_files(root.path()).len(), 1);
}
