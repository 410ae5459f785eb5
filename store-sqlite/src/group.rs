//! Group commit. Pushes (and completed blobs, which a crowd of devices sends
//! just before its pushes) that arrive while the writer is busy wait here
//! together, and whichever of them gets the writer next writes them as one
//! group: one transaction (a write that fails is rolled back alone and
//! answered with its error, see [`commit`]), one durable commit. Every
//! write of a group is answered only after that commit; if the commit
//! fails, each is answered with the error and none was stored. A
//! group is bounded ([`MAX_GROUP_CHANGES`], [`MAX_GROUP_BYTES`]) so that its
//! transaction stays short; the writes after the bound wait for the next.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use beatbook_schema::ids::{ChangeId, DeviceId, Sha256};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome};
use beatbook_store::StoreError;
use chrono::Utc;
use rusqlite::{params, Connection, Transaction};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::push::{self, Push};
use crate::{lock, Error};

/// At most this many changes in one group (a single push larger than this
/// makes a group of its own).
pub(crate) const MAX_GROUP_CHANGES: usize = 2_000;
/// At most about this many bytes of changes (as JSON) in one group.
pub(crate) const MAX_GROUP_BYTES: usize = 8 << 20;

/// What a push is answered.
pub(crate) type PushAnswer = Result<Vec<(ChangeId, ChangeOutcome)>, StoreError>;

/// A write that waits for the writer with others.
pub(crate) enum Work {
    /// A push.
    Push(Push),
    /// A verified blob recorded as complete.
    Blob(CompletedBlob),
}

/// A blob recorded as complete, uploaded by `device`
/// ([`beatbook_store::Store::complete_blob`]).
pub(crate) struct CompletedBlob {
    pub(crate) sha: Sha256,
    pub(crate) size: u64,
    pub(crate) content_type: String,
    pub(crate) device: DeviceId,
}

/// Where a write's answer goes.
enum Reply {
    Push(oneshot::Sender<PushAnswer>),
    Blob(oneshot::Sender<Result<(), StoreError>>),
}

/// What a write did.
enum Done {
    Push(Vec<(ChangeId, ChangeOutcome)>),
    Blob,
}

impl Reply {
    fn send(self, done: Result<Done, StoreError>) {
        // An answer whose request went away is dropped: what it wrote is
        // stored all the same, and a replay gets the stored outcomes.
        match (self, done) {
            (Reply::Push(to), Ok(Done::Push(outcomes))) => {
                let _ = to.send(Ok(outcomes));
            }
            (Reply::Blob(to), Ok(Done::Blob)) => {
                let _ = to.send(Ok(()));
            }
            (Reply::Push(to), Err(e)) => {
                let _ = to.send(Err(e));
            }
            (Reply::Blob(to), Err(e)) => {
                let _ = to.send(Err(e));
            }
            (Reply::Push(to), Ok(Done::Blob)) => {
                let _ = to.send(Err(StoreError::Task(
                    "a push was answered as a blob".into(),
                )));
            }
            (Reply::Blob(to), Ok(Done::Push(_))) => {
                let _ = to.send(Err(StoreError::Task(
                    "a blob was answered as a push".into(),
                )));
            }
        }
    }
}

/// A write in the queue, with where its answer goes.
pub(crate) struct Waiting {
    id: u64,
    work: Work,
    changes: usize,
    bytes: usize,
    reply: Reply,
}

/// The pushes waiting for the writer, oldest first.
#[derive(Default)]
pub(crate) struct Queue {
    waiting: Mutex<VecDeque<Waiting>>,
    next_id: AtomicU64,
    commits: AtomicU64,
}

/// A push's place in the queue: dropping it (the request went away before
/// its push was taken into a group) takes the push out, so it is never
/// written.
pub(crate) struct Ticket {
    queue: Arc<Queue>,
    id: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.queue.waiting).retain(|w| w.id != self.id);
    }
}

impl Queue {
    /// Queues `push`; its answer arrives on the receiver.
    pub(crate) fn push(self: &Arc<Self>, push: Push) -> (Ticket, oneshot::Receiver<PushAnswer>) {
        let (answer, receiver) = oneshot::channel();
        let (changes, bytes) = (push.changes.len(), approx_bytes(&push.changes));
        let ticket = self.enqueue(Work::Push(push), changes, bytes, Reply::Push(answer));
        (ticket, receiver)
    }

    /// Queues a completed blob; its answer arrives on the receiver.
    pub(crate) fn blob(
        self: &Arc<Self>,
        blob: CompletedBlob,
    ) -> (Ticket, oneshot::Receiver<Result<(), StoreError>>) {
        let (answer, receiver) = oneshot::channel();
        let bytes = blob.content_type.len() + 200;
        let ticket = self.enqueue(Work::Blob(blob), 1, bytes, Reply::Blob(answer));
        (ticket, receiver)
    }

