//! Records as the device holds them.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::{FieldError, FormDef, Values};
use beatbook_schema::ids::{DeviceId, FormId, GridId, RecordId, Sha256, UserId};
use beatbook_schema::protocol::{ErrorCode, Review, ReviewDecision};
use beatbook_schema::record::AttachmentRef;
use beatbook_schema::text::Text;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{LocalStore, LocalStoreError};

/// Where a record stands on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalState {
    /// Being entered or edited; saved, not sent.
    Draft,
    /// Finalized; its change waits in the outbox.
    Queued,
    /// The server acknowledged it; nothing pending.
    Synced,
    /// A supervisor returned it with a reason; editable again.
    Returned,
    /// A supervisor approved it.
    Approved,
    /// The server refused the last change (the reason is kept); editable.
    Rejected,
}

impl LocalState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            LocalState::Draft => "draft",
            LocalState::Queued => "queued",
            LocalState::Synced => "synced",
            LocalState::Returned => "returned",
            LocalState::Approved => "approved",
            LocalState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "queued" => LocalState::Queued,
            "synced" => LocalState::Synced,
            "returned" => LocalState::Returned,
            "approved" => LocalState::Approved,
            "rejected" => LocalState::Rejected,
            _ => LocalState::Draft,
        }
    }

    /// The state's name for the officer.
    pub fn label(self) -> Text {
        match self {
            LocalState::Draft => Text::new("草稿", "Draft"),
            LocalState::Queued => Text::new("待上传", "Waiting to sync"),
            LocalState::Synced => Text::new("已上传", "Synced"),
            LocalState::Returned => Text::new("被退回", "Returned"),
            LocalState::Approved => Text::new("已通过", "Approved"),
            LocalState::Rejected => Text::new("被拒收", "Refused by server"),
        }
    }
}

/// Why the server refused a record's last change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Stable code.
    pub code: ErrorCode,
    /// For the officer.
    pub message: Text,
    /// Field errors.
    pub errors: Vec<FieldError>,
}

/// A record on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalRecord {
    /// Id.
    pub id: RecordId,
    /// Form.
    pub form_id: FormId,
    /// Form version.
    pub form_version: u32,
    /// Grid.
    pub grid: GridId,
    /// First author.
    pub author: UserId,
    /// Device it was first entered on.
    pub device: DeviceId,
    /// Local state.
    pub state: LocalState,
    /// Current values.
    pub values: Values,
    /// Attachments.
    pub attachments: Vec<AttachmentRef>,
    /// Server revision the local edits are based on (0: never synced).
    pub base_revision: u64,
    /// The latest review, with a returned record's reason.
    pub review: Option<Review>,
    /// The server's refusal of the last change, if any.
    pub rejection: Option<Rejection>,
    /// Flagged by a hard conflict on the server.
    pub conflicted: bool,
    /// Deleted (a tombstone).
    pub deleted: bool,
    /// First saved.
    pub created_at: DateTime<Utc>,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
}

impl LocalRecord {
    /// Whether a supervisor approved it: its state, or its latest review
    /// (an approved hazard being rectified on this phone is a draft again).
    pub fn approved(&self) -> bool {
        self.state == LocalState::Approved
            || self
                .review
                .as_ref()
                .is_some_and(|r| matches!(r.decision, ReviewDecision::Approve))
    }

    /// Whether the officer may edit it now: not once approved, except a
    /// hazard, whose rectification goes on whatever its review state
    /// ([`crate::FormSession::is_locked`] says which of its fields stay shut).
    pub fn editable(&self) -> bool {
        !self.deleted && (!self.approved() || self.form_id.as_str() == form_ids::HAZARD)
    }
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Only this form.
    pub form: Option<String>,
    /// Only these states.
    pub states: Vec<LocalState>,
    /// Only records first entered by this officer (theirs, not pulled ones
    /// of others in the grid).
    pub author: Option<UserId>,
    /// At most this many (newest first).
    pub limit: Option<u32>,
    /// Skip this many first (the pages before).
    pub offset: u32,
}

