//! One record, one writer at a time: revisions go up by one with no gap and
//! none handed out twice, through any number of handles, whether the write
//! is a push, a review or a server-side edit; every version is kept in the
//! history, the current one in the log.

use std::collections::BTreeMap;
use std::sync::Arc;

use beatbook_schema::ids::RecordId;
use beatbook_schema::merge::FieldState;
use beatbook_schema::protocol::{Cursor, RecordVersion, Review, ReviewDecision};
use beatbook_schema::record::RecordStatus;
use chrono::Utc;
use serde_json::json;

use super::fixture::{
    another_phone, delete, pull_all, push, upsert, values, versions, visit, world, written, Officer,
};
use super::Backend;
use crate::{EditOutcome, ReadScope, RecordEdit, Store};

/// Phones editing the one record at once.
const PHONES: usize = 8;
/// Edits per phone.
const EDITS: usize = 6;

/// Every version of a record as stored, checked to be revisions 1..=n.
async fn history(store: &dyn Store, id: RecordId) -> Vec<RecordVersion> {
    let history: Vec<RecordVersion> = store
        .record_history(id)
        .await
        .expect("history")
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("a record version"))
        .collect();
    let revisions: Vec<u64> = history.iter().map(|v| v.revision).collect();
    let expect: Vec<u64> = (1..=history.len() as u64).collect();
    assert_eq!(revisions, expect, "history is every revision, oldest first");
    history
}

/// The revisions of `id` in the change log, in log order.
async fn logged_revisions(store: &dyn Store, id: RecordId) -> Vec<u64> {
    versions(&pull_all(store, ReadScope::All, Cursor(0), 50).await)
        .into_iter()
        .filter(|(r, _)| *r == id)
        .map(|(_, rev)| rev)
        .collect()
}

/// `n` phones of the officer of grid A, the officer's own first.
async fn phones(store: &dyn Store, of: &Officer, n: usize) -> Vec<Officer> {
    let mut phones = vec![of.clone()];
    while phones.len() < n {
        phones.push(another_phone(store, of).await);
    }
    phones
}

/// Phones push edits of one record at once through three handles, each edit
/// a field of its own: revisions 2..=n+1 each handed out once, each edit
/// applied exactly at its revision, and history and log hold every version.
pub async fn concurrent_pushes_to_one_record_give_every_revision_once(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let handles: Vec<Arc<dyn Store>> = vec![
        fresh.store.clone(),
        fresh.again.open().await,
        fresh.again.open().await,
    ];
    let store = handles[0].as_ref();
    let w = world(store).await;
    let create = visit(&w.officer_a, &w.grid_a, "同一条记录");
    let id = create.record_id;
    push(store, &w.officer_a, vec![create]).await;

    let mut tasks = Vec::new();
    for (i, phone) in phones(store, &w.officer_a, PHONES)
        .await
        .into_iter()
        .enumerate()
    {
        let store = handles[i % handles.len()].clone();
        let grid = w.grid_a.clone();
        tasks.push(tokio::spawn(async move {
            let mut written_at = Vec::new();
            for k in 0..EDITS {
                let field = format!("f{i}_{k}");
                let change = upsert(
                    &phone,
                    id,
                    "visit",
                    &grid,
                    1,
                    values(&[(&field, json!(k))]),
                    vec![],
                );
                let out = push(store.as_ref(), &phone, vec![change]).await;
                written_at.push((field, written(&out[0].1)));
            }
            written_at
        }));
    }
    let mut by_revision = BTreeMap::new();
    for task in tasks {
        for (field, revision) in task.await.expect("pusher") {
            if let Some(other) = by_revision.insert(revision, field.clone()) {
                panic!("revision {revision} handed out twice: {other} and {field}");
            }
        }
    }
    let last = 1 + (PHONES * EDITS) as u64;
    let revisions: Vec<u64> = by_revision.keys().copied().collect();
    assert_eq!(
        revisions,
        (2..=last).collect::<Vec<_>>(),
        "no gap, none twice"
    );

    let record = store.record(id).await.expect("record").expect("stored");
    assert_eq!(record.revision, last);
    let history = history(store, id).await;
    assert_eq!(history.len() as u64, last);
    for (revision, field) in &by_revision {
        let at = &history[*revision as usize - 1];
        let before = &history[*revision as usize - 2];
        assert!(
            at.record.values.contains_key(field),
            "{field} applied at {revision}"
        );
        assert!(
            !before.record.values.contains_key(field),
            "{field} not before {revision}"
        );
        assert!(record.fields.contains_key(field), "{field} kept to the end");
    }
    assert_eq!(
        logged_revisions(store, id).await,
        [last],
        "the log holds the current version only"
    );
}

