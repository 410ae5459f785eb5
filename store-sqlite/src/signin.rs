//! Failed sign-ins (see [`beatbook_store::Store::reserve_signin_failure`]):
//! one row per counter and window. A reservation runs in a
//! [`write_transaction`], holding the database's write lock from its first
//! read: two handles (two server instances) reserving at once are
//! serialized, and neither decides on a count the other is about to change.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{write_transaction, Error};
use beatbook_store::{FailureCounter, FailureReservation, ReservedFailure, StoreError};

fn millis(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

fn window_start(ms: i64) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        StoreError::Corrupt(format!("sign-in window start out of range: {ms}")).into()
    })
}

pub(crate) fn reserve(
    c: &mut Connection,
    counters: &[FailureCounter],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<FailureReservation, Error> {
    let now_ms = now.timestamp_millis();
    let ended_before = now_ms.saturating_sub(millis(window));
    let tx = write_transaction(c)?;
    tx.execute(
        "DELETE FROM signin_failures WHERE window_start_ms <= ?1",
        [ended_before],
    )?;
    let mut retry_after: Option<Duration> = None;
    for counter in counters {
        let held: Option<(u32, i64)> = tx
            .query_row(
                "SELECT failures, window_start_ms FROM signin_failures WHERE key = ?1",
                [&counter.key[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((failures, start)) = held {
            if failures >= counter.limit {
                let ends = start.saturating_add(millis(window));
                let wait = Duration::from_millis(ends.saturating_sub(now_ms).max(0) as u64);
                retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
            }
        }
    }
    if let Some(retry_after) = retry_after {
        // The deletion of ended windows is kept; nothing was counted.
        tx.commit()?;
        return Ok(FailureReservation::Refused { retry_after });
    }
    let mut reserved = Vec::with_capacity(counters.len());
    for counter in counters {
        let start: i64 = tx.query_row(
            "INSERT INTO signin_failures (key, failures, window_start_ms) VALUES (?1, 1, ?2)
             ON CONFLICT (key) DO UPDATE SET failures = failures + 1
             RETURNING window_start_ms",
            params![&counter.key[..], now_ms],
            |r| r.get(0),
        )?;
        reserved.push((*counter, window_start(start)?));
    }
    tx.commit()?;
    Ok(FailureReservation::Reserved(ReservedFailure {
        counters: reserved,
    }))
}

pub(crate) fn release(c: &mut Connection, reserved: &ReservedFailure) -> Result<(), Error> {
    let tx = write_transaction(c)?;
    for (counter, start) in &reserved.counters {
        let (key, start) = (&counter.key[..], start.timestamp_millis());
        if counter.cleared_by_success {
            tx.execute(
                "DELETE FROM signin_failures WHERE key = ?1 AND window_start_ms = ?2",
                params![key, start],
            )?;
        } else {
            tx.execute(
                "UPDATE signin_failures SET failures = failures - 1
                 WHERE key = ?1 AND window_start_ms = ?2 AND failures > 0",
                params![key, start],
            )?;
            tx.execute(
                "DELETE FROM signin_failures WHERE key = ?1 AND failures <= 0",
                [key],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, TimeZone, Utc};

    use crate::SqliteStore;
    use beatbook_store::{FailureCounter, FailureReservation, ReservedFailure, Store};

    const WINDOW: Duration = Duration::from_secs(60);

    fn counter(key: u8, limit: u32, cleared_by_success: bool) -> FailureCounter {
        FailureCounter {
            key: [key; 16],
            limit,
            cleared_by_success,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0)
            .single()
            .expect("a time")
    }

    fn store(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(&dir.path().join("db.sqlite3")).expect("store opens")
    }

    async fn reserve(
        s: &SqliteStore,
        counters: &[FailureCounter],
        now: DateTime<Utc>,
    ) -> FailureReservation {
        s.reserve_signin_failure(counters.to_vec(), WINDOW, now)
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

    fn rows(dir: &tempfile::TempDir) -> u64 {
        let c = rusqlite::Connection::open(dir.path().join("db.sqlite3")).expect("open");
        c.query_row("SELECT count(*) FROM signin_failures", [], |r| r.get(0))
            .expect("count")
    }

    #[tokio::test]
    async fn a_counter_at_its_limit_refuses_counting_nothing_until_its_window_ends() {
        let dir = tempfile::tempdir().expect("dir");
        let s = store(&dir);
        let (a, b) = (counter(1, 2, false), counter(2, 10, false));
        let _one = reserved(reserve(&s, &[a, b], at(0)).await);
        let _two = reserved(reserve(&s, &[a, b], at(10)).await);
        match reserve(&s, &[a, b], at(20)).await {
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
            let _more = reserved(reserve(&s, &[b], at(21 + i)).await);
        }
        assert!(matches!(
            reserve(&s, &[b], at(30)).await,
            FailureReservation::Refused { .. }
        ));
        // `a`'s window ends at 60: a new one starts, and the ended rows go.
        let fresh = reserved(reserve(&s, &[a], at(60)).await);
        assert_eq!(fresh.counters, vec![(a, at(60))]);
        assert_eq!(rows(&dir), 1, "only the new window is kept");
    }

    #[tokio::test]
    async fn a_release_clears_or_takes_back_only_in_the_same_window() {
        let dir = tempfile::tempdir().expect("dir");
        let s = store(&dir);
        let (pair, badge) = (counter(1, 3, true), counter(2, 3, false));
        let _earlier = reserved(reserve(&s, &[pair, badge], at(0)).await);
        let _earlier = reserved(reserve(&s, &[pair, badge], at(1)).await);
        let right = reserved(reserve(&s, &[pair, badge], at(2)).await);
        s.release_signin_failure(right).await.expect("release");
        // The pair forgot all three; the badge keeps the two earlier failures.
        for t in 3..6 {
            let _f = reserved(reserve(&s, &[pair], at(t)).await);
        }
        let _third = reserved(reserve(&s, &[badge], at(6)).await);
        assert!(matches!(
            reserve(&s, &[badge], at(7)).await,
            FailureReservation::Refused { .. }
        ));
        // A release from an ended window is no credit in the next one.
        let old = reserved(reserve(&s, &[counter(3, 1, false)], at(10)).await);
        let _new = reserved(reserve(&s, &[counter(3, 1, false)], at(70)).await);
        s.release_signin_failure(old).await.expect("release");
        assert!(matches!(
            reserve(&s, &[counter(3, 1, false)], at(71)).await,
            FailureReservation::Refused { .. }
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reservations_at_once_through_two_handles_get_at_most_the_limit() {
        let dir = tempfile::tempdir().expect("dir");
        let (one, two) = (store(&dir), store(&dir));
        let c = counter(9, 5, false);
        let now = Utc::now();
        let attempts = (0..40).map(|i| {
            let s = if i % 2 == 0 { one.clone() } else { two.clone() };
            tokio::spawn(async move { s.reserve_signin_failure(vec![c], WINDOW, now).await })
        });
        let mut granted = 0;
        for a in attempts {
            if let FailureReservation::Reserved(_) = a.await.expect("task").expect("reserve") {
                granted += 1;
            }
        }
        assert_eq!(granted, 5);
    }
}
