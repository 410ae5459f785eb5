//! The field app's web build (issue 18): the same Dioxus UI as the desktop
//! and liveview faces, with the headless core, in a dedicated worker — the
//! only place where SQLite's OPFS pool runs. The page is a thin interpreter:
//! Dioxus liveview's own protocol travels between them over `postMessage`
//! instead of a WebSocket (`web/static/shim.js` is the page's end).
//!
//! Messages, page → worker: `{lv: string}` (a liveview frame),
//! `{upload: ArrayBuffer, n}` (a chosen photo; answered `{uploaded: id, n}`),
//! `{fix: {lat, lon, accuracy_m, at}}` (the browser's position),
//! `{fix_error: code}` (why it has none), `{online: true}`
//! (the network is back: sync now), `{conditions: {hidden, battery_low}}`
//! (background syncs wait while either holds). Worker → page:
//! `{ready: true}`, `{lv: ArrayBuffer}`, `{failed: text}` (the app cannot start).
#![cfg(target_arch = "wasm32")]

mod bridge;
mod messages;
mod platform;

use std::path::PathBuf;
use std::sync::Arc;

use beatbook_app::ui::{App, SyncNudge, UiOptions, Uploads};
use dioxus::prelude::VirtualDom;
use wasm_bindgen::prelude::*;

use crate::messages::Page;

/// Where the device's files live in the OPFS pool.
const DEVICE_DIR: &str = "/device";

/// Starts the app in this worker: installs the OPFS pool, listens to the
/// page and runs the VirtualDom until the page goes away. `server` is the
/// sync server offered at enrollment (the origin that served the page).
#[wasm_bindgen]
pub async fn start(server: String) -> Result<(), JsValue> {
    let page = Page::this_worker()?;
    if let Err(e) = beatbook_core::store::opfs::install().await {
        page.failed(&format!(
            "无法打开本机存储（{e}）：请用最新版 Chrome 或 Safari 打开，不要用无痕模式 / \
             Cannot open this phone's storage ({e}): open the app in a current Chrome or \
             Safari, not in a private window"
        ));
        return Err(JsValue::from_str(&e.to_string()));
    }
    dioxus::html::set_event_converter(Box::new(dioxus::html::SerializedHtmlEventConverter));

    let uploads = Uploads::default();
    let platform = Arc::new(platform::Web::default());
    let nudge = SyncNudge::default();
    let (socket, from_page) = bridge::socket();
    page.listen(from_page, uploads.clone(), platform.clone(), nudge.clone());
    page.forward(socket.outgoing);

    let options = UiOptions {
        dir: PathBuf::from(DEVICE_DIR),
        fast_keys: false,
        server,
        platform,
        uploads,
        upload_path: String::new(),
        nudge,
        sync_every: beatbook_app::ui::SYNC_EVERY,
        // The recognizer's models are not in the web build yet.
        card_reader: None,
        accuracy_limit_m: 50.0,
        track_every: beatbook_app::ui::TRACK_EVERY,
        // scripts/web-build.sh puts the renderer and the drawing in map/
        // beside the page, when scripts/map-assets.sh has installed it.
        map: beatbook_app::ui::MapSource {
            assets_url: Some("./map/".into()),
            ..Default::default()
        },
    };
    let vdom = VirtualDom::new(App).with_root_context(options);
    page.ready();
    // Ends when the page goes away: there is no one left to tell.
    let _ = dioxus_liveview::run(vdom, socket.vdom).await;
    Ok(())
}
