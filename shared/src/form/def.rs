//! Form definitions as data, exactly as they are stored in `assets/forms/*.json`
//! and sent to devices. Unknown keys are refused so a typo in a definition is a
//! load error, not a silently ignored setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::FormId;
use crate::role::Role;
use crate::text::Text;

/// A versioned form definition.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// Stable id, e.g. `"person"`.
    pub form_id: FormId,
    /// Version, starting at 1. Records keep the version they were entered with.
    pub version: u32,
    /// Title shown in lists and headers.
    pub title: Text,
    /// Optional longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// Fields whose values label a record in lists, in order (e.g. name, ID number).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<String>,
    /// Named choice lists that choice fields refer to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub choice_lists: BTreeMap<String, Vec<Choice>>,
    /// Sections, shown in order.
    pub sections: Vec<Section>,
    /// The roles that may enter records of the form (create or edit them).
    /// Absent: the standard rule of [`crate::audience::may_enter`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    /// The form is retired from this version on: no one starts a new record
    /// of it; records that exist (of any version) may still be edited. A
    /// later version without this flag brings the form back.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retired: bool,
}

/// One option of a choice list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The stored value (ASCII snake_case).
    pub value: String,
    /// What the officer sees.
    pub label: Text,
}

/// A titled group of fields.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Stable id within the form.
    pub id: String,
    /// Section heading.
    pub title: Text,
    /// Shown only when this expression holds (all fields inside inherit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<String>,
    /// The section's fields, in order.
    pub fields: Vec<Field>,
}

/// One question of a form.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Key in the record's values (ASCII snake_case, unique within its scope).
    pub name: String,
    /// Label shown next to the input.
    pub label: Text,
    /// Help shown under the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Text>,
    /// What kind of value the field holds, with the kind's settings.
    pub kind: FieldKind,
    /// A relevant field must have a value before the record can be finalized.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Shown (and validated) only when this expression holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<String>,
    /// Extra rule on the value, with the message shown when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Constraint>,
    /// Initial value for a new record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultValue>,
    /// Computed from another field, never typed; shown read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Derivation>,
    /// Pre-filled from the officer's previous record of this form (or the
    /// enclosing record, for repeat entries) so repeated values are not retyped.
    #[serde(default, skip_serializing_if = "is_false")]
    pub carry_forward: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A field kind and its settings. The JSON spelling is `{"type": "...", ...settings}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldKind {
    /// Free text.
    Text {
        /// Longest allowed text, in characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_len: Option<u32>,
        /// A multi-line input.
        #[serde(default, skip_serializing_if = "is_false")]
        multiline: bool,
    },
    /// A whole number.
    Integer {
        /// Smallest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// Largest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
        /// Unit shown after the input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<Text>,
    },
    /// A decimal number.
    Decimal {
        /// Smallest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// Unit shown after the input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<Text>,
    },
    /// A calendar date, stored as `YYYY-MM-DD`.
    Date {
        /// Refuse dates after today.
        #[serde(default, skip_serializing_if = "is_false")]
        not_future: bool,
    },
    /// A date and time, stored as RFC 3339.
    Datetime,
    /// One option of a choice list, stored as its value.
    SingleChoice {
        /// The choice list's name.
        list: String,
    },
    /// Several options of a choice list, stored as an array of values.
    MultiChoice {
        /// The choice list's name.
        list: String,
        /// Fewest options to pick when answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Most options to pick.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// A location, stored as `{"lat", "lon", "accuracy_m"?, "at"?}` (WGS 84;
    /// `at` is when the fix was taken, RFC 3339).
    Geopoint,
    /// A track: the points of a walk or ride in the order they were taken,
    /// each a geopoint value. Its length and times are derived
    /// ([`Derivation::Geotrace`]), never typed.
    Geotrace,
    /// Photos, stored as an array of SHA-256 digests listed in the record's attachments.
    Photo {
        /// Fewest photos (applies when the field is relevant).
        #[serde(default)]
        min: u32,
        /// Most photos.
        max: u32,
    },
    /// A citizen ID number (GB 11643-1999), stored normalized, 18 characters.
    CitizenId {
        /// Accept 15-digit legacy numbers (upgraded to 18 on entry).
        #[serde(default, skip_serializing_if = "is_false")]
        allow_legacy: bool,
    },
    /// A unified social credit code (GB 32100-2015).
    CreditCode,
    /// A phone number.
    Phone {
        /// Accept landlines (area code, number, optional extension) besides mobiles.
        #[serde(default, skip_serializing_if = "is_false")]
        allow_landline: bool,
    },
    /// A standard address (标准地址): the record id of an `address` record.
    AddressRef,
    /// Another record, by record id.
    RecordRef {
        /// The form the referenced record belongs to.
        form: FormId,
    },
    /// A repeated group of fields, stored as an array of objects
    /// (e.g. the residents of a household).
    Repeat {
        /// The fields of one entry.
        #[cfg_attr(feature = "openapi", schema(no_recursion))]
        fields: Vec<Field>,
        /// Fewest entries (applies when the field is relevant).
        #[serde(default)]
        min: u32,
        /// Most entries.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
        /// How one entry is called ("居民"/"Resident").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item_label: Option<Text>,
    },
    /// Text shown to the officer; holds no value.
    Note,
}

impl FieldKind {
    /// The kind's JSON name (`"single_choice"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text { .. } => "text",
            FieldKind::Integer { .. } => "integer",
            FieldKind::Decimal { .. } => "decimal",
            FieldKind::Date { .. } => "date",
            FieldKind::Datetime => "datetime",
            FieldKind::SingleChoice { .. } => "single_choice",
            FieldKind::MultiChoice { .. } => "multi_choice",
            FieldKind::Geopoint => "geopoint",
            FieldKind::Geotrace => "geotrace",
            FieldKind::Photo { .. } => "photo",
            FieldKind::CitizenId { .. } => "citizen_id",
            FieldKind::CreditCode => "credit_code",
            FieldKind::Phone { .. } => "phone",
            FieldKind::AddressRef => "address_ref",
            FieldKind::RecordRef { .. } => "record_ref",
            FieldKind::Repeat { .. } => "repeat",
            FieldKind::Note => "note",
        }
    }

    /// Whether the field stores personal identifiers (ID numbers, phones)
    /// that scope rules may withhold and logs must never show.
    pub fn is_identifying(&self) -> bool {
        matches!(self, FieldKind::CitizenId { .. } | FieldKind::Phone { .. })
    }
}

