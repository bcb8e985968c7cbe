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
//!
//! The handlers call an [`ImageBackend`]: the calls this router makes, and
//! no other (moby's `api/server/router/image/backend.go`). The daemon's
//! `Engine` implements it (`crate::backend`).

use super::{blocking, qs, typed, ApiError, Q};
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
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The engine's result.
type Result<T> = std::result::Result<T, ApiError>;

/// The calls the images router makes (moby's `image.Backend`).
///
/// Blocking calls (files, the store) are plain methods, run by the router
/// off the async threads; registry calls are futures. A pull or push
/// answers with its progress stream, which `pull.rs` writes as it goes.
pub trait ImageBackend: Send + Sync + 'static {
    /// Where a request body (an image tarball) is spooled: a directory on
    /// the data root's disk.
    fn image_spool_dir(&self) -> PathBuf;
    /// `GET /images/json`: the summaries, filtered.
    /// `all`: also the intermediate images a build made (`images -a`).
    fn image_list(&self, filters: &Filters, all: bool) -> Result<Value>;
    /// `POST /images/create?fromSrc=-`: imports a root filesystem tarball.
    fn image_import(&self, tar: &Path, repo: &str, tag: &str, message: &str) -> Result<String>;
    /// `POST /images/create?fromImage=&tag=`: the progress stream.
    fn image_pull(
        self: Arc<Self>,
        image: String,
        tag: String,
        auth: Option<AuthConfig>,
    ) -> impl Future<Output = Result<Response>> + Send;
    /// `POST /images/{name}/push?tag=`: the progress stream.
    fn image_push(
        self: Arc<Self>,
        name: String,
        tag: String,
        auth: Option<AuthConfig>,
    ) -> impl Future<Output = Result<Response>> + Send;
    /// `GET /images/search?term=&limit=`.
    fn image_search(
        self: Arc<Self>,
        term: String,
        limit: usize,
        auth: Option<AuthConfig>,
    ) -> impl Future<Output = Result<Value>> + Send;
    /// `POST /images/prune`: every unused image with `all`, else the dangling.
    fn images_prune(&self, all: bool) -> Result<Value>;
    /// `POST /images/load`: the images a `docker save` tarball held.
    fn image_load(&self, tar: &Path) -> Result<Vec<String>>;
    /// `GET /images/get`, `/images/{name}/get`: writes the tarball to `out`.
    fn image_save(&self, names: &[String], out: &Path) -> Result<()>;
    /// `GET /images/{name}/json`.
    fn image_inspect(&self, name: &str) -> Result<Value>;
    /// `GET /images/{name}/history`.
    fn image_history(&self, name: &str) -> Result<Value>;
    /// `POST /images/{name}/tag?repo=&tag=`.
    fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<()>;
    /// `DELETE /images/{name}?force=`: what was untagged and deleted.
    fn image_remove(&self, name: &str, force: bool) -> Result<Value>;
}

/// The backend the handlers are given.
type Backend<B> = State<Arc<B>>;

// The requests' queries, typed (other parameters are ignored, as Docker
// ignores them; `filters` is read by [`Filters`]).

/// `POST /images/create?fromImage=&fromSrc=&repo=&tag=&message=`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateQuery {
    from_image: Option<String>,
    from_src: Option<String>,
    #[serde(default)]
    repo: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    message: String,
}

/// `GET /images/search?term=&limit=`.
#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    term: String,
    #[serde(default, deserialize_with = "qs::parsed")]
    limit: Option<usize>,
}

/// `POST /images/{name}/tag?repo=&tag=` and `/push?tag=`.
#[derive(Debug, Default, Deserialize)]
struct TagQuery {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    tag: String,
}

/// `DELETE /images/{name}?force=`.
#[derive(Debug, Default, Deserialize)]
struct RemoveQuery {
    #[serde(default, deserialize_with = "qs::flag")]
    force: bool,
}

