//! One sync: photos, then the outbox, then the pull — each step resuming from
//! what the store holds.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use web_time::Instant;

use beatbook_schema::enrollment::EnrollmentQr;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId};
use beatbook_schema::protocol::{
    ChangeOp, ChangeOutcome, CodeEnrollRequest, Cursor, EnrollRequest, EnrollResponse, ErrorCode,
    PushResponse, UserInfo,
};
use futures_util::future::maybe_done;
use futures_util::stream::{FuturesOrdered, StreamExt};
use serde::{Deserialize, Serialize};

use super::background::{background, Background};
use super::client::{Client, PushBody, SyncError};
use super::retry::RetryPolicy;
use crate::store::{Batch, BatchLimits, LocalStore, PulledItem, PulledPage, QueuedChange};
use crate::{faults, photos};

/// What enrollment leaves on the device (meta key `enrollment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// Server base URL.
    pub server: String,
    /// Device token.
    pub token: String,
    /// The officer.
    pub user: UserInfo,
}

/// What a sync is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Uploading photos.
    Uploading,
    /// Pushing the outbox.
    Pushing,
    /// Pulling changes.
    Pulling,
    /// Finished.
    Done,
}

/// Progress of a sync, for the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The step.
    pub phase: Phase,
    /// Items done in this step.
    pub done: u64,
    /// Items in this step, when known.
    pub total: Option<u64>,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Photos uploaded.
    pub uploaded: u64,
    /// Changes acknowledged as applied.
    pub accepted: u64,
    /// Of those, merged with concurrent edits.
    pub merged: u64,
    /// Of those, with a same-field conflict.
    pub conflicted: u64,
    /// Changes refused (shown on their records).
    pub rejected: u64,
    /// Items pulled.
    pub pulled: u64,
    /// Whether the pull brought form definitions or standard addresses, so
    /// the compiled forms and the address index must be rebuilt.
    #[serde(default)]
    pub references_changed: bool,
    /// Requests sent to the server, retries included (a sync with nothing
    /// to send or receive makes one: the pull that finds nothing new).
    #[serde(default)]
    pub requests: u64,
    /// Milliseconds taken.
    pub millis: u64,
}

/// Runs syncs.
#[derive(Debug, Clone)]
pub struct SyncEngine {
    /// Retry policy per request.
    pub retry: RetryPolicy,
    /// Batch size bounds.
    pub limits: BatchLimits,
    /// Most push batches on their way at once (1: each waits for the
    /// answer to the one before). With three the server has the next batch
    /// decoded while it commits one and the device records another's answer.
    pub in_flight: usize,
    /// Pull page size.
    pub page: u32,
    /// Upload chunk size, bytes.
    pub chunk: usize,
}

impl Default for SyncEngine {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            limits: BatchLimits::default(),
            in_flight: 3,
            page: 1000,
            chunk: 256 * 1024,
        }
    }
}

fn lock(store: &Mutex<LocalStore>) -> std::sync::MutexGuard<'_, LocalStore> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// Pushes sent and not yet answered, oldest first. Each runs in the
/// background ([`background`]), so several are on the wire at once and one
/// is compressed, sent and answered while the device records another's
/// answer; dropping the flights (a failed or cancelled sync) stops those
/// still running — a batch cut off is resent as it was by the next sync.
#[derive(Default)]
struct Flights {
    batches: VecDeque<Batch>,
    answers: FuturesOrdered<Background<Result<PushResponse, SyncError>>>,
}

impl Flights {
    fn len(&self) -> usize {
        self.batches.len()
    }

    fn ids(&self) -> Vec<BatchId> {
        self.batches.iter().map(|b| b.id).collect()
    }

    fn send(&mut self, batch: Batch, client: &Client, retry: RetryPolicy) -> Result<(), SyncError> {
        let json = PushBody::json(batch.id, &batch.changes)?;
        let client = client.clone();
        self.batches.push_back(batch);
        self.answers.push_back(background(async move {
            let body = PushBody::gzip(&json);
            retry.run(|| client.push(&body)).await
        }));
        Ok(())
    }

    /// The oldest batch and its answer, once it has come.
    async fn next(&mut self) -> Option<(Batch, Result<PushResponse, SyncError>)> {
        let answer = self.answers.next().await?;
        Some((self.batches.pop_front()?, answer))
    }
}

/// Marks the photos of one pushed change as not uploaded, so the next sync
/// asks the server again which of them it lacks.
fn forget_uploads(
    store: &Mutex<LocalStore>,
    changes: &[QueuedChange],
    id: ChangeId,
) -> Result<(), SyncError> {
    let Some(change) = changes.iter().find(|c| c.change_id == id) else {
        return Ok(());
    };
    let ChangeOp::Upsert { attachments, .. } = change.change()?.op else {
        return Ok(());
    };
    let s = lock(store);
    for a in attachments {
        s.mark_not_uploaded(&a.sha256)?;
    }
    Ok(())
}

