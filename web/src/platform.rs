//! The phone's platform services in the web build: the position is the
//! last one the page's `navigator.geolocation` reported, the conditions the
//! last ones the page saw (its visibility, `navigator.getBattery()` where the
//! browser has it).

use std::sync::Mutex;

use beatbook_core::platform::{Conditions, Fix, NoFix, Platform};

/// The browser as a [`Platform`].
#[derive(Debug, Default)]
pub struct Web {
    fix: Mutex<Option<Fix>>,
    no_fix: Mutex<Option<NoFix>>,
    conditions: Mutex<Conditions>,
}

impl Web {
    /// Keeps the page's latest position.
    pub fn set_fix(&self, fix: Fix) {
        *self.fix.lock().unwrap_or_else(|p| p.into_inner()) = Some(fix);
    }

    /// Keeps why the page has no position (its geolocation error).
    pub fn set_no_fix(&self, why: NoFix) {
        *self.no_fix.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
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

    fn why_no_fix(&self) -> NoFix {
        self.no_fix
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(NoFix::NotYet)
    }

    fn conditions(&self) -> Conditions {
        *self.conditions.lock().unwrap_or_else(|p| p.into_inner())
    }
}
