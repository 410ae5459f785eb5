//! The storage conformance suite on SQLite: every case on a new database
//! file; more handles are the same file opened again, as a second server
//! process would.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use beatbook_store::conformance::{Backend, Fresh, Reopen};
use beatbook_store::Store;
use beatbook_store_sqlite::SqliteStore;

struct Sqlite;

/// The database file, and the directory that holds it (removed on drop).
struct File {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl Reopen for File {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.path).expect("open the database again"))
    }
}

#[async_trait]
impl Backend for Sqlite {
    async fn fresh(&self) -> Fresh {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("server.db");
        let store = SqliteStore::open(&path).expect("open a new database");
        Fresh {
            store: Arc::new(store),
            again: Box::new(File { path, _dir: dir }),
        }
    }
}

beatbook_store::conformance_tests!(Sqlite);
