//! The SQLite side of the review pages (see [`beatbook_store::BatchFilter`] and its neighbours).
//!
//! A batch's records are the record versions it wrote; a record counts for
//! the batch's review until a later batch edits it again ("superseded": it
//! is reviewed there). Review decisions and other server-side edits write
//! versions that belong to no batch.

use std::collections::{BTreeMap, HashMap};

use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, GridId, RecordId, StationId};
use beatbook_store::stored_time;
use chrono::{DateTime, Utc};
use rusqlite::{named_params, params, Connection, OptionalExtension};

use super::{
    load_record, parse_time, parse_uuid, scope_json, user_info, write_version, Error, RowKeys,
};
use beatbook_store::{
    AuditEntry, AuditQuery, BatchEntry, BatchFilter, BatchPage, BatchRow, BatchStatus,
    BatchSummary, ConflictEntry, EditAudit, EditOutcome, ExportPage, ExportQuery, HazardCounts,
    HazardQuery, NewAudit, NewWebSession, ReadScope, RecordEdit, ReviewProgress, StoreError,
    StoredRecord, WebSession, Writer,
};

/// A record version `v` (joined with its record `r`) is in the reader's scope.
const IN_SCOPE: &str = "(:scope IS NULL OR r.grid_id IN (SELECT value FROM json_each(:scope)))";

/// Version `v` was edited again by a later batch.
const SUPERSEDED: &str = "EXISTS (SELECT 1 FROM record_versions w WHERE w.record_id = v.record_id
     AND w.revision > v.revision AND w.batch_id IS NOT NULL AND w.batch_id <> v.batch_id)";

fn batch_where() -> String {
    let entry = |cond: &str| {
        format!(
            "EXISTS (SELECT 1 FROM record_versions v JOIN records r ON r.id = v.record_id
                     WHERE v.batch_id = b.id AND {IN_SCOPE} AND {cond})"
        )
    };
    let pending = entry(&format!(
        "r.deleted = 0 AND json_extract(r.state, '$.status') = 'submitted' AND NOT {SUPERSEDED}"
    ));
    format!(
        "(:scope IS NULL OR {any} OR (b.stored = 0 AND EXISTS (SELECT 1 FROM user_grids ug
              WHERE ug.user_id = b.user_id AND ug.grid_id IN (SELECT value FROM json_each(:scope)))))
         AND (:grid IS NULL OR {grid})
         AND (:form IS NULL OR {form})
         AND (:officer IS NULL OR b.user_id = :officer)
         AND (:from IS NULL OR julianday(b.received_at) >= julianday(:from))
         AND (:before IS NULL OR julianday(b.received_at) < julianday(:before))
         AND (:status IS NULL
              OR (:status = 'pending' AND {pending})
              OR (:status = 'reviewed' AND NOT {pending} AND {any})
              OR (:status = 'conflicted' AND b.conflicts > 0)
              OR (:status = 'rejected' AND b.rejected > 0))",
        any = entry("1"),
        grid = entry("r.grid_id = :grid"),
        form = entry("r.form_id = :form"),
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

const BATCH_COLUMNS: &str = "b.id, b.device_id, b.user_id, b.received_at, b.stored, b.rejected,
     b.conflicts, u.name, u.badge, COALESCE(d.name, '')";

fn batch_row(
    c: &Connection,
    row: &rusqlite::Row<'_>,
    scope: &Option<String>,
) -> Result<BatchRow, Error> {
    let id: String = row.get(0)?;
    let summary = BatchSummary {
        id: parse_uuid(&id)?,
        device: parse_uuid(&row.get::<_, String>(1)?)?,
        user: parse_uuid(&row.get::<_, String>(2)?)?,
        received_at: parse_time(&row.get::<_, String>(3)?)?,
        stored: row.get::<_, i64>(4)? as u64,
        rejected: row.get::<_, i64>(5)? as u64,
        conflicts: row.get::<_, i64>(6)? as u64,
    };
    let (forms, progress) = batch_stats(c, &id, scope)?;
    Ok(BatchRow {
        summary,
        officer: row.get(7)?,
        badge: row.get(8)?,
        device_name: row.get(9)?,
        forms,
        progress,
    })
}

