//! Citizen ID numbers (公民身份号码), GB 11643-1999.
//!
//! An ID number has 18 characters: a 6-digit administrative division code,
//! the birth date as `YYYYMMDD`, a 3-digit sequence number (odd for men, even
//! for women) and a check character computed from the first 17 digits (a
//! digit or `X`). Numbers issued before 1999 have 15 digits (`YYMMDD`, no
//! check character); where a form allows them they are upgraded to 18 by
//! inserting `19` before the year and computing the check character.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::redact::{preview, quote};
use crate::normalize::normalize_code;
use crate::problem::{Problem, ProblemCode};
use crate::text::Text;

/// Weights of the first 17 digits in the check sum (GB 11643-1999).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character for each value of the weighted sum mod 11.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// A valid citizen ID number, always held in its normalized 18-character
/// form (half-width digits, upper-case `X`).
///
/// Build one with [`parse`]; it serializes as that string and deserializing
/// re-checks structure, birth date and check character (but not whether the
/// birth date lies after "today", which the crate cannot know). `Debug`
/// shows only the first four characters so that ID numbers do not end up in
/// logs; `Display` and [`CitizenId::as_str`] give the whole number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CitizenId(String);

/// A person's gender as the ID number's sequence digit records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    /// Odd sequence digit.
    Male,
    /// Even sequence digit.
    Female,
}

impl Gender {
    /// The label a form shows for this gender.
    pub fn label(self) -> Text {
        match self {
            Gender::Male => Text::new("男", "Male"),
            Gender::Female => Text::new("女", "Female"),
        }
    }
}

/// Parses and validates a citizen ID number as an officer typed it.
///
/// The input is normalized first (full-width characters, lower-case `x`,
/// spaces and dashes; see [`normalize_code`]). Then, in this order:
/// length (18, or 15 when `allow_legacy`), characters (17 digits and a digit
/// or `X`; a legacy number is all digits), the birth date (a real calendar
/// date, no later than `today`) and the check character. A 15-digit legacy
/// number where `allow_legacy` is false is refused with
/// [`ProblemCode::IdLegacyNotAllowed`]; otherwise it is upgraded to its
/// 18-digit form.
pub fn parse(input: &str, today: NaiveDate, allow_legacy: bool) -> Result<CitizenId, Problem> {
    parse_checked(input, Some(today), allow_legacy)
}

/// The check character for the first 17 digits of an ID number, or `None`
/// when `first17` is not exactly 17 ASCII digits.
///
/// ```
/// use beatbook_schema::validate::citizen_id::check_char;
/// assert_eq!(check_char("11010519491231002"), Some('X'));
/// ```
pub fn check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK_CHARS.get((sum % 11) as usize).copied()
}

impl CitizenId {
    /// The whole normalized 18-character number.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The administrative division code: the first 6 digits.
    pub fn division_code(&self) -> &str {
        // The number is 18 ASCII characters, so byte slicing is safe.
        &self.0[..6]
    }

    /// The birth date: characters 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        birth_date_of(&self.0[6..14])
            .expect("a CitizenId is only built from a number with a valid birth date")
    }

    /// The gender: the 17th digit is odd for men and even for women.
    pub fn gender(&self) -> Gender {
        if self.0.as_bytes()[16] % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// Age in completed years on `today`; 0 if `today` is before the birth
    /// date. Someone born on 29 February becomes a year older on 1 March in
    /// non-leap years.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        let birth = self.birth_date();
        if today < birth {
            return 0;
        }
        let years = today.year() - birth.year();
        let before_birthday = (today.month(), today.day()) < (birth.month(), birth.day());
        u32::try_from(years - i32::from(before_birthday)).unwrap_or(0)
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CitizenId").field(&preview(&self.0)).finish()
    }
}

impl TryFrom<String> for CitizenId {
    type Error = Problem;

