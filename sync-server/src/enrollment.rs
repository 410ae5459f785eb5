//! Enrollment codes: a supervisor (or an admin) makes a one-time, expiring
//! code for an officer ([`issue_code`]); the review page shows it as a QR
//! code ([`qr_png`]) with the server's address; the phone reads it and
//! enrolls with it ([`redeem`], behind `POST /v1/enroll/code`) without a
//! typed address or password.
//!
//! A code is 128 random bits, shown once and stored only as a hash. It binds
//! one device, once, until it expires ([`crate::Config::enrollment_code_ttl_secs`]);
//! redeeming is one transaction in the store, so of two phones racing with
//! one code exactly one is enrolled. Redeem attempts are counted like failed
//! sign-ins (the code in place of the badge), and both making and using a
//! code go into the audit log.

use std::net::IpAddr;
use std::time::Duration;

use beatbook_schema::enrollment::{normalize_code, EnrollmentQr};
use beatbook_schema::protocol::{CodeEnrollRequest, Role, UserInfo};
use chrono::{DateTime, TimeDelta, Utc};
use image::{GrayImage, ImageFormat, Luma};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::signin::{count_failure, device_name_fits, take_back, NotCounted};
use crate::auth::{hash_token, new_token};
use crate::state::AppState;
use beatbook_store::{CodeEnrollment, CodeRedemption, NewAudit, NewEnrollmentCode, StoreError};

/// A code just made: shown this once.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// The code (32 hexadecimal digits).
    pub code: String,
    /// Whom a device enrolled with it belongs to.
    pub user: UserInfo,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl IssuedCode {
    /// What the QR code says: the code, and where to enroll with it.
    pub fn qr(&self, server: &str) -> EnrollmentQr {
        EnrollmentQr {
            server: server.to_owned(),
            code: self.code.clone(),
        }
    }
}

/// Why no code was made.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No account has this badge.
    #[error("no account has this badge number")]
    NoSuchUser,
    /// The account is not the maker's to enroll: a supervisor makes codes
    /// for the officers and auxiliaries of their own station only.
    #[error("the account is not one of yours to enroll")]
    NotYours,
    /// The account is disabled.
    #[error("the account is disabled")]
    Disabled,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whom `by` may make enrollment codes for: admins anyone; supervisors the
/// officers and auxiliaries of their station; nobody else anyone.
pub fn may_enroll(by: &UserInfo, user: &UserInfo) -> bool {
    match by.role {
        Role::Admin => true,
        Role::Supervisor => {
            user.station == by.station && matches!(user.role, Role::Officer | Role::Auxiliary)
        }
        Role::Officer | Role::Auxiliary => false,
    }
}

/// Makes a code for the account `badge`, valid from `now` for the
/// configured time, and writes it to the audit log.
pub async fn issue_code(
    state: &AppState,
    by: &UserInfo,
    badge: &str,
    now: DateTime<Utc>,
) -> Result<IssuedCode, IssueError> {
    let account = state
        .store
        .user_by_badge(badge.trim())
        .await?
        .ok_or(IssueError::NoSuchUser)?;
    if !may_enroll(by, &account.info) {
        return Err(IssueError::NotYours);
    }
    if account.disabled {
        return Err(IssueError::Disabled);
    }
    let ttl = TimeDelta::seconds(
        i64::try_from(state.config.enrollment_code_ttl_secs.max(1)).unwrap_or(i64::MAX / 1000),
    );
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let code = hex::encode(bytes);
    let expires_at = now + ttl;
    state
        .store
        .create_enrollment_code(NewEnrollmentCode {
            code_hash: hash_code(&code),
            user: account.info.id,
            created_by: by.id,
            created_at: now,
            expires_at,
        })
        .await?;
    state
        .store
        .append_audit(NewAudit::by(
            by,
            "enroll_code",
            format!("user:{}", account.info.badge),
            json!({ "expires_at": expires_at.to_rfc3339() }),
        ))
        .await?;
    tracing::info!("enrollment code made");
    Ok(IssuedCode {
        code,
        user: account.info,
        expires_at,
    })
}

/// The stored form of a code (normalized).
pub fn hash_code(code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"beatbook enrollment code\0");
    h.update(code.as_bytes());
    h.finalize().into()
}

