//! The phone's platform services in the web build: the position is the
//! last one the page's `navigator.geolocation` reported, the conditions the
//! last ones the page saw (its visibility, `navigator.getBattery()` where the
//! browser has it).

use std::sync::Mutex;

use beatbook_core::platform::{Conditions, Fix, Platform};

/// The browser as a [`Platform`].
#[derive(Debug, Default)]
pub struct Web {
    fix: Mutex<Option<Fix>>,
    conditions: Mutex<Conditions>,
}

impl Web {
    /// Keeps the page's latest position.
    pub fn set_fix(&self, fix: Fix) {
        *self.fix.lock().unwrap_or_else(|p| p.into_inner()) = Some(fix);
    }

    /// Keeps the page's latest conditions.
    pub fn set_conditions(&self, conditions: Conditions) {
        *self.conditions.lock().unwrap_or_else(|p| p.into_inner()) = conditions;
    }
}

impl Platform for Web {
    fn location(&self) -> Option<Fix> {
        *self.fix.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conditions(&self) -> Conditions {
        *self.conditions.lock().unwrap_or_else(|p| p.into_inner())
    }
}
