//! Group commit. Pushes that arrive while the writer is busy wait here
//! together, and whichever of them gets the writer next writes them as one
//! group: one transaction, each push in its own savepoint (a push that fails
//! is rolled back alone and answered with its error), one durable commit.
//! Every push of a group is answered only after that commit; if the commit
//! fails, each is answered with the error and none was stored. A group is
//! bounded ([`MAX_GROUP_CHANGES`], [`MAX_GROUP_BYTES`]) so that its
//! transaction stays short; the pushes after the bound wait for the next.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use beatbook_schema::ids::ChangeId;
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome};
use beatbook_store::StoreError;
use rusqlite::Connection;
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
pub(crate) type Answer = Result<Vec<(ChangeId, ChangeOutcome)>, StoreError>;

/// A push in the queue, with where its answer goes.
pub(crate) struct Waiting {
    id: u64,
    push: Push,
    bytes: usize,
    answer: oneshot::Sender<Answer>,
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
    pub(crate) fn enqueue(self: &Arc<Self>, push: Push) -> (Ticket, oneshot::Receiver<Answer>) {
        let (answer, receiver) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = approx_bytes(&push.changes);
        lock(&self.waiting).push_back(Waiting {
            id,
            push,
            bytes,
            answer,
        });
        let ticket = Ticket {
            queue: self.clone(),
            id,
        };
        (ticket, receiver)
    }

    /// The oldest waiting pushes, within the bounds (at least one push if
    /// any waits).
    pub(crate) fn take_group(&self) -> Vec<Waiting> {
        let mut waiting = lock(&self.waiting);
        let (mut changes, mut bytes) = (0, 0);
        let mut group = Vec::new();
        while let Some(next) = waiting.front() {
            let (c, b) = (next.push.changes.len(), next.bytes);
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

    /// Durable commits of push groups since the store was opened.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Writes `group` on the writer's connection and answers each push.
    pub(crate) fn write(&self, conn: &mut Connection, group: Vec<Waiting>) {
        let (pushes, answers): (Vec<Push>, Vec<oneshot::Sender<Answer>>) =
            group.into_iter().map(|w| (w.push, w.answer)).unzip();
        match commit(conn, &pushes) {
            Ok(outcomes) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    // A push whose request went away is stored all the
                    // same; its device's replay gets the stored outcomes.
                    let _ = answer.send(outcome.map_err(StoreError::from));
                }
            }
            Err(e) => {
                let e = StoreError::from(e);
                for answer in answers {
                    let _ = answer.send(Err(copy(&e)));
                }
            }
        }
    }
}

/// One transaction for `pushes`, each in a savepoint; the answers in order.
/// An error here (the transaction's own) fails them all.
fn commit(
    conn: &mut Connection,
    pushes: &[Push],
) -> Result<Vec<Result<Vec<(ChangeId, ChangeOutcome)>, Error>>, Error> {
    let tx = conn.transaction()?;
    let mut outcomes = Vec::with_capacity(pushes.len());
    for p in pushes {
        tx.execute_batch("SAVEPOINT push")?;
        match push::apply(&tx, p) {
            Ok(results) => {
                tx.execute_batch("RELEASE push")?;
                outcomes.push(Ok(results));
            }
            Err(e) => {
                tx.execute_batch("ROLLBACK TO push; RELEASE push")?;
                outcomes.push(Err(e));
            }
        }
    }
    tx.commit()?;
    Ok(outcomes)
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
