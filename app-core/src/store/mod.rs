//! The device's local store: SQLCipher-encrypted SQLite holding the forms, the
//! records with their local state, the outbox and the attachments.
//!
//! Layout of a device directory:
//! - `device.json` — the device id, the key-derivation salt and the page
//!   HMAC the database was made with (none of it secret);
//! - `beatbook.db` — the encrypted database;
//! - `photos/<sha256>.bbs` — encrypted photo files;
//! - `pin_attempts.json` — wrong PINs in a row (see [`super::lockout`]).
//!
//! A local save writes the record and its outbox entry in one transaction; an
//! outbox entry leaves only in the transaction that records the server's
//! acknowledgement; the pull cursor is written with the page it describes.

/// The SQL of a record row's base values: `base_vals`, stored as '' when it
/// equals `vals` (a synced record's values once, not twice).
macro_rules! base_vals {
    () => {
        "CASE base_vals WHEN '' THEN vals ELSE base_vals END"
    };
}

/// What a statement that sets `vals` to `?1` sets `base_vals` to: the
/// values it replaces become the base they were standing for.
macro_rules! base_kept {
    () => {
        "CASE WHEN base_vals = '' AND vals <> ?1 THEN vals ELSE base_vals END"
    };
}

mod changes;
mod lost;
mod migrations;
#[cfg(target_arch = "wasm32")]
pub mod opfs;
mod outbox;
mod pull;
mod pulled;
mod records;

pub use changes::{Change, StoredValues};
pub use lost::LostValue;
pub use outbox::{Batch, BatchLimits, QueuedChange};
pub use pull::Rescoped;
pub use pulled::{PulledItem, PulledPage, PulledRecord, PulledVersion};
pub use records::{LocalRecord, LocalState, RecordFilter, Rejection};

use std::path::{Path, PathBuf};

