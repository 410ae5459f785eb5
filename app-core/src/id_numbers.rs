//! Where a citizen ID number is already recorded on this device: before an
//! officer makes a second person record for someone, the form says which
//! record (name, house) holds the number. Only the device's own records are
//! looked at — its grids, by construction — so nothing here can tell an
//! officer about a record outside them; the server lists duplicates across
//! grids for supervisors.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;
use beatbook_schema::validate::citizen_id;
use chrono::NaiveDate;
use serde_json::Value as Json;

use crate::error::CoreError;
use crate::store::{LocalRecord, LocalStore};

/// The person form's citizen ID number field.
pub const ID_NUMBER_FIELD: &str = "id_number";

/// A person record on this device that holds the number typed.
#[derive(Debug, Clone)]
pub struct RecordedAt {
    /// The record.
    pub record: LocalRecord,
    /// Its `name`, if any.
    pub name: String,
    /// The house it names (`house`), if any.
    pub house: Option<RecordId>,
}

/// The live person records in `store` holding the ID number `typed` (once
/// it validates; an incomplete or invalid number finds nothing), newest
/// first, except `except` (the record being entered).
pub(crate) fn recorded_at(
    store: &LocalStore,
    typed: &str,
    today: NaiveDate,
    except: Option<RecordId>,
) -> Result<Vec<RecordedAt>, CoreError> {
    let Ok(number) = citizen_id::parse(typed, today, true) else {
        return Ok(Vec::new());
    };
    let number = number.as_str();
    let mut found = store.records_where(form_ids::PERSON, ID_NUMBER_FIELD, number)?;
    // Stored as typed by an older version of the app: a lower-case check character.
    let lower = number.to_lowercase();
    if lower != number {
        found.extend(store.records_where(form_ids::PERSON, ID_NUMBER_FIELD, &lower)?);
    }
    Ok(found
        .into_iter()
        .filter(|r| Some(r.id) != except)
        .map(|record| RecordedAt {
            name: record
                .values
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            house: record
                .values
                .get("house")
                .and_then(Json::as_str)
                .and_then(|s| s.parse().ok()),
            record,
        })
        .collect())
}
