//! The field app's core against the real server: offline saves, restoring a
//! device, merging offline edits, returned records, revocation, encryption.

use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_core::sync::{RetryPolicy, SyncEngine};
use beatbook_core::Core;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{Review, ReviewDecision};
use beatbook_schema::text::Lang;
use beatbook_tests::client::{device, open_core, sync};
use beatbook_tests::data::{citizen_id, house};
use beatbook_tests::TestServer;
use serde_json::json;

/// Enters and finalizes a house record; returns its id.
fn enter_house(core: &Core, owner: &str) -> RecordId {
    let mut session = core
        .new_record("house", None, house(owner))
        .expect("new house");
    session.finalize().expect("valid house");
    session.id()
}

fn houses(core: &Core) -> Vec<beatbook_core::store::LocalRecord> {
    core.records(&RecordFilter {
        form: Some("house".into()),
        ..Default::default()
    })
    .expect("records")
}

#[tokio::test]
async fn records_saved_offline_reach_a_second_device_of_the_grid() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let (_a_dir, a) = device(&server, "o1").await;
    let dir = server.stop().await; // no signal from here on

    let ids: Vec<_> = ["张三", "李四", "王五"]
        .iter()
        .map(|o| enter_house(&a, o))
        .collect();
    let e = a.sync(&|_| {}).await.expect_err("offline");
    assert!(e.to_string().contains("no connection"), "{e}");
    assert_eq!(
        a.status().expect("status").outbox,
        3,
        "saved and queued while offline"
    );

    let server = TestServer::restart_on(dir, addr).await;
    let report = sync(&a).await;
    assert_eq!(report.accepted, 3);
    assert_eq!(a.status().expect("status").outbox, 0);
    assert!(houses(&a).iter().all(|r| r.state == LocalState::Synced));

    let (_b_dir, b) = device(&server, "o1").await;
    sync(&b).await;
    let got: Vec<_> = houses(&b).into_iter().map(|r| r.id).collect();
    for id in ids {
        assert!(got.contains(&id));
    }
}

#[tokio::test]
async fn a_sync_with_nothing_to_do_is_one_request_and_a_few_changes_one_per_step() {
    let server = TestServer::start().await;
    let (_a_dir, a) = device(&server, "o1").await;
    let (_b_dir, b) = device(&server, "o1").await;
    sync(&a).await;
    sync(&b).await;

    let idle = sync(&b).await;
    assert_eq!((idle.requests, idle.pulled), (1, 0), "{idle:?}");

    for owner in ["张三", "李四", "王五"] {
        enter_house(&a, owner);
    }
    let sent = sync(&a).await;
    assert_eq!(sent.accepted, 3);
    assert_eq!(sent.requests, 2, "one push and one pull: {sent:?}");
    let received = sync(&b).await;
    assert_eq!((received.requests, received.pulled), (1, 3), "{received:?}");
}

#[tokio::test]
async fn a_pull_of_many_pages_asks_for_each_page_once_and_misses_nothing() {
    let server = TestServer::start().await;
    let (_a_dir, a) = device(&server, "o1").await;
    let ids: Vec<_> = (0..23)
        .map(|i| enter_house(&a, &format!("户主{i}")))
        .collect();
    sync(&a).await;

    // Small pages: the next is asked for while the one before is applied.
    let (_b_dir, b) = device(&server, "o1").await;
    let b = b.with_engine(SyncEngine {
        retry: RetryPolicy::immediate(2),
        page: 5,
        ..SyncEngine::default()
    });
    let restored = sync(&b).await;
    let got: Vec<_> = houses(&b).into_iter().map(|r| r.id).collect();
    assert_eq!(got.len(), ids.len(), "{restored:?}");
    assert!(ids.iter().all(|id| got.contains(id)));
    assert_eq!(
        restored.requests,
        restored.pulled.div_ceil(5),
        "one request per page, none wasted: {restored:?}"
    );
    let again = sync(&b).await;
    assert_eq!((again.requests, again.pulled), (1, 0), "{again:?}");
}

#[tokio::test]
async fn a_device_rebuilt_from_nothing_restores_its_grid() {
    let server = TestServer::start().await;
    let (_old, a) = device(&server, "o1").await;
    let id = enter_house(&a, "赵六");
    sync(&a).await;
    drop(a); // the phone is replaced
    let (_new, b) = device(&server, "o1").await;
    sync(&b).await;
    let restored = b.record(id).expect("restored");
    assert_eq!(restored.values["owner_name"], "赵六");
    assert_eq!(restored.state, LocalState::Synced);
    assert!(b.form("house").is_ok(), "forms arrive with the pull");
}

