//! Running statements (each prepared once per connection and cached) and
//! turning column values into the contract's types. Values are stored as the
//! SQLite backend stores them: ids and times as text, JSON as text (JSONB
//! for `records.state`).

use beatbook_schema::ids::{GridId, StationId};
use beatbook_schema::protocol::{Role, UserInfo};
use beatbook_store::{ReadScope, StoredRecord};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::{corrupt, Error};

/// Statement parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Rows of a statement.
pub(crate) async fn query(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

/// The one row of a statement.
pub(crate) async fn query_one(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, Error> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_one(&statement, params).await?)
}

/// The row of a statement, if any.
pub(crate) async fn query_opt(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

/// Runs a statement; returns the number of rows it changed.
pub(crate) async fn execute(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, Error> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// The scope as a statement parameter (`$n::text[]`): `NULL` for every
/// grid, else the grid codes.
pub(crate) fn scope_param(scope: &ReadScope) -> Option<Vec<String>> {
    match scope {
        ReadScope::All => None,
        ReadScope::Grids(grids) => Some(grids.iter().map(|g| g.as_str().to_owned()).collect()),
    }
}

/// Whether a record `r` is in the scope given as parameter `$1`.
pub(crate) const IN_SCOPE: &str = "($1::text[] IS NULL OR r.grid_id = ANY($1::text[]))";

/// A count or size column (BIGINT, never negative) as stored.
pub(crate) fn count(row: &Row, idx: usize) -> Result<u64, Error> {
    let n: i64 = row.try_get(idx)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T, Error> {
    s.parse().map_err(|_| corrupt("id", s))
}

pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt("time", s))
}

pub(crate) fn role_str(role: Role) -> &'static str {
    match role {
        Role::Officer => "officer",
        Role::Auxiliary => "auxiliary",
        Role::Supervisor => "supervisor",
        Role::Admin => "admin",
    }
}

fn parse_role(s: &str) -> Result<Role, Error> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| corrupt("role", s))
}

/// A stored record state (`records.state`, selected as text).
pub(crate) fn parse_record(json: &str) -> Result<StoredRecord, Error> {
    Ok(serde_json::from_str(json)?)
}

/// Columns of an account `u` with its grids, read by [`account`].
pub(crate) const ACCOUNT_COLUMNS: &str = "u.id, u.badge, u.name, u.role, u.station_id,
     u.password_hash, u.disabled,
     ARRAY(SELECT g.grid_id FROM user_grids g WHERE g.user_id = u.id ORDER BY g.grid_id)";

/// The account whose [`ACCOUNT_COLUMNS`] start at column `at`: who, the
/// password hash, and whether it is disabled.
pub(crate) fn account(row: &Row, at: usize) -> Result<(UserInfo, String, bool), Error> {
    let id: String = row.try_get(at)?;
    let role: String = row.try_get(at + 3)?;
    let grids: Vec<String> = row.try_get(at + 7)?;
    Ok((
        UserInfo {
            id: parse_id(&id)?,
            badge: row.try_get(at + 1)?,
            name: row.try_get(at + 2)?,
            role: parse_role(&role)?,
            station: StationId(row.try_get(at + 4)?),
            grids: grids.into_iter().map(GridId).collect(),
        },
        row.try_get(at + 5)?,
        row.try_get(at + 6)?,
    ))
}
