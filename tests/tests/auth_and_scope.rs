//! Enrollment, revocation, throttling, and invariant 6: scope is enforced by
//! the server on every request.

use beatbook_schema::ids::{DeviceId, RecordId};
use beatbook_schema::protocol::{ChangeOutcome, ErrorCode, PullItem};
use beatbook_tests::data::{citizen_id, house, obj, person};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn enrollment_returns_the_user_and_a_working_token() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    assert_eq!(device.user.grids, vec!["G1".into(), "G2".into()]);
    assert!(device.token.starts_with("bb1_"));
    let me = device
        .request(reqwest::Method::GET, "/v1/me")
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_password_is_refused_and_repeated_failures_are_throttled() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        let e = TestDevice::enroll(&server.url, "o1", "wrong")
            .await
            .err()
            .expect("refused");
        assert_eq!(
            (e.status, e.body.code),
            (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        );
    }
    // Even the right password waits out the window now.
    let e = TestDevice::enroll(&server.url, "o1", PASSWORD)
        .await
        .err()
        .expect("throttled");
    assert_eq!(
        (e.status, e.body.code),
        (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests)
    );
    // Another badge is not affected; an unknown badge is refused like a wrong password.
    assert!(TestDevice::enroll(&server.url, "o2", PASSWORD)
        .await
        .is_ok());
    let e = TestDevice::enroll(&server.url, "nobody", PASSWORD)
        .await
        .err()
        .expect("unknown badge");
    assert_eq!(e.body.code, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn a_revoked_device_is_told_to_wipe_and_cannot_enroll_again() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    server
        .state
        .store
        .revoke_device(device.id, chrono::Utc::now())
        .await
        .expect("revoke");
    let e = device
        .pull_page(Default::default(), 10)
        .await
        .expect_err("refused");
    assert_eq!(
        (e.status, e.body.code),
        (StatusCode::UNAUTHORIZED, ErrorCode::DeviceRevoked)
    );
    let e = TestDevice::enroll_as(&server.url, "o1", PASSWORD, device.id)
        .await
        .err()
        .expect("refused");
    assert_eq!(e.body.code, ErrorCode::DeviceRevoked);
    // Other devices of the same officer keep working.
    assert!(server
        .device("o1")
        .await
        .pull_page(Default::default(), 10)
        .await
        .is_ok());
}

