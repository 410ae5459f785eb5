//! The change log: what a transaction appends (collected while it works,
//! written as its last step under the log head's row lock, see the crate
//! docs), and the pull that reads it.

use std::collections::HashMap;

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{BatchId, ChangeId};
use beatbook_schema::protocol::{Cursor, PullItem};
use beatbook_store::{RawItem, RawPage, ReadScope, StoreError, StoredRecord};
use deadpool_postgres::{Client, GenericClient};
use serde_json::value::RawValue;

use crate::error::Error;
use crate::sql::{count, execute, query, query_one, scope_param};

/// One item waiting for its cursor.
enum Pending {
    /// A record's new version, with the change and batch that wrote it
    /// (none for a review decision or another server-side edit).
    Version {
        record: Box<StoredRecord>,
        change: Option<ChangeId>,
        batch: Option<BatchId>,
    },
    /// A newly published form version.
    Form(Box<FormDef>),
}

/// The items a transaction appends to the log, in order. Nothing is written
/// until [`LogTail::write`].
#[derive(Default)]
pub(crate) struct LogTail {
    items: Vec<Pending>,
}

impl LogTail {
    /// Appends a record's new version (already written to `records`).
    pub(crate) fn version(
        &mut self,
        record: StoredRecord,
        change: Option<ChangeId>,
        batch: Option<BatchId>,
    ) {
        self.items.push(Pending::Version {
            record: Box::new(record),
            change,
            batch,
        });
    }

    /// Appends a newly published form version.
    pub(crate) fn form(&mut self, def: FormDef) {
        self.items.push(Pending::Form(Box::new(def)));
    }

    /// Takes the next cursors from the log head and writes the items and the
    /// record versions that point at them. The transaction's last step
    /// before commit: the head's row lock, held from here until commit, is
    /// what makes cursors visible in cursor order.
    ///
    /// A version's item is written once, into its version row; its log row
    /// points at it by cursor (`item` NULL). Compaction: the log holds each
    /// record's current version only. The versions these items supersede
    /// leave the log first ([`retire`]); of several versions of one record
    /// written here, only the last enters it. A version that resolved hard
    /// conflicts stays in the log whatever comes after it (the device whose
    /// value lost learns of it from there), with a copy of its item in its
    /// log row so that it is never retired.
    pub(crate) async fn write(self, tx: &impl GenericClient) -> Result<(), Error> {
        if self.items.is_empty() {
            return Ok(());
        }
        let mut last = HashMap::new();
        for (i, pending) in self.items.iter().enumerate() {
            if let Pending::Version { record, .. } = pending {
                last.insert(record.id, i);
            }
        }
        let records: Vec<String> = last.keys().map(|id| id.to_string()).collect();
        retire(tx, &records).await?;

        let n = self.items.len() as i64;
        let head = query_one(
            tx,
            "UPDATE log_head SET cursor = cursor + $1 RETURNING cursor",
            &[&n],
        )
        .await?;
        let first = count(&head, 0)? + 1 - self.items.len() as u64;

        let mut cursors = Vec::with_capacity(self.items.len());
        let mut grids = Vec::with_capacity(self.items.len());
        let mut json = Vec::with_capacity(self.items.len());
        let mut versions = Versions::default();
        for (i, pending) in self.items.into_iter().enumerate() {
            let cursor = Cursor(first + i as u64);
            let (grid, item) = match pending {
                Pending::Version {
                    record,
                    change,
                    batch,
                } => {
                    let item = record.log_item(cursor)?;
                    let current = last.get(&record.id) == Some(&i);
                    let resolved = !record.resolved.is_empty();
                    let in_log = resolved.then(|| item.clone());
                    versions.push(&record, cursor, change, batch, item);
                    if !current && !resolved {
                        continue;
                    }
                    (Some(record.grid.as_str().to_owned()), in_log)
                }
                Pending::Form(definition) => (
                    None,
                    Some(serde_json::to_string(&PullItem::Form {
                        cursor,
                        definition,
                    })?),
                ),
            };
            cursors.push(cursor.0 as i64);
            grids.push(grid);
            json.push(item);
        }
        execute(
            tx,
            "INSERT INTO changelog (cursor, grid_id, item)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])",
            &[&cursors, &grids, &json],
        )
        .await?;
        versions.write(tx).await
    }
}

