//! Issue 17, findings 3 and 4, as attacks by an enrolled device over real
//! HTTP: it cannot grow the data directory past its quota (unfinished
//! uploads are bounded per device, compressed bodies are refused before they
//! are inflated, leftovers are swept, a short disk refuses uploads before
//! pushes), and a photo stays in scope (a push attaches only photos its
//! device uploaded or can read and that a photo field shows; a photo a record
//! dropped, or of a deleted record, is no longer served to devices).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use beatbook_schema::ids::{RecordId, Sha256};
use beatbook_schema::protocol::{
    BlobStatus, Change, ChangeOp, ChangeOutcome, ErrorBody, ErrorCode,
};
use beatbook_schema::record::AttachmentRef;
use beatbook_store::ReadScope;
use beatbook_tests::data::house;
use beatbook_tests::{TestDevice, TestServer};
use reqwest::{Method, StatusCode};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// Bytes of every file under `path`.
fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn random_sha() -> Sha256 {
    Sha256(rand::random())
}

fn photo_bytes(seed: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8 ^ seed).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

async fn put(
    device: &TestDevice,
    sha: Sha256,
    range: Option<String>,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = device.put_blob(sha, "image/jpeg", range, body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.send().await.expect("upload request")
}

/// Starts an upload of a random digest: 1,000 of its 4,000 bytes.
async fn start_partial(device: &TestDevice) -> Sha256 {
    let sha = random_sha();
    let res = put(
        device,
        sha,
        Some("bytes 0-999/4000".into()),
        None,
        vec![7; 1000],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    sha
}

/// Where the device's upload of `sha` (of `total` bytes) stands.
async fn received(device: &TestDevice, sha: Sha256, total: u64) -> u64 {
    let res = put(device, sha, Some(format!("bytes */{total}")), None, vec![]).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    let status: BlobStatus = res.json().await.expect("status");
    status.received
}

async fn download(device: &TestDevice, sha: Sha256) -> StatusCode {
    device
        .request(Method::GET, &format!("/v1/blobs/{sha}"))
        .send()
        .await
        .expect("download")
        .status()
}

async fn error_of(res: reqwest::Response) -> (StatusCode, ErrorBody) {
    let status = res.status();
    (status, res.json().await.expect("a JSON error body"))
}

/// A house in `grid` whose photo field shows `shown`, carrying `attachments`.
fn house_with(
    device: &TestDevice,
    id: RecordId,
    grid: &str,
    base: u64,
    shown: &[&AttachmentRef],
    attachments: Vec<AttachmentRef>,
) -> Change {
    let mut fields = house("拍照户");
    let digests: Vec<Sha256> = shown.iter().map(|a| a.sha256).collect();
    fields.insert("photos".into(), serde_json::json!(digests));
    let mut change = device.upsert(id, "house", grid, base, fields);
    change.op = match change.op {
        ChangeOp::Upsert { fields, .. } => ChangeOp::Upsert {
            fields,
            attachments,
        },
        op => op,
    };
    change
}

async fn outcome(device: &TestDevice, change: Change) -> ChangeOutcome {
    let answer = device.push(vec![change]).await.expect("push");
    answer.results[0].outcome.clone()
}

fn rejected(outcome: &ChangeOutcome) -> Option<ErrorCode> {
    match outcome {
        ChangeOutcome::Rejected { code, .. } => Some(*code),
        _ => None,
    }
}

// ---- finding 3: the disk ----

#[tokio::test]
async fn a_device_cannot_fill_the_disk_with_unfinished_uploads() {
    let quota = 4 * MIB;
    let server = TestServer::start_with(|c| c.max_partial_bytes_per_device = quota).await;
    let attacker = server.device("o1").await;
    let second = server.device("o2").await;
    let before = dir_size(server.data_dir());

    // Megabytes of zeros claimed for many digests, gzip-compressed to a few
    // kilobytes each: refused before anything is inflated.
    let zeros = vec![0u8; MIB as usize];
    let packed = gzip(&zeros);
    let claim = format!("bytes 0-{}/{}", MIB - 1, 25 * MIB);
    for _ in 0..16 {
        let res = put(
            &attacker,
            random_sha(),
            Some(claim.clone()),
            Some("gzip"),
            packed.clone(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let after_gzip = dir_size(server.data_dir());

    // The same zeros sent as they are: accepted up to the device's byte quota.
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..16 {
        let res = put(
            &attacker,
            random_sha(),
            Some(claim.clone()),
            None,
            zeros.clone(),
        )
        .await;
        match res.status() {
            StatusCode::PERMANENT_REDIRECT => accepted += 1,
            _ => {
                let (status, body) = error_of(res).await;
                assert_eq!(
                    (status, body.code),
                    (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests)
                );
                assert!(body.message.en.contains("unfinished uploads"), "{body:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        (accepted, refused),
        (4, 12),
        "4 MiB of unfinished uploads, no more"
    );

    // Small uploads: accepted up to the device's count quota (8).
    let (mut small_accepted, mut small_refused) = (0, 0);
    for _ in 0..16 {
        let res = put(
            &second,
            random_sha(),
            Some(format!("bytes 0-{}/{}", KIB - 1, MIB)),
            None,
            vec![0; KIB as usize],
        )
        .await;
        match res.status() {
            StatusCode::PERMANENT_REDIRECT => small_accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => small_refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((small_accepted, small_refused), (8, 8));

    let after = dir_size(server.data_dir());
    let allowed = quota + 8 * KIB;
    println!(
        "data directory: {before} bytes before, {after_gzip} after 16 gzip uploads \
         ({} bytes each on the wire, {MIB} inflated), {after} after 32 plain ones: \
         grew {} bytes (quotas: {quota} + {} bytes)",
        packed.len(),
        after - before,
        8 * KIB
    );
    assert_eq!(after_gzip, before, "compressed bodies left nothing on disk");
    assert!(
        after - before <= allowed,
        "grew {} bytes, quota {allowed}",
        after - before
    );
}

#[tokio::test]
async fn compressed_attachment_bytes_are_refused_before_they_are_inflated() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let before = dir_size(server.data_dir());
    // 25 MiB of zeros: about 25 KiB on the wire.
    let bomb = gzip(&vec![0u8; (25 * MIB) as usize]);
    let sha = random_sha();
    for encoding in ["gzip", "GZIP", "deflate", "zstd", "br"] {
        let res = put(
            &device,
            sha,
            Some(format!("bytes 0-{}/{}", 25 * MIB - 1, 25 * MIB)),
            Some(encoding),
            bomb.clone(),
        )
        .await;
        let (status, body) = error_of(res).await;
        assert_eq!(
            (status, body.code),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::MalformedRequest
            ),
            "{encoding}"
        );
        assert!(body.message.en.contains("without Content-Encoding"));
        assert!(body.message.zh.contains("Content-Encoding"));
    }
    assert_eq!(received(&device, sha, 25 * MIB).await, 0);
    println!(
        "{} bytes of gzip standing for {} bytes: refused, data directory {} → {} bytes",
        bomb.len(),
        25 * MIB,
        before,
        dir_size(server.data_dir())
    );
    // Bytes sent as they are (or declared `identity`) are stored.
    let bytes = photo_bytes(1, 5_000);
    let res = put(
        &device,
        Sha256::digest(&bytes),
        None,
        Some("identity"),
        bytes.clone(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn two_devices_uploading_the_same_photo_both_succeed() {
    let server = TestServer::start().await;
    let (first, second) = (server.device("o1").await, server.device("o2").await);
    let bytes = photo_bytes(2, 10_000);
    let sha = Sha256::digest(&bytes);
    let (head, tail) = ("bytes 0-4999/10000", "bytes 5000-9999/10000");
    let half = |d| put(d, sha, Some(head.into()), None, bytes[..5000].to_vec());
    assert_eq!(half(&first).await.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(half(&second).await.status(), StatusCode::PERMANENT_REDIRECT);
    let rest = |d| put(d, sha, Some(tail.into()), None, bytes[5000..].to_vec());
    assert_eq!(rest(&first).await.status(), StatusCode::CREATED);
    // The second device's upload is its own: the first one's does not finish it.
    assert_eq!(received(&second, sha, 10_000).await, 5000);
    assert_eq!(rest(&second).await.status(), StatusCode::CREATED);
    assert!(first.missing(vec![sha]).await.is_empty());
    assert!(second.missing(vec![sha]).await.is_empty());

    // A third device that only knows the digest learns nothing: it lacks the photo.
    let third = server.device("h1").await;
    assert_eq!(third.missing(vec![sha]).await, vec![sha]);
    assert_eq!(received(&third, sha, 10_000).await, 0);
}

#[tokio::test]
async fn expired_uploads_and_unreferenced_blobs_are_swept_and_referenced_ones_kept() {
    let server = TestServer::start_with(|c| {
        c.partial_upload_ttl_secs = 1;
        c.unreferenced_blob_grace_secs = 1;
    })
    .await;
    let device = server.device("o1").await;
    let blobs = &server.state.blobs;

    let stale = start_partial(&device).await;
    let unused = device.upload(&photo_bytes(3, 3_000), "image/jpeg").await;
    let kept = device.upload(&photo_bytes(4, 4_000), "image/jpeg").await;
    let shown = house_with(
        &device,
        RecordId::new_v7(),
        "G1",
        0,
        &[&kept],
        vec![kept.clone()],
    );
    assert!(rejected(&outcome(&device, shown).await).is_none());
    let deleted = device.upload(&photo_bytes(5, 5_000), "image/jpeg").await;
    let id = RecordId::new_v7();
    let c = house_with(&device, id, "G1", 0, &[&deleted], vec![deleted.clone()]);
    assert!(rejected(&outcome(&device, c).await).is_none());
    let delete = Change {
        op: ChangeOp::Delete,
        ..device.upsert(id, "house", "G1", 1, Default::default())
    };
    assert!(rejected(&outcome(&device, delete).await).is_none());
    // Bytes on disk the database never recorded (a crash between the two).
    let stray = random_sha();
    let stray_path = blobs.path(&stray);
    std::fs::create_dir_all(stray_path.parent().expect("shard")).expect("mkdir");
    let file = std::fs::File::create(&stray_path).expect("stray file");
    file.set_len(2_000).expect("stray bytes");
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("mtime");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fresh = random_sha();
    let res = put(
        &device,
        fresh,
        Some("bytes 0-499/4000".into()),
        None,
        vec![8; 500],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);

    let sweep = beatbook_server::janitor::sweep(&server.state)
        .await
        .expect("sweep");
    println!("sweep: {sweep:?}");
    assert_eq!((sweep.partials.files, sweep.partials.bytes), (1, 1000));
    assert_eq!((sweep.blobs.files, sweep.blobs.bytes), (1, unused.size));
    assert_eq!((sweep.strays.files, sweep.strays.bytes), (1, 2_000));

    assert_eq!(received(&device, stale, 4000).await, 0, "expired");
    assert_eq!(
        received(&device, fresh, 4000).await,
        500,
        "still written to"
    );
    assert!(!blobs.path(&unused.sha256).exists());
    assert!(!stray_path.exists());
    assert_eq!(
        device.missing(vec![unused.sha256]).await,
        vec![unused.sha256]
    );
    assert!(blobs.path(&kept.sha256).exists());
    assert_eq!(download(&device, kept.sha256).await, StatusCode::OK);
    // A deleted record's photo stays in its history (for the review pages),
    // but no device receives it.
    assert!(blobs.path(&deleted.sha256).exists());
    assert_eq!(
        download(&device, deleted.sha256).await,
        StatusCode::NOT_FOUND
    );

    let again = beatbook_server::janitor::sweep(&server.state)
        .await
        .expect("sweep");
    assert_eq!(again.blobs.files + again.strays.files, 0, "{again:?}");
}

#[tokio::test]
async fn the_server_sweeps_expired_uploads_on_its_own() {
    let server = TestServer::start_with(|c| {
        c.partial_upload_ttl_secs = 1;
        c.janitor_interval_secs = 1;
    })
    .await;
    let device = server.device("o1").await;
    let sha = start_partial(&device).await;
    let path = server.state.blobs.partial_path(device.id, &sha);
    assert!(path.exists());
    let started = std::time::Instant::now();
    while path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the janitor did not remove an upload idle for 1 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("removed after {:?}", started.elapsed());
    assert_eq!(received(&device, sha, 4000).await, 0);
}

#[tokio::test]
async fn gc_sweeps_from_the_command_line() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let sha = start_partial(&device).await;
    let partial = server.state.blobs.partial_path(device.id, &sha);
    std::fs::File::options()
        .write(true)
        .open(&partial)
        .expect("partial")
        .set_modified(SystemTime::now() - Duration::from_secs(3 * 24 * 3600))
        .expect("mtime");
    let dir = server.stop().await;

    let out = beatbook_tests::process::server_command(dir.path())
        .arg("gc")
        .output()
        .expect("run beatbook-server gc");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("expired unfinished uploads: 1 files, 1000 bytes"),
        "{stdout}"
    );
    assert!(!partial.exists());
}

#[tokio::test]
async fn uploads_and_then_pushes_are_refused_before_the_disk_runs_out() {
    let free = beatbook_server::disk::free_bytes(&std::env::temp_dir()).expect("free space");
    let above = free.saturating_mul(2).max(u64::MAX / 4);

    // Below the upload floor: photos wait, records still sync.
    let server = TestServer::start_with(|c| {
        c.min_free_disk_bytes = above;
        c.push_min_free_disk_bytes = 0;
    })
    .await;
    let device = server.device("o1").await;
    let bytes = photo_bytes(6, 8_000);
    let sha = Sha256::digest(&bytes);
    let (status, body) = error_of(put(&device, sha, None, None, bytes).await).await;
    assert_eq!(
        (status, body.code),
        (
            StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::InsufficientStorage
        )
    );
    assert!(body.message.en.contains("disk space"), "{body:?}");
    assert!(body.code.is_retryable());
    assert_eq!(received(&device, sha, 8_000).await, 0, "nothing written");
    let plain = device.upsert(RecordId::new_v7(), "house", "G1", 0, house("无照片户"));
    assert!(rejected(&outcome(&device, plain).await).is_none());

    // Below the push floor: the push is refused whole, nothing is stored.
    let server = TestServer::start_with(|c| c.push_min_free_disk_bytes = above).await;
    let device = server.device("o1").await;
    let plain = device.upsert(RecordId::new_v7(), "house", "G1", 0, house("无照片户"));
    let failure = device.push(vec![plain]).await.expect_err("refused");
    assert_eq!(
        (failure.status, failure.body.code),
        (
            StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::InsufficientStorage
        )
    );
    assert!(failure.body.message.en.contains("stay on the device"));
    assert!(device.records().await.is_empty());
    println!("free space {free} bytes; floors set to {above}: refused");
}

// ---- finding 4: photos in scope ----

#[tokio::test]
async fn a_push_attaches_only_photos_its_device_uploaded_or_can_read() {
    let server = TestServer::start().await;
    let owner = server.device("o2").await; // grid G3
    let thief = server.device("o1").await; // grids G1, G2
    let photo = owner.upload(&photo_bytes(7, 6_000), "image/jpeg").await;
    let c = house_with(
        &owner,
        RecordId::new_v7(),
        "G3",
        0,
        &[&photo],
        vec![photo.clone()],
    );
    assert!(rejected(&outcome(&owner, c).await).is_none());

    // Knowing the digest (an old grid, an exported link) is not having the photo.
    let id = RecordId::new_v7();
    let steal = house_with(&thief, id, "G1", 0, &[&photo], vec![photo.clone()]);
    assert_eq!(
        rejected(&outcome(&thief, steal.clone()).await),
        Some(ErrorCode::MissingBlob)
    );
    assert!(thief.records().await.iter().all(|v| v.record.id != id));
    assert_eq!(download(&thief, photo.sha256).await, StatusCode::NOT_FOUND);
    assert_eq!(thief.missing(vec![photo.sha256]).await, vec![photo.sha256]);

    // A device that has the bytes proves it by uploading them.
    let res = put(&thief, photo.sha256, None, None, photo_bytes(7, 6_000)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(rejected(&outcome(&thief, steal).await).is_none());
    // Another device that can read the record may attach the photo as it is.
    let colleague = server.device("o1").await;
    assert_eq!(download(&colleague, photo.sha256).await, StatusCode::OK);
    let c = house_with(
        &colleague,
        RecordId::new_v7(),
        "G2",
        0,
        &[&photo],
        vec![photo.clone()],
    );
    assert!(rejected(&outcome(&colleague, c).await).is_none());
}

#[tokio::test]
async fn an_attachment_no_photo_field_shows_is_refused() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let reader = server.device("a1").await; // grid G1
    let hidden = device.upload(&photo_bytes(8, 7_000), "image/jpeg").await;
    let id = RecordId::new_v7();
    let c = house_with(&device, id, "G1", 0, &[], vec![hidden.clone()]);
    match outcome(&device, c).await {
        ChangeOutcome::Rejected { code, message, .. } => {
            assert_eq!(code, ErrorCode::ValidationFailed);
            assert!(message.en.contains("no photo field shows"), "{message:?}");
        }
        other => panic!("an unshown attachment is refused: {other:?}"),
    }
    assert!(device.records().await.is_empty());
    assert_eq!(
        download(&reader, hidden.sha256).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_photo_leaves_the_grid_when_its_record_drops_it_or_is_deleted() {
    let server = TestServer::start().await;
    let device = server.device("o1").await;
    let reader = server.device("a1").await; // grid G1
    let a = device.upload(&photo_bytes(9, 6_000), "image/jpeg").await;
    let b = device.upload(&photo_bytes(10, 6_000), "image/jpeg").await;
    let id = RecordId::new_v7();
    let c = house_with(&device, id, "G1", 0, &[&a, &b], vec![a.clone(), b.clone()]);
    assert_eq!(
        outcome(&device, c).await,
        ChangeOutcome::Accepted { revision: 1 }
    );
    assert_eq!(download(&reader, a.sha256).await, StatusCode::OK);
    assert_eq!(download(&reader, b.sha256).await, StatusCode::OK);

    // Revision 2 drops photo b.
    let c = house_with(&device, id, "G1", 1, &[&a], vec![a.clone()]);
    assert_eq!(
        outcome(&device, c).await,
        ChangeOutcome::Accepted { revision: 2 }
    );
    assert_eq!(download(&reader, b.sha256).await, StatusCode::NOT_FOUND);
    assert_eq!(download(&device, b.sha256).await, StatusCode::NOT_FOUND);
    assert_eq!(download(&reader, a.sha256).await, StatusCode::OK);

    // Deleted: none of its photos is served.
    let delete = Change {
        op: ChangeOp::Delete,
        ..device.upsert(id, "house", "G1", 2, Default::default())
    };
    assert_eq!(
        outcome(&device, delete).await,
        ChangeOutcome::Accepted { revision: 3 }
    );
    assert_eq!(download(&reader, a.sha256).await, StatusCode::NOT_FOUND);
    assert_eq!(download(&device, a.sha256).await, StatusCode::NOT_FOUND);

    // The history keeps both, for the supervisor's record page.
    let g1 = ReadScope::Grids(vec!["G1".into()]);
    for sha in [a.sha256, b.sha256] {
        assert!(server
            .state
            .store
            .blob_in_history(sha, g1.clone())
            .await
            .expect("history"));
    }
}