    /// Re-validates a stored number: normalization, structure, birth date and
    /// check character. Legacy 15-digit numbers are refused (the stored form
    /// is always 18) and the birth date is not compared with today.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        parse_checked(&value, None, false)
    }
}

impl From<CitizenId> for String {
    fn from(id: CitizenId) -> Self {
        id.0
    }
}

/// [`parse`], with the future-birth check only when `today` is given.
fn parse_checked(
    input: &str,
    today: Option<NaiveDate>,
    allow_legacy: bool,
) -> Result<CitizenId, Problem> {
    let normalized = normalize_code(input);
    let subject = Subject(&normalized);
    let chars: Vec<char> = normalized.chars().collect();

    match chars.len() {
        18 => check_characters(&subject, &chars, false)?,
        15 if !allow_legacy && chars.iter().all(char::is_ascii_digit) => {
            return Err(subject.problem(
                ProblemCode::IdLegacyNotAllowed,
                "这是15位旧身份证号，本表单只接受18位号码，请向当事人索取现行身份证上的号码",
                "this is an old 15-digit ID number and this form needs the 18-digit one — \
                 ask for the number on the person's current ID card",
            ));
        }
        15 if allow_legacy => {
            check_characters(&subject, &chars, true)?;
            // All 15 characters are ASCII digits, so byte slicing is safe.
            check_birth_date(&subject, &format!("19{}", &normalized[6..12]), today, true)?;
            let first17 = format!("{}19{}", &normalized[..6], &normalized[6..]);
            let check = check_char(&first17).unwrap_or('0');
            return Ok(CitizenId(format!("{first17}{check}")));
        }
        0 => {
            return Err(Problem::new(
                ProblemCode::IdLength,
                "身份证号为空，请输入18位身份证号",
                "The ID number is empty — enter all 18 characters",
            ))
        }
        n => {
            let (zh_expected, en_expected) = if allow_legacy {
                ("18位（旧号码为15位）", "18 (15 for an old-style number)")
            } else {
                ("18位", "18")
            };
            return Err(subject.problem(
                ProblemCode::IdLength,
                format!("应为{zh_expected}，实际为{n}位，请核对是否漏输或多输"),
                format!(
                    "has {n} characters but an ID number has {en_expected} — \
                     check for a missing or extra character"
                ),
            ));
        }
    }

    // All 18 characters are ASCII from here on, so byte slicing is safe.
    check_birth_date(&subject, &normalized[6..14], today, false)?;
    let expected = check_char(&normalized[..17]).unwrap_or('0');
    if !normalized.ends_with(expected) {
        return Err(subject.problem(
            ProblemCode::IdCheckChar,
            format!("校验位应为 {expected}，请核对最后一位（若最后一位无误，则前17位有输错）"),
            format!(
                "check character should be {expected} — re-check the last character \
                 (if it is right, one of the first 17 is mistyped)"
            ),
        ));
    }
    Ok(CitizenId(normalized))
}

/// How an ID number is named at the start of a message: "ID number 3206…".
/// Spelled out only for a problem: every ID number of every pushed record
/// passes through here, and nearly all of them are valid.
struct Subject<'a>(&'a str);

impl Subject<'_> {
    fn problem(&self, code: ProblemCode, zh: impl AsRef<str>, en: impl AsRef<str>) -> Problem {
        let shown = preview(self.0);
        let (zh, en) = (zh.as_ref(), en.as_ref());
        if shown.is_empty() {
            Problem::new(code, format!("身份证号：{zh}"), format!("ID number: {en}"))
        } else {
            Problem::new(
                code,
                format!("身份证号 {shown}：{zh}"),
                format!("ID number {shown}: {en}"),
            )
        }
    }
}

