//! `pull` and `push` through chapter 06's registry client, with Docker's
//! JSON progress messages.

use super::{ApiError, Engine};
use axum::response::Response;
use std::sync::Arc;

/// `POST /images/create?fromImage=&tag=`.
pub async fn pull(_e: Arc<Engine>, image: String, tag: String) -> Result<Response, ApiError> {
    let r = if tag.is_empty() {
        image
    } else {
        format!("{image}:{tag}")
    };
    Err(ApiError::not_found(format!("pull access denied for {r}: pulling is not implemented in this mini-docker yet (import or load the image)")))
}

/// `POST /images/{name}/push`.
pub async fn push(_e: Arc<Engine>, name: String, _tag: String) -> Result<Response, ApiError> {
    Err(ApiError::internal(format!(
        "push of {name}: pushing is not implemented in this mini-docker yet"
    )))
}
