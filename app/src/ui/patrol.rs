//! Patrols as tracks (beatbook_core::patrol): the home screen's tile starts
//! and stops one, [`PatrolTracker`] records the track while it runs, and
//! stopping opens the patrol's form to finish and save.

use std::time::Duration;

use beatbook_core::patrol::Patrol;
use dioxus::prelude::*;

use super::errors::no_fix_text;
use super::i18n::tr;
use super::{Route, Ui, UiOptions};

/// How often the position is looked at while a patrol runs (the default of
/// [`UiOptions::track_every`]).
pub const TRACK_EVERY: Duration = Duration::from_secs(10);

fn running(ui: Ui) -> Option<Patrol> {
    let core = ui.core()?;
    core.running_patrol().unwrap_or_else(|e| {
        ui.failed(&e);
        None
    })
}

/// Stops the running patrol and opens its form.
fn stop(ui: Ui) {
    let Some(core) = ui.core() else { return };
    match core.stop_patrol() {
        Ok(Some(p)) => {
            let l = *ui.lang.peek();
            ui.changed(tr(
                l,
                "巡逻已结束：请补充巡逻情况后保存",
                "Patrol ended: add what you saw, then save",
            ));
            ui.go(Route::Edit(p.id));
        }
        Ok(None) => {}
        Err(e) => ui.failed(&e),
    }
}

/// The home screen's patrol tile: start, or stop with the points so far.
#[component]
pub fn PatrolTile() -> Element {
    let ui = use_context::<Ui>();
    let l = *ui.lang.read();
    let _ = ui.revision.read();
    let start = move |_| {
        let Some(core) = ui.core() else { return };
        match core.start_patrol() {
            Ok(p) if p.points == 0 => {
                // Started all the same (the position may come), but the
                // officer learns now why no track is being recorded.
                let why = no_fix_text(l, core.platform().why_no_fix());
                ui.changed(tr(
                    l,
                    &format!("巡逻已开始，但尚无位置，轨迹暂未记录。{why}"),
                    &format!("Patrol started, but there is no position, so no track is recorded yet. {why}"),
                ))
            }
            Ok(_) => ui.changed(tr(
                l,
                "巡逻已开始：轨迹将自动记录",
                "Patrol started: the track is recorded as you go",
            )),
            Err(e) => ui.failed(&e),
        }
    };
    rsx! {
        match running(ui) {
            Some(p) => rsx! {
                button { id: "patrol", class: "tile running", onclick: move |_| stop(ui),
                    span { class: "glyph", "■" } {tr(l, "结束巡逻", "End the patrol")}
                    span { class: "badge", id: "patrol-points", "{p.points}" }
                }
            },
            None => rsx! {
                button { id: "patrol", class: "tile", onclick: start,
                    span { class: "glyph", "⚑" } {tr(l, "开始巡逻", "Start a patrol")}
                }
            },
        }
    }
}

/// Shown instead of a running patrol's form: the track is still being
/// recorded, so the form waits until the patrol ends.
#[component]
pub fn PatrolRunning(points: usize) -> Element {
    let ui = use_context::<Ui>();
    let l = *ui.lang.read();
    rsx! {
        div { class: "banner info", id: "patrol-running",
            {tr(l, &format!("巡逻进行中，已记录 {points} 个轨迹点。结束巡逻后再填写巡逻情况。"),
                &format!("The patrol is running: {points} track points so far. Finish its form once it ends."))}
        }
        button { id: "patrol-stop", class: "primary big", onclick: move |_| stop(ui), {tr(l, "结束巡逻", "End the patrol")} }
    }
}

/// Records the running patrol's track; renders nothing.
#[component]
pub fn PatrolTracker() -> Element {
    let ui = use_context::<Ui>();
    let every = use_context::<UiOptions>().track_every;
    use_future(move || async move {
        let mut points = None;
        loop {
            beatbook_core::timer::sleep(every).await;
            let Some(core) = ui.core() else { continue };
            match core.track_point() {
                Ok(now) => {
                    let now = now.map(|p| p.points);
                    if now != points {
                        points = now;
                        let mut revision = ui.revision;
                        *revision.write() += 1;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "a track point was not recorded"),
            }
        }
    });
    rsx! {}
}