/// Records per form and review progress of one batch, within scope.
fn batch_stats(
    c: &Connection,
    batch: &str,
    scope: &Option<String>,
) -> Result<(BTreeMap<String, u64>, ReviewProgress), Error> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT v.record_id, v.revision, r.form_id, r.deleted, json_extract(r.state, '$.status'), {SUPERSEDED}
         FROM record_versions v JOIN records r ON r.id = v.record_id
         WHERE v.batch_id = :batch AND {IN_SCOPE}"
    ))?;
    // The batch's last version of each record decides.
    let mut latest: HashMap<String, (i64, String, bool, Option<String>, bool)> = HashMap::new();
    let mut rows = stmt.query(named_params! {":batch": batch, ":scope": scope})?;
    while let Some(row) = rows.next()? {
        let record: String = row.get(0)?;
        let revision: i64 = row.get(1)?;
        let entry = (revision, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?);
        match latest.get(&record) {
            Some(seen) if seen.0 >= revision => {}
            _ => {
                latest.insert(record, entry);
            }
        }
    }
    let mut forms = BTreeMap::new();
    let mut progress = ReviewProgress::default();
    for (_, form, deleted, status, superseded) in latest.into_values() {
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
    Ok((forms, progress))
}

pub(super) fn batch_page(c: &Connection, f: &BatchFilter) -> Result<BatchPage, Error> {
    let scope = scope_json(&f.scope);
    let where_ = batch_where();
    let grid = f.grid.as_ref().map(|g| g.as_str().to_owned());
    let form = f.form.as_ref().map(|g| g.as_str().to_owned());
    let officer = f.officer.map(|u| u.to_string());
    let from = f.received_from.map(stored_time);
    let before = f.received_before.map(stored_time);
    let status = f.status.map(status_word);
    let total: i64 = c
        .prepare(&format!("SELECT COUNT(*) FROM batches b WHERE {where_}"))?
        .query_row(
            named_params! {":scope": scope, ":grid": grid, ":form": form, ":officer": officer,
            ":from": from, ":before": before, ":status": status},
            |r| r.get(0),
        )?;
    let mut stmt = c.prepare(&format!(
        "SELECT {BATCH_COLUMNS} FROM batches b JOIN users u ON u.id = b.user_id
         LEFT JOIN devices d ON d.id = b.device_id
         WHERE {where_} ORDER BY b.received_at DESC, b.id DESC LIMIT :limit OFFSET :offset"
    ))?;
    let mut rows = stmt.query(
        named_params! {":scope": scope, ":grid": grid, ":form": form,
        ":officer": officer, ":from": from, ":before": before, ":status": status,
        ":limit": f.limit, ":offset": f.offset},
    )?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(batch_row(c, row, &scope)?);
    }
    Ok(BatchPage {
        rows: out,
        total: total as u64,
    })
}

pub(super) fn batch_row_by_id(
    c: &Connection,
    id: BatchId,
    scope: &ReadScope,
) -> Result<Option<BatchRow>, Error> {
    let scope = scope_json(scope);
    let where_ = batch_where();
    let mut stmt = c.prepare(&format!(
        "SELECT {BATCH_COLUMNS} FROM batches b JOIN users u ON u.id = b.user_id
         LEFT JOIN devices d ON d.id = b.device_id
         WHERE b.id = :id AND {where_}"
    ))?;
    let none: Option<String> = None;
    let mut rows = stmt.query(named_params! {":id": id.to_string(), ":scope": scope,
    ":grid": none, ":form": none, ":officer": none, ":from": none, ":before": none,
    ":status": none})?;
    match rows.next()? {
        Some(row) => Ok(Some(batch_row(c, row, &scope)?)),
        None => Ok(None),
    }
}

