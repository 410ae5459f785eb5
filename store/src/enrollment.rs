//! Enrollment codes: one-time, expiring codes a supervisor makes for an
//! officer, with which a device enrolls without badge and password. Only a
//! hash of a code is stored.

use beatbook_schema::ids::{DeviceId, UserId};
use chrono::{DateTime, Utc};

use crate::Account;

/// A new enrollment code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrollmentCode {
    /// A hash of the code (never the code itself).
    pub code_hash: [u8; 32],
    /// The account a device enrolled with the code belongs to.
    pub user: UserId,
    /// The supervisor or admin who made it.
    pub created_by: UserId,
    /// When it was made (server time).
    pub created_at: DateTime<Utc>,
    /// From this time on it enrolls nothing.
    pub expires_at: DateTime<Utc>,
}

/// A device enrolling with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRedemption {
    /// A hash of the code given.
    pub code_hash: [u8; 32],
    /// The device.
    pub device: DeviceId,
    /// The device's name.
    pub device_name: String,
    /// A hash of the device's new token.
    pub token_hash: [u8; 32],
    /// Server time.
    pub now: DateTime<Utc>,
}

/// What came of a [`CodeRedemption`]. Every answer but `Enrolled` changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeEnrollment {
    /// The device is bound to the code's account with the new token; the
    /// code is used up.
    Enrolled(Account),
    /// No code has this hash (or it was forgotten long after it expired).
    Unknown,
    /// The code enrolled a device already.
    Used,
    /// The code expired (at or before `now`).
    Expired,
    /// The code's account is disabled.
    Disabled,
    /// The device is bound to another account, or revoked (as in
    /// [`crate::Store::enroll`]).
    DeviceTaken,
}

/// How long a code is remembered after it expired, so a late attempt is
/// told "expired" rather than "unknown"; older codes are forgotten when new
/// ones are made, which keeps the table small.
pub const EXPIRED_CODES_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(7);
