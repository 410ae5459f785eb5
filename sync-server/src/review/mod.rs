//! The supervisors' review pages (审核), served under `/review`: signing in,
//! the synced batches and their records with labelled values, decisions
//! (approve; return with a reason) that devices pull as new record versions,
//! the hazard board with verification, duplicate people with their
//! resolutions, exports (CSV, XLSX, GeoJSON) and the
//! audit log.
//!
//! Server-rendered HTML ([maud] templates, checked at compile time and
//! escaped by default) with one stylesheet and no JavaScript. Chinese first;
//! `?lang=en` switches to English. Handlers are thin: they read the session
//! ([`reviewer::Reviewer`]), ask the store, judge with [`rules`], render.
//! Every POST passes [`guard`] (CSRF token, same origin); scope is checked on
//! every read and inside every write's transaction.

mod actions;
mod audit;
mod batches;
mod duplicates;
mod error;
mod exports;
mod guard;
mod hazards;
mod i18n;
mod layout;
mod links;
mod photos;
mod records;
pub mod reviewer;
pub mod rules;
pub mod signin;
mod values;

pub use error::ReviewError;

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::state::AppState;

/// The review pages, mounted at `/review` (and `/review/`, which goes to the batches).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review/", get(index))
        .nest("/review", routes())
}

/// The routes under `/review`.
fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(signin::login_page).post(signin::login))
        .route("/logout", post(signin::logout))
        .route("/batches", get(batches::list))
        .route("/batches/{id}", get(batches::show))
        .route("/batches/{id}/decide", post(batches::review_batch))
        .route("/records/{id}", get(records::show))
        .route("/records/{id}/decide", post(records::review_record))
        .route("/hazards", get(hazards::board))
        .route("/hazards/{id}/verify", post(hazards::verify))
        .route("/duplicates", get(duplicates::page))
        .route("/duplicates/resolve", post(duplicates::resolve))
        .route("/exports", get(exports::page))
        .route("/exports/download", get(exports::download))
        .route("/audit", get(audit::page))
        .route("/photos/{sha}", get(photos::full))
        .route("/photos/{sha}/thumb", get(photos::thumb))
        .route("/static/review.css", get(layout::css))
        .fallback(|| async { ReviewError::not_found() })
        .layer(middleware::from_fn(guard::guard))
}

async fn index() -> impl IntoResponse {
    (StatusCode::SEE_OTHER, [(LOCATION, "/review/batches")])
}