pub(super) fn batch_entries(
    c: &Connection,
    id: BatchId,
    scope: &ReadScope,
) -> Result<Vec<BatchEntry>, Error> {
    let scope = scope_json(scope);
    let batch = id.to_string();
    let written: Vec<(String, i64)> = c
        .prepare(&format!(
            "SELECT v.record_id, MAX(v.revision) FROM record_versions v JOIN records r ON r.id = v.record_id
             WHERE v.batch_id = :batch AND {IN_SCOPE}
             GROUP BY v.record_id ORDER BY MIN(v.cursor)"
        ))?
        .query_map(named_params! {":batch": batch, ":scope": scope}, |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut outcome = c.prepare_cached(
        "SELECT c.outcome FROM record_versions v JOIN changes c ON c.change_id = v.change_id
         WHERE v.record_id = ?1 AND v.revision = ?2",
    )?;
    let mut later = c.prepare_cached(
        "SELECT batch_id FROM record_versions WHERE record_id = ?1 AND revision > ?2
         AND batch_id IS NOT NULL AND batch_id <> ?3 ORDER BY revision DESC LIMIT 1",
    )?;
    let mut out = Vec::with_capacity(written.len());
    for (record_id, revision) in written {
        let Some(record) = load_record(c, parse_uuid(&record_id)?)? else {
            continue;
        };
        let outcome: Option<String> = outcome
            .query_row(params![record_id, revision], |r| r.get(0))
            .optional()?;
        let superseded_by: Option<String> = later
            .query_row(params![record_id, revision, batch], |r| r.get(0))
            .optional()?;
        out.push(BatchEntry {
            record,
            written_revision: revision as u64,
            outcome: outcome.map(|o| serde_json::from_str(&o)).transpose()?,
            superseded_by: superseded_by.as_deref().map(parse_uuid).transpose()?,
        });
    }
    Ok(out)
}

pub(super) fn record_batches(
    c: &Connection,
    id: RecordId,
) -> Result<BTreeMap<u64, BatchId>, Error> {
    let rows: Vec<(i64, String)> = c
        .prepare_cached(
            "SELECT revision, batch_id FROM record_versions WHERE record_id = ?1 AND batch_id IS NOT NULL",
        )?
        .query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(rev, b)| Ok((rev as u64, parse_uuid(&b)?)))
        .collect()
}

fn writer(c: &Connection, device: DeviceId) -> Result<Option<Writer>, Error> {
    Ok(c.prepare_cached(
        "SELECT u.name, u.badge, d.name FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1",
    )?
    .query_row([device.to_string()], |r| {
        Ok(Writer {
            name: r.get(0)?,
            badge: r.get(1)?,
            device_name: r.get(2)?,
        })
    })
    .optional()?)
}

pub(super) fn record_conflicts(c: &Connection, id: RecordId) -> Result<Vec<ConflictEntry>, Error> {
    let rows: Vec<(i64, String, String)> = c
        .prepare_cached(
            "SELECT revision, change_id, detail FROM conflicts WHERE record_id = ?1 ORDER BY id",
        )?
        .query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(revision, change, detail)| {
            let conflict: beatbook_schema::merge::FieldConflict = serde_json::from_str(&detail)?;
            Ok(ConflictEntry {
                revision: revision as u64,
                change_id: parse_uuid::<ChangeId>(&change)?,
                winner: writer(c, conflict.winner.device)?,
                loser: writer(c, conflict.loser.device)?,
                conflict,
            })
        })
        .collect()
}

