//! The phone's platform services in the web build: the position is the
//! last one the page's `navigator.geolocation` reported.

use std::sync::Mutex;

use beatbook_core::platform::{Fix, Platform};

/// The browser as a [`Platform`].
#[derive(Debug, Default)]
pub struct Web {
    fix: Mutex<Option<Fix>>,
}

impl Web {
    /// Keeps the page's latest position.
    pub fn set_fix(&self, fix: Fix) {
        *self.fix.lock().unwrap_or_else(|p| p.into_inner()) = Some(fix);
    }
}

impl Platform for Web {
    fn location(&self) -> Option<Fix> {
        *self.fix.lock().unwrap_or_else(|p| p.into_inner())
    }
}
