//! Swarm and plugins: what mini-dockerd answers where dockerd has a cluster
//! manager and a plugin store, routed into [`super::api::router`].
//!
//! mini-dockerd has no swarm mode. A dockerd that is not part of a swarm
//! answers every swarm endpoint (`/swarm…`, `/services…`, `/nodes…`,
//! `/tasks…`, `/secrets…`, `/configs…`) with 503 and the message below, which
//! `docker service ls` or `docker node ls` print as they are. We answer the
//! same, and add one line saying how to run services on mini-runc with a real
//! swarm: register it in dockerd as the *default* runtime, since a swarm
//! service's container spec has no runtime field (`docker service create`
//! has no `--runtime`).
//!
//! `GET /plugins` answers `[]`: no plugins are installed, so `docker plugin
//! ls` prints an empty table.

use super::{ApiError, Engine};
use axum::routing::{any, get};
use axum::{Json, Router};
use std::sync::Arc;

/// dockerd's message on a node outside a swarm (moby's `errNoSwarm`).
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// The second line: how to get services on mini-runc.
pub const SWARM_HINT: &str = "mini-dockerd has no swarm mode: to run services with mini-runc, start a real dockerd with `--add-runtime mini=/path/to/mini-runc --default-runtime mini` (a swarm service cannot choose its runtime), then `docker swarm init` there.";

/// The routes: every swarm path, and `/plugins`.
pub fn routes() -> Router<Arc<Engine>> {
    let mut r = Router::new().route("/plugins", get(|| async { Json(Vec::<()>::new()) }));
    for base in [
        "/swarm",
        "/services",
        "/nodes",
        "/tasks",
        "/secrets",
        "/configs",
    ] {
        r = r
            .route(base, any(not_a_manager))
            .route(&format!("{base}/*rest"), any(not_a_manager));
    }
    r
}

async fn not_a_manager() -> ApiError {
    ApiError::unavailable(format!("{NOT_A_MANAGER}\n{SWARM_HINT}"))
}
