//! Invariants 3 and 4: a pull never skips, even while others push; concurrent
//! edits merge by field, and same-field conflicts resolve by hybrid logical
//! clock with the loser kept and the record flagged.

use std::collections::HashMap;
use std::time::Duration;

use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ChangeOutcome, Cursor, PullItem};
use beatbook_tests::data::{house, obj};
use beatbook_tests::TestServer;
use serde_json::json;

#[tokio::test]
async fn pull_never_skips_while_several_devices_push() {
    let server = TestServer::start().await;
    let reader = server.device("o1").await;
    let writers = futures_util::future::join_all((0..4).map(|_| server.device("o1"))).await;
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);

    let pushing = tokio::spawn(async move {
        let mut ids = Vec::new();
        for round in 0..25 {
            let pushes = writers.iter().map(|w| {
                let changes: Vec<_> = (0..8)
                    .map(|i| {
                        w.upsert(
                            RecordId::new_v7(),
                            "house",
                            if i % 2 == 0 { "G1" } else { "G2" },
                            0,
                            house(&format!("户主{round}-{i}")),
                        )
                    })
                    .collect();
                ids.extend(changes.iter().map(|c| c.record_id));
                w.push(changes)
            });
            for answer in futures_util::future::join_all(pushes).await {
                answer.expect("push");
            }
        }
        let _ = done_tx.send(true);
        ids
    });

    // Pull in small pages the whole time the others push.
    let mut seen: HashMap<RecordId, usize> = HashMap::new();
    let mut cursor = Cursor(0);
    loop {
        let finished = *done_rx.borrow_and_update();
        let page = reader.pull_page(cursor, 7).await.expect("pull");
        for item in page.items {
            assert!(item.cursor() > cursor, "cursors only grow");
            if let PullItem::Record { version, .. } = item {
                *seen.entry(version.record.id).or_default() += 1;
            }
        }
        cursor = page.next;
        if finished && !page.has_more {
            break;
        }
        if !page.has_more {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let pushed = pushing.await.expect("pusher");
    assert_eq!(pushed.len(), 4 * 25 * 8);
    for id in &pushed {
        assert_eq!(seen.get(id), Some(&1), "every record seen exactly once");
    }
    assert_eq!(seen.len(), pushed.len());
}

#[tokio::test]
async fn disjoint_offline_edits_merge() {
    let server = TestServer::start().await;
    let (a, b) = (server.device("o1").await, server.device("o1").await);
    let id = RecordId::new_v7();
    a.push(vec![a.upsert(id, "house", "G1", 0, house("赵六"))])
        .await
        .expect("create");
    // Both edit revision 1 offline: a the phone, b the storeys.
    let ea = a.upsert(
        id,
        "house",
        "G1",
        1,
        obj(json!({"owner_phone": "13912345678"})),
    );
    let eb = b.upsert(id, "house", "G1", 1, obj(json!({"storeys": 5})));
    assert_eq!(
        a.push(vec![ea]).await.expect("a").results[0].outcome,
        ChangeOutcome::Accepted { revision: 2 }
    );
    assert_eq!(
        b.push(vec![eb]).await.expect("b").results[0].outcome,
        ChangeOutcome::Merged { revision: 3 }
    );
    let latest = latest_version(&a, id).await;
    assert_eq!(latest.record.values["owner_phone"], "13912345678");
    assert_eq!(latest.record.values["storeys"], 5);
    assert!(!latest.conflicted);
}

async fn latest_version(
    device: &beatbook_tests::TestDevice,
    id: RecordId,
) -> beatbook_schema::protocol::RecordVersion {
    device
        .records()
        .await
        .into_iter()
        .filter(|v| v.record.id == id)
        .max_by_key(|v| v.revision)
        .expect("record pulled")
}

#[tokio::test]
async fn same_field_conflict_goes_to_the_later_clock_and_flags_the_record() {
    let server = TestServer::start().await;
    let (a, b) = (server.device("o1").await, server.device("o1").await);
    let id = RecordId::new_v7();
    a.push(vec![a.upsert(id, "house", "G1", 0, house("孙七"))])
        .await
        .expect("create");
    // b edits first (earlier clock) but syncs last; a edits later and syncs first.
    let eb = b.upsert(id, "house", "G1", 1, obj(json!({"use": "vacant"})));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let ea = a.upsert(id, "house", "G1", 1, obj(json!({"use": "business"})));
    a.push(vec![ea]).await.expect("a");
    let answer = b.push(vec![eb]).await.expect("b");
    match &answer.results[0].outcome {
        ChangeOutcome::Conflicted {
            revision,
            conflicts,
        } => {
            assert_eq!(*revision, 3);
            assert_eq!(conflicts.len(), 1);
            assert_eq!(conflicts[0].field, "use");
            assert_eq!(conflicts[0].winning_value, "business");
            assert_eq!(conflicts[0].losing_value, "vacant");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let latest = latest_version(&a, id).await;
    assert_eq!(latest.record.values["use"], "business");
    assert!(latest.conflicted, "flagged for the supervisor");
    // Every version is kept: create, a's edit, b's losing edit.
    assert_eq!(server.history_len(id).await, 3);
}

#[tokio::test]
async fn a_clock_running_ahead_is_clamped_and_cannot_win_by_lying() {
    let server = TestServer::start().await;
    let (liar, honest) = (server.device("o1").await, server.device("o1").await);
    let id = RecordId::new_v7();
    honest
        .push(vec![honest.upsert(id, "house", "G1", 0, house("周八"))])
        .await
        .expect("create");
    let mut lie = liar.upsert(id, "house", "G1", 1, obj(json!({"owner_name": "伪造"})));
    let year_ms = 365 * 24 * 3600 * 1000;
    lie.hlc = Hlc {
        wall_ms: lie.hlc.wall_ms + year_ms,
        ..lie.hlc
    };
    liar.push(vec![lie]).await.expect("liar");
    let truth = honest.upsert(id, "house", "G1", 1, obj(json!({"owner_name": "周八八"})));
    let answer = honest.push(vec![truth]).await.expect("honest");
    let ChangeOutcome::Conflicted { conflicts, .. } = &answer.results[0].outcome else {
        panic!("expected a conflict: {answer:?}");
    };
    let liar_stamp = if conflicts[0].winning_value == "伪造" {
        conflicts[0].winner
    } else {
        conflicts[0].loser
    };
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert!(
        liar_stamp.wall_ms <= now + server.state.policy.max_clock_ahead_ms,
        "the liar's clock was clamped to the server's bound"
    );
}

#[tokio::test]
async fn deletes_are_tombstones_and_history_is_kept() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let id = RecordId::new_v7();
    device
        .push(vec![device.upsert(id, "house", "G1", 0, house("吴九"))])
        .await
        .expect("create");
    let mut delete = device.upsert(id, "house", "G1", 1, Default::default());
    delete.op = beatbook_schema::protocol::ChangeOp::Delete;
    assert_eq!(
        device.push(vec![delete]).await.expect("delete").results[0].outcome,
        ChangeOutcome::Accepted { revision: 2 }
    );
    let latest = latest_version(&device, id).await;
    assert!(latest.deleted);
    let edit = device.upsert(id, "house", "G1", 2, obj(json!({"storeys": 2})));
    let answer = device.push(vec![edit]).await.expect("edit after delete");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Rejected {
            code: beatbook_schema::protocol::ErrorCode::Conflict,
            ..
        }
    ));
    assert_eq!(server.history_len(id).await, 2);
}