/// Reviews and server-side edits of a record, interleaved with pushes to it
/// through two handles, share one revision sequence.
pub async fn reviews_and_edits_interleaved_with_pushes_keep_revisions(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let handles: Vec<Arc<dyn Store>> = vec![fresh.store.clone(), fresh.again.open().await];
    let store = handles[0].as_ref();
    let w = world(store).await;
    let create = visit(&w.officer_a, &w.grid_a, "交错");
    let id = create.record_id;
    push(store, &w.officer_a, vec![create]).await;

    let rounds = 5;
    let mut pushers = Vec::new();
    for (i, phone) in phones(store, &w.officer_a, 4).await.into_iter().enumerate() {
        let store = handles[i % 2].clone();
        let grid = w.grid_a.clone();
        pushers.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for k in 0..rounds {
                let field = format!("p{i}_{k}");
                let change = upsert(
                    &phone,
                    id,
                    "visit",
                    &grid,
                    1,
                    values(&[(&field, json!(k))]),
                    vec![],
                );
                revisions.push(written(
                    &push(store.as_ref(), &phone, vec![change]).await[0].1,
                ));
            }
            revisions
        }));
    }
    let reviewer = {
        let store = handles[1].clone();
        let by = w.supervisor.name.clone();
        tokio::spawn(async move {
            let mut revisions = Vec::new();
            for k in 0..rounds {
                let decision = if k % 2 == 0 {
                    ReviewDecision::Approve
                } else {
                    ReviewDecision::Return {
                        reason: format!("第{k}次退回"),
                    }
                };
                let review = Review {
                    decision,
                    by: by.clone(),
                    at: Utc::now(),
                };
                revisions.push(
                    store
                        .review(id, review)
                        .await
                        .expect("review")
                        .expect("exists"),
                );
            }
            revisions
        })
    };
    let editor = {
        let store = handles[0].clone();
        tokio::spawn(async move {
            let mut revisions = Vec::new();
            for k in 0..rounds {
                let field = format!("verified_{k}");
                let edit: RecordEdit = Box::new(move |r| {
                    let mut next = r.clone();
                    next.revision += 1;
                    let hlc = next.fields.values().map(|s| s.hlc).max().expect("a field");
                    next.fields.insert(
                        field.clone(),
                        FieldState {
                            value: json!(true),
                            hlc,
                            revision: next.revision,
                        },
                    );
                    Ok(next)
                });
                let out = store
                    .edit_records(vec![id], edit, Box::new(|_| None))
                    .await
                    .expect("edit");
                let [(_, EditOutcome::Written { revision })] = out.as_slice() else {
                    panic!("the edit is written: {out:?}");
                };
                revisions.push(*revision);
            }
            revisions
        })
    };
    let mut all = Vec::new();
    for task in pushers {
        all.extend(task.await.expect("pusher"));
    }
    all.extend(reviewer.await.expect("reviewer"));
    all.extend(editor.await.expect("editor"));
    all.sort_unstable();
    let last = 1 + all.len() as u64;
    assert_eq!(
        all,
        (2..=last).collect::<Vec<_>>(),
        "one sequence, no gap, none twice"
    );
    let record = store.record(id).await.expect("record").expect("stored");
    assert_eq!(record.revision, last);
    for k in 0..rounds {
        assert!(
            record.fields.contains_key(&format!("verified_{k}")),
            "edit {k} kept"
        );
        for i in 0..4 {
            assert!(
                record.fields.contains_key(&format!("p{i}_{k}")),
                "push {i}/{k} kept"
            );
        }
    }
    assert_eq!(history(store, id).await.len() as u64, last);
    assert_eq!(logged_revisions(store, id).await, [last]);
}