/// A constraint on a field's own value (`.`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Expression that must hold when the field has a value.
    pub expr: String,
    /// Shown next to the field when it does not.
    pub message: Text,
}

/// Where a new record's initial value comes from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DefaultValue {
    /// A fixed value.
    Value(serde_json::Value),
    /// A fact the device knows.
    Device(DeviceFact),
}

/// Facts a device fills in so the officer does not type them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceFact {
    /// Today's date.
    Today,
    /// The current date and time.
    Now,
    /// The current location.
    Location,
    /// The officer's name.
    Officer,
    /// The grid the officer is working in.
    Grid,
}

/// A value computed from another field.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum Derivation {
    /// From a citizen ID number field.
    CitizenId {
        /// The `citizen_id` field (same scope).
        field: String,
        /// Which part.
        part: IdPart,
    },
    /// From a picked standard address: a field of the referenced `address` record.
    Address {
        /// The `address_ref` field (same scope or top level).
        field: String,
        /// The name of a field of the `address` form.
        part: String,
    },
    /// Computed by an expression over other fields (an XLSForm `calculation`),
    /// converted to the field's kind (a number for integer and decimal fields,
    /// text otherwise); absent when the expression yields nothing.
    Calculate {
        /// The expression; it reads fields in scope like `relevant` does.
        expr: String,
    },
    /// From a track.
    Geotrace {
        /// The `geotrace` field (same scope or top level).
        field: String,
        /// Which part.
        part: TracePart,
    },
}

/// What a track tells.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TracePart {
    /// Metres along the track, point to point on the WGS 84 sphere
    /// (haversine), rounded to the metre.
    DistanceM,
    /// Whole minutes from the first point's time to the last's.
    DurationMin,
    /// The first point's time (RFC 3339, as recorded).
    Start,
    /// The last point's time.
    End,
}

/// What a citizen ID number tells.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdPart {
    /// `"male"` / `"female"` (17th digit odd / even).
    Gender,
    /// `YYYY-MM-DD`.
    BirthDate,
    /// Completed years on the day of entry.
    Age,
    /// The 6-digit division code of the registered residence at issue.
    DivisionCode,
    /// Full name of that division as in force in the birth year.
    DivisionName,
}
