//! `login`, `logout`, `search`, and the `X-Registry-Auth` header that
//! `pull`/`push` send.
//!
//! Credentials live in a Docker-style `config.json` (`{"auths": {"HOST":
//! {"auth": base64("user:password")}}}`, mode 0600, written by chapter 06's
//! `config` module) under `--config DIR`, `$DOCKER_CONFIG`, or
//! `~/.mini-docker/`. The daemon only checks them (`POST /auth`); the client
//! keeps them and sends them with each pull or push of that registry.

use super::format;
use super::http::{self, Body, Client};
use super::Failure;
use base64::Engine as _;
use registry::client::config::{self, Credentials};
use registry::reference::registry_host;
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::PathBuf;

/// The credentials file: `--config DIR`, `$DOCKER_CONFIG`, or `~/.mini-docker/config.json`.
pub fn config_file(config_dir: Option<&str>) -> PathBuf {
    if let Some(d) = config_dir {
        return PathBuf::from(d).join("config.json");
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return PathBuf::from(d).join("config.json");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    home.join(".mini-docker").join("config.json")
}

fn fail(m: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: m.into(),
    }
}

/// Flags of `login`.
#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// Username.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password.
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
}

/// `login [-u USER] [-p PASS | --password-stdin] [SERVER]`.
pub fn login(c: &Client, a: LoginArgs, config_dir: Option<&str>) -> Result<u8, Failure> {
    let server = a
        .server
        .unwrap_or_else(|| registry::reference::DOCKER_HUB.into());
    let host = registry_host(&server);
    let user = a
        .username
        .filter(|u| !u.is_empty())
        .ok_or_else(|| fail("Error: give the user name with -u/--username"))?;
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => {
            return Err(fail(
                "--password and --password-stdin are mutually exclusive",
            ))
        }
        (Some(p), false) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        (None, true) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            return Err(fail(
                "Error: give the password with -p/--password or --password-stdin",
            ))
        }
    };
    if password.is_empty() {
        return Err(fail("Error: Password Required"));
    }
    c.call(
        "POST",
        "/auth",
        Body::Json(json!({"username": user, "password": password, "serveraddress": host})),
    )?;
    let file = config_file(config_dir);
    config::store(&file, &host, &Credentials { user, password })
        .map_err(|e| fail(format!("Error saving credentials: {e}")))?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.",
        file.display()
    );
    println!("Login Succeeded");
    Ok(0)
}

/// `logout [SERVER]`.
pub fn logout(server: Option<&str>, config_dir: Option<&str>) -> Result<u8, Failure> {
    let host = registry_host(server.unwrap_or(registry::reference::DOCKER_HUB));
    let key = config::auth_key(&host);
    let file = config_file(config_dir);
    let removed = config::remove(&file, &host).map_err(|e| fail(e.to_string()))?;
    if removed {
        println!("Removing login credentials for {key}");
    } else {
        println!("Not logged in to {key}");
    }
    Ok(0)
}

/// The `X-Registry-Auth` header for an image's registry, when logged in there.
pub fn registry_auth(image: &str, config_dir: Option<&str>) -> Option<String> {
    let r = registry::Reference::parse(image).ok()?;
    let creds = config::load(&config_file(config_dir), &r.registry).ok()??;
    let v =
        json!({"username": creds.user, "password": creds.password, "serveraddress": r.registry});
    Some(base64::engine::general_purpose::URL_SAFE.encode(v.to_string()))
}

/// Flags of `search`.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// The registry whose catalog to search (or give the term as HOST/TERM).
    #[arg(long)]
    pub registry: Option<String>,
    /// Max number of search results.
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// The term.
    pub term: String,
}

/// `search [--registry HOST] TERM`: Docker's NAME DESCRIPTION STARS OFFICIAL table.
pub fn search(c: &Client, a: SearchArgs, config_dir: Option<&str>) -> Result<u8, Failure> {
    let term = match &a.registry {
        Some(h) => format!("{}/{}", registry_host(h), a.term),
        None => a.term.clone(),
    };
    let host = registry::reference::split_term(&term).0;
    let auth = host.and_then(|h| {
        let creds = config::load(&config_file(config_dir), &h).ok()??;
        let v = json!({"username": creds.user, "password": creds.password, "serveraddress": h});
        Some(base64::engine::general_purpose::URL_SAFE.encode(v.to_string()))
    });
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default();
    let v = c
        .call_with(
            "GET",
            &format!("/images/search?term={}&limit={}", http::enc(&term), a.limit),
            Body::Empty,
            &headers,
        )?
        .json()?;
    let rows: Vec<Vec<String>> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|r: &Value| {
            vec![
                r["name"].as_str().unwrap_or("").to_string(),
                r["description"].as_str().unwrap_or("").to_string(),
                r["star_count"].as_u64().unwrap_or(0).to_string(),
                if r["is_official"].as_bool().unwrap_or(false) {
                    "[OK]".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    print!(
        "{}",
        format::table(&["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], &rows)
    );
    Ok(0)
}
