//! Input normalization for codes and phone numbers typed on Chinese IMEs.
//!
//! Officers type ID numbers, credit codes and phone numbers on phones whose
//! input method may be in full-width mode (`３２０６`, `Ｘ`), with stray spaces
//! and dashes copied from paper forms. The validators run these functions
//! first and store what they return, so the stored form never depends on how
//! the value was typed.
//!
//! Decisions:
//! - Full-width ASCII (U+FF01..=U+FF5E) folds to its half-width twin and the
//!   ideographic space U+3000 to a space (which is then removed).
//! - Whitespace is anything Unicode calls whitespace (spaces, tabs, NBSP,
//!   U+3000, …) plus the invisible zero-width space/joiners and the BOM that
//!   copy-paste brings along.
//! - Dashes are only the dash-like punctuation: `-`, `‐` `‑` `‒` `–` `—` `―`,
//!   minus `−`, small `﹣` and full-width `－`. Look-alike *letters* such as
//!   the katakana `ー` or the Chinese numeral `一` are kept, so the validator
//!   reports them instead of silently guessing.
//! - Dots, slashes and other punctuation are kept for the same reason.
//! - Both functions are idempotent: normalizing a normalized value changes
//!   nothing.

/// Folds one full-width ASCII character (or the ideographic space) to its
/// half-width form; every other character is returned unchanged.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Whitespace, including the invisible characters copy-paste brings along.
fn is_space(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

/// Dash-like punctuation (after width folding, so `－` is already `-`).
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'
            | '\u{2011}'
            | '\u{2012}'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2015}'
            | '\u{2212}'
            | '\u{FE63}'
    )
}

