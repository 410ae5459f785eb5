//! `migrate-to`'s library part: a SQLite deployment, written through the
//! Store trait, copied into a fresh PostgreSQL database. Devices must go on
//! syncing from the cursors they stored: same log, same cursors, same JSON,
//! same tokens; new changes after every copied one. A target that holds
//! data is refused and left as it was; a copy that fails half-way leaves
//! nothing behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use beatbook_schema::ids::{BatchId, RecordId};
use beatbook_schema::protocol::{ChangeOutcome, Cursor, Review, ReviewDecision};
use beatbook_store::conformance::fixture::{
    self, another_phone, photo, push, push_batch, upsert, values, visit, written, World, REFUSE,
};
use beatbook_store::{FailureCounter, NewAudit, NewWebSession, RawPage, ReadScope, Store};
use beatbook_store_postgres::from_sqlite::{self, MigrateError, Progress, Step};
use beatbook_store_postgres::{testing, PgStore};
use beatbook_store_sqlite::SqliteStore;
use chrono::Utc;
use serde_json::json;
use tokio_postgres::NoTls;

/// A SQLite deployment with something in every table but `meta` (which
/// nothing writes yet), and what the test needs to know about it.
struct Deployment {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: SqliteStore,
    world: World,
    /// A cursor a device stored half-way through the history.
    midway: Cursor,
    /// A record with several versions and a hard conflict.
    edited: RecordId,
}

