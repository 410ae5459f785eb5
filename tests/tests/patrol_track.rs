//! A patrol walked with a real receiver: gpsfake plays a walk of eight
//! ≈ 18.5 m steps north into gpsd, the device (its position from the
//! desktop's `Gpsd`) records the track, is killed half way and resumes the
//! same patrol, and the patrol that reaches a second device of the grid
//! carries the track with its distance and duration derived.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beatbook_core::platform::gpsd::Gpsd;
use beatbook_core::platform::Platform;
use beatbook_core::Core;
use beatbook_tests::client::{device, open_core_with, sync};
use beatbook_tests::gps::{free_port, log, Replay};
use beatbook_tests::{TestServer, PASSWORD};
use serde_json::json;

/// A hundredth of a minute of latitude, ≈ 18.5 m (what NMEA writes exactly).
const STEP: f64 = 0.01 / 60.0;
const START: (f64, f64) = (31.87, 121.17);

/// Records track points every 100 ms until the receiver is at `lat` or beyond.
fn walk_until(core: &Core, gps: &dyn Platform, lat: f64) {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        core.track_point().expect("a track point");
        if gps.location().is_some_and(|f| f.lat >= lat - 1e-6) {
            core.track_point().expect("a track point");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the receiver never reached {lat}");
}

#[tokio::test]
async fn a_patrol_is_tracked_resumed_after_a_kill_and_synced_with_its_distance() {
    let server = TestServer::start().await;
    let (dir, gps_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let addr = free_port();
    let gps = Arc::new(Gpsd::watch(addr));
    let core = open_core_with(dir.path(), gps.clone());
    core.enroll(&server.url, "o1", PASSWORD, "测试设备")
        .await
        .expect("enroll");

    // Three seconds standing at the start, eight steps, then standing still.
    let mut walk = vec![START; 5];
    walk.extend((1..=8).map(|i| (START.0 + f64::from(i) * STEP, START.1)));
    walk.extend([(START.0 + 8.0 * STEP, START.1); 5]);
    let _replay = Replay::start(
        &log(&walk, chrono::Utc::now()),
        addr,
        gps_dir.path(),
        0.2,
        true,
    );
    let end = Instant::now() + Duration::from_secs(30);
    while gps.location().is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    let patrol = core.start_patrol().expect("start");
    assert_eq!(patrol.points, 1, "the first point at the start");
    assert_eq!(
        core.start_patrol().expect("again").id,
        patrol.id,
        "one patrol at a time"
    );

    walk_until(&core, gps.as_ref(), START.0 + 4.0 * STEP);
    // The app is killed half way and opened again: the same patrol goes on.
    drop(core);
    let core = open_core_with(dir.path(), gps.clone());
    let resumed = core.running_patrol().expect("read").expect("still running");
    assert_eq!(resumed.id, patrol.id);
    assert!(
        resumed.points >= 3,
        "points kept across the kill: {resumed:?}"
    );
    walk_until(&core, gps.as_ref(), START.0 + 8.0 * STEP);
    let ended = core.stop_patrol().expect("stop").expect("a patrol");
    assert_eq!(core.running_patrol().expect("read"), None);

    let mut form = core.open_record(ended.id).expect("the patrol's form");
    form.set("mode", json!("foot")).expect("mode");
    form.finalize().expect("a valid patrol");
    sync(&core).await;

    let (_other_dir, other) = device(&server, "o1").await;
    sync(&other).await;
    let values = other
        .record(ended.id)
        .expect("the patrol on the grid's other device")
        .values;
    let distance = values["distance_m"].as_u64().expect("a derived distance");
    assert!(
        (140..=157).contains(&distance),
        "eight steps of ≈ 18.5 m: {distance} m over {} points",
        values["track"].as_array().map_or(0, Vec::len)
    );
    let time = |field: &str| {
        values[field]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("{field}: {values:?}"))
    };
    let (start, end) = (time("start"), time("end"));
    assert!(start < end, "start {start} before end {end}");
    assert_eq!(
        start.offset().local_minus_utc(),
        8 * 3600,
        "in the officers' time"
    );
    assert_eq!(values["duration_min"], json!((end - start).num_minutes()));
}
