//! Syncing, by hand and by itself, through one path ([`run`]): never two at
//! once, its state always on screen ([`SyncLine`]).
//!
//! By itself ([`AutoSync`]): every few minutes while the app is unlocked, and
//! at once when the face says the network came back (the web build: the
//! page's `online` event). A failure worth retrying is tried again sooner,
//! backing off from [`FIRST_RETRY`] to the interval; a server that refuses
//! the device (credentials, enrollment) is not asked again until the officer
//! syncs by hand or the network comes back. Background syncs wait while the
//! platform says the app is hidden or the battery is low. A revoked device is
//! told what it lost and closed, whoever started the sync.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use beatbook_core::sync::{Phase, Progress, SyncError};
use beatbook_core::CoreError;
use beatbook_schema::text::{Lang, Text};
use dioxus::prelude::*;
use futures_util::future::{select, Either};
use futures_util::task::AtomicWaker;

use super::errors::error_text;
use super::i18n::tr;
use super::{Ui, UiOptions};

/// How often the app syncs by itself when nothing nudges it (the default of
/// [`UiOptions::sync_every`]).
pub const INTERVAL: Duration = Duration::from_secs(10 * 60);

/// The first wait after a failed sync worth retrying; it doubles with each
/// failure, up to the interval.
pub const FIRST_RETRY: Duration = Duration::from_secs(30);

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

/// Where syncing stands, for the screen.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SyncState {
    /// Nothing running; the last sync (if any) succeeded or was not tried.
    #[default]
    Idle,
    /// A sync is running, with its latest progress.
    Running(Option<Progress>),
    /// The last sync failed in a way worth retrying; the app tries again by
    /// itself.
    Retrying(Text),
    /// The server refused the device; only the officer's sync (or the
    /// network coming back) tries again.
    Refused(Text),
    /// A background sync waited because of the device's conditions.
    Paused(Text),
}

/// Who asked for a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The officer's Sync button: every outcome is said.
    ByHand,
    /// The timer or a nudge: only what the officer must know is said.
    ByItself,
}

/// How a sync ended, for the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Synced.
    Done,
    /// Failed; worth trying again soon.
    Retry,
    /// Failed for good until something changes (or the device is gone).
    Refused,
    /// Another sync was running (or the app is locked): nothing done.
    Skipped,
}

/// The wait before the next automatic sync after `failures` failed ones in a
/// row: the interval after a success, else [`FIRST_RETRY`] doubling per
/// failure, never longer than the interval.
pub fn wait_after(failures: u32, interval: Duration) -> Duration {
    if failures == 0 {
        return interval;
    }
    FIRST_RETRY
        .saturating_mul(1u32 << (failures - 1).min(16))
        .min(interval)
}

/// The one way a sync runs, for the button and for [`AutoSync`]. Does
/// nothing while another sync runs.
pub async fn run(ui: Ui, dir: &std::path::Path, trigger: Trigger) -> Outcome {
    let mut state = ui.sync;
    let Some(core) = ui.core() else {
        return Outcome::Skipped;
    };
    if matches!(*state.peek(), SyncState::Running(_)) {
        return Outcome::Skipped;
    }
    state.set(SyncState::Running(None));
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<Progress>();
    let run = async move {
        let r = core
            .sync(&move |p| {
                let _ = tx.unbounded_send(p);
            })
            .await;
        r
    };
    let forward = async {
        while let Some(p) = futures_util::StreamExt::next(&mut rx).await {
            state.set(SyncState::Running(Some(p)));
        }
    };
    let (result, ()) = futures_util::join!(run, forward);
    let l = *ui.lang.peek();
    match result {
        Ok(r) => {
            state.set(SyncState::Idle);
            let said = if r.rejected > 0 {
                Some(tr(
                    l,
                    &format!("同步完成，{} 条被拒收，请查看草稿", r.rejected),
                    &format!("Synced; {} refused: see drafts", r.rejected),
                ))
            } else if trigger == Trigger::ByHand {
                Some(tr(
                    l,
                    &format!("同步完成：上传 {}，下载 {}", r.accepted, r.pulled),
                    &format!("Synced: {} sent, {} received", r.accepted, r.pulled),
                ))
            } else if r.accepted + r.pulled > 0 {
                Some(tr(
                    l,
                    &format!("已自动同步：上传 {}，下载 {}", r.accepted, r.pulled),
                    &format!(
                        "Synced by itself: {} sent, {} received",
                        r.accepted, r.pulled
                    ),
                ))
            } else {
                None
            };
            match said {
                Some(message) => ui.changed(message),
                // Nothing to say, but "last synced" moved.
                None => {
                    let mut revision = ui.revision;
                    *revision.write() += 1;
                }
            }
            Outcome::Done
        }
        Err(e) => {
            let text = Text::new(error_text(Lang::Zh, &e), error_text(Lang::En, &e));
            let retry = matches!(&e, CoreError::Sync(s) if s.is_retryable());
            state.set(if retry {
                SyncState::Retrying(text)
            } else {
                SyncState::Refused(text)
            });
            if trigger == Trigger::ByHand || matches!(e, CoreError::Sync(SyncError::Revoked { .. }))
            {
                ui.sync_failed(dir, &e);
            }
            if retry {
                Outcome::Retry
            } else {
                Outcome::Refused
            }
        }
    }
}