/// Deletes the log row of each of `records`' current version (its latest
/// before this transaction) when its item lives in its version row alone;
/// older versions left the log when they were superseded, so only the latest
/// is looked up. Under the records' locks, so no other transaction writes
/// these rows meanwhile; in the transaction that appends the superseding
/// versions, so a reader sees the old row or the new one.
async fn retire(tx: &impl GenericClient, records: &[String]) -> Result<(), Error> {
    if records.is_empty() {
        return Ok(());
    }
    execute(
        tx,
        "DELETE FROM changelog l USING unnest($1::text[]) AS r(id)
         CROSS JOIN LATERAL (
             SELECT cursor FROM record_versions WHERE record_id = r.id
             ORDER BY revision DESC LIMIT 1
         ) v
         WHERE l.cursor = v.cursor AND l.item IS NULL",
        &[&records],
    )
    .await?;
    Ok(())
}

/// `record_versions` rows, column by column.
#[derive(Default)]
struct Versions {
    records: Vec<String>,
    revisions: Vec<i64>,
    cursors: Vec<i64>,
    changes: Vec<Option<String>>,
    batches: Vec<Option<String>>,
    items: Vec<String>,
}

impl Versions {
    fn push(
        &mut self,
        record: &StoredRecord,
        cursor: Cursor,
        change: Option<ChangeId>,
        batch: Option<BatchId>,
        item: String,
    ) {
        self.records.push(record.id.to_string());
        self.revisions.push(record.revision as i64);
        self.cursors.push(cursor.0 as i64);
        self.changes.push(change.map(|c| c.to_string()));
        self.batches.push(batch.map(|b| b.to_string()));
        self.items.push(item);
    }

    async fn write(self, tx: &impl GenericClient) -> Result<(), Error> {
        if self.records.is_empty() {
            return Ok(());
        }
        execute(
            tx,
            "INSERT INTO record_versions (record_id, revision, cursor, change_id, batch_id, item)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])",
            &[
                &self.records,
                &self.revisions,
                &self.cursors,
                &self.changes,
                &self.batches,
                &self.items,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Change-log items after `since`, in order, within `scope`: one statement,
/// so the page and the log's end come from one snapshot. Every cursor at or
/// below a visible one is visible (the log head), so `since` never skips.
pub(crate) async fn pull(
    c: &Client,
    scope: &ReadScope,
    since: Cursor,
    limit: u32,
) -> Result<RawPage, Error> {
    let rows = query(
        c,
        "SELECT e.last, p.cursor, COALESCE(p.item, v.item)
         FROM (SELECT MAX(cursor) AS last FROM changelog) e
         LEFT JOIN LATERAL (
             SELECT cursor, item FROM changelog
             WHERE cursor > $1 AND ($2::text[] IS NULL OR grid_id IS NULL OR grid_id = ANY($2::text[]))
             ORDER BY cursor LIMIT $3
         ) p ON TRUE
         LEFT JOIN record_versions v ON p.item IS NULL AND v.cursor = p.cursor
         ORDER BY p.cursor",
        &[
            &(since.0 as i64),
            &scope_param(scope),
            &(i64::from(limit) + 1),
        ],
    )
    .await?;
    let mut end = since;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let last: Option<i64> = row.try_get(0)?;
        if let Some(last) = last {
            end = Cursor((last as u64).max(since.0));
        }
        let cursor: Option<i64> = row.try_get(1)?;
        let json: Option<String> = row.try_get(2)?;
        if let Some(cursor) = cursor {
            let json = json.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the change log's row {cursor} has no item, in the log or in a version row"
                ))
            })?;
            items.push(RawItem {
                cursor: Cursor(cursor as u64),
                json: RawValue::from_string(json)?,
            });
        }
    }
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if has_more {
        items.last().map_or(since, |i| i.cursor)
    } else {
        // Nothing more in scope: skip to the log's end so trailing
        // out-of-scope entries are not scanned again.
        end
    };
    Ok(RawPage {
        items,
        next,
        has_more,
    })
}

/// Every version of a record, oldest first, as devices pulled it.
pub(crate) async fn record_history(
    c: &Client,
    id: beatbook_schema::ids::RecordId,
) -> Result<Vec<serde_json::Value>, Error> {
    let rows = query(
        c,
        "SELECT revision, item FROM record_versions WHERE record_id = $1 ORDER BY revision",
        &[&id.to_string()],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let revision: i64 = row.try_get(0)?;
            let item: Option<&str> = row.try_get(1)?;
            let item = item.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "version {revision} of record {id} has no stored item"
                ))
            })?;
            let item: serde_json::Value = serde_json::from_str(item)?;
            Ok(item.get("version").cloned().unwrap_or(item))
        })
        .collect()
}
