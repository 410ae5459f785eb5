//! The desktop's position from a real gpsd: Debian's `gpsfake` replays an
//! NMEA log of a short walk into a gpsd of its own on a loopback port, and
//! `Gpsd` (beatbook_core::platform::gpsd) must report the walk's positions
//! with their accuracy and time, and say "unavailable" while no gpsd runs.
//! `scripts/test.sh` installs gpsd and gpsd-clients.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beatbook_core::platform::gpsd::Gpsd;
use beatbook_core::platform::{Fix, NoFix, Platform};

/// One NMEA sentence with its checksum.
fn nmea(body: &str) -> String {
    let sum = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{sum:02X}\r\n")
}

/// A walk north along a road in Haimen, one fix a second: RMC (time, date,
/// position), GGA (fix quality) and GSA (dilution, from which gpsd derives
/// its error estimates).
fn walk() -> String {
    let mut log = String::new();
    for i in 0..5 {
        let minutes = 52.2000 + f64::from(i) * 0.0100; // ≈ 18.5 m a step
        let time = format!("0215{:02}.00", 4 + i);
        log += &nmea(&format!(
            "GPRMC,{time},A,31{minutes:07.4},N,12110.2000,E,1.2,0.0,301126,,,A"
        ));
        log += &nmea(&format!(
            "GPGGA,{time},31{minutes:07.4},N,12110.2000,E,1,08,0.9,5.0,M,0.0,M,,"
        ));
        log += &nmea("GPGSA,A,3,01,02,03,04,05,06,07,08,,,,,1.5,0.9,1.2");
    }
    log
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

struct Replay(Child);

impl Drop for Replay {
    /// Ends gpsfake and the gpsd it started: they share a process group.
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// gpsfake replaying `log` (over and over) into its gpsd on `addr`.
fn replay(log: &str, addr: SocketAddr, dir: &std::path::Path) -> Replay {
    let file = dir.join("walk.nmea");
    std::fs::File::create(&file)
        .and_then(|mut f| f.write_all(log.as_bytes()))
        .expect("write the log");
    let child = Command::new("gpsfake")
        .args(["-q", "-c", "0.2", "-P", &addr.port().to_string()])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("gpsfake (Debian package gpsd-clients; scripts/test.sh installs it)");
    Replay(child)
}

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

    let _replay = replay(&walk(), addr, dir.path());
    let fix =
        wait_for_fix(&gps, Duration::from_secs(30), |_| true).expect("a fix from gpsd within 30 s");
    assert!(
        (31.8700..=31.8709).contains(&fix.lat) && (fix.lon - 121.17).abs() < 1e-6,
        "a position of the walk: {fix:?}"
    );
    // gpsd's error estimate comes once it has seen the dilution (GSA); the
    // first report of a cycle may precede it.
    let estimated = wait_for_fix(&gps, Duration::from_secs(10), |f| f.accuracy_m < 30.0)
        .expect("gpsd's error estimate from the dilution, not the fallback");
    assert!(estimated.accuracy_m > 0.0, "{estimated:?}");
    let at = fix.at.expect("the time of the fix");
    assert_eq!(
        at.format("%Y-%m-%d %H:%M").to_string(),
        "2026-11-30 02:15",
        "the receiver's time"
    );

    // The walk goes on: later fixes move north.
    let end = Instant::now() + Duration::from_secs(20);
    let mut furthest = fix.lat;
    while Instant::now() < end && furthest < 31.8705 {
        if let Some(f) = gps.location() {
            furthest = furthest.max(f.lat);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(furthest >= 31.8705, "the walk was followed: {furthest}");
}
