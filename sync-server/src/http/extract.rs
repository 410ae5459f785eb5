//! Extractors whose rejections are [`ApiError`]s with stable codes, so a
//! malformed request never gets axum's plain-text answer.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use beatbook_schema::protocol::ErrorCode;
use tower_http::timeout::TimeoutError;

use crate::error::ApiError;

/// JSON body.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query string.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::malformed("the body must be JSON (Content-Type: application/json)")
                    .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            JsonRejection::BytesRejection(b) if body_stalled(&b) => ApiError::new(
                // Retryable: the same request may well get through next time.
                ErrorCode::Internal,
                "请求内容中途停止传输，请检查网络后重新发送",
                "the request body stopped arriving: check the connection and send it again",
            )
            .with_status(StatusCode::REQUEST_TIMEOUT),
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "请求内容过大，请分批同步",
                    "the request body is too large: sync in smaller batches",
                )
            }
            JsonRejection::JsonDataError(e) => ApiError::malformed(e.body_text()),
            other => ApiError::malformed(other.body_text()),
        }
    }
}

/// Whether reading the body failed because it stopped arriving for the
/// body idle timeout (see [`crate::net`]).
fn body_stalled(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::malformed(r.body_text())
    }
}
