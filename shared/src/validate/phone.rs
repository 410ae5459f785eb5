//! Mainland China phone numbers: mobiles and landlines.
//!
//! - A mobile number has 11 digits and starts with 13–19.
//! - A landline number has an area code starting with 0 — `010` (Beijing) and
//!   `020`–`029` have 3 digits, every other area code has 4 (`0513`) — then a
//!   7- or 8-digit subscriber number and optionally an extension of 1–6
//!   digits.
//!
//! The input is normalized with [`normalize_phone`] (full-width characters,
//! spaces, dashes, parentheses, a `+86`/`0086` prefix, extension separators
//! such as `转`), so dashes carry no meaning: the area code is found from its
//! first digits, as the numbering plan allows. An extension written after a
//! dash (`0513-82123456-123`) is therefore not recognised; the message for
//! the too-long subscriber number asks for `转` or `#` instead.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::redact::{preview, quote};
use crate::normalize::normalize_phone;
use crate::problem::{Problem, ProblemCode};

/// A valid phone number in its normalized form: the 11 digits of a mobile,
/// or `0513-82123456` / `0513-82123456#123` for a landline (area code, `-`,
/// subscriber number, and `#` before an extension).
///
/// Build one with [`parse`]; it serializes as that string, and deserializing
/// validates it again (landlines allowed). `Debug` shows only the first four
/// characters so that phone numbers do not end up in logs; `Display` and
/// [`Phone::as_str`] give the whole number.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone {
    number: String,
    kind: PhoneKind,
}

/// Whether a phone number is a mobile or a landline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneKind {
    /// 11 digits starting with 13–19.
    Mobile,
    /// Area code, subscriber number and an optional extension.
    Landline,
}

impl Phone {
    /// The whole normalized number.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// Whether this is a mobile or a landline number.
    pub fn kind(&self) -> PhoneKind {
        self.kind
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.number)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("number", &preview(&self.number))
            .field("kind", &self.kind)
            .finish()
    }
}

impl TryFrom<String> for Phone {
    type Error = Problem;

    /// Validates a stored number as [`parse`] does, landlines allowed.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        parse(&value, true)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> Self {
        phone.number
    }
}

/// Parses and validates a phone number as an officer typed it.
///
/// Mobile numbers are always accepted; landline numbers only when
/// `allow_landline` is true (otherwise the message asks for a mobile).
pub fn parse(input: &str, allow_landline: bool) -> Result<Phone, Problem> {
    let normalized = normalize_phone(input);
    let report = Report::new(&normalized, allow_landline);
    if normalized.is_empty() {
        return Err(Problem::new(
            ProblemCode::PhoneInvalid,
            format!("电话号码为空，请输入{}", report.zh_expected),
            format!("The phone number is empty — enter {}", report.en_expected),
        ));
    }

    let (main, extension) = match normalized.split_once('#') {
        Some((main, extension)) => (main, Some(extension)),
        None => (normalized.as_str(), None),
    };
    if main.starts_with('+') || main.starts_with("00") {
        return Err(report.problem(
            "只能填写中国大陆号码（+86），请核对国家代码",
            "only mainland China numbers (+86) can be entered — re-check the country code",
        ));
    }
    if let Some(c) = main.chars().find(|c| !c.is_ascii_digit()) {
        return Err(report.bad_character(c));
    }
    if main.is_empty() {
        return Err(report.problem(
            "转或#前没有号码，请先输入号码",
            "there is no number before the extension separator — enter the number first",
        ));
    }

    // `main` is all ASCII digits from here on, so byte slicing is safe.
    match main.as_bytes()[0] {
        b'1' => parse_mobile(&report, main, extension),
        b'0' if allow_landline => parse_landline(&report, main, extension),
        b'0' => Err(report.problem(
            "这是固定电话号码，本表单只接受手机号码，请填写11位手机号码",
            "this is a landline number and this form needs a mobile number — \
             enter an 11-digit mobile number",
        )),
        _ if allow_landline && (7..=8).contains(&main.len()) => Err(report.problem(
            "固定电话缺少区号，请在号码前加上区号（如 0513）",
            "the landline number has no area code — add it in front (such as 0513)",
        )),
        _ => Err(report.problem(
            format!("不是有效号码，应为{}，请核对", report.zh_expected),
            format!("is not {} — re-check it", report.en_expected),
        )),
    }
}