/// Normalizes a code (citizen ID number, unified social credit code) as typed.
///
/// Folds full-width characters to half-width, uppercases ASCII letters
/// (`x` → `X`) and removes whitespace and dashes. Everything else is kept as
/// is, so the validator can name a stray character rather than lose it.
///
/// ```
/// use beatbook_schema::normalize::normalize_code;
/// assert_eq!(normalize_code("３２０６ １４-１９９０ｘ"), "3206141990X");
/// ```
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .map(fold_width)
        .filter(|&c| !is_space(c) && !is_dash(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Normalizes a phone number as typed.
///
/// - Folds full-width characters to half-width and uppercases ASCII letters.
/// - Removes whitespace, dashes and parentheses (ASCII and full-width), so
///   `(0513) 8212-3456` becomes `051382123456`. The area code is found again
///   by the validator, which knows the numbering plan.
/// - Turns every extension separator — `转`, `分机`, `ext`, `ext.`, `x`, `#`
///   and `,`/`，` (any case) — into `#`; a run of separators becomes a single
///   `#` (`转#123` → `#123`).
/// - Removes a leading country prefix `+86` or `0086`. In international form
///   the trunk `0` of an area code is dropped (`+86 10 1234 5678`), so when
///   what follows the prefix starts with a digit 2–9 the `0` is put back.
///   Mobiles (starting 1) and numbers that kept the trunk 0 (`+86 (0)10 …`)
///   are left alone. A bare `86` without `+`/`00` is not a prefix and is kept.
///
/// ```
/// use beatbook_schema::normalize::normalize_phone;
/// assert_eq!(normalize_phone("+86 138 1234 5678"), "13812345678");
/// assert_eq!(normalize_phone("0513-8212 3456 转 123"), "051382123456#123");
/// ```
pub fn normalize_phone(input: &str) -> String {
    let chars: Vec<char> = input
        .chars()
        .map(fold_width)
        .filter(|&c| !is_space(c) && !is_dash(c) && c != '(' && c != ')')
        .map(|c| c.to_ascii_uppercase())
        .collect();

    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let separator_len = if rest.starts_with(&['E', 'X', 'T', '.']) {
            4
        } else if rest.starts_with(&['E', 'X', 'T']) || rest.starts_with(&['分', '机']) {
            if rest[0] == '分' {
                2
            } else {
                3
            }
        } else if matches!(rest[0], '转' | 'X' | '#' | ',') {
            1
        } else {
            0
        };
        if separator_len > 0 {
            if !out.ends_with('#') {
                out.push('#');
            }
            i += separator_len;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }

    // Repeated so that a doubled prefix (`+86 0086 …`) goes too and the
    // function stays idempotent.
    let mut national = out.as_str();
    let mut had_prefix = false;
    while let Some(rest) = national
        .strip_prefix("+86")
        .or_else(|| national.strip_prefix("0086"))
    {
        national = rest;
        had_prefix = true;
    }
    if had_prefix && national.starts_with(|c: char| matches!(c, '2'..='9')) {
        format!("0{national}")
    } else {
        national.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::plain("320614199003071231", "320614199003071231")]
    #[case::full_width_digits("３２０６１４１９９００３０７１２３Ｘ", "32061419900307123X")]
    #[case::full_width_lowercase_x("１２３ｘ", "123X")]
    #[case::lowercase_x("32061419900307123x", "32061419900307123X")]
    #[case::spaces_and_dashes(" 320614-19900307 123x ", "32061419900307123X")]
    #[case::ideographic_space_and_nbsp("3206\u{3000}14\u{00A0}19", "32061419")]
    #[case::unicode_dashes("32‐06‑14–19—90－03−07﹣", "32061419900307")]
    #[case::zero_width("32\u{200B}06\u{FEFF}", "3206")]
    #[case::tab_and_newline("3206\t14\n", "320614")]
    #[case::credit_code_lowercase("91350100m000100y43", "91350100M000100Y43")]
    #[case::keeps_lookalike_letters("3206ー一14", "3206ー一14")]
    #[case::keeps_dots_and_slashes("32.06/14", "32.06/14")]
    #[case::empty("", "")]
    fn normalize_code_cases(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(normalize_code(input), expected);
    }

    #[rstest]
    #[case::mobile("13812345678", "13812345678")]
    #[case::mobile_spaced("138 1234 5678", "13812345678")]
    #[case::mobile_dashed("138-1234-5678", "13812345678")]
    #[case::plus86("+86 138 1234 5678", "13812345678")]
    #[case::plus86_full_width("＋８６　１３８１２３４５６７８", "13812345678")]
    #[case::double_zero86("0086-13812345678", "13812345678")]
    #[case::doubled_prefix("+86 0086 138 1234 5678", "13812345678")]
    #[case::bare_86_kept("8613812345678", "8613812345678")]
    #[case::landline("0513-82123456", "051382123456")]
    #[case::landline_parens("(0513) 8212 3456", "051382123456")]
    #[case::landline_full_width_parens("（０５１３）８２１２３４５６", "051382123456")]
    #[case::landline_international("+86 513 8212 3456", "051382123456")]
    #[case::landline_international_trunk_kept("+86 (0)10 1234 5678", "01012345678")]
    #[case::ext_zhuan("0513-82123456 转 123", "051382123456#123")]
    #[case::ext_fenji("0513-82123456分机123", "051382123456#123")]
    #[case::ext_word("0513-82123456 ext. 123", "051382123456#123")]
    #[case::ext_word_upper("0513-82123456 EXT 123", "051382123456#123")]
    #[case::ext_x("0513-82123456x123", "051382123456#123")]
    #[case::ext_hash("0513-82123456#123", "051382123456#123")]
    #[case::ext_comma("0513-82123456,123", "051382123456#123")]
    #[case::ext_full_width_comma("0513-82123456，123", "051382123456#123")]
    #[case::ext_run_collapses("0513-82123456 转 # 123", "051382123456#123")]
    #[case::empty("", "")]
    fn normalize_phone_cases(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(normalize_phone(input), expected);
    }

    proptest! {
        #[test]
        fn normalize_code_is_idempotent(input in "\\PC*") {
            let once = normalize_code(&input);
            prop_assert_eq!(normalize_code(&once), once);
        }

        #[test]
        fn normalize_phone_is_idempotent(input in "[0-9０-９+＋ （）()#xX转分机ext.,，-]{0,24}") {
            let once = normalize_phone(&input);
            prop_assert_eq!(normalize_phone(&once), once);
        }

        #[test]
        fn normalize_never_panics(input in any::<String>()) {
            let _ = normalize_code(&input);
            let _ = normalize_phone(&input);
        }
    }
}
