//! Signing in with badge and password: the one workflow behind device
//! enrollment (`POST /v1/enroll`) and the review pages' sign-in form, so both
//! doors hold the same way. Each step is cheaper than the next and refuses
//! before it: the fields' sizes, the in-memory throttle's reservation, the
//! same reservation in the store (shared by every server instance; both
//! counted before the password is checked), the account, the Argon2id check
//! in turn, then the throttles' bookkeeping. The routes answer in their own
//! way (JSON or a page).

use std::net::IpAddr;
use std::time::Duration;

use beatbook_schema::text::Text;
use chrono::Utc;

use super::password::password_matches;
use crate::state::AppState;
use crate::throttle::Reservation;
use beatbook_store::{Account, FailureReservation, ReservedFailure, StoreError};

/// Longest badge number, in bytes after trimming.
pub const MAX_BADGE_BYTES: usize = 64;
/// Longest password, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest device name, in characters after trimming.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;
/// Largest sign-in request body after decompression, in bytes: every field at
/// its limit fits with room to spare; a compressed bomb is cut off here.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// A sign-in attempt, as received.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The badge number (surrounding spaces are ignored).
    pub badge: &'a str,
    /// The password, exactly as typed.
    pub password: &'a str,
    /// The device's name, when a device enrolls.
    pub device_name: Option<&'a str>,
    /// The client's address (see [`super::ClientAddr`]).
    pub client: IpAddr,
}

/// A field of a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The badge number.
    Badge,
    /// The password.
    Password,
    /// The device's name.
    DeviceName,
}

impl Field {
    /// The field's name in requests.
    pub fn name(self) -> &'static str {
        match self {
            Field::Badge => "badge",
            Field::Password => "password",
            Field::DeviceName => "device_name",
        }
    }

    /// Says that the field is too long and what to do.
    pub fn too_long(self) -> Text {
        match self {
            Field::Badge => Text::new(
                format!("警号过长（badge，最多 {MAX_BADGE_BYTES} 字节），请核对警号后重新输入"),
                format!("badge is too long (at most {MAX_BADGE_BYTES} bytes): check the badge number and enter it again"),
            ),
            Field::Password => Text::new(
                format!("密码过长（password，最多 {MAX_PASSWORD_BYTES} 字节），请核对密码后重新输入"),
                format!("password is too long (at most {MAX_PASSWORD_BYTES} bytes): check the password and enter it again"),
            ),
            Field::DeviceName => Text::new(
                format!("设备名称过长（device_name，最多 {MAX_DEVICE_NAME_CHARS} 个字符），请改用较短的名称"),
                format!("device_name is too long (at most {MAX_DEVICE_NAME_CHARS} characters): choose a shorter name"),
            ),
        }
    }
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The badge or the password is empty.
    #[error("badge and password are required")]
    Missing,
    /// A field is longer than allowed.
    #[error("{} is too long", .0.name())]
    TooLong(Field),
    /// Too many failed sign-ins: wait this long.
    #[error("too many failed sign-ins")]
    Throttled(Duration),
    /// No such badge, or the wrong password (not told apart).
    #[error("wrong badge or password")]
    WrongCredentials,
    /// The password was right but the account is disabled.
    #[error("the account is disabled")]
    Disabled,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A failure counted against an attempt before its secret is checked, in
/// memory and in the store; [`take_back`] it when the secret was right.
#[must_use = "a counted failure stays counted unless taken back"]
pub struct CountedFailure {
    memory: Reservation,
    shared: ReservedFailure,
}

/// Why an attempt's failure could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum NotCounted {
    /// A counter is at its limit: wait this long.
    #[error("too many failed attempts")]
    Throttled(Duration),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<NotCounted> for SignInError {
    fn from(e: NotCounted) -> Self {
        match e {
            NotCounted::Throttled(wait) => SignInError::Throttled(wait),
            NotCounted::Store(e) => SignInError::Store(e),
        }
    }
}

