//! Pushes that arrive together while the writer is busy (on SQLite, written
//! as one group in one transaction): each gets its own outcomes, a push that
//! fails fails alone and stores nothing, and replays answer what was stored.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use beatbook_schema::ids::{BatchId, ChangeId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, Cursor, ErrorCode};
use beatbook_schema::text::Text;
use serde_json::json;

use super::fixture::{self, push, upsert, values, visit, world, Officer, REFUSE};
use super::Backend;
use crate::{Decider, Decision, ReadScope, Store};

/// Pushes that wait together behind the busy writer in
/// [`pushes_while_the_writer_is_busy`].
pub const WAITING: usize = 8;

/// A decider that says "in" when first asked, then waits to be let go, and
/// decides as the plain decider does: it keeps the writer busy.
fn gate(by: &Officer, entered: mpsc::Sender<()>, go: mpsc::Receiver<()>) -> Decider {
    let plain = fixture::decider(by.user.id);
    let go = Mutex::new(Some(go));
    Decider::new(move |change, existing| {
        let waiting = go.lock().ok().and_then(|mut g| g.take());
        if let Some(go) = waiting {
            let _ = entered.send(());
            let _ = go.recv_timeout(Duration::from_secs(30));
        }
        plain.decide(change, existing)
    })
}

/// A decider that writes a record again at its stored revision: the store
/// must refuse the write (a revision is never handed out twice), which fails
/// the push with an error.
fn rewrites_a_stored_revision() -> Decider {
    Decider::new(|_change, existing| match &existing.record {
        Some(r) => Decision::Write {
            record: Box::new(r.clone()),
            conflicts: vec![],
            outcome: ChangeOutcome::Accepted {
                revision: r.revision,
            },
        },
        None => Decision::Answer(ChangeOutcome::Rejected {
            code: ErrorCode::Internal,
            message: Text::new("缺少记录", "the record should exist"),
            errors: vec![],
        }),
    })
}

/// One push as the scenario sends it.
struct Sent {
    batch: BatchId,
    changes: Vec<Change>,
    fails: bool,
}

