//! `POST /v1/enroll` and `GET /v1/me`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::RETRY_AFTER;
use axum::http::Extensions;
use axum::response::{IntoResponse, Response};
use axum::Json;
use beatbook_schema::protocol::{EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, UserInfo};
use chrono::Utc;

use crate::auth::{hash_token, new_token, verify_password, Caller};
use crate::error::ApiError;
use crate::http::ApiJson;
use crate::state::AppState;

/// A valid Argon2id hash of a random password, verified when the badge is
/// unknown so that timing does not tell which badges exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5tJrb8AqbpZ6rmh0r3h9B0S9+Ymo8CF0Yb0Zl+2Gd9c";

/// Turns for Argon2id verifications: one per core.
fn argon2_turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

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
        (status = 400, description = "`malformed_request`: not JSON of the expected shape, or an empty badge or password.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: wrong badge or password, or the account is disabled; `device_revoked`: this device was revoked and cannot enroll again.", body = ErrorBody),
        (status = 409, description = "`conflict`: the device is enrolled to another officer.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit.", body = ErrorBody),
        (status = 415, description = "`malformed_request`: the body is not sent as `application/json`.", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many failed sign-ins for this badge from this address.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the badge may try again."))),
        (status = 503, description = "`internal`: the server cannot handle this right now; retry later.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(device = %req.device_id))]
pub(super) async fn enroll(
    State(state): State<AppState>,
    extensions: Extensions,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Response, ApiError> {
    let badge = req.badge.trim().to_owned();
    if badge.is_empty() || req.password.is_empty() {
        return Err(ApiError::malformed("badge and password are required"));
    }
    // Failures count per badge and client address, so a stranger guessing
    // cannot lock an officer out everywhere.
    let key = format!(
        "{badge}@{}",
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |p| p.0.ip().to_string())
    );
    if let Some(wait) = state.throttle.locked_for(&key) {
        let secs = wait.as_secs().max(1);
        let err = ApiError::new(
            ErrorCode::TooManyRequests,
            format!("密码错误次数过多，请 {} 分钟后再试", secs.div_ceil(60)),
            format!(
                "too many failed sign-ins: try again in {} minutes",
                secs.div_ceil(60)
            ),
        );
        return Ok(([(RETRY_AFTER, secs.to_string())], err).into_response());
    }
    let account = state.store.user_by_badge(&badge).await?;
    let hash = account
        .as_ref()
        .map_or(DUMMY_HASH.to_owned(), |a| a.password_hash.clone());
    let password = req.password.clone();
    // Argon2id takes 19 MiB per verification: as many at once as there are
    // cores, so a crowd of phones enrolling together neither oversubscribes
    // the CPU nor leaves the allocator holding a block per waiting request.
    let turn = argon2_turns().acquire().await;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    drop(turn);
    let account = match account {
        Some(a) if ok => a,
        _ => {
            state.throttle.fail(&key);
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "警号或密码错误",
                "wrong badge number or password",
            ));
        }
    };
    if account.disabled {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "账号已停用，请联系管理员",
            "the account is disabled: ask an administrator",
        ));
    }
    if state.store.device_revoked(req.device_id).await? {
        return Err(ApiError::new(
            ErrorCode::DeviceRevoked,
            "此设备已被注销，不能再绑定；请联系管理员",
            "this device was revoked and cannot enroll again: ask an administrator",
        ));
    }
    let token = new_token();
    let name: String = req.device_name.trim().chars().take(100).collect();
    let bound = state
        .store
        .enroll(
            req.device_id,
            account.info.id,
            &name,
            hash_token(&token),
            Utc::now(),
        )
        .await?;
    if !bound {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "此设备已绑定其他警员；请清除应用数据后重新绑定，或请管理员处理",
            "this device is enrolled to another officer: reset the app's data to enroll it anew, or ask an administrator",
        ));
    }
    state.throttle.succeed(&key);
    tracing::info!("device enrolled");
    Ok(Json(EnrollResponse {
        token,
        user: account.info,
    })
    .into_response())
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
