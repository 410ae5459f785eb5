//! A faulty network between a real client core and the real server: refused
//! connections, requests cut or reset mid-body, answers truncated or reset
//! mid-body or lost after the commit, and delays. Whatever happens, once the
//! device's sync goes through, the server holds every record exactly once,
//! the photo whole, and a device pulling through the same network sees every
//! record exactly once.
//!
//! Short by default; `BEATBOOK_FAULT_TRIALS=200` runs 200 randomized trials.

use std::collections::HashSet;
use std::time::Duration;

use beatbook_core::photos::synthetic_camera_jpeg;
use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_core::sync::{RetryPolicy, SyncEngine};
use beatbook_core::Core;
use beatbook_schema::ids::{RecordId, Sha256};
use beatbook_tests::client::open_core;
use beatbook_tests::data::house;
use beatbook_tests::fault::{trials, Tally};
use beatbook_tests::proxy::{Fault, FaultyProxy};
use beatbook_tests::{TestServer, PASSWORD};

/// Every fault the proxy knows, with offsets that land inside bodies.
const FAULTS: &[Fault] = &[
    Fault::Refuse,
    Fault::LoseAnswer,
    Fault::CutRequestAfter(300),
    Fault::CutRequestAfter(5_000),
    Fault::ResetRequestAfter(700),
    Fault::ResetRequestAfter(60_000),
    Fault::TruncateAnswerAfter(40),
    Fault::TruncateAnswerAfter(400),
    Fault::ResetAnswerAfter(200),
    Fault::Delay(30),
];

/// A device with small batches and quick retries, so a sync makes many
/// requests and faults land between and inside them.
fn device(dir: &std::path::Path) -> Core {
    open_core(dir).with_engine(SyncEngine {
        retry: RetryPolicy::immediate(2),
        limits: beatbook_core::store::BatchLimits {
            max_changes: 7,
            max_bytes: 1 << 20,
        },
        page: 9,
        chunk: 32 * 1024,
        ..SyncEngine::default()
    })
}

