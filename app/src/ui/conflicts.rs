//! On a record: the officer's values that another device's value beat in a
//! same-field conflict — which value won, who wrote it, the officer's
//! value — with one tap to re-apply the officer's value as a new change.

use beatbook_core::store::LostValue;
use dioxus::prelude::*;

use super::editing::SessionSignal;
use super::errors::read_failed;
use super::fields::display;
use super::i18n::{text, tr, use_lang};
use super::lists::RecordRow;
use super::Ui;

/// The lost values of the record the session edits, one banner each.
#[component]
pub fn LostValues(session: SessionSignal) -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    let guard = session.read();
    let Some(s) = guard.as_ref() else {
        return rsx! {};
    };
    let form = s.form().clone();
    let lost = match s.lost_values() {
        Ok(lost) => lost,
        Err(e) => return read_failed(l, "lost values", &e),
    };
    drop(guard);
    rsx! {
        for LostValue { field, mine, winning, winner_name, .. } in lost {
            {
                let (label, shown_mine, shown_winning) = match form.field(&field) {
                    Some(f) => (text(l, &f.def.label), display(&form, f, &mine, l), display(&form, f, &winning, l)),
                    None => (field.clone(), mine.to_string(), winning.to_string()),
                };
                let who = winner_name.unwrap_or_else(|| tr(l, "另一台设备", "another device"));
                let reapply = {
                    let field = field.clone();
                    move |_| {
                        let mut session = session;
                        let result = session.write().as_mut().map(|s| s.reapply_lost(&field));
                        match result {
                            Some(Ok(())) => ui.changed(tr(l, "已重新采用您的值，待上传", "Your value is applied again; waiting to sync")),
                            Some(Err(e)) => ui.failed(&e),
                            None => {}
                        }
                    }
                };
                let keep = {
                    let field = field.clone();
                    move |_| {
                        let result = session.read().as_ref().map(|s| s.keep_winner(&field));
                        match result {
                            Some(Ok(())) => ui.changed(tr(l, "已保留对方的值", "The other value is kept")),
                            Some(Err(e)) => ui.failed(&e),
                            None => {}
                        }
                    }
                };
                rsx! {
                    div { key: "{field}", class: "banner warn lost", "data-field": "{field}",
                        p { strong { "⚠ " {tr(l, &format!("“{label}”被同时修改，已采用 {who} 的值", ), &format!("“{label}” was changed at the same time: {who}'s value stands"))} } }
                        p { class: "lost-winning", {tr(l, "现值：", "Now: ")} "{shown_winning}" }
                        p { class: "lost-mine", {tr(l, "您填写的值：", "Yours: ")} "{shown_mine}" }
                        div { class: "lost-actions",
                            button { r#type: "button", id: "reapply-{field}", class: "primary", onclick: reapply,
                                {tr(l, "重新采用我的值", "Apply my value again")}
                            }
                            button { r#type: "button", id: "keep-{field}", class: "secondary", onclick: keep,
                                {tr(l, "保留现值", "Keep this value")}
                            }
                        }
                    }
                }
            }
        }
    }
}

/// On the home screen: the records where a value of the officer's was
/// overwritten, to open and settle.
#[component]
pub fn LostOnHome() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read();
    let Some(core) = ui.core() else {
        return rsx! {};
    };
    let lost = match core.lost_values() {
        Ok(lost) => lost,
        Err(e) => return read_failed(l, "lost values", &e),
    };
    if lost.is_empty() {
        return rsx! {};
    }
    let mut ids: Vec<_> = lost.iter().map(|v| v.record).collect();
    ids.sort_unstable();
    ids.dedup();
    let records: Vec<_> = ids
        .into_iter()
        .filter_map(|id| core.record(id).ok())
        .collect();
    let n = lost.len();
    rsx! {
        section { class: "banner warn", id: "lost-values",
            strong { "⚠ " {tr(l, &format!("您填写的 {n} 项被他人同时修改覆盖，请查看"), &format!("{n} of your values were overwritten by someone else's edit: check them"))} }
            ul { class: "rows",
                for r in records { RecordRow { key: "{r.id}", record: r } }
            }
        }
    }
}
