//! Filling a person from an ID card reading (beatbook_core::idcard): the
//! parts land in their fields, gender and birth date still come from the
//! number, doubtful parts are marked, nothing is saved until the officer
//! saves, and a part the form cannot take is left out.

use beatbook_core::idcard::{fill, CardReading, ReadField};
use beatbook_core::store::LocalState;
use beatbook_schema::text::Text;
use beatbook_tests::client::device;
use beatbook_tests::data::citizen_id;
use beatbook_tests::TestServer;
use serde_json::json;

fn read(value: &str, confidence: f32) -> Option<ReadField> {
    Some(ReadField {
        value: value.to_owned(),
        confidence,
        flagged: false,
    })
}

#[tokio::test]
async fn a_card_fills_the_person_for_the_officer_to_check() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let number = citizen_id("320614", "19800725", 42);
    let reading = CardReading {
        name: read("施美琴", 0.98),
        gender: read("女", 0.99),
        ethnicity: read("汉", 0.97),
        birth_date: read("1980-07-25", 0.99),
        address: read("江苏省海门市三厂镇人民路12号", 0.62),
        id_number: Some(ReadField {
            value: number.to_lowercase(),
            confidence: 0.99,
            flagged: true,
        }),
        notes: vec![Text::new(
            "已按校验码更正 1 个字符",
            "1 character corrected by the check character",
        )],
    };
    let mut session = core
        .new_record("person", None, Default::default())
        .expect("new person");
    let filled = fill(&mut session, &reading).expect("fill");

    assert_eq!(
        filled.fields,
        ["name", "id_number", "ethnicity", "registered_address"]
    );
    assert_eq!(
        filled.doubtful,
        ["id_number", "registered_address"],
        "flagged or unsure"
    );
    assert_eq!(filled.notes, reading.notes);
    let values = session.values();
    assert_eq!(values.get("name"), Some(&json!("施美琴")));
    assert_eq!(
        values.get("id_number"),
        Some(&json!(number)),
        "upper case, as the validator wants"
    );
    assert_eq!(
        values.get("ethnicity"),
        Some(&json!("han")),
        "the choice whose label is 汉族"
    );
    assert_eq!(
        values.get("gender"),
        Some(&json!("female")),
        "derived from the number, not the card"
    );
    assert_eq!(values.get("birth_date"), Some(&json!("1980-07-25")));

    let record = core.record(session.id()).expect("the draft");
    assert_eq!(
        record.state,
        LocalState::Draft,
        "not saved until the officer saves"
    );
    assert_eq!(core.status().expect("status").outbox, 0);
}

#[tokio::test]
async fn a_part_the_form_cannot_take_is_left_out() {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let reading = CardReading {
        ethnicity: read("火星", 0.99),
        name: read("陆晨阳", 0.95),
        ..Default::default()
    };
    let mut person = core
        .new_record("person", None, Default::default())
        .expect("new person");
    let filled = fill(&mut person, &reading).expect("fill");
    assert_eq!(filled.fields, ["name"], "no ethnicity of that name");
    assert_eq!(
        person.values().get("ethnicity"),
        Some(&json!("han")),
        "the form's default, untouched"
    );

    let mut hazard = core
        .new_record("hazard", None, Default::default())
        .expect("new hazard");
    let filled = fill(&mut hazard, &reading).expect("fill");
    assert!(
        filled.fields.is_empty(),
        "a hazard has no such fields: {filled:?}"
    );
}
