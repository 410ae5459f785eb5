//! What differs between a phone and a desktop: location and the clock. Phone
//! builds implement [`Platform`] over the OS services; the desktop (and the
//! tests) use [`Desktop`].

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::json;

/// A position fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Latitude, WGS 84.
    pub lat: f64,
    /// Longitude, WGS 84.
    pub lon: f64,
    /// Accuracy in metres.
    pub accuracy_m: f64,
}

impl Fix {
    /// As a geopoint field value.
    pub fn to_value(self) -> serde_json::Value {
        json!({"lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m})
    }
}

/// What the device says about work in the background. A platform that
/// cannot tell reports the defaults: visible, battery fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Conditions {
    /// The app is not on screen (the screen is locked or another app is in
    /// front).
    pub hidden: bool,
    /// The battery is low and not charging.
    pub battery_low: bool,
}

/// Platform services.
pub trait Platform: Send + Sync {
    /// The current position, if the device knows it.
    fn location(&self) -> Option<Fix>;
    /// Whether background work should wait.
    fn conditions(&self) -> Conditions {
        Conditions::default()
    }
    /// The current time.
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    /// The officers' local offset (China: UTC+8), for "today".
    fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(8 * 3600)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
    }
    /// Today's local date.
    fn today(&self) -> NaiveDate {
        self.now().with_timezone(&self.offset()).date_naive()
    }
}

/// The desktop: no GPS; an optional fixed position (for demos and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Desktop {
    /// The position to report.
    pub fix: Option<Fix>,
}

impl Platform for Desktop {
    fn location(&self) -> Option<Fix> {
        self.fix
    }
}

/// Device facts as form defaults read them.
pub(crate) fn device_fact(
    platform: &dyn Platform,
    fact: beatbook_schema::form::DeviceFact,
    officer: &str,
    grid: &str,
) -> Option<serde_json::Value> {
    use beatbook_schema::form::DeviceFact;
    match fact {
        DeviceFact::Today => Some(json!(platform.today().format("%Y-%m-%d").to_string())),
        DeviceFact::Now => Some(json!(platform
            .now()
            .with_timezone(&platform.offset())
            .to_rfc3339())),
        DeviceFact::Location => platform.location().map(Fix::to_value),
        DeviceFact::Officer => Some(json!(officer)),
        DeviceFact::Grid => Some(json!(grid)),
    }
}
