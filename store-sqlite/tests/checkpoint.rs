//! WAL checkpoints run beside the writer, not inside its commits, and the
//! log on disk stays bounded either way.

use std::path::{Path, PathBuf};
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

/// A store in a directory of its own (kept while the handle lives), with
/// the fixture's officers and grids.
async fn server() -> (tempfile::TempDir, PathBuf, SqliteStore, World) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("server.db");
    let store = SqliteStore::open(&db).expect("open");
    let w = world(&store).await;
    (dir, db, store, w)
}

async fn records(store: &SqliteStore) -> u64 {
    let counts = store.record_counts().await.expect("counts");
    counts.get("visit").copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_pushes_the_background_thread_checkpoints_and_the_log_starts_over() {
    let (_dir, db, store, w) = server().await;
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
    let (_dir, db, store, w) = server().await;
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

/// Another connection checkpointing at the same moment makes the writer's
/// own checkpoint busy. The commit before it has happened, so the push must
/// still succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_running_elsewhere_never_fails_a_push() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (_dir, db, store, w) = server().await;
    // A reader on an old snapshot keeps every checkpoint from copying the
    // new pages, so the log grows past the writer's bound while the rival
    // below holds the checkpoint lock most of the time.
    let reader = Connection::open(&db).expect("open a reader");
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
        .expect("hold a snapshot");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let rival = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let conn = Connection::open(&db).expect("open a rival checkpointer");
            while !stop.load(Ordering::Relaxed) {
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    .expect("the rival's checkpoint");
            }
        })
    };
    for round in 0..3 {
        push_6_mb(&store, &w, round).await;
    }
    // Past the bound now: every commit ends in the writer's checkpoint.
    for i in 0..200 {
        let note = format!("small {i}");
        push(
            &store,
            &w.officer_a,
            vec![visit(&w.officer_a, &w.grid_a, &note)],
        )
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    rival.join().expect("the rival checkpointer ends");
    reader.execute_batch("COMMIT").expect("end the snapshot");
    assert_eq!(records(&store).await, 500);
}