pub(super) const COLUMNS: &str = "id, form_id, form_version, grid, author, device, state, vals, attachments, base_revision, review, problem, conflicted, deleted, created_at, updated_at";

fn parse_json<T: serde::de::DeserializeOwned>(s: &str, col: usize) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn parse_id<T: std::str::FromStr>(s: &str, col: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn parse_time(s: &str, col: usize) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
        })
}

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<LocalRecord> {
    let review: Option<String> = r.get(10)?;
    let problem: Option<String> = r.get(11)?;
    Ok(LocalRecord {
        id: parse_id(&r.get::<_, String>(0)?, 0)?,
        form_id: FormId(r.get(1)?),
        form_version: r.get(2)?,
        grid: GridId(r.get(3)?),
        author: parse_id(&r.get::<_, String>(4)?, 4)?,
        device: parse_id(&r.get::<_, String>(5)?, 5)?,
        state: LocalState::parse(&r.get::<_, String>(6)?),
        values: parse_json(&r.get::<_, String>(7)?, 7)?,
        attachments: parse_json(&r.get::<_, String>(8)?, 8)?,
        base_revision: r.get::<_, i64>(9)? as u64,
        review: review.as_deref().map(|s| parse_json(s, 10)).transpose()?,
        rejection: problem.as_deref().map(|s| parse_json(s, 11)).transpose()?,
        conflicted: r.get(12)?,
        deleted: r.get(13)?,
        created_at: parse_time(&r.get::<_, String>(14)?, 14)?,
        updated_at: parse_time(&r.get::<_, String>(15)?, 15)?,
    })
}

/// The JSON path of a top-level field, to splice into SQL: only names of
/// lowercase letters and underscores, as every form's fields are.
fn json_path(field: &str) -> Result<String, LocalStoreError> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(LocalStoreError::NoField(field.to_owned()));
    }
    Ok(format!("$.{field}"))
}

/// The records of a form whose field at `path` holds a value. The path is
/// spliced into the SQL so that the expression matches the indexes'
/// (`records_address`, `records_house`); no ORDER BY, which would tempt the
/// planner to walk all of the form's records in order instead.
pub(super) fn records_where_sql(path: &str) -> String {
    format!(
        "SELECT {COLUMNS} FROM records
         WHERE form_id = ?1 AND json_extract(vals, '{path}') = ?2 AND deleted = 0"
    )
}

pub(super) fn get_record(
    conn: &rusqlite::Connection,
    id: RecordId,
) -> Result<Option<LocalRecord>, LocalStoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM records WHERE id = ?1"))?
        .query_row([id.to_string()], from_row)
        .optional()?)
}

