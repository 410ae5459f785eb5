//! Photos chosen in a browser's file input reach the component by id
//! (liveview does not deliver files to `onchange`, DioxusLabs/dioxus issue
//! 2930): the page hands the file over, gets an id, and the component takes
//! the bytes by that id. Two feeders put them here: liveview's upload
//! endpoint (`liveview::upload_router`) and the web build's worker, to which
//! the page posts the bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dioxus::html::FileData;
use dioxus::prelude::*;

use super::UiOptions;

/// Photos waiting to be picked up, by id.
#[derive(Clone, Default)]
pub struct Uploads(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl Uploads {
    /// Keeps bytes; returns their id.
    pub fn put(&self, bytes: Vec<u8>) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 64 {
            map.clear(); // abandoned uploads: a phone holds a few at most
        }
        map.insert(id.clone(), bytes);
        id
    }

    /// Takes bytes by id.
    pub fn take(&self, id: &str) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id)
    }
}

/// The bytes of the files chosen in the file input `input_id`: `files` as a
/// desktop window delivers them, else handed over by the page (liveview's
/// upload endpoint at `options.upload_path`, or the web build's
/// `window.beatbookUpload`). A file that cannot be read is left out.
pub async fn chosen_files(
    options: &UiOptions,
    input_id: &str,
    files: Vec<FileData>,
) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    if files.is_empty() {
        let upload = serde_json::to_string(&options.upload_path).unwrap_or_default();
        let script = format!(
            r#"const input = document.getElementById("{input_id}"); const ids = [];
const hand = window.beatbookUpload ?? (async f => {{ const r = await fetch({upload}, {{ method: "POST", body: f }}); return r.ok ? r.text() : null; }});
for (const f of input.files) {{ const id = await hand(f); if (id) ids.push(id); }}
input.value = ""; dioxus.send(ids);"#
        );
        let mut eval = document::eval(&script);
        if let Ok(ids) = eval.recv::<Vec<String>>().await {
            payloads.extend(ids.iter().filter_map(|i| options.uploads.take(i)));
        }
    } else {
        for f in files {
            if let Ok(bytes) = f.read_bytes().await {
                payloads.push(bytes.to_vec());
            }
        }
    }
    payloads
}

/// Runs `work` (reading a picture: a card, a QR code) on another thread
/// where there is one, so the UI is not held meanwhile; `None` if that
/// thread stopped without an answer.
pub async fn off_the_ui<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let (tx, rx) = futures_channel::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(work());
        });
        rx.await.ok()
    }
    #[cfg(target_arch = "wasm32")]
    {
        Some(work())
    }
}