/// Syncs until a sync goes through (each failure is a network failure the
/// device would retry on its own later), at most `attempts` times.
async fn sync_until_done(core: &Core, via: &str, attempts: usize) -> usize {
    for attempt in 1..=attempts {
        match core.sync_via(Some(via), &|_| {}).await {
            Ok(_) => return attempt,
            Err(e) => {
                let text = e.to_string();
                assert!(
                    !text.contains("rejected") && !text.contains("wrong PIN"),
                    "a fault must only ever look like a network failure: {text}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    panic!("no sync went through in {attempts} attempts");
}

/// Enters `n` houses (the first with a photo); returns their ids and the photo's digest.
fn enter(core: &Core, n: usize, tag: &str, seed: u64) -> (Vec<RecordId>, Sha256) {
    let jpeg = synthetic_camera_jpeg(320, 240, seed).expect("jpeg");
    let mut photo = None;
    let mut ids = Vec::new();
    for i in 0..n {
        let mut s = core
            .new_record("house", None, house(&format!("{tag}{i}")))
            .expect("new record");
        if i == 0 {
            photo = Some(s.add_photo("photos", &jpeg).expect("photo").sha256);
        }
        s.finalize().expect("finalize");
        ids.push(s.id());
    }
    (ids, photo.expect("a photo"))
}

/// Counts whether the server holds exactly `ids` among houses, each in
/// `versions(i)` versions, and the photo whole (its hash verified).
async fn check_stored(
    tally: &mut Tally,
    what: &str,
    server: &TestServer,
    ids: &[RecordId],
    versions: impl Fn(usize) -> usize,
    photo: Sha256,
) {
    let store = &server.state.store;
    for (i, id) in ids.iter().enumerate() {
        let stored = store.record_history(*id).await.expect("history").len();
        tally.stored(format!("{what}: record {i}, versions"), stored, versions(i));
    }
    let houses = store
        .record_counts()
        .await
        .expect("counts")
        .get("house")
        .copied()
        .unwrap_or(0) as usize;
    if houses != ids.len() {
        tally.problem(format!(
            "{what}: the server holds {houses} houses, {} saved",
            ids.len()
        ));
    }
    if !store
        .missing_blobs(vec![photo])
        .await
        .expect("blobs")
        .is_empty()
    {
        tally.problem(format!("{what}: the photo is missing"));
    }
}

fn synced(core: &Core) -> HashSet<RecordId> {
    core.records(&RecordFilter {
        form: Some("house".into()),
        ..Default::default()
    })
    .expect("records")
    .into_iter()
    .filter(|r| r.state == LocalState::Synced)
    .map(|r| r.id)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_on_the_first_requests_still_converges_exactly_once() {
    let mut tally = Tally::start(
        "fault_network.each_fault",
        "fault_network::each_fault_on_the_first_requests_still_converges_exactly_once",
        None,
        FAULTS.len(),
        "faults",
    );
    for (n, fault) in FAULTS.iter().enumerate() {
        let server = TestServer::start().await;
        let proxy = FaultyProxy::start(server.addr, *fault, 3, b"").await;
        let dir = tempfile::tempdir().expect("dir");
        let core = device(dir.path());
        core.enroll(&server.url, "o1", PASSWORD, "测试设备")
            .await
            .expect("enroll");
        let (ids, photo) = enter(&core, 20, &format!("故障{n}-"), n as u64);
        sync_until_done(&core, &proxy.url, 50).await;
        assert!(proxy.hurt() > 0, "{fault:?} was applied");
        tally.injected(proxy.hurt());
        tally.saved(ids.len());
        let what = format!("{fault:?}");
        check_stored(&mut tally, &what, &server, &ids, |_| 1, photo).await;
        if synced(&core) != ids.iter().copied().collect() {
            tally.problem(format!("{what}: not every record is acknowledged"));
        }
        if core.status().expect("status").outbox != 0 {
            tally.problem(format!("{what}: changes left in the outbox"));
        }
    }
    tally.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_on_a_third_of_connections_converge_exactly_once() {
    const SEED: u64 = 0x5eed_0000;
    let trials = trials(2);
    let mut tally = Tally::start(
        "fault_network",
        "fault_network::random_faults_on_a_third_of_connections_converge_exactly_once",
        Some(SEED),
        trials,
        "faults",
    );
    for trial in 0..trials {
        let seed = SEED + trial as u64;
        let server = TestServer::start().await;
        let proxy = FaultyProxy::start_random(server.addr, FAULTS, 0.35, 10_000, seed).await;
        let dir = tempfile::tempdir().expect("dir");
        let writer = device(dir.path());
        writer
            .enroll(&server.url, "o1", PASSWORD, "写入设备")
            .await
            .expect("enroll");
        let (mut ids, photo) = enter(&writer, 25, &format!("随机{trial}-"), seed);
        sync_until_done(&writer, &proxy.url, 200).await;
        // Edits of synced records and new ones, through the same network.
        for id in ids.iter().take(5) {
            let mut s = writer.open_record(*id).expect("open");
            s.set("storeys", serde_json::json!(7)).expect("edit");
            s.finalize().expect("finalize");
        }
        let (more, _) = enter(&writer, 6, &format!("随机{trial}b-"), seed + 1);
        ids.extend(more);
        sync_until_done(&writer, &proxy.url, 200).await;

        tally.saved(ids.len());
        let what = format!("trial {trial} (seed {seed:#x})");
        // The first five were edited once: two versions each.
        let versions = |i| if i < 5 { 2 } else { 1 };
        check_stored(&mut tally, &what, &server, &ids, versions, photo).await;

        // A second device pulls everything through the faulty network.
        let dir = tempfile::tempdir().expect("dir");
        let reader = device(dir.path());
        reader
            .enroll(&server.url, "o1", PASSWORD, "读取设备")
            .await
            .expect("enroll");
        sync_until_done(&reader, &proxy.url, 200).await;
        let pulled = reader
            .records(&RecordFilter {
                form: Some("house".into()),
                ..Default::default()
            })
            .expect("records");
        if pulled.len() != ids.len() {
            tally.problem(format!(
                "{what}: a second device pulled {} records of {}",
                pulled.len(),
                ids.len()
            ));
        }
        for r in &pulled {
            let want = if ids[..5].contains(&r.id) { 7 } else { 3 };
            if r.values["storeys"] != want {
                tally.problem(format!("{what}: record {} pulled in an old version", r.id));
            }
        }
        tally.injected(proxy.hurt());
    }
    tally.finish();
}
