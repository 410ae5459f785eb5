//! The pick lists of the records an officer looks up: standard addresses,
//! houses, people, units, hazards and disputes, each a [`SearchIndex`] over
//! a one-line label of every record (characters, pinyin in full or by
//! initials, door numbers, the last digits of an ID number).
//!
//! Built once when the device opens (each record's values decoded once),
//! then kept up to date from the store's notes of what was written since
//! ([`LocalStore::take_changes`]): a saved draft, a finalize, a discard, a
//! pulled page. A search catches up first, so it never shows a record as it
//! was before a save. Labels live only in memory; on disk there is nothing
//! but the encrypted database.

use std::collections::HashMap;

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::search::SearchIndex;
use crate::store::{Change, LocalStore, LocalStoreError, StoredValues};

/// The forms with a pick list, addresses first (other labels name them).
pub const INDEXED: [&str; 6] = [
    form_ids::ADDRESS,
    form_ids::HOUSE,
    form_ids::PERSON,
    form_ids::UNIT,
    form_ids::HAZARD,
    form_ids::DISPUTE,
];

/// How many trailing characters of an ID number a person's label shows
/// and a search matches ("the last digits").
const ID_TAIL: usize = 6;

/// The label of a choice value of a form's field, if it has one.
pub type ChoiceLabel<'a> = &'a dyn Fn(&str, &str, &str) -> Option<String>;

/// The fields labels are made of; everything else in a record's values is
/// skipped while decoding.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LabelFields {
    name: Option<Json>,
    id_number: Option<Json>,
    passport_number: Option<Json>,
    owner_name: Option<Json>,
    community: Option<Json>,
    road: Option<Json>,
    door_number: Option<Json>,
    building: Option<Json>,
    unit_no: Option<Json>,
    room: Option<Json>,
    category: Option<Json>,
    kind: Option<Json>,
    address: Option<Json>,
    parties: Option<Json>,
}

fn text(v: &Option<Json>) -> &str {
    v.as_ref().and_then(Json::as_str).unwrap_or("")
}

/// The label an address shows in pick lists: community, road and door,
/// building/unit/room, from whatever values have them (an address, or a
/// house's or unit's parts derived from one).
pub fn address_label<'a>(part: impl Fn(&str) -> &'a str) -> String {
    let door = part("door_number");
    let door_suffix = if !door.is_empty() && door.chars().all(|c| c.is_ascii_digit()) {
        "号"
    } else {
        ""
    };
    let mut label = format!("{}{}{door}{door_suffix}", part("community"), part("road"));
    for (k, suffix) in [("building", "幢"), ("unit_no", "单元"), ("room", "室")] {
        let v = part(k);
        if !v.is_empty() {
            label.push_str(v);
            if !v.ends_with(suffix) {
                label.push_str(suffix);
            }
        }
    }
    label
}

impl LabelFields {
    fn part(&self, key: &str) -> &str {
        text(match key {
            "community" => &self.community,
            "road" => &self.road,
            "door_number" => &self.door_number,
            "building" => &self.building,
            "unit_no" => &self.unit_no,
            "room" => &self.room,
            _ => &None,
        })
    }

    fn address(&self) -> String {
        address_label(|k| self.part(k))
    }

    /// The name and the ID number's last characters: "张三 …561234".
    fn person(&self) -> String {
        let id = match text(&self.id_number) {
            "" => text(&self.passport_number),
            id => id,
        };
        let tail: String = {
            let chars: Vec<char> = id.chars().collect();
            chars[chars.len().saturating_sub(ID_TAIL)..]
                .iter()
                .collect()
        };
        match tail.as_str() {
            "" => text(&self.name).to_owned(),
            tail => format!("{} …{tail}", text(&self.name)),
        }
    }
}

/// Joins the non-empty parts with spaces.
fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every indexed form's pick list.
pub struct RecordIndex {
    forms: HashMap<&'static str, SearchIndex<RecordId>>,
}

impl std::fmt::Debug for RecordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.forms.iter().map(|(k, v)| (k, v.len())))
            .finish()
    }
}

impl Default for RecordIndex {
    fn default() -> Self {
        Self {
            forms: INDEXED
                .iter()
                .map(|&f| {
                    (
                        f,
                        SearchIndex::build(Vec::<(RecordId, String)>::new()).latest_first(),
                    )
                })
                .collect(),
        }
    }
}

