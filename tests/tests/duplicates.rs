//! Duplicate people against the real server: one citizen ID number recorded
//! in two grids by two officers' devices is listed for their station's
//! supervisor side by side; resolving it as a move, keeping one, or marking
//! the two distinct reaches both devices on their next pull (or keeps it off
//! the list); the device's own check says where a number is recorded among
//! its records; and nobody outside the supervisors learns an ID number from
//! another grid through any of it.

use beatbook_core::store::LocalState;
use beatbook_core::Core;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::PullItem;
use beatbook_store::AuditQuery;
use beatbook_tests::browser::{Browser, Page};
use beatbook_tests::client::{device, sync};
use beatbook_tests::data::{citizen_id, house, person};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use reqwest::StatusCode;

/// The sequence number every shared ID number here is made with.
const SEQ: u16 = 41;

fn shared_number() -> String {
    citizen_id("320614", "19850615", SEQ)
}

/// Enters a house and, living there, a person with the shared ID number
/// (`seq` [`SEQ`]) or another; returns the person's id.
fn enter_person(core: &Core, name: &str, seq: u16) -> RecordId {
    let mut h = core
        .new_record("house", None, house("房东"))
        .expect("house");
    h.finalize().expect("valid house");
    let mut p = core
        .new_record("person", None, person(h.id(), name, seq))
        .expect("person");
    p.finalize().expect("valid person");
    p.id()
}

async fn revision(server: &TestServer, id: RecordId) -> String {
    server
        .state
        .store
        .record(id)
        .await
        .expect("read")
        .expect("exists")
        .revision
        .to_string()
}

/// Posts a resolution from the duplicates page (opened first, for its CSRF token).
async fn resolve(
    b: &Browser,
    server: &TestServer,
    keep: RecordId,
    retire: RecordId,
    resolution: &str,
) -> Page {
    b.open("/review/duplicates").await;
    let (keep_rev, retire_rev) = (revision(server, keep).await, revision(server, retire).await);
    b.post(
        "/review/duplicates/resolve",
        &[
            ("keep", &keep.to_string()),
            ("keep_revision", &keep_rev),
            ("retire", &retire.to_string()),
            ("retire_revision", &retire_rev),
            ("resolution", resolution),
            ("back", "/review/duplicates"),
        ],
    )
    .await
}

async fn audit_actions(server: &TestServer, action: &str) -> Vec<serde_json::Value> {
    let (entries, _) = server
        .state
        .store
        .audit_log(AuditQuery {
            station: None,
            action: Some(action.into()),
            limit: 10,
            offset: 0,
        })
        .await
        .expect("audit");
    entries.into_iter().map(|e| e.entry.detail).collect()
}

#[tokio::test]
async fn one_number_in_two_grids_is_listed_and_a_move_reaches_both_devices() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await; // grid G1
    let (_d2, o2) = device(&server, "o2").await; // grid G3
    let old = enter_person(&o1, "陈小明", SEQ);
    let new = enter_person(&o2, "陈小明", SEQ);
    sync(&o1).await;
    sync(&o2).await;
    let number = shared_number();

    let s1 = Browser::signed_in(&server, "s1").await;
    let page = s1.open("/review/duplicates").await;
    assert!(page.body.contains(&number), "the number is listed");
    for id in [old, new] {
        assert!(
            page.body.contains(&format!("/review/records/{id}")),
            "{id} side by side"
        );
    }
    for shown in ["网格G1", "网格G3", "陈小明", "测试o1", "测试o2"] {
        assert!(page.body.contains(shown), "{shown} shown");
    }
    let admin = Browser::signed_in(&server, "admin").await;
    assert!(admin
        .open("/review/duplicates")
        .await
        .body
        .contains(&number));
    let s2 = Browser::signed_in(&server, "s2").await;
    let other_station = s2.open("/review/duplicates").await;
    assert!(
        !other_station.body.contains(&number),
        "another station's supervisor sees nothing"
    );
    assert_eq!(
        resolve(&s2, &server, new, old, "move").await.status,
        StatusCode::NOT_FOUND,
        "nor resolves it"
    );

    // o2's record is in the new grid: the person moved from G1 to G3.
    let done = resolve(&s1, &server, new, old, "move").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done
        .location()
        .starts_with("/review/duplicates?notice=moved"));
    let after = s1.open(done.location()).await;
    assert!(!after.body.contains(&number), "resolved: no longer listed");
    assert!(after.body.contains("已登记迁移"));

    sync(&o1).await;
    sync(&o2).await;
    assert!(
        o1.record(old).map_or(true, |r| r.deleted),
        "the old grid's device drops the closed record"
    );
    assert!(
        o1.id_number_recorded_at(&number, None)
            .expect("lookup")
            .is_empty(),
        "and no longer finds the number"
    );
    let kept = o2.record(new).expect("kept on the new grid's device");
    assert!(!kept.deleted);
    assert_eq!(
        kept.state,
        LocalState::Approved,
        "the kept record comes back approved"
    );

    let moves = audit_actions(&server, "duplicate_move").await;
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0]["kept"], new.to_string());
    assert_eq!(moves[0]["retired"], old.to_string());
    assert_eq!(
        (
            moves[0]["retired_grid"].as_str(),
            moves[0]["kept_grid"].as_str()
        ),
        (Some("G1"), Some("G3"))
    );
    assert!(
        !moves[0].to_string().contains(&number),
        "no ID number in the audit log"
    );
}

