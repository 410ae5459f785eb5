//! Pull never skips: cursors in commit order, whatever the number of
//! writers and handles; pages, scope and resuming from a stored cursor.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use beatbook_schema::catalogue;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{Cursor, PullItem};

use super::fixture::{another_phone, pull_all, push, versions, visit, world, written};
use super::Backend;
use crate::{ReadScope, Store};

/// Concurrent writers.
const WRITERS: usize = 8;
/// Handles onto the database the writers and readers spread over.
const HANDLES: usize = 3;
/// Concurrent readers.
const READERS: usize = 4;
/// Pushes per writer.
const PUSHES: usize = 20;
/// Reader page size: small, so readers page while writers write.
const PAGE: u32 = 3;

/// Writers push many small batches through several handles while readers
/// (spread over the handles) page through the log with a small limit until the
/// writers are done: each reader sees every acknowledged version exactly
/// once, with cursors strictly increasing.
pub async fn concurrent_writers_never_make_a_reader_skip(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let mut handles: Vec<Arc<dyn Store>> = vec![fresh.store.clone()];
    while handles.len() < HANDLES {
        handles.push(fresh.again.open().await);
    }
    let w = world(handles[0].as_ref()).await;
    let mut phones = vec![w.officer_a.clone()];
    while phones.len() < WRITERS {
        phones.push(another_phone(handles[0].as_ref(), &w.officer_a).await);
    }
    let acknowledged = Arc::new(Mutex::new(Vec::<(RecordId, u64)>::new()));
    let done = Arc::new(AtomicBool::new(false));

    let mut readers = Vec::new();
    for r in 0..READERS {
        let (store, done) = (handles[r % HANDLES].clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut at = Cursor(0);
            loop {
                // Read `done` before the page: a page read after the writers
                // finished that has no more is the end.
                let finished = done.load(Ordering::SeqCst);
                let page = store.pull(ReadScope::All, at, PAGE).await.expect("pull");
                for raw in &page.items {
                    assert!(
                        raw.cursor > at,
                        "cursor {:?} after {:?}: not strictly increasing",
                        raw.cursor,
                        at
                    );
                    at = raw.cursor;
                    let item: PullItem = serde_json::from_str(raw.json.get()).expect("a pull item");
                    seen.push(item);
                }
                assert!(page.next >= at, "next {:?} is behind {:?}", page.next, at);
                at = page.next;
                if !page.has_more {
                    if finished {
                        return versions(&seen);
                    }
                    tokio::task::yield_now().await;
                }
            }
        }));
    }

    let mut writers = Vec::new();
    for (i, phone) in phones.into_iter().enumerate() {
        let store = handles[i % HANDLES].clone();
        let (acknowledged, grid) = (acknowledged.clone(), w.grid_a.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..PUSHES {
                let changes: Vec<_> = (0..1 + n % 3)
                    .map(|k| visit(&phone, &grid, &format!("{i}-{n}-{k}")))
                    .collect();
                let outcomes = push(store.as_ref(), &phone, changes.clone()).await;
                let mut acked = acknowledged.lock().expect("acknowledged");
                for (change, (_, outcome)) in changes.iter().zip(&outcomes) {
                    acked.push((change.record_id, written(outcome)));
                }
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let acknowledged: BTreeSet<_> = acknowledged
        .lock()
        .expect("acknowledged")
        .iter()
        .copied()
        .collect();
    assert!(acknowledged.len() >= WRITERS * PUSHES, "the writers wrote");
    for reader in readers {
        let seen = reader.await.expect("reader");
        let mut counts = BTreeMap::new();
        for v in &seen {
            *counts.entry(*v).or_insert(0) += 1;
        }
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "seen more than once: {twice:?}");
        let missed: Vec<_> = acknowledged
            .iter()
            .filter(|v| !counts.contains_key(v))
            .collect();
        assert!(
            missed.is_empty(),
            "a reader skipped {} of {} acknowledged versions: {:?}",
            missed.len(),
            acknowledged.len(),
            &missed[..missed.len().min(5)]
        );
        assert_eq!(seen.len(), acknowledged.len(), "nothing unacknowledged");
    }
}

/// A grid scope sees its grids' records and every form, nothing else; an
/// empty scope sees only forms.
pub async fn pull_filters_by_scope(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let form = catalogue::standard_forms().expect("the standard forms")[0]
        .def()
        .clone();
    store.publish_form(&form).await.expect("publish");
    push(
        store,
        &w.officer_a,
        vec![visit(&w.officer_a, &w.grid_a, "甲")],
    )
    .await;
    push(
        store,
        &w.officer_b,
        vec![visit(&w.officer_b, &w.grid_b, "乙")],
    )
    .await;
    store
        .publish_form(&catalogue::standard_forms().expect("forms")[1].def().clone())
        .await
        .expect("publish");
    let records = |items: &[PullItem]| -> BTreeSet<RecordId> {
        versions(items).into_iter().map(|(id, _)| id).collect()
    };
    let forms = |items: &[PullItem]| {
        items
            .iter()
            .filter(|i| matches!(i, PullItem::Form { .. }))
            .count()
    };

    let in_a = pull_all(store, w.scope_a(), Cursor(0), 10).await;
    let in_b = pull_all(store, w.scope_b(), Cursor(0), 10).await;
    let all = pull_all(store, ReadScope::All, Cursor(0), 10).await;
    let none = pull_all(store, ReadScope::Grids(vec![]), Cursor(0), 10).await;
    let grid_of = |items: &[PullItem]| -> BTreeSet<String> {
        items
            .iter()
            .filter_map(|i| match i {
                PullItem::Record { version, .. } => Some(version.record.grid.to_string()),
                PullItem::Form { .. } => None,
            })
            .collect()
    };
    assert_eq!(grid_of(&in_a), BTreeSet::from([w.grid_a.to_string()]));
    assert_eq!(grid_of(&in_b), BTreeSet::from([w.grid_b.to_string()]));
    assert_eq!(records(&all).len(), 2);
    assert_eq!(records(&in_a).len(), 1);
    assert_eq!(records(&in_b).len(), 1);
    assert!(records(&none).is_empty());
    for items in [&in_a, &in_b, &all, &none] {
        assert_eq!(forms(items), 2, "every scope gets every form");
    }
}

/// Pages: at most `limit` items, `has_more` while items wait, `next` at the
/// last item given (or further, past items out of scope), and pages joined
/// are the log read at once.
pub async fn pages_report_has_more_and_next(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let empty = store
        .pull(ReadScope::All, Cursor(0), 5)
        .await
        .expect("pull");
    assert!(empty.items.is_empty() && !empty.has_more);
    assert_eq!(empty.next, Cursor(0), "an empty log keeps the cursor");

    let w = world(store).await;
    for n in 0..5 {
        push(
            store,
            &w.officer_a,
            vec![visit(&w.officer_a, &w.grid_a, &format!("{n}"))],
        )
        .await;
        push(
            store,
            &w.officer_b,
            vec![visit(&w.officer_b, &w.grid_b, &format!("{n}"))],
        )
        .await;
    }
    let whole = store
        .pull(ReadScope::All, Cursor(0), 100)
        .await
        .expect("pull");
    assert_eq!(whole.items.len(), 10);
    assert!(!whole.has_more);
    assert!(whole.items.windows(2).all(|p| p[0].cursor < p[1].cursor));

    let mut joined = Vec::new();
    let mut at = Cursor(0);
    loop {
        let page = store.pull(w.scope_a(), at, 2).await.expect("pull");
        assert!(page.items.len() <= 2, "a page holds at most `limit`");
        if let Some(last) = page.items.last() {
            assert!(page.next >= last.cursor);
        }
        if page.has_more {
            assert_eq!(page.items.len(), 2, "only a full page has more");
            assert_eq!(
                page.next, page.items[1].cursor,
                "next is the last item given"
            );
        }
        joined.extend(page.items.iter().map(|i| i.cursor));
        at = page.next;
        if !page.has_more {
            break;
        }
    }
    let in_a: Vec<Cursor> = whole
        .items
        .iter()
        .filter(|i| {
            let item: PullItem = serde_json::from_str(i.json.get()).expect("item");
            matches!(item, PullItem::Record { version, .. } if version.record.grid == w.grid_a)
        })
        .map(|i| i.cursor)
        .collect();
    assert_eq!(joined, in_a, "grid A's pages join to grid A's items");
    let last = whole.items.last().expect("items").cursor;
    let after = store.pull(w.scope_a(), at, 2).await.expect("pull");
    assert!(after.items.is_empty() && !after.has_more);
    assert!(
        after.next <= last,
        "next {:?} beyond the log's end {last:?}",
        after.next
    );

    let mid = whole.items[3].cursor;
    let rest = store.pull(ReadScope::All, mid, 100).await.expect("pull");
    let rest: Vec<Cursor> = rest.items.iter().map(|i| i.cursor).collect();
    let expect: Vec<Cursor> = whole.items[4..].iter().map(|i| i.cursor).collect();
    assert_eq!(rest, expect, "a pull starts right after `since`");
}

/// A device stores its cursor; later (another instance, the first one gone)
/// it pulls from there and gets exactly what was written since.
pub async fn pull_resumes_from_stored_cursor_after_reopening(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let first = fresh.store.clone();
    let w = world(first.as_ref()).await;
    let a = &w.officer_a;
    for n in 0..4 {
        push(
            first.as_ref(),
            a,
            vec![visit(a, &w.grid_a, &format!("前{n}"))],
        )
        .await;
    }
    let stored = first.pull(w.scope_a(), Cursor(0), 100).await.expect("pull");
    assert_eq!(stored.items.len(), 4);
    let cursor = stored.next;
    drop(first);
    drop(fresh.store);

    let second = fresh.again.open().await;
    let mut later = Vec::new();
    for n in 0..3 {
        let out = push(
            second.as_ref(),
            a,
            vec![visit(a, &w.grid_a, &format!("后{n}"))],
        )
        .await;
        later.push(out[0].0);
    }
    drop(second);
    let third = fresh.again.open().await;
    let items = pull_all(third.as_ref(), w.scope_a(), cursor, 2).await;
    assert_eq!(
        items.len(),
        3,
        "exactly the versions written since: {items:?}"
    );
    assert!(items.iter().all(|i| i.cursor() > cursor));
    let notes: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            PullItem::Record { version, .. } => {
                version.record.values.get("note").map(|v| v.to_string())
            }
            PullItem::Form { .. } => None,
        })
        .collect();
    assert_eq!(notes, ["\"后0\"", "\"后1\"", "\"后2\""]);
}
