//! The grid's hazards still to follow up (the hazard tile's screen): overdue
//! first, each with its status, deadline and a failed check's reason; a tap
//! follows that hazard up, and a new hazard is reported from here.

use beatbook_core::hazards::OpenHazard;
use beatbook_schema::catalogue::{form_ids, hazard};
use beatbook_schema::text::Lang;
use dioxus::prelude::*;

use super::errors::read_failed;
use super::i18n::{text, tr, use_lang};
use super::{Route, Ui};

/// The status's label in the hazard's form.
fn status_label(ui: Ui, h: &OpenHazard, l: Lang) -> String {
    ui.core()
        .and_then(|c| c.form_version(form_ids::HAZARD, h.record.form_version).ok())
        .and_then(|f| {
            f.choices("status")
                .iter()
                .find(|c| c.value == h.status)
                .map(|c| text(l, &c.label))
        })
        .unwrap_or_else(|| h.status.clone())
}

/// The open and overdue hazards of the officer's grids.
#[component]
pub fn HazardsView() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    let hazards = match ui.core().map(|c| c.open_hazards()) {
        Some(Ok(h)) => h,
        Some(Err(e)) => return read_failed(l, "open hazards", &e),
        None => Vec::new(),
    };
    rsx! {
        h2 { {tr(l, "网格隐患整改", "Hazards to follow up")} }
        // The report takes this screen's place: saved, it goes back home, as
        // from the home screen's tile.
        button { id: "hazard-new", class: "primary big", onclick: move |_| { ui.go_back(); ui.new_record(form_ids::HAZARD, Default::default()) },
            "⚠ " {tr(l, "上报新隐患", "Report a new hazard")}
        }
        if hazards.is_empty() {
            p { class: "empty", id: "no-open-hazards", {tr(l, "网格内没有待整改的隐患", "No hazard in your grids waits for rectification")} }
        }
        ul { class: "rows", id: "open-hazards",
            for h in hazards {
                HazardRow { key: "{h.record.id}", hazard: h }
            }
        }
    }
}

/// One hazard to follow up; a tap opens it.
#[component]
fn HazardRow(hazard: OpenHazard) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let id = hazard.record.id;
    let label = ui
        .core()
        .map(|c| c.label(&hazard.record, l))
        .unwrap_or_default();
    let status = status_label(ui, &hazard, l);
    let class = if hazard.overdue_days.is_some() {
        "row hazard overdue"
    } else {
        "row hazard"
    };
    let waiting = hazard.status == hazard::RECTIFIED;
    let description = hazard
        .record
        .values
        .get("description")
        .and_then(|d| d.as_str())
        .map(str::to_owned);
    rsx! {
        li { class: "{class}", id: "hazard-{id}", "data-status": "{hazard.status}", onclick: move |_| ui.go(Route::Edit(id)),
            div { class: "row-main",
                span { class: "form", "{label}" }
                span { class: "status", "{status}" }
            }
            if let Some(d) = description {
                div { class: "description", "{d}" }
            }
            div { class: "deadline",
                match hazard.deadline {
                    Some(d) => rsx! { {tr(l, "整改期限 ", "Rectify by ")} "{d}" },
                    None => rsx! { {tr(l, "未定整改期限", "No deadline set")} },
                }
                if let Some(days) = hazard.overdue_days {
                    span { class: "overdue-days", {tr(l, &format!(" 逾期 {days} 天"), &format!(" {days} days overdue"))} }
                }
            }
            if waiting {
                div { class: "waiting", {tr(l, "已整改，等待所领导复查", "Rectified; waiting for the supervisor's check")} }
            }
            if let Some(r) = &hazard.failed_reason {
                div { class: "reason", {tr(l, "复查未通过：", "Verification failed: ")} "{r}" }
            }
        }
    }
}
