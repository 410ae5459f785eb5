//! Syncing without a tap: every few minutes while the app is unlocked, and at
//! once when the face says the network came back (the web build: the page's
//! `online` event). Only when something waits in the outbox; a failure is
//! quiet (the outbox keeps everything for the next try), a success is said;
//! a revoked device is told what it lost and closed, as after a sync by hand.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use beatbook_core::sync::SyncError;
use beatbook_core::CoreError;
use dioxus::prelude::*;
use futures_util::future::select;
use futures_util::task::AtomicWaker;

use super::i18n::tr;
use super::{Ui, UiOptions};

/// How often the outbox is tried without a nudge.
pub const INTERVAL: Duration = Duration::from_secs(10 * 60);

/// A nudge to sync now, from the face to the UI (e.g. "the network is back").
/// One UI listens: a face with several sessions nudges only the last one.
#[derive(Clone, Default)]
pub struct SyncNudge(Arc<Nudges>);

#[derive(Default)]
struct Nudges {
    count: AtomicU64,
    waker: AtomicWaker,
}

impl SyncNudge {
    /// Asks for a sync now.
    pub fn nudge(&self) {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        self.0.waker.wake();
    }

    fn count(&self) -> u64 {
        self.0.count.load(Ordering::SeqCst)
    }

    /// Resolves once there was a nudge after `seen` of them.
    async fn after(&self, seen: u64) {
        poll_fn(|cx| {
            self.0.waker.register(cx.waker());
            if self.count() != seen {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Runs the syncs; renders nothing.
#[component]
pub fn AutoSync() -> Element {
    let UiOptions { nudge, dir, .. } = use_context::<UiOptions>();
    let ui = use_context::<Ui>();
    use_future(move || {
        let (nudge, dir) = (nudge.clone(), dir.clone());
        async move {
            loop {
                let seen = nudge.count();
                select(
                    pin!(beatbook_core::timer::sleep(INTERVAL)),
                    pin!(nudge.after(seen)),
                )
                .await;
                let Some(core) = ui.core() else { continue };
                if !matches!(core.status(), Ok(s) if s.outbox > 0) {
                    continue;
                }
                let result = core.sync(&|_| {}).await;
                drop(core);
                match result {
                    Ok(r) => {
                        let l = *ui.lang.peek();
                        ui.changed(tr(
                            l,
                            &format!("已自动同步：上传 {}，下载 {}", r.accepted, r.pulled),
                            &format!(
                                "Synced by itself: {} sent, {} received",
                                r.accepted, r.pulled
                            ),
                        ));
                    }
                    // Quiet on failure, but a revoked device must be told what it lost.
                    Err(e @ CoreError::Sync(SyncError::Revoked { .. })) => ui.sync_failed(&dir, &e),
                    Err(_) => {}
                }
            }
        }
    });
    rsx! {}
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn a_nudge_ends_the_wait_for_one_and_only_once() {
        let nudge = SyncNudge::default();
        let seen = nudge.count();
        assert!(nudge.after(seen).now_or_never().is_none(), "no nudge yet");
        nudge.clone().nudge();
        assert!(
            nudge.after(seen).now_or_never().is_some(),
            "a clone's nudge counts"
        );
        assert!(
            nudge.after(nudge.count()).now_or_never().is_none(),
            "a seen nudge does not end the next wait"
        );
    }
}
