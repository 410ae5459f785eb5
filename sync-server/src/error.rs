//! The one error type of the HTTP layer: a status, a stable code from the
//! schema crate, and a bilingual message. Internals never leak: a storage
//! failure is logged and answered with a generic 500 body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use beatbook_schema::form::FieldError;
use beatbook_schema::protocol::{ErrorBody, ErrorCode};
use beatbook_schema::text::Text;

use beatbook_store::StoreError;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with a code, its usual status, and a message.
    pub fn new(code: ErrorCode, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            status: status_of(code),
            body: ErrorBody {
                code,
                message: Text::new(zh, en),
                errors: Vec::new(),
            },
        }
    }

    /// Adds field errors.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.body.errors = errors;
        self
    }

    /// Overrides the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// 401: no valid credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "未登录或登录已失效，请重新绑定设备",
            "not signed in, or the sign-in expired: enroll the device again",
        )
    }

    /// 403: the role may not do this.
    pub fn forbidden() -> Self {
        Self::new(
            ErrorCode::Forbidden,
            "您的角色无权执行此操作",
            "your role may not do this",
        )
    }

    /// 400: the request is malformed; `what` says how.
    pub fn malformed(what: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::MalformedRequest,
            format!("请求格式错误：{what}"),
            format!("malformed request: {what}"),
        )
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("未找到：{what}"),
            format!("not found: {what}"),
        )
    }
}

/// The usual HTTP status of an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unauthorized | ErrorCode::DeviceRevoked | ErrorCode::EnrollmentCodeUnknown => {
            StatusCode::UNAUTHORIZED
        }
        ErrorCode::EnrollmentCodeUsed | ErrorCode::EnrollmentCodeExpired => StatusCode::GONE,
        ErrorCode::Forbidden | ErrorCode::OutOfScope => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::UnknownForm
        | ErrorCode::FormRetired
        | ErrorCode::ValidationFailed
        | ErrorCode::HashMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::RangeMismatch | ErrorCode::Conflict | ErrorCode::MissingBlob => {
            StatusCode::CONFLICT
        }
        ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
    }
}

/// Logs a storage failure that ends a request. Corrupt stored data is not a
/// passing failure: it is logged as such, with what to do, and counted
/// (`beatbook_storage_corrupt_total`), so an operator's alert can fire on it.
pub fn log_storage_failure(e: &StoreError) {
    match e {
        StoreError::Corrupt(what) => {
            metrics::counter!("beatbook_storage_corrupt_total").increment(1);
            tracing::error!(
                corrupt = %what,
                "STORED DATA IS CORRUPT: a value in the database cannot be read back; \
                 back up the database and the blob directory before anything else writes, \
                 then find the row this names"
            );
        }
        other => tracing::error!(error = %other, "storage failure"),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        log_storage_failure(&e);
        Self::new(
            ErrorCode::Internal,
            "服务器暂时无法处理，请稍后重试",
            "the server could not handle this right now: try again later",
        )
        .with_status(StatusCode::SERVICE_UNAVAILABLE)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
