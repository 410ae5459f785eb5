//! Validators for the national-standard codes officers type into forms.
//!
//! Each validator normalizes the input first (see [`crate::normalize`]),
//! checks it exactly as its standard says and returns a newtype that holds
//! only the normalized, valid form — or a [`Problem`](crate::problem::Problem)
//! whose bilingual message says what is wrong and what to do next.
//!
//! - [`citizen_id`]: citizen ID numbers, GB 11643-1999 (with the 15-digit
//!   legacy form where a form allows it).
//! - [`credit_code`]: unified social credit codes, GB 32100-2015.
//! - [`phone`]: mobile and landline phone numbers.
//!
//! Messages never repeat a whole value (ID numbers and phone numbers are
//! personal data): at most the first four characters followed by `…`.

pub mod citizen_id;
pub mod credit_code;
pub mod phone;

pub use citizen_id::{CitizenId, Gender};
pub use credit_code::CreditCode;
pub use phone::{Phone, PhoneKind};

/// How values are shown back in messages without exposing them.
mod redact {
    /// The part of `value` a message may show: its first four characters and
    /// `…` when it is longer than that (a value of four characters or fewer
    /// cannot be a whole ID, credit code or phone number). Control characters
    /// are shown as `�` so a message cannot be garbled by what was pasted.
    pub(crate) fn preview(value: &str) -> String {
        let mut shown: String = value
            .chars()
            .take(4)
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect();
        if value.chars().nth(4).is_some() {
            shown.push('…');
        }
        shown
    }

    /// How a single character is quoted in a message (`"O"`), with control
    /// characters escaped so they stay visible.
    pub(crate) fn quote(c: char) -> String {
        if c.is_control() {
            format!("\"{}\"", c.escape_unicode())
        } else {
            format!("\"{c}\"")
        }
    }

    #[cfg(test)]
    mod tests {
        use rstest::rstest;

        use super::*;

        #[rstest]
        #[case::long("320614199003071231", "3206…")]
        #[case::five("32061", "3206…")]
        #[case::four("3206", "3206")]
        #[case::empty("", "")]
        #[case::multibyte("三二〇六一四", "三二〇六…")]
        #[case::control("\u{7}320614", "\u{FFFD}320…")]
        fn preview_shows_at_most_four_characters(#[case] value: &str, #[case] expected: &str) {
            assert_eq!(preview(value), expected);
        }

        #[test]
        fn quote_escapes_control_characters() {
            assert_eq!(quote('O'), "\"O\"");
            assert_eq!(quote('\n'), "\"\\u{a}\"");
        }
    }
}
