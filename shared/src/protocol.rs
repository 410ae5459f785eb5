//! The v1 sync protocol's wire types. Frozen by golden JSON fixtures in
//! `shared/tests/fixtures/`: /v1 changes only by addition.
//!
//! Endpoints (all JSON, gzip both ways, bearer token except enrollment):
//! - `POST /v1/enroll` — [`EnrollRequest`] → [`EnrollResponse`]
//! - `POST /v1/push` — [`PushRequest`] → [`PushResponse`]
//! - `GET  /v1/pull?since=<cursor>&limit=<n>` → [`PullPage`]
//! - `POST /v1/blobs/missing` — [`BlobQuery`] → [`BlobQueryResponse`]
//! - `PUT  /v1/blobs/{sha256}` — resumable upload with `Content-Range: bytes a-b/total`
//!   (the convention of resumable uploads to object stores): `308` with a
//!   `Range: bytes=0-n` header while incomplete, `201` with [`BlobStatus`] when
//!   the bytes are complete and their SHA-256 matches; `HEAD` tells what has arrived.
//! - `GET  /v1/blobs/{sha256}` — the bytes.
//! - Every error: an HTTP 4xx with an [`ErrorBody`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::form::{FieldError, FormDef, Values};
use crate::hlc::Hlc;
use crate::ids::{
    BatchId, ChangeId, DeviceId, FormId, GridId, RecordId, Sha256, StationId, UserId,
};
use crate::merge::FieldConflict;
use crate::record::{AttachmentRef, Record};
pub use crate::role::Role;
use crate::text::Text;

/// A position in the server's change log. Pulling `since` a cursor returns
/// everything committed after it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cursor(pub u64);

/// `POST /v1/enroll`: bind a device to a user.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// Badge number (警号): at most 64 bytes of UTF-8 once surrounding spaces are trimmed.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = r"\S")
    )]
    pub badge: String,
    /// Password: at most 1024 bytes of UTF-8.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub password: String,
    /// The device's own id, generated on first start.
    pub device_id: DeviceId,
    /// A name the supervisor recognises ("张警官的手机"): at most 100 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: String,
}

/// `POST /v1/enroll/code`: bind a device to the user an enrollment code was
/// made for (the code a supervisor's page shows as a QR code), instead of
/// badge and password. A code binds one device, once, before it expires.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEnrollRequest {
    /// The enrollment code: 32 hexadecimal digits (128 bits), as shown
    /// (groups of four joined by `-`) or plain; case, spaces and dashes do
    /// not matter.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub code: String,
    /// The device's own id, generated on first start.
    pub device_id: DeviceId,
    /// A name the supervisor recognises ("张警官的手机"): at most 100 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub device_name: String,
}

/// Who the user is, as the device needs to know.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Account id.
    pub id: UserId,
    /// Badge number.
    pub badge: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Station.
    pub station: StationId,
    /// Grids in scope.
    pub grids: Vec<GridId>,
}

/// The answer to a successful enrollment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// Bearer token for this device; shown once, stored hashed on the server.
    pub token: String,
    /// The user.
    pub user: UserInfo,
}

/// One change to one record, made on a device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ChangeWire")]
pub struct Change {
    /// Unique per change; replaying it has no further effect.
    pub change_id: ChangeId,
    /// The record changed.
    pub record_id: RecordId,
    /// Its form.
    pub form_id: FormId,
    /// Its form version.
    pub form_version: u32,
    /// Its grid.
    pub grid: GridId,
    /// The revision the device last saw (0 for a record it created).
    pub base_revision: u64,
    /// When the change was made, as a hybrid logical clock.
    pub hlc: Hlc,
    /// Device wall-clock time of the change (data only).
    pub at: DateTime<Utc>,
    /// What changed.
    #[serde(flatten)]
    pub op: ChangeOp,
}

/// What a change does.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ChangeOp {
    /// Creates or edits: the fields that changed since the base (`null` clears one),
    /// and the attachments the record now carries.
    Upsert {
        /// Changed fields only.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        fields: Values,
        /// All attachments of the record after the change.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentRef>,
    },
    /// Deletes the record (a tombstone; history is kept).
    Delete,
}

/// A [`Change`] as it is read: the same JSON, with the operation's fields
/// read in place. (`#[serde(flatten)]` on the operation would buffer every
/// value of every change before reading it again: a push's largest cost
/// after the sync rules.)
#[derive(Deserialize)]
struct ChangeWire {
    change_id: ChangeId,
    record_id: RecordId,
    form_id: FormId,
    form_version: u32,
    grid: GridId,
    base_revision: u64,
    hlc: Hlc,
    at: DateTime<Utc>,
    op: OpName,
    fields: Option<Values>,
    #[serde(default)]
    attachments: Vec<AttachmentRef>,
}

/// The tag of a [`ChangeOp`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OpName {
    Upsert,
    Delete,
}

impl TryFrom<ChangeWire> for Change {
    type Error = &'static str;

