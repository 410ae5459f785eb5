//! What an in-memory index of the records needs from the store: their
//! values once, then only the records written since it last looked. The
//! database's triggers (migration 3) note the id of every record inserted,
//! updated or deleted, by whatever path (a keystroke's autosave, a finalize,
//! a pulled page, an acknowledgement), in the same transaction as the write.
//!
//! One reader drains the notes: the device's [`Core`](crate::Core), which
//! holds the store's only connection behind its lock.

use beatbook_schema::ids::{FormId, RecordId};
use rusqlite::OptionalExtension;

use super::{LocalStore, LocalStoreError};

/// A record's values as stored (JSON text), for an index to take what it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredValues {
    /// The record.
    pub id: RecordId,
    /// Its form.
    pub form_id: FormId,
    /// Its values, the JSON object as stored.
    pub values: String,
}

/// A record written since the index last looked.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// It is there (new or changed) and of one of the forms asked for.
    Put(StoredValues),
    /// It is gone, deleted (a tombstone) or of another form.
    Gone(RecordId),
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn parse_id(id: &str) -> Result<RecordId, LocalStoreError> {
    id.parse().map_err(|_| {
        LocalStoreError::Corrupt(serde::de::Error::custom(format!(
            "record id {id:?} in the local database is not a UUID"
        )))
    })
}

impl LocalStore {
    /// Every live record of `forms`, least recently updated first, and from
    /// now on notes only what changes after this read.
    pub fn indexed_values(&mut self, forms: &[&str]) -> Result<Vec<StoredValues>, LocalStoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM records_changed", [])?;
        let forms = serde_json::to_string(forms)?;
        let rows: Vec<(String, String, String)> = tx
            .prepare(
                "SELECT id, form_id, vals FROM records INDEXED BY records_recent
                 WHERE deleted = 0 AND form_id IN (SELECT value FROM json_each(?1))
                 ORDER BY updated_at, id",
            )?
            .query_map([forms], stored)?
            .collect::<Result<_, _>>()?;
        tx.commit()?;
        rows.into_iter()
            .map(|(id, form_id, values)| {
                Ok(StoredValues {
                    id: parse_id(&id)?,
                    form_id: FormId(form_id),
                    values,
                })
            })
            .collect()
    }

    /// The records written since the last call (or [`indexed_values`]
    /// (Self::indexed_values)), oldest update first, each as it is now;
    /// forgets them.
    pub fn take_changes(&mut self, forms: &[&str]) -> Result<Vec<Change>, LocalStoreError> {
        let any: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM records_changed LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        // A power cut may lose this commit without harm: the notes come back
        // and the records are read again, and an index is built from all the
        // records whenever the device opens anyway.
        self.losable(|store| {
            let tx = store.conn.transaction()?;
            let forms = serde_json::to_string(forms)?;
            // One statement for all of them: a record of another form or a
            // deleted one joins nothing, and its values are never read.
            type Row = (String, Option<String>, Option<String>, Option<String>);
            let rows: Vec<Row> = tx
                .prepare_cached(
                    "SELECT c.id, r.form_id, r.vals, r.updated_at FROM records_changed c
                     LEFT JOIN records r ON r.id = c.id AND r.deleted = 0
                         AND r.form_id IN (SELECT value FROM json_each(?1))",
                )?
                .query_map([forms], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut changes = Vec::with_capacity(rows.len());
            let mut found = Vec::new();
            for row in rows {
                match row {
                    (id, Some(form_id), Some(values), Some(updated_at)) => found.push((
                        updated_at,
                        StoredValues {
                            id: parse_id(&id)?,
                            form_id: FormId(form_id),
                            values,
                        },
                    )),
                    (id, ..) => changes.push(Change::Gone(parse_id(&id)?)),
                }
            }
            found.sort_by(|a, b| (&a.0, a.1.id).cmp(&(&b.0, b.1.id)));
            changes.extend(found.into_iter().map(|(_, v)| Change::Put(v)));
            tx.execute("DELETE FROM records_changed", [])?;
            tx.commit()?;
            Ok(changes)
        })
    }
}
