//! Conflicts told (issue 16): when a same-field conflict overwrote an
//! officer's value, the phone that wrote it says so on the record — which
//! value won, who wrote it, the officer's value — and re-applying the
//! officer's value is a new change that stands. Two real devices (an
//! officer and an auxiliary officer of grid G1) against the real server.

use std::time::Duration;

use beatbook_core::store::LocalState;
use beatbook_core::Core;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;
use beatbook_tests::client::{device, sync};
use beatbook_tests::data::obj;
use beatbook_tests::TestServer;
use serde_json::json;
use tempfile::TempDir;

struct Two {
    _server: TestServer,
    _dirs: (TempDir, TempDir),
    officer: Core,
    auxiliary: Core,
    visit: RecordId,
}

fn name(core: &Core) -> String {
    core.user().expect("user").expect("enrolled").name
}

/// A visit entered by the officer, synced to both phones.
async fn a_visit_on_two_phones() -> Two {
    let server = TestServer::start().await;
    let (officer_dir, officer) = device(&server, "o1").await;
    let (auxiliary_dir, auxiliary) = device(&server, "a1").await;
    let mut address = officer
        .new_record(
            form_ids::ADDRESS,
            None,
            obj(
                json!({"division_code": "320614", "town": "海门街道", "community": "人民社区",
                "road": "人民路", "door_number": "12"}),
            ),
        )
        .expect("address");
    address.finalize().expect("address valid");
    let mut visit = officer
        .new_record(
            form_ids::VISIT,
            None,
            obj(
                json!({"address": address.id(), "purpose": "safety_check", "outcome": "updated",
                "observations": "楼道整洁"}),
            ),
        )
        .expect("visit");
    visit.finalize().expect("visit valid");
    sync(&officer).await;
    sync(&auxiliary).await;
    assert!(
        auxiliary.record(visit.id()).is_ok(),
        "the visit reached the auxiliary's phone"
    );
    Two {
        _server: server,
        _dirs: (officer_dir, auxiliary_dir),
        officer,
        auxiliary,
        visit: visit.id(),
    }
}

/// Edits the visit's observations offline on `core`.
fn observe(core: &Core, visit: RecordId, text: &str) {
    let mut s = core.open_record(visit).expect("open");
    s.set("observations", json!(text)).expect("set");
    s.finalize().expect("finalize");
}

#[tokio::test]
async fn a_value_overwritten_by_a_later_push_is_told_on_the_pull_and_reapplied_in_one_tap() {
    let t = a_visit_on_two_phones().await;
    // The officer writes first and syncs first; the auxiliary writes later
    // (a later clock) on the same revision and wins when syncing second.
    observe(&t.officer, t.visit, "灭火器过期");
    tokio::time::sleep(Duration::from_millis(5)).await;
    observe(&t.auxiliary, t.visit, "楼道堆放纸箱");
    sync(&t.officer).await;
    assert_eq!(
        sync(&t.auxiliary).await.conflicted,
        1,
        "a same-field conflict"
    );
    let winner = t.auxiliary.open_record(t.visit).unwrap();
    assert!(
        winner.lost_values().unwrap().is_empty(),
        "its value won: nothing lost here"
    );
    sync(&t.officer).await;

    let mut s = t.officer.open_record(t.visit).expect("open");
    assert_eq!(
        s.values()["observations"],
        json!("楼道堆放纸箱"),
        "the winner stands"
    );
    let lost = s.lost_values().expect("lost values");
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].field, "observations");
    assert_eq!(lost[0].winning, json!("楼道堆放纸箱"));
    assert_eq!(lost[0].mine, json!("灭火器过期"));
    assert_eq!(
        lost[0].winner_name.as_deref(),
        Some(name(&t.auxiliary).as_str())
    );
    assert_eq!(lost[0].winner_device, t.auxiliary.device_id());

    // One tap: the officer's value again, as a new change.
    s.reapply_lost("observations").expect("re-applied");
    assert_eq!(s.state(), LocalState::Queued);
    assert!(s.lost_values().unwrap().is_empty(), "told once");
    let report = sync(&t.officer).await;
    assert_eq!(
        (report.accepted, report.conflicted),
        (1, 0),
        "based on the winner: no new conflict"
    );
    sync(&t.auxiliary).await;
    for core in [&t.officer, &t.auxiliary] {
        let r = core.record(t.visit).expect("record");
        assert_eq!(r.values["observations"], json!("灭火器过期"));
        assert!(core
            .open_record(t.visit)
            .unwrap()
            .lost_values()
            .unwrap()
            .is_empty());
    }
    // A later sync does not tell it again.
    sync(&t.officer).await;
    assert!(t
        .officer
        .open_record(t.visit)
        .unwrap()
        .lost_values()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_value_that_loses_at_push_time_is_told_from_the_answer_with_the_winner_named() {
    let t = a_visit_on_two_phones().await;
    // The auxiliary writes first but syncs last: its earlier clock loses.
    observe(&t.auxiliary, t.visit, "无异常");
    tokio::time::sleep(Duration::from_millis(5)).await;
    observe(&t.officer, t.visit, "电动车楼道充电");
    sync(&t.officer).await;
    let report = sync(&t.auxiliary).await;
    assert_eq!(report.conflicted, 1);

    let s = t.auxiliary.open_record(t.visit).expect("open");
    assert_eq!(s.values()["observations"], json!("电动车楼道充电"));
    let lost = s.lost_values().expect("lost values");
    assert_eq!(
        lost.len(),
        1,
        "told once, though both the answer and the pull carry it"
    );
    assert_eq!(lost[0].mine, json!("无异常"));
    assert_eq!(lost[0].winning, json!("电动车楼道充电"));
    assert_eq!(
        lost[0].winner_name.as_deref(),
        Some(name(&t.officer).as_str())
    );

    // Keeping the winner forgets it; the officer's phone never lost anything.
    s.keep_winner("observations").expect("kept");
    assert!(s.lost_values().unwrap().is_empty());
    sync(&t.officer).await;
    assert!(t
        .officer
        .open_record(t.visit)
        .unwrap()
        .lost_values()
        .unwrap()
        .is_empty());
}
