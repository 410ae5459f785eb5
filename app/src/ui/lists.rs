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

/// One record as a row.
#[component]
pub fn RecordRow(record: LocalRecord) -> Element {
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
            span { class: "{state_class}", {text(l, &record.state.label())} }
            if let Some(r) = reason { div { class: "reason", "↩ {r}" } }
            if let Some(r) = refusal { div { class: "reason", "✕ {r}" } }
        }
    }
}

/// A list of records by state.
#[component]
pub fn ListView(kind: ListKind) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    let records = ui.core().map(|c| {
        c.records(&RecordFilter {
            states: kind.states(),
            limit: Some(200),
            ..Default::default()
        })
    });
    let records = match records {
        Some(Ok(records)) => records,
        Some(Err(e)) => return read_failed(l, "records list", &e),
        None => Vec::new(),
    };
    rsx! {
        nav { class: "tabs",
            for k in [ListKind::Drafts, ListKind::Outbox, ListKind::Sent, ListKind::Returned] {
                button { class: if k == kind { "tab on" } else { "tab" }, onclick: move |_| { ui.go(Route::List(k)) }, {k.title(l)} }
            }
        }
        if records.is_empty() {
            p { class: "empty", {tr(l, "没有记录", "Nothing here")} }
        }
        ul { class: "rows", id: "records",
            for r in records { RecordRow { key: "{r.id}", record: r } }
        }
    }
}

/// Find a person (name, last digits of the ID number) or a house (owner, address).
#[component]
pub fn SearchView() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let mut query = use_signal(String::new);
    let hits = ui.core().map(|c| c.search_records(&query(), 50));
    let (hits, failed) = match hits {
        Some(Ok(hits)) => (hits, None),
        Some(Err(e)) => (Vec::new(), Some(read_failed(l, "record search", &e))),
        None => (Vec::new(), None),
    };
    rsx! {
        input { id: "find", class: "search", r#type: "search", autofocus: true, autocomplete: "off",
            placeholder: tr(l, "姓名、身份证后几位或地址", "Name, last ID digits or address"),
            value: "{query}", oninput: move |e| query.set(e.value()) }
        {failed}
        ul { class: "rows",
            for r in hits { RecordRow { key: "{r.id}", record: r } }
        }
    }
}

/// Choose a form for a new record.
#[component]
pub fn NewRecord() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let forms = form_ids::ALL;
    rsx! {
        h2 { {tr(l, "新建记录", "New record")} }
        div { class: "choices grid",
            for id in forms {
                if let Some(form) = ui.core().and_then(|c| c.form(id).ok()) {
                    button { class: "tile", id: "new-{id}", onclick: move |_| ui.new_record(id, Default::default()), {text(l, form.title())} }
                }
            }
        }
    }
}