/// 17 digits and a digit or `X`; a legacy number is 15 digits.
fn check_characters(subject: &Subject<'_>, chars: &[char], legacy: bool) -> Result<(), Problem> {
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_digit() {
            continue;
        }
        let position = i + 1;
        let shown = quote(c);
        if legacy {
            return Err(subject.problem(
                ProblemCode::IdCharacters,
                format!("第{position}位字符 {shown} 不是数字，15位旧号码只含数字，请核对"),
                format!(
                    "character {position} {shown} is not a digit — an old 15-digit ID number \
                     has digits only; re-check it"
                ),
            ));
        }
        if i == last {
            if c == 'X' {
                continue;
            }
            return Err(subject.problem(
                ProblemCode::IdCharacters,
                format!("最后一位 {shown} 只能是数字或 X，请核对最后一位"),
                format!(
                    "the last character {shown} must be a digit or X — re-check the last character"
                ),
            ));
        }
        return Err(subject.problem(
            ProblemCode::IdCharacters,
            format!("第{position}位字符 {shown} 不是数字，前17位只能是数字，请核对"),
            format!(
                "character {position} {shown} is not a digit — the first 17 characters are \
                 digits only; re-check it"
            ),
        ));
    }
    Ok(())
}

/// The date in 8 ASCII digits `YYYYMMDD`, if it is a real calendar date.
fn birth_date_of(yyyymmdd: &str) -> Option<NaiveDate> {
    let number = |range: std::ops::Range<usize>| yyyymmdd.get(range)?.parse::<u32>().ok();
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(4..6)?, number(6..8)?)
}

