//! Applying pulled pages. A record with unpushed local edits keeps its local
//! version (the pulled one is held back) until the server has acknowledged
//! them; then the server's merged version wins.
//!
//! A page names the grids it was read with (officers and auxiliaries). When
//! an admin changed them, the page's transaction also stores the new list in
//! the enrollment, drops what the device may no longer hold, and — when a
//! grid was added — starts the pull again from the log's beginning, so the
//! added grid's older records arrive too. Versions already held apply again
//! without effect: the same revision is upserted, never duplicated, and
//! records with unpushed edits keep them.

use beatbook_schema::form::Values;
use beatbook_schema::ids::{DeviceId, GridId, RecordId};
use beatbook_schema::protocol::{Cursor, UserInfo};
use beatbook_schema::record::RecordStatus;
use rusqlite::{params, OptionalExtension, Transaction};

use super::pulled::{PulledItem, PulledPage, PulledVersion};
use super::records::LocalState;
use super::{meta_get, meta_set, LocalStore, LocalStoreError};

/// The meta key enrollment writes (`sync::Enrollment`); its `user` is the
/// officer as the server last described them.
const ENROLLMENT: &str = "enrollment";

/// What a pulled page's grids changed on this device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rescoped {
    /// Grids added by an admin: the pull starts again from cursor 0.
    pub added: Vec<GridId>,
    /// Grids taken away: their records were dropped, except those with
    /// unpushed edits (their push will be refused as out of scope).
    pub removed: Vec<GridId>,
}

/// Stores `grids` as the enrolled user's and drops the records of the grids
/// taken away that hold nothing unsent. Nothing happens before enrollment or
/// when the list is unchanged.
fn rescope(tx: &Transaction<'_>, grids: &[GridId]) -> Result<Rescoped, LocalStoreError> {
    let Some(mut enrollment) =
        meta_get::<serde_json::Map<String, serde_json::Value>>(tx, ENROLLMENT)?
    else {
        return Ok(Rescoped::default());
    };
    let Some(stored) = enrollment.get_mut("user") else {
        return Err(LocalStoreError::Corrupt(serde::de::Error::custom(
            "the stored enrollment names no user: enroll the device again",
        )));
    };
    let mut user: UserInfo = serde_json::from_value(stored.clone())?;
    let added: Vec<GridId> = grids
        .iter()
        .filter(|g| !user.grids.contains(g))
        .cloned()
        .collect();
    let removed: Vec<GridId> = user
        .grids
        .iter()
        .filter(|g| !grids.contains(g))
        .cloned()
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(Rescoped::default());
    }
    for grid in &removed {
        let ids = tx
            .prepare_cached("SELECT id FROM records WHERE grid = ?1 AND state <> 'draft'")?
            .query_map([grid.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        for id in ids {
            let record: RecordId = id.parse().map_err(|_| {
                LocalStoreError::Corrupt(serde::de::Error::custom(format!(
                    "stored record id {id:?} is not a record id"
                )))
            })?;
            if !has_local_edits(tx, record)? {
                tx.prepare_cached("DELETE FROM records WHERE id = ?1")?
                    .execute([&id])?;
                tx.prepare_cached("DELETE FROM lost_values WHERE record_id = ?1")?
                    .execute([&id])?;
            }
        }
    }
    user.grids = grids.to_vec();
    *stored = serde_json::to_value(&user)?;
    meta_set(tx, ENROLLMENT, &enrollment)?;
    Ok(Rescoped { added, removed })
}

/// The columns of a `records` row that [`Pending::read`] takes.
macro_rules! pending_columns {
    () => {
        "EXISTS (SELECT 1 FROM outbox WHERE record_id = records.id),
         CASE WHEN state IN ('draft', 'rejected', 'returned') THEN vals END,
         CASE WHEN state IN ('draft', 'rejected', 'returned') AND base_vals <> '' THEN base_vals END"
    };
}

/// What tells whether a record has local edits the server has not
/// acknowledged. The values are read only where they can differ from the
/// base.
struct Pending {
    queued: bool,
    vals: Option<String>,
    base: Option<String>,
}

impl Pending {
    /// From [`pending_columns!`], starting at column `at` of `row`.
    fn read(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            queued: row.get(at)?,
            vals: row.get(at + 1)?,
            base: row.get(at + 2)?,
        })
    }

    fn edits(&self) -> Result<bool, LocalStoreError> {
        match (self.queued, &self.vals, &self.base) {
            (true, ..) => Ok(true),
            (false, Some(vals), Some(base)) => {
                let (vals, base): (Values, Values) =
                    (serde_json::from_str(vals)?, serde_json::from_str(base)?);
                Ok(vals != base)
            }
            _ => Ok(false),
        }
    }
}

/// Whether a record has local edits the server has not acknowledged.
fn has_local_edits(tx: &Transaction<'_>, id: RecordId) -> Result<bool, LocalStoreError> {
    let pending = tx
        .prepare_cached(concat!(
            "SELECT ",
            pending_columns!(),
            " FROM records WHERE id = ?1"
        ))?
        .query_row([id.to_string()], |r| Pending::read(r, 0))
        .optional()?;
    pending.map_or(Ok(false), |p| p.edits())
}

