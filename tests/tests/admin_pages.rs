//! The administrators' pages against the real server, through real HTTP
//! with a signed-in admin, and real devices: every page refuses a
//! supervisor; an account created on the page enrolls and syncs; a disabled
//! one cannot sync until enabled; a role and grids change holds on the next
//! push and pull; a revoked device is wiped on its next contact; a workbook
//! with errors lists each at its sheet, row and column; a published one
//! reaches a device whose record of it is accepted without a restart, and
//! leaves it when retired. Every change is in the audit log.

use beatbook_core::sync::SyncError;
use beatbook_core::{Core, CoreError};
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ChangeOutcome, ErrorCode, Role};
use beatbook_store::AuditQuery;
use beatbook_tests::browser::{Browser, Page};
use beatbook_tests::client::{device, open_core, sync};
use beatbook_tests::data::house;
use beatbook_tests::TestServer;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use rust_xlsxwriter::Workbook;
use serde_json::json;
use tempfile::TempDir;

const PAGES: &[&str] = &[
    "/review/admin/users",
    "/review/admin/users/o1",
    "/review/admin/org",
    "/review/admin/devices",
    "/review/admin/forms",
];

/// The audit actions written so far, oldest first.
async fn audited(server: &TestServer) -> Vec<(String, String)> {
    let (entries, _) = server
        .state
        .store
        .audit_log(AuditQuery {
            station: None,
            action: None,
            limit: 1000,
            offset: 0,
        })
        .await
        .expect("audit log");
    let mut all: Vec<(String, String)> = entries
        .into_iter()
        .filter(|e| e.entry.action != "sign_in")
        .map(|e| (e.entry.action, e.entry.target))
        .collect();
    all.reverse();
    all
}

/// A device enrolled as `badge` with `password`.
async fn enrolled(server: &TestServer, badge: &str, password: &str) -> (TempDir, Core) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = open_core(dir.path());
    core.enroll(&server.url, badge, password, "新手机")
        .await
        .expect("the new account enrolls");
    (dir, core)
}

/// The value of the hidden field `name` in a page.
fn hidden(page: &Page, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = page.body.find(&key).expect("the field is on the page") + key.len();
    let end = page.body[at..].find('"').expect("quoted");
    page.body[at..at + end].to_owned()
}

/// A workbook with the given sheets, each a header row then data rows.
fn workbook(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
    let mut book = Workbook::new();
    for (name, rows) in sheets {
        let sheet = book.add_worksheet().set_name(*name).expect("sheet name");
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    sheet.write_string(r as u32, c as u16, *cell).expect("cell");
                }
            }
        }
    }
    book.save_to_buffer().expect("workbook")
}

const SETTINGS: &[&[&str]] = &[
    &[
        "form_id",
        "version",
        "form_title::Chinese (zh)",
        "form_title::English (en)",
    ],
    &["meter_check", "1", "水表检查", "Meter check"],
];

const CHOICES: &[&[&str]] = &[
    &[
        "list_name",
        "name",
        "label::Chinese (zh)",
        "label::English (en)",
    ],
    &["state", "ok", "正常", "Working"],
    &["state", "broken", "损坏", "Broken"],
];

/// The meter check form: a required meter number and its state.
fn meter_check() -> Vec<u8> {
    workbook(&[
        (
            "survey",
            &[
                &[
                    "type",
                    "name",
                    "label::Chinese (zh)",
                    "label::English (en)",
                    "required",
                ],
                &["text", "meter", "表号", "Meter number", "yes"],
                &["select_one state", "state", "状态", "State", ""],
            ],
        ),
        ("choices", CHOICES),
        ("settings", SETTINGS),
    ])
}

/// Posts a workbook to the upload as a browser would (multipart, the CSRF
/// field first).
async fn upload(b: &Browser, file: &str, bytes: &[u8]) -> Page {
    let csrf = b.csrf.lock().unwrap().clone().unwrap_or_default();
    let boundary = "----beatbook-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"workbook\"; filename=\"{file}\"\r\n\
             Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b.send(
        b.http
            .post(format!("{}/review/admin/forms/preview", b.base))
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body),
    )
    .await
}

