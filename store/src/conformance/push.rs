//! Exactly once: a change id is decided once, and a replay (whole or
//! partial, through any handle) gets the stored outcome and changes nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use beatbook_schema::ids::{BatchId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, Cursor, ErrorCode};
use beatbook_schema::text::Text;
use serde_json::json;

use super::fixture::{
    self, another_phone, photo, push, push_batch, upsert, values, visit, world, written,
};
use super::Backend;
use crate::{Ahead, Decider, Decision, Existing, ReadScope, Store, StoredRecord};

/// A decider that counts being asked: replays are answered from storage,
/// so it must not be.
fn never_asked(asked: Arc<AtomicUsize>) -> Decider {
    Decider::new(move |_change, _existing| {
        asked.fetch_add(1, Ordering::SeqCst);
        Decision::Answer(ChangeOutcome::Rejected {
            code: ErrorCode::Internal,
            message: Text::new("不应询问", "should not be asked"),
            errors: vec![],
        })
    })
}

/// The log's end as a reader sees it.
async fn log_end(store: &dyn Store) -> Cursor {
    let all = fixture::pull_all(store, ReadScope::All, Cursor(0), 1000).await;
    all.last().map_or(Cursor(0), |i| i.cursor())
}

/// Replaying a whole push (same batch, same changes) returns the first
/// outcomes, asks no decider, and writes nothing: no new log item, no new
/// version, batch counts unchanged.
pub async fn replayed_push_changes_nothing(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let first = visit(a, &w.grid_a, "第一次走访");
    let second = visit(a, &w.grid_a, "第二次走访");
    let edit = upsert(
        a,
        first.record_id,
        "visit",
        &w.grid_a,
        1,
        values(&[("note", json!("补充"))]),
        vec![],
    );
    let batch = BatchId::new_v7();
    let changes = vec![first.clone(), second.clone(), edit.clone()];
    let outcomes = push_batch(store, a, batch, changes.clone()).await;
    assert_eq!(
        outcomes,
        vec![
            (first.change_id, ChangeOutcome::Accepted { revision: 1 }),
            (second.change_id, ChangeOutcome::Accepted { revision: 1 }),
            (edit.change_id, ChangeOutcome::Accepted { revision: 2 }),
        ]
    );
    let end = log_end(store).await;
    let record = store.record(first.record_id).await.expect("record");

    let asked = Arc::new(AtomicUsize::new(0));
    for handle in [fresh.store.clone(), fresh.again.open().await] {
        for _ in 0..2 {
            let replay = handle
                .push(
                    a.pusher(),
                    batch,
                    changes.clone(),
                    never_asked(asked.clone()),
                )
                .await
                .expect("replay");
            assert_eq!(replay, outcomes, "a replay gets the stored outcomes");
        }
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "no replayed change is decided again"
    );
    assert_eq!(
        log_end(store).await,
        end,
        "a replay adds nothing to the log"
    );
    assert_eq!(store.record(first.record_id).await.expect("record"), record);
    assert_eq!(
        store
            .record_history(first.record_id)
            .await
            .expect("history")
            .len(),
        2
    );
    let batches = store.batches(10).await.expect("batches");
    assert_eq!(batches.len(), 1, "one batch: {batches:?}");
    assert_eq!((batches[0].id, batches[0].stored), (batch, 3));
}

