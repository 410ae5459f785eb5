//! An admin changes an officer's grids: the officer's phone, which pulls on
//! from its saved cursor, still receives the added grid's records written
//! before the change, and lets go of the records of a grid taken away —
//! except an unpushed edit, which stays and is refused as out of scope.

use beatbook_core::store::LocalState;
use beatbook_core::Core;
use beatbook_schema::ids::{GridId, RecordId};
use beatbook_schema::protocol::{ChangeOutcome, ErrorCode, Role};
use beatbook_server::accounts;
use beatbook_tests::client::{device, house_ids, sync};
use beatbook_tests::data::house;
use beatbook_tests::TestServer;
use serde_json::json;

/// The admin pages' change of role and grids, as they make it.
async fn set_grids(server: &TestServer, badge: &str, grids: &[&str]) {
    accounts::set_role_and_grids(
        server.state.store.as_ref(),
        badge,
        Role::Officer,
        grids.iter().map(|g| GridId::new(*g)).collect(),
    )
    .await
    .expect("the admin changes the grids");
}

fn enter_house(core: &Core, grid: &str, owner: &str) -> RecordId {
    let mut session = core
        .new_record("house", Some(&GridId::new(grid)), house(owner))
        .expect("new house");
    session.finalize().expect("valid house");
    session.id()
}

fn grids_of(core: &Core) -> Vec<String> {
    core.user()
        .expect("read")
        .expect("enrolled")
        .grids
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_added_brings_its_older_records_and_a_grid_removed_leaves_the_phone() {
    let server = TestServer::start().await;
    // o2 (G3) writes a house in G3 long before o1 may see G3.
    let o2 = server.device("o2").await;
    let older = RecordId::new_v7();
    let answer = o2
        .push(vec![o2.upsert(
            older,
            "house",
            "G3",
            0,
            house("三网格旧户"),
        )])
        .await
        .expect("o2 pushes");
    assert!(matches!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { .. }
    ));

    // o1 (G1, G2) syncs two houses in G1: the cursor is now past G3's house.
    let (_dir, core) = device(&server, "o1").await;
    let kept = enter_house(&core, "G1", "一网格甲");
    let edited = enter_house(&core, "G1", "一网格乙");
    sync(&core).await;
    assert!(core.record(older).is_err(), "G3 is not o1's yet");
    assert_eq!(house_ids(&core, None).len(), 2);

    // Added: the next sync holds the house written before the change.
    set_grids(&server, "o1", &["G1", "G2", "G3"]).await;
    sync(&core).await;
    let pulled = core
        .record(older)
        .expect("the added grid's older record is pulled");
    assert_eq!(pulled.values["owner_name"], "三网格旧户");
    assert_eq!(grids_of(&core), ["G1", "G2", "G3"]);
    // Pulling again from cursor 0 applied o1's own houses again: once each.
    assert_eq!(house_ids(&core, None).len(), 3);
    assert_eq!(
        core.record(kept).expect("kept").state,
        LocalState::Synced,
        "a version pulled again changes nothing"
    );

    // o1 edits a G1 house on the phone, then the admin takes G1 away.
    let mut session = core.open_record(edited).expect("open");
    session.set("owner_name", json!("一网格乙改")).expect("set");
    session.finalize().expect("finalize");
    set_grids(&server, "o1", &["G2", "G3"]).await;
    sync(&core).await;

    assert!(
        core.record(kept).is_err(),
        "the removed grid's synced record leaves the phone"
    );
    let unpushed = core
        .record(edited)
        .expect("the unpushed edit stays on the phone");
    assert_eq!(unpushed.values["owner_name"], "一网格乙改");
    assert_eq!(unpushed.state, LocalState::Rejected);
    let rejection = unpushed.rejection.expect("the refusal is kept");
    assert_eq!(rejection.code, ErrorCode::OutOfScope);
    assert!(
        rejection
            .message
            .en
            .contains("not one of yours (an admin may have changed your grids)"),
        "{:?}",
        rejection.message
    );
    assert!(core.record(older).is_ok(), "G3 stays");
    assert_eq!(grids_of(&core), ["G2", "G3"]);

    // A further sync with the same grids changes nothing more.
    sync(&core).await;
    assert_eq!(
        house_ids(&core, None),
        [edited, older].into_iter().collect()
    );
}
