//! The review pages' storage: batches with filters and progress, a batch's
//! rows and entries within scope, which batch wrote which revision, kept
//! conflicts, server-side edits with their audit entry, hazards, export
//! pages and the audit log.

use std::collections::BTreeMap;
use std::time::Duration;

use beatbook_schema::ids::{BatchId, RecordId, StationId};
use beatbook_schema::merge::FieldState;
use beatbook_schema::protocol::{
    ChangeOutcome, Cursor, ErrorCode, PullItem, Review, ReviewDecision, UserInfo,
};
use beatbook_schema::text::Text;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::fixture::{
    another_phone, now_ms, pull_all, push, push_batch, upsert, values, visit, world, written,
    Officer, World, REFUSE,
};
use super::Backend;
use crate::{
    AuditQuery, BatchFilter, BatchStatus, EditOutcome, ExportQuery, HazardQuery, NewAudit,
    ReadScope, Refusal, ReviewProgress, Store,
};

fn filter(scope: ReadScope) -> BatchFilter {
    BatchFilter {
        scope,
        grid: None,
        officer: None,
        form: None,
        received_from: None,
        received_before: None,
        status: None,
        limit: 50,
        offset: 0,
    }
}

/// The batch ids a filter lists, and the total it reports.
async fn listed(store: &dyn Store, f: BatchFilter) -> (Vec<BatchId>, u64) {
    let page = store.batch_page(f).await.expect("batch page");
    (page.rows.iter().map(|r| r.summary.id).collect(), page.total)
}

