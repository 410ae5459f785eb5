//! The embedded SQLite backend: WAL, `synchronous = FULL` (a commit is on disk
//! before the server acknowledges it), one writer and a small pool of readers.
//! One writer also makes the change log's cursor order equal to commit order,
//! which is what lets a pull never skip an item. Pushes and completed blobs
//! that wait for the writer together are written in one transaction with one
//! commit (group commit: the `group` module), each answered after that commit.
//! The log is checkpointed on a thread beside the writer (`checkpoint`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{
    BatchId, ChangeId, DeviceId, GridId, RecordId, Sha256, StationId, UserId,
};
use beatbook_schema::protocol::{Change, ChangeOutcome, Cursor, PullItem, Review, Role, UserInfo};
use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use beatbook_store::*;
use migrations::MIGRATIONS;

mod checkpoint;
mod duplicates;
mod enrollment;
mod group;
mod migrations;
mod push;
mod review;
mod signin;

/// Readers kept open for reuse.
const READERS: usize = 4;

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: Arc<Path>,
    /// Turns for the writer and for the readers, taken before a blocking
    /// thread is: hundreds of devices syncing at once then wait in async
    /// land, instead of parking hundreds of blocking threads on the writer's
    /// lock and opening a connection (with its page cache) per reader.
    write_turn: Arc<tokio::sync::Semaphore>,
    read_turns: Arc<tokio::sync::Semaphore>,
    /// Pushes and completed blobs waiting for the writer, written in
    /// groups ([`group`]).
    writes: Arc<group::Queue>,
}

/// What fails inside this backend; it becomes a [`StoreError`] at the
/// trait's edge.
#[derive(Debug)]
enum Error {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(StoreError::Corrupt(e.to_string()))
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, msg))
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                StoreError::Unavailable(msg.unwrap_or_else(|| f.to_string()))
            }
            Error::Sqlite(e) => StoreError::Database(e.to_string()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock rolled its transaction back (rusqlite
    // rolls back on drop), so the connection is still sound.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_connection(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Without the query planner stability guarantee, SQLite prepares a
    // statement again whenever a new value is bound to a parameter it may
    // plan by (a bound LIMIT, say): tens of thousands of instructions for
    // each execution of a cached statement. With it, a statement is planned
    // once, as for any value.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(conn)
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Officer => "officer",
        Role::Auxiliary => "auxiliary",
        Role::Supervisor => "supervisor",
        Role::Admin => "admin",
    }
}

fn parse_role(s: &str) -> Result<Role, Error> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(Error::from)
}

