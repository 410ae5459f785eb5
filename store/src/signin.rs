//! Failed sign-ins, counted in the database so that every server instance
//! on it holds the same limits: attempts spread over several instances (or
//! sent to them all at once) get no more password checks than one instance
//! would give.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// One counter of failed sign-ins that an attempt counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCounter {
    /// A hash of what the counter counts (e.g. one badge from one network);
    /// never the badge or the address itself.
    pub key: [u8; 16],
    /// Failures the counter allows within its window.
    pub limit: u32,
    /// Whether a correct password forgets the counter's earlier failures
    /// too; if not, it takes back only the failure it reserved.
    pub cleared_by_success: bool,
}

/// Failures reserved by one attempt, one per counter; hand it to
/// [`crate::Store::release_signin_failure`] when the password was right.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a reserved failure stays counted unless released"]
pub struct ReservedFailure {
    /// Each counter, with the start of the window its failure was counted in
    /// (whole milliseconds).
    pub counters: Vec<(FailureCounter, DateTime<Utc>)>,
}

/// The answer to [`crate::Store::reserve_signin_failure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReservation {
    /// A failure was counted in every counter.
    Reserved(ReservedFailure),
    /// A counter is at its limit: nothing was counted. Try again after this long.
    Refused {
        /// The longest wait among the counters at their limit: until their
        /// windows end.
        retry_after: Duration,
    },
}
