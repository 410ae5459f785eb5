//! Forms published live, by role, retired (issues 12.6 and 13.2): a form
//! published with the admin CLI against the running server's data reaches a
//! real device on its next sync and a record of it is accepted without a
//! restart; a draft started on an older version finishes on that version
//! while new records use the newer; a device offers each role exactly the
//! forms the server takes from it; a retired form leaves the chooser, the
//! server refuses new records of it and edits of its existing records
//! still finish.

use std::path::Path;

use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_core::{Core, CoreError};
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::FormDef;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ChangeOutcome, ErrorCode, Role};
use beatbook_tests::client::{device, sync};
use beatbook_tests::data::{obj, reading_form};
use beatbook_tests::process::server_command;
use beatbook_tests::TestServer;
use serde_json::json;

/// `beatbook-server form <args>` against the running server's data; its
/// standard output.
fn admin(server: &TestServer, args: &[&str]) -> String {
    let out = server_command(server.data_dir())
        .arg("form")
        .args(args)
        .output()
        .expect("the admin CLI runs");
    assert!(
        out.status.success(),
        "form {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Publishes `def` with `beatbook-server form publish`.
fn publish(server: &TestServer, def: &FormDef) -> String {
    let file = server
        .data_dir()
        .join(format!("{}.v{}.json", def.form_id, def.version));
    std::fs::write(&file, serde_json::to_vec(def).expect("serializes")).expect("written");
    admin(server, &["publish", path(&file)])
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// `reading` at `version`, for `roles`.
fn reading(version: u32, roles: &[Role]) -> FormDef {
    FormDef {
        roles: Some(roles.to_vec()),
        ..reading_form(version)
    }
}

fn offered(core: &Core) -> Vec<String> {
    core.offered_forms()
        .expect("forms read")
        .iter()
        .map(|f| f.id().to_string())
        .collect()
}

/// The record's local state and its form version.
fn state_of(core: &Core, id: RecordId) -> (LocalState, u32) {
    let r = core.record(id).expect("the record is on the device");
    (r.state, r.form_version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_published_on_the_running_server_reaches_devices_and_its_records_are_accepted() {
    let server = TestServer::start().await;
    let (_a, auxiliary) = device(&server, "a1").await;
    let (_o, officer) = device(&server, "o1").await;
    sync(&auxiliary).await;
    assert!(!offered(&auxiliary).contains(&"reading".to_owned()));

    let said = publish(&server, &reading(1, &[Role::Auxiliary, Role::Officer]));
    assert!(said.contains("published reading v1"), "{said}");

    // The app runs on: the next sync brings the form to its chooser.
    let report = sync(&auxiliary).await;
    assert!(report.references_changed, "the pull brought a form");
    assert!(offered(&auxiliary).contains(&"reading".to_owned()));
    let mut session = auxiliary
        .new_record("reading", None, Default::default())
        .expect("the auxiliary may start one");
    session.set("note", json!("水表 0423")).expect("set");
    session.finalize().expect("finalize");
    let id = session.id();
    let report = sync(&auxiliary).await;
    assert_eq!((report.accepted, report.rejected), (1, 0), "{report:?}");
    assert_eq!(state_of(&auxiliary, id), (LocalState::Synced, 1));

    // The officer's device, synced after, has the form and the record.
    sync(&officer).await;
    assert!(offered(&officer).contains(&"reading".to_owned()));
    assert_eq!(
        officer.record(id).expect("pulled").values["note"],
        json!("水表 0423")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_started_on_an_older_version_finishes_on_it_and_new_records_use_the_newer() {
    let server = TestServer::start().await;
    publish(&server, &reading(1, &[Role::Officer]));
    let (_o, officer) = device(&server, "o1").await;
    sync(&officer).await;
    let mut draft = officer
        .new_record("reading", None, Default::default())
        .expect("start");
    draft.set("note", json!("v1 草稿")).expect("set");
    let draft = draft.id();

    // v2 asks for more; the open draft keeps v1 across the sync.
    let mut v2 = reading(2, &[Role::Officer]);
    v2.sections[0].fields[0].required = true;
    v2.sections[0].fields.push(
        serde_json::from_value(json!({
            "name": "meter", "label": {"zh": "表号", "en": "Meter"},
            "kind": {"type": "text"}, "required": true
        }))
        .expect("a field"),
    );
    publish(&server, &v2);
    sync(&officer).await;
    assert_eq!(officer.form("reading").expect("known").version(), 2);

    let mut resumed = officer.open_record(draft).expect("the draft opens");
    assert_eq!(resumed.form().version(), 1, "finished on its own version");
    resumed
        .finalize()
        .expect("valid under v1 (no meter needed)");
    let mut fresh = officer
        .new_record("reading", None, Default::default())
        .expect("start");
    assert_eq!(fresh.form().version(), 2);
    fresh.set("note", json!("v2")).expect("set");
    fresh.set("meter", json!("M-7")).expect("set");
    fresh.finalize().expect("valid under v2");
    let fresh = fresh.id();

    let report = sync(&officer).await;
    assert_eq!((report.accepted, report.rejected), (2, 0), "{report:?}");
    assert_eq!(state_of(&officer, draft), (LocalState::Synced, 1));
    assert_eq!(state_of(&officer, fresh), (LocalState::Synced, 2));
    for (id, version) in [(draft, 1), (fresh, 2)] {
        let stored = server
            .state
            .store
            .record(id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.form_version, version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_offered_exactly_the_forms_the_server_takes_from_it() {
    let server = TestServer::start().await;
    publish(&server, &reading(1, &[Role::Auxiliary]));
    for (badge, role) in [("a1", Role::Auxiliary), ("o1", Role::Officer)] {
        let (_d, core) = device(&server, badge).await;
        sync(&core).await;
        let offered = offered(&core);
        let wire = server.device(badge).await;
        let forms = server.state.forms();
        let mut latest: Vec<_> = forms
            .all()
            .map(|f| f.id().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        latest.sort();
        for form in latest {
            let version = forms.latest(&form).expect("published").version();
            let mut change = wire.upsert(RecordId::new_v7(), &form, "G1", 0, obj(json!({})));
            change.form_version = version;
            let answer = wire.push(vec![change]).await.expect("answered");
            let refused_for_role = matches!(
                answer.results[0].outcome,
                ChangeOutcome::Rejected {
                    code: ErrorCode::Forbidden,
                    ..
                }
            );
            assert_eq!(
                offered.contains(&form),
                !refused_for_role,
                "{role:?}, form {form}: offered {offered:?}, server {:?}",
                answer.results[0].outcome
            );
        }
        let registers = [form_ids::PERSON, form_ids::HOUSE, form_ids::UNIT];
        match role {
            Role::Auxiliary => {
                for f in registers {
                    assert!(!offered.contains(&f.to_owned()), "{f}");
                    assert!(matches!(
                        core.new_record(f, None, Default::default()),
                        Err(CoreError::NotOffered(_))
                    ));
                }
                assert!(offered.contains(&"reading".to_owned()));
                assert!(offered.contains(&form_ids::HAZARD.to_owned()));
            }
            _ => {
                for f in registers {
                    assert!(offered.contains(&f.to_owned()), "{f}");
                }
                assert!(!offered.contains(&"reading".to_owned()), "auxiliaries only");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_form_leaves_the_chooser_takes_no_new_records_and_existing_ones_still_finish() {
    let server = TestServer::start().await;
    publish(&server, &reading(1, &[Role::Officer]));
    let (_o, officer) = device(&server, "o1").await;
    sync(&officer).await;
    let mut kept = officer
        .new_record("reading", None, Default::default())
        .expect("start");
    kept.set("note", json!("已提交")).expect("set");
    kept.finalize().expect("finalize");
    let kept = kept.id();
    sync(&officer).await;
    assert_eq!(state_of(&officer, kept), (LocalState::Synced, 1));

    // Before the retirement: an edit of the record the server has, and a
    // new record never sent, both left as drafts.
    let mut edit = officer.open_record(kept).expect("opens");
    edit.set("note", json!("已提交，后补充")).expect("set");
    let mut unsent = officer
        .new_record("reading", None, Default::default())
        .expect("start");
    unsent.set("note", json!("未发送")).expect("set");
    let unsent = unsent.id();

    let said = admin(&server, &["retire", "reading"]);
    assert!(said.contains("retired reading (v2)"), "{said}");
    let again = admin(&server, &["retire", "reading"]);
    assert!(again.contains("already retired (v2)"), "{again}");
    assert!(admin(&server, &["list"]).contains("reading v2  读数  (retired)"));
    // The running server reads forms published by another process within the floor.
    tokio::time::sleep(beatbook_server::sync::RELOAD_FLOOR).await;

    edit.finalize().expect("the edit finishes");
    officer
        .open_record(unsent)
        .expect("opens")
        .finalize()
        .expect("finalizes on the device");
    let report = sync(&officer).await;
    assert_eq!((report.accepted, report.rejected), (1, 1), "{report:?}");
    assert_eq!(state_of(&officer, kept), (LocalState::Synced, 1));
    let refused = officer.record(unsent).expect("kept on the device");
    assert_eq!(refused.state, LocalState::Rejected);
    let rejection = refused.rejection.expect("the reason is kept");
    assert_eq!(rejection.code, ErrorCode::FormRetired);
    assert!(
        rejection.message.en.contains("retired") && rejection.message.zh.contains("停用"),
        "{:?}",
        rejection.message
    );

    // The device heard of it: gone from the chooser, no new record starts.
    assert!(!offered(&officer).contains(&"reading".to_owned()));
    assert!(matches!(
        officer.new_record("reading", None, Default::default()),
        Err(CoreError::NotOffered(_))
    ));
    let stored = server
        .state
        .store
        .record(kept)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        stored.fields["note"].value,
        json!("已提交，后补充"),
        "the edit was applied"
    );
    assert!(officer
        .records(&RecordFilter::default())
        .expect("records")
        .iter()
        .all(|r| r.form_id.as_str() != "reading" || r.form_version == 1));
}
