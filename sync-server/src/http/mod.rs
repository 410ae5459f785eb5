//! The HTTP surface: versioned handlers under `/v1`, health and metrics, and
//! the layers every request passes (compression both ways, body limits,
//! panic-to-500, tracing, metrics).

mod extract;
mod https;
mod metrics;
pub mod v1;
pub mod web;

pub use extract::{ApiJson, ApiQuery};
pub use metrics::metrics_handle;

use std::any::Any;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use beatbook_schema::protocol::ErrorCode;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let https = state.config.https();
    let web = web::routes(state.config.web_dir.as_deref());
    let router = Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics::render))
        .nest("/v1", v1::routes())
        .merge(crate::review::router())
        .merge(web)
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::malformed("method not allowed on this endpoint").with_status(StatusCode::METHOD_NOT_ALLOWED)
        })
        .with_state(state)
        // Innermost first: the body limit counts decompressed bytes.
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestDecompressionLayer::new())
        // Outside the decompression layer: attachment bytes are refused
        // compressed, before anything inflates them.
        .layer(middleware::from_fn(v1::refuse_encoded_upload))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(metrics::track))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            // Paths and methods only: no query strings, no bodies, no personal data.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), device = tracing::field::Empty)
        }));
    if https {
        router.layer(middleware::from_fn(https::secure_responses))
    } else {
        router
    }
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store.grids().await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        ErrorCode::Internal,
        "服务器内部错误，请稍后重试",
        "internal server error: try again later",
    )
    .into_response()
}
