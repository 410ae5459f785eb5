//! Patrols as tracks. The officer starts a patrol; while it runs the app
//! calls [`Core::track_point`] every few seconds, and a point is added to the
//! patrol's track when the officer has moved or a while has passed; stopping
//! adds the last point and leaves the patrol's form to finish and save. The
//! form derives start, end, distance and duration from the track (patrol
//! v2). The running patrol is a draft named in the store, so an app that was
//! killed resumes the same patrol when it opens again.

use std::time::Duration;

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::Values;
use beatbook_schema::ids::RecordId;
use serde_json::Value as Json;

use crate::error::CoreError;
use crate::platform::Fix;
use crate::service::Core;

/// A point is added once the officer is this many metres from the last one…
pub const MIN_STEP_M: f64 = 10.0;
/// …or this long after it, standing still.
pub const MAX_GAP: Duration = Duration::from_secs(60);

/// The store's name for the running patrol.
const RUNNING: &str = "patrol_running";
/// The patrol form's track field.
const TRACK: &str = "track";

/// Where a running patrol stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patrol {
    /// The patrol's record (a draft until the officer saves it).
    pub id: RecordId,
    /// Points on its track so far.
    pub points: usize,
}

impl Core {
    /// Starts a patrol (or returns the one already running), with a first
    /// point if the device has a position.
    pub fn start_patrol(&self) -> Result<Patrol, CoreError> {
        if let Some(running) = self.running_patrol()? {
            return Ok(running);
        }
        let session = self.new_record(form_ids::PATROL, None, Values::new())?;
        let id = session.id();
        self.store().set_meta(RUNNING, &Some(id))?;
        self.add_point(id, true)
    }

    /// The running patrol, if any.
    pub fn running_patrol(&self) -> Result<Option<Patrol>, CoreError> {
        let Some(id) = self.store().meta::<Option<RecordId>>(RUNNING)?.flatten() else {
            return Ok(None);
        };
        let record = self.record(id)?;
        let points = track(&record.values).len();
        Ok(Some(Patrol { id, points }))
    }

    /// Adds the device's position to the running patrol's track if the
    /// officer moved [`MIN_STEP_M`] or [`MAX_GAP`] passed since the last
    /// point; `None` when no patrol runs.
    pub fn track_point(&self) -> Result<Option<Patrol>, CoreError> {
        match self.running_patrol()? {
            Some(p) => self.add_point(p.id, false).map(Some),
            None => Ok(None),
        }
    }

    /// Ends the running patrol with a last point; returns it, for the
    /// officer to finish its form and save.
    pub fn stop_patrol(&self) -> Result<Option<Patrol>, CoreError> {
        let Some(running) = self.running_patrol()? else {
            return Ok(None);
        };
        let patrol = self.add_point(running.id, true)?;
        self.store().set_meta(RUNNING, &None::<RecordId>)?;
        Ok(Some(patrol))
    }

    fn add_point(&self, id: RecordId, always: bool) -> Result<Patrol, CoreError> {
        let mut session = self.open_record(id)?;
        let mut points = track(session.values());
        let platform = self.platform();
        let now = platform.now();
        if let Some(fix) = platform.location() {
            let fix = Fix {
                at: fix.at.or(Some(now)),
                ..fix
            };
            let due = match points.last().and_then(fix_of) {
                None => true,
                Some(last) => {
                    // Time between fixes by their own clock (a receiver's
                    // time may differ from the device's).
                    let since = match (fix.at, last.at) {
                        (Some(t), Some(l)) => (t - l).to_std().unwrap_or(Duration::ZERO),
                        _ => MAX_GAP,
                    };
                    always || fix.distance_m(&last) >= MIN_STEP_M || since >= MAX_GAP
                }
            };
            if due {
                points.push(fix.to_value(platform.offset()));
                session.set(TRACK, Json::Array(points.clone()))?;
            }
        }
        Ok(Patrol {
            id,
            points: points.len(),
        })
    }
}

fn track(values: &Values) -> Vec<Json> {
    values
        .get(TRACK)
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A stored point back as a fix.
fn fix_of(point: &Json) -> Option<Fix> {
    Some(Fix {
        lat: point.get("lat")?.as_f64()?,
        lon: point.get("lon")?.as_f64()?,
        accuracy_m: point
            .get("accuracy_m")
            .and_then(Json::as_f64)
            .unwrap_or(0.0),
        at: point
            .get("at")
            .and_then(Json::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
    })
}
