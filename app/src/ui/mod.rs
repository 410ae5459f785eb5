//! The field app's UI in Dioxus 0.7: the same components run in the desktop
//! window (development, screenshots), through liveview in a browser
//! (end-to-end tests) and in the web build's worker (`beatbook-web`, phones),
//! which needs none of this crate's features. Components get the
//! [`Core`](beatbook_core::Core) through context and hold no SQL.

mod conflicts;
mod editing;
mod enroll_scan;
mod errors;
mod fields;
mod form;
mod hazards;
mod home;
mod i18n;
mod lists;
#[cfg(feature = "liveview")]
mod liveview;
mod map;
mod patrol;
mod photos;
mod pickers;
mod recorded;
mod scan;
mod shell;
mod sync;
mod tasks;
mod unlock;
mod uploads;
mod visit;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use beatbook_core::platform::Platform;
use beatbook_core::sync::SyncError;
use beatbook_core::{Core, CoreError};
use beatbook_schema::form::Values;
use beatbook_schema::ids::RecordId;
use beatbook_schema::text::Lang;
use dioxus::prelude::*;

pub use errors::error_text;
#[cfg(feature = "liveview")]
pub use liveview::{liveview_router, LiveviewAccess};
pub use map::MapSource;
pub use patrol::TRACK_EVERY;
pub use sync::{SyncNudge, SyncState, INTERVAL as SYNC_EVERY};
pub use uploads::Uploads;

/// The stylesheet, mobile first.
const CSS: &str = include_str!("../../../assets/app/app.css");

/// How the UI starts.
#[derive(Clone)]
pub struct UiOptions {
    /// The device directory.
    pub dir: PathBuf,
    /// Cheap key derivation (tests only).
    pub fast_keys: bool,
    /// The server address offered at enrollment.
    pub server: String,
    /// Platform services.
    pub platform: Arc<dyn Platform>,
    /// Photos handed over by a browser page (liveview and the web build
    /// cannot deliver file inputs to the component).
    pub uploads: Uploads,
    /// Where the page posts them (set by `liveview_router`: the path holds
    /// the launch's key). A page that defines `window.beatbookUpload` (the
    /// web build's) hands them over through it instead.
    pub upload_path: String,
    /// Asks the UI to sync now (the web build: when the network is back).
    pub nudge: SyncNudge,
    /// How often a running patrol looks at the position ([`patrol::TRACK_EVERY`]
    /// unless a test wants it sooner).
    pub track_every: std::time::Duration,
    /// Positions worse than this many metres are flagged on the form.
    pub accuracy_limit_m: f64,
    /// Reads the ID card on the device, where this face ships a recognizer.
    pub card_reader: Option<Arc<dyn beatbook_core::idcard::CardReader>>,
    /// The map's renderer and basemap.
    pub map: MapSource,
    /// How often the app syncs by itself ([`SYNC_EVERY`] unless a test
    /// wants it sooner).
    pub sync_every: std::time::Duration,
}

/// Where the app is.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// The home screen.
    Home,
    /// Editing one record.
    Edit(RecordId),
    /// The household visit flow at an address (none picked yet: `None`).
    Visit(Option<RecordId>),
    /// The visit flow at an address, on one of its houses (a task's).
    VisitHouse(RecordId, RecordId),
    /// A list of records.
    List(lists::ListKind),
    /// Finding a person or a house.
    Search,
    /// Choosing a form for a new record.
    NewRecord,
    /// The map of the officer's grid, and what is near.
    Map,
    /// The grid's hazards to follow up.
    Hazards,
}

/// UI-wide state, shared through context (signals are `Copy`).
#[derive(Clone, Copy)]
pub struct Ui {
    /// The open core, once unlocked.
    pub core: Signal<Option<Core>>,
    /// The current screen.
    pub route: Signal<Route>,
    /// Where to go back to.
    pub back: Signal<Vec<Route>>,
    /// The UI language.
    pub lang: Signal<Lang>,
    /// A short message at the top ("已保存，待上传").
    pub notice: Signal<Option<String>>,
    /// Bumped when records change, so lists reload.
    pub revision: Signal<u64>,
    /// Where syncing stands.
    pub sync: Signal<SyncState>,
}

impl Ui {
    /// Goes to a screen, remembering where we were.
    pub fn go(mut self, route: Route) {
        self.notice.set(None);
        let current = self.route.read().clone();
        self.back.write().push(current);
        self.route.set(route);
    }

    /// Goes back one screen.
    pub fn go_back(mut self) {
        let previous = self.back.write().pop().unwrap_or(Route::Home);
        self.route.set(previous);
    }

    /// The open core (components below the unlock screen always have one).
    pub fn core(self) -> Option<Core> {
        self.core.read().clone()
    }

    /// Shows a message and reloads lists.
    pub fn changed(mut self, message: impl Into<String>) {
        self.notice.set(Some(message.into()));
        *self.revision.write() += 1;
    }

    /// Tells the officer why something failed, in the UI's language.
    pub fn failed(self, error: &CoreError) {
        self.changed(error_text(*self.lang.peek(), error));
    }

    /// Tells the officer why a sync failed. A revoked device (the core has
    /// already emptied its database and says what was lost) is closed and its
    /// files in `dir` erased: the device id is dead on the server, so nothing
    /// of it is kept, and the phone can be enrolled again as a new device.
    pub fn sync_failed(mut self, dir: &Path, error: &CoreError) {
        self.failed(error);
        if matches!(error, CoreError::Sync(SyncError::Revoked { .. })) {
            self.core.set(None);
            self.back.write().clear();
            self.route.set(Route::Home);
            if let Err(e) = beatbook_core::store::erase_files(dir) {
                tracing::error!(error = %e, "erasing a revoked device's files failed");
                self.failed(&CoreError::Store(e));
            }
        }
    }

    /// Starts a new record of a form, with `prefill` in place, and opens it.
    pub fn new_record(self, form: &str, prefill: Values) {
        let Some(core) = self.core() else { return };
        match core.new_record(form, None, prefill) {
            Ok(session) => self.go(Route::Edit(session.id())),
            Err(e) => self.failed(&e),
        }
    }
}

/// The root component.
#[component]
pub fn App() -> Element {
    let dir = use_context::<UiOptions>().dir;
    let ui = use_context_provider(|| Ui {
        core: Signal::new(None),
        route: Signal::new(Route::Home),
        back: Signal::new(Vec::new()),
        lang: Signal::new(beatbook_core::prefs::Prefs::load(&dir).lang),
        notice: Signal::new(None),
        revision: Signal::new(0),
        sync: Signal::new(SyncState::Idle),
    });
    let unlocked = ui.core.read().is_some();
    rsx! {
        style { {CSS} }
        div { class: "app",
            if unlocked {
                shell::Shell {}
            } else {
                unlock::Unlock {}
            }
        }
    }
}

/// Opens the desktop window (412×915, a phone's shape).
#[cfg(feature = "desktop")]
pub fn launch_desktop(options: UiOptions) {
    use dioxus::desktop::{Config, LogicalSize, WindowBuilder};
    let window = WindowBuilder::new()
        .with_title("Beatbook 基础信息采集")
        .with_inner_size(LogicalSize::new(412.0, 915.0));
    dioxus::LaunchBuilder::desktop()
        .with_cfg(Config::new().with_menu(None).with_window(window))
        .with_context(options)
        .launch(App);
}
