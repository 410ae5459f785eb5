//! Settings shared by the fault-injection tests: how many trials (short in CI,
//! `BEATBOOK_FAULT_TRIALS=200` for the long mode) and the random seed
//! (`BEATBOOK_FAULT_SEED` replays a failing trial).

/// Trials to run: `short` unless `BEATBOOK_FAULT_TRIALS` says otherwise.
pub fn trials(short: usize) -> usize {
    std::env::var("BEATBOOK_FAULT_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(short)
}

/// The base seed: `BEATBOOK_FAULT_SEED`, or the clock.
pub fn seed() -> u64 {
    std::env::var("BEATBOOK_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}
