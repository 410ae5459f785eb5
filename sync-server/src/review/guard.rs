//! What every request to the review pages passes, whatever its handler:
//!
//! - device tokens are refused (the pages are for a browser session, and an
//!   officer's phone must not reach them);
//! - every POST must come from these pages: not cross-site by the browser's
//!   word (`Sec-Fetch-Site`, `Origin`), a form body (multipart only for the
//!   admins' workbook upload), and the right CSRF token (the session's; on
//!   the sign-in form, the sign-in cookie's);
//! - every answer carries a strict Content-Security-Policy (no scripts at
//!   all; the map page alone sets one allowing its own), `nosniff`, no framing, and is not cached unless its handler says so;
//! - `?lang=` is remembered in a cookie.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequest, Multipart, OriginalUri, Request};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, ORIGIN,
    REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use beatbook_schema::text::Lang;
use serde::Deserialize;

use super::admin::{PUBLISH_PATH, UPLOAD_PATH};
use super::error::ReviewError;
use super::i18n::{cookie, lang_in_query, LANG_COOKIE};
use super::reviewer::{csrf_token, same_secret};
use super::signin::{LOGIN_COOKIE, SESSION_COOKIE};
use crate::auth::signin::MAX_BODY_BYTES as MAX_SIGNIN_BODY_BYTES;

/// Largest form body (the sign-in form's is smaller).
const MAX_FORM_BYTES: usize = 256 * 1024;
/// Largest upload (an XLSForm workbook).
const MAX_UPLOAD_BYTES: usize = 1536 * 1024;
/// Largest publish form: the uploaded workbook again, in base64.
const MAX_PUBLISH_BYTES: usize = MAX_UPLOAD_BYTES / 3 * 4 + 64 * 1024;

// `data:` images: the enrollment QR code is drawn into its page (its code
// is shown once, so it has no address of its own).
const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The middleware.
pub async fn guard(req: Request, next: Next) -> Response {
    let mut res = match check(req).await {
        Ok(req) => {
            let remember = lang_in_query(req.uri().query());
            let mut res = next.run(req).await;
            if let Some(lang) = remember {
                let value = match lang {
                    Lang::Zh => "zh",
                    Lang::En => "en",
                };
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "{LANG_COOKIE}={value}; Path=/review; Max-Age=31536000; SameSite=Lax"
                )) {
                    res.headers_mut().append(SET_COOKIE, v);
                }
            }
            res
        }
        Err(e) => e.into_response(),
    };
    let h = res.headers_mut();
    // A page that needs more (the map's scripts) says so itself.
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: browsers then send `Origin: null` with form posts.
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

async fn check(req: Request) -> Result<Request, ReviewError> {
    if req.headers().contains_key(AUTHORIZATION) {
        return Err(ReviewError::page(
            StatusCode::UNAUTHORIZED,
            "审核页面不接受设备令牌，请用浏览器以所领导账号登录",
            "device tokens are not accepted here: sign in with a supervisor's account in a browser",
        ));
    }
    if req.method() != Method::POST {
        return Ok(req);
    }
    if !same_origin(req.headers()) {
        return Err(ReviewError::forbidden(
            "请求来自其他网站，已拒绝",
            "the request came from another site and was refused",
        ));
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let is_upload =
        content_type.starts_with("multipart/form-data") && full_path(&req) == UPLOAD_PATH;
    let is_publish = full_path(&req) == PUBLISH_PATH;
    if !is_form && !is_upload {
        return Err(ReviewError::page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "请通过页面上的表单提交",
            "submit through the page's forms",
        ));
    }
    let (parts, body) = req.into_parts();
    let limit = if parts.uri.path().ends_with("/login") {
        MAX_SIGNIN_BODY_BYTES
    } else if is_upload {
        MAX_UPLOAD_BYTES
    } else if is_publish {
        MAX_PUBLISH_BYTES
    } else {
        MAX_FORM_BYTES
    };
    // Counted after decompression: a compressed bomb stops at the limit.
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        ReviewError::page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "提交内容过大",
            "the form is too large",
        )
    })?;
    let sent = if is_upload {
        csrf_of_upload(&parts, bytes.clone()).await
    } else {
        serde_urlencoded::from_bytes::<CsrfField>(&bytes)
            .ok()
            .and_then(|f| f.csrf)
    }
    .unwrap_or_default();
    let expected = if parts.uri.path().ends_with("/login") {
        cookie(&parts.headers, LOGIN_COOKIE).map(str::to_owned)
    } else {
        cookie(&parts.headers, SESSION_COOKIE).map(csrf_token)
    };
    match expected {
        Some(expected) if !expected.is_empty() && same_secret(&sent, &expected) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        None if !parts.uri.path().ends_with("/login") => Err(ReviewError::SignIn { next: None }),
        _ => Err(ReviewError::forbidden(
            "表单已过期或来源不明，请刷新页面后重试",
            "the form expired or did not come from this page: reload and try again",
        )),
    }
}

/// The request's path as the browser sent it (inside `/review`'s router the
/// URI has lost its prefix).
fn full_path(req: &Request) -> &str {
    req.extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path(), |u| u.0.path())
}

/// The `csrf` field of a multipart upload (the pages put it before the file).
async fn csrf_of_upload(parts: &Parts, bytes: Bytes) -> Option<String> {
    let req = Request::from_parts(parts.clone(), Body::from(bytes));
    let mut multipart = Multipart::from_request(req, &()).await.ok()?;
    while let Some(field) = multipart.next_field().await.ok()? {
        if field.name() == Some("csrf") {
            return field.text().await.ok();
        }
    }
    None
}

/// Whether the browser says the request comes from these pages. Clients
/// that say nothing (not browsers) pass: they still need the CSRF token.
fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = header("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match (header(ORIGIN.as_str()), header(HOST.as_str())) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8700"),
            ("origin", "http://127.0.0.1:8700")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8700"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8700"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
    }
}