fn local_state(version: &PulledVersion) -> LocalState {
    match version.record.status {
        RecordStatus::Returned => LocalState::Returned,
        RecordStatus::Approved => LocalState::Approved,
        RecordStatus::Submitted | RecordStatus::Draft => LocalState::Synced,
    }
}

/// Makes a server version the record's local state. `stored`: the device
/// holds a row for the record.
fn adopt(tx: &Transaction<'_>, v: &PulledVersion, stored: bool) -> Result<(), LocalStoreError> {
    let r = &v.record;
    let (id, state, values) = (r.id.to_string(), local_state(v).as_str(), r.values.get());
    let attachments = serde_json::to_string(&r.attachments)?;
    let review = v.review.as_ref().map(serde_json::to_string).transpose()?;
    let updated_at = r.updated_at.to_rfc3339();
    // Over a stored row whose form, grid, state and deletion the version
    // keeps (an edit pulled, the common case), none of those columns is set:
    // SQLite rewrites the index entries of every column an UPDATE sets,
    // changed or not, and each page it dirties is encrypted at the commit.
    // A row that differs in one of them matches nothing here.
    let kept_keys = stored
        && tx
            .prepare_cached(
                "UPDATE records SET form_version = ?6, vals = ?7, attachments = ?8, base_revision = ?9,
                     base_vals = '', held = NULL, review = ?10, problem = NULL, conflicted = ?11,
                     updated_at = ?12
                 WHERE id = ?1 AND form_id = ?2 AND grid = ?3 AND state = ?4 AND deleted = ?5",
            )?
            .execute(params![
                id,
                r.form_id.as_str(),
                r.grid.as_str(),
                state,
                v.deleted,
                r.form_version,
                values,
                attachments,
                v.revision as i64,
                review,
                v.conflicted,
                updated_at,
            ])?
            == 1;
    if !kept_keys {
        tx.prepare_cached(
            "INSERT INTO records (id, form_id, form_version, grid, author, device, state, vals, attachments,
                 base_revision, base_vals, held, review, problem, conflicted, deleted, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '', NULL, ?11, NULL, ?12, ?13, ?14, ?15)
             ON CONFLICT (id) DO UPDATE SET form_id = excluded.form_id, form_version = excluded.form_version,
                 grid = excluded.grid, state = excluded.state, vals = excluded.vals, attachments = excluded.attachments,
                 base_revision = excluded.base_revision, base_vals = excluded.base_vals, held = NULL,
                 review = excluded.review, problem = NULL, conflicted = excluded.conflicted,
                 deleted = excluded.deleted, updated_at = excluded.updated_at",
        )?
        .execute(params![
            id,
            r.form_id.as_str(),
            r.form_version,
            r.grid.as_str(),
            r.author.to_string(),
            r.device.to_string(),
            state,
            values,
            attachments,
            v.revision as i64,
            review,
            v.conflicted,
            v.deleted,
            r.created_at.to_rfc3339(),
            updated_at,
        ])?;
    }
    super::lost::settle(tx, r.id, values)
}

