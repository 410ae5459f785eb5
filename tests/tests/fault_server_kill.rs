//! The server killed for real: the `beatbook-server` binary runs as a child
//! process over its own data directory and is SIGKILLed at random moments
//! while several devices push, upload photos and pull, then restarted on the
//! same port. Once the devices' syncs go through, every acknowledged record
//! is on the server exactly once, nothing a device entered is missing, and a
//! fresh device pulls every record exactly once.
//!
//! Short by default (a few trials, for CI); `BEATBOOK_FAULT_TRIALS=200` runs
//! 200. A failing trial prints its seed; `BEATBOOK_FAULT_SEED` replays it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use beatbook_core::photos::synthetic_camera_jpeg;
use beatbook_core::store::{BatchLimits, LocalState};
use beatbook_core::sync::{RetryPolicy, SyncEngine};
use beatbook_core::Core;
use beatbook_schema::ids::RecordId;
use beatbook_tests::backend::open_store;
use beatbook_tests::client::{house_ids, open_core};
use beatbook_tests::data::house;
use beatbook_tests::fault::{self, trials, Tally};
use beatbook_tests::process::{free_addr, seed, Org, ServerProcess};
use beatbook_tests::PASSWORD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

fn device(dir: &std::path::Path) -> Core {
    open_core(dir).with_engine(SyncEngine {
        retry: RetryPolicy::immediate(1),
        limits: BatchLimits {
            max_changes: 4,
            max_bytes: 1 << 20,
        },
        page: 16,
        chunk: 16 * 1024,
        ..SyncEngine::default()
    })
}