fn approve(w: &World) -> Review {
    Review {
        decision: ReviewDecision::Approve,
        by: w.supervisor.name.clone(),
        at: Utc::now(),
    }
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// Three batches (A's visits, B's hazard and a refusal, A's later edit):
/// every filter selects the right ones, newest first, with totals; each row
/// carries names, forms and review progress (approved, pending, superseded).
pub async fn batch_page_filters_and_progress(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let (v1, v2) = (visit(a, &w.grid_a, "一"), visit(a, &w.grid_a, "二"));
    let b1 = BatchId::new_v7();
    push_batch(store, a, b1, vec![v1.clone(), v2.clone()]).await;
    pause().await;
    let between = Utc::now();
    pause().await;
    let hazard = upsert(
        b,
        RecordId::new_v7(),
        "hazard",
        &w.grid_b,
        0,
        values(&[("status", json!("open"))]),
        vec![],
    );
    let refused = upsert(
        b,
        RecordId::new_v7(),
        "visit",
        &w.grid_b,
        0,
        values(&[(REFUSE, json!(1))]),
        vec![],
    );
    let b2 = BatchId::new_v7();
    push_batch(store, b, b2, vec![hazard, refused]).await;
    pause().await;
    let phone = another_phone(store, a).await;
    let again = upsert(
        &phone,
        v1.record_id,
        "visit",
        &w.grid_a,
        1,
        values(&[("extra", json!(true))]),
        vec![],
    );
    let b3 = BatchId::new_v7();
    push_batch(store, &phone, b3, vec![again]).await;
    store
        .review(v2.record_id, approve(&w))
        .await
        .expect("review");

    let all = ReadScope::All;
    assert_eq!(
        listed(store, filter(all.clone())).await,
        (vec![b3, b2, b1], 3)
    );
    let page = store.batch_page(filter(all.clone())).await.expect("page");
    let row = |id| page.rows.iter().find(|r| r.summary.id == id).expect("row");
    let first = row(b1);
    assert_eq!(
        (first.officer.as_str(), first.badge.as_str()),
        ("张警官", "A1001")
    );
    assert_eq!(first.device_name, "张警官的手机");
    assert_eq!(first.forms, BTreeMap::from([("visit".to_owned(), 2)]));
    assert_eq!(
        first.progress,
        ReviewProgress {
            approved: 1,
            superseded: 1,
            ..Default::default()
        }
    );
    assert_eq!((first.summary.stored, first.summary.rejected), (2, 0));
    let second = row(b2);
    assert_eq!(second.forms, BTreeMap::from([("hazard".to_owned(), 1)]));
    assert_eq!(
        second.progress,
        ReviewProgress {
            pending: 1,
            ..Default::default()
        }
    );
    assert_eq!((second.summary.stored, second.summary.rejected), (1, 1));
    assert_eq!(row(b3).device_name, "备用手机");
    assert_eq!(row(b3).progress.total(), 1);

    let with = |f: fn(&mut BatchFilter, &World)| {
        let mut x = filter(ReadScope::All);
        f(&mut x, &w);
        x
    };
    assert_eq!(listed(store, filter(w.scope_a())).await, (vec![b3, b1], 2));
    assert_eq!(listed(store, filter(w.scope_b())).await, (vec![b2], 1));
    assert_eq!(
        listed(store, with(|f, w| f.grid = Some(w.grid_b.clone()))).await,
        (vec![b2], 1)
    );
    assert_eq!(
        listed(store, with(|f, _| f.form = Some("hazard".into()))).await,
        (vec![b2], 1)
    );
    assert_eq!(
        listed(store, with(|f, w| f.officer = Some(w.officer_a.user.id))).await,
        (vec![b3, b1], 2)
    );
    let status = |s| {
        let mut f = filter(ReadScope::All);
        f.status = Some(s);
        f
    };
    assert_eq!(
        listed(store, status(BatchStatus::Pending)).await,
        (vec![b3, b2], 2)
    );
    assert_eq!(
        listed(store, status(BatchStatus::Reviewed)).await,
        (vec![b1], 1)
    );
    assert_eq!(
        listed(store, status(BatchStatus::Rejected)).await,
        (vec![b2], 1)
    );
    assert_eq!(
        listed(store, status(BatchStatus::Conflicted)).await,
        (vec![], 0)
    );
    let mut from = filter(ReadScope::All);
    from.received_from = Some(between);
    assert_eq!(listed(store, from).await, (vec![b3, b2], 2));
    let mut before = filter(ReadScope::All);
    before.received_before = Some(between);
    assert_eq!(listed(store, before).await, (vec![b1], 1));
    let mut paged = filter(ReadScope::All);
    (paged.limit, paged.offset) = (1, 1);
    assert_eq!(
        listed(store, paged).await,
        (vec![b2], 3),
        "a page, and the total"
    );
}

/// A batch is visible to a scope it wrote a record in (or, when it stored
/// nothing, to its officer's grids); its entries are its records in scope,
/// in push order, with the revision it wrote, its outcome, and a later batch
/// that edited the record again.
pub async fn batch_row_and_entries_respect_scope(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let in_a = visit(a, &w.grid_a, "A 的");
    let in_b = visit(a, &w.grid_b, "跨网格");
    let edit_a = upsert(
        a,
        in_a.record_id,
        "visit",
        &w.grid_a,
        1,
        values(&[("note", json!("改"))]),
        vec![],
    );
    let x = BatchId::new_v7();
    push_batch(store, a, x, vec![in_b.clone(), in_a.clone(), edit_a]).await;
    let y = BatchId::new_v7();
    push_batch(store, a, y, vec![visit(a, &w.grid_a, "只在 A")]).await;
    let empty = BatchId::new_v7();
    let refused = upsert(
        b,
        RecordId::new_v7(),
        "visit",
        &w.grid_b,
        0,
        values(&[(REFUSE, json!(1))]),
        vec![],
    );
    push_batch(store, b, empty, vec![refused]).await;

    let row = store
        .batch_row(x, w.scope_a())
        .await
        .expect("row")
        .expect("in A");
    assert_eq!(
        row.forms,
        BTreeMap::from([("visit".to_owned(), 1)]),
        "only A's records count"
    );
    assert!(store
        .batch_row(x, w.scope_b())
        .await
        .expect("row")
        .is_some());
    assert!(
        store
            .batch_row(y, w.scope_b())
            .await
            .expect("row")
            .is_none(),
        "y wrote nothing in B"
    );
    assert!(store
        .batch_row(BatchId::new_v7(), ReadScope::All)
        .await
        .expect("row")
        .is_none());
    assert!(
        store
            .batch_row(empty, w.scope_b())
            .await
            .expect("row")
            .is_some(),
        "its officer's grid"
    );
    assert!(store
        .batch_row(empty, w.scope_a())
        .await
        .expect("row")
        .is_none());

    let entries = store
        .batch_entries(x, ReadScope::All)
        .await
        .expect("entries");
    let ids: Vec<RecordId> = entries.iter().map(|e| e.record.id).collect();
    assert_eq!(ids, vec![in_b.record_id, in_a.record_id], "push order");
    assert_eq!(
        entries[1].written_revision, 2,
        "the last revision the batch wrote"
    );
    assert_eq!(
        entries[1].outcome,
        Some(ChangeOutcome::Accepted { revision: 2 })
    );
    assert_eq!(entries[1].superseded_by, None);
    let only_a = store.batch_entries(x, w.scope_a()).await.expect("entries");
    assert_eq!(
        only_a.iter().map(|e| e.record.id).collect::<Vec<_>>(),
        vec![in_a.record_id]
    );

    let z = BatchId::new_v7();
    let later = upsert(
        a,
        in_a.record_id,
        "visit",
        &w.grid_a,
        2,
        values(&[("note", json!("再改"))]),
        vec![],
    );
    push_batch(store, a, z, vec![later]).await;
    let entries = store.batch_entries(x, w.scope_a()).await.expect("entries");
    assert_eq!(entries[0].superseded_by, Some(z));
    assert_eq!(
        (entries[0].written_revision, entries[0].record.revision),
        (2, 3)
    );
    assert!(store
        .batch_entries(y, w.scope_b())
        .await
        .expect("entries")
        .is_empty());
}

/// The batch of each revision (reviews belong to none), and hard conflicts
/// kept with both values and who wrote each.
pub async fn record_batches_and_conflicts(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let phone = another_phone(store, a).await;
    let create = visit(a, &w.grid_a, "原值");
    let id = create.record_id;
    let (b1, b2, b3) = (BatchId::new_v7(), BatchId::new_v7(), BatchId::new_v7());
    push_batch(store, a, b1, vec![create]).await;
    store.review(id, approve(&w)).await.expect("review");
    let edit = |by: &Officer, note: &str| {
        upsert(
            by,
            id,
            "visit",
            &w.grid_a,
            1,
            values(&[("note", json!(note))]),
            vec![],
        )
    };
    push_batch(store, a, b2, vec![edit(a, "手机一")]).await;
    let late = edit(&phone, "手机二");
    let out = push_batch(store, &phone, b3, vec![late.clone()]).await;
    assert!(
        matches!(out[0].1, ChangeOutcome::Conflicted { revision: 4, .. }),
        "{out:?}"
    );

    let batches = store.record_batches(id).await.expect("record batches");
    assert_eq!(batches, BTreeMap::from([(1, b1), (3, b2), (4, b3)]));
    let conflicts = store.record_conflicts(id).await.expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let c = &conflicts[0];
    assert_eq!((c.revision, c.change_id), (4, late.change_id));
    assert_eq!(c.conflict.field, "note");
    assert_eq!(
        (
            c.conflict.winning_value.clone(),
            c.conflict.losing_value.clone()
        ),
        (json!("手机二"), json!("手机一"))
    );
    let winner = c.winner.as_ref().expect("the winning device is known");
    assert_eq!(
        (winner.badge.as_str(), winner.device_name.as_str()),
        ("A1001", "备用手机")
    );
    let loser = c.loser.as_ref().expect("the losing device is known");
    assert_eq!(
        (loser.name.as_str(), loser.device_name.as_str()),
        ("张警官", "张警官的手机")
    );
    assert!(store
        .record_conflicts(RecordId::new_v7())
        .await
        .expect("conflicts")
        .is_empty());
}

/// A server-side edit writes what it returns as the next version (which
/// devices pull), refuses what it refuses, reports missing records, and
/// stores the audit entry made of those outcomes; `None` stores no entry.
pub async fn edit_records_writes_refuses_and_audits_in_one_go(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let (r1, r2) = (visit(a, &w.grid_a, "核实"), visit(a, &w.grid_a, "拒绝"));
    push(store, a, vec![r1.clone(), r2.clone()]).await;
    let missing = RecordId::new_v7();
    let refuse = r2.record_id;
    let supervisor: UserInfo = w.supervisor.clone();
    let out = store
        .edit_records(
            vec![r1.record_id, r2.record_id, missing],
            Box::new(move |r| {
                if r.id == refuse {
                    return Err(Refusal {
                        code: ErrorCode::Conflict,
                        message: Text::new("不行", "no"),
                    });
                }
                let mut next = r.clone();
                next.revision += 1;
                let hlc = next.fields["note"].hlc;
                next.fields.insert(
                    "verified".into(),
                    FieldState {
                        value: json!(true),
                        hlc,
                        revision: next.revision,
                    },
                );
                Ok(next)
            }),
            Box::new(move |outcomes| {
                let written = outcomes
                    .iter()
                    .filter(|(_, o)| matches!(o, EditOutcome::Written { .. }))
                    .count();
                Some(NewAudit::by(
                    &supervisor,
                    "verify",
                    "records",
                    json!({ "written": written }),
                ))
            }),
        )
        .await
        .expect("edit");
    assert_eq!(out[0], (r1.record_id, EditOutcome::Written { revision: 2 }));
    assert!(
        matches!(&out[1], (id, EditOutcome::Refused(r)) if *id == r2.record_id && r.code == ErrorCode::Conflict)
    );
    assert_eq!(out[2], (missing, EditOutcome::Missing));
    let edited = store
        .record(r1.record_id)
        .await
        .expect("record")
        .expect("stored");
    assert_eq!(
        (edited.revision, edited.fields["verified"].value.clone()),
        (2, json!(true))
    );
    assert_eq!(
        store
            .record(r2.record_id)
            .await
            .expect("record")
            .expect("stored")
            .revision,
        1
    );
    let pulled = pull_all(store, w.scope_a(), Cursor(0), 10).await;
    assert!(
        matches!(pulled.last(), Some(PullItem::Record { version, .. }) if version.record.id == r1.record_id && version.revision == 2),
        "devices pull the edit"
    );
    let (entries, total) = store
        .audit_log(audit_query(None, None))
        .await
        .expect("audit");
    assert_eq!(total, 1);
    assert_eq!(
        (
            entries[0].entry.action.as_str(),
            entries[0].entry.detail.clone()
        ),
        ("verify", json!({ "written": 1 }))
    );
    assert_eq!(entries[0].entry.user, w.supervisor.id);

    store
        .edit_records(
            vec![missing],
            Box::new(|r| Ok(r.clone())),
            Box::new(|_| None),
        )
        .await
        .expect("edit");
    assert_eq!(
        store
            .audit_log(audit_query(None, None))
            .await
            .expect("audit")
            .1,
        1,
        "None audits nothing"
    );
}

fn audit_query(station: Option<StationId>, action: Option<&str>) -> AuditQuery {
    AuditQuery {
        station,
        action: action.map(str::to_owned),
        limit: 50,
        offset: 0,
    }
}

/// A hazard in `grid` of `by` with `status` and an optional `deadline`.
async fn hazard(store: &dyn Store, by: &Officer, status: &str, deadline: Option<&str>) -> RecordId {
    let mut fields = vec![("status", json!(status)), ("description", json!("隐患"))];
    if let Some(d) = deadline {
        fields.push(("deadline", json!(d)));
    }
    let grid = by.user.grids[0].clone();
    let change = upsert(
        by,
        RecordId::new_v7(),
        "hazard",
        &grid,
        0,
        values(&fields),
        vec![],
    );
    written(&push(store, by, vec![change.clone()]).await[0].1);
    change.record_id
}

/// Live hazards: overdue (open or rectifying past the deadline) first, then
/// by deadline (none last); filtered by scope, grid and status; counted per
/// status with the overdue ones.
pub async fn hazards_overdue_first_and_counts(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let h1 = hazard(store, a, "open", Some("2026-01-10")).await;
    let h2 = hazard(store, a, "rectifying", Some("2026-01-20")).await;
    let h3 = hazard(store, a, "open", Some("2026-03-01")).await;
    let h4 = hazard(store, a, "rectified", Some("2026-01-05")).await;
    let h5 = hazard(store, a, "verified", None).await;
    let h6 = hazard(store, b, "open", Some("2026-01-01")).await;
    let h7 = hazard(store, a, "open", Some("2026-01-02")).await;
    let gone = store.record(h7).await.expect("record").expect("stored");
    push(store, a, vec![super::fixture::delete(a, &gone)]).await;
    push(store, a, vec![visit(a, &w.grid_a, "不是隐患")]).await;
    let today = "2026-02-01".to_owned();
    let query = |scope, status: Option<&str>, grid, limit| HazardQuery {
        scope,
        status: status.map(str::to_owned),
        grid,
        today: today.clone(),
        limit,
    };
    let ids =
        |records: Vec<crate::StoredRecord>| records.into_iter().map(|r| r.id).collect::<Vec<_>>();

    let all = store
        .hazards(query(ReadScope::All, None, None, 50))
        .await
        .expect("hazards");
    assert_eq!(ids(all), vec![h6, h1, h2, h4, h3, h5]);
    let in_a = store
        .hazards(query(w.scope_a(), None, None, 50))
        .await
        .expect("hazards");
    assert_eq!(ids(in_a), vec![h1, h2, h4, h3, h5]);
    let open = store
        .hazards(query(ReadScope::All, Some("open"), None, 50))
        .await
        .expect("hazards");
    assert_eq!(ids(open), vec![h6, h1, h3]);
    let grid_b = store
        .hazards(query(ReadScope::All, None, Some(w.grid_b.clone()), 50))
        .await
        .expect("hazards");
    assert_eq!(ids(grid_b), vec![h6]);
    let first_two = store
        .hazards(query(ReadScope::All, None, None, 2))
        .await
        .expect("hazards");
    assert_eq!(ids(first_two), vec![h6, h1]);

    let counts = store
        .hazard_counts(ReadScope::All, None, today.clone())
        .await
        .expect("counts");
    let by = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        counts.by_status,
        by(&[
            ("open", 3),
            ("rectifying", 1),
            ("rectified", 1),
            ("verified", 1)
        ])
    );
    assert_eq!(counts.overdue, 3);
    let counts = store
        .hazard_counts(w.scope_a(), None, today.clone())
        .await
        .expect("counts");
    assert_eq!(
        counts.by_status,
        by(&[
            ("open", 2),
            ("rectifying", 1),
            ("rectified", 1),
            ("verified", 1)
        ])
    );
    assert_eq!(counts.overdue, 2);
    let counts = store
        .hazard_counts(ReadScope::All, Some(w.grid_b.clone()), today)
        .await
        .expect("counts");
    assert_eq!((counts.by_status, counts.overdue), (by(&[("open", 1)]), 1));
}

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, 9, 0, 0)
        .single()
        .expect("a valid day")
}

