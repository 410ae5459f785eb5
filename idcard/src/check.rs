//! The check character as the recognizer's friend: an ID number read off a
//! card is accepted only if it passes GB 11643 (the schema crate's
//! [`citizen_id::parse`]: structure, a real birth date not in the future, the
//! check character) and its division code is a known GB/T 2260 code. When it
//! does not, one single-character confusion (8/B, 0/D, 1/7, X/K …) at a
//! character the model was unsure of is corrected if exactly one such change
//! makes a number that passes and agrees with the card; otherwise the number
//! is rejected. Pure: no models, no I/O.

use beatbook_schema::division::divisions;
use beatbook_schema::validate::citizen_id::{self, CitizenId, Gender};
use chrono::NaiveDate;
use serde::Serialize;

/// Characters read with at least this confidence are not second-guessed by
/// the single-character search (letters where digits belong always are).
pub const SUSPECT_BELOW: f32 = 0.97;

/// One character as the recognizer read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadChar {
    /// The character read.
    pub ch: char,
    /// The model's probability for it, 0–1.
    pub confidence: f32,
    /// The model's next guesses for the same place, best first.
    pub alternatives: Vec<char>,
}

impl ReadChar {
    /// A character with no alternatives (for tests and plain text).
    pub fn new(ch: char, confidence: f32) -> Self {
        Self {
            ch,
            confidence,
            alternatives: Vec::new(),
        }
    }
}

/// What the rest of the card says, to choose between candidate corrections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardEvidence {
    /// The birth date read from the 出生 line, if read with confidence.
    pub birth_date: Option<NaiveDate>,
    /// The gender read from the 性别 line, if read with confidence.
    pub gender: Option<Gender>,
}

/// One character the check changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Position in the 18 characters, 0-based.
    pub position: usize,
    /// What the recognizer read.
    pub from: char,
    /// What the number has now.
    pub to: char,
}

/// Why a number read off the card was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Rejection {
    /// Not 18 characters.
    Length {
        /// How many were read.
        read: usize,
    },
    /// It fails GB 11643 (or names an unknown division) and no single
    /// change at an uncertain character makes it pass.
    NoCorrection,
    /// Several single changes would make it pass: guessing could fill in
    /// someone else's number.
    Ambiguous {
        /// How many candidates passed.
        candidates: usize,
    },
}

/// What the check did with the number read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IdCheck {
    /// Passed as read.
    Valid,
    /// Passed after the listed changes: letters read where digits belong
    /// (B→8, D→0, K→X …) and at most one confusion found by the search.
    Corrected {
        /// Every character changed, in position order.
        changes: Vec<Change>,
    },
    /// Not accepted: the number must be checked by hand.
    Rejected(Rejection),
}

/// The result of checking: the number to show and what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The valid number, when the check accepted one (as read or corrected).
    pub id: Option<CitizenId>,
    /// The characters as read, normalized (what to show when rejected).
    pub read: String,
    /// What the check did.
    pub check: IdCheck,
}

