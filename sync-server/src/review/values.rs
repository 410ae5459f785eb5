//! Record values as a person reads them: labels from the form definition
//! (not field names), choices by their labels, dates and times in local time,
//! units after numbers, photos and places as such, derived fields marked.
//! The pages and the exports both read values through here.

use std::collections::HashMap;

use beatbook_schema::form::{Field, FieldKind, FormDef, Values};
use beatbook_schema::ids::Sha256;
use beatbook_schema::text::{Lang, Text};
use chrono::{DateTime, FixedOffset};
use serde_json::Value as Json;

use super::i18n::Tr;

/// How to write values.
#[derive(Debug, Clone, Copy)]
pub struct Fmt {
    /// Language.
    pub lang: Lang,
    /// Local time offset.
    pub offset: FixedOffset,
}

/// A value, shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// Text, numbers with their unit, dates.
    Text(String),
    /// Labels of the chosen options.
    Choices(Vec<String>),
    /// Photos, by digest.
    Photos(Vec<Sha256>),
    /// A location.
    Place {
        /// Latitude (WGS 84).
        lat: f64,
        /// Longitude.
        lon: f64,
        /// Accuracy in metres, if known.
        accuracy_m: Option<f64>,
    },
    /// Another record (a standard address, a house), by id.
    Ref(String),
    /// A repeat group's entries.
    Entries(Vec<Vec<Labelled>>),
}

/// A field's label and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// Field name.
    pub name: String,
    /// Label in the page's language.
    pub label: String,
    /// The value.
    pub shown: Shown,
    /// Computed from another field, never typed.
    pub derived: bool,
}

/// Top-level fields of a form, sections flattened.
pub fn fields(def: &FormDef) -> impl Iterator<Item = &Field> {
    def.sections.iter().flat_map(|s| s.fields.iter())
}

/// A top-level field by name.
pub fn field<'a>(def: &'a FormDef, name: &str) -> Option<&'a Field> {
    fields(def).find(|f| f.name == name)
}

/// The label of a choice value in a list (the value itself if unknown).
pub fn choice_label(def: &FormDef, list: &str, value: &str, lang: Lang) -> String {
    def.choice_lists
        .get(list)
        .and_then(|l| l.iter().find(|c| c.value == value))
        .map_or_else(|| value.to_owned(), |c| c.label.get(lang).to_owned())
}