/// Pages of all the query's records in id order, and how many pages.
async fn export_all(
    store: &dyn Store,
    q: &ExportQuery,
    limit: u32,
    max_bytes: usize,
) -> (Vec<RecordId>, usize) {
    let (mut ids, mut pages, mut after) = (Vec::new(), 0, None);
    loop {
        let page = store
            .export_page(q.clone(), after, limit, max_bytes)
            .await
            .expect("export page");
        pages += 1;
        assert!(page.records.len() <= limit as usize);
        ids.extend(page.records.iter().map(|r| r.id));
        match page.next {
            Some(next) => {
                assert!(after.is_none_or(|a| next > a), "next moves forward");
                after = Some(next);
            }
            None => return (ids, pages),
        }
        assert!(pages < 100, "export paging does not end");
    }
}

/// Export pages: live records of the form in scope, oldest id first, at
/// most `limit` looked at (fewer when `max_bytes` is reached), dates
/// filtered within a page, so a page may be empty and still have a next.
pub async fn export_pages_by_limit_bytes_and_dates(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let mut ids = Vec::new();
    for d in 1..=7 {
        let mut change = visit(a, &w.grid_a, &format!("三月{d}日"));
        change.at = day(d);
        push(store, a, vec![change.clone()]).await;
        ids.push(change.record_id);
    }
    ids.sort();
    push(store, b, vec![visit(b, &w.grid_b, "B")]).await;
    hazard(store, a, "open", None).await;
    let doomed = visit(a, &w.grid_a, "删");
    push(store, a, vec![doomed.clone()]).await;
    let doomed = store
        .record(doomed.record_id)
        .await
        .expect("record")
        .expect("stored");
    push(store, a, vec![super::fixture::delete(a, &doomed)]).await;

    let q = ExportQuery {
        scope: w.scope_a(),
        form: "visit".into(),
        grid: None,
        created_from: None,
        created_before: None,
    };
    let (got, pages) = export_all(store, &q, 3, usize::MAX).await;
    assert_eq!(got, ids, "every live visit of A, by id");
    assert!(pages >= 3, "{pages} pages of at most 3");
    let first = store
        .export_page(q.clone(), None, 3, usize::MAX)
        .await
        .expect("page");
    assert_eq!(
        first.next,
        Some(ids[2]),
        "next is the last record looked at"
    );
    let (got, pages) = export_all(store, &q, 100, 1).await;
    assert_eq!(got, ids, "max_bytes bounds a page, not the export");
    assert!(
        pages >= ids.len(),
        "one record per page when any record reaches max_bytes"
    );

    let dated = ExportQuery {
        created_from: Some(day(3)),
        created_before: Some(day(6)),
        ..q.clone()
    };
    let first = store
        .export_page(dated.clone(), None, 2, usize::MAX)
        .await
        .expect("page");
    let (got, _) = export_all(store, &dated, 2, usize::MAX).await;
    let mut expect = Vec::new();
    for id in &ids {
        let r = store.record(*id).await.expect("record").expect("stored");
        if r.created_at >= day(3) && r.created_at < day(6) {
            expect.push(*id);
        }
    }
    assert_eq!(expect.len(), 3);
    assert_eq!(got, expect, "days 3, 4 and 5");
    assert!(
        first.next.is_some(),
        "a page with nothing in range still has a next: {first:?}"
    );

    let in_b = ExportQuery {
        scope: ReadScope::All,
        grid: Some(w.grid_b.clone()),
        ..q.clone()
    };
    assert_eq!(export_all(store, &in_b, 10, usize::MAX).await.0.len(), 1);
    let out_of_scope = ExportQuery {
        scope: w.scope_b(),
        ..q.clone()
    };
    assert_eq!(
        export_all(store, &out_of_scope, 10, usize::MAX)
            .await
            .0
            .len(),
        1
    );
}