/// Holds the writer busy with one push while [`WAITING`] more arrive: six of
/// new records (one also carrying a change the rules refuse), one whose
/// second change the store refuses to write (so that push fails with an
/// error), and one replaying a change of another. Checks each push's own
/// outcomes, that the failing push stored nothing, that replays of every
/// push answer the stored outcomes without deciding again, and that the log
/// holds every written version once, in cursor order.
pub async fn pushes_while_the_writer_is_busy(store: Arc<dyn Store>) {
    let w = world(store.as_ref()).await;
    let a = w.officer_a.clone();
    let existing = visit(&a, &w.grid_a, "已有记录");
    let first = push(store.as_ref(), &a, vec![existing.clone()]).await;
    assert_eq!(
        first[0].1,
        ChangeOutcome::Accepted { revision: 1 },
        "{first:?}"
    );

    let (entered_tx, entered) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    let busy = {
        let (store, a) = (store.clone(), a.clone());
        let changes = vec![visit(&a, &w.grid_a, "占用写入")];
        let gate = gate(&a, entered_tx, go_rx);
        tokio::spawn(async move {
            store
                .push(a.pusher(), BatchId::new_v7(), changes, gate)
                .await
        })
    };
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30)))
        .await
        .expect("wait")
        .expect("the busy push reached its decider");

    let mut sent = Vec::new();
    for i in 0..6 {
        let mut changes = vec![
            visit(&a, &w.grid_a, &format!("同组{i}-1")),
            visit(&a, &w.grid_a, &format!("同组{i}-2")),
        ];
        if i == 3 {
            changes.push(upsert(
                &a,
                RecordId::new_v7(),
                "visit",
                &w.grid_a,
                0,
                values(&[(REFUSE, json!(true))]),
                vec![],
            ));
        }
        sent.push(Sent {
            batch: BatchId::new_v7(),
            changes,
            fails: false,
        });
    }
    let lost_with_failure = visit(&a, &w.grid_a, "随失败回滚");
    let rewrite = upsert(
        &a,
        existing.record_id,
        "visit",
        &w.grid_a,
        1,
        values(&[("note", json!("重写"))]),
        vec![],
    );
    sent.push(Sent {
        batch: BatchId::new_v7(),
        changes: vec![lost_with_failure.clone(), rewrite],
        fails: true,
    });
    sent.push(Sent {
        batch: BatchId::new_v7(),
        changes: vec![sent[0].changes[0].clone(), visit(&a, &w.grid_a, "同组重放")],
        fails: false,
    });
    assert_eq!(sent.len(), WAITING);

    let waiting: Vec<_> = sent
        .iter()
        .map(|s| {
            let (store, a) = (store.clone(), a.clone());
            let decider = if s.fails {
                rewrites_a_stored_revision()
            } else {
                fixture::decider(a.user.id)
            };
            let (batch, changes) = (s.batch, s.changes.clone());
            tokio::spawn(async move { store.push(a.pusher(), batch, changes, decider).await })
        })
        .collect();
    // Every push is queued behind the busy writer before it is let go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    go.send(()).expect("let the busy push go");
    let busy = busy.await.expect("join").expect("the busy push");
    assert_eq!(busy[0].1, ChangeOutcome::Accepted { revision: 1 });

    let mut answers = Vec::new();
    for task in waiting {
        answers.push(task.await.expect("join"));
    }
    let accepted = |c: &Change| (c.change_id, ChangeOutcome::Accepted { revision: 1 });
    let mut stored: Vec<Vec<(ChangeId, ChangeOutcome)>> = Vec::new();
    for (i, (s, answer)) in sent.iter().zip(answers).enumerate() {
        if s.fails {
            assert!(
                answer.is_err(),
                "a push the store cannot write fails: {answer:?}"
            );
            stored.push(Vec::new());
            continue;
        }
        let outcomes = answer.unwrap_or_else(|e| panic!("push {i} failed: {e}"));
        let expected: Vec<ChangeId> = s.changes.iter().map(|c| c.change_id).collect();
        assert_eq!(
            outcomes.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            expected,
            "push {i}: one outcome per change, in order"
        );
        for (c, (_, outcome)) in s.changes.iter().zip(&outcomes) {
            let refused =
                matches!(&c.op, ChangeOp::Upsert { fields, .. } if fields.contains_key(REFUSE));
            if refused {
                assert!(
                    matches!(
                        outcome,
                        ChangeOutcome::Rejected {
                            code: ErrorCode::ValidationFailed,
                            ..
                        }
                    ),
                    "push {i}: the refused change is answered so: {outcome:?}"
                );
            } else {
                assert_eq!((c.change_id, outcome.clone()), accepted(c), "push {i}");
            }
        }
        stored.push(outcomes);
    }
    let replayed = &stored[WAITING - 1][0];
    assert_eq!(
        replayed, &stored[0][0],
        "a change pushed twice in one group is decided once"
    );

    assert!(
        store
            .record(lost_with_failure.record_id)
            .await
            .expect("record")
            .is_none(),
        "nothing of the failed push is stored"
    );
    assert_eq!(
        store
            .record_history(existing.record_id)
            .await
            .expect("history")
            .len(),
        1,
        "the refused rewrite left the record as it was"
    );

    let asked = Arc::new(AtomicUsize::new(0));
    for (s, outcomes) in sent.iter().zip(&stored).filter(|(s, _)| !s.fails) {
        let replay = store
            .push(
                a.pusher(),
                s.batch,
                s.changes.clone(),
                fixture::counting(asked.clone(), &a),
            )
            .await
            .expect("replay");
        assert_eq!(&replay, outcomes, "a replay answers the stored outcomes");
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "no replayed change is decided again"
    );

    let failed = sent.iter().find(|s| s.fails).expect("the failed push");
    let retry = store
        .push(
            a.pusher(),
            failed.batch,
            vec![lost_with_failure.clone()],
            fixture::decider(a.user.id),
        )
        .await
        .expect("the failed push's good change, sent again");
    assert_eq!(retry, vec![accepted(&lost_with_failure)]);

    let items = fixture::pull_all(store.as_ref(), ReadScope::All, Cursor(0), 7).await;
    let cursors: Vec<Cursor> = items.iter().map(|i| i.cursor()).collect();
    assert!(
        cursors.windows(2).all(|p| p[0] < p[1]),
        "cursors go up: {cursors:?}"
    );
    let versions = fixture::versions(&items);
    // The first record, the busy push's, six pushes of two, the replaying
    // push's new one, and the failed push's good change sent again.
    assert_eq!(versions.len(), 1 + 1 + 12 + 1 + 1, "{versions:?}");
    let mut ids: Vec<_> = versions.iter().map(|(id, _)| *id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), versions.len(), "each record written once");
}

/// The case: see [`pushes_while_the_writer_is_busy`].
pub async fn pushes_waiting_together_each_get_their_own_outcomes(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    pushes_while_the_writer_is_busy(fresh.store.clone()).await;
}
