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

mod accounts;
mod blobs;
mod duplicates;
mod enrollment;
mod error;
pub mod from_sqlite;
mod log;
mod migrations;
mod records;
mod review;
mod signin;
mod sql;
mod sync;
pub mod testing;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, GridId, RecordId, Sha256, UserId};
use beatbook_schema::protocol::{Change, ChangeOutcome, Cursor, Review, Role};
use beatbook_store::*;
use chrono::{DateTime, Utc};
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

/// Runs `f` on a pooled connection and turns its error into a [`StoreError`].
macro_rules! with_client {
    ($store:expr, |$c:ident| $body:expr) => {{
        async {
            #[allow(unused_mut)]
            let mut $c = $store.client().await?;
            $body.await
        }
        .await
        .map_err(StoreError::from)
    }};
}

#[async_trait]
impl Store for PgStore {
    async fn add_station(&self, station: Station) -> Result<(), StoreError> {
        with_client!(self, |c| accounts::add_station(&c, station))
    }

    async fn add_grid(&self, grid: Grid) -> Result<(), StoreError> {
        with_client!(self, |c| accounts::add_grid(&c, grid))
    }

    async fn stations(&self) -> Result<Vec<Station>, StoreError> {
        with_client!(self, |c| accounts::stations(&c))
    }

    async fn grids(&self) -> Result<Vec<Grid>, StoreError> {
        with_client!(self, |c| accounts::grids(&c))
    }

    async fn add_user(&self, user: NewUser) -> Result<UserId, StoreError> {
        with_client!(self, |c| accounts::add_user(&mut c, user))
    }

    async fn user_by_badge(&self, badge: &str) -> Result<Option<Account>, StoreError> {
        with_client!(self, |c| accounts::user_by_badge(&c, badge))
    }

    async fn users(&self) -> Result<Vec<Account>, StoreError> {
        with_client!(self, |c| accounts::users(&c))
    }

    async fn set_password(&self, badge: &str, password_hash: String) -> Result<(), StoreError> {
        with_client!(self, |c| accounts::set_password(
            &mut c,
            badge,
            password_hash
        ))
    }

    async fn set_disabled(&self, badge: &str, disabled: bool) -> Result<(), StoreError> {
        with_client!(self, |c| accounts::set_disabled(&c, badge, disabled))
    }

    async fn set_role_and_grids(
        &self,
        badge: &str,
        role: Role,
        grids: Vec<GridId>,
    ) -> Result<(), StoreError> {
        with_client!(self, |c| accounts::set_role_and_grids(
            &mut c, badge, role, &grids
        ))
    }

    async fn enroll(
        &self,
        device: DeviceId,
        user: UserId,
        name: &str,
        token_hash: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        with_client!(self, |c| accounts::enroll(
            &c, device, user, name, token_hash, now
        ))
    }

    async fn create_enrollment_code(&self, code: NewEnrollmentCode) -> Result<(), StoreError> {
        with_client!(self, |c| enrollment::create(&mut c, &code))
    }

    async fn enroll_with_code(
        &self,
        redemption: CodeRedemption,
    ) -> Result<CodeEnrollment, StoreError> {
        with_client!(self, |c| enrollment::redeem(&mut c, &redemption))
    }

    async fn token_owner(&self, token_hash: [u8; 32]) -> Result<Option<TokenOwner>, StoreError> {
        with_client!(self, |c| accounts::token_owner(&c, token_hash))
    }

    async fn device_revoked(&self, device: DeviceId) -> Result<bool, StoreError> {
        with_client!(self, |c| accounts::device_revoked(&c, device))
    }

    async fn revoke_device(&self, device: DeviceId, now: DateTime<Utc>) -> Result<(), StoreError> {
        with_client!(self, |c| accounts::revoke_device(&c, device, now))
    }

