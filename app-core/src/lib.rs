//! The headless core of the field app: everything but the window. The UI,
//! the command line and the tests all drive the same [`Core`].

mod device;
mod error;
pub mod faults;
mod files;
pub mod hazards;
pub mod id_numbers;
pub mod idcard;
pub mod import;
pub mod index;
pub mod keys;
pub mod lockout;
pub mod map;
pub mod patrol;
pub mod photos;
pub mod platform;
pub mod prefs;
pub mod qr;
pub mod sealed;
pub mod search;
pub mod service;
pub mod session;
pub mod store;
pub mod sync;
pub mod tasks;
#[cfg(test)]
mod testing;
pub mod timer;
pub mod visit;

pub use error::{CoreError, FieldMisuse};
pub use service::{Core, Status};
pub use session::FormSession;
pub use visit::VisitOutcome;
