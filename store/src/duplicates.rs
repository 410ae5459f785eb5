//! Duplicate people: person records that carry the same citizen ID number.
//! Every backend keeps an index of the live person records' ID numbers in
//! the transaction that writes each version (a push, a review, a server-side
//! edit), with a count per number, so listing the numbers held by two records
//! or more reads only those numbers, never every record. A pair a supervisor
//! judged to be two people ([`crate::Store::mark_distinct`]) is not listed again.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;

use super::{ReadScope, StoredRecord};

/// The person form's citizen ID number field.
pub const ID_NUMBER_FIELD: &str = "id_number";

/// The ID number a record is indexed under: a live person record's
/// `id_number`, trimmed, with a final check character `x` written `X`.
/// `None` for any other record, a deleted one, or one without a number.
pub fn person_id_number(record: &StoredRecord) -> Option<String> {
    if record.deleted || record.form_id.as_str() != form_ids::PERSON {
        return None;
    }
    let number = record.fields.get(ID_NUMBER_FIELD)?.value.as_str()?.trim();
    (!number.is_empty()).then(|| number.to_uppercase())
}

/// Two records in a fixed order (smaller id first), as a distinct mark is kept.
pub fn pair(a: RecordId, b: RecordId) -> (RecordId, RecordId) {
    if a.to_string() <= b.to_string() {
        (a, b)
    } else {
        (b, a)
    }
}

/// Which duplicates to list.
#[derive(Debug, Clone)]
pub struct DuplicateQuery {
    /// The reader's scope: only records in it are listed, and a number is
    /// listed only when two of its records in scope are not marked distinct.
    pub scope: ReadScope,
    /// At most this many numbers.
    pub limit: u32,
}

/// The live person records in scope that share one ID number.
#[derive(Debug, Clone)]
pub struct DuplicateGroup {
    /// The ID number (as indexed, see [`person_id_number`]).
    pub id_number: String,
    /// Its records in scope, smallest id first (two or more).
    pub records: Vec<StoredRecord>,
    /// Pairs of those records marked distinct, each as [`pair`] orders it.
    pub distinct: Vec<(RecordId, RecordId)>,
}

impl DuplicateGroup {
    /// Pairs of the group's records not marked distinct: what is left to resolve.
    pub fn open_pairs(&self) -> Vec<(RecordId, RecordId)> {
        let mut out = Vec::new();
        for (i, a) in self.records.iter().enumerate() {
            for b in &self.records[i + 1..] {
                let p = pair(a.id, b.id);
                if !self.distinct.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }
}