/// A sync's progress as the officer reads it.
fn progress_text(l: Lang, p: Progress) -> String {
    let done = p.done;
    match (p.phase, p.total) {
        (Phase::Uploading, Some(t)) => tr(
            l,
            &format!("上传照片 {done}/{t}"),
            &format!("sending photos {done}/{t}"),
        ),
        (Phase::Uploading, None) => tr(
            l,
            &format!("上传照片 {done}"),
            &format!("sending photos {done}"),
        ),
        (Phase::Pushing, Some(t)) => tr(
            l,
            &format!("上传记录 {done}/{t}"),
            &format!("sending records {done}/{t}"),
        ),
        (Phase::Pushing, None) => tr(
            l,
            &format!("上传记录 {done}"),
            &format!("sending records {done}"),
        ),
        (Phase::Pulling, _) => tr(l, &format!("已下载 {done}"), &format!("{done} received")),
        (Phase::Done, _) => String::new(),
    }
}

/// Runs the syncs nobody taps for; renders nothing.
#[component]
pub fn AutoSync() -> Element {
    let UiOptions {
        nudge,
        dir,
        platform,
        sync_every,
        ..
    } = use_context::<UiOptions>();
    let ui = use_context::<Ui>();
    use_future(move || {
        let (nudge, dir, platform) = (nudge.clone(), dir.clone(), platform.clone());
        async move {
            let mut failures = 0;
            loop {
                let seen = nudge.count();
                let nudged = matches!(
                    select(
                        pin!(beatbook_core::timer::sleep(wait_after(
                            failures, sync_every
                        ))),
                        pin!(nudge.after(seen)),
                    )
                    .await,
                    Either::Right(_)
                );
                if matches!(*ui.sync.peek(), SyncState::Refused(_)) && !nudged {
                    continue;
                }
                let conditions = platform.conditions();
                if ui.core().is_some() && (conditions.hidden || conditions.battery_low) {
                    let mut state = ui.sync;
                    state.set(SyncState::Paused(if conditions.battery_low {
                        Text::new(
                            "电量低，自动同步已暂停",
                            "Battery low: syncing by itself is paused",
                        )
                    } else {
                        Text::new(
                            "应用在后台，自动同步已暂停",
                            "In the background: syncing by itself is paused",
                        )
                    }));
                    continue;
                }
                match run(ui, &dir, Trigger::ByItself).await {
                    Outcome::Done => failures = 0,
                    Outcome::Retry => failures += 1,
                    Outcome::Refused | Outcome::Skipped => {}
                }
            }
        }
    });
    rsx! {}
}

/// One line under the header on every screen: when the phone last synced and
/// what syncing is doing now.
#[component]
pub fn SyncLine() -> Element {
    let ui = use_context::<Ui>();
    let l = *ui.lang.read();
    let _ = ui.revision.read();
    let state = ui.sync.read().clone();
    let Some(core) = ui.core() else {
        return rsx! {};
    };
    let status = core.status().ok();
    let offset = core.platform().offset();
    let last = status
        .as_ref()
        .and_then(|s| s.last_sync)
        .map(|t| t.with_timezone(&offset).format("%m-%d %H:%M").to_string())
        .unwrap_or_else(|| tr(l, "从未", "never"));
    let waiting = status.map_or(0, |s| s.outbox);
    let (class, detail) = match &state {
        SyncState::Idle => ("", None),
        SyncState::Running(p) => (
            "running",
            Some(format!(
                "{} {}",
                tr(l, "同步中…", "Syncing…"),
                p.map(|p| progress_text(l, p)).unwrap_or_default()
            )),
        ),
        SyncState::Retrying(t) => (
            "retrying",
            Some(format!(
                "{}{}",
                t.get(l),
                tr(l, " · 将自动重试", " · will retry by itself")
            )),
        ),
        SyncState::Refused(t) => ("refused", Some(t.get(l).to_owned())),
        SyncState::Paused(t) => ("paused", Some(t.get(l).to_owned())),
    };
    rsx! {
        div { id: "sync-line", class: "sync-line {class}", role: "status",
            span { id: "last-sync", {tr(l, "上次同步：", "Last sync: ")} "{last}" }
            if waiting > 0 { span { class: "waiting", {tr(l, &format!(" · 待上传 {waiting}"), &format!(" · {waiting} to send"))} } }
            if let Some(d) = detail { div { id: "sync-state", class: "detail", "{d}" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn failures_back_off_from_the_first_retry_to_the_interval() {
        let every = Duration::from_secs(600);
        let waits: Vec<u64> = (0..7).map(|n| wait_after(n, every).as_secs()).collect();
        assert_eq!(waits, [600, 30, 60, 120, 240, 480, 600]);
        assert_eq!(
            wait_after(40, every),
            every,
            "no overflow after many failures"
        );
        assert_eq!(
            wait_after(3, Duration::from_secs(45)),
            Duration::from_secs(45),
            "never longer than a short interval"
        );
    }

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
