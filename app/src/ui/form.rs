//! The form renderer, driven entirely by the form definition.

use std::rc::Rc;

use beatbook_core::idcard::Filled;
use beatbook_core::CoreError;
use beatbook_schema::catalogue::{form_ids, hazard};
use beatbook_schema::form::FieldKind;
use beatbook_schema::ids::RecordId;
use dioxus::prelude::*;

use super::conflicts::LostValues;
use super::editing::SessionSignal;
use super::errors::error_text;
use super::fields::FieldView;
use super::i18n::{text, tr, use_lang};
use super::recorded::RecordedElsewhere;
use super::scan::ScanCard;
use super::Ui;

/// Why the supervisor's check of a hazard failed, while it is to be
/// rectified again.
fn failed_verification(s: &beatbook_core::FormSession) -> Option<String> {
    let text = |name: &str| s.values().get(name).and_then(|v| v.as_str());
    (s.form().id().as_str() == form_ids::HAZARD
        && text(hazard::VERIFICATION) == Some(hazard::FAILED)
        && text(hazard::STATUS) != Some(hazard::RECTIFIED))
    .then(|| text(hazard::VERIFICATION_REASON).unwrap_or("—").to_owned())
}

/// One record being entered or revised.
#[component]
pub fn FormView(id: RecordId) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    // Opened once per screen; if it cannot be, why stays with the screen.
    let (session, not_opened): (SessionSignal, Option<Rc<CoreError>>) =
        use_hook(|| match ui.core().map(|c| c.open_record(id)) {
            Some(Ok(s)) => (Signal::new(Some(s)), None),
            Some(Err(e)) => (Signal::new(None), Some(Rc::new(e))),
            None => (Signal::new(None), None),
        });
    let mut tried = use_signal(|| false);
    let scanned = use_signal(|| None::<Filled>);
    let mut failure = use_signal(|| None::<String>);
    let mut confirming = use_signal(|| false);

    let guard = session.read();
    let Some(s) = guard.as_ref() else {
        let why = not_opened
            .as_deref()
            .map(|e| tr(l, "：", ": ") + &error_text(l, e))
            .unwrap_or_default();
        return rsx! { p { class: "error", {tr(l, "无法打开这条记录", "This record cannot be opened")} "{why}" } };
    };
    let form = s.form().clone();
    let title = text(l, form.title());
    let state = s.state();
    let reason = s.review_reason().map(str::to_owned);
    let refusal = s.rejection().map(|r| text(l, &r.message));
    let discardable = s.discardable();
    let errors = if tried() { s.errors() } else { Vec::new() };
    let visible: Vec<String> = form
        .fields()
        .iter()
        .filter(|f| s.is_relevant(f.name()))
        .map(|f| f.name().to_owned())
        .collect();
    let editable = s.editable();
    let takes_card = form
        .field("id_number")
        .is_some_and(|f| matches!(f.def.kind, FieldKind::CitizenId { .. }))
        && editable
        && !s.approved();
    let rectification_only = editable && s.approved();
    let verify_failed = failed_verification(s);
    drop(guard);
    let doubtful = scanned().map(|f| f.doubtful).unwrap_or_default();

    let mut submit = move |_: ()| {
        let mut session = session;
        let mut guard = session.write();
        let result = guard.as_mut().map(|s| s.finalize());
        drop(guard);
        match result {
            Some(Ok(())) => {
                ui.changed(tr(l, "已保存，待上传", "Saved; waiting to sync"));
                ui.go_back();
            }
            Some(Err(CoreError::Invalid(_))) => {
                tried.set(true);
                failure.set(Some(tr(
                    l,
                    "请按提示修改标红的项目",
                    "Correct the fields marked in red",
                )));
            }
            Some(Err(e)) => failure.set(Some(error_text(l, &e))),
            None => {}
        }
    };

    let discard = move |_| {
        let Some(core) = ui.core() else { return };
        confirming.set(false);
        match core.discard_draft(id) {
            Ok(()) => {
                ui.changed(tr(l, "草稿已删除", "Draft discarded"));
                ui.go_back();
            }
            Err(e) => failure.set(Some(error_text(l, &e))),
        }
    };

    rsx! {
        div { class: "form-head", "data-record": "{id}",
            h2 { id: "form-title", "{title}" }
            span { class: format!("state {:?}", state).to_lowercase(), {text(l, &state.label())} }
        }
        if let Some(r) = reason {
            div { class: "banner warn", id: "return-reason", strong { {tr(l, "退回原因：", "Returned: ")} } "{r}" }
        }
        if let Some(r) = verify_failed {
            div { class: "banner warn", id: "verify-reason", strong { {tr(l, "复查未通过：", "Verification failed: ")} } "{r}" }
        }
        if rectification_only {
            div { class: "banner", id: "rectification-only",
                {tr(l, "隐患报告已审核通过：只能填写整改部分。", "The hazard report is approved: only its rectification can be filled in.")}
            }
        }
        LostValues { session }
        if let Some(r) = refusal {
            div { class: "banner error", strong { {tr(l, "服务器拒收：", "Refused by the server: ")} } "{r}" }
        }
        if takes_card {
            ScanCard { session, filled: scanned }
            RecordedElsewhere { session }
        }
        form { class: "fields", onsubmit: move |e| { e.prevent_default(); submit(()) },
            for name in visible {
                FieldView {
                    key: "{name}",
                    session,
                    path: name.clone(),
                    errors: errors.iter().filter(|e| e.path == name || e.path.starts_with(&format!("{name}["))).cloned().collect::<Vec<_>>(),
                    check: doubtful.contains(&name),
                }
            }
            if let Some(f) = failure() { p { class: "error", role: "alert", "{f}" } }
            if editable {
                button { id: "finalize", class: "primary big sticky", r#type: "submit", {tr(l, "保存并提交", "Save and submit")} }
            }
        }
        if discardable {
            if confirming() {
                div { class: "banner warn", id: "discard-confirm", role: "alertdialog",
                    p { {tr(l, "删除这份草稿？已填写的内容将从本机删除，无法恢复。", "Discard this draft? What was entered in it is removed from this phone for good.")} }
                    button { r#type: "button", class: "danger", id: "discard-yes", onclick: discard, {tr(l, "删除草稿", "Discard")} }
                    button { r#type: "button", class: "secondary", id: "discard-no", onclick: move |_| confirming.set(false), {tr(l, "保留", "Keep it")} }
                }
            } else {
                button { r#type: "button", class: "link danger", id: "discard", onclick: move |_| confirming.set(true),
                    {tr(l, "删除草稿", "Discard draft")}
                }
            }
        }
    }
}
