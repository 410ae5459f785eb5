//! Links between the review pages: where a sign-in may send the browser
//! back to, and query components.

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
