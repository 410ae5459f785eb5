//! Several server instances on one database, each with its own pool (its
//! own `PgStore::connect`), as behind a load balancer: the change log stays
//! in commit order for readers, and one record's revisions stay gap-free
//! and exactly-once, whichever instance a push reaches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use beatbook_schema::ids::{BatchId, RecordId};
use beatbook_schema::protocol::{ChangeOutcome, Cursor, PullItem};
use beatbook_store::conformance::fixture::{
    another_phone, decider, in_secs, photo, pull_all, push_batch, upsert, values, versions, visit,
    world, written,
};
use beatbook_store::{ReadScope, Store};
use beatbook_store_postgres::{testing, PgStore};
use serde_json::Value as Json;

/// Writers, each through its own instance.
const WRITERS: usize = 8;
/// Readers, each through its own instance.
const READERS: usize = 2;
/// Pushes per writer; a push carries one to three changes.
const PUSHES: usize = 25;
/// Reader page size: small, so readers page while writers write.
const PAGE: u32 = 2;

async fn instance(url: &str) -> Arc<PgStore> {
    Arc::new(PgStore::connect(url, 2).await.expect("an instance"))
}

/// What one reader saw: every (cursor, record, revision) in the order it was
/// pulled, and how many pages it read before the writers were done.
struct Seen {
    items: Vec<(u64, RecordId, u64)>,
    pages_during_writes: usize,
}

async fn read_until_done(store: Arc<PgStore>, done: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen {
        items: Vec::new(),
        pages_during_writes: 0,
    };
    let mut at = Cursor(0);
    loop {
        // Read before the pull: the last pull must start after every write
        // was acknowledged.
        let finished = done.load(Ordering::SeqCst);
        let page = store.pull(ReadScope::All, at, PAGE).await.expect("pull");
        if !finished {
            seen.pages_during_writes += 1;
        }
        for raw in &page.items {
            let item: PullItem = serde_json::from_str(raw.json.get()).expect("a pull item");
            let PullItem::Record { cursor, version } = item else {
                panic!("no form was published, got {item:?}");
            };
            assert_eq!(cursor, raw.cursor);
            seen.items
                .push((cursor.0, version.record.id, version.revision));
        }
        at = page.next;
        if finished && !page.has_more {
            return seen;
        }
    }
}

