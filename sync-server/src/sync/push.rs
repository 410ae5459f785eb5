//! Pushing a batch: the one path every change takes into storage, whether a
//! device sent it to `/v1/push` or the demo seeder made it.

use std::collections::HashMap;

use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, RecordId};
use beatbook_schema::merge::FieldConflict;
use beatbook_schema::protocol::{Change, ChangeOutcome, UserInfo};
use beatbook_store::{Pusher, Store, StoreError};
use chrono::Utc;

use super::ahead::decide_ahead;
use super::{decider, read_scope, Policy, PublishedForms};

/// Stores a batch `user` pushed from `device`, judged by the sync rules
/// within the user's scope, and counts the outcomes in the metrics. Forms a
/// change names that this instance has not loaded (published through another
/// process since) are read again first, so they are not refused as unknown.
///
/// Answers one outcome per change, in order; replaying a batch or a change
/// answers the original outcomes.
pub async fn push(
    store: &dyn Store,
    forms: &PublishedForms,
    policy: &Policy,
    user: UserInfo,
    device: DeviceId,
    batch: BatchId,
    changes: Vec<Change>,
) -> Result<Vec<(ChangeId, ChangeOutcome)>, StoreError> {
    let grids = store.grids().await?;
    let scope = read_scope(&user, &grids);
    let pusher = Pusher {
        user,
        device,
        now: Utc::now(),
    };
    let forms = forms
        .covering(
            store,
            changes.iter().map(|c| (c.form_id.as_str(), c.form_version)),
        )
        .await?;
    let judge = decider(pusher.clone(), scope, forms, policy.clone());
    let (changes, judge) = decide_ahead(store, changes, judge).await;
    let records: HashMap<ChangeId, RecordId> =
        changes.iter().map(|c| (c.change_id, c.record_id)).collect();
    let mut results = store.push(pusher, batch, changes, judge).await?;
    count(&results);
    for (change, outcome) in &mut results {
        if let (ChangeOutcome::Conflicted { conflicts, .. }, Some(record)) =
            (outcome, records.get(change))
        {
            name_winners(store, *record, *change, conflicts).await?;
        }
    }
    Ok(results)
}

/// Names who wrote each value that beat the pusher's (the decider knows
/// only the pusher), from the conflicts kept in the record's history, so the
/// answer tells the officer whose value stands.
async fn name_winners(
    store: &dyn Store,
    record: RecordId,
    change: ChangeId,
    conflicts: &mut [FieldConflict],
) -> Result<(), StoreError> {
    if conflicts.iter().all(|c| c.winner_name.is_some()) {
        return Ok(());
    }
    let kept = store.record_conflicts(record).await?;
    for c in conflicts.iter_mut().filter(|c| c.winner_name.is_none()) {
        c.winner_name = kept
            .iter()
            .find(|k| k.change_id == change && k.conflict.field == c.field)
            .and_then(|k| k.winner.as_ref())
            .map(|w| w.name.clone());
    }
    Ok(())
}

/// Counts a push and its outcomes in the metrics.
fn count(results: &[(ChangeId, ChangeOutcome)]) {
    metrics::counter!("beatbook_sync_batches_total").increment(1);
    for (_, outcome) in results {
        let label = match outcome {
            ChangeOutcome::Accepted { .. } => "accepted",
            ChangeOutcome::Merged { .. } => "merged",
            ChangeOutcome::Conflicted { .. } => "conflicted",
            ChangeOutcome::Rejected { .. } => "rejected",
        };
        metrics::counter!("beatbook_sync_changes_total", "outcome" => label).increment(1);
        if let ChangeOutcome::Conflicted { conflicts, .. } = outcome {
            metrics::counter!("beatbook_sync_conflicts_total").increment(conflicts.len() as u64);
        }
    }
}
