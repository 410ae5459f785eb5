//! The position from a GPS receiver through gpsd, the Linux GPS daemon
//! (<https://gpsd.io>): a thread keeps a connection to its JSON socket,
//! asks it to watch, and keeps the latest fix. A lost connection is tried
//! again, waiting longer each time up to half a minute; a fix older than
//! [`STALE`] is not offered.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gpsd_proto::{Mode, ResponseData, Tpv, ENABLE_WATCH_CMD};

use super::{Fix, NoFix, Platform};

/// How old a fix may be and still be offered.
pub const STALE: Duration = Duration::from_secs(60);

/// The accuracy reported when gpsd gives no error estimate: a plain GPS
/// fix's typical 95 % radius, pessimistically.
const UNKNOWN_ACCURACY_M: f64 = 30.0;

/// gpsd as a [`Platform`].
#[derive(Debug, Clone)]
pub struct Gpsd {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    fix: Option<(Fix, Instant)>,
    connected: bool,
}

impl Gpsd {
    /// Starts watching the gpsd at `addr` (usually 127.0.0.1:2947) in a
    /// thread of its own, for as long as the process runs.
    pub fn watch(addr: SocketAddr) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("gpsd".into())
            .spawn(move || keep_watching(addr, &shared))
        {
            tracing::error!(error = %e, "cannot start the gpsd thread");
        }
        Self { state }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Platform for Gpsd {
    fn location(&self) -> Option<Fix> {
        match self.state().fix {
            Some((fix, received)) if received.elapsed() <= STALE => Some(fix),
            _ => None,
        }
    }

    fn why_no_fix(&self) -> NoFix {
        if self.state().connected {
            NoFix::NotYet
        } else {
            NoFix::Unavailable
        }
    }
}

fn keep_watching(addr: SocketAddr, state: &Mutex<State>) {
    let mut wait = Duration::from_secs(1);
    loop {
        match watch_once(addr, state) {
            Ok(()) => tracing::info!(%addr, "gpsd closed the connection"),
            Err(e) => {
                tracing::warn!(%addr, error = %e, "gpsd is not reachable; trying again in {wait:?}")
            }
        }
        state.lock().unwrap_or_else(|p| p.into_inner()).connected = false;
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// One connection: reads reports until gpsd closes it.
fn watch_once(addr: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.write_all(ENABLE_WATCH_CMD.as_bytes())?;
    state.lock().unwrap_or_else(|p| p.into_inner()).connected = true;
    for line in BufReader::new(stream).lines() {
        // Reports other than positions, and any line this version does not
        // know, are not for us.
        let Ok(ResponseData::Tpv(tpv)) = serde_json::from_str::<ResponseData>(&line?) else {
            continue;
        };
        if let Some(fix) = fix_of(&tpv) {
            state.lock().unwrap_or_else(|p| p.into_inner()).fix = Some((fix, Instant::now()));
        }
    }
    Ok(())
}

/// A position report as a fix, if it holds one.
fn fix_of(tpv: &Tpv) -> Option<Fix> {
    if matches!(tpv.mode, Mode::NoFix) {
        return None;
    }
    let (lat, lon) = (tpv.lat?, tpv.lon?);
    // eph where gpsd computes it, else the larger of the two axes' errors.
    let accuracy_m = tpv
        .eph
        .or_else(|| Some(tpv.epx?.max(tpv.epy?)))
        .map_or(UNKNOWN_ACCURACY_M, f64::from);
    let at = tpv
        .time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Some(Fix {
        lat,
        lon,
        accuracy_m,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpv(json: &str) -> Tpv {
        match serde_json::from_str::<ResponseData>(json).expect("a report") {
            ResponseData::Tpv(t) => t,
            other => panic!("not a TPV: {other:?}"),
        }
    }

    #[test]
    fn a_position_report_keeps_accuracy_and_time() {
        let fix = fix_of(&tpv(
            r#"{"class":"TPV","mode":3,"time":"2026-11-30T02:15:04.000Z","lat":31.87,"lon":121.17,"epx":6.1,"epy":7.9,"eph":9.5}"#,
        ))
        .expect("a fix");
        assert_eq!((fix.lat, fix.lon, fix.accuracy_m), (31.87, 121.17, 9.5));
        assert_eq!(
            fix.at.map(|t| t.to_rfc3339()),
            Some("2026-11-30T02:15:04+00:00".into())
        );

        let axes = fix_of(&tpv(
            r#"{"class":"TPV","mode":2,"lat":1.0,"lon":2.0,"epx":6.0,"epy":8.0}"#,
        ))
        .expect("a fix");
        assert_eq!(axes.accuracy_m, 8.0, "the larger axis without eph");
        assert_eq!(axes.at, None);
    }

    #[test]
    fn a_report_without_a_fix_is_none() {
        assert_eq!(fix_of(&tpv(r#"{"class":"TPV","mode":1}"#)), None);
        assert_eq!(fix_of(&tpv(r#"{"class":"TPV","mode":3,"lat":1.0}"#)), None);
    }
}
