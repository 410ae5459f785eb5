//! The storage contract of the Beatbook server: the [`Store`] trait every
//! backend implements, the types it speaks, and a backend-neutral
//! [`StoreError`]. Backends only read and write: every decision about a change
//! (validation, merge, conflicts) is made by the server's sync rules, handed
//! to [`Store::push`] as a [`Decider`] that the backend calls inside its
//! transaction.
//!
//! What every backend promises beyond each method's own contract:
//! - **Durable acknowledgement.** A write method returns only after its
//!   transaction committed durably; an error means nothing of it was stored.
//! - **Cursors in commit order.** Every stored version of a record gets a
//!   change-log cursor, and a cursor becomes visible to [`Store::pull`] only
//!   after every smaller cursor is visible: a reader that has seen cursor `c`
//!   never later finds a new item below `c`, whatever the number of
//!   concurrent writers (DESIGN.md, invariant 3).
//! - **A compacted log.** The log holds each record's current version: the
//!   transaction that appends a version removes the one it supersedes (a
//!   version that resolved hard conflicts excepted: it stays, so the device
//!   whose value lost learns of it). A fresh device pulls one item per
//!   record, and a reader paging while records change never skips a change
//!   (the new version's cursor is above every earlier one) and never gets a
//!   version twice. [`Store::record_history`] keeps every version.
//! - **One record, one writer at a time.** A record's read–decide–write (in
//!   [`Store::push`], [`Store::review`], [`Store::edit_records`]) is
//!   serialized with every other write of that record, so revisions go up by
//!   one with no gap and no revision is handed out twice, even when several
//!   server instances share one database.
//! - **Exactly once.** A change id is decided once; a replay gets the stored
//!   outcome (invariant 2).
//!
//! One conformance suite checks these on every backend.
//!
//! `conformance` (behind the cargo feature of that name): the suite that checks these
//! promises and every method's contract on a backend.

#[cfg(feature = "conformance")]
pub mod conformance;
mod duplicates;
mod enrollment;
mod log_item;
mod review;
mod signin;
mod state;

