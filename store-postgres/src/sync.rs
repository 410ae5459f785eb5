//! Forms, pushes, review decisions and batches: the writes that append to
//! the change log. Each is one transaction: record locks first, then the
//! reads and decisions, then the writes, and the log items last (see the
//! crate docs).

use std::collections::HashMap;

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{BatchId, ChangeId, RecordId, Sha256};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, Review};
use beatbook_store::{BatchSummary, Decider, Decision, Pusher};
use deadpool_postgres::{Client, GenericClient};

use crate::blobs::existing_for;
use crate::error::Error;
use crate::log::LogTail;
use crate::records::{load_record, load_records, lock_records, write_record};
use crate::sql::{count, execute, parse_id, parse_time, query, query_one};

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

/// How many form versions are published.
pub(crate) async fn forms_published(c: &Client) -> Result<u64, Error> {
    count(&query_one(c, "SELECT count(*) FROM forms", &[]).await?, 0)
}

/// A push in one transaction. Round trips per change are few: the records'
/// locks, the replay lookup and the records' states are each one statement
/// for the whole push (after the locks, so a replay another instance is
/// applying right now is seen once it commits), and the changes' answers
/// are inserted together at the end; what a change writes is seen by the
/// later changes of the same push through `records` and `seen`.
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
    let change_ids: Vec<String> = changes.iter().map(|c| c.change_id.to_string()).collect();
    let mut seen: HashMap<String, ChangeOutcome> = HashMap::new();
    for row in query(
        &tx,
        "SELECT change_id, outcome FROM changes WHERE change_id = ANY($1::text[])",
        &[&change_ids],
    )
    .await?
    {
        seen.insert(row.try_get(0)?, serde_json::from_str(row.try_get(1)?)?);
    }
    let mut records = load_records(&tx, changes.iter().map(|c| c.record_id)).await?;
    let (mut stored, mut rejected, mut conflicts) = (0i64, 0i64, 0i64);
    let mut log = LogTail::default();
    let mut answered = Answered::default();
    let mut results = Vec::with_capacity(changes.len());
    for (change, change_id) in changes.iter().zip(change_ids) {
        if let Some(outcome) = seen.get(&change_id) {
            results.push((change.change_id, outcome.clone()));
            continue;
        }
        let hashes: Vec<Sha256> = match &change.op {
            ChangeOp::Upsert { attachments, .. } => attachments.iter().map(|a| a.sha256).collect(),
            ChangeOp::Delete => Vec::new(),
        };
        let record = records.get(&change.record_id).cloned();
        let existing = existing_for(&tx, record, &hashes, pusher.device).await?;
        let outcome = match decider.decide(change, &existing) {
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
                records.insert(record.id, (*record).clone());
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
        answered.push(&change_id, change, &outcome)?;
        seen.insert(change_id, outcome.clone());
        results.push((change.change_id, outcome));
    }
    answered.write(&tx, &batch_text, &device, &now).await?;
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

/// The `changes` rows of a push (exactly once: each decided change with its
/// answer), column by column, inserted in one statement.
#[derive(Default)]
struct Answered {
    change_ids: Vec<String>,
    record_ids: Vec<String>,
    outcomes: Vec<String>,
}

impl Answered {
    fn push(
        &mut self,
        change_id: &str,
        change: &Change,
        outcome: &ChangeOutcome,
    ) -> Result<(), Error> {
        self.change_ids.push(change_id.to_owned());
        self.record_ids.push(change.record_id.to_string());
        self.outcomes.push(serde_json::to_string(outcome)?);
        Ok(())
    }

    async fn write(
        self,
        tx: &impl GenericClient,
        batch: &str,
        device: &str,
        now: &str,
    ) -> Result<(), Error> {
        if self.change_ids.is_empty() {
            return Ok(());
        }
        execute(
            tx,
            "INSERT INTO changes (change_id, batch_id, record_id, device_id, outcome, received_at)
             SELECT c, $2, r, $3, o, $4 FROM unnest($1::text[], $5::text[], $6::text[]) AS t (c, r, o)",
            &[
                &self.change_ids,
                &batch,
                &device,
                &now,
                &self.record_ids,
                &self.outcomes,
            ],
        )
        .await?;
        Ok(())
    }
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
