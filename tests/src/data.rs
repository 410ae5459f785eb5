//! Valid field values for test records.

use beatbook_schema::form::{FormDef, Values};
use beatbook_schema::ids::RecordId;
use beatbook_schema::validate::citizen_id::check_char;
use serde_json::json;

/// A valid citizen ID number for someone born on `yyyymmdd` with sequence `seq` (odd = male).
pub fn citizen_id(division: &str, yyyymmdd: &str, seq: u16) -> String {
    let first17 = format!("{division}{yyyymmdd}{seq:03}");
    let check = check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// Fields of a valid owner-occupied `house` record.
pub fn house(owner: &str) -> Values {
    obj(json!({
        "address": RecordId::new_v7().to_string(),
        "use": "owner_occupied",
        "owner_name": owner,
        "owner_id_number": citizen_id("320614", "19700101", 13),
        "storeys": 3
    }))
}

/// Fields of a valid `person` record.
pub fn person(house: RecordId, name: &str, seq: u16) -> Values {
    obj(json!({
        "house": house.to_string(),
        "relation": "head",
        "category": "registered",
        "name": name,
        "id_number": citizen_id("320614", "19850615", seq),
        "ethnicity": "han"
    }))
}

/// A JSON object literal as field values.
pub fn obj(v: serde_json::Value) -> Values {
    v.as_object().cloned().expect("an object literal")
}

/// Version `version` of a small `reading` form (one text field, `note`),
/// which no server publishes until a test does.
pub fn reading_form(version: u32) -> FormDef {
    serde_json::from_value(json!({
        "form_id": "reading", "version": version,
        "title": {"zh": "读数", "en": "Readings"},
        "sections": [{"id": "main", "title": {"zh": "读数", "en": "Readings"}, "fields": [
            {"name": "note", "label": {"zh": "说明", "en": "Note"}, "kind": {"type": "text"}}
        ]}]
    }))
    .expect("a form definition")
}

/// `n` bytes standing for a photo, different for each `seed`.
pub fn photo_bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8 ^ seed).collect()
}