/// Checks the characters read for an ID number against GB 11643, the
/// division table and the card's other fields, correcting one confusion
/// when that is unambiguous. `today` bounds the birth date.
pub fn check_id(chars: &[ReadChar], card: CardEvidence, today: NaiveDate) -> Checked {
    let read: String = chars.iter().map(|c| c.ch).collect();
    if chars.len() != 18 {
        return Checked {
            id: None,
            read,
            check: IdCheck::Rejected(Rejection::Length { read: chars.len() }),
        };
    }

    // Letters where only a digit (or the final X) can stand are forced.
    let mut forced = Vec::new();
    let mut number: Vec<char> = chars.iter().map(|c| c.ch).collect();
    for (position, ch) in number.iter_mut().enumerate() {
        let mapped = as_id_char(*ch, position == 17);
        if mapped != *ch {
            forced.push(Change {
                position,
                from: *ch,
                to: mapped,
            });
            *ch = mapped;
        }
    }

    // A number that passes as read stands on its own check character; the
    // card's other lines only choose between candidate corrections (they can
    // be misread too, and a disagreement is flagged on them instead).
    let accept = |candidate: &[char], with_card: bool| -> Option<CitizenId> {
        let text: String = candidate.iter().collect();
        let id = citizen_id::parse(&text, today, false).ok()?;
        let known = divisions().lookup(id.division_code(), None).is_some();
        let agrees = !with_card
            || card.birth_date.is_none_or(|d| d == id.birth_date())
                && card.gender.is_none_or(|g| g == id.gender());
        (known && agrees).then_some(id)
    };

    if let Some(id) = accept(&number, false) {
        let check = if forced.is_empty() {
            IdCheck::Valid
        } else {
            IdCheck::Corrected { changes: forced }
        };
        return Checked {
            id: Some(id),
            read,
            check,
        };
    }

    // One change at an uncertain character, to something it is easily
    // confused with or the model's own next guess.
    let mut found: Vec<(Change, CitizenId)> = Vec::new();
    for (position, read_char) in chars.iter().enumerate() {
        let current = number[position];
        let forced_here = forced.iter().any(|c| c.position == position);
        if read_char.confidence >= SUSPECT_BELOW && !forced_here {
            continue;
        }
        for to in candidates_for(read_char, current, position == 17) {
            let mut candidate = number.clone();
            candidate[position] = to;
            if let Some(id) = accept(&candidate, true) {
                let change = Change {
                    position,
                    from: read_char.ch,
                    to,
                };
                if !found.iter().any(|(c, _)| *c == change) {
                    found.push((change, id));
                }
            }
        }
    }
    let check = match found.len() {
        0 => IdCheck::Rejected(Rejection::NoCorrection),
        1 => {
            let (change, id) = found.remove(0);
            let mut changes: Vec<Change> = forced
                .into_iter()
                .filter(|c| c.position != change.position)
                .collect();
            changes.push(change);
            changes.sort_by_key(|c| c.position);
            return Checked {
                id: Some(id),
                read,
                check: IdCheck::Corrected { changes },
            };
        }
        n => IdCheck::Rejected(Rejection::Ambiguous { candidates: n }),
    };
    Checked {
        id: None,
        read,
        check,
    }
}

/// The ID-number character a read character stands for: full-width forms,
/// and letters that look like digits (or like X in the last place).
fn as_id_char(ch: char, last: bool) -> char {
    let ch = match ch {
        '０'..='９' => char::from_u32(ch as u32 - '０' as u32 + '0' as u32).unwrap_or(ch),
        'Ｘ' | 'ｘ' => 'X',
        _ => ch,
    };
    match ch {
        'X' | 'x' | 'K' | 'k' | '×' | 'Ｋ' if last => 'X',
        'O' | 'o' | 'D' | 'Q' | 'U' | '〇' => '0',
        'I' | 'l' | 'i' | '|' | 'L' | 'J' | '丨' => '1',
        'Z' | 'z' => '2',
        'S' | 's' => '5',
        'G' | 'b' => '6',
        'T' => '7',
        'B' => '8',
        'g' | 'q' => '9',
        'A' => '4',
        _ => ch,
    }
}

/// Digits (and X) that printed digits are commonly read as, both ways.
const CONFUSIONS: &[(char, char)] = &[
    ('0', '8'),
    ('0', '6'),
    ('0', '9'),
    ('0', '3'),
    ('1', '7'),
    ('1', '4'),
    ('2', '7'),
    ('3', '8'),
    ('3', '5'),
    ('3', '9'),
    ('4', '9'),
    ('5', '6'),
    ('5', '8'),
    ('6', '8'),
    ('8', '9'),
    ('X', '8'),
    ('X', '4'),
];