impl LocalStore {
    /// Saves a published form definition.
    pub fn put_form(&self, def: &FormDef) -> Result<(), LocalStoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO forms (form_id, version, definition) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                def.form_id.as_str(),
                def.version,
                serde_json::to_string(def)?
            ])?;
        Ok(())
    }

    /// Every form definition on the device.
    pub fn forms(&self) -> Result<Vec<FormDef>, LocalStoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT definition FROM forms ORDER BY form_id, version")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Creates a draft.
    pub fn create_draft(
        &self,
        form: (&FormId, u32),
        grid: &GridId,
        author: UserId,
        values: &Values,
    ) -> Result<RecordId, LocalStoreError> {
        let id = RecordId::new_v7();
        let now = Utc::now().to_rfc3339();
        self.conn
            .prepare_cached(
                "INSERT INTO records (id, form_id, form_version, grid, author, device, state, vals, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'draft', ?7, ?8, ?8)",
            )?
            .execute(params![
                id.to_string(),
                form.0.as_str(),
                form.1,
                grid.as_str(),
                author.to_string(),
                self.device.to_string(),
                serde_json::to_string(values)?,
                now
            ])?;
        Ok(id)
    }

    /// Autosaves a record's answers (one per keystroke is fine: one small
    /// durable UPDATE). Editing a synced record turns it into a draft again.
    pub fn save_draft(
        &self,
        id: RecordId,
        values: &Values,
        attachments: &[AttachmentRef],
    ) -> Result<(), LocalStoreError> {
        let record = self.record(id)?;
        if !record.editable() {
            return Err(LocalStoreError::NotEditable(format!(
                "record {id} is {} and cannot be edited",
                record.state.label().en
            )));
        }
        let state = match record.state {
            LocalState::Returned | LocalState::Rejected => record.state,
            _ => LocalState::Draft,
        };
        self.conn
            .prepare_cached(concat!(
                "UPDATE records SET vals = ?1, base_vals = ",
                base_kept!(),
                ", attachments = ?2, state = ?3, updated_at = ?4 WHERE id = ?5"
            ))?
            .execute(params![
                serde_json::to_string(values)?,
                serde_json::to_string(attachments)?,
                state.as_str(),
                Utc::now().to_rfc3339(),
                id.to_string()
            ])?;
        Ok(())
    }

    /// One record.
    pub fn record(&self, id: RecordId) -> Result<LocalRecord, LocalStoreError> {
        get_record(&self.conn, id)?.ok_or_else(|| LocalStoreError::NoRecord(id.to_string()))
    }

    /// Records matching a filter, newest first.
    pub fn records(&self, filter: &RecordFilter) -> Result<Vec<LocalRecord>, LocalStoreError> {
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        // The page's ids first, from the index alone; then their rows.
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records WHERE id IN (
                 SELECT id FROM records INDEXED BY records_recent
                 WHERE deleted = 0 AND (?1 IS NULL OR form_id = ?1)
                   AND (?2 = '[]' OR state IN (SELECT value FROM json_each(?2)))
                   AND (?3 IS NULL OR author = ?3)
                 ORDER BY updated_at DESC, id DESC LIMIT ?4 OFFSET ?5)
             ORDER BY updated_at DESC, id DESC"
        ))?;
        let rows = stmt.query_map(
            params![
                filter.form,
                serde_json::to_string(&states)?,
                filter.author.map(|a| a.to_string()),
                filter.limit.map_or(-1, i64::from),
                filter.offset,
            ],
            from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Live records of `form` whose top-level text field `field` holds
    /// `value` (the houses at an address, the residents of a house), newest
    /// first. `address` and `house` are indexed; other fields are scanned.
    pub fn records_where(
        &self,
        form: &str,
        field: &str,
        value: &str,
    ) -> Result<Vec<LocalRecord>, LocalStoreError> {
        let field = json_path(field)?;
        let mut stmt = self.conn.prepare_cached(&records_where_sql(&field))?;
        let rows = stmt.query_map(params![form, value], from_row)?;
        let mut records: Vec<LocalRecord> = rows.collect::<Result<_, _>>()?;
        records.sort_by_key(|r| std::cmp::Reverse((r.updated_at, r.id)));
        Ok(records)
    }

    /// The live records of `form` whose top-level field `field` is at one
    /// of `values` (e.g. the unfinished hazards), newest first.
    pub fn records_in(
        &self,
        form: &str,
        field: &str,
        values: &[&str],
    ) -> Result<Vec<LocalRecord>, LocalStoreError> {
        let field = json_path(field)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records
             WHERE form_id = ?1 AND deleted = 0
               AND json_extract(vals, '{field}') IN (SELECT value FROM json_each(?2))
             ORDER BY updated_at DESC, id DESC"
        ))?;
        let rows = stmt.query_map(params![form, serde_json::to_string(values)?], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many live records of `form` have their top-level field `field`
    /// at one of `values` (e.g. the open hazards), without decoding them.
    pub fn count_where(
        &self,
        form: &str,
        field: &str,
        values: &[&str],
    ) -> Result<u64, LocalStoreError> {
        let field = json_path(field)?;
        let n: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM records
                 WHERE form_id = ?1 AND deleted = 0
                   AND json_extract(vals, '{field}') IN (SELECT value FROM json_each(?2))"
            ))?
            .query_row(params![form, serde_json::to_string(values)?], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// How many records are in each state.
    pub fn state_counts(&self) -> Result<Vec<(LocalState, u64)>, LocalStoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM records WHERE deleted = 0 GROUP BY state")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                LocalState::parse(&r.get::<_, String>(0)?),
                r.get::<_, i64>(1)? as u64,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest record of a form entered on this device (for carrying
    /// values forward: what this officer typed last, not what others synced).
    pub fn latest_of_form(&self, form_id: &str) -> Result<Option<LocalRecord>, LocalStoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM records WHERE form_id = ?1 AND device = ?2 AND deleted = 0
                 ORDER BY created_at DESC, id DESC LIMIT 1"
            ))?
            .query_row(params![form_id, self.device.to_string()], from_row)
            .optional()?)
    }

    /// Records an attachment the device holds (its sealed file written by the caller).
    pub fn add_attachment(&self, attachment: &AttachmentRef) -> Result<(), LocalStoreError> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO attachments (sha256, content_type, size) VALUES (?1, ?2, ?3)")?
            .execute(params![attachment.sha256.to_hex(), attachment.content_type, attachment.size as i64])?;
        Ok(())
    }

    /// Forgets a photo no record, version or change of this device names
    /// any more and the server never received (taken and removed before
    /// saving): its row and its sealed file go, so it is neither uploaded
    /// nor counted as unsent. Returns whether it went.
    pub fn discard_photo_if_unused(&self, sha: &Sha256) -> Result<bool, LocalStoreError> {
        let hex = sha.to_hex();
        let used: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?1 AND uploaded = 1)
                 OR EXISTS (SELECT 1 FROM records WHERE instr(vals, ?1) OR instr(base_vals, ?1)
                     OR instr(attachments, ?1) OR instr(coalesce(held, ''), ?1))
                 OR EXISTS (SELECT 1 FROM outbox WHERE instr(change, ?1))",
            [&hex],
            |r| r.get(0),
        )?;
        if used {
            return Ok(false);
        }
        self.conn
            .prepare_cached("DELETE FROM attachments WHERE sha256 = ?1")?
            .execute([&hex])?;
        crate::files::remove(&crate::photos::photo_path(&self.photo_dir(), sha))?;
        Ok(true)
    }

    /// Attachments referenced by queued changes that the server has not confirmed.
    pub fn unuploaded_attachments(&self) -> Result<Vec<AttachmentRef>, LocalStoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT a.sha256, a.content_type, a.size FROM attachments a
             JOIN outbox o ON o.change LIKE '%' || a.sha256 || '%'
             WHERE a.uploaded = 0",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (sha, content_type, size) = r?;
            let sha256: Sha256 = sha.parse().map_err(|_| {
                LocalStoreError::Corrupt(serde::de::Error::custom("attachment digest"))
            })?;
            Ok(AttachmentRef {
                sha256,
                content_type,
                size: size as u64,
            })
        })
        .collect()
    }

    /// Notes that the server does not hold an attachment after all.
    pub fn mark_not_uploaded(&self, sha: &Sha256) -> Result<(), LocalStoreError> {
        self.conn
            .prepare_cached("UPDATE attachments SET uploaded = 0 WHERE sha256 = ?1")?
            .execute([sha.to_hex()])?;
        Ok(())
    }

    /// Notes that the server holds an attachment.
    pub fn mark_uploaded(&self, sha: &Sha256) -> Result<(), LocalStoreError> {
        self.conn
            .prepare_cached("UPDATE attachments SET uploaded = 1 WHERE sha256 = ?1")?
            .execute([sha.to_hex()])?;
        Ok(())
    }
}
