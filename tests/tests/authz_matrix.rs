//! The authorization matrix: every endpoint × every role × own grid, another
//! grid of the same station and a grid of another station — asserted as one
//! table of exactly who may do what, so a change of rule shows as a diff.
//!
//! Accounts (see `TestServer`): `o1` officer of G1+G2, `a1` auxiliary of G1,
//! `s1` supervisor of station S1 (G1, G2, G3), `admin`, and the other
//! station's `h1` (officer of H1) and `s2` (its supervisor).

use std::collections::BTreeMap;

use beatbook_schema::ids::{RecordId, Sha256};
use beatbook_schema::protocol::{ChangeOp, ChangeOutcome};
use beatbook_schema::record::AttachmentRef;
use beatbook_tests::data::{house, obj};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ROLES: [&str; 6] = ["o1", "a1", "s1", "admin", "h1", "s2"];
const GRIDS: [&str; 3] = ["G1", "G3", "H1"];

fn patrol() -> beatbook_schema::form::Values {
    obj(json!({
        "start": "2025-03-01T09:00:00+08:00",
        "end": "2025-03-01T11:00:00+08:00",
        "officer": "测试",
        "grid": "G1",
        "mode": "foot"
    }))
}

fn outcome_name(o: &ChangeOutcome) -> String {
    match o {
        ChangeOutcome::Accepted { .. } => "accepted".into(),
        ChangeOutcome::Merged { .. } => "merged".into(),
        ChangeOutcome::Conflicted { .. } => "conflicted".into(),
        ChangeOutcome::Rejected { code, .. } => serde_json::to_value(code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

/// The expected table: `(account, grid) → (push house, push patrol, edit a
/// record of that grid, pull sees its records, download its photo)`.
fn expected() -> BTreeMap<(String, String), [&'static str; 5]> {
    let rows: &[(&str, &str, [&str; 5])] = &[
        // An officer: own grids only, every form.
        (
            "o1",
            "G1",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
        (
            "o1",
            "G3",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        (
            "o1",
            "H1",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        // An auxiliary: own grid only, patrol-work forms only.
        (
            "a1",
            "G1",
            ["forbidden", "accepted", "forbidden", "sees", "200"],
        ),
        (
            "a1",
            "G3",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        (
            "a1",
            "H1",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        // A supervisor: every grid of the station.
        (
            "s1",
            "G1",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
        (
            "s1",
            "G3",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
        (
            "s1",
            "H1",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        // An admin: everything.
        (
            "admin",
            "G1",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
        (
            "admin",
            "G3",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
        (
            "admin",
            "H1",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
        // The other station.
        (
            "h1",
            "G1",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        (
            "h1",
            "G3",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        (
            "h1",
            "H1",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
        (
            "s2",
            "G1",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        (
            "s2",
            "G3",
            ["out_of_scope", "out_of_scope", "out_of_scope", "-", "404"],
        ),
        (
            "s2",
            "H1",
            ["accepted", "accepted", "accepted", "sees", "200"],
        ),
    ];
    rows.iter()
        .map(|(a, g, r)| (((*a).to_owned(), (*g).to_owned()), *r))
        .collect()
}

async fn status_of(d: &TestDevice, method: Method, path: &str) -> StatusCode {
    d.request(method, path)
        .send()
        .await
        .expect("request")
        .status()
}

#[tokio::test]
async fn every_endpoint_every_role_own_and_foreign_grid() {
    let server = TestServer::start().await;
    let admin = server.device("admin").await;

    // One existing house per grid, each with a photo of its own.
    let mut existing: BTreeMap<&str, (RecordId, Sha256)> = BTreeMap::new();
    for grid in GRIDS {
        let bytes = format!("photo of a house in {grid}").into_bytes();
        let sha = Sha256::digest(&bytes);
        let res = admin
            .request(Method::PUT, &format!("/v1/blobs/{sha}"))
            .header("content-type", "image/jpeg")
            .body(bytes.clone())
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status(), StatusCode::CREATED);
        let id = RecordId::new_v7();
        let mut change = admin.upsert(id, "house", grid, 0, house(&format!("{grid}房主")));
        if let ChangeOp::Upsert {
            fields,
            attachments,
        } = &mut change.op
        {
            fields.insert("photos".into(), json!([sha]));
            attachments.push(AttachmentRef {
                sha256: sha,
                content_type: "image/jpeg".into(),
                size: bytes.len() as u64,
            });
        }
        let r = admin.push(vec![change]).await.expect("push");
        assert_eq!(outcome_name(&r.results[0].outcome), "accepted");
        existing.insert(grid, (id, sha));
    }

    let mut actual: BTreeMap<(String, String), [String; 5]> = BTreeMap::new();
    for account in ROLES {
        let d = server.device(account).await;

        // Endpoints without a grid: every role alike.
        assert_eq!(
            status_of(&d, Method::GET, "/v1/me").await,
            StatusCode::OK,
            "{account}"
        );
        let me: serde_json::Value = d
            .request(Method::GET, "/v1/me")
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json");
        assert_eq!(me["badge"], account);
        let missing = d
            .request(Method::POST, "/v1/blobs/missing")
            .json(&json!({"hashes": [existing["G1"].1]}))
            .send()
            .await
            .expect("missing");
        assert_eq!(missing.status(), StatusCode::OK, "{account}: blobs/missing");
        assert_eq!(
            status_of(&d, Method::GET, "/v1/pull?since=0").await,
            StatusCode::OK
        );

        // What the caller pulls, by grid.
        let pulled: Vec<String> = d
            .records()
            .await
            .into_iter()
            .map(|v| v.record.grid.as_str().to_owned())
            .collect();

        for grid in GRIDS {
            let house_push = d
                .push(vec![d.upsert(
                    RecordId::new_v7(),
                    "house",
                    grid,
                    0,
                    house("新房主"),
                )])
                .await
                .expect("push answers 200");
            let mut p = patrol();
            p.insert("grid".into(), json!(grid));
            let patrol_push = d
                .push(vec![d.upsert(RecordId::new_v7(), "patrol", grid, 0, p)])
                .await
                .expect("push answers 200");
            // An edit of the existing record of that grid (claiming the caller's own grid
            // must not help either: see `moving_a_record_into_scope_is_refused`).
            let (id, sha) = existing[grid];
            let mut change = d.upsert(id, "house", grid, 1, obj(json!({"storeys": 4})));
            if let ChangeOp::Upsert { attachments, .. } = &mut change.op {
                attachments.push(AttachmentRef {
                    sha256: sha,
                    content_type: "image/jpeg".into(),
                    size: format!("photo of a house in {grid}").len() as u64,
                });
            }
            let edit = d.push(vec![change]).await.expect("push answers 200");
            let blob = status_of(&d, Method::GET, &format!("/v1/blobs/{sha}")).await;
            actual.insert(
                (account.to_owned(), grid.to_owned()),
                [
                    outcome_name(&house_push.results[0].outcome),
                    outcome_name(&patrol_push.results[0].outcome),
                    outcome_name(&edit.results[0].outcome),
                    if pulled.iter().any(|g| g == grid) {
                        "sees"
                    } else {
                        "-"
                    }
                    .to_owned(),
                    blob.as_u16().to_string(),
                ],
            );
        }
    }

    let expected = expected();
    let mut diffs = Vec::new();
    for (key, want) in &expected {
        let got = actual.get(key).expect("every cell measured");
        // An accepted edit may come back merged (others edited the same record first).
        let same = want
            .iter()
            .zip(got.iter())
            .all(|(w, g)| w == g || (*w == "accepted" && (g == "merged" || g == "conflicted")));
        if !same {
            diffs.push(format!("{key:?}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "authorization matrix differs:\n{}",
        diffs.join("\n")
    );
}

#[tokio::test]
async fn moving_a_record_into_scope_is_refused() {
    let server = TestServer::start().await;
    let admin = server.device("admin").await;
    let o1 = server.device("o1").await;
    let id = RecordId::new_v7();
    admin
        .push(vec![admin.upsert(id, "house", "G3", 0, house("别人的"))])
        .await
        .expect("push");
    // o1 claims the G3 record is in G1, its own grid.
    let r = o1
        .push(vec![o1.upsert(
            id,
            "house",
            "G1",
            1,
            obj(json!({"storeys": 9})),
        )])
        .await
        .expect("push");
    assert_eq!(outcome_name(&r.results[0].outcome), "out_of_scope");
    let stored = server
        .state
        .store
        .record(id)
        .await
        .expect("record")
        .expect("exists");
    assert_eq!(stored.grid.as_str(), "G3");
    assert_eq!(stored.revision, 1);
}

#[tokio::test]
async fn public_endpoints_answer_anyone_and_the_rest_need_a_valid_token() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    for path in ["/v1/openapi.json", "/healthz", "/metrics"] {
        let res = http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    let sha = "a".repeat(64);
    let guarded: &[(Method, String)] = &[
        (Method::GET, "/v1/me".into()),
        (Method::POST, "/v1/push".into()),
        (Method::GET, "/v1/pull?since=0".into()),
        (Method::POST, "/v1/blobs/missing".into()),
        (Method::PUT, format!("/v1/blobs/{sha}")),
        (Method::GET, format!("/v1/blobs/{sha}")),
    ];
    // A device that was revoked.
    let revoked = server.device("o1").await;
    server
        .state
        .store
        .revoke_device(revoked.id, chrono::Utc::now())
        .await
        .expect("revoke");
    for (method, path) in guarded {
        for (who, token) in [
            ("no token", None),
            ("a made-up token", Some("bb1_not-a-real-token")),
            ("a revoked device", Some(revoked.token.as_str())),
        ] {
            let mut req = http.request(method.clone(), format!("{}{path}", server.url));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            assert_eq!(
                res.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {who}"
            );
            let body: serde_json::Value = res.json().await.expect("an error body");
            let code = if who == "a revoked device" {
                "device_revoked"
            } else {
                "unauthorized"
            };
            assert_eq!(body["code"], code, "{method} {path} with {who}");
        }
    }
    // Enrollment: the right password for every role, nobody with a wrong one.
    for account in ROLES {
        assert!(
            TestDevice::enroll(&server.url, account, PASSWORD)
                .await
                .is_ok(),
            "{account}"
        );
        let wrong = TestDevice::enroll(&server.url, account, "wrong-password")
            .await
            .err()
            .expect("refused");
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{account}");
    }
}
