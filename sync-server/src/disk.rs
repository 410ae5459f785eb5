//! Free space on the data directory's filesystem: photos are refused while
//! there is still room for the database, so a full disk never costs a
//! record that was already acknowledged.

use std::path::Path;

/// Bytes available to the server (not to root) on the filesystem holding
/// `path`, or `None` where the platform cannot tell.
pub fn free_bytes(path: &Path) -> Option<u64> {
    match available(path) {
        Ok(free) => free,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the free disk space");
            None
        }
    }
}

#[cfg(unix)]
fn available(path: &Path) -> std::io::Result<Option<u64>> {
    let st = rustix::fs::statvfs(path)?;
    Ok(Some(st.f_bavail.saturating_mul(st.f_frsize)))
}

#[cfg(not(unix))]
fn available(_path: &Path) -> std::io::Result<Option<u64>> {
    Ok(None)
}

/// Whether writing `incoming` more bytes under `path` leaves at least
/// `floor` bytes free. An unknown free space counts as room: refusing every
/// upload because a platform cannot say would be worse than the risk.
pub fn has_room(path: &Path, incoming: u64, floor: u64) -> bool {
    free_bytes(path).is_none_or(|free| free.saturating_sub(incoming) >= floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_above_the_free_space_leaves_no_room() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).expect("the temp dir's free space");
        assert!(free > 0);
        assert!(has_room(&dir, 0, 0));
        assert!(!has_room(&dir, 0, u64::MAX));
        assert!(!has_room(&dir, u64::MAX, 1));
    }
}
