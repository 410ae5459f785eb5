//! The PostgreSQL backend: several server instances, each with its own pool
//! ([`PgStore`]), sharing nothing but the database. It keeps the same
//! contract as the SQLite backend — same tables, same ordering, same paging —
//! but where SQLite has one writer, here many transactions write at once, so
//! two things the single writer gave for free are made explicit.
//!
//! **Cursors in commit order: the log head row.** A change-log cursor from a
//! sequence is taken before commit, so transactions commit out of cursor
//! order and a reader that saw cursor 4 could miss 3 committing later.
//! Instead every transaction that appends to the log (push, review, a
//! server-side edit, publishing a form) does all its other work first, then,
//! as its last step, `UPDATE log_head SET cursor = cursor + n RETURNING
//! cursor`, writes its log items with cursors `old + 1 ..= new` (and the
//! record versions that point at them), and commits. The row lock is held
//! until commit, and PostgreSQL makes a commit visible before it releases
//! the transaction's locks, so the next writer's cursors become visible
//! only after these: cursors become visible in cursor order. A pull is then
//! a plain `WHERE cursor > $since ORDER BY cursor LIMIT n`. The cost is one
//! log-appending commit at a time (group commit keeps the disk busy), and
//! the lock is held only for the few statements after it, never while the
//! sync rules decide.
//!
//! Why not a transaction-id watermark (each log row carries its `xid8`,
//! readers stop below the oldest running transaction): one long
//! transaction anywhere — a slow export, a stuck migration — would hold
//! every reader back, and cursors would stop being the plain integers that
//! devices already store (a SQLite deployment moved here keeps its devices'
//! cursors, because `changelog.cursor` is the same number in both).
//!
//! **One writer per record: advisory locks.** Before it decides anything, a
//! push (and a review, and a server-side edit) takes
//! `pg_advisory_xact_lock` on every record id it touches, in sorted order
//! (two pushes touching the same records cannot deadlock), then reads the
//! record and the change's stored outcome — after the lock, so two
//! instances receiving the same retry at once apply it once and the second
//! answers with the first's outcome — decides, and writes revision + 1.
//! Revisions stay gap-free and serialized across instances. Record locks are
//! always taken before the log head, never after, so the two kinds of lock
//! cannot deadlock either.
//!
//! Isolation is READ COMMITTED with those explicit locks; every write method
//! is one transaction, acknowledged after a durable commit (the default
//! `synchronous_commit = on`). Reads that page (pull, exports, the batch
//! list, the audit log) are single statements, so each page is one snapshot.

mod error;
pub mod from_sqlite;
mod migrations;
pub mod testing;

use std::time::Duration;

use beatbook_store::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use error::Error;

/// How long a request waits for a free connection before it is answered
/// `Unavailable` (503, the client retries).
const POOL_WAIT: Duration = Duration::from_secs(10);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store: one pool of connections to one database. Clones
/// share the pool; separate [`PgStore::connect`] calls make separate pools,
/// as separate server instances have.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`)
    /// with a pool of at most `pool_size` connections, brings its schema up
    /// to date (instances starting at once take turns), and returns the store.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Unavailable(format!("the PostgreSQL URL is not valid: {e}"))
        })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot build the pool: {e}")))?;
        let store = PgStore { pool };
        let mut client = store.client().await?;
        migrations::migrate(&mut client).await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, Error> {
        Ok(self.pool.get().await?)
    }
}
