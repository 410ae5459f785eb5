//! Failed sign-in throttling in bounded memory, whatever the traffic.
//!
//! Every attempt reserves a failure in three counters before its password is
//! checked: the badge from this client address, the badge from any address
//! (guessing from many addresses), and this address across badges (a flood of
//! made-up badges). When any counter has reached its limit within the window,
//! the attempt is refused (429) without costing an Argon2 check. A correct
//! password releases its reservation; anything else — a wrong password, an
//! unknown badge, a request abandoned halfway — stays counted. Because the
//! count goes up before the check, attempts sent all at once cannot slip past
//! it together.
//!
//! Counters are keyed by a 128-bit hash, so a key is 16 bytes however long the
//! badge; at most `max_entries` are kept, the oldest forgotten first. This
//! in-memory throttle is the first gate, per process: it refuses a flood
//! without a database write. An attempt it lets through reserves the same
//! counters in the store too ([`Throttle::counters`]), which holds the limits
//! across server instances and restarts (see [`crate::auth::sign_in`]).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use beatbook_store::FailureCounter;
use sha2::{Digest, Sha256};

use crate::config::Config;

/// At most this many counters by default (about 8 MB with the order queue).
pub const MAX_ENTRIES: usize = 100_000;

/// How many failures each counter allows within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures of one badge from one client address.
    pub per_badge_and_address: u32,
    /// Failures of one badge from all addresses together.
    pub per_badge: u32,
    /// Failures from one client address across all badges.
    pub per_address: u32,
    /// How long failures are remembered, from a counter's first failure.
    pub window: Duration,
    /// Most counters kept; beyond, the oldest is forgotten.
    pub max_entries: usize,
}

impl Limits {
    /// The limits a configuration sets.
    pub fn of(config: &Config) -> Self {
        Self {
            per_badge_and_address: config.login_max_failures,
            per_badge: config.login_max_failures_per_badge,
            per_address: config.login_max_failures_per_address,
            window: Duration::from_secs(config.login_window_secs),
            max_entries: MAX_ENTRIES,
        }
    }
}

/// A counter's key: a hash of what it counts.
type Key = [u8; 16];

#[derive(Debug, Clone, Copy)]
struct Counter {
    count: u32,
    since: Instant,
    /// Tells this counter from an earlier one under the same key.
    generation: u64,
}

#[derive(Debug, Default)]
struct Counters {
    map: HashMap<Key, Counter>,
    /// Keys in the order their windows started; an item whose generation is
    /// no longer in the map is stale and skipped.
    order: VecDeque<(Key, u64)>,
    next_generation: u64,
}

impl Counters {
    fn is_live(&self, key: &Key, generation: u64) -> bool {
        self.map
            .get(key)
            .is_some_and(|c| c.generation == generation)
    }

