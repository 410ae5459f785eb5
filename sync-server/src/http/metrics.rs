//! Prometheus metrics: requests by route and status, sync batches, changes by
//! outcome, conflicts, and bytes in and out.

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder (installed once, shared by every server in the process).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours stays empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub(super) async fn render() -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
        .into_response()
}

fn length(headers: &axum::http::HeaderMap) -> u64 {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub(super) async fn track(req: Request, next: Next) -> Response {
    metrics_handle();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let bytes_in = length(req.headers());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("beatbook_http_requests_total", "route" => route, "status" => status)
        .increment(1);
    metrics::counter!("beatbook_bytes_total", "direction" => "in").increment(bytes_in);
    metrics::counter!("beatbook_bytes_total", "direction" => "out")
        .increment(length(response.headers()));
    response
}
