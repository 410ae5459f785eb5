//! Extractors whose rejections are [`ApiError`]s with stable codes, so a
//! malformed request never gets axum's plain-text answer.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap, StatusCode};
use beatbook_schema::protocol::ErrorCode;
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutError;

use crate::error::ApiError;

/// JSON body. Parsed straight with serde_json; only a body that fails is
/// parsed again through axum's extractor, whose answer names the path of
/// what was wrong (tracking that path on every push costs the server a
/// tenth of its time per record).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(missing_json_content_type());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::from(JsonRejection::from(e)))?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Self(value)),
            Err(_) => axum::Json::<T>::from_bytes(&bytes)
                .map(|axum::Json(value)| Self(value))
                .map_err(ApiError::from),
        }
    }
}

/// `application/json` or `application/*+json`, as axum's `Json` accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

fn missing_json_content_type() -> ApiError {
    ApiError::malformed("the body must be JSON (Content-Type: application/json)")
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

/// Query string.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => missing_json_content_type(),
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