    fn try_from(w: ChangeWire) -> Result<Self, Self::Error> {
        let op = match w.op {
            OpName::Upsert => ChangeOp::Upsert {
                fields: w.fields.ok_or("missing field `fields`")?,
                attachments: w.attachments,
            },
            OpName::Delete => ChangeOp::Delete,
        };
        Ok(Change {
            change_id: w.change_id,
            record_id: w.record_id,
            form_id: w.form_id,
            form_version: w.form_version,
            grid: w.grid,
            base_revision: w.base_revision,
            hlc: w.hlc,
            at: w.at,
            op,
        })
    }
}

/// `POST /v1/push`: a batch of changes from one device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    /// Unique per push; a replayed batch is recognised as such.
    pub batch_id: BatchId,
    /// The changes, applied in order.
    pub changes: Vec<Change>,
}

/// The result of one change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeResult {
    /// Which change.
    pub change_id: ChangeId,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: ChangeOutcome,
}

/// What became of a change. Replaying a change returns its original outcome.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeOutcome {
    /// Applied on the revision it was based on.
    Accepted {
        /// The record's new revision.
        revision: u64,
    },
    /// Applied on a newer revision; concurrent edits touched other fields (soft conflict).
    Merged {
        /// The record's new revision.
        revision: u64,
    },
    /// The same field was edited concurrently; resolved by clock, the record is flagged.
    Conflicted {
        /// The record's new revision.
        revision: u64,
        /// Each contested field, with both values.
        conflicts: Vec<FieldConflict>,
    },
    /// Refused; nothing stored. Permanent: resending the same change will not help.
    Rejected {
        /// Why, as a stable code.
        code: ErrorCode,
        /// For a person.
        message: Text,
        /// Field errors, when the record did not validate.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        errors: Vec<FieldError>,
    },
}

impl ChangeOutcome {
    /// The new revision, unless rejected.
    pub fn revision(&self) -> Option<u64> {
        match self {
            ChangeOutcome::Accepted { revision }
            | ChangeOutcome::Merged { revision }
            | ChangeOutcome::Conflicted { revision, .. } => Some(*revision),
            ChangeOutcome::Rejected { .. } => None,
        }
    }
}

/// The answer to a push: one result per change, in order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The batch.
    pub batch_id: BatchId,
    /// Per-change results, in the order of the request.
    pub results: Vec<ChangeResult>,
}

/// A supervisor's decision on a record.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Approved.
    Approve,
    /// Returned to the officer.
    Return {
        /// Why, for the officer.
        reason: String,
    },
}

/// A review decision with who made it and when.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The decision.
    #[serde(flatten)]
    pub decision: ReviewDecision,
    /// The supervisor's name.
    pub by: String,
    /// When (server time).
    pub at: DateTime<Utc>,
}

/// One version of a record as the server holds it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordVersion {
    /// The record at this version.
    pub record: Record,
    /// Its revision (1, 2, ...).
    pub revision: u64,
    /// A tombstone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Flagged for the supervisor: a hard conflict was resolved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conflicted: bool,
    /// The latest review decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// The hard conflicts the change that wrote this version resolved, each
    /// field with both values (empty for most versions): how a device whose
    /// value lost learns of it, whichever device pushed last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<FieldConflict>,
}

/// One item of a pull page.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "PullItemWire")]
pub enum PullItem {
    /// A published form definition.
    Form {
        /// Position in the change log.
        cursor: Cursor,
        /// The definition.
        definition: Box<FormDef>,
    },
    /// A record version (standard addresses are records of the `address` form).
    Record {
        /// Position in the change log.
        cursor: Cursor,
        /// The version.
        version: Box<RecordVersion>,
    },
}

/// A [`PullItem`] as it is read: the same JSON, read in place. (Serde reads
/// an internally tagged enum by buffering the whole item, every value of
/// the record, before reading it again: most of a pull's decoding.)
#[derive(Deserialize)]
struct PullItemWire {
    kind: PullItemKind,
    cursor: Cursor,
    definition: Option<Box<FormDef>>,
    version: Option<Box<RecordVersion>>,
}

/// The tag of a [`PullItem`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PullItemKind {
    Form,
    Record,
}

impl TryFrom<PullItemWire> for PullItem {
    type Error = &'static str;

    fn try_from(w: PullItemWire) -> Result<Self, Self::Error> {
        Ok(match w.kind {
            PullItemKind::Form => PullItem::Form {
                cursor: w.cursor,
                definition: w.definition.ok_or("missing field `definition`")?,
            },
            PullItemKind::Record => PullItem::Record {
                cursor: w.cursor,
                version: w.version.ok_or("missing field `version`")?,
            },
        })
    }
}

impl PullItem {
    /// The item's position in the change log.
    pub fn cursor(&self) -> Cursor {
        match self {
            PullItem::Form { cursor, .. } | PullItem::Record { cursor, .. } => *cursor,
        }
    }
}

/// `GET /v1/pull?since=c&limit=n`: items after `c`, in log order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullPage {
    /// The items.
    pub items: Vec<PullItem>,
    /// Pass as `since` for the next page; store it with the applied items.
    pub next: Cursor,
    /// More items wait after `next`.
    pub has_more: bool,
    /// The grids this page was read with, for an officer or auxiliary (whose
    /// scope is a list of grids); absent for supervisors and admins. A device
    /// whose stored grids differ learns here that its scope was changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grids: Option<Vec<GridId>>,
}

