//! How a record's state is written (`records.state` on every backend): each
//! distinct clock — a write's HLC and the revision it made — once, in
//! `clocks`, and each field as its value and the index of its clock:
//! `"fields": {"status": {"value": "open", "at": 0}}`. Most fields of a
//! record were set by one write, so a household's state holds one or two
//! clocks where one per field (a device id as text in each) made half its bytes
//! and took it past one SQLite page. A value stays at `fields.<name>.value`,
//! where the review queries read it. A state written with a clock in every
//! field (`{"value": …, "hlc": …, "revision": …}`, before this format) still
//! reads; it is written in this format the next time the record changes.

use std::collections::BTreeMap;

use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{DeviceId, FormId, GridId, RecordId, UserId};
use beatbook_schema::merge::{FieldConflict, FieldState};
use beatbook_schema::protocol::Review;
use beatbook_schema::record::{AttachmentRef, RecordStatus};
use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value as Json;

use crate::StoredRecord;

/// When a field was last set: the write's clock and the revision it made.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Clock {
    hlc: Hlc,
    revision: u64,
}

/// A field as written: its value and which of the record's clocks set it.
#[derive(Serialize)]
struct FieldOut<'a> {
    value: &'a Json,
    at: usize,
}

/// The fields of a record with the index of each one's clock, in the
/// fields' order.
struct FieldsOut<'a> {
    fields: &'a BTreeMap<String, FieldState>,
    at: &'a [usize],
}

impl Serialize for FieldsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.fields.len()))?;
        for ((name, state), &at) in self.fields.iter().zip(self.at) {
            map.serialize_entry(
                name,
                &FieldOut {
                    value: &state.value,
                    at,
                },
            )?;
        }
        map.end()
    }
}

/// [`StoredRecord`] as written, borrowed.
#[derive(Serialize)]
struct StateOut<'a> {
    id: &'a RecordId,
    form_id: &'a FormId,
    form_version: u32,
    grid: &'a GridId,
    author: &'a UserId,
    device: &'a DeviceId,
    clocks: &'a [Clock],
    fields: FieldsOut<'a>,
    attachments: &'a [AttachmentRef],
    created_at: &'a DateTime<Utc>,
    updated_at: &'a DateTime<Utc>,
    status: RecordStatus,
    revision: u64,
    deleted: bool,
    conflicted: bool,
    review: &'a Option<Review>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    resolved: &'a [FieldConflict],
}

impl Serialize for StoredRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut clocks: Vec<Clock> = Vec::new();
        let at: Vec<usize> = self
            .fields
            .values()
            .map(|state| {
                let clock = Clock {
                    hlc: state.hlc,
                    revision: state.revision,
                };
                clocks.iter().position(|c| *c == clock).unwrap_or_else(|| {
                    clocks.push(clock);
                    clocks.len() - 1
                })
            })
            .collect();
        StateOut {
            id: &self.id,
            form_id: &self.form_id,
            form_version: self.form_version,
            grid: &self.grid,
            author: &self.author,
            device: &self.device,
            clocks: &clocks,
            fields: FieldsOut {
                fields: &self.fields,
                at: &at,
            },
            attachments: &self.attachments,
            created_at: &self.created_at,
            updated_at: &self.updated_at,
            status: self.status,
            revision: self.revision,
            deleted: self.deleted,
            conflicted: self.conflicted,
            review: &self.review,
            resolved: &self.resolved,
        }
        .serialize(s)
    }
}

/// A field as read: the index of its clock, or (written before `clocks`)
/// the clock itself.
#[derive(Deserialize)]
struct FieldIn {
    value: Json,
    #[serde(default)]
    at: Option<usize>,
    #[serde(default)]
    hlc: Option<Hlc>,
    #[serde(default)]
    revision: Option<u64>,
}

/// [`StoredRecord`] as read, in either format.
#[derive(Deserialize)]
pub(crate) struct StateIn {
    id: RecordId,
    form_id: FormId,
    form_version: u32,
    grid: GridId,
    author: UserId,
    device: DeviceId,
    #[serde(default)]
    clocks: Vec<Clock>,
    fields: BTreeMap<String, FieldIn>,
    attachments: Vec<AttachmentRef>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    status: RecordStatus,
    revision: u64,
    deleted: bool,
    conflicted: bool,
    review: Option<Review>,
    #[serde(default)]
    resolved: Vec<FieldConflict>,
}

impl TryFrom<StateIn> for StoredRecord {
    type Error = String;