/// Eight instances push concurrently (new records and edits, one to three
/// changes a push) while two more page through the log two items at a time:
/// each reader sees acknowledged versions only, none twice, in increasing
/// cursor order, and ends with every record's current version; the log
/// then holds each record's current version and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pull_never_skips_with_eight_instances_writing() {
    let url = testing::fresh_database().await;
    let setup = instance(&url).await;
    let w = world(setup.as_ref()).await;
    let mut phones = vec![w.officer_a.clone()];
    while phones.len() < WRITERS {
        phones.push(another_phone(setup.as_ref(), &w.officer_a).await);
    }

    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let store = instance(&url).await;
        readers.push(tokio::spawn(read_until_done(store, done.clone())));
    }
    let started = Instant::now();
    let mut writers = Vec::new();
    for phone in phones {
        let store = instance(&url).await;
        let grid = w.grid_a.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut mine: Vec<(RecordId, u64)> = Vec::new();
            for i in 0..PUSHES {
                let mut changes = Vec::new();
                for k in 0..=(i % 3) {
                    let edit = (k == 1).then(|| mine.last().copied()).flatten();
                    changes.push(match edit {
                        Some((record, revision)) => upsert(
                            &phone,
                            record,
                            "visit",
                            &grid,
                            revision,
                            values(&[("note", Json::from(format!("edit {i}")))]),
                            vec![],
                        ),
                        None => visit(&phone, &grid, &format!("push {i} change {k}")),
                    });
                }
                let records: Vec<RecordId> = changes.iter().map(|c| c.record_id).collect();
                let outcomes = push_batch(store.as_ref(), &phone, BatchId::new_v7(), changes).await;
                for (record, (_, outcome)) in records.into_iter().zip(&outcomes) {
                    let revision = written(outcome);
                    acknowledged.push((record, revision));
                    mine.retain(|(r, _)| *r != record);
                    mine.push((record, revision));
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        for version in writer.await.expect("writer") {
            assert!(acknowledged.insert(version), "a version acknowledged twice");
        }
    }
    let writing = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let current = newest(&acknowledged);

    for (n, reader) in readers.into_iter().enumerate() {
        let seen = reader.await.expect("reader");
        let cursors: Vec<u64> = seen.items.iter().map(|i| i.0).collect();
        assert!(
            cursors.windows(2).all(|p| p[0] < p[1]),
            "reader {n}: cursors go up"
        );
        let versions: BTreeSet<(RecordId, u64)> = seen.items.iter().map(|i| (i.1, i.2)).collect();
        assert_eq!(
            versions.len(),
            seen.items.len(),
            "reader {n}: no item twice"
        );
        let unacknowledged: Vec<_> = versions.difference(&acknowledged).collect();
        assert!(
            unacknowledged.is_empty(),
            "reader {n} saw unacknowledged versions: {unacknowledged:?}"
        );
        let held = newest(&versions);
        assert_eq!(
            held, current,
            "reader {n} ends with every record's current version (a superseded one it had not reached yet it may skip)"
        );
        assert!(
            seen.pages_during_writes > 10,
            "reader {n} paged while the writers wrote ({} pages)",
            seen.pages_during_writes
        );
        eprintln!(
            "reader {n}: {} versions, {} pages while {WRITERS} instances wrote for {writing:?}",
            seen.items.len(),
            seen.pages_during_writes
        );
    }
    let log = pull_all(setup.as_ref(), ReadScope::All, Cursor(0), 500).await;
    let cursors: Vec<u64> = log.iter().map(|i| i.cursor().0).collect();
    assert!(cursors.windows(2).all(|p| p[0] < p[1]), "cursors go up");
    let logged = versions(&log);
    assert_eq!(
        logged.iter().copied().collect::<BTreeMap<_, _>>(),
        current,
        "the log holds each record's current version"
    );
    assert_eq!(logged.len(), current.len(), "and nothing else");
}

/// Each record's newest revision among `versions`.
fn newest(versions: &BTreeSet<(RecordId, u64)>) -> BTreeMap<RecordId, u64> {
    let mut out = BTreeMap::new();
    for (record, revision) in versions {
        let at = out.entry(*record).or_insert(*revision);
        *at = (*at).max(*revision);
    }
    out
}

/// Two instances take turns on one record: edits pushed to either, each
/// retry arriving at both instances at once. The record's revisions are
/// 1..=n with no gap and none twice, each change is applied once, both
/// copies of a retry get the same answer, and a later replay gets it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_to_one_record_from_two_instances_apply_each_change_once() {
    const EDITS: usize = 30;
    let url = testing::fresh_database().await;
    let (one, two) = (instance(&url).await, instance(&url).await);
    let w = world(one.as_ref()).await;
    let first = visit(&w.officer_a, &w.grid_a, "created");
    let record = first.record_id;
    push_batch(one.as_ref(), &w.officer_a, BatchId::new_v7(), vec![first]).await;

    let mut tasks = Vec::new();
    for i in 0..EDITS {
        let (one, two, by) = (one.clone(), two.clone(), w.officer_a.clone());
        let grid = w.grid_a.clone();
        tasks.push(tokio::spawn(async move {
            let change = upsert(
                &by,
                record,
                "visit",
                &grid,
                1,
                values(&[(&format!("field_{i}") as &str, Json::from(i))]),
                vec![],
            );
            let batch = BatchId::new_v7();
            // The same push reaches both instances at once (a retry after a
            // lost answer, say).
            let author = by.user.id;
            let (a, b) = tokio::join!(
                one.push(by.pusher(), batch, vec![change.clone()], decider(author)),
                two.push(by.pusher(), batch, vec![change.clone()], decider(author)),
            );
            let (a, b) = (a.expect("push to one"), b.expect("push to two"));
            assert_eq!(a, b, "both copies of a retry get one answer");
            (batch, change, a)
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("edit"));
    }

    let revisions: BTreeSet<u64> = answers.iter().map(|(_, _, a)| written(&a[0].1)).collect();
    assert_eq!(
        revisions,
        (2..=EDITS as u64 + 1).collect(),
        "every edit got its own revision, with no gap"
    );
    let stored = one.record(record).await.expect("record").expect("exists");
    assert_eq!(stored.revision, EDITS as u64 + 1);
    assert_eq!(stored.fields.len(), EDITS + 1, "every edit's field is kept");
    let history = two.record_history(record).await.expect("history");
    let history: Vec<u64> = history
        .iter()
        .map(|v| v["revision"].as_u64().expect("a revision"))
        .collect();
    assert_eq!(history, (1..=EDITS as u64 + 1).collect::<Vec<_>>());
    let pulled = versions(&pull_all(one.as_ref(), ReadScope::All, Cursor(0), 7).await);
    assert_eq!(
        pulled,
        [(record, EDITS as u64 + 1)],
        "the log holds the current version only"
    );
    let batches = one.record_batches(record).await.expect("record batches");
    let per_batch: BTreeMap<BatchId, usize> = batches.values().fold(BTreeMap::new(), |mut m, b| {
        *m.entry(*b).or_default() += 1;
        m
    });
    assert!(
        per_batch.values().all(|n| *n == 1),
        "each batch wrote one version"
    );

    for (batch, change, answer) in &answers {
        let replay = two
            .push(
                w.officer_a.pusher(),
                *batch,
                vec![change.clone()],
                decider(w.officer_a.user.id),
            )
            .await
            .expect("replay");
        assert_eq!(&replay, answer, "a replay gets the stored answer");
    }
    let after = one.record(record).await.expect("record").expect("exists");
    assert_eq!(after.revision, EDITS as u64 + 1, "replays changed nothing");
}

/// A collector on one instance forgets a blob while a push on another
/// attaches it, many times over: either the push wrote the record and the
/// blob is kept, or the collector forgot the blob and the push was told to
/// upload it again. Never a record carrying a forgotten blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collecting_a_blob_never_races_a_push_that_attaches_it() {
    const ROUNDS: usize = 40;
    let url = testing::fresh_database().await;
    let (pusher, collector) = (instance(&url).await, instance(&url).await);
    let w = world(pusher.as_ref()).await;
    let (mut kept, mut forgotten) = (0, 0);
    for round in 0..ROUNDS {
        let attachment = photo(format!("photo {round}").as_bytes());
        let sha = attachment.sha256;
        pusher
            .complete_blob(sha, attachment.size, "image/jpeg", w.officer_a.device)
            .await
            .expect("upload");
        let change = upsert(
            &w.officer_a,
            RecordId::new_v7(),
            "visit",
            &w.grid_a,
            0,
            values(&[("note", Json::from(round))]),
            vec![attachment],
        );
        // A cutoff in the future: the blob is unreferenced until the push lands.
        let (pushed, forgot) = tokio::join!(
            push_batch(
                pusher.as_ref(),
                &w.officer_a,
                BatchId::new_v7(),
                vec![change]
            ),
            async {
                // Staggered, so either side sometimes comes first.
                let delay = (round % 5) as u64 * 3;
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                collector.forget_blob(sha, in_secs(60)).await
            },
        );
        let forgot = forgot.expect("forget");
        let stored = collector
            .missing_blobs(vec![sha])
            .await
            .expect("missing")
            .is_empty();
        match &pushed[0].1 {
            ChangeOutcome::Rejected { .. } => {
                assert!(
                    forgot && !stored,
                    "round {round}: deferred, so it was forgotten"
                );
                forgotten += 1;
            }
            outcome => {
                written(outcome);
                assert!(!forgot && stored, "round {round}: attached, so it is kept");
                kept += 1;
            }
        }
    }
    eprintln!("{ROUNDS} rounds: {kept} attached and kept, {forgotten} forgotten and deferred");
}
