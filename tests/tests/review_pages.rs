//! The supervisors' review pages against the real server: signing in and
//! its security (session cookie, CSRF, roles, device tokens, station scope),
//! decisions that reach the officer's device, hazard verification, photos,
//! exports read back by independent readers (calamine, csv, serde_json), and
//! the audit log.

use beatbook_core::store::LocalState;
use beatbook_core::Core;
use beatbook_schema::form::Values;
use beatbook_schema::ids::{BatchId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOutcome, ErrorCode, ReviewDecision};
use beatbook_schema::record::{AttachmentRef, RecordStatus};
use beatbook_store::AuditQuery;
use beatbook_tests::browser::{csv_rows, Browser, Page};
use beatbook_tests::client::{device, sync};
use beatbook_tests::data::{citizen_id, house, obj};
use beatbook_tests::device::with_attachments;
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::Utc;
use reqwest::header::{AUTHORIZATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

/// A real JPEG (the demo's hazard scene), so thumbnails can be made.
const JPEG: &[u8] = include_bytes!("../../demo/assets/hazard.jpg");

/// Enters and finalizes a house record on a device; returns its id.
fn enter_house(core: &Core, owner: &str) -> RecordId {
    let mut session = core
        .new_record("house", None, house(owner))
        .expect("new house");
    session.finalize().expect("valid house");
    session.id()
}

async fn stored(server: &TestServer, id: RecordId) -> beatbook_store::StoredRecord {
    server
        .state
        .store
        .record(id)
        .await
        .expect("read")
        .expect("record exists")
}

async fn batch_of(server: &TestServer, id: RecordId) -> BatchId {
    *server
        .state
        .store
        .record_batches(id)
        .await
        .expect("batches")
        .values()
        .next_back()
        .expect("written by a batch")
}

async fn decide(b: &Browser, server: &TestServer, id: RecordId, fields: &[(&str, &str)]) -> Page {
    b.open(&format!("/review/records/{id}")).await;
    let revision = stored(server, id).await.revision.to_string();
    let mut all = vec![("revision", revision.as_str())];
    all.extend_from_slice(fields);
    b.post(&format!("/review/records/{id}/decide"), &all).await
}

// ---- signing in ----

#[tokio::test]
async fn only_supervisors_and_admins_sign_in_and_signing_out_ends_the_session() {
    let server = TestServer::start().await;
    let s1 = Browser::new(&server);
    let page = s1.sign_in("s1", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/review/batches");
    let cookie = page
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("bb_review="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/review", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    let list = s1.open("/review/batches").await;
    assert!(list.body.contains("同步批次"));
    assert_eq!(list.headers["x-content-type-options"], "nosniff");
    assert!(list.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(list.headers["cache-control"], "no-store");

    let admin = Browser::new(&server);
    assert_eq!(
        admin.sign_in("admin", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    for badge in ["o1", "a1", "h1"] {
        let b = Browser::new(&server);
        let page = b.sign_in(badge, PASSWORD).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{badge} is refused");
        assert!(page.body.contains("仅供所领导和管理员使用"));
        assert!(!b.cookies.lock().unwrap().contains_key("bb_review"));
        assert_eq!(b.get("/review/batches").await.status, StatusCode::SEE_OTHER);
    }
    let wrong = Browser::new(&server);
    let page = wrong.sign_in("s1", "wrong-password").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("警号或密码错误"));
    let unknown = Browser::new(&server);
    assert_eq!(
        unknown.sign_in("nobody", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );

    s1.open("/review/batches").await;
    let out = s1.post("/review/logout", &[]).await;
    assert_eq!(
        (out.status, out.location()),
        (StatusCode::SEE_OTHER, "/review/login")
    );
    let after = s1.get("/review/batches").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(
        after.location().starts_with("/review/login?next="),
        "{}",
        after.location()
    );
}

#[tokio::test]
async fn a_stolen_cookie_is_dead_after_sign_out_and_the_page_language_switches() {
    let server = TestServer::start().await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let stolen = s1.cookie_header();
    s1.open("/review/batches").await;
    let en = s1.open("/review/batches?lang=en").await;
    assert!(en.body.contains("Synced batches") && en.body.contains("Sign out"));
    assert!(
        s1.open("/review/hazards")
            .await
            .body
            .contains("Hazard rectification"),
        "remembered"
    );
    assert!(s1
        .open("/review/hazards?lang=zh")
        .await
        .body
        .contains("隐患整改"));
    s1.post("/review/logout", &[]).await;
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/review/batches", server.url))
        .header("cookie", stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the session is gone from the server"
    );
}

#[tokio::test]
async fn device_tokens_and_strangers_are_refused() {
    let server = TestServer::start().await;
    let stranger = Browser::new(&server);
    let page = stranger.get("/review/batches?grid=G1").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location(),
        "/review/login?next=%2Freview%2Fbatches%3Fgrid%3DG1"
    );
    assert_eq!(stranger.get("/review/").await.location(), "/review/batches");
    // A POST without a session goes nowhere.
    let page = stranger
        .post_as_is("/review/batches/x/decide", &[("decision", "approve")])
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);

    // An officer's device token (and even a supervisor's) opens no page.
    for badge in ["o1", "s1"] {
        let device = server.device(badge).await;
        for path in [
            "/review/batches",
            "/review/hazards",
            "/review/exports/download?form=house&format=csv",
        ] {
            let res = device
                .request(Method::GET, path)
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{badge} {path}");
        }
    }
    // ... not even with a valid session beside it.
    let s1 = Browser::signed_in(&server, "s1").await;
    let device = server.device("o1").await;
    let res = s1
        .http
        .get(format!("{}/review/batches", server.url))
        .header("cookie", s1.cookie_header())
        .header(AUTHORIZATION, format!("Bearer {}", device.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_change_nothing() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let id = enter_house(&core, "钱一");
    sync(&core).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let other = Browser::signed_in(&server, "admin").await;
    other.open("/review/batches").await;
    let foreign_token = other.csrf.lock().unwrap().clone().unwrap();
    s1.open(&format!("/review/records/{id}")).await;
    let path = format!("/review/records/{id}/decide");
    let rev = "1";
    for fields in [
        vec![("revision", rev), ("decision", "approve")],
        vec![("csrf", ""), ("revision", rev), ("decision", "approve")],
        vec![
            ("csrf", foreign_token.as_str()),
            ("revision", rev),
            ("decision", "approve"),
        ],
    ] {
        let page = s1.post_as_is(&path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{fields:?}");
    }
    // The right token, but the browser says the form came from another site.
    let token = s1.csrf.lock().unwrap().clone().unwrap();
    for (header, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = s1
            .http
            .post(format!("{}{path}", server.url))
            .header("cookie", s1.cookie_header())
            .header(header, value)
            .form(&[
                ("csrf", token.as_str()),
                ("revision", rev),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{header}");
    }
    // Not a form at all.
    let res = s1
        .http
        .post(format!("{}{path}", server.url))
        .header("cookie", s1.cookie_header())
        .json(&json!({"csrf": token, "revision": 1, "decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The sign-in form needs its own cookie's token.
    let fresh = Browser::new(&server);
    let page = fresh
        .post_as_is(
            "/review/login",
            &[("csrf", "x"), ("badge", "s1"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    assert_eq!(
        stored(&server, id).await.status,
        RecordStatus::Submitted,
        "nothing decided"
    );
    // And with the token, the same form works.
    let page = s1
        .post(&path, &[("revision", rev), ("decision", "approve")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(stored(&server, id).await.status, RecordStatus::Approved);
}

// ---- scope ----

#[tokio::test]
async fn a_supervisor_of_another_station_sees_and_decides_nothing_here() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let id = enter_house(&core, "孙二");
    sync(&core).await;
    let batch = batch_of(&server, id).await;
    let h1 = server.device("h1").await;
    let theirs = RecordId::new_v7();
    let res = h1
        .push(vec![h1.upsert(theirs, "house", "H1", 0, house("李四"))])
        .await
        .unwrap();
    assert!(matches!(
        res.results[0].outcome,
        ChangeOutcome::Accepted { .. }
    ));

    let s2 = Browser::signed_in(&server, "s2").await;
    let list = s2.open("/review/batches").await;
    assert!(
        !list.body.contains(&batch.to_string()),
        "S1's batch is not listed for S2"
    );
    assert!(
        list.body
            .contains(&batch_of(&server, theirs).await.to_string()),
        "S2's own is"
    );
    assert!(!s2.open("/review/hazards").await.body.contains("孙二"));
    assert_eq!(
        s2.get(&format!("/review/batches/{batch}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s2.get(&format!("/review/records/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s2.get("/review/exports/download?form=house&format=csv&grid=G1")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    s2.open("/review/batches").await;
    for (path, fields) in [
        (
            format!("/review/records/{id}/decide"),
            vec![("revision", "1"), ("decision", "approve")],
        ),
        (
            format!("/review/batches/{batch}/decide"),
            vec![("decision", "approve")],
        ),
        (
            format!("/review/hazards/{id}/verify"),
            vec![("revision", "1")],
        ),
    ] {
        let page = s2.post(&path, &fields).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(stored(&server, id).await.revision, 1, "untouched");
    // S2's export has S2's record only.
    let (status, _, csv) = s2
        .get_bytes("/review/exports/download?form=house&format=csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2, "header and S2's one house");
    assert_eq!(rows[1][0], theirs.to_string());
}

// ---- decisions ----

#[tokio::test]
async fn approve_and_return_reach_the_officers_device_and_the_fix_comes_back_in_a_new_batch() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let approved = enter_house(&core, "周三");
    let returned = enter_house(&core, "吴四");
    sync(&core).await;
    let batch = batch_of(&server, returned).await;
    let s1 = Browser::signed_in(&server, "s1").await;

    let list = s1.open("/review/batches").await;
    assert!(list.body.contains(&format!("/review/batches/{batch}")));
    assert!(
        list.body.contains("实有房屋"),
        "counts by form, by the form's title"
    );
    let page = s1.open(&format!("/review/batches/{batch}")).await;
    for text in [
        "周三",
        "吴四",
        "房屋用途",
        "自住",
        "房主身份证号",
        "通过",
        "退回",
    ] {
        assert!(page.body.contains(text), "the batch page shows {text}");
    }

    let page = decide(&s1, &server, approved, &[("decision", "approve")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location().contains("notice=approved"));
    let page = decide(
        &s1,
        &server,
        returned,
        &[("decision", "return"), ("reason", "  ")],
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a return needs a reason"
    );
    assert!(page.body.contains("必须填写原因"));
    assert_eq!(
        stored(&server, returned).await.status,
        RecordStatus::Submitted
    );
    let reason = "房主电话缺失，请补充后重新上报";
    let page = decide(
        &s1,
        &server,
        returned,
        &[("decision", "return"), ("reason", reason)],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // Decisions are changes: the device pulls them.
    sync(&core).await;
    assert_eq!(core.record(approved).unwrap().state, LocalState::Approved);
    assert_eq!(core.record(returned).unwrap().state, LocalState::Returned);
    let mut session = core.open_record(returned).expect("reopens");
    assert_eq!(session.review_reason(), Some(reason));
    session
        .set("owner_phone", json!("13800138000"))
        .expect("fix");
    session.finalize().expect("finalize");
    sync(&core).await;

    let fixed = stored(&server, returned).await;
    assert_eq!((fixed.status, fixed.revision), (RecordStatus::Submitted, 3));
    let second = batch_of(&server, returned).await;
    assert_ne!(second, batch, "the fix is a new batch");
    let old = s1.open(&format!("/review/batches/{batch}")).await;
    assert!(
        old.body.contains("该记录已在后续批次中再次修改"),
        "the old batch points on"
    );
    assert!(old.body.contains(&format!("/review/batches/{second}")));
    let new = s1.open(&format!("/review/batches/{second}")).await;
    assert!(new.body.contains("13800138000") && new.body.contains("待审核"));
    let record = s1.open(&format!("/review/records/{returned}")).await;
    for text in [
        "修改历史",
        "版本 3",
        "版本 2",
        "版本 1",
        "退回民警",
        reason,
        "房主电话",
        "13800138000",
    ] {
        assert!(record.body.contains(text), "the history shows {text}");
    }
}

#[tokio::test]
async fn a_whole_batch_is_decided_at_once_and_stale_decisions_are_refused() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let ids: Vec<RecordId> = ["甲", "乙", "丙"]
        .iter()
        .map(|o| enter_house(&core, o))
        .collect();
    sync(&core).await;
    let batch = batch_of(&server, ids[0]).await;
    let s1 = Browser::signed_in(&server, "s1").await;

    // Returned first, and left alone by the batch decision.
    decide(
        &s1,
        &server,
        ids[0],
        &[("decision", "return"), ("reason", "地址有误")],
    )
    .await;
    // A decision on a version the supervisor did not see is refused.
    s1.open(&format!("/review/records/{}", ids[1])).await;
    let mut session = core.open_record(ids[1]).unwrap();
    session.set("storeys", json!(5)).unwrap();
    session.finalize().unwrap();
    sync(&core).await;
    let page = s1
        .post(
            &format!("/review/records/{}/decide", ids[1]),
            &[("revision", "1"), ("decision", "approve")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("已被修改"));
    assert_eq!(
        stored(&server, ids[1]).await.status,
        RecordStatus::Submitted
    );

    let page = s1.open(&format!("/review/batches/{batch}")).await;
    assert!(page.body.contains("本批次还有"));
    let page = s1
        .post(
            &format!("/review/batches/{batch}/decide"),
            &[("decision", "return")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "returning a batch needs a reason too"
    );
    let page = s1
        .post(
            &format!("/review/batches/{batch}/decide"),
            &[
                ("decision", "approve"),
                ("back", &format!("/review/batches/{batch}")),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().contains("notice=approved&n=1"),
        "{}",
        page.location()
    );
    assert_eq!(stored(&server, ids[0]).await.status, RecordStatus::Returned);
    assert_eq!(
        stored(&server, ids[1]).await.status,
        RecordStatus::Submitted,
        "edited since: its new batch decides"
    );
    assert_eq!(stored(&server, ids[2]).await.status, RecordStatus::Approved);
    let after = s1.open(&format!("/review/batches/{batch}")).await;
    assert!(!after.body.contains("本批次还有"), "nothing pending");

    let filtered = s1.open("/review/batches?status=pending").await;
    assert!(!filtered.body.contains(&format!("/review/batches/{batch}")));
    assert!(filtered.body.contains(&format!(
        "/review/batches/{}",
        batch_of(&server, ids[1]).await
    )));
    let reviewed = s1.open("/review/batches?status=reviewed").await;
    assert!(reviewed.body.contains(&format!("/review/batches/{batch}")));
    for (query, listed) in [
        ("grid=G3", false),
        ("grid=G1", true),
        ("form=person", false),
        ("form=house", true),
    ] {
        let page = s1.open(&format!("/review/batches?{query}")).await;
        assert_eq!(
            page.body.contains(&format!("/review/batches/{batch}")),
            listed,
            "{query}"
        );
    }
    let today = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    let page = s1
        .open(&format!("/review/batches?from={today}&to={today}"))
        .await;
    assert!(page.body.contains(&format!("/review/batches/{batch}")));
    let page = s1
        .open("/review/batches?from=2001-01-01&to=2001-01-31")
        .await;
    assert!(!page.body.contains(&format!("/review/batches/{batch}")));
}

// ---- hazards and photos ----

/// Uploads a photo over the v1 API; returns its reference.
async fn upload(device: &TestDevice, bytes: &[u8]) -> AttachmentRef {
    device.upload(bytes, "image/jpeg").await
}

fn local_today() -> String {
    Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive()
        .to_string()
}

/// A hazard reported with a photo and then rectified with an after-photo.
async fn rectified_hazard(device: &TestDevice, grid: &str) -> (RecordId, Vec<AttachmentRef>) {
    let before = upload(device, JPEG).await;
    let mut after_bytes = JPEG.to_vec();
    after_bytes.extend_from_slice(b"after"); // another photo, same picture
    let after = upload(device, &after_bytes).await;
    let id = RecordId::new_v7();
    let today = local_today();
    let report = obj(json!({
        "category": "ebike_charging", "description": "楼道内电动车飞线充电", "severity": "high",
        "found_date": today, "location": {"lat": 31.871, "lon": 121.172, "accuracy_m": 6.0},
        "photos": [before.sha256.to_hex()], "status": "open", "deadline": today,
        "responsible_party": "物业服务中心",
    }));
    let c = with_attachments(
        device.upsert(id, "hazard", grid, 0, report),
        vec![before.clone()],
    );
    let res = device.push(vec![c]).await.expect("push");
    assert!(
        matches!(res.results[0].outcome, ChangeOutcome::Accepted { .. }),
        "{:?}",
        res.results
    );
    let fix = obj(json!({
        "status": "rectified", "after_photos": [after.sha256.to_hex()],
        "rectified_date": today, "rectified_note": "已拆除飞线",
    }));
    let attachments = vec![before, after];
    let c = with_attachments(
        device.upsert(id, "hazard", grid, 1, fix),
        attachments.clone(),
    );
    let res = device.push(vec![c]).await.expect("push");
    assert!(
        matches!(res.results[0].outcome, ChangeOutcome::Accepted { .. }),
        "{:?}",
        res.results
    );
    (id, attachments)
}

#[tokio::test]
async fn verifying_a_rectified_hazard_is_the_supervisors_and_devices_pull_it() {
    let server = TestServer::start().await;
    let a1 = server.device("a1").await;
    let (id, attachments) = rectified_hazard(&a1, "G1").await;

    // The auxiliary cannot verify from the phone (sync rule), ...
    let c = with_attachments(
        a1.upsert(id, "hazard", "G1", 2, obj(json!({"status": "verified"}))),
        attachments,
    );
    let res = a1.push(vec![c]).await.expect("push");
    match &res.results[0].outcome {
        ChangeOutcome::Rejected { code, .. } => assert_eq!(*code, ErrorCode::Forbidden),
        other => panic!("an auxiliary may not verify: {other:?}"),
    }
    // ... the supervisor does, on the hazard board.
    let s1 = Browser::signed_in(&server, "s1").await;
    let board = s1.open("/review/hazards?status=rectified").await;
    for text in [
        "电动自行车违规充电",
        "整改前",
        "整改后",
        "复查通过",
        "已拆除飞线",
    ] {
        assert!(board.body.contains(text), "the board shows {text}");
    }
    let page = s1
        .post(
            &format!("/review/hazards/{id}/verify"),
            &[("revision", "2"), ("back", "/review/hazards")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location().contains("notice=verified"));
    let record = stored(&server, id).await;
    assert_eq!(record.revision, 3);
    assert_eq!(record.fields["status"].value, json!("verified"));
    // Once verified there is nothing left to verify.
    let page = s1
        .post(
            &format!("/review/hazards/{id}/verify"),
            &[("revision", "3")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    // The reporter's device pulls the verification.
    let latest = a1
        .records()
        .await
        .into_iter()
        .rfind(|v| v.record.id == id)
        .expect("pulled");
    assert_eq!(
        (latest.revision, latest.record.values["status"].clone()),
        (3, json!("verified"))
    );
    let verified = s1.open("/review/hazards?status=verified").await;
    assert!(verified.body.contains("楼道内电动车飞线充电"));
    assert!(s1
        .open(&format!("/review/records/{id}"))
        .await
        .body
        .contains("所领导复查"));
}

#[tokio::test]
async fn overdue_hazards_come_first_and_photos_are_images_for_reviewers_in_scope() {
    let server = TestServer::start().await;
    let a1 = server.device("a1").await;
    let (_, attachments) = rectified_hazard(&a1, "G1").await;
    let late = RecordId::new_v7();
    let photo = upload(&a1, JPEG).await;
    let old = (Utc::now() - chrono::Duration::days(20))
        .date_naive()
        .to_string();
    let c = with_attachments(
        a1.upsert(late, "hazard", "G1", 0, obj(json!({
            "category": "blocked_fire_lane", "description": "消防通道被杂物堵塞", "severity": "medium",
            "found_date": old, "location": {"lat": 31.87, "lon": 121.17}, "photos": [photo.sha256.to_hex()],
            "status": "open", "deadline": old,
        }))),
        vec![photo],
    );
    a1.push(vec![c]).await.expect("push");
    let s1 = Browser::signed_in(&server, "s1").await;
    let board = s1.open("/review/hazards").await;
    let first = board.body.find("消防通道被杂物堵塞").expect("listed");
    let second = board.body.find("楼道内电动车飞线充电").expect("listed");
    assert!(first < second, "overdue first");
    assert!(board.body.contains("逾期"));

    let sha = attachments[0].sha256;
    let (status, headers, bytes) = s1.get_bytes(&format!("/review/photos/{sha}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(bytes, JPEG);
    let (status, headers, thumb) = s1.get_bytes(&format!("/review/photos/{sha}/thumb")).await;
    assert_eq!(
        (status, &headers["content-type"]),
        (StatusCode::OK, &"image/jpeg".parse().unwrap())
    );
    assert_eq!(&thumb[..3], &[0xFF, 0xD8, 0xFF]);

    let s2 = Browser::signed_in(&server, "s2").await;
    assert_eq!(
        s2.get_bytes(&format!("/review/photos/{sha}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s2.get_bytes(&format!("/review/photos/{sha}/thumb")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        Browser::new(&server)
            .get_bytes(&format!("/review/photos/{sha}"))
            .await
            .0,
        StatusCode::SEE_OTHER
    );
}

// ---- exports ----

fn visit(device: &TestDevice, residents: &[(&str, u16)]) -> (RecordId, Change) {
    let id = RecordId::new_v7();
    let entries: Vec<Json> = residents
        .iter()
        .map(|(name, seq)| {
            json!({"name": name, "id_number": citizen_id("320614", "19900101", *seq), "relation": "tenant", "category": "migrant"})
        })
        .collect();
    let values: Values = obj(json!({
        "visit_date": Utc::now().to_rfc3339(), "officer": "测试o1", "grid": "G1",
        "purpose": "household_visit", "address": RecordId::new_v7().to_string(),
        "outcome": "updated", "residents": entries, "observations": "出租屋新入住租客",
    }));
    (id, device.upsert(id, "visit", "G1", 0, values))
}

#[tokio::test]
async fn exports_are_read_back_by_independent_readers() {
    let server = TestServer::start().await;
    let o1 = server.device("o1").await;
    let (v1, c1) = visit(&o1, &[("赵一", 11), ("钱二", 12)]);
    let (v2, c2) = visit(&o1, &[("孙三", 13)]);
    let (_, c3) = visit(&o1, &[]);
    o1.push(vec![c1, c2, c3]).await.expect("push");
    let a1 = server.device("a1").await;
    let (hazard, _) = rectified_hazard(&a1, "G1").await;
    let s1 = Browser::signed_in(&server, "s1").await;
    assert!(s1.open("/review/exports").await.body.contains("导出 Excel"));
    let today = local_today();

    // XLSX: a sheet of records, one per repeat group, one of photo links.
    let (status, headers, bytes) = s1
        .get_bytes(&format!(
            "/review/exports/download?form=visit&format=xlsx&from={today}&to={today}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    let mut book: Xlsx<_> =
        open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx calamine opens");
    assert_eq!(book.sheet_names(), ["走访记录", "居住人员", "照片"]);
    let main = book.worksheet_range("走访记录").expect("records sheet");
    assert_eq!(main.height(), 1 + 3, "a header and three visits");
    let header: Vec<String> = main
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    for h in [
        "记录编号",
        "网格",
        "填报人",
        "审核状态",
        "走访时间",
        "走访事由",
        "走访结果",
        "居住人员（条数）",
        "走访情况",
    ] {
        assert!(header.contains(&h.to_owned()), "header {h} in {header:?}");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let first = main
        .rows()
        .find(|r| r[0].to_string() == v1.to_string())
        .expect("v1 row");
    assert_eq!(
        first[col("走访事由")].to_string(),
        "入户走访",
        "choices by label"
    );
    assert_eq!(first[col("审核状态")].to_string(), "待审核");
    assert_eq!(first[col("居住人员（条数）")], Data::Float(2.0));
    let residents = book.worksheet_range("居住人员").expect("group sheet");
    assert_eq!(residents.height(), 1 + 3, "a header and three residents");
    let rheader: Vec<String> = residents
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(&rheader[..3], ["记录编号", "序号", "姓名"]);
    assert!(
        rheader.contains(&"性别".to_owned()),
        "derived fields exported too"
    );
    let linked: Vec<String> = residents.rows().skip(1).map(|r| r[0].to_string()).collect();
    assert_eq!(linked.iter().filter(|id| **id == v1.to_string()).count(), 2);
    assert_eq!(linked.iter().filter(|id| **id == v2.to_string()).count(), 1);
    let gender = rheader.iter().position(|h| h == "性别").unwrap();
    assert_eq!(residents.rows().nth(1).unwrap()[gender].to_string(), "男");

    // Hazards in a workbook: photo links on their own sheet.
    let (_, _, bytes) = s1
        .get_bytes("/review/exports/download?form=hazard&format=xlsx")
        .await;
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("opens");
    assert_eq!(book.sheet_names(), ["安全隐患", "照片"]);
    let photos = book.worksheet_range("照片").unwrap();
    assert_eq!(photos.height(), 1 + 2, "a before and an after photo");
    assert!(photos.rows().nth(1).unwrap()[3]
        .to_string()
        .contains("/review/photos/"));

    // CSV: the records, or one row per entry of a group; a date range that
    // holds nothing holds nothing.
    let (status, headers, bytes) = s1
        .get_bytes("/review/exports/download?form=visit&format=csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let rows = csv_rows(&bytes);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0][0], "记录编号");
    let rows = csv_rows(
        &s1.get_bytes("/review/exports/download?form=visit&format=csv&part=visit:residents")
            .await
            .2,
    );
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0][..3], ["记录编号", "序号", "姓名"]);
    let rows = csv_rows(
        &s1.get_bytes(
            "/review/exports/download?form=visit&format=csv&from=2001-01-01&to=2001-12-31",
        )
        .await
        .2,
    );
    assert_eq!(rows.len(), 1, "only the header");
    let rows = csv_rows(
        &s1.get_bytes("/review/exports/download?form=visit&format=csv&lang=en")
            .await
            .2,
    );
    assert_eq!(rows[0][0], "Record id");

    // GeoJSON of hazards.
    let (status, headers, bytes) = s1
        .get_bytes("/review/exports/download?form=hazard&format=geojson")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/geo+json");
    let geo: Json = serde_json::from_slice(&bytes).expect("GeoJSON parses");
    assert_eq!(geo["type"], "FeatureCollection");
    let features = geo["features"].as_array().unwrap();
    assert_eq!(features.len(), 1);
    assert_eq!(features[0]["id"], json!(hazard));
    assert_eq!(
        features[0]["geometry"],
        json!({"type": "Point", "coordinates": [121.172, 31.871]})
    );
    assert_eq!(
        features[0]["properties"]["category"],
        "电动自行车违规充电、飞线充电"
    );
    assert_eq!(features[0]["properties"]["status_value"], "rectified");
    assert_eq!(
        s1.get("/review/exports/download?form=visit&format=geojson")
            .await
            .status,
        StatusCode::BAD_REQUEST,
        "visits have no location"
    );
}

// ---- audit ----

#[tokio::test]
async fn every_decision_verification_and_export_is_in_the_audit_log() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let a = enter_house(&core, "冯五");
    let b = enter_house(&core, "陈六");
    sync(&core).await;
    let a1 = server.device("a1").await;
    let (hazard, _) = rectified_hazard(&a1, "G1").await;
    let s1 = Browser::signed_in(&server, "s1").await;
    decide(&s1, &server, a, &[("decision", "approve")]).await;
    decide(
        &s1,
        &server,
        b,
        &[("decision", "return"), ("reason", "照片模糊")],
    )
    .await;
    s1.open("/review/hazards").await;
    s1.post(
        &format!("/review/hazards/{hazard}/verify"),
        &[("revision", "2")],
    )
    .await;
    s1.get_bytes("/review/exports/download?form=house&format=xlsx")
        .await;
    let s2 = Browser::signed_in(&server, "s2").await;

    let (entries, total) = server
        .state
        .store
        .audit_log(AuditQuery {
            station: Some("S1".into()),
            action: None,
            limit: 50,
            offset: 0,
        })
        .await
        .expect("audit");
    assert_eq!(total, 5);
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e.entry.badge.as_str(),
                e.entry.action.as_str(),
                e.entry.target.as_str(),
            )
        })
        .collect();
    let (ra, rb, rh) = (
        format!("record:{a}"),
        format!("record:{b}"),
        format!("record:{hazard}"),
    );
    assert_eq!(
        seen,
        [
            ("s1", "export", "form:house"),
            ("s1", "verify", rh.as_str()),
            ("s1", "return", rb.as_str()),
            ("s1", "approve", ra.as_str()),
            ("s1", "sign_in", ""),
        ]
    );
    assert_eq!(entries[2].entry.detail["reason"], "照片模糊");
    assert!(entries
        .iter()
        .all(|e| (Utc::now() - e.entry.at).num_minutes() < 5));

    let page = s1.open("/review/audit").await;
    for text in ["审核通过", "退回", "隐患复查", "导出", "照片模糊", "测试s1"] {
        assert!(page.body.contains(text), "the audit page shows {text}");
    }
    let theirs = s2.open("/review/audit").await;
    assert!(
        !theirs.body.contains("照片模糊"),
        "another station's log is not shown"
    );
    // Decisions, like every change, are versions devices pull.
    let pulled = server.device("o1").await.records().await;
    let review_of = |id: RecordId| {
        pulled
            .iter()
            .rfind(|v| v.record.id == id)
            .and_then(|v| v.review.clone())
            .map(|r| r.decision)
    };
    assert_eq!(review_of(a), Some(ReviewDecision::Approve));
    assert!(matches!(review_of(b), Some(ReviewDecision::Return { .. })));
}