/// What an uncertain character may really be: its known confusions and the
/// model's own next guesses, in that order, each once.
fn candidates_for(read: &ReadChar, current: char, last: bool) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    let confusions = CONFUSIONS.iter().filter_map(|&(a, b)| {
        if a == current {
            Some(b)
        } else if b == current {
            Some(a)
        } else {
            None
        }
    });
    let guesses = read.alternatives.iter().map(|&c| as_id_char(c, last));
    for to in confusions.chain(guesses) {
        let allowed = to.is_ascii_digit() || (to == 'X' && last);
        if allowed && to != current && !out.contains(&to) {
            out.push(to);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date")
    }

    /// 320684 (海门市, abolished 2019), born 1985-06-14, male, valid check.
    fn valid() -> String {
        let first17 = "32068419850614003";
        let check = citizen_id::check_char(first17).expect("17 digits");
        format!("{first17}{check}")
    }

    fn read(text: &str, uncertain: &[usize]) -> Vec<ReadChar> {
        text.chars()
            .enumerate()
            .map(|(i, ch)| ReadChar::new(ch, if uncertain.contains(&i) { 0.6 } else { 0.999 }))
            .collect()
    }

    fn with(text: &str, position: usize, ch: char) -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| if i == position { ch } else { c })
            .collect()
    }

    #[test]
    fn a_valid_number_read_cleanly_passes_unchanged() {
        let got = check_id(&read(&valid(), &[]), CardEvidence::default(), today());
        assert_eq!(got.check, IdCheck::Valid);
        assert_eq!(got.id.map(|id| id.to_string()), Some(valid()));
    }

    #[rstest]
    #[case('8', 'B')]
    #[case('0', 'D')]
    #[case('0', 'O')]
    #[case('1', 'I')]
    #[case('5', 'S')]
    fn a_letter_where_a_digit_belongs_is_mapped_and_reported(
        #[case] digit: char,
        #[case] letter: char,
    ) {
        let number = valid();
        let position = number.find(digit).expect("the digit occurs");
        let got = check_id(
            &read(&with(&number, position, letter), &[]),
            CardEvidence::default(),
            today(),
        );
        assert_eq!(
            got.check,
            IdCheck::Corrected {
                changes: vec![Change {
                    position,
                    from: letter,
                    to: digit
                }]
            }
        );
        assert_eq!(got.id.map(|id| id.to_string()), Some(number));
    }

    #[test]
    fn k_read_for_the_final_x_is_corrected() {
        let first17 = "11010519491231002";
        assert_eq!(citizen_id::check_char(first17), Some('X'));
        let got = check_id(
            &read(&format!("{first17}K"), &[]),
            CardEvidence::default(),
            today(),
        );
        assert_eq!(
            got.check,
            IdCheck::Corrected {
                changes: vec![Change {
                    position: 17,
                    from: 'K',
                    to: 'X'
                }]
            }
        );
        assert_eq!(got.id.map(|id| id.to_string()), Some(format!("{first17}X")));
    }

    #[test]
    fn a_digit_confusion_at_an_uncertain_character_is_corrected_when_it_alone_fits() {
        // Sequence digit 3 read as 8: position 16.
        let number = valid();
        let misread = with(&number, 16, '8');
        let card = CardEvidence {
            birth_date: NaiveDate::from_ymd_opt(1985, 6, 14),
            gender: Some(Gender::Male),
        };
        let got = check_id(&read(&misread, &[16]), card, today());
        assert_eq!(
            got.check,
            IdCheck::Corrected {
                changes: vec![Change {
                    position: 16,
                    from: '8',
                    to: '3'
                }]
            }
        );
        assert_eq!(got.id.map(|id| id.to_string()), Some(number));
    }

    #[test]
    fn the_models_own_next_guess_is_tried_too() {
        // 4 read as 2 is not in the confusion table; the model's runner-up is.
        let number = valid(); // position 11 is '6'... use the '4' at position 13
        assert_eq!(number.as_bytes()[13], b'4');
        let misread = with(&number, 13, '2');
        let mut chars = read(&misread, &[13]);
        chars[13].alternatives = vec!['4'];
        let card = CardEvidence {
            birth_date: NaiveDate::from_ymd_opt(1985, 6, 14),
            gender: None,
        };
        let got = check_id(&chars, card, today());
        assert_eq!(got.id.map(|id| id.to_string()), Some(number));
    }

    #[test]
    fn a_confident_wrong_digit_is_rejected_not_guessed() {
        let misread = with(&valid(), 16, '8');
        let got = check_id(&read(&misread, &[]), CardEvidence::default(), today());
        assert_eq!(got.check, IdCheck::Rejected(Rejection::NoCorrection));
        assert_eq!(got.id, None);
        assert_eq!(got.read, misread);
    }

    #[test]
    fn two_uncertain_characters_that_each_could_fix_it_are_ambiguous() {
        // Corrupt the check character; make every position uncertain so
        // several single changes pass.
        let number = valid();
        let last = number.chars().last().expect("18 chars");
        let wrong = if last == '0' { '8' } else { '0' };
        let misread = with(&number, 17, wrong);
        let all: Vec<usize> = (0..18).collect();
        let got = check_id(&read(&misread, &all), CardEvidence::default(), today());
        assert!(
            matches!(got.check, IdCheck::Rejected(Rejection::Ambiguous { candidates }) if candidates > 1),
            "{:?}",
            got.check
        );
        assert_eq!(got.id, None);
    }

    #[test]
    fn the_card_birth_date_picks_between_candidates() {
        // The check character misread as a look-alike; the date and the
        // check character are uncertain, and the card's birth line is known:
        // only restoring the check character agrees with the card.
        let number = valid();
        let last = number.chars().last().expect("18 chars");
        let wrong = CONFUSIONS
            .iter()
            .find_map(|&(a, b)| (a == last).then_some(b).or((b == last).then_some(a)))
            .expect("every digit has a look-alike");
        let misread = with(&number, 17, wrong);
        let uncertain: Vec<usize> = (6..14).chain([17]).collect();
        let card = CardEvidence {
            birth_date: NaiveDate::from_ymd_opt(1985, 6, 14),
            gender: Some(Gender::Male),
        };
        let got = check_id(&read(&misread, &uncertain), card, today());
        assert_eq!(got.id.map(|id| id.to_string()), Some(number));
    }

    #[test]
    fn a_number_that_passes_as_read_is_not_overruled_by_a_misread_birth_line() {
        let card = CardEvidence {
            birth_date: NaiveDate::from_ymd_opt(1985, 6, 15),
            gender: Some(Gender::Female),
        };
        let got = check_id(&read(&valid(), &[]), card, today());
        assert_eq!(got.check, IdCheck::Valid);
        assert_eq!(got.id.map(|id| id.to_string()), Some(valid()));
    }

    #[test]
    fn a_correction_that_disagrees_with_the_card_is_not_made() {
        // The sequence digit misread; the only single change that passes
        // the check would give a number the card's birth line contradicts.
        let number = valid();
        let misread = with(&number, 16, '8');
        let card = CardEvidence {
            birth_date: NaiveDate::from_ymd_opt(1985, 6, 15),
            gender: None,
        };
        let got = check_id(&read(&misread, &[16]), card, today());
        assert_eq!(got.id, None);
        assert_eq!(got.check, IdCheck::Rejected(Rejection::NoCorrection));
    }

    #[test]
    fn an_unknown_division_code_is_rejected_even_with_a_right_check_character() {
        let first17 = "99999919850614003";
        let check = citizen_id::check_char(first17).expect("digits");
        let got = check_id(
            &read(&format!("{first17}{check}"), &[]),
            CardEvidence::default(),
            today(),
        );
        assert_eq!(got.check, IdCheck::Rejected(Rejection::NoCorrection));
    }

    #[rstest]
    #[case(17)]
    #[case(19)]
    fn a_wrong_length_is_rejected(#[case] len: usize) {
        let text: String = valid().chars().cycle().take(len).collect();
        let got = check_id(&read(&text, &[]), CardEvidence::default(), today());
        assert_eq!(
            got.check,
            IdCheck::Rejected(Rejection::Length { read: len })
        );
    }

    #[test]
    fn a_future_birth_date_never_passes() {
        let first17 = "32068420300101003";
        let check = citizen_id::check_char(first17).expect("digits");
        let got = check_id(
            &read(&format!("{first17}{check}"), &[]),
            CardEvidence::default(),
            today(),
        );
        assert_eq!(got.id, None);
    }

    proptest::proptest! {
        /// Whatever comes in, a number handed back passes GB 11643.
        #[test]
        fn an_accepted_number_always_passes_gb_11643(
            text in "[0-9XBDOKSI]{18}",
            uncertain in proptest::collection::vec(0usize..18, 0..4),
        ) {
            let got = check_id(&read(&text, &uncertain), CardEvidence::default(), today());
            if let Some(id) = got.id {
                proptest::prop_assert!(citizen_id::parse(id.as_str(), today(), false).is_ok());
                proptest::prop_assert!(!matches!(got.check, IdCheck::Rejected(_)));
            } else {
                proptest::prop_assert!(matches!(got.check, IdCheck::Rejected(_)));
            }
        }

        /// A single substitution at an uncertain place in a valid number is
        /// either undone exactly or rejected: never turned into another number.
        #[test]
        fn one_misread_character_is_undone_or_rejected(
            seq in 0u32..1000,
            position in 0usize..18,
            to in proptest::char::range('0', '9'),
        ) {
            let first17 = format!("32068419850614{seq:03}");
            let number = format!("{first17}{}", citizen_id::check_char(&first17).expect("digits"));
            let misread = with(&number, position, to);
            let card = CardEvidence {
                birth_date: NaiveDate::from_ymd_opt(1985, 6, 14),
                gender: None,
            };
            let got = check_id(&read(&misread, &[position]), card, today());
            if let Some(id) = got.id {
                proptest::prop_assert_eq!(id.as_str(), number.as_str());
            }
        }
    }
}