pub(super) fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/images/json", get(list::<Engine>).delete(remove::<Engine>))
        .route(
            "/images/create",
            post(create::<Engine>).delete(remove::<Engine>),
        )
        .route(
            "/images/search",
            get(search::<Engine>).delete(remove::<Engine>),
        )
        .route(
            "/images/prune",
            post(prune::<Engine>).delete(remove::<Engine>),
        )
        .route(
            "/images/load",
            post(load::<Engine>).delete(remove::<Engine>),
        )
        .route(
            "/images/get",
            get(save_named::<Engine>).delete(remove::<Engine>),
        )
        .route(
            "/images/*name",
            get(named_get::<Engine>)
                .post(named_post::<Engine>)
                .delete(remove::<Engine>),
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

async fn list<B: ImageBackend>(State(e): Backend<B>, Query(q): Q) -> Result<Json<Value>> {
    let f = Filters::from_query(&q)?;
    Ok(Json(e.image_list(&f, super::flag(&q, "all"))?))
}

/// `POST /images/create`: `fromSrc=-` imports the body, `fromImage` pulls.
async fn create<B: ImageBackend>(
    State(e): Backend<B>,
    Query(q): Q,
    req: Request,
) -> Result<Response> {
    let q: CreateQuery = typed(&q)?;
    if q.from_src.as_deref() == Some("-") {
        let tmp = body_to_file(req.into_body(), &e.image_spool_dir()).await?;
        let (repo, tag) = split_repo_tag(&q.repo, &q.tag);
        let msg = q.message;
        let id = blocking(move || e.image_import(tmp.path(), &repo, &tag, &msg)).await?;
        return Ok(json_lines(vec![json!({"status": id})]));
    }
    if let Some(image) = q.from_image {
        let creds = credentials(req.headers());
        return e.image_pull(image, q.tag, creds).await;
    }
    Err(ApiError::bad("give fromSrc=- (import) or fromImage (pull)"))
}

async fn search<B: ImageBackend>(
    State(e): Backend<B>,
    Query(q): Q,
    h: HeaderMap,
) -> Result<Json<Value>> {
    let SearchQuery { term, limit } = typed(&q)?;
    let limit = limit.unwrap_or(25);
    Ok(Json(e.image_search(term, limit, credentials(&h)).await?))
}

async fn prune<B: ImageBackend>(State(e): Backend<B>, Query(q): Q) -> Result<Json<Value>> {
    let all = Filters::from_query(&q)?.bool("dangling")? == Some(false);
    Ok(Json(blocking(move || e.images_prune(all)).await?))
}

async fn load<B: ImageBackend>(State(e): Backend<B>, req: Request) -> Result<Response> {
    let tmp = body_to_file(req.into_body(), &e.image_spool_dir()).await?;
    let loaded = blocking(move || e.image_load(tmp.path())).await?;
    Ok(json_lines(
        loaded
            .into_iter()
            .map(|l| json!({"stream": format!("{l}\n")}))
            .collect(),
    ))
}

/// `GET /images/get?names=a&names=b` (a repeated key, so not a map).
async fn save_named<B: ImageBackend>(State(e): Backend<B>, uri: Uri) -> Result<Response> {
    let names: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("names="))
        .map(super::percent_decode)
        .collect();
    save(e, names).await
}

async fn named_get<B: ImageBackend>(
    State(e): Backend<B>,
    method: Method,
    uri: Uri,
) -> Result<Response> {
    match Named::parse(&method, &path_name(&uri)) {
        Some(Named::Inspect(name)) => Ok(Json(e.image_inspect(&name)?).into_response()),
        Some(Named::History(name)) => {
            Ok(Json(blocking(move || e.image_history(&name)).await?).into_response())
        }
        Some(Named::Save(name)) => save(e, vec![name]).await,
        _ => Err(not_found(&method, &uri)),
    }
}

