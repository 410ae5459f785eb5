//! The visit: pick a standard address (characters, pinyin initials or door
//! number; results as you type) → the house (one of several, or a new one)
//! and its residents, or a unit (shop, small venue) at the address. "Nothing
//! changed", "nobody home" and "refused" are one tap each, at a house or a
//! unit.

use beatbook_core::store::LocalRecord;
use beatbook_core::VisitOutcome;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;
use beatbook_schema::text::Lang;
use dioxus::prelude::*;
use serde_json::json;

use super::errors::read_failed;
use super::i18n::{tr, use_lang};
use super::lists::RecordRow;
use super::pickers::AddressPicker;
use super::{Route, Ui};

/// The visit flow at an address (on `house`, when a task names it).
#[component]
pub fn VisitView(address: Option<RecordId>, house: Option<RecordId>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    // The house the officer chose, where the address has several.
    let mut chosen = use_signal(|| house);
    let Some(address) = address else {
        return rsx! {
            h2 { {tr(l, "选择标准地址", "Pick the standard address")} }
            AddressPicker { on_pick: move |id| ui.go(Route::Visit(Some(id))) }
        };
    };
    let Some(core) = ui.core() else {
        return rsx! {};
    };
    let at = address.to_string();
    let found = core.record(address).and_then(|a| {
        let houses = core.records_where(form_ids::HOUSE, "address", &at)?;
        let units = core.records_where(form_ids::UNIT, "address", &at)?;
        Ok((core.label(&a, l), houses, units))
    });
    let (label, houses, units) = match found {
        Ok(found) => found,
        Err(e) => return read_failed(l, "visit", &e),
    };
    let house = match (chosen(), houses.as_slice()) {
        (Some(id), _) => houses.iter().find(|h| h.id == id).cloned(),
        (None, [only]) => Some(only.clone()),
        (None, _) => None,
    };
    let residents = match &house {
        Some(h) => match core.records_where(form_ids::PERSON, "house", &h.id.to_string()) {
            Ok(r) => r,
            Err(e) => return read_failed(l, "residents", &e),
        },
        None => Vec::new(),
    };
    let several = houses.len() > 1;
    // Registers this role may not enter (an auxiliary's) are not offered.
    let may_start = |form: &str| core.may_start(form).unwrap_or(false);
    let (new_house, new_person, new_unit, new_hazard) = (
        may_start(form_ids::HOUSE),
        may_start(form_ids::PERSON),
        may_start(form_ids::UNIT),
        may_start(form_ids::HAZARD),
    );
    let unit_count = units.len().to_string();

    rsx! {
        h2 { class: "address", id: "visit-address", "{label}" }
        if houses.is_empty() {
            p { class: "hint", {tr(l, "此地址尚无房屋信息", "No house recorded at this address yet")} }
            if new_house {
                button { id: "new-house", class: "primary big", onclick: move |_| start(ui, form_ids::HOUSE, "address", address),
                    {tr(l, "登记房屋", "Record the house")}
                }
            }
        } else if house.is_none() {
            h3 { {tr(l, &format!("此地址有 {} 处房屋，请选择", houses.len()), &format!("{} houses at this address: choose one", houses.len()))} }
            ul { class: "rows picks", id: "houses",
                for h in houses.iter() {
                    li { key: "{h.id}", class: "row pick", onclick: { let id = h.id; move |_| chosen.set(Some(id)) },
                        div { class: "row-main",
                            span { class: "label", {core.label(h, l)} }
                            span { class: "owner", {tr(l, "房主：", "Owner: ")} {owner(h)} }
                        }
                    }
                }
            }
        }
        if let Some(h) = house {
            div { class: "place house", id: "house",
                if several {
                    button { id: "other-house", class: "link", onclick: move |_| chosen.set(None),
                        "‹ " {tr(l, "换一处房屋", "Another house here")}
                    }
                }
                ul { class: "rows", RecordRow { record: h.clone() } }
                p { class: "owner", {tr(l, "房主：", "Owner: ")} {owner(&h)} }
                OneTapVisit { place: h.id, ids: true }
                h3 { {tr(l, "居民", "Residents")} " (" {residents.len().to_string()} ")" }
                ul { class: "rows", id: "residents",
                    for r in residents { RecordRow { key: "{r.id}", record: r } }
                }
                if new_person {
                    button { id: "add-resident", class: "secondary big", onclick: { let id = h.id; move |_| start(ui, form_ids::PERSON, "house", id) },
                        "＋ " {tr(l, "添加居民", "Add a resident")}
                    }
                }
            }
        }
        if !houses.is_empty() && new_house {
            button { id: "add-house", class: "secondary", onclick: move |_| start(ui, form_ids::HOUSE, "address", address),
                "＋ " {tr(l, "登记此地址的另一处房屋", "Record another house at this address")}
            }
        }
        h3 { {tr(l, "单位", "Units")} " (" "{unit_count}" ")" }
        ul { class: "rows", id: "units",
            for u in units {
                li { key: "{u.id}", class: "place venue", "data-id": "{u.id}",
                    ul { class: "rows", RecordRow { record: u.clone() } }
                    OneTapVisit { place: u.id, ids: false }
                    if new_hazard {
                        button { class: "secondary hazard-here", onclick: { let u = u.clone(); move |_| ui.new_record(form_ids::HAZARD, beatbook_core::visit::hazard_at(&u)) },
                            "⚠ " {tr(l, "在此单位上报隐患", "Report a hazard here")}
                        }
                    }
                }
            }
        }
        if new_unit {
            button { id: "new-unit", class: "secondary", onclick: move |_| start(ui, form_ids::UNIT, "address", address),
                "＋ " {tr(l, "登记此地址的单位（商店、小场所）", "Record a unit here (shop, small venue)")}
            }
        }
    }
}

