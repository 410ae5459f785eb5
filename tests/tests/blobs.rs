//! Invariant 5: attachments are content-addressed, uploaded once, resumable
//! after a dropped connection, and verified before they are stored.

use std::time::Duration;

use beatbook_schema::ids::{RecordId, Sha256};
use beatbook_schema::protocol::{BlobStatus, ChangeOp, ChangeOutcome, ErrorCode};
use beatbook_schema::record::AttachmentRef;
use beatbook_tests::data::house;
use beatbook_tests::{TestDevice, TestServer};
use reqwest::{Method, StatusCode};
use tokio::io::AsyncWriteExt;

fn photo_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

async fn put(
    device: &TestDevice,
    sha: Sha256,
    range: Option<String>,
    body: Vec<u8>,
) -> reqwest::Response {
    device
        .put_blob(sha, "image/jpeg", range, body)
        .send()
        .await
        .expect("upload request")
}

/// Sends the headers and the first `sent` bytes of a ranged upload, then hangs up.
async fn upload_then_drop(
    server: &TestServer,
    device: &TestDevice,
    sha: Sha256,
    bytes: &[u8],
    sent: usize,
) {
    let mut conn = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "PUT /v1/blobs/{sha} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-type: image/jpeg\r\ncontent-range: bytes 0-{}/{}\r\ncontent-length: {}\r\n\r\n",
        server.addr,
        device.token,
        bytes.len() - 1,
        bytes.len(),
        bytes.len()
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    conn.write_all(&bytes[..sent])
        .await
        .expect("part of the body");
    conn.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(conn); // the signal is gone
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_dropped_upload_resumes_where_it_stopped() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let bytes = photo_bytes(300_000);
    let sha = Sha256::digest(&bytes);
    assert_eq!(device.missing(vec![sha]).await, vec![sha]);

    upload_then_drop(&server, &device, sha, &bytes, 120_000).await;

    // Ask where the upload stands (`bytes */total`).
    let res = put(
        &device,
        sha,
        Some(format!("bytes */{}", bytes.len())),
        vec![],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["range"], "bytes=0-119999");
    let status: BlobStatus = res.json().await.expect("status");
    assert_eq!((status.received, status.complete), (120_000, false));

    // Resume from there; the server verifies the whole and stores it.
    let res = put(
        &device,
        sha,
        Some(format!("bytes 120000-{}/{}", bytes.len() - 1, bytes.len())),
        bytes[120_000..].to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(device.missing(vec![sha]).await.is_empty());

    // Uploading again is a no-op.
    assert_eq!(
        put(&device, sha, None, bytes.clone()).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_resend_overlapping_received_bytes_is_accepted() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let bytes = photo_bytes(10_000);
    let sha = Sha256::digest(&bytes);
    let first = put(
        &device,
        sha,
        Some("bytes 0-5999/10000".into()),
        bytes[..6000].to_vec(),
    )
    .await;
    assert_eq!(first.status(), StatusCode::PERMANENT_REDIRECT);
    // The answer was lost; the device resends from 4000.
    let res = put(
        &device,
        sha,
        Some("bytes 4000-9999/10000".into()),
        bytes[4000..].to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // A gap is refused with where to continue.
    let other = photo_bytes(5000);
    let other_sha = Sha256::digest(&other);
    let res = put(
        &device,
        other_sha,
        Some("bytes 1000-4999/5000".into()),
        other[1000..].to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: beatbook_schema::protocol::ErrorBody = res.json().await.expect("error body");
    assert_eq!(body.code, ErrorCode::RangeMismatch);
}

#[tokio::test]
async fn bytes_that_do_not_match_their_hash_are_refused_and_discarded() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let bytes = photo_bytes(5_000);
    let claimed = Sha256::digest(b"something else");
    let res = put(&device, claimed, None, bytes.clone()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: beatbook_schema::protocol::ErrorBody = res.json().await.expect("error body");
    assert_eq!(body.code, ErrorCode::HashMismatch);
    assert_eq!(device.missing(vec![claimed]).await, vec![claimed]);
    // Nothing partial is left behind: the right bytes can start over.
    let res = put(
        &device,
        claimed,
        Some(format!("bytes */{}", bytes.len())),
        vec![],
    )
    .await;
    let status: BlobStatus = res.json().await.expect("status");
    assert_eq!(status.received, 0);
}

#[tokio::test]
async fn records_wait_for_their_photos_and_photos_are_scoped() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let bytes = photo_bytes(20_000);
    let sha = Sha256::digest(&bytes);
    let mut fields = house("拍照户");
    fields.insert("photos".into(), serde_json::json!([sha]));
    let mut change = device.upsert(RecordId::new_v7(), "house", "G1", 0, fields);
    change.op = match change.op {
        ChangeOp::Upsert { fields, .. } => ChangeOp::Upsert {
            fields,
            attachments: vec![AttachmentRef {
                sha256: sha,
                content_type: "image/jpeg".into(),
                size: bytes.len() as u64,
            }],
        },
        op => op,
    };
    // Pushed before the photo: deferred, not stored, retryable.
    let answer = device.push(vec![change.clone()]).await.expect("push");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Rejected {
            code: ErrorCode::MissingBlob,
            ..
        }
    ));
    assert!(device.records().await.is_empty());

    assert_eq!(
        put(&device, sha, None, bytes.clone()).await.status(),
        StatusCode::CREATED
    );
    let answer = device.push(vec![change]).await.expect("push again");
    assert_eq!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { revision: 1 }
    );

    let got = device
        .request(Method::GET, &format!("/v1/blobs/{sha}"))
        .send()
        .await
        .expect("download");
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    let outsider = server.device("o2").await;
    let res = outsider
        .request(Method::GET, &format!("/v1/blobs/{sha}"))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
