//! Prometheus metrics: requests by route and status, how long the server took
//! to answer them by route (a summary: p50 … p99.9 over the last minute),
//! sync batches, changes by outcome, conflicts, bytes in and out, and
//! connections.
//!
//! `/metrics` answers only a direct loopback connection (a scraper on the same
//! machine), unless `metrics_token` is set: then it answers anyone who sends
//! `Authorization: Bearer <metrics_token>`, and no one else. A connection from
//! a trusted proxy is not direct: it may carry anyone's request.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{Extensions, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use beatbook_schema::protocol::ErrorCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::config::Config;
use crate::error::ApiError;
use crate::review::signin::same_secret;
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
    match access(&state.config, peer, &headers) {
        Access::Granted => (
            [(CONTENT_TYPE, "text/plain; version=0.0.4")],
            metrics_handle().render(),
        )
            .into_response(),
        Access::NeedsToken => {
            let mut refused = ApiError::new(
                ErrorCode::Unauthorized,
                "读取指标需要令牌：请发送 Authorization: Bearer <metrics_token>",
                "the metrics need the token: send Authorization: Bearer <metrics_token>",
            )
            .into_response();
            refused
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            refused
        }
        Access::Hidden => ApiError::not_found("no such endpoint").into_response(),
    }
}

/// Who may read the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// This request.
    Granted,
    /// Whoever sends the configured token (401).
    NeedsToken,
    /// Only direct loopback connections: answered like any unknown path (404).
    Hidden,
}

fn access(config: &Config, peer: Option<SocketAddr>, headers: &HeaderMap) -> Access {
    if let Some(token) = &config.metrics_token {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        return match given {
            Some(given) if !token.is_empty() && same_secret(given, token) => Access::Granted,
            _ => Access::NeedsToken,
        };
    }
    let direct_loopback =
        peer.is_some_and(|p| p.ip().is_loopback() && !config.trusted_proxies.contains(&p.ip()));
    if direct_loopback {
        Access::Granted
    } else {
        Access::Hidden
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
    let started = Instant::now();
    let response = next.run(req).await;
    // From the request's head to its answer's: reading the body and the
    // work behind it (a push: until its commit), not sending the answer.
    metrics::histogram!("beatbook_http_request_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
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
    use super::*;

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().expect("an address"), 40_000))
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            format!("Bearer {token}").parse().expect("a header"),
        );
        h
    }

    #[test]
    fn without_a_token_only_direct_loopback_reads() {
        let config = Config::default();
        let none = HeaderMap::new();
        assert_eq!(access(&config, peer("127.0.0.1"), &none), Access::Granted);
        assert_eq!(access(&config, peer("::1"), &none), Access::Granted);
        assert_eq!(access(&config, peer("10.0.0.7"), &none), Access::Hidden);
        assert_eq!(access(&config, None, &none), Access::Hidden);
        let proxied = Config {
            trusted_proxies: vec!["127.0.0.1".parse().expect("an address")],
            ..Config::default()
        };
        assert_eq!(access(&proxied, peer("127.0.0.1"), &none), Access::Hidden);
    }

    #[test]
    fn with_a_token_only_its_bearer_reads() {
        let config = Config {
            metrics_token: Some("s3cret-token".into()),
            ..Config::default()
        };
        let from = peer("10.0.0.7");
        assert_eq!(
            access(&config, from, &bearer("s3cret-token")),
            Access::Granted
        );
        for wrong in [bearer("s3cret-tokem"), bearer(""), HeaderMap::new()] {
            assert_eq!(access(&config, from, &wrong), Access::NeedsToken);
        }
        // Loopback needs it too.
        assert_eq!(
            access(&config, peer("127.0.0.1"), &HeaderMap::new()),
            Access::NeedsToken
        );
        let empty = Config {
            metrics_token: Some(String::new()),
            ..Config::default()
        };
        assert_eq!(access(&empty, from, &bearer("")), Access::NeedsToken);
    }
}
