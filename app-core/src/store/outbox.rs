//! Finalizing records into the outbox, batching them for a push, and
//! recording the server's answers.

use std::collections::HashMap;

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::Values;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, ChangeResult};
use beatbook_schema::record::AttachmentRef;
use chrono::Utc;
use rusqlite::{params, Transaction};
use serde_json::value::RawValue;
use serde_json::Value as Json;

use super::records::{get_record, LocalRecord, LocalState, Rejection};
use super::{LocalStore, LocalStoreError};
use crate::tasks::{self, Task};

/// How big one push may be.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most changes.
    pub max_changes: usize,
    /// Most bytes of change JSON (before compression).
    pub max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_changes: 500,
            max_bytes: 2 * 1024 * 1024,
        }
    }
}

/// A batch ready to push. Its id and changes are persisted before it is sent,
/// so a retry after any failure resends the very same batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Batch id.
    pub id: BatchId,
    /// Changes, in outbox order.
    pub changes: Vec<QueuedChange>,
}

/// A change as the outbox holds it: sent as the JSON stored when it was
/// made, and parsed only where its content is needed (see `apply_push`).
#[derive(Debug, Clone)]
pub struct QueuedChange {
    /// The change.
    pub change_id: ChangeId,
    /// Its record.
    pub record_id: RecordId,
    /// Made while no other change of its record waited.
    sole: bool,
    json: Box<RawValue>,
}

impl QueuedChange {
    /// From an outbox row: `change_id, record_id, sole, change`.
    fn read(row: &rusqlite::Row<'_>) -> Result<Self, LocalStoreError> {
        let corrupt = |what: &str| {
            LocalStoreError::Corrupt(serde::de::Error::custom(format!(
                "an outbox row's {what} does not read: the outbox is damaged"
            )))
        };
        Ok(Self {
            change_id: row
                .get::<_, String>(0)?
                .parse()
                .map_err(|_| corrupt("change id"))?,
            record_id: row
                .get::<_, String>(1)?
                .parse()
                .map_err(|_| corrupt("record id"))?,
            sole: row.get(2)?,
            json: RawValue::from_string(row.get(3)?)?,
        })
    }

    /// The change, parsed.
    pub fn change(&self) -> Result<Change, LocalStoreError> {
        Ok(serde_json::from_str(self.json.get())?)
    }
}

impl serde::Serialize for QueuedChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

/// The fields that differ between `base` and `values` (`null` for a removed one).
pub fn patch(base: &Values, values: &Values) -> Values {
    let mut out = Values::new();
    for (k, v) in values {
        if base.get(k) != Some(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    for k in base.keys() {
        if !values.contains_key(k) {
            out.insert(k.clone(), Json::Null);
        }
    }
    out
}

/// `base` with `patch` applied (a `null` in the patch removes the field), as
/// stored JSON, serialized from both maps without copying either.
fn patched(base: &Values, patch: &Values) -> Result<String, serde_json::Error> {
    struct Patched<'a>(&'a Values, &'a Values);
    impl serde::Serialize for Patched<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let Patched(base, patch) = self;
            let kept = base.iter().filter(|(k, _)| !patch.contains_key(*k));
            let set = patch.iter().filter(|(_, v)| !v.is_null());
            s.collect_map(kept.chain(set))
        }
    }
    serde_json::to_string(&Patched(base, patch))
}

fn base_vals_text(tx: &Transaction<'_>, id: RecordId) -> Result<String, LocalStoreError> {
    Ok(tx
        .prepare_cached(concat!(
            "SELECT ",
            base_vals!(),
            " FROM records WHERE id = ?1"
        ))?
        .query_row([id.to_string()], |r| r.get(0))?)
}

fn base_vals(tx: &Transaction<'_>, id: RecordId) -> Result<Values, LocalStoreError> {
    Ok(serde_json::from_str(&base_vals_text(tx, id)?)?)
}