#[tokio::test]
async fn keeping_one_retires_the_other_and_a_move_within_one_grid_is_refused() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await;
    let first = enter_person(&o1, "王芳", SEQ);
    let second = enter_person(&o1, "王芳", SEQ);
    sync(&o1).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let page = s1.open("/review/duplicates").await;
    assert!(
        !page.body.contains("value=\"move\""),
        "one grid: no move offered"
    );
    let refused = resolve(&s1, &server, first, second, "move").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        revision(&server, first).await,
        "1",
        "a refused move writes nothing"
    );

    let done = resolve(&s1, &server, first, second, "keep").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    sync(&o1).await;
    assert!(o1.record(second).map_or(true, |r| r.deleted));
    assert_eq!(o1.record(first).expect("kept").state, LocalState::Approved);
    let found = o1
        .id_number_recorded_at(&shared_number(), None)
        .expect("lookup");
    assert_eq!(
        found.iter().map(|f| f.record.id).collect::<Vec<_>>(),
        vec![first]
    );
    // A stale form (the pair resolved already) changes nothing more.
    let again = resolve(&s1, &server, first, second, "keep").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(audit_actions(&server, "duplicate_keep").await.len(), 1);
}

#[tokio::test]
async fn a_pair_marked_distinct_is_not_listed_again_and_neither_record_changes() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await;
    let (_d2, o2) = device(&server, "o2").await;
    let a = enter_person(&o1, "李娜", SEQ);
    let b = enter_person(&o2, "李纳", SEQ);
    sync(&o1).await;
    sync(&o2).await;
    let s1 = Browser::signed_in(&server, "s1").await;
    let done = resolve(&s1, &server, a, b, "distinct").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = s1.open(done.location()).await;
    assert!(!page.body.contains(&shared_number()), "not listed again");
    assert!(page.body.contains("不再列出"));
    for id in [a, b] {
        assert_eq!(revision(&server, id).await, "1", "{id} unchanged");
    }
    assert_eq!(audit_actions(&server, "duplicate_distinct").await.len(), 1);

    // A third record of the number lists the group again, the marked pair shown as such.
    let (_d3, o1b) = device(&server, "o1").await;
    enter_person(&o1b, "李娜", SEQ);
    sync(&o1b).await;
    let page = s1.open("/review/duplicates").await;
    assert!(page.body.contains(&shared_number()));
    assert!(page.body.contains("已确认为不同的人"));
}

