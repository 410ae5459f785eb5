//! The change log holds each record's current version only: a fresh device
//! pulls one item per record whatever its number of versions, the history
//! keeps every version as it was pulled, and a device paging through the
//! log while records are edited (their old items leaving the log between
//! its pages) neither skips a change nor receives a version twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{Change, ChangeOutcome, Cursor, PullItem};
use serde_json::json;
use serde_json::value::RawValue;

use super::fixture::{another_phone, push, upsert, values, visit, world, Officer, World};
use super::Backend;
use crate::{ReadScope, Store};

/// Records written.
const RECORDS: usize = 12;
/// Versions of each.
const VERSIONS: u64 = 10;
/// A device's page size: small, so compaction happens between its pages.
const PAGE: u32 = 3;

/// The `version` of a record item exactly as the log holds it.
fn raw_version(json: &str) -> String {
    let item: HashMap<String, Box<RawValue>> =
        serde_json::from_str(json).expect("a pull item is an object");
    item.get("version")
        .expect("a record item has its version")
        .get()
        .to_owned()
}

/// The record and revision of a raw pull item, `None` for a form.
fn version_of(json: &str) -> Option<(RecordId, u64)> {
    match serde_json::from_str::<PullItem>(json).expect("a pull item") {
        PullItem::Record { version, .. } => Some((version.record.id, version.revision)),
        PullItem::Form { .. } => None,
    }
}

/// The next version of `id` (at `revision` now), a field of its own each time.
fn edit(by: &Officer, w: &World, id: RecordId, revision: u64) -> Change {
    upsert(
        by,
        id,
        "visit",
        &w.grid_a,
        revision,
        values(&[(&format!("edit_{revision}"), json!(revision))]),
        vec![],
    )
}

/// What one device got paging from `since` to the log's end: every record
/// item in order, and where it stopped.
async fn pull_to_end(
    store: &dyn Store,
    since: Cursor,
    limit: u32,
) -> (Vec<(Cursor, String)>, Cursor) {
    let mut got = Vec::new();
    let mut at = since;
    loop {
        let page = store.pull(ReadScope::All, at, limit).await.expect("pull");
        for raw in page.items {
            assert!(raw.cursor > at, "cursor {:?} after {at:?}", raw.cursor);
            at = raw.cursor;
            got.push((raw.cursor, raw.json.get().to_owned()));
        }
        at = page.next.max(at);
        if !page.has_more {
            return (got, at);
        }
    }
}

/// After ten versions of each of a dozen records, a pull from 0 returns one
/// item per record, its current version; the history still holds all ten
/// versions, each byte for byte as devices pulled it when it was current.
pub async fn a_fresh_pull_gets_each_records_current_version_and_history_keeps_all(
    backend: &dyn Backend,
) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let creates: Vec<_> = (0..RECORDS)
        .map(|i| visit(a, &w.grid_a, &format!("第{i}户")))
        .collect();
    let ids: Vec<RecordId> = creates.iter().map(|c| c.record_id).collect();
    push(store, a, creates).await;
    // As pulled when current: (record, revision) → the version's JSON.
    let mut pulled: BTreeMap<(RecordId, u64), String> = BTreeMap::new();
    let mut at = Cursor(0);
    for revision in 1..=VERSIONS {
        let (items, end) = pull_to_end(store, at, 1000).await;
        at = end;
        for (_, json) in &items {
            let key = version_of(json).expect("a record");
            assert_eq!(key.1, revision, "only the newest versions since {at:?}");
            pulled.insert(key, raw_version(json));
        }
        assert_eq!(
            items.len(),
            RECORDS,
            "round {revision}: one item per record"
        );
        if revision < VERSIONS {
            let edits = ids.iter().map(|id| edit(a, &w, *id, revision)).collect();
            push(store, a, edits).await;
        }
    }

    let (items, _) = pull_to_end(store, Cursor(0), 5).await;
    let got: Vec<(RecordId, u64)> = items
        .iter()
        .filter_map(|(_, json)| version_of(json))
        .collect();
    assert_eq!(
        got.len(),
        RECORDS,
        "a fresh pull gets one item per record, not {} versions: {got:?}",
        RECORDS as u64 * VERSIONS
    );
    for id in &ids {
        assert!(got.contains(&(*id, VERSIONS)), "{id}'s current version");
        let history = store.record_history(*id).await.expect("history");
        assert_eq!(history.len() as u64, VERSIONS, "{id} keeps every version");
        for (i, version) in history.iter().enumerate() {
            let revision = i as u64 + 1;
            assert_eq!(
                serde_json::to_string(version).expect("json"),
                pulled[&(*id, revision)],
                "{id} revision {revision} is kept as devices pulled it"
            );
        }
    }
}

/// A version that resolved a hard conflict stays in the log after later
/// versions: the device whose value lost learns of it from there.
pub async fn a_version_that_resolved_a_conflict_stays_in_the_log(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let b = another_phone(store, a).await;
    let create = visit(a, &w.grid_a, "原值");
    let id = create.record_id;
    push(store, a, vec![create]).await;
    let note = |by: &Officer, base: u64, text: &str| {
        upsert(
            by,
            id,
            "visit",
            &w.grid_a,
            base,
            values(&[("note", json!(text))]),
            vec![],
        )
    };
    push(store, a, vec![note(a, 1, "甲改")]).await;
    let out = push(store, &b, vec![note(&b, 1, "乙改")]).await;
    assert!(
        matches!(out[0].1, ChangeOutcome::Conflicted { revision: 3, .. }),
        "the same field edited from the same base: {:?}",
        out[0].1
    );
    push(store, a, vec![edit(a, &w, id, 3)]).await;
    push(store, a, vec![edit(a, &w, id, 4)]).await;

    let (items, _) = pull_to_end(store, Cursor(0), 2).await;
    let logged: Vec<(RecordId, u64)> = items.iter().filter_map(|(_, j)| version_of(j)).collect();
    assert_eq!(
        logged,
        [(id, 3), (id, 5)],
        "the log holds the conflict's version and the current one"
    );
    assert_eq!(store.record_history(id).await.expect("history").len(), 5);
}

