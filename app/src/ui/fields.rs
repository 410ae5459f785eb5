//! One input per field kind. Every change autosaves through the session.

use beatbook_core::store::LocalStoreError;
use beatbook_core::CoreError;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::{CompiledField, FieldError, FieldKind, Form};
use beatbook_schema::ids::RecordId;
use beatbook_schema::text::Lang;
use dioxus::prelude::*;
use serde_json::{json, Value as Json};

use super::editing::{edit, SessionSignal};
use super::errors::{no_fix_text, read_failed};
use super::i18n::{text, tr, use_lang};
use super::photos::Photos;
use super::pickers::{AddressPicker, RecordPicker};
use super::{Ui, UiOptions};

/// Finds a field by path (`name` or `group[i].name`).
fn field_at(form: &Form, path: &str) -> Option<CompiledField> {
    match path.split_once('[') {
        None => form.field(path).cloned(),
        Some((group, rest)) => {
            let (_, child) = rest.split_once("].")?;
            form.field(group)?
                .children
                .iter()
                .find(|c| c.name() == child)
                .cloned()
        }
    }
}

/// The value at a path.
fn value_at(values: &beatbook_schema::form::Values, path: &str) -> Json {
    match path.split_once('[') {
        None => values.get(path).cloned().unwrap_or(Json::Null),
        Some((group, rest)) => {
            let Some((index, child)) = rest.split_once("].") else {
                return Json::Null;
            };
            let i: usize = index.parse().unwrap_or(usize::MAX);
            values
                .get(group)
                .and_then(|g| g.get(i))
                .and_then(|e| e.get(child))
                .cloned()
                .unwrap_or(Json::Null)
        }
    }
}

fn as_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn dom_id(path: &str) -> String {
    format!("f-{}", path.replace(['[', ']', '.'], "-"))
}

/// Shows a derived value read-only, e.g. "男" for a gender.
pub(super) fn display(form: &Form, field: &CompiledField, v: &Json, l: Lang) -> String {
    if let FieldKind::SingleChoice { list } = &field.def.kind {
        if let Some(c) = form
            .choices(list)
            .iter()
            .find(|c| Some(c.value.as_str()) == v.as_str())
        {
            return text(l, &c.label);
        }
    }
    match v {
        Json::Null => "—".into(),
        other => as_text(other),
    }
}