/// Puts a change of `record` into the outbox, stamped with this device's clock.
fn enqueue(
    tx: &Transaction<'_>,
    record: &LocalRecord,
    op: ChangeOp,
    device: DeviceId,
) -> Result<ChangeId, LocalStoreError> {
    let change = Change {
        change_id: ChangeId::new_v7(),
        record_id: record.id,
        form_id: record.form_id.clone(),
        form_version: record.form_version,
        grid: record.grid.clone(),
        base_revision: record.base_revision,
        hlc: LocalStore::next_hlc(tx, device)?,
        at: Utc::now(),
        op,
    };
    tx.prepare_cached(
        "INSERT INTO outbox (change_id, record_id, change, created_at, sole)
         VALUES (?1, ?2, ?3, ?4, NOT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?2))",
    )?
    .execute(params![
        change.change_id.to_string(),
        record.id.to_string(),
        serde_json::to_string(&change)?,
        change.at.to_rfc3339()
    ])?;
    Ok(change.change_id)
}

/// Marks done, in `tx`, every open task assigned to `badge` that saving
/// `record` with `values` completes, each change queued for the server.
fn complete_tasks(
    tx: &Transaction<'_>,
    device: DeviceId,
    badge: &str,
    record: &LocalRecord,
    values: &Values,
    now: chrono::DateTime<Utc>,
) -> Result<(), LocalStoreError> {
    if record.form_id.as_str() == form_ids::TASK {
        return Ok(());
    }
    let ids: Vec<String> = tx
        .prepare_cached("SELECT id FROM records WHERE form_id = ?1 AND deleted = 0")?
        .query_map([form_ids::TASK], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        let id: RecordId = id.parse().map_err(|_| {
            LocalStoreError::Corrupt(serde::de::Error::custom(format!(
                "task id {id} is not a record id"
            )))
        })?;
        let Some(task_record) = get_record(tx, id)? else {
            continue;
        };
        let Some(task) = Task::of(task_record.id, &task_record.grid, &task_record.values) else {
            continue;
        };
        if !task.is_open()
            || task.assignee != badge
            || !task.is_completed_by(record.form_id.as_str(), record.id, values)
        {
            continue;
        }
        let done = tasks::completed(&task_record.values, record.id, now);
        let op = ChangeOp::Upsert {
            fields: patch(&base_vals(tx, id)?, &done),
            attachments: task_record.attachments.clone(),
        };
        enqueue(tx, &task_record, op, device)?;
        tx.prepare_cached(concat!(
            "UPDATE records SET vals = ?1, base_vals = ",
            base_kept!(),
            ", state = ?2, problem = NULL, updated_at = ?3 WHERE id = ?4"
        ))?
        .execute(params![
            serde_json::to_string(&done)?,
            LocalState::Queued.as_str(),
            now.to_rfc3339(),
            id.to_string()
        ])?;
    }
    Ok(())
}

