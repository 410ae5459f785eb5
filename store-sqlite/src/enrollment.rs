//! Enrollment codes (see [`beatbook_store::Store::enroll_with_code`]). A
//! redemption runs in one of the writer's transactions, which are IMMEDIATE:
//! it holds the database's write lock from its first read, so two handles
//! redeeming one code at once are serialized and the second finds it used.

use rusqlite::{params, Connection, OptionalExtension};

use super::{bind_device, parse_time, user_info, Error};
use beatbook_store::{
    stored_time, Account, CodeEnrollment, CodeRedemption, NewEnrollmentCode, StoreError,
    EXPIRED_CODES_KEPT,
};

pub(crate) fn create(c: &mut Connection, code: &NewEnrollmentCode) -> Result<(), Error> {
    let tx = c.transaction()?;
    for user in [code.user, code.created_by] {
        let known: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
            .query_row([user.to_string()], |r| r.get(0))
            .optional()?;
        if known.is_none() {
            return Err(StoreError::NotFound(format!("user {user}")).into());
        }
    }
    tx.execute(
        "DELETE FROM enrollment_codes WHERE expires_at < ?1",
        [stored_time(code.created_at - EXPIRED_CODES_KEPT)],
    )?;
    let inserted = tx.execute(
        "INSERT INTO enrollment_codes (code_hash, user_id, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (code_hash) DO NOTHING",
        params![
            &code.code_hash[..],
            code.user.to_string(),
            code.created_by.to_string(),
            stored_time(code.created_at),
            stored_time(code.expires_at),
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Duplicate("enrollment code".into()).into());
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn redeem(c: &mut Connection, r: &CodeRedemption) -> Result<CodeEnrollment, Error> {
    let tx = c.transaction()?;
    let row: Option<(String, String, Option<String>)> = tx
        .prepare_cached(
            "SELECT user_id, expires_at, used_at FROM enrollment_codes WHERE code_hash = ?1",
        )?
        .query_row([&r.code_hash[..]], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((user, expires_at, used_at)) = row else {
        return Ok(CodeEnrollment::Unknown);
    };
    if used_at.is_some() {
        return Ok(CodeEnrollment::Used);
    }
    if parse_time(&expires_at)? <= r.now {
        return Ok(CodeEnrollment::Expired);
    }
    let (info, password_hash, disabled) = user_info(&tx, &user)?;
    if disabled {
        return Ok(CodeEnrollment::Disabled);
    }
    if !bind_device(&tx, r.device, info.id, &r.device_name, r.token_hash, r.now)? {
        return Ok(CodeEnrollment::DeviceTaken);
    }
    tx.execute(
        "UPDATE enrollment_codes SET used_at = ?1, used_by_device = ?2 WHERE code_hash = ?3",
        params![stored_time(r.now), r.device.to_string(), &r.code_hash[..]],
    )?;
    tx.commit()?;
    Ok(CodeEnrollment::Enrolled(Account {
        info,
        password_hash,
        disabled,
    }))
}