async fn deployment() -> Deployment {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("beatbook.sqlite3");
    let store = SqliteStore::open(&path).expect("open SQLite");
    let w = fixture::world(&store).await;
    for form in beatbook_schema::catalogue::standard_forms().expect("standard forms") {
        store.publish_form(form.def()).await.expect("publish");
    }
    let off = fixture::account(
        &store,
        "X9009",
        "赵辅警",
        beatbook_schema::protocol::Role::Auxiliary,
        &w.station,
        std::slice::from_ref(&w.grid_a),
    )
    .await;
    store.set_disabled(&off.badge, true).await.expect("disable");
    let spare = another_phone(&store, &w.officer_b).await;
    store
        .revoke_device(spare.device, Utc::now())
        .await
        .expect("revoke");

    let a = &w.officer_a;
    let shot = photo(b"a photo of house 12");
    store
        .complete_blob(shot.sha256, shot.size, &shot.content_type, a.device)
        .await
        .expect("blob");
    let first = upsert(
        a,
        RecordId::new_v7(),
        "visit",
        &w.grid_a,
        0,
        values(&[("note", json!("门锁坏了")), ("count", json!(3))]),
        vec![shot.clone()],
    );
    let edited = first.record_id;
    let second = visit(a, &w.grid_a, "second visit");
    let refused = upsert(
        a,
        RecordId::new_v7(),
        "visit",
        &w.grid_a,
        0,
        values(&[(REFUSE, json!(true))]),
        vec![],
    );
    let out = push(&store, a, vec![first, second.clone(), refused]).await;
    assert!(
        matches!(out[2].1, ChangeOutcome::Rejected { .. }),
        "{out:?}"
    );
    let midway = fixture::pull_all(&store, ReadScope::All, Cursor(0), 100)
        .await
        .last()
        .expect("items")
        .cursor();

    // Two phones edit the same field from revision 1: the second is a hard conflict.
    let phone = another_phone(&store, a).await;
    let edit = |by, note: &str| {
        upsert(
            by,
            edited,
            "visit",
            &w.grid_a,
            1,
            values(&[("note", json!(note))]),
            vec![shot.clone()],
        )
    };
    let out = push_batch(&store, a, BatchId::new_v7(), vec![edit(a, "修好了")]).await;
    assert_eq!(written(&out[0].1), 2);
    let out = push(&store, &phone, vec![edit(&phone, "还是坏的")]).await;
    assert!(
        matches!(out[0].1, ChangeOutcome::Conflicted { revision: 3, .. }),
        "{out:?}"
    );

    let b = &w.officer_b;
    let gone = visit(b, &w.grid_b, "a mistake");
    let out = push(&store, b, vec![gone.clone()]).await;
    assert_eq!(written(&out[0].1), 1);
    let record = store
        .record(gone.record_id)
        .await
        .expect("read")
        .expect("stored");
    push(&store, b, vec![fixture::delete(b, &record)]).await;

    // One ID number recorded in both grids, judged to be two people.
    let person = |by, grid| {
        upsert(
            by,
            RecordId::new_v7(),
            "person",
            grid,
            0,
            values(&[
                ("name", json!("陈小明")),
                ("id_number", json!("11010519491231002X")),
            ]),
            vec![],
        )
    };
    let (pa, pb) = (person(a, &w.grid_a), person(b, &w.grid_b));
    let (ida, idb) = (pa.record_id, pb.record_id);
    push(&store, a, vec![pa]).await;
    push(&store, b, vec![pb]).await;
    store
        .mark_distinct(
            ida,
            idb,
            NewAudit::by(&w.supervisor, "duplicate_distinct", "record", json!({})),
        )
        .await
        .expect("distinct");

    let review = Review {
        decision: ReviewDecision::Return {
            reason: "请补充照片".into(),
        },
        by: w.supervisor.name.clone(),
        at: Utc::now(),
    };
    assert_eq!(
        store
            .review(second.record_id, review)
            .await
            .expect("review"),
        Some(2)
    );
    for action in ["sign_in", "return"] {
        store
            .append_audit(NewAudit::by(
                &w.supervisor,
                action,
                "batch",
                json!({"n": 1, "why": "测试"}),
            ))
            .await
            .expect("audit");
    }
    store
        .create_web_session(NewWebSession {
            id_hash: fixture::token("session"),
            user: w.supervisor.id,
            created_at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::hours(8),
        })
        .await
        .expect("web session");
    let failed = FailureCounter {
        key: [7; 16],
        limit: 5,
        cleared_by_success: true,
    };
    let _kept = store
        .reserve_signin_failure(
            vec![failed],
            std::time::Duration::from_secs(900),
            Utc::now(),
        )
        .await
        .expect("a failed sign-in");
    store
        .create_enrollment_code(beatbook_store::NewEnrollmentCode {
            code_hash: fixture::token("an enrollment code"),
            user: w.officer_a.user.id,
            created_by: w.supervisor.id,
            created_at: Utc::now(),
            expires_at: fixture::in_secs(900),
        })
        .await
        .expect("an enrollment code");
    Deployment {
        _dir: dir,
        path,
        store,
        world: w,
        midway,
        edited,
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Rows per table straight from SQLite, and the largest cursor.
fn sqlite_counts(path: &Path, tables: &[&str]) -> (BTreeMap<String, u64>, i64) {
    let conn = rusqlite::Connection::open(path).expect("open");
    let counts = tables
        .iter()
        .map(|t| {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .expect("count");
            ((*t).to_owned(), n as u64)
        })
        .collect();
    let max: i64 = conn
        .query_row("SELECT MAX(cursor) FROM changelog", [], |r| r.get(0))
        .expect("max cursor");
    (counts, max)
}

/// Rows per table in PostgreSQL, and the log head.
async fn pg_counts(url: &str, tables: &[&str]) -> (BTreeMap<String, u64>, i64) {
    let client = connect(url).await;
    let mut counts = BTreeMap::new();
    for t in tables {
        let n: i64 = client
            .query_one(&format!("SELECT COUNT(*) FROM {t}"), &[])
            .await
            .expect("count")
            .get(0);
        counts.insert((*t).to_owned(), n as u64);
    }
    let head: i64 = client
        .query_one("SELECT cursor FROM log_head", &[])
        .await
        .expect("head")
        .get(0);
    (counts, head)
}

/// Every page from `since`, `limit` at a time: (cursor, JSON) of each item
/// and (next, has_more) of each page.
async fn pages(
    store: &dyn Store,
    scope: ReadScope,
    since: Cursor,
    limit: u32,
) -> Vec<(Vec<(u64, String)>, u64, bool)> {
    let mut out = Vec::new();
    let mut at = since;
    loop {
        let RawPage {
            items,
            next,
            has_more,
        } = store.pull(scope.clone(), at, limit).await.expect("pull");
        let items = items
            .iter()
            .map(|i| (i.cursor.0, i.json.get().to_owned()))
            .collect();
        out.push((items, next.0, has_more));
        at = next;
        if !has_more {
            return out;
        }
    }
}

const TABLES: &[&str] = &[
    "meta",
    "stations",
    "grids",
    "users",
    "user_grids",
    "devices",
    "forms",
    "changelog",
    "records",
    "record_versions",
    "changes",
    "batches",
    "conflicts",
    "blobs",
    "record_blobs",
    "blob_history",
    "blob_uploads",
    "web_sessions",
    "audit_log",
    "signin_failures",
    "enrollment_codes",
    "person_ids",
    "person_id_counts",
    "duplicate_distinct",
];

#[tokio::test(flavor = "multi_thread")]
async fn devices_keep_syncing_from_their_cursors_after_the_copy() {
    let d = deployment().await;
    let url = testing::fresh_database().await;
    let mut heard = Vec::new();
    let report = from_sqlite::copy(&d.path, &url, &mut |p| heard.push(p))
        .await
        .expect("copy");

    // Every table, every row, verified; the log head at the last cursor.
    let (expected, max_cursor) = sqlite_counts(&d.path, TABLES);
    let names: Vec<&str> = report.tables.iter().map(|t| t.table).collect();
    assert_eq!(names, TABLES);
    for t in &report.tables {
        assert_eq!(t.rows, expected[t.table], "{}", t.table);
        assert_eq!(t.checksum.len(), 64, "{}", t.table);
        let filled = t.table != "meta";
        assert_eq!(t.rows > 0, filled, "{} has rows to copy", t.table);
        let copied = Progress {
            step: Step::Copy,
            table: t.table,
            done: t.rows,
            total: t.rows,
        };
        let verified = Progress {
            step: Step::Verify,
            ..copied
        };
        assert!(
            heard.contains(&copied) && heard.contains(&verified),
            "{}",
            t.table
        );
    }
    assert_eq!(report.log_head, max_cursor as u64);
    let (stored, head) = pg_counts(&url, TABLES).await;
    assert_eq!(stored, expected);
    assert_eq!(head, max_cursor);

    let pg = PgStore::connect(&url, 4).await.expect("connect");
    let w = &d.world;
    // A device resuming from its stored cursor pulls exactly what SQLite
    // would have given it, page by page: same cursors, same JSON.
    for (scope, since) in [
        (w.scope_a(), d.midway),
        (w.scope_b(), Cursor(0)),
        (ReadScope::All, Cursor(0)),
        (ReadScope::All, d.midway),
    ] {
        let before = pages(&d.store, scope.clone(), since, 3).await;
        let after = pages(&pg, scope.clone(), since, 3).await;
        assert!(
            before.iter().any(|(items, ..)| !items.is_empty()),
            "{scope:?}"
        );
        assert_eq!(after, before, "{scope:?} since {since:?}");
    }
    // Tokens still resolve, to the same owner; the revoked phone stays revoked.
    for officer in [&w.officer_a, &w.officer_b] {
        let owner = pg.token_owner(officer.token).await.expect("token");
        assert!(owner.is_some());
        assert_eq!(
            owner,
            d.store.token_owner(officer.token).await.expect("token")
        );
    }
    assert_eq!(
        pg.devices().await.expect("devices"),
        d.store.devices().await.expect("devices")
    );
    assert_eq!(
        pg.users().await.expect("users"),
        d.store.users().await.expect("users")
    );
    assert_eq!(
        pg.record(d.edited).await.expect("record"),
        d.store.record(d.edited).await.expect("record")
    );
    let conflicts = |c: Vec<beatbook_store::ConflictEntry>| format!("{c:?}");
    assert_eq!(
        conflicts(pg.record_conflicts(d.edited).await.expect("conflicts")),
        conflicts(d.store.record_conflicts(d.edited).await.expect("conflicts"))
    );

    // A new push gets the next revision and a cursor above every copied one.
    let a = &w.officer_a;
    let next = upsert(
        a,
        d.edited,
        "visit",
        &w.grid_a,
        3,
        values(&[("note", json!("又修了"))]),
        vec![],
    );
    let out = push(&pg, a, vec![next]).await;
    assert_eq!(written(&out[0].1), 4);
    let new = pages(&pg, w.scope_a(), Cursor(max_cursor as u64), 10).await;
    let cursors: Vec<u64> = new
        .iter()
        .flat_map(|(items, ..)| items.iter().map(|i| i.0))
        .collect();
    assert_eq!(cursors, vec![max_cursor as u64 + 1]);
    // And identity columns go on after the copied ids.
    let position = pg
        .append_audit(NewAudit::by(&w.supervisor, "export", "all", json!({})))
        .await
        .expect("audit");
    assert_eq!(position, expected["audit_log"] + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_holding_data_is_refused_and_left_as_it_was() {
    let d = deployment().await;
    let url = testing::fresh_database().await;
    from_sqlite::copy(&d.path, &url, &mut |_| {})
        .await
        .expect("first copy");
    let before = pg_counts(&url, TABLES).await;
    let err = from_sqlite::copy(&d.path, &url, &mut |_| {})
        .await
        .expect_err("a second copy into the same database");
    assert!(
        matches!(err, MigrateError::NotEmpty { table: "stations" }),
        "{err}"
    );
    assert!(err.to_string().contains("table stations"), "{err}");
    assert_eq!(pg_counts(&url, TABLES).await, before);

    // A server started on the empty database first has published its forms.
    let url = testing::fresh_database().await;
    let pg = PgStore::connect(&url, 1).await.expect("connect");
    let form = beatbook_schema::catalogue::standard_forms().expect("forms");
    pg.publish_form(form[0].def()).await.expect("publish");
    let before = pg_counts(&url, TABLES).await;
    let err = from_sqlite::copy(&d.path, &url, &mut |_| {})
        .await
        .expect_err("a database a server started on");
    assert!(
        matches!(err, MigrateError::NotEmpty { table: "forms" }),
        "{err}"
    );
    assert_eq!(pg_counts(&url, TABLES).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_that_fails_half_way_leaves_the_target_empty() {
    let d = deployment().await;
    let url = testing::fresh_database().await;
    // A flag SQLite accepted but no boolean can hold, in a table copied
    // after several others.
    let conn = rusqlite::Connection::open(&d.path).expect("open");
    conn.execute(
        "UPDATE records SET deleted = 2 WHERE id = ?1",
        [d.edited.to_string()],
    )
    .expect("spoil a flag");
    let err = from_sqlite::copy(&d.path, &url, &mut |_| {})
        .await
        .expect_err("a flag of 2");
    assert!(
        matches!(
            err,
            MigrateError::Convert {
                table: "records",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("deleted"), "{err}");
    let (counts, head) = pg_counts(&url, TABLES).await;
    assert!(counts.values().all(|n| *n == 0), "{counts:?}");
    assert_eq!(head, 0);

    // Mended, the same target takes the copy.
    conn.execute(
        "UPDATE records SET deleted = 0 WHERE id = ?1",
        [d.edited.to_string()],
    )
    .expect("mend");
    from_sqlite::copy(&d.path, &url, &mut |_| {})
        .await
        .expect("copy after mending");

    // Another schema version is refused before anything is written.
    let url = testing::fresh_database().await;
    conn.pragma_update(None, "user_version", 2)
        .expect("older version");
    let err = from_sqlite::copy(&d.path, &url, &mut |_| {})
        .await
        .expect_err("an older schema");
    assert!(
        matches!(
            err,
            MigrateError::SchemaVersion { sqlite: 2, postgres } if postgres > 2
        ),
        "{err}"
    );
    assert!(pg_counts(&url, TABLES).await.0.values().all(|n| *n == 0));
}