/// Enrolls this device with the server; the token is kept in the store.
pub async fn enroll(
    store: &Mutex<LocalStore>,
    server: &str,
    badge: &str,
    password: &str,
    device_name: &str,
) -> Result<UserInfo, SyncError> {
    let device_id: DeviceId = lock(store).device();
    let client = Client::new(server, None)?;
    let answer = client
        .enroll(&EnrollRequest {
            badge: badge.to_owned(),
            password: password.to_owned(),
            device_id,
            device_name: device_name.to_owned(),
        })
        .await?;
    keep_enrollment(store, server, answer)
}

/// Enrolls this device with an enrollment code (read from a QR code) at
/// `qr.server`; the token is kept in the store.
pub async fn enroll_with_code(
    store: &Mutex<LocalStore>,
    qr: &EnrollmentQr,
    device_name: &str,
) -> Result<UserInfo, SyncError> {
    let device_id: DeviceId = lock(store).device();
    let client = Client::new(&qr.server, None)?;
    let answer = client
        .enroll_with_code(&CodeEnrollRequest {
            code: qr.code.clone(),
            device_id,
            device_name: device_name.to_owned(),
        })
        .await?;
    keep_enrollment(store, &qr.server, answer)
}

fn keep_enrollment(
    store: &Mutex<LocalStore>,
    server: &str,
    answer: EnrollResponse,
) -> Result<UserInfo, SyncError> {
    let enrollment = Enrollment {
        server: server.trim().trim_end_matches('/').to_owned(),
        token: answer.token,
        user: answer.user.clone(),
    };
    lock(store).set_meta("enrollment", &enrollment)?;
    Ok(answer.user)
}

/// Which steps of a sync to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Steps {
    /// Upload photos, push the outbox, then pull: a whole sync.
    #[default]
    All,
    /// Upload photos and push the outbox, without pulling (e.g. "send now"
    /// on a metered connection, or measuring the push alone).
    Send,
    /// Pull only.
    Receive,
}