fn offered(core: &Core) -> Vec<String> {
    core.offered_forms()
        .expect("forms read")
        .iter()
        .map(|f| f.id().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_page_refuses_a_supervisor_and_shows_to_an_admin() {
    let server = TestServer::start().await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let review = s1.open("/review/batches").await;
    assert!(
        !review.body.contains("/review/admin/"),
        "no admin link for a supervisor"
    );
    for path in PAGES {
        let page = s1.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("管理页面仅限管理员使用"), "{path}");
        assert!(page.body.contains("administrators only"), "{path}");
    }
    // A supervisor's own CSRF token does not make a write of theirs pass.
    s1.open("/review/batches").await;
    for (path, fields) in [
        (
            "/review/admin/users",
            &[
                ("badge", "x9"),
                ("name", "冒名"),
                ("role", "admin"),
                ("station", "S1"),
                ("password", "long-enough-1"),
            ][..],
        ),
        ("/review/admin/users/o1/status", &[("disabled", "true")][..]),
        (
            "/review/admin/org/grids",
            &[("station", "S1"), ("id", "G9"), ("name", "九")][..],
        ),
        ("/review/admin/forms/house/retire", &[][..]),
    ] {
        assert_eq!(
            s1.post(path, fields).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let store = &server.state.store;
    assert!(store.user_by_badge("x9").await.expect("read").is_none());
    assert!(
        !store
            .user_by_badge("o1")
            .await
            .expect("read")
            .expect("o1")
            .disabled
    );
    assert!(!store
        .grids()
        .await
        .expect("grids")
        .iter()
        .any(|g| g.id.as_str() == "G9"));

    // Signed out, a page load goes to the sign-in page.
    let nobody = Browser::new(&server);
    let page = nobody.get("/review/admin/users").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/review/login?next="));

    let admin = Browser::signed_in(&server, "admin").await;
    let home = admin.open("/review/batches").await;
    assert!(home.body.contains("href=\"/review/admin/users\""));
    for path in PAGES {
        admin.open(path).await;
    }
    // In English on request, like every review page.
    for (path, en) in [
        ("/review/admin/users?lang=en", "New account"),
        ("/review/admin/org?lang=en", "Add a grid"),
        (
            "/review/admin/devices?lang=en",
            "Revoke a lost or stolen phone",
        ),
        ("/review/admin/forms?lang=en", "Import an XLSForm workbook"),
    ] {
        assert!(admin.open(path).await.body.contains(en), "{path}");
    }
    assert!(audited(&server).await.is_empty(), "nothing was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_created_on_the_page_enrolls_and_a_refused_one_says_why() {
    let server = TestServer::start().await;
    let admin = Browser::signed_in(&server, "admin").await;
    admin.open("/review/admin/users").await;

    // The password rules are the CLI's: too short is refused, nothing made.
    let short = admin
        .post(
            "/review/admin/users",
            &[
                ("badge", "o9"),
                ("name", "钱新警"),
                ("role", "officer"),
                ("station", "S1"),
                ("grid", "G3"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("至少需要 8 个"), "{}", short.body);
    // An officer needs a grid; a grid of another station is refused.
    let no_grid = admin
        .post(
            "/review/admin/users",
            &[
                ("badge", "o9"),
                ("name", "钱新警"),
                ("role", "officer"),
                ("station", "S1"),
                ("password", "a-good-password"),
            ],
        )
        .await;
    assert_eq!(no_grid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_grid.body.contains("须分配至少一个网格"));
    let other_station = admin
        .post(
            "/review/admin/users",
            &[
                ("badge", "o9"),
                ("name", "钱新警"),
                ("role", "officer"),
                ("station", "S1"),
                ("grid", "H1"),
                ("password", "a-good-password"),
            ],
        )
        .await;
    assert_eq!(other_station.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(other_station.body.contains("网格 H1 属于派出所 S2"));
    assert!(server
        .state
        .store
        .user_by_badge("o9")
        .await
        .expect("read")
        .is_none());

    let made = admin
        .post(
            "/review/admin/users",
            &[
                ("badge", "o9"),
                ("name", "钱新警"),
                ("role", "officer"),
                ("station", "S1"),
                ("grid", "G3"),
                ("password", "a-good-password"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let list = admin.open(made.location()).await;
    assert!(list.body.contains("已创建账号 o9"));
    assert!(list.body.contains("钱新警"));
    let (_d, core) = enrolled(&server, "o9", "a-good-password").await;
    let report = sync(&core).await;
    assert_eq!(report.rejected, 0);
    let user = core.user().expect("read").expect("signed in");
    assert_eq!(
        user.grids.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        ["G3"]
    );

    // Without a password the page makes one and shows it once.
    let shown = admin
        .post(
            "/review/admin/users",
            &[
                ("badge", "a9"),
                ("name", "孙辅警"),
                ("role", "auxiliary"),
                ("station", "S1"),
                ("grid", "G1"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    let at = shown
        .body
        .find("one-time-password mono\">")
        .expect("the password is shown")
        + "one-time-password mono\">".len();
    let password = &shown.body[at..at + 12];
    enrolled(&server, "a9", password).await;

    // A new password for o9 signs its phone out; the new one enrolls.
    admin.open("/review/admin/users/o9").await;
    let reset = admin
        .post("/review/admin/users/o9/password", &[("password", "")])
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    let at = reset.body.find("one-time-password mono\">").expect("shown")
        + "one-time-password mono\">".len();
    let new_password = reset.body[at..at + 12].to_owned();
    assert!(
        core.sync(&|_| {}).await.is_err(),
        "signed out by the new password"
    );
    core.enroll(&server.url, "o9", &new_password, "新手机")
        .await
        .expect("enrolls with the new password");
    sync(&core).await;

    assert_eq!(
        audited(&server).await,
        [
            ("user_add".to_owned(), "user:o9".to_owned()),
            ("user_add".to_owned(), "user:a9".to_owned()),
            ("user_password".to_owned(), "user:o9".to_owned()),
        ]
    );
    let log = admin.open("/review/audit").await;
    assert!(log.body.contains("新建账号") && log.body.contains("重置密码"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_cannot_sync_until_it_is_enabled() {
    let server = TestServer::start().await;
    let (_d, core) = device(&server, "o2").await;
    sync(&core).await;
    let admin = Browser::signed_in(&server, "admin").await;
    admin.open("/review/admin/users/o2").await;
    let off = admin
        .post("/review/admin/users/o2/status", &[("disabled", "true")])
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert!(admin.open(off.location()).await.body.contains("已停用"));
    let e = core.sync(&|_| {}).await.expect_err("disabled");
    assert!(
        !matches!(e, CoreError::Sync(SyncError::Revoked { .. })),
        "disabled is not revoked: the phone keeps its data: {e:?}"
    );

    admin.open("/review/admin/users/o2").await;
    let on = admin
        .post("/review/admin/users/o2/status", &[("disabled", "false")])
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    sync(&core).await;

    // The admin cannot lock themselves out.
    admin.open("/review/admin/users/admin").await;
    let own = admin
        .post("/review/admin/users/admin/status", &[("disabled", "true")])
        .await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
    let demoted = admin
        .post("/review/admin/users/admin/role", &[("role", "supervisor")])
        .await;
    assert_eq!(demoted.status, StatusCode::BAD_REQUEST);
    let me = server
        .state
        .store
        .user_by_badge("admin")
        .await
        .expect("read")
        .expect("admin");
    assert!(
        me.info.role == Role::Admin && !me.disabled,
        "still an active admin"
    );
    assert_eq!(
        audited(&server).await,
        [
            ("user_disable".to_owned(), "user:o2".to_owned()),
            ("user_enable".to_owned(), "user:o2".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_and_grids_change_holds_on_the_next_push_and_pull() {
    let server = TestServer::start().await;
    let (_d, core) = device(&server, "o1").await;
    sync(&core).await;
    let phone = server.device("o1").await;
    let o2 = server.device("o2").await;

    let admin = Browser::signed_in(&server, "admin").await;
    admin.open("/review/admin/users/o1").await;
    // An officer without grids is refused; nothing changes.
    let refused = admin
        .post("/review/admin/users/o1/role", &[("role", "officer")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let changed = admin
        .post(
            "/review/admin/users/o1/role",
            &[("role", "officer"), ("grid", "G3")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert!(admin
        .open(changed.location())
        .await
        .body
        .contains("已修改 o1 的角色和网格"));

    // Written after the change: o2's house in G3 reaches o1's phone.
    let in_g3 = RecordId::new_v7();
    let answer = o2
        .push(vec![o2.upsert(in_g3, "house", "G3", 0, house("三网格"))])
        .await
        .expect("o2 pushes");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { .. }
    ));
    sync(&core).await;
    assert!(
        core.record(in_g3).is_ok(),
        "the new grid's record is pulled"
    );

    // o1 may write in G3 now, and no longer in G1.
    let answer = phone
        .push(vec![
            phone.upsert(RecordId::new_v7(), "house", "G3", 0, house("可写")),
            phone.upsert(RecordId::new_v7(), "house", "G1", 0, house("不可写")),
        ])
        .await
        .expect("answered");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { .. }
    ));
    assert!(
        matches!(
            answer.results[1].outcome,
            ChangeOutcome::Rejected {
                code: ErrorCode::OutOfScope,
                ..
            }
        ),
        "{:?}",
        answer.results[1].outcome
    );

    // To supervisor: the account now signs in to the review pages.
    admin.open("/review/admin/users/o1").await;
    admin
        .post("/review/admin/users/o1/role", &[("role", "supervisor")])
        .await;
    let account = server
        .state
        .store
        .user_by_badge("o1")
        .await
        .expect("read")
        .expect("o1");
    assert_eq!(account.info.role, Role::Supervisor);
    assert!(account.info.grids.is_empty());
    Browser::signed_in(&server, "o1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_revoked_on_the_page_is_wiped_on_its_next_contact() {
    let server = TestServer::start().await;
    let (_d, core) = device(&server, "o1").await;
    let mut s = core
        .new_record("house", None, house("未上传"))
        .expect("new");
    s.finalize().expect("finalize");
    drop(s);
    let admin = Browser::signed_in(&server, "admin").await;
    let list = admin.open("/review/admin/devices").await;
    let id = core.device_id().to_string();
    assert!(list.body.contains(&id), "the device is listed");
    assert!(list.body.contains("从未"), "never heard from yet");
    sync(&core).await;
    let list = admin.open("/review/admin/devices").await;
    assert!(!list.body.contains("从未"), "its last contact is shown");
    let confirm = admin
        .open(&format!("/review/admin/devices/{id}/revoke"))
        .await;
    assert!(confirm.body.contains("确认注销"));
    let done = admin
        .post(&format!("/review/admin/devices/{id}/revoke"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(admin.open(done.location()).await.body.contains("已注销"));

    let e = core.sync(&|_| {}).await.expect_err("revoked");
    assert!(
        matches!(e, CoreError::Sync(SyncError::Revoked { .. })),
        "{e:?}"
    );
    assert!(core
        .records(&Default::default())
        .expect("records")
        .is_empty());
    assert_eq!(
        audited(&server).await,
        [("device_revoke".to_owned(), format!("device:{id}"))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_with_errors_lists_each_at_its_sheet_row_and_column() {
    let server = TestServer::start().await;
    let admin = Browser::signed_in(&server, "admin").await;
    admin.open("/review/admin/forms").await;
    let bad = workbook(&[
        (
            "survey",
            &[
                &["type", "name", "label"],
                &["text", "age", "Age"],
                &["integer", "Age", "Age again"],
                &["select_one yes_no", "ok", "OK?"],
            ],
        ),
        (
            "choices",
            &[
                &["list_name", "name", "label"],
                &["yes_no", "yes", "Yes"],
                &["yes_no", "yes", "Yes!"],
            ],
        ),
        ("settings", SETTINGS),
    ]);
    let page = upload(&admin, "meter_check.xlsx", &bad).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("工作簿有问题，未发布"));
    let rows: Vec<&str> = page.body.split("<tr>").skip(2).collect();
    let row_with = |needle: &str| {
        rows.iter()
            .find(|r| r.contains(needle))
            .unwrap_or_else(|| panic!("a row saying {needle}: {}", page.body))
            .to_string()
    };
    let dup_name = row_with("已在第 2 行使用");
    assert!(
        dup_name.contains(">survey<") && dup_name.contains(">3<") && dup_name.contains(">B "),
        "{dup_name}"
    );
    let dup_choice = row_with("yes_no");
    assert!(
        dup_choice.contains(">choices<") && dup_choice.contains(">3<"),
        "{dup_choice}"
    );
    assert!(server.state.forms().latest("meter_check").is_none());

    let not_a_workbook = upload(&admin, "notes.xlsx", b"not a workbook").await;
    assert_eq!(not_a_workbook.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Without the CSRF field the upload is refused.
    *admin.csrf.lock().unwrap() = Some("forged".into());
    assert_eq!(
        upload(&admin, "meter_check.xlsx", &meter_check())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_published_on_the_page_reaches_a_device_and_its_record_is_accepted_then_retired() {
    let server = TestServer::start().await;
    let (_d, officer) = device(&server, "o1").await;
    let (_a, auxiliary) = device(&server, "a1").await;
    sync(&officer).await;
    sync(&auxiliary).await;
    assert!(!offered(&officer).contains(&"meter_check".to_owned()));

    let admin = Browser::signed_in(&server, "admin").await;
    admin.open("/review/admin/forms").await;
    let preview = upload(&admin, "meter_check.xlsx", &meter_check()).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    // As the phone shows it: labels in both languages, the required mark, the choices.
    for shown in [
        "水表检查",
        "Meter check",
        "表号",
        "Meter number",
        "状态",
        "正常",
        "Working",
        "损坏",
        "Broken",
    ] {
        assert!(preview.body.contains(shown), "{shown} in the preview");
    }
    let meter = preview
        .body
        .find("data-field=\"meter\"")
        .expect("meter field");
    let state = preview
        .body
        .find("data-field=\"state\"")
        .expect("state field");
    assert!(preview.body[meter..state].contains("class=\"required\""));
    assert!(!preview.body[state..]
        .split("</div>")
        .next()
        .unwrap_or("")
        .contains("class=\"required\""));

    let published = admin
        .post(
            "/review/admin/forms/publish",
            &[
                ("file", &hidden(&preview, "file")),
                ("workbook", &hidden(&preview, "workbook")),
                ("role", "officer"),
            ],
        )
        .await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.body
    );
    let list = admin.open(published.location()).await;
    assert!(list.body.contains("已发布表单 meter_check v1"));
    assert!(list.body.contains("data-form=\"meter_check\""));

    // The running server takes it: the officer's next sync offers it and
    // its record is accepted; the auxiliary, not in the audience, is not offered it.
    sync(&officer).await;
    sync(&auxiliary).await;
    assert!(offered(&officer).contains(&"meter_check".to_owned()));
    assert!(!offered(&auxiliary).contains(&"meter_check".to_owned()));
    let mut s = officer
        .new_record("meter_check", None, Default::default())
        .expect("offered");
    s.set("meter", json!("M-0423")).expect("set");
    s.set("state", json!("broken")).expect("set");
    s.finalize().expect("valid");
    let id = s.id();
    drop(s);
    let report = sync(&officer).await;
    assert_eq!((report.accepted, report.rejected), (1, 0), "{report:?}");
    let stored = server
        .state
        .store
        .record(id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (stored.form_id.as_str(), stored.form_version),
        ("meter_check", 1)
    );

    // The same version again changes nothing and says so.
    admin.open("/review/admin/forms").await;
    let again = upload(&admin, "meter_check.xlsx", &meter_check()).await;
    assert!(again.body.contains("该版本已发布过"));

    // Retired: the next sync drops it from the chooser.
    admin.open("/review/admin/forms").await;
    let retired = admin
        .post("/review/admin/forms/meter_check/retire", &[])
        .await;
    assert_eq!(retired.status, StatusCode::SEE_OTHER);
    sync(&officer).await;
    assert!(!offered(&officer).contains(&"meter_check".to_owned()));
    assert!(admin
        .open("/review/admin/forms")
        .await
        .body
        .contains("已停用"));
    assert_eq!(
        admin
            .post("/review/admin/forms/nonesuch/retire", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        audited(&server).await,
        [
            ("form_publish".to_owned(), "form:meter_check".to_owned()),
            ("form_retire".to_owned(), "form:meter_check".to_owned()),
        ]
    );
}
