//! Lists of records (drafts, outbox, sent, returned), finding people and
//! houses, and choosing a form.

use beatbook_core::store::{LocalRecord, LocalState, RecordFilter};
use beatbook_schema::catalogue::form_ids;
use dioxus::prelude::*;

use super::errors::read_failed;
use super::i18n::{text, tr, use_lang};
use super::{Route, Ui};

/// Which records a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Drafts and refused records: the officer's to-do.
    Drafts,
    /// Waiting to be sent.
    Outbox,
    /// Sent (synced or approved).
    Sent,
    /// Returned by a supervisor, with the reason.
    Returned,
}

impl ListKind {
    fn states(self) -> Vec<LocalState> {
        match self {
            ListKind::Drafts => vec![LocalState::Draft, LocalState::Rejected],
            ListKind::Outbox => vec![LocalState::Queued],
            ListKind::Sent => vec![LocalState::Synced, LocalState::Approved],
            ListKind::Returned => vec![LocalState::Returned],
        }
    }

    fn title(self, l: beatbook_schema::text::Lang) -> String {
        match self {
            ListKind::Drafts => tr(l, "草稿", "Drafts"),
            ListKind::Outbox => tr(l, "待上传", "To sync"),
            ListKind::Sent => tr(l, "已上传", "Sent"),
            ListKind::Returned => tr(l, "被退回", "Returned"),
        }
    }
}

/// One record as a row, with an optional note (e.g. how far it is).
#[component]
pub fn RecordRow(record: LocalRecord, note: Option<String>) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let core = ui.core();
    let (title, label) = match &core {
        Some(c) => (
            c.form(record.form_id.as_str())
                .map(|f| text(l, f.title()))
                .unwrap_or_else(|_| record.form_id.to_string()),
            c.label(&record, l),
        ),
        None => (record.form_id.to_string(), String::new()),
    };
    let reason = record.review.as_ref().and_then(|r| match &r.decision {
        beatbook_schema::protocol::ReviewDecision::Return { reason }
            if record.state == LocalState::Returned =>
        {
            Some(reason.clone())
        }
        _ => None,
    });
    let refusal = record.rejection.as_ref().map(|r| text(l, &r.message));
    let id = record.id;
    let state_class = format!("state {:?}", record.state).to_lowercase();
    rsx! {
        li { class: "row", onclick: move |_| ui.go(Route::Edit(id)),
            div { class: "row-main",
                span { class: "form", "{title}" }
                span { class: "label", "{label}" }
            }
            if let Some(n) = note { span { class: "note", "{n}" } }
            span { class: "{state_class}", {text(l, &record.state.label())} }
            if let Some(r) = reason { div { class: "reason", "↩ {r}" } }
            if let Some(r) = refusal { div { class: "reason", "✕ {r}" } }
        }
    }
}

/// Records per page of a list.
const PAGE: u32 = 50;

/// Whose records the "sent" list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// Records this officer entered.
    Mine,
    /// Everyone's in the officer's grids (pulled ones too).
    Grid,
}

