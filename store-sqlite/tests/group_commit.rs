//! Group commit on SQLite: pushes that wait together behind a busy writer
//! are written in one durable commit (the conformance case checks their
//! outcomes on every backend; here, that they were grouped).

use std::sync::Arc;

use beatbook_store::conformance::group::{pushes_while_the_writer_is_busy, WAITING};
use beatbook_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_waiting_behind_a_busy_writer_share_one_commit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(SqliteStore::open(&dir.path().join("server.db")).expect("open"));
    pushes_while_the_writer_is_busy(store.clone()).await;
    // After the waiting pushes: a replay of each good one and the failed
    // one's change sent again, one at a time. Without groups every push
    // would be a commit of its own.
    let one_at_a_time = (WAITING - 1) + 1;
    let pushes = 1 + 1 + WAITING + one_at_a_time;
    let commits = store.push_commits() as usize;
    assert_eq!(
        commits,
        // the first push, the busy one, the group, then one at a time
        1 + 1 + 1 + one_at_a_time,
        "the {WAITING} waiting pushes are one commit ({pushes} pushes in all)"
    );
}