use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::DeviceId;
use chrono::Utc;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::migrations::MIGRATIONS;
use super::files;
use super::keys::{KeyError, KeyProvider, StoreKey};

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum LocalStoreError {
    /// The PIN does not open this device's database.
    #[error("wrong PIN: the local database did not open (no data was changed)")]
    WrongPin,
    /// The key could not be derived.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The database failed.
    #[error("local database: {0}")]
    Database(#[from] rusqlite::Error),
    /// Stored JSON did not read back.
    #[error("local data is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// A file could not be read or written.
    #[error("local files: {0}")]
    Io(#[from] std::io::Error),
    /// No such record.
    #[error("no record {0} on this device")]
    NoRecord(String),
    /// A field name that no form has (records are looked up by a field of
    /// lowercase letters and underscores).
    #[error("no field '{0}' to look records up by")]
    NoField(String),
    /// The record cannot be edited in its state.
    #[error("{0}")]
    NotEditable(String),
    /// Only a draft that was never queued can be discarded.
    #[error("record {id} is {} and cannot be discarded: only a draft that was never queued can be; open it and change it instead", .state.label().en.to_lowercase())]
    NotDiscardable {
        /// The record.
        id: String,
        /// Where it stands.
        state: LocalState,
    },
}

/// What the device held that the server has not received: lost if the
/// device is wiped now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsent {
    /// Records with local changes not acknowledged by the server (drafts,
    /// queued, refused).
    pub records: u64,
    /// Photos not uploaded.
    pub photos: u64,
}

impl Unsent {
    /// Whether nothing would be lost.
    pub fn is_empty(&self) -> bool {
        self.records == 0 && self.photos == 0
    }
}

/// WAL on native builds (one writer, readers beside it). The web build's OPFS
/// pool supports no WAL (no shared memory between workers): a rollback
/// journal there, equally durable with `synchronous = FULL`.
#[cfg(not(target_arch = "wasm32"))]
const JOURNAL_MODE: &str = "WAL";
#[cfg(target_arch = "wasm32")]
const JOURNAL_MODE: &str = "DELETE";

/// How a commit that a power cut may lose without harm reaches the disk: a
/// push batch's membership and a push's answers (the same changes are sent
/// again, and the server answers them as it did the first time), the time
/// of the last sync (shown, then set again by the next). In WAL, `NORMAL`
/// commits without an fsync (the log stays consistent, and the next `FULL`
/// commit's fsync takes the frames before it along). The web build's
/// rollback journal keeps `FULL`: `NORMAL` there may leave the file corrupt
/// after a power cut.
#[cfg(not(target_arch = "wasm32"))]
const LOSABLE_SYNC: &str = "NORMAL";
#[cfg(target_arch = "wasm32")]
const LOSABLE_SYNC: &str = "FULL";

/// The page cache, in KiB (a negative `cache_size`): the pages of a device
/// holding some 10,000 records (about 25 MB with their indexes, twice that
/// with as many changes waiting). Every page read from the file is
/// decrypted and its HMAC checked, so a page read again (the record an
/// answer acknowledges, a pulled version's row and index entries) costs
/// that again once evicted. SQLite allocates it only as pages are used.
const CACHE_KIB: i64 = -48 * 1024;

/// Pages in the write-ahead log at which a commit copies them into the
/// database (SQLite's default is 1,000). A push or pull rewrites the same
/// pages (the outbox, a record's row, the index pages) batch after batch;
/// checkpointed less often, each is encrypted into the database once for
/// several batches instead of once per batch. 4,000 pages: a 16 MiB log.
const WAL_CHECKPOINT_PAGES: i64 = 4_000;

/// The records a wipe would lose. `state <> 'synced'` changes nothing but
/// lets SQLite read the drafts and refusals through `records_unsynced`, which
/// holds only records in that state (migration 9).
const UNSENT: &str = "SELECT count(*) FROM records
     WHERE (state IN ('draft', 'rejected') AND state <> 'synced')
        OR id IN (SELECT record_id FROM outbox)";

/// The database files of a device directory (SQLite's journal files too).
const DATABASE_FILES: [&str; 4] = [
    "beatbook.db",
    "beatbook.db-wal",
    "beatbook.db-shm",
    "beatbook.db-journal",
];

/// Deletes a device's data without opening it (the PIN is not known): the
/// database, the photos and the device file with the key-derivation salt,
/// so that not even the right PIN can open what might linger on the disk.
/// The next open makes a new, empty device.
pub fn erase_files(dir: &Path) -> Result<(), LocalStoreError> {
    // The salt first: without it no PIN opens what is left if the erase is cut short.
    files::remove(&dir.join("device.json"))?;
    files::remove(&dir.join("device.json.tmp"))?;
    for name in DATABASE_FILES {
        files::remove_database(&dir.join(name))?;
    }
    files::remove_all_in(&dir.join("photos"))?;
    Ok(())
}

/// Whether a device was made in `dir` (a PIN was set there): its device
/// file is present. Works where there is no file system (the web build).
pub fn has_device(dir: &Path) -> Result<bool, LocalStoreError> {
    Ok(files::read_if_present(&dir.join("device.json"))?.is_some())
}

/// What `device.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeviceFile {
    device_id: DeviceId,
    /// Hex of the 16-byte Argon2 salt.
    salt: String,
    /// The HMAC that authenticates each encrypted page. A device file
    /// without it was made before the choice was recorded: SQLCipher's
    /// default then.
    #[serde(default)]
    page_hmac: PageHmac,
}

/// SQLCipher's per-page HMAC (`PRAGMA cipher_hmac_algorithm`), fixed when the
/// database is made. Each page written is authenticated with it: on the
/// device it was most of the CPU a synced record costs (`examples/sync_cost`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
enum PageHmac {
    /// SQLCipher 4's default.
    #[default]
    #[serde(rename = "HMAC_SHA512")]
    Sha512,
    /// Half the cost per page where the CPU has SHA-256 instructions (x86
    /// SHA extensions, ARMv8 cryptography extensions), which OpenSSL uses:
    /// here a pushed record took 18 % and a pulled one 20 % less device time
    /// (`examples/sync_cost`). A sound page authenticator all the same.
    #[serde(rename = "HMAC_SHA256")]
    Sha256,
}

impl PageHmac {
    /// What a new database is made with. The web build keeps the default:
    /// its SQLCipher hashes in WebAssembly, without the CPU's instructions,
    /// and that cost was not measured.
    const NEW: Self = if cfg!(target_arch = "wasm32") {
        Self::Sha512
    } else {
        Self::Sha256
    };

    fn pragma(self) -> &'static str {
        match self {
            Self::Sha512 => "HMAC_SHA512",
            Self::Sha256 => "HMAC_SHA256",
        }
    }
}

/// The open local store.
pub struct LocalStore {
    conn: Connection,
    dir: PathBuf,
    device: DeviceId,
    key: StoreKey,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("dir", &self.dir)
            .field("device", &self.device)
            .finish()
    }
}

