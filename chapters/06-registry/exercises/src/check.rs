//! The checks of chapter 06's exercises. Each starts chapter 06's registry
//! on 127.0.0.1 (a free port, token auth on, an image's manifest stored as
//! `demo/app:latest`), calls the exercise's function, and checks what it
//! returns against what the registry really holds or really accepts.

use std::process::ExitCode;

use chapter06::auth::{Htpasswd, TokenIssuer};
use chapter06::server::{self, AuthMode, RunningServer, ServerConfig};
use exercise_kit::{attempt, Exercise, Report, Scratch, Variant};

use crate::ex1::Challenge;
use crate::{ex1, ex2, ex3, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 3] = [
    Exercise {
        title: "read the registry's challenge (WWW-Authenticate)",
        check: check_challenge,
    },
    Exercise {
        title: "fetch a token from the token endpoint",
        check: check_token,
    },
    Exercise {
        title: "pull a manifest with the token, and verify its digest",
        check: check_pull,
    },
];

const REPO: &str = "demo/app";
const SERVICE: &str = "ch06-exercises";

/// Chapter 06's checks need no child process.
pub fn child(_: Variant, _: &[String]) -> ExitCode {
    ExitCode::from(2)
}

/// The registry, its runtime and its storage; all go away on drop.
struct Registry {
    server: Option<RunningServer>,
    runtime: tokio::runtime::Runtime,
    _root: Scratch,
    manifest: Vec<u8>,
    digest: String,
}

