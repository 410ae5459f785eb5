//! Two real `beatbook-server` processes on one PostgreSQL database, as
//! behind a load balancer (DESIGN.md, "Scale"): each on its own loopback
//! port with its own data directory, both on one fresh database in the
//! throwaway test cluster and one shared blob directory. Whichever instance
//! a device reaches, and whichever dies, a client gets the same answers:
//!
//! - a device enrolled on one instance pushes and pulls through the other;
//! - an upload started on one instance is finished on the other, and the
//!   record attaching it is accepted;
//! - a form version published by the admin CLI is accepted by the other
//!   instance at once;
//! - many devices editing one record through both instances get gap-free
//!   revisions, each change stored once, and both instances pull every
//!   version once;
//! - an instance SIGKILLed while devices push through both loses nothing
//!   acknowledged, keeps nothing twice, and leaves no gap in the log.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use beatbook_core::store::{BatchLimits, LocalState};
use beatbook_core::sync::{Phase, RetryPolicy, SyncEngine};
use beatbook_core::Core;
use beatbook_schema::form::Values;
use beatbook_schema::ids::{GridId, RecordId, Sha256};
use beatbook_schema::protocol::{
    ChangeOutcome, Cursor, ErrorCode, PullItem, PushRequest, PushResponse,
};
use beatbook_schema::record::AttachmentRef;
use beatbook_store::Store;
use beatbook_store_postgres::{testing, PgStore};
use beatbook_tests::client::{device_at, house_ids, open_core};
use beatbook_tests::data::{house, obj, photo_bytes, reading_form};
use beatbook_tests::device::{read, with_attachments};
use beatbook_tests::process::{
    free_addr, seed_storage, server_binary, Org, ServerProcess, Storage,
};
use beatbook_tests::{TestDevice, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;
use tokio::sync::{Mutex, Notify};

/// Two instances on one database and one blob directory.
struct Deployment {
    database: String,
    a: ServerProcess,
    b: ServerProcess,
    /// Last: the instances stop before their directories go.
    root: TempDir,
}

impl Deployment {
    /// A fresh database seeded with [`Org::standard`], and two instances on it.
    async fn start() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let database = testing::fresh_database().await;
        let instance = |name: &str| {
            Storage::shared(
                &root.path().join(name),
                &database,
                &root.path().join("blobs"),
            )
        };
        seed_storage(&instance("a"), &Org::standard(), &[]).await;
        let a = ServerProcess::start_on(instance("a"), free_addr()).await;
        let b = ServerProcess::start_on(instance("b"), free_addr()).await;
        Self {
            database,
            a,
            b,
            root,
        }
    }

    /// The shared database, opened as a third party would (for assertions).
    async fn store(&self) -> PgStore {
        PgStore::connect(&self.database, 2)
            .await
            .expect("the shared database opens")
    }
}

/// Every version in `items`, by record: its revisions in the order pulled.
fn versions(items: &[PullItem]) -> BTreeMap<RecordId, Vec<u64>> {
    let mut by_record: BTreeMap<RecordId, Vec<u64>> = BTreeMap::new();
    for item in items {
        if let PullItem::Record { version, .. } = item {
            by_record
                .entry(version.record.id)
                .or_default()
                .push(version.revision);
        }
    }
    by_record
}

/// The revisions of a record's stored history, oldest first.
async fn history_revisions(store: &PgStore, id: RecordId) -> Vec<u64> {
    store
        .record_history(id)
        .await
        .expect("history")
        .iter()
        .map(|v| v["revision"].as_u64().expect("a revision"))
        .collect()
}

