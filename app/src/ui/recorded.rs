//! "Already recorded here": once the person form's ID number validates, the
//! records on this phone that hold it (the officer's own grids only — the
//! core looks nowhere else), with their house and a way to open each, before
//! a second record is made. Saving anyway stays possible: the server lists
//! the pair for the supervisor.

use beatbook_core::id_numbers::ID_NUMBER_FIELD;
use beatbook_schema::catalogue::form_ids;
use dioxus::prelude::*;

use super::editing::SessionSignal;
use super::i18n::{tr, use_lang};
use super::{Route, Ui};

/// The notice under the form's head; nothing when the number is new here.
#[component]
pub fn RecordedElsewhere(session: SessionSignal) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let guard = session.read();
    let Some(s) = guard.as_ref() else {
        return rsx! {};
    };
    let Some(typed) = s.values().get(ID_NUMBER_FIELD).and_then(|v| v.as_str()) else {
        return rsx! {};
    };
    let Some(core) = ui.core() else {
        return rsx! {};
    };
    // A failed lookup only means no notice: the form itself keeps working.
    let found = core
        .id_number_recorded_at(typed, Some(s.id()))
        .unwrap_or_default();
    drop(guard);
    if found.is_empty() {
        return rsx! {};
    }
    let rows: Vec<_> = found
        .into_iter()
        .map(|f| {
            let house = f
                .house
                .and_then(|h| core.pick_label(form_ids::HOUSE, h).ok().flatten())
                .unwrap_or_else(|| tr(l, "住址未知", "house unknown"));
            let name = if f.name.is_empty() {
                tr(l, "（未填姓名）", "(no name)")
            } else {
                f.name
            };
            (f.record.id, name, house)
        })
        .collect();
    rsx! {
        div { class: "banner warn", id: "recorded-elsewhere", role: "status",
            strong { {tr(l, "此身份证号本机已有登记：", "This ID number is already recorded on this phone:")} }
            ul {
                for (id, name, house) in rows {
                    li { key: "{id}",
                        "{name} · {house} "
                        button { r#type: "button", class: "link", "data-record": "{id}",
                            onclick: move |_| ui.go(Route::Edit(id)),
                            {tr(l, "打开该记录", "Open that record")}
                        }
                    }
                }
            }
            p { class: "hint", {tr(l, "确认是同一人时请修改已有记录；仍可保存为新记录，所领导会看到这两条记录。",
                "If this is the same person, update that record instead. You can still save a new one: your supervisor will see both.")} }
        }
    }
}
