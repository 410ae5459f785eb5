//! Errors of the review pages, answered as small HTML pages in both
//! languages (the JSON error bodies of `/v1` are for devices). Internals
//! never leak: a storage failure is logged and answered with a generic page.

use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use beatbook_schema::text::Text;
use maud::{html, DOCTYPE};

use beatbook_store::StoreError;

use crate::error::log_storage_failure;

use super::links::{form_urlencoded_component, safe_next};

/// An error answered to a browser.
#[derive(Debug)]
pub enum ReviewError {
    /// Not signed in (or the session ended): a page load goes to the
    /// sign-in page and comes back to `next`; anything else gets 401.
    SignIn {
        /// The page to return to, for page loads.
        next: Option<String>,
    },
    /// A page saying what went wrong.
    Page {
        /// HTTP status.
        status: StatusCode,
        /// What went wrong and what to do.
        message: Text,
    },
}

impl ReviewError {
    /// An error page.
    pub fn page(status: StatusCode, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::Page {
            status,
            message: Text::new(zh, en),
        }
    }

    /// 404: also what a reader outside the thing's scope gets, so scope does
    /// not tell what exists.
    pub fn not_found() -> Self {
        Self::page(
            StatusCode::NOT_FOUND,
            "未找到该页面或记录，或不在您的管辖范围内",
            "no such page or record, or it is not in your scope",
        )
    }

    /// 400 with a reason.
    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::page(StatusCode::BAD_REQUEST, zh, en)
    }

    /// 403 with a reason.
    pub fn forbidden(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::page(StatusCode::FORBIDDEN, zh, en)
    }
}

impl From<StoreError> for ReviewError {
    fn from(e: StoreError) -> Self {
        log_storage_failure(&e);
        Self::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "服务器暂时无法处理，请稍后重试",
            "the server could not handle this right now: try again later",
        )
    }
}

impl IntoResponse for ReviewError {
    fn into_response(self) -> Response {
        match self {
            ReviewError::SignIn { next: Some(next) } => {
                let target = format!(
                    "/review/login?next={}",
                    form_urlencoded_component(safe_next(Some(&next)))
                );
                (StatusCode::SEE_OTHER, [(LOCATION, target)]).into_response()
            }
            ReviewError::SignIn { next: None } => error_page(
                StatusCode::UNAUTHORIZED,
                &Text::new(
                    "未登录或登录已过期，请重新登录",
                    "not signed in, or the session expired: sign in again",
                ),
            ),
            ReviewError::Page { status, message } => error_page(status, &message),
        }
    }
}

fn error_page(status: StatusCode, message: &Text) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Beatbook · " (status.as_u16()) }
                link rel="stylesheet" href=(super::layout::css_href());
            }
            body.bare {
                main.card.narrow {
                    h1 { (status.as_u16()) " · " (message.zh) }
                    p.muted lang="en" { (message.en) }
                    p { a.button href="/review/batches" { "返回审核首页 · Back to review" } }
                }
            }
        }
    };
    (status, [(CACHE_CONTROL, "no-store")], markup).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_never_sends_the_browser_elsewhere() {
        assert_eq!(
            safe_next(Some("/review/batches?grid=G1")),
            "/review/batches?grid=G1"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/review/",
            "/review//evil",
            "/v1/pull",
            "/review/\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/review/batches", "{bad}");
        }
        assert_eq!(safe_next(None), "/review/batches");
        assert_eq!(
            form_urlencoded_component("/review/b?x=1&y=2"),
            "%2Freview%2Fb%3Fx%3D1%26y%3D2"
        );
    }
}