/// `POST /v1/blobs/missing`: which of these does the server lack?
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobQuery {
    /// Digests the device is about to reference.
    pub hashes: Vec<Sha256>,
}

/// The digests the server lacks, to upload before pushing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobQueryResponse {
    /// Missing digests.
    pub missing: Vec<Sha256>,
}

/// Where an upload stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    /// The blob.
    pub sha256: Sha256,
    /// Bytes received so far (contiguous from 0).
    pub received: u64,
    /// Whether the blob is complete and verified.
    pub complete: bool,
}

/// A stable, machine-readable error code, shared by server and client.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or not the expected shape (400).
    MalformedRequest,
    /// The body or a batch is larger than allowed (413).
    PayloadTooLarge,
    /// No or an unknown bearer token, or wrong credentials (401).
    Unauthorized,
    /// The device was revoked: wipe local data (401).
    DeviceRevoked,
    /// The user may not do this (403).
    Forbidden,
    /// The record's grid is outside the user's scope (403).
    OutOfScope,
    /// No such thing (404).
    NotFound,
    /// The form or form version is not published (422).
    UnknownForm,
    /// The form is retired: no new records of it are accepted, records that
    /// exist may still be edited (422).
    FormRetired,
    /// The record does not validate against its form (422).
    ValidationFailed,
    /// Uploaded bytes do not match their SHA-256 (422).
    HashMismatch,
    /// A Content-Range does not continue what was received (409).
    RangeMismatch,
    /// The change conflicts with the record's state in a way no merge resolves,
    /// e.g. editing a deleted record (409).
    Conflict,
    /// A referenced attachment was never uploaded (409; upload, then push again).
    MissingBlob,
    /// Too many attempts; wait and retry (429).
    TooManyRequests,
    /// The server failed; retry later (500/503).
    Internal,
    /// The server is short of disk space and stores nothing more for now;
    /// retry later (507).
    InsufficientStorage,
    /// No such enrollment code: mistyped, or never made (401).
    EnrollmentCodeUnknown,
    /// The enrollment code was used already: ask for a new one (410).
    EnrollmentCodeUsed,
    /// The enrollment code expired: ask for a new one (410).
    EnrollmentCodeExpired,
}

impl ErrorCode {
    /// Whether the same request may succeed later without changes.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::TooManyRequests
                | ErrorCode::Internal
                | ErrorCode::MissingBlob
                | ErrorCode::InsufficientStorage
        )
    }
}

/// The body of every error response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong and what to do, in both languages.
    pub message: Text,
    /// Field errors, where a record did not validate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wire(op: serde_json::Value) -> serde_json::Value {
        let mut change = json!({
            "change_id": "0192e4a0-0000-7000-8000-000000000001",
            "record_id": "0192e4a0-0000-7000-8000-000000000002",
            "form_id": "house", "form_version": 1, "grid": "G1", "base_revision": 0,
            "hlc": {"wall_ms": 1, "counter": 0, "device": "0192e4a0-0000-7000-8000-000000000003"},
            "at": "2026-11-30T08:00:00Z",
        });
        if let (Some(c), Some(o)) = (change.as_object_mut(), op.as_object()) {
            c.extend(o.clone());
        }
        change
    }

    #[test]
    fn a_change_reads_back_what_it_writes_and_an_upsert_needs_its_fields() {
        for op in [
            json!({"op": "upsert", "fields": {"address": "一号"}}),
            json!({"op": "upsert", "fields": {}, "attachments": [
                {"sha256": "a".repeat(64), "content_type": "image/jpeg", "size": 3}]}),
            json!({"op": "delete"}),
        ] {
            let change: Change = serde_json::from_value(wire(op.clone())).expect("reads");
            let again: Change =
                serde_json::from_value(serde_json::to_value(&change).expect("writes"))
                    .expect("reads back");
            assert_eq!(again, change, "{op}");
        }
        let e = serde_json::from_value::<Change>(wire(json!({"op": "upsert"})))
            .expect_err("an upsert without fields");
        assert!(e.to_string().contains("missing field `fields`"), "{e}");
        let e = serde_json::from_value::<Change>(wire(json!({"op": "rename", "fields": {}})))
            .expect_err("an unknown operation");
        assert!(e.to_string().contains("unknown variant `rename`"), "{e}");
    }

    #[test]
    fn a_pull_item_needs_the_part_its_kind_names() {
        let e = serde_json::from_value::<PullItem>(json!({"kind": "record", "cursor": 3}))
            .expect_err("a record item without its version");
        assert!(e.to_string().contains("missing field `version`"), "{e}");
        let e = serde_json::from_value::<PullItem>(json!({"kind": "form", "cursor": 3}))
            .expect_err("a form item without its definition");
        assert!(e.to_string().contains("missing field `definition`"), "{e}");
        let e = serde_json::from_value::<PullItem>(json!({"kind": "photo", "cursor": 3}))
            .expect_err("an unknown kind");
        assert!(e.to_string().contains("unknown variant `photo`"), "{e}");
    }
}