/// A replay may come in another batch, mixed with new changes (a client that
/// lost the answer and re-batched): the seen ones get their stored outcome,
/// the new ones are decided.
pub async fn partial_replay_returns_stored_outcomes(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let (c1, c2, c3) = (
        visit(a, &w.grid_a, "一"),
        visit(a, &w.grid_a, "二"),
        visit(a, &w.grid_a, "三"),
    );
    let first = push(store, a, vec![c1.clone(), c2.clone()]).await;
    let edit_c2 = upsert(
        a,
        c2.record_id,
        "visit",
        &w.grid_a,
        1,
        values(&[("note", json!("二改"))]),
        vec![],
    );
    let other = fresh.again.open().await;
    let second = push(
        other.as_ref(),
        a,
        vec![c2.clone(), c3.clone(), edit_c2.clone(), c1.clone()],
    )
    .await;
    assert_eq!(second[0], first[1], "c2 replayed");
    assert_eq!(
        second[1],
        (c3.change_id, ChangeOutcome::Accepted { revision: 1 })
    );
    assert_eq!(
        second[2],
        (edit_c2.change_id, ChangeOutcome::Accepted { revision: 2 })
    );
    assert_eq!(second[3], first[0], "c1 replayed");
    for (id, revisions) in [(c1.record_id, 1), (c2.record_id, 2), (c3.record_id, 1)] {
        let history = store.record_history(id).await.expect("history");
        assert_eq!(history.len(), revisions, "versions of {id}");
    }
    let versions = fixture::versions(&fixture::pull_all(store, ReadScope::All, Cursor(0), 2).await);
    assert_eq!(
        versions,
        [(c1.record_id, 1), (c3.record_id, 1), (c2.record_id, 2)],
        "the log holds each record's current version: {versions:?}"
    );
}

/// An `Answer` (a refusal) stores no version but is remembered: a replay
/// gets the same refusal without asking the decider, even through another
/// handle, and the batch counts it as rejected.
pub async fn answer_is_stored_and_replayed(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let refused = upsert(
        a,
        beatbook_schema::ids::RecordId::new_v7(),
        "visit",
        &w.grid_a,
        0,
        values(&[("note", json!("x")), (fixture::REFUSE, json!(true))]),
        vec![],
    );
    let fine = visit(a, &w.grid_a, "好的");
    let batch = BatchId::new_v7();
    let outcomes = push_batch(store, a, batch, vec![refused.clone(), fine.clone()]).await;
    assert!(
        matches!(
            &outcomes[0].1,
            ChangeOutcome::Rejected {
                code: ErrorCode::ValidationFailed,
                ..
            }
        ),
        "{outcomes:?}"
    );
    assert_eq!(written(&outcomes[1].1), 1);
    assert_eq!(store.record(refused.record_id).await.expect("record"), None);

    let asked = Arc::new(AtomicUsize::new(0));
    let other = fresh.again.open().await;
    let replay = other
        .push(
            a.pusher(),
            BatchId::new_v7(),
            vec![refused.clone()],
            never_asked(asked.clone()),
        )
        .await
        .expect("replay");
    assert_eq!(replay, vec![outcomes[0].clone()], "the refusal is replayed");
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert_eq!(store.record(refused.record_id).await.expect("record"), None);
    let batches = store.batches(10).await.expect("batches");
    assert_eq!(
        batches.len(),
        1,
        "a batch of replays only is no new batch: {batches:?}"
    );
    assert_eq!(
        (batches[0].stored, batches[0].rejected),
        (1, 1),
        "{batches:?}"
    );
}

/// A `Defer` stores nothing at all (not even the answer): the same change,
/// pushed again once its photo is uploaded, is decided afresh and written.
pub async fn deferred_change_stores_nothing_and_succeeds_later(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let jpeg = b"\xff\xd8\xff\xe0 deferred photo";
    let shot = photo(jpeg);
    let change = upsert(
        a,
        beatbook_schema::ids::RecordId::new_v7(),
        "hazard",
        &w.grid_a,
        0,
        values(&[("description", json!("楼道堆放杂物"))]),
        vec![shot.clone()],
    );
    let before = log_end(store).await;
    let first = push(store, a, vec![change.clone()]).await;
    assert!(
        matches!(
            &first[0].1,
            ChangeOutcome::Rejected {
                code: ErrorCode::MissingBlob,
                ..
            }
        ),
        "{first:?}"
    );
    assert_eq!(store.record(change.record_id).await.expect("record"), None);
    assert_eq!(
        log_end(store).await,
        before,
        "a deferred change writes no log item"
    );
    assert!(
        store.batches(10).await.expect("batches").is_empty(),
        "a batch that stored nothing is not listed"
    );

    store
        .complete_blob(shot.sha256, shot.size, "image/jpeg", a.device)
        .await
        .expect("complete blob");
    let phone = another_phone(store, a).await;
    let other = fresh.again.open().await;
    let second = push(other.as_ref(), &phone, vec![change.clone()]).await;
    assert_eq!(
        second,
        vec![(change.change_id, ChangeOutcome::Accepted { revision: 1 })]
    );
    let stored = store
        .record(change.record_id)
        .await
        .expect("record")
        .expect("written once the photo is there");
    assert_eq!(stored.attachments, vec![shot]);
}

