//! The ID card reader (`beatbook-idcard`) as the field app's
//! [`CardReader`]: its fields handed to the form as read, each one it doubts
//! marked, and what the check character did said in both languages.

use std::path::Path;

use beatbook_core::idcard::{CardError, CardReader, CardReading, ReadField};
use beatbook_idcard::{Field, Flag, IdCardError, IdCheck, Recognizer};
use beatbook_schema::text::Text;

/// The recognizer, its models loaded once.
pub struct IdCardReader(Recognizer);

impl IdCardReader {
    /// Loads the models from `dir` (as `scripts/ocr-models.sh` leaves them),
    /// checking their digests.
    pub fn load(dir: &Path) -> Result<Self, IdCardError> {
        Recognizer::from_dir(dir).map(Self)
    }
}

impl CardReader for IdCardReader {
    fn read(&self, image: &[u8]) -> Result<CardReading, CardError> {
        let card = self.0.read_card(image).map_err(|e| {
            CardError(Text::new(
                format!("无法识别这张照片：{e}。请对准身份证正面重拍"),
                format!(
                    "This photo could not be read: {e}. Photograph the front of the card again"
                ),
            ))
        })?;
        Ok(CardReading {
            name: field(&card.name),
            gender: field(&card.gender),
            ethnicity: field(&card.ethnicity),
            birth_date: field(&card.birth_date),
            address: field(&card.address),
            id_number: field(&card.id_number),
            notes: note(&card.id_check).into_iter().collect(),
        })
    }
}

/// A part of the card for the form: `None` when it was not found; doubted
/// unless the reader is sure and it agrees with the rest of the card.
fn field(f: &Field) -> Option<ReadField> {
    (f.flag != Flag::Missing).then(|| ReadField {
        value: f.value.clone(),
        confidence: f.confidence,
        flagged: f.flag != Flag::Ok,
    })
}

/// What the officer should know about the ID number read.
fn note(check: &IdCheck) -> Option<Text> {
    match check {
        IdCheck::Valid => None,
        IdCheck::Corrected { changes } => {
            let each: Vec<String> = changes
                .iter()
                .map(|c| format!("{} → {} ({})", c.from, c.to, c.position + 1))
                .collect();
            Some(Text::new(
                format!("身份证号已按校验码更正：{}，请核对", each.join("，")),
                format!(
                    "The ID number was corrected by its check character: {}; check it",
                    each.join(", ")
                ),
            ))
        }
        IdCheck::Rejected(_) => Some(Text::new(
            "身份证号未能确认（校验不通过），请对照证件核对",
            "The ID number could not be confirmed (its check fails): compare it with the card",
        )),
    }
}