    fn enqueue(self: &Arc<Self>, work: Work, changes: usize, bytes: usize, reply: Reply) -> Ticket {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.waiting).push_back(Waiting {
            id,
            work,
            changes,
            bytes,
            reply,
        });
        Ticket {
            queue: self.clone(),
            id,
        }
    }

    /// The oldest waiting writes, within the bounds (at least one write if
    /// any waits).
    pub(crate) fn take_group(&self) -> Vec<Waiting> {
        let mut waiting = lock(&self.waiting);
        let (mut changes, mut bytes) = (0, 0);
        let mut group = Vec::new();
        while let Some(next) = waiting.front() {
            let (c, b) = (next.changes, next.bytes);
            if !group.is_empty() && (changes + c > MAX_GROUP_CHANGES || bytes + b > MAX_GROUP_BYTES)
            {
                break;
            }
            changes += c;
            bytes += b;
            group.extend(waiting.pop_front());
        }
        group
    }

    /// Durable commits of groups since the store was opened.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Writes `group` on the writer's connection and answers each write.
    pub(crate) fn write(&self, conn: &mut Connection, group: Vec<Waiting>) {
        let (works, replies): (Vec<Work>, Vec<Reply>) =
            group.into_iter().map(|w| (w.work, w.reply)).unzip();
        match commit(conn, &works) {
            Ok(done) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                for (reply, done) in replies.into_iter().zip(done) {
                    reply.send(done.map_err(StoreError::from));
                }
            }
            Err(e) => {
                let e = StoreError::from(e);
                for reply in replies {
                    reply.send(Err(copy(&e)));
                }
            }
        }
    }
}

/// One transaction for `works`; what each did, in order. An error here (the
/// transaction's own) fails them all.
///
/// The group is first written without savepoints: inside one, SQLite copies
/// every page a write touches to a statement journal before changing it, a
/// fifth of the writer's time for a push of edits. Writes rarely fail; when
/// one does, that transaction is rolled back and the group written again
/// with each write in its own savepoint, so the failure is rolled back alone.
fn commit(conn: &mut Connection, works: &[Work]) -> Result<Vec<Result<Done, Error>>, Error> {
    match commit_unless_one_fails(conn, works)? {
        Some(done) => Ok(done),
        None => commit_each_alone(conn, works),
    }
}

/// `works` in one transaction, committed if none failed; else rolled back
/// and `None`.
fn commit_unless_one_fails(
    conn: &mut Connection,
    works: &[Work],
) -> Result<Option<Vec<Result<Done, Error>>>, Error> {
    let tx = conn.transaction()?;
    let mut done = Vec::with_capacity(works.len());
    for work in works {
        match apply(&tx, work) {
            Ok(d) => done.push(Ok(d)),
            Err(_) => {
                tx.rollback()?;
                return Ok(None);
            }
        }
    }
    tx.commit()?;
    Ok(Some(done))
}

/// `works` in one transaction, each in a savepoint: a write that fails is
/// rolled back alone and answered with its error.
fn commit_each_alone(
    conn: &mut Connection,
    works: &[Work],
) -> Result<Vec<Result<Done, Error>>, Error> {
    let tx = conn.transaction()?;
    let mut done = Vec::with_capacity(works.len());
    for work in works {
        tx.execute_batch("SAVEPOINT write")?;
        let result = apply(&tx, work);
        if result.is_ok() {
            tx.execute_batch("RELEASE write")?;
        } else {
            tx.execute_batch("ROLLBACK TO write; RELEASE write")?;
        }
        done.push(result);
    }
    tx.commit()?;
    Ok(done)
}

fn apply(tx: &Transaction<'_>, work: &Work) -> Result<Done, Error> {
    match work {
        Work::Push(p) => push::apply(tx, p).map(Done::Push),
        Work::Blob(b) => complete_blob(tx, b).map(|()| Done::Blob),
    }
}

/// Records a verified blob as complete, uploaded by its device (uploading
/// it again renews the date).
fn complete_blob(tx: &Transaction<'_>, blob: &CompletedBlob) -> Result<(), Error> {
    let now = Utc::now().to_rfc3339();
    let hex = blob.sha.to_hex();
    tx.prepare_cached(
        "INSERT OR IGNORE INTO blobs (sha256, size, content_type, stored_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![hex, blob.size as i64, blob.content_type, now])?;
    tx.prepare_cached(
        "INSERT INTO blob_uploads (sha256, device_id, uploaded_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256, device_id) DO UPDATE SET uploaded_at = excluded.uploaded_at",
    )?
    .execute(params![hex, blob.device.to_string(), now])?;
    Ok(())
}

/// The same error again, for each push of a group that failed as a whole.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Database(m) => StoreError::Database(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Duplicate(m) => StoreError::Duplicate(m.clone()),
        StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
        StoreError::Task(m) => StoreError::Task(m.clone()),
    }
}

/// About how many bytes `changes` take as JSON (their values and an
/// envelope's worth each), without encoding them.
fn approx_bytes(changes: &[Change]) -> usize {
    const ENVELOPE: usize = 300;
    const ATTACHMENT: usize = 120;
    changes
        .iter()
        .map(|c| {
            ENVELOPE
                + match &c.op {
                    ChangeOp::Upsert {
                        fields,
                        attachments,
                    } => {
                        fields
                            .iter()
                            .map(|(k, v)| k.len() + 4 + json_len(v))
                            .sum::<usize>()
                            + attachments.len() * ATTACHMENT
                    }
                    ChangeOp::Delete => 0,
                }
        })
        .sum()
}

fn json_len(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|v| json_len(v) + 1).sum::<usize>(),
        Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, v)| k.len() + 4 + json_len(v))
                .sum::<usize>()
        }
    }
}
