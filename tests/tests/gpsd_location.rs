//! The desktop's position from a real gpsd (beatbook_core::platform::gpsd):
//! gpsfake replays a short walk, and `Gpsd` must report its positions with
//! their accuracy and time, and say "unavailable" while no gpsd runs.

use std::time::{Duration, Instant};

use beatbook_core::platform::gpsd::Gpsd;
use beatbook_core::platform::{Fix, NoFix, Platform};
use beatbook_tests::gps::{free_port, log, Replay};
use chrono::Timelike;

/// The first fix that passes `good`, within `within`.
fn wait_for_fix(gps: &Gpsd, within: Duration, good: impl Fn(&Fix) -> bool) -> Option<Fix> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Some(fix) = gps.location().filter(&good) {
            return Some(fix);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn gpsd_reports_the_walk_with_accuracy_and_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let addr = free_port();
    let gps = Gpsd::watch(addr);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(gps.location(), None);
    assert_eq!(gps.why_no_fix(), NoFix::Unavailable, "no gpsd yet");

    // North along a road, ≈ 18.5 m a step.
    let walk: Vec<(f64, f64)> = (0..5)
        .map(|i| (31.87 + f64::from(i) * 0.000_166_7, 121.17))
        .collect();
    let start = chrono::Utc::now().with_nanosecond(0).expect("a time");
    let _replay = Replay::start(&log(&walk, start), addr, dir.path(), 0.2, false);
    let fix =
        wait_for_fix(&gps, Duration::from_secs(30), |_| true).expect("a fix from gpsd within 30 s");
    assert!(
        (31.8699..=31.8708).contains(&fix.lat) && (fix.lon - 121.17).abs() < 1e-6,
        "a position of the walk: {fix:?}"
    );
    // gpsd's error estimate comes once it has seen the dilution (GSA); the
    // first report of a cycle may precede it.
    let estimated = wait_for_fix(&gps, Duration::from_secs(10), |f| f.accuracy_m < 30.0)
        .expect("gpsd's error estimate from the dilution, not the fallback");
    assert!(estimated.accuracy_m > 0.0, "{estimated:?}");
    // The time comes with the RMC sentence; a report from GGA alone has none.
    let timed = wait_for_fix(&gps, Duration::from_secs(10), |f| f.at.is_some())
        .expect("a fix with its time");
    let at = timed.at.expect("the time of the fix");
    assert!(
        at >= start && at <= start + chrono::Duration::seconds(4),
        "the receiver's time: {at} for a log from {start}"
    );

    // The walk goes on: later fixes move north.
    let further = wait_for_fix(&gps, Duration::from_secs(20), |f| f.lat >= 31.8705);
    assert!(further.is_some(), "the walk was followed");
}
