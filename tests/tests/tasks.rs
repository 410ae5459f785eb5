//! Tasks that flow down (下派任务) against the real server: a supervisor
//! assigns house visits on the review pages, they reach the assignees'
//! devices on their next pull (and nobody else's grid), an officer may not
//! create or reassign a task but may complete his own, a visit saved on
//! the device completes the task, and the progress board counts it done.

use beatbook_core::tasks::TaskOpens;
use beatbook_core::{Core, VisitOutcome};
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::{GridId, RecordId};
use beatbook_schema::protocol::{ChangeOutcome, ErrorCode};
use beatbook_store::{AuditQuery, StoredRecord};
use beatbook_tests::browser::Browser;
use beatbook_tests::client::{device, sync};
use beatbook_tests::data::{house, obj, person};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

/// Enters a house in `grid` on `core` and finalizes it.
fn enter_house(core: &Core, grid: &str, owner: &str, house_use: &str) -> RecordId {
    let mut values = house(owner);
    values.insert("use".into(), json!(house_use));
    if house_use != "owner_occupied" {
        values.insert("tenant_count".into(), json!(12));
    }
    let mut session = core
        .new_record(form_ids::HOUSE, Some(&GridId::new(grid)), values)
        .expect("a new house");
    session.finalize().expect("a valid house");
    session.id()
}

/// The tasks stored on the server, by target house.
async fn task_of(server: &TestServer, house: RecordId) -> StoredRecord {
    let all = server
        .state
        .store
        .export_page(
            beatbook_store::ExportQuery {
                scope: beatbook_store::ReadScope::All,
                form: beatbook_schema::ids::FormId::new(form_ids::TASK),
                grid: None,
                created_from: None,
                created_before: None,
            },
            None,
            1000,
            1 << 24,
        )
        .await
        .expect("tasks read");
    all.records
        .into_iter()
        .find(|t| t.fields.get("house").and_then(|s| s.value.as_str()) == Some(&house.to_string()))
        .unwrap_or_else(|| panic!("a task on house {house}"))
}

fn field<'a>(record: &'a StoredRecord, name: &str) -> &'a str {
    record
        .fields
        .get(name)
        .and_then(|s| s.value.as_str())
        .unwrap_or("")
}

/// The (done, open, overdue) counts of `badge` on the progress board's HTML.
fn board_counts(body: &str, badge: &str) -> (u32, u32, u32) {
    let at = body
        .find(&format!("data-badge=\"{badge}\""))
        .unwrap_or_else(|| panic!("{badge} on the board: {body}"));
    let row = &body[at..at + body[at..].find("</tr>").expect("the row ends")];
    let count = |class: &str| -> u32 {
        let start = row
            .find(&format!("class=\"{class}"))
            .unwrap_or_else(|| panic!("{class} in {row}"));
        let text = &row[start..];
        let open = text.find('>').expect("cell opens") + 1;
        let close = text.find("</td>").expect("cell closes");
        text[open..close].trim().parse().expect("a count")
    };
    (count("done"), count("open"), count("overdue"))
}

async fn assign(b: &Browser, houses: &[RecordId], assignee: &str) -> beatbook_tests::browser::Page {
    b.open("/review/tasks?kind=visit&days=").await;
    let due = (Utc::now() + Duration::days(3)).date_naive().to_string();
    let targets: Vec<String> = houses.iter().map(RecordId::to_string).collect();
    let mut fields = vec![
        ("kind", "visit"),
        ("assignee", assignee),
        ("due", due.as_str()),
        ("instruction", "核查群租情况"),
    ];
    fields.extend(targets.iter().map(|t| ("target", t.as_str())));
    b.post("/review/tasks", &fields).await
}

