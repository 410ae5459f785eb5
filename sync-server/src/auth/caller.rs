//! The authenticated caller of a /v1 endpoint.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use beatbook_schema::ids::DeviceId;
use beatbook_schema::protocol::{ErrorCode, UserInfo};
use chrono::{Duration, Utc};

use super::token::hash_token;
use crate::error::ApiError;
use crate::state::AppState;

/// A device with a valid bearer token, and its user.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The device.
    pub device: DeviceId,
    /// Its user.
    pub user: UserInfo,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let owner = state
            .store
            .token_owner(hash_token(token))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        if owner.revoked {
            return Err(ApiError::new(
                ErrorCode::DeviceRevoked,
                "此设备已被注销，本地数据将被清除",
                "this device was revoked: its local data will be wiped",
            ));
        }
        if owner.disabled {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "账号已停用，请联系管理员",
                "the account is disabled: ask an administrator",
            ));
        }
        let ttl = Duration::days(i64::from(state.config.token_ttl_days));
        if owner.issued_at + ttl < Utc::now() {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "登录已过期，请用警号和密码重新绑定设备",
                "the device token expired: enroll again with badge and password",
            ));
        }
        tracing::Span::current().record("device", tracing::field::display(owner.device));
        Ok(Caller {
            device: owner.device,
            user: owner.user,
        })
    }
}
