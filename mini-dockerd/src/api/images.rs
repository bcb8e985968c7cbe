//! The images router: `/images/…`.
//!
//! Image names contain slashes (`localhost:5000/team/app:v1`,
//! `app@sha256:…`), so, as moby's router does with `{name:.*}/json`, the
//! named routes match the whole rest of the path and the action is its last
//! segment: `GET /images/{name}/json`, `/history`, `/get`, `POST
//! /images/{name}/tag`, `/push`, and `DELETE /images/{name}`. The fixed
//! routes (`/images/json`, `/create`, `/search`, `/prune`, `/load`, `/get`)
//! are matched first; a `DELETE` of one of those words removes the image of
//! that name, as it does in Docker.

use super::{blocking, flag, param, ApiError, Eng, Q};
use crate::auth::AuthConfig;
use crate::filters::Filters;
use crate::Engine;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/images/json", get(list).delete(remove))
        .route("/images/create", post(create).delete(remove))
        .route("/images/search", get(search).delete(remove))
        .route("/images/prune", post(prune).delete(remove))
        .route("/images/load", post(load).delete(remove))
        .route("/images/get", get(save_named).delete(remove))
        .route(
            "/images/*name",
            get(named_get).post(named_post).delete(remove),
        )
}

/// What a named route asks: `/images/{name}/{action}`.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    Inspect(String),
    History(String),
    Save(String),
    Tag(String),
    Push(String),
}

impl Named {
    /// Parses the path after `/images/` for `method`; `None` for a path no
    /// route has (a 404 `page not found`).
    fn parse(method: &Method, rest: &str) -> Option<Named> {
        let (name, action) = rest.rsplit_once('/')?;
        if name.is_empty() {
            return None;
        }
        let name = name.to_string();
        Some(match (method.as_str(), action) {
            ("GET", "json") => Named::Inspect(name),
            ("GET", "history") => Named::History(name),
            ("GET", "get") => Named::Save(name),
            ("POST", "tag") => Named::Tag(name),
            ("POST", "push") => Named::Push(name),
            _ => return None,
        })
    }
}

/// The image's name in the path (`/images/{name}`), decoded.
fn path_name(uri: &Uri) -> String {
    let rest = uri.path().strip_prefix("/images/").unwrap_or_default();
    super::percent_decode(rest)
}

fn not_found(method: &Method, uri: &Uri) -> ApiError {
    ApiError::not_found(format!("page not found: {method} {}", uri.path()))
}

/// The registry credentials a pull, push or search carries.
fn credentials(h: &HeaderMap) -> Option<AuthConfig> {
    h.get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(AuthConfig::from_header)
}

fn arg(q: &std::collections::HashMap<String, String>, k: &str) -> String {
    q.get(k).cloned().unwrap_or_default()
}

async fn list(State(e): Eng, Query(q): Q) -> Result<Json<Value>, ApiError> {
    let f = Filters::from_query(&q)?;
    Ok(Json(e.images.list_filtered(&f)?))
}

/// `POST /images/create`: `fromSrc=-` imports the body, `fromImage` pulls.
async fn create(State(e): Eng, Query(q): Q, req: Request) -> Result<Response, ApiError> {
    if q.get("fromSrc").map(String::as_str) == Some("-") {
        let tmp = body_to_file(req.into_body(), &e.opts.root).await?;
        let (repo, tag) = split_repo_tag(&arg(&q, "repo"), &arg(&q, "tag"));
        let msg = arg(&q, "message");
        let e2 = e.clone();
        let familiar = ::images::image::familiar_name(&repo).to_string();
        let named = match (familiar.as_str(), tag.as_str()) {
            ("", _) => None,
            (r, "") => Some(r.to_string()),
            (r, t) => Some(format!("{r}:{t}")),
        };
        let id = blocking(move || e.images.import(tmp.path(), &repo, &tag, &msg)).await?;
        // dockerd's order: the new name's `tag`, then the `import`.
        if let Some(named) = named {
            e2.emit_event("image", "tag", &id, &[("name", &named)]);
        }
        e2.emit_event("image", "import", &id, &[("name", &id)]);
        return Ok(json_lines(vec![json!({"status": id})]));
    }
    if q.contains_key("fromImage") {
        let creds = credentials(req.headers());
        return crate::pull::pull(e, arg(&q, "fromImage"), arg(&q, "tag"), creds).await;
    }
    Err(ApiError::bad("give fromSrc=- (import) or fromImage (pull)"))
}