/// The birth date `YYYYMMDD` must be a real date and, when `today` is known,
/// not after it. `legacy` says which character positions to name: the
/// 15-digit form has no century digits.
fn check_birth_date(
    subject: &Subject<'_>,
    yyyymmdd: &str,
    today: Option<NaiveDate>,
    legacy: bool,
) -> Result<(), Problem> {
    let (date_at, month_at, day_at) = if legacy {
        ("7–12", "9–10", "11–12")
    } else {
        ("7–14", "11–12", "13–14")
    };
    let Some(birth) = birth_date_of(yyyymmdd) else {
        let month = yyyymmdd.get(4..6).and_then(|m| m.parse::<u32>().ok());
        let day = yyyymmdd.get(6..8).and_then(|d| d.parse::<u32>().ok());
        let (zh, en) = match (month, day) {
            (Some(2), Some(29)) => (
                format!("出生年份不是闰年，没有2月29日，请核对第{date_at}位出生日期"),
                format!(
                    "the birth year is not a leap year, so it has no 29 February — \
                     re-check the birth date (characters {date_at})"
                ),
            ),
            (Some(1..=12), _) => (
                format!("出生日期的日（第{day_at}位）在该月不存在，请核对"),
                format!(
                    "the birth day (characters {day_at}) does not exist in that month — \
                     re-check those digits"
                ),
            ),
            _ => (
                format!("出生日期的月份（第{month_at}位）应为01–12，请核对"),
                format!(
                    "the birth month (characters {month_at}) must be 01–12 — \
                     re-check those digits"
                ),
            ),
        };
        return Err(subject.problem(ProblemCode::IdBirthDate, zh, en));
    };
    if today.is_some_and(|today| birth > today) {
        return Err(subject.problem(
            ProblemCode::IdFutureBirth,
            format!("出生日期（第{date_at}位）晚于今天，请核对出生日期"),
            format!(
                "the birth date (characters {date_at}) is after today — \
                 re-check the birth date digits"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        date(2025, 6, 1)
    }

    #[rstest]
    #[case::standard_example("11010519491231002X", "11010519491231002X")]
    #[case::lowercase_x("11010519491231002x", "11010519491231002X")]
    #[case::full_width("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X")]
    #[case::full_width_lowercase_x("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X")]
    #[case::spaces_and_dashes(" 110105 1949-1231 002x ", "11010519491231002X")]
    #[case::ideographic_space("320614\u{3000}19900307\u{3000}1231", "320614199003071231")]
    #[case::leap_2000("320614200002291238", "320614200002291238")]
    #[case::leap_2004("320614200402291245", "320614200402291245")]
    #[case::born_today("320614202506011235", "320614202506011235")]
    fn valid_numbers_are_accepted_and_normalized(#[case] input: &str, #[case] expected: &str) {
        let id = parse(input, today(), false).unwrap();
        assert_eq!(id.as_str(), expected);
        assert_eq!(id.to_string(), expected);
    }

    #[rstest]
    #[case::empty("", ProblemCode::IdLength)]
    #[case::only_spaces("  －  ", ProblemCode::IdLength)]
    #[case::seventeen("32061419900307123", ProblemCode::IdLength)]
    #[case::nineteen("3206141990030712311", ProblemCode::IdLength)]
    #[case::sixteen("3206141990030712", ProblemCode::IdLength)]
    #[case::letter_in_middle("3206141990A3071231", ProblemCode::IdCharacters)]
    #[case::last_not_x("32061419900307123Y", ProblemCode::IdCharacters)]
    #[case::x_not_last("3206141990030712X1", ProblemCode::IdCharacters)]
    #[case::chinese_character("32061419900307123号", ProblemCode::IdCharacters)]
    #[case::feb_29_1900("320614190002291231", ProblemCode::IdBirthDate)]
    #[case::feb_29_2001("320614200102291235", ProblemCode::IdBirthDate)]
    #[case::feb_29_2100("320614210002291237", ProblemCode::IdBirthDate)]
    #[case::month_13("320614199013011232", ProblemCode::IdBirthDate)]
    #[case::day_32("320614199003321237", ProblemCode::IdBirthDate)]
    #[case::april_31("320614199004311233", ProblemCode::IdBirthDate)]
    #[case::day_00("320614199003001233", ProblemCode::IdBirthDate)]
    #[case::born_tomorrow("320614202506021230", ProblemCode::IdFutureBirth)]
    #[case::wrong_check_char("320614199003071232", ProblemCode::IdCheckChar)]
    #[case::wrong_check_x("32061419900307123X", ProblemCode::IdCheckChar)]
    #[case::legacy_not_allowed("320614850307123", ProblemCode::IdLegacyNotAllowed)]
    #[case::fifteen_with_letter_not_legacy("3206141990A3071", ProblemCode::IdLength)]
    fn invalid_numbers_are_refused(#[case] input: &str, #[case] code: ProblemCode) {
        let problem = parse(input, today(), false).unwrap_err();
        assert_eq!(problem.code, code, "{problem}");
        // Never echo the whole number.
        let normalized = normalize_code(input);
        if normalized.chars().count() > 4 {
            assert!(!problem.message.zh.contains(&normalized));
            assert!(!problem.message.en.contains(&normalized));
            let first5: String = normalized.chars().take(5).collect();
            assert!(!problem.message.en.contains(&first5), "{problem}");
            assert!(!problem.message.zh.contains(&first5), "{problem}");
        }
    }

    #[test]
    fn wrong_check_char_message_names_the_right_one() {
        let problem = parse("320614199003071232", today(), false).unwrap_err();
        assert_eq!(
            problem.message.en,
            "ID number 3206…: check character should be 1 — re-check the last character \
             (if it is right, one of the first 17 is mistyped)"
        );
        assert!(problem
            .message
            .zh
            .starts_with("身份证号 3206…：校验位应为 1，请核对最后一位"));
    }

    #[test]
    fn letter_message_names_character_and_position() {
        let problem = parse("3206141990A3071231", today(), false).unwrap_err();
        assert!(
            problem.message.en.contains("character 11 \"A\""),
            "{problem}"
        );
        assert!(problem.message.zh.contains("第11位字符 \"A\""), "{problem}");
    }

    #[test]
    fn non_leap_february_29_says_so() {
        let problem = parse("320614200102291235", today(), false).unwrap_err();
        assert!(problem.message.en.contains("not a leap year"), "{problem}");
        assert!(problem.message.zh.contains("不是闰年"), "{problem}");
    }

    #[rstest]
    #[case::plain("320614850307123", "320614198503071233")]
    #[case::full_width_spaced("３２０６１４ ８５０３０７ １２３", "320614198503071233")]
    #[case::even_sequence("320614850307124", "320614198503071241")]
    fn legacy_numbers_are_upgraded_when_allowed(#[case] input: &str, #[case] expected: &str) {
        let id = parse(input, today(), true).unwrap();
        assert_eq!(id.as_str(), expected);
        assert_eq!(id.birth_date(), date(1985, 3, 7));
    }

    #[rstest]
    #[case::not_a_date("320614851307123", ProblemCode::IdBirthDate)]
    #[case::feb_29_1900("320614000229123", ProblemCode::IdBirthDate)]
    #[case::letter("32061485030712X", ProblemCode::IdCharacters)]
    #[case::sixteen("3206148503071234", ProblemCode::IdLength)]
    fn invalid_legacy_numbers_are_refused(#[case] input: &str, #[case] code: ProblemCode) {
        let problem = parse(input, today(), true).unwrap_err();
        assert_eq!(problem.code, code, "{problem}");
    }

    #[test]
    fn legacy_leap_day_1908_is_accepted() {
        let id = parse("320614080229003", today(), true).unwrap();
        assert_eq!(id.birth_date(), date(1908, 2, 29));
    }

    #[test]
    fn length_message_mentions_legacy_only_when_allowed() {
        let strict = parse("3206141990", today(), false).unwrap_err();
        let lenient = parse("3206141990", today(), true).unwrap_err();
        assert!(!strict.message.en.contains("15"), "{strict}");
        assert!(lenient.message.en.contains("15"), "{lenient}");
        assert!(strict.message.en.contains("has 10 characters"), "{strict}");
    }

    #[rstest]
    #[case::standard_example("11010519491231002X", "110105", (1949, 12, 31), Gender::Female)]
    #[case::male("320614199003071231", "320614", (1990, 3, 7), Gender::Male)]
    fn accessors_read_the_fields(
        #[case] input: &str,
        #[case] division: &str,
        #[case] (y, m, d): (i32, u32, u32),
        #[case] gender: Gender,
    ) {
        let id = parse(input, today(), false).unwrap();
        assert_eq!(id.division_code(), division);
        assert_eq!(id.birth_date(), date(y, m, d));
        assert_eq!(id.gender(), gender);
    }

    #[rstest]
    #[case::day_before_birthday("320614199003071231", date(2025, 3, 6), 34)]
    #[case::on_birthday("320614199003071231", date(2025, 3, 7), 35)]
    #[case::before_birth("320614199003071231", date(1980, 1, 1), 0)]
    #[case::on_birth_day("320614199003071231", date(1990, 3, 7), 0)]
    #[case::leapling_feb_28("320614200002291238", date(2018, 2, 28), 17)]
    #[case::leapling_mar_1("320614200002291238", date(2018, 3, 1), 18)]
    #[case::leapling_leap_year("320614200002291238", date(2020, 2, 29), 20)]
    fn age_counts_completed_years(
        #[case] input: &str,
        #[case] on: NaiveDate,
        #[case] expected: u32,
    ) {
        let id = parse(input, today(), false).unwrap();
        assert_eq!(id.age_on(on), expected);
    }

    #[test]
    fn gender_labels_and_serde() {
        assert_eq!(Gender::Male.label(), Text::new("男", "Male"));
        assert_eq!(Gender::Female.label(), Text::new("女", "Female"));
        assert_eq!(serde_json::to_string(&Gender::Male).unwrap(), "\"male\"");
        assert_eq!(
            serde_json::from_str::<Gender>("\"female\"").unwrap(),
            Gender::Female
        );
    }

    #[test]
    fn serializes_as_the_normalized_string() {
        let id = parse("11010519491231002x", today(), false).unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"11010519491231002X\""
        );
        let back: CitizenId = serde_json::from_str("\"11010519491231002X\"").unwrap();
        assert_eq!(back, id);
    }

    #[rstest]
    #[case::wrong_check("\"320614199003071232\"")]
    #[case::legacy("\"320614850307123\"")]
    #[case::bad_date("\"320614200102291235\"")]
    #[case::not_a_string("320614199003071231")]
    fn deserializing_rechecks(#[case] json: &str) {
        assert!(serde_json::from_str::<CitizenId>(json).is_err());
    }

    #[test]
    fn debug_does_not_show_the_number() {
        let id = parse("320614199003071231", today(), false).unwrap();
        assert_eq!(format!("{id:?}"), "CitizenId(\"3206…\")");
    }

    #[rstest]
    #[case::sixteen("3206141990030712")]
    #[case::eighteen("320614199003071231")]
    #[case::letter("3206141990030712X")]
    #[case::multibyte("３２０６１４１９９００３０７１")]
    #[case::empty("")]
    fn check_char_needs_17_ascii_digits(#[case] input: &str) {
        assert_eq!(check_char(input), None);
    }

    /// A valid ID number built from its parts, as a generator would.
    fn valid_id() -> impl Strategy<Value = (String, NaiveDate, u32)> {
        let first = date(1900, 1, 1);
        let span = (today() - first).num_days();
        ("[1-8][0-9]{5}", 0..=span, 0u32..1000).prop_map(move |(division, offset, sequence)| {
            let birth = first + chrono::Duration::days(offset);
            let first17 = format!("{division}{}{sequence:03}", birth.format("%Y%m%d"));
            let check = check_char(&first17).unwrap();
            (format!("{first17}{check}"), birth, sequence)
        })
    }

    fn to_full_width(s: &str) -> String {
        s.chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect()
    }

    proptest! {
        #[test]
        fn generated_ids_validate_and_round_trip((id, birth, sequence) in valid_id()) {
            let parsed = parse(&id, today(), false).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
            prop_assert_eq!(parsed.birth_date(), birth);
            let gender = if sequence % 2 == 1 { Gender::Male } else { Gender::Female };
            prop_assert_eq!(parsed.gender(), gender);
            let json = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<CitizenId>(&json).unwrap(), parsed);
        }

        #[test]
        fn full_width_lowercase_forms_validate_to_the_same((id, _, _) in valid_id()) {
            let typed = to_full_width(&id.to_lowercase());
            let parsed = parse(&typed, today(), false).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
        }

        #[test]
        fn any_single_substitution_is_caught(
            (id, _, _) in valid_id(),
            position in 0usize..18,
            shift in 1u32..11,
        ) {
            let mut chars: Vec<char> = id.chars().collect();
            let alphabet: &[char] = if position < 17 {
                &['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
            } else {
                &['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X']
            };
            let index = alphabet.iter().position(|&c| c == chars[position]).unwrap();
            // A different character of the same alphabet: shift by 1..len.
            let shift = 1 + (shift as usize - 1) % (alphabet.len() - 1);
            chars[position] = alphabet[(index + shift) % alphabet.len()];
            let mutated: String = chars.into_iter().collect();
            prop_assert!(parse(&mutated, today(), false).is_err(), "{} accepted", mutated);
        }

        #[test]
        fn parse_never_panics(input in any::<String>(), legacy in any::<bool>()) {
            let _ = parse(&input, today(), legacy);
            let _ = CitizenId::try_from(input);
        }

        #[test]
        fn parse_never_panics_on_id_like_input(
            input in "[0-9Xx０-９ｘＸ 　\\-－]{0,22}",
            legacy in any::<bool>(),
        ) {
            if let Ok(id) = parse(&input, today(), legacy) {
                prop_assert_eq!(id.as_str().len(), 18);
                let _ = (id.gender(), id.age_on(today()), id.division_code());
            }
        }
    }
}