fn parse_uuid<T: std::str::FromStr>(s: &str) -> Result<T, Error> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("malformed id in database: {s}")).into())
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("malformed time in database: {s}")).into())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// The writer's page cache, KiB (as `cache_size` takes it, negated).
const WRITER_CACHE_KIB: i64 = -32 * 1024;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = open_connection(path)?;
        // The writer's transactions take the write lock when they begin: a
        // deferred one that read first and then found another process's
        // commit (the same file opened again, as a second server instance
        // does) fails "database is locked" at once instead of waiting.
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        // A group of edits touches pages all over the records and their
        // indexes: with SQLite's default 2 MiB cache the writer spilled
        // dirty pages to the log mid-transaction and read others back.
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
            .map_err(Error::from)?;
        migrate(&mut conn)?;
        checkpoint::beside_writer(&mut conn, path)?;
        Ok(Self {
            writer: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
            path: Arc::from(path),
            write_turn: Arc::new(tokio::sync::Semaphore::new(1)),
            read_turns: Arc::new(tokio::sync::Semaphore::new(READERS)),
            writes: Arc::default(),
        })
    }

    /// Durable commits that wrote pushes (or completed blobs) since this
    /// handle was opened: fewer than the writes when writes arriving
    /// together were written as one group.
    pub fn push_commits(&self) -> u64 {
        self.writes.commits()
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let writer = self.writer.clone();
        let turn = self.write_turn.clone().acquire_owned().await;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            f(&mut lock(&writer)).map_err(StoreError::from)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let turn = self.read_turns.clone().acquire_owned().await;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let pooled = lock(&readers).pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => open_connection(&path).map_err(StoreError::from)?,
            };
            let out = f(&mut conn).map_err(StoreError::from);
            let mut pool = lock(&readers);
            if pool.len() < READERS {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

impl SqliteStore {
    /// Waits for a queued write's answer: written by another write's turn
    /// with the writer, or in our own turn, which writes the oldest waiting
    /// writes as one group ([`group`]) — ours among them unless the queue
    /// ahead is longer than one group (then we wait again).
    async fn grouped<T>(
        &self,
        _ticket: group::Ticket,
        mut answer: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let lost = || StoreError::Task("the group holding this write failed: send it again".into());
        loop {
            let turn = tokio::select! {
                biased;
                answer = &mut answer => return answer.map_err(|_| lost())?,
                turn = self.write_turn.clone().acquire_owned() => turn
                    .map_err(|e| StoreError::Task(e.to_string()))?,
            };
            match answer.try_recv() {
                Ok(answer) => return answer,
                Err(oneshot::error::TryRecvError::Closed) => return Err(lost()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let (writer, writes) = (self.writer.clone(), self.writes.clone());
            tokio::task::spawn_blocking(move || {
                let _turn = turn;
                let group = writes.take_group();
                writes.write(&mut lock(&writer), group);
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), Error> {
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        // Read under the write lock (the writer's transactions are
        // IMMEDIATE): two processes opening a new file at once apply each
        // migration once.
        let tx = conn.transaction()?;
        let applied: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if applied > MIGRATIONS.len() {
            // A newer server's tables, which this one would misread.
            return Err(StoreError::newer_schema(applied, MIGRATIONS.len()).into());
        }
        if applied > i {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn user_info(tx: &Connection, id: &str) -> Result<(UserInfo, String, bool), Error> {
    let (badge, name, role, station, hash, disabled): (String, String, String, String, String, bool) = tx
        .prepare_cached("SELECT badge, name, role, station_id, password_hash, disabled FROM users WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?;
    let grids = tx
        .prepare_cached("SELECT grid_id FROM user_grids WHERE user_id = ?1 ORDER BY grid_id")?
        .query_map([id], |r| r.get::<_, String>(0))?
        .map(|g| g.map(GridId))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        UserInfo {
            id: parse_uuid(id)?,
            badge,
            name,
            role: parse_role(&role)?,
            station: StationId(station),
            grids,
        },
        hash,
        disabled,
    ))
}

/// Binds a device to a user with a new token, as [`Store::enroll`] promises;
/// returns false, changing nothing, for another user's or a revoked device.
fn bind_device(
    c: &Connection,
    device: DeviceId,
    user: UserId,
    name: &str,
    token_hash: [u8; 32],
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let n = c.execute(
        "INSERT INTO devices (id, user_id, name, token_hash, issued_at, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, token_hash = excluded.token_hash,
             issued_at = excluded.issued_at
         WHERE devices.revoked_at IS NULL AND devices.user_id = excluded.user_id",
        params![device.to_string(), user.to_string(), name, &token_hash[..], now.to_rfc3339()],
    )?;
    Ok(n == 1)
}

fn load_record(tx: &Connection, id: RecordId) -> Result<Option<StoredRecord>, Error> {
    let state: Option<String> = tx
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    state
        .map(|s| serde_json::from_str(&s).map_err(Error::from))
        .transpose()
}

/// Where a log row's item is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ItemIn {
    /// In the log row itself (a form, or a record's version that resolved
    /// hard conflicts, which stays in the log when superseded).
    Log,
    /// Only in the version row with the same cursor: the log row's item
    /// is `NULL`, and the row leaves the log when the version is superseded.
    Version,
}

/// Appends a row to the change log and returns its cursor and the item's
/// JSON. The item's JSON embeds its own cursor, so the cursor is taken
/// first: the next value of the log's AUTOINCREMENT sequence (never handed
/// out twice, even after compaction removed the row that had it), which
/// only this transaction can advance (there is one writer), so the row is
/// written once, whole.
fn append_log(
    tx: &Transaction<'_>,
    grid: Option<&str>,
    item_at: impl FnOnce(Cursor) -> serde_json::Result<String>,
    item_in: ItemIn,
) -> Result<(Cursor, String), Error> {
    let next: i64 = tx
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changelog'), 0),
                        COALESCE((SELECT MAX(cursor) FROM changelog), 0)) + 1",
        )?
        .query_row([], |r| r.get(0))?;
    let cursor = Cursor(next as u64);
    let json = item_at(cursor)?;
    tx.prepare_cached("INSERT INTO changelog (cursor, grid_id, item) VALUES (?1, ?2, ?3)")?
        .execute(params![
            cursor.0 as i64,
            grid,
            (item_in == ItemIn::Log).then_some(&json)
        ])?;
    Ok((cursor, json))
}

/// Compaction: the record's current version leaves the log when a new one
/// supersedes it, so that the log holds each record's current version
/// only. Its item stays in its version row, where it was written; a version
/// that resolved hard conflicts keeps its own copy in its log row and is
/// not removed. Called in the transaction that appends the superseding
/// version: a reader sees the old row or the new one, never neither, and
/// the new one's cursor is above every cursor handed out before.
fn retire_from_log(tx: &Transaction<'_>, record: RecordId) -> Result<(), Error> {
    tx.prepare_cached(
        "DELETE FROM changelog WHERE item IS NULL AND cursor =
             (SELECT cursor FROM record_versions WHERE record_id = ?1 ORDER BY revision DESC LIMIT 1)",
    )?
    .execute([record.to_string()])?;
    Ok(())
}

/// The indexed columns of a stored record's row.
pub(crate) struct RowKeys {
    pub(crate) form_id: String,
    pub(crate) grid_id: String,
    pub(crate) deleted: bool,
}

impl RowKeys {
    pub(crate) fn of(record: &StoredRecord) -> Self {
        Self {
            form_id: record.form_id.as_str().to_owned(),
            grid_id: record.grid.as_str().to_owned(),
            deleted: record.deleted,
        }
    }
}

/// A stored record's revision and indexed columns, read without its state.
pub(crate) fn load_row_keys(
    tx: &Connection,
    id: RecordId,
) -> Result<Option<(u64, RowKeys)>, Error> {
    Ok(tx
        .prepare_cached("SELECT revision, form_id, grid_id, deleted FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                RowKeys {
                    form_id: r.get(1)?,
                    grid_id: r.get(2)?,
                    deleted: r.get(3)?,
                },
            ))
        })
        .optional()?)
}

/// Writes a record's new state as a new version over the row `prior` (if
/// stored): the version row holds its log item, the log a row pointing at
/// it; the version it supersedes leaves the log ([`retire_from_log`]).
pub(crate) fn write_version(
    tx: &Transaction<'_>,
    record: StoredRecord,
    prior: Option<&RowKeys>,
    change: Option<ChangeId>,
    batch: Option<BatchId>,
) -> Result<Cursor, Error> {
    retire_from_log(tx, record.id)?;
    let id = record.id.to_string();
    let state = serde_json::to_string(&record)?;
    // SQLite rewrites the index entries of every column an UPDATE sets,
    // changed or not: a version that keeps its form, grid and deletion sets
    // none of them, and dirties no page of `records_form` or
    // `records_grid_form`.
    let keeps_keys = prior.is_some_and(|p| {
        p.form_id == record.form_id.as_str()
            && p.grid_id == record.grid.as_str()
            && p.deleted == record.deleted
    });
    if keeps_keys {
        tx.prepare_cached("UPDATE records SET revision = ?2, state = ?3 WHERE id = ?1")?
            .execute(params![id, record.revision as i64, state])?;
    } else {
        tx.prepare_cached(
            "INSERT INTO records (id, form_id, grid_id, revision, deleted, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET form_id = excluded.form_id, grid_id = excluded.grid_id,
                 revision = excluded.revision, deleted = excluded.deleted, state = excluded.state",
        )?
        .execute(params![
            id,
            record.form_id.as_str(),
            record.grid.as_str(),
            record.revision as i64,
            record.deleted,
            state,
        ])?;
    }
    attach_blobs(tx, &record)?;
    duplicates::index_person(tx, &record)?;
    let item_in = if record.resolved.is_empty() {
        ItemIn::Version
    } else {
        ItemIn::Log
    };
    let (cursor, json) = append_log(
        tx,
        Some(record.grid.as_str()),
        |cursor| record.log_item(cursor),
        item_in,
    )?;
    tx.prepare_cached(
        "INSERT INTO record_versions (record_id, revision, cursor, change_id, batch_id, item) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        record.revision as i64,
        cursor.0 as i64,
        change.map(|c| c.to_string()),
        batch.map(|b| b.to_string()),
        json,
    ])?;
    Ok(cursor)
}

