//! What the reader hands a form: each field's value, confidence and flag,
//! and what the check character did with the number.

use beatbook_schema::validate::citizen_id::Gender;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::check::{check_id, CardEvidence, IdCheck, ReadChar};
use crate::ethnic_groups::ETHNIC_GROUPS;
use crate::layout::CardText;
use crate::text::edit_distance;

/// Below this a field's weakest character makes the field [`Flag::LowConfidence`].
pub const CONFIDENT: f32 = 0.85;

/// What the officer should know about a field before confirming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Read with confidence and consistent with the rest of the card.
    Ok,
    /// Some character was read with low confidence: check it.
    LowConfidence,
    /// The ID number was corrected with its check character (see
    /// [`CardReading::id_check`]): check the changed character.
    Corrected,
    /// Disagrees with what the ID number says (gender, birth date).
    Disagrees,
    /// The ID number fails GB 11643 and was not corrected: the value is what
    /// was read, to be fixed by hand, never to be saved as it is.
    Invalid,
    /// Not found on the card.
    Missing,
}

/// One field read off the card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// The value, normalized for the form: gender `男`/`女`, ethnicity as
    /// printed (`汉`, `维吾尔`), birth date `YYYY-MM-DD`; empty when missing.
    pub value: String,
    /// 0–1: the recognizer's probability for the field's least certain character.
    pub confidence: f32,
    /// Whether the officer must look at it.
    pub flag: Flag,
}

impl Field {
    fn missing() -> Self {
        Self {
            value: String::new(),
            confidence: 0.0,
            flag: Flag::Missing,
        }
    }

    fn read(value: String, confidence: f32) -> Self {
        let flag = if value.is_empty() {
            Flag::Missing
        } else if confidence < CONFIDENT {
            Flag::LowConfidence
        } else {
            Flag::Ok
        };
        Self {
            value,
            confidence,
            flag,
        }
    }

    /// Whether the field can be filled in without a second look.
    pub fn is_ok(&self) -> bool {
        self.flag == Flag::Ok
    }
}

/// Everything read off the front of a resident identity card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardReading {
    /// 姓名.
    pub name: Field,
    /// 性别: `男` or `女`.
    pub gender: Field,
    /// 民族, as printed (`汉`, `维吾尔`).
    pub ethnicity: Field,
    /// 出生, as `YYYY-MM-DD`.
    pub birth_date: Field,
    /// 住址, its lines joined.
    pub address: Field,
    /// 公民身份号码: a valid number unless flagged [`Flag::Invalid`].
    pub id_number: Field,
    /// What the check character did with the number read.
    pub id_check: IdCheck,
}

/// Turns the card's text into checked fields.
pub(crate) fn assemble(text: &CardText, today: NaiveDate) -> CardReading {
    let mut name = field_of(clean(&text.name, |c| {
        !c.is_ascii_punctuation() && !c.is_whitespace()
    }));
    // Every name has a surname and a given name: one character is a name
    // partly lost (to glare, say), however sure the model was of it.
    if name.value.chars().count() == 1 {
        name.flag = Flag::LowConfidence;
    }
    let address = field_of(clean(&text.address, |c| !c.is_whitespace()));

    let mut gender = match text.gender.first() {
        Some(c) => Field::read(c.ch.to_string(), c.confidence),
        None => Field::missing(),
    };
    let card_gender = match gender.value.as_str() {
        "男" => Some(Gender::Male),
        "女" => Some(Gender::Female),
        _ => None,
    };

    let ethnicity = ethnicity(&text.ethnicity);

    let (birth, mut birth_date) = birth_date(&text.birth);

    let plausible = |d: &NaiveDate| d.year() >= 1900 && *d <= today;
    let evidence = CardEvidence {
        birth_date: birth.filter(|d| birth_date.confidence >= CONFIDENT && plausible(d)),
        gender: card_gender.filter(|_| gender.confidence >= CONFIDENT),
    };
    let checked = check_id(&text.id_number, evidence, today);
    let id_confidence = min_confidence(&text.id_number);
    let id_number = match (&checked.id, &checked.check) {
        (Some(id), IdCheck::Valid) => Field {
            value: id.to_string(),
            confidence: id_confidence,
            flag: Flag::Ok,
        },
        (Some(id), _) => Field {
            value: id.to_string(),
            confidence: id_confidence,
            flag: Flag::Corrected,
        },
        (None, _) if checked.read.is_empty() => Field::missing(),
        (None, _) => Field {
            value: checked.read.clone(),
            confidence: id_confidence,
            flag: Flag::Invalid,
        },
    };

    if let Some(id) = &checked.id {
        if card_gender.is_some_and(|g| g != id.gender()) {
            gender.flag = Flag::Disagrees;
        }
        if birth.is_some_and(|b| b != id.birth_date()) {
            birth_date.flag = Flag::Disagrees;
        }
    }

    CardReading {
        name,
        gender,
        ethnicity,
        birth_date,
        address,
        id_number,
        id_check: checked.check,
    }
}

fn min_confidence(chars: &[ReadChar]) -> f32 {
    chars
        .iter()
        .map(|c| c.confidence)
        .reduce(f32::min)
        .unwrap_or(0.0)
}

