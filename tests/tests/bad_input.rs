//! Bad input gets a clear 4xx with a stable code and a JSON body — never a
//! panic, never a 500 — and never loses data already saved.

use std::io::Write;

use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ChangeOutcome, ErrorBody, ErrorCode};
use beatbook_tests::data::{house, obj};
use beatbook_tests::{TestDevice, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn expect_error(res: reqwest::Response, status: StatusCode, code: ErrorCode) -> ErrorBody {
    assert_eq!(res.status(), status);
    let body: ErrorBody = res.json().await.expect("a JSON error body");
    assert_eq!(body.code, code, "{body:?}");
    assert!(!body.message.zh.is_empty() && !body.message.en.is_empty());
    body
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

async fn raw_push(device: &TestDevice, body: Vec<u8>, content_type: &str) -> reqwest::Response {
    device
        .request(Method::POST, "/v1/push")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn malformed_bodies_are_400_or_415() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    for body in [
        &b"{not json"[..],
        b"[]",
        b"{\"batch_id\": \"nope\", \"changes\": []}",
        b"",
        "{\"batch_id\": 1}".as_bytes(),
    ] {
        let res = raw_push(&device, body.to_vec(), "application/json").await;
        expect_error(res, StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest).await;
    }
    // The answer names where in the body the fault is.
    let body = format!(
        "{{\"batch_id\": \"{}\", \"changes\": [{{\"change_id\": 5}}]}}",
        uuid::Uuid::nil()
    );
    let res = raw_push(&device, body.into_bytes(), "application/json").await;
    let answer = expect_error(res, StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest).await;
    assert!(
        answer.message.en.contains("changes[0].change_id"),
        "{answer:?}"
    );
    for content_type in ["text/plain", "application/x-json", "application/jsonx"] {
        let res = raw_push(&device, b"{}".to_vec(), content_type).await;
        expect_error(
            res,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::MalformedRequest,
        )
        .await;
    }
    // JSON by any spelling of its media type is read.
    for content_type in [
        "Application/JSON; charset=utf-8",
        "application/vnd.beatbook+json",
    ] {
        let res = raw_push(&device, b"[]".to_vec(), content_type).await;
        expect_error(res, StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest).await;
    }
}

#[tokio::test]
async fn oversized_bodies_and_batches_are_413() {
    let server = TestServer::start_with(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_batch_changes = 10;
    })
    .await;
    let device = server.device("o1").await;
    let big = format!(
        "{{\"batch_id\": \"{}\", \"changes\": [], \"pad\": \"{}\"}}",
        uuid::Uuid::nil(),
        "x".repeat(100_000)
    );
    let res = raw_push(&device, big.clone().into_bytes(), "application/json").await;
    expect_error(
        res,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    // A small compressed body that inflates past the limit is caught too.
    let res = device
        .request(Method::POST, "/v1/push")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(big.as_bytes()))
        .send()
        .await
        .expect("request");
    expect_error(
        res,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    let changes = (0..11)
        .map(|_| device.upsert(RecordId::new_v7(), "house", "G1", 0, house("x")))
        .collect();
    let e = device.push(changes).await.expect_err("too many changes");
    assert_eq!(
        (e.status, e.body.code),
        (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
    );
}

#[tokio::test]
async fn requests_and_answers_are_compressed() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let batch = beatbook_schema::protocol::PushRequest {
        batch_id: beatbook_schema::ids::BatchId::new_v7(),
        changes: (0..20)
            .map(|i| {
                device.upsert(
                    RecordId::new_v7(),
                    "house",
                    "G1",
                    0,
                    house(&format!("压缩{i}")),
                )
            })
            .collect(),
    };
    let res = device
        .request(Method::POST, "/v1/push")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(&serde_json::to_vec(&batch).expect("json")))
        .send()
        .await
        .expect("gzip push");
    assert_eq!(res.status(), StatusCode::OK);
    let plain = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let res = plain
        .get(format!("{}/v1/pull?since=0", server.url))
        .bearer_auth(&device.token)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("pull");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn unknown_forms_and_invalid_values_are_rejected_per_change() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let mut unknown = device.upsert(
        RecordId::new_v7(),
        "spaceship",
        "G1",
        0,
        obj(json!({"x": 1})),
    );
    let mut old = device.upsert(RecordId::new_v7(), "house", "G1", 0, house("x"));
    old.form_version = 99;
    unknown.form_version = 1;
    let invalid = device.upsert(
        RecordId::new_v7(),
        "house",
        "G1",
        0,
        obj(json!({"address": "not-a-uuid", "use": "palace", "owner_name": "x", "storeys": -1, "colour": "red"})),
    );
    let answer = device
        .push(vec![unknown, old, invalid])
        .await
        .expect("push");
    let codes: Vec<_> = answer
        .results
        .iter()
        .map(|r| match &r.outcome {
            ChangeOutcome::Rejected { code, .. } => *code,
            other => panic!("expected rejection, got {other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        [
            ErrorCode::UnknownForm,
            ErrorCode::UnknownForm,
            ErrorCode::ValidationFailed
        ]
    );
    let ChangeOutcome::Rejected { errors, .. } = &answer.results[2].outcome else {
        unreachable!()
    };
    let mut paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["address", "colour", "storeys", "use"],
        "every field error at once"
    );
}

#[tokio::test]
async fn bad_paths_queries_and_methods_are_clear_4xx() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let res = device
        .request(Method::GET, "/v1/pull?since=abc")
        .send()
        .await
        .expect("pull");
    expect_error(res, StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest).await;
    let res = device
        .request(Method::GET, "/v1/blobs/xyz")
        .send()
        .await
        .expect("blob");
    expect_error(res, StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest).await;
    let res = device
        .request(Method::PUT, &format!("/v1/blobs/{}", "a".repeat(64)))
        .header("content-range", "bytes 9-1/2")
        .body("x")
        .send()
        .await
        .expect("put");
    expect_error(res, StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest).await;
    let res = device
        .request(Method::GET, "/v1/nothing-here")
        .send()
        .await
        .expect("404");
    expect_error(res, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    let res = device
        .request(Method::DELETE, "/v1/push")
        .send()
        .await
        .expect("405");
    expect_error(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MalformedRequest,
    )
    .await;
    let res = device.request(Method::POST, "/v1/enroll").header("content-type", "application/json").body("{\"badge\": \"\", \"password\": \"\", \"device_id\": \"00000000-0000-0000-0000-000000000000\", \"device_name\": \"\"}").send().await.expect("enroll");
    expect_error(res, StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest).await;
}

#[tokio::test]
async fn bad_input_never_loses_saved_data() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let id = RecordId::new_v7();
    device
        .push(vec![device.upsert(id, "house", "G1", 0, house("保存"))])
        .await
        .expect("create");
    // A broken edit of the same record is rejected; the stored version stands.
    let answer = device
        .push(vec![device.upsert(
            id,
            "house",
            "G1",
            1,
            obj(json!({"use": "palace", "owner_name": null})),
        )])
        .await
        .expect("push");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Rejected { .. }
    ));
    let _ = raw_push(&device, b"{broken".to_vec(), "application/json").await;
    let records = device.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record.values["owner_name"], "保存");
    assert_eq!(records[0].revision, 1);
}

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    device
        .push(vec![device.upsert(
            RecordId::new_v7(),
            "house",
            "G1",
            0,
            house("指标"),
        )])
        .await
        .expect("push");
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    let metrics = http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for name in [
        "beatbook_http_requests_total",
        "beatbook_sync_batches_total",
        "beatbook_sync_changes_total",
        "beatbook_bytes_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    assert!(
        metrics.contains(r#"beatbook_http_request_seconds{route="/v1/push",quantile="0.99"}"#),
        "the push's answer time missing from /metrics"
    );
    let doc: serde_json::Value = http
        .get(format!("{}/v1/openapi.json", server.url))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
}
