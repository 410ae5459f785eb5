//! The test servers run on the database `BEATBOOK_TEST_BACKEND` names
//! (tests/src/backend.rs), and stay on it: a restart, the binary serving a
//! seeded directory, and a test opening the store afterwards all find the
//! same database. On PostgreSQL no SQLite file appears in a data directory,
//! so no suite of the PostgreSQL pass tests SQLite by accident.

use std::path::Path;

use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::ChangeOutcome;
use beatbook_server::Database;
use beatbook_tests::backend::{open_store, Backend};
use beatbook_tests::data::house;
use beatbook_tests::process::{free_addr, seed, Org, ServerProcess};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};

/// Asserts that `database`, the database of the data directory `dir`, is
/// of the backend under test.
fn assert_on_the_backend_under_test(database: &Database, dir: &Path) {
    let sqlite_file = dir.join("beatbook.sqlite3");
    match Backend::current() {
        Backend::Sqlite => assert_eq!(database, &Database::Sqlite(sqlite_file)),
        Backend::Postgres => {
            assert!(matches!(database, Database::Postgres(_)), "{database}");
            assert!(!sqlite_file.exists(), "a SQLite file in {}", dir.display());
        }
    }
}

/// Pushes one new house record from `device` and returns its id.
async fn push_house(device: &TestDevice) -> RecordId {
    let id = RecordId::new_v7();
    let change = device.upsert(id, "house", "G1", 0, house("张三"));
    let answer = device.push(vec![change]).await.expect("push");
    assert_eq!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { revision: 1 }
    );
    id
}

#[tokio::test]
async fn a_restarted_test_server_finds_the_same_database() {
    let server = TestServer::start().await;
    let database = server.state.config.database();
    assert_on_the_backend_under_test(&database, server.data_dir());
    let id = push_house(&server.device("o1").await).await;

    let again = TestServer::restart(server.stop().await).await;
    assert_eq!(again.state.config.database(), database);
    assert_eq!(again.history_len(id).await, 1);
    let store = open_store(again.data_dir()).await.expect("the store opens");
    assert_eq!(store.record_history(id).await.expect("history").len(), 1);
}

#[tokio::test]
async fn the_binary_serves_the_database_its_directory_was_seeded_into() {
    let dir = tempfile::tempdir().expect("temp dir");
    seed(dir.path(), &Org::standard(), &[]).await;
    let mut server = ServerProcess::start(dir.path(), free_addr()).await;
    let device = TestDevice::enroll(&server.url, "o1", PASSWORD)
        .await
        .expect("an account the seed made signs in");
    let id = push_house(&device).await;
    server.stop();

    let database = beatbook_tests::backend::config(dir.path()).database();
    assert_on_the_backend_under_test(&database, dir.path());
    let store = open_store(dir.path()).await.expect("the store opens");
    assert_eq!(store.record_history(id).await.expect("history").len(), 1);
}