/// Counts a failure for an attempt on `key` (a badge, or an enrollment
/// code) from `client`, or refuses the attempt when a counter is at its limit.
pub async fn count_failure(
    state: &AppState,
    key: &str,
    client: IpAddr,
) -> Result<CountedFailure, NotCounted> {
    let memory = state
        .throttle
        .reserve(key, client)
        .map_err(NotCounted::Throttled)?;
    // Refused here, the attempt stays counted in memory: the key or the
    // address is over its limit across instances, so this instance may as
    // well refuse the next ones without asking the database.
    match state
        .store
        .reserve_signin_failure(
            state.throttle.counters(key, client),
            state.throttle.window(),
            Utc::now(),
        )
        .await?
    {
        FailureReservation::Reserved(shared) => Ok(CountedFailure { memory, shared }),
        FailureReservation::Refused { retry_after } => Err(NotCounted::Throttled(retry_after)),
    }
}

/// The attempt's secret was right: takes its counted failure back.
pub async fn take_back(state: &AppState, counted: CountedFailure) -> Result<(), StoreError> {
    state.throttle.succeed(counted.memory);
    state.store.release_signin_failure(counted.shared).await
}

/// Checks a sign-in attempt; answers the account whose password it gave.
pub async fn sign_in(state: &AppState, attempt: Attempt<'_>) -> Result<Account, SignInError> {
    let badge = check_fields(&attempt)?;
    let counted = count_failure(state, badge, attempt.client).await?;
    let account = state.store.user_by_badge(badge).await?;
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let right = password_matches(attempt.password.to_owned(), hash).await;
    match account {
        Some(account) if right => {
            take_back(state, counted).await?;
            if account.disabled {
                return Err(SignInError::Disabled);
            }
            Ok(account)
        }
        _ => Err(SignInError::WrongCredentials),
    }
}

/// Whether a device's name is within [`MAX_DEVICE_NAME_CHARS`] once trimmed.
pub fn device_name_fits(name: &str) -> bool {
    name.trim().chars().count() <= MAX_DEVICE_NAME_CHARS
}

/// The fields' bounds, before anything else; answers the trimmed badge.
fn check_fields<'a>(attempt: &Attempt<'a>) -> Result<&'a str, SignInError> {
    let badge = attempt.badge.trim();
    if badge.is_empty() || attempt.password.is_empty() {
        return Err(SignInError::Missing);
    }
    if badge.len() > MAX_BADGE_BYTES {
        return Err(SignInError::TooLong(Field::Badge));
    }
    if attempt.password.len() > MAX_PASSWORD_BYTES {
        return Err(SignInError::TooLong(Field::Password));
    }
    if let Some(name) = attempt.device_name {
        if !device_name_fits(name) {
            return Err(SignInError::TooLong(Field::DeviceName));
        }
    }
    Ok(badge)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn attempt<'a>(badge: &'a str, password: &'a str, name: Option<&'a str>) -> Attempt<'a> {
        Attempt {
            badge,
            password,
            device_name: name,
            client: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    #[test]
    fn fields_are_bounded_and_named() {
        let badge = "b".repeat(MAX_BADGE_BYTES);
        let password = "p".repeat(MAX_PASSWORD_BYTES);
        let name = "机".repeat(MAX_DEVICE_NAME_CHARS);
        let padded = format!("  {badge}  ");
        assert_eq!(
            check_fields(&attempt(&padded, &password, Some(&name))).ok(),
            Some(badge.as_str()),
            "at the limits"
        );
        let too = |a: Attempt<'_>| match check_fields(&a) {
            Err(SignInError::TooLong(f)) => Some(f),
            _ => None,
        };
        let long_badge = "警".repeat(22); // 66 bytes
        assert_eq!(too(attempt(&long_badge, "x", None)), Some(Field::Badge));
        let long_password = "p".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(
            too(attempt("o1", &long_password, None)),
            Some(Field::Password)
        );
        let long_name = "机".repeat(MAX_DEVICE_NAME_CHARS + 1);
        assert_eq!(
            too(attempt("o1", "x", Some(&long_name))),
            Some(Field::DeviceName)
        );
        assert!(matches!(
            check_fields(&attempt("  ", "x", None)),
            Err(SignInError::Missing)
        ));
        assert!(matches!(
            check_fields(&attempt("o1", "", None)),
            Err(SignInError::Missing)
        ));
        for f in [Field::Badge, Field::Password, Field::DeviceName] {
            let t = f.too_long();
            assert!(t.en.starts_with(f.name()) && t.zh.contains(f.name()));
        }
    }
}
