//! A pulled page as the device reads it: the protocol's [`PullPage`] with
//! each record's values left as the JSON text the server sent. The store
//! keeps values as JSON text, so a pulled record's values go from the
//! answer into the database without being parsed into maps and written out
//! again (most of a pull's decoding); they are parsed only where the device
//! compares them (a record with values lost in a conflict).

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{DeviceId, FormId, GridId, RecordId, UserId};
use beatbook_schema::merge::FieldConflict;
use beatbook_schema::protocol::{Cursor, PullPage, Review};
use beatbook_schema::record::{AttachmentRef, RecordStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// [`PullPage`], its records' values unparsed.
#[derive(Debug, Clone, Deserialize)]
pub struct PulledPage {
    /// The items.
    pub items: Vec<PulledItem>,
    /// Pass as `since` for the next page.
    pub next: Cursor,
    /// More items wait after `next`.
    pub has_more: bool,
    /// The grids the page was read with (officers and auxiliaries).
    #[serde(default)]
    pub grids: Option<Vec<GridId>>,
}

/// [`beatbook_schema::protocol::PullItem`], read in place (as the protocol's
/// own is).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "PulledItemWire")]
pub enum PulledItem {
    /// A published form definition.
    Form {
        /// The definition.
        definition: Box<FormDef>,
    },
    /// A record version.
    Record {
        /// The version.
        version: Box<PulledVersion>,
    },
}

#[derive(Deserialize)]
struct PulledItemWire {
    kind: ItemKind,
    definition: Option<Box<FormDef>>,
    version: Option<Box<PulledVersion>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ItemKind {
    Form,
    Record,
}

impl TryFrom<PulledItemWire> for PulledItem {
    type Error = &'static str;

    fn try_from(w: PulledItemWire) -> Result<Self, Self::Error> {
        Ok(match w.kind {
            ItemKind::Form => PulledItem::Form {
                definition: w.definition.ok_or("missing field `definition`")?,
            },
            ItemKind::Record => PulledItem::Record {
                version: w.version.ok_or("missing field `version`")?,
            },
        })
    }
}

/// [`beatbook_schema::protocol::RecordVersion`], its values unparsed. It writes the same JSON, so a
/// version held back (while local edits wait) reads back as either.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PulledVersion {
    /// The record at this version.
    pub record: PulledRecord,
    /// Its revision.
    pub revision: u64,
    /// A tombstone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Flagged for the supervisor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conflicted: bool,
    /// The latest review decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// The hard conflicts the change that wrote this version resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<FieldConflict>,
}

/// [`beatbook_schema::record::Record`], its values unparsed (the fields are
/// the same).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PulledRecord {
    pub id: RecordId,
    pub form_id: FormId,
    pub form_version: u32,
    pub grid: GridId,
    pub author: UserId,
    pub device: DeviceId,
    /// The values as the server wrote them (a JSON object).
    #[serde(deserialize_with = "json_object")]
    pub values: Box<RawValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: RecordStatus,
}

/// Valid JSON (as any raw value is) that is an object, as values are.
fn json_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<RawValue>, D::Error> {
    let raw = Box::<RawValue>::deserialize(d)?;
    if raw.get().trim_start().starts_with('{') {
        Ok(raw)
    } else {
        Err(serde::de::Error::custom("values: expected a JSON object"))
    }
}

impl TryFrom<&PullPage> for PulledPage {
    type Error = serde_json::Error;

    /// The same page as the device would have read it from the server.
    fn try_from(page: &PullPage) -> Result<Self, Self::Error> {
        serde_json::from_str(&serde_json::to_string(page)?)
    }
}

impl PulledItem {
    /// Whether this item changes what the device's pickers offer (a form,
    /// or a standard address).
    pub fn changes_references(&self) -> bool {
        match self {
            PulledItem::Form { .. } => true,
            PulledItem::Record { version } => {
                version.record.form_id.as_str() == beatbook_schema::catalogue::form_ids::ADDRESS
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::form::Values;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_pulled_version_keeps_the_values_text_and_writes_what_it_read() {
        let wire = json!({
            "record": {
                "id": "0192e4a0-0000-7000-8000-000000000002",
                "form_id": "house", "form_version": 1, "grid": "G1",
                "author": "0192e4a0-0000-7000-8000-000000000004",
                "device": "0192e4a0-0000-7000-8000-000000000003",
                "values": {"address": "人民路1号", "rooms": 3},
                "created_at": "2026-11-30T08:00:00Z", "updated_at": "2026-11-30T08:00:00Z",
                "status": "submitted"
            },
            "revision": 2
        });
        let pulled: PulledVersion = serde_json::from_value(wire.clone()).expect("reads");
        assert_eq!(
            pulled.record.values.get(),
            r#"{"address":"人民路1号","rooms":3}"#
        );
        let values: Values = serde_json::from_str(pulled.record.values.get()).expect("parses");
        assert_eq!(values["rooms"], json!(3));
        let typed: beatbook_schema::protocol::RecordVersion =
            serde_json::from_value(wire).expect("the protocol's type");
        assert_eq!(
            serde_json::to_value(&pulled).expect("writes"),
            serde_json::to_value(&typed).expect("writes"),
            "a held version reads back as the protocol's"
        );
        let mut not_an_object = serde_json::to_value(&pulled).expect("writes");
        not_an_object["record"]["values"] = json!(["人民路1号"]);
        let e = serde_json::from_value::<PulledVersion>(not_an_object)
            .expect_err("values that are not an object");
        assert!(e.to_string().contains("expected a JSON object"), "{e}");
        let e = serde_json::from_value::<PulledItem>(json!({"kind": "record", "cursor": 1}))
            .expect_err("a record item without its version");
        assert!(e.to_string().contains("missing field `version`"), "{e}");
    }
}
