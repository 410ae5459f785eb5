//! Prometheus metrics: requests by route and status, sync batches, changes by
//! outcome, conflicts, bytes in and out, and connections.
//!
//! `/metrics` answers only a direct loopback connection (a scraper on the same
//! machine), unless `metrics_token` is set: then it answers anyone who sends
//! `Authorization: Bearer <metrics_token>`, and no one else. A connection from
//! a trusted proxy is not direct: it may carry anyone's request.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{Extensions, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use beatbook_schema::protocol::ErrorCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::config::Config;
use crate::error::ApiError;
use crate::review::session::same_secret;
use crate::state::AppState;

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

pub(super) async fn render(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
) -> Response {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    if let Err(refused) = may_read(&state.config, peer, &headers) {
        return refused;
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
        .into_response()
}

/// Whether this request may read the metrics; if not, the answer: 401 when a
/// token is configured, else the 404 of any unknown path.
fn may_read(config: &Config, peer: Option<SocketAddr>, headers: &HeaderMap) -> Result<(), Response> {
    if let Some(token) = &config.metrics_token {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        return match given {
            Some(given) if !token.is_empty() && same_secret(given, token) => Ok(()),
            _ => {
                let mut refused = ApiError::new(
                    ErrorCode::Unauthorized,
                    "读取指标需要令牌：请发送 Authorization: Bearer <metrics_token>",
                    "the metrics need the token: send Authorization: Bearer <metrics_token>",
                )
                .into_response();
                refused
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                Err(refused)
            }
        };
    }
    let direct_loopback = peer.is_some_and(|p| {
        p.ip().is_loopback() && !config.trusted_proxies.contains(&p.ip())
    });
    if direct_loopback {
        Ok(())
    } else {
        Err(ApiError::not_found("no such endpoint").into_response())
    }
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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().expect("an address"), 40_000))
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, format!("Bearer {token}").parse().expect("a header"));
        h
    }

    fn status(r: Result<(), Response>) -> StatusCode {
        r.map_or_else(|res| res.status(), |()| StatusCode::OK)
    }

    #[test]
    fn without_a_token_only_direct_loopback_reads() {
        let config = Config::default();
        let none = HeaderMap::new();
        assert_eq!(status(may_read(&config, peer("127.0.0.1"), &none)), StatusCode::OK);
        assert_eq!(status(may_read(&config, peer("::1"), &none)), StatusCode::OK);
        assert_eq!(status(may_read(&config, peer("10.0.0.7"), &none)), StatusCode::NOT_FOUND);
        assert_eq!(status(may_read(&config, None, &none)), StatusCode::NOT_FOUND);
        let proxied = Config {
            trusted_proxies: vec!["127.0.0.1".parse().expect("an address")],
            ..Config::default()
        };
        assert_eq!(status(may_read(&proxied, peer("127.0.0.1"), &none)), StatusCode::NOT_FOUND);
    }

    #[test]
    fn with_a_token_only_its_bearer_reads() {
        let config = Config {
            metrics_token: Some("s3cret-token".into()),
            ..Config::default()
        };
        let from = peer("10.0.0.7");
        assert_eq!(status(may_read(&config, from, &bearer("s3cret-token"))), StatusCode::OK);
        for wrong in [bearer("s3cret-tokem"), bearer(""), HeaderMap::new()] {
            assert_eq!(status(may_read(&config, from, &wrong)), StatusCode::UNAUTHORIZED);
        }
        // Loopback needs it too.
        assert_eq!(
            status(may_read(&config, peer("127.0.0.1"), &HeaderMap::new())),
            StatusCode::UNAUTHORIZED
        );
        let empty = Config {
            metrics_token: Some(String::new()),
            ..Config::default()
        };
        assert_eq!(status(may_read(&empty, from, &bearer(""))), StatusCode::UNAUTHORIZED);
    }
}
