//! The PostgreSQL side of the review pages (see [`beatbook_store::review`]),
//! the same queries as the SQLite backend's with jsonb for `json_extract`.
//!
//! A batch's records are the record versions it wrote; a record counts for
//! the batch's review until a later batch edits it again ("superseded": it
//! is reviewed there). Review decisions and other server-side edits write
//! versions that belong to no batch.
//!
//! Text taken out of JSON (`->>`) is compared `COLLATE "C"`, byte by byte
//! as SQLite compares it, whatever the database's locale.

use std::collections::BTreeMap;

use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, GridId, RecordId, StationId};
use beatbook_store::stored_time;
use beatbook_store::{
    AuditEntry, AuditQuery, BatchEntry, BatchFilter, BatchPage, BatchRow, BatchStatus,
    BatchSummary, ConflictEntry, EditAudit, EditOutcome, ExportPage, ExportQuery, HazardCounts,
    HazardQuery, NewAudit, NewWebSession, ReadScope, RecordEdit, ReviewProgress, StoreError,
    StoredRecord, WebSession, Writer,
};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;

use crate::error::Error;
use crate::log::LogTail;
use crate::records::{load_record, lock_records, write_record};
use crate::sql::{
    account, count, execute, parse_id, parse_record, parse_time, query, query_one, query_opt,
    scope_param, ACCOUNT_COLUMNS, IN_SCOPE,
};

/// Version `v` was edited again by a later batch.
const SUPERSEDED: &str = "EXISTS (SELECT 1 FROM record_versions w WHERE w.record_id = v.record_id
     AND w.revision > v.revision AND w.batch_id IS NOT NULL AND w.batch_id <> v.batch_id)";

/// The filter on a batch `b`. Parameters: `$1` scope, `$2` grid, `$3` form,
/// `$4` officer, `$5` received from, `$6` received before, `$7` status.
fn batch_where() -> String {
    let entry = |cond: &str| {
        format!(
            "EXISTS (SELECT 1 FROM record_versions v JOIN records r ON r.id = v.record_id
                     WHERE v.batch_id = b.id AND {IN_SCOPE} AND {cond})"
        )
    };
    let pending = entry(&format!(
        "NOT r.deleted AND (r.state->>'status') = 'submitted' AND NOT {SUPERSEDED}"
    ));
    format!(
        "($1::text[] IS NULL OR {any} OR (b.stored = 0 AND EXISTS (SELECT 1 FROM user_grids ug
              WHERE ug.user_id = b.user_id AND ug.grid_id = ANY($1::text[]))))
         AND ($2::text IS NULL OR {grid})
         AND ($3::text IS NULL OR {form})
         AND ($4::text IS NULL OR b.user_id = $4::text)
         AND ($5::text IS NULL OR b.received_at::timestamptz >= $5::timestamptz)
         AND ($6::text IS NULL OR b.received_at::timestamptz < $6::timestamptz)
         AND ($7::text IS NULL
              OR ($7::text = 'pending' AND {pending})
              OR ($7::text = 'reviewed' AND NOT {pending} AND {any})
              OR ($7::text = 'conflicted' AND b.conflicts > 0)
              OR ($7::text = 'rejected' AND b.rejected > 0))",
        any = entry("TRUE"),
        grid = entry("r.grid_id = $2::text"),
        form = entry("r.form_id = $3::text"),
    )
}

fn status_word(s: BatchStatus) -> &'static str {
    match s {
        BatchStatus::Pending => "pending",
        BatchStatus::Reviewed => "reviewed",
        BatchStatus::Conflicted => "conflicted",
        BatchStatus::Rejected => "rejected",
    }
}

/// The columns of a batch `b` as the list shows it (read by [`batch_row`]),
/// ending with the batch's last version of each record it wrote in scope
/// (`$1`), as JSON `[form, deleted, status, superseded]`: the page and its
/// rows' progress come from one statement.
fn batch_columns() -> String {
    format!(
        "b.id, b.device_id, b.user_id, b.received_at, b.stored, b.rejected,
         b.conflicts, u.name, u.badge, COALESCE(d.name, ''),
         (SELECT COALESCE(json_agg(json_build_array(x.form_id, x.deleted, x.status, x.superseded)), '[]')::text
          FROM (SELECT DISTINCT ON (v.record_id) r.form_id, r.deleted,
                       r.state->>'status' AS status, {SUPERSEDED} AS superseded
                FROM record_versions v JOIN records r ON r.id = v.record_id
                WHERE v.batch_id = b.id AND {IN_SCOPE}
                ORDER BY v.record_id, v.revision DESC) x)"
    )
}

