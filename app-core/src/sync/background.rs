//! A request that goes on while the sync does something else. The sync's own
//! work (recording an answer, making the next batch, applying a page) is
//! synchronous: a request future polled only when the sync awaits would
//! stand still meanwhile — its body unsent, its answer undecoded. On a native
//! build inside a tokio runtime the request runs as a task of its own (on
//! another core when the runtime has one); elsewhere (the web build, whose
//! fetch the browser carries, or no runtime) it is polled in place.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

#[cfg(not(target_arch = "wasm32"))]
type InPlace<T> = futures_util::future::BoxFuture<'static, T>;
#[cfg(target_arch = "wasm32")]
type InPlace<T> = futures_util::future::LocalBoxFuture<'static, T>;

/// `fut`, running: awaiting it gives its output; dropping it stops it.
pub(crate) enum Background<T> {
    #[cfg(not(target_arch = "wasm32"))]
    Task(tokio::task::JoinHandle<T>),
    InPlace(InPlace<T>),
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn background<F>(fut: F) -> Background<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => Background::Task(runtime.spawn(fut)),
        Err(_) => Background::InPlace(Box::pin(fut)),
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn background<F>(fut: F) -> Background<F::Output>
where
    F: Future + 'static,
{
    Background::InPlace(Box::pin(fut))
}

impl<T> Future for Background<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut() {
            #[cfg(not(target_arch = "wasm32"))]
            Background::Task(task) => Pin::new(task).poll(cx).map(|done| match done {
                Ok(output) => output,
                // Only a panic ends a task early (it is aborted when dropped,
                // and then never polled): it goes on in the caller as it would
                // have in place.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }),
            Background::InPlace(fut) => fut.as_mut().poll(cx),
        }
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Background::Task(task) = self {
            task.abort();
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_goes_on_while_the_caller_is_busy() {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let running = background(async move {
            flag.store(true, Ordering::SeqCst);
            7
        });
        // Busy without awaiting, as the sync is while it records an answer.
        let start = std::time::Instant::now();
        while !done.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
            std::hint::spin_loop();
        }
        assert!(
            done.load(Ordering::SeqCst),
            "the task did not run meanwhile"
        );
        assert_eq!(running.await, 7);
    }

    #[tokio::test]
    async fn dropping_it_stops_it() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let running = background(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tx);
        });
        drop(running);
        // The task, aborted, drops its sender without waiting a minute.
        let closed = tokio::time::timeout(Duration::from_secs(5), rx).await;
        assert!(closed.is_ok(), "the dropped task still runs");
    }

    #[test]
    fn without_a_runtime_it_runs_in_place() {
        let running = background(async { 3 });
        assert!(matches!(running, Background::InPlace(_)));
        assert_eq!(block_on(running), 3);
    }

    fn block_on<F: Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(fut))
            .unwrap_or_else(|e| panic!("a runtime: {e}"))
    }
}
