//! The field app's web build under `/m/`: static files a phone opens once,
//! installs to its home screen (web app manifest) and then runs with no
//! network (service worker). Every response is revalidated (`no-cache`), so
//! a phone online picks up a new build; offline, the service worker answers.

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// Where the web build is served.
pub const PATH: &str = "/m";

/// `/m` and everything under it: the files of `dir`, or, with no web build
/// configured, a 404 that says how to make one.
pub fn routes(dir: Option<&Path>) -> Router<AppState> {
    let files = match dir {
        Some(dir) => Router::new().nest_service(
            PATH,
            ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .not_found_service(get(not_built)),
        ),
        None => Router::new().nest_service(PATH, get(not_built)),
    };
    files
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(middleware::from_fn(to_slash))
}

/// `/m` → `/m/`, so the page's relative addresses resolve under `/m/`.
async fn to_slash(req: Request, next: Next) -> Response {
    if req.uri().path() == PATH {
        return (StatusCode::PERMANENT_REDIRECT, [(LOCATION, "/m/")]).into_response();
    }
    next.run(req).await
}

async fn not_built() -> impl IntoResponse {
    ApiError::not_found(
        "no such file in the field app's web build (is it built? scripts/web-build.sh, then set web_dir)",
    )
}
