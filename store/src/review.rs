//! What the review pages ask of storage: batches with their review progress,
//! the records of a batch, hazards, exports, server-side edits of records
//! (review decisions, hazard verification) with their audit entry, and web
//! sessions. Plain data and small callbacks, so every backend can serve them;
//! the rules (who may decide what) live in the server's review module.

use std::collections::BTreeMap;

use beatbook_schema::ids::{BatchId, ChangeId, FormId, GridId, RecordId, StationId, UserId};
use beatbook_schema::merge::FieldConflict;
use beatbook_schema::protocol::{ChangeOutcome, ErrorCode, UserInfo};
use beatbook_schema::text::Text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BatchSummary, ReadScope, StoredRecord};

/// Where a batch's review stands, for filtering the batch list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// At least one of its records (in scope) still waits for a decision.
    Pending,
    /// Every record it wrote (in scope) was decided, or edited again later.
    Reviewed,
    /// It carried a hard conflict.
    Conflicted,
    /// Some of its changes were refused.
    Rejected,
}

/// Which batches to list.
#[derive(Debug, Clone)]
pub struct BatchFilter {
    /// The reader's scope: a batch is listed if it wrote a record in scope,
    /// or (when it stored nothing) its officer works in a grid in scope.
    pub scope: ReadScope,
    /// Only batches that wrote a record of this grid.
    pub grid: Option<GridId>,
    /// Only batches pushed by this account.
    pub officer: Option<UserId>,
    /// Only batches that wrote a record of this form.
    pub form: Option<FormId>,
    /// Received at or after.
    pub received_from: Option<DateTime<Utc>>,
    /// Received before.
    pub received_before: Option<DateTime<Utc>>,
    /// Review state.
    pub status: Option<BatchStatus>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// How far the review of a batch's records (in scope) has come.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewProgress {
    /// Waiting for a decision.
    pub pending: u64,
    /// Approved.
    pub approved: u64,
    /// Returned to the officer.
    pub returned: u64,
    /// Edited again in a later batch (reviewed there) or deleted since.
    pub superseded: u64,
}

impl ReviewProgress {
    /// Records counted.
    pub fn total(&self) -> u64 {
        self.pending + self.approved + self.returned + self.superseded
    }
}

/// A batch as the review list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// The batch.
    pub summary: BatchSummary,
    /// The officer's name.
    pub officer: String,
    /// The officer's badge number.
    pub badge: String,
    /// The device's name.
    pub device_name: String,
    /// Records written (in scope), per form.
    pub forms: BTreeMap<String, u64>,
    /// Review progress of those records.
    pub progress: ReviewProgress,
}

/// One page of batches.
#[derive(Debug, Clone, Default)]
pub struct BatchPage {
    /// The rows, newest first.
    pub rows: Vec<BatchRow>,
    /// How many batches match the filter.
    pub total: u64,
}

/// A record a batch wrote, as it stands now.
#[derive(Debug, Clone)]
pub struct BatchEntry {
    /// The record's current state.
    pub record: StoredRecord,
    /// The revision this batch wrote (the last, if it wrote several).
    pub written_revision: u64,
    /// What the push answered for that change.
    pub outcome: Option<ChangeOutcome>,
    /// A later batch that edited the record again, if any.
    pub superseded_by: Option<BatchId>,
}

/// Someone who wrote a value, as a conflict shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writer {
    /// The account's name.
    pub name: String,
    /// Badge number.
    pub badge: String,
    /// The device's name.
    pub device_name: String,
}

/// A hard conflict kept in a record's history.
#[derive(Debug, Clone)]
pub struct ConflictEntry {
    /// The revision the conflict was resolved at.
    pub revision: u64,
    /// The change that met it.
    pub change_id: ChangeId,
    /// Both values.
    pub conflict: FieldConflict,
    /// Who wrote the value that stands, if the device is known.
    pub winner: Option<Writer>,
    /// Who wrote the value that lost, if the device is known.
    pub loser: Option<Writer>,
}