pub use duplicates::*;
pub use enrollment::*;
pub use review::*;
pub use signin::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{
    BatchId, ChangeId, DeviceId, FormId, GridId, RecordId, Sha256, StationId, UserId,
};
use beatbook_schema::merge::{FieldConflict, FieldState};
use beatbook_schema::protocol::{Change, ChangeOutcome, Cursor, Review, Role, UserInfo};
use beatbook_schema::record::{AttachmentRef, RecordStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The rules that decide the fate of one change given what the store holds.
pub type Judge = Arc<dyn Fn(&Change, &Existing) -> Decision + Send + Sync>;

/// Decides the fate of one change given what the store holds. Built per push
/// by the server (it knows the pusher, the published forms and the clock) and
/// asked by the backend inside its transaction, after the record is locked.
///
/// It may hold decisions made ahead of the transaction, each on the record
/// at a revision the server read before ([`Decider::with_ahead`]). A
/// revision is written once per record, so a decision made on the revision
/// the transaction finds was made on the very record it finds: the backend
/// takes it instead of deciding again.
pub struct Decider {
    judge: Judge,
    ahead: Mutex<HashMap<ChangeId, Ahead>>,
}

/// A decision made ahead of the transaction, for a change that attaches
/// nothing, on the record at `revision` (`None`: nothing stored).
#[derive(Debug, Clone)]
pub struct Ahead {
    /// The revision of the record it was decided on.
    pub revision: Option<u64>,
    /// The decision.
    pub decision: Decision,
}

impl Decider {
    /// A decider that decides every change with `judge`.
    pub fn new(judge: impl Fn(&Change, &Existing) -> Decision + Send + Sync + 'static) -> Self {
        Self {
            judge: Arc::new(judge),
            ahead: Default::default(),
        }
    }

    /// The rules alone, to decide changes ahead elsewhere.
    pub fn judge(&self) -> Judge {
        self.judge.clone()
    }

    /// This decider, holding `decided` (by change) as decided ahead.
    pub fn with_ahead(self, decided: HashMap<ChangeId, Ahead>) -> Self {
        Self {
            ahead: Mutex::new(decided),
            ..self
        }
    }

    /// Whether a decision made ahead waits for `change`: the backend may
    /// then read the record's revision alone and [`Decider::take_ahead`].
    pub fn has_ahead(&self, change: ChangeId) -> bool {
        self.lock_ahead().contains_key(&change)
    }

    /// The decision made ahead for `change` if it was made on `revision`
    /// (what the transaction finds stored). Each is taken once: asked again
    /// (a retried transaction), the change is decided again.
    pub fn take_ahead(&self, change: ChangeId, revision: Option<u64>) -> Option<Decision> {
        let mut ahead = self.lock_ahead();
        let taken = ahead.remove(&change)?;
        (taken.revision == revision).then_some(taken.decision)
    }

    /// The fate of `change` given `existing`: the decision made ahead on
    /// this very input if there is one, else the rules'.
    pub fn decide(&self, change: &Change, existing: &Existing) -> Decision {
        if existing.is_the_record_alone() {
            let revision = existing.record.as_ref().map(|r| r.revision);
            if let Some(d) = self.take_ahead(change.change_id, revision) {
                return d;
            }
        }
        (self.judge)(change, existing)
    }

    fn lock_ahead(&self) -> MutexGuard<'_, HashMap<ChangeId, Ahead>> {
        self.ahead.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Errors of the storage layer, the same whatever the backend. Except
/// `Duplicate` and `NotFound` (answers to the caller's request), none is the
/// caller's fault: they map to 500/503, and the client retries.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or has no connection to spare.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed a statement.
    #[error("database: {0}")]
    Database(String),
    /// Stored data could not be read back (malformed JSON, id or time).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A uniqueness rule was broken (e.g. a badge number already taken).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// A referenced row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A blocking task failed.
    #[error("storage task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// The database's schema is at version `found`, past the `known`
    /// migrations of this build: another, newer server wrote it.
    pub fn newer_schema(found: usize, known: usize) -> Self {
        Self::Database(format!(
            "the database is at schema version {found}, newer than this server knows ({known}): \
             run the newer server"
        ))
    }
}

/// A station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Station {
    /// Code, e.g. `320614-01`.
    pub id: StationId,
    /// Name, e.g. `海门区公安局三厂派出所`.
    pub name: String,
}

/// A grid of a station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// Code.
    pub id: GridId,
    /// The station it belongs to.
    pub station: StationId,
    /// Name, e.g. the community's name.
    pub name: String,
}

/// An account as stored, with its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Who, with role and scope.
    pub info: UserInfo,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// A disabled account cannot enroll or sync.
    pub disabled: bool,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Badge number, unique.
    pub badge: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Station.
    pub station: StationId,
    /// Grids (officers and auxiliaries).
    pub grids: Vec<GridId>,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// A device as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device id.
    pub id: DeviceId,
    /// Owner.
    pub user: UserId,
    /// Owner's badge.
    pub badge: String,
    /// Name given at enrollment.
    pub name: String,
    /// Enrollment time.
    pub enrolled_at: DateTime<Utc>,
    /// Last push.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether its token works: a password change signs every device of the
    /// account out until the officer enrolls it again.
    pub signed_in: bool,
}

/// What a bearer token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    /// The device.
    pub device: DeviceId,
    /// Its user.
    pub user: UserInfo,
    /// When the token was issued.
    pub issued_at: DateTime<Utc>,
    /// The device was revoked.
    pub revoked: bool,
    /// The user was disabled.
    pub disabled: bool,
}