    /// Forgets counters whose window has passed (they are at the front).
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some(&(key, generation)) = self.order.front() {
            match self.map.get(&key) {
                Some(c) if c.generation == generation => {
                    if now.duration_since(c.since) < window {
                        break;
                    }
                    self.map.remove(&key);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Forgets the oldest counter.
    fn evict_oldest(&mut self) {
        while let Some((key, generation)) = self.order.pop_front() {
            if self.is_live(&key, generation) {
                self.map.remove(&key);
                return;
            }
        }
    }

    /// Adds one to `key`'s count, starting a counter if there is none.
    fn add(&mut self, key: Key, now: Instant, max_entries: usize) -> u64 {
        if let Some(c) = self.map.get_mut(&key) {
            c.count = c.count.saturating_add(1);
            return c.generation;
        }
        while self.map.len() >= max_entries.max(1) {
            self.evict_oldest();
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.map.insert(
            key,
            Counter {
                count: 1,
                since: now,
                generation,
            },
        );
        self.order.push_back((key, generation));
        // Stale items pile up only as fast as sign-ins succeed; drop them
        // before the queue outgrows the map by much.
        if self.order.len() > 2 * max_entries.max(1) {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|c| c.generation == *g));
        }
        generation
    }
}

/// A reserved failure in each of an attempt's counters; hand it back to
/// [`Throttle::succeed`] when the password was right.
#[derive(Debug)]
#[must_use = "a reservation counts as a failure unless handed to Throttle::succeed"]
pub struct Reservation {
    /// `(key, generation)` of the badge@address, badge and address counters.
    counters: [(Key, u64); 3],
}

/// Counts failed sign-ins.
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    counters: Mutex<Counters>,
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            counters: Mutex::new(Counters::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Counters) -> T) -> T {
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut counters)
    }

    /// Reserves a failure for an attempt on `badge` from `client`, or says
    /// how long to wait when one of its counters is at its limit.
    pub fn reserve(&self, badge: &str, client: IpAddr) -> Result<Reservation, Duration> {
        let l = self.limits;
        let keys = keys(badge, client);
        let maxima = [l.per_badge_and_address, l.per_badge, l.per_address];
        let now = Instant::now();
        self.with(|c| {
            c.expire(now, l.window);
            let wait = keys
                .iter()
                .zip(maxima)
                .filter_map(|(key, max)| {
                    let counter = c.map.get(key)?;
                    (counter.count >= max)
                        .then(|| l.window.saturating_sub(now.duration_since(counter.since)))
                })
                .max();
            if let Some(wait) = wait {
                return Err(wait);
            }
            Ok(Reservation {
                counters: keys.map(|key| (key, c.add(key, now, l.max_entries))),
            })
        })
    }

    /// The password was right: releases the reservation, and forgets the
    /// earlier failures of this badge from this address (an officer who
    /// mistyped is not held back by it). The badge's and the address's
    /// counts keep their earlier failures: someone else may be guessing.
    pub fn succeed(&self, reservation: Reservation) {
        let [pair, badge, address] = reservation.counters;
        self.with(|c| {
            if c.is_live(&pair.0, pair.1) {
                c.map.remove(&pair.0);
            }
            for (key, generation) in [badge, address] {
                if let Entry::Occupied(mut e) = c.map.entry(key) {
                    if e.get().generation == generation {
                        e.get_mut().count = e.get().count.saturating_sub(1);
                        if e.get().count == 0 {
                            e.remove();
                        }
                    }
                }
            }
        });
    }

    /// The counters of an attempt on `badge` from `client` as the store
    /// keeps them, with their limits: the same keys as in memory, and a
    /// correct password clears the badge@address counter there too.
    pub fn counters(&self, badge: &str, client: IpAddr) -> Vec<FailureCounter> {
        let l = self.limits;
        let [pair, badge, address] = keys(badge, client);
        vec![
            FailureCounter {
                key: pair,
                limit: l.per_badge_and_address,
                cleared_by_success: true,
            },
            FailureCounter {
                key: badge,
                limit: l.per_badge,
                cleared_by_success: false,
            },
            FailureCounter {
                key: address,
                limit: l.per_address,
                cleared_by_success: false,
            },
        ]
    }

    /// How long failures are remembered.
    pub fn window(&self) -> Duration {
        self.limits.window
    }

    /// How many counters are kept now.
    pub fn len(&self) -> usize {
        self.with(|c| c.map.len())
    }

    /// Whether no counter is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The keys of an attempt's counters: badge@address, badge, address.
fn keys(badge: &str, client: IpAddr) -> [Key; 3] {
    let network = network(client);
    [
        key(b'p', Some(badge), Some(network)),
        key(b'b', Some(badge), None),
        key(b'a', None, Some(network)),
    ]
}