#[tokio::test]
async fn tasks_assigned_on_the_review_pages_reach_the_device_complete_by_a_visit_and_show_done() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await;
    let (_d2, o2) = device(&server, "o2").await;
    let (_d3, a1) = device(&server, "a1").await;
    let rented = enter_house(&o1, "G1", "王芳", "group_rented");
    let own = enter_house(&o1, "G1", "李强", "owner_occupied");
    let far = enter_house(&o2, "G3", "赵敏", "group_rented");
    sync(&o1).await;
    sync(&o2).await;

    let s1 = Browser::signed_in(&server, "s1").await;
    // The filter of the kind the issue names: group-rented houses not visited in 90 days.
    let page = s1
        .open("/review/tasks?kind=visit&use=group_rented&days=90")
        .await;
    assert!(page.body.contains(&rented.to_string()), "{}", page.body);
    assert!(page.body.contains(&far.to_string()));
    assert!(
        !page.body.contains(&own.to_string()),
        "an owner-occupied house is filtered out"
    );

    let done = assign(&s1, &[rented], "a1").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        done.location().starts_with("/review/tasks/board?"),
        "{}",
        done.location()
    );
    assert_eq!(
        assign(&s1, &[own], "o1").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        assign(&s1, &[far], "o2").await.status,
        StatusCode::SEE_OTHER
    );
    let audit = server
        .state
        .store
        .audit_log(AuditQuery {
            station: None,
            action: Some("assign".into()),
            limit: 50,
            offset: 0,
        })
        .await
        .expect("audit");
    assert_eq!(audit.1, 3, "each assignment is audited");

    // The auxiliary of G1 pulls its task, and none of G3's.
    sync(&a1).await;
    let mine = a1.my_tasks().expect("tasks");
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].target, rented);
    assert_eq!(mine[0].instruction, "核查群租情况");
    let far_task = task_of(&server, far).await;
    assert!(
        a1.record(far_task.id).is_err(),
        "an auxiliary of G1 never receives a task of G3"
    );
    let on_a1 = a1
        .records(&beatbook_core::store::RecordFilter {
            form: Some(form_ids::TASK.into()),
            ..Default::default()
        })
        .expect("records");
    assert!(on_a1.iter().all(|t| t.grid.as_str() == "G1"), "{on_a1:?}");

    // Tapped, the task opens the visit on its house; the visit completes it.
    assert!(matches!(
        a1.task_opens(&mine[0]).expect("opens"),
        TaskOpens::Visit { house, .. } if house == rented
    ));
    let visit = a1
        .record_visit(rented, VisitOutcome::Unchanged)
        .expect("visit");
    assert!(a1.my_tasks().expect("tasks").is_empty());
    let report = sync(&a1).await;
    assert_eq!(report.rejected, 0, "{report:?}");
    let task = task_of(&server, rented).await;
    assert_eq!(field(&task, "status"), "done");
    assert_eq!(field(&task, "completed_by"), visit.to_string());

    let board = s1.open("/review/tasks/board").await;
    assert_eq!(board_counts(&board.body, "a1"), (1, 0, 0));
    assert_eq!(board_counts(&board.body, "o1"), (0, 1, 0));
    assert_eq!(board_counts(&board.body, "o2"), (0, 1, 0));
    assert!(
        board.body.contains(&format!("/review/records/{visit}")),
        "the board links the visit"
    );

    // Visited now: the house leaves the not-visited filter.
    let page = s1
        .open("/review/tasks?kind=visit&use=group_rented&days=90")
        .await;
    assert!(!page.body.contains(&rented.to_string()));
    assert!(page.body.contains(&far.to_string()));
}

