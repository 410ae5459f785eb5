//! Invariants 1 and 2: nothing acknowledged is lost, and replaying a push —
//! whole, in part, concurrently, or after a lost answer — changes nothing more.

use beatbook_schema::ids::{BatchId, RecordId};
use beatbook_schema::protocol::{ChangeOutcome, PushRequest};
use beatbook_tests::data::{house, person};
use beatbook_tests::proxy::{Fault, FaultyProxy};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};

fn batch_of(device: &TestDevice, n: usize) -> PushRequest {
    PushRequest {
        batch_id: BatchId::new_v7(),
        changes: (0..n)
            .map(|i| {
                device.upsert(
                    RecordId::new_v7(),
                    "house",
                    "G1",
                    0,
                    house(&format!("房主{i}")),
                )
            })
            .collect(),
    }
}

#[tokio::test]
async fn replayed_batch_is_stored_once_with_the_same_answer() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let batch = batch_of(&device, 5);
    let first = device.push_batch(&batch).await.expect("push");
    assert!(first
        .results
        .iter()
        .all(|r| r.outcome == ChangeOutcome::Accepted { revision: 1 }));
    for _ in 0..3 {
        let again = device.push_batch(&batch).await.expect("replay");
        assert_eq!(again, first, "a replay answers exactly as the first push");
    }
    for c in &batch.changes {
        assert_eq!(server.history_len(c.record_id).await, 1, "stored once");
    }
    assert_eq!(device.records().await.len(), 5);
}

#[tokio::test]
async fn partly_replayed_batch_stores_only_the_new_changes() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let full = batch_of(&device, 6);
    let first_half = PushRequest {
        batch_id: full.batch_id,
        changes: full.changes[..3].to_vec(),
    };
    device.push_batch(&first_half).await.expect("first half");
    let all = device.push_batch(&full).await.expect("whole batch");
    assert_eq!(all.results.len(), 6);
    assert!(all
        .results
        .iter()
        .all(|r| r.outcome == ChangeOutcome::Accepted { revision: 1 }));
    assert_eq!(device.records().await.len(), 6);
    let batches = server.state.store.batches(10).await.expect("batches");
    assert_eq!(batches.len(), 1);
    assert_eq!(
        batches[0].stored, 6,
        "each change counted once in its batch"
    );
}

#[tokio::test]
async fn concurrent_replays_are_stored_once() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let batch = batch_of(&device, 20);
    let pushes = (0..8).map(|_| device.push_batch(&batch));
    let answers = futures_util::future::join_all(pushes).await;
    let first = answers[0].as_ref().expect("push");
    for a in &answers {
        assert_eq!(a.as_ref().expect("push"), first);
    }
    for c in &batch.changes {
        assert_eq!(server.history_len(c.record_id).await, 1);
    }
    assert_eq!(device.records().await.len(), 20);
}

#[tokio::test]
async fn answer_lost_after_commit_then_retried_is_not_duplicated() {
    let server = TestServer::start().await;
    let proxy = FaultyProxy::start(server.addr, Fault::LoseAnswer, 1, b"POST /v1/push").await;
    // The device talks through the proxy, which loses the first answer.
    let direct = server.device("o1").await;
    let device = direct.via(&proxy.url);
    let house_id = RecordId::new_v7();
    let batch = PushRequest {
        batch_id: BatchId::new_v7(),
        changes: vec![
            device.upsert(house_id, "house", "G1", 0, house("王芳")),
            device.upsert(
                RecordId::new_v7(),
                "person",
                "G1",
                0,
                person(house_id, "王芳", 22),
            ),
        ],
    };
    let lost = device
        .request(reqwest::Method::POST, "/v1/push")
        .json(&batch)
        .send()
        .await;
    assert!(lost.is_err(), "the first answer never arrives");
    assert_eq!(proxy.hurt(), 1);
    // The server committed anyway; the retry gets the original answer.
    let retry = device.push_batch(&batch).await.expect("retry");
    assert!(retry
        .results
        .iter()
        .all(|r| r.outcome == ChangeOutcome::Accepted { revision: 1 }));
    for c in &batch.changes {
        assert_eq!(server.history_len(c.record_id).await, 1);
    }
}

#[tokio::test]
async fn acknowledged_records_survive_a_server_restart() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let batch = batch_of(&device, 10);
    device.push_batch(&batch).await.expect("push");
    let dir = server.stop().await;
    let server = TestServer::restart(dir).await;
    let device = TestDevice::enroll(&server.url, "o1", PASSWORD)
        .await
        .expect("enroll again");
    assert_eq!(device.records().await.len(), 10);
    let again = device
        .push_batch(&batch)
        .await
        .expect("replay after restart");
    assert!(again
        .results
        .iter()
        .all(|r| r.outcome == ChangeOutcome::Accepted { revision: 1 }));
    assert_eq!(device.records().await.len(), 10);
}

#[tokio::test]
async fn one_invalid_change_does_not_block_the_batch() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let mut bad = house("李雷");
    bad.insert("owner_id_number".into(), "32061419700101001X".into());
    let batch = PushRequest {
        batch_id: BatchId::new_v7(),
        changes: vec![
            device.upsert(RecordId::new_v7(), "house", "G1", 0, house("韩梅梅")),
            device.upsert(RecordId::new_v7(), "house", "G1", 0, bad),
            device.upsert(RecordId::new_v7(), "house", "G1", 0, house("张三")),
        ],
    };
    let answer = device.push_batch(&batch).await.expect("push");
    assert_eq!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { revision: 1 }
    );
    match &answer.results[1].outcome {
        ChangeOutcome::Rejected { code, errors, .. } => {
            assert_eq!(
                *code,
                beatbook_schema::protocol::ErrorCode::ValidationFailed
            );
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].path, "owner_id_number");
            assert!(
                errors[0].message.en.contains("check character should be"),
                "{:?}",
                errors[0]
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(
        answer.results[2].outcome,
        ChangeOutcome::Accepted { revision: 1 }
    );
    assert_eq!(device.records().await.len(), 2);
}

#[tokio::test]
async fn a_change_id_held_twice_in_one_push_stores_the_first_change_only() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let stored = device.upsert(RecordId::new_v7(), "house", "G1", 0, house("乙"));
    let b = stored.record_id;
    device
        .push_batch(&PushRequest {
            batch_id: BatchId::new_v7(),
            changes: vec![stored],
        })
        .await
        .expect("push B");

    // A new record's change, and under its id a change that would make the
    // stored record B anew: only the first is a change; the second is its replay.
    let first = device.upsert(RecordId::new_v7(), "house", "G1", 0, house("甲"));
    let a = first.record_id;
    let twin = beatbook_schema::protocol::Change {
        record_id: b,
        op: device.upsert(b, "house", "G1", 0, house("乙改")).op,
        ..first.clone()
    };
    let answer = device
        .push_batch(&PushRequest {
            batch_id: BatchId::new_v7(),
            changes: vec![first, twin],
        })
        .await
        .expect("push");
    assert_eq!(answer.results.len(), 2);
    assert!(answer
        .results
        .iter()
        .all(|r| r.outcome == ChangeOutcome::Accepted { revision: 1 }));

    let records = device.records().await;
    let owner = |id: RecordId| {
        records
            .iter()
            .find(|v| v.record.id == id)
            .map(|v| v.record.values["owner_name"].clone())
    };
    assert_eq!(owner(a), Some("甲".into()));
    assert_eq!(owner(b), Some("乙".into()), "B is as first stored");
    assert_eq!(server.history_len(b).await, 1, "B was not written again");
}
