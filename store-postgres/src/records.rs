//! Records' current state: the per-record lock, reading a record, writing
//! its next state (with the blob tables and the ID-number index that follow
//! it), and counts.

use std::collections::{BTreeMap, HashMap};

use beatbook_schema::ids::RecordId;
use beatbook_store::{person_id_number, StoredRecord};
use deadpool_postgres::{Client, GenericClient};

use crate::error::Error;
use crate::sql::{count, execute, parse_record, query, query_opt};

/// The advisory lock key of a record: the low 64 bits of its id (UUIDv7's
/// random half). Two records sharing a key only wait for each other.
fn lock_key(id: RecordId) -> i64 {
    id.0.as_u64_pair().1 as i64
}

/// Takes every record's lock for the rest of the transaction, in key order
/// (two transactions touching the same records cannot deadlock). A
/// transaction reads, decides and writes a record only under its lock, so
/// revisions are handed out one at a time whichever instance writes.
pub(crate) async fn lock_records(
    tx: &impl GenericClient,
    ids: impl IntoIterator<Item = RecordId>,
) -> Result<(), Error> {
    let mut keys: Vec<i64> = ids.into_iter().map(lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // unnest yields the (sorted) array in order, and the aggregate takes the
    // locks one row at a time in that order.
    query(
        tx,
        "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k",
        &[&keys],
    )
    .await?;
    Ok(())
}

/// A record's current state.
pub(crate) async fn load_record(
    c: &impl GenericClient,
    id: RecordId,
) -> Result<Option<StoredRecord>, Error> {
    query_opt(
        c,
        "SELECT state::text FROM records WHERE id = $1",
        &[&id.to_string()],
    )
    .await?
    .map(|row| parse_record(row.try_get(0)?))
    .transpose()
}

/// The current state of each of `ids` that exists, by id, in one statement.
pub(crate) async fn load_records(
    c: &impl GenericClient,
    ids: impl IntoIterator<Item = RecordId>,
) -> Result<HashMap<RecordId, StoredRecord>, Error> {
    let keys: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
    let rows = query(
        c,
        "SELECT state::text FROM records WHERE id = ANY($1::text[])",
        &[&keys],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let record = parse_record(row.try_get(0)?)?;
            Ok((record.id, record))
        })
        .collect()
}

/// Writes a record's new current state, and keeps the blob tables in step:
/// the scope table holds exactly the current version's attachments (none
/// once deleted), the history every attachment any version carried. Its log
/// item and version row come later, from [`crate::log::LogTail`].
pub(crate) async fn write_record(
    tx: &impl GenericClient,
    record: &StoredRecord,
) -> Result<(), Error> {
    let id = record.id.to_string();
    let grid = record.grid.as_str();
    execute(
        tx,
        "INSERT INTO records (id, form_id, grid_id, revision, deleted, state)
         VALUES ($1, $2, $3, $4, $5, CAST($6::text AS jsonb))
         ON CONFLICT (id) DO UPDATE SET form_id = excluded.form_id, grid_id = excluded.grid_id,
             revision = excluded.revision, deleted = excluded.deleted, state = excluded.state",
        &[
            &id,
            &record.form_id.as_str(),
            &grid,
            &(record.revision as i64),
            &record.deleted,
            &serde_json::to_string(record)?,
        ],
    )
    .await?;
    index_person(tx, record).await?;
    let shas: Vec<String> = record
        .attachments
        .iter()
        .map(|a| a.sha256.to_hex())
        .collect();
    execute(tx, "DELETE FROM record_blobs WHERE record_id = $1", &[&id]).await?;
    if shas.is_empty() {
        return Ok(());
    }
    if !record.deleted {
        execute(
            tx,
            "INSERT INTO record_blobs (sha256, record_id, grid_id)
             SELECT s, $2, $3 FROM unnest($1::text[]) AS s ON CONFLICT DO NOTHING",
            &[&shas, &id, &grid],
        )
        .await?;
    }
    execute(
        tx,
        "INSERT INTO blob_history (sha256, record_id, grid_id)
         SELECT s, $2, $3 FROM unnest($1::text[]) AS s ON CONFLICT DO NOTHING",
        &[&shas, &id, &grid],
    )
    .await?;
    Ok(())
}

/// Keeps `person_ids` and `person_id_counts` in step with a record's new
/// state (called by every write of a record, inside its transaction, under
/// the record's lock).
async fn index_person(tx: &impl GenericClient, record: &StoredRecord) -> Result<(), Error> {
    let id = record.id.to_string();
    let old: Option<String> = query_opt(
        tx,
        "SELECT id_number FROM person_ids WHERE record_id = $1",
        &[&id],
    )
    .await?
    .map(|row| row.try_get(0))
    .transpose()?;
    let new = person_id_number(record);
    let grid = record.grid.as_str();
    if old == new {
        if new.is_some() {
            execute(
                tx,
                "UPDATE person_ids SET grid_id = $2 WHERE record_id = $1",
                &[&id, &grid],
            )
            .await?;
        }
        return Ok(());
    }
    if let Some(old) = old {
        execute(tx, "DELETE FROM person_ids WHERE record_id = $1", &[&id]).await?;
        execute(
            tx,
            "UPDATE person_id_counts SET records = records - 1 WHERE id_number = $1",
            &[&old],
        )
        .await?;
        execute(
            tx,
            "DELETE FROM person_id_counts WHERE id_number = $1 AND records <= 0",
            &[&old],
        )
        .await?;
    }
    if let Some(new) = new {
        execute(
            tx,
            "INSERT INTO person_ids (record_id, id_number, grid_id) VALUES ($1, $2, $3)",
            &[&id, &new, &grid],
        )
        .await?;
        execute(
            tx,
            "INSERT INTO person_id_counts (id_number, records) VALUES ($1, 1)
             ON CONFLICT (id_number) DO UPDATE SET records = person_id_counts.records + 1",
            &[&new],
        )
        .await?;
    }
    Ok(())
}

/// Number of live records, per form.
pub(crate) async fn record_counts(c: &Client) -> Result<BTreeMap<String, u64>, Error> {
    let rows = query(
        c,
        "SELECT form_id, COUNT(*) FROM records WHERE NOT deleted GROUP BY form_id",
        &[],
    )
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, count(r, 1)?)))
        .collect()
}
