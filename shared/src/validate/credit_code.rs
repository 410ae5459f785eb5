//! Unified social credit codes (统一社会信用代码), GB 32100-2015.
//!
//! A credit code has 18 characters over the alphabet
//! `0123456789ABCDEFGHJKLMNPQRTUWXY` — digits and capital letters without
//! I, O, Z, S and V, which are too easily confused with 1, 0, 2, 5 and U. The
//! last character is a check character over the first 17. The code's inner
//! structure (registering authority, category, division code, organization
//! code) is not checked beyond the alphabet and the check character.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::redact::{preview, quote};
use crate::normalize::normalize_code;
use crate::problem::{Problem, ProblemCode};

/// The code's alphabet; a character's value is its index.
const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of the first 17 characters in the check sum (GB 32100-2015).
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A valid unified social credit code, always held in its normalized
/// 18-character form (half-width, upper-case).
///
/// Build one with [`parse`]; it serializes as that string and deserializing
/// validates it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

/// Parses and validates a unified social credit code as an officer typed it.
///
/// The input is normalized first (full-width characters, lower case, spaces
/// and dashes; see [`normalize_code`]). Then, in this order: length (18),
/// characters (each in the code's alphabet; a message names a forbidden
/// I, O, Z, S or V and its position) and the check character.
pub fn parse(input: &str) -> Result<CreditCode, Problem> {
    let normalized = normalize_code(input);
    let shown = preview(&normalized);
    let (zh_subject, en_subject) = if shown.is_empty() {
        ("统一社会信用代码".to_owned(), "Credit code".to_owned())
    } else {
        (
            format!("统一社会信用代码 {shown}"),
            format!("Credit code {shown}"),
        )
    };
    let problem = |code, zh: String, en: String| {
        Problem::new(
            code,
            format!("{zh_subject}：{zh}"),
            format!("{en_subject}: {en}"),
        )
    };

    let chars: Vec<char> = normalized.chars().collect();
    match chars.len() {
        18 => {}
        0 => {
            return Err(Problem::new(
                ProblemCode::UsccLength,
                "统一社会信用代码为空，请输入18位代码",
                "The credit code is empty — enter all 18 characters",
            ))
        }
        n => {
            return Err(problem(
                ProblemCode::UsccLength,
                format!("应为18位，实际为{n}位，请核对是否漏输或多输"),
                format!(
                    "has {n} characters but a credit code has 18 — \
                     check for a missing or extra character"
                ),
            ))
        }
    }

    for (i, &c) in chars.iter().enumerate() {
        if value_of(c).is_some() {
            continue;
        }
        let position = i + 1;
        let shown = quote(c);
        let (zh, en) = match c {
            'I' | 'O' | 'Z' | 'S' | 'V' => {
                let (zh_hint, en_hint) = match c {
                    'I' => ("，多为数字1", " — it is usually the digit 1"),
                    'O' => ("，多为数字0", " — it is usually the digit 0"),
                    'Z' => ("，多为数字2", " — it is usually the digit 2"),
                    'S' => ("，多为数字5", " — it is usually the digit 5"),
                    _ => ("", ""),
                };
                (
                    format!(
                        "第{position}位字符 {shown} 不允许出现在统一社会信用代码中\
                         （不使用 I、O、Z、S、V），请核对{zh_hint}"
                    ),
                    format!(
                        "character {position} {shown} is not allowed in a credit code \
                         (I, O, Z, S, V are never used); re-check it{en_hint}"
                    ),
                )
            }
            _ => (
                format!(
                    "第{position}位字符 {shown} 不允许出现在统一社会信用代码中\
                     （只含数字和大写字母，不含 I、O、Z、S、V），请核对"
                ),
                format!(
                    "character {position} {shown} is not allowed in a credit code \
                     (digits and capital letters only, never I, O, Z, S, V); re-check it"
                ),
            ),
        };
        return Err(problem(ProblemCode::UsccCharacter, zh, en));
    }

    // All 18 characters are ASCII from here on, so byte slicing is safe.
    let expected = check_char(&normalized[..17]).unwrap_or('0');
    if !normalized.ends_with(expected) {
        return Err(problem(
            ProblemCode::UsccCheckChar,
            format!("校验位应为 {expected}，请核对最后一位（若最后一位无误，则前17位有输错）"),
            format!(
                "check character should be {expected} — re-check the last character \
                 (if it is right, one of the first 17 is mistyped)"
            ),
        ));
    }
    Ok(CreditCode(normalized))
}

/// The check character for the first 17 characters of a credit code, or
/// `None` when `first17` is not exactly 17 characters of the code's alphabet
/// (normalized: half-width, upper case).
///
/// ```
/// use beatbook_schema::validate::credit_code::check_char;
/// assert_eq!(check_char("91350100M000100Y4"), Some('3'));
/// ```
pub fn check_char(first17: &str) -> Option<char> {
    if first17.chars().count() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, weight) in first17.chars().zip(WEIGHTS) {
        sum += value_of(c)? * weight;
    }
    let check = (31 - sum % 31) % 31;
    ALPHABET.chars().nth(check as usize)
}

/// A character's value: its index in the alphabet.
fn value_of(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

impl CreditCode {
    /// The whole normalized 18-character code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = Problem;

    /// Validates a stored code exactly as [`parse`] does.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        parse(&value)
    }
}