async fn named_post<B: ImageBackend>(
    State(e): Backend<B>,
    Query(q): Q,
    method: Method,
    uri: Uri,
    h: HeaderMap,
) -> Result<Response> {
    match Named::parse(&method, &path_name(&uri)) {
        Some(Named::Tag(name)) => {
            let TagQuery { repo, tag } = typed(&q)?;
            blocking(move || e.image_tag(&name, &repo, &tag)).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        Some(Named::Push(name)) => {
            let TagQuery { tag, .. } = typed(&q)?;
            e.image_push(name, tag, credentials(&h)).await
        }
        _ => Err(not_found(&method, &uri)),
    }
}

/// `DELETE /images/{name}?force=`.
async fn remove<B: ImageBackend>(
    State(e): Backend<B>,
    Query(q): Q,
    uri: Uri,
) -> Result<Json<Value>> {
    let (name, RemoveQuery { force }) = (path_name(&uri), typed(&q)?);
    Ok(Json(blocking(move || e.image_remove(&name, force)).await?))
}

/// Reads a request body into a temp file (image tarballs).
async fn body_to_file(body: Body, dir: &Path) -> Result<tempfile::NamedTempFile> {
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

async fn save<B: ImageBackend>(e: Arc<B>, names: Vec<String>) -> Result<Response> {
    let tmp = tempfile::NamedTempFile::new_in(e.image_spool_dir())
        .map_err(|x| ApiError::internal(x.to_string()))?;
    let path = tmp.path().to_path_buf();
    blocking(move || e.image_save(&names, &path)).await?;
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

#[cfg(test)]
mod backend_tests {
    //! The router against a fake backend: names with slashes reach the
    //! backend whole, bad queries stop before it, errors keep their status.
    use super::*;
    use crate::api::fake::{send, Fake};

    fn app(fake: Arc<Fake>) -> Router {
        Router::new()
            .route("/images/json", get(list::<Fake>).delete(remove::<Fake>))
            .route(
                "/images/create",
                post(create::<Fake>).delete(remove::<Fake>),
            )
            .route("/images/search", get(search::<Fake>).delete(remove::<Fake>))
            .route("/images/load", post(load::<Fake>).delete(remove::<Fake>))
            .route(
                "/images/*name",
                get(named_get::<Fake>)
                    .post(named_post::<Fake>)
                    .delete(remove::<Fake>),
            )
            .with_state(fake)
    }

    #[tokio::test]
    async fn requests_become_typed_calls() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone());
        let digest = format!("bb@sha256:{}", "a".repeat(64));
        let (s, b) = send(&app, "GET", "/images/localhost:5000/a/b:t/json", "").await;
        assert_eq!((s, b["Id"].as_str()), (StatusCode::OK, Some("sha256:2")));
        let (s, _) = send(&app, "GET", &format!("/images/{digest}/history"), "").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = send(&app, "POST", "/images/a/b/tag?repo=r&tag=t", "").await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, b) = send(&app, "DELETE", "/images/json?force=1", "").await;
        assert_eq!((s, b), (StatusCode::OK, json!([{"Untagged": "json"}])));
        let (s, _) = send(&app, "POST", "/images/create?fromImage=bb&tag=1", "").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = send(&app, "POST", "/images/create?fromSrc=-&repo=bb:2", "tar!").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = send(&app, "POST", "/images/load", "12345").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = send(&app, "GET", "/images/search?term=x", "").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            fake.calls(),
            [
                "inspect localhost:5000/a/b:t".to_string(),
                format!("history {digest}"),
                "tag a/b r t".into(),
                "remove json force=true".into(),
                "pull bb 1 auth=false".into(),
                "import 4 bb 2 ".into(),
                "load 5".into(),
                "search x 25".into(),
            ]
        );
    }

    #[tokio::test]
    async fn bad_requests_stop_before_the_backend() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone());
        let (s, b) = send(&app, "POST", "/images/create", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b["message"], "give fromSrc=- (import) or fromImage (pull)");
        let (s, b) = send(&app, "GET", "/images/search?term=x&limit=many", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b["message"], r#"invalid value for limit: "many""#);
        let (s, _) = send(&app, "GET", "/images/json?filters=%5B", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // A path no route has: Docker's 404, not a call.
        let (s, b) = send(&app, "POST", "/images/bb/json", "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(b["message"], "page not found: POST /images/bb/json");
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    }

    #[tokio::test]
    async fn backend_errors_keep_their_status() {
        let missing = app(Fake::failing(ApiError::not_found("No such image: bb")));
        let (s, b) = send(&missing, "GET", "/images/bb/json", "").await;
        assert_eq!(
            (s, b),
            (
                StatusCode::NOT_FOUND,
                json!({"message": "No such image: bb"})
            )
        );
        let in_use = app(Fake::failing(ApiError::conflict("image is in use")));
        let (s, _) = send(&in_use, "DELETE", "/images/bb", "").await;
        assert_eq!(s, StatusCode::CONFLICT);
    }
}
