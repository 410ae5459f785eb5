//! Filling a form from the resident identity card (居民身份证) read on the
//! device. The reading itself sits behind [`CardReader`]: the recognizer
//! (crate `beatbook-idcard`, ONNX models) is heavy and not every face ships
//! it, so the core knows only what a reading holds and where each part goes.
//!
//! Nothing read is saved by itself: [`fill`] puts the values into the open
//! form for the officer to check, and says which to look at twice; the
//! officer's save is the confirmation. The card's image is not kept.

use beatbook_schema::form::{FieldKind, Form};
use beatbook_schema::text::Text;
use serde_json::json;

use crate::error::CoreError;
use crate::session::FormSession;

/// Below this confidence a filled value is marked for checking.
pub const SURE: f32 = 0.9;

/// One part of the card as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadField {
    /// The text read (the birth date as `YYYY-MM-DD`).
    pub value: String,
    /// The recognizer's confidence, 0–1.
    pub confidence: f32,
    /// The recognizer doubts it (e.g. the gender printed disagrees with the
    /// ID number's).
    pub flagged: bool,
}

impl ReadField {
    /// Whether the officer should look at it twice.
    pub fn doubtful(&self) -> bool {
        self.flagged || self.confidence < SURE
    }
}

/// What was read from the front of a card; a part not found is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardReading {
    /// 姓名.
    pub name: Option<ReadField>,
    /// 性别 as printed (男/女).
    pub gender: Option<ReadField>,
    /// 民族 as printed (汉, 回, ...).
    pub ethnicity: Option<ReadField>,
    /// 出生.
    pub birth_date: Option<ReadField>,
    /// 住址.
    pub address: Option<ReadField>,
    /// 公民身份号码.
    pub id_number: Option<ReadField>,
    /// What the recognizer did that the officer should know (a character of
    /// the ID number corrected by its check character, ...).
    pub notes: Vec<Text>,
}

/// Why a card could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.en)]
pub struct CardError(pub Text);

/// Reads the front of a card from a photo (JPEG or PNG bytes), on the device.
pub trait CardReader: Send + Sync {
    /// The card's parts, or why none could be read.
    fn read(&self, image: &[u8]) -> Result<CardReading, CardError>;
}

/// What [`fill`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filled {
    /// The fields filled, by name.
    pub fields: Vec<String>,
    /// Of those, the ones to check twice.
    pub doubtful: Vec<String>,
    /// The reading's notes.
    pub notes: Vec<Text>,
}

/// Where each part of the card goes in a form: the field name and the kinds
/// it may have. Gender and birth date are not filled: the form derives them
/// from the ID number, and the recognizer flags a card that disagrees.
type Read = fn(&CardReading) -> Option<&ReadField>;
const TARGETS: [(&str, Read, Part); 4] = [
    ("name", |r| r.name.as_ref(), Part::Text),
    ("id_number", |r| r.id_number.as_ref(), Part::CitizenId),
    ("ethnicity", |r| r.ethnicity.as_ref(), Part::Ethnicity),
    ("registered_address", |r| r.address.as_ref(), Part::Text),
];

#[derive(Debug, Clone, Copy)]
enum Part {
    Text,
    CitizenId,
    Ethnicity,
}

/// Puts what was read into the open form: every part the form has a field
/// for, answered or not (the officer scanned this card to use it).
pub fn fill(session: &mut FormSession, reading: &CardReading) -> Result<Filled, CoreError> {
    let mut filled = Filled {
        notes: reading.notes.clone(),
        ..Filled::default()
    };
    let form = session.form().clone();
    for (name, read, part) in TARGETS {
        let Some(read) = read(reading) else { continue };
        let Some(value) = value_for(&form, name, part, &read.value) else {
            continue;
        };
        session.set(name, json!(value))?;
        filled.fields.push(name.to_owned());
        if read.doubtful() {
            filled.doubtful.push(name.to_owned());
        }
    }
    Ok(filled)
}

/// The answer for field `name` from the text read, if the form has that
/// field with a kind that fits (an ethnicity must be one of the choices).
fn value_for(form: &Form, name: &str, part: Part, read: &str) -> Option<String> {
    let field = form.field(name)?;
    let read = read.trim();
    match (part, &field.def.kind) {
        (Part::Text, FieldKind::Text { .. }) => Some(read.to_owned()),
        (Part::CitizenId, FieldKind::CitizenId { .. }) => Some(read.to_uppercase()),
        (Part::Ethnicity, FieldKind::SingleChoice { list }) => {
            let read = read.trim_end_matches('族');
            form.choices(list)
                .iter()
                .find(|c| c.label.zh.trim_end_matches('族') == read)
                .map(|c| c.value.clone())
        }
        _ => None,
    }
}
