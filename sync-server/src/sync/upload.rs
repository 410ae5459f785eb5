//! Completing an upload: the one path an attachment's bytes take from a
//! device's partial file into the blob directory and the store, whether a
//! device sent them to `/v1/blobs` or the demo seeder wrote them.

use beatbook_schema::ids::{DeviceId, Sha256};
use beatbook_store::{Store, StoreError};

use crate::blobs::BlobDir;

/// What became of a completed upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// The bytes match their digest: stored, and recorded for the device.
    Stored,
    /// The bytes do not match their digest: discarded, to be sent again.
    Mismatch,
}

/// Completing an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The blob directory failed.
    #[error("blob directory: {0}")]
    Io(#[from] std::io::Error),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies the `size` bytes `device` has written for `sha` and, if they
/// match, promotes them into place and records the blob complete. Promoted
/// and recorded under the digest's lock, so the janitor never removes bytes
/// between the two.
pub async fn complete_upload(
    store: &dyn Store,
    blobs: &BlobDir,
    device: DeviceId,
    sha: Sha256,
    size: u64,
    content_type: &str,
) -> Result<Completed, UploadError> {
    if blobs.hash_partial(device, &sha).await? != sha {
        blobs.discard(device, &sha).await?;
        return Ok(Completed::Mismatch);
    }
    let _blob = blobs.lock_digest(sha).await?;
    blobs.promote(device, &sha).await?;
    store.complete_blob(sha, size, content_type, device).await?;
    Ok(Completed::Stored)
}
