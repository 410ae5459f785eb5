//! Failed sign-ins (see [`beatbook_store::Store::reserve_signin_failure`]):
//! one row per counter and window, as in the SQLite backend. A reservation
//! locks its counters' rows (inserting the missing ones first, in key order,
//! so two reservations on the same keys never deadlock) and decides on the
//! locked counts: attempts reaching several instances at once are serialized
//! per counter, and at most `limit` are reserved.

use std::time::Duration;

use beatbook_store::{FailureCounter, FailureReservation, ReservedFailure, StoreError};
use chrono::{DateTime, Utc};
use deadpool_postgres::Client;

use crate::error::Error;
use crate::sql::{execute, query_one};

fn millis(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) async fn reserve(
    c: &mut Client,
    counters: &[FailureCounter],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<FailureReservation, Error> {
    let now_ms = now.timestamp_millis();
    let ended_before = now_ms.saturating_sub(millis(window));
    let mut sorted = counters.to_vec();
    sorted.sort_by_key(|c| c.key);
    let tx = c.transaction().await?;
    // Bounded storage: ended windows go (a few at a time, skipping rows
    // another reservation holds).
    execute(
        &tx,
        "DELETE FROM signin_failures WHERE key IN (
             SELECT key FROM signin_failures WHERE window_start_ms <= $1
             LIMIT 1000 FOR UPDATE SKIP LOCKED)",
        &[&ended_before],
    )
    .await?;
    let mut held = Vec::with_capacity(sorted.len());
    for counter in &sorted {
        // Creates the counter or, if it exists, locks it; an ended window
        // starts over. Either way the row is locked until commit.
        let row = query_one(
            &tx,
            "INSERT INTO signin_failures AS f (key, failures, window_start_ms) VALUES ($1, 0, $2)
             ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN f.window_start_ms <= $3 THEN 0 ELSE f.failures END,
                 window_start_ms = CASE WHEN f.window_start_ms <= $3 THEN $2 ELSE f.window_start_ms END
             RETURNING failures, window_start_ms",
            &[&&counter.key[..], &now_ms, &ended_before],
        )
        .await?;
        let (failures, start): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        held.push((counter, failures, start));
    }
    let retry_after = held
        .iter()
        .filter(|(counter, failures, _)| *failures >= i64::from(counter.limit))
        .map(|(_, _, start)| {
            let ends = start.saturating_add(millis(window));
            Duration::from_millis(u64::try_from(ends.saturating_sub(now_ms)).unwrap_or(0))
        })
        .max();
    if let Some(retry_after) = retry_after {
        // Nothing counted: the counters created above hold zero failures
        // and go with the rollback.
        tx.rollback().await?;
        return Ok(FailureReservation::Refused { retry_after });
    }
    let mut reserved = Vec::with_capacity(held.len());
    for (counter, _, start) in held {
        execute(
            &tx,
            "UPDATE signin_failures SET failures = failures + 1 WHERE key = $1",
            &[&&counter.key[..]],
        )
        .await?;
        let start = DateTime::from_timestamp_millis(start).ok_or_else(|| {
            StoreError::Corrupt(format!("sign-in window start out of range: {start}"))
        })?;
        reserved.push((*counter, start));
    }
    tx.commit().await?;
    // In the caller's order, as the SQLite backend answers.
    reserved.sort_by_key(|(c, _)| counters.iter().position(|o| o.key == c.key));
    Ok(FailureReservation::Reserved(ReservedFailure {
        counters: reserved,
    }))
}

pub(crate) async fn release(c: &mut Client, reserved: &ReservedFailure) -> Result<(), Error> {
    let tx = c.transaction().await?;
    let mut counters = reserved.counters.clone();
    counters.sort_by_key(|(c, _)| c.key);
    for (counter, start) in &counters {
        let (key, start) = (&counter.key[..], start.timestamp_millis());
        if counter.cleared_by_success {
            execute(
                &tx,
                "DELETE FROM signin_failures WHERE key = $1 AND window_start_ms = $2",
                &[&key, &start],
            )
            .await?;
        } else {
            execute(
                &tx,
                "UPDATE signin_failures SET failures = failures - 1
                 WHERE key = $1 AND window_start_ms = $2 AND failures > 0",
                &[&key, &start],
            )
            .await?;
            execute(
                &tx,
                "DELETE FROM signin_failures WHERE key = $1 AND failures <= 0",
                &[&key],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
