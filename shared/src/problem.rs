//! What can be wrong with a value: a stable machine code plus a bilingual
//! message that says what to do next. Validators, the form engine and the
//! server all report problems in this one shape.

use serde::{Deserialize, Serialize};

use crate::text::Text;

/// A stable, machine-readable code for a value problem. The wire spelling
/// (snake_case) is frozen: clients switch on it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    // ---- generic field problems ----
    /// A required field has no value.
    Required,
    /// The value has the wrong JSON type for the field kind.
    WrongType,
    /// The value is not one of the field's choices.
    NotAChoice,
    /// Text is longer than allowed.
    TooLong,
    /// A number or date is below the minimum.
    TooSmall,
    /// A number or date is above the maximum.
    TooLarge,
    /// A date or datetime does not parse or is not a real calendar date.
    BadDate,
    /// A geopoint is out of range.
    BadGeopoint,
    /// Fewer items (photos, repeat entries, choices) than required.
    TooFew,
    /// More items (photos, repeat entries, choices) than allowed.
    TooMany,
    /// The field's constraint expression evaluated to false.
    ConstraintFailed,
    /// A value was given for a field the form does not have.
    UnknownField,
    /// A value was given for a derived field that does not match its source.
    DerivedMismatch,
    /// A reference (address, record, attachment) is malformed.
    BadReference,

    // ---- citizen ID number (GB 11643-1999) ----
    /// Not 18 characters (or 15 where legacy numbers are allowed).
    IdLength,
    /// A character other than digits (and a final X).
    IdCharacters,
    /// The birth date is not a real calendar date.
    IdBirthDate,
    /// The birth date lies in the future.
    IdFutureBirth,
    /// The check character does not match the first 17 digits.
    IdCheckChar,
    /// A 15-digit legacy number where the form does not allow one.
    IdLegacyNotAllowed,

    // ---- unified social credit code (GB 32100-2015) ----
    /// Not 18 characters.
    UsccLength,
    /// A character outside the code's alphabet (I, O, Z, S, V are never used).
    UsccCharacter,
    /// The check character does not match the first 17.
    UsccCheckChar,

    // ---- phone numbers ----
    /// Not a mobile number (11 digits starting 1[3-9]) nor an allowed landline.
    PhoneInvalid,
}

/// A problem with a value: what (`code`) and a message for a person (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {}", message.en)]
pub struct Problem {
    /// Stable machine code.
    pub code: ProblemCode,
    /// Bilingual explanation that names what is wrong and what to do.
    pub message: Text,
}

impl Problem {
    /// Builds a problem from a code and its two messages.
    pub fn new(code: ProblemCode, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code,
            message: Text::new(zh, en),
        }
    }
}
