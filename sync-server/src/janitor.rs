//! The janitor removes what devices leave behind: unfinished uploads not
//! written to for `partial_upload_ttl_secs`, and complete blobs that no
//! version of any record carries once `unreferenced_blob_grace_secs` have
//! passed since they were last uploaded (a device uploads its photos before
//! it pushes the records that use them, so a fresh blob is not garbage yet).
//! Bytes on disk that the database does not know (the server stopped between
//! storing the bytes and recording them) go after the same grace period.
//!
//! One [`sweep`] does it all; the server runs it every
//! `janitor_interval_secs` ([`run`]) and `beatbook-server gc` runs it once.

use std::time::{Duration, SystemTime};

use beatbook_schema::ids::Sha256;
use chrono::{DateTime, Utc};

use crate::blobs::Removed;
use crate::state::AppState;
use beatbook_store::StoreError;

/// Digests handled per round trip to the store.
const BATCH: u32 = 500;

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Unfinished uploads that expired.
    pub partials: Removed,
    /// Complete blobs no record version carries.
    pub blobs: Removed,
    /// Blob files the database does not know.
    pub strays: Removed,
}

impl Sweep {
    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Why a sweep stopped early; what it removed before stays removed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The blob directory could not be read or changed.
    #[error("blob directory: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Removes expired unfinished uploads and unreferenced blobs, now.
pub async fn sweep(state: &AppState) -> Result<Sweep, SweepError> {
    let config = &state.config;
    let partials = state
        .blobs
        .expire_partials(ago(config.partial_upload_ttl_secs))
        .await?;
    let grace = ago(config.unreferenced_blob_grace_secs);
    let blobs = unreferenced(state, DateTime::<Utc>::from(grace)).await?;
    let strays = strays(state, grace).await?;
    Ok(Sweep {
        partials,
        blobs,
        strays,
    })
}

/// Sweeps every `janitor_interval_secs`, first right away, logging what
/// each sweep removed. Runs until its task is dropped.
pub async fn run(state: AppState) {
    let every = Duration::from_secs(state.config.janitor_interval_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep(&state).await {
            Ok(s) if s.is_empty() => tracing::debug!("janitor: nothing to remove"),
            Ok(s) => tracing::info!(
                partials = s.partials.files,
                partial_bytes = s.partials.bytes,
                blobs = s.blobs.files,
                blob_bytes = s.blobs.bytes,
                strays = s.strays.files,
                stray_bytes = s.strays.bytes,
                "janitor removed expired uploads and unreferenced blobs"
            ),
            Err(e) => tracing::error!(error = %e, "janitor sweep failed"),
        }
    }
}

fn ago(secs: u64) -> SystemTime {
    SystemTime::now()
        .checked_sub(Duration::from_secs(secs))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Forgets, then removes, the blobs no record version carries.
async fn unreferenced(state: &AppState, cutoff: DateTime<Utc>) -> Result<Removed, SweepError> {
    let mut removed = Removed::default();
    loop {
        let batch = state.store.unreferenced_blobs(cutoff, BATCH).await?;
        let mut progress = false;
        for sha in &batch {
            // Under the digest's lock a re-upload cannot slip in between the
            // database forgetting the blob and its bytes going.
            let _blob = state.blobs.lock_digest(*sha).await?;
            if state.store.forget_blob(*sha, cutoff).await? {
                removed.files += 1;
                removed.bytes += state.blobs.remove(sha).await?;
                progress = true;
            }
        }
        if batch.len() < BATCH as usize || !progress {
            return Ok(removed);
        }
    }
}

/// Removes blob files older than `cutoff` that the database does not record.
async fn strays(state: &AppState, cutoff: SystemTime) -> Result<Removed, SweepError> {
    let mut removed = Removed::default();
    let files = state.blobs.complete_before(cutoff).await?;
    for chunk in files.chunks(BATCH as usize) {
        let hashes: Vec<Sha256> = chunk.iter().map(|(sha, _)| *sha).collect();
        for sha in state.store.missing_blobs(hashes).await? {
            let _blob = state.blobs.lock_digest(sha).await?;
            // Recorded meanwhile (an upload finished): not a stray any more.
            if state.store.missing_blobs(vec![sha]).await?.is_empty() {
                continue;
            }
            let bytes = state.blobs.remove(&sha).await?;
            if bytes > 0 {
                removed.files += 1;
                removed.bytes += bytes;
            }
        }
    }
    Ok(removed)
}
