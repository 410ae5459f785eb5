//! Beatbook's shared schema crate.
//!
//! Everything the field app and the sync server must agree on lives here: the
//! form definitions and their expression language, the national-standard
//! validators and derivations, the record envelope, and the v1 sync protocol
//! types. The crate is pure — no I/O, no async runtime, no clock reads (callers
//! pass "today" in; only [`ids`] reads the clock to mint UUIDv7s) — so it
//! compiles for every target and is tested by unit and property tests alone.
#![warn(missing_docs)]

pub mod audience;
pub mod catalogue;
pub mod division;
pub mod enrollment;
pub mod expr;
pub mod form;
pub mod geo;
pub mod hlc;
pub mod ids;
pub mod map;
pub mod merge;
pub mod normalize;
pub mod problem;
pub mod protocol;
pub mod record;
pub mod role;
pub mod task;
pub mod text;
pub mod validate;
