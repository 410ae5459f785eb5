//! Turns on the CPU: one per core, shared by the routes that run heavy work
//! on a blocking thread (checking a password, deciding pushed records ahead
//! of the writer), so that a crowd of requests neither oversubscribes the CPU
//! nor grows the blocking pool by a thread, and its work's memory, per request.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

/// The process's turns, one per core.
pub fn turns() -> &'static Arc<Semaphore> {
    static TURNS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(cores))
    })
}
