//! Duplicate people: the ID-number index follows every write (push, delete,
//! a changed number, a server-side edit), listing respects scope, and a pair
//! marked distinct is not listed again until a third record joins it.

use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::UserInfo;
use serde_json::json;

use super::fixture::{delete, push, upsert, values, world, written, Officer, World};
use super::Backend;
use crate::{AuditQuery, DuplicateQuery, EditOutcome, NewAudit, ReadScope, Store, ID_NUMBER_FIELD};

const NUMBER: &str = "32068419900307001X";

async fn person(store: &dyn Store, by: &Officer, grid: &crate::GridId, number: &str) -> RecordId {
    let id = RecordId::new_v7();
    let change = upsert(
        by,
        id,
        "person",
        grid,
        0,
        values(&[("name", json!("陈小明")), (ID_NUMBER_FIELD, json!(number))]),
        vec![],
    );
    written(&push(store, by, vec![change]).await[0].1);
    id
}

/// The ID numbers listed for `scope`, each with its records.
async fn listed(store: &dyn Store, scope: ReadScope) -> Vec<(String, Vec<RecordId>)> {
    store
        .duplicates(DuplicateQuery { scope, limit: 50 })
        .await
        .expect("duplicates")
        .into_iter()
        .map(|g| (g.id_number, g.records.iter().map(|r| r.id).collect()))
        .collect()
}

fn audit(by: &UserInfo, a: RecordId, b: RecordId) -> NewAudit {
    NewAudit::by(by, "duplicate_distinct", format!("{a} {b}"), json!({}))
}

/// One number recorded in grid A (with a lower-case check character) and in
/// grid B is listed for the station, never for one grid alone; a changed
/// number, a deletion and a server-side tombstone each take a record out.
pub async fn duplicates_follow_every_write_within_scope(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w: World = world(store).await;
    let station = ReadScope::Grids(vec![w.grid_a.clone(), w.grid_b.clone()]);
    let a = person(store, &w.officer_a, &w.grid_a, &NUMBER.to_lowercase()).await;
    let b = person(store, &w.officer_b, &w.grid_b, NUMBER).await;
    let other = person(store, &w.officer_a, &w.grid_a, "110101199003070011").await;
    let mut pair = vec![a, b];
    pair.sort_by_key(|id| id.to_string());
    assert_eq!(
        listed(store, station.clone()).await,
        vec![(NUMBER.to_owned(), pair.clone())]
    );
    assert_eq!(listed(store, ReadScope::All).await.len(), 1);
    assert!(
        listed(store, w.scope_a()).await.is_empty(),
        "one record in grid A"
    );
    assert!(
        listed(store, w.scope_b()).await.is_empty(),
        "one record in grid B"
    );

    // B corrects the number: nothing left to list; back again, listed again.
    let rb = store.record(b).await.expect("read").expect("b");
    let fix = upsert(
        &w.officer_b,
        b,
        "person",
        &w.grid_b,
        rb.revision,
        values(&[(ID_NUMBER_FIELD, json!("110101199003070038"))]),
        vec![],
    );
    written(&push(store, &w.officer_b, vec![fix]).await[0].1);
    assert!(listed(store, ReadScope::All).await.is_empty());
    let rb = store.record(b).await.expect("read").expect("b");
    let back = upsert(
        &w.officer_b,
        b,
        "person",
        &w.grid_b,
        rb.revision,
        values(&[(ID_NUMBER_FIELD, json!(NUMBER))]),
        vec![],
    );
    written(&push(store, &w.officer_b, vec![back]).await[0].1);
    assert_eq!(listed(store, ReadScope::All).await.len(), 1);

    // A server-side edit that retires B (a tombstone) takes it out.
    let results = store
        .edit_records(
            vec![b],
            Box::new(|r| {
                let mut next = r.clone().next_revision();
                next.deleted = true;
                Ok(next)
            }),
            Box::new(|_| None),
        )
        .await
        .expect("edit");
    assert!(matches!(results[0].1, EditOutcome::Written { .. }));
    assert!(listed(store, ReadScope::All).await.is_empty());

    // A third record with the number, then deleted by its officer.
    let c = person(store, &w.officer_b, &w.grid_b, NUMBER).await;
    assert_eq!(listed(store, ReadScope::All).await.len(), 1);
    let rc = store.record(c).await.expect("read").expect("c");
    written(&push(store, &w.officer_b, vec![delete(&w.officer_b, &rc)]).await[0].1);
    assert!(listed(store, ReadScope::All).await.is_empty());
    let _ = other;
}

/// A pair marked distinct (with its audit entry) is not listed again; a
/// third record with the number lists the group again, marks shown.
pub async fn a_pair_marked_distinct_is_not_listed_again(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = person(store, &w.officer_a, &w.grid_a, NUMBER).await;
    let b = person(store, &w.officer_b, &w.grid_b, NUMBER).await;
    store
        .mark_distinct(b, a, audit(&w.supervisor, a, b))
        .await
        .expect("mark");
    store
        .mark_distinct(a, b, audit(&w.supervisor, a, b))
        .await
        .expect("marking again changes nothing");
    assert!(listed(store, ReadScope::All).await.is_empty());
    let (entries, total) = store
        .audit_log(AuditQuery {
            station: None,
            action: Some("duplicate_distinct".into()),
            limit: 10,
            offset: 0,
        })
        .await
        .expect("audit");
    assert_eq!((entries.len(), total), (2, 2));

    let c = person(store, &w.officer_a, &w.grid_a, NUMBER).await;
    let groups = store
        .duplicates(DuplicateQuery {
            scope: ReadScope::All,
            limit: 50,
        })
        .await
        .expect("duplicates");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].records.len(), 3);
    assert_eq!(groups[0].distinct, vec![crate::pair(a, b)]);
    assert_eq!(groups[0].open_pairs().len(), 2);
    assert!(groups[0]
        .open_pairs()
        .iter()
        .all(|(x, y)| *x == c || *y == c));
    // Grid A alone holds a and c, an open pair.
    assert_eq!(listed(store, w.scope_a()).await.len(), 1);
}