/// A push records its batch with counts (stored, rejected, hard conflicts)
/// and when the device was last seen; the conflict is kept with the record.
pub async fn push_counts_batches_and_marks_device_seen(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let phone = another_phone(store, a).await;
    assert!(
        store
            .devices()
            .await
            .expect("devices")
            .iter()
            .all(|d| d.last_seen_at.is_none()),
        "no device has pushed yet"
    );
    let create = visit(a, &w.grid_a, "原");
    push(store, a, vec![create.clone()]).await;
    let edit = |by, note: &str| {
        upsert(
            by,
            create.record_id,
            "visit",
            &w.grid_a,
            1,
            values(&[("note", json!(note))]),
            vec![],
        )
    };
    push(store, a, vec![edit(a, "甲")]).await;
    let late = edit(&phone, "乙");
    let refused = upsert(
        &phone,
        beatbook_schema::ids::RecordId::new_v7(),
        "visit",
        &w.grid_a,
        0,
        values(&[(fixture::REFUSE, json!(1))]),
        vec![],
    );
    let batch = BatchId::new_v7();
    let outcomes = push_batch(store, &phone, batch, vec![late.clone(), refused]).await;
    let ChangeOutcome::Conflicted {
        revision: 3,
        conflicts,
    } = &outcomes[0].1
    else {
        panic!("a concurrent edit of the same field conflicts: {outcomes:?}");
    };
    assert_eq!(conflicts[0].field, "note");
    let summary = store
        .batches(10)
        .await
        .expect("batches")
        .into_iter()
        .find(|b| b.id == batch)
        .expect("the batch is listed");
    assert_eq!(
        (summary.stored, summary.rejected, summary.conflicts),
        (1, 1, 1)
    );
    assert_eq!((summary.device, summary.user), (phone.device, a.user.id));
    let record = store
        .record(create.record_id)
        .await
        .expect("record")
        .expect("stored");
    assert!(record.conflicted);
    assert_eq!(record.revision, 3);
    let devices = store.devices().await.expect("devices");
    assert!(
        devices
            .iter()
            .filter(|d| d.id == a.device || d.id == phone.device)
            .all(|d| d.last_seen_at.is_some()),
        "pushing devices are seen: {devices:?}"
    );
    assert!(
        devices
            .iter()
            .filter(|d| d.id == w.officer_b.device)
            .all(|d| d.last_seen_at.is_none()),
        "a silent device is not"
    );
}

