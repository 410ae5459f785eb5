//! Several server instances in front of one database (DESIGN.md, "Scale"):
//! nothing an instance keeps alone may change what a client gets, whichever
//! instance answers.
//!
//! - A form version published through another process (the admin CLI, or
//!   another instance) is accepted by every instance without a restart, and
//!   the review pages show it; versions nobody published cost at most one
//!   read of the forms per floor, however many pushes name them.
//! - The sign-in throttle's limits hold across instances: wrong passwords
//!   spread over two instances, one after another or all at once, get no
//!   more Argon2 checks than one instance gives.
//! - Uploads resume on another instance than the one they started on (the
//!   blob directory is shared), and two janitors sweeping at once remove
//!   everything once, without an error.
//! - The configuration picks the database; a PostgreSQL URL is never shown
//!   with its password.
//!
//! Each instance is its own `AppState` (its own store handle on the same
//! database, its own caches and throttle) served on its own port.

use std::time::{Duration, Instant};

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{DeviceId, RecordId, Sha256};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, EnrollRequest, ErrorCode};
use beatbook_schema::record::AttachmentRef;
use beatbook_server::sync::RELOAD_FLOOR;
use beatbook_tests::backend::open_store;
use beatbook_tests::browser::Browser;
use beatbook_tests::data::{house, obj, photo_bytes, reading_form};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

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
    let store = open_store(server.data_dir()).await.expect("database opens");
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

/// `POST /v1/enroll` for `badge`; the answer's status.
async fn enroll(
    http: &reqwest::Client,
    server: &TestServer,
    badge: &str,
    password: &str,
) -> StatusCode {
    http.post(format!("{}/v1/enroll", server.url))
        .json(&EnrollRequest {
            badge: badge.into(),
            password: password.into(),
            device_id: DeviceId::new_v7(),
            device_name: "测试手机".into(),
        })
        .send()
        .await
        .expect("enroll request")
        .status()
}

/// Two instances, each with a per-badge limit of `per_badge`; per address
/// and per badge@address limits high enough not to matter.
async fn two_instances(per_badge: u32) -> (TestServer, TestServer) {
    let a = TestServer::start_with(|c| {
        c.login_max_failures = 100;
        c.login_max_failures_per_badge = per_badge;
        c.login_max_failures_per_address = 100;
    })
    .await;
    let b = a.another_instance().await;
    (a, b)
}

#[tokio::test]
async fn wrong_passwords_spread_over_two_instances_are_refused_after_the_limit() {
    let (a, b) = two_instances(4).await;
    let http = reqwest::Client::new();
    // Two wrong passwords on each instance: four in all, each one checked.
    for server in [&a, &b, &a, &b] {
        assert_eq!(
            enroll(&http, server, "s1", "wrong-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Each instance has seen only two, but the badge is at its limit.
    for server in [&a, &b] {
        assert_eq!(
            enroll(&http, server, "s1", PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "even the right password waits"
        );
    }
    // Another badge is not held.
    assert_eq!(enroll(&http, &b, "o1", PASSWORD).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_sent_at_once_to_two_instances_get_at_most_the_limit_of_checks() {
    let (a, b) = two_instances(5).await;
    let http = reqwest::Client::new();
    // Each instance's memory lets five through: ten would reach a check
    // without the shared count.
    let answers = futures_util::future::join_all((0..24).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        enroll(&http, server, "s2", "wrong-password")
    }))
    .await;
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 19), "{answers:?}");
}

#[tokio::test]
async fn an_upload_started_on_one_instance_finishes_on_another_and_attaches() {
    let a = TestServer::start().await;
    let b = a.another_instance().await;
    let on_a = a.device("o1").await;
    let bytes = photo_bytes(300_000, 7);
    let sha = Sha256::digest(&bytes);

    // The same device, routed to the other instance halfway.
    let on_b = on_a.upload_split_across(&b.url, &bytes, 120_000).await;

    // A record attaching it is accepted, through either instance, and the
    // bytes come back whole from both.
    let mut fields = house("拍照户");
    fields.insert("photos".into(), json!([sha]));
    let mut change = on_b.upsert(RecordId::new_v7(), "house", "G1", 0, fields);
    if let ChangeOp::Upsert { attachments, .. } = &mut change.op {
        attachments.push(AttachmentRef {
            sha256: sha,
            content_type: "image/jpeg".into(),
            size: bytes.len() as u64,
        });
    }
    let on_a = on_b.via(&a.url);
    let outcome = push_one(&on_a, change).await;
    assert_eq!(outcome, ChangeOutcome::Accepted { revision: 1 });
    let mut device = on_a;
    for url in [&a.url, &b.url] {
        device = device.via(url);
        let got = device
            .request(reqwest::Method::GET, &format!("/v1/blobs/{sha}"))
            .send()
            .await
            .expect("download");
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_janitors_sweeping_at_once_remove_everything_once() {
    let expire_at_once = |c: &mut beatbook_server::Config| {
        c.partial_upload_ttl_secs = 0;
        c.unreferenced_blob_grace_secs = 0;
    };
    let a = TestServer::start_with(expire_at_once).await;
    let b = a.another_instance().await;
    let (mut partials, mut blobs) = (0, 0);
    for (badge, first_seed) in [("o1", 0), ("o2", 100)] {
        let device = a.device(badge).await;
        for seed in first_seed..first_seed + 3 {
            let bytes = photo_bytes(50_000, seed);
            let res = device.put_part(&bytes, 0, 20_000).await;
            assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
            partials += 1;
        }
        for seed in first_seed + 10..first_seed + 14 {
            // Uploaded whole, attached to no record.
            let _ = device
                .upload(&photo_bytes(30_000, seed), "image/jpeg")
                .await;
            blobs += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(20)).await;

    let (one, two) = tokio::join!(
        beatbook_server::janitor::sweep(&a.state),
        beatbook_server::janitor::sweep(&b.state)
    );
    let (one, two) = (one.expect("sweep on a"), two.expect("sweep on b"));
    println!("two sweeps at once: {one:?} and {two:?}");
    assert_eq!(one.partials.files + two.partials.files, partials);
    assert_eq!(one.blobs.files + two.blobs.files, blobs);
    assert_eq!(one.strays.files + two.strays.files, 0);
    let again = beatbook_server::janitor::sweep(&b.state)
        .await
        .expect("sweep again");
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn an_unreachable_postgres_database_is_a_clear_error_without_its_password() {
    let dir = tempfile::tempdir().expect("dir");
    let url = "postgres://beatbook:s3cret-pw@127.0.0.1:9/beatbook";
    let out = std::process::Command::new(beatbook_tests::process::server_binary())
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--database", url, "status"])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("database unavailable"), "{stderr}");
    assert!(
        stderr.contains("postgres://beatbook:***@127.0.0.1:9/beatbook"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