async fn search(State(e): Eng, Query(q): Q, h: HeaderMap) -> Result<Json<Value>, ApiError> {
    let limit = param(&q, "limit")?.unwrap_or(25);
    let term = arg(&q, "term");
    Ok(Json(
        crate::auth::search(&e.registry, &term, limit, credentials(&h)).await?,
    ))
}

async fn prune(State(e): Eng, Query(q): Q) -> Result<Json<Value>, ApiError> {
    let all = Filters::from_query(&q)?.bool("dangling")? == Some(false);
    Ok(Json(blocking(move || e.prune_images(all)).await?))
}

async fn load(State(e): Eng, req: Request) -> Result<Response, ApiError> {
    let tmp = body_to_file(req.into_body(), &e.opts.root).await?;
    let e2 = e.clone();
    let loaded = blocking(move || e.images.load(tmp.path())).await?;
    for line in &loaded {
        // "Loaded image: x:t" or "Loaded image ID: sha256:…".
        let name = line.rsplit(": ").next().unwrap_or(line);
        if let Ok(img) = e2.images.resolve(name) {
            let id = img.config_digest.to_string();
            // dockerd names the loaded image by its id, whatever its tags.
            e2.emit_event("image", "load", &id, &[("name", &id)]);
        }
    }
    Ok(json_lines(
        loaded
            .into_iter()
            .map(|l| json!({"stream": format!("{l}\n")}))
            .collect(),
    ))
}

/// `GET /images/get?names=a&names=b` (a repeated key, so not a map).
async fn save_named(State(e): Eng, uri: Uri) -> Result<Response, ApiError> {
    let names: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("names="))
        .map(super::percent_decode)
        .collect();
    save(e, names).await
}

async fn named_get(State(e): Eng, method: Method, uri: Uri) -> Result<Response, ApiError> {
    match Named::parse(&method, &path_name(&uri)) {
        Some(Named::Inspect(name)) => Ok(Json(e.images.inspect(&name)?).into_response()),
        Some(Named::History(name)) => {
            Ok(Json(blocking(move || crate::lineage::history(&e, &name)).await?).into_response())
        }
        Some(Named::Save(name)) => save(e, vec![name]).await,
        _ => Err(not_found(&method, &uri)),
    }
}

async fn named_post(
    State(e): Eng,
    Query(q): Q,
    method: Method,
    uri: Uri,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    match Named::parse(&method, &path_name(&uri)) {
        Some(Named::Tag(name)) => {
            let (repo, tag) = (arg(&q, "repo"), arg(&q, "tag"));
            let e2 = e.clone();
            let id = e.images.resolve(&name).map(|i| i.config_digest.to_string());
            // The name as the user wrote it (Docker's familiar form).
            let familiar = ::images::image::familiar_name(&repo);
            let new = if tag.is_empty() {
                familiar.to_string()
            } else {
                format!("{familiar}:{tag}")
            };
            blocking(move || e.images.tag(&name, &repo, &tag)).await?;
            if let Ok(id) = id {
                e2.emit_event("image", "tag", &id, &[("name", &new)]);
            }
            Ok(StatusCode::CREATED.into_response())
        }
        Some(Named::Push(name)) => {
            crate::pull::push(e, name, arg(&q, "tag"), credentials(&h)).await
        }
        _ => Err(not_found(&method, &uri)),
    }
}

/// `DELETE /images/{name}?force=`.
async fn remove(State(e): Eng, Query(q): Q, uri: Uri) -> Result<Json<Value>, ApiError> {
    let (name, force) = (path_name(&uri), flag(&q, "force"));
    let e2 = e.clone();
    let e3 = e.clone();
    let id = e.images.resolve(&name).map(|i| i.config_digest.to_string());
    let (out, _) = blocking(move || {
        e.images
            .remove(&name, force, &|id| e2.image_users(id), &|| {
                e2.container_layers()
            })
    })
    .await?;
    // dockerd's events: `untag` per name removed, `delete` per image gone.
    for entry in out.as_array().into_iter().flatten() {
        if let (Some(_), Ok(id)) = (entry["Untagged"].as_str(), &id) {
            e3.emit_event("image", "untag", id, &[("name", id)]);
        }
        if let Some(gone) = entry["Deleted"].as_str() {
            e3.emit_event("image", "delete", gone, &[("name", gone)]);
        }
    }
    Ok(Json(out))
}