fn parse_mobile(report: &Report, main: &str, extension: Option<&str>) -> Result<Phone, Problem> {
    if main.len() != 11 {
        let n = main.len();
        return Err(report.problem(
            format!("手机号码应为11位，实际为{n}位，请核对是否漏输或多输"),
            format!(
                "has {n} digits but a mobile number has 11 — check for a missing or extra digit"
            ),
        ));
    }
    let second = char::from(main.as_bytes()[1]);
    if !matches!(second, '3'..='9') {
        return Err(report.problem(
            format!("手机号码以13–19开头，此号码第2位是 {second}，请核对第2位"),
            format!(
                "mobile numbers start with 13–19 but the second digit is {second} — \
                 re-check the second digit"
            ),
        ));
    }
    if extension.is_some() {
        return Err(report.problem(
            "手机号码没有分机号，请删除转或#及其后的内容",
            "a mobile number has no extension — remove the part from 转 or # onwards",
        ));
    }
    Ok(Phone {
        number: main.to_owned(),
        kind: PhoneKind::Mobile,
    })
}

fn parse_landline(report: &Report, main: &str, extension: Option<&str>) -> Result<Phone, Problem> {
    let area_len = match main.as_bytes().get(1..3) {
        Some([b'1', b'0'] | [b'2', _]) => 3,
        Some([b'1', _]) => {
            return Err(report.problem(
                "区号以01开头的只有北京010，请核对区号",
                "the only area code starting 01 is Beijing's 010 — re-check the area code",
            ))
        }
        Some(_) => 4,
        None => {
            return Err(report.problem(
                "号码太短，固定电话应为区号加7–8位号码，请核对",
                "is too short: a landline number is an area code and 7–8 more digits — \
                 re-check it",
            ))
        }
    };
    let (area, subscriber) = main.split_at(area_len.min(main.len()));
    if !(7..=8).contains(&subscriber.len()) {
        let n = subscriber.len();
        let (zh_hint, en_hint) = if n > 8 {
            (
                "，请检查是否多输；分机号请写在转或#之后",
                "check for an extra digit, and write an extension after 转 or #",
            )
        } else {
            ("，请检查是否漏输", "check for a missing digit")
        };
        return Err(report.problem(
            format!("区号 {area} 之后应为7–8位号码，实际为{n}位{zh_hint}"),
            format!(
                "the number after the area code {area} has {n} digits but needs 7 or 8 — {en_hint}"
            ),
        ));
    }
    let mut number = format!("{area}-{subscriber}");
    if let Some(extension) = extension {
        if let Some(c) = extension.chars().find(|c| !c.is_ascii_digit()) {
            return Err(report.bad_character(c));
        }
        if extension.is_empty() {
            return Err(report.problem(
                "转或#之后没有分机号，请补上分机号或删除转/#",
                "there is no extension after 转 or # — add it or remove the separator",
            ));
        }
        if extension.len() > 6 {
            let n = extension.len();
            return Err(report.problem(
                format!("分机号最多6位，实际为{n}位，请核对分机号"),
                format!("the extension has {n} digits but at most 6 are allowed — re-check it"),
            ));
        }
        number.push('#');
        number.push_str(extension);
    }
    Ok(Phone {
        number,
        kind: PhoneKind::Landline,
    })
}

/// Builds the messages for one input: names it without showing it whole and
/// says what the form expects.
struct Report {
    zh_subject: String,
    en_subject: String,
    zh_expected: &'static str,
    en_expected: &'static str,
}

impl Report {
    fn new(normalized: &str, allow_landline: bool) -> Self {
        let shown = preview(normalized);
        let (zh_expected, en_expected) = if allow_landline {
            (
                "11位手机号码或带区号的固定电话",
                "an 11-digit mobile number (13–19…) or a landline number with its area code",
            )
        } else {
            ("11位手机号码", "an 11-digit mobile number (13–19…)")
        };
        Self {
            zh_subject: format!("电话号码 {shown}"),
            en_subject: format!("Phone number {shown}"),
            zh_expected,
            en_expected,
        }
    }

