//! The supervisors' review pages (审核), served under `/review`: signing in,
//! the synced batches and their records with labelled values, decisions
//! (approve; return with a reason) that devices pull as new record versions,
//! the hazard board with verification, tasks assigned to officers and
//! their progress board, the station map, duplicate people with their
//! resolutions, exports (CSV, XLSX, GeoJSON), the audit log, enrollment
//! codes for officers' phones (QR codes), and the administrators' pages
//! (accounts, grids, devices, forms).
//!
//! Server-rendered HTML ([maud] templates, checked at compile time and
//! escaped by default) with one stylesheet and no JavaScript but the map's
//! (its page alone allows its own scripts). Chinese first;
//! `?lang=en` switches to English. Handlers are thin: they read the session
//! ([`reviewer::Reviewer`]), ask the store, judge with [`rules`], render.
//! Every POST passes [`guard`] (CSRF token, same origin); scope is checked on
//! every read and inside every write's transaction.

mod actions;
mod admin;
mod audit;
mod batches;
mod duplicates;
mod enroll;
mod error;
mod exports;
mod guard;
mod hazard_history;
mod hazards;
mod i18n;
mod layout;
mod links;
mod map;
mod photos;
mod records;
pub mod reviewer;
pub mod rules;
pub mod signin;
pub mod task_list;
mod tasks;
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
        .route("/map", get(map::page))
        .route("/map-assets/{file}", get(map::asset))
        .route("/static/beatbook-map.mjs", get(map::drawing))
        .route("/tasks", get(tasks::assign_page).post(tasks::assign))
        .route("/tasks/board", get(tasks::board))
        .route("/tasks/{id}/change", post(tasks::change))
        .route("/hazards/{id}/assign", post(hazards::assign))
        .route("/duplicates", get(duplicates::page))
        .route("/duplicates/resolve", post(duplicates::resolve))
        .route("/exports", get(exports::page))
        .route("/exports/download", get(exports::download))
        .route("/audit", get(audit::page))
        .nest("/admin", admin::routes())
        .route("/enroll", get(enroll::page).post(enroll::make_code))
        .route("/photos/{sha}", get(photos::full))
        .route("/photos/{sha}/thumb", get(photos::thumb))
        .route("/static/review.css", get(layout::css))
        .fallback(|| async { ReviewError::not_found() })
        .layer(middleware::from_fn(guard::guard))
}

async fn index() -> impl IntoResponse {
    (StatusCode::SEE_OTHER, [(LOCATION, "/review/batches")])
}