fn base_revision(tx: &Transaction<'_>, id: RecordId) -> Result<Option<u64>, LocalStoreError> {
    Ok(tx
        .prepare_cached("SELECT base_revision FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|r| r as u64))
}

fn apply_version(
    tx: &Transaction<'_>,
    device: DeviceId,
    v: &PulledVersion,
) -> Result<(), LocalStoreError> {
    let id = v.record.id;
    // The record as this device holds it, in one read.
    let here: Option<(u64, Pending, Option<String>)> = tx
        .prepare_cached(concat!(
            "SELECT base_revision, held, ",
            pending_columns!(),
            " FROM records WHERE id = ?1"
        ))?
        .query_row([id.to_string()], |r| {
            Ok((r.get::<_, i64>(0)? as u64, Pending::read(r, 2)?, r.get(1)?))
        })
        .optional()?;
    // A version pulled again (after a grid was added) told its losses
    // already; noting them again would bring back dismissed ones.
    if here.as_ref().is_none_or(|(base, ..)| v.revision > *base) {
        for c in &v.conflicts {
            super::lost::note(tx, device, id, c)?;
        }
    }
    let Some((base, pending, held)) = here else {
        return adopt(tx, v, false);
    };
    if pending.edits()? {
        let newer = match held {
            Some(h) => serde_json::from_str::<PulledVersion>(&h)?.revision < v.revision,
            None => true,
        };
        if newer {
            tx.prepare_cached("UPDATE records SET held = ?1 WHERE id = ?2")?
                .execute(params![serde_json::to_string(v)?, id.to_string()])?;
        }
        return Ok(());
    }
    if base > v.revision {
        return Ok(()); // an older version: already superseded here
    }
    adopt(tx, v, true)
}

/// After an acknowledgement: a version held back while edits were pending
/// becomes the local state if it is newer than what was acknowledged.
pub(super) fn release_held(tx: &Transaction<'_>, id: RecordId) -> Result<(), LocalStoreError> {
    let held: Option<Option<String>> = tx
        .prepare_cached("SELECT held FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(Some(h)) = held else {
        return Ok(());
    };
    if !has_local_edits(tx, id)? {
        let v: PulledVersion = serde_json::from_str(&h)?;
        if v.revision > base_revision(tx, id)?.unwrap_or(0) {
            adopt(tx, &v, true)?;
        } else {
            tx.prepare_cached("UPDATE records SET held = NULL WHERE id = ?1")?
                .execute([id.to_string()])?;
        }
    }
    Ok(())
}

impl LocalStore {
    /// Applies a pulled page and advances the cursor, in one transaction;
    /// when the page names grids other than the enrolled user's, applies
    /// that change too (see the module's documentation) and says what it was.
    pub fn apply_pull(&mut self, page: &PulledPage) -> Result<Rescoped, LocalStoreError> {
        let device = self.device();
        let tx = self.conn.transaction()?;
        let rescoped = match &page.grids {
            Some(grids) => rescope(&tx, grids)?,
            None => Rescoped::default(),
        };
        for item in &page.items {
            match item {
                PulledItem::Form { definition } => {
                    tx.prepare_cached("INSERT OR REPLACE INTO forms (form_id, version, definition) VALUES (?1, ?2, ?3)")?
                        .execute(params![definition.form_id.as_str(), definition.version, serde_json::to_string(definition)?])?;
                }
                PulledItem::Record { version } => apply_version(&tx, device, version)?,
            }
        }
        let next = if rescoped.added.is_empty() {
            page.next
        } else {
            Cursor(0)
        };
        meta_set(&tx, "cursor", &next)?;
        tx.commit()?;
        Ok(rescoped)
    }

    /// Where the next pull starts.
    pub fn cursor(&self) -> Result<Cursor, LocalStoreError> {
        Ok(self.meta("cursor")?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::keys::PinKeys;

    fn page(version: serde_json::Value, next: u64) -> PulledPage {
        PulledPage {
            items: vec![serde_json::from_value(
                json!({"kind": "record", "cursor": next, "version": version}),
            )
            .expect("a pulled record item")],
            next: Cursor(next),
            has_more: false,
            grids: None,
        }
    }

    fn house(revision: u64, address: &str, status: &str) -> serde_json::Value {
        json!({
            "record": {
                "id": "0192e4a0-0000-7000-8000-000000000002",
                "form_id": "house", "form_version": 1, "grid": "G1",
                "author": "0192e4a0-0000-7000-8000-000000000004",
                "device": "0192e4a0-0000-7000-8000-000000000003",
                "values": {"address": address},
                "created_at": "2026-11-30T08:00:00Z",
                "updated_at": format!("2026-11-30T08:0{revision}:00Z"),
                "status": status
            },
            "revision": revision
        })
    }

    /// The pulled edit that keeps the record's keys takes the narrow UPDATE;
    /// one that changes its state takes the full one. Either way the row and
    /// every index (the address index is a partial one on an expression of
    /// the values) agree.
    #[test]
    fn a_pulled_edit_and_a_pulled_approval_reach_the_row_and_its_indexes() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut store =
            LocalStore::open(dir.path(), "123456", &PinKeys::fast_for_tests()).expect("open");
        let id: RecordId = "0192e4a0-0000-7000-8000-000000000002".parse().expect("id");
        let at = |store: &LocalStore, address: &str| {
            store
                .records_where("house", "address", address)
                .expect("reads")
                .len()
        };

        store
            .apply_pull(&page(house(1, "人民路1号", "submitted"), 1))
            .expect("adopted");
        store
            .apply_pull(&page(house(2, "人民路2号", "submitted"), 2))
            .expect("edit adopted");
        let edited = store.record(id).expect("stored");
        assert_eq!(
            (edited.base_revision, edited.state),
            (2, LocalState::Synced)
        );
        assert_eq!(edited.values["address"], json!("人民路2号"));
        assert_eq!((at(&store, "人民路1号"), at(&store, "人民路2号")), (0, 1));

        store
            .apply_pull(&page(house(3, "人民路2号", "approved"), 3))
            .expect("approval adopted");
        let approved = store.record(id).expect("stored");
        assert_eq!(
            (approved.base_revision, approved.state),
            (3, LocalState::Approved)
        );
        assert_eq!(
            store.state_counts().expect("counts"),
            vec![(LocalState::Approved, 1)],
            "the state index follows the row"
        );

        // The address index holds only records with an address: one that
        // loses it leaves the index, and enters it again with a new one.
        let mut without = house(4, "", "approved");
        without["record"]["values"] = json!({});
        store.apply_pull(&page(without, 4)).expect("edit adopted");
        assert_eq!(at(&store, "人民路2号"), 0);
        store
            .apply_pull(&page(house(5, "人民路3号", "approved"), 5))
            .expect("edit adopted");
        assert_eq!((at(&store, "人民路2号"), at(&store, "人民路3号")), (0, 1));
        let check: String = store
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("checks");
        assert_eq!(check, "ok");
    }
}