#[tokio::test]
async fn the_device_says_where_a_number_is_recorded_among_its_own_records_only() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await; // G1 and G2
    let (_d2, o2) = device(&server, "o2").await; // G3
    let (_da, a1) = device(&server, "a1").await; // auxiliary of G1
    let here = enter_person(&o1, "赵敏", SEQ);
    enter_person(&o2, "赵敏", 43);
    sync(&o1).await;
    sync(&o2).await;
    sync(&a1).await;
    let number = shared_number();
    let found = o1.id_number_recorded_at(&number, None).expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].record.id, found[0].name.as_str()), (here, "赵敏"));
    let house = found[0].house.expect("names its house");
    assert!(o1.pick_label("house", house).expect("label").is_some());
    assert!(
        o1.id_number_recorded_at(&number.to_lowercase(), None)
            .expect("lookup")
            .len()
            == 1,
        "a lower-case check character finds it too"
    );
    assert!(
        o1.id_number_recorded_at(&number, Some(here))
            .expect("lookup")
            .is_empty(),
        "not itself"
    );
    assert!(
        o1.id_number_recorded_at(&number[..17], None)
            .expect("lookup")
            .is_empty(),
        "nothing before it validates"
    );
    // The auxiliary of G1 pulled o1's person (its grid) and finds it;
    // o2's number, recorded in G3, is not on its device at all.
    assert_eq!(
        a1.id_number_recorded_at(&number, None)
            .expect("lookup")
            .len(),
        1
    );
    let g3_number = citizen_id("320614", "19850615", 43);
    assert!(a1
        .id_number_recorded_at(&g3_number, None)
        .expect("lookup")
        .is_empty());
    assert!(
        o2.id_number_recorded_at(&number, None)
            .expect("lookup")
            .is_empty(),
        "o2 holds G3 only"
    );
}

#[tokio::test]
async fn an_auxiliary_learns_no_id_number_from_another_grid_through_duplicates() {
    let server = TestServer::start().await;
    let (_d1, o1) = device(&server, "o1").await; // G1
    let (_d2, o2) = device(&server, "o2").await; // G3
    enter_person(&o1, "孙丽", SEQ);
    enter_person(&o2, "孙丽", SEQ);
    let outside = citizen_id("320614", "19850615", 47);
    enter_person(&o2, "周强", 47);
    enter_person(&o2, "周强", 47);
    sync(&o1).await;
    sync(&o2).await;

    // Its pull: G1's records only, so none of G3's numbers, duplicated or not.
    let aux = TestDevice::enroll(&server.url, "a1", PASSWORD)
        .await
        .expect("enroll");
    let (items, _) = aux
        .pull_all(beatbook_schema::protocol::Cursor(0), 100)
        .await
        .expect("pull");
    let pulled = serde_json::to_string(&items).expect("json");
    assert!(
        !pulled.contains(&outside),
        "no G3 number in the auxiliary's pull"
    );
    assert!(items.iter().all(|i| match i {
        PullItem::Record { version, .. } => version.record.grid.as_str() == "G1",
        _ => true,
    }));

    // The page is supervisors' and admins': not signed in, signed in as an
    // auxiliary or an officer, or with a device's token, nothing of it.
    let nobody = Browser::new(&server);
    let page = nobody.get("/review/duplicates").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(!page.body.contains(&outside));
    for badge in ["a1", "o1"] {
        let b = Browser::new(&server);
        assert_eq!(
            b.sign_in(badge, PASSWORD).await.status,
            StatusCode::FORBIDDEN
        );
        let page = b.get("/review/duplicates").await;
        assert_ne!(page.status, StatusCode::OK, "{badge}");
        assert!(!page.body.contains(&outside));
        let post = b
            .post_as_is(
                "/review/duplicates/resolve",
                &[("keep", "x"), ("retire", "y"), ("resolution", "distinct")],
            )
            .await;
        assert_ne!(
            post.status,
            StatusCode::SEE_OTHER,
            "{badge} resolves nothing"
        );
    }
    let with_token = aux
        .request(reqwest::Method::GET, "/review/duplicates")
        .send()
        .await
        .expect("request");
    assert_ne!(with_token.status(), StatusCode::OK);
    assert!(!with_token
        .text()
        .await
        .unwrap_or_default()
        .contains(&outside));
    // The supervisor does see it.
    let s1 = Browser::signed_in(&server, "s1").await;
    assert!(s1.open("/review/duplicates").await.body.contains(&outside));
}