#[tokio::test]
async fn an_officer_cannot_create_or_reassign_a_task_but_can_complete_his() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await;
    let h = enter_house(&o1, "G1", "王芳", "group_rented");
    sync(&o1).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    assert_eq!(assign(&s1, &[h], "o1").await.status, StatusCode::SEE_OTHER);
    let task = task_of(&server, h).await;

    let raw = TestDevice::enroll(&server.url, "o1", PASSWORD)
        .await
        .expect("enroll");
    let due = (Utc::now() + Duration::days(3)).date_naive().to_string();
    let mine =
        obj(json!({"kind": "visit", "house": h, "due": due, "assignee": "o1", "status": "open"}));
    let attempts = [
        (
            "create",
            raw.upsert(RecordId::new_v7(), form_ids::TASK, "G1", 0, mine),
        ),
        (
            "reassign",
            raw.upsert(
                task.id,
                form_ids::TASK,
                "G1",
                task.revision,
                obj(json!({"assignee": "o2"})),
            ),
        ),
        (
            "move the due date",
            raw.upsert(
                task.id,
                form_ids::TASK,
                "G1",
                task.revision,
                obj(json!({"due": "2099-01-01"})),
            ),
        ),
        (
            "cancel",
            raw.upsert(
                task.id,
                form_ids::TASK,
                "G1",
                task.revision,
                obj(json!({"status": "cancelled"})),
            ),
        ),
    ];
    for (what, change) in attempts {
        let answer = raw.push(vec![change]).await.expect("push answered");
        match &answer.results[0].outcome {
            ChangeOutcome::Rejected { code, message, .. } => {
                assert_eq!(*code, ErrorCode::Forbidden, "{what}");
                assert!(message.en.contains("supervisor"), "{what}: {}", message.en);
            }
            other => panic!("{what} is refused: {other:?}"),
        }
    }
    let unchanged = task_of(&server, h).await;
    assert_eq!(unchanged.revision, task.revision, "nothing was written");
    assert_eq!(field(&unchanged, "assignee"), "o1");

    // The same officer's own task, marked done, is accepted.
    let done = raw.upsert(
        task.id,
        form_ids::TASK,
        "G1",
        task.revision,
        obj(
            json!({"status": "done", "completed_by": RecordId::new_v7().to_string(),
                   "completed_at": Utc::now().to_rfc3339()}),
        ),
    );
    let answer = raw.push(vec![done]).await.expect("push answered");
    assert!(
        matches!(answer.results[0].outcome, ChangeOutcome::Accepted { .. }),
        "{:?}",
        answer.results[0].outcome
    );
    assert_eq!(field(&task_of(&server, h).await, "status"), "done");
}

