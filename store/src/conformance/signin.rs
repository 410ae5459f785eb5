//! Failed sign-ins counted in the store: limits within a window, all or
//! nothing, releases only in the same window, and reservations through
//! several handles at once never pass a limit together.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::Backend;
use crate::{FailureCounter, FailureReservation, ReservedFailure, Store};

const WINDOW: Duration = Duration::from_secs(60);

fn counter(key: u8, limit: u32, cleared_by_success: bool) -> FailureCounter {
    FailureCounter {
        key: [key; 16],
        limit,
        cleared_by_success,
    }
}

/// A fixed time plus `secs`: windows are decided by the `now` given.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .expect("a time")
}

async fn reserve(
    store: &dyn Store,
    counters: &[FailureCounter],
    now: DateTime<Utc>,
) -> FailureReservation {
    store
        .reserve_signin_failure(counters.to_vec(), WINDOW, now)
        .await
        .expect("reserve")
}

fn reserved(r: FailureReservation) -> ReservedFailure {
    match r {
        FailureReservation::Reserved(r) => r,
        FailureReservation::Refused { retry_after } => {
            panic!("refused, retry after {retry_after:?}")
        }
    }
}

fn is_refused(r: &FailureReservation) -> bool {
    matches!(r, FailureReservation::Refused { .. })
}

/// A counter at its limit refuses the attempt, counting nothing in its other
/// counters, with the time until its window ends; then a new window starts.
pub async fn a_counter_at_its_limit_refuses_counting_nothing_until_its_window_ends(
    backend: &dyn Backend,
) {
    let fresh = backend.fresh().await;
    let s = fresh.store.as_ref();
    let (a, b) = (counter(1, 2, false), counter(2, 10, false));
    let _one = reserved(reserve(s, &[a, b], at(0)).await);
    let _two = reserved(reserve(s, &[a, b], at(10)).await);
    match reserve(s, &[a, b], at(20)).await {
        FailureReservation::Refused { retry_after } => {
            assert_eq!(
                retry_after,
                Duration::from_secs(40),
                "the window began at 0"
            )
        }
        other => panic!("{other:?}"),
    }
    // The refused attempt counted nothing in `b`: eight more fit.
    for i in 0..8 {
        let _more = reserved(reserve(s, &[b], at(21 + i)).await);
    }
    assert!(is_refused(&reserve(s, &[b], at(30)).await));
    // `a`'s window ends at 60: a new one starts there.
    let fresh_window = reserved(reserve(s, &[a], at(60)).await);
    assert_eq!(fresh_window.counters, vec![(a, at(60))]);
}

/// A correct password clears a counter marked so and takes back one failure
/// from the others — through any handle, and only in the window it was
/// counted in.
pub async fn a_release_clears_or_takes_back_only_in_the_same_window(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let s = fresh.store.as_ref();
    let other = fresh.again.open().await;
    let (pair, badge) = (counter(1, 3, true), counter(2, 3, false));
    let _earlier = reserved(reserve(s, &[pair, badge], at(0)).await);
    let _earlier = reserved(reserve(s, &[pair, badge], at(1)).await);
    let right = reserved(reserve(s, &[pair, badge], at(2)).await);
    other.release_signin_failure(right).await.expect("release");
    // The pair forgot all three; the badge keeps the two earlier failures.
    for t in 3..6 {
        let _f = reserved(reserve(s, &[pair], at(t)).await);
    }
    let _third = reserved(reserve(s, &[badge], at(6)).await);
    assert!(is_refused(&reserve(s, &[badge], at(7)).await));
    // A release from an ended window is no credit in the next one.
    let single = counter(3, 1, false);
    let old = reserved(reserve(s, &[single], at(10)).await);
    let _new = reserved(reserve(s, &[single], at(70)).await);
    s.release_signin_failure(old).await.expect("release");
    assert!(is_refused(&reserve(s, &[single], at(71)).await));
}

/// Attempts sent at once through several handles (several server
/// instances) are reserved at most `limit` times per counter.
pub async fn reservations_at_once_through_several_handles_get_at_most_the_limit(
    backend: &dyn Backend,
) {
    let fresh = backend.fresh().await;
    let handles = [
        fresh.store.clone(),
        fresh.again.open().await,
        fresh.again.open().await,
    ];
    let (shared, own) = (counter(9, 5, false), counter(10, 100, false));
    let now = Utc::now();
    let attempts: Vec<_> = (0..42)
        .map(|i| {
            let store = handles[i % handles.len()].clone();
            tokio::spawn(async move {
                store
                    .reserve_signin_failure(vec![own, shared], WINDOW, now)
                    .await
            })
        })
        .collect();
    let mut granted = 0;
    for attempt in attempts {
        if let FailureReservation::Reserved(_) = attempt.await.expect("task").expect("reserve") {
            granted += 1;
        }
    }
    assert_eq!(granted, 5);
    // All or nothing: `own` counted only the five granted.
    let refused_own = counter(10, 5, false);
    assert!(is_refused(
        &reserve(handles[0].as_ref(), &[refused_own], now).await
    ));
    let allowed_own = counter(10, 6, false);
    let _sixth = reserved(reserve(handles[1].as_ref(), &[allowed_own], now).await);
}
