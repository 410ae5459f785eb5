//! Deciding new records ahead of the writer. A new record's change (base
//! revision 0) is almost always decided on nothing stored, and that decision
//! (validating every field, most of the decider's time) needs no database:
//! it is made on a blocking thread, in one of the process's turns on the CPU
//! ([`crate::cores`]), before the push joins the writer's queue — while the
//! writer works on the pushes ahead of it. The writer takes it as decided if
//! the store indeed holds nothing for the record; anything else (the record
//! stored meanwhile, a change pushed before, an attachment the store knows
//! of) is decided in the writer as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use beatbook_schema::ids::ChangeId;
use beatbook_schema::protocol::Change;
use beatbook_store::{Decider, Decision, Existing};

/// `judge`, with the changes of new records among `changes` decided ahead.
pub async fn decide_new_ahead(changes: Vec<Change>, judge: Decider) -> (Vec<Change>, Decider) {
    if !changes.iter().any(is_new) {
        return (changes, judge);
    }
    let ahead = judge.clone();
    let (changes, decided) = crate::cores::on_a_core(move || {
        // A decision is found by its change's id: an id the push holds twice
        // (another change under it) is decided in the writer, on its own.
        let mut seen: HashMap<ChangeId, usize> = HashMap::with_capacity(changes.len());
        for c in &changes {
            *seen.entry(c.change_id).or_default() += 1;
        }
        let decided: HashMap<ChangeId, Decision> = changes
            .iter()
            .filter(|c| is_new(c) && seen[&c.change_id] == 1)
            .map(|c| (c.change_id, ahead(c, &Existing::default())))
            .collect();
        (changes, decided)
    })
    .await;
    (changes, with_decided(decided, judge))
}

fn is_new(change: &Change) -> bool {
    change.base_revision == 0
}

/// `judge`, answering from `decided` where the store holds nothing for the
/// record — the very input each was decided on. Each is taken once: a
/// backend that decides a change again (a retried transaction) asks `judge`.
fn with_decided(decided: HashMap<ChangeId, Decision>, judge: Decider) -> Decider {
    let decided = Mutex::new(decided);
    Arc::new(move |change, existing| {
        if existing.is_empty() {
            let taken = decided
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&change.change_id);
            if let Some(decision) = taken {
                return decision;
            }
        }
        judge(change, existing)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use beatbook_schema::hlc::Hlc;
    use beatbook_schema::ids::{DeviceId, FormId, GridId, RecordId, UserId};
    use beatbook_schema::protocol::{ChangeOp, ChangeOutcome};
    use beatbook_schema::record::RecordStatus;
    use beatbook_store::StoredRecord;
    use chrono::Utc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A decider that counts its calls and answers, as the revision, whether
    /// it was handed a stored record.
    fn counting() -> (Decider, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let judge: Decider = Arc::new(move |_, existing| {
            seen.fetch_add(1, Ordering::SeqCst);
            Decision::Answer(ChangeOutcome::Accepted {
                revision: u64::from(existing.record.is_some()),
            })
        });
        (judge, calls)
    }

    fn revision(d: Decision) -> Option<u64> {
        match d {
            Decision::Answer(ChangeOutcome::Accepted { revision }) => Some(revision),
            _ => None,
        }
    }

    fn new_record() -> Change {
        let device = DeviceId::new_v7();
        Change {
            change_id: ChangeId::new_v7(),
            record_id: RecordId::new_v7(),
            form_id: FormId::new("hazard"),
            form_version: 1,
            grid: GridId::new("G1"),
            base_revision: 0,
            hlc: Hlc::zero(device).tick(Utc::now().timestamp_millis() as u64),
            at: Utc::now(),
            op: ChangeOp::Upsert {
                fields: Default::default(),
                attachments: vec![],
            },
        }
    }

    fn stored(change: &Change) -> StoredRecord {
        StoredRecord {
            id: change.record_id,
            form_id: change.form_id.clone(),
            form_version: 1,
            grid: change.grid.clone(),
            author: UserId::new_v7(),
            device: change.hlc.device,
            fields: Default::default(),
            attachments: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
            status: RecordStatus::Submitted,
            revision: 1,
            deleted: false,
            conflicted: false,
            review: None,
            resolved: vec![],
        }
    }

    #[tokio::test]
    async fn a_new_record_is_decided_once_ahead_and_taken_as_decided() {
        let (judge, calls) = counting();
        let change = new_record();
        let (changes, judge) = decide_new_ahead(vec![change.clone()], judge).await;
        assert_eq!(changes, vec![change.clone()]);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "decided ahead");
        assert_eq!(revision(judge(&change, &Existing::default())), Some(0));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "taken, not decided again");
        // Asked again (a retried transaction): decided again.
        assert_eq!(revision(judge(&change, &Existing::default())), Some(0));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_record_stored_meanwhile_is_decided_on_what_is_stored() {
        let (judge, calls) = counting();
        let change = new_record();
        let (_, judge) = decide_new_ahead(vec![change.clone()], judge).await;
        let existing = Existing {
            record: Some(stored(&change)),
            ..Existing::default()
        };
        assert_eq!(revision(judge(&change, &existing)), Some(1));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn two_changes_under_one_id_are_not_decided_ahead() {
        let (judge, calls) = counting();
        let first = new_record();
        // Another record's change under the same id: taking the first's
        // decision for it would write one record as the other.
        let other = Change {
            record_id: RecordId::new_v7(),
            ..first.clone()
        };
        let (_, judge) = decide_new_ahead(vec![first.clone(), other], judge).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let _ = judge(&first, &Existing::default());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "decided in the writer");
    }

    #[tokio::test]
    async fn an_edit_is_not_decided_ahead() {
        let (judge, calls) = counting();
        let edit = Change {
            base_revision: 3,
            ..new_record()
        };
        let _ = decide_new_ahead(vec![edit], judge).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