#[tokio::test]
async fn a_task_goes_only_to_someone_of_the_targets_grid() {
    let server = TestServer::start().await;
    let (_d2, o2) = device(&server, "o2").await;
    let h = enter_house(&o2, "G3", "赵敏", "group_rented");
    sync(&o2).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let refused = assign(&s1, &[h], "a1").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("不负责网格"), "{}", refused.body);
    // A supervisor of another station cannot see the house at all.
    let s2 = Browser::signed_in(&server, "s2").await;
    assert_eq!(assign(&s2, &[h], "h1").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_board_counts_overdue_tasks_by_person_in_chinese_and_english() {
    let server = TestServer::start().await;
    // A task due yesterday, pushed from a supervisor's own device (the
    // pages refuse a due date in the past).
    let s1_phone = TestDevice::enroll(&server.url, "s1", PASSWORD)
        .await
        .expect("enroll");
    let yesterday = (Utc::now() - Duration::days(1)).date_naive().to_string();
    let late = obj(
        json!({"kind": "visit", "house": RecordId::new_v7(), "due": yesterday,
                          "assignee": "o1", "assignee_name": "测试o1", "status": "open"}),
    );
    let answer = s1_phone
        .push(vec![s1_phone.upsert(
            RecordId::new_v7(),
            form_ids::TASK,
            "G2",
            0,
            late,
        )])
        .await
        .expect("push answered");
    assert!(
        matches!(answer.results[0].outcome, ChangeOutcome::Accepted { .. }),
        "{:?}",
        answer.results[0].outcome
    );

    let s1 = Browser::signed_in(&server, "s1").await;
    let board = s1.open("/review/tasks/board").await;
    assert_eq!(board_counts(&board.body, "o1"), (0, 0, 1));
    assert!(board.body.contains("data-state=\"overdue\""));
    assert!(board.body.contains("任务进度"));
    let english = s1.open("/review/tasks/board?lang=en").await;
    assert!(english.body.contains("Task progress"), "{}", english.body);
    assert!(english.body.contains("Overdue"));
    assert_eq!(board_counts(&english.body, "o1"), (0, 0, 1));
    // Another station's supervisor sees none of it.
    let s2 = Browser::signed_in(&server, "s2").await;
    let theirs = s2.open("/review/tasks/board").await;
    assert!(!theirs.body.contains("data-badge=\"o1\""));
}

#[tokio::test]
async fn a_supervisor_reassigns_and_cancels_open_tasks_and_the_devices_follow() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await;
    let (_d3, a1) = device(&server, "a1").await;
    let first = enter_house(&o1, "G1", "王芳", "group_rented");
    let second = enter_house(&o1, "G1", "李强", "rented");
    sync(&o1).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    assert_eq!(
        assign(&s1, &[first, second], "o1").await.status,
        StatusCode::SEE_OTHER
    );
    sync(&o1).await;
    assert_eq!(o1.my_tasks().expect("tasks").len(), 2);

    let (moved, dropped) = (
        task_of(&server, first).await,
        task_of(&server, second).await,
    );
    s1.open("/review/tasks/board").await;
    let revision = moved.revision.to_string();
    let reassign = [
        ("action", "reassign"),
        ("assignee", "a1"),
        ("revision", revision.as_str()),
    ];
    let page = s1
        .post(&format!("/review/tasks/{}/change", moved.id), &reassign)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location().contains("notice=task_reassigned"));
    let stale = s1
        .post(&format!("/review/tasks/{}/change", moved.id), &reassign)
        .await;
    assert_eq!(
        stale.status,
        StatusCode::CONFLICT,
        "a change of what the page no longer shows is refused"
    );
    let revision = dropped.revision.to_string();
    let cancel = [("action", "cancel"), ("revision", revision.as_str())];
    let page = s1
        .post(&format!("/review/tasks/{}/change", dropped.id), &cancel)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        field(&task_of(&server, second).await, "status"),
        "cancelled"
    );

    sync(&o1).await;
    assert!(
        o1.my_tasks().expect("tasks").is_empty(),
        "reassigned away and cancelled"
    );
    sync(&a1).await;
    let theirs = a1.my_tasks().expect("tasks");
    assert_eq!(
        theirs.iter().map(|t| t.target).collect::<Vec<_>>(),
        vec![first]
    );

    let board = s1.open("/review/tasks/board").await;
    assert_eq!(board_counts(&board.body, "a1"), (0, 1, 0));
    assert_eq!(board_counts(&board.body, "o1"), (0, 0, 0));
    let audit = |action: &'static str| {
        server.state.store.audit_log(AuditQuery {
            station: None,
            action: Some(action.into()),
            limit: 10,
            offset: 0,
        })
    };
    assert_eq!(audit("reassign").await.expect("audit").1, 1);
    assert_eq!(audit("cancel").await.expect("audit").1, 1);
}

#[tokio::test]
async fn an_approved_record_is_not_offered_for_a_check_it_could_never_complete() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await;
    let h = enter_house(&o1, "G1", "王芳", "rented");
    let mut session = o1
        .new_record(form_ids::PERSON, None, person(h, "陈刚", 21))
        .expect("a new person");
    session.finalize().expect("a valid person");
    let someone = session.id();
    sync(&o1).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let page = s1.open("/review/tasks?kind=person_check").await;
    assert!(page.body.contains(&someone.to_string()), "{}", page.body);

    s1.open(&format!("/review/records/{someone}")).await;
    let revision = server
        .state
        .store
        .record(someone)
        .await
        .expect("read")
        .expect("stored")
        .revision
        .to_string();
    let approved = s1
        .post(
            &format!("/review/records/{someone}/decide"),
            &[("revision", revision.as_str()), ("decision", "approve")],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);

    let page = s1.open("/review/tasks?kind=person_check").await;
    assert!(
        !page.body.contains(&someone.to_string()),
        "approved: read-only on the phones"
    );
    let due = (Utc::now() + Duration::days(3)).date_naive().to_string();
    let target = someone.to_string();
    let refused = s1
        .post(
            "/review/tasks",
            &[
                ("kind", "person_check"),
                ("assignee", "o1"),
                ("due", due.as_str()),
                ("target", target.as_str()),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("approved"), "{}", refused.body);
}