/// Keeps the blob tables in step with a record's new version: the scope
/// table holds exactly the current version's attachments (none once
/// deleted), the history every attachment any version carried.
fn attach_blobs(tx: &Transaction<'_>, record: &StoredRecord) -> Result<(), Error> {
    let id = record.id.to_string();
    tx.prepare_cached("DELETE FROM record_blobs WHERE record_id = ?1")?
        .execute([&id])?;
    for a in &record.attachments {
        let row = params![a.sha256.to_hex(), id, record.grid.as_str()];
        if !record.deleted {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO record_blobs (sha256, record_id, grid_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(row)?;
        }
        tx.prepare_cached(
            "INSERT OR IGNORE INTO blob_history (sha256, record_id, grid_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(row)?;
    }
    Ok(())
}

/// What the decider is told about a change to `record` by `device` that
/// attaches `hashes`: the record as stored, and which of the blobs the
/// server lacks, the device uploaded, and current records carry (in which grids).
fn existing_for(
    tx: &Connection,
    record: RecordId,
    hashes: &[Sha256],
    device: DeviceId,
) -> Result<Existing, Error> {
    let mut existing = Existing {
        record: load_record(tx, record)?,
        missing_blobs: missing_in(tx, hashes)?,
        ..Existing::default()
    };
    for h in hashes {
        let hex = h.to_hex();
        if tx
            .prepare_cached("SELECT 1 FROM blob_uploads WHERE sha256 = ?1 AND device_id = ?2")?
            .exists(params![hex, device.to_string()])?
        {
            existing.uploaded_blobs.push(*h);
        }
        let mut stmt =
            tx.prepare_cached("SELECT DISTINCT grid_id FROM record_blobs WHERE sha256 = ?1")?;
        for grid in stmt.query_map([&hex], |r| r.get::<_, String>(0))? {
            existing.attached_in.push((*h, GridId(grid?)));
        }
    }
    Ok(existing)
}

fn missing_in(tx: &Connection, hashes: &[Sha256]) -> Result<Vec<Sha256>, Error> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM blobs WHERE sha256 = ?1")?;
    let mut missing = Vec::new();
    for h in hashes {
        if !stmt.exists([h.to_hex()])? && !missing.contains(h) {
            missing.push(*h);
        }
    }
    Ok(missing)
}

/// The condition on a blob row `b` (`?1` the cutoff) that it may be
/// collected: stored before the cutoff, not uploaded again since, and
/// carried by no version of any record.
const UNREFERENCED_BEFORE: &str = "b.stored_at < ?1
    AND NOT EXISTS (SELECT 1 FROM blob_uploads u WHERE u.sha256 = b.sha256 AND u.uploaded_at >= ?1)
    AND NOT EXISTS (SELECT 1 FROM blob_history h WHERE h.sha256 = b.sha256)";

fn scope_json(scope: &ReadScope) -> Option<String> {
    match scope {
        ReadScope::All => None,
        ReadScope::Grids(g) => Some(serde_json::to_string(g).unwrap_or_else(|_| "[]".into())),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn add_station(&self, station: Station) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO stations (id, name) VALUES (?1, ?2)",
                params![station.id.as_str(), station.name],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::from(StoreError::Duplicate(format!("station {}", station.id)))
                } else {
                    Error::from(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn add_grid(&self, grid: Grid) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO grids (id, station_id, name) VALUES (?1, ?2, ?3)",
                params![grid.id.as_str(), grid.station.as_str(), grid.name],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::from(StoreError::Duplicate(format!(
                        "grid {} (or unknown station {})",
                        grid.id, grid.station
                    )))
                } else {
                    Error::from(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn stations(&self) -> Result<Vec<Station>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, name FROM stations ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Station {
                    id: StationId(r.get(0)?),
                    name: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn grids(&self) -> Result<Vec<Grid>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id, station_id, name FROM grids ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Grid {
                    id: GridId(r.get(0)?),
                    station: StationId(r.get(1)?),
                    name: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn add_user(&self, user: NewUser) -> Result<UserId, StoreError> {
        self.write(move |c| {
            let id = UserId::new_v7();
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO users (id, badge, name, role, station_id, password_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.to_string(), user.badge, user.name, role_str(user.role), user.station.as_str(), user.password_hash],
            )
            .map_err(|e| if is_unique_violation(&e) { Error::from(StoreError::Duplicate(format!("badge {} (or unknown station {})", user.badge, user.station))) } else { Error::from(e) })?;
            for g in &user.grids {
                tx.execute("INSERT INTO user_grids (user_id, grid_id) VALUES (?1, ?2)", params![id.to_string(), g.as_str()])
                    .map_err(|e| if is_unique_violation(&e) { Error::from(StoreError::NotFound(format!("grid {g}"))) } else { Error::from(e) })?;
            }
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    async fn user_by_badge(&self, badge: &str) -> Result<Option<Account>, StoreError> {
        let badge = badge.to_owned();
        self.read(move |c| {
            let id: Option<String> = c
                .prepare_cached("SELECT id FROM users WHERE badge = ?1")?
                .query_row([&badge], |r| r.get(0))
                .optional()?;
            id.map(|id| {
                let (info, password_hash, disabled) = user_info(c, &id)?;
                Ok(Account {
                    info,
                    password_hash,
                    disabled,
                })
            })
            .transpose()
        })
        .await
    }

    async fn users(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|c| {
            let ids = c
                .prepare("SELECT id FROM users ORDER BY badge")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            ids.iter()
                .map(|id| {
                    let (info, password_hash, disabled) = user_info(c, id)?;
                    Ok(Account {
                        info,
                        password_hash,
                        disabled,
                    })
                })
                .collect()
        })
        .await
    }

    async fn set_password(&self, badge: &str, password_hash: String) -> Result<(), StoreError> {
        let badge = badge.to_owned();
        self.write(move |c| {
            let tx = c.transaction()?;
            let user: Option<String> = tx
                .query_row(
                    "UPDATE users SET password_hash = ?1 WHERE badge = ?2 RETURNING id",
                    params![password_hash, badge],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(user) = user else {
                return Err(StoreError::NotFound(format!("badge {badge}")).into());
            };
            tx.execute("DELETE FROM web_sessions WHERE user_id = ?1", [&user])?;
            tx.execute(
                "UPDATE devices SET token_hash = NULL WHERE user_id = ?1",
                [&user],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn set_disabled(&self, badge: &str, disabled: bool) -> Result<(), StoreError> {
        let badge = badge.to_owned();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE users SET disabled = ?1 WHERE badge = ?2",
                params![disabled, badge],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("badge {badge}")).into());
            }
            Ok(())
        })
        .await
    }

    async fn set_role_and_grids(
        &self,
        badge: &str,
        role: Role,
        grids: Vec<GridId>,
    ) -> Result<(), StoreError> {
        let badge = badge.to_owned();
        self.write(move |c| {
            let tx = c.transaction()?;
            let user: Option<String> = tx
                .query_row(
                    "UPDATE users SET role = ?1 WHERE badge = ?2 RETURNING id",
                    params![role_str(role), badge],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(user) = user else {
                return Err(StoreError::NotFound(format!("badge {badge}")).into());
            };
            tx.execute("DELETE FROM user_grids WHERE user_id = ?1", [&user])?;
            for g in &grids {
                tx.execute(
                    "INSERT INTO user_grids (user_id, grid_id) VALUES (?1, ?2)",
                    params![user, g.as_str()],
                )
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Error::from(StoreError::NotFound(format!("grid {g}")))
                    } else {
                        Error::from(e)
                    }
                })?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn enroll(
        &self,
        device: DeviceId,
        user: UserId,
        name: &str,
        token_hash: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |c| bind_device(c, device, user, &name, token_hash, now))
            .await
    }

    async fn token_owner(&self, token_hash: [u8; 32]) -> Result<Option<TokenOwner>, StoreError> {
        self.read(move |c| {
            let row: Option<(String, String, String, Option<String>)> = c
                .prepare_cached(
                    "SELECT id, user_id, issued_at, revoked_at FROM devices WHERE token_hash = ?1",
                )?
                .query_row([&token_hash[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            row.map(|(device, user, issued, revoked)| {
                let (info, _, disabled) = user_info(c, &user)?;
                Ok(TokenOwner {
                    device: parse_uuid(&device)?,
                    user: info,
                    issued_at: parse_time(&issued)?,
                    revoked: revoked.is_some(),
                    disabled,
                })
            })
            .transpose()
        })
        .await
    }

    async fn device_revoked(&self, device: DeviceId) -> Result<bool, StoreError> {
        self.read(move |c| {
            let revoked: Option<Option<String>> = c
                .prepare_cached("SELECT revoked_at FROM devices WHERE id = ?1")?
                .query_row([device.to_string()], |r| r.get(0))
                .optional()?;
            Ok(matches!(revoked, Some(Some(_))))
        })
        .await
    }

    async fn revoke_device(&self, device: DeviceId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![now.to_rfc3339(), device.to_string()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("device {device}")).into());
            }
            Ok(())
        })
        .await
    }

    async fn create_enrollment_code(&self, code: NewEnrollmentCode) -> Result<(), StoreError> {
        self.write(move |c| enrollment::create(c, &code)).await
    }

    async fn enroll_with_code(
        &self,
        redemption: CodeRedemption,
    ) -> Result<CodeEnrollment, StoreError> {
        self.write(move |c| enrollment::redeem(c, &redemption))
            .await
    }

    async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT d.id, d.user_id, u.badge, d.name, d.enrolled_at, d.last_seen_at, d.revoked_at,
                        d.token_hash IS NOT NULL
                 FROM devices d JOIN users u ON u.id = d.user_id ORDER BY d.enrolled_at",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, bool>(7)?,
                ))
            })?;
            rows.map(|row| {
                let (id, user, badge, name, enrolled, seen, revoked, signed_in) = row?;
                Ok(Device {
                    id: parse_uuid(&id)?,
                    user: parse_uuid(&user)?,
                    badge,
                    name,
                    enrolled_at: parse_time(&enrolled)?,
                    last_seen_at: seen.as_deref().map(parse_time).transpose()?,
                    revoked_at: revoked.as_deref().map(parse_time).transpose()?,
                    signed_in,
                })
            })
            .collect()
        })
        .await
    }

    async fn publish_form(&self, def: &FormDef) -> Result<bool, StoreError> {
        let def = def.clone();
        self.write(move |c| {
            let tx = c.transaction()?;
            let json = serde_json::to_string(&def)?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO forms (form_id, version, definition) VALUES (?1, ?2, ?3)",
                params![def.form_id.as_str(), def.version, json],
            )?;
            if n == 1 {
                append_log(
                    &tx,
                    None,
                    |cursor| {
                        serde_json::to_string(&PullItem::Form {
                            cursor,
                            definition: Box::new(def),
                        })
                    },
                    ItemIn::Log,
                )?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn forms(&self) -> Result<Vec<FormDef>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT definition FROM forms ORDER BY form_id, version")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
        })
        .await
    }

    async fn forms_published(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM forms")?
                .query_row([], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn push(
        &self,
        pusher: Pusher,
        batch: BatchId,
        changes: Vec<Change>,
        decider: Decider,
    ) -> Result<Vec<(ChangeId, ChangeOutcome)>, StoreError> {
        let (ticket, answer) = self.writes.push(push::Push {
            pusher,
            batch,
            changes,
            decider,
        });
        self.grouped(ticket, answer).await
    }

    async fn review(&self, id: RecordId, review: Review) -> Result<Option<u64>, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let Some(record) = load_record(&tx, id)? else {
                return Ok(None);
            };
            let reviewed = record.clone().reviewed(review);
            let revision = reviewed.revision;
            write_version(&tx, reviewed, Some(&RowKeys::of(&record)), None, None)?;
            tx.commit()?;
            Ok(Some(revision))
        })
        .await
    }

    async fn pull(
        &self,
        scope: ReadScope,
        since: Cursor,
        limit: u32,
    ) -> Result<RawPage, StoreError> {
        self.read(move |c| {
            let tx = c.transaction()?; // one snapshot for the page and the log's end
            let grids = scope_json(&scope);
            let fetch = i64::from(limit) + 1;
            let mut items = Vec::new();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT l.cursor, COALESCE(l.item, v.item) FROM changelog l
                     LEFT JOIN record_versions v ON l.item IS NULL AND v.cursor = l.cursor
                     WHERE l.cursor > ?1 AND (?2 IS NULL OR l.grid_id IS NULL OR l.grid_id IN (SELECT value FROM json_each(?2)))
                     ORDER BY l.cursor LIMIT ?3",
                )?;
                let mut rows = stmt.query(params![since.0 as i64, grids, fetch])?;
                while let Some(row) = rows.next()? {
                    let cursor = Cursor(row.get::<_, i64>(0)? as u64);
                    let json: String = row.get::<_, Option<String>>(1)?.ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "the change log's row {} has no item, in the log or in a version row",
                            cursor.0
                        ))
                    })?;
                    items.push(RawItem { cursor, json: RawValue::from_string(json)? });
                }
            }
            let has_more = items.len() > limit as usize;
            items.truncate(limit as usize);
            let next = if has_more {
                items.last().map_or(since, |i| i.cursor)
            } else {
                // Nothing more in scope: skip to the log's end so trailing
                // out-of-scope entries are not scanned again.
                let end: Option<i64> = tx.query_row("SELECT MAX(cursor) FROM changelog", [], |r| r.get(0))?;
                Cursor(end.map_or(since.0, |e| (e as u64).max(since.0)))
            };
            tx.commit()?;
            Ok(RawPage { items, next, has_more })
        })
        .await
    }

    async fn record(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        self.read(move |c| load_record(c, id)).await
    }

    async fn records(&self, ids: Vec<RecordId>) -> Result<Vec<StoredRecord>, StoreError> {
        self.read(move |c| {
            let mut records = Vec::with_capacity(ids.len());
            for id in ids {
                records.extend(load_record(c, id)?);
            }
            Ok(records)
        })
        .await
    }

    async fn record_history(&self, id: RecordId) -> Result<Vec<serde_json::Value>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT revision, item FROM record_versions WHERE record_id = ?1 ORDER BY revision",
            )?;
            let rows = stmt.query_map([id.to_string()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            rows.map(|r| {
                let (revision, item) = r?;
                let item = item.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "version {revision} of record {id} has no stored item"
                    ))
                })?;
                let item: serde_json::Value = serde_json::from_str(&item)?;
                Ok(item.get("version").cloned().unwrap_or(item))
            })
            .collect()
        })
        .await
    }

    async fn record_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT form_id, COUNT(*) FROM records WHERE deleted = 0 GROUP BY form_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn batches(&self, limit: u32) -> Result<Vec<BatchSummary>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, device_id, user_id, received_at, stored, rejected, conflicts FROM batches
                 ORDER BY received_at DESC, id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            rows.map(|row| {
                let (id, device, user, at, stored, rejected, conflicts) = row?;
                Ok(BatchSummary {
                    id: parse_uuid(&id)?,
                    device: parse_uuid(&device)?,
                    user: parse_uuid(&user)?,
                    received_at: parse_time(&at)?,
                    stored: stored as u64,
                    rejected: rejected as u64,
                    conflicts: conflicts as u64,
                })
            })
            .collect()
        })
        .await
    }

    async fn missing_blobs(&self, hashes: Vec<Sha256>) -> Result<Vec<Sha256>, StoreError> {
        self.read(move |c| missing_in(c, &hashes)).await
    }

    async fn complete_blob(
        &self,
        sha: Sha256,
        size: u64,
        content_type: &str,
        device: DeviceId,
    ) -> Result<(), StoreError> {
        let (ticket, answer) = self.writes.blob(group::CompletedBlob {
            sha,
            size,
            content_type: content_type.to_owned(),
            device,
        });
        self.grouped(ticket, answer).await
    }

    async fn blob_in_scope(&self, sha: Sha256, scope: ReadScope) -> Result<bool, StoreError> {
        self.read(move |c| blob_in_grids(c, "record_blobs", sha, &scope))
            .await
    }

    async fn blobs_not_held(
        &self,
        hashes: Vec<Sha256>,
        device: DeviceId,
        scope: ReadScope,
    ) -> Result<Vec<Sha256>, StoreError> {
        self.read(move |c| {
            let grids = scope_json(&scope);
            let mut stmt = c.prepare_cached(
                "SELECT 1 FROM blobs WHERE sha256 = ?1 AND (
                     EXISTS (SELECT 1 FROM blob_uploads WHERE sha256 = ?1 AND device_id = ?2)
                     OR EXISTS (SELECT 1 FROM record_blobs WHERE sha256 = ?1
                         AND (?3 IS NULL OR grid_id IN (SELECT value FROM json_each(?3)))))",
            )?;
            let mut out = Vec::new();
            for h in hashes {
                if !stmt.exists(params![h.to_hex(), device.to_string(), grids])?
                    && !out.contains(&h)
                {
                    out.push(h);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn unattached_bytes(&self, device: DeviceId) -> Result<u64, StoreError> {
        self.read(move |c| {
            let bytes: i64 = c
                .prepare_cached(
                    "SELECT COALESCE(SUM(b.size), 0) FROM blob_uploads u JOIN blobs b ON b.sha256 = u.sha256
                     WHERE u.device_id = ?1 AND NOT EXISTS (SELECT 1 FROM blob_history h WHERE h.sha256 = u.sha256)",
                )?
                .query_row([device.to_string()], |r| r.get(0))?;
            Ok(bytes.max(0) as u64)
        })
        .await
    }

    async fn blob_in_history(&self, sha: Sha256, scope: ReadScope) -> Result<bool, StoreError> {
        self.read(move |c| blob_in_grids(c, "blob_history", sha, &scope))
            .await
    }

    async fn unreferenced_blobs(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Sha256>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT sha256 FROM blobs b WHERE {UNREFERENCED_BEFORE} ORDER BY stored_at LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![cutoff.to_rfc3339(), limit], |r| {
                r.get::<_, String>(0)
            })?;
            rows.map(|hex| {
                let hex = hex?;
                hex.parse().map_err(|_| {
                    Error::from(StoreError::Corrupt(format!(
                        "blob digest '{hex}' is not 64 hex characters"
                    )))
                })
            })
            .collect()
        })
        .await
    }

    async fn forget_blob(&self, sha: Sha256, cutoff: DateTime<Utc>) -> Result<bool, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let hex = sha.to_hex();
            let gone = tx.execute(
                &format!("DELETE FROM blobs AS b WHERE sha256 = ?2 AND {UNREFERENCED_BEFORE}"),
                params![cutoff.to_rfc3339(), hex],
            )? == 1;
            if gone {
                tx.execute("DELETE FROM blob_uploads WHERE sha256 = ?1", [&hex])?;
            }
            tx.commit()?;
            Ok(gone)
        })
        .await
    }

    async fn batch_page(&self, filter: BatchFilter) -> Result<BatchPage, StoreError> {
        self.read(move |c| review::batch_page(c, &filter)).await
    }

    async fn batch_row(
        &self,
        id: BatchId,
        scope: ReadScope,
    ) -> Result<Option<BatchRow>, StoreError> {
        self.read(move |c| review::batch_row_by_id(c, id, &scope))
            .await
    }

    async fn batch_entries(
        &self,
        id: BatchId,
        scope: ReadScope,
    ) -> Result<Vec<BatchEntry>, StoreError> {
        self.read(move |c| review::batch_entries(c, id, &scope))
            .await
    }

    async fn record_batches(&self, id: RecordId) -> Result<BTreeMap<u64, BatchId>, StoreError> {
        self.read(move |c| review::record_batches(c, id)).await
    }

    async fn record_conflicts(&self, id: RecordId) -> Result<Vec<ConflictEntry>, StoreError> {
        self.read(move |c| review::record_conflicts(c, id)).await
    }

    async fn edit_records(
        &self,
        ids: Vec<RecordId>,
        edit: RecordEdit,
        audit: EditAudit,
    ) -> Result<Vec<(RecordId, EditOutcome)>, StoreError> {
        self.write(move |c| review::edit_records(c, ids, edit, audit))
            .await
    }

    async fn hazards(&self, query: HazardQuery) -> Result<Vec<StoredRecord>, StoreError> {
        self.read(move |c| review::hazards(c, &query)).await
    }

    async fn hazard_counts(
        &self,
        scope: ReadScope,
        grid: Option<GridId>,
        today: String,
    ) -> Result<HazardCounts, StoreError> {
        self.read(move |c| review::hazard_counts(c, &scope, grid.as_ref(), &today))
            .await
    }

    async fn export_page(
        &self,
        query: ExportQuery,
        after: Option<RecordId>,
        limit: u32,
        max_bytes: usize,
    ) -> Result<ExportPage, StoreError> {
        self.read(move |c| review::export_page(c, &query, after, limit, max_bytes))
            .await
    }

    async fn append_audit(&self, entry: NewAudit) -> Result<u64, StoreError> {
        self.write(move |c| review::append_audit(c, &entry)).await
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        self.read(move |c| review::audit_log(c, &query)).await
    }

    async fn create_web_session(&self, session: NewWebSession) -> Result<(), StoreError> {
        self.write(move |c| review::create_web_session(c, &session))
            .await
    }

    async fn web_session(&self, id_hash: [u8; 32]) -> Result<Option<WebSession>, StoreError> {
        self.read(move |c| review::web_session(c, id_hash)).await
    }

    async fn touch_web_session(
        &self,
        id_hash: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |c| review::touch_web_session(c, id_hash, now))
            .await
    }

    async fn end_web_session(&self, id_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |c| review::end_web_session(c, id_hash))
            .await
    }

    async fn duplicates(&self, query: DuplicateQuery) -> Result<Vec<DuplicateGroup>, StoreError> {
        self.read(move |c| duplicates::duplicates(c, &query)).await
    }

    async fn mark_distinct(
        &self,
        a: RecordId,
        b: RecordId,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(move |c| duplicates::mark_distinct(c, a, b, &audit))
            .await
    }

    async fn reserve_signin_failure(
        &self,
        counters: Vec<FailureCounter>,
        window: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<FailureReservation, StoreError> {
        self.write(move |c| signin::reserve(c, &counters, window, now))
            .await
    }

    async fn release_signin_failure(&self, reserved: ReservedFailure) -> Result<(), StoreError> {
        self.write(move |c| signin::release(c, &reserved)).await
    }
}

/// Whether `table` (`record_blobs`: current versions, `blob_history`: every
/// version) places the blob in one of the scope's grids.
fn blob_in_grids(
    c: &Connection,
    table: &'static str,
    sha: Sha256,
    scope: &ReadScope,
) -> Result<bool, Error> {
    Ok(c.prepare_cached(&format!(
        "SELECT 1 FROM {table} WHERE sha256 = ?1
         AND (?2 IS NULL OR grid_id IN (SELECT value FROM json_each(?2)))"
    ))?
    .exists(params![sha.to_hex(), scope_json(scope)])?)
}