pub(super) fn edit_records(
    c: &mut Connection,
    ids: Vec<RecordId>,
    mut edit: RecordEdit,
    audit: EditAudit,
) -> Result<Vec<(RecordId, EditOutcome)>, Error> {
    let tx = c.transaction()?;
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let outcome = match load_record(&tx, id)? {
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
                    let revision = next.revision;
                    write_version(&tx, next, Some(&RowKeys::of(&current)), None, None)?;
                    EditOutcome::Written { revision }
                }
                Err(refusal) => EditOutcome::Refused(refusal),
            },
        };
        results.push((id, outcome));
    }
    if let Some(entry) = audit(&results) {
        insert_audit(&tx, &entry)?;
    }
    tx.commit()?;
    Ok(results)
}

const HAZARD_STATUS: &str = "json_extract(r.state, '$.fields.status.value')";
const HAZARD_OVERDUE: &str =
    "(json_extract(r.state, '$.fields.status.value') IN ('open', 'rectifying')
     AND json_extract(r.state, '$.fields.deadline.value') < :today)";

pub(super) fn hazards(c: &Connection, q: &HazardQuery) -> Result<Vec<StoredRecord>, Error> {
    let mut stmt = c.prepare(&format!(
        "SELECT r.state FROM records r
         WHERE r.form_id = 'hazard' AND r.deleted = 0 AND {IN_SCOPE}
           AND (:grid IS NULL OR r.grid_id = :grid)
           AND (:status IS NULL OR {HAZARD_STATUS} = :status)
         ORDER BY CASE WHEN {HAZARD_OVERDUE} THEN 0 ELSE 1 END,
                  COALESCE(json_extract(r.state, '$.fields.deadline.value'), '9999-12-31'), r.id
         LIMIT :limit"
    ))?;
    let rows = stmt.query_map(
        named_params! {":scope": scope_json(&q.scope), ":grid": q.grid.as_ref().map(GridId::as_str),
        ":status": q.status, ":today": q.today, ":limit": q.limit},
        |r| r.get::<_, String>(0),
    )?;
    rows.map(|s| Ok(serde_json::from_str(&s?)?)).collect()
}

pub(super) fn hazard_counts(
    c: &Connection,
    scope: &ReadScope,
    grid: Option<&GridId>,
    today: &str,
) -> Result<HazardCounts, Error> {
    let mut stmt = c.prepare(&format!(
        "SELECT COALESCE({HAZARD_STATUS}, ''), COUNT(*), SUM(CASE WHEN {HAZARD_OVERDUE} THEN 1 ELSE 0 END)
         FROM records r
         WHERE r.form_id = 'hazard' AND r.deleted = 0 AND {IN_SCOPE}
           AND (:grid IS NULL OR r.grid_id = :grid)
         GROUP BY 1"
    ))?;
    let mut counts = HazardCounts::default();
    let mut rows = stmt.query(named_params! {":scope": scope_json(scope),
    ":grid": grid.map(GridId::as_str), ":today": today})?;
    while let Some(row) = rows.next()? {
        counts
            .by_status
            .insert(row.get(0)?, row.get::<_, i64>(1)? as u64);
        counts.overdue += row.get::<_, i64>(2)? as u64;
    }
    Ok(counts)
}

