//! Several server instances in front of one database (DESIGN.md, "Scale"):
//! nothing an instance keeps alone may change what a client gets, whichever
//! instance answers.
//!
//! - A form version published through another process (the admin CLI, or
//!   another instance) is accepted by every instance without a restart, and
//!   the review pages show it; versions nobody published cost at most one
//!   read of the forms per floor, however many pushes name them.
//!
//! Each instance is its own `AppState` (its own store handle on the same
//! SQLite file, its own caches and throttle) served on its own port.

use std::time::{Duration, Instant};

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{Change, ChangeOutcome, ErrorCode};
use beatbook_server::sync::RELOAD_FLOOR;
use beatbook_store::Store;
use beatbook_store_sqlite::SqliteStore;
use beatbook_tests::browser::Browser;
use beatbook_tests::data::obj;
use beatbook_tests::{TestDevice, TestServer};
use serde_json::json;

fn reading_form(version: u32) -> FormDef {
    serde_json::from_value(json!({
        "form_id": "reading", "version": version,
        "title": {"zh": "读数", "en": "Readings"},
        "sections": [{"id": "main", "title": {"zh": "读数", "en": "Readings"}, "fields": [
            {"name": "note", "label": {"zh": "说明", "en": "Note"}, "kind": {"type": "text"}}
        ]}]
    }))
    .expect("a form definition")
}

fn reading(device: &TestDevice, version: u32) -> Change {
    let mut change = device.upsert(
        RecordId::new_v7(),
        "reading",
        "G1",
        0,
        obj(json!({"note": "水表读数"})),
    );
    change.form_version = version;
    change
}

/// The outcome of pushing one change.
async fn push_one(device: &TestDevice, change: Change) -> ChangeOutcome {
    let res = device.push(vec![change]).await.expect("push answered");
    res.results.into_iter().next().expect("one result").outcome
}

fn is_unknown_form(outcome: &ChangeOutcome) -> bool {
    matches!(
        outcome,
        ChangeOutcome::Rejected {
            code: ErrorCode::UnknownForm,
            ..
        }
    )
}

/// Publishes through a store of its own on the same database, as
/// `beatbook-server form publish` does while the servers run.
async fn publish_elsewhere(server: &TestServer, def: &FormDef) {
    let store = SqliteStore::open(&server.state.config.database_path()).expect("database opens");
    assert!(store.publish_form(def).await.expect("publishes"));
}

#[tokio::test]
async fn a_form_published_elsewhere_is_accepted_by_every_instance_without_restart() {
    let a = TestServer::start().await;
    let b = a.another_instance().await;
    let on_a = a.device("o1").await;
    let on_b = b.device("o1").await;
    let supervisor = Browser::signed_in(&b, "s1").await;
    let exports = supervisor.get("/review/exports").await;
    assert!(!exports.body.contains("读数"), "not published yet");
    assert!(is_unknown_form(&push_one(&on_a, reading(&on_a, 1)).await));

    publish_elsewhere(&a, &reading_form(1)).await;
    let outcome = push_one(&on_a, reading(&on_a, 1)).await;
    assert!(
        matches!(outcome, ChangeOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    let outcome = push_one(&on_b, reading(&on_b, 1)).await;
    assert!(
        matches!(outcome, ChangeOutcome::Accepted { .. }),
        "{outcome:?}"
    );

    // A second version, published while both instances know the first.
    publish_elsewhere(&a, &reading_form(2)).await;
    for device in [&on_a, &on_b] {
        let outcome = push_one(device, reading(device, 2)).await;
        assert!(
            matches!(outcome, ChangeOutcome::Accepted { .. }),
            "{outcome:?}"
        );
    }

    // The review pages list forms by their latest version: no lookup tells
    // them one is missing, so they read forms no staler than the floor.
    tokio::time::sleep(RELOAD_FLOOR).await;
    let exports = supervisor.get("/review/exports").await;
    assert!(
        exports.body.contains("读数"),
        "the exports page offers the new form"
    );
}

#[tokio::test]
async fn versions_nobody_published_cost_at_most_one_reload_per_floor() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let before = server.state.forms.reloads();
    let started = Instant::now();
    let outcomes = futures_util::future::join_all(
        (0..20).map(|i| push_one(&device, reading(&device, 100 + i))),
    )
    .await;
    for _ in 0..3 {
        outcomes_are_unknown(&[push_one(&device, reading(&device, 99)).await]);
    }
    let elapsed = started.elapsed();
    outcomes_are_unknown(&outcomes);
    let reloads = server.state.forms.reloads() - before;
    let allowed = (elapsed.as_secs_f64() / RELOAD_FLOOR.as_secs_f64()).floor() as u64 + 1;
    println!(
        "23 pushes of unpublished versions in {elapsed:?}: {reloads} reloads (at most {allowed})"
    );
    assert!(reloads >= 1, "an unknown version is looked for");
    assert!(reloads <= allowed, "{reloads} reloads in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10));
}

fn outcomes_are_unknown(outcomes: &[ChangeOutcome]) {
    for o in outcomes {
        assert!(is_unknown_form(o), "{o:?}");
    }
}