/// The batch whose [`batch_columns`] start at column `at`.
fn batch_row(row: &Row, at: usize) -> Result<BatchRow, Error> {
    let summary = BatchSummary {
        id: parse_id(row.try_get(at)?)?,
        device: parse_id(row.try_get(at + 1)?)?,
        user: parse_id(row.try_get(at + 2)?)?,
        received_at: parse_time(row.try_get(at + 3)?)?,
        stored: count(row, at + 4)?,
        rejected: count(row, at + 5)?,
        conflicts: count(row, at + 6)?,
    };
    let latest: Vec<(String, bool, Option<String>, bool)> =
        serde_json::from_str(row.try_get(at + 10)?)?;
    let mut forms = BTreeMap::new();
    let mut progress = ReviewProgress::default();
    for (form, deleted, status, superseded) in latest {
        *forms.entry(form).or_insert(0) += 1;
        let counter = if deleted || superseded {
            &mut progress.superseded
        } else {
            match status.as_deref() {
                Some("approved") => &mut progress.approved,
                Some("returned") => &mut progress.returned,
                _ => &mut progress.pending,
            }
        };
        *counter += 1;
    }
    Ok(BatchRow {
        summary,
        officer: row.try_get(at + 7)?,
        badge: row.try_get(at + 8)?,
        device_name: row.try_get(at + 9)?,
        forms,
        progress,
    })
}

/// The batch list: one statement (one snapshot) for the count, the page and
/// each row's progress.
pub(crate) async fn batch_page(c: &Client, f: &BatchFilter) -> Result<BatchPage, Error> {
    let where_ = batch_where();
    let sql = format!(
        "SELECT t.total, p.* FROM (SELECT COUNT(*) AS total FROM batches b WHERE {where_}) t
         LEFT JOIN LATERAL (
             SELECT {columns} FROM batches b JOIN users u ON u.id = b.user_id
             LEFT JOIN devices d ON d.id = b.device_id
             WHERE {where_} ORDER BY b.received_at DESC, b.id DESC LIMIT $8 OFFSET $9
         ) p ON TRUE
         ORDER BY p.received_at DESC, p.id DESC",
        columns = batch_columns()
    );
    let rows = query(
        c,
        &sql,
        &[
            &scope_param(&f.scope),
            &f.grid.as_ref().map(GridId::as_str),
            &f.form.as_ref().map(|g| g.as_str()),
            &f.officer.map(|u| u.to_string()),
            &f.received_from.map(stored_time),
            &f.received_before.map(stored_time),
            &f.status.map(status_word),
            &i64::from(f.limit),
            &i64::from(f.offset),
        ],
    )
    .await?;
    let mut page = BatchPage::default();
    for row in &rows {
        page.total = count(row, 0)?;
        // A page past the end is one row of NULLs beside the count.
        if row.try_get::<_, Option<&str>>(1)?.is_some() {
            page.rows.push(batch_row(row, 1)?);
        }
    }
    Ok(page)
}

pub(crate) async fn batch_row_by_id(
    c: &Client,
    id: BatchId,
    scope: &ReadScope,
) -> Result<Option<BatchRow>, Error> {
    let sql = format!(
        "SELECT {columns} FROM batches b JOIN users u ON u.id = b.user_id
         LEFT JOIN devices d ON d.id = b.device_id
         WHERE b.id = $8 AND {where_}",
        columns = batch_columns(),
        where_ = batch_where()
    );
    let none: Option<&str> = None;
    query_opt(
        c,
        &sql,
        &[
            &scope_param(scope),
            &none,
            &none,
            &none,
            &none,
            &none,
            &none,
            &id.to_string(),
        ],
    )
    .await?
    .map(|row| batch_row(&row, 0))
    .transpose()
}

