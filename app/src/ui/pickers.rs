//! Pick lists with results as you type: a standard address, a house, a
//! unit, a person. One search for all of them (the core's pick lists:
//! characters, pinyin in full or by initials, door numbers, the last digits
//! of an ID number); the list pages on with "more" instead of stopping.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;
use beatbook_schema::text::Lang;
use dioxus::prelude::*;

use super::errors::read_failed;
use super::i18n::{tr, use_lang};
use super::Ui;

/// Results shown at first, and added by each "more".
const PAGE: usize = 12;

/// What the search box of a form's pick list invites the officer to type.
fn placeholder(l: Lang, form: &str) -> String {
    match form {
        form_ids::ADDRESS => tr(
            l,
            "地址、拼音首字母或门牌号（如 rml12）",
            "Address, pinyin initials or door no. (e.g. rml12)",
        ),
        form_ids::HOUSE => tr(
            l,
            "地址、门牌号或房主（可用拼音首字母）",
            "Address, door no. or owner (pinyin initials work)",
        ),
        form_ids::PERSON => tr(
            l,
            "姓名、拼音首字母或身份证后几位",
            "Name, pinyin initials or last ID digits",
        ),
        form_ids::UNIT => tr(
            l,
            "名称、地址或拼音首字母",
            "Name, address or pinyin initials",
        ),
        _ => tr(
            l,
            "汉字、拼音首字母或门牌号",
            "Characters, pinyin initials or door no.",
        ),
    }
}

/// A search box over the records of `form` and its results; a tap on one
/// picks it. The elements' ids start with the form's id
/// (`house-search`, `house-results`).
#[component]
pub fn RecordPicker(form: String, on_pick: EventHandler<RecordId>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let mut query = use_signal(String::new);
    let mut shown = use_signal(|| PAGE);
    let _ = ui.revision.read();
    // One more than shown tells whether there is more.
    let results = ui
        .core()
        .map(|c| c.search_form(&form, &query(), shown() + 1));
    let mut results = match results {
        Some(Ok(results)) => results,
        Some(Err(e)) => return read_failed(l, "pick list", &e),
        None => Vec::new(),
    };
    let more = results.len() > shown();
    results.truncate(shown());
    let searched = !query().trim().is_empty();
    rsx! {
        div { class: "picker",
            input { id: "{form}-search", class: "search", r#type: "search", autofocus: true, autocomplete: "off",
                placeholder: placeholder(l, &form),
                value: "{query}", oninput: move |e| { query.set(e.value()); shown.set(PAGE); } }
            if results.is_empty() {
                p { class: "empty",
                    if searched { {tr(l, "没有找到", "Nothing found")} } else { {tr(l, "本机还没有记录", "No records on this phone yet")} }
                }
            }
            ul { class: "rows picks", id: "{form}-results",
                for (id, label) in results {
                    li { key: "{id}", class: "row pick", onclick: move |_| on_pick.call(id), "{label}" }
                }
            }
            if more {
                button { r#type: "button", class: "link", id: "{form}-more", onclick: move |_| shown += PAGE,
                    {tr(l, "显示更多", "Show more")}
                }
            }
        }
    }
}

/// The standard-address picker (the visit's first step, address fields).
#[component]
pub fn AddressPicker(on_pick: EventHandler<RecordId>) -> Element {
    rsx! { RecordPicker { form: form_ids::ADDRESS.to_owned(), on_pick } }
}
