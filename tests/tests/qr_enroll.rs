//! QR enrollment end to end, on the real server: a supervisor makes a code on
//! the review page, the page's QR image is read by the device's own decoder,
//! and a real field-app core enrolls with it — no address or password typed —
//! and syncs. A used, expired or unknown code is its own error; supervisors
//! make codes only for their station's officers; of phones racing with one
//! code exactly one is enrolled; wrong codes are throttled like wrong
//! passwords.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use beatbook_core::qr::read_enrollment_qr;
use beatbook_core::sync::SyncError;
use beatbook_core::{Core, CoreError};
use beatbook_schema::enrollment::{normalize_code, EnrollmentQr};
use beatbook_schema::protocol::ErrorCode;
use beatbook_store::AuditQuery;
use beatbook_tests::browser::{Browser, Page};
use beatbook_tests::client::{open_core, sync};
use beatbook_tests::data::house;
use beatbook_tests::TestServer;
use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

/// Makes a code for `badge` on the review page as `reviewer` sees it.
async fn make_code(b: &Browser, badge: &str) -> Page {
    b.open("/review/enroll").await;
    b.post("/review/enroll", &[("badge", badge)]).await
}

/// The QR image on the page, as the browser shows it (PNG bytes).
fn qr_image(page: &Page) -> Vec<u8> {
    let start = page
        .body
        .find("data:image/png;base64,")
        .expect("the page shows a PNG")
        + "data:image/png;base64,".len();
    let end = start + page.body[start..].find('"').expect("end of the image");
    STANDARD
        .decode(&page.body[start..end])
        .expect("base64 image")
}

/// The text between `id="<id>">` and the next `<`.
fn shown(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("#{id} shown"))
        + marker.len();
    page.body[at..at + page.body[at..].find('<').expect("end")].to_owned()
}

/// A fresh phone (its own encrypted store) enrolling with what it read.
async fn phone(qr: &EnrollmentQr) -> (TempDir, Core, Result<String, CoreError>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = open_core(dir.path());
    let result = core
        .enroll_with_code(qr, "扫码的手机")
        .await
        .map(|u| u.badge);
    (dir, core, result)
}

fn refusal(result: &Result<String, CoreError>) -> Option<ErrorCode> {
    match result {
        Err(CoreError::Sync(e @ SyncError::Server { .. })) => e.code(),
        _ => None,
    }
}

#[tokio::test]
async fn a_code_shown_as_a_qr_image_enrolls_a_phone_once_and_it_syncs() {
    let server = TestServer::start().await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let page = make_code(&s1, "o1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let png = qr_image(&page);
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");

    let qr = read_enrollment_qr(&png).expect("the device reads the page's QR image");
    assert_eq!(qr.server, server.url, "the address the page was opened at");
    assert_eq!(
        normalize_code(&shown(&page, "enroll-code")).as_deref(),
        Some(qr.code.as_str()),
        "the code as text is the code in the QR image"
    );
    assert!(
        !shown(&page, "enroll-expires").is_empty(),
        "the expiry is shown"
    );

    let (_dir, core, enrolled) = phone(&qr).await;
    assert_eq!(enrolled.expect("enrolled with the code"), "o1");
    let mut session = core
        .new_record("house", None, house("扫码绑定的房主"))
        .expect("new house");
    session.finalize().expect("valid house");
    let id = session.id();
    let report = sync(&core).await;
    assert_eq!(report.accepted, 1, "{report:?}");
    let stored = server
        .state
        .store
        .record(id)
        .await
        .expect("read")
        .expect("the record reached the server");
    let o1 = server
        .state
        .store
        .user_by_badge("o1")
        .await
        .expect("read")
        .expect("o1");
    assert_eq!(stored.author, o1.info.id, "written as o1");

    let (_dir2, _core2, again) = phone(&qr).await;
    assert_eq!(
        refusal(&again),
        Some(ErrorCode::EnrollmentCodeUsed),
        "{again:?}"
    );

    let (log, _) = server
        .state
        .store
        .audit_log(AuditQuery {
            station: None,
            action: None,
            limit: 10,
            offset: 0,
        })
        .await
        .expect("audit log");
    let actions: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| {
            (
                e.entry.action.as_str(),
                e.entry.badge.as_str(),
                e.entry.target.as_str(),
            )
        })
        .filter(|(a, _, _)| a.starts_with("enroll_code"))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("enroll_code_used", "o1", "user:o1"),
            ("enroll_code", "s1", "user:o1")
        ],
        "made and used, newest first"
    );
}