pub(crate) async fn batch_entries(
    c: &Client,
    id: BatchId,
    scope: &ReadScope,
) -> Result<Vec<BatchEntry>, Error> {
    let batch = id.to_string();
    let written = query(
        c,
        &format!(
            "SELECT v.record_id, MAX(v.revision) FROM record_versions v
             JOIN records r ON r.id = v.record_id
             WHERE v.batch_id = $2 AND {IN_SCOPE}
             GROUP BY v.record_id ORDER BY MIN(v.cursor)"
        ),
        &[&scope_param(scope), &batch],
    )
    .await?;
    let mut out = Vec::with_capacity(written.len());
    for row in &written {
        let record_id: &str = row.try_get(0)?;
        let revision: i64 = row.try_get(1)?;
        let Some(record) = load_record(c, parse_id(record_id)?).await? else {
            continue;
        };
        let outcome = query_opt(
            c,
            "SELECT c.outcome FROM record_versions v JOIN changes c ON c.change_id = v.change_id
             WHERE v.record_id = $1 AND v.revision = $2",
            &[&record_id, &revision],
        )
        .await?;
        let later = query_opt(
            c,
            "SELECT batch_id FROM record_versions WHERE record_id = $1 AND revision > $2
             AND batch_id IS NOT NULL AND batch_id <> $3 ORDER BY revision DESC LIMIT 1",
            &[&record_id, &revision, &batch],
        )
        .await?;
        out.push(BatchEntry {
            record,
            written_revision: revision as u64,
            outcome: match outcome {
                Some(o) => Some(serde_json::from_str(o.try_get(0)?)?),
                None => None,
            },
            superseded_by: later.map(|b| parse_id(b.try_get(0)?)).transpose()?,
        });
    }
    Ok(out)
}

pub(crate) async fn record_batches(
    c: &Client,
    id: RecordId,
) -> Result<BTreeMap<u64, BatchId>, Error> {
    let rows = query(
        c,
        "SELECT revision, batch_id FROM record_versions WHERE record_id = $1 AND batch_id IS NOT NULL",
        &[&id.to_string()],
    )
    .await?;
    rows.iter()
        .map(|r| Ok((count(r, 0)?, parse_id(r.try_get(1)?)?)))
        .collect()
}

async fn writer(c: &Client, device: DeviceId) -> Result<Option<Writer>, Error> {
    query_opt(
        c,
        "SELECT u.name, u.badge, d.name FROM devices d JOIN users u ON u.id = d.user_id
         WHERE d.id = $1",
        &[&device.to_string()],
    )
    .await?
    .map(|r| {
        Ok(Writer {
            name: r.try_get(0)?,
            badge: r.try_get(1)?,
            device_name: r.try_get(2)?,
        })
    })
    .transpose()
}

pub(crate) async fn record_conflicts(
    c: &Client,
    id: RecordId,
) -> Result<Vec<ConflictEntry>, Error> {
    let rows = query(
        c,
        "SELECT revision, change_id, detail FROM conflicts WHERE record_id = $1 ORDER BY id",
        &[&id.to_string()],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let conflict: beatbook_schema::merge::FieldConflict =
            serde_json::from_str(row.try_get(2)?)?;
        out.push(ConflictEntry {
            revision: count(row, 0)?,
            change_id: parse_id::<ChangeId>(row.try_get(1)?)?,
            winner: writer(c, conflict.winner.device).await?,
            loser: writer(c, conflict.loser.device).await?,
            conflict,
        });
    }
    Ok(out)
}

pub(crate) async fn edit_records(
    c: &mut Client,
    ids: Vec<RecordId>,
    mut edit: RecordEdit,
    audit: EditAudit,
) -> Result<Vec<(RecordId, EditOutcome)>, Error> {
    let tx = c.transaction().await?;
    lock_records(&tx, ids.iter().copied()).await?;
    let mut log = LogTail::default();
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let outcome = match load_record(&tx, id).await? {
            None => EditOutcome::Missing,
            Some(current) => match edit(&current) {
                Ok(next) => {
                    if next.id != current.id || next.revision != current.revision + 1 {
                        return Err(StoreError::Task(format!(
                            "an edit of record {id} must write revision {}",
                            current.revision + 1
                        ))
                        .into());
                    }
                    write_record(&tx, &next).await?;
                    let revision = next.revision;
                    log.version(next, None, None);
                    EditOutcome::Written { revision }
                }
                Err(refusal) => EditOutcome::Refused(refusal),
            },
        };
        results.push((id, outcome));
    }
    if let Some(entry) = audit(&results) {
        insert_audit(&tx, &entry).await?;
    }
    log.write(&tx).await?;
    tx.commit().await?;
    Ok(results)
}

