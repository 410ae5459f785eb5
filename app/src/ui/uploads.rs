//! Photos chosen in a browser's file input reach the component by id
//! (liveview does not deliver files to `onchange`, DioxusLabs/dioxus issue
//! 2930): the page hands the file over, gets an id, and the component takes
//! the bytes by that id. Two feeders put them here: liveview's upload
//! endpoint (`liveview::upload_router`) and the web build's worker, to which
//! the page posts the bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