fn clean(chars: &[ReadChar], keep: impl Fn(char) -> bool) -> Vec<ReadChar> {
    chars.iter().filter(|c| keep(c.ch)).cloned().collect()
}

fn field_of(chars: Vec<ReadChar>) -> Field {
    Field::read(chars.iter().map(|c| c.ch).collect(), min_confidence(&chars))
}

/// The ethnicity snapped to the nearest of the 56 names; a name that had to
/// be snapped is low confidence whatever the model said.
fn ethnicity(chars: &[ReadChar]) -> Field {
    let read: String = chars.iter().map(|c| c.ch).collect();
    let read = read.trim_end_matches('族');
    if read.is_empty() {
        return Field::missing();
    }
    let confidence = min_confidence(chars);
    if ETHNIC_GROUPS.contains(&read) {
        return Field::read(read.to_owned(), confidence);
    }
    let nearest = ETHNIC_GROUPS
        .iter()
        .min_by_key(|name| edit_distance(read, name))
        .copied()
        .unwrap_or_default();
    Field {
        value: nearest.to_owned(),
        confidence: confidence.min(0.5),
        flag: Flag::LowConfidence,
    }
}

/// The birth line `1985年6月14日` as a date, and as a field.
fn birth_date(chars: &[ReadChar]) -> (Option<NaiveDate>, Field) {
    let text: String = chars.iter().map(|c| c.ch).collect();
    let numbers: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .filter_map(|part| part.parse().ok())
        .collect();
    let date = match numbers.as_slice() {
        [y, m, d] => i32::try_from(*y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, *m, *d)),
        _ => None,
    };
    let confidence = min_confidence(chars);
    match date {
        Some(date) => (
            Some(date),
            Field::read(date.format("%Y-%m-%d").to_string(), confidence),
        ),
        None if text.is_empty() => (None, Field::missing()),
        None => (
            None,
            Field {
                value: text,
                confidence: confidence.min(0.5),
                flag: Flag::LowConfidence,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::validate::citizen_id::check_char;

    use super::*;

    fn chars(text: &str) -> Vec<ReadChar> {
        text.chars().map(|c| ReadChar::new(c, 0.99)).collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date")
    }

    fn number(first17: &str) -> String {
        format!("{first17}{}", check_char(first17).expect("17 digits"))
    }

    fn card(gender: &str, birth: &str, id: &str) -> CardText {
        CardText {
            name: chars("张伟"),
            gender: chars(gender),
            ethnicity: chars("汉"),
            birth: chars(birth),
            address: chars("江苏省南通市海门区人民路8号"),
            id_number: chars(id),
        }
    }

    #[test]
    fn a_consistent_card_is_all_ok() {
        let id = number("32068419850614003");
        let reading = assemble(&card("男", "1985年6月14日", &id), today());
        assert_eq!(reading.id_number.value, id);
        assert_eq!(reading.id_check, IdCheck::Valid);
        for field in [
            &reading.name,
            &reading.gender,
            &reading.ethnicity,
            &reading.birth_date,
            &reading.address,
            &reading.id_number,
        ] {
            assert_eq!(field.flag, Flag::Ok, "{field:?}");
        }
        assert_eq!(reading.birth_date.value, "1985-06-14");
    }

    #[test]
    fn a_gender_that_disagrees_with_the_number_is_flagged() {
        // The number says male (3 is odd); the card line read 女 with low
        // confidence, so it did not steer the check.
        let id = number("32068419850614003");
        let mut text = card("女", "1985年6月14日", &id);
        text.gender[0].confidence = 0.6;
        let reading = assemble(&text, today());
        assert_eq!(reading.id_number.flag, Flag::Ok);
        assert_eq!(reading.gender.flag, Flag::Disagrees);
    }

    #[test]
    fn a_birth_date_that_disagrees_with_the_number_is_flagged() {
        let id = number("32068419850614003");
        let mut text = card("男", "1985年6月16日", &id);
        for c in &mut text.birth {
            c.confidence = 0.7;
        }
        let reading = assemble(&text, today());
        assert_eq!(reading.birth_date.flag, Flag::Disagrees);
    }

    #[test]
    fn an_invalid_number_is_shown_as_read_and_flagged_invalid() {
        let mut id = number("32068419850614003");
        let last = id.pop().expect("18 chars");
        id.push(if last == '1' { '2' } else { '1' });
        let reading = assemble(&card("男", "1985年6月14日", &id), today());
        assert_eq!(reading.id_number.flag, Flag::Invalid);
        assert_eq!(reading.id_number.value, id);
        assert!(matches!(reading.id_check, IdCheck::Rejected(_)));
    }

    #[test]
    fn an_ethnicity_read_wrong_is_snapped_and_flagged() {
        let mut text = card("男", "1985年6月14日", &number("32068419850614003"));
        text.ethnicity = chars("维吾尓族");
        let reading = assemble(&text, today());
        assert_eq!(reading.ethnicity.value, "维吾尔");
        assert_eq!(reading.ethnicity.flag, Flag::LowConfidence);
    }

    #[test]
    fn missing_fields_say_so() {
        let reading = assemble(&CardText::default(), today());
        assert_eq!(reading.name.flag, Flag::Missing);
        assert_eq!(reading.id_number.flag, Flag::Missing);
        assert_eq!(reading.birth_date.flag, Flag::Missing);
    }
}