const HAZARD_STATUS: &str = "(r.state->'fields'->'status'->>'value')";
const HAZARD_DEADLINE: &str = "((r.state->'fields'->'deadline'->>'value') COLLATE \"C\")";

/// A hazard `r` open or rectifying past its deadline (`today` the parameter `$n`).
fn hazard_overdue(today: &str) -> String {
    format!("({HAZARD_STATUS} IN ('open', 'rectifying') AND {HAZARD_DEADLINE} < {today}::text)")
}

pub(crate) async fn hazards(c: &Client, q: &HazardQuery) -> Result<Vec<StoredRecord>, Error> {
    let sql = format!(
        "SELECT r.state::text FROM records r
         WHERE r.form_id = 'hazard' AND NOT r.deleted AND {IN_SCOPE}
           AND ($2::text IS NULL OR r.grid_id = $2::text)
           AND ($3::text IS NULL OR {HAZARD_STATUS} = $3::text)
         ORDER BY CASE WHEN {overdue} THEN 0 ELSE 1 END,
                  COALESCE({HAZARD_DEADLINE}, '9999-12-31'), r.id
         LIMIT $5",
        overdue = hazard_overdue("$4")
    );
    let rows = query(
        c,
        &sql,
        &[
            &scope_param(&q.scope),
            &q.grid.as_ref().map(GridId::as_str),
            &q.status,
            &q.today,
            &i64::from(q.limit),
        ],
    )
    .await?;
    rows.iter().map(|r| parse_record(r.try_get(0)?)).collect()
}

pub(crate) async fn hazard_counts(
    c: &Client,
    scope: &ReadScope,
    grid: Option<&GridId>,
    today: &str,
) -> Result<HazardCounts, Error> {
    let sql = format!(
        "SELECT COALESCE({HAZARD_STATUS}, ''), COUNT(*),
                COUNT(*) FILTER (WHERE {overdue})
         FROM records r
         WHERE r.form_id = 'hazard' AND NOT r.deleted AND {IN_SCOPE}
           AND ($2::text IS NULL OR r.grid_id = $2::text)
         GROUP BY 1",
        overdue = hazard_overdue("$3")
    );
    let rows = query(
        c,
        &sql,
        &[&scope_param(scope), &grid.map(GridId::as_str), &today],
    )
    .await?;
    let mut counts = HazardCounts::default();
    for row in &rows {
        counts.by_status.insert(row.try_get(0)?, count(row, 1)?);
        counts.overdue += count(row, 2)?;
    }
    Ok(counts)
}

pub(crate) async fn export_page(
    c: &Client,
    q: &ExportQuery,
    after: Option<RecordId>,
    limit: u32,
    max_bytes: usize,
) -> Result<ExportPage, Error> {
    // One statement: one snapshot.
    let sql = format!(
        "SELECT r.state::text FROM records r
         WHERE r.form_id = $2 AND NOT r.deleted AND {IN_SCOPE}
           AND ($3::text IS NULL OR r.grid_id = $3::text)
           AND ($4::text IS NULL OR r.id > $4::text)
         ORDER BY r.id LIMIT $5"
    );
    let rows = query(
        c,
        &sql,
        &[
            &scope_param(&q.scope),
            &q.form.as_str(),
            &q.grid.as_ref().map(GridId::as_str),
            &after.map(|a| a.to_string()),
            &i64::from(limit),
        ],
    )
    .await?;
    let mut page = ExportPage::default();
    let (mut looked, mut bytes, mut full) = (0, 0, false);
    for row in &rows {
        let record = parse_record(row.try_get(0)?)?;
        looked += 1;
        // The size the SQLite backend stores (compact JSON), not jsonb's
        // text, so pages break at the same records on both backends.
        bytes += serde_json::to_string(&record)?.len();
        page.next = Some(record.id);
        // Device times are compared as times, not as text.
        let in_range = q.created_from.is_none_or(|t| record.created_at >= t)
            && q.created_before.is_none_or(|t| record.created_at < t);
        if in_range {
            page.records.push(record);
        }
        if looked >= limit || bytes >= max_bytes {
            full = true;
            break;
        }
    }
    if !full {
        page.next = None;
    }
    Ok(page)
}