#[tokio::test]
async fn offline_edits_of_one_household_merge_by_field_and_same_field_is_flagged() {
    let server = TestServer::start().await;
    let (_a_dir, a) = device(&server, "o1").await;
    let (_b_dir, b) = device(&server, "o1").await;
    let id = enter_house(&a, "孙七");
    sync(&a).await;
    sync(&b).await;

    // Offline on both phones: different fields, and one field on both.
    let mut sa = a.open_record(id).expect("open on a");
    sa.set("owner_phone", json!("13912345678")).expect("set");
    sa.set("storeys", json!(4)).expect("set");
    sa.finalize().expect("finalize a");
    let mut sb = b.open_record(id).expect("open on b");
    sb.set("area_m2", json!(120.5)).expect("set");
    sb.set("storeys", json!(5)).expect("set");
    sb.finalize().expect("finalize b");

    sync(&a).await;
    let report = sync(&b).await;
    assert_eq!(report.conflicted, 1, "storeys was edited on both");
    sync(&a).await;
    for core in [&a, &b] {
        let r = core.record(id).expect("record");
        assert_eq!(r.values["owner_phone"], "13912345678");
        assert_eq!(r.values["area_m2"], 120.5);
        assert_eq!(r.values["storeys"], 5, "the later edit wins");
        assert!(r.conflicted, "flagged for the supervisor");
        assert_eq!(r.state, LocalState::Synced);
    }
}

#[tokio::test]
async fn a_pull_never_overwrites_unpushed_edits() {
    let server = TestServer::start().await;
    let (_a_dir, a) = device(&server, "o1").await;
    let (_b_dir, b) = device(&server, "o1").await;
    let id = enter_house(&a, "周八");
    sync(&a).await;
    sync(&b).await;
    // b starts editing (a draft, autosaved), a changes another field and syncs.
    let mut sb = b.open_record(id).expect("open");
    sb.set("owner_name", json!("周八八")).expect("set");
    let mut sa = a.open_record(id).expect("open");
    sa.set("storeys", json!(7)).expect("set");
    sa.finalize().expect("finalize");
    sync(&a).await;
    sync(&b).await; // pulls a's version while b's edit is unpushed
    let local = b.record(id).expect("record");
    assert_eq!(
        local.values["owner_name"], "周八八",
        "the officer's edit stays"
    );
    assert_eq!(local.state, LocalState::Draft);
    // Finalized and synced, b's edit merges with a's.
    b.open_record(id)
        .expect("open")
        .finalize()
        .expect("finalize");
    sync(&b).await;
    sync(&b).await;
    let merged = b.record(id).expect("record");
    assert_eq!(
        (
            merged.values["owner_name"].clone(),
            merged.values["storeys"].clone()
        ),
        (json!("周八八"), json!(7))
    );
}

#[tokio::test]
async fn a_returned_record_reopens_with_its_reason_and_goes_back_fixed() {
    let server = TestServer::start().await;
    let (_dir, a) = device(&server, "o1").await;
    let id = enter_house(&a, "吴九");
    sync(&a).await;
    let reason = "房主电话缺失，请补充";
    let review = Review {
        decision: ReviewDecision::Return {
            reason: reason.into(),
        },
        by: "所长".into(),
        at: chrono::Utc::now(),
    };
    server
        .state
        .store
        .review(id, review)
        .await
        .expect("review")
        .expect("record exists");
    sync(&a).await;
    assert_eq!(a.record(id).expect("record").state, LocalState::Returned);
    let mut session = a.open_record(id).expect("reopen");
    assert_eq!(session.review_reason(), Some(reason));
    session
        .set("owner_phone", json!("13800138000"))
        .expect("fix");
    session.finalize().expect("finalize");
    sync(&a).await;
    sync(&a).await;
    let stored = server
        .state
        .store
        .record(id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        stored.status,
        beatbook_schema::record::RecordStatus::Submitted
    );
    assert_eq!(a.record(id).expect("record").state, LocalState::Synced);
    assert_eq!(server.history_len(id).await, 3);
}

