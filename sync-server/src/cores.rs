//! Turns on the CPU: one per core, shared by the routes that run heavy work
//! on a blocking thread (checking a password, deciding pushed records ahead
//! of the writer), so that a crowd of requests neither oversubscribes the CPU
//! nor grows the blocking pool by a thread, and its work's memory, per request.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

/// Runs `work` on a blocking thread once a turn is free, holding the turn
/// until the work ends — even if the caller stops waiting meanwhile (the
/// task runs on without it). A panic in `work` is resumed in the caller.
pub async fn on_a_core<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    // The turns are never closed; were they, the work would run without one.
    let turn = turns().clone().acquire_owned().await.ok();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        work()
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The process's turns, one per core.
fn turns() -> &'static Arc<Semaphore> {
    static TURNS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(cores))
    })
}
