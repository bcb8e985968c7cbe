//! The Engine API's real axum router, fed one HTTP request per input.
//!
//! One `Engine` per fuzz process, on a temp data root (`md-fuzz-api-<pid>`
//! in the temp dir: see `data_root`). Its construction probes the overlay driver with a test
//! mount that it removes at once (root, as in CI; without root it falls
//! back to the copy driver). No bridge (`--bridge-name none`).
//!
//! An input is `METHOD ROUTE SEGMENT \n QUERY \n BODY`: the first byte picks
//! the method, the second one of the router's path templates (or a path
//! made of the segment alone), the segment fills the template's `{}`.
//!
//! Checked: no panic (a panic in a blocking handler comes back as a 500
//! "task … panicked": that counts as a crash too), and every 4xx/5xx
//! answer is JSON with a `message` (Docker's error body).
//!
//! The engine has no image and never gets one, so `create`, `start` and
//! every container, exec and image endpoint fail early. Left out are the
//! requests that would touch the host whatever the engine holds (see
//! `touches_host`): pulls, pushes, searches and logins (they reach a
//! registry named in the request, possibly off this machine), import and
//! load (they would give the engine an image, and `run` a way to start
//! containers), build and commit (containers, images; `/build/prune` stays), network create,
//! connect and disconnect (bridges, veths, nft rules), volume create (keeps
//! the engine's state the same for every input, so a crash reproduces from
//! its input alone) and the doctor (it probes the kernel, slowly).
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request};
use mini_dockerd::{api, net, Engine, Options};
use tower::ServiceExt;

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::DELETE,
    Method::PUT,
    Method::HEAD,
    Method::PATCH,
];

/// The router's paths, `{}` for a parameter (`api::router`, `netvol_api`).
const ROUTES: &[&str] = &[
    "/_ping",
    "/version",
    "/info",
    "/containers/create",
    "/containers/json",
    "/containers/{}/json",
    "/containers/{}/start",
    "/containers/{}/stop",
    "/containers/{}/kill",
    "/containers/{}/wait",
    "/containers/{}/logs",
    "/containers/{}/attach",
    "/containers/{}/resize",
    "/containers/{}/exec",
    "/exec/{}/start",
    "/exec/{}/resize",
    "/exec/{}/json",
    "/containers/{}",
    "/containers/{}/restart",
    "/containers/{}/rename",
    "/containers/{}/top",
    "/containers/{}/archive",
    "/containers/{}/changes",
    "/containers/{}/stats",
    "/containers/{}/explain",
    "/containers/prune",
    "/build/prune",
    "/system/df",
    "/images/json",
    "/images/prune",
    "/images/get",
    "/images/{}",
    "/images/{}/json",
    "/images/{}/history",
    "/images/{}/get",
    "/images/{}/tag",
    "/networks",
    "/networks/prune",
    "/networks/{}",
    "/volumes",
    "/volumes/prune",
    "/volumes/{}",
    "/{}",
];

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    _engine: Arc<Engine>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = data_root();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let engine = rt
            .block_on(async {
                Engine::open(Options {
                    root,
                    shim: "/nonexistent/mini-shim".into(),
                    net: net::NetOptions {
                        subnet: None,
                        bridge: None,
                    },
                    registry_mirrors: vec![],
                    insecure_registries: vec![],
                    default_ulimits: vec![],
                    log_config: serde_json::json!({"Type": "json-file", "Config": {}}),
                    max_layer_size: mini_dockerd::DEFAULT_MAX_LAYER_SIZE,
                    runtimes: mini_dockerd::runtimes::Registry::new(
                        "/nonexistent/mini-runc".into(),
                    ),
                    // Never the host's resolvers: a closed local port.
                    dns: vec!["127.0.0.1:9".parse().expect("an address")],
                    init_path: None,
                })
            })
            .expect("the engine opens");
        let app = api::router(engine.clone());
        Fixture {
            rt,
            app,
            _engine: engine,
        }
    })
}

/// `$TMPDIR/md-fuzz-api-<pid>`, fresh. libFuzzer ends the process with
/// `exit`, so the directory outlives it: the next run removes the ones whose
/// process is gone (they hold only the engine's empty directories).
fn data_root() -> std::path::PathBuf {
    let tmp = std::env::temp_dir();
    for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("md-fuzz-api-") {
            if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let root = tmp.join(format!("md-fuzz-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir(&root).expect("a temp data root");
    root
}

/// Percent-encodes what a URI cannot hold (`keep`: bytes left as they are).
fn encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~:@!$'()*,;".contains(&b) || keep.contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Whether the request could reach beyond the engine's data root (see the
/// module doc). Checked on the decoded path's segments, so `%63reate` or
/// `//create` are caught as `create` is.
fn touches_host(path: &str) -> bool {
    let decoded = api::percent_decode(&path.replace('+', "%2B"));
    if decoded == "/containers/create" || decoded == "/build/prune" {
        return false;
    }
    decoded.split('/').any(|seg| {
        matches!(
            seg,
            "create"
                | "load"
                | "search"
                | "push"
                | "auth"
                | "build"
                | "commit"
                | "connect"
                | "disconnect"
                | "doctor"
        )
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let method = METHODS[data[0] as usize % METHODS.len()].clone();
    let template = ROUTES[data[1] as usize % ROUTES.len()];
    let mut parts = data[2..].splitn(3, |&b| b == b'\n');
    let segment = encode(parts.next().unwrap_or_default(), b"/%");
    let query = encode(parts.next().unwrap_or_default(), b"&=%+/?");
    let body = parts.next().unwrap_or_default().to_vec();
    let path = template.replace("{}", &segment);
    if touches_host(&path) {
        return;
    }
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let Ok(req) = Request::builder()
        .method(method.clone())
        .uri(&uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
    else {
        return; // not a URI hyper would have accepted either
    };
    let f = fixture();
    let resp =
        f.rt.block_on(f.app.clone().oneshot(req))
            .expect("the router is infallible");
    let status = resp.status();
    if status.as_u16() < 400 || method == Method::HEAD {
        return;
    }
    let bytes =
        f.rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
            .expect("an error body is read");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {uri}: {status} with a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let message = v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {uri}: {status} without a message: {v}"));
    assert!(
        !message.contains("panicked"),
        "{method} {uri}: a handler panicked: {message}"
    );
});