/// A record's current state on the server: the field states (value, clock and
/// revision of the last write per field) and the envelope. As JSON, each
/// distinct clock is written once and each field names its own (see
/// `state.rs`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "state::StateIn")]
pub struct StoredRecord {
    /// Record id.
    pub id: RecordId,
    /// Form.
    pub form_id: FormId,
    /// Form version of the latest write.
    pub form_version: u32,
    /// Grid.
    pub grid: GridId,
    /// First author.
    pub author: UserId,
    /// Device of the first write.
    pub device: DeviceId,
    /// Per-field state.
    pub fields: BTreeMap<String, FieldState>,
    /// Attachments.
    pub attachments: Vec<AttachmentRef>,
    /// Device time of the first write.
    pub created_at: DateTime<Utc>,
    /// Device time of the latest write.
    pub updated_at: DateTime<Utc>,
    /// Review status.
    pub status: RecordStatus,
    /// Current revision.
    pub revision: u64,
    /// Tombstone.
    pub deleted: bool,
    /// Flagged by a hard conflict, until a supervisor reviews it.
    pub conflicted: bool,
    /// Latest review.
    pub review: Option<Review>,
    /// The hard conflicts the write of this revision resolved (empty unless
    /// a pushed change met a concurrent edit of the same field); devices
    /// pull them with the version. Any other write clears them.
    pub resolved: Vec<FieldConflict>,
}

impl StoredRecord {
    /// The record as the base of a server-side edit: the next revision,
    /// with no conflicts resolved (they belonged to the previous write).
    pub fn next_revision(mut self) -> Self {
        self.revision += 1;
        self.resolved.clear();
        self
    }

    /// The record after a supervisor's decision: status approved or
    /// returned, the review kept, a conflict flag cleared (the supervisor has
    /// seen it), the next revision.
    pub fn reviewed(mut self, review: Review) -> Self {
        self.status = match review.decision {
            beatbook_schema::protocol::ReviewDecision::Approve => RecordStatus::Approved,
            beatbook_schema::protocol::ReviewDecision::Return { .. } => RecordStatus::Returned,
        };
        self.review = Some(review);
        self.conflicted = false;
        self.next_revision()
    }

    /// The version devices pull: the record's values (merged from the field
    /// states) and envelope at this revision.
    pub fn version(&self) -> beatbook_schema::protocol::RecordVersion {
        self.clone().into_version()
    }

    /// [`StoredRecord::version`], made from the record itself: its values
    /// move rather than being copied.
    pub fn into_version(self) -> beatbook_schema::protocol::RecordVersion {
        beatbook_schema::protocol::RecordVersion {
            record: beatbook_schema::record::Record {
                id: self.id,
                form_id: self.form_id,
                form_version: self.form_version,
                grid: self.grid,
                author: self.author,
                device: self.device,
                values: beatbook_schema::merge::into_values(self.fields),
                attachments: self.attachments,
                created_at: self.created_at,
                updated_at: self.updated_at,
                status: self.status,
            },
            revision: self.revision,
            deleted: self.deleted,
            conflicted: self.conflicted,
            review: self.review,
            conflicts: self.resolved,
        }
    }
}

/// A server time as every backend stores it in the review tables (sessions,
/// audit): fixed width, so text order is time order on either database, and a
/// copied deployment orders the same.
pub fn stored_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Who pushes, as the storage layer records it.
#[derive(Debug, Clone)]
pub struct Pusher {
    /// The user.
    pub user: UserInfo,
    /// The device.
    pub device: DeviceId,
    /// Server receive time.
    pub now: DateTime<Utc>,
}

/// What the backend hands the decider for one change.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// The record's current state, if it exists.
    pub record: Option<StoredRecord>,
    /// Attachments the change references that the server lacks.
    pub missing_blobs: Vec<Sha256>,
    /// Attachments the change references that the pushing device uploaded.
    pub uploaded_blobs: Vec<Sha256>,
    /// Attachments the change references that current records carry, with
    /// each such record's grid.
    pub attached_in: Vec<(Sha256, GridId)>,
}

impl Existing {
    /// The record alone, nothing known of attachments: the input of a
    /// change that attaches nothing, as decisions made ahead are made on.
    pub fn is_the_record_alone(&self) -> bool {
        // Every field named: one added must be weighed here.
        let Existing {
            record: _,
            missing_blobs,
            uploaded_blobs,
            attached_in,
        } = self;
        missing_blobs.is_empty() && uploaded_blobs.is_empty() && attached_in.is_empty()
    }
}