fn key(kind: u8, badge: Option<&str>, network: Option<IpAddr>) -> Key {
    let mut h = Sha256::new();
    h.update([kind]);
    if let Some(badge) = badge {
        h.update((badge.len() as u64).to_le_bytes());
        h.update(badge.as_bytes());
    }
    match network {
        Some(IpAddr::V4(ip)) => h.update(ip.octets()),
        Some(IpAddr::V6(ip)) => h.update(ip.octets()),
        None => {}
    }
    let digest = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// What counts as one client address: an IPv4 address, or an IPv6 /64 (one
/// subscriber usually holds a whole /64, so its single addresses are free).
fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn limits(pair: u32, badge: u32, address: u32) -> Limits {
        Limits {
            per_badge_and_address: pair,
            per_badge: badge,
            per_address: address,
            window: Duration::from_secs(60),
            max_entries: 1_000,
        }
    }

    #[test]
    fn locks_after_max_failures_and_forgets_on_success() {
        let t = Throttle::new(limits(3, 100, 100));
        for _ in 0..2 {
            let _failed = t.reserve("a", A).expect("allowed");
        }
        let ok = t.reserve("a", A).expect("the third attempt is allowed");
        assert!(t.reserve("a", A).is_err(), "a fourth waits for the third");
        assert!(t.reserve("b", A).is_ok(), "another badge is not held");
        t.succeed(ok);
        assert!(t.reserve("a", A).is_ok(), "a success forgets the pair");
    }

    #[test]
    fn a_reservation_counts_before_the_check() {
        let t = Throttle::new(limits(5, 100, 100));
        let held: Vec<_> = (0..5).map(|_| t.reserve("s1", A).expect("five")).collect();
        let wait = t.reserve("s1", A).expect_err("the sixth is refused");
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60));
        drop(held);
        assert!(
            t.reserve("s1", A).is_err(),
            "dropped reservations stay failures"
        );
    }

    #[test]
    fn a_badge_is_limited_across_addresses_and_an_address_across_badges() {
        let t = Throttle::new(limits(5, 3, 100));
        let addresses = (1..=3).map(|i| IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)));
        for ip in addresses {
            let _failed = t.reserve("s1", ip).expect("allowed");
        }
        assert!(t.reserve("s1", B).is_err(), "the badge is held everywhere");

        let t = Throttle::new(limits(5, 100, 4));
        for i in 0..4 {
            let _failed = t.reserve(&format!("made-up-{i}"), A).expect("allowed");
        }
        assert!(t.reserve("o1", A).is_err(), "the address is held");
        assert!(t.reserve("o1", B).is_ok(), "other addresses are not");
    }

    #[test]
    fn ipv6_counts_per_64() {
        let t = Throttle::new(limits(5, 100, 2));
        let ip = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        let _one = t.reserve("x", ip(1)).expect("allowed");
        let _two = t.reserve("y", ip(2)).expect("allowed");
        assert!(t.reserve("z", ip(3)).is_err());
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(network(mapped), A);
    }

    #[test]
    fn the_window_passes() {
        let t = Throttle::new(Limits {
            window: Duration::from_millis(20),
            ..limits(1, 100, 100)
        });
        let _failed = t.reserve("a", A).expect("allowed");
        assert!(t.reserve("a", A).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(t.reserve("a", A).is_ok());
    }

    #[test]
    fn memory_is_bounded_whatever_the_badges() {
        let t = Throttle::new(Limits {
            max_entries: 50,
            ..limits(5, 100, u32::MAX)
        });
        let huge = "x".repeat(64 * 1024);
        for i in 0..1_000 {
            let _failed = t.reserve(&format!("{huge}{i}"), A).expect("allowed");
            assert!(t.len() <= 50);
        }
        let queued = t.with(|c| c.order.len());
        assert!(queued <= 100, "{queued} queue items");
        // The oldest went first: the newest badge is still counted.
        let t2 = Throttle::new(Limits {
            max_entries: 6,
            ..limits(1, 100, u32::MAX)
        });
        for badge in ["a", "b", "c"] {
            let _failed = t2.reserve(badge, A).expect("allowed");
        }
        assert!(t2.reserve("c", A).is_err(), "the newest is kept");
        let _failed = t2.reserve("d", A).expect("allowed");
        assert!(t2.reserve("a", A).is_ok(), "the oldest was forgotten");
    }

    #[test]
    fn keys_are_unambiguous() {
        assert_ne!(keys("ab", A)[1], keys("a", A)[1]);
        assert_ne!(keys("a", A)[0], keys("a", B)[0]);
        assert_eq!(keys("a", A)[2], keys("b", A)[2]);
    }
}
