//! A GPS receiver for tests: Debian's `gpsfake` replays an NMEA log into a
//! gpsd of its own on a loopback port (`scripts/test.sh` installs gpsd and
//! gpsd-clients), which the desktop's `Gpsd` platform reads like a real one.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, Utc};

/// One NMEA sentence with its checksum.
pub fn nmea(body: &str) -> String {
    let sum = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{sum:02X}\r\n")
}

/// One fix a second at the given positions (north and east), from `start`:
/// RMC (time, date, position), GGA (fix quality) and GSA (dilution, from
/// which gpsd derives its error estimates).
pub fn log(positions: &[(f64, f64)], start: DateTime<Utc>) -> String {
    let mut log = String::new();
    for (i, (lat, lon)) in positions.iter().enumerate() {
        let at = start + chrono::Duration::seconds(i as i64);
        let (time, date) = (at.format("%H%M%S.00"), at.format("%d%m%y"));
        let (lat, lon) = (degrees_minutes(*lat, 2), degrees_minutes(*lon, 3));
        log += &nmea(&format!(
            "GPRMC,{time},A,{lat},N,{lon},E,1.2,0.0,{date},,,A"
        ));
        log += &nmea(&format!(
            "GPGGA,{time},{lat},N,{lon},E,1,08,0.9,5.0,M,0.0,M,,"
        ));
        log += &nmea("GPGSA,A,3,01,02,03,04,05,06,07,08,,,,,1.5,0.9,1.2");
    }
    log
}

/// NMEA's `dddmm.mmmm` for a positive angle in degrees.
fn degrees_minutes(degrees: f64, width: usize) -> String {
    let whole = degrees.trunc();
    format!("{:0width$}{:07.4}", whole as u32, (degrees - whole) * 60.0)
}

/// A free loopback port.
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// gpsfake replaying a log into its gpsd; both end when this is dropped.
pub struct Replay(Child);

impl Replay {
    /// Replays `log` (written to `dir`) into a gpsd on `addr`, one sentence
    /// every `cycle_s` seconds; over and over unless `once`.
    pub fn start(log: &str, addr: SocketAddr, dir: &Path, cycle_s: f64, once: bool) -> Self {
        let file = dir.join("replay.nmea");
        std::fs::write(&file, log).expect("write the NMEA log");
        let mut command = Command::new("gpsfake");
        command.args([
            "-q",
            "-c",
            &cycle_s.to_string(),
            "-P",
            &addr.port().to_string(),
        ]);
        if once {
            command.arg("-1");
        }
        let child = command
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("gpsfake (Debian package gpsd-clients; scripts/test.sh installs it)");
        Self(child)
    }
}

impl Drop for Replay {
    /// Ends gpsfake and the gpsd it started: they share a process group.
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}