impl RecordIndex {
    /// Reads every record of the indexed forms once and indexes it, the
    /// least recently updated first (so the newest come first in ties and
    /// in an empty query).
    pub fn build(store: &mut LocalStore, choice: ChoiceLabel<'_>) -> Result<Self, LocalStoreError> {
        let mut index = Self::default();
        let mut rows = store.indexed_values(&INDEXED)?;
        // Addresses first: other records' labels name them.
        rows.sort_by_key(|r| r.form_id.as_str() != form_ids::ADDRESS);
        for row in rows {
            index.put(&row, choice);
        }
        Ok(index)
    }

    /// Applies what was written since the last look.
    pub fn catch_up(
        &mut self,
        store: &mut LocalStore,
        choice: ChoiceLabel<'_>,
    ) -> Result<(), LocalStoreError> {
        for change in store.take_changes(&INDEXED)? {
            match change {
                // A record keeps its form: upserting replaces its entry.
                Change::Put(row) => self.put(&row, choice),
                Change::Gone(id) => {
                    for index in self.forms.values_mut() {
                        index.remove(&id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Indexes one record. Values that are not a JSON object are corrupt:
    /// said loudly in the log and left out of the pick lists, so that one bad
    /// record neither hides the others nor keeps the device from opening
    /// (its own screen shows the error when it is opened).
    fn put(&mut self, row: &StoredValues, choice: ChoiceLabel<'_>) {
        let fields: LabelFields = match serde_json::from_str(&row.values) {
            Ok(fields) => fields,
            Err(e) => {
                tracing::error!(record = %row.id, error = %e, "LOCAL DATA IS CORRUPT: a record's values do not read back; it is left out of the pick lists");
                return;
            }
        };
        let form = row.form_id.as_str();
        let chosen = |field: &str, v: &Option<Json>| {
            let v = text(v);
            choice(form, field, v).unwrap_or_else(|| v.to_owned())
        };
        let address_of = |v: &Option<Json>| {
            text(v)
                .parse::<RecordId>()
                .ok()
                .and_then(|a| {
                    self.forms
                        .get(form_ids::ADDRESS)?
                        .label(&a)
                        .map(str::to_owned)
                })
                .unwrap_or_default()
        };
        let (key, label) = match form {
            form_ids::ADDRESS => (form_ids::ADDRESS, fields.address()),
            form_ids::HOUSE => (
                form_ids::HOUSE,
                join(&[&fields.address(), text(&fields.owner_name)]),
            ),
            form_ids::PERSON => (form_ids::PERSON, fields.person()),
            form_ids::UNIT => (
                form_ids::UNIT,
                join(&[text(&fields.name), &fields.address()]),
            ),
            form_ids::HAZARD => (
                form_ids::HAZARD,
                join(&[
                    &chosen("category", &fields.category),
                    &address_of(&fields.address),
                ]),
            ),
            form_ids::DISPUTE => {
                let parties: Vec<&str> = fields
                    .parties
                    .as_ref()
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("name")?.as_str())
                    .collect();
                let kind = chosen("kind", &fields.kind);
                let mut parts = vec![kind.as_str()];
                parts.extend(parties);
                let address = address_of(&fields.address);
                parts.push(&address);
                (form_ids::DISPUTE, join(&parts))
            }
            _ => return,
        };
        if let Some(index) = self.forms.get_mut(key) {
            index.upsert(row.id, &label);
        }
    }

    /// Up to `limit` records of `form` matching `query`, best first (an
    /// empty query: the most recently changed first), with their labels.
    /// A form without a pick list finds nothing.
    pub fn search(&self, form: &str, query: &str, limit: usize) -> Vec<(RecordId, String)> {
        self.forms.get(form).map_or_else(Vec::new, |index| {
            index
                .search(query, limit)
                .into_iter()
                .map(|h| (*h.key, h.label.to_owned()))
                .collect()
        })
    }

    /// The label of a record in its form's pick list.
    pub fn label(&self, form: &str, id: &RecordId) -> Option<&str> {
        self.forms.get(form)?.label(id)
    }

    /// Entries per form.
    pub fn len(&self, form: &str) -> usize {
        self.forms.get(form).map_or(0, SearchIndex::len)
    }

    /// Approximate heap bytes of all pick lists.
    pub fn heap_bytes(&self) -> usize {
        self.forms.values().map(SearchIndex::heap_bytes).sum()
    }
}
