//! Responses of a server reached over HTTPS (its own TLS, or trusted TLS
//! proxies in front: [`crate::Config::https`]): HSTS on every response, so a
//! browser never falls back to plain HTTP, and the `Secure` flag on every
//! cookie, so a session cookie never travels in clear.

use axum::extract::Request;
use axum::http::header::{SET_COOKIE, STRICT_TRANSPORT_SECURITY};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// One year, the usual HSTS lifetime.
const HSTS: &str = "max-age=31536000";

pub(super) async fn secure_responses(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if !cookies.is_empty() {
        headers.remove(SET_COOKIE);
        for cookie in cookies {
            headers.append(SET_COOKIE, secure(cookie));
        }
    }
    response
}

/// `cookie` with the `Secure` attribute.
fn secure(cookie: HeaderValue) -> HeaderValue {
    let already = cookie.to_str().is_ok_and(|c| {
        c.split(';')
            .skip(1)
            .any(|attr| attr.trim().eq_ignore_ascii_case("secure"))
    });
    if already {
        return cookie;
    }
    let mut bytes = cookie.as_bytes().to_vec();
    bytes.extend_from_slice(b"; Secure");
    HeaderValue::from_bytes(&bytes).unwrap_or(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_gain_secure_once() {
        let c = secure(HeaderValue::from_static("a=b; Path=/review; HttpOnly"));
        assert_eq!(c, "a=b; Path=/review; HttpOnly; Secure");
        let c = secure(HeaderValue::from_static("a=b; HttpOnly; Secure"));
        assert_eq!(c, "a=b; HttpOnly; Secure");
        // A cookie whose value merely contains the word is not taken as Secure.
        let c = secure(HeaderValue::from_static("secure=1"));
        assert_eq!(c, "secure=1; Secure");
    }
}
