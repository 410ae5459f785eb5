//! The demo district: a realistic, deterministic slice of Haimen District
//! (海门区, 320614) to try Beatbook with — one station, three grids named
//! after three real communities of the town centre, five accounts, and
//! thousands of records, as pure data: the accounts and what each pushes,
//! stage by stage, as protocol changes in batches, with the photos they
//! attach as bytes. The server's `demo` command applies it through the path
//! devices take, so each record is validated exactly as a device's would be.
//!
//! Content comes from a generator seeded with 42, so every plan makes the
//! same people, addresses and hazards; record and device ids are fresh
//! UUIDv7s and dates are relative to the day of planning.

mod author;
mod district;
mod gazetteer;
mod hazards;
mod households;
mod people;
mod photos;
mod places;
mod visits;

pub use author::{Author, Batch, Draft, BATCH};
pub use district::{badges, Account, District, Grid, Photo, Push, Stage};

/// The demo station's code.
pub const STATION_ID: &str = "320614-01";
/// The demo station's name.
pub const STATION_NAME: &str = "海门区公安局海门派出所";
/// The password of every demo account.
pub const PASSWORD: &str = "beatbook-demo";

/// Bounds on the demo's size.
const MIN_ADDRESSES: usize = 10;
const MAX_ADDRESSES: usize = 100_000;

/// How much to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSize {
    /// Standard addresses.
    pub addresses: usize,
    /// Households (`house` records, each on its own address, with 2–4 people
    /// unless vacant or business premises).
    pub households: usize,
    /// Safety hazards.
    pub hazards: usize,
    /// Household visits.
    pub visits: usize,
}

impl DemoSize {
    /// `addresses` addresses and `households` households, with 40 hazards
    /// and up to 12 visits.
    pub fn new(addresses: usize, households: usize) -> Self {
        Self {
            addresses,
            households,
            hazards: 40,
            visits: households.min(12),
        }
    }

    /// Refuses sizes the demo cannot make.
    pub fn check(&self) -> Result<(), PlanError> {
        if !(MIN_ADDRESSES..=MAX_ADDRESSES).contains(&self.addresses) {
            return Err(PlanError::Size(format!(
                "--addresses must be between {MIN_ADDRESSES} and {MAX_ADDRESSES}, not {}",
                self.addresses
            )));
        }
        if self.households > self.addresses {
            return Err(PlanError::Size(format!(
                "--households ({}) cannot exceed --addresses ({}): each household lives at its own address",
                self.households, self.addresses
            )));
        }
        Ok(())
    }
}

impl Default for DemoSize {
    fn default() -> Self {
        Self::new(3_000, 300)
    }
}

/// Why the demo district cannot be planned or written as changes.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The requested size makes no sense.
    #[error("{0}")]
    Size(String),
    /// The embedded gazetteer lacks the demo's places.
    #[error("gazetteer: {0}")]
    Gazetteer(String),
    /// A form the demo fills is not published.
    #[error("the server does not publish the form {0}")]
    NoForm(&'static str),
}

/// Whether [`District::plan`] would succeed for `size`: a sensible size, and
/// the demo's places in the embedded gazetteer.
pub fn check(size: &DemoSize) -> Result<(), PlanError> {
    size.check()?;
    gazetteer::demo_places()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonsense_sizes_are_refused() {
        assert!(DemoSize::new(5, 0).check().is_err());
        assert!(DemoSize::new(100, 101).check().is_err());
        assert!(DemoSize::default().check().is_ok());
        assert!(check(&DemoSize::default()).is_ok());
    }
}
