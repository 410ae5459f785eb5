//! Duplicate people: the listing of ID numbers held twice (from the index
//! [`crate::records`] keeps as records are written), and distinct marks.

use beatbook_schema::ids::RecordId;
use beatbook_store::{pair, DuplicateGroup, DuplicateQuery, NewAudit};
use deadpool_postgres::Client;

use crate::error::Error;
use crate::review::insert_audit;
use crate::sql::{execute, parse_id, parse_record, query, scope_param};

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
