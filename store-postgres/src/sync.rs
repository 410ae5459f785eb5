//! Forms, pushes, review decisions and batches: the writes that append to
//! the change log. Each is one transaction: record locks first, then the
//! reads and decisions, then the writes, and the log items last (see the
//! crate docs).

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{BatchId, ChangeId, RecordId, Sha256};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, Review};
use beatbook_store::{BatchSummary, Decider, Decision, Pusher};
use deadpool_postgres::Client;

use crate::blobs::existing_for;
use crate::error::Error;
use crate::log::LogTail;
use crate::records::{load_record, lock_records, write_record};
use crate::sql::{count, execute, parse_id, parse_time, query, query_opt};

pub(crate) async fn publish_form(c: &mut Client, def: &FormDef) -> Result<bool, Error> {
    let tx = c.transaction().await?;
    let json = serde_json::to_string(def)?;
    let new = execute(
        &tx,
        "INSERT INTO forms (form_id, version, definition) VALUES ($1, $2, $3)
         ON CONFLICT (form_id, version) DO NOTHING",
        &[&def.form_id.as_str(), &i64::from(def.version), &json],
    )
    .await?
        == 1;
    if new {
        let mut log = LogTail::default();
        log.form(def.clone());
        log.write(&tx).await?;
    }
    tx.commit().await?;
    Ok(new)
}

pub(crate) async fn forms(c: &Client) -> Result<Vec<FormDef>, Error> {
    let rows = query(
        c,
        "SELECT definition FROM forms ORDER BY form_id, version",
        &[],
    )
    .await?;
    rows.iter()
        .map(|r| Ok(serde_json::from_str(r.try_get(0)?)?))
        .collect()
}

pub(crate) async fn push(
    c: &mut Client,
    pusher: Pusher,
    batch: BatchId,
    changes: Vec<Change>,
    decider: Decider,
) -> Result<Vec<(ChangeId, ChangeOutcome)>, Error> {
    let tx = c.transaction().await?;
    lock_records(&tx, changes.iter().map(|c| c.record_id)).await?;
    let now = pusher.now.to_rfc3339();
    let batch_text = batch.to_string();
    let device = pusher.device.to_string();
    let (mut stored, mut rejected, mut conflicts) = (0i64, 0i64, 0i64);
    let mut log = LogTail::default();
    let mut results = Vec::with_capacity(changes.len());
    for change in &changes {
        let change_id = change.change_id.to_string();
        // Under the record's lock: a replay that another instance is
        // applying right now waits here, then finds its outcome.
        let replay = query_opt(
            &tx,
            "SELECT outcome FROM changes WHERE change_id = $1",
            &[&change_id],
        )
        .await?;
        if let Some(row) = replay {
            results.push((change.change_id, serde_json::from_str(row.try_get(0)?)?));
            continue;
        }
        let hashes: Vec<Sha256> = match &change.op {
            ChangeOp::Upsert { attachments, .. } => attachments.iter().map(|a| a.sha256).collect(),
            ChangeOp::Delete => Vec::new(),
        };
        let existing = existing_for(&tx, change.record_id, &hashes, pusher.device).await?;
        let outcome = match decider(change, &existing) {
            Decision::Write {
                record,
                conflicts: lost,
                outcome,
            } => {
                write_record(&tx, &record).await?;
                for conflict in &lost {
                    execute(
                        &tx,
                        "INSERT INTO conflicts (record_id, revision, change_id, detail)
                         VALUES ($1, $2, $3, $4)",
                        &[
                            &record.id.to_string(),
                            &(record.revision as i64),
                            &change_id,
                            &serde_json::to_string(conflict)?,
                        ],
                    )
                    .await?;
                }
                log.version(*record, Some(change.change_id), Some(batch));
                stored += 1;
                conflicts += i64::from(!lost.is_empty());
                outcome
            }
            Decision::Answer(outcome) => {
                rejected += i64::from(matches!(outcome, ChangeOutcome::Rejected { .. }));
                outcome
            }
            Decision::Defer(outcome) => {
                results.push((change.change_id, outcome));
                continue;
            }
        };
        execute(
            &tx,
            "INSERT INTO changes (change_id, batch_id, record_id, device_id, outcome, received_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &change_id,
                &batch_text,
                &change.record_id.to_string(),
                &device,
                &serde_json::to_string(&outcome)?,
                &now,
            ],
        )
        .await?;
        results.push((change.change_id, outcome));
    }
    if stored + rejected > 0 {
        execute(
            &tx,
            "INSERT INTO batches (id, device_id, user_id, received_at, stored, rejected, conflicts)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET stored = batches.stored + excluded.stored,
                 rejected = batches.rejected + excluded.rejected,
                 conflicts = batches.conflicts + excluded.conflicts",
            &[
                &batch_text,
                &device,
                &pusher.user.id.to_string(),
                &now,
                &stored,
                &rejected,
                &conflicts,
            ],
        )
        .await?;
    }
    execute(
        &tx,
        "UPDATE devices SET last_seen_at = $1 WHERE id = $2",
        &[&now, &device],
    )
    .await?;
    log.write(&tx).await?;
    tx.commit().await?;
    Ok(results)
}

pub(crate) async fn review(
    c: &mut Client,
    id: RecordId,
    review: Review,
) -> Result<Option<u64>, Error> {
    let tx = c.transaction().await?;
    lock_records(&tx, [id]).await?;
    let Some(record) = load_record(&tx, id).await? else {
        return Ok(None);
    };
    let record = record.reviewed(review);
    let revision = record.revision;
    write_record(&tx, &record).await?;
    let mut log = LogTail::default();
    log.version(record, None, None);
    log.write(&tx).await?;
    tx.commit().await?;
    Ok(Some(revision))
}

pub(crate) async fn batches(c: &Client, limit: u32) -> Result<Vec<BatchSummary>, Error> {
    let rows = query(
        c,
        "SELECT id, device_id, user_id, received_at, stored, rejected, conflicts FROM batches
         ORDER BY received_at DESC, id DESC LIMIT $1",
        &[&i64::from(limit)],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BatchSummary {
                id: parse_id(r.try_get(0)?)?,
                device: parse_id(r.try_get(1)?)?,
                user: parse_id(r.try_get(2)?)?,
                received_at: parse_time(r.try_get(3)?)?,
                stored: count(r, 4)?,
                rejected: count(r, 5)?,
                conflicts: count(r, 6)?,
            })
        })
        .collect()
}
