//! Duplicate people: the ID-number index kept as versions are written, the
//! listing of numbers held twice, and distinct marks.

use beatbook_schema::ids::RecordId;
use beatbook_store::{
    pair, person_id_number, DuplicateGroup, DuplicateQuery, NewAudit, StoredRecord,
};
use rusqlite::{named_params, params, Connection, OptionalExtension, Transaction};

use super::review::insert_audit;
use super::{parse_uuid, scope_json, Error};

/// Keeps `person_ids` and `person_id_counts` in step with a record's new
/// version (called by every write of a version, inside its transaction).
pub(crate) fn index_person(tx: &Transaction<'_>, record: &StoredRecord) -> Result<(), Error> {
    let id = record.id.to_string();
    let old: Option<String> = tx
        .prepare_cached("SELECT id_number FROM person_ids WHERE record_id = ?1")?
        .query_row([&id], |r| r.get(0))
        .optional()?;
    let new = person_id_number(record);
    if old == new {
        if new.is_some() {
            tx.prepare_cached("UPDATE person_ids SET grid_id = ?2 WHERE record_id = ?1")?
                .execute(params![id, record.grid.as_str()])?;
        }
        return Ok(());
    }
    if let Some(old) = old {
        tx.prepare_cached("DELETE FROM person_ids WHERE record_id = ?1")?
            .execute([&id])?;
        tx.prepare_cached(
            "UPDATE person_id_counts SET records = records - 1 WHERE id_number = ?1",
        )?
        .execute([&old])?;
        tx.prepare_cached("DELETE FROM person_id_counts WHERE id_number = ?1 AND records <= 0")?
            .execute([&old])?;
    }
    if let Some(new) = new {
        tx.prepare_cached(
            "INSERT INTO person_ids (record_id, id_number, grid_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, new, record.grid.as_str()])?;
        tx.prepare_cached(
            "INSERT INTO person_id_counts (id_number, records) VALUES (?1, 1)
             ON CONFLICT (id_number) DO UPDATE SET records = records + 1",
        )?
        .execute([&new])?;
    }
    Ok(())
}

/// A person row `p` in scope (`:scope` as [`scope_json`] writes it).
fn in_scope(p: &str) -> String {
    format!("(:scope IS NULL OR {p}.grid_id IN (SELECT value FROM json_each(:scope)))")
}

pub(crate) fn duplicates(c: &Connection, q: &DuplicateQuery) -> Result<Vec<DuplicateGroup>, Error> {
    let scope = scope_json(&q.scope);
    let numbers: Vec<String> = {
        let mut stmt = c.prepare(&format!(
            "SELECT n.id_number FROM person_id_counts n
             WHERE n.records > 1 AND EXISTS (
                 SELECT 1 FROM person_ids a JOIN person_ids b
                     ON b.id_number = a.id_number AND a.record_id < b.record_id
                 WHERE a.id_number = n.id_number AND {} AND {}
                   AND NOT EXISTS (SELECT 1 FROM duplicate_distinct d
                                   WHERE d.record_a = a.record_id AND d.record_b = b.record_id))
             ORDER BY n.id_number LIMIT :limit",
            in_scope("a"),
            in_scope("b")
        ))?;
        let rows = stmt.query_map(named_params! {":scope": scope, ":limit": q.limit}, |r| {
            r.get(0)
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut members = c.prepare(&format!(
        "SELECT r.state FROM person_ids p JOIN records r ON r.id = p.record_id
         WHERE p.id_number = :number AND {} ORDER BY p.record_id",
        in_scope("p")
    ))?;
    let mut marks =
        c.prepare_cached("SELECT record_b FROM duplicate_distinct WHERE record_a = ?1")?;
    let mut groups = Vec::with_capacity(numbers.len());
    for id_number in numbers {
        let records = members
            .query_map(named_params! {":number": id_number, ":scope": scope}, |r| {
                r.get::<_, String>(0)
            })?
            .map(|s| Ok(serde_json::from_str::<StoredRecord>(&s?)?))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut distinct = Vec::new();
        for a in &records {
            for b in marks.query_map([a.id.to_string()], |r| r.get::<_, String>(0))? {
                let b: RecordId = parse_uuid(&b?)?;
                if records.iter().any(|r| r.id == b) {
                    distinct.push(pair(a.id, b));
                }
            }
        }
        groups.push(DuplicateGroup {
            id_number,
            records,
            distinct,
        });
    }
    Ok(groups)
}

pub(crate) fn mark_distinct(
    c: &mut Connection,
    a: RecordId,
    b: RecordId,
    audit: &NewAudit,
) -> Result<(), Error> {
    let (a, b) = pair(a, b);
    let tx = c.transaction()?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO duplicate_distinct (record_a, record_b) VALUES (?1, ?2)",
    )?
    .execute(params![a.to_string(), b.to_string()])?;
    insert_audit(&tx, audit)?;
    tx.commit()?;
    Ok(())
}