impl LocalStore {
    /// Finalizes a record with its validated values: in one transaction the
    /// record becomes `queued` and its change enters the outbox, and the open
    /// tasks assigned to `officer` (a badge) that the record completes are
    /// marked done, their changes queued after it. Returns the record's
    /// change id, or `None` when nothing differs from what the server has.
    pub fn finalize(
        &mut self,
        id: RecordId,
        values: &Values,
        attachments: &[AttachmentRef],
        officer: Option<&str>,
    ) -> Result<Option<ChangeId>, LocalStoreError> {
        let device = self.device;
        let tx = self.conn.transaction()?;
        let record =
            get_record(&tx, id)?.ok_or_else(|| LocalStoreError::NoRecord(id.to_string()))?;
        if !record.editable() {
            return Err(LocalStoreError::NotEditable(format!(
                "record {id} can no longer be changed"
            )));
        }
        let fields = patch(&base_vals(&tx, id)?, values);
        let attachments_changed = attachments != record.attachments.as_slice();
        let now = Utc::now();
        let pending: i64 = tx
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE record_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))?;
        let returned = matches!(record.state, LocalState::Returned);
        let change_id =
            if fields.is_empty() && !attachments_changed && record.base_revision > 0 && !returned {
                None
            } else {
                let op = ChangeOp::Upsert {
                    fields,
                    attachments: attachments.to_vec(),
                };
                Some(enqueue(&tx, &record, op, device)?)
            };
        let state = if change_id.is_some() || pending > 0 {
            LocalState::Queued
        } else {
            LocalState::Synced
        };
        tx.prepare_cached(concat!(
            "UPDATE records SET vals = ?1, base_vals = ",
            base_kept!(),
            ", attachments = ?2, state = ?3, problem = NULL, updated_at = ?4 WHERE id = ?5"
        ))?
        .execute(params![
            serde_json::to_string(values)?,
            serde_json::to_string(attachments)?,
            state.as_str(),
            now.to_rfc3339(),
            id.to_string()
        ])?;
        if let Some(badge) = officer {
            complete_tasks(&tx, device, badge, &record, values, now)?;
        }
        tx.commit()?;
        Ok(change_id)
    }

    /// Deletes a record: a tombstone change for the server, or, for a draft
    /// the server never saw and nothing was sent of, simply removes it.
    pub fn delete(&mut self, id: RecordId) -> Result<(), LocalStoreError> {
        let device = self.device;
        let tx = self.conn.transaction()?;
        let record =
            get_record(&tx, id)?.ok_or_else(|| LocalStoreError::NoRecord(id.to_string()))?;
        let pending: i64 = tx
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE record_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))?;
        if record.base_revision == 0 && pending == 0 {
            tx.execute("DELETE FROM records WHERE id = ?1", [id.to_string()])?;
        } else {
            enqueue(&tx, &record, ChangeOp::Delete, device)?;
            tx.execute(
                "UPDATE records SET deleted = 1, state = 'queued' WHERE id = ?1",
                [id.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Discards a draft that was never queued: it goes from the device as if
    /// it had never been started. Anything the server has or may have
    /// (synced, queued, returned, refused, a synced record edited again) is
    /// refused with [`LocalStoreError::NotDiscardable`], and nothing changes.
    pub fn discard_draft(&mut self, id: RecordId) -> Result<(), LocalStoreError> {
        let tx = self.conn.transaction()?;
        let record =
            get_record(&tx, id)?.ok_or_else(|| LocalStoreError::NoRecord(id.to_string()))?;
        let pending: i64 = tx
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE record_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))?;
        if record.state != LocalState::Draft || record.base_revision > 0 || pending > 0 {
            return Err(LocalStoreError::NotDiscardable {
                id: id.to_string(),
                state: record.state,
            });
        }
        tx.execute("DELETE FROM records WHERE id = ?1", [id.to_string()])?;
        tx.commit()?;
        Ok(())
    }

    /// Number of changes waiting in the outbox.
    pub fn outbox_len(&self) -> Result<u64, LocalStoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The batch to push next, while the batches `sending` are on their
    /// way: a batch already made but not acknowledged (e.g. sent before the
    /// app was killed) is resent as it was, oldest first; otherwise the
    /// oldest unbatched changes within `limits` become a new batch, its id
    /// written before anything is sent (a power cut may still lose it: the
    /// changes then go again in a new batch, answered as before). A new
    /// batch leaves out the records of batches in flight, so a record's
    /// changes reach the server in order however the server interleaves
    /// concurrent pushes.
    pub fn next_batch(
        &mut self,
        limits: BatchLimits,
        sending: &[BatchId],
    ) -> Result<Option<Batch>, LocalStoreError> {
        self.losable(|s| s.make_batch(limits, sending))
    }

    fn make_batch(
        &mut self,
        limits: BatchLimits,
        sending: &[BatchId],
    ) -> Result<Option<Batch>, LocalStoreError> {
        let tx = self.conn.transaction()?;
        let made: Vec<String> = tx
            .prepare_cached("SELECT DISTINCT batch_id FROM outbox_batches ORDER BY batch_id")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let sending: Vec<String> = sending.iter().map(ToString::to_string).collect();
        let (batch_id, changes) = match made.into_iter().find(|id| !sending.contains(id)) {
            Some(id) => {
                let changes = tx
                    .prepare_cached(
                        "SELECT o.change_id, o.record_id, o.sole, o.change
                         FROM outbox_batches b JOIN outbox o ON o.seq = b.seq
                         WHERE b.batch_id = ?1 ORDER BY b.seq",
                    )?
                    .query_and_then([&id], QueuedChange::read)?
                    .collect::<Result<_, _>>()?;
                (id, changes)
            }
            None => {
                let id = BatchId::new_v7().to_string();
                let mut seqs = Vec::new();
                let mut changes = Vec::new();
                let mut bytes = 0usize;
                {
                    let mut stmt = tx.prepare_cached(
                        "SELECT o.change_id, o.record_id, o.sole, o.change, o.seq FROM outbox o
                         WHERE NOT EXISTS (SELECT 1 FROM outbox_batches b WHERE b.seq = o.seq)
                           AND NOT EXISTS (SELECT 1 FROM outbox f JOIN outbox_batches fb ON fb.seq = f.seq
                               WHERE f.record_id = o.record_id)
                         ORDER BY o.seq LIMIT ?1",
                    )?;
                    let mut rows = stmt.query([limits.max_changes as i64])?;
                    while let Some(r) = rows.next()? {
                        let change = QueuedChange::read(r)?;
                        let len = change.json.get().len();
                        if !changes.is_empty() && bytes + len > limits.max_bytes {
                            break;
                        }
                        bytes += len;
                        seqs.push(r.get::<_, i64>(4)?);
                        changes.push(change);
                    }
                }
                if changes.is_empty() {
                    return Ok(None);
                }
                let mut mark = tx
                    .prepare_cached("INSERT INTO outbox_batches (seq, batch_id) VALUES (?1, ?2)")?;
                for seq in seqs {
                    mark.execute(params![seq, id])?;
                }
                (id, changes)
            }
        };
        tx.commit()?;
        let id = batch_id
            .parse()
            .map_err(|_| LocalStoreError::Corrupt(serde::de::Error::custom("outbox batch id")))?;
        Ok(Some(Batch { id, changes }))
    }

    /// Records the server's answer to a batch, in one transaction: an
    /// acknowledged change leaves the outbox and advances its record's base;
    /// a refused one leaves too, and its record shows why; a deferred one
    /// (e.g. a photo still uploading) stays for the next push.
    pub fn apply_push(
        &mut self,
        batch: &Batch,
        results: &[ChangeResult],
    ) -> Result<(), LocalStoreError> {
        self.losable(|s| s.freeing_answered(|s| s.record_answers(batch, results)))
    }

    fn record_answers(
        &mut self,
        batch: &Batch,
        results: &[ChangeResult],
    ) -> Result<(), LocalStoreError> {
        let device = self.device;
        let outcomes: HashMap<ChangeId, &ChangeOutcome> =
            results.iter().map(|r| (r.change_id, &r.outcome)).collect();
        let tx = self.conn.transaction()?;
        for change in &batch.changes {
            let Some(&outcome) = outcomes.get(&change.change_id) else {
                continue;
            };
            let id = change.record_id;
            let record = id.to_string();
            match outcome {
                ChangeOutcome::Rejected { code, .. } if code.is_retryable() => continue,
                ChangeOutcome::Rejected {
                    code,
                    message,
                    errors,
                } => {
                    let rejection = Rejection {
                        code: *code,
                        message: message.clone(),
                        errors: errors.clone(),
                    };
                    tx.prepare_cached("UPDATE records SET state = 'rejected', deleted = 0, problem = ?1 WHERE id = ?2")?
                        .execute(params![serde_json::to_string(&rejection)?, record])?;
                    delete_from_outbox(&tx, change.change_id)?;
                }
                outcome => {
                    let revision = outcome.revision().unwrap_or(0);
                    let conflicted = matches!(outcome, ChangeOutcome::Conflicted { .. });
                    if let ChangeOutcome::Conflicted { conflicts, .. } = outcome {
                        for c in conflicts {
                            super::lost::note(&tx, device, id, c)?;
                        }
                    }
                    delete_from_outbox(&tx, change.change_id)?;
                    // The new base is the old one with the change's fields;
                    // the common case needs neither read: a sole change of
                    // a record queued since and not deleted made its values.
                    let base = if change.sole && made_its_values(&tx, id)? {
                        None
                    } else {
                        Some(match change.change()?.op {
                            ChangeOp::Upsert { fields, .. } => {
                                patched(&base_vals(&tx, id)?, &fields)?
                            }
                            ChangeOp::Delete => base_vals_text(&tx, id)?,
                        })
                    };
                    // One write of the row: the new base, and synced when
                    // nothing is left to send for it (unless refused).
                    tx.prepare_cached(
                        "UPDATE records SET base_revision = MAX(base_revision, ?1),
                             base_vals = CASE WHEN ?2 IS NULL OR vals = ?2 THEN '' ELSE ?2 END,
                             conflicted = conflicted OR ?3,
                             state = CASE WHEN state = 'queued'
                                 AND NOT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?4)
                                 THEN 'synced' ELSE state END
                         WHERE id = ?4",
                    )?
                    .execute(params![
                        revision as i64,
                        base,
                        conflicted,
                        record
                    ])?;
                }
            }
            super::pull::release_held(&tx, id)?;
        }
        // Deferred changes go into a fresh batch next time.
        tx.prepare_cached("DELETE FROM outbox_batches WHERE batch_id = ?1")?
            .execute([batch.id.to_string()])?;
        tx.commit()?;
        Ok(())
    }
}

