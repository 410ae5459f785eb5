//! The worker's side of the messages it exchanges with the page (the list is
//! in the crate's documentation).

use std::sync::Arc;

use beatbook_app::ui::{SyncNudge, Uploads};
use beatbook_core::platform::{Conditions, Fix, NoFix};
use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use js_sys::{ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::platform::Web;

/// The page that started this worker.
#[derive(Clone)]
pub struct Page(DedicatedWorkerGlobalScope);

impl Page {
    /// This worker's page; an error when not run in a dedicated worker.
    pub fn this_worker() -> Result<Self, JsValue> {
        js_sys::global()
            .dyn_into::<DedicatedWorkerGlobalScope>()
            .map(Self)
            .map_err(|_| JsValue::from_str("beatbook-web runs in a dedicated worker only"))
    }

    /// Handles the page's messages from now on: liveview frames into
    /// `frames`, photos into `uploads`, positions into `platform`, "the
    /// network is back" into `nudge`, visibility and battery into `platform`.
    pub fn listen(
        &self,
        frames: UnboundedSender<Vec<u8>>,
        uploads: Uploads,
        platform: Arc<Web>,
        nudge: SyncNudge,
    ) {
        let page = self.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            if let Some(frame) = field(&data, "lv").as_string() {
                // The VirtualDom is gone only when the worker is.
                let _ = frames.unbounded_send(frame.into_bytes());
            } else if let Ok(buffer) = field(&data, "upload").dyn_into::<ArrayBuffer>() {
                let id = uploads.put(Uint8Array::new(&buffer).to_vec());
                page.post(&[("uploaded", id.into()), ("n", field(&data, "n"))]);
            } else if let Some(fix) = fix_of(&field(&data, "fix")) {
                platform.set_fix(fix);
            } else if let Some(code) = field(&data, "fix_error").as_f64() {
                // GeolocationPositionError: 1 denied, 2 unavailable, 3 timeout.
                platform.set_no_fix(match code as u8 {
                    1 => NoFix::Denied,
                    2 => NoFix::Unavailable,
                    _ => NoFix::NotYet,
                });
            } else if field(&data, "online").is_truthy() {
                nudge.nudge();
            } else if let Some(conditions) = conditions_of(&field(&data, "conditions")) {
                platform.set_conditions(conditions);
            }
        });
        self.0
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Lives as long as the worker.
        on_message.forget();
    }

    /// Posts the VirtualDom's frames to the page as they come.
    pub fn forward(&self, mut frames: UnboundedReceiver<Vec<u8>>) {
        let page = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(frame) = frames.next().await {
                let bytes = Uint8Array::from(frame.as_slice());
                page.post(&[("lv", bytes.buffer().into())]);
            }
        });
    }

    /// Tells the page the app listens.
    pub fn ready(&self) {
        self.post(&[("ready", JsValue::TRUE)]);
    }

    /// Tells the page (and so the officer) why the app cannot start.
    pub fn failed(&self, text: &str) {
        self.post(&[("failed", text.into())]);
    }

    fn post(&self, fields: &[(&str, JsValue)]) {
        let message = Object::new();
        for (name, value) in fields {
            // Setting a field of a new plain object cannot fail.
            let _ = Reflect::set(&message, &JsValue::from_str(name), value);
        }
        // Only a value that cannot be cloned fails; these are strings and buffers.
        let _ = self.0.post_message(&message);
    }
}

fn field(data: &JsValue, name: &str) -> JsValue {
    Reflect::get(data, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn conditions_of(value: &JsValue) -> Option<Conditions> {
    if !value.is_object() {
        return None;
    }
    Some(Conditions {
        hidden: field(value, "hidden").is_truthy(),
        battery_low: field(value, "battery_low").is_truthy(),
    })
}

fn fix_of(value: &JsValue) -> Option<Fix> {
    if !value.is_object() {
        return None;
    }
    Some(Fix {
        lat: field(value, "lat").as_f64()?,
        lon: field(value, "lon").as_f64()?,
        accuracy_m: field(value, "accuracy_m").as_f64()?,
        // The page's milliseconds since the epoch.
        at: field(value, "at")
            .as_f64()
            .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64)),
    })
}
