//! Blob metadata: which blobs are stored, who uploaded them, which records
//! carry them, and which may be collected.
//!
//! Collecting a blob must not race a push that attaches it: a push locks
//! the rows of the blobs it references (`FOR SHARE`, in [`existing_for`])
//! before its decider looks at them, and [`forget_blob`] locks the row `FOR
//! UPDATE` before it checks, in a later statement (so a newer snapshot), that
//! no record carries the blob and no upload renewed it. Whichever comes
//! second sees what the first committed: the push finds the blob missing
//! (and defers), or the collector finds it attached (and keeps it). A
//! re-upload ([`complete_blob`]) takes the same shared lock.

use std::collections::HashSet;

use beatbook_schema::ids::{DeviceId, GridId, Sha256};
use beatbook_store::{Existing, ReadScope, StoredRecord};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};

use crate::error::{corrupt, Error};
use crate::sql::{execute, query, query_one, query_opt, scope_param};

fn hexes(hashes: &[Sha256]) -> Vec<String> {
    hashes.iter().map(Sha256::to_hex).collect()
}

fn parse_sha(hex: &str) -> Result<Sha256, Error> {
    hex.parse().map_err(|_| corrupt("blob digest", hex))
}

/// The digests in `hashes` for which `held` is false, in order, each once.
fn each_once_unless(hashes: Vec<Sha256>, held: &HashSet<String>) -> Vec<Sha256> {
    let mut out: Vec<Sha256> = Vec::new();
    for h in hashes {
        if !held.contains(&h.to_hex()) && !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

/// The digests among `hashes` that are stored, from `sql` (`$1` the hex digests).
async fn present(
    c: &impl GenericClient,
    sql: &str,
    hashes: &[Sha256],
) -> Result<HashSet<String>, Error> {
    let rows = query(c, sql, &[&hexes(hashes)]).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// What the decider is told about a change to `record` (as stored, read by
/// the caller) by `device` that attaches `hashes`: the record, and which of
/// the blobs the server lacks, the device uploaded, and current records
/// carry (in which grids). Locks the stored blobs' rows until commit (see
/// the module docs).
pub(crate) async fn existing_for(
    tx: &impl GenericClient,
    record: Option<StoredRecord>,
    hashes: &[Sha256],
    device: DeviceId,
) -> Result<Existing, Error> {
    if hashes.is_empty() {
        return Ok(Existing {
            record,
            ..Existing::default()
        });
    }
    let stored = present(
        tx,
        "SELECT sha256 FROM blobs WHERE sha256 = ANY($1::text[]) ORDER BY sha256 FOR SHARE",
        hashes,
    )
    .await?;
    let uploaded: HashSet<String> = query(
        tx,
        "SELECT sha256 FROM blob_uploads WHERE sha256 = ANY($1::text[]) AND device_id = $2",
        &[&hexes(hashes), &device.to_string()],
    )
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()?;
    let mut existing = Existing {
        record,
        missing_blobs: each_once_unless(hashes.to_vec(), &stored),
        ..Existing::default()
    };
    let attached = query(
        tx,
        "SELECT DISTINCT sha256, grid_id FROM record_blobs WHERE sha256 = ANY($1::text[])
         ORDER BY grid_id",
        &[&hexes(hashes)],
    )
    .await?;
    for h in hashes {
        let hex = h.to_hex();
        if uploaded.contains(&hex) {
            existing.uploaded_blobs.push(*h);
        }
        for row in &attached {
            if row.try_get::<_, &str>(0)? == hex {
                existing.attached_in.push((*h, GridId(row.try_get(1)?)));
            }
        }
    }
    Ok(existing)
}

pub(crate) async fn missing_blobs(c: &Client, hashes: Vec<Sha256>) -> Result<Vec<Sha256>, Error> {
    let stored = present(
        c,
        "SELECT sha256 FROM blobs WHERE sha256 = ANY($1::text[])",
        &hashes,
    )
    .await?;
    Ok(each_once_unless(hashes, &stored))
}

pub(crate) async fn complete_blob(
    c: &mut Client,
    sha: Sha256,
    size: u64,
    content_type: &str,
    device: DeviceId,
) -> Result<(), Error> {
    let tx = c.transaction().await?;
    let now = Utc::now().to_rfc3339();
    let hex = sha.to_hex();
    // Waits for a collector deciding about this blob (see the module docs).
    query_opt(
        &tx,
        "SELECT 1 FROM blobs WHERE sha256 = $1 FOR SHARE",
        &[&hex],
    )
    .await?;
    execute(
        &tx,
        "INSERT INTO blobs (sha256, size, content_type, stored_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sha256) DO NOTHING",
        &[&hex, &(size as i64), &content_type, &now],
    )
    .await?;
    execute(
        &tx,
        "INSERT INTO blob_uploads (sha256, device_id, uploaded_at) VALUES ($1, $2, $3)
         ON CONFLICT (sha256, device_id) DO UPDATE SET uploaded_at = excluded.uploaded_at",
        &[&hex, &device.to_string(), &now],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `table` (`record_blobs`: current versions, `blob_history`: every
/// version) places the blob in one of the scope's grids.
pub(crate) async fn in_grids(
    c: &Client,
    table: &'static str,
    sha: Sha256,
    scope: &ReadScope,
) -> Result<bool, Error> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {table} WHERE sha256 = $1
             AND ($2::text[] IS NULL OR grid_id = ANY($2::text[])))"
    );
    let row = query_one(c, &sql, &[&sha.to_hex(), &scope_param(scope)]).await?;
    Ok(row.try_get(0)?)
}

pub(crate) async fn blobs_not_held(
    c: &Client,
    hashes: Vec<Sha256>,
    device: DeviceId,
    scope: &ReadScope,
) -> Result<Vec<Sha256>, Error> {
    let rows = query(
        c,
        "SELECT b.sha256 FROM blobs b WHERE b.sha256 = ANY($1::text[]) AND (
             EXISTS (SELECT 1 FROM blob_uploads u WHERE u.sha256 = b.sha256 AND u.device_id = $2)
             OR EXISTS (SELECT 1 FROM record_blobs r WHERE r.sha256 = b.sha256
                 AND ($3::text[] IS NULL OR r.grid_id = ANY($3::text[]))))",
        &[&hexes(&hashes), &device.to_string(), &scope_param(scope)],
    )
    .await?;
    let held = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<HashSet<String>, _>>()?;
    Ok(each_once_unless(hashes, &held))
}

pub(crate) async fn unattached_bytes(c: &Client, device: DeviceId) -> Result<u64, Error> {
    let row = query_one(
        c,
        "SELECT COALESCE(SUM(b.size), 0)::bigint FROM blob_uploads u JOIN blobs b ON b.sha256 = u.sha256
         WHERE u.device_id = $1 AND NOT EXISTS (SELECT 1 FROM blob_history h WHERE h.sha256 = u.sha256)",
        &[&device.to_string()],
    )
    .await?;
    let bytes: i64 = row.try_get(0)?;
    Ok(bytes.max(0) as u64)
}

/// The condition on a blob row `b` (`$1` the cutoff) that it may be
/// collected: stored before the cutoff, not uploaded again since, and
/// carried by no version of any record.
const UNREFERENCED_BEFORE: &str = "b.stored_at < $1
    AND NOT EXISTS (SELECT 1 FROM blob_uploads u WHERE u.sha256 = b.sha256 AND u.uploaded_at >= $1)
    AND NOT EXISTS (SELECT 1 FROM blob_history h WHERE h.sha256 = b.sha256)";

pub(crate) async fn unreferenced_blobs(
    c: &Client,
    cutoff: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Sha256>, Error> {
    let sql = format!(
        "SELECT sha256 FROM blobs b WHERE {UNREFERENCED_BEFORE} ORDER BY stored_at, sha256 LIMIT $2"
    );
    let rows = query(c, &sql, &[&cutoff.to_rfc3339(), &i64::from(limit)]).await?;
    rows.iter().map(|r| parse_sha(r.try_get(0)?)).collect()
}

pub(crate) async fn forget_blob(
    c: &mut Client,
    sha: Sha256,
    cutoff: DateTime<Utc>,
) -> Result<bool, Error> {
    let tx = c.transaction().await?;
    let hex = sha.to_hex();
    // Lock first, check after, in a new statement: a push or an upload that
    // held the row has committed by then, and the check sees it.
    query_opt(
        &tx,
        "SELECT 1 FROM blobs WHERE sha256 = $1 FOR UPDATE",
        &[&hex],
    )
    .await?;
    let sql = format!("DELETE FROM blobs AS b WHERE sha256 = $2 AND {UNREFERENCED_BEFORE}");
    let gone = execute(&tx, &sql, &[&cutoff.to_rfc3339(), &hex]).await? == 1;
    if gone {
        execute(&tx, "DELETE FROM blob_uploads WHERE sha256 = $1", &[&hex]).await?;
    }
    tx.commit().await?;
    Ok(gone)
}