/// What the decider tells the backend to do with one change.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Write the new state as a new version.
    Write {
        /// The record after the change.
        record: Box<StoredRecord>,
        /// Conflicts to keep in history.
        conflicts: Vec<FieldConflict>,
        /// The result to return (and to return again on replay).
        outcome: ChangeOutcome,
    },
    /// Store nothing but the answer (a refusal, or a no-op such as deleting
    /// a deleted record), so a replay gets the same answer.
    Answer(ChangeOutcome),
    /// Store nothing at all: the change may succeed later (e.g. a blob not yet uploaded).
    Defer(ChangeOutcome),
}

/// A batch as listed for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Batch id.
    pub id: BatchId,
    /// Device.
    pub device: DeviceId,
    /// Officer.
    pub user: UserId,
    /// First receipt.
    pub received_at: DateTime<Utc>,
    /// Changes stored (accepted, merged or conflicted).
    pub stored: u64,
    /// Changes rejected.
    pub rejected: u64,
    /// Hard conflicts.
    pub conflicts: u64,
}

/// Which records a caller may read: every grid, or these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// Everything (admins).
    All,
    /// These grids only.
    Grids(Vec<GridId>),
}

impl ReadScope {
    /// Whether a grid is in scope.
    pub fn contains(&self, grid: &GridId) -> bool {
        match self {
            ReadScope::All => true,
            ReadScope::Grids(g) => g.contains(grid),
        }
    }
}

/// One serialized pull item with its cursor, as stored.
#[derive(Debug, Clone)]
pub struct RawItem {
    /// Position in the change log.
    pub cursor: Cursor,
    /// The item's JSON (a [`beatbook_schema::protocol::PullItem`]).
    pub json: Box<serde_json::value::RawValue>,
}

/// A page of the change log.
#[derive(Debug, Clone)]
pub struct RawPage {
    /// Items in log order.
    pub items: Vec<RawItem>,
    /// Where the next page starts.
    pub next: Cursor,
    /// Whether more items wait.
    pub has_more: bool,
}

