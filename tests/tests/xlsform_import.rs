//! A form designed in Excel (an XLSForm workbook) imported by the admin CLI
//! (`beatbook-server form import`) is published through the same path as
//! `form publish`, and a device's record of it is accepted; a workbook with
//! mistakes publishes nothing and names every mistake's cell; `form export`
//! writes a published form as a workbook that reads back unchanged.

use beatbook_schema::form::FormDef;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::ChangeOutcome;
use beatbook_tests::data::obj;
use beatbook_tests::org::Org;
use beatbook_tests::process::{seed, server_command};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use serde_json::json;

/// A meter-reading form with a constraint, as the admin would design it.
fn meter_form() -> FormDef {
    serde_json::from_value(json!({
        "form_id": "meter_reading", "version": 2026113001,
        "title": {"zh": "水表读数", "en": "Meter reading"},
        "sections": [{"id": "main", "title": {"zh": "读数", "en": "Reading"}, "fields": [
            {"name": "reading", "label": {"zh": "读数", "en": "Reading"}, "kind": {"type": "integer", "min": 0},
             "required": true,
             "constraint": {"expr": ". < 100000", "message": {"zh": "读数过大", "en": "Too large"}}},
            {"name": "remark", "label": {"zh": "备注", "en": "Remark"}, "kind": {"type": "text"},
             "relevant": "reading > 50000"}
        ]}]
    }))
    .expect("a form definition")
}

fn run(dir: &std::path::Path, args: &[&str], file: &std::path::Path) -> std::process::Output {
    server_command(dir)
        .args(args)
        .arg(file)
        .output()
        .expect("the admin CLI runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_imported_by_the_admin_cli_is_published_and_used_and_forms_export_to_workbooks()
{
    let dir = tempfile::tempdir().expect("temp dir");
    seed(dir.path(), &Org::standard(), &[]).await;

    // A workbook with mistakes: nothing is published, each mistake is located.
    let bad = dir.path().join("bad.xlsx");
    let mut broken = meter_form();
    broken.sections[0].fields[1].relevant = Some("reading > 50000 and nope == 1".into());
    std::fs::write(&bad, beatbook_xlsform::export(&broken).expect("export")).expect("write");
    let out = run(dir.path(), &["form", "import"], &bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused");
    assert!(
        stderr.contains("sheet 'survey', row 4, column H (relevant): at character 24 of the expression: there is no question named 'nope'"),
        "{stderr}"
    );
    assert!(stderr.contains("1 problem(s) in"), "{stderr}");

    // `--check` reads without publishing.
    let good = dir.path().join("meter_reading.xlsx");
    std::fs::write(
        &good,
        beatbook_xlsform::export(&meter_form()).expect("export"),
    )
    .expect("write");
    let out = run(dir.path(), &["form", "import", "--check"], &good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("meter_reading v2026113001 reads without problems"));

    let out = run(dir.path(), &["form", "import"], &good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("published meter_reading v2026113001"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(dir.path(), &["form", "import"], &good);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already published (unchanged)"));

    // A standard form, exported to edit in Excel, reads back as it was.
    let house = dir.path().join("house.xlsx");
    let out = run(dir.path(), &["form", "export", "house"], &house);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = beatbook_xlsform::import(&std::fs::read(&house).expect("written")).expect("imports");
    let standard = beatbook_schema::catalogue::standard_forms().expect("catalogue");
    let standard_house = standard
        .iter()
        .find(|f| f.id().as_str() == "house")
        .expect("house");
    assert_eq!(&back, standard_house.def());
    let out = run(dir.path(), &["form", "export", "nothing"], &house);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no published form nothing: see `form list`")
    );

    // The server serves the imported form, checks records by it, and accepts a good one.
    let state = beatbook_server::open(beatbook_tests::backend::config(dir.path()))
        .await
        .expect("server state opens");
    let form = state
        .forms()
        .all()
        .find(|f| f.id().as_str() == "meter_reading")
        .map(|f| f.def().clone())
        .expect("published");
    assert_eq!(form, meter_form(), "the definition the workbook came from");
    let server = TestServer::serve(state, dir).await;
    let device = TestDevice::enroll(&server.url, "o1", PASSWORD)
        .await
        .expect("enroll");
    let mut change = device.upsert(
        RecordId::new_v7(),
        "meter_reading",
        "G1",
        0,
        obj(json!({"reading": 120})),
    );
    change.form_version = 2026113001;
    let mut too_large = device.upsert(
        RecordId::new_v7(),
        "meter_reading",
        "G1",
        0,
        obj(json!({"reading": 200000})),
    );
    too_large.form_version = 2026113001;
    let answer = device
        .push(vec![change, too_large])
        .await
        .expect("push answered");
    assert_eq!(
        answer.results[0].outcome,
        ChangeOutcome::Accepted { revision: 1 }
    );
    assert!(
        matches!(answer.results[1].outcome, ChangeOutcome::Rejected { .. }),
        "the workbook's constraint holds: {:?}",
        answer.results[1].outcome
    );
}