#[tokio::test]
async fn a_refused_change_is_shown_and_does_not_block_the_queue() {
    let server = TestServer::start().await;
    let (_dir, a) = device(&server, "o2").await; // grid G3 only
    let good = enter_house(&a, "郑十");
    // A record for a grid o2 does not have: the server refuses it.
    let mut foreign = a
        .new_record("house", Some(&"G1".into()), house("越界"))
        .expect("new");
    foreign.finalize().expect("locally valid");
    let report = sync(&a).await;
    assert_eq!((report.accepted, report.rejected), (1, 1));
    assert_eq!(a.record(good).expect("good").state, LocalState::Synced);
    let refused = a.record(foreign.id()).expect("refused");
    assert_eq!(refused.state, LocalState::Rejected);
    assert_eq!(
        refused.rejection.expect("reason").code,
        beatbook_schema::protocol::ErrorCode::OutOfScope
    );
    assert_eq!(a.status().expect("status").outbox, 0);
}

#[tokio::test]
async fn a_revoked_device_wipes_its_local_data_on_next_contact() {
    let server = TestServer::start().await;
    let (dir, a) = device(&server, "o1").await;
    enter_house(&a, "钱十一");
    sync(&a).await;
    enter_house(&a, "未同步");
    let device_id = a.device_id();
    server
        .state
        .store
        .revoke_device(device_id, chrono::Utc::now())
        .await
        .expect("revoke");
    let e = a.sync(&|_| {}).await.expect_err("revoked");
    assert!(e.to_string().contains("revoked"), "{e}");
    assert!(houses(&a).is_empty(), "local records wiped");
    assert!(a.user().expect("user").is_none(), "enrollment wiped");
    drop(a);
    let db = std::fs::read(dir.path().join("beatbook.db")).expect("db file");
    assert!(!contains(&db, "钱十一".as_bytes()));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn database_and_photo_files_hold_no_readable_personal_data() {
    let server = TestServer::start().await;
    let (dir, a) = device(&server, "o1").await;
    let id_number = citizen_id("320614", "19790315", 57);
    let mut fields = house("欧阳明月");
    fields.insert("owner_id_number".into(), json!(id_number));
    fields.insert("owner_phone".into(), json!("13605130000"));
    let mut session = a.new_record("house", None, fields).expect("new");
    let photo = beatbook_core::photos::synthetic_camera_jpeg(800, 600, 7).expect("jpeg");
    session.add_photo("photos", &photo).expect("photo");
    session.finalize().expect("finalize");
    sync(&a).await;
    drop(session);
    drop(a);

    let mut files = Vec::new();
    for entry in walk(dir.path()) {
        files.push((entry.clone(), std::fs::read(&entry).expect("read")));
    }
    assert!(
        files
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "bbs")),
        "a sealed photo exists"
    );
    for (path, bytes) in &files {
        for secret in [
            "欧阳明月".as_bytes(),
            id_number.as_bytes(),
            b"13605130000",
            b"SQLite format 3",
            b"JFIF",
            b"owner_name",
        ] {
            assert!(
                !contains(bytes, secret),
                "{} contains {:?}",
                path.display(),
                String::from_utf8_lossy(secret)
            );
        }
    }
    // And the right PIN still opens it all.
    let a = open_core(dir.path());
    assert_eq!(houses(&a)[0].values["owner_name"], "欧阳明月");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("read dir")
        .map_while(Result::ok)
    {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn a_wrong_pin_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let core = open_core(dir.path());
    drop(core);
    let before = std::fs::read(dir.path().join("beatbook.db")).expect("db");
    let e = Core::open(
        dir.path(),
        "999999",
        &beatbook_core::keys::PinKeys::fast_for_tests(),
        std::sync::Arc::new(beatbook_core::platform::Desktop::default()),
    )
    .expect_err("wrong PIN");
    assert!(e.to_string().contains("wrong PIN"), "{e}");
    assert_eq!(
        std::fs::read(dir.path().join("beatbook.db")).expect("db"),
        before
    );
}