/// The audit log: positions increase, entries read back as appended,
/// newest first, filtered by station and action, paged, with the count.
pub async fn audit_log_order_filter_and_count(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let other_station = StationId::new("320614-02");
    let mut appended = Vec::new();
    for n in 0..7u32 {
        let mut entry = NewAudit::by(
            &w.supervisor,
            if n % 2 == 0 { "approve" } else { "return" },
            format!("record-{n}"),
            json!({ "n": n }),
        );
        entry.at = now_ms();
        if n >= 5 {
            entry.station = other_station.clone();
        }
        let handle = if n % 2 == 0 {
            fresh.store.clone()
        } else {
            fresh.again.open().await
        };
        let id = handle.append_audit(entry.clone()).await.expect("append");
        if let Some((last, _)) = appended.last() {
            assert!(id > *last, "positions increase");
        }
        appended.push((id, entry));
    }
    let (entries, total) = store
        .audit_log(audit_query(None, None))
        .await
        .expect("audit");
    assert_eq!(total, 7);
    let newest_first: Vec<_> = appended
        .iter()
        .rev()
        .map(|(id, e)| (*id, e.clone()))
        .collect();
    let read: Vec<_> = entries.iter().map(|e| (e.id, e.entry.clone())).collect();
    assert_eq!(
        read, newest_first,
        "entries read back as appended, newest first"
    );

    let (entries, total) = store
        .audit_log(audit_query(Some(w.station.clone()), None))
        .await
        .expect("audit");
    assert_eq!((entries.len(), total), (5, 5));
    assert!(entries.iter().all(|e| e.entry.station == w.station));
    let (entries, total) = store
        .audit_log(audit_query(Some(w.station.clone()), Some("approve")))
        .await
        .expect("audit");
    assert_eq!(total, 3);
    let targets: Vec<&str> = entries.iter().map(|e| e.entry.target.as_str()).collect();
    assert_eq!(targets, ["record-4", "record-2", "record-0"]);
    let mut paged = audit_query(None, None);
    (paged.limit, paged.offset) = (2, 1);
    let (entries, total) = store.audit_log(paged).await.expect("audit");
    assert_eq!(total, 7, "the count ignores the page");
    assert_eq!(
        entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![appended[5].0, appended[4].0]
    );
}
