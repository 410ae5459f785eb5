//! Writing a Beatbook form as an XLSForm workbook that [`crate::import`]
//! reads back to the same definition.

use beatbook_schema::form::{
    DefaultValue, Derivation, DeviceFact, Field, FieldKind, FormDef, IdPart, TracePart,
};
use beatbook_schema::text::Text;
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};
use serde_json::Value as Json;

use crate::xpath;

/// Writing the workbook failed (an internal error of the spreadsheet writer).
#[derive(Debug, thiserror::Error)]
#[error("could not write the XLSForm workbook: {0}")]
pub struct ExportError(#[from] XlsxError);

const ZH: &str = "Chinese (zh)";
const EN: &str = "English (en)";

/// The survey sheet's columns, in order.
const SURVEY: &[&str] = &[
    "type",
    "name",
    "label::Chinese (zh)",
    "label::English (en)",
    "hint::Chinese (zh)",
    "hint::English (en)",
    "required",
    "relevant",
    "constraint",
    "constraint_message::Chinese (zh)",
    "constraint_message::English (en)",
    "calculation",
    "read_only",
    "default",
    "appearance",
    "parameters",
    "unit::Chinese (zh)",
    "unit::English (en)",
    "item_label::Chinese (zh)",
    "item_label::English (en)",
];

/// One cell's content.
enum Cell {
    Text(String),
    Number(f64),
}

/// One survey row, keyed by column.
#[derive(Default)]
struct SurveyRow(Vec<(&'static str, Cell)>);

impl SurveyRow {
    fn text(&mut self, column: &'static str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.0.push((column, Cell::Text(value)));
        }
        self
    }

    fn both(&mut self, base: &'static str, text: Option<&Text>) -> &mut Self {
        if let Some(t) = text {
            let (zh, en) = columns(base);
            self.text(zh, t.zh.clone());
            self.text(en, t.en.clone());
        }
        self
    }
}

/// The two language columns of a bilingual column.
fn columns(base: &str) -> (&'static str, &'static str) {
    let find = |lang: &str| {
        SURVEY
            .iter()
            .find(|c| c.strip_prefix(base).and_then(|r| r.strip_prefix("::")) == Some(lang))
            .copied()
            .unwrap_or("")
    };
    (find(ZH), find(EN))
}

/// Writes `form` as an XLSForm workbook (.xlsx): survey, choices and settings.
pub fn export(form: &FormDef) -> Result<Vec<u8>, ExportError> {
    let mut book = Workbook::new();

    let mut rows = Vec::new();
    for section in &form.sections {
        let mut begin = SurveyRow::default();
        begin
            .text("type", "begin group")
            .text("name", section.id.clone())
            .both("label", Some(&section.title));
        if let Some(r) = &section.relevant {
            begin.text("relevant", xpath::to_xlsform(r));
        }
        rows.push(begin);
        for field in &section.fields {
            field_rows(field, &mut rows);
        }
        let mut end = SurveyRow::default();
        end.text("type", "end group");
        rows.push(end);
    }
    let survey = book.add_worksheet().set_name("survey")?;
    write_header(survey, SURVEY)?;
    for (r, row) in rows.iter().enumerate() {
        for (column, cell) in &row.0 {
            let Some(c) = SURVEY.iter().position(|h| h == column) else {
                continue;
            };
            let (r, c) = (r as u32 + 1, c as u16);
            match cell {
                Cell::Text(t) => survey.write_string(r, c, t)?,
                Cell::Number(n) => survey.write_number(r, c, *n)?,
            };
        }
    }

    let choices = book.add_worksheet().set_name("choices")?;
    let header = [
        "list_name",
        "name",
        "label::Chinese (zh)",
        "label::English (en)",
    ];
    write_header(choices, &header)?;
    let mut r = 1;
    for (list, options) in &form.choice_lists {
        for choice in options {
            for (c, value) in [
                list.as_str(),
                choice.value.as_str(),
                choice.label.zh.as_str(),
                choice.label.en.as_str(),
            ]
            .into_iter()
            .enumerate()
            {
                choices.write_string(r, c as u16, value)?;
            }
            r += 1;
        }
    }

    let settings = book.add_worksheet().set_name("settings")?;
    let header = [
        "form_id",
        "version",
        "form_title::Chinese (zh)",
        "form_title::English (en)",
        "description::Chinese (zh)",
        "description::English (en)",
        "summary",
        "default_language",
        "roles",
    ];
    write_header(settings, &header)?;
    settings.write_string(1, 0, form.form_id.as_str())?;
    settings.write_number(1, 1, f64::from(form.version))?;
    settings.write_string(1, 2, &form.title.zh)?;
    settings.write_string(1, 3, &form.title.en)?;
    if let Some(d) = &form.description {
        settings.write_string(1, 4, &d.zh)?;
        settings.write_string(1, 5, &d.en)?;
    }
    if !form.summary.is_empty() {
        settings.write_string(1, 6, form.summary.join(" "))?;
    }
    settings.write_string(1, 7, ZH)?;
    if let Some(roles) = &form.roles {
        let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        settings.write_string(1, 8, names.join(" "))?;
    }

    Ok(book.save_to_buffer()?)
}

fn write_header(sheet: &mut Worksheet, header: &[&str]) -> Result<(), XlsxError> {
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        ""
    }
}

/// The row(s) of one field: one, or a repeat's begin, entries and end.
fn field_rows(field: &Field, rows: &mut Vec<SurveyRow>) {
    let mut row = SurveyRow::default();
    let mut params: Vec<String> = Vec::new();
    let mut appearance = "";
    let calculated_text = matches!(
        (&field.kind, &field.derived),
        (
            FieldKind::Text {
                max_len: None,
                multiline: false
            },
            Some(Derivation::Calculate { .. })
        )
    );
    let mut unit = None;
    let kind = match &field.kind {
        FieldKind::Text { .. } if calculated_text => "calculate".to_owned(),
        FieldKind::Text { max_len, multiline } => {
            if let Some(m) = max_len {
                params.push(format!("max_len={m}"));
            }
            if *multiline {
                appearance = "multiline";
            }
            "text".to_owned()
        }
        FieldKind::Integer { min, max, unit: u } => {
            push_range(
                &mut params,
                min.map(|n| n.to_string()),
                max.map(|n| n.to_string()),
            );
            unit = u.as_ref();
            "integer".to_owned()
        }
        FieldKind::Decimal { min, max, unit: u } => {
            push_range(
                &mut params,
                min.map(|n| n.to_string()),
                max.map(|n| n.to_string()),
            );
            unit = u.as_ref();
            "decimal".to_owned()
        }
        FieldKind::Date { not_future } => {
            if *not_future {
                params.push("not_future=yes".into());
            }
            "date".to_owned()
        }
        FieldKind::Datetime => "datetime".to_owned(),
        FieldKind::SingleChoice { list } => format!("select_one {list}"),
        FieldKind::MultiChoice { list, min, max } => {
            push_range(
                &mut params,
                min.map(|n| n.to_string()),
                max.map(|n| n.to_string()),
            );
            format!("select_multiple {list}")
        }
        FieldKind::Geopoint => "geopoint".to_owned(),
        FieldKind::Geotrace => "geotrace".to_owned(),
        FieldKind::Photo { min, max } => {
            push_range(
                &mut params,
                (*min > 0).then(|| min.to_string()),
                Some(max.to_string()),
            );
            "image".to_owned()
        }
        FieldKind::CitizenId { allow_legacy } => {
            appearance = "citizen-id";
            if *allow_legacy {
                params.push("allow_legacy=yes".into());
            }
            "text".to_owned()
        }
        FieldKind::CreditCode => {
            appearance = "credit-code";
            "text".to_owned()
        }
        FieldKind::Phone { allow_landline } => {
            appearance = "phone";
            if *allow_landline {
                params.push("allow_landline=yes".into());
            }
            "text".to_owned()
        }
        FieldKind::AddressRef => {
            appearance = "address";
            "text".to_owned()
        }
        FieldKind::RecordRef { form } => {
            appearance = "record";
            params.push(format!("form={form}"));
            "text".to_owned()
        }
        FieldKind::Repeat { min, max, .. } => {
            push_range(
                &mut params,
                (*min > 0).then(|| min.to_string()),
                max.map(|n| n.to_string()),
            );
            "begin repeat".to_owned()
        }
        FieldKind::Note => "note".to_owned(),
    };
    if field.carry_forward {
        params.push("carry_forward=yes".into());
    }
    row.text("type", kind)
        .text("name", field.name.clone())
        .both("label", Some(&field.label))
        .both("hint", field.hint.as_ref())
        .text("required", yes(field.required))
        .both("unit", unit)
        .text("appearance", appearance)
        .text("parameters", params.join(" "));
    if let Some(r) = &field.relevant {
        row.text("relevant", xpath::to_xlsform(r));
    }
    if let Some(c) = &field.constraint {
        row.text("constraint", xpath::to_xlsform(&c.expr))
            .both("constraint_message", Some(&c.message));
    }
    if let Some(d) = &field.derived {
        row.text("calculation", calculation(d))
            .text("read_only", "yes");
    }
    match &field.default {
        Some(DefaultValue::Device(fact)) => {
            row.text(
                "default",
                match fact {
                    DeviceFact::Today => "today()",
                    DeviceFact::Now => "now()",
                    DeviceFact::Location => "location()",
                    DeviceFact::Officer => "officer()",
                    DeviceFact::Grid => "grid()",
                },
            );
        }
        Some(DefaultValue::Value(Json::Number(n))) => {
            if let Some(n) = n.as_f64() {
                row.0.push(("default", Cell::Number(n)));
            }
        }
        Some(DefaultValue::Value(Json::String(s))) => {
            row.text("default", s.clone());
        }
        Some(DefaultValue::Value(Json::Array(items))) => {
            let values: Vec<&str> = items.iter().filter_map(Json::as_str).collect();
            row.text("default", values.join(" "));
        }
        Some(DefaultValue::Value(other)) => {
            row.text("default", other.to_string());
        }
        None => {}
    }
    if let FieldKind::Repeat {
        fields, item_label, ..
    } = &field.kind
    {
        row.both("item_label", item_label.as_ref());
        rows.push(row);
        for f in fields {
            field_rows(f, rows);
        }
        let mut end = SurveyRow::default();
        end.text("type", "end repeat");
        rows.push(end);
    } else {
        rows.push(row);
    }
}

fn push_range(params: &mut Vec<String>, min: Option<String>, max: Option<String>) {
    if let Some(m) = min {
        params.push(format!("min={m}"));
    }
    if let Some(m) = max {
        params.push(format!("max={m}"));
    }
}

fn calculation(d: &Derivation) -> String {
    match d {
        Derivation::CitizenId { field, part } => {
            let part = match part {
                IdPart::Gender => "gender",
                IdPart::BirthDate => "birth_date",
                IdPart::Age => "age",
                IdPart::DivisionCode => "division_code",
                IdPart::DivisionName => "division_name",
            };
            format!("id-part(${{{field}}}, '{part}')")
        }
        Derivation::Address { field, part } => format!("address-part(${{{field}}}, '{part}')"),
        Derivation::Calculate { expr } => xpath::to_xlsform(expr),
        Derivation::Geotrace { field, part } => {
            let part = match part {
                TracePart::DistanceM => "distance_m",
                TracePart::DurationMin => "duration_min",
                TracePart::Start => "start",
                TracePart::End => "end",
            };
            format!("trace-part(${{{field}}}, '{part}')")
        }
    }
}