impl SyncEngine {
    /// One full sync. On `device_revoked` the local data is wiped and
    /// [`SyncError::Revoked`] returned with what was lost unsent, so the
    /// caller can tell the officer.
    /// `server` overrides the enrolled server address for this sync only.
    pub async fn sync(
        &self,
        store: &Mutex<LocalStore>,
        server: Option<&str>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<SyncReport, SyncError> {
        self.run(store, server, Steps::All, progress).await
    }

    /// Some steps of a sync (see [`Steps`]), each resuming from the store as
    /// in a whole sync.
    pub async fn run(
        &self,
        store: &Mutex<LocalStore>,
        server: Option<&str>,
        steps: Steps,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<SyncReport, SyncError> {
        let started = Instant::now();
        let enrollment: Enrollment = lock(store)
            .meta("enrollment")?
            .ok_or(SyncError::NotEnrolled)?;
        let client = Client::new(server.unwrap_or(&enrollment.server), Some(enrollment.token))?;
        let mut report = SyncReport::default();
        let result = async {
            if steps != Steps::Receive {
                self.upload(store, &client, &mut report, progress).await?;
                self.push(store, &client, &mut report, progress).await?;
            }
            if steps != Steps::Send {
                self.pull(store, &client, &mut report, progress).await?;
            }
            Ok::<(), SyncError>(())
        }
        .await;
        if let Err(e) = &result {
            if e.code() == Some(ErrorCode::DeviceRevoked) {
                // A lost phone must lose its data, even what was not sent
                // yet; the officer is told exactly how much that was.
                let mut store = lock(store);
                let unsent = store.unsent()?;
                tracing::warn!(
                    unsent_records = unsent.records,
                    unsent_photos = unsent.photos,
                    "device revoked: wiping local data"
                );
                store.wipe()?;
                return Err(SyncError::Revoked { unsent });
            }
        }
        report.requests = client.requests();
        result?;
        report.millis = started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        lock(store).losable(|s| s.set_meta("last_sync", &chrono::Utc::now()))?;
        progress(Progress {
            phase: Phase::Done,
            done: 0,
            total: None,
        });
        Ok(report)
    }

    async fn upload(
        &self,
        store: &Mutex<LocalStore>,
        client: &Client,
        report: &mut SyncReport,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(), SyncError> {
        let pending = lock(store).unuploaded_attachments()?;
        if pending.is_empty() {
            return Ok(());
        }
        let hashes = pending.iter().map(|a| a.sha256).collect();
        let missing = self
            .retry
            .run(|| client.missing(Vec::clone(&hashes)))
            .await?;
        let total = missing.len() as u64;
        for (i, attachment) in pending.iter().enumerate() {
            if missing.contains(&attachment.sha256) {
                let bytes = {
                    let s = lock(store);
                    photos::load(&s.photo_dir(), s.key(), &attachment.sha256)
                        .map_err(|e| SyncError::Photo(attachment.sha256, e.to_string()))?
                };
                self.upload_one(client, attachment.sha256, &attachment.content_type, &bytes)
                    .await?;
                report.uploaded += 1;
            }
            lock(store).mark_uploaded(&attachment.sha256)?;
            progress(Progress {
                phase: Phase::Uploading,
                done: (i + 1) as u64,
                total: Some(total),
            });
        }
        Ok(())
    }

    /// Uploads one blob in chunks, asking the server where to resume first.
    async fn upload_one(
        &self,
        client: &Client,
        sha: beatbook_schema::ids::Sha256,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<(), SyncError> {
        let total = bytes.len() as u64;
        let mut offset = self.retry.run(|| client.upload_offset(sha, total)).await?;
        while !offset.complete {
            let first = offset.received;
            let end = (first as usize).saturating_add(self.chunk).min(bytes.len());
            offset = self
                .retry
                .run(|| async {
                    match client
                        .upload_range(sha, content_type, bytes, first, end)
                        .await
                    {
                        // A range past the server's bytes: ask again where it stands.
                        Err(e) if e.code() == Some(ErrorCode::RangeMismatch) => {
                            client.upload_offset(sha, total).await
                        }
                        other => other,
                    }
                })
                .await?;
            if !offset.complete && offset.received <= first {
                return Err(SyncError::Network(format!(
                    "upload of {sha} made no progress"
                )));
            }
        }
        Ok(())
    }

    async fn push(
        &self,
        store: &Mutex<LocalStore>,
        client: &Client,
        report: &mut SyncReport,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(), SyncError> {
        let total = lock(store).outbox_len()?;
        let mut done = 0u64;
        let mut deferred_rounds = 0;
        let mut flights = Flights::default();
        loop {
            // Keep the pipe full: the next batch is read and sent while the
            // server commits the ones before it.
            while flights.len() < self.in_flight.max(1) && deferred_rounds <= 1 {
                let sending = flights.ids();
                let Some(batch) = lock(store).next_batch(self.limits, &sending)? else {
                    break;
                };
                faults::checkpoint("before-push");
                flights.send(batch, client, self.retry)?;
            }
            let Some((batch, answer)) = flights.next().await else {
                return Ok(());
            };
            let answer = answer?;
            // The server has committed; the device has not recorded it yet.
            // Answers are recorded in the order the batches were made.
            faults::checkpoint("after-push");
            lock(store).apply_push(&batch, &answer.results)?;
            let mut deferred = 0;
            for r in &answer.results {
                match &r.outcome {
                    ChangeOutcome::Accepted { .. } => report.accepted += 1,
                    ChangeOutcome::Merged { .. } => {
                        report.accepted += 1;
                        report.merged += 1;
                    }
                    ChangeOutcome::Conflicted { .. } => {
                        report.accepted += 1;
                        report.conflicted += 1;
                    }
                    ChangeOutcome::Rejected { code, .. } if code.is_retryable() => {
                        deferred += 1;
                        if *code == ErrorCode::MissingBlob {
                            // The server does not count this device's photos as
                            // uploaded (e.g. they were swept): upload them again.
                            forget_uploads(store, &batch.changes, r.change_id)?;
                        }
                    }
                    ChangeOutcome::Rejected { .. } => report.rejected += 1,
                }
            }
            done += (answer.results.len() - deferred) as u64;
            progress(Progress {
                phase: Phase::Pushing,
                done,
                total: Some(total),
            });
            if deferred == answer.results.len() {
                // Nothing moved (photos still missing): after a second such
                // answer no new batch is sent; the next sync resumes.
                deferred_rounds += 1;
                if deferred_rounds <= 1 {
                    crate::timer::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    async fn pull(
        &self,
        store: &Mutex<LocalStore>,
        client: &Client,
        report: &mut SyncReport,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(), SyncError> {
        let since = lock(store).cursor()?;
        let mut fetching = Box::pin(maybe_done(self.fetch_page(client, since)));
        loop {
            fetching.as_mut().await;
            let page = fetching
                .as_mut()
                .take_output()
                .ok_or_else(|| SyncError::Network("a pulled page was taken twice".into()))??;
            report.pulled += page.items.len() as u64;
            report.references_changed |= page.items.iter().any(PulledItem::changes_references);
            if page.has_more {
                // The next page is asked for while this one is applied (polled
                // once, so that a request polled in place is on its way). The
                // cursor is stored with the page it ends, so a sync cut off
                // here loses only the request.
                fetching.set(maybe_done(self.fetch_page(client, page.next)));
                std::future::poll_fn(|cx| {
                    let _ = fetching.as_mut().poll(cx);
                    Poll::Ready(())
                })
                .await;
            }
            faults::checkpoint("before-apply-pull");
            let rescoped = lock(store).apply_pull(&page)?;
            progress(Progress {
                phase: Phase::Pulling,
                done: report.pulled,
                total: None,
            });
            // A grid added: the added grid's older records wait from cursor 0.
            if !rescoped.added.is_empty() {
                let since = lock(store).cursor()?;
                fetching.set(maybe_done(self.fetch_page(client, since)));
            } else if !page.has_more {
                return Ok(());
            }
        }
    }

    /// One page of the pull from `since`, retried, fetched and decoded in
    /// the background.
    fn fetch_page(
        &self,
        client: &Client,
        since: Cursor,
    ) -> Background<Result<PulledPage, SyncError>> {
        let (client, retry, page) = (client.clone(), self.retry, self.page);
        background(async move { retry.run(|| client.pull(since, page)).await })
    }
}