/// A list of records by state, a page at a time; the sent list shows the
/// officer's own records or everyone's in the grid.
#[component]
pub fn ListView(kind: ListKind) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    // The page belongs to the list it was turned in.
    let mut at = use_signal(|| (kind, 0_u32));
    let mut whose = use_signal(|| Whose::Mine);
    let page = if at().0 == kind { at().1 } else { 0 };
    let author = match (kind, whose()) {
        (ListKind::Sent, Whose::Mine) => ui
            .core()
            .and_then(|c| c.user().ok().flatten())
            .map(|u| u.id),
        _ => None,
    };
    let records = ui.core().map(|c| {
        c.records(&RecordFilter {
            states: kind.states(),
            author,
            // One more than a page tells whether there is a next one.
            limit: Some(PAGE + 1),
            offset: page * PAGE,
            ..Default::default()
        })
    });
    let mut records = match records {
        Some(Ok(records)) => records,
        Some(Err(e)) => return read_failed(l, "records list", &e),
        None => Vec::new(),
    };
    let next = records.len() > PAGE as usize;
    records.truncate(PAGE as usize);
    rsx! {
        nav { class: "tabs",
            for k in [ListKind::Drafts, ListKind::Outbox, ListKind::Sent, ListKind::Returned] {
                button { class: if k == kind { "tab on" } else { "tab" }, onclick: move |_| { ui.go(Route::List(k)) }, {k.title(l)} }
            }
            button { class: "tab", id: "list-map", onclick: move |_| ui.go(Route::Map), {tr(l, "地图", "Map")} }
        }
        if kind == ListKind::Sent {
            div { class: "chips", id: "whose", role: "radiogroup",
                for (w, label) in [(Whose::Mine, tr(l, "我录入的", "Mine")), (Whose::Grid, tr(l, "网格内全部", "Everyone's in the grid"))] {
                    button { r#type: "button", id: if w == Whose::Mine { "whose-mine" } else { "whose-grid" },
                        class: if whose() == w { "chip on" } else { "chip" },
                        onclick: move |_| { whose.set(w); at.set((kind, 0)); },
                        "{label}"
                    }
                }
            }
        }
        if records.is_empty() {
            p { class: "empty", {tr(l, "没有记录", "Nothing here")} }
        }
        ul { class: "rows", id: "records",
            for r in records { RecordRow { key: "{r.id}", record: r } }
        }
        if page > 0 || next {
            nav { class: "pager",
                button { r#type: "button", class: "secondary", id: "page-previous", disabled: page == 0,
                    onclick: move |_| at.set((kind, page.saturating_sub(1))), {tr(l, "上一页", "Previous")} }
                span { id: "page-number", {tr(l, &format!("第 {} 页", page + 1), &format!("Page {}", page + 1))} }
                button { r#type: "button", class: "secondary", id: "page-next", disabled: !next,
                    onclick: move |_| at.set((kind, page + 1)), {tr(l, "下一页", "Next")} }
            }
        }
    }
}

/// A distance as an officer reads it: metres, or kilometres past one.
pub fn distance(m: f64) -> String {
    if m < 1000.0 {
        format!("{} m", m.round() as i64)
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

/// Find a person (name, last digits of the ID number) or a house (owner,
/// address); before anything is typed, the houses nearest the officer.
#[component]
pub fn SearchView() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let mut query = use_signal(String::new);
    let hits = ui
        .core()
        .map(|c| -> Result<Vec<_>, beatbook_core::CoreError> {
            if query().trim().is_empty() {
                let near = c.near_me(form_ids::HOUSE, 20)?.unwrap_or_default();
                Ok(near
                    .into_iter()
                    .map(|n| (n.record, Some(distance(n.distance_m))))
                    .collect())
            } else {
                let hits = c.search_records(&query(), 50)?;
                Ok(hits.into_iter().map(|r| (r, None)).collect())
            }
        });
    let (hits, failed): (Vec<(LocalRecord, Option<String>)>, _) = match hits {
        Some(Ok(hits)) => (hits, None),
        Some(Err(e)) => (Vec::new(), Some(read_failed(l, "record search", &e))),
        None => (Vec::new(), None),
    };
    let nearby = query().trim().is_empty() && !hits.is_empty();
    rsx! {
        input { id: "find", class: "search", r#type: "search", autofocus: true, autocomplete: "off",
            placeholder: tr(l, "姓名、身份证后几位或地址", "Name, last ID digits or address"),
            value: "{query}", oninput: move |e| query.set(e.value()) }
        {failed}
        if nearby { h3 { id: "near-houses-title", {tr(l, "附近的房屋", "Houses near you")} } }
        ul { class: "rows", id: "search-results",
            for (r, note) in hits { RecordRow { key: "{r.id}", record: r, note } }
        }
    }
}

/// Choose a form for a new record.
#[component]
pub fn NewRecord() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read(); // a sync may bring forms or retire some
    let offered = match ui.core().map(|c| c.offered_forms()).transpose() {
        Ok(forms) => forms.unwrap_or_default(),
        Err(e) => return read_failed(l, "forms", &e),
    };
    // A patrol is started from the home screen's tile: its track is recorded, not typed.
    let forms = offered
        .into_iter()
        .filter(|f| f.id().as_str() != form_ids::PATROL);
    rsx! {
        h2 { {tr(l, "新建记录", "New record")} }
        div { class: "choices grid", id: "forms",
            for form in forms {
                button { class: "tile", id: "new-{form.id()}",
                    onclick: { let id = form.id().to_string(); move |_| ui.new_record(&id, Default::default()) },
                    {text(l, form.title())}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_read_in_metres_then_kilometres() {
        assert_eq!(distance(55.4), "55 m");
        assert_eq!(distance(999.4), "999 m");
        assert_eq!(distance(1549.0), "1.5 km");
    }
}
