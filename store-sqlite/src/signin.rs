//! Failed sign-ins (see [`beatbook_store::Store::reserve_signin_failure`]):
//! one row per counter and window. A reservation runs in one of the
//! writer's transactions, which are IMMEDIATE: it holds the database's write
//! lock from its first read, so two handles (two server instances) reserving
//! at once are serialized, and neither decides on a count the other is about
//! to change.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::Error;
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
    let tx = c.transaction()?;
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
    let tx = c.transaction()?;
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

    use chrono::{TimeZone, Utc};

    use crate::SqliteStore;
    use beatbook_store::{FailureCounter, FailureReservation, Store};

    /// The contract's cases run in the conformance suite; what only this
    /// backend can show is its table: ended windows leave no rows.
    #[tokio::test]
    async fn rows_of_ended_windows_are_deleted() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db.sqlite3");
        let store = SqliteStore::open(&path).expect("store opens");
        let window = Duration::from_secs(60);
        let at = |secs| {
            Utc.timestamp_opt(1_800_000_000 + secs, 0)
                .single()
                .expect("a time")
        };
        for key in 0..50u8 {
            let counter = FailureCounter {
                key: [key; 16],
                limit: 5,
                cleared_by_success: false,
            };
            let r = store
                .reserve_signin_failure(vec![counter], window, at(i64::from(key)))
                .await
                .expect("reserve");
            assert!(matches!(r, FailureReservation::Reserved(_)));
        }
        let rows = || -> u64 {
            let c = rusqlite::Connection::open(&path).expect("open");
            c.query_row("SELECT count(*) FROM signin_failures", [], |r| r.get(0))
                .expect("count")
        };
        assert_eq!(rows(), 50);
        // At 100, the windows begun at 40 or before have ended: 41..=49 stay.
        let late = FailureCounter {
            key: [200; 16],
            limit: 5,
            cleared_by_success: false,
        };
        let _ = store
            .reserve_signin_failure(vec![late], window, at(100))
            .await
            .expect("reserve");
        assert_eq!(rows(), 9 + 1);
    }
}
