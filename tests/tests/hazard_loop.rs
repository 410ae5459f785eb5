//! The hazard loop against the real server with real field-app cores: an
//! officer reports a hazard, the supervisor sets its deadline and responsible
//! party on the review pages, the village's auxiliary officer (another
//! device, the same grid) finds it among the grid's open hazards and
//! rectifies it although its report was approved, the supervisor fails the
//! check with a reason (back to rectifying, on the phone with the reason),
//! it is rectified again and verified, and leaves the open list. Who may
//! verify and what an approved record takes are the sync rules'.

use beatbook_core::{Core, CoreError, FieldMisuse};
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ChangeOutcome, ErrorCode};
use beatbook_schema::record::RecordStatus;
use beatbook_store::StoredRecord;
use beatbook_tests::browser::{csv_rows, Browser};
use beatbook_tests::client::{device, sync};
use beatbook_tests::data::{house, obj};
use beatbook_tests::device::with_attachments;
use beatbook_tests::TestServer;
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

/// A real JPEG (the demo's hazard scene).
const JPEG: &[u8] = include_bytes!("../../demo/assets/hazard.jpg");

fn local_today() -> chrono::NaiveDate {
    Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .date_naive()
}

/// Another photo: the same picture with other bytes.
fn photo(tag: &str) -> Vec<u8> {
    let mut bytes = JPEG.to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes
}

async fn stored(server: &TestServer, id: RecordId) -> StoredRecord {
    server
        .state
        .store
        .record(id)
        .await
        .expect("read")
        .expect("record exists")
}

fn value(record: &StoredRecord, name: &str) -> serde_json::Value {
    record
        .fields
        .get(name)
        .map_or(serde_json::Value::Null, |s| s.value.clone())
}

/// Reports a hazard with a photo on `core`, synced; returns its id.
async fn report(core: &Core) -> RecordId {
    let mut s = core
        .new_record(
            "hazard",
            None,
            obj(json!({
                "category": "ebike_charging", "description": "楼道内电动车飞线充电",
                "severity": "high",
            })),
        )
        .expect("new hazard");
    s.add_photo("photos", &photo("before")).expect("photo");
    s.finalize().expect("a complete report");
    sync(core).await;
    s.id()
}

/// Rectifies hazard `id` on `core` with an after-photo, synced.
async fn rectify(core: &Core, id: RecordId, tag: &str) {
    let mut s = core.open_record(id).expect("opens");
    s.set("status", json!("rectified")).expect("status");
    s.add_photo("after_photos", &photo(tag))
        .expect("after-photo");
    s.set("rectified_date", json!(local_today().to_string()))
        .expect("date");
    s.finalize().expect("a complete rectification");
    let report = sync(core).await;
    assert_eq!(report.rejected, 0, "{report:?}");
}

/// Posts a hazard step from the board, at the stored revision.
async fn step(
    s1: &Browser,
    server: &TestServer,
    id: RecordId,
    action: &str,
    fields: &[(&str, &str)],
) -> beatbook_tests::browser::Page {
    s1.open("/review/hazards").await;
    let revision = stored(server, id).await.revision.to_string();
    let mut all = vec![("revision", revision.as_str()), ("back", "/review/hazards")];
    all.extend_from_slice(fields);
    s1.post(&format!("/review/hazards/{id}/{action}"), &all)
        .await
}