/// Why a device could not enroll with a code.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// The code is not 32 hexadecimal digits.
    #[error("the code is not an enrollment code")]
    Malformed,
    /// The device name is longer than allowed.
    #[error("the device name is too long")]
    NameTooLong,
    /// Too many failed attempts: wait this long.
    #[error("too many failed attempts")]
    Throttled(Duration),
    /// No such code.
    #[error("unknown enrollment code")]
    Unknown,
    /// The code enrolled a device already.
    #[error("the enrollment code was used")]
    Used,
    /// The code expired.
    #[error("the enrollment code expired")]
    Expired,
    /// The code's account is disabled.
    #[error("the account is disabled")]
    Disabled,
    /// The device was revoked.
    #[error("the device was revoked")]
    DeviceRevoked,
    /// The device is bound to another account.
    #[error("the device is enrolled to another account")]
    DeviceTaken,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A device enrolled with a code: its token (shown this once) and its user.
#[derive(Debug, Clone)]
pub struct Redeemed {
    /// The device's bearer token.
    pub token: String,
    /// Its user.
    pub user: UserInfo,
}

/// Enrolls a device with a code (the one workflow behind `POST /v1/enroll/code`).
pub async fn redeem(
    state: &AppState,
    req: &CodeEnrollRequest,
    client: IpAddr,
) -> Result<Redeemed, RedeemError> {
    let code = normalize_code(&req.code).ok_or(RedeemError::Malformed)?;
    if !device_name_fits(&req.device_name) {
        return Err(RedeemError::NameTooLong);
    }
    let counted = count_failure(state, &code, client)
        .await
        .map_err(|e| match e {
            NotCounted::Throttled(wait) => RedeemError::Throttled(wait),
            NotCounted::Store(e) => RedeemError::Store(e),
        })?;
    if state.store.device_revoked(req.device_id).await? {
        return Err(RedeemError::DeviceRevoked);
    }
    let token = new_token();
    let answer = state
        .store
        .enroll_with_code(CodeRedemption {
            code_hash: hash_code(&code),
            device: req.device_id,
            device_name: req.device_name.trim().to_owned(),
            token_hash: hash_token(&token),
            now: Utc::now(),
        })
        .await?;
    let account = match answer {
        CodeEnrollment::Enrolled(account) => account,
        CodeEnrollment::Unknown => return Err(RedeemError::Unknown),
        CodeEnrollment::Used => return Err(RedeemError::Used),
        CodeEnrollment::Expired => return Err(RedeemError::Expired),
        CodeEnrollment::Disabled => return Err(RedeemError::Disabled),
        CodeEnrollment::DeviceTaken => return Err(RedeemError::DeviceTaken),
    };
    take_back(state, counted).await?;
    state
        .store
        .append_audit(NewAudit::by(
            &account.info,
            "enroll_code_used",
            format!("user:{}", account.info.badge),
            json!({ "device": req.device_id.to_string() }),
        ))
        .await?;
    tracing::info!(device = %req.device_id, "device enrolled with a code");
    Ok(Redeemed {
        token,
        user: account.info,
    })
}

/// Pixels per QR module, and modules of quiet zone around the code.
const MODULE_PX: u32 = 8;
const QUIET_MODULES: u32 = 4;

/// Why a QR image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QrImageError {
    /// The text does not fit in a QR code.
    #[error("the text does not fit in a QR code: {0}")]
    TooLong(#[from] qrcode::types::QrError),
    /// Encoding the PNG failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] image::ImageError),
}

/// A QR code of `text` as a PNG image (black on white, with its quiet zone):
/// what the review page shows.
pub fn qr_png(text: &str) -> Result<Vec<u8>, QrImageError> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    let modules = u32::try_from(code.width()).unwrap_or(u32::MAX / 64);
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_MODULES) * MODULE_PX;
    let img = GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / MODULE_PX, y / MODULE_PX);
        let dark = mx >= QUIET_MODULES
            && my >= QUIET_MODULES
            && mx < QUIET_MODULES + modules
            && my < QUIET_MODULES + modules
            && colors[((my - QUIET_MODULES) * modules + (mx - QUIET_MODULES)) as usize]
                == qrcode::Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, ImageFormat::Png)?;
    Ok(png.into_inner())
}