impl Registry {
    fn start(n: usize) -> Result<Registry, String> {
        let root = Scratch::new(&format!("ch06-ex{n}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("a tokio runtime: {e}"))?;
        let users = Htpasswd::parse("").map_err(|line| format!("htpasswd line {line}"))?;
        let config = ServerConfig {
            root: root.0.clone(),
            auth: AuthMode::Token {
                users,
                realm: None,
                issuer: TokenIssuer::new(SERVICE),
            },
        };
        let server = runtime
            .block_on(server::spawn(config, "127.0.0.1:0"))
            .map_err(|e| e.to_string())?;
        let manifest = serde_json::to_vec_pretty(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": chapter04::digest::sha256(b"{}").to_string(),
                "size": 2
            },
            "layers": []
        }))
        .map_err(|e| e.to_string())?;
        let digest = chapter04::digest::sha256(&manifest);
        server
            .registry
            .storage()
            .put_manifest(
                REPO,
                &manifest,
                &digest,
                "application/vnd.oci.image.manifest.v1+json",
                Some("latest"),
            )
            .map_err(|e| format!("store the manifest: {e}"))?;
        Ok(Registry {
            server: Some(server),
            runtime,
            _root: root,
            manifest,
            digest: digest.to_string(),
        })
    }

    fn base(&self) -> String {
        format!(
            "http://{}",
            self.server.as_ref().map(|s| s.host()).unwrap_or_default()
        )
    }

    /// The challenge the registry sends to a client without a token.
    fn challenge_header(&self, http: &reqwest::blocking::Client) -> Result<String, String> {
        let url = format!("{}/v2/{REPO}/manifests/latest", self.base());
        let resp = http
            .get(&url)
            .send()
            .map_err(|e| format!("GET {url}: {e}"))?;
        resp.headers()
            .get("WWW-Authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| format!("GET {url} answered {} without a challenge", resp.status()))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.runtime.block_on(s.stop());
        }
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

fn start(r: &mut Report, n: usize) -> Option<Registry> {
    match Registry::start(n) {
        Ok(reg) => Some(reg),
        Err(e) => {
            r.fail("the checker's registry started", e, "(checker setup)");
            None
        }
    }
}

fn parse(v: Variant, header: &str) -> Result<Option<Challenge>, String> {
    attempt(|| match v {
        Variant::Learner => ex1::parse_challenge(header),
        Variant::Solution => solutions::ex1::parse_challenge(header),
    })
}

fn check_challenge(r: &mut Report, v: Variant) {
    let Some(reg) = start(r, 1) else { return };
    let http = http();
    let header = match reg.challenge_header(&http) {
        Ok(h) => h,
        Err(e) => return r.fail("the registry sent a challenge", e, "(checker setup)"),
    };
    let want = Challenge {
        realm: format!("{}/token", reg.base()),
        service: SERVICE.into(),
        scope: format!("repository:{REPO}:pull"),
    };
    let cases = [
        ("the registry's own challenge parses", header.clone(), Some(want)),
        (
            "a scope with a comma inside its quotes",
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#.to_string(),
            Some(Challenge { realm: "https://auth.example/token".into(), service: "registry.example".into(), scope: "repository:a/b:pull,push".into() }),
        ),
        ("a Basic challenge gives None", r#"Basic realm="registry""#.to_string(), None),
    ];
    for (what, value, want) in cases {
        match parse(v, &value) {
            Err(e) => {
                return r.fail(
                    &format!("parse_challenge({what}) ran"),
                    e,
                    "see src/ex1.rs's hint",
                )
            }
            Ok(got) => {
                r.check(
                    what,
                    got == want,
                    format!("{value}\n              -> {got:?}"),
                    "values are quoted; take everything up to the closing quote, commas included",
                );
            }
        }
    }
}

fn check_token(r: &mut Report, v: Variant) {
    let Some(reg) = start(r, 2) else { return };
    let http = http();
    let challenge = reg
        .challenge_header(&http)
        .and_then(|h| chapter06::auth::parse_challenge(&h).ok_or(h));
    let challenge = match challenge {
        Ok(chapter06::auth::Challenge::Bearer {
            realm,
            service,
            scope,
            ..
        }) => Challenge {
            realm,
            service: service.unwrap_or_default(),
            scope: scope.unwrap_or_default(),
        },
        other => {
            return r.fail(
                "the registry sent a Bearer challenge",
                format!("{other:?}"),
                "(checker setup)",
            )
        }
    };
    let token = attempt(|| match v {
        Variant::Learner => ex2::fetch_token(&http, &challenge),
        Variant::Solution => solutions::ex2::fetch_token(&http, &challenge),
    });
    let token = match token {
        Err(e) => return r.fail("fetch_token ran", e, "see src/ex2.rs's hint"),
        Ok(Err(e)) => {
            return r.fail(
                "fetch_token got a token",
                e,
                "GET the realm with ?service=…&scope=…; the token is the JSON's \"token\"",
            )
        }
        Ok(Ok(t)) => t,
    };
    let url = format!("{}/v2/{REPO}/manifests/latest", reg.base());
    let status = http
        .get(&url)
        .bearer_auth(&token)
        .header("Accept", ex3::ACCEPT)
        .send()
        .map(|resp| resp.status());
    r.check(
        "the registry accepts the token for a pull of demo/app",
        status.as_ref().is_ok_and(|s| s.is_success()),
        format!("GET {url} with it: {status:?}"),
        "ask for the challenge's own service and scope, and return the token itself, not the whole JSON",
    );
}

fn check_pull(r: &mut Report, v: Variant) {
    let Some(reg) = start(r, 3) else { return };
    let http = http();
    let base = reg.base();
    let pulled = attempt(|| match v {
        Variant::Learner => ex3::pull_manifest(&http, &base, REPO, "latest"),
        Variant::Solution => solutions::ex3::pull_manifest(&http, &base, REPO, "latest"),
    });
    let (digest, bytes) = match pulled {
        Err(e) => return r.fail("pull_manifest ran", e, "see src/ex3.rs's hint"),
        Ok(Err(e)) => return r.fail("pull_manifest pulled", e, "a 401 means: challenge (ex1), token (ex2), then the same GET with Authorization: Bearer"),
        Ok(Ok(pulled)) => pulled,
    };
    r.check(
        "the digest is the stored manifest's",
        digest == reg.digest,
        format!("{digest} (stored: {})", reg.digest),
        "return the Docker-Content-Digest header's value",
    );
    r.check(
        "the bytes are the stored manifest's",
        bytes == reg.manifest,
        format!("{} bytes (stored: {})", bytes.len(), reg.manifest.len()),
        "return the body unchanged: its digest is over these exact bytes",
    );
}
