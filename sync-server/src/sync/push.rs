//! Pushing a batch: the one path every change takes into storage, whether a
//! device sent it to `/v1/push` or the demo seeder made it.

use beatbook_schema::ids::{BatchId, ChangeId, DeviceId};
use beatbook_schema::protocol::{Change, ChangeOutcome, UserInfo};
use beatbook_store::{Pusher, Store, StoreError};
use chrono::Utc;

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
    let results = store.push(pusher, batch, changes, judge).await?;
    count(&results);
    Ok(results)
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