fn new_house(core: &Core, grid: &str, owner: &str) -> RecordId {
    let mut session = core
        .new_record("house", Some(&GridId::new(grid)), house(owner))
        .expect("new record");
    session.finalize().expect("finalize");
    session.id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrolled_on_one_instance_pushes_and_pulls_through_the_other() {
    let d = Deployment::start().await;
    let (_one_dir, one) = device_at(&d.a.url, "o1").await;
    // Another phone of the same officer (an auxiliary may not write houses).
    let (_two_dir, two) = device_at(&d.a.url, "o1").await;

    let first = new_house(&one, "G1", "甲实例");
    let report = one
        .sync_via(Some(&d.b.url), &|_| {})
        .await
        .expect("the token issued by A is good on B");
    assert_eq!(report.accepted, 1, "{report:?}");
    let second = new_house(&two, "G1", "乙实例");
    let report = two.sync(&|_| {}).await.expect("sync on A");
    assert_eq!(report.accepted, 1, "{report:?}");
    assert!(
        house_ids(&two, None).contains(&first),
        "A serves what was pushed through B"
    );

    one.sync_via(Some(&d.b.url), &|_| {})
        .await
        .expect("sync on B");
    assert_eq!(house_ids(&one, None), HashSet::from([first, second]));
    assert_eq!(house_ids(&one, Some(LocalState::Synced)).len(), 2);
    let store = d.store().await;
    for id in [first, second] {
        assert_eq!(history_revisions(&store, id).await, [1]);
    }
}

#[tokio::test]
async fn an_upload_started_on_one_instance_finishes_on_the_other_and_attaches() {
    let d = Deployment::start().await;
    let on_a = TestDevice::enroll(&d.a.url, "o1", PASSWORD)
        .await
        .expect("enroll");
    let bytes = photo_bytes(300_000, 11);
    let sha = Sha256::digest(&bytes);
    // The same device, routed to B halfway: B knows how far A got.
    let on_b = on_a.upload_split_across(&d.b.url, &bytes, 100_000).await;

    // A record attaching it, pushed through B, is accepted; both instances
    // hand back the whole photo.
    let mut fields = house("拍照户");
    fields.insert("photos".into(), json!([sha]));
    let change = with_attachments(
        on_b.upsert(RecordId::new_v7(), "house", "G1", 0, fields),
        vec![AttachmentRef {
            sha256: sha,
            content_type: "image/jpeg".into(),
            size: bytes.len() as u64,
        }],
    );
    let answer = on_b.push(vec![change]).await.expect("push");
    assert_eq!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { revision: 1 }
    );
    let mut device = on_b;
    for url in [&d.a.url, &d.b.url] {
        device = device.via(url);
        let got = device
            .request(reqwest::Method::GET, &format!("/v1/blobs/{sha}"))
            .send()
            .await
            .expect("download");
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    }
    assert!(d
        .store()
        .await
        .missing_blobs(vec![sha])
        .await
        .expect("missing")
        .is_empty());
}