    fn try_from(s: StateIn) -> Result<Self, String> {
        let clocks = s.clocks;
        let fields = s
            .fields
            .into_iter()
            .map(|(name, f)| {
                let clock = match (f.at, f.hlc, f.revision) {
                    (Some(at), ..) => clocks.get(at).copied().ok_or_else(|| {
                        format!(
                            "field {name:?} of record {} names clock {at}, and the state has {}",
                            s.id,
                            clocks.len()
                        )
                    })?,
                    (None, Some(hlc), Some(revision)) => Clock { hlc, revision },
                    _ => {
                        return Err(format!(
                            "field {name:?} of record {} has no clock (neither `at` nor `hlc` and `revision`)",
                            s.id
                        ))
                    }
                };
                let state = FieldState {
                    value: f.value,
                    hlc: clock.hlc,
                    revision: clock.revision,
                };
                Ok((name, state))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            id: s.id,
            form_id: s.form_id,
            form_version: s.form_version,
            grid: s.grid,
            author: s.author,
            device: s.device,
            fields,
            attachments: s.attachments,
            created_at: s.created_at,
            updated_at: s.updated_at,
            status: s.status,
            revision: s.revision,
            deleted: s.deleted,
            conflicted: s.conflicted,
            review: s.review,
            resolved: s.resolved,
        })
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::ids::DeviceId;
    use serde_json::json;

    use super::*;

    fn record() -> StoredRecord {
        let device = DeviceId::new_v7();
        let first = Hlc {
            wall_ms: 1_764_580_000_000,
            counter: 0,
            device,
        };
        let later = Hlc {
            wall_ms: 1_764_590_000_000,
            counter: 3,
            device,
        };
        let state = |value: Json, hlc: Hlc, revision: u64| FieldState {
            value,
            hlc,
            revision,
        };
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).expect("a valid time");
        StoredRecord {
            id: RecordId::new_v7(),
            form_id: FormId::new("hazard_report"),
            form_version: 2,
            grid: GridId::new("G1"),
            author: UserId::new_v7(),
            device,
            fields: BTreeMap::from([
                ("description".into(), state(json!("电线裸露"), first, 1)),
                ("status".into(), state(json!("rectifying"), later, 2)),
                ("deadline".into(), state(json!("2026-12-08"), first, 1)),
                ("photo".into(), state(Json::Null, later, 2)),
            ]),
            attachments: vec![],
            created_at: at(1_764_580_000_000),
            updated_at: at(1_764_590_000_000),
            status: RecordStatus::Submitted,
            revision: 2,
            deleted: false,
            conflicted: false,
            review: None,
            resolved: vec![],
        }
    }

    #[test]
    fn each_clock_is_written_once_and_every_field_reads_back_with_its_own() {
        let r = record();
        let text = serde_json::to_string(&r).expect("serializes");
        let written: Json = serde_json::from_str(&text).expect("JSON");
        assert_eq!(written["clocks"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            written["fields"]["status"],
            json!({"value": "rectifying", "at": 1})
        );
        assert_eq!(
            written["fields"]["deadline"],
            json!({"value": "2026-12-08", "at": 0})
        );
        assert_eq!(text.matches(&r.device.to_string()).count(), 3, "{text}");
        let read: StoredRecord = serde_json::from_str(&text).expect("reads back");
        assert_eq!(read, r);
    }

    #[test]
    fn a_state_with_a_clock_in_every_field_still_reads() {
        let r = record();
        let mut old = serde_json::to_value(&r).expect("serializes");
        let fields: serde_json::Map<String, Json> = r
            .fields
            .iter()
            .map(|(name, state)| (name.clone(), serde_json::to_value(state).expect("a state")))
            .collect();
        old["fields"] = Json::Object(fields);
        old.as_object_mut().map(|o| o.remove("clocks"));
        assert!(old["fields"]["status"]["hlc"].is_object());
        let read: StoredRecord = serde_json::from_value(old).expect("the old format reads");
        assert_eq!(read, r);
    }

    #[test]
    fn a_field_without_its_clock_is_refused_with_its_name() {
        let mut written = serde_json::to_value(record()).expect("serializes");
        written["fields"]["status"]["at"] = json!(7);
        let e = serde_json::from_value::<StoredRecord>(written.clone()).unwrap_err();
        assert!(
            e.to_string().contains("\"status\"") && e.to_string().contains("clock 7"),
            "{e}"
        );
        written["fields"]["status"] = json!({"value": "open"});
        let e = serde_json::from_value::<StoredRecord>(written).unwrap_err();
        assert!(
            e.to_string().contains("\"status\"") && e.to_string().contains("no clock"),
            "{e}"
        );
    }
}
