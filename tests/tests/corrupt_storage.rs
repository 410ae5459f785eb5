//! Stored data that cannot be read back is its own failure, said loudly: the
//! request fails with a generic answer (never a wrong one, never a silently
//! shortened page), the failure is counted in `/metrics` for an operator's
//! alert, and what was stored beside it stays readable. The corruption is
//! written straight into the server's SQLite file, as a disk or a hand edit
//! would.

use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::ChangeOutcome;
use beatbook_tests::backend::Backend;
use beatbook_tests::data::house;
use beatbook_tests::{metrics, TestServer};
use reqwest::StatusCode;

async fn corrupt_count(server: &TestServer) -> f64 {
    let page = metrics::page(&server.url).await;
    metrics::value(&page, "beatbook_storage_corrupt_total").unwrap_or(0.0)
}

#[tokio::test]
async fn a_corrupt_record_fails_its_push_loudly_and_spares_the_rest() {
    if Backend::current() != Backend::Sqlite {
        eprintln!("skipped: writes into the SQLite file itself");
        return;
    }
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let (broken, intact) = (RecordId::new_v7(), RecordId::new_v7());
    let first = device
        .push(vec![
            device.upsert(broken, "house", "G1", 0, house("房主甲")),
            device.upsert(intact, "house", "G1", 0, house("房主乙")),
        ])
        .await
        .expect("first push");
    assert!(first
        .results
        .iter()
        .all(|r| matches!(r.outcome, ChangeOutcome::Accepted { .. })));

    let db = rusqlite::Connection::open(server.data_dir().join("beatbook.sqlite3"))
        .expect("open the server's database");
    db.execute(
        "UPDATE records SET state = '{not json' WHERE id = ?1",
        [broken.to_string()],
    )
    .expect("corrupt one record");
    drop(db);
    let before = corrupt_count(&server).await;

    let edit = device
        .push(vec![device.upsert(
            broken,
            "house",
            "G1",
            1,
            house("房主丙"),
        )])
        .await
        .expect_err("an edit of a corrupt record cannot be decided");
    assert_eq!(edit.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !edit.body.message.en.contains("not json"),
        "the answer does not leak the stored bytes: {:?}",
        edit.body.message
    );
    assert_eq!(
        corrupt_count(&server).await,
        before + 1.0,
        "counted for the operator"
    );

    let fine = device
        .push(vec![device.upsert(
            intact,
            "house",
            "G1",
            1,
            house("房主丁"),
        )])
        .await
        .expect("the record beside it is still written");
    assert!(matches!(
        fine.results[0].outcome,
        ChangeOutcome::Accepted { revision: 2 }
    ));
    let pulled = device.records().await;
    assert!(
        pulled.iter().any(|v| v.record.id == broken),
        "what was acknowledged before is still pulled from the log"
    );
}
