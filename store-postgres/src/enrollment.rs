//! Enrollment codes (see [`beatbook_store::Store::enroll_with_code`]), as in
//! the SQLite backend. A redemption locks the code's row (`FOR UPDATE`)
//! before it decides: of instances redeeming one code at once, the first
//! enrolls and marks it used, and the others, let through after its commit,
//! read it used.

use beatbook_store::{
    stored_time, Account, CodeEnrollment, CodeRedemption, NewEnrollmentCode, StoreError,
    EXPIRED_CODES_KEPT,
};
use deadpool_postgres::Client;

use crate::accounts::enroll;
use crate::error::Error;
use crate::sql::{account, execute, parse_time, query_opt, ACCOUNT_COLUMNS};

pub(crate) async fn create(c: &mut Client, code: &NewEnrollmentCode) -> Result<(), Error> {
    let tx = c.transaction().await?;
    for user in [code.user, code.created_by] {
        let known = query_opt(
            &tx,
            "SELECT 1 FROM users WHERE id = $1",
            &[&user.to_string()],
        )
        .await?;
        if known.is_none() {
            return Err(StoreError::NotFound(format!("user {user}")).into());
        }
    }
    execute(
        &tx,
        "DELETE FROM enrollment_codes WHERE expires_at < $1",
        &[&stored_time(code.created_at - EXPIRED_CODES_KEPT)],
    )
    .await?;
    let inserted = execute(
        &tx,
        "INSERT INTO enrollment_codes (code_hash, user_id, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code_hash) DO NOTHING",
        &[
            &&code.code_hash[..],
            &code.user.to_string(),
            &code.created_by.to_string(),
            &stored_time(code.created_at),
            &stored_time(code.expires_at),
        ],
    )
    .await?;
    if inserted == 0 {
        return Err(StoreError::Duplicate("enrollment code".into()).into());
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn redeem(c: &mut Client, r: &CodeRedemption) -> Result<CodeEnrollment, Error> {
    let tx = c.transaction().await?;
    let sql = format!(
        "SELECT e.expires_at, e.used_at, {ACCOUNT_COLUMNS}
         FROM enrollment_codes e JOIN users u ON u.id = e.user_id
         WHERE e.code_hash = $1 FOR UPDATE OF e"
    );
    let Some(row) = query_opt(&tx, &sql, &[&&r.code_hash[..]]).await? else {
        return Ok(CodeEnrollment::Unknown);
    };
    let expires_at: String = row.try_get(0)?;
    let used_at: Option<String> = row.try_get(1)?;
    if used_at.is_some() {
        return Ok(CodeEnrollment::Used);
    }
    if parse_time(&expires_at)? <= r.now {
        return Ok(CodeEnrollment::Expired);
    }
    let (info, password_hash, disabled) = account(&row, 2)?;
    if disabled {
        return Ok(CodeEnrollment::Disabled);
    }
    if !enroll(&tx, r.device, info.id, &r.device_name, r.token_hash, r.now).await? {
        return Ok(CodeEnrollment::DeviceTaken);
    }
    execute(
        &tx,
        "UPDATE enrollment_codes SET used_at = $1, used_by_device = $2 WHERE code_hash = $3",
        &[
            &stored_time(r.now),
            &r.device.to_string(),
            &&r.code_hash[..],
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(CodeEnrollment::Enrolled(Account {
        info,
        password_hash,
        disabled,
    }))
}