#[tokio::test]
async fn a_photo_upload_cut_mid_way_resumes_and_the_record_follows() {
    use beatbook_tests::proxy::{Fault, FaultyProxy};
    let server = TestServer::start().await;
    let (_dir, a) = device(&server, "o1").await;
    let mut session = a.new_record("house", None, house("拍照")).expect("new");
    let photo = beatbook_core::photos::synthetic_camera_jpeg(2400, 1800, 3).expect("jpeg");
    let attachment = session.add_photo("photos", &photo).expect("photo");
    assert!(
        attachment.size > 150_000,
        "a photo big enough to cut: {}",
        attachment.size
    );
    session.finalize().expect("finalize");

    let proxy = FaultyProxy::start(server.addr, Fault::CutRequestAfter(100_000), 1, b"PUT ").await;
    let report = a
        .sync_via(Some(&proxy.url), &|_| {})
        .await
        .expect("sync resumes");
    assert_eq!(proxy.hurt(), 1, "the first upload was cut");
    assert_eq!((report.uploaded, report.accepted), (1, 1));
    assert_stored_whole(&server, attachment.sha256);
}

#[tokio::test]
async fn a_photo_larger_than_one_upload_chunk_arrives_whole() {
    let server = TestServer::start().await;
    let (_dir, a) = device(&server, "o1").await;
    let a = a.with_engine(beatbook_core::sync::SyncEngine {
        chunk: 64 * 1024,
        ..Default::default()
    });
    let mut session = a.new_record("house", None, house("大照片")).expect("new");
    let photo = beatbook_core::photos::synthetic_camera_jpeg(4000, 3000, 5).expect("jpeg");
    let attachment = session.add_photo("photos", &photo).expect("photo");
    assert!(
        attachment.size > 256 * 1024,
        "a photo of several chunks, also of the default size: {}",
        attachment.size
    );
    session.finalize().expect("finalize");

    let report = a.sync(&|_| {}).await.expect("sync");
    assert_eq!((report.uploaded, report.accepted), (1, 1));
    assert_stored_whole(&server, attachment.sha256);
}

#[tokio::test]
async fn a_photo_the_server_no_longer_holds_is_uploaded_again() {
    use beatbook_core::sync::{RetryPolicy, SyncEngine};
    use beatbook_tests::proxy::{Fault, FaultyProxy};
    let server = TestServer::start_with(|c| c.unreferenced_blob_grace_secs = 0).await;
    let (_dir, a) = device(&server, "o1").await;
    let a = a.with_engine(SyncEngine {
        retry: RetryPolicy::immediate(1),
        ..Default::default()
    });
    let mut session = a.new_record("house", None, house("重传")).expect("new");
    let photo = beatbook_core::photos::synthetic_camera_jpeg(800, 600, 7).expect("jpeg");
    let attachment = session.add_photo("photos", &photo).expect("photo");
    session.finalize().expect("finalize");

    // The photo goes up; the push never arrives.
    let proxy = FaultyProxy::start(
        server.addr,
        Fault::ResetRequestAfter(10),
        100,
        b"POST /v1/push",
    )
    .await;
    a.sync_via(Some(&proxy.url), &|_| {})
        .await
        .expect_err("the push is cut");
    // The server sweeps the photo no record carries.
    let swept = beatbook_server::janitor::sweep(&server.state)
        .await
        .expect("sweep");
    assert_eq!(
        swept.blobs.files, 1,
        "the uploaded photo was swept: {swept:?}"
    );

    // The device is told the photo is missing and sends it again.
    let first = a.sync(&|_| {}).await.expect("sync");
    let second = a.sync(&|_| {}).await.expect("sync");
    assert_eq!(
        first.accepted + second.accepted,
        1,
        "{first:?} then {second:?}"
    );
    assert_stored_whole(&server, attachment.sha256);
}

/// Asserts that the server holds the whole blob: bytes that hash to its digest.
fn assert_stored_whole(server: &TestServer, sha: beatbook_schema::ids::Sha256) {
    let stored = std::fs::read(server.state.blobs.path(&sha)).expect("blob stored");
    assert_eq!(beatbook_schema::ids::Sha256::digest(&stored), sha);
}

#[tokio::test]
async fn a_record_label_shows_choices_in_the_chosen_language() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let id = enter_house(&core, "陆建华");
    let record = core.record(id).expect("house");
    assert!(
        core.label(&record, Lang::Zh).ends_with("自住"),
        "{}",
        core.label(&record, Lang::Zh)
    );
    assert!(
        core.label(&record, Lang::En).ends_with("Owner-occupied"),
        "{}",
        core.label(&record, Lang::En)
    );
}