fn number(v: &Json) -> Option<String> {
    match v {
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A field's value, shown; `None` for an empty value or a field that holds none.
pub fn show(def: &FormDef, field: &Field, value: &Json, fmt: Fmt) -> Option<Shown> {
    if value.is_null() || value.as_str().is_some_and(str::is_empty) {
        return None;
    }
    let lang = fmt.lang;
    let text = |s: String| Some(Shown::Text(s));
    match &field.kind {
        FieldKind::Note => None,
        FieldKind::Integer { unit, .. } | FieldKind::Decimal { unit, .. } => {
            let n = number(value)?;
            match unit {
                Some(u) => text(format!("{n} {}", u.get(lang))),
                None => text(n),
            }
        }
        FieldKind::Datetime => {
            let s = value.as_str()?;
            text(
                DateTime::parse_from_rfc3339(s)
                    .map(|t| {
                        t.with_timezone(&fmt.offset)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_else(|_| s.to_owned()),
            )
        }
        FieldKind::SingleChoice { list } => Some(Shown::Choices(vec![choice_label(
            def,
            list,
            value.as_str()?,
            lang,
        )])),
        FieldKind::MultiChoice { list, .. } => {
            let labels: Vec<String> = value
                .as_array()?
                .iter()
                .filter_map(Json::as_str)
                .map(|v| choice_label(def, list, v, lang))
                .collect();
            (!labels.is_empty()).then_some(Shown::Choices(labels))
        }
        FieldKind::Geopoint => Some(Shown::Place {
            lat: value.get("lat")?.as_f64()?,
            lon: value.get("lon")?.as_f64()?,
            accuracy_m: value.get("accuracy_m").and_then(Json::as_f64),
        }),
        FieldKind::Geotrace => match value.as_array()?.len() {
            0 => None,
            n => text(
                Text::new(format!("轨迹 {n} 个点"), format!("a track of {n} points"))
                    .get(lang)
                    .to_owned(),
            ),
        },
        FieldKind::Photo { .. } => {
            let photos: Vec<Sha256> = value
                .as_array()?
                .iter()
                .filter_map(Json::as_str)
                .filter_map(|h| h.parse().ok())
                .collect();
            (!photos.is_empty()).then_some(Shown::Photos(photos))
        }
        FieldKind::AddressRef | FieldKind::RecordRef { .. } => {
            Some(Shown::Ref(value.as_str()?.to_owned()))
        }
        FieldKind::Repeat { fields, .. } => {
            let rows: Vec<Vec<Labelled>> = value
                .as_array()?
                .iter()
                .filter_map(Json::as_object)
                .map(|entry| {
                    fields
                        .iter()
                        .filter_map(|f| {
                            Some(Labelled {
                                name: f.name.clone(),
                                label: f.label.get(lang).to_owned(),
                                shown: show(def, f, entry.get(&f.name)?, fmt)?,
                                derived: f.derived.is_some(),
                            })
                        })
                        .collect()
                })
                .collect();
            (!rows.is_empty()).then_some(Shown::Entries(rows))
        }
        FieldKind::Text { .. }
        | FieldKind::Date { .. }
        | FieldKind::CitizenId { .. }
        | FieldKind::CreditCode
        | FieldKind::Phone { .. } => match value {
            Json::String(s) => text(s.clone()),
            other => text(other.to_string()),
        },
    }
}

/// A labelled field of a record, if it has a value.
pub fn labelled(def: &FormDef, field: &Field, values: &Values, fmt: Fmt) -> Option<Labelled> {
    Some(Labelled {
        name: field.name.clone(),
        label: field.label.get(fmt.lang).to_owned(),
        shown: show(def, field, values.get(&field.name)?, fmt)?,
        derived: field.derived.is_some(),
    })
}

/// A record's values by section: the section title and its fields that have a value.
pub fn sections(def: &FormDef, values: &Values, fmt: Fmt) -> Vec<(String, Vec<Labelled>)> {
    def.sections
        .iter()
        .map(|s| {
            let shown: Vec<Labelled> = s
                .fields
                .iter()
                .filter_map(|f| labelled(def, f, values, fmt))
                .collect();
            (s.title.get(fmt.lang).to_owned(), shown)
        })
        .filter(|(_, f)| !f.is_empty())
        .collect()
}

/// A value as one line of text (for lists, CSV and spreadsheet cells).
/// `photo_url` makes a link of a photo digest.
pub fn plain(shown: &Shown, fmt: Fmt, photo_url: &dyn Fn(&Sha256) -> String) -> String {
    match shown {
        Shown::Text(s) | Shown::Ref(s) => s.clone(),
        Shown::Choices(c) => c.join(fmt.lang.t("、", "; ")),
        Shown::Photos(p) => p.iter().map(photo_url).collect::<Vec<_>>().join(" "),
        Shown::Place { lat, lon, .. } => format!("{lat:.6},{lon:.6}"),
        Shown::Entries(rows) => rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|l| plain(&l.shown, fmt, photo_url))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(fmt.lang.t("；", " | ")),
    }
}

/// A record's one-line label from its form's summary fields, e.g.
/// "解放中路 · 12号 · 出租"; `refs` names referenced records.
pub fn summary(def: &FormDef, values: &Values, fmt: Fmt, refs: &HashMap<String, String>) -> String {
    let parts: Vec<String> = def
        .summary
        .iter()
        .filter_map(|name| {
            let f = field(def, name)?;
            let shown = show(def, f, values.get(name)?, fmt)?;
            Some(match &shown {
                Shown::Ref(id) => refs.get(id).cloned().unwrap_or_else(|| short_id(id)),
                other => plain(other, fmt, &|s| s.to_hex()),
            })
        })
        .filter(|s| !s.is_empty())
        .collect();
    parts.join(" · ")
}

/// The first characters of an id, enough to tell records apart on a page.
pub fn short_id(id: &str) -> String {
    // UUIDv7: the time prefix repeats between records made close together;
    // the tail is random.
    id.rsplit('-').next().map_or_else(
        || id.to_owned(),
        |t| format!("…{}", &t[t.len().saturating_sub(8)..]),
    )
}

/// The referenced record ids of a record's values (top level and in repeat entries).
pub fn references(def: &FormDef, values: &Values) -> Vec<String> {
    let mut out = Vec::new();
    for f in fields(def) {
        match &f.kind {
            FieldKind::AddressRef | FieldKind::RecordRef { .. } => {
                if let Some(id) = values.get(&f.name).and_then(Json::as_str) {
                    out.push(id.to_owned());
                }
            }
            FieldKind::Repeat { fields, .. } => {
                for entry in values
                    .get(&f.name)
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    for child in fields {
                        if matches!(
                            child.kind,
                            FieldKind::AddressRef | FieldKind::RecordRef { .. }
                        ) {
                            if let Some(id) = entry.get(&child.name).and_then(Json::as_str) {
                                out.push(id.to_owned());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use beatbook_schema::catalogue::standard_forms;
    use serde_json::json;

    use super::*;

    fn def(id: &str) -> FormDef {
        standard_forms()
            .expect("forms")
            .into_iter()
            .find(|f| f.id().as_str() == id)
            .expect("form")
            .def()
            .clone()
    }

    fn fmt(lang: Lang) -> Fmt {
        Fmt {
            lang,
            offset: FixedOffset::east_opt(8 * 3600).expect("offset"),
        }
    }

    #[test]
    fn values_are_shown_by_their_labels() {
        let hazard = def("hazard");
        let values: Values = json!({
            "category": "nine_small_venues",
            "checklist": ["exit_blocked", "no_extinguisher"],
            "location": {"lat": 31.87, "lon": 121.17, "accuracy_m": 8.0},
            "status": "rectified",
        })
        .as_object()
        .cloned()
        .expect("object");
        let shown = sections(&hazard, &values, fmt(Lang::Zh));
        let all: Vec<&Labelled> = shown.iter().flat_map(|(_, f)| f).collect();
        let get = |name: &str| all.iter().find(|l| l.name == name).expect(name);
        assert_eq!(get("category").label, "隐患类别");
        assert_eq!(
            get("category").shown,
            Shown::Choices(vec!["九小场所".into()])
        );
        assert_eq!(
            plain(&get("checklist").shown, fmt(Lang::Zh), &|s| s.to_hex()),
            "安全出口锁闭或堵塞、未配备ABC干粉灭火器"
        );
        assert_eq!(get("status").shown, Shown::Choices(vec!["已整改".into()]));
        assert!(matches!(
            get("location").shown,
            Shown::Place {
                accuracy_m: Some(_),
                ..
            }
        ));
        let en = sections(&hazard, &values, fmt(Lang::En));
        assert_eq!(en[0].1[0].label, "Category");
    }

    #[test]
    fn repeat_entries_and_derived_fields_and_local_times() {
        let visit = def("visit");
        let values: Values = json!({
            "visit_date": "2026-11-28T02:30:00Z",
            "residents": [{"name": "张三", "id_number": "320614198506150013", "gender": "male"}],
        })
        .as_object()
        .cloned()
        .expect("object");
        let shown = sections(&visit, &values, fmt(Lang::Zh));
        let all: Vec<&Labelled> = shown.iter().flat_map(|(_, f)| f).collect();
        let date = all.iter().find(|l| l.name == "visit_date").expect("date");
        assert_eq!(date.shown, Shown::Text("2026-11-28 10:30".into()));
        let residents = all
            .iter()
            .find(|l| l.name == "residents")
            .expect("residents");
        let Shown::Entries(rows) = &residents.shown else {
            panic!("entries")
        };
        let gender = rows[0].iter().find(|l| l.name == "gender").expect("gender");
        assert!(gender.derived);
        assert_eq!(gender.shown, Shown::Choices(vec!["男".into()]));
    }
}