fn read_device_file(dir: &Path) -> Result<Option<DeviceFile>, LocalStoreError> {
    match files::read_if_present(&dir.join("device.json"))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

impl LocalStore {
    /// Runs `f`, whose writes a power cut may lose without harm, with its
    /// commits synchronous as [`LOSABLE_SYNC`] says; every other commit
    /// waits for the disk.
    pub(crate) fn losable<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, LocalStoreError>,
    ) -> Result<T, LocalStoreError> {
        self.with_pragma("synchronous", LOSABLE_SYNC, "FULL", f)
    }

    /// Runs `f`, which deletes the outbox entries of changes the server has
    /// answered, with SQLite's `secure_delete` at `FAST`: a page it frees
    /// keeps its old bytes (encrypted, as every page) until it is used
    /// again, instead of being zeroed, encrypted and written once more.
    /// SQLCipher turns `secure_delete` on for every keyed database, so
    /// recording a push's answers wrote most of its pages twice. The bytes
    /// left are changes whose values the record holds (and the server, for
    /// all but a refused one); a wipe still leaves nothing ([`Self::wipe`]).
    pub(crate) fn freeing_answered<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, LocalStoreError>,
    ) -> Result<T, LocalStoreError> {
        self.with_pragma("secure_delete", "FAST", "ON", f)
    }

    /// Runs `f` with `PRAGMA name = during`, then sets it to `after`,
    /// whatever `f` returned.
    fn with_pragma<T>(
        &mut self,
        name: &str,
        during: &str,
        after: &str,
        f: impl FnOnce(&mut Self) -> Result<T, LocalStoreError>,
    ) -> Result<T, LocalStoreError> {
        self.conn.pragma_update(None, name, during)?;
        let out = f(self);
        self.conn.pragma_update(None, name, after)?;
        out
    }

    /// Opens the store in `dir` with the officer's PIN, creating it (with a
    /// new device id and salt) on first use. A wrong PIN is
    /// [`LocalStoreError::WrongPin`] and changes nothing on disk.
    pub fn open(dir: &Path, pin: &str, keys: &dyn KeyProvider) -> Result<Self, LocalStoreError> {
        files::create_dir_all(&dir.join("photos"))?;
        let device = match read_device_file(dir)? {
            Some(d) => d,
            None => {
                let d = DeviceFile {
                    device_id: DeviceId::new_v7(),
                    salt: hex::encode(super::keys::new_salt()),
                    page_hmac: PageHmac::NEW,
                };
                files::replace(&dir.join("device.json"), &serde_json::to_vec_pretty(&d)?)?;
                d
            }
        };
        let mut salt = [0u8; 16];
        hex::decode_to_slice(&device.salt, &mut salt).map_err(|_| {
            LocalStoreError::Corrupt(serde::de::Error::custom(
                "device.json: salt is not 32 hex characters",
            ))
        })?;
        let key = keys.key(pin, &salt)?;
        let conn = Connection::open(dir.join("beatbook.db"))?;
        conn.pragma_update(None, "key", &*key.sqlcipher_literal())?;
        conn.pragma_update(None, "cipher_hmac_algorithm", device.page_hmac.pragma())?;
        // The first read tells whether the key fits; nothing is written before it.
        let probe: Result<i64, _> =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0));
        match probe {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::NotADatabase =>
            {
                return Err(LocalStoreError::WrongPin)
            }
            Err(e) => return Err(e.into()),
        }
        conn.pragma_update(None, "journal_mode", JOURNAL_MODE)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Without the planner's stability guarantee, a cached statement that
        // compares a non-unique index to a parameter (`outbox.record_id =
        // ?1`, `lost_values.record_id = ?1`) is prepared again on every new
        // value (SQLite's STAT4 build re-plans for it): most of the cost of
        // those statements on every pushed and pulled record.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // A page cache that holds a pulled page's or a push batch's writes
        // (SQLite's default, 2 MiB, does not): pages spilled from a full
        // cache mid-transaction are encrypted, read back, decrypted and
        // encrypted again at the commit. See `CACHE_KIB`.
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        let mut store = Self {
            conn,
            dir: dir.to_owned(),
            device: device.device_id,
            key,
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), LocalStoreError> {
        let applied: usize = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Starts a run of many small commits (an import) that are flushed to
    /// the disk together by [`LocalStore::flush_run`]: each commit still
    /// reaches the operating system whole, so a crash of the app loses
    /// nothing, while a power cut may lose the run's commits since its last
    /// flush, never the database's integrity (no checkpoint copies unflushed
    /// pages into the database meanwhile). No-op in the web build, whose
    /// OPFS journal keeps every commit durable.
    pub fn begin_run(&mut self) -> Result<(), LocalStoreError> {
        if cfg!(not(target_arch = "wasm32")) {
            self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            self.conn.pragma_update(None, "synchronous", "OFF")?;
        }
        Ok(())
    }

    /// Ends a run begun by [`LocalStore::begin_run`]: one durable commit,
    /// whose flush of the write-ahead log carries every commit before it.
    pub fn flush_run(&mut self) -> Result<(), LocalStoreError> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        if cfg!(not(target_arch = "wasm32")) {
            self.conn
                .pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        }
        let tx = self.conn.transaction()?;
        meta_set(&tx, "last_flushed_run", &Utc::now())?;
        tx.commit()?;
        Ok(())
    }

    /// This device's id.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The device directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store key (for sealing photo files).
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The encrypted photo directory.
    pub fn photo_dir(&self) -> PathBuf {
        self.dir.join("photos")
    }

    /// Reads a meta value.
    pub fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, LocalStoreError> {
        meta_get(&self.conn, key)
    }

    /// Writes a meta value.
    pub fn set_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<(), LocalStoreError> {
        meta_set(&self.conn, key, value)
    }

    /// What would be lost if the device were wiped now.
    pub fn unsent(&self) -> Result<Unsent, LocalStoreError> {
        let records = self.conn.query_row(UNSENT, [], |r| r.get(0))?;
        let photos = self.conn.query_row(
            "SELECT count(*) FROM attachments WHERE uploaded = 0",
            [],
            |r| r.get(0),
        )?;
        Ok(Unsent { records, photos })
    }

    /// Deletes every record, change, form and photo of this device, and
    /// rewrites the database file so nothing deleted lingers in it. Used when
    /// the server says the device was revoked (a lost phone).
    pub fn wipe(&mut self) -> Result<(), LocalStoreError> {
        self.conn.pragma_update(None, "secure_delete", "ON")?;
        self.conn.execute_batch(
            "DELETE FROM outbox; DELETE FROM outbox_batches; DELETE FROM records; DELETE FROM records_changed; DELETE FROM attachments; DELETE FROM forms; DELETE FROM meta;",
        )?;
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        files::remove_all_in(&self.photo_dir())?;
        Ok(())
    }

    /// The next hybrid-logical-clock stamp of this device, persisted.
    fn next_hlc(conn: &Connection, device: DeviceId) -> Result<Hlc, LocalStoreError> {
        let last: Hlc = meta_get(conn, "hlc")?.unwrap_or(Hlc::zero(device));
        let next = last.tick(Utc::now().timestamp_millis().max(0) as u64);
        meta_set(conn, "hlc", &next)?;
        Ok(next)
    }
}