/// A review writes the next version (status, review, conflict flag
/// cleared) that devices pull; a review or edit of no record writes nothing.
pub async fn review_writes_a_version_devices_pull(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let create = visit(&w.officer_a, &w.grid_a, "待审");
    let id = create.record_id;
    push(store, &w.officer_a, vec![create]).await;
    let review = Review {
        decision: ReviewDecision::Return {
            reason: "照片不清楚".into(),
        },
        by: w.supervisor.name.clone(),
        at: Utc::now(),
    };
    assert_eq!(
        store.review(id, review.clone()).await.expect("review"),
        Some(2)
    );
    let record = store.record(id).await.expect("record").expect("stored");
    assert_eq!(
        (record.status, record.revision),
        (RecordStatus::Returned, 2)
    );
    assert_eq!(record.review.as_ref(), Some(&review));
    let pulled = pull_all(store, w.scope_a(), Cursor(0), 10).await;
    let last = pulled.last().expect("items");
    let beatbook_schema::protocol::PullItem::Record { version, .. } = last else {
        panic!("a record version: {last:?}");
    };
    assert_eq!(
        (version.revision, version.record.status),
        (2, RecordStatus::Returned)
    );
    assert_eq!(version.review.as_ref(), Some(&review));

    let nobody = RecordId::new_v7();
    assert_eq!(store.review(nobody, review).await.expect("review"), None);
    let out = store
        .edit_records(
            vec![nobody],
            Box::new(|r| Ok(r.clone())),
            Box::new(|_| None),
        )
        .await
        .expect("edit");
    assert_eq!(out, vec![(nobody, EditOutcome::Missing)]);
    assert_eq!(store.record(nobody).await.expect("record"), None);
    assert_eq!(
        pull_all(store, ReadScope::All, Cursor(0), 10).await.len(),
        1,
        "the log holds the reviewed version only"
    );
}

/// A delete is a tombstone version: the record stays readable with its
/// history, stops counting as live, and devices pull the tombstone.
pub async fn deletes_are_tombstones_with_history(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let keep = visit(a, &w.grid_a, "留");
    let gone = visit(a, &w.grid_a, "删");
    push(store, a, vec![keep, gone.clone()]).await;
    assert_eq!(
        store.record_counts().await.expect("counts").get("visit"),
        Some(&2)
    );
    let record = store
        .record(gone.record_id)
        .await
        .expect("record")
        .expect("stored");
    let other = fresh.again.open().await;
    let out = push(other.as_ref(), a, vec![delete(a, &record)]).await;
    assert_eq!(written(&out[0].1), 2);
    let record = store
        .record(gone.record_id)
        .await
        .expect("record")
        .expect("kept");
    assert!(record.deleted);
    assert_eq!(
        store.record_counts().await.expect("counts").get("visit"),
        Some(&1)
    );
    let history = history(store, gone.record_id).await;
    assert_eq!(history.len(), 2);
    assert!(!history[0].deleted && history[1].deleted);
    assert_eq!(history[0].record.values.get("note"), Some(&json!("删")));
    let tombstone = pull_all(store, w.scope_a(), Cursor(0), 10).await;
    let tombstone = tombstone.last().expect("items");
    assert!(
        matches!(tombstone, beatbook_schema::protocol::PullItem::Record { version, .. } if version.deleted && version.record.id == gone.record_id),
        "{tombstone:?}"
    );
}