impl From<CreditCode> for String {
    fn from(code: CreditCode) -> Self {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::sample::select;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::published("91350100M000100Y43", "91350100M000100Y43")]
    #[case::lowercase("91350100m000100y43", "91350100M000100Y43")]
    #[case::full_width("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43")]
    #[case::spaced("9135 0100 M000 100Y 43", "91350100M000100Y43")]
    #[case::computed_letter_check("91110000600037341L", "91110000600037341L")]
    #[case::computed_lowercase_check("91110000600037341l", "91110000600037341L")]
    fn valid_codes_are_accepted_and_normalized(#[case] input: &str, #[case] expected: &str) {
        let code = parse(input).unwrap();
        assert_eq!(code.as_str(), expected);
        assert_eq!(code.to_string(), expected);
    }

    #[rstest]
    #[case::empty("", ProblemCode::UsccLength)]
    #[case::seventeen("91350100M000100Y4", ProblemCode::UsccLength)]
    #[case::nineteen("91350100M000100Y431", ProblemCode::UsccLength)]
    #[case::letter_i("91350100I000100Y43", ProblemCode::UsccCharacter)]
    #[case::letter_o("9135O100M000100Y43", ProblemCode::UsccCharacter)]
    #[case::letter_z("91350100M000100Z43", ProblemCode::UsccCharacter)]
    #[case::letter_s("S1350100M000100Y43", ProblemCode::UsccCharacter)]
    #[case::letter_v("91350100M000100Y4V", ProblemCode::UsccCharacter)]
    #[case::lowercase_o("9135o100M000100Y43", ProblemCode::UsccCharacter)]
    #[case::punctuation("91350100M000100Y4#", ProblemCode::UsccCharacter)]
    #[case::chinese("91350100M000100Y4号", ProblemCode::UsccCharacter)]
    #[case::wrong_check("91350100M000100Y44", ProblemCode::UsccCheckChar)]
    #[case::swapped("91350100M000100Y34", ProblemCode::UsccCheckChar)]
    fn invalid_codes_are_refused(#[case] input: &str, #[case] code: ProblemCode) {
        let problem = parse(input).unwrap_err();
        assert_eq!(problem.code, code, "{problem}");
        let first5: String = normalize_code(input).chars().take(5).collect();
        if first5.chars().count() == 5 {
            assert!(!problem.message.en.contains(&first5), "{problem}");
            assert!(!problem.message.zh.contains(&first5), "{problem}");
        }
    }

    #[test]
    fn forbidden_letter_is_named_with_its_position() {
        let problem = parse("9135O100M000100Y43").unwrap_err();
        assert_eq!(
            problem.message.en,
            "Credit code 9135…: character 5 \"O\" is not allowed in a credit code \
             (I, O, Z, S, V are never used); re-check it — it is usually the digit 0"
        );
        assert!(
            problem.message.zh.contains("第5位字符 \"O\" 不允许"),
            "{}",
            problem.message.zh
        );
    }

    #[test]
    fn wrong_check_char_message_names_the_right_one() {
        let problem = parse("91350100M000100Y44").unwrap_err();
        assert!(
            problem.message.en.contains("check character should be 3"),
            "{problem}"
        );
        assert!(problem.message.zh.contains("校验位应为 3"), "{problem}");
    }

    #[test]
    fn serializes_as_the_normalized_string() {
        let code = parse("91350100m000100y43").unwrap();
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"91350100M000100Y43\""
        );
        let back: CreditCode = serde_json::from_str("\"91350100M000100Y43\"").unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<CreditCode>("\"91350100M000100Y44\"").is_err());
    }

    #[rstest]
    #[case::short("91350100M000100Y")]
    #[case::long("91350100M000100Y43")]
    #[case::forbidden("91350100O000100Y4")]
    #[case::lowercase("91350100m000100y4")]
    #[case::empty("")]
    fn check_char_needs_17_alphabet_characters(#[case] input: &str) {
        assert_eq!(check_char(input), None);
    }

    /// Every weight is nonzero mod 31 and 31 is prime, so changing one of the
    /// first 17 characters by d (1..=30) changes the sum by d·w ≢ 0 (mod 31):
    /// a single substitution always changes the check character.
    #[test]
    fn weights_are_nonzero_mod_31() {
        assert!(WEIGHTS.iter().all(|w| w % 31 != 0));
        assert_eq!(ALPHABET.len(), 31);
    }

    fn valid_code() -> impl Strategy<Value = String> {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        proptest::collection::vec(select(alphabet), 17).prop_map(|chars| {
            let first17: String = chars.into_iter().collect();
            let check = check_char(&first17).unwrap();
            format!("{first17}{check}")
        })
    }

    proptest! {
        #[test]
        fn generated_codes_validate_and_round_trip(code in valid_code()) {
            let parsed = parse(&code.to_lowercase()).unwrap();
            prop_assert_eq!(parsed.as_str(), code.as_str());
            let json = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<CreditCode>(&json).unwrap(), parsed);
        }

        #[test]
        fn any_single_substitution_is_caught(
            code in valid_code(),
            position in 0usize..18,
            shift in 1usize..31,
        ) {
            let alphabet: Vec<char> = ALPHABET.chars().collect();
            let mut chars: Vec<char> = code.chars().collect();
            let index = alphabet.iter().position(|&c| c == chars[position]).unwrap();
            chars[position] = alphabet[(index + shift) % 31];
            let mutated: String = chars.into_iter().collect();
            let problem = parse(&mutated).unwrap_err();
            prop_assert_eq!(problem.code, ProblemCode::UsccCheckChar);
        }

        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = parse(&input);
            let _ = check_char(&input);
        }

        #[test]
        fn parse_never_panics_on_code_like_input(input in "[0-9A-Za-z０-９ａ-ｚ -]{0,22}") {
            if let Ok(code) = parse(&input) {
                prop_assert_eq!(code.as_str().len(), 18);
            }
        }
    }
}