#[tokio::test]
async fn expired_and_unknown_codes_are_refused_each_with_its_own_error() {
    let server = TestServer::start().await;
    let s1 = server
        .state
        .store
        .user_by_badge("s1")
        .await
        .expect("read")
        .expect("s1");
    let an_hour_ago = Utc::now() - TimeDelta::hours(1);
    let old = beatbook_server::enrollment::issue_code(&server.state, &s1.info, "o1", an_hour_ago)
        .await
        .expect("a code made an hour ago");
    let (_dir, _core, expired) = phone(&old.qr(&server.url)).await;
    assert_eq!(
        refusal(&expired),
        Some(ErrorCode::EnrollmentCodeExpired),
        "{expired:?}"
    );

    let made_up = EnrollmentQr {
        server: server.url.clone(),
        code: "0123456789abcdef0123456789abcdef".into(),
    };
    let (_dir, _core, unknown) = phone(&made_up).await;
    assert_eq!(
        refusal(&unknown),
        Some(ErrorCode::EnrollmentCodeUnknown),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn supervisors_make_codes_only_for_their_own_stations_field_accounts() {
    let server = TestServer::start().await;
    // (maker, account, may): s1 and s2 lead stations S1 and S2.
    let cases = [
        ("s1", "o1", true),
        ("s1", "a1", true),
        ("s1", "h1", false),
        ("s1", "s2", false),
        ("s1", "admin", false),
        ("s1", "nobody", false),
        ("s2", "o1", false),
        ("s2", "h1", true),
        ("admin", "h1", true),
        ("admin", "s1", true),
    ];
    for (maker, badge, may) in cases {
        let b = Browser::signed_in(&server, maker).await;
        let list = b.open("/review/enroll").await;
        assert_eq!(
            list.body.contains(&format!("data-badge=\"{badge}\"")),
            may,
            "{maker} sees {badge} listed: {may}"
        );
        let page = make_code(&b, badge).await;
        let want = if may {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(page.status, want, "{maker} makes a code for {badge}");
        assert_eq!(page.body.contains("data:image/png"), may);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phones_racing_with_one_code_through_two_instances_enroll_exactly_one() {
    let server = TestServer::start().await;
    let other = server.another_instance().await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let qr = read_enrollment_qr(&qr_image(&make_code(&s1, "o2").await)).expect("read");
    // Five: every attempt with a code counts as a failure until it succeeds,
    // so a sixth at once could find the code at its limit of five failures
    // (`login_max_failures`) and be refused with 429, as designed.
    let racers: Vec<_> = (0..5)
        .map(|i| {
            let mut qr = qr.clone();
            if i % 2 == 1 {
                qr.server = other.url.clone();
            }
            tokio::spawn(async move {
                let (dir, _core, result) = phone(&qr).await;
                drop(dir);
                result
            })
        })
        .collect();
    let mut results = Vec::new();
    for r in racers {
        results.push(r.await.expect("racer"));
    }
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "exactly one phone enrolled: {results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| refusal(r) == Some(ErrorCode::EnrollmentCodeUsed)),
        "the others are told the code was used: {results:?}"
    );
    drop(other);
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_wrong_passwords() {
    let server = TestServer::start_with(|c| c.login_max_failures_per_address = 3).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let qr = read_enrollment_qr(&qr_image(&make_code(&s1, "o1").await)).expect("read");
    let http = reqwest::Client::new();
    let attempt = |code: String| {
        http.post(format!("{}/v1/enroll/code", server.url))
            .json(&json!({
                "code": code,
                "device_id": uuid::Uuid::now_v7(),
                "device_name": "猜码的手机",
            }))
            .send()
    };
    for i in 0..3 {
        let res = attempt(format!("{i:032x}")).await.expect("answer");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let res = attempt(qr.code.clone()).await.expect("answer");
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "from this address even the right code waits"
    );
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_admin_command_writes_a_qr_image_a_phone_enrolls_with() {
    let server = TestServer::start().await;
    let out = tempfile::tempdir().expect("temp dir");
    let png = out.path().join("code.png");
    beatbook_server::admin::enrollment_code(
        &server.state,
        "h1",
        "admin",
        Some(server.url.clone()),
        Some(png.clone()),
    )
    .await
    .expect("the admin makes a code");
    let qr = read_enrollment_qr(&std::fs::read(&png).expect("the PNG written"))
        .expect("the device reads it");
    let (_dir, _core, enrolled) = phone(&qr).await;
    assert_eq!(enrolled.expect("enrolled"), "h1");

    let refused = beatbook_server::admin::enrollment_code(&server.state, "h1", "s1", None, None)
        .await
        .expect_err("no address configured");
    assert!(refused.to_string().contains("--server"), "{refused}");
    let refused = beatbook_server::admin::enrollment_code(
        &server.state,
        "h1",
        "s1",
        Some(server.url.clone()),
        None,
    )
    .await
    .expect_err("s1 leads another station");
    assert!(refused.to_string().contains("may not enroll"), "{refused}");
}
