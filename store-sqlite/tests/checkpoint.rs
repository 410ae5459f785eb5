//! WAL checkpoints run beside the writer, not inside its commits, and the
//! log on disk stays bounded either way.

use std::path::Path;
use std::time::{Duration, Instant};

use beatbook_store::conformance::fixture::{push, visit, world, World};
use beatbook_store::Store;
use beatbook_store_sqlite::SqliteStore;
use rusqlite::Connection;

const MIB: u64 = 1 << 20;

/// A push of about 6 MB (some 1,600 pages of log, under the 4,096 at which
/// the writer checkpoints itself).
async fn push_6_mb(store: &SqliteStore, w: &World, round: usize) {
    let note = "住户信息已核对。".repeat(1_400);
    let changes = (0..100)
        .map(|i| visit(&w.officer_a, &w.grid_a, &format!("{round}-{i} {note}")))
        .collect();
    push(store, &w.officer_a, changes).await;
}

fn wal_bytes(db: &Path) -> u64 {
    std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len())
}

/// Waits until every page of the log is copied into the database, reading
/// the log's state without checkpointing anything itself.
async fn checkpointed(db: &Path) {
    let conn = Connection::open(db).expect("open an observer");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (log, copied): (i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(NOOP)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .expect("the log's state");
        if log == copied {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint copied the log in 30 s ({copied} of {log} pages)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn records(store: &SqliteStore) -> u64 {
    let counts = store.record_counts().await.expect("counts");
    counts.get("visit").copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_pushes_the_background_thread_checkpoints_and_the_log_starts_over() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("server.db");
    let store = SqliteStore::open(&db).expect("open");
    let w = world(&store).await;
    for round in 0..6 {
        push_6_mb(&store, &w, round).await;
        checkpointed(&db).await;
    }
    // Without the background thread, nothing would checkpoint before the
    // log held 4,096 pages: three pushes, about 19 MB.
    let wal = wal_bytes(&db);
    assert!(
        wal < 12 * MIB,
        "the log starts over after each checkpoint: {wal} bytes after 36 MB"
    );
    assert_eq!(records(&store).await, 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_stream_of_pushes_the_log_stays_bounded() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("server.db");
    let store = SqliteStore::open(&db).expect("open");
    let w = world(&store).await;
    for round in 0..12 {
        push_6_mb(&store, &w, round).await;
    }
    let wal = wal_bytes(&db);
    assert!(
        wal < 32 * MIB,
        "the writer's own checkpoint bounds the log: {wal} bytes after 72 MB"
    );
    assert_eq!(records(&store).await, 1_200);
}
