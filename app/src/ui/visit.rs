//! The household visit: pick a standard address (characters, pinyin initials
//! or door number; results as you type) → the house → its residents. A
//! revisit where nothing changed is one tap.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;
use dioxus::prelude::*;
use serde_json::json;

use super::errors::read_failed;
use super::i18n::{tr, use_lang};
use super::lists::RecordRow;
use super::{Route, Ui};

/// Address picker with live results.
#[component]
pub fn AddressPicker(on_pick: EventHandler<RecordId>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let mut query = use_signal(String::new);
    let results = ui
        .core()
        .map(|c| c.search_addresses(&query(), 12))
        .unwrap_or_default();
    rsx! {
        input { id: "address-search", class: "search", r#type: "search", autofocus: true, autocomplete: "off",
            placeholder: tr(l, "地址、拼音首字母或门牌号（如 rml12）", "Address, pinyin initials or door no. (e.g. rml12)"),
            value: "{query}", oninput: move |e| query.set(e.value()) }
        ul { class: "rows picks", id: "address-results",
            for (id, label) in results {
                li { key: "{id}", class: "row pick", onclick: move |_| on_pick.call(id), "{label}" }
            }
        }
    }
}

/// The visit flow at an address.
#[component]
pub fn VisitView(address: Option<RecordId>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    let Some(address) = address else {
        return rsx! {
            h2 { {tr(l, "选择标准地址", "Pick the standard address")} }
            AddressPicker { on_pick: move |id| ui.go(Route::Visit(Some(id))) }
        };
    };
    let Some(core) = ui.core() else {
        return rsx! {};
    };
    let found = core.record(address).and_then(|a| {
        let houses = core.records_where(form_ids::HOUSE, "address", &address.to_string())?;
        let house = houses.first().cloned();
        let residents = match &house {
            Some(h) => core.records_where(form_ids::PERSON, "house", &h.id.to_string())?,
            None => Vec::new(),
        };
        Ok((core.label(&a, l), house, residents))
    });
    let (label, house, residents) = match found {
        Ok(found) => found,
        Err(e) => return read_failed(l, "visit", &e),
    };

    let start = move |form: &'static str, field: &'static str, value: RecordId| {
        let mut prefill = beatbook_schema::form::Values::new();
        prefill.insert(field.into(), json!(value));
        ui.new_record(form, prefill);
    };

    rsx! {
        h2 { class: "address", id: "visit-address", "{label}" }
        match house {
            None => rsx! {
                p { class: "hint", {tr(l, "此地址尚无房屋信息", "No house recorded at this address yet")} }
                button { id: "new-house", class: "primary big", onclick: move |_| start(form_ids::HOUSE, "address", address),
                    {tr(l, "登记房屋", "Record the house")}
                }
            },
            Some(h) => {
                let house_id = h.id;
                rsx! {
                    ul { class: "rows", RecordRow { record: h.clone() } }
                    button { id: "unchanged", class: "primary big", onclick: move |_| {
                            let Some(core) = ui.core() else { return };
                            match core.confirm_unchanged(house_id) {
                                Ok(_) => { ui.changed(tr(l, "已记录走访：信息无变化", "Visit recorded: nothing changed")); ui.go_back(); }
                                Err(e) => ui.failed(&e),
                            }
                        },
                        "✓ " {tr(l, "信息无变化", "Nothing changed")}
                    }
                    h3 { {tr(l, "居民", "Residents")} " (" {residents.len().to_string()} ")" }
                    ul { class: "rows", id: "residents",
                        for r in residents { RecordRow { key: "{r.id}", record: r } }
                    }
                    button { id: "add-resident", class: "secondary big", onclick: move |_| start(form_ids::PERSON, "house", house_id),
                        "＋ " {tr(l, "添加居民", "Add a resident")}
                    }
                }
            }
        }
    }
}
