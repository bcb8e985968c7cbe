//! Authentication, end to end on 127.0.0.1: the token flow and its scopes,
//! Basic auth, `login` into config.json, credentials that never follow a
//! redirect to another host, and Docker Hub mirrors.

mod common;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use chapter04::digest;
use chapter06::auth::{Htpasswd, TokenIssuer};
use chapter06::client::{ClientError, Credentials};
use chapter06::server::AuthMode;
use chapter06::{demo, Client, ClientConfig, Reference};

fn token_mode() -> AuthMode {
    let users = Htpasswd::parse(&Htpasswd::entry("alice", "s3cret", 4).unwrap()).unwrap();
    AuthMode::Token {
        users,
        realm: None,
        issuer: TokenIssuer::new("chapter06-test"),
    }
}

fn client_as(user: Option<(&str, &str)>, registry: &str) -> Client {
    let c = common::client();
    if let Some((u, p)) = user {
        c.set_credentials(
            registry,
            Credentials {
                user: u.into(),
                password: p.into(),
            },
        );
    }
    c
}

async fn get_token(host: &str, scope: &str, user: Option<(&str, &str)>) -> String {
    let mut req = reqwest::Client::new().get(format!(
        "http://{host}/token?service=chapter06-test&scope={scope}"
    ));
    if let Some((u, p)) = user {
        req = req.basic_auth(u, Some(p));
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    v["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_flow_push_as_user_pull_anonymously() {
    let (s, _root) = common::our_registry(token_mode()).await;
    let host = s.host();
    // The challenge looks like Docker Hub's.
    let r = reqwest::get(format!("http://{host}/v2/app/tags/list"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ch = r.headers()["WWW-Authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ch,
        format!(
            r#"Bearer realm="http://{host}/token",service="chapter06-test",scope="repository:app:pull""#
        )
    );
    let (store, _sd) = common::store();
    let built = demo::synthetic_image(&store, "img:latest", &[20_000], 5).unwrap();
    let target = Reference::parse(&format!("{host}/app:latest")).unwrap();
    // alice may push.
    let pushed = client_as(Some(("alice", "s3cret")), &host)
        .push(&store, "img:latest", &target, None)
        .await
        .unwrap();
    assert_eq!(pushed.digest, Some(built.clone()));
    // Anyone may pull.
    let (fresh, _fd) = common::store();
    let pulled = client_as(None, &host).pull(&target, &fresh).await.unwrap();
    assert_eq!(pulled.digest, built);
    // A wrong password gets no token at all.
    let e = client_as(Some(("alice", "wrong")), &host)
        .pull(&target, &fresh)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_with_a_pull_only_token_is_refused() {
    let (s, root) = common::our_registry(token_mode()).await;
    let host = s.host();
    // Anonymous clients asking for push get a pull-only token.
    let t = get_token(&host, "repository:app:pull,push", None).await;
    let r = reqwest::Client::new()
        .post(format!("http://{host}/v2/app/blobs/uploads/"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ch = r.headers()["WWW-Authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(ch.contains(r#"scope="repository:app:pull,push""#), "{ch}");
    assert!(ch.contains(r#"error="insufficient_scope""#), "{ch}");
    let body = r.bytes().await.unwrap();
    assert_eq!(
        chapter06::spec::parse_error_body(&body)[0].code,
        "UNAUTHORIZED"
    );
    // The same through the client: refused, and nothing was stored.
    let (store, _sd) = common::store();
    demo::synthetic_image(&store, "img:latest", &[1_000], 6).unwrap();
    let target = Reference::parse(&format!("{host}/app:latest")).unwrap();
    let e = client_as(None, &host)
        .push(&store, "img:latest", &target, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized { .. }), "{e}");
    assert!(e.to_string().contains("log in"), "{e}");
    assert_eq!(
        std::fs::read_dir(root.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_one_repository_does_not_open_another() {
    let (s, _root) = common::our_registry(token_mode()).await;
    let host = s.host();
    let t = get_token(
        &host,
        "repository:alice/app:pull,push",
        Some(("alice", "s3cret")),
    )
    .await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("http://{host}/v2/alice/app/blobs/uploads/"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "the token opens its own repository");
    for (m, path) in [
        ("POST", "/v2/bob/app/blobs/uploads/"),
        ("GET", "/v2/bob/app/tags/list"),
        ("GET", "/v2/alice/app2/manifests/latest"),
        ("GET", "/v2/alice/blobs/uploads/"),
    ] {
        let req = if m == "POST" {
            http.post(format!("http://{host}{path}"))
        } else {
            http.get(format!("http://{host}{path}"))
        };
        let r = req.bearer_auth(&t).send().await.unwrap();
        assert_eq!(r.status(), 401, "{m} {path}");
    }
    // A token signed by another server (another secret) opens nothing.
    let forged = TokenIssuer::new("chapter06-test").issue(
        "alice",
        vec![chapter06::auth::Access::repository(
            "alice/app",
            &["pull", "push"],
        )],
    );
    let r = http
        .get(format!("http://{host}/v2/alice/app/tags/list"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Mounting from a repository the token does not cover is not allowed:
    // the registry starts a normal upload instead.
    let d = digest::sha256(b"x");
    let r = http
        .post(format!(
            "http://{host}/v2/alice/app/blobs/uploads/?mount={d}&from=bob/secret"
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_login_into_config_json() {
    let users = Htpasswd::parse(&Htpasswd::entry("bob", "pw", 4).unwrap()).unwrap();
    let (s, _root) = common::our_registry(AuthMode::Basic(users)).await;
    let host = s.host();
    let r = reqwest::get(format!("http://{host}/v2/")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["WWW-Authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic "));
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.json");
    let c = Client::new(ClientConfig {
        loopback_only: true,
        auth_file: Some(cfg.clone()),
        ..Default::default()
    });
    let e = c
        .login(
            &host,
            Credentials {
                user: "bob".into(),
                password: "bad".into(),
            },
            &cfg,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized { .. }), "{e}");
    c.login(
        &host,
        Credentials {
            user: "bob".into(),
            password: "pw".into(),
        },
        &cfg,
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains(&host) && text.contains("Ym9iOnB3"), "{text}");
    // A new client reads the file.
    let c2 = Client::new(ClientConfig {
        loopback_only: true,
        auth_file: Some(cfg.clone()),
        ..Default::default()
    });
    let (store, _sd) = common::store();
    demo::synthetic_image(&store, "img:latest", &[5_000], 8).unwrap();
    let target = Reference::parse(&format!("{host}/bob/img:latest")).unwrap();
    c2.push(&store, "img:latest", &target, None).await.unwrap();
}

/// What the "CDN" saw.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

async fn cdn(addr: &str, seen: Seen, data: Vec<u8>) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        let data = data.clone();
        async move {
            seen.lock().unwrap().push(
                headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string()),
            );
            data.into_response()
        }
    });
    let l = tokio::net::TcpListener::bind(addr).await.unwrap();
    let a = l.local_addr().unwrap().to_string();
    (
        a,
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_follow_a_redirect_to_another_host() {
    let data = b"layer bytes from the CDN".to_vec();
    let d = digest::sha256(&data);
    // Two "CDNs": another loopback address, and another port on 127.0.0.1.
    let seen_other_ip: Seen = Arc::default();
    let seen_other_port: Seen = Arc::default();
    let (other_ip, _t1) = cdn("127.0.0.2:0", seen_other_ip.clone(), data.clone()).await;
    let (other_port, _t2) = cdn("127.0.0.1:0", seen_other_port.clone(), data.clone()).await;
    // A registry that wants Basic auth and redirects blob downloads.
    let seen_registry: Seen = Arc::default();
    let (rip, rport) = (other_ip.clone(), other_port.clone());
    let sr = seen_registry.clone();
    let data2 = data.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let (rip, rport, sr, data2) = (rip.clone(), rport.clone(), sr.clone(), data2.clone());
        async move {
            let authz = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            if authz.is_none() {
                return (
                    StatusCode::UNAUTHORIZED,
                    [("WWW-Authenticate", r#"Basic realm="r""#)],
                )
                    .into_response();
            }
            sr.lock().unwrap().push(authz);
            let p = uri.path();
            if p.starts_with("/v2/r/blobs/") {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [("Location", format!("http://{rip}/blob"))],
                )
                    .into_response()
            } else if p.starts_with("/v2/s/blobs/") {
                (
                    StatusCode::FOUND,
                    [("Location", format!("http://{rport}/blob"))],
                )
                    .into_response()
            } else if p.starts_with("/v2/same/blobs/") {
                (StatusCode::FOUND, [("Location", "/local-copy")]).into_response()
            } else if p == "/local-copy" {
                data2.into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = l.local_addr().unwrap().to_string();
    let _t3 = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let c = client_as(Some(("carol", "topsecret")), &host);
    let ep = c.endpoint(&host).unwrap();
    let (store, _sd) = common::store();
    let pb = chapter06::client::Progress::new(false).bar("test", data.len() as u64, "Downloading");
    for repo in ["r", "s"] {
        c.fetch_blob(&ep, repo, &d, data.len() as u64, &store.blobs, &pb)
            .await
            .unwrap();
        std::fs::remove_file(store.blobs.blob_path(&d).unwrap()).unwrap();
    }
    assert_eq!(
        *seen_other_ip.lock().unwrap(),
        vec![None],
        "no credentials to 127.0.0.2"
    );
    assert_eq!(
        *seen_other_port.lock().unwrap(),
        vec![None],
        "no credentials to another port"
    );
    // The registry itself did get them, and a redirect within it keeps them.
    c.fetch_blob(&ep, "same", &d, data.len() as u64, &store.blobs, &pb)
        .await
        .unwrap();
    let seen = seen_registry.lock().unwrap();
    assert!(
        seen.iter()
            .all(|a| a.as_deref() == Some("Basic Y2Fyb2w6dG9wc2VjcmV0")),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 4, "r, s, same and its /local-copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_hub_images_come_from_the_mirror() {
    // A mirror holding library/busybox; the client may reach loopback only,
    // so Docker Hub itself is never contacted (not even resolved).
    let (mirror, _root) = common::our_registry(AuthMode::None).await;
    let (store, _sd) = common::store();
    let built = demo::synthetic_image(&store, "bb:latest", &[10_000], 9).unwrap();
    common::client()
        .push(
            &store,
            "bb:latest",
            &Reference::parse(&format!("{}/library/busybox:latest", mirror.host())).unwrap(),
            None,
        )
        .await
        .unwrap();
    let daemon_json = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        daemon_json.path(),
        format!(r#"{{"registry-mirrors": ["http://{}"]}}"#, mirror.host()),
    )
    .unwrap();
    let mut cfg = ClientConfig {
        loopback_only: true,
        ..Default::default()
    };
    cfg.apply_daemon_json(daemon_json.path()).unwrap();
    let c = Client::new(cfg);
    let (fresh, _fd) = common::store();
    let r = Reference::parse("busybox").unwrap();
    assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
    let p = c.pull(&r, &fresh).await.unwrap();
    assert_eq!(p.digest, built);
    assert_eq!(p.endpoint, format!("http://{}/", mirror.host()));
    assert_eq!(fresh.lookup("busybox:latest").unwrap(), built);
    // Without a mirror, this client refuses Docker Hub outright.
    let e = common::client().pull(&r, &fresh).await.unwrap_err();
    assert!(matches!(e, ClientError::NotLoopback { .. }), "{e}");
}