    async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        with_client!(self, |c| accounts::devices(&c))
    }

    async fn publish_form(&self, def: &FormDef) -> Result<bool, StoreError> {
        with_client!(self, |c| sync::publish_form(&mut c, def))
    }

    async fn forms(&self) -> Result<Vec<FormDef>, StoreError> {
        with_client!(self, |c| sync::forms(&c))
    }

    async fn forms_published(&self) -> Result<u64, StoreError> {
        with_client!(self, |c| sync::forms_published(&c))
    }

    async fn push(
        &self,
        pusher: Pusher,
        batch: BatchId,
        changes: Vec<Change>,
        decider: Decider,
    ) -> Result<Vec<(ChangeId, ChangeOutcome)>, StoreError> {
        with_client!(self, |c| sync::push(
            &mut c, pusher, batch, changes, decider
        ))
    }

    async fn review(&self, id: RecordId, review: Review) -> Result<Option<u64>, StoreError> {
        with_client!(self, |c| sync::review(&mut c, id, review))
    }

    async fn pull(
        &self,
        scope: ReadScope,
        since: Cursor,
        limit: u32,
    ) -> Result<RawPage, StoreError> {
        with_client!(self, |c| log::pull(&c, &scope, since, limit))
    }

    async fn record(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        with_client!(self, |c| records::load_record(&c, id))
    }

    async fn records(&self, ids: Vec<RecordId>) -> Result<Vec<StoredRecord>, StoreError> {
        let found = with_client!(self, |c| records::load_records(&c, ids))?;
        Ok(found.into_values().collect())
    }

    async fn record_history(&self, id: RecordId) -> Result<Vec<serde_json::Value>, StoreError> {
        with_client!(self, |c| log::record_history(&c, id))
    }

    async fn record_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        with_client!(self, |c| records::record_counts(&c))
    }

    async fn batches(&self, limit: u32) -> Result<Vec<BatchSummary>, StoreError> {
        with_client!(self, |c| sync::batches(&c, limit))
    }

    async fn missing_blobs(&self, hashes: Vec<Sha256>) -> Result<Vec<Sha256>, StoreError> {
        with_client!(self, |c| blobs::missing_blobs(&c, hashes))
    }

    async fn complete_blob(
        &self,
        sha: Sha256,
        size: u64,
        content_type: &str,
        device: DeviceId,
    ) -> Result<(), StoreError> {
        with_client!(self, |c| blobs::complete_blob(
            &mut c,
            sha,
            size,
            content_type,
            device
        ))
    }

    async fn blob_in_scope(&self, sha: Sha256, scope: ReadScope) -> Result<bool, StoreError> {
        with_client!(self, |c| blobs::in_grids(&c, "record_blobs", sha, &scope))
    }

    async fn blobs_not_held(
        &self,
        hashes: Vec<Sha256>,
        device: DeviceId,
        scope: ReadScope,
    ) -> Result<Vec<Sha256>, StoreError> {
        with_client!(self, |c| blobs::blobs_not_held(&c, hashes, device, &scope))
    }

    async fn unattached_bytes(&self, device: DeviceId) -> Result<u64, StoreError> {
        with_client!(self, |c| blobs::unattached_bytes(&c, device))
    }

    async fn blob_in_history(&self, sha: Sha256, scope: ReadScope) -> Result<bool, StoreError> {
        with_client!(self, |c| blobs::in_grids(&c, "blob_history", sha, &scope))
    }

    async fn unreferenced_blobs(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Sha256>, StoreError> {
        with_client!(self, |c| blobs::unreferenced_blobs(&c, cutoff, limit))
    }

    async fn forget_blob(&self, sha: Sha256, cutoff: DateTime<Utc>) -> Result<bool, StoreError> {
        with_client!(self, |c| blobs::forget_blob(&mut c, sha, cutoff))
    }

    async fn batch_page(&self, filter: BatchFilter) -> Result<BatchPage, StoreError> {
        with_client!(self, |c| review::batch_page(&c, &filter))
    }

    async fn batch_row(
        &self,
        id: BatchId,
        scope: ReadScope,
    ) -> Result<Option<BatchRow>, StoreError> {
        with_client!(self, |c| review::batch_row_by_id(&c, id, &scope))
    }

    async fn batch_entries(
        &self,
        id: BatchId,
        scope: ReadScope,
    ) -> Result<Vec<BatchEntry>, StoreError> {
        with_client!(self, |c| review::batch_entries(&c, id, &scope))
    }

    async fn record_batches(&self, id: RecordId) -> Result<BTreeMap<u64, BatchId>, StoreError> {
        with_client!(self, |c| review::record_batches(&c, id))
    }

    async fn record_conflicts(&self, id: RecordId) -> Result<Vec<ConflictEntry>, StoreError> {
        with_client!(self, |c| review::record_conflicts(&c, id))
    }

    async fn edit_records(
        &self,
        ids: Vec<RecordId>,
        edit: RecordEdit,
        audit: EditAudit,
    ) -> Result<Vec<(RecordId, EditOutcome)>, StoreError> {
        with_client!(self, |c| review::edit_records(&mut c, ids, edit, audit))
    }

    async fn hazards(&self, query: HazardQuery) -> Result<Vec<StoredRecord>, StoreError> {
        with_client!(self, |c| review::hazards(&c, &query))
    }

    async fn hazard_counts(
        &self,
        scope: ReadScope,
        grid: Option<GridId>,
        today: String,
    ) -> Result<HazardCounts, StoreError> {
        with_client!(self, |c| review::hazard_counts(
            &c,
            &scope,
            grid.as_ref(),
            &today
        ))
    }

    async fn export_page(
        &self,
        query: ExportQuery,
        after: Option<RecordId>,
        limit: u32,
        max_bytes: usize,
    ) -> Result<ExportPage, StoreError> {
        with_client!(self, |c| review::export_page(
            &c, &query, after, limit, max_bytes
        ))
    }

    async fn append_audit(&self, entry: NewAudit) -> Result<u64, StoreError> {
        with_client!(self, |c| review::append_audit(&c, &entry))
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        with_client!(self, |c| review::audit_log(&c, &query))
    }

    async fn create_web_session(&self, session: NewWebSession) -> Result<(), StoreError> {
        with_client!(self, |c| review::create_web_session(&mut c, &session))
    }

    async fn web_session(&self, id_hash: [u8; 32]) -> Result<Option<WebSession>, StoreError> {
        with_client!(self, |c| review::web_session(&c, id_hash))
    }

    async fn touch_web_session(
        &self,
        id_hash: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_client!(self, |c| review::touch_web_session(&c, id_hash, now))
    }

    async fn end_web_session(&self, id_hash: [u8; 32]) -> Result<(), StoreError> {
        with_client!(self, |c| review::end_web_session(&c, id_hash))
    }

    async fn duplicates(&self, query: DuplicateQuery) -> Result<Vec<DuplicateGroup>, StoreError> {
        with_client!(self, |c| duplicates::duplicates(&c, &query))
    }

    async fn mark_distinct(
        &self,
        a: RecordId,
        b: RecordId,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        with_client!(self, |c| duplicates::mark_distinct(&mut c, a, b, &audit))
    }

    async fn reserve_signin_failure(
        &self,
        counters: Vec<FailureCounter>,
        window: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<FailureReservation, StoreError> {
        with_client!(self, |c| signin::reserve(&mut c, &counters, window, now))
    }

    async fn release_signin_failure(&self, reserved: ReservedFailure) -> Result<(), StoreError> {
        with_client!(self, |c| signin::release(&mut c, &reserved))
    }
}