/// Devices page through the log with a small page while records are edited:
/// first in lockstep (after each page, a record the device has and one it
/// has not yet reached are edited), then with writers on several handles
/// racing readers. Each device ends with exactly the server's current
/// versions, never receives one (record, revision) twice, and every version
/// it receives is the one the history keeps.
pub async fn a_device_mid_pull_while_records_are_edited_misses_nothing_and_gets_nothing_twice(
    backend: &dyn Backend,
) {
    let fresh = backend.fresh().await;
    let handles: Vec<Arc<dyn Store>> = vec![
        fresh.store.clone(),
        fresh.again.open().await,
        fresh.again.open().await,
    ];
    let store = handles[0].as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let creates: Vec<_> = (0..RECORDS * 2)
        .map(|i| visit(a, &w.grid_a, &format!("第{i}户")))
        .collect();
    let ids: Vec<RecordId> = creates.iter().map(|c| c.record_id).collect();
    push(store, a, creates).await;

    // Lockstep.
    let mut revisions: HashMap<RecordId, u64> = ids.iter().map(|id| (*id, 1)).collect();
    let mut got: Vec<String> = Vec::new();
    let mut have: Vec<RecordId> = Vec::new();
    let mut at = Cursor(0);
    loop {
        let page = store.pull(ReadScope::All, at, PAGE).await.expect("pull");
        for raw in &page.items {
            assert!(raw.cursor > at);
            at = raw.cursor;
            got.push(raw.json.get().to_owned());
            if let Some((id, _)) = version_of(raw.json.get()) {
                have.push(id);
            }
        }
        at = page.next.max(at);
        if !page.has_more {
            break;
        }
        let had = have[have.len() / 2];
        let ahead = *ids
            .iter()
            .rev()
            .find(|id| !have.contains(id))
            .expect("a record not yet pulled");
        let edits: Vec<_> = [had, ahead]
            .into_iter()
            .map(|id| {
                let revision = revisions.get_mut(&id).expect("known");
                *revision += 1;
                edit(a, &w, id, *revision - 1)
            })
            .collect();
        push(store, a, edits).await;
    }
    assert!(
        revisions.values().any(|r| *r > 2),
        "records were edited more than once while the device paged"
    );
    check_device(store, &got, &ids).await;

    // Racing: writers on every handle edit the records while readers page.
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for handle in &handles {
        let (store, done) = (handle.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut at = Cursor(0);
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = store.pull(ReadScope::All, at, PAGE).await.expect("pull");
                for raw in &page.items {
                    assert!(raw.cursor > at, "not strictly increasing");
                    at = raw.cursor;
                    got.push(raw.json.get().to_owned());
                }
                at = page.next.max(at);
                if !page.has_more {
                    if finished {
                        return got;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let mut writers = Vec::new();
    for (i, handle) in handles.iter().enumerate() {
        let (store, ids, w) = (handle.clone(), ids.clone(), w.clone());
        let phone = another_phone(store.as_ref(), &w.officer_a).await;
        writers.push(tokio::spawn(async move {
            for round in 0..4 {
                let changes: Vec<_> = ids
                    .iter()
                    .skip(i)
                    .step_by(2)
                    .map(|id| {
                        upsert(
                            &phone,
                            *id,
                            "visit",
                            &w.grid_a,
                            1,
                            values(&[(&format!("w{i}_{round}"), json!(round))]),
                            vec![],
                        )
                    })
                    .collect();
                push(store.as_ref(), &phone, changes).await;
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        let got = reader.await.expect("reader");
        check_device(store, &got, &ids).await;
    }
}

/// A device that got `items` (raw pull items, in order) holds exactly the
/// server's current version of every record, got no (record, revision)
/// twice, and each version it got is the one the history keeps.
async fn check_device(store: &dyn Store, items: &[String], ids: &[RecordId]) {
    let mut seen: BTreeMap<(RecordId, u64), usize> = BTreeMap::new();
    let mut newest: HashMap<RecordId, u64> = HashMap::new();
    for json in items {
        let Some((id, revision)) = version_of(json) else {
            continue;
        };
        *seen.entry((id, revision)).or_default() += 1;
        let held = newest.entry(id).or_default();
        *held = (*held).max(revision);
        let history = store.record_history(id).await.expect("history");
        let kept = history
            .get(revision as usize - 1)
            .expect("the version is in the history");
        assert_eq!(
            &serde_json::from_str::<serde_json::Value>(&raw_version(json)).expect("json"),
            kept,
            "{id} revision {revision} as pulled and as kept"
        );
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "received twice: {twice:?}");
    for id in ids {
        let current = store
            .record(*id)
            .await
            .expect("record")
            .expect("stored")
            .revision;
        assert_eq!(
            newest.get(id),
            Some(&current),
            "{id}: the device must end at the server's current revision"
        );
    }
}
