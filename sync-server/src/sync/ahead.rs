//! Deciding a push's changes ahead of the writer. Deciding a change
//! (validating every field, merging an edit into what is stored) is most of
//! the rules' time and needs the stored record alone when the change attaches
//! nothing: such changes are decided on blocking threads, in the process's
//! turns on the CPU ([`crate::cores`]), before the push joins the writer's
//! queue — while the writer works on the pushes ahead of it, and with a
//! large push split over the cores. A new record (base revision 0) is
//! decided on nothing stored; an edit on the record read from the store
//! first. The writer takes a decision if the record still stands at the
//! revision it was made on ([`beatbook_store::Decider`]); anything else (the
//! record written meanwhile, a change pushed before) it decides itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use beatbook_schema::ids::{ChangeId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOp};
use beatbook_store::{Ahead, Decider, Existing, Judge, Store, StoredRecord};
use futures_util::future::join_all;

/// Changes decided together on one core: fewer are not worth a turn of
/// their own.
const CHUNK_MIN: usize = 25;

/// `decider`, holding the decisions of those of `changes` it can decide
/// ahead. A chunk whose records cannot be read is left to the writer.
pub async fn decide_ahead(
    store: &dyn Store,
    changes: Vec<Change>,
    decider: Decider,
) -> (Vec<Change>, Decider) {
    let candidates = candidates(&changes);
    if candidates.is_empty() {
        return (changes, decider);
    }
    let changes = Arc::new(changes);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_chunk = candidates.len().div_ceil(cores).max(CHUNK_MIN);
    let judge = decider.judge();
    let chunks = candidates
        .chunks(per_chunk)
        .map(|chunk| decide_chunk(store, changes.clone(), chunk.to_vec(), judge.clone()));
    let mut decided = HashMap::with_capacity(candidates.len());
    for chunk in join_all(chunks).await {
        decided.extend(chunk);
    }
    let changes = Arc::try_unwrap(changes).unwrap_or_else(|shared| (*shared).clone());
    (changes, decider.with_ahead(decided))
}

/// The positions of the changes that may be decided ahead: those that
/// attach nothing, under an id the push holds once (a decision is found by
/// its change's id: another change under the same id is decided in the
/// writer, on its own).
fn candidates(changes: &[Change]) -> Vec<usize> {
    let mut seen: HashMap<ChangeId, usize> = HashMap::with_capacity(changes.len());
    for c in changes {
        *seen.entry(c.change_id).or_default() += 1;
    }
    (0..changes.len())
        .filter(|&i| attaches_nothing(&changes[i]) && seen[&changes[i].change_id] == 1)
        .collect()
}

fn attaches_nothing(change: &Change) -> bool {
    match &change.op {
        ChangeOp::Upsert { attachments, .. } => attachments.is_empty(),
        ChangeOp::Delete => true,
    }
}