fn meta_get<T: DeserializeOwned>(
    conn: &Connection,
    key: &str,
) -> Result<Option<T>, LocalStoreError> {
    let raw: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    raw.map(|r| serde_json::from_str(&r).map_err(LocalStoreError::from))
        .transpose()
}

fn meta_set<T: Serialize>(conn: &Connection, key: &str, value: &T) -> Result<(), LocalStoreError> {
    conn.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute(rusqlite::params![key, serde_json::to_string(value)?])?;
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::keys::PinKeys;

    #[test]
    fn a_device_is_there_once_a_pin_was_set_and_gone_after_an_erase() {
        let dir = tempfile::tempdir().expect("temporary directory");
        assert!(!has_device(dir.path()).expect("an empty directory reads"));
        drop(LocalStore::open(dir.path(), "123456", &PinKeys::fast_for_tests()).expect("open"));
        assert!(has_device(dir.path()).expect("reads"));
        erase_files(dir.path()).expect("erase");
        assert!(!has_device(dir.path()).expect("reads after the erase"));
    }

    /// Whether SQLCipher reads `dir`'s database with `pin` and `hmac`.
    fn reads_with(dir: &Path, pin: &str, hmac: PageHmac) -> bool {
        let device = read_device_file(dir).expect("reads").expect("a device");
        let mut salt = [0u8; 16];
        hex::decode_to_slice(&device.salt, &mut salt).expect("hex salt");
        let key = PinKeys::fast_for_tests().key(pin, &salt).expect("key");
        let conn = Connection::open(dir.join("beatbook.db")).expect("opens");
        conn.pragma_update(None, "key", &*key.sqlcipher_literal())
            .expect("key set");
        conn.pragma_update(None, "cipher_hmac_algorithm", hmac.pragma())
            .expect("hmac set");
        conn.query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0))
            .is_ok()
    }

    #[test]
    fn a_new_database_authenticates_its_pages_with_the_hmac_its_device_file_names() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store =
            LocalStore::open(dir.path(), "123456", &PinKeys::fast_for_tests()).expect("open");
        store.set_meta("probe", &1).expect("written");
        drop(store);
        let file = std::fs::read_to_string(dir.path().join("device.json")).expect("device file");
        assert!(file.contains("\"page_hmac\": \"HMAC_SHA256\""), "{file}");
        assert!(reads_with(dir.path(), "123456", PageHmac::Sha256));
        assert!(!reads_with(dir.path(), "123456", PageHmac::Sha512));
    }

    #[test]
    fn a_device_made_before_the_hmac_was_recorded_keeps_sqlciphers_default() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let older = serde_json::json!({
            "device_id": DeviceId::new_v7(),
            "salt": hex::encode([7u8; 16]),
        });
        std::fs::write(dir.path().join("device.json"), older.to_string()).expect("written");
        let keys = PinKeys::fast_for_tests();
        let store = LocalStore::open(dir.path(), "123456", &keys).expect("open");
        store.set_meta("probe", &41).expect("written");
        drop(store);
        assert!(reads_with(dir.path(), "123456", PageHmac::Sha512));
        let store = LocalStore::open(dir.path(), "123456", &keys).expect("opens again");
        assert_eq!(store.meta::<i64>("probe").expect("reads"), Some(41));
        assert!(matches!(
            LocalStore::open(dir.path(), "654321", &keys),
            Err(LocalStoreError::WrongPin)
        ));
    }

    #[test]
    fn a_cached_statement_is_not_prepared_again_for_each_new_parameter() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store =
            LocalStore::open(dir.path(), "123456", &PinKeys::fast_for_tests()).expect("open");
        // Filled and analyzed, so the planner has statistics it could re-plan by.
        store
            .conn
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
                 INSERT INTO outbox (change_id, record_id, change, created_at)
                 SELECT 'c' || i, 'r' || (i % 20), '{}', '' FROM n;
                 ANALYZE;",
            )
            .expect("filled");
        let mut stmt = store
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?1)")
            .expect("prepares");
        for record in ["r1", "r2", "r3", "nothing"] {
            let _: bool = stmt.query_row([record], |r| r.get(0)).expect("reads");
        }
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "prepared again on a new parameter"
        );
    }

    #[test]
    fn the_unsent_records_are_counted_through_the_index_of_records_not_synced() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store =
            LocalStore::open(dir.path(), "123456", &PinKeys::fast_for_tests()).expect("open");
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {UNSENT}"))
            .expect("plan")
            .query_map([], |r| r.get::<_, String>(3))
            .expect("plan rows")
            .collect::<Result<_, _>>()
            .expect("plan rows read");
        assert!(
            plan.iter().any(|p| p.contains("records_unsynced")),
            "{plan:?}"
        );
    }

    #[test]
    fn the_houses_at_an_address_and_a_houses_residents_are_read_through_an_index() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store =
            LocalStore::open(dir.path(), "123456", &PinKeys::fast_for_tests()).expect("open");
        for (form, field, index) in [
            ("house", "address", "records_address"),
            ("person", "house", "records_house"),
        ] {
            let plan: Vec<String> = store
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    records::records_where_sql(&format!("$.{field}"))
                ))
                .expect("plan")
                .query_map(rusqlite::params![form, "x"], |r| r.get::<_, String>(3))
                .expect("plan rows")
                .collect::<Result<_, _>>()
                .expect("plan rows read");
            assert!(
                plan.iter().any(|p| p.contains(index)),
                "{form}.{field}: {plan:?}"
            );
        }
        assert!(matches!(
            store.records_where("house", "address') OR 1=1 --", "x"),
            Err(LocalStoreError::NoField(_))
        ));
    }
}
