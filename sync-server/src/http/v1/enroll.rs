//! `POST /v1/enroll`, `POST /v1/enroll/code` and `GET /v1/me`.

use axum::extract::State;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use axum::Json;
use beatbook_schema::form::FieldError;
use beatbook_schema::problem::ProblemCode;
use beatbook_schema::protocol::{
    CodeEnrollRequest, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, UserInfo,
};
use chrono::Utc;

use crate::auth::signin::Field;
use crate::auth::{hash_token, new_token, sign_in, Attempt, Caller, ClientAddr, SignInError};
use crate::enrollment::{redeem, RedeemError, Redeemed};
use crate::error::ApiError;
use crate::http::ApiJson;
use crate::state::AppState;

/// Binds a device to a user.
///
/// Signs in with badge and password; answers the device's bearer token,
/// shown this once.
#[utoipa::path(
    post,
    path = "/v1/enroll",
    tag = "devices",
    operation_id = "enroll",
    request_body = EnrollRequest,
    responses(
        (status = 200, description = "Enrolled: the device's bearer token and its user.", body = EnrollResponse),
        (status = 400, description = "`malformed_request`: not JSON of the expected shape, an empty badge or password, or a field too long (`badge` over 64 bytes after trimming, `password` over 1024 bytes, `device_name` over 100 characters; `errors` names it).", body = ErrorBody),
        (status = 401, description = "`unauthorized`: wrong badge or password, or the account is disabled; `device_revoked`: this device was revoked and cannot enroll again.", body = ErrorBody),
        (status = 409, description = "`conflict`: the device is enrolled to another officer.", body = ErrorBody),
        (status = 408, description = "`internal`: the request body stopped arriving (longer than `body_idle_timeout_secs` between bytes); send it again.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body exceeds 8 KiB (after decompression).", body = ErrorBody),
        (status = 415, description = "`malformed_request`: the body is not sent as `application/json`.", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many failed sign-ins within the window (`login_window_secs`) for this badge from this address, for this badge from any address, or from this address.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a sign-in may be tried again."))),
        (status = 503, description = "`internal`: the server cannot handle this right now; retry later.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(device = %req.device_id))]
pub(super) async fn enroll(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Response, ApiError> {
    let attempt = Attempt {
        badge: &req.badge,
        password: &req.password,
        device_name: Some(&req.device_name),
        client,
    };
    let account = match sign_in(&state, attempt).await {
        Ok(account) => account,
        Err(e) => return refusal(e),
    };
    if state.store.device_revoked(req.device_id).await? {
        return Err(revoked());
    }
    let token = new_token();
    let bound = state
        .store
        .enroll(
            req.device_id,
            account.info.id,
            req.device_name.trim(),
            hash_token(&token),
            Utc::now(),
        )
        .await?;
    if !bound {
        return Err(taken());
    }
    tracing::info!("device enrolled");
    Ok(Json(EnrollResponse {
        token,
        user: account.info,
    })
    .into_response())
}

/// Binds a device with an enrollment code.
///
/// The code a supervisor made on the review pages (shown there as a QR code)
/// binds the device to the officer it was made for, once, before it expires;
/// answers the device's bearer token, shown this once.
#[utoipa::path(
    post,
    path = "/v1/enroll/code",
    tag = "devices",
    operation_id = "enroll_with_code",
    request_body = CodeEnrollRequest,
    responses(
        (status = 200, description = "Enrolled: the device's bearer token and its user.", body = EnrollResponse),
        (status = 400, description = "`malformed_request`: not JSON of the expected shape, a code that is not 32 hexadecimal digits (spaces and dashes aside), or `device_name` over 100 characters (then `errors` names it).", body = ErrorBody),
        (status = 401, description = "`enrollment_code_unknown`: no such code; `unauthorized`: the account is disabled; `device_revoked`: this device was revoked and cannot enroll again.", body = ErrorBody),
        (status = 409, description = "`conflict`: the device is enrolled to another officer (the code stays unused).", body = ErrorBody),
        (status = 410, description = "`enrollment_code_used`: the code enrolled a device already; `enrollment_code_expired`: the code expired. Either way: ask for a new code.", body = ErrorBody),
        (status = 408, description = "`internal`: the request body stopped arriving (longer than `body_idle_timeout_secs` between bytes); send it again.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body exceeds 8 KiB (after decompression).", body = ErrorBody),
        (status = 415, description = "`malformed_request`: the body is not sent as `application/json`.", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many failed attempts within the window (`login_window_secs`) with this code, or from this address (failed sign-ins count too).", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a code may be tried again."))),
        (status = 503, description = "`internal`: the server cannot handle this right now; retry later.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(device = %req.device_id))]
pub(super) async fn enroll_with_code(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<CodeEnrollRequest>,
) -> Result<Response, ApiError> {
    match redeem(&state, &req, client).await {
        Ok(Redeemed { token, user }) => Ok(Json(EnrollResponse { token, user }).into_response()),
        Err(e) => code_refusal(e),
    }
}

/// The answer to a refused code.
fn code_refusal(e: RedeemError) -> Result<Response, ApiError> {
    Err(match e {
        // Not a code at all is an unknown code (401, as the document says),
        // told apart by its message.
        RedeemError::Malformed => ApiError::new(
            ErrorCode::EnrollmentCodeUnknown,
            "这不是绑定码（应为 32 位十六进制字符），请核对后重试",
            "this is not an enrollment code (32 hexadecimal digits): check it and try again",
        ),
        RedeemError::NameTooLong => return refusal(SignInError::TooLong(Field::DeviceName)),
        RedeemError::Throttled(wait) => return refusal(SignInError::Throttled(wait)),
        RedeemError::Unknown => ApiError::new(
            ErrorCode::EnrollmentCodeUnknown,
            "绑定码无效，请向所领导索取新的绑定码",
            "unknown enrollment code: ask your supervisor for a new one",
        ),
        RedeemError::Used => ApiError::new(
            ErrorCode::EnrollmentCodeUsed,
            "此绑定码已被使用，请向所领导索取新的绑定码",
            "this enrollment code is already used: ask your supervisor for a new one",
        ),
        RedeemError::Expired => ApiError::new(
            ErrorCode::EnrollmentCodeExpired,
            "此绑定码已过期，请向所领导索取新的绑定码",
            "this enrollment code expired: ask your supervisor for a new one",
        ),
        RedeemError::Disabled => return refusal(SignInError::Disabled),
        RedeemError::DeviceRevoked => revoked(),
        RedeemError::DeviceTaken => taken(),
        RedeemError::Store(e) => e.into(),
    })
}

fn revoked() -> ApiError {
    ApiError::new(
        ErrorCode::DeviceRevoked,
        "此设备已被注销，不能再绑定；请联系管理员",
        "this device was revoked and cannot enroll again: ask an administrator",
    )
}

fn taken() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "此设备已绑定其他警员；请清除应用数据后重新绑定，或请管理员处理",
        "this device is enrolled to another officer: reset the app's data to enroll it anew, or ask an administrator",
    )
}

/// The answer to a refused sign-in.
fn refusal(e: SignInError) -> Result<Response, ApiError> {
    Err(match e {
        SignInError::Missing => ApiError::malformed("badge and password are required"),
        SignInError::TooLong(field) => {
            let message = field.too_long();
            ApiError::new(ErrorCode::MalformedRequest, &message.zh, &message.en).with_errors(vec![
                FieldError {
                    path: field.name().to_owned(),
                    code: ProblemCode::TooLong,
                    message,
                },
            ])
        }
        SignInError::Throttled(wait) => {
            let secs = wait.as_secs().max(1);
            let minutes = secs.div_ceil(60);
            let err = ApiError::new(
                ErrorCode::TooManyRequests,
                format!("密码错误次数过多，请 {minutes} 分钟后再试"),
                format!("too many failed sign-ins: try again in {minutes} minutes"),
            );
            return Ok(([(RETRY_AFTER, secs.to_string())], err).into_response());
        }
        SignInError::WrongCredentials => ApiError::new(
            ErrorCode::Unauthorized,
            "警号或密码错误",
            "wrong badge number or password",
        ),
        SignInError::Disabled => ApiError::new(
            ErrorCode::Unauthorized,
            "账号已停用，请联系管理员",
            "the account is disabled: ask an administrator",
        ),
        SignInError::Store(e) => e.into(),
    })
}

/// The signed-in user, as the device needs to know it.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "devices",
    operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user the device's token belongs to.", body = UserInfo),
        (status = 401, description = "`unauthorized`: no, an unknown or an expired token, or the account is disabled; `device_revoked`: wipe local data.", body = ErrorBody),
        (status = 503, description = "`internal`: the server cannot handle this right now; retry later.", body = ErrorBody),
    ),
)]
pub(super) async fn me(caller: Caller) -> Json<UserInfo> {
    Json(caller.user)
}