/// Whom officers know a house by: its owner.
fn owner(house: &LocalRecord) -> String {
    house
        .values
        .get("owner_name")
        .and_then(|v| v.as_str())
        .unwrap_or("—")
        .to_owned()
}

/// Starts a new record of `form` with `field` naming `value` (the address of
/// a new house or unit, the house of a new resident) and opens it.
fn start(ui: Ui, form: &'static str, field: &'static str, value: RecordId) {
    let mut prefill = beatbook_schema::form::Values::new();
    prefill.insert(field.into(), json!(value));
    ui.new_record(form, prefill);
}

/// What the officer reads once a one-tap visit is recorded.
fn recorded(l: Lang, outcome: VisitOutcome) -> String {
    match outcome {
        VisitOutcome::Unchanged => tr(
            l,
            "已记录走访：信息无变化",
            "Visit recorded: nothing changed",
        ),
        VisitOutcome::NobodyHome => tr(l, "已记录走访：无人在家", "Visit recorded: nobody home"),
        VisitOutcome::Refused => tr(l, "已记录走访：拒绝配合", "Visit recorded: refused"),
    }
}

/// The three one-tap outcomes of a visit of `place` (a house or a unit);
/// with `ids` the buttons carry ids (`#unchanged`, `#nobody-home`,
/// `#refused`), for the one house on screen.
#[component]
fn OneTapVisit(place: RecordId, ids: bool) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let tap = move |outcome: VisitOutcome| {
        let Some(core) = ui.core() else { return };
        match core.record_visit(place, outcome) {
            Ok(_) => ui.changed(recorded(l, outcome)),
            Err(e) => ui.failed(&e),
        }
    };
    let buttons = [
        (
            VisitOutcome::Unchanged,
            "unchanged",
            "primary",
            tr(l, "✓ 信息无变化", "✓ Nothing changed"),
        ),
        (
            VisitOutcome::NobodyHome,
            "nobody-home",
            "secondary",
            tr(l, "无人在家", "Nobody home"),
        ),
        (
            VisitOutcome::Refused,
            "refused",
            "secondary",
            tr(l, "拒绝配合", "Refused"),
        ),
    ];
    rsx! {
        div { class: "one-tap",
            for (outcome, name, kind, label) in buttons {
                button { key: "{name}", id: if ids { Some(name) } else { None },
                    class: "{kind} {name}", onclick: move |_| tap(outcome), "{label}"
                }
            }
        }
    }
}