/// A push of many edits, each to a record of its own, beside two changes to
/// one record, a replay and a refusal: each edit is decided on its record
/// as stored, the second change to the one record on what the first left,
/// the replay answered as before.
pub async fn a_push_of_many_edits_decides_each_on_its_record(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let created: Vec<_> = (0..40)
        .map(|i| visit(a, &w.grid_a, &format!("走访{i}")))
        .collect();
    let first = push(store, a, created.clone()).await;
    assert!(first.iter().all(|(_, o)| written(o) == 1), "{first:?}");

    let edit = |i: usize, base: u64, note: &str| {
        upsert(
            a,
            created[i].record_id,
            "visit",
            &w.grid_a,
            base,
            values(&[("note", json!(note))]),
            vec![],
        )
    };
    let mut changes: Vec<_> = (1..40).map(|i| edit(i, 1, &format!("复核{i}"))).collect();
    changes.insert(5, edit(0, 1, "第一次修改"));
    changes.insert(30, edit(0, 2, "第二次修改"));
    changes.insert(12, created[7].clone());
    let refused = upsert(
        a,
        created[9].record_id,
        "visit",
        &w.grid_a,
        1,
        values(&[(fixture::REFUSE, json!(true))]),
        vec![],
    );
    changes.insert(20, refused.clone());
    let outcomes = push(store, a, changes.clone()).await;

    let ids: Vec<_> = changes.iter().map(|c| c.change_id).collect();
    assert_eq!(
        outcomes.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        ids,
        "one outcome per change, in order"
    );
    for (c, (_, outcome)) in changes.iter().zip(&outcomes) {
        let expected = if c.change_id == refused.change_id {
            None
        } else if c.change_id == created[7].change_id {
            Some(1)
        } else if c.record_id == created[0].record_id {
            Some(c.base_revision + 1)
        } else {
            Some(2)
        };
        match expected {
            Some(revision) => assert_eq!(written(outcome), revision, "{c:?}: {outcome:?}"),
            None => assert!(
                matches!(outcome, ChangeOutcome::Rejected { .. }),
                "{outcome:?}"
            ),
        }
    }
    let twice = store
        .record(created[0].record_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(twice.revision, 3);
    assert_eq!(twice.fields["note"].value, json!("第二次修改"));
    let once = store
        .record(created[39].record_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (once.revision, once.fields["note"].value.clone()),
        (2, json!("复核39"))
    );
}

/// Decisions made ahead of the transaction ([`crate::Decider::with_ahead`]),
/// each on the record read by [`Store::records`]: one made on the revision
/// the transaction finds is written as made, without asking the rules; one
/// made on a revision since superseded is not, the change decided again on
/// what is stored; a deleted record is read too, an unknown one is not.
pub async fn a_decision_made_ahead_is_taken_at_its_revision_only(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let created: Vec<_> = (0..3)
        .map(|i| visit(a, &w.grid_a, &format!("走访{i}")))
        .collect();
    push(store, a, created.clone()).await;
    let gone = store
        .record(created[2].record_id)
        .await
        .expect("read")
        .expect("stored");
    push(store, a, vec![fixture::delete(a, &gone)]).await;
    let mut read = store
        .records(vec![
            created[0].record_id,
            created[2].record_id,
            RecordId::new_v7(),
        ])
        .await
        .expect("read ahead");
    read.sort_by_key(|r| r.id != created[0].record_id);
    assert_eq!(
        read.iter()
            .map(|r| (r.id, r.revision, r.deleted))
            .collect::<Vec<_>>(),
        vec![
            (created[0].record_id, 1, false),
            (created[2].record_id, 2, true)
        ]
    );

    let edit = |i: usize, note: &str| {
        upsert(
            a,
            created[i].record_id,
            "visit",
            &w.grid_a,
            1,
            values(&[("note", json!(note))]),
            vec![],
        )
    };
    let (current, stale) = (edit(0, "规则的决定"), edit(2, "规则的决定"));
    let plain = fixture::decider(a.user.id).judge();
    let ahead = |change: &Change, on: &StoredRecord, note: &str| {
        let mut decided = Change {
            op: ChangeOp::Upsert {
                fields: values(&[("note", json!(note))]),
                attachments: vec![],
            },
            ..change.clone()
        };
        decided.base_revision = on.revision;
        let existing = Existing {
            record: Some(on.clone()),
            ..Existing::default()
        };
        (
            change.change_id,
            Ahead {
                revision: Some(on.revision),
                decision: plain(&decided, &existing),
            },
        )
    };
    let mut stale_base = read[1].clone();
    stale_base.revision = 1;
    stale_base.deleted = false;
    let decided = [
        ahead(&current, &read[0], "提前的决定"),
        ahead(&stale, &stale_base, "提前的决定"),
    ];
    let asked = Arc::new(AtomicUsize::new(0));
    let decider = fixture::counting(asked.clone(), a).with_ahead(decided.into_iter().collect());
    let outcomes = store
        .push(
            a.pusher(),
            BatchId::new_v7(),
            vec![current.clone(), stale.clone()],
            decider,
        )
        .await
        .expect("push");
    assert_eq!(written(&outcomes[0].1), 2, "{outcomes:?}");
    assert!(
        matches!(outcomes[1].1, ChangeOutcome::Rejected { .. }),
        "{outcomes:?}"
    );
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "the stale one alone asked the rules"
    );
    let taken = store
        .record(created[0].record_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(taken.fields["note"].value, json!("提前的决定"));
    let kept = store
        .record(created[2].record_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((kept.revision, kept.deleted), (2, true));
}
