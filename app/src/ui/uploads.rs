//! Photos chosen in a browser's file input reach the liveview app through a
//! small upload endpoint (liveview does not deliver files to `onchange`,
//! DioxusLabs/dioxus issue 2930): the page posts the file, gets an id, and the
//! component takes the bytes by that id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;

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

/// `POST <path>` keeps the body and answers its id (the caller guards who may post).
pub(super) fn router(uploads: Uploads, path: &str) -> axum::Router {
    axum::Router::new()
        .route(
            path,
            post(|State(u): State<Uploads>, body: Bytes| async move { u.put(body.to_vec()) }),
        )
        .layer(DefaultBodyLimit::max(32 * 1024 * 1024))
        .with_state(uploads)
}
