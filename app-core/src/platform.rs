//! What differs between a phone and a desktop: location and the clock. Phone
//! builds implement [`Platform`] over the OS services; the desktop uses
//! [`gpsd::Gpsd`] (a real receiver through the gpsd daemon) or [`Desktop`] (a
//! fixed position for demos and tests).

#[cfg(not(target_arch = "wasm32"))]
pub mod gpsd;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::json;

/// A position fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Latitude, WGS 84.
    pub lat: f64,
    /// Longitude, WGS 84.
    pub lon: f64,
    /// Accuracy in metres (the radius of 95 % confidence, or as near as the
    /// source says).
    pub accuracy_m: f64,
    /// When the position was taken; `None` for a configured position, which
    /// [`Desktop`] stamps when it is read.
    pub at: Option<DateTime<Utc>>,
}

impl Fix {
    /// As a geopoint field value: position, accuracy and time.
    pub fn to_value(self) -> serde_json::Value {
        let mut v = json!({"lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m});
        if let Some(at) = self.at {
            v["at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        v
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

/// Why there is no position fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoFix {
    /// None yet (no satellites in view, indoors, just started).
    NotYet,
    /// The officer (or the browser) refused the app the location.
    Denied,
    /// The device has no source of position, or it cannot be reached.
    Unavailable,
}

/// Platform services.
pub trait Platform: Send + Sync {
    /// The current position, if the device knows it.
    fn location(&self) -> Option<Fix>;
    /// Why [`Platform::location`] gave none.
    fn why_no_fix(&self) -> NoFix {
        NoFix::NotYet
    }
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
    fn why_no_fix(&self) -> NoFix {
        NoFix::Unavailable
    }

    fn location(&self) -> Option<Fix> {
        self.fix.map(|f| Fix {
            at: f.at.or_else(|| Some(self.now())),
            ..f
        })
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