pub(crate) async fn insert_audit(c: &impl GenericClient, e: &NewAudit) -> Result<u64, Error> {
    let row = query_one(
        c,
        "INSERT INTO audit_log (at, user_id, badge, name, station_id, action, target, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            &stored_time(e.at),
            &e.user.to_string(),
            &e.badge,
            &e.name,
            &e.station.as_str(),
            &e.action,
            &e.target,
            &serde_json::to_string(&e.detail)?,
        ],
    )
    .await?;
    count(&row, 0)
}

pub(crate) async fn append_audit(c: &Client, e: &NewAudit) -> Result<u64, Error> {
    insert_audit(c, e).await
}

/// Audit entries, newest first, and how many match: one statement.
pub(crate) async fn audit_log(c: &Client, q: &AuditQuery) -> Result<(Vec<AuditEntry>, u64), Error> {
    let filter =
        "($1::text IS NULL OR station_id = $1::text) AND ($2::text IS NULL OR action = $2::text)";
    let sql = format!(
        "SELECT t.total, p.id, p.at, p.user_id, p.badge, p.name, p.station_id, p.action, p.target,
                p.detail
         FROM (SELECT COUNT(*) AS total FROM audit_log WHERE {filter}) t
         LEFT JOIN LATERAL (
             SELECT * FROM audit_log WHERE {filter} ORDER BY id DESC LIMIT $3 OFFSET $4
         ) p ON TRUE
         ORDER BY p.id DESC"
    );
    let rows = query(
        c,
        &sql,
        &[
            &q.station.as_ref().map(StationId::as_str),
            &q.action,
            &i64::from(q.limit),
            &i64::from(q.offset),
        ],
    )
    .await?;
    let mut total = 0;
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        total = count(row, 0)?;
        let Some(id) = row.try_get::<_, Option<i64>>(1)? else {
            continue; // a page past the end: the count alone
        };
        entries.push(AuditEntry {
            id: id as u64,
            entry: NewAudit {
                at: parse_time(row.try_get(2)?)?,
                user: parse_id(row.try_get(3)?)?,
                badge: row.try_get(4)?,
                name: row.try_get(5)?,
                station: StationId(row.try_get(6)?),
                action: row.try_get(7)?,
                target: row.try_get(8)?,
                detail: serde_json::from_str(row.try_get(9)?)?,
            },
        });
    }
    Ok((entries, total))
}

pub(crate) async fn create_web_session(c: &mut Client, s: &NewWebSession) -> Result<(), Error> {
    let tx = c.transaction().await?;
    execute(
        &tx,
        "DELETE FROM web_sessions WHERE expires_at < $1",
        &[&stored_time(s.created_at)],
    )
    .await?;
    execute(
        &tx,
        "INSERT INTO web_sessions (id_hash, user_id, created_at, expires_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $3)",
        &[
            &&s.id_hash[..],
            &s.user.to_string(),
            &stored_time(s.created_at),
            &stored_time(s.expires_at),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn web_session(
    c: &Client,
    id_hash: [u8; 32],
) -> Result<Option<WebSession>, Error> {
    let sql = format!(
        "SELECT s.created_at, s.expires_at, s.last_seen_at, {ACCOUNT_COLUMNS}
         FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1"
    );
    query_opt(c, &sql, &[&&id_hash[..]])
        .await?
        .map(|row| {
            let (user, _, disabled) = account(&row, 3)?;
            Ok(WebSession {
                user,
                disabled,
                created_at: parse_time(row.try_get(0)?)?,
                expires_at: parse_time(row.try_get(1)?)?,
                last_seen_at: parse_time(row.try_get(2)?)?,
            })
        })
        .transpose()
}

pub(crate) async fn touch_web_session(
    c: &Client,
    id_hash: [u8; 32],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    execute(
        c,
        "UPDATE web_sessions SET last_seen_at = $1 WHERE id_hash = $2",
        &[&stored_time(now), &&id_hash[..]],
    )
    .await?;
    Ok(())
}

pub(crate) async fn end_web_session(c: &Client, id_hash: [u8; 32]) -> Result<(), Error> {
    execute(
        c,
        "DELETE FROM web_sessions WHERE id_hash = $1",
        &[&&id_hash[..]],
    )
    .await?;
    Ok(())
}