    fn problem(&self, zh: impl AsRef<str>, en: impl AsRef<str>) -> Problem {
        Problem::new(
            ProblemCode::PhoneInvalid,
            format!("{}：{}", self.zh_subject, zh.as_ref()),
            format!("{}: {}", self.en_subject, en.as_ref()),
        )
    }

    fn bad_character(&self, c: char) -> Problem {
        let shown = quote(c);
        self.problem(
            format!("含有字符 {shown}，号码只能是数字（分机号写在转或#之后），请核对"),
            format!(
                "contains {shown} but a phone number has digits only \
                 (an extension goes after 转 or #) — re-check it"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::mobile("13812345678", "13812345678", PhoneKind::Mobile)]
    #[case::mobile_19x("19912345678", "19912345678", PhoneKind::Mobile)]
    #[case::mobile_spaced("138 1234 5678", "13812345678", PhoneKind::Mobile)]
    #[case::mobile_plus86("+86 138 1234 5678", "13812345678", PhoneKind::Mobile)]
    #[case::mobile_0086("0086-138-1234-5678", "13812345678", PhoneKind::Mobile)]
    #[case::mobile_full_width("１３８１２３４５６７８", "13812345678", PhoneKind::Mobile)]
    #[case::mobile_full_width_spaced(
        "１３８　１２３４　５６７８",
        "13812345678",
        PhoneKind::Mobile
    )]
    #[case::landline_ext_zhuan("0513-82123456 转 123", "0513-82123456#123", PhoneKind::Landline)]
    #[case::landline_ext_hash("0513-82123456#123456", "0513-82123456#123456", PhoneKind::Landline)]
    #[case::landline_ext_word("(0513) 8212 3456 ext. 1", "0513-82123456#1", PhoneKind::Landline)]
    #[case::beijing("010-12345678", "010-12345678", PhoneKind::Landline)]
    #[case::beijing_undashed("01012345678", "010-12345678", PhoneKind::Landline)]
    #[case::guangzhou("020 8765 4321", "020-87654321", PhoneKind::Landline)]
    #[case::seven_digit_subscriber(
        "（０５１３）８２１２３４５",
        "0513-8212345",
        PhoneKind::Landline
    )]
    #[case::international_landline("+86 513 8212 3456", "0513-82123456", PhoneKind::Landline)]
    fn valid_numbers_are_accepted_and_normalized(
        #[case] input: &str,
        #[case] expected: &str,
        #[case] kind: PhoneKind,
    ) {
        let phone = parse(input, true).unwrap();
        assert_eq!(phone.as_str(), expected);
        assert_eq!(phone.to_string(), expected);
        assert_eq!(phone.kind(), kind);
    }

    #[rstest]
    #[case::empty("", true, "empty")]
    #[case::second_digit_2("12812345678", true, "second digit is 2")]
    #[case::second_digit_0("10812345678", false, "second digit is 0")]
    #[case::mobile_too_short("1381234567", true, "has 10 digits but a mobile number has 11")]
    #[case::mobile_too_long("138123456789", true, "has 12 digits")]
    #[case::mobile_with_extension("13812345678转1", true, "no extension")]
    #[case::letter("138a1234567", true, "contains \"A\"")]
    #[case::chinese("138一1234567", true, "contains \"一\"")]
    #[case::landline_not_allowed("0513-82123456", false, "needs a mobile number")]
    #[case::landline_too_short("0513-821234", true, "has 6 digits but needs 7 or 8")]
    #[case::landline_dash_extension("0513-82123456-123", true, "extension after 转 or #")]
    #[case::landline_area_only("0513", true, "has 0 digits")]
    #[case::landline_only_zero("0", true, "too short")]
    #[case::bad_area_code("011-12345678", true, "only area code starting 01")]
    #[case::missing_area_code("82123456", true, "no area code")]
    #[case::missing_area_code_mobile_only("82123456", false, "is not an 11-digit mobile")]
    #[case::empty_extension("0513-82123456 转", true, "no extension after")]
    #[case::long_extension("0513-82123456#1234567", true, "at most 6")]
    #[case::double_extension("0513-82123456#12#3", true, "contains \"#\"")]
    #[case::only_extension("转123", true, "no number before")]
    #[case::foreign("+1 415 555 0100", true, "only mainland China")]
    #[case::foreign_00("001 415 555 0100", true, "only mainland China")]
    fn invalid_numbers_are_refused(
        #[case] input: &str,
        #[case] allow_landline: bool,
        #[case] says: &str,
    ) {
        let problem = parse(input, allow_landline).unwrap_err();
        assert_eq!(problem.code, ProblemCode::PhoneInvalid);
        assert!(problem.message.en.contains(says), "{problem}");
        assert!(!problem.message.zh.is_empty());
        // Never echo the whole number.
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        if digits.len() > 4 {
            assert!(!problem.message.en.contains(&digits), "{problem}");
            assert!(
                !problem.message.zh.contains(&digits),
                "{}",
                problem.message.zh
            );
        }
    }

    #[test]
    fn second_digit_message_in_chinese() {
        let problem = parse("12812345678", false).unwrap_err();
        assert_eq!(
            problem.message.zh,
            "电话号码 1281…：手机号码以13–19开头，此号码第2位是 2，请核对第2位"
        );
    }

    #[test]
    fn serializes_as_the_normalized_string() {
        let phone = parse("0513-82123456 转 123", true).unwrap();
        assert_eq!(
            serde_json::to_string(&phone).unwrap(),
            "\"0513-82123456#123\""
        );
        let back: Phone = serde_json::from_str("\"0513-82123456#123\"").unwrap();
        assert_eq!(back, phone);
        assert_eq!(back.kind(), PhoneKind::Landline);
        assert!(serde_json::from_str::<Phone>("\"12812345678\"").is_err());
        assert_eq!(
            serde_json::to_string(&PhoneKind::Mobile).unwrap(),
            "\"mobile\""
        );
    }

    #[test]
    fn debug_does_not_show_the_number() {
        let phone = parse("13812345678", false).unwrap();
        assert_eq!(
            format!("{phone:?}"),
            "Phone { number: \"1381…\", kind: Mobile }"
        );
    }

    /// Inserts the separators an officer might type between digits.
    fn typed(digits: &str, separators: &[String]) -> String {
        digits
            .chars()
            .zip(separators.iter().cycle())
            .map(|(c, sep)| format!("{c}{sep}"))
            .collect()
    }

    proptest! {
        #[test]
        fn generated_mobiles_validate(
            digits in "1[3-9][0-9]{9}",
            separators in proptest::collection::vec(prop_oneof!["", " ", "-", "\u{3000}"], 1..4),
            allow_landline in any::<bool>(),
        ) {
            let phone = parse(&typed(&digits, &separators), allow_landline).unwrap();
            prop_assert_eq!(phone.as_str(), digits.as_str());
            prop_assert_eq!(phone.kind(), PhoneKind::Mobile);
        }

        #[test]
        fn generated_landlines_validate(
            area in prop_oneof!["010", "02[0-9]", "0[3-9][0-9]{2}"],
            subscriber in "[0-9]{7,8}",
            extension in proptest::option::of("[0-9]{1,6}"),
        ) {
            let input = match &extension {
                Some(extension) => format!("{area}-{subscriber} 转 {extension}"),
                None => format!("({area}) {subscriber}"),
            };
            let expected = match &extension {
                Some(extension) => format!("{area}-{subscriber}#{extension}"),
                None => format!("{area}-{subscriber}"),
            };
            let phone = parse(&input, true).unwrap();
            prop_assert_eq!(phone.as_str(), expected.as_str());
            prop_assert_eq!(phone.kind(), PhoneKind::Landline);
            let json = serde_json::to_string(&phone).unwrap();
            prop_assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), phone);
        }

        #[test]
        fn parse_never_panics(input in any::<String>(), allow_landline in any::<bool>()) {
            let _ = parse(&input, allow_landline);
        }

        #[test]
        fn parse_never_panics_on_phone_like_input(
            input in "[0-9０-９+#xX转 ()-]{0,20}",
            allow_landline in any::<bool>(),
        ) {
            if let Ok(phone) = parse(&input, allow_landline) {
                // What was stored validates again to itself.
                let again = parse(phone.as_str(), true).unwrap();
                prop_assert_eq!(again, phone);
            }
        }
    }
}
