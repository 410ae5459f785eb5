//! Hybrid logical clock (Kulkarni et al., 2014). Orders concurrent edits of the
//! same field without trusting any one device's wall clock: a timestamp is
//! `(wall_ms, counter, device)`, compared in that order, so ties break
//! deterministically. The server clamps timestamps that run ahead of its own
//! clock by more than a bound, so a skewed device cannot win by lying about time.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::ids::DeviceId;

/// A hybrid logical clock timestamp.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch, the physical part.
    pub wall_ms: u64,
    /// Logical counter for events within the same millisecond.
    pub counter: u32,
    /// The device that issued the timestamp; breaks exact ties.
    pub device: DeviceId,
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.wall_ms, self.counter, self.device).cmp(&(other.wall_ms, other.counter, other.device))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hlc {
    /// The first timestamp of a device that has seen nothing yet.
    pub fn zero(device: DeviceId) -> Self {
        Self {
            wall_ms: 0,
            counter: 0,
            device,
        }
    }

    /// The timestamp for a new local event, given the last one issued and the
    /// current wall clock. Monotonic even when the wall clock steps back.
    pub fn tick(self, now_ms: u64) -> Self {
        if now_ms > self.wall_ms {
            Self {
                wall_ms: now_ms,
                counter: 0,
                device: self.device,
            }
        } else {
            self.bump()
        }
    }

    /// Merges a timestamp received from elsewhere into the local clock, so
    /// the next local event orders after everything this device has seen.
    pub fn observe(self, remote: Hlc, now_ms: u64) -> Self {
        let wall = now_ms.max(self.wall_ms).max(remote.wall_ms);
        let counter = if wall == self.wall_ms && wall == remote.wall_ms {
            self.counter.max(remote.counter).saturating_add(1)
        } else if wall == self.wall_ms {
            self.counter.saturating_add(1)
        } else if wall == remote.wall_ms {
            remote.counter.saturating_add(1)
        } else {
            0
        };
        Self {
            wall_ms: wall,
            counter,
            device: self.device,
        }
    }

    /// Caps a timestamp that claims to be further ahead of the server clock
    /// than `max_ahead_ms`. The clamped stamp keeps its counter and device so
    /// ties still break deterministically.
    pub fn clamp(self, server_now_ms: u64, max_ahead_ms: u64) -> Self {
        let limit = server_now_ms.saturating_add(max_ahead_ms);
        if self.wall_ms > limit {
            Self {
                wall_ms: limit,
                ..self
            }
        } else {
            self
        }
    }

    fn bump(self) -> Self {
        match self.counter.checked_add(1) {
            Some(counter) => Self { counter, ..self },
            // Counter exhausted within one millisecond: borrow the next one.
            None => Self {
                wall_ms: self.wall_ms.saturating_add(1),
                counter: 0,
                device: self.device,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn dev(n: u128) -> DeviceId {
        DeviceId(Uuid::from_u128(n))
    }

    #[test]
    fn tick_is_monotonic_when_the_wall_clock_steps_back() {
        let a = Hlc::zero(dev(1)).tick(1_000);
        let b = a.tick(900);
        let c = b.tick(900);
        assert!(a < b && b < c);
        assert_eq!(c.wall_ms, 1_000);
    }

    #[test]
    fn observe_orders_after_remote() {
        let local = Hlc::zero(dev(1)).tick(1_000);
        let remote = Hlc {
            wall_ms: 5_000,
            counter: 7,
            device: dev(2),
        };
        let next = local.observe(remote, 1_200);
        assert!(next > remote);
        assert_eq!(next.device, dev(1));
    }

    #[test]
    fn clamp_caps_a_clock_running_ahead() {
        let liar = Hlc {
            wall_ms: 10_000_000,
            counter: 3,
            device: dev(9),
        };
        let clamped = liar.clamp(1_000, 60_000);
        assert_eq!(clamped.wall_ms, 61_000);
        assert_eq!(clamped.counter, 3);
        let honest = Hlc {
            wall_ms: 2_000,
            ..liar
        };
        assert_eq!(honest.clamp(1_000, 60_000), honest);
    }

    #[test]
    fn ties_break_by_device() {
        let a = Hlc {
            wall_ms: 5,
            counter: 1,
            device: dev(1),
        };
        let b = Hlc {
            device: dev(2),
            ..a
        };
        assert!(a < b);
    }

    proptest! {
        #[test]
        fn ticks_strictly_increase(nows in proptest::collection::vec(0u64..10_000, 1..50)) {
            let mut clock = Hlc::zero(dev(1));
            for now in nows {
                let next = clock.tick(now);
                prop_assert!(next > clock);
                clock = next;
            }
        }
    }
}