/// Whether the record's values are what its last acknowledged change made:
/// queued (not edited as a draft since), not deleted, and no other change of
/// it waiting.
fn made_its_values(tx: &Transaction<'_>, id: RecordId) -> Result<bool, LocalStoreError> {
    Ok(tx
        .prepare_cached(
            "SELECT state = 'queued' AND deleted = 0
                 AND NOT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?1)
             FROM records WHERE id = ?1",
        )?
        .query_row([id.to_string()], |r| r.get(0))?)
}

fn delete_from_outbox(tx: &Transaction<'_>, change: ChangeId) -> Result<(), LocalStoreError> {
    tx.prepare_cached("DELETE FROM outbox WHERE change_id = ?1")?
        .execute([change.to_string()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use beatbook_schema::ids::{FormId, GridId, UserId};
    use serde_json::json;

    use super::*;
    use crate::keys::PinKeys;

    fn values(v: Json) -> Values {
        v.as_object().cloned().unwrap()
    }

    /// A store with one finalized change per entry of `records` (several
    /// changes of one record when it is named again).
    fn store_with_changes(dir: &std::path::Path, edits: &[usize]) -> (LocalStore, Vec<RecordId>) {
        let mut store = LocalStore::open(dir, "246810", &PinKeys::fast_for_tests()).unwrap();
        let mut ids: Vec<RecordId> = Vec::new();
        for (n, &r) in edits.iter().enumerate() {
            while ids.len() <= r {
                let form = FormId::new("f");
                let id = store
                    .create_draft(
                        (&form, 1),
                        &GridId::new("G1"),
                        UserId::new_v7(),
                        &Values::new(),
                    )
                    .unwrap();
                ids.push(id);
            }
            store
                .finalize(ids[r], &values(json!({"n": n})), &[], None)
                .unwrap()
                .unwrap();
        }
        (store, ids)
    }

    fn records_of(batch: &Batch) -> Vec<RecordId> {
        batch.changes.iter().map(|c| c.record_id).collect()
    }

    #[test]
    fn a_batch_made_while_others_are_in_flight_leaves_their_records_out() {
        let dir = tempfile::tempdir().unwrap();
        // Record 0 changed twice, then record 1 once, then record 2 once.
        let (mut store, ids) = store_with_changes(dir.path(), &[0, 1, 0, 2]);
        let limits = BatchLimits {
            max_changes: 2,
            max_bytes: usize::MAX,
        };
        let first = store.next_batch(limits, &[]).unwrap().unwrap();
        assert_eq!(records_of(&first), vec![ids[0], ids[1]]);
        // Record 0's second change waits for the first: record 2 goes ahead.
        let second = store.next_batch(limits, &[first.id]).unwrap().unwrap();
        assert_eq!(records_of(&second), vec![ids[2]]);
        assert!(store
            .next_batch(limits, &[first.id, second.id])
            .unwrap()
            .is_none());

        // The app restarts with both unanswered: each is resent as it was,
        // oldest first.
        let again = store.next_batch(limits, &[]).unwrap().unwrap();
        assert_eq!(again.id, first.id);
        assert_eq!(
            serde_json::to_string(&again.changes).unwrap(),
            serde_json::to_string(&first.changes).unwrap()
        );
        assert_eq!(
            store.next_batch(limits, &[first.id]).unwrap().unwrap().id,
            second.id
        );

        // Once the first is acknowledged, record 0's second change goes.
        let acknowledged: Vec<ChangeResult> = first
            .changes
            .iter()
            .map(|c| ChangeResult {
                change_id: c.change_id,
                outcome: ChangeOutcome::Accepted { revision: 1 },
            })
            .collect();
        store.apply_push(&first, &acknowledged).unwrap();
        let third = store.next_batch(limits, &[second.id]).unwrap().unwrap();
        assert_eq!(records_of(&third), vec![ids[0]]);
        assert_eq!(store.outbox_len().unwrap(), 2);
    }

    #[test]
    fn making_and_answering_a_batch_leave_every_other_commit_waiting_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = store_with_changes(dir.path(), &[0, 1]);
        let synchronous = |store: &LocalStore| pragma(store, "synchronous");
        let full = 2;
        assert_eq!(synchronous(&store), full);
        let batch = store
            .next_batch(BatchLimits::default(), &[])
            .unwrap()
            .unwrap();
        assert_eq!(synchronous(&store), full, "after making a batch");
        acknowledge(&mut store, &batch, 1);
        assert_eq!(synchronous(&store), full, "after recording its answers");
        assert_eq!(store.outbox_len().unwrap(), 0);
    }

    #[test]
    fn taking_the_changed_records_leaves_every_other_commit_waiting_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = store_with_changes(dir.path(), &[0, 1]);
        assert_eq!(store.take_changes(&["f"]).unwrap().len(), 2);
        assert_eq!(pragma(&store, "synchronous"), 2, "FULL again");
        assert!(store.take_changes(&["f"]).unwrap().is_empty(), "taken once");
    }

    #[test]
    fn answers_are_recorded_without_changing_what_a_delete_erases_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = store_with_changes(dir.path(), &[0, 1]);
        let secure_delete = |store: &LocalStore| pragma(store, "secure_delete");
        // SQLCipher zeroes what every delete frees on a keyed database.
        assert_eq!(secure_delete(&store), 1);
        let batch = store
            .next_batch(BatchLimits::default(), &[])
            .unwrap()
            .unwrap();
        acknowledge(&mut store, &batch, 1);
        assert_eq!(store.outbox_len().unwrap(), 0);
        assert_eq!(secure_delete(&store), 1, "after recording the answers");
    }

    fn pragma(store: &LocalStore, name: &str) -> i64 {
        store
            .conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    }

    fn acknowledge(store: &mut LocalStore, batch: &Batch, revision: u64) {
        let results: Vec<ChangeResult> = batch
            .changes
            .iter()
            .map(|c| ChangeResult {
                change_id: c.change_id,
                outcome: ChangeOutcome::Accepted { revision },
            })
            .collect();
        store.apply_push(batch, &results).unwrap();
    }

    #[test]
    fn an_acknowledged_change_becomes_the_base_and_the_record_is_synced_when_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ids) = store_with_changes(dir.path(), &[0]);
        let id = ids[0];
        let one = BatchLimits {
            max_changes: 1,
            max_bytes: usize::MAX,
        };
        let created = store.next_batch(one, &[]).unwrap().unwrap();
        acknowledge(&mut store, &created, 1);
        assert_eq!(store.record(id).unwrap().state, LocalState::Synced);

        // Two more changes: `n` removed and `m` set, then `m` set again.
        store
            .finalize(id, &values(json!({"m": 5})), &[], None)
            .unwrap()
            .unwrap();
        let now = values(json!({"m": 6}));
        store.finalize(id, &now, &[], None).unwrap().unwrap();
        let first = store.next_batch(one, &[]).unwrap().unwrap();
        assert_eq!(
            first.changes[0].change().unwrap().op,
            ChangeOp::Upsert {
                fields: values(json!({"m": 5, "n": null})),
                attachments: vec![]
            }
        );
        acknowledge(&mut store, &first, 2);
        assert_eq!(
            store.record(id).unwrap().state,
            LocalState::Queued,
            "a change is left"
        );
        let second = store.next_batch(one, &[]).unwrap().unwrap();
        acknowledge(&mut store, &second, 3);
        let record = store.record(id).unwrap();
        assert_eq!(
            (record.state, record.base_revision),
            (LocalState::Synced, 3)
        );
        assert_eq!(store.outbox_len().unwrap(), 0);
        // The base is what was acknowledged, `n` gone: the same values again
        // are nothing to send.
        assert_eq!(store.finalize(id, &now, &[], None).unwrap(), None);
        assert_eq!(store.outbox_len().unwrap(), 0);

        // Synced, the values are stored once; an edit keeps the base it
        // changes from, so its change carries only the edit.
        let stored: String = store
            .conn
            .query_row(
                "SELECT base_vals FROM records WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, "");
        store
            .finalize(id, &values(json!({"m": 6, "k": 1})), &[], None)
            .unwrap()
            .unwrap();
        let edit = store.next_batch(one, &[]).unwrap().unwrap();
        assert_eq!(
            edit.changes[0].change().unwrap().op,
            ChangeOp::Upsert {
                fields: values(json!({"k": 1})),
                attachments: vec![]
            }
        );
    }

    #[test]
    fn a_record_edited_while_its_change_was_on_the_way_keeps_the_edit_to_send() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ids) = store_with_changes(dir.path(), &[0]);
        let id = ids[0];
        let batch = store
            .next_batch(BatchLimits::default(), &[])
            .unwrap()
            .unwrap();
        // Opened and changed (autosaved) before the answer came.
        let edited = values(json!({"n": 0, "x": 1}));
        store.save_draft(id, &edited, &[]).unwrap();
        acknowledge(&mut store, &batch, 1);
        let record = store.record(id).unwrap();
        assert_eq!(
            (record.state, record.values),
            (LocalState::Draft, edited.clone())
        );
        // The base is what the server acknowledged, not the draft.
        store.finalize(id, &edited, &[], None).unwrap().unwrap();
        let edit = store
            .next_batch(BatchLimits::default(), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            edit.changes[0].change().unwrap().op,
            ChangeOp::Upsert {
                fields: values(json!({"x": 1})),
                attachments: vec![]
            }
        );
    }

    #[test]
    fn the_migration_keeps_a_batch_in_flight() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for sql in &crate::store::migrations::MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO outbox (change_id, record_id, change, batch_id, created_at)
             VALUES ('c1', 'r1', '{}', 'b1', ''), ('c2', 'r2', '{}', NULL, '');",
        )
        .unwrap();
        conn.execute_batch(crate::store::migrations::MIGRATIONS[6])
            .unwrap();
        let batched: Vec<(i64, String)> = conn
            .prepare("SELECT seq, batch_id FROM outbox_batches")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(batched, vec![(1, "b1".to_owned())]);
        let sole: Vec<bool> = conn
            .prepare("SELECT sole FROM outbox ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(sole, vec![false, false], "older changes take the long way");
    }

    #[test]
    fn an_acknowledgement_is_not_a_change_the_pick_list_index_reads_again() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, ids) = store_with_changes(dir.path(), &[0, 1]);
        let changed = |store: &mut LocalStore| store.take_changes(&["f"]).unwrap().len();
        assert_eq!(changed(&mut store), 2, "two new records");
        let batch = store
            .next_batch(BatchLimits::default(), &[])
            .unwrap()
            .unwrap();
        acknowledge(&mut store, &batch, 1);
        assert_eq!(store.record(ids[0]).unwrap().state, LocalState::Synced);
        assert_eq!(
            changed(&mut store),
            0,
            "acknowledged: nothing to read again"
        );
        store
            .finalize(ids[1], &values(json!({"n": 7})), &[], None)
            .unwrap()
            .unwrap();
        assert_eq!(changed(&mut store), 1, "an edit is a change");
    }

    #[test]
    fn patch_carries_changed_and_removed_fields_only() {
        let base = json!({"a": 1, "b": "x", "c": true})
            .as_object()
            .cloned()
            .unwrap();
        let now = json!({"a": 1, "b": "y", "d": 4})
            .as_object()
            .cloned()
            .unwrap();
        let p = patch(&base, &now);
        assert_eq!(
            Json::Object(p.clone()),
            json!({"b": "y", "d": 4, "c": null})
        );
        let again: Values = serde_json::from_str(&patched(&base, &p).unwrap()).unwrap();
        assert_eq!(again, now);
    }
}