/// Decides `chunk` (positions in `changes`) on one core, each on its record
/// as stored now (edits' records read first; a new record's taken as
/// nothing stored).
async fn decide_chunk(
    store: &dyn Store,
    changes: Arc<Vec<Change>>,
    chunk: Vec<usize>,
    judge: Judge,
) -> HashMap<ChangeId, Ahead> {
    let edited: HashSet<RecordId> = chunk
        .iter()
        .map(|&i| &changes[i])
        .filter(|c| c.base_revision > 0)
        .map(|c| c.record_id)
        .collect();
    let mut stored: HashMap<RecordId, StoredRecord> = HashMap::new();
    if !edited.is_empty() {
        match store.records(edited.into_iter().collect()).await {
            Ok(records) => stored.extend(records.into_iter().map(|r| (r.id, r))),
            Err(e) => {
                tracing::warn!(error = %e, "records not read ahead of the writer: it decides them");
                return HashMap::new();
            }
        }
    }
    crate::cores::on_a_core(move || {
        chunk
            .iter()
            .map(|&i| {
                let change = &changes[i];
                let existing = Existing {
                    record: stored.remove(&change.record_id),
                    ..Existing::default()
                };
                let revision = existing.record.as_ref().map(|r| r.revision);
                let decision = judge(change, &existing);
                (change.change_id, Ahead { revision, decision })
            })
            .collect()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use beatbook_schema::hlc::Hlc;
    use beatbook_schema::ids::{BatchId, DeviceId, FormId, GridId, Sha256, UserId};
    use beatbook_schema::protocol::{ChangeOutcome, Role};
    use beatbook_schema::record::{AttachmentRef, RecordStatus};
    use beatbook_store::Decision;
    use beatbook_store_sqlite::SqliteStore;
    use chrono::Utc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A judge that writes the change at the next revision and notes the
    /// revision of the record it was handed (0: none).
    fn noting() -> (Judge, Arc<Mutex<Vec<u64>>>, Arc<AtomicUsize>) {
        let (seen, calls) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicUsize::new(0)),
        );
        let (s, n) = (seen.clone(), calls.clone());
        let judge: Judge = Arc::new(move |change: &Change, existing: &Existing| {
            n.fetch_add(1, Ordering::SeqCst);
            let stored = existing.record.as_ref().map_or(0, |r| r.revision);
            s.lock().expect("notes").push(stored);
            let record = StoredRecord {
                revision: stored + 1,
                ..stored_as(change, stored + 1)
            };
            Decision::Write {
                record: Box::new(record),
                conflicts: vec![],
                outcome: ChangeOutcome::Accepted {
                    revision: stored + 1,
                },
            }
        });
        (judge, seen, calls)
    }

    fn decider_of(judge: &Judge) -> Decider {
        let judge = judge.clone();
        Decider::new(move |c, e| judge(c, e))
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

    fn edit_of(change: &Change, base: u64) -> Change {
        Change {
            change_id: ChangeId::new_v7(),
            base_revision: base,
            ..change.clone()
        }
    }

    fn stored_as(change: &Change, revision: u64) -> StoredRecord {
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
            revision,
            deleted: false,
            conflicted: false,
            review: None,
            resolved: vec![],
        }
    }

    fn revision(d: Option<Decision>) -> Option<u64> {
        match d? {
            Decision::Write { record, .. } => Some(record.revision),
            _ => None,
        }
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("directory");
        let store = SqliteStore::open(&dir.path().join("server.db")).expect("store");
        (dir, store)
    }

    /// Stores `change`'s record at revision 1 through a push.
    async fn stored(store: &SqliteStore, change: &Change) {
        let (judge, _, _) = noting();
        let who = crate::sync::testing::pusher(Role::Officer, "o1");
        store
            .push(
                who,
                BatchId::new_v7(),
                vec![change.clone()],
                decider_of(&judge),
            )
            .await
            .expect("push");
    }

    #[tokio::test]
    async fn a_new_record_is_decided_on_nothing_stored_and_taken_once() {
        let (_dir, store) = store();
        let (judge, seen, calls) = noting();
        let change = new_record();
        let (changes, decider) =
            decide_ahead(&store, vec![change.clone()], decider_of(&judge)).await;
        assert_eq!(changes, vec![change.clone()]);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "decided ahead");
        assert_eq!(*seen.lock().expect("notes"), vec![0]);
        assert!(decider.has_ahead(change.change_id));
        assert_eq!(
            revision(decider.take_ahead(change.change_id, None)),
            Some(1)
        );
        assert!(
            decider.take_ahead(change.change_id, None).is_none(),
            "taken once"
        );
    }

    #[tokio::test]
    async fn an_edit_is_decided_on_the_stored_record_and_only_at_its_revision() {
        let (_dir, store) = store();
        let first = new_record();
        stored(&store, &first).await;
        let edit = edit_of(&first, 1);
        let (judge, seen, _) = noting();
        let (_, decider) = decide_ahead(&store, vec![edit.clone()], decider_of(&judge)).await;
        assert_eq!(
            *seen.lock().expect("notes"),
            vec![1],
            "decided on revision 1"
        );
        // The writer finds revision 1: the decision is taken.
        assert_eq!(
            revision(decider.take_ahead(edit.change_id, Some(1))),
            Some(2)
        );

        // Written meanwhile (revision 2 found): not taken, decided again.
        let (_, decider) = decide_ahead(&store, vec![edit.clone()], decider_of(&judge)).await;
        assert!(decider.take_ahead(edit.change_id, Some(2)).is_none());
        let calls_before = seen.lock().expect("notes").len();
        let existing = Existing {
            record: Some(stored_as(&edit, 2)),
            ..Existing::default()
        };
        assert_eq!(revision(Some(decider.decide(&edit, &existing))), Some(3));
        assert_eq!(seen.lock().expect("notes").len(), calls_before + 1);
    }

    #[tokio::test]
    async fn changes_with_attachments_or_a_shared_id_are_left_to_the_writer() {
        let (_dir, store) = store();
        let (judge, _, calls) = noting();
        let mut photo = new_record();
        photo.op = ChangeOp::Upsert {
            fields: Default::default(),
            attachments: vec![AttachmentRef {
                sha256: Sha256::digest(b"photo"),
                content_type: "image/jpeg".into(),
                size: 5,
            }],
        };
        let first = new_record();
        // Another record's change under the same id: taking the first's
        // decision for it would write one record as the other.
        let other = Change {
            record_id: RecordId::new_v7(),
            ..first.clone()
        };
        let (_, decider) = decide_ahead(
            &store,
            vec![photo.clone(), first.clone(), other],
            decider_of(&judge),
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(!decider.has_ahead(photo.change_id));
        assert!(!decider.has_ahead(first.change_id));
    }

    #[tokio::test]
    async fn a_large_push_is_decided_in_chunks_each_on_its_records() {
        let (_dir, store) = store();
        let olds: Vec<Change> = (0..CHUNK_MIN * 2).map(|_| new_record()).collect();
        for c in &olds {
            stored(&store, c).await;
        }
        let mut changes: Vec<Change> = olds.iter().map(|c| edit_of(c, 1)).collect();
        changes.extend((0..CHUNK_MIN * 2).map(|_| new_record()));
        let (judge, seen, _) = noting();
        let (back, decider) = decide_ahead(&store, changes.clone(), decider_of(&judge)).await;
        assert_eq!(back, changes, "the changes come back in order");
        let mut notes = seen.lock().expect("notes").clone();
        notes.sort_unstable();
        assert_eq!(
            notes,
            [vec![0; CHUNK_MIN * 2], vec![1; CHUNK_MIN * 2]].concat()
        );
        for c in &changes {
            let at = (c.base_revision > 0).then_some(1);
            assert!(
                revision(decider.take_ahead(c.change_id, at)).is_some(),
                "{c:?}"
            );
        }
    }
}
