//! [`Device`]: the phone's side of the core — its encrypted store, its
//! platform services (clock, position) and how it processes photos. A form
//! session holds a `Device`, not the whole [`Core`](crate::Core): it needs
//! nothing else.

use std::sync::{Arc, Mutex, MutexGuard};

use beatbook_schema::record::AttachmentRef;

use crate::error::CoreError;
use crate::photos::{self, PhotoSettings};
use crate::platform::Platform;
use crate::store::{LocalStore, LocalStoreError};

/// The store, the platform and the photo settings, shared by the core and
/// its form sessions; cloning it is cheap.
#[derive(Clone)]
pub(crate) struct Device {
    store: Arc<Mutex<LocalStore>>,
    platform: Arc<dyn Platform>,
    photo_settings: PhotoSettings,
}

impl Device {
    pub(crate) fn new(store: LocalStore, platform: Arc<dyn Platform>) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            platform,
            photo_settings: PhotoSettings::default(),
        }
    }

    /// The store, locked (a panic elsewhere does not lock it for good).
    pub(crate) fn store(&self) -> MutexGuard<'_, LocalStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store's lock itself, for the sync engine, which locks it per step.
    pub(crate) fn store_lock(&self) -> &Mutex<LocalStore> {
        &self.store
    }

    /// The platform services.
    pub(crate) fn platform(&self) -> &Arc<dyn Platform> {
        &self.platform
    }

    /// Processes a photo (downscale, orientation, JPEG), seals it on disk and
    /// registers it; returns its reference for a record's attachments.
    pub(crate) fn add_photo(&self, bytes: &[u8]) -> Result<AttachmentRef, CoreError> {
        let photo = photos::process(bytes, &self.photo_settings)
            .map_err(|e| CoreError::Photo(e.to_string()))?;
        let store = self.store();
        photos::store(&store.photo_dir(), store.key(), &photo).map_err(LocalStoreError::from)?;
        let attachment = AttachmentRef {
            sha256: photo.sha256,
            content_type: "image/jpeg".into(),
            size: photo.bytes.len() as u64,
        };
        store.add_attachment(&attachment)?;
        Ok(attachment)
    }
}
