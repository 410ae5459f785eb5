//! One push applied inside the writer's transaction: each change answered
//! from storage if it was seen before, else decided and written; then the
//! batch counted and the device marked seen. Committing is the caller's
//! ([`crate::group`] commits several pushes at once).

use beatbook_schema::ids::{BatchId, ChangeId, Sha256};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome};
use beatbook_store::{Decider, Decision, Pusher};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::{existing_for, load_row_keys, write_version, Error, RowKeys};

/// A push waiting for the writer.
pub(crate) struct Push {
    pub(crate) pusher: Pusher,
    pub(crate) batch: BatchId,
    pub(crate) changes: Vec<Change>,
    pub(crate) decider: Decider,
}

/// Applies `push` in `tx`: one outcome per change, in order.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    push: &Push,
) -> Result<Vec<(ChangeId, ChangeOutcome)>, Error> {
    let Push {
        pusher,
        batch,
        changes,
        decider,
    } = push;
    let now = pusher.now.to_rfc3339();
    let batch_text = batch.to_string();
    let device = pusher.device.to_string();
    let (mut stored, mut rejected, mut conflicts) = (0i64, 0i64, 0i64);
    let mut results = Vec::with_capacity(changes.len());
    for change in changes {
        let change_id = change.change_id.to_string();
        let replay: Option<String> = tx
            .prepare_cached("SELECT outcome FROM changes WHERE change_id = ?1")?
            .query_row([&change_id], |r| r.get(0))
            .optional()?;
        if let Some(outcome) = replay {
            results.push((change.change_id, serde_json::from_str(&outcome)?));
            continue;
        }
        let hashes: Vec<Sha256> = match &change.op {
            ChangeOp::Upsert { attachments, .. } => attachments.iter().map(|a| a.sha256).collect(),
            ChangeOp::Delete => Vec::new(),
        };
        let (prior, decision) = match decided_ahead(tx, decider, change, &hashes)? {
            Some(taken) => taken,
            None => {
                let existing = existing_for(tx, change.record_id, &hashes, pusher.device)?;
                let prior = existing.record.as_ref().map(RowKeys::of);
                (prior, decider.decide(change, &existing))
            }
        };
        let outcome = match decision {
            Decision::Write {
                record,
                conflicts: lost,
                outcome,
            } => {
                let (id, revision) = (record.id.to_string(), record.revision as i64);
                write_version(
                    tx,
                    *record,
                    prior.as_ref(),
                    Some(change.change_id),
                    Some(*batch),
                )?;
                for conflict in &lost {
                    tx.prepare_cached(
                        "INSERT INTO conflicts (record_id, revision, change_id, detail) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        id,
                        revision,
                        change_id,
                        serde_json::to_string(conflict)?
                    ])?;
                }
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
        tx.prepare_cached(
            "INSERT INTO changes (change_id, batch_id, record_id, device_id, outcome, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            change_id,
            batch_text,
            change.record_id.to_string(),
            device,
            serde_json::to_string(&outcome)?,
            now,
        ])?;
        results.push((change.change_id, outcome));
    }
    if stored + rejected > 0 {
        tx.prepare_cached(
            "INSERT INTO batches (id, device_id, user_id, received_at, stored, rejected, conflicts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET stored = stored + excluded.stored, rejected = rejected + excluded.rejected,
                 conflicts = conflicts + excluded.conflicts",
        )?
        .execute(params![batch_text, device, pusher.user.id.to_string(), now, stored, rejected, conflicts])?;
    }
    tx.prepare_cached("UPDATE devices SET last_seen_at = ?1 WHERE id = ?2")?
        .execute(params![now, device])?;
    Ok(results)
}

/// The decision made ahead for `change`, if the record stands at the
/// revision it was made on, with the row's indexed columns: read without
/// parsing the record's state. Only changes that attach nothing are decided
/// ahead (their input is the record alone).
fn decided_ahead(
    tx: &Transaction<'_>,
    decider: &Decider,
    change: &Change,
    hashes: &[Sha256],
) -> Result<Option<(Option<RowKeys>, Decision)>, Error> {
    if !hashes.is_empty() || !decider.has_ahead(change.change_id) {
        return Ok(None);
    }
    let row = load_row_keys(tx, change.record_id)?;
    let revision = row.as_ref().map(|(revision, _)| *revision);
    Ok(decider
        .take_ahead(change.change_id, revision)
        .map(|decision| (row.map(|(_, keys)| keys), decision)))
}
