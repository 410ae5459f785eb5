//! The frame around every screen: header, notice, and the current screen.

use dioxus::prelude::*;

use super::form::FormView;
use super::hazards::HazardsView;
use super::home::Home;
use super::i18n::{tr, use_lang};
use super::lists::{ListView, NewRecord, SearchView};
use super::map::MapView;
use super::patrol::{PatrolRunning, PatrolTracker};
use super::sync::{AutoSync, SyncLine};
use super::unlock::LangToggle;
use super::visit::VisitView;
use super::{Route, Ui};

/// Header, notice and screen.
#[component]
pub fn Shell() -> Element {
    let ui = use_context::<Ui>();
    let mut notice = ui.notice;
    let l = *use_lang().read();
    let route = ui.route.read().clone();
    let _ = ui.revision.read(); // a patrol that ends opens its form
    let at_home = route == Route::Home;
    rsx! {
        AutoSync {}
        PatrolTracker {}
        header { class: "top",
            if !at_home {
                button { id: "back", class: "icon", onclick: move |_| ui.go_back(), "‹ " {tr(l, "返回", "Back")} }
            } else {
                span { class: "title", "Beatbook" }
            }
            LangToggle {}
        }
        SyncLine {}
        if let Some(message) = notice() {
            div { class: "notice", role: "status", onclick: move |_| notice.set(None), "{message}" }
        }
        main {
            match route {
                Route::Home => rsx! { Home {} },
                // A running patrol's form waits until the patrol ends (its
                // track is still being written).
                Route::Edit(id) => match ui.core().and_then(|c| c.running_patrol().ok().flatten()).filter(|p| p.id == id) {
                    Some(p) => rsx! { PatrolRunning { points: p.points } },
                    None => rsx! { FormView { key: "{id}", id } },
                },
                Route::Visit(address) => rsx! { VisitView { address } },
                Route::VisitHouse(address, house) => rsx! { VisitView { key: "{address}-{house}", address, house } },
                Route::List(kind) => rsx! { ListView { kind } },
                Route::Search => rsx! { SearchView {} },
                Route::NewRecord => rsx! { NewRecord {} },
                Route::Map => rsx! { MapView {} },
                Route::Hazards => rsx! { HazardsView {} },
            }
        }
    }
}