/// Syncs until one goes through (a dead server is a network failure);
/// the last error if none does.
async fn sync_until_done(core: &Core) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..2_000 {
        match core.sync(&|_| {}).await {
            Ok(_) => return Ok(()),
            Err(e) => {
                last = e.to_string();
                assert!(
                    !last.contains("wrong PIN") && !last.contains("local database"),
                    "only the network may fail: {last}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Err(format!(
        "the device never got a sync through; the last error: {last}"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_at_random_moments_every_acknowledged_record_is_stored_once() {
    let root = tempfile::tempdir().expect("dir");
    let data = root.path().join("server");
    seed(&data, &Org::standard(), &[]).await;
    let server = Arc::new(Mutex::new(ServerProcess::start(&data, free_addr()).await));
    let url = server.lock().await.url.clone();

    let mut devices = Vec::new();
    for (i, badge) in ["o1", "o1", "o2", "h1"].iter().enumerate() {
        let dir = root.path().join(format!("device-{i}"));
        let core = device(&dir);
        core.enroll(&url, badge, PASSWORD, "测试设备")
            .await
            .expect("enroll");
        devices.push(core);
    }

    let base = fault::seed();
    let trials = trials(4);
    let mut tally = Tally::start(
        "fault_server_kill",
        "fault_server_kill::server_killed_at_random_moments_every_acknowledged_record_is_stored_once",
        Some(base),
        trials,
        "kills",
    );
    let mut entered: HashSet<RecordId> = HashSet::new();
    for trial in 0..trials {
        let seed = base.wrapping_add(trial as u64);
        let mut rng = StdRng::seed_from_u64(seed);
        // New records on every device, sometimes edits and a photo.
        for (d, core) in devices.iter().enumerate() {
            let n = rng.gen_range(3..12);
            for i in 0..n {
                let mut s = core
                    .new_record("house", None, house(&format!("杀服务{trial}-{d}-{i}")))
                    .expect("new");
                if i == 0 && rng.gen_bool(0.5) {
                    let jpeg = synthetic_camera_jpeg(200, 150, seed ^ d as u64).expect("jpeg");
                    s.add_photo("photos", &jpeg).expect("photo");
                }
                s.finalize().expect("finalize");
                entered.insert(s.id());
            }
            if let Some(id) = house_ids(core, Some(LocalState::Synced)).into_iter().next() {
                let mut s = core.open_record(id).expect("open");
                s.set("storeys", serde_json::json!(rng.gen_range(1..30)))
                    .expect("edit");
                s.finalize().expect("finalize");
            }
        }
        // All devices sync at once; the server dies once or twice meanwhile.
        let killer = {
            let server = server.clone();
            let delays: Vec<u64> = (0..rng.gen_range(1..=2))
                .map(|_| rng.gen_range(0..250))
                .collect();
            tokio::spawn(async move {
                let mut n = 0;
                for d in delays {
                    tokio::time::sleep(Duration::from_millis(d)).await;
                    let mut s = server.lock().await;
                    s.kill();
                    tokio::time::sleep(Duration::from_millis(d % 50)).await;
                    s.restart().await;
                    n += 1;
                }
                n
            })
        };
        let syncs: Vec<_> = devices
            .iter()
            .map(|core| {
                let core = core.clone();
                tokio::spawn(async move { sync_until_done(&core).await })
            })
            .collect();
        let kills = killer.await.expect("killer");
        tally.injected(kills);
        for s in syncs {
            if let Err(e) = s.await.expect("sync task") {
                let log = server.lock().await.log();
                panic!("trial {trial} (seed {seed}): {e}\nserver log:\n{log}");
            }
        }
        // A second round after the last restart settles what the first left
        // deferred (e.g. a record whose photo upload the kill interrupted).
        for core in &devices {
            sync_until_done(core)
                .await
                .expect("a sync after the last restart");
        }
        for (d, core) in devices.iter().enumerate() {
            let left = core.status().expect("status").outbox;
            if left != 0 {
                tally.problem(format!(
                    "trial {trial} (seed {seed}): device {d} has {left} changes left"
                ));
            }
        }
        eprintln!("trial {trial} (seed {seed}): {kills} kills");
    }
    server.lock().await.stop();

    // Every record any device entered is acknowledged and on the server once,
    // with as many versions as the device made (1, or 2 when edited once…).
    let store = open_store(&data).await.expect("open the server's data");
    let mut acknowledged = HashSet::new();
    for core in &devices {
        acknowledged.extend(house_ids(core, Some(LocalState::Synced)));
    }
    tally.saved(entered.len());
    let unacknowledged = entered.difference(&acknowledged).count();
    if unacknowledged > 0 {
        tally.problem(format!(
            "{unacknowledged} entered records were never acknowledged"
        ));
    }
    let counts = store.record_counts().await.expect("counts");
    let on_server = counts.get("house").copied().unwrap_or(0) as usize;
    if on_server != acknowledged.len() {
        tally.problem(format!(
            "the server holds {on_server} houses; the devices hold {} acknowledged",
            acknowledged.len()
        ));
    }
    for id in entered.union(&acknowledged) {
        let history = store.record_history(*id).await.expect("history");
        let revisions: Vec<u64> = history
            .iter()
            .map(|v| v["revision"].as_u64().unwrap_or(0))
            .collect();
        // No version twice, none skipped: revisions 1, 2, … up to the last.
        let last = revisions.iter().copied().max().unwrap_or(0) as usize;
        let distinct = revisions.iter().collect::<HashSet<_>>().len();
        tally.stored(format!("record {id}, versions"), distinct, last.max(1));
        tally.stored(format!("record {id}, versions"), revisions.len(), distinct);
        if !revisions.is_sorted() {
            tally.problem(format!("record {id}: versions out of order: {revisions:?}"));
        }
    }

    // A fresh device of a supervisor pulls every record of the station once.
    let restarted = ServerProcess::start(&data, free_addr()).await;
    let dir = root.path().join("fresh");
    let fresh = device(&dir);
    fresh
        .enroll(&restarted.url, "admin", PASSWORD, "新设备")
        .await
        .expect("enroll");
    sync_until_done(&fresh)
        .await
        .expect("the fresh device syncs");
    let pulled = house_ids(&fresh, None);
    if pulled != acknowledged {
        tally.problem(format!(
            "a fresh device pulled {} records, {} of them acknowledged ones; {} acknowledged",
            pulled.len(),
            pulled.intersection(&acknowledged).count(),
            acknowledged.len()
        ));
    }
    tally.finish();
}

/// Found by the test above: a server killed after the last byte of an
/// upload was written but before the bytes were verified left a complete
/// partial file; the device was told to continue at a byte past the end and
/// its request was refused (400), on every sync, forever.
#[tokio::test]
async fn an_upload_whose_bytes_all_arrived_before_a_crash_is_verified_on_the_next_contact() {
    use beatbook_schema::ids::Sha256;
    let server = beatbook_tests::TestServer::start().await;
    let device = server.device("o1").await;
    let bytes = b"a photo whose last byte arrived just before the crash".to_vec();
    let sha = Sha256::digest(&bytes);
    // Each device's unfinished uploads live in its own directory.
    let partial = server.state.blobs.partial_path(device.id, &sha);
    std::fs::create_dir_all(partial.parent().expect("the device's directory")).expect("mkdir");
    std::fs::write(partial, &bytes).expect("partial file");
    let res = device
        .request(reqwest::Method::PUT, &format!("/v1/blobs/{sha}"))
        .header("content-range", format!("bytes */{}", bytes.len()))
        .send()
        .await
        .expect("status query");
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    assert!(server
        .state
        .store
        .missing_blobs(vec![sha])
        .await
        .expect("missing")
        .is_empty());
}
