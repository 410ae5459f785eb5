//! `GET /v1/openapi.json`: the API description (OpenAPI 3.1), generated from
//! the handlers' `#[utoipa::path]` annotations and the schema crate's wire
//! types, so it cannot drift from what the handlers take and answer.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use beatbook_schema::protocol::ErrorBody;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{blobs, enroll, sync};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Beatbook sync API",
        version = "1",
        description = "Offline-first field data collection: devices enroll, push batches of changes, pull what \
            changed in their scope, and upload attachments resumably. Every error is an `ErrorBody` with a \
            stable `code`. Request and response bodies may be gzip- or zstd-compressed (`Content-Encoding`)."
    ),
    paths(
        enroll::enroll,
        enroll::me,
        sync::push,
        sync::pull,
        blobs::missing,
        blobs::upload,
        blobs::download,
        document,
        healthz,
        metrics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "devices", description = "Enrollment and the signed-in user."),
        (name = "sync", description = "Pushing changes and pulling what changed."),
        (name = "blobs", description = "Attachments, addressed by their SHA-256."),
        (name = "operations", description = "The API description, health and metrics."),
    ),
)]
pub(crate) struct ApiDoc;

/// The `bearer` scheme: the device token answered by `POST /v1/enroll`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description =
            Some("The device token answered by `POST /v1/enroll` (`Authorization: Bearer bb1_…`).".into());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The document as served.
fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_json().expect("the API document serializes"))
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of this API.", content_type = "application/json", body = Object),
    ),
)]
pub(super) async fn document() -> Response {
    ([(CONTENT_TYPE, "application/json")], json()).into_response()
}

/// The answer of `GET /healthz`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes JSON built in `http::health`
struct Health {
    status: HealthStatus,
}

/// Always `ok`: an unhealthy server answers 503 instead.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum HealthStatus {
    Ok,
}

/// Liveness and storage check (outside /v1; served by `http::health`).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses(
        (status = 200, description = "The server and its storage answer.", body = Health),
        (status = 503, description = "`internal`: the storage does not answer.", body = ErrorBody),
    ),
)]
#[allow(dead_code)] // documentation only: the route is in `http::router`
fn healthz() {}

/// Prometheus metrics (outside /v1; served by `http::metrics`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4.", content_type = "text/plain", body = String),
    ),
)]
#[allow(dead_code)] // documentation only: the route is in `http::router`
fn metrics() {}
