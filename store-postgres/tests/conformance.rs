//! The storage conformance suite on PostgreSQL: every case on a new database
//! in the throwaway test cluster; more handles are more pools onto it, as
//! more server instances would have.

use std::sync::Arc;

use async_trait::async_trait;
use beatbook_store::conformance::{Backend, Fresh, Reopen};
use beatbook_store::Store;
use beatbook_store_postgres::{testing, PgStore};

/// Connections per pool: small, as one of several instances would have.
const POOL: usize = 4;

struct Postgres;

struct Database {
    url: String,
}

#[async_trait]
impl Reopen for Database {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            PgStore::connect(&self.url, POOL)
                .await
                .expect("another pool"),
        )
    }
}

#[async_trait]
impl Backend for Postgres {
    async fn fresh(&self) -> Fresh {
        let url = testing::fresh_database().await;
        let store = PgStore::connect(&url, POOL).await.expect("a new database");
        Fresh {
            store: Arc::new(store),
            again: Box::new(Database { url }),
        }
    }
}

beatbook_store::conformance_tests!(Postgres);
