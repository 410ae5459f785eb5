//! The connection cap: at most `max_connections` connections are served at
//! once. One more is accepted and waits up to [`WAIT`] for a slot, among at
//! most [`Slots::waiting`] others; then it is closed.
//!
//! Why accept and close rather than leave extra connections in the kernel's
//! listen queue: a queued connection has no deadline the server controls, and
//! a flood of them would stand between every real client and the next free
//! slot. A short wait absorbs a burst (500 phones syncing at the start of a
//! shift); past it, the connection is closed and the client retries with
//! backoff, as it does after any network error.
//!
//! Each served connection may hold two file descriptors (its socket and,
//! during an upload, a blob file), each waiting one its socket; the cap is
//! lowered at start to fit the process's open-file limit
//! ([`fitting_cap`]), which the binary first raises to its hard maximum.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a connection beyond the cap waits for a slot.
pub const WAIT: Duration = Duration::from_secs(1);

/// File descriptors kept for everything but connections: the listener, the
/// database and its journal, logs, the blob directory.
const RESERVED_FDS: u64 = 64;

/// The slots of one server.
#[derive(Debug, Clone)]
pub struct Slots {
    serving: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
}

impl Slots {
    /// `cap` connections served at once (at least one).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            serving: Arc::new(Semaphore::new(cap)),
            waiting: Arc::new(Semaphore::new(Self::waiting(cap))),
        }
    }

    /// How many connections may wait for a slot when all `cap` are taken.
    pub fn waiting(cap: usize) -> usize {
        (cap / 4).clamp(1, 256)
    }

    /// A slot, if one is free now.
    pub fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.serving).try_acquire_owned().ok()
    }

    /// Waits up to [`WAIT`] for a slot, if there is room to wait; `None`:
    /// refuse the connection.
    pub async fn wait_for_one(&self) -> Option<OwnedSemaphorePermit> {
        let _waiting = Arc::clone(&self.waiting).try_acquire_owned().ok()?;
        tokio::time::timeout(WAIT, Arc::clone(&self.serving).acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// The largest cap, up to `wanted`, whose connections (two descriptors each,
/// plus one per waiting connection) fit in `open_files` with
/// [`RESERVED_FDS`] to spare.
pub fn fitting_cap(wanted: usize, open_files: u64) -> usize {
    let usable = open_files.saturating_sub(RESERVED_FDS);
    // 2 per served connection and 1 per waiting one (a quarter of the cap).
    let fits = usize::try_from(usable.saturating_mul(4) / 9).unwrap_or(usize::MAX);
    wanted.min(fits).max(1)
}

/// The process's open-file limit (soft), if the platform tells.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            return Some(limit.rlim_cur);
        }
    }
    None
}

/// Raises the open-file limit to its hard maximum (the soft default, often
/// 1024, would cap the server at a few hundred connections). Returns the limit
/// in force afterwards.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the struct we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
    open_file_limit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        assert_eq!(fitting_cap(4096, 1024), 426);
        assert_eq!(fitting_cap(4096, 1_048_576), 4096);
        assert_eq!(fitting_cap(20, 1024), 20);
        assert_eq!(fitting_cap(4096, 10), 1);
    }

    #[tokio::test]
    async fn beyond_the_cap_a_connection_waits_then_is_refused() {
        let slots = Slots::new(1);
        let held = slots.try_take().expect("a free slot");
        assert!(slots.try_take().is_none());
        let started = tokio::time::Instant::now();
        assert!(slots.wait_for_one().await.is_none());
        assert!(started.elapsed() >= WAIT);
        drop(held);
        assert!(slots.wait_for_one().await.is_some());
    }
}
