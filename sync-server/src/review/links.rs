//! Links between the review pages: where a sign-in may send the browser
//! back to, query components, and this server's address as the browser
//! reached it.

use axum::http::header::HOST;
use axum::http::HeaderMap;

/// Where a sign-in may send the browser back to: a page of these pages, never elsewhere.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/review/") && !n.contains("//") && !n.contains('\\') => n,
        _ => "/review/batches",
    }
}

/// Percent-encodes a query component.
pub fn form_urlencoded_component(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// This server as the browser reached it (`http://10.0.0.5:8700`): where
/// exported photo links and enrollment QR codes point.
pub fn this_server(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("127.0.0.1");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|p| p.trim() == "https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_point_back_at_this_server() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "10.0.0.5:8700".parse().expect("a header"));
        assert_eq!(this_server(&h), "http://10.0.0.5:8700");
        h.insert("x-forwarded-proto", "https".parse().expect("a header"));
        h.insert(HOST, "review.example\"><".parse().expect("a header"));
        assert_eq!(this_server(&h), "https://127.0.0.1");
    }
}
