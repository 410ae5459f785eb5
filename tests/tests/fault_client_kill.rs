//! The field app killed for real (SIGKILL of the `beatbook-app` process) at
//! random moments — while it saves imported records, and again and again
//! while it syncs. After it is restarted and finishes a sync, every record it
//! saved is on the server exactly once and nothing saved was lost.
//! (`client_crash.rs` kills it at each named step; this goes anywhere.)
//!
//! Short by default (a few trials, for CI); `BEATBOOK_FAULT_TRIALS=200` runs
//! 200. A failing trial prints its seed; `BEATBOOK_FAULT_SEED` replays it.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_schema::ids::RecordId;
use beatbook_tests::client::{app, open_core, run_app};
use beatbook_tests::data::house;
use beatbook_tests::fault::{seed, trials, Tally};
use beatbook_tests::TestServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// Runs `beatbook-app args` and kills it after `delay` (if still running);
/// returns whether it was killed.
fn kill_after(dir: &Path, args: &[String], delay: Duration) -> bool {
    let mut child = app(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn beatbook-app");
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    true
}

/// `(id, state)` of every house this device entered itself (pulled ones
/// left out), read from its store after the process has ended.
fn device_houses(dir: &Path) -> Vec<(RecordId, LocalState)> {
    let core = open_core(dir);
    let me = core.device_id();
    core.records(&RecordFilter {
        form: Some("house".into()),
        ..Default::default()
    })
    .expect("records")
    .into_iter()
    .filter(|r| r.device == me)
    .map(|r| (r.id, r.state))
    .collect()
}

fn timed(dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    run_app(dir, args);
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_nothing_saved_is_lost_or_stored_twice() {
    let server = TestServer::start().await;
    let base = seed();
    let trials = trials(3);
    let mut tally = Tally::start(
        "fault_client_kill",
        "fault_client_kill::killed_at_random_moments_nothing_saved_is_lost_or_stored_twice",
        Some(base),
        trials,
        "kills",
    );
    let mut timing: Option<(Duration, Duration)> = None;
    let mut expected = 0usize;
    for trial in 0..trials {
        let seed = base.wrapping_add(trial as u64);
        let mut rng = StdRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().to_owned();
        let url = server.url.clone();
        let records = rng.gen_range(10..60);
        let file = path.join("houses.ndjson");
        {
            let mut f = std::fs::File::create(&file).expect("create");
            for i in 0..records {
                writeln!(f, "{}", Value::Object(house(&format!("随机杀{trial}-{i}"))))
                    .expect("write");
            }
        }
        let import: Vec<String> = ["import", "--form", "house", file.to_str().unwrap_or("")]
            .map(String::from)
            .to_vec();
        let sync: Vec<String> = vec!["sync".into()];
        let p = path.clone();
        let (import_time, sync_time) = match timing {
            Some(t) => t,
            None => {
                // Calibrate on a sacrificial device: how long an unhurt import and sync take.
                let cal = tempfile::tempdir().expect("dir");
                let c = cal.path().to_owned();
                let (u, f) = (url.clone(), file.clone());
                let t = blocking(move || {
                    run_app(&c, &["enroll", "--server", &u, "--badge", "o2"]);
                    let i = timed(&c, &["import", "--form", "house", f.to_str().unwrap_or("")]);
                    (i, timed(&c, &["sync"]))
                })
                .await;
                timing = Some(t);
                expected += records;
                t
            }
        };
        let (import_ms, sync_ms) = (
            import_time.as_millis().max(20) as u64,
            sync_time.as_millis().max(20) as u64,
        );
        let kills = rng.gen_range(1..=3);
        let import_delay = Duration::from_millis(rng.gen_range(0..import_ms * 3 / 2));
        let sync_delays: Vec<Duration> = (0..kills)
            .map(|_| Duration::from_millis(rng.gen_range(0..sync_ms * 3 / 2)))
            .collect();
        let n = blocking(move || {
            run_app(&p, &["enroll", "--server", &url, "--badge", "o1"]);
            let mut n = usize::from(kill_after(&p, &import, import_delay));
            for d in sync_delays {
                n += usize::from(kill_after(&p, &sync, d));
            }
            run_app(&p, &["sync"]);
            n
        })
        .await;
        tally.injected(n);

        // Everything saved (finalized) is on the server once; drafts stay local.
        let p = path.clone();
        let on_device = blocking(move || device_houses(&p)).await;
        let saved: HashSet<RecordId> = on_device
            .iter()
            .filter(|(_, state)| *state != LocalState::Draft)
            .map(|(id, _)| *id)
            .collect();
        if !on_device
            .iter()
            .all(|(_, state)| matches!(state, LocalState::Draft | LocalState::Synced))
        {
            tally.problem(format!(
                "trial {trial} (seed {seed}): after a full sync every saved record is synced: {on_device:?}"
            ));
        }
        for id in &saved {
            let versions = server
                .state
                .store
                .record_history(*id)
                .await
                .expect("history")
                .len();
            tally.stored(
                format!("trial {trial} (seed {seed}): record {id}"),
                versions,
                1,
            );
        }
        let p = path.clone();
        let status = blocking(move || run_app(&p, &["status"])).await;
        if !status.contains("outbox: 0") {
            tally.problem(format!("trial {trial} (seed {seed}): {status}"));
        }
        tally.saved(saved.len());
        expected += saved.len();
        eprintln!(
            "trial {trial} (seed {seed}): {records} lines, {} saved, {n} kills",
            saved.len()
        );
    }
    // Every record the devices saved, and nothing else, is on the server.
    let d = server.device("admin").await;
    let all = d.records().await;
    let ids: HashSet<_> = all.iter().map(|v| v.record.id).collect();
    if ids.len() != all.len() {
        tally.problem(format!(
            "a fresh pull saw {} records, {} of them distinct",
            all.len(),
            ids.len()
        ));
    }
    if all.len() != expected {
        tally.problem(format!(
            "the server holds {} houses; the devices saved {expected}",
            all.len()
        ));
    }
    tally.finish();
}
