//! The v1 sync API. Handlers parse, authorize, call the domain and map the
//! result; they hold no rules of their own.

mod blobs;
mod enroll;
mod openapi;
mod sync;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;

use crate::auth::signin::MAX_BODY_BYTES;
use crate::state::AppState;

pub(crate) use blobs::refuse_encoded_upload;

/// The /v1 routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        // Counted after decompression (this limit overrides the router's).
        .route(
            "/enroll",
            post(enroll::enroll).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route(
            "/enroll/code",
            post(enroll::enroll_with_code).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/me", get(enroll::me))
        .route("/push", post(sync::push))
        .route("/pull", get(sync::pull))
        .route("/blobs/missing", post(blobs::missing))
        .route("/blobs/{sha256}", put(blobs::upload).get(blobs::download))
        .route("/openapi.json", get(openapi::document))
}
