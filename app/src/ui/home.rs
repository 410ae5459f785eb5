//! Home: the officer, today's counts, the outbox, sync, and the ways in.

use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_core::CoreError;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::protocol::Role;
use dioxus::prelude::*;

use super::errors::read_failed;
use super::i18n::{text, tr, use_lang};
use super::lists::ListKind;
use super::patrol::PatrolTile;
use super::sync::{self, SyncState, Trigger};
use super::{Route, Ui, UiOptions};

#[derive(Debug, Clone, PartialEq, Default)]
struct Counts {
    today: usize,
    outbox: u64,
    drafts: u64,
    returned: u64,
    open_hazards: u64,
}

fn counts(ui: Ui) -> Result<Counts, CoreError> {
    let Some(core) = ui.core() else {
        return Ok(Counts::default());
    };
    let status = core.status()?;
    let today = core.platform().today();
    let offset = core.platform().offset();
    let device = core.device_id();
    let recent = core.records(&RecordFilter {
        limit: Some(500),
        ..Default::default()
    })?;
    let state = |s: LocalState| {
        status
            .states
            .iter()
            .find(|(k, _)| *k == s)
            .map_or(0, |(_, n)| *n)
    };
    let open_hazards = core.count_where(form_ids::HAZARD, "status", &["open", "rectifying"])?;
    Ok(Counts {
        today: recent
            .iter()
            // What this officer entered today on this phone, not what the pull brought.
            .filter(|r| {
                r.device == device && r.created_at.with_timezone(&offset).date_naive() == today
            })
            .count(),
        outbox: status.outbox,
        drafts: state(LocalState::Draft) + state(LocalState::Rejected),
        returned: state(LocalState::Returned),
        open_hazards,
    })
}

/// The home screen.
#[component]
pub fn Home() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let _ = ui.revision.read(); // reload when records change
    let (counts, failed) = match counts(ui) {
        Ok(counts) => (counts, None),
        Err(e) => (Counts::default(), Some(read_failed(l, "home counts", &e))),
    };
    let user = ui.core().and_then(|c| c.user().ok().flatten());
    // What the server would refuse from this role (or takes no more) is not offered.
    let may_start = |form: &str| {
        ui.core()
            .is_some_and(|c| c.may_start(form).unwrap_or(false))
    };
    let (hazard, patrol) = (may_start(form_ids::HAZARD), may_start(form_ids::PATROL));
    let dir = use_context::<UiOptions>().dir;
    let syncing = matches!(*ui.sync.read(), SyncState::Running(_));
    let sync = move |_| {
        let dir = dir.clone();
        spawn(async move {
            sync::run(ui, &dir, Trigger::ByHand).await;
        });
    };

    rsx! {
        {failed}
        section { class: "who",
            if let Some(u) = &user {
                div { class: "name", "{u.name}" span { class: "role", {text(l, &u.role.label())} } }
                div { class: "grids", {tr(l, "网格：", "Grids: ")} {u.grids.iter().map(|g| g.to_string()).collect::<Vec<_>>().join("、")} }
            }
        }
        section { class: "stats",
            div { class: "stat", span { class: "n", id: "today-count", "{counts.today}" } span { {tr(l, "今日采集", "Today")} } }
            div { class: "stat", span { class: "n", id: "outbox-count", "{counts.outbox}" } span { {tr(l, "待上传", "To sync")} } }
            div { class: "stat", span { class: "n", "{counts.drafts}" } span { {tr(l, "草稿", "Drafts")} } }
        }
        section { class: "sync",
            button { id: "sync", class: "primary big", disabled: syncing, onclick: sync,
                if syncing { {tr(l, "同步中…", "Syncing…")} } else { {tr(l, "同步", "Sync")} }
            }
        }
        super::conflicts::LostOnHome {}
        super::tasks::MyTasks {}
        nav { class: "actions",
            button { id: "visit", class: "tile", onclick: move |_| ui.go(Route::Visit(None)),
                span { class: "glyph", "⌂" } {tr(l, "入户走访", "Household visit")}
            }
            if user.as_ref().is_some_and(|u| u.role != Role::Supervisor) {
                if hazard {
                    button { id: "hazard", class: "tile", onclick: move |_| ui.go(Route::Hazards),
                        span { class: "glyph", "⚠" } {tr(l, "隐患整改", "Hazards")}
                        if counts.open_hazards > 0 { span { class: "badge", "{counts.open_hazards}" } }
                    }
                }
                if patrol { PatrolTile {} }
            }
            button { id: "returned", class: "tile", onclick: move |_| ui.go(Route::List(ListKind::Returned)),
                span { class: "glyph", "↩" } {tr(l, "被退回", "Returned")}
                if counts.returned > 0 { span { class: "badge warn", id: "returned-count", "{counts.returned}" } }
            }
            button { id: "search", class: "tile", onclick: move |_| ui.go(Route::Search),
                span { class: "glyph", "⌕" } {tr(l, "查找人/房", "Find")}
            }
            button { id: "map", class: "tile", onclick: move |_| ui.go(Route::Map),
                span { class: "glyph", "◎" } {tr(l, "地图", "Map")}
            }
            button { id: "new", class: "tile", onclick: move |_| ui.go(Route::NewRecord),
                span { class: "glyph", "＋" } {tr(l, "其他表单", "Other forms")}
            }
            button { id: "lists", class: "tile", onclick: move |_| ui.go(Route::List(ListKind::Drafts)),
                span { class: "glyph", "☰" } {tr(l, "我的记录", "My records")}
            }
        }
    }
}