/// A `reading` v`version` record in G1 pushed by `device`; its outcome.
async fn push_reading(device: &TestDevice, version: u32) -> ChangeOutcome {
    let mut change = device.upsert(
        RecordId::new_v7(),
        "reading",
        "G1",
        0,
        obj(json!({"note": "水表读数"})),
    );
    change.form_version = version;
    let answer = device.push(vec![change]).await.expect("push answered");
    answer.results[0].outcome.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_published_by_the_admin_cli_is_accepted_by_the_other_instance_at_once() {
    let d = Deployment::start().await;
    let on_b = TestDevice::enroll(&d.b.url, "o1", PASSWORD)
        .await
        .expect("enroll");
    let outcome = push_reading(&on_b, 1).await;
    assert!(
        matches!(
            outcome,
            ChangeOutcome::Rejected {
                code: ErrorCode::UnknownForm,
                ..
            }
        ),
        "not published yet: {outcome:?}"
    );

    // Published through A's configuration, by the admin CLI as a process.
    let file = d.root.path().join("reading.v1.json");
    std::fs::write(&file, serde_json::to_vec(&reading_form(1)).expect("json")).expect("write");
    let out = std::process::Command::new(server_binary())
        .arg("--data-dir")
        .arg(d.a.data_dir())
        .env("BEATBOOK_DATABASE", &d.database)
        .args(["form", "publish"])
        .arg(&file)
        .output()
        .expect("the admin CLI runs");
    assert!(
        out.status.success(),
        "form publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("published reading v1"));

    // B met the version missing a moment ago; it reads the forms again
    // (after at most the reload floor) rather than refusing.
    let started = Instant::now();
    let outcome = push_reading(&on_b, 1).await;
    assert_eq!(outcome, ChangeOutcome::Accepted { revision: 1 });
    assert!(started.elapsed() < Duration::from_secs(3));

    // A real device on B receives the form with its pull and uses it.
    let (_dir, core) = device_at(&d.b.url, "o1").await;
    core.sync(&|_| {}).await.expect("sync");
    let mut session = core
        .new_record(
            "reading",
            Some(&GridId::new("G1")),
            obj(json!({"note": "新表单"})),
        )
        .expect("the device knows the new form");
    session.finalize().expect("finalize");
    let report = core.sync(&|_| {}).await.expect("sync");
    assert_eq!((report.accepted, report.rejected), (1, 0), "{report:?}");
}

/// Sends `batch` as `device` to the instance at `url`.
async fn push_to(device: &TestDevice, url: &str, batch: &PushRequest) -> PushResponse {
    let res = device
        .http
        .post(format!("{url}/v1/push"))
        .bearer_auth(&device.token)
        .json(batch)
        .send()
        .await
        .expect("push request");
    read(res).await.expect("push answered")
}

/// The field and value of edit `e` of device `i`: half the edits contest
/// one field (hard conflicts), the others write a field of their own.
fn edit(i: usize, e: usize) -> (&'static str, serde_json::Value) {
    if e.is_multiple_of(2) {
        ("storeys", json!((i * 7 + e) % 29 + 1))
    } else {
        ("owner_name", json!(format!("户主{i}-{e}")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_of_one_record_through_both_instances_get_gap_free_revisions() {
    const DEVICES: usize = 8;
    const EDITS: usize = 12;
    let d = Deployment::start().await;
    let creator = TestDevice::enroll(&d.a.url, "o1", PASSWORD)
        .await
        .expect("enroll");
    let id = RecordId::new_v7();
    let created = creator
        .push(vec![creator.upsert(id, "house", "G1", 0, house("同一户"))])
        .await
        .expect("create");
    assert_eq!(
        created.results[0].outcome,
        ChangeOutcome::Accepted { revision: 1 }
    );

    let mut devices = Vec::new();
    for i in 0..DEVICES {
        let (home, other) = if i % 2 == 0 {
            (&d.a.url, &d.b.url)
        } else {
            (&d.b.url, &d.a.url)
        };
        let device = TestDevice::enroll(home, "o1", PASSWORD)
            .await
            .expect("enroll");
        devices.push((device, other.clone()));
    }
    // Each device edits from the revision it last saw; every batch goes to
    // its home instance and, at the same moment, to the other one (a retry
    // racing the original): both must answer alike.
    let runs = devices
        .iter()
        .enumerate()
        .map(|(i, (device, other))| async move {
            let mut base = 1;
            let mut outcomes = Vec::new();
            for e in 0..EDITS {
                let (field, value) = edit(i, e);
                let mut fields = Values::new();
                fields.insert(field.into(), value);
                let batch = PushRequest {
                    batch_id: beatbook_schema::ids::BatchId::new_v7(),
                    changes: vec![device.upsert(id, "house", "G1", base, fields)],
                };
                let (home_answer, other_answer) = tokio::join!(
                    push_to(device, &device.url, &batch),
                    push_to(device, other, &batch)
                );
                assert_eq!(home_answer, other_answer, "a replay answers alike");
                let outcome = home_answer.results[0].outcome.clone();
                base = outcome.revision().unwrap_or_else(|| panic!("{outcome:?}"));
                outcomes.push((i, e, outcome));
            }
            outcomes
        });
    let outcomes: Vec<_> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();

    let n = 1 + DEVICES * EDITS;
    let revisions: BTreeSet<u64> = outcomes
        .iter()
        .filter_map(|(_, _, o)| o.revision())
        .collect();
    assert_eq!(
        revisions,
        (2..=n as u64).collect(),
        "each change got its own revision, none skipped"
    );
    let store = d.store().await;
    let history = store.record_history(id).await.expect("history");
    let stored: Vec<u64> = history
        .iter()
        .map(|v| v["revision"].as_u64().expect("a revision"))
        .collect();
    assert_eq!(stored, (1..=n as u64).collect::<Vec<_>>());
    // Each applied change is the version at its revision.
    let mut conflicts = 0;
    for (i, e, outcome) in &outcomes {
        let (field, value) = edit(*i, *e);
        match outcome {
            ChangeOutcome::Accepted { revision } | ChangeOutcome::Merged { revision } => {
                let version = &history[*revision as usize - 1];
                assert_eq!(version["record"]["values"][field], value, "{outcome:?}");
            }
            ChangeOutcome::Conflicted { .. } => conflicts += 1,
            ChangeOutcome::Rejected { .. } => panic!("{outcome:?}"),
        }
    }
    let batches = store.batches(1_000).await.expect("batches");
    assert_eq!(batches.len(), n, "one batch per push, replays included");
    assert!(batches.iter().all(|b| b.stored == 1 && b.rejected == 0));
    println!("{n} versions through two instances, {conflicts} hard conflicts");

    // The compacted log: the current version, and every version that
    // resolved a hard conflict (the losing device learns of it there).
    let mut in_log: Vec<u64> = outcomes
        .iter()
        .filter_map(|(_, _, o)| match o {
            ChangeOutcome::Conflicted { revision, .. } => Some(*revision),
            _ => None,
        })
        .chain([n as u64])
        .collect();
    in_log.sort_unstable();
    in_log.dedup();
    for url in [&d.a.url, &d.b.url] {
        let reader = TestDevice::enroll(url, "s1", PASSWORD)
            .await
            .expect("enroll");
        let (items, _) = reader.pull_all(Cursor(0), 7).await.expect("pull");
        assert_eq!(
            versions(&items).get(&id),
            Some(&in_log),
            "{url} pulls the versions that resolved conflicts and the current one, once each, in order"
        );
    }
}

/// A device core whose pushes are small (two changes a batch), so a sync
/// is several pushes, and which gives up on an instance at once.
fn field_device(dir: &Path) -> Core {
    open_core(dir).with_engine(SyncEngine {
        retry: RetryPolicy::immediate(1),
        limits: BatchLimits {
            max_changes: 2,
            max_bytes: 1 << 20,
        },
        page: 16,
        chunk: 16 * 1024,
        ..SyncEngine::default()
    })
}

/// Syncs through `first`, and after a failure through `fallback`, until a
/// sync goes through; after each failure, checks that every record the
/// device holds is acknowledged or still queued. `on_phase` hears each phase
/// as it starts. Returns the phase each failed sync was in.
async fn sync_with_fallback(
    core: &Core,
    first: &str,
    fallback: &str,
    on_phase: &(dyn Fn(Phase) + Sync),
) -> Vec<Option<Phase>> {
    let mut failures = Vec::new();
    let mut url = first;
    for _ in 0..300 {
        let phase = std::sync::Mutex::new(None);
        let result = core
            .sync_via(Some(url), &|p| {
                on_phase(p.phase);
                *phase.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.phase);
            })
            .await;
        let Err(e) = result else {
            return failures;
        };
        let text = e.to_string();
        assert!(
            !text.contains("local database"),
            "only the network may fail: {text}"
        );
        for id in house_ids(core, None) {
            let state = core.record(id).expect("record").state;
            assert!(
                matches!(state, LocalState::Synced | LocalState::Queued),
                "{id}: {state:?}"
            );
        }
        failures.push(phase.into_inner().unwrap_or_else(|e| e.into_inner()));
        url = fallback;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no sync went through {fallback}: {failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_push_loses_nothing_acknowledged_and_stores_nothing_twice() {
    const DEVICES: usize = 6;
    const RECORDS: usize = 12;
    let d = Deployment::start().await;
    let store = d.store().await;
    let (a_url, b_url) = (d.a.url.clone(), d.b.url.clone());
    let mut devices = Vec::new();
    for i in 0..DEVICES {
        let dir = d.root.path().join(format!("device-{i}"));
        let core = field_device(&dir);
        let (badge, grid) = if i % 2 == 0 {
            ("o1", "G1")
        } else {
            ("o2", "G3")
        };
        // Devices 0, 1, 4, 5 reach A (the one killed); 2, 3 reach B.
        let home = if (i / 2) % 2 == 0 { &a_url } else { &b_url };
        core.enroll(home, badge, PASSWORD, "测试设备")
            .await
            .expect("enroll");
        devices.push((core, grid, home.clone()));
    }

    // One synced record each, then edited: the storm carries edits too.
    let mut entered_on: Vec<HashSet<RecordId>> = vec![HashSet::new(); DEVICES];
    let mut edited = HashSet::new();
    for (i, (core, grid, home)) in devices.iter().enumerate() {
        let id = new_house(core, grid, &format!("先存{i}"));
        core.sync_via(Some(home), &|_| {})
            .await
            .expect("first sync");
        let mut session = core.open_record(id).expect("open");
        session.set("storeys", json!(i + 10)).expect("edit");
        session.finalize().expect("finalize");
        entered_on[i].insert(id);
        edited.insert(id);
        for r in 0..RECORDS {
            entered_on[i].insert(new_house(core, grid, &format!("杀实例{i}-{r}")));
        }
    }
    let entered: HashSet<RecordId> = entered_on.iter().flatten().copied().collect();

    // All sync at once; A is SIGKILLed a moment after its first device
    // starts pushing. A's devices carry on through B.
    let a = Arc::new(Mutex::new(d.a));
    let pushing = Arc::new(Notify::new());
    let killer = {
        let (a, pushing) = (a.clone(), pushing.clone());
        tokio::spawn(async move {
            pushing.notified().await;
            tokio::time::sleep(Duration::from_millis(15)).await;
            a.lock().await.kill();
        })
    };
    let syncs: Vec<_> = devices
        .iter()
        .map(|(core, _, home)| {
            let (core, home, pushing) = (core.clone(), home.clone(), pushing.clone());
            let (a_url, b_url) = (a_url.clone(), b_url.clone());
            tokio::spawn(async move {
                let on_a = home == a_url;
                let notify = |phase| {
                    if on_a && phase == Phase::Pushing {
                        pushing.notify_one();
                    }
                };
                sync_with_fallback(&core, &home, &b_url, &notify).await
            })
        })
        .collect();
    killer.await.expect("killer");
    let mut failed_in = Vec::new();
    for s in syncs {
        failed_in.extend(s.await.expect("sync task"));
    }
    assert!(
        failed_in.contains(&Some(Phase::Pushing)),
        "the kill interrupted a push: {failed_in:?}"
    );
    println!("syncs failed in these phases when A died: {failed_in:?}");

    // A comes back; every device syncs once more through its home.
    a.lock().await.restart().await;
    for (core, _, home) in &devices {
        core.sync_via(Some(home), &|_| {})
            .await
            .expect("sync after restart");
        assert_eq!(core.status().expect("status").outbox, 0);
    }
    for ((core, _, _), entered) in devices.iter().zip(&entered_on) {
        let synced = house_ids(core, Some(LocalState::Synced));
        assert!(
            entered.is_subset(&synced),
            "every record the device entered is acknowledged"
        );
    }

    let counts = store.record_counts().await.expect("counts");
    assert_eq!(
        counts["house"] as usize,
        entered.len(),
        "none twice, none extra"
    );
    // Each record once, each edit once: versions 1 (and 2 if edited).
    let mut expected_versions = BTreeMap::new();
    for id in &entered {
        let expected: Vec<u64> = if edited.contains(id) {
            vec![1, 2]
        } else {
            vec![1]
        };
        assert_eq!(history_revisions(&store, *id).await, expected, "{id}");
        expected_versions.insert(*id, expected[expected.len() - 1..].to_vec());
    }

    // From cursor 0, through either instance: every log position once, in
    // order; the current version of every record once (the log is compacted).
    for url in [&a_url, &b_url] {
        let reader = TestDevice::enroll(url, "admin", PASSWORD)
            .await
            .expect("enroll");
        let (items, last) = reader.pull_all(Cursor(0), 25).await.expect("pull");
        let cursors: Vec<u64> = items.iter().map(|i| i.cursor().0).collect();
        assert!(
            cursors.windows(2).all(|p| p[0] < p[1]) && cursors.last() <= Some(&last.0),
            "{url}: in order, no duplicate"
        );
        let houses: BTreeMap<RecordId, Vec<u64>> = versions(&items)
            .into_iter()
            .filter(|(id, _)| entered.contains(id))
            .collect();
        assert_eq!(houses, expected_versions, "{url}");
    }
}