pub(super) fn export_page(
    c: &Connection,
    q: &ExportQuery,
    after: Option<RecordId>,
    limit: u32,
    max_bytes: usize,
) -> Result<ExportPage, Error> {
    // One statement: one snapshot.
    let mut stmt = c.prepare_cached(&format!(
        "SELECT r.state FROM records r
         WHERE r.form_id = :form AND r.deleted = 0 AND {IN_SCOPE}
           AND (:grid IS NULL OR r.grid_id = :grid)
           AND (:after IS NULL OR r.id > :after)
         ORDER BY r.id LIMIT :limit"
    ))?;
    let mut rows = stmt.query(named_params! {":form": q.form.as_str(),
    ":scope": scope_json(&q.scope), ":grid": q.grid.as_ref().map(GridId::as_str),
    ":after": after.map(|a| a.to_string()), ":limit": limit})?;
    let mut page = ExportPage::default();
    let (mut looked, mut bytes, mut full) = (0, 0, false);
    while let Some(row) = rows.next()? {
        let json: String = row.get(0)?;
        let record: StoredRecord = serde_json::from_str(&json)?;
        looked += 1;
        bytes += json.len();
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

pub(super) fn insert_audit(c: &Connection, e: &NewAudit) -> Result<u64, Error> {
    c.prepare_cached(
        "INSERT INTO audit_log (at, user_id, badge, name, station_id, action, target, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        stored_time(e.at),
        e.user.to_string(),
        e.badge,
        e.name,
        e.station.as_str(),
        e.action,
        e.target,
        serde_json::to_string(&e.detail)?,
    ])?;
    Ok(c.last_insert_rowid() as u64)
}

pub(super) fn append_audit(c: &mut Connection, e: &NewAudit) -> Result<u64, Error> {
    insert_audit(c, e)
}

pub(super) fn audit_log(c: &Connection, q: &AuditQuery) -> Result<(Vec<AuditEntry>, u64), Error> {
    let station = q.station.as_ref().map(StationId::as_str);
    let filter =
        "(:station IS NULL OR station_id = :station) AND (:action IS NULL OR action = :action)";
    let total: i64 = c
        .prepare(&format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"))?
        .query_row(
            named_params! {":station": station, ":action": q.action},
            |r| r.get(0),
        )?;
    let mut stmt = c.prepare(&format!(
        "SELECT id, at, user_id, badge, name, station_id, action, target, detail FROM audit_log
         WHERE {filter} ORDER BY id DESC LIMIT :limit OFFSET :offset"
    ))?;
    let rows = stmt.query_map(
        named_params! {":station": station, ":action": q.action, ":limit": q.limit, ":offset": q.offset},
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
            ))
        },
    )?;
    let entries = rows
        .map(|row| {
            let (id, at, user, badge, name, station, action, target, detail) = row?;
            Ok(AuditEntry {
                id: id as u64,
                entry: NewAudit {
                    at: parse_time(&at)?,
                    user: parse_uuid(&user)?,
                    badge,
                    name,
                    station: StationId(station),
                    action,
                    target,
                    detail: serde_json::from_str(&detail)?,
                },
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok((entries, total as u64))
}

pub(super) fn create_web_session(c: &mut Connection, s: &NewWebSession) -> Result<(), Error> {
    let tx = c.transaction()?;
    tx.execute(
        "DELETE FROM web_sessions WHERE expires_at < ?1",
        [stored_time(s.created_at)],
    )?;
    tx.execute(
        "INSERT INTO web_sessions (id_hash, user_id, created_at, expires_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?3)",
        params![
            &s.id_hash[..],
            s.user.to_string(),
            stored_time(s.created_at),
            stored_time(s.expires_at)
        ],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn web_session(c: &Connection, id_hash: [u8; 32]) -> Result<Option<WebSession>, Error> {
    let row: Option<(String, String, String, String)> = c
        .prepare_cached(
            "SELECT user_id, created_at, expires_at, last_seen_at FROM web_sessions WHERE id_hash = ?1",
        )?
        .query_row([&id_hash[..]], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    row.map(|(user, created, expires, seen)| {
        let (user, _, disabled) = user_info(c, &user)?;
        Ok(WebSession {
            user,
            disabled,
            created_at: parse_time(&created)?,
            expires_at: parse_time(&expires)?,
            last_seen_at: parse_time(&seen)?,
        })
    })
    .transpose()
}

pub(super) fn touch_web_session(
    c: &mut Connection,
    id_hash: [u8; 32],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    c.execute(
        "UPDATE web_sessions SET last_seen_at = ?1 WHERE id_hash = ?2",
        params![stored_time(now), &id_hash[..]],
    )?;
    Ok(())
}

pub(super) fn end_web_session(c: &mut Connection, id_hash: [u8; 32]) -> Result<(), Error> {
    c.execute(
        "DELETE FROM web_sessions WHERE id_hash = ?1",
        [&id_hash[..]],
    )?;
    Ok(())
}