#[tokio::test]
async fn re_enrolling_a_device_replaces_its_token() {
    let server = TestServer::start().await;
    let id = DeviceId::new_v7();
    let old = TestDevice::enroll_as(&server.url, "o1", PASSWORD, id)
        .await
        .expect("enroll");
    let new = TestDevice::enroll_as(&server.url, "o1", PASSWORD, id)
        .await
        .expect("enroll again");
    assert_eq!(
        old.pull_page(Default::default(), 1)
            .await
            .expect_err("old token")
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(new.pull_page(Default::default(), 1).await.is_ok());
}

#[tokio::test]
async fn expired_tokens_and_disabled_accounts_are_refused() {
    let server = TestServer::start_with(|c| c.token_ttl_days = 0).await;
    let device = server.device("o1").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let e = device
        .pull_page(Default::default(), 1)
        .await
        .expect_err("expired");
    assert_eq!(e.body.code, ErrorCode::Unauthorized);
    assert!(e.body.message.en.contains("expired"));

    let server = TestServer::start().await;
    let device = server.device("o2").await;
    server
        .state
        .store
        .set_disabled("o2", true)
        .await
        .expect("disable");
    assert_eq!(
        device
            .pull_page(Default::default(), 1)
            .await
            .expect_err("disabled")
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(TestDevice::enroll(&server.url, "o2", PASSWORD)
        .await
        .is_err());
}

#[tokio::test]
async fn missing_or_garbage_tokens_are_refused() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    for auth in [
        None,
        Some("Bearer "),
        Some("Bearer bb1_not-a-real-token"),
        Some("Basic abc"),
    ] {
        let mut req = http.get(format!("{}/v1/pull", server.url));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: serde_json::Value = res.json().await.expect("json body");
        assert_eq!(body["code"], "unauthorized");
    }
}

/// Seeds one house and one person in each of G1, G3 and H1.
async fn seed_grids(server: &TestServer) {
    for (badge, grid, seq) in [("o1", "G1", 31), ("o2", "G3", 33), ("h1", "H1", 35)] {
        let d = server.device(badge).await;
        let h = RecordId::new_v7();
        let answer = d
            .push(vec![
                d.upsert(h, "house", grid, 0, house(&format!("{grid}房主"))),
                d.upsert(
                    RecordId::new_v7(),
                    "person",
                    grid,
                    0,
                    person(h, &format!("{grid}居民"), seq),
                ),
            ])
            .await
            .expect("seed push");
        assert!(
            answer
                .results
                .iter()
                .all(|r| r.outcome.revision().is_some()),
            "{answer:?}"
        );
    }
}

fn grids_of(records: &[beatbook_schema::protocol::RecordVersion]) -> Vec<String> {
    let mut g: Vec<String> = records.iter().map(|r| r.record.grid.to_string()).collect();
    g.sort();
    g.dedup();
    g
}

#[tokio::test]
async fn each_role_pulls_exactly_its_scope() {
    let server = TestServer::start().await;
    seed_grids(&server).await;
    for (badge, want) in [
        ("o1", vec!["G1"]),
        ("o2", vec!["G3"]),
        ("a1", vec!["G1"]),
        ("s1", vec!["G1", "G3"]),
        ("s2", vec!["H1"]),
        ("h1", vec!["H1"]),
        ("admin", vec!["G1", "G3", "H1"]),
    ] {
        let records = server.device(badge).await.records().await;
        assert_eq!(grids_of(&records), want, "{badge}");
    }
}

#[tokio::test]
async fn an_auxiliary_never_receives_id_numbers_from_outside_their_grid() {
    let server = TestServer::start().await;
    seed_grids(&server).await;
    let aux = server.device("a1").await;
    let (items, _) = aux.pull_all(Default::default(), 100).await.expect("pull");
    let text = serde_json::to_string(&items).expect("json");
    let records: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            PullItem::Record { version, .. } => Some(version),
            _ => None,
        })
        .collect();
    assert!(records.iter().all(|v| v.record.grid.as_str() == "G1"));
    assert!(
        text.contains(&citizen_id("320614", "19850615", 31)),
        "G1's resident is there"
    );
    for foreign in [33, 35] {
        assert!(
            !text.contains(&citizen_id("320614", "19850615", foreign)),
            "no ID number from G3 or H1"
        );
    }
}

#[tokio::test]
async fn writes_outside_scope_or_role_are_rejected_per_change() {
    let server = TestServer::start().await;
    let o2 = server.device("o2").await;
    let answer = o2
        .push(vec![o2.upsert(
            RecordId::new_v7(),
            "house",
            "G1",
            0,
            house("越界"),
        )])
        .await
        .expect("push");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Rejected {
            code: ErrorCode::OutOfScope,
            ..
        }
    ));

    let aux = server.device("a1").await;
    let answer = aux
        .push(vec![aux.upsert(
            RecordId::new_v7(),
            "house",
            "G1",
            0,
            house("辅警"),
        )])
        .await
        .expect("push");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Rejected {
            code: ErrorCode::Forbidden,
            ..
        }
    ));

    // Moving a record out of its grid needs scope over the old grid too.
    let o1 = server.device("o1").await;
    let id = RecordId::new_v7();
    o1.push(vec![o1.upsert(id, "house", "G1", 0, house("甲"))])
        .await
        .expect("create");
    let answer = o2
        .push(vec![o2.upsert(
            id,
            "house",
            "G3",
            1,
            obj(json!({"storeys": 9})),
        )])
        .await
        .expect("push");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Rejected {
            code: ErrorCode::OutOfScope,
            ..
        }
    ));
    assert_eq!(o2.records().await.len(), 0);
}

#[tokio::test]
async fn an_officer_cannot_take_over_another_officers_device() {
    let server = TestServer::start().await;
    let mine = server.device("o1").await;
    let e = TestDevice::enroll_as(&server.url, "o2", PASSWORD, mine.id)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (e.status, e.body.code),
        (StatusCode::CONFLICT, ErrorCode::Conflict)
    );
    assert!(
        mine.pull_page(Default::default(), 1).await.is_ok(),
        "the owner's token still works"
    );
}