/// Why a server-side edit of a record was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable code (`out_of_scope`, `conflict`, `validation_failed`, ...).
    pub code: ErrorCode,
    /// For the person who asked.
    pub message: Text,
}

/// What became of one record of a server-side edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOutcome {
    /// Written as a new version (which devices pull).
    Written {
        /// The new revision.
        revision: u64,
    },
    /// Judged and refused; nothing written.
    Refused(Refusal),
    /// No such record.
    Missing,
}

/// A server-side edit of one record (a review decision, a hazard
/// verification), judged inside the backend's transaction on the record's
/// current state: the record to write as its next version, or a refusal.
pub type RecordEdit = Box<dyn FnMut(&StoredRecord) -> Result<StoredRecord, Refusal> + Send>;

/// Makes the audit entry of an edit from its outcomes, inside the same
/// transaction; `None` records nothing (e.g. when nothing was written).
pub type EditAudit = Box<dyn FnOnce(&[(RecordId, EditOutcome)]) -> Option<NewAudit> + Send>;

/// An entry for the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAudit {
    /// When (server time).
    pub at: DateTime<Utc>,
    /// Who.
    pub user: UserId,
    /// Their badge number.
    pub badge: String,
    /// Their name.
    pub name: String,
    /// Their station (supervisors see their station's entries).
    pub station: StationId,
    /// What, as a stable word (`approve`, `return`, `verify`, `export`, `sign_in`, ...).
    pub action: String,
    /// What it was done to (a record, a batch, a form).
    pub target: String,
    /// Particulars (a reason, a date range, counts).
    pub detail: serde_json::Value,
}

impl NewAudit {
    /// An entry for `user` now.
    pub fn by(
        user: &UserInfo,
        action: &str,
        target: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            at: Utc::now(),
            user: user.id,
            badge: user.badge.clone(),
            name: user.name.clone(),
            station: user.station.clone(),
            action: action.to_owned(),
            target: target.into(),
            detail,
        }
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log.
    pub id: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: NewAudit,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// Only this station's entries (`None`: all, for admins).
    pub station: Option<StationId>,
    /// Only this action.
    pub action: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// Which hazards to list.
#[derive(Debug, Clone)]
pub struct HazardQuery {
    /// The reader's scope.
    pub scope: ReadScope,
    /// Only this value of the `status` field (`open`, `rectifying`, `rectified`, `verified`).
    pub status: Option<String>,
    /// Only this grid.
    pub grid: Option<GridId>,
    /// The local date today (`YYYY-MM-DD`): hazards open or rectifying past
    /// their `deadline` come first, then by deadline.
    pub today: String,
    /// At most this many.
    pub limit: u32,
}

/// Which records to export, oldest first.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    /// The reader's scope.
    pub scope: ReadScope,
    /// The form.
    pub form: FormId,
    /// Only this grid.
    pub grid: Option<GridId>,
    /// Created (device time) at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
}

/// One page of an export (see [`crate::Store::export_page`]).
#[derive(Debug, Clone, Default)]
pub struct ExportPage {
    /// The records of the page the query selects, oldest (smallest id) first.
    pub records: Vec<StoredRecord>,
    /// Where the next page starts (its `after`); `None` after the last page.
    pub next: Option<RecordId>,
}

/// A new web session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebSession {
    /// SHA-256 of the session id (the id itself is only in the cookie).
    pub id_hash: [u8; 32],
    /// The account.
    pub user: UserId,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Ends at the latest then.
    pub expires_at: DateTime<Utc>,
}

/// A stored web session with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// The account, as it is now.
    pub user: UserInfo,
    /// The account was disabled.
    pub disabled: bool,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Absolute end.
    pub expires_at: DateTime<Utc>,
    /// Last request seen (coarse: updated at most every few minutes).
    pub last_seen_at: DateTime<Utc>,
}

/// Hazard counts per `status` value, and those overdue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HazardCounts {
    /// Per status value.
    pub by_status: BTreeMap<String, u64>,
    /// Open or rectifying past their deadline.
    pub overdue: u64,
}