/// Reads a request body into a temp file (image tarballs).
async fn body_to_file(
    body: Body,
    dir: &std::path::Path,
) -> Result<tempfile::NamedTempFile, ApiError> {
    use std::io::Write;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?;
    let mut s = body.into_data_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad(crate::errors::chain(&e)))?;
        tmp.write_all(&chunk)
            .map_err(|e| ApiError::internal(crate::errors::chain(&e)))?;
    }
    Ok(tmp)
}

fn json_lines(lines: Vec<Value>) -> Response {
    let body: String = lines.into_iter().map(|l| format!("{l}\r\n")).collect();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn save(e: Arc<Engine>, names: Vec<String>) -> Result<Response, ApiError> {
    let tmp = tempfile::NamedTempFile::new_in(&e.opts.root)
        .map_err(|x| ApiError::internal(x.to_string()))?;
    let path = tmp.path().to_path_buf();
    let e2 = e.clone();
    let ids: Vec<String> = names
        .iter()
        .filter_map(|n| e.images.resolve(n).ok())
        .map(|i| i.config_digest.to_string())
        .collect();
    blocking(move || e.images.save(&names, &path)).await?;
    for id in ids {
        e2.emit_event("image", "save", &id, &[("name", &id)]);
    }
    let f = tokio::fs::File::open(tmp.path())
        .await
        .map_err(|x| ApiError::internal(x.to_string()))?;
    drop(tmp); // unlinked; the open file stays readable
    let body = Body::from_stream(tokio_util_stream(f));
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

fn tokio_util_stream(
    f: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(f, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

/// `docker import FILE bb:1` sends `repo=bb:1` and an empty `tag` (the CLI
/// passes the reference whole, as dockerd parses it): the tag inside the
/// repo counts when no `tag` is given. A colon before the last `/` is a
/// registry's port, not a tag.
fn split_repo_tag(repo: &str, tag: &str) -> (String, String) {
    if tag.is_empty() {
        if let Some((name, t)) = repo.rsplit_once(':') {
            if !t.contains('/') {
                return (name.to_string(), t.to_string());
            }
        }
    }
    (repo.to_string(), tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::{split_repo_tag, Method, Named};

    #[test]
    fn named_routes_split_the_action_off_names_with_slashes() {
        let (get, post) = (Method::GET, Method::POST);
        let p = |m: &Method, r: &str| Named::parse(m, r);
        assert_eq!(
            p(&get, "localhost:5000/a/b:t/json"),
            Some(Named::Inspect("localhost:5000/a/b:t".into()))
        );
        let digest = format!("bb@sha256:{}", "a".repeat(64));
        assert_eq!(
            p(&get, &format!("{digest}/history")),
            Some(Named::History(digest.clone()))
        );
        assert_eq!(p(&get, &format!("{digest}/get")), Some(Named::Save(digest)));
        assert_eq!(p(&post, "a/b/tag"), Some(Named::Tag("a/b".into())));
        assert_eq!(
            p(&post, "127.0.0.1:5000/x/push"),
            Some(Named::Push("127.0.0.1:5000/x".into()))
        );
        // A path no route has.
        assert_eq!(p(&get, "bb"), None);
        assert_eq!(p(&post, "bb/json"), None);
        assert_eq!(p(&get, "/json"), None);
    }

    #[test]
    fn an_import_reference_may_carry_its_tag() {
        let s = |r: &str, t: &str| split_repo_tag(r, t);
        assert_eq!(s("bb:1", ""), ("bb".into(), "1".into()));
        assert_eq!(s("bb", "2"), ("bb".into(), "2".into()));
        assert_eq!(s("bb", ""), ("bb".into(), "".into()));
        assert_eq!(
            s("127.0.0.1:5000/team/bb", ""),
            ("127.0.0.1:5000/team/bb".into(), "".into())
        );
        assert_eq!(
            s("127.0.0.1:5000/team/bb:v3", ""),
            ("127.0.0.1:5000/team/bb".into(), "v3".into())
        );
    }
}
