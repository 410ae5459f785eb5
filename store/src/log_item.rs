//! A record's change-log item written from the stored record in place: the
//! JSON of `PullItem::Record` with [`StoredRecord::version`], without
//! building that version first (a map of every value, taken from the field
//! states and dropped again, for each record a push writes).

use std::collections::BTreeMap;

use beatbook_schema::ids::{DeviceId, FormId, GridId, RecordId, UserId};
use beatbook_schema::merge::{FieldConflict, FieldState};
use beatbook_schema::protocol::{Cursor, Review};
use beatbook_schema::record::{AttachmentRef, RecordStatus};
use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::StoredRecord;

/// The values of the field states, cleared fields left out: the version's
/// `values`, in name order.
struct ValuesOut<'a>(&'a BTreeMap<String, FieldState>);

impl Serialize for ValuesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let set = || self.0.iter().filter(|(_, state)| !state.value.is_null());
        let mut map = s.serialize_map(Some(set().count()))?;
        for (name, state) in set() {
            map.serialize_entry(name, &state.value)?;
        }
        map.end()
    }
}

/// `Record`, borrowed.
#[derive(Serialize)]
struct RecordOut<'a> {
    id: &'a RecordId,
    form_id: &'a FormId,
    form_version: u32,
    grid: &'a GridId,
    author: &'a UserId,
    device: &'a DeviceId,
    values: ValuesOut<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    attachments: &'a [AttachmentRef],
    created_at: &'a DateTime<Utc>,
    updated_at: &'a DateTime<Utc>,
    status: RecordStatus,
}

/// `RecordVersion`, borrowed.
#[derive(Serialize)]
struct VersionOut<'a> {
    record: RecordOut<'a>,
    revision: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    conflicted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    review: &'a Option<Review>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    conflicts: &'a [FieldConflict],
}

/// `PullItem::Record`, borrowed.
#[derive(Serialize)]
#[serde(tag = "kind", rename = "record")]
struct ItemOut<'a> {
    cursor: Cursor,
    version: VersionOut<'a>,
}

impl StoredRecord {
    /// The change-log item of this version at `cursor`: the JSON of
    /// `PullItem::Record { cursor, version: self.version() }`.
    pub fn log_item(&self, cursor: Cursor) -> serde_json::Result<String> {
        serde_json::to_string(&ItemOut {
            cursor,
            version: VersionOut {
                record: RecordOut {
                    id: &self.id,
                    form_id: &self.form_id,
                    form_version: self.form_version,
                    grid: &self.grid,
                    author: &self.author,
                    device: &self.device,
                    values: ValuesOut(&self.fields),
                    attachments: &self.attachments,
                    created_at: &self.created_at,
                    updated_at: &self.updated_at,
                    status: self.status,
                },
                revision: self.revision,
                deleted: self.deleted,
                conflicted: self.conflicted,
                review: &self.review,
                conflicts: &self.resolved,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::hlc::Hlc;
    use beatbook_schema::ids::Sha256;
    use beatbook_schema::protocol::{PullItem, ReviewDecision};
    use serde_json::{json, Value as Json};

    use super::*;

    /// A record with a cleared field, a repeat, an attachment, a review and
    /// a resolved conflict, tombstoned and flagged as `gone` says.
    fn record(gone: bool) -> StoredRecord {
        let device = DeviceId::new_v7();
        let hlc = Hlc {
            wall_ms: 1_764_580_000_000,
            counter: 2,
            device,
        };
        let state = |value: Json| FieldState {
            value,
            hlc,
            revision: 3,
        };
        let at = DateTime::from_timestamp_millis(1_764_580_000_000).expect("a valid time");
        StoredRecord {
            id: RecordId::new_v7(),
            form_id: FormId::new("household"),
            form_version: 2,
            grid: GridId::new("G1"),
            author: UserId::new_v7(),
            device,
            fields: BTreeMap::from([
                ("address".into(), state(json!("幸福路 8 号\n\"东\"门"))),
                ("photo".into(), state(Json::Null)),
                ("size".into(), state(json!(4))),
                (
                    "members".into(),
                    state(json!([{"name": "李四", "id_number": "11010519491231002X"}])),
                ),
            ]),
            attachments: vec![AttachmentRef {
                sha256: Sha256::digest(b"jpeg"),
                content_type: "image/jpeg".into(),
                size: 4,
            }],
            created_at: at,
            updated_at: at,
            status: RecordStatus::Returned,
            revision: 3,
            deleted: gone,
            conflicted: gone,
            review: gone.then(|| Review {
                decision: ReviewDecision::Return {
                    reason: "门牌号不对".into(),
                },
                by: "王所长".into(),
                at,
            }),
            resolved: if gone {
                vec![FieldConflict {
                    field: "size".into(),
                    winning_value: json!(4),
                    winner: hlc,
                    losing_value: json!(5),
                    loser: hlc,
                    winner_name: Some("张三".into()),
                }]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn the_item_is_the_json_of_the_version_it_stands_for() {
        for gone in [false, true] {
            let record = record(gone);
            let item = PullItem::Record {
                cursor: Cursor(42),
                version: Box::new(record.version()),
            };
            assert_eq!(
                record.log_item(Cursor(42)).expect("serializes"),
                serde_json::to_string(&item).expect("serializes"),
                "gone: {gone}"
            );
        }
    }
}