#[tokio::test]
async fn a_hazard_goes_round_the_loop_across_two_devices_and_the_review_pages() {
    let server = TestServer::start().await;
    let (_o_dir, officer) = device(&server, "o1").await;
    let (_a_dir, auxiliary) = device(&server, "a1").await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let id = report(&officer).await;
    assert_eq!(stored(&server, id).await.form_version, 2, "the newest form");

    // The supervisor approves the report and sets deadline and responsible party.
    s1.open(&format!("/review/records/{id}")).await;
    let revision = stored(&server, id).await.revision.to_string();
    let page = s1
        .post(
            &format!("/review/records/{id}/decide"),
            &[("revision", revision.as_str()), ("decision", "approve")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let deadline = (local_today() + Duration::days(3)).to_string();
    let page = step(
        &s1,
        &server,
        id,
        "assign",
        &[
            ("deadline", deadline.as_str()),
            ("responsible_party", "王老板（五金店）"),
            ("responsible_phone", "13800138000"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location().contains("notice=hazard_assigned"));
    let assigned = stored(&server, id).await;
    assert_eq!(assigned.status, RecordStatus::Approved, "still approved");
    assert_eq!(value(&assigned, "deadline"), json!(deadline));

    // The deadline reaches the other device of the grid: its open list.
    sync(&auxiliary).await;
    let open = auxiliary.open_hazards().expect("open hazards");
    let listed = open.iter().find(|h| h.record.id == id).expect("listed");
    assert_eq!(
        listed.deadline.map(|d| d.to_string()),
        Some(deadline.clone())
    );
    assert_eq!(listed.status, "open");
    assert_eq!(
        listed.record.values["responsible_party"],
        json!("王老板（五金店）")
    );

    // The approved hazard takes its rectification, not a rewrite of its report.
    let mut s = auxiliary.open_record(id).expect("an approved hazard opens");
    assert!(s.editable() && s.approved());
    match s.set("description", json!("改写")) {
        Err(CoreError::MisusedField {
            misuse: FieldMisuse::Locked,
            ..
        }) => {}
        other => panic!("the report is locked once approved: {other:?}"),
    }
    match s.set("verification", json!("passed")) {
        Err(CoreError::MisusedField {
            misuse: FieldMisuse::Locked,
            ..
        }) => {}
        other => panic!("the verification is the supervisor's: {other:?}"),
    }
    drop(s);
    rectify(&auxiliary, id, "after-1").await;
    let rectified = stored(&server, id).await;
    assert_eq!(value(&rectified, "status"), json!("rectified"));
    assert_eq!(rectified.status, RecordStatus::Approved);

    // Failing the check needs a reason.
    let page = step(
        &s1,
        &server,
        id,
        "verify",
        &[("outcome", "fail"), ("reason", "  ")],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stored(&server, id).await.revision, rectified.revision);
    let reason = "飞线仍在，充电桩未安装";
    let page = step(
        &s1,
        &server,
        id,
        "verify",
        &[("outcome", "fail"), ("reason", reason)],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let failed = stored(&server, id).await;
    assert_eq!(value(&failed, "status"), json!("rectifying"));
    assert_eq!(value(&failed, "verification"), json!("failed"));
    assert_eq!(value(&failed, "verification_reason"), json!(reason));
    // The export carries the outcome and the reason.
    let (status, _, csv) = s1
        .get_bytes("/review/exports/download?form=hazard&format=csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = csv_rows(&csv);
    let header = &rows[0];
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    let row = rows
        .iter()
        .find(|r| r.iter().any(|c| c == &id.to_string()))
        .expect("the hazard's row");
    assert_eq!(row[col("复查结果")], "未通过");
    assert_eq!(row[col("复查未通过原因")], reason);

    // Back on the phone with the reason; rectified again.
    sync(&auxiliary).await;
    let open = auxiliary.open_hazards().expect("open hazards");
    let listed = open
        .iter()
        .find(|h| h.record.id == id)
        .expect("listed again");
    assert_eq!(listed.status, "rectifying");
    assert_eq!(listed.failed_reason.as_deref(), Some(reason));
    rectify(&auxiliary, id, "after-2").await;

    // Verified: it leaves the open list.
    let page = step(&s1, &server, id, "verify", &[("outcome", "pass")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        value(&stored(&server, id).await, "status"),
        json!("verified")
    );
    sync(&auxiliary).await;
    sync(&officer).await;
    for core in [&auxiliary, &officer] {
        let open = core.open_hazards().expect("open hazards");
        assert!(open.iter().all(|h| h.record.id != id), "verified: not open");
    }

    // The board shows the history: each status, who, the failed check's reason.
    let board = s1.open("/review/hazards?status=verified&lang=zh").await;
    let history = board
        .body
        .split("hazard-history")
        .nth(1)
        .expect("a history on the card");
    for text in [
        "待整改",
        "已整改",
        "整改中",
        "已复查",
        reason,
        "未通过",
        "通过",
    ] {
        assert!(history.contains(text), "the history shows {text}");
    }
    assert_eq!(history.matches("data-status=\"rectified\"").count(), 2);
    let audit = s1.open("/review/audit").await;
    for text in ["隐患复查未通过", "隐患整改期限与责任人", "隐患复查"] {
        assert!(audit.body.contains(text), "the audit log names {text}");
    }
}

#[tokio::test]
async fn an_officer_cannot_verify_and_an_approved_record_of_another_form_stays_shut() {
    let server = TestServer::start().await;
    let o1 = server.device("o1").await;
    let before = o1.upload(&photo("before"), "image/jpeg").await;
    let after = o1.upload(&photo("after"), "image/jpeg").await;
    let today = local_today().to_string();
    let id = RecordId::new_v7();
    let fields = obj(json!({
        "category": "other", "description": "广告牌松动", "severity": "low",
        "found_date": today, "location": {"lat": 31.87, "lon": 121.17},
        "photos": [before.sha256.to_hex()], "status": "rectified",
        "after_photos": [after.sha256.to_hex()], "rectified_date": today,
    }));
    let mut c = with_attachments(
        o1.upsert(id, "hazard", "G1", 0, fields),
        vec![before.clone(), after.clone()],
    );
    c.form_version = 2;
    let res = o1.push(vec![c]).await.expect("push");
    assert!(
        matches!(res.results[0].outcome, ChangeOutcome::Accepted { .. }),
        "{:?}",
        res.results
    );
    for attempt in [
        json!({"status": "verified"}),
        json!({"verification": "passed"}),
        json!({"verification": "failed", "verification_reason": "自己说不行"}),
    ] {
        let mut c = with_attachments(
            o1.upsert(id, "hazard", "G1", 1, obj(attempt.clone())),
            vec![before.clone(), after.clone()],
        );
        c.form_version = 2;
        let res = o1.push(vec![c]).await.expect("push");
        match &res.results[0].outcome {
            ChangeOutcome::Rejected { code, .. } => {
                assert_eq!(*code, ErrorCode::Forbidden, "{attempt}")
            }
            other => panic!("an officer may not verify ({attempt}): {other:?}"),
        }
    }

    // An approved house takes no edit from the device.
    let house_id = RecordId::new_v7();
    let res = o1
        .push(vec![o1.upsert(house_id, "house", "G1", 0, house("周大成"))])
        .await
        .expect("push");
    if !matches!(res.results[0].outcome, ChangeOutcome::Accepted { .. }) {
        panic!("the house is stored: {:?}", res.results);
    }
    let s1 = Browser::signed_in(&server, "s1").await;
    s1.open(&format!("/review/records/{house_id}")).await;
    let page = s1
        .post(
            &format!("/review/records/{house_id}/decide"),
            &[("revision", "1"), ("decision", "approve")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let res = o1
        .push(vec![o1.upsert(
            house_id,
            "house",
            "G1",
            2,
            obj(json!({"owner_phone": "13900139000"})),
        )])
        .await
        .expect("push");
    match &res.results[0].outcome {
        ChangeOutcome::Rejected { code, .. } => assert_eq!(*code, ErrorCode::Conflict),
        other => panic!("an approved house stays as approved: {other:?}"),
    }
}
