//! Duplicate people: the ID-number index kept as versions are written, the
//! listing of numbers held twice, and distinct marks.

use beatbook_schema::ids::RecordId;
use beatbook_store::{
    pair, person_id_number, DuplicateGroup, DuplicateQuery, NewAudit, StoredRecord,
};
use deadpool_postgres::{Client, GenericClient};

use crate::error::Error;
use crate::review::insert_audit;
use crate::sql::{execute, parse_id, parse_record, query, query_opt, scope_param};

/// Keeps `person_ids` and `person_id_counts` in step with a record's new
/// state (called by every write of a record, inside its transaction, under
/// the record's lock).
pub(crate) async fn index_person(
    tx: &impl GenericClient,
    record: &StoredRecord,
) -> Result<(), Error> {
    let id = record.id.to_string();
    let old: Option<String> = query_opt(
        tx,
        "SELECT id_number FROM person_ids WHERE record_id = $1",
        &[&id],
    )
    .await?
    .map(|row| row.try_get(0))
    .transpose()?;
    let new = person_id_number(record);
    let grid = record.grid.as_str();
    if old == new {
        if new.is_some() {
            execute(
                tx,
                "UPDATE person_ids SET grid_id = $2 WHERE record_id = $1",
                &[&id, &grid],
            )
            .await?;
        }
        return Ok(());
    }
    if let Some(old) = old {
        execute(tx, "DELETE FROM person_ids WHERE record_id = $1", &[&id]).await?;
        execute(
            tx,
            "UPDATE person_id_counts SET records = records - 1 WHERE id_number = $1",
            &[&old],
        )
        .await?;
        execute(
            tx,
            "DELETE FROM person_id_counts WHERE id_number = $1 AND records <= 0",
            &[&old],
        )
        .await?;
    }
    if let Some(new) = new {
        execute(
            tx,
            "INSERT INTO person_ids (record_id, id_number, grid_id) VALUES ($1, $2, $3)",
            &[&id, &new, &grid],
        )
        .await?;
        execute(
            tx,
            "INSERT INTO person_id_counts (id_number, records) VALUES ($1, 1)
             ON CONFLICT (id_number) DO UPDATE SET records = person_id_counts.records + 1",
            &[&new],
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn duplicates(
    c: &Client,
    q: &DuplicateQuery,
) -> Result<Vec<DuplicateGroup>, Error> {
    let scope = scope_param(&q.scope);
    let limit = i64::from(q.limit);
    let numbers = query(
        c,
        "SELECT n.id_number FROM person_id_counts n
         WHERE n.records > 1 AND EXISTS (
             SELECT 1 FROM person_ids a JOIN person_ids b
                 ON b.id_number = a.id_number AND a.record_id < b.record_id
             WHERE a.id_number = n.id_number
               AND ($1::text[] IS NULL OR a.grid_id = ANY($1::text[]))
               AND ($1::text[] IS NULL OR b.grid_id = ANY($1::text[]))
               AND NOT EXISTS (SELECT 1 FROM duplicate_distinct d
                               WHERE d.record_a = a.record_id AND d.record_b = b.record_id))
         ORDER BY n.id_number LIMIT $2",
        &[&scope, &limit],
    )
    .await?;
    let mut groups = Vec::with_capacity(numbers.len());
    for row in numbers {
        let id_number: String = row.try_get(0)?;
        let records = query(
            c,
            "SELECT r.state::text FROM person_ids p JOIN records r ON r.id = p.record_id
             WHERE p.id_number = $2 AND ($1::text[] IS NULL OR p.grid_id = ANY($1::text[]))
             ORDER BY p.record_id",
            &[&scope, &id_number],
        )
        .await?
        .iter()
        .map(|r| parse_record(r.try_get(0)?))
        .collect::<Result<Vec<_>, Error>>()?;
        let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let distinct = query(
            c,
            "SELECT record_a, record_b FROM duplicate_distinct
             WHERE record_a = ANY($1::text[]) AND record_b = ANY($1::text[])",
            &[&ids],
        )
        .await?
        .iter()
        .map(|r| {
            let a: RecordId = parse_id(r.try_get(0)?)?;
            let b: RecordId = parse_id(r.try_get(1)?)?;
            Ok(pair(a, b))
        })
        .collect::<Result<Vec<_>, Error>>()?;
        groups.push(DuplicateGroup {
            id_number,
            records,
            distinct,
        });
    }
    Ok(groups)
}

pub(crate) async fn mark_distinct(
    c: &mut Client,
    a: RecordId,
    b: RecordId,
    audit: &NewAudit,
) -> Result<(), Error> {
    let (a, b) = pair(a, b);
    let tx = c.transaction().await?;
    execute(
        &tx,
        "INSERT INTO duplicate_distinct (record_a, record_b) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
        &[&a.to_string(), &b.to_string()],
    )
    .await?;
    insert_audit(&tx, audit).await?;
    tx.commit().await?;
    Ok(())
}