/// The storage seam.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- organisation ----
    /// Adds a station.
    async fn add_station(&self, station: Station) -> Result<(), StoreError>;
    /// Adds a grid to a station.
    async fn add_grid(&self, grid: Grid) -> Result<(), StoreError>;
    /// Lists stations.
    async fn stations(&self) -> Result<Vec<Station>, StoreError>;
    /// Lists grids.
    async fn grids(&self) -> Result<Vec<Grid>, StoreError>;
    /// Adds an account.
    async fn add_user(&self, user: NewUser) -> Result<UserId, StoreError>;
    /// An account by badge number.
    async fn user_by_badge(&self, badge: &str) -> Result<Option<Account>, StoreError>;
    /// Lists accounts.
    async fn users(&self) -> Result<Vec<Account>, StoreError>;
    /// Sets a password hash and, in the same transaction, signs the account
    /// out everywhere: its review sessions end and its devices' tokens stop
    /// working (invalidated, not revoked: a device answered 401 keeps its
    /// data, and its officer enrolls it again with the new password).
    async fn set_password(&self, badge: &str, password_hash: String) -> Result<(), StoreError>;
    /// Disables or enables an account.
    async fn set_disabled(&self, badge: &str, disabled: bool) -> Result<(), StoreError>;
    /// Sets an account's role and replaces its grids with `grids`, in one
    /// transaction. Its devices and sessions stay signed in: every request
    /// reads the account afresh ([`Store::token_owner`]), so the next pull is
    /// scoped by the new grids. `NotFound` for an unknown badge or grid (and
    /// nothing changes); whether the grids suit the role and the account's
    /// station is the caller's rule, not the store's.
    async fn set_role_and_grids(
        &self,
        badge: &str,
        role: Role,
        grids: Vec<GridId>,
    ) -> Result<(), StoreError>;

    // ---- devices ----
    /// Binds a device to a user with a new token (replacing any earlier token
    /// of that device). Returns false, changing nothing, when the device is
    /// bound to another user or revoked: device ids are not secret, so one
    /// officer must not be able to sign another's phone out.
    async fn enroll(
        &self,
        device: DeviceId,
        user: UserId,
        name: &str,
        token_hash: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Resolves a token hash.
    async fn token_owner(&self, token_hash: [u8; 32]) -> Result<Option<TokenOwner>, StoreError>;
    /// Whether a device was revoked.
    async fn device_revoked(&self, device: DeviceId) -> Result<bool, StoreError>;
    /// Revokes a device; its token stops working and its next contact wipes it.
    async fn revoke_device(&self, device: DeviceId, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Lists devices.
    async fn devices(&self) -> Result<Vec<Device>, StoreError>;
    /// Stores a new enrollment code (its hash) and forgets codes that
    /// expired more than [`EXPIRED_CODES_KEPT`] before it was made.
    /// `Duplicate` if the hash is taken, `NotFound` if either account is unknown.
    async fn create_enrollment_code(&self, code: NewEnrollmentCode) -> Result<(), StoreError>;
    /// Enrolls a device with a code, in one durable transaction: the code
    /// must exist, be unused and not expired at `now`, its account enabled,
    /// and the device free to bind to that account (as in [`Store::enroll`]);
    /// then the device gets the new token and the code is used up. Anything
    /// refused changes nothing. Of redemptions of one code at once, through
    /// any handles or server instances, exactly one is `Enrolled`; the others
    /// are `Used`.
    async fn enroll_with_code(
        &self,
        redemption: CodeRedemption,
    ) -> Result<CodeEnrollment, StoreError>;

    // ---- forms ----
    /// Publishes a form version (idempotent); returns whether it was new.
    async fn publish_form(&self, def: &FormDef) -> Result<bool, StoreError>;
    /// Every published form version.
    async fn forms(&self) -> Result<Vec<FormDef>, StoreError>;
    /// How many form versions are published. A published version is never
    /// removed (a form is retired by publishing a version that retires it),
    /// so the number changes exactly when [`Store::forms`] would return more.
    async fn forms_published(&self) -> Result<u64, StoreError>;

    // ---- sync ----
    /// Applies a push in one durable transaction, asking `decider` what to do
    /// with each change not seen before; replayed changes get their stored outcome.
    async fn push(
        &self,
        pusher: Pusher,
        batch: BatchId,
        changes: Vec<Change>,
        decider: Decider,
    ) -> Result<Vec<(ChangeId, ChangeOutcome)>, StoreError>;
    /// Records a supervisor's decision as a new version of the record
    /// (status approved or returned, with the review); it reaches the
    /// officer's device on its next pull. `None` if there is no such record.
    async fn review(&self, id: RecordId, review: Review) -> Result<Option<u64>, StoreError>;
    /// Change-log items after `since`, in order, within `scope`: forms and
    /// each record's current version (see the crate docs' compacted log).
    async fn pull(
        &self,
        scope: ReadScope,
        since: Cursor,
        limit: u32,
    ) -> Result<RawPage, StoreError>;
    /// A record's current state.
    async fn record(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError>;
    /// The current states of those of `ids` that are stored (deleted ones
    /// too), in no particular order: what a push's changes are decided on
    /// ahead of its transaction.
    async fn records(&self, ids: Vec<RecordId>) -> Result<Vec<StoredRecord>, StoreError>;
    /// Every version of a record, oldest first (the audit trail), each as
    /// devices pulled it when it was current.
    async fn record_history(&self, id: RecordId) -> Result<Vec<serde_json::Value>, StoreError>;
    /// Number of live records, per form.
    async fn record_counts(&self) -> Result<BTreeMap<String, u64>, StoreError>;
    /// Batches, newest first.
    async fn batches(&self, limit: u32) -> Result<Vec<BatchSummary>, StoreError>;

    // ---- blobs (metadata; the bytes live in the blob directory) ----
    /// Which of these digests are not stored complete.
    async fn missing_blobs(&self, hashes: Vec<Sha256>) -> Result<Vec<Sha256>, StoreError>;
    /// Records a verified blob as complete, uploaded by `device` (which may
    /// then attach it to its records); uploading it again renews the date.
    async fn complete_blob(
        &self,
        sha: Sha256,
        size: u64,
        content_type: &str,
        device: DeviceId,
    ) -> Result<(), StoreError>;
    /// Whether the current version of a record within `scope` carries the
    /// blob (a deleted record carries none).
    async fn blob_in_scope(&self, sha: Sha256, scope: ReadScope) -> Result<bool, StoreError>;
    /// Which of these digests `device` does not hold, each once: not stored
    /// complete, or neither uploaded by the device nor carried by the current
    /// version of a record within `scope`. A device uploads what it does not
    /// hold, even bytes the server has: knowing a digest is not having the photo.
    async fn blobs_not_held(
        &self,
        hashes: Vec<Sha256>,
        device: DeviceId,
        scope: ReadScope,
    ) -> Result<Vec<Sha256>, StoreError>;
    /// Bytes of the complete blobs `device` uploaded that no version of any
    /// record carries (yet).
    async fn unattached_bytes(&self, device: DeviceId) -> Result<u64, StoreError>;
    /// Whether any version of a record within `scope` carried the blob: the
    /// review pages show a record's history, photos included.
    async fn blob_in_history(&self, sha: Sha256, scope: ReadScope) -> Result<bool, StoreError>;
    /// Up to `limit` blobs that no version of any record carries, stored and
    /// last uploaded before `cutoff`, oldest first.
    async fn unreferenced_blobs(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Sha256>, StoreError>;
    /// Forgets a blob (its row and who uploaded it) if, checked in the same
    /// transaction, it is still one [`Store::unreferenced_blobs`] would list;
    /// returns whether it did. The caller removes the bytes afterwards.
    async fn forget_blob(&self, sha: Sha256, cutoff: DateTime<Utc>) -> Result<bool, StoreError>;

    // ---- review pages ----
    /// Batches for review, filtered, newest first, with their progress.
    async fn batch_page(&self, filter: BatchFilter) -> Result<BatchPage, StoreError>;
    /// One batch, if it exists and is in `scope` (see [`BatchFilter::scope`]).
    async fn batch_row(
        &self,
        id: BatchId,
        scope: ReadScope,
    ) -> Result<Option<BatchRow>, StoreError>;
    /// The records a batch wrote that are in `scope`, in push order.
    async fn batch_entries(
        &self,
        id: BatchId,
        scope: ReadScope,
    ) -> Result<Vec<BatchEntry>, StoreError>;
    /// The batch that wrote each revision of a record (review decisions and
    /// other server-side edits belong to none).
    async fn record_batches(&self, id: RecordId) -> Result<BTreeMap<u64, BatchId>, StoreError>;
    /// The hard conflicts kept for a record, oldest first, with who wrote each value.
    async fn record_conflicts(&self, id: RecordId) -> Result<Vec<ConflictEntry>, StoreError>;
    /// A server-side edit: asks `edit` about each record (on its current
    /// state) and writes what it returns as the record's next version (which
    /// devices pull), then the entry `audit` makes of the outcomes — all in
    /// one durable transaction.
    async fn edit_records(
        &self,
        ids: Vec<RecordId>,
        edit: RecordEdit,
        audit: EditAudit,
    ) -> Result<Vec<(RecordId, EditOutcome)>, StoreError>;
    /// Live hazards, overdue first, then by deadline.
    async fn hazards(&self, query: HazardQuery) -> Result<Vec<StoredRecord>, StoreError>;
    /// Live hazards per status, and how many are overdue (`today` as in [`HazardQuery`]).
    async fn hazard_counts(
        &self,
        scope: ReadScope,
        grid: Option<GridId>,
        today: String,
    ) -> Result<HazardCounts, StoreError>;
    /// One page of the live records the query selects, oldest (smallest id)
    /// first, starting after the record `after`. At most `limit` records are
    /// looked at, fewer if the records looked at reach `max_bytes` (stored
    /// size: the page's memory stays bounded whatever the records hold), and
    /// those outside the query's dates are left out, so a page may hold fewer
    /// (even none) and still have a next one. A page is one short read from
    /// one snapshot: a caller paging through an export holds no connection
    /// between pages (while it waits for a slow client), and a write made
    /// between two pages shows only in the pages after it.
    async fn export_page(
        &self,
        query: ExportQuery,
        after: Option<RecordId>,
        limit: u32,
        max_bytes: usize,
    ) -> Result<ExportPage, StoreError>;
    /// Appends an entry to the audit log; returns its position.
    async fn append_audit(&self, entry: NewAudit) -> Result<u64, StoreError>;
    /// Audit entries, newest first, and how many match.
    async fn audit_log(&self, query: AuditQuery) -> Result<(Vec<AuditEntry>, u64), StoreError>;
    /// Stores a new web session (and forgets expired ones).
    async fn create_web_session(&self, session: NewWebSession) -> Result<(), StoreError>;
    /// A web session by the hash of its id.
    async fn web_session(&self, id_hash: [u8; 32]) -> Result<Option<WebSession>, StoreError>;
    /// Notes activity on a web session.
    async fn touch_web_session(
        &self,
        id_hash: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Ends a web session.
    async fn end_web_session(&self, id_hash: [u8; 32]) -> Result<(), StoreError>;

    // ---- duplicate people ----
    /// The ID numbers two live person records in `query.scope` or more share
    /// (see [`person_id_number`]), smallest number first, leaving out those
    /// whose records in scope are all pairwise marked distinct. Reads the
    /// index the backend keeps as it writes records: the numbers held twice,
    /// not every record.
    async fn duplicates(&self, query: DuplicateQuery) -> Result<Vec<DuplicateGroup>, StoreError>;
    /// Marks two records as two different people (so [`Store::duplicates`]
    /// stops listing the pair) and appends `audit`, in one durable
    /// transaction; marking a marked pair again changes nothing but the audit
    /// log. The caller checks that both records exist and are in its scope.
    async fn mark_distinct(
        &self,
        a: RecordId,
        b: RecordId,
        audit: NewAudit,
    ) -> Result<(), StoreError>;

    // ---- failed sign-ins (shared by every instance on the database) ----
    /// Counts one failed sign-in against each of `counters` before the
    /// password is checked, or refuses the attempt.
    ///
    /// A counter's window starts at the first failure counted after its
    /// previous window ended (a window ends `window` after it started; an
    /// ended window's failures are forgotten). The attempt is refused,
    /// counting nothing, when any counter already holds `limit` failures or
    /// more in its current window; `retry_after` is then the longest time
    /// until such a window ends. Otherwise every counter goes up by one.
    ///
    /// All or nothing, and atomic with every other reservation and release
    /// on the same keys, whatever handle or server instance makes them: of
    /// attempts sent at once, at most `limit` are reserved per counter.
    ///
    /// Storage stays bounded: rows of ended windows are deleted (at the
    /// latest by a later reservation), so what is kept is at most the
    /// reservations of one window.
    async fn reserve_signin_failure(
        &self,
        counters: Vec<FailureCounter>,
        window: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<FailureReservation, StoreError>;
    /// Takes back a reserved failure after a correct password. For each
    /// counter still in the window the failure was counted in (same start):
    /// one marked [`FailureCounter::cleared_by_success`] forgets all its
    /// failures, any other loses the one reserved (forgotten at zero). A
    /// counter whose window ended meanwhile (or that a later window
    /// replaced) is left alone: the release is no credit in a new window.
    async fn release_signin_failure(&self, reserved: ReservedFailure) -> Result<(), StoreError>;
}