/// One field: label, input, derived display, inline errors.
#[component]
pub fn FieldView(
    session: SessionSignal,
    path: String,
    errors: Vec<FieldError>,
    /// Filled by a machine (the ID card scan) with some doubt: the officer
    /// should look at it twice.
    #[props(default)]
    check: bool,
) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let guard = session.read();
    let Some(s) = guard.as_ref() else {
        return rsx! {};
    };
    let form = s.form().clone();
    let Some(field) = field_at(&form, &path) else {
        return rsx! {};
    };
    let value = value_at(s.values(), &path);
    let attachments = s.attachments().len();
    let locked = s.is_locked(path.split('[').next().unwrap_or(&path));
    drop(guard);
    // A field this officer may not change (an approved hazard's report, the
    // supervisor's verification) is shown, when it holds something, not offered.
    if locked {
        if value.is_null() {
            return rsx! {};
        }
        let shown = match (&field.def.kind, value.as_array()) {
            (FieldKind::Photo { .. }, Some(list)) => tr(
                l,
                &format!("{} 张照片", list.len()),
                &format!("{} photo(s)", list.len()),
            ),
            (FieldKind::AddressRef | FieldKind::RecordRef { .. }, _) => value
                .as_str()
                .and_then(|id| id.parse::<RecordId>().ok())
                .and_then(|id| ui.core().and_then(|c| c.record(id).ok()).zip(ui.core()))
                .map(|(r, c)| c.label(&r, l))
                .unwrap_or_else(|| display(&form, &field, &value, l)),
            _ => display(&form, &field, &value, l),
        };
        let id = dom_id(&path);
        return rsx! {
            div { class: "field locked", "data-path": "{path}",
                label { {text(l, &field.def.label)} }
                div { class: "derived", id: "{id}", "{shown}" }
            }
        };
    }

    let label = text(l, &field.def.label);
    let hint = field.def.hint.as_ref().map(|h| text(l, h));
    let own_errors: Vec<String> = errors
        .iter()
        .filter(|e| e.path == path)
        .map(|e| text(l, &e.message))
        .collect();
    let id = dom_id(&path);
    let required = field.def.required && field.def.derived.is_none();
    let invalid = !own_errors.is_empty();

    let set = {
        let path = path.clone();
        move |v: Json| edit(ui, session, |s| s.set(&path, v))
    };

    // `autocomplete: "off"` on inputs of personal data: otherwise the browser
    // keeps what was typed (names, ID numbers, phones) in its own plain-text
    // autofill store, outside the encrypted database.
    let input = if field.def.derived.is_some() {
        rsx! { div { class: "derived", id: "{id}", {display(&form, &field, &value, l)} } }
    } else {
        match field.def.kind.clone() {
            FieldKind::Note => rsx! {},
            FieldKind::Text {
                multiline: true, ..
            } => rsx! {
                textarea { id: "{id}", rows: 3, value: as_text(&value), oninput: move |e| set(json!(e.value())) }
            },
            FieldKind::Text { .. } | FieldKind::CreditCode => rsx! {
                input { id: "{id}", autocomplete: "off", value: as_text(&value), oninput: move |e| set(json!(e.value())) }
            },
            FieldKind::CitizenId { .. } => rsx! {
                input { id: "{id}", class: "mono", inputmode: "text", autocomplete: "off", autocapitalize: "characters", maxlength: 20,
                    value: as_text(&value), oninput: move |e| set(json!(e.value())) }
            },
            FieldKind::Phone { .. } => rsx! {
                input { id: "{id}", r#type: "tel", inputmode: "tel", autocomplete: "off", value: as_text(&value), oninput: move |e| set(json!(e.value())) }
            },
            FieldKind::Integer { unit, .. } | FieldKind::Decimal { unit, .. } => {
                let integer = matches!(field.def.kind, FieldKind::Integer { .. });
                rsx! {
                    div { class: "with-unit",
                        input { id: "{id}", r#type: "number", inputmode: if integer { "numeric" } else { "decimal" },
                            value: as_text(&value),
                            oninput: move |e| {
                                let raw = e.value();
                                let parsed = if integer { raw.trim().parse::<i64>().map(Json::from).ok() } else { raw.trim().parse::<f64>().ok().map(Json::from) };
                                set(parsed.unwrap_or(Json::String(raw)));
                            }
                        }
                        if let Some(u) = unit { span { class: "unit", {text(l, &u)} } }
                    }
                }
            }
            FieldKind::Date { .. } => rsx! {
                input { id: "{id}", r#type: "date", value: as_text(&value), oninput: move |e| set(json!(e.value())) }
            },
            FieldKind::Datetime => {
                let shown: String = as_text(&value).chars().take(16).collect();
                rsx! {
                    input { id: "{id}", r#type: "datetime-local", value: "{shown}",
                        oninput: move |e| { let v = e.value(); set(if v.is_empty() { Json::Null } else { json!(format!("{v}:00+08:00")) }) } }
                }
            }
            FieldKind::SingleChoice { list } => {
                let choices = form.choices(&list).to_vec();
                let current = as_text(&value);
                if choices.len() <= 8 {
                    rsx! {
                        div { class: "chips", id: "{id}", role: "radiogroup",
                            for c in choices {
                                button { r#type: "button", key: "{c.value}", "data-value": "{c.value}",
                                    class: if current == c.value { "chip on" } else { "chip" },
                                    onclick: { let set = set.clone(); let v = c.value.clone(); move |_| set(json!(v.clone())) },
                                    {text(l, &c.label)}
                                }
                            }
                        }
                    }
                } else {
                    rsx! {
                        select { id: "{id}", onchange: move |e| set(json!(e.value())),
                            option { value: "", selected: current.is_empty(), {tr(l, "请选择", "Choose")} }
                            for c in choices {
                                option { key: "{c.value}", value: "{c.value}", selected: current == c.value, {text(l, &c.label)} }
                            }
                        }
                    }
                }
            }
            FieldKind::MultiChoice { list, .. } => {
                let choices = form.choices(&list).to_vec();
                let picked: Vec<String> = value
                    .as_array()
                    .map(|a| a.iter().map(as_text).collect())
                    .unwrap_or_default();
                rsx! {
                    div { class: "chips", id: "{id}",
                        for c in choices {
                            button { r#type: "button", key: "{c.value}", "data-value": "{c.value}",
                                class: if picked.contains(&c.value) { "chip on" } else { "chip" },
                                onclick: {
                                    let set = set.clone();
                                    let picked = picked.clone();
                                    let v = c.value.clone();
                                    move |_| {
                                        let mut next = picked.clone();
                                        if let Some(i) = next.iter().position(|p| *p == v) { next.remove(i); } else { next.push(v.clone()); }
                                        set(if next.is_empty() { Json::Null } else { json!(next) });
                                    }
                                },
                                {text(l, &c.label)}
                            }
                        }
                    }
                }
            }
            FieldKind::Geopoint => {
                rsx! { Geopoint { id: id.clone(), value: value.clone(), on_set: set.clone() } }
            }
            // Recorded by the patrol (super::patrol), never typed.
            FieldKind::Geotrace => {
                let n = value.as_array().map_or(0, Vec::len);
                rsx! { div { class: "derived", id: "{id}", {tr(l, &format!("已记录 {n} 个轨迹点"), &format!("{n} track points recorded"))} } }
            }
            FieldKind::Photo { max, .. } => {
                rsx! { Photos { session, path: path.clone(), id: id.clone(), max, attachments } }
            }
            FieldKind::AddressRef => {
                rsx! { AddressRef { id: id.clone(), value: as_text(&value), on_set: set.clone() } }
            }
            FieldKind::RecordRef { form: target } => {
                rsx! { RecordRef { id: id.clone(), form: target.to_string(), value: as_text(&value), on_set: set.clone() } }
            }
            FieldKind::Repeat { .. } => {
                rsx! { Repeat { session, path: path.clone(), errors: errors.clone() } }
            }
        }
    };

    rsx! {
        div { class: if invalid { "field invalid" } else if check { "field check" } else { "field" }, "data-path": "{path}",
            label { r#for: "{id}", "{label}" if required { span { class: "req", " *" } } }
            {input}
            if let Some(h) = hint { small { class: "hint", "{h}" } }
            for e in own_errors { p { class: "error", "{e}" } }
        }
    }
}

#[component]
fn Geopoint(id: String, value: Json, on_set: EventHandler<Json>) -> Element {
    let ui = use_context::<Ui>();
    let limit = use_context::<UiOptions>().accuracy_limit_m;
    let l = *use_lang().read();
    let shown = match (
        value.get("lat").and_then(Json::as_f64),
        value.get("lon").and_then(Json::as_f64),
    ) {
        (Some(lat), Some(lon)) => format!("{lat:.5}, {lon:.5}"),
        _ => tr(l, "未定位", "No position"),
    };
    let accuracy = value.get("accuracy_m").and_then(Json::as_f64);
    let poor = accuracy.filter(|a| *a > limit);
    rsx! {
        div { class: "geo", id: "{id}",
            span { "{shown}" }
            if let Some(a) = accuracy {
                span { class: if poor.is_some() { "accuracy poor" } else { "accuracy" }, "±{a:.0} m" }
            }
            button { r#type: "button", class: "secondary", onclick: move |_| {
                    let Some(core) = ui.core() else { return };
                    let platform = core.platform();
                    match platform.location() {
                        Some(fix) => on_set.call(fix.to_value(platform.offset())),
                        None => ui.changed(no_fix_text(l, platform.why_no_fix())),
                    }
                },
                {tr(l, "定位", "Locate")}
            }
        }
        if let Some(a) = poor {
            p { class: "warn", role: "alert",
                {tr(l, &format!("定位精度 ±{a:.0} 米，未达到 ±{limit:.0} 米的要求：请到开阔处重新定位"),
                    &format!("This position is only good to ±{a:.0} m, worse than the ±{limit:.0} m asked for: locate again in the open"))}
            }
        }
    }
}

#[component]
fn AddressRef(id: String, value: String, on_set: EventHandler<Json>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let mut picking = use_signal(|| false);
    let label = value
        .parse::<RecordId>()
        .ok()
        .and_then(|rid| {
            ui.core()
                .and_then(|c| c.record(rid).ok().map(|r| c.label(&r, l)))
        })
        .unwrap_or_else(|| tr(l, "未选择", "Not chosen"));
    rsx! {
        div { class: "ref", id: "{id}",
            span { class: "ref-label", "{label}" }
            button { r#type: "button", class: "secondary", onclick: move |_| picking.toggle(), {tr(l, "选择地址", "Pick address")} }
        }
        if picking() {
            AddressPicker { on_pick: move |rid: RecordId| { on_set.call(json!(rid)); picking.set(false); } }
        }
    }
}

/// A reference to another record (a resident's house, a hazard's unit):
/// its label, and a pick list searched as you type.
#[component]
fn RecordRef(id: String, form: String, value: String, on_set: EventHandler<Json>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let mut picking = use_signal(|| false);
    // The pick list's label; a record it does not hold (deleted, another
    // form) by its own label, so that a value set is never shown as unset.
    let chosen = match (value.parse::<RecordId>(), ui.core()) {
        (Ok(rid), Some(c)) => c.pick_label(&form, rid).and_then(|label| match label {
            Some(label) => Ok(Some(label)),
            None => match c.record(rid) {
                Ok(r) => Ok(Some(c.label(&r, l))),
                Err(CoreError::Store(LocalStoreError::NoRecord(_))) => {
                    Ok(Some(tr(l, "（本机没有这条记录）", "(not on this phone)")))
                }
                Err(e) => Err(e),
            },
        }),
        _ => Ok(None),
    };
    let label = match chosen {
        Ok(label) => label.unwrap_or_else(|| tr(l, "未选择", "Not chosen")),
        Err(e) => return read_failed(l, "chosen record", &e),
    };
    rsx! {
        div { class: "ref", id: "{id}",
            span { class: "ref-label", "{label}" }
            button { r#type: "button", class: "secondary", id: "{id}-pick", onclick: move |_| picking.toggle(),
                {tr(l, "选择", "Choose")}
            }
        }
        if picking() {
            RecordPicker { form: form.clone(), on_pick: move |rid: RecordId| { on_set.call(json!(rid)); picking.set(false); } }
        }
    }
}

/// The fields of a repeat group's entry that a picked person fills in:
/// those of the group's (not derived) children that a person record has.
fn person_fields(group: &CompiledField) -> Vec<String> {
    const FROM_PERSON: [&str; 5] = ["name", "id_number", "phone", "relation", "category"];
    group
        .children
        .iter()
        .filter(|c| c.def.derived.is_none() && FROM_PERSON.contains(&c.name()))
        .map(|c| c.name().to_owned())
        .collect()
}

#[component]
fn Repeat(session: SessionSignal, path: String, errors: Vec<FieldError>) -> Element {
    let mut picking = use_signal(|| false);
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let guard = session.read();
    let Some(s) = guard.as_ref() else {
        return rsx! {};
    };
    let form = s.form().clone();
    let Some(group) = form.field(&path).cloned() else {
        return rsx! {};
    };
    let entries = s
        .values()
        .get(&path)
        .and_then(Json::as_array)
        .map_or(0, Vec::len);
    drop(guard);
    let item = match &group.def.kind {
        FieldKind::Repeat {
            item_label: Some(t),
            ..
        } => text(l, t),
        _ => tr(l, "条目", "Entry"),
    };
    let children: Vec<String> = group.children.iter().map(|c| c.name().to_owned()).collect();
    // A group of people (a dispute's parties, a visit's residents) can take
    // one from the people on the phone instead of typing them again.
    let from_person = person_fields(&group);
    let people =
        from_person.iter().any(|f| f == "name") && from_person.iter().any(|f| f == "id_number");
    let add = {
        let path = path.clone();
        move |_| edit(ui, session, |s| s.add_entry(&path, Default::default()))
    };
    let add_person = {
        let path = path.clone();
        move |person: RecordId| {
            picking.set(false);
            let Some(core) = ui.core() else { return };
            match core.record(person) {
                Ok(record) => {
                    let entry = from_person
                        .iter()
                        .filter_map(|f| Some((f.clone(), record.values.get(f)?.clone())))
                        .collect();
                    edit(ui, session, |s| s.add_entry(&path, entry));
                }
                Err(e) => ui.failed(&e),
            }
        }
    };
    rsx! {
        div { class: "repeat",
            for i in 0..entries {
                div { class: "entry", key: "{i}",
                    div { class: "entry-head",
                        strong { "{item} {i + 1}" }
                        button { r#type: "button", class: "link", onclick: {
                                let path = path.clone();
                                move |_| edit(ui, session, |s| s.remove_entry(&path, i))
                            },
                            {tr(l, "删除", "Remove")}
                        }
                    }
                    for c in children.iter() {
                        FieldView {
                            key: "{c}",
                            session,
                            path: format!("{path}[{i}].{c}"),
                            errors: errors.iter().filter(|e| e.path == format!("{path}[{i}].{c}")).cloned().collect::<Vec<_>>(),
                        }
                    }
                }
            }
            button { r#type: "button", class: "secondary", id: "add-{path}", onclick: add, "＋ " {tr(l, &format!("添加{item}"), &format!("Add {item}"))} }
            if people {
                button { r#type: "button", class: "secondary", id: "pick-{path}", onclick: move |_| picking.toggle(),
                    "⌕ " {tr(l, "从本机人员中选择", "Choose from people on this phone")}
                }
                if picking() {
                    RecordPicker { form: form_ids::PERSON.to_owned(), on_pick: add_person }
                }
            }
        }
    }
}
